"""The sans-I/O receiver and the publisher / re-request server, case by case."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tickwire.moldudp64 import DownstreamPacket, RequestPacket, parse_downstream, parse_request
from tickwire.moldudp64.events import (
    BadPacket,
    EndOfSession,
    Event,
    FeedResumed,
    GapDetected,
    Messages,
    SendRequest,
    SessionChanged,
    StaleFeed,
)
from tickwire.moldudp64.publisher import (
    MessageStore,
    Publisher,
    PublisherConfig,
    RequestServer,
    ServerConfig,
    pack_messages,
)
from tickwire.moldudp64.receiver import Receiver, ReceiverConfig

SRV = ("198.18.0.9", 9000)


def pkt(seq: int, n: int, session: str = "S") -> bytes:
    return DownstreamPacket(session, seq, tuple(f"m{seq + i}".encode() for i in range(n))).build()


def delivered(events: list[Event]) -> list[int]:
    out: list[int] = []
    for e in events:
        if isinstance(e, Messages):
            out.extend(range(e.sequence, e.next_sequence))
            assert e.messages == [f"m{s}".encode() for s in range(e.sequence, e.next_sequence)]
    return out


def requests(events: list[Event]) -> list[tuple[int, int]]:
    return [(e.request.sequence, e.request.count) for e in events if isinstance(e, SendRequest)]


def test_in_order_duplicates_overlap_and_reorder() -> None:
    rx = Receiver(ReceiverConfig(request_server=SRV))
    ev = rx.receive(pkt(1, 3), "A", 0.0)
    assert ev[0] == SessionChanged(None, "S", 1)
    assert delivered(ev) == [1, 2, 3]
    assert delivered(rx.receive(pkt(1, 3), "B", 0.0)) == []  # the B copy
    assert delivered(rx.receive(pkt(2, 4), "B", 0.0)) == [4, 5]  # overlapping copy
    ev = rx.receive(pkt(8, 2), "A", 0.0)  # 6, 7 missing
    assert delivered(ev) == []
    assert GapDetected("S", 6, 4) in ev
    assert requests(ev) == []  # reordering allowance first
    assert delivered(rx.receive(pkt(6, 2), "A", 0.001)) == [6, 7, 8, 9]
    assert not rx.in_gap and rx.next_sequence == 10
    assert rx.stats.duplicate_messages == 3 + 2


def test_gap_is_requested_split_and_retried_with_backoff() -> None:
    cfg = ReceiverConfig(
        request_server=SRV, max_request=4, max_outstanding=2, retry_timeout=0.1, backoff=2.0
    )
    rx = Receiver(cfg)
    rx.receive(pkt(1, 1), "A", 0.0)
    rx.receive(pkt(20, 1), "A", 0.0)  # 2..19 missing
    assert rx.next_deadline() == pytest.approx(cfg.request_delay)
    ev = rx.tick(0.01)
    assert requests(ev) == [(2, 4), (6, 4)]  # window of max_request * max_outstanding
    assert all(e.to == SRV for e in ev if isinstance(e, SendRequest))
    # Nothing comes back: retried after 0.1, then 0.2, then 0.4 s.
    assert requests(rx.tick(0.05)) == []
    assert requests(rx.tick(0.11)) == [(2, 4), (6, 4)]
    assert requests(rx.tick(0.25)) == []
    assert requests(rx.tick(0.32)) == [(2, 4), (6, 4)]
    assert rx.next_deadline() == pytest.approx(0.72)
    # A partial answer: progress resets the backoff, the next window follows when filled.
    ev = rx.receive(pkt(2, 8), SRV, 0.4)
    assert delivered(ev) == list(range(2, 10))
    assert requests(ev) == [(10, 4), (14, 4)]
    rx.receive(pkt(15, 2), "A", 0.41)  # 15, 16 arrive: the retry skips what is buffered
    # at most max_outstanding requests at once
    assert requests(rx.tick(0.51)) == [(10, 4), (14, 1)]
    assert rx.stats.retries == 3


def test_heartbeat_reveals_lost_tail_and_end_of_session_waits_for_it() -> None:
    rx = Receiver(ReceiverConfig(request_server=SRV, request_delay=0.0))
    rx.receive(pkt(1, 2), "A", 0.0)
    ev = rx.receive(DownstreamPacket.heartbeat("S", 5).build(), "A", 1.0)
    assert requests(ev) == [(3, 2)]
    ev = rx.receive(DownstreamPacket.end_of_session_packet("S", 6).build(), "A", 1.1)
    assert not any(isinstance(e, EndOfSession) for e in ev)
    ev = rx.receive(pkt(3, 3), SRV, 1.2)
    assert delivered(ev) == [3, 4, 5]
    assert ev[-1] == EndOfSession("S", 6) and rx.ended


def test_late_join_and_start_from_one() -> None:
    late = Receiver(ReceiverConfig(request_server=SRV))
    assert delivered(late.receive(pkt(100, 2), "A", 0.0)) == [100, 101]
    full = Receiver(ReceiverConfig(request_server=SRV, start_sequence=1, request_delay=0))
    ev = full.receive(pkt(100, 2), "A", 0.0)
    assert delivered(ev) == [] and requests(ev) == [(1, 99)]


def test_stale_feed_and_resume() -> None:
    rx = Receiver(ReceiverConfig(stale_after=3.0))
    rx.receive(pkt(1, 1), "A", 10.0)
    assert rx.tick(12.0) == []
    assert rx.next_deadline() == 13.0
    assert rx.tick(13.0) == [StaleFeed(3.0)]
    assert rx.tick(20.0) == []
    ev = rx.receive(DownstreamPacket.heartbeat("S", 2).build(), "A", 21.0)
    assert ev[0] == FeedResumed(11.0)


def test_bad_and_foreign_packets_are_counted_not_raised() -> None:
    rx = Receiver(ReceiverConfig(session="MINE"))
    for junk in (b"", b"x" * 19, pkt(1, 2, "MINE")[:-1], pkt(1, 1, "MINE") + b"zz", b"\xff" * 20):
        ev = rx.receive(junk, "A", 0.0)
        assert len(ev) == 1 and isinstance(ev[0], BadPacket)
    assert rx.receive(pkt(1, 1, "OTHER"), "A", 0.0) == []
    assert rx.stats.bad_packets == 5 and rx.stats.other_session_packets == 1
    assert delivered(rx.receive(pkt(1, 1, "MINE"), "A", 0.0)) == [1]
    ev = rx.receive(DownstreamPacket("MINE", 2).build() + b"x", "A", 0)
    assert isinstance(ev[0], BadPacket)


def test_session_change_after_end_and_after_grace() -> None:
    rx = Receiver(ReceiverConfig(request_server=SRV, session_grace=5.0))
    rx.receive(pkt(1, 2, "ONE"), "A", 0.0)
    rx.receive(DownstreamPacket.end_of_session_packet("ONE", 3).build(), "A", 0.1)
    ev = rx.receive(pkt(1, 2, "TWO"), "A", 0.2)
    assert SessionChanged("ONE", "TWO", 1, 0) in ev and delivered(ev) == [1, 2]
    assert rx.receive(pkt(3, 1, "ONE"), "A", 0.3) == []  # the retired session is ignored
    # A crash: THREE starts while TWO is incomplete and never ended. TWO gets the grace.
    rx.receive(pkt(4, 1, "TWO"), "A", 1.0)  # 3 missing
    assert delivered(rx.receive(pkt(1, 1, "THREE"), "A", 2.0)) == []
    assert not any(isinstance(e, SessionChanged) for e in rx.tick(6.9))  # still in grace
    ev = rx.tick(7.0)
    assert SessionChanged("TWO", "THREE", 1, 2) in ev
    assert delivered(ev) == [1]


def test_publisher_packs_flushes_heartbeats_and_ends() -> None:
    pub = Publisher(PublisherConfig("PUB", max_payload=100, flush_interval=0.01))
    assert pub.tick(0.0) == [DownstreamPacket.heartbeat("PUB", 1).build()]
    out: list[bytes] = []
    for i in range(10):
        out += pub.publish(bytes([i]) * 20, 0.5)
    # 20 + 4 * 22 = 108 > 100: three messages per packet.
    assert [len(parse_downstream(p).messages) for p in out] == [3, 3, 3]
    assert all(len(p) <= 100 for p in out)
    assert pub.tick(0.505) == []
    last = pub.tick(0.51)
    assert parse_downstream(last[0]) == DownstreamPacket("PUB", 10, (bytes([9]) * 20,))
    assert pub.tick(1.0) == []
    assert pub.tick(1.51) == [DownstreamPacket.heartbeat("PUB", 11).build()]
    end = pub.close(2.0)
    assert end == [DownstreamPacket.end_of_session_packet("PUB", 11).build()]
    assert pub.tick(3.0) == end  # repeated for whoever lost it
    with pytest.raises(ValueError):
        pub.publish(b"late", 3.0)
    with pytest.raises(ValueError):
        Publisher(PublisherConfig("PUB", max_payload=30)).publish(b"x" * 9, 0.0)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=60), st.integers(320, 1500))
def test_pack_messages_respects_the_payload(msgs: list[bytes], limit: int) -> None:
    packets = pack_messages("P", 7, msgs, limit)
    assert all(len(p) <= limit for p in packets)
    seq = 7
    got: list[bytes] = []
    for p in packets:
        d = parse_downstream(p)
        assert d.sequence == seq
        seq += len(d.messages)
        got.extend(d.messages)
    assert got == msgs


def test_request_server_answers_and_refuses() -> None:
    store = MessageStore()
    for i in range(1, 101):
        store.append(f"m{i}".encode())
    srv = RequestServer("S", store, ServerConfig(max_count=10, max_payload=60, rate=10, burst=2))
    answer = srv.handle(RequestPacket("S", 5, 50).build(), "c1", 0.0)
    seqs = [(parse_downstream(p).sequence, len(parse_downstream(p).messages)) for p in answer]
    assert sum(n for _, n in seqs) == 10 and seqs[0][0] == 5  # capped at max_count
    assert all(len(p) <= 60 for p in answer)
    assert srv.handle(RequestPacket("S", 99, 50).build(), "c1", 0.0) != []  # clamped to 99, 100
    assert srv.handle(RequestPacket("S", 1, 1).build(), "c1", 0.0) == []  # over the rate
    assert srv.handle(RequestPacket("S", 1, 1).build(), "c2", 0.0) != []  # per requester
    assert srv.handle(RequestPacket("S", 1, 1).build(), "c1", 0.1) != []  # refilled
    assert srv.handle(RequestPacket("T", 1, 1).build(), "c1", 9.0) == []
    assert srv.handle(RequestPacket("S", 101, 1).build(), "c1", 9.0) == []
    assert srv.handle(RequestPacket("S", 0, 1).build(), "c1", 9.0) == []
    assert srv.handle(RequestPacket("S", 5, 0).build(), "c1", 9.0) == []
    assert srv.handle(b"garbage", "c1", 9.0) == []
    st_ = srv.stats
    assert (
        st_.answered,
        st_.rate_limited,
        st_.wrong_session,
        st_.out_of_range,
        st_.bad_requests,
    ) == (
        4,
        1,
        1,
        3,
        1,
    )
    assert parse_request(RequestPacket("S", 5, 0).build()).count == 0


@settings(max_examples=200, deadline=None)
@given(
    first=st.integers(1, 2**40),
    retain=st.one_of(st.none(), st.integers(1, 20)),
    ops=st.lists(
        st.one_of(
            st.binary(max_size=40).map(lambda m: ("append", m)),
            st.tuples(st.integers(-5, 80), st.integers(-1, 30)).map(lambda r: ("get", r)),
        ),
        max_size=120,
    ),
)
def test_message_store_is_a_list_of_the_session(
    first: int, retain: int | None, ops: list[tuple[str, object]]
) -> None:
    """The store answers like a list of every message of the session, less what it forgot."""
    store = MessageStore(first, retain=retain)
    model: list[bytes] = []
    for kind, arg in ops:
        if kind == "append":
            assert isinstance(arg, bytes)
            assert store.append(arg) == first + len(model)
            model.append(arg)
        else:
            assert isinstance(arg, tuple)
            offset, count = arg
            seq = store.first_sequence + offset
            i = seq - first
            held_from = store.first_sequence - first  # what came before is forgotten
            want = model[i : i + count] if i >= held_from and count > 0 else []
            assert store.get(seq, count) == want
        assert store.next_sequence == first + len(model)
        held = len(store)
        assert store.first_sequence == first + len(model) - held
        if retain is not None:  # at least the last `retain`, at most twice that
            assert min(retain, len(model)) <= held < 2 * retain
        else:
            assert held == len(model)
        assert store.get(store.first_sequence - 1, 5) == []  # forgotten: out of range


def test_message_store_retain_must_be_positive() -> None:
    with pytest.raises(ValueError, match="retain"):
        MessageStore(retain=0)


def test_request_server_refuses_what_the_store_forgot() -> None:
    store = MessageStore(retain=10)
    for i in range(1, 101):
        store.append(f"m{i}".encode())
    srv = RequestServer("S", store)
    assert srv.handle(RequestPacket("S", 50, 1).build(), "c1", 0.0) == []
    assert srv.stats.out_of_range == 1
    (packet,) = srv.handle(RequestPacket("S", 95, 3).build(), "c1", 0.0)
    assert parse_downstream(packet).messages == (b"m95", b"m96", b"m97")
