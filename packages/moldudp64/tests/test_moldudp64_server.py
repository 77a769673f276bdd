"""The re-request server under abuse: per-address rate limits and the global byte budget."""

from __future__ import annotations

import pytest
from tickwire.moldudp64 import RequestPacket, parse_downstream
from tickwire.moldudp64.publisher import (
    MessageStore,
    RequestServer,
    ServerConfig,
    source_address,
)

REQUEST = RequestPacket("S", 1, 500).build()


def store_of(n: int, size: int = 30) -> MessageStore:
    store = MessageStore()
    for i in range(n):
        store.append(i.to_bytes(4, "big") * (size // 4))
    return store


def test_rotating_source_ports_share_one_bucket() -> None:
    """One address on 1,000 source ports gets its burst answered, not 1,000 answers."""
    srv = RequestServer("S", store_of(1000), ServerConfig(rate=10, burst=5))
    answered = [
        bool(srv.handle(REQUEST, ("198.18.0.1", 10_000 + port), 0.0)) for port in range(1000)
    ]
    assert sum(answered) == 5 and all(answered[:5])
    assert srv.stats.rate_limited == 995
    assert srv.handle(REQUEST, ("198.18.0.2", 10_000), 0.0)  # another address: its own bucket
    assert srv.handle(REQUEST, ("198.18.0.1", 1), 0.1)  # refilled at `rate`: one more
    assert not srv.handle(REQUEST, ("198.18.0.1", 2), 0.1)


def test_a_flood_from_many_addresses_is_capped_at_the_byte_budget() -> None:
    """4,000 addresses asking 100 times a second for ten seconds: the output stays within
    byte_burst + byte_rate * t at every instant, and the budget is spent, not wasted."""
    cfg = ServerConfig(rate=1000, burst=1000, byte_rate=200_000, byte_burst=50_000)
    srv = RequestServer("S", store_of(5000), cfg)
    sent = 0
    for step in range(1000):  # every 10 ms
        now = step * 0.01
        for k in range(4):
            ip = f"198.18.{(step * 4 + k) % 4000 // 250}.{(step * 4 + k) % 250}"
            sent += sum(len(p) for p in srv.handle(REQUEST, (ip, 4000 + step), now))
        assert sent <= cfg.byte_burst + cfg.byte_rate * now
    st = srv.stats
    assert st.bytes_sent == sent
    assert sent >= 0.95 * cfg.byte_rate * 9.99  # the budget is used
    assert st.over_budget + st.answered == st.requests == 4000
    assert st.over_budget > 2000 and st.rate_limited == 0
    # 500 messages (17 kB) each: the full burst pays for three, then answers are partial.
    assert st.partial == st.answered - 3


def test_a_partial_answer_is_a_prefix_the_receiver_can_continue() -> None:
    cfg = ServerConfig(max_payload=200, byte_rate=1, byte_burst=1000)
    srv = RequestServer("S", store_of(100, size=20), cfg)
    packets = srv.handle(RequestPacket("S", 7, 100).build(), "rx", 0.0)
    assert 0 < sum(len(p) for p in packets) <= 1000
    seq = 7
    for p in packets:
        d = parse_downstream(p)
        assert d.sequence == seq
        seq += len(d.messages)
    assert srv.stats.messages_sent == seq - 7 < 94
    assert srv.stats.partial == 1
    assert srv.handle(RequestPacket("S", seq, 10).build(), "rx", 0.0) == []  # spent
    assert srv.stats.over_budget == 1


def test_the_requester_table_is_bounded_and_forgets_the_least_recently_seen() -> None:
    srv = RequestServer("S", store_of(10), ServerConfig(rate=1, burst=1, max_requesters=3))
    req = RequestPacket("S", 1, 1).build()
    for ip in ("198.18.0.1", "198.18.0.2", "198.18.0.3"):
        assert srv.handle(req, (ip, 1), 0.0)
    assert not srv.handle(req, ("198.18.0.1", 2), 0.0)  # .1 seen again: now the most recent
    assert srv.handle(req, ("198.18.0.4", 1), 0.0)  # forgets .2, the least recently seen
    assert srv.stats.forgotten == 1 and len(srv._buckets) == 3
    assert not srv.handle(req, ("198.18.0.1", 3), 0.0)  # still remembered: still limited
    assert srv.handle(req, ("198.18.0.2", 1), 0.0)  # forgotten: a fresh bucket


def test_source_address_ignores_the_port() -> None:
    assert source_address(("198.18.0.1", 5)) == source_address(("198.18.0.1", 6))
    assert source_address(("::1", 5, 0, 0)) == "::1"
    assert source_address("node-a") == "node-a"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"byte_burst": 100}, "byte_burst"),
        ({"rate": 0}, "rate"),
        ({"burst": 0.5}, "burst"),
        ({"max_requesters": 0}, "max_requesters"),
        ({"max_payload": 10}, "max_payload"),
    ],
)
def test_server_config_refuses_limits_that_cannot_work(
    kwargs: dict[str, float], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        ServerConfig(**kwargs)  # type: ignore[arg-type]


def test_rotating_source_ports_over_real_sockets() -> None:
    """The asyncio server keys its buckets by the datagram's source host: 20 sockets of
    127.0.0.1 (20 source ports) get ``burst`` answers between them."""
    import asyncio
    import socket

    from tickwire.moldudp64.aio import MoldPublisher, run
    from tickwire.moldudp64.publisher import PublisherConfig

    async def main() -> int:
        pub = await MoldPublisher.create(
            PublisherConfig("S"),
            ("127.0.0.1", 9),
            request_bind=("127.0.0.1", 0),
            server_config=ServerConfig(rate=0.01, burst=3),
        )
        try:
            pub.publish_many([b"m%d" % i for i in range(10)])
            pub.flush()
            addr = pub.request_address
            assert addr is not None
            socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(20)]
            try:
                for s in socks:
                    s.bind(("127.0.0.1", 0))
                    s.setblocking(False)
                    s.sendto(RequestPacket("S", 1, 5).build(), addr)
                await asyncio.sleep(0.3)
                answered = 0
                for s in socks:
                    try:
                        s.recv(2048)
                        answered += 1
                    except BlockingIOError:
                        pass
            finally:
                for s in socks:
                    s.close()
            assert pub.server.stats.requests == 20
            assert pub.server.stats.rate_limited == 17
            return answered
        finally:
            await pub.close()

    assert run(main()) == 3


