"""End to end over loopback UDP: asyncio publisher + re-request server -> asyncio receiver.

5% of the datagrams the publisher sends (feed packets and re-request answers alike) are
dropped by a seeded random generator in the publisher's send path, so the loss pattern is
the same on every run; everything must still arrive, in order, once.
"""

from __future__ import annotations

import asyncio
import random
import socket

import pytest
from tickwire.moldudp64.aio import Line, MoldPublisher, MoldReceiver, have_uvloop, run
from tickwire.moldudp64.codec import DownstreamPacket
from tickwire.moldudp64.events import Address, EndOfSession, Event, Messages, SendRequest
from tickwire.moldudp64.publisher import PublisherConfig, ServerConfig
from tickwire.moldudp64.receiver import ReceiverConfig


class LossyPublisher(MoldPublisher):
    """Drops a seeded 5% of what it sends (both feed packets and answers to requests)."""

    rng = random.Random(0)
    loss = 0.05
    dropped = 0

    def _send(self, data: bytes, addr: Address) -> None:
        if self.rng.random() < self.loss:
            self.dropped += 1
            return
        super()._send(data, addr)


async def scenario(count: int, seed: int) -> tuple[list[bytes], list[bytes], dict[str, int]]:
    LossyPublisher.rng = random.Random(seed)
    pub = await LossyPublisher.create(
        PublisherConfig("LOOPBACK", heartbeat_interval=0.05, flush_interval=0.0005),
        ("127.0.0.1", 9),  # replaced below, once the receiver's port is known
        request_bind=("127.0.0.1", 0),
        server_config=ServerConfig(rate=10_000, burst=1000),
    )
    assert isinstance(pub, LossyPublisher)
    events: list[Event] = []
    rx = await MoldReceiver.create(
        Line(port=0, host="127.0.0.1"),
        config=ReceiverConfig(
            request_server=pub.request_address, start_sequence=1, retry_timeout=0.02
        ),
        on_event=events.append,
    )
    pub.target = rx.local_addresses[0]
    rng = random.Random(seed + 1)
    sent = [rng.randbytes(rng.randint(10, 60)) for _ in range(count)]
    got: list[bytes] = []

    async def consume() -> None:
        expected = 1
        async for ev in rx.events():
            if isinstance(ev, Messages):
                assert ev.sequence == expected
                expected = ev.next_sequence
                got.extend(ev.messages)
            elif isinstance(ev, EndOfSession):
                return

    consumer = asyncio.create_task(consume())
    for i in range(0, count, 200):
        pub.publish_many(sent[i : i + 200])
        await asyncio.sleep(0.001)
    await pub.end_session()
    await asyncio.wait_for(consumer, timeout=30)
    stats = {
        "dropped": pub.dropped,
        "requests": sum(isinstance(e, SendRequest) for e in events),
        "answered": pub.server.stats.answered,
    }
    await rx.close()
    await pub.close()
    return sent, got, stats


@pytest.mark.parametrize(
    "use_uvloop",
    [False, pytest.param(True, marks=pytest.mark.skipif(not have_uvloop(), reason="no uvloop"))],
)
def test_five_percent_loss_recovers_everything(use_uvloop: bool) -> None:
    sent, got, stats = run(scenario(20_000, seed=7), use_uvloop=use_uvloop)
    assert got == sent
    assert stats["dropped"] > 10  # the loss really happened ...
    assert stats["requests"] > 0 and stats["answered"] > 0  # ... and was recovered by requests


def test_receiver_closes_cleanly_without_traffic() -> None:
    async def main() -> None:
        rx = await MoldReceiver.create(
            Line(port=0, host="127.0.0.1"), Line(port=0, host="127.0.0.1")
        )
        assert len(rx.local_addresses) == 2

        async def drain() -> list[tuple[str, int, bytes]]:
            return [m async for m in rx.messages()]

        task = asyncio.create_task(drain())
        await asyncio.sleep(0.01)
        await rx.close()
        assert await asyncio.wait_for(task, 5) == []
        await rx.close()  # idempotent

    run(main())


@pytest.mark.parametrize(
    "use_uvloop",
    [False, pytest.param(True, marks=pytest.mark.skipif(not have_uvloop(), reason="no uvloop"))],
)
def test_datagrams_from_another_source_merge_with_the_socket(use_uvloop: bool) -> None:
    """A second source of the feed (XDP's ring buffer, say) hands packets over with
    receive_datagram; before_datagram sees each socket datagram first. Whichever path a
    packet takes, and if it takes both, each message is delivered once, in order."""
    packets = [DownstreamPacket("MERGE", s, (f"m{s}".encode(),)).build() for s in (1, 2, 3)]

    async def main() -> tuple[list[tuple[int, bytes]], list[bytes], MoldReceiver]:
        seen: list[bytes] = []
        rx = await MoldReceiver.create(
            Line(port=0, host="127.0.0.1"), config=ReceiverConfig(start_sequence=1)
        )
        rx.before_datagram = seen.append
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            tx.sendto(packets[0], rx.local_addresses[0])
            tx.sendto(packets[2], rx.local_addresses[0])
            got: list[tuple[int, bytes]] = []

            async def take() -> None:
                async for _session, seq, msg in rx.messages():
                    got.append((seq, msg))
                    if seq == 1:  # the other source's copies: 2 (the missing one), 3 again
                        rx.receive_datagram(packets[1], ("198.18.0.1", 26477))
                        rx.receive_datagram(packets[2], ("198.18.0.1", 26477))
                    if seq == 3:
                        return

            await asyncio.wait_for(take(), 5)
        await rx.close()
        rx.receive_datagram(packets[0], ("198.18.0.1", 26477))  # closed: ignored
        return got, seen, rx

    got, seen, rx = run(main(), use_uvloop=use_uvloop)
    assert got == [(1, b"m1"), (2, b"m2"), (3, b"m3")]
    assert seen == [packets[0], packets[2]]  # the socket's, not the other source's
    assert rx.receiver.stats.packets == 4
    assert rx.receiver.stats.duplicate_messages == 1


def test_a_full_queue_drops_datagrams_before_the_receiver() -> None:
    """``queue_size=2`` and nobody reading: the third to fifth packets are dropped before
    the receiver (counted), not delivered into a full queue; sent again (as the
    retransmissions of a re-request would be) once the queue was read, they come, so
    messages 1 to 5 arrive in order, once. On the old code the third packet raised
    QueueFull after the receiver had delivered it: messages 3 to 5 were lost, and
    ``close()`` raised QueueFull too."""
    from tickwire.moldudp64.receiver import Receiver

    def packet(seq: int) -> bytes:
        return DownstreamPacket("S", seq, (b"m%d" % seq,)).build()

    async def main() -> list[bytes]:
        rx = MoldReceiver(Receiver(ReceiverConfig(session="S", start_sequence=1)), queue_size=2)
        for seq in range(1, 6):
            rx.receive_datagram(packet(seq), ("198.18.0.1", 1))
        assert rx.datagrams_dropped == 3
        got: list[bytes] = []
        events = rx.messages()
        for _ in range(2):
            got.append((await asyncio.wait_for(events.__anext__(), 2))[2])
        for seq in range(3, 6):  # each read before the next comes: none dropped
            rx.receive_datagram(packet(seq), ("198.18.0.1", 1))
            got.append((await asyncio.wait_for(events.__anext__(), 2))[2])
        assert rx.datagrams_dropped == 3
        await asyncio.wait_for(rx.close(), 2)
        return got

    assert run(main()) == [b"m1", b"m2", b"m3", b"m4", b"m5"]
