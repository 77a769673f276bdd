"""A client that stops reading costs the server bounded memory, and loses nothing.

The server keeps the session's sequenced stream anyway (a re-login may ask for any of
it), so a connection needs no copy of what it has not sent: it queues the next batch
only when the socket has taken the last one (``ServerConnection.batch_bytes``, the
adapter's write flow control). Before, every message published while a peer did not read
went into that connection's transport buffer: 300,000 messages of 100 bytes held 26 MB
for one peer that sent heartbeats and never read.
"""

from __future__ import annotations

import asyncio

from tickwire.soupbintcp import ClientSession, SoupServer
from tickwire.soupbintcp.aio import SoupServerRunner, run
from tickwire.soupbintcp.packets import ClientHeartbeat, PacketFramer, build_packet

USERS = {"USER01": "Secret123"}
MESSAGES = 60_000
BODY = b"x" * 100


def test_a_peer_that_does_not_read_holds_bounded_memory_and_then_gets_everything() -> None:
    async def main() -> None:
        core = SoupServer(USERS)
        runner = SoupServerRunner(core)
        port = await runner.start()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=4096)
            login = ClientSession("USER01", "Secret123")
            login.connect(0.0)
            writer.write(login.data_to_send())
            await writer.drain()
            await asyncio.sleep(0.05)
            (proto,) = runner.connections
            most = 0
            for _ in range(MESSAGES // 1000):
                for _ in range(1000):
                    runner.publish(BODY)
                writer.write(build_packet(ClientHeartbeat()))  # alive, but never reading
                await asyncio.sleep(0)
                assert proto.transport is not None  # (the core's queue is flushed each time)
                held = proto.transport.get_write_buffer_size()
                most = max(most, held)
            runner.end_session()
            # Bounded by the write buffer's high-water mark and one batch, not the backlog
            # (MESSAGES * 103 bytes = 6.2 MB here).
            assert most < 1_000_000, most
            framer = PacketFramer(1024)
            kinds = b""
            received = 0
            while True:
                data = await asyncio.wait_for(reader.read(1 << 16), 5.0)
                if not data:
                    break
                for body in framer.feed(data):
                    if body[:1] == b"S":
                        assert body[1:] == BODY
                        received += 1
                    kinds = body[:1]
            assert received == MESSAGES and kinds == b"Z"  # every message, then End of Session
            writer.close()
        finally:
            await runner.close()

    run(main())


def test_pump_queues_a_batch_at_a_time_and_ends_the_session_after_the_last() -> None:
    core = SoupServer(USERS)
    for _ in range(10):
        core.publish(BODY)
    conn = core.connection(0.0)
    conn.batch_bytes = 250  # 103-byte packets: the third reaches it
    login = ClientSession("USER01", "Secret123")
    login.connect(0.0)
    conn.receive_data(login.data_to_send(), 0.0)  # logs in and pumps the first batch
    framer = PacketFramer(1024)
    bodies = framer.feed(conn.data_to_send())
    assert [b[:1] for b in bodies] == [b"A", b"S", b"S", b"S"] and conn.backlog
    core.end_session()
    sizes = []
    while conn.backlog:
        conn.pump(0.0)
        sizes.append([b[:1] for b in framer.feed(conn.data_to_send())])
    assert sizes == [[b"S"] * 3, [b"S"] * 3, [b"S", b"Z"]] and conn.closed