def test_a_clock_going_back_refills_no_bucket() -> None:
    """Time passed in that goes back refills nothing: each bucket keeps the latest time it
    saw. It kept the last one given, so a clock going back and forth between 0 and 10
    refilled the buckets at every step forward: one address at 1 request a second got 11
    of 20 requests answered, and the server sent 10 byte bursts where its budget allows
    one burst and 10 s of its rate (``byte_burst + byte_rate * t``)."""

    def run(cfg: ServerConfig) -> tuple[RequestServer, int]:
        srv = RequestServer("S", store_of(1000), cfg)
        sent = 0
        for k in range(20):
            now = 10.0 if k % 2 else 0.0
            sent += sum(map(len, srv.handle(REQUEST, ("198.18.0.1", 1), now)))
        return srv, sent

    srv, _ = run(ServerConfig(rate=1, burst=1))
    # One answer at 0 and one at 10 (the bucket refilled once, by 10 s at 1 a second).
    assert srv.stats.answered == 2 and srv.stats.rate_limited == 18
    cfg = ServerConfig(rate=100, burst=100, byte_rate=1000, byte_burst=5000)
    srv, sent = run(cfg)
    assert sent <= cfg.byte_burst + 10 * cfg.byte_rate and srv.stats.bytes_sent == sent


def test_a_message_no_answer_packet_can_carry_is_counted_not_raised() -> None:
    """A stored message longer than an answer packet can carry (the publisher's packets
    bigger than the server's ``max_payload``): the answer is the messages before it (a
    prefix the receiver continues) and a request starting at it is refused, counted in
    ``too_large``. ``handle`` raised MessageTooLarge on these valid requests, against
    "it never raises on what it is sent" (a traceback in the asyncio server's callback at
    each retry)."""
    store = MessageStore()
    for m in (b"a" * 10, b"b" * 2000, b"c" * 10):
        store.append(m)
    srv = RequestServer("S", store)  # max_payload 1400
    (answer,) = srv.handle(RequestPacket("S", 1, 3).build(), ("198.18.0.1", 1), 0.0)
    assert parse_downstream(answer).messages == (b"a" * 10,)
    assert srv.handle(RequestPacket("S", 2, 2).build(), ("198.18.0.1", 1), 0.0) == []
    (answer,) = srv.handle(RequestPacket("S", 3, 1).build(), ("198.18.0.1", 1), 0.0)
    assert parse_downstream(answer).messages == (b"c" * 10,)
    st = srv.stats
    assert (st.requests, st.answered, st.too_large, st.partial) == (3, 2, 2, 0)


def test_the_server_answers_in_the_publishers_packet_size() -> None:
    """``MoldPublisher.create`` without a ``server_config``: its re-request server answers
    in the publisher's ``max_payload``. It used the default 1,400 bytes, so a 2,500-byte
    message the publisher sent (in its 3,000-byte packets) was refused (``too_large``) to
    every re-request. A ``server_config`` given is used as it is."""
    from tickwire.moldudp64.aio import MoldPublisher, run
    from tickwire.moldudp64.publisher import PublisherConfig

    big = b"x" * 2500

    async def main(server_config: ServerConfig | None) -> tuple[list[bytes], int]:
        pub = await MoldPublisher.create(
            PublisherConfig("S", max_payload=3000),
            ("127.0.0.1", 9),
            request_bind=None,
            server_config=server_config,
        )
        try:
            pub.publish_many([b"a", big])
            pub.flush()
            answer = pub.server.handle(RequestPacket("S", 1, 2).build(), ("127.0.0.1", 1), 0.0)
            return answer, pub.server.config.max_payload
        finally:
            await pub.close()

    answer, size = run(main(None))
    assert size == 3000
    assert [m for p in answer for m in parse_downstream(p).messages] == [b"a", big]
    answer, size = run(main(ServerConfig(max_payload=200)))
    assert size == 200
    assert [m for p in answer for m in parse_downstream(p).messages] == [b"a"]
