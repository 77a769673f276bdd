"""The sans-I/O receiver and the publisher / re-request server, case by case."""

from __future__ import annotations

import dataclasses
import itertools
import logging
import random
import struct
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tickwire.moldudp64 import DownstreamPacket, RequestPacket, parse_downstream, parse_request
from tickwire.moldudp64.events import (
    BadPacket,
    Conflict,
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


def hb(seq: int, session: str = "S") -> bytes:
    return DownstreamPacket.heartbeat(session, seq).build()


def eos(seq: int, session: str = "S") -> bytes:
    return DownstreamPacket.end_of_session_packet(session, seq).build()


def requests(events: list[Event]) -> list[tuple[int, int]]:
    return [(e.request.sequence, e.request.count) for e in events if isinstance(e, SendRequest)]


def test_in_order_duplicates_overlap_and_reorder() -> None:
    rx = Receiver(ReceiverConfig(session="S", start_sequence=1, request_server=SRV))
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
    # The publisher's repeat a second later confirms it (one packet cannot end a session).
    ev += rx.receive(DownstreamPacket.end_of_session_packet("S", 6).build(), "A", 2.1)
    assert not any(isinstance(e, EndOfSession) for e in ev)
    ev = rx.receive(pkt(3, 3), SRV, 2.2)
    assert delivered(ev) == [3, 4, 5]
    assert ev[-1] == EndOfSession("S", 6) and rx.ended


def test_late_join_and_start_from_one() -> None:
    late = Receiver(ReceiverConfig(request_server=SRV))
    # The join point is fixed by two independent packets (the B copy is not one).
    assert late.receive(pkt(100, 2), "A", 0.0) == []
    assert late.receive(pkt(100, 2), "B", 0.0) == []
    ev = late.receive(pkt(102, 1), "A", 0.001)
    assert ev[0] == SessionChanged(None, "S", 100)
    assert delivered(ev) == [100, 101, 102]
    full = Receiver(
        ReceiverConfig(session="S", request_server=SRV, start_sequence=1, request_delay=0)
    )
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
    rx = Receiver(ReceiverConfig(session="MINE", start_sequence=1))
    for junk in (b"", b"x" * 19, pkt(1, 2, "MINE")[:-1], pkt(1, 1, "MINE") + b"zz", b"\xff" * 20):
        ev = rx.receive(junk, "A", 0.0)
        assert len(ev) == 1 and isinstance(ev[0], BadPacket)
    assert rx.receive(pkt(1, 1, "OTHER"), "A", 0.0) == []
    assert rx.stats.bad_packets == 5 and rx.stats.other_session_packets == 1
    assert delivered(rx.receive(pkt(1, 1, "MINE"), "A", 0.0)) == [1]
    ev = rx.receive(DownstreamPacket("MINE", 2).build() + b"x", "A", 0)
    assert isinstance(ev[0], BadPacket)


def test_session_change_after_end_and_after_silence_and_a_run() -> None:
    rx = Receiver(ReceiverConfig(start_sequence=1, session_grace=5.0, copy_window=0.04))
    assert rx.receive(pkt(1, 1, "ONE"), "A", 0.0) == []
    ev = rx.receive(pkt(2, 1, "ONE"), "A", 0.05)  # the second packet adopts ONE
    assert ev[0] == SessionChanged(None, "ONE", 1) and delivered(ev) == [1, 2]
    assert rx.receive(eos(3, "ONE"), "A", 0.1) == []  # confirmed by the repeat:
    assert EndOfSession("ONE", 3) in rx.receive(eos(3, "ONE"), "A", 0.15)
    # After ONE's end the next session is adopted on its second independent packet.
    assert rx.receive(pkt(1, 2, "TWO"), "A", 0.2) == []
    ev = rx.receive(pkt(3, 1, "TWO"), "A", 0.21)
    assert SessionChanged("ONE", "TWO", 1, 0) in ev and delivered(ev) == [1, 2, 3]
    assert rx.receive(pkt(4, 1, "ONE"), "A", 0.3) == []  # the retired session is refused
    assert rx.stats.other_session_packets == 1
    # A crash: TWO goes silent at 1.0, incomplete and never ended, and THREE starts. The
    # change waits for session_grace of TWO's silence and a run of THREE's packets.
    rx.receive(pkt(5, 1, "TWO"), "A", 1.0)  # 4 missing
    ev = []
    for t, p in ((2.0, pkt(1, 1, "THREE")), (3.0, hb(2, "THREE")), (4.0, hb(2, "THREE"))):
        ev += rx.receive(p, "A", t)
    assert rx.next_deadline() == 6.0
    ev += rx.tick(5.9)
    assert not any(isinstance(e, SessionChanged) for e in ev)
    ev = rx.tick(6.0)
    assert SessionChanged("TWO", "THREE", 1, 2) in ev
    assert delivered(ev) == [1]
    assert rx.stats.session_changes == 2


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


# --- hostile and stray packets (docs/robustness.md section 2) ------------------------------


def assert_within_bucket(times: list[float], rate: float, burst: float) -> None:
    """The request times fit a token bucket of ``burst`` refilled at ``rate`` a second."""
    tokens, last = burst, float("-inf")
    for t in times:
        tokens = min(burst, tokens + (t - last) * rate) - 1
        last = t
        assert tokens >= -1e-9, f"request at {t} over the cap ({rate}/s, burst {burst})"


def test_a_stray_session_packet_never_changes_the_session() -> None:
    """One packet of another session while the real feed idles on heartbeats."""
    rx = Receiver(ReceiverConfig(request_server=SRV, start_sequence=1))
    ev = rx.receive(pkt(1, 2), "A", 0.0) + rx.receive(pkt(3, 1), "A", 0.01)
    assert delivered(ev) == [1, 2, 3]
    ev = rx.receive(pkt(1, 5, "STRAY"), "X", 0.5)
    for i in range(1, 30):  # heartbeats only, a second apart; timers run in between
        ev += rx.tick(i - 0.5) + rx.receive(hb(4), "A", float(i))
    ev += rx.tick(40.0)
    assert not any(isinstance(e, SessionChanged) for e in ev)
    assert rx.session == "S"
    assert delivered(rx.receive(pkt(4, 1), "A", 41.0)) == [4]


def test_a_sustained_other_session_does_not_take_over_a_live_one() -> None:
    rx = Receiver(ReceiverConfig(start_sequence=1))
    rx.receive(pkt(1, 1), "A", 0.0)
    rx.receive(hb(2), "A", 0.5)
    ev: list[Event] = []
    for i in range(1, 20):  # the other session sends every 0.1 s, S heartbeats every 1 s
        for k in range(10):
            ev += rx.receive(hb(i * 10 + k, "OTHER"), "X", i + k / 10)
        ev += rx.receive(hb(2), "A", i + 0.95) + rx.tick(i + 0.96)
    assert not any(isinstance(e, SessionChanged) for e in ev) and rx.session == "S"


def test_a_stray_first_packet_does_not_choose_the_session() -> None:
    rx = Receiver(ReceiverConfig(request_server=SRV, start_sequence=1))
    ev = rx.receive(pkt(1, 1, "STRAY"), "X", 0.0)
    ev += rx.receive(pkt(1, 2), "A", 0.1) + rx.receive(pkt(3, 1), "A", 0.2)
    assert [e for e in ev if isinstance(e, SessionChanged)] == [SessionChanged(None, "S", 1)]
    assert delivered(ev) == [1, 2, 3] and rx.session == "S"


def test_a_pinned_session_starts_at_once_and_never_changes() -> None:
    rx = Receiver(ReceiverConfig(session="S", start_sequence=1, session_grace=0.5))
    assert delivered(rx.receive(pkt(1, 1), "A", 0.0)) == [1]
    ev: list[Event] = []
    for i in range(10):  # S is silent, NEW runs for 10 s: still refused
        ev += rx.receive(hb(1 + i, "NEW"), "X", 1.0 + i) + rx.tick(1.5 + i)
    assert not any(isinstance(e, SessionChanged) for e in ev)
    assert rx.stats.other_session_packets == 10
    assert delivered(rx.receive(pkt(2, 1), "A", 20.0)) == [2]


def test_an_end_of_session_below_what_was_delivered_is_ignored() -> None:
    rx = Receiver(ReceiverConfig(session="S", start_sequence=1))
    rx.receive(pkt(1, 10), "A", 0.0)
    ev = rx.receive(eos(5), "X", 0.1)
    assert not any(isinstance(e, EndOfSession) for e in ev) and not rx.ended
    assert rx.stats.stale_end_of_session == 1
    assert delivered(rx.receive(pkt(11, 1), "A", 0.2)) == [11]
    assert rx.receive(eos(12), "A", 0.3) == []  # one packet is a claim; its repeat ends it
    assert rx.receive(eos(12), "A", 1.3) == [EndOfSession("S", 12)]


def test_an_end_of_session_that_data_contradicts_is_dropped() -> None:
    rx = Receiver(ReceiverConfig(session="S", start_sequence=1))
    rx.receive(pkt(1, 2), "A", 0.0)
    ev = rx.receive(eos(5), "X", 0.1)  # ahead of delivery: believed for now
    assert not any(isinstance(e, EndOfSession) for e in ev)
    ev = rx.receive(pkt(3, 4), "A", 0.2)  # 3..6: messages at and past "the end"
    assert delivered(ev) == [3, 4, 5, 6]
    assert not any(isinstance(e, EndOfSession) for e in ev) and not rx.ended
    assert rx.stats.stale_end_of_session == 1


def test_one_absurd_heartbeat_starts_no_request_storm() -> None:
    rx = Receiver(ReceiverConfig(session="S", start_sequence=1, request_server=SRV))
    ev = rx.receive(pkt(1, 1), "A", 0.0) + rx.receive(hb(2**62), "X", 0.005)
    for i in range(1000):  # the real feed goes on in order for 10 s
        t = 0.01 * (i + 1)
        ev += rx.receive(pkt(2 + i, 1), "A", t) + rx.tick(t + 0.005)
    assert requests(ev) == []
    assert not rx.in_gap and rx.known_end == 1002
    assert not any(isinstance(e, GapDetected) for e in ev)
    assert rx.stats.suspect_packets == 1 and rx.stats.jumps_confirmed == 0


def test_a_real_jump_is_confirmed_by_the_next_packet() -> None:
    rx = Receiver(
        ReceiverConfig(session="S", start_sequence=1, request_server=SRV, request_delay=0)
    )
    rx.receive(pkt(1, 1), "A", 0.0)
    ev = rx.receive(pkt(500_001, 1), "A", 0.1)  # 500,000 lost: suspect
    ev += rx.receive(pkt(500_001, 1), "B", 0.1)  # its B copy is no confirmation
    assert requests(ev) == [] and rx.known_end == 2
    ev = rx.receive(hb(500_002), "A", 0.2)  # the next packet confirms it
    assert rx.stats.jumps_confirmed == 1 and rx.known_end == 500_002
    assert requests(ev)[0] == (2, 1000) and len(requests(ev)) == 8
    assert rx.stats.suspect_packets == 2


def test_late_join_one_absurd_first_packet_does_not_hide_the_feed() -> None:
    rx = Receiver(ReceiverConfig(request_server=SRV))  # late join, any session
    ev = rx.receive(pkt(2**62, 1), "X", 0.0)
    for i, t in enumerate((0.1, 0.2, 0.3)):
        ev += rx.receive(pkt(100 + i, 1), "A", t)
    assert delivered(ev) == [100, 101, 102]
    assert rx.stats.duplicate_messages == 0 and rx.stats.suspect_packets == 1


def test_the_out_of_order_buffer_is_bounded_in_bytes() -> None:
    def big(seq: int) -> bytes:
        return DownstreamPacket("S", seq, (f"m{seq}".encode().ljust(1000, b"."),)).build()

    cfg = ReceiverConfig(session="S", start_sequence=1, request_server=SRV, request_delay=0)
    rx = Receiver(dataclasses.replace(cfg, max_buffer_bytes=10_000))
    rx.receive(big(1), "A", 0.0)
    for seq in range(3, 103):  # 2 is lost: 100 KB arrive out of order
        rx.receive(big(seq), "A", 0.0)
    assert sum(len(m) for m in rx._buffer.values()) <= 10_000
    assert rx.buffered_bytes == 10_000 and rx.stats.buffer_dropped == 90
    # Nothing is lost: what was dropped is requested and delivered once answered.
    got = [1]
    ev = rx.receive(big(2), SRV, 0.01)
    for _ in range(50):
        for e in ev:
            if isinstance(e, Messages):
                got += range(e.sequence, e.next_sequence)
        want = [s for r in requests(ev) for s in range(r[0], r[0] + r[1])]
        ev = rx.tick(rx.next_deadline() or 0.0)
        for s in want:
            ev += rx.receive(big(s), SRV, 0.0)
    assert got == list(range(1, 103)) and rx.buffered_bytes == 0


def test_requests_are_capped_whatever_the_gaps() -> None:
    cfg = ReceiverConfig(
        session="S",
        start_sequence=1,
        request_server=SRV,
        request_delay=0,
        max_request=1,
        retry_timeout=0.001,
        backoff=1.0,
    )
    rx = Receiver(cfg)
    rx.receive(pkt(1, 1), "A", 0.0)
    for s in range(3, 2000, 2):  # every other message lost; nothing answers
        rx.receive(pkt(s, 1), "A", 0.0)
    times: list[float] = []
    for i in range(2000):
        t = i * 0.001
        times += [t] * len(requests(rx.tick(t)))
    assert_within_bucket(times, cfg.request_rate, cfg.request_burst)
    assert len(times) > 300 and rx.stats.requests_deferred > 0


def test_packets_held_for_other_sessions_are_bounded() -> None:
    rx = Receiver(ReceiverConfig(start_sequence=1, max_buffer_bytes=20_000))
    rx.receive(pkt(1, 1), "A", 0.0)
    rx.receive(pkt(2, 1), "A", 0.1)  # S adopted (its two packets were candidate packets)
    for i in range(200):  # 200 KB of three other sessions while S is alive: bytes bound
        data = DownstreamPacket(f"X{i % 3}", 1 + i, (b"." * 1000,)).build()
        assert rx.receive(data, "X", 0.2 + i * 0.001) == []
    assert sum(c.nbytes for c in rx._candidates.values()) <= 20_000
    assert rx.stats.candidate_packets == 202 and rx.stats.held_dropped == 200 - 19
    for i in range(40):  # 40 sessions: at most four candidates are tracked
        rx.receive(DownstreamPacket(f"Y{i}", 1, (b"y",)).build(), "Y", 1.0 + i * 0.001)
    assert len(rx._candidates) == 4
    assert rx.session == "S" and delivered(rx.receive(pkt(3, 1), "A", 2.0)) == [3]


def forged(seq: int, n: int, session: str = "S") -> bytes:
    """A well-formed packet of the session with made-up messages."""
    return DownstreamPacket(session, seq, tuple(f"X{seq + i}".encode() for i in range(n))).build()


def conflicts(events: list[Event]) -> list[Conflict]:
    return [e for e in events if isinstance(e, Conflict)]


def test_a_forged_packet_before_the_real_one_is_a_conflict() -> None:
    """A forged packet of the real session, sequence numbers right, arrives first: it is
    delivered (nothing can tell yet), and the real packet's A and B copies, which differ
    from it, are each reported; the receiver goes on."""
    rx = Receiver(ReceiverConfig(session="S", start_sequence=1, request_server=SRV))
    rx.receive(pkt(1, 3), "A", 0.0)
    rx.receive(pkt(1, 3), "B", 0.0)
    ev = rx.receive(forged(4, 2), "X", 0.001)
    assert [m for e in ev if isinstance(e, Messages) for m in e.messages] == [b"X4", b"X5"]
    assert conflicts(ev) == []
    ev = rx.receive(pkt(4, 3), "A", 0.002)  # m4, m5 differ; m6 is new
    assert conflicts(ev) == [Conflict("S", 4, 2, "A")]
    assert [m for e in ev if isinstance(e, Messages) for m in e.messages] == [b"m6"]
    ev = rx.receive(pkt(4, 3), "B", 0.002)
    assert conflicts(ev) == [Conflict("S", 4, 2, "B")]
    assert rx.stats.conflicts == 4 and rx.stats.unchecked_duplicates == 0
    assert rx.next_sequence == 7 and not rx.in_gap


def test_a_forged_packet_after_the_real_one_and_one_beyond_a_hole() -> None:
    """Whichever copy comes first, a difference is reported: a forged copy of delivered
    messages, and a copy of a message still buffered behind a hole (compared byte for
    byte, and again when the hole's packet delivers over it)."""
    rx = Receiver(ReceiverConfig(session="S", start_sequence=1, request_server=SRV))
    rx.receive(pkt(1, 2), "A", 0.0)
    assert conflicts(rx.receive(forged(2, 1), "X", 0.0)) == [Conflict("S", 2, 1, "X")]
    rx.receive(pkt(5, 2), "A", 0.001)  # 3, 4 missing: 5, 6 buffered
    assert conflicts(rx.receive(forged(6, 1), "X", 0.001)) == [Conflict("S", 6, 1, "X")]
    ev = rx.receive(forged(3, 3), "X", 0.002)  # fills the hole, lies about 5 (buffered)
    assert conflicts(ev) == [Conflict("S", 5, 1, "X")]
    assert delivered([e for e in ev if not isinstance(e, Messages)]) == []
    assert rx.next_sequence == 7 and rx.stats.conflicts == 3


def test_a_retransmission_that_differs_is_a_conflict() -> None:
    """A gap filled by line B, then the retransmission requested for it differs (and,
    the other way round, a retransmission first and line B's copy differs)."""
    rx = Receiver(ReceiverConfig(session="S", start_sequence=1, request_server=SRV))
    rx.receive(pkt(1, 2), "A", 0.0)
    ev = rx.receive(pkt(5, 1), "A", 0.01)  # 3, 4 missing
    ev += rx.tick(0.02)
    assert requests(ev) == [(3, 2)]
    assert delivered(rx.receive(pkt(3, 2), "B", 0.021)) == [3, 4, 5]
    answer = DownstreamPacket("S", 3, (b"m3", b"X4")).build()
    assert conflicts(rx.receive(answer, SRV, 0.03)) == [Conflict("S", 4, 1, SRV)]
    ev = rx.receive(pkt(8, 1), "A", 0.04)  # 6, 7 missing
    ev += rx.tick(0.05)
    assert requests(ev) == [(6, 2)]
    ev = rx.receive(DownstreamPacket("S", 6, (b"X6", b"m7")).build(), SRV, 0.051)
    assert conflicts(ev) == []  # first copy: delivered, nothing to compare yet
    assert conflicts(rx.receive(pkt(6, 2), "B", 0.052)) == [Conflict("S", 6, 1, "B")]
    assert rx.stats.conflicts == 2


def test_clean_ab_lines_and_retransmissions_raise_no_conflict() -> None:
    """Lines A and B, out of order, overlapping, retransmitted, copies late by up to the
    window: never a conflict; copies older than the window or of given-up numbers are
    counted as unchecked, never as conflicts."""
    rx = Receiver(ReceiverConfig(session="S", start_sequence=1, request_server=SRV,
                                 verify_window=64))  # fmt: skip
    t = 0.0
    for seq in range(1, 400, 4):
        t += 0.001
        for data, src in ((pkt(seq + 2, 2), "A"), (pkt(seq, 2), "A"), (pkt(seq, 4), "B")):
            assert conflicts(rx.receive(data, src, t)) == []
        assert conflicts(rx.receive(pkt(max(1, seq - 60), 3), SRV, t)) == []  # retransmission
    assert rx.next_sequence == 401 and rx.stats.conflicts == 0
    assert rx.stats.unchecked_duplicates == 0
    assert conflicts(rx.receive(forged(300, 2), "X", t)) == []  # beyond the window
    assert rx.stats.unchecked_duplicates == 2
    rx.receive(pkt(410, 1), "A", t)
    rx.skip_gap(t)  # 401 .. 409 given up
    assert conflicts(rx.receive(forged(401, 9), "X", t)) == []
    assert rx.stats.unchecked_duplicates == 11 and rx.stats.conflicts == 0
    assert conflicts(rx.receive(forged(410, 1), "X", t)) == [Conflict("S", 410, 1, "X")]


def test_a_session_change_forgets_the_old_sessions_digests() -> None:
    rx = Receiver(ReceiverConfig(start_sequence=1, session_grace=0.5))
    rx.receive(pkt(1, 3), "A", 0.0)
    rx.receive(pkt(4, 1), "A", 0.001)  # S adopted
    for i in range(3):  # T, after S's silence: a restart
        rx.receive(pkt(1, 1, "T"), "B", 1.0 + i * 0.3)
    assert rx.session == "T"
    ev = rx.receive(DownstreamPacket("T", 2, (b"other",)).build(), "B", 2.0)
    assert conflicts(ev) == []
    assert conflicts(rx.receive(DownstreamPacket("T", 2, (b"X",)).build(), "B", 2.0)) == [
        Conflict("T", 2, 1, "B")
    ]


def test_verify_window_zero_compares_no_delivered_copy() -> None:
    rx = Receiver(ReceiverConfig(session="S", start_sequence=1, verify_window=0))
    rx.receive(pkt(1, 2), "A", 0.0)
    assert conflicts(rx.receive(forged(1, 2), "X", 0.0)) == []
    assert rx.stats.unchecked_duplicates == 2
    with pytest.raises(ValueError, match="verify_window"):
        Receiver(ReceiverConfig(verify_window=-1))


def test_long_messages_are_compared_by_digest_in_bounded_memory() -> None:
    """Runs of messages over 64 bytes on average are kept as digests, not as themselves:
    12,288 delivered messages of 1,000 bytes (three windows of 4,096) leave the receiver
    holding well under one window of them (4 MB); their copies are still compared, and a
    short run among them is kept and compared as bytes."""
    import tracemalloc

    def big(seq: int, n: int, tag: bytes = b"m") -> bytes:
        msgs = tuple(tag + seq.to_bytes(8, "big") * 125 for seq in range(seq, seq + n))
        return DownstreamPacket("S", seq, msgs).build()

    rx = Receiver(ReceiverConfig(session="S", start_sequence=1, verify_window=4096))
    packets = [big(seq, 8) for seq in range(1, 3 * 4096, 8)]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for data in packets:
            rx.receive(data, "A", 0.0)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert rx.next_sequence == 3 * 4096 + 1
    assert held < 1_000_000, held  # kept as themselves: over 4,096,000
    last = 3 * 4096 - 7
    assert conflicts(rx.receive(big(last, 8), "B", 0.0)) == []
    assert conflicts(rx.receive(big(last, 8, b"X"), "X", 0.0)) == [Conflict("S", last, 8, "X")]
    rx.receive(pkt(3 * 4096 + 1, 2), "A", 0.0)  # short messages: kept as bytes
    assert conflicts(rx.receive(forged(3 * 4096 + 1, 2), "X", 0.0)) == [
        Conflict("S", 3 * 4096 + 1, 2, "X")
    ]
    assert rx.stats.conflicts == 10 and rx.stats.unchecked_duplicates == 0


def test_a_receiver_holds_memory_for_what_it_delivered() -> None:
    """The ring of delivered messages grows with what was delivered (from 1,024 slots,
    doubling up to ``verify_window``): a capture reader runs a receiver per session, and
    a ring of the default 131,072 slots allocated whole is 1 MiB each, so a capture of
    1,500 one-packet sessions took 1.5 GB. 200 receivers of one message each: well under
    1 MiB each (200 MiB on the old code)."""
    import tracemalloc

    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        receivers = []
        for k in range(200):
            rx = Receiver(ReceiverConfig(session=f"S{k}", start_sequence=1))
            assert delivered(rx.receive(pkt(1, 1, f"S{k}"), "A", 0.0)) == [1]
            receivers.append(rx)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 10 * 2**20, held


def test_copies_are_compared_across_the_rings_growth() -> None:
    """Every delivered message is compared with its copy while the ring doubles under it
    (runs of 1 to 37 messages, so growth lands mid-run and runs wrap): the whole feed
    again as line B is no conflict and nothing unchecked; a forged copy of the first
    packet, after 20,000 more messages, is still caught."""
    rx = Receiver(ReceiverConfig(session="S", start_sequence=1))
    packets = []
    seq = 1
    while seq <= 20_000:
        n = 1 + seq % 37
        packets.append(pkt(seq, n))
        seq += n
    for data in packets:
        rx.receive(data, "A", 0.0)
    for data in packets:
        assert conflicts(rx.receive(data, "B", 0.0)) == []
    assert rx.stats.unchecked_duplicates == 0
    assert conflicts(rx.receive(forged(1, 2), "X", 0.0)) == [Conflict("S", 1, 2, "X")]
    assert conflicts(rx.receive(forged(seq - 3, 3), "X", 0.0)) == [Conflict("S", seq - 3, 3, "X")]


def test_a_session_name_is_logged_escaped(caplog: pytest.LogCaptureFixture) -> None:
    """A session is ten ASCII bytes from the network, control characters included: the
    receiver's log lines show it as a Python literal, so ESC [ 2 J cannot clear the
    operator's terminal (it went to stderr raw, in the live engine's warning that a
    session was abandoned)."""
    evil = "\x1b[2J\x1b[H"
    rx = Receiver(ReceiverConfig(start_sequence=1, session_grace=0.5, request_server=SRV))
    with caplog.at_level(logging.DEBUG, logger="tickwire.moldudp64"):
        ev = rx.receive(pkt(1, 1, evil), "X", 0.0) + rx.receive(pkt(3, 1, evil), "X", 0.1)
        assert rx.session == evil  # adopted; 3 waits for 2
        for i in range(4):
            ev += rx.receive(hb(1 + i), "A", 1.0 + i / 10) + rx.tick(1.0 + i / 10)
    assert any(isinstance(e, SessionChanged) and e.old == evil and e.abandoned for e in ev)
    logged = [r.getMessage() for r in caplog.records]
    assert any("abandoned" in m for m in logged)
    assert not any("\x1b" in m for m in logged)


TOP = 1 << 64  # one past the largest sequence number (the field is 8 bytes)


def raw_pkt(seq: int, n: int, session: str = "S") -> bytes:
    """As :func:`pkt`, header packed by hand: a packet running past 2^64 - 1, which
    ``DownstreamPacket.build`` refuses to build (``SequenceOverflow``)."""
    blocks = b"".join(
        len(m).to_bytes(2, "big") + m for m in (f"m{seq + i}".encode() for i in range(n))
    )
    return struct.pack(">10sQH", session.encode().ljust(10), seq, n) + blocks


@given(
    n=st.integers(1, 24),
    cuts=st.lists(st.integers(1, 23), max_size=8),
    order=st.randoms(use_true_random=False),
    at=st.integers(0, 40),
    back=st.integers(1, 24),
    over=st.integers(1, 5),
    pinned=st.booleans(),
)
@settings(max_examples=300, deadline=None)
def test_a_packet_running_past_2_64_is_refused_wherever_it_arrives(
    n: int,
    cuts: list[int],
    order: random.Random,
    at: int,
    back: int,
    over: int,
    pinned: bool,
) -> None:
    """The last ``n`` sequence numbers below 2^64, in packets in any order (late join or
    pinned, gaps, buffering, re-requests answered by the retransmissions), with one packet
    from ``TOP - back`` whose messages run ``over`` past 2^64 - 1 arriving anywhere (first
    packet, in order, beyond a hole, as a gap fill): it is refused as a bad packet, and
    nothing is delivered past 2^64 - 1."""
    first = TOP - n
    bounds = sorted({first, *(first + c for c in cuts if c < n), TOP})
    legit = [pkt(lo, hi - lo) for lo, hi in itertools.pairwise(bounds)]
    order.shuffle(legit)
    bad = raw_pkt(TOP - min(back, n), min(back, n) + over)
    feed = [*legit]
    feed.insert(min(at, len(feed)), bad)
    cfg = ReceiverConfig(request_server=SRV, request_delay=0)
    if pinned:
        cfg = dataclasses.replace(cfg, session="S", start_sequence=first)
    rx = Receiver(cfg)
    ev: list[Event] = []
    t = 0.0
    for data in [*feed, *legit]:  # then the retransmissions of whatever is missing
        t += 1.0
        ev += rx.receive(data, "A", t) + rx.tick(t)
    got = delivered(ev)
    assert got and got == list(range(got[0], TOP))
    assert got[0] == first or not pinned
    assert rx.stats.bad_packets == 1
    assert sum(isinstance(e, BadPacket) for e in ev) == 1
    assert not rx.in_gap and rx.known_end == TOP


def test_giving_up_many_holes_costs_no_scan_of_the_buffer(
    thread_cpu: Callable[..., tuple[Any, float]],
) -> None:
    """``skip_gap`` finds the first buffered message from a heap of the buffered runs'
    starts, not by scanning the buffer: it took ``min`` of every buffered sequence number
    at each hole given up, so a capture of a line losing every other packet, read with
    100,000 messages held (``SequencedCapture``'s default), cost 100,000 steps a packet
    (20,000 packets with 16,000 held took 6.5 s, 40,000 took 14 s)."""
    rx = Receiver(ReceiverConfig(session="S", start_sequence=1))
    rx.receive(pkt(1, 1), "A", 0.0)
    holes = 2_000
    for k in range(holes):  # 2, 4, 6, ... lost
        rx.receive(pkt(3 + 2 * k, 1), "A", 0.0)
    far = 1_000_000
    for k in range(60):  # a block far beyond, 60,000 messages held
        rx.receive(pkt(far + 1000 * k, 1000), "A", 0.0)
    assert rx.buffered == holes + 60_000
    got: list[int] = [1]

    def give_up_every_hole() -> None:
        for _ in range(holes):
            got.extend(delivered(rx.skip_gap(1.0)))

    _, elapsed = thread_cpu(give_up_every_hole)
    assert got == [1, *range(3, 3 + 2 * holes, 2)] and rx.next_sequence == 2 * holes + 2
    assert rx.stats.skipped_messages == holes
    assert elapsed < 0.25, f"{holes} holes given up in {elapsed:.2f} s"  # 1.75 s before, 0.012 now
    # The far block comes next, in one piece; the heap holds nothing stale.
    assert delivered(rx.skip_gap(2.0)) == list(range(far, far + 60_000))
    assert rx.buffered == 0 and not rx.in_gap


def test_a_max_request_the_count_field_cannot_hold_is_refused_at_once() -> None:
    """Requested Message Count is 2 bytes: ``max_request`` above 65,535 is a ValueError
    when the receiver is made. It was taken, and a hole over 65,535 messages made a
    request that raised MoldError when built, in the asyncio receiver's datagram callback
    and timer: a traceback at each attempt, the hole never requested."""
    with pytest.raises(ValueError, match="max_request"):
        Receiver(ReceiverConfig(max_request=0x10000))
    cfg = ReceiverConfig(
        session="S", start_sequence=1, request_server=SRV, request_delay=0, max_jump=10**6
    )
    rx = Receiver(dataclasses.replace(cfg, max_request=0xFFFF))  # the largest: it builds
    ev = rx.receive(pkt(200_000, 1), "A", 0.0)
    n = 0xFFFF
    assert requests(ev) == [(1, n), (1 + n, n), (1 + 2 * n, n), (1 + 3 * n, 200_000 - 1 - 3 * n)]
    for e in ev:
        if isinstance(e, SendRequest):
            assert parse_request(e.data) == e.request


@pytest.mark.parametrize(
    "wrap",
    [bytearray, lambda b: memoryview(b).toreadonly(), memoryview, lambda b: memoryview(bytes(b))],
    ids=["bytearray", "readonly-view", "writable-view", "view-of-bytes"],
)
def test_any_bytes_like_datagram_is_copied_once(wrap: object) -> None:
    """``receive`` takes any bytes-like datagram, as the codec's parsers do, and delivers
    ``bytes`` of its own, whatever the caller does with its buffer afterwards. A
    ``bytearray`` or a view of one raised ``TypeError`` or ``ValueError`` (the receiver
    hashes the datagram); a view of ``bytes`` was sliced into ``memoryview`` messages,
    delivered and kept (buffered beyond a hole or in order)."""
    assert callable(wrap)
    rx = Receiver(ReceiverConfig(session="S", start_sequence=1, request_server=SRV))
    got: list[Event] = []
    for first in (3, 1, 5):  # 3..4 beyond the hole, 1..2 fills it, 5..6 in order
        buf = bytearray(pkt(first, 2))
        got += rx.receive(wrap(buf), SRV, 0.0)
        buf[:] = bytes(len(buf))  # the caller reuses its buffer
        got += rx.receive(pkt(first, 2), ("198.18.0.8", 9000), 0.0)  # the B line's copy
    assert delivered(got) == [1, 2, 3, 4, 5, 6]
    msgs = [m for e in got if isinstance(e, Messages) for m in e.messages]
    assert all(type(m) is bytes for m in msgs)
    assert rx.stats.bad_packets == 0 and rx.stats.conflicts == 0
    assert not [e for e in got if isinstance(e, Conflict)]
