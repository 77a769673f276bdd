"""Captures read in sequence order: A/B copies dropped, reordering undone, gaps counted."""

from __future__ import annotations

import io
import struct
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tickwire.moldudp64 import DownstreamPacket, Receiver, ReceiverConfig
from tickwire.moldudp64.events import GapDetected, Messages
from tickwire.moldudp64.sequenced import SequencedCapture
from tickwire.net import PcapWriter, build_udp_frame

MSGS = [b"msg%03d" % i for i in range(60)]
#: Six messages a packet: packet i carries sequence numbers 6i+1 .. 6i+6.
PACKETS = [DownstreamPacket("AB", 1 + 6 * i, tuple(MSGS[6 * i : 6 * i + 6])) for i in range(10)]


def capture(
    order: list[int],
    *,
    times_ms: list[int] | None = None,
    tail: bytes = b"",
    forged: frozenset[int] = frozenset(),
) -> bytes:
    """A pcap of ``PACKETS[i]`` for i in ``order`` (optional capture times, in ms); the
    frames at the positions in ``forged`` carry made-up messages of the same packet."""
    buf = io.BytesIO()
    with PcapWriter(buf) as w:
        payloads = [
            (PACKETS[i] if n not in forged else _forge(PACKETS[i])).build()
            for n, i in enumerate(order)
        ] + ([tail] if tail else [])
        for n, payload in enumerate(payloads):
            ts = (times_ms[n] if times_ms else n) * 1_000_000
            frame = build_udp_frame(
                payload, src_ip="198.18.0.1", dst_ip="198.18.0.2", src_port=1, dst_port=2
            )
            w.write(frame, timestamp_ns=ts)
    return buf.getvalue()


def _forge(pkt: DownstreamPacket) -> DownstreamPacket:
    return DownstreamPacket(pkt.session, pkt.sequence, tuple(b"X" + m[1:] for m in pkt.messages))


def read(data: bytes, **kw: int) -> tuple[list[bytes], SequencedCapture]:
    cap = SequencedCapture(data, **kw)  # type: ignore[arg-type]
    return [m for ev in cap for m in ev.messages], cap


def test_ab_lines_interleaved_and_reordered_give_the_single_line() -> None:
    order = [0, 0, 2, 1, 1, 2, 3, 4, 3, 5, 4, 6, 5, 7, 6, 9, 7, 8, 8, 9]
    got, cap = read(capture(order))
    assert got == MSGS
    assert cap.stats.duplicates == 60 and cap.stats.missing == 0 and cap.stats.gaps == 0
    assert cap.stats.sessions == {"AB": (1, 61)}


def test_a_hole_waits_for_the_window_then_is_given_up() -> None:
    # Packet 3 lost on both lines; packet 5 comes late but inside the window (ms times).
    order = [0, 1, 2, 4, 6, 5, 7, 8, 9]
    got, cap = read(capture(order, times_ms=[0, 1, 2, 3, 4, 5, 6, 7, 8]), window_ns=10**9)
    assert got == MSGS[:18] + MSGS[24:]
    assert cap.stats.missing == 6 and cap.stats.gaps == 1
    # A window shorter than the packet spacing gives packet 5's hole up before it comes.
    got, cap = read(capture(order, times_ms=[0, 1, 2, 3, 40, 50, 60, 70, 80]), window_ns=10**7)
    assert got == MSGS[:18] + MSGS[24:30] + MSGS[36:]
    assert cap.stats.missing == 12 and cap.stats.gaps == 2


def test_max_held_bounds_what_a_hole_holds_back() -> None:
    received: list[int] = []
    cap = SequencedCapture(capture([0, 2, 3, 4, 1]), max_held=12)
    for ev in cap:
        received.append(ev.sequence)
    # Packet 1 never made it in time: 12 held messages (packets 2 and 3) forced the hole.
    assert received == [1, 13, 25]
    assert cap.stats.missing == 6 and cap.stats.duplicates == 6


def test_the_end_of_the_capture_gives_up_every_hole_and_the_announced_tail() -> None:
    eos = DownstreamPacket("AB", 61, end_of_session=True).build()
    got, cap = read(capture([0, 1, 3, 4, 5, 6, 7], tail=eos))
    assert got == MSGS[:12] + MSGS[18:48]
    # Packet 2 (6 messages) and packets 8, 9 (announced by the end of session): 18 missing.
    assert cap.stats.missing == 18 and cap.stats.gaps == 2


def test_copies_before_the_join_point_are_counted_not_delivered() -> None:
    """Packet 0 comes after the join window (1 s of capture time) closed: the session was
    joined at packet 1 and both copies of packet 0 are counted, not delivered."""
    got, cap = read(capture([1, 0, 2, 1, 0], times_ms=[0, 1000, 1001, 1002, 1003]))
    assert got == MSGS[6:18]
    assert cap.stats.before_start == 12 and cap.stats.sessions["AB"] == (7, 19)


def test_line_b_ahead_at_the_start_loses_nothing() -> None:
    """Line B brings packets 1 and 2 before line A brings packet 0, within the join
    window: the session is joined at packet 0 and every message is delivered once. Before,
    the join was the first packet: packet 0's six messages were dropped (``before_start``)
    and the read said nothing was missing."""
    got, cap = read(capture([1, 2, 0, 0, 1, 2, 3, 3]))
    assert got == MSGS[:24]
    assert cap.stats.before_start == 0 and cap.stats.missing == 0
    assert cap.stats.duplicates == 24 and cap.stats.sessions["AB"] == (1, 25)


def test_a_copy_far_before_the_start_does_not_move_it() -> None:
    """Within the join window, a packet that ends before the start (packet 0 on a capture
    joined at packet 5: a retransmission of the morning on a capture started at noon)
    does not reach it: the join stays at packet 5 and packet 0 is counted, not made a gap
    of 24 missing messages. A packet that only reaches it through another held packet
    (3, held before 4) moves it step by step."""
    got, cap = read(capture([5, 0, 6]))
    assert got == MSGS[30:42]
    assert cap.stats.before_start == 6 and cap.stats.missing == 0 and cap.stats.gaps == 0
    got, cap = read(capture([5, 3, 4, 6]))
    assert got == MSGS[18:42]
    assert cap.stats.before_start == 0 and cap.stats.sessions["AB"] == (19, 43)


@settings(max_examples=60, deadline=None)
@given(st.permutations(list(range(10)) * 2))
def test_any_ab_interleaving_within_the_window_is_undone(order: list[int]) -> None:
    """Two copies of every packet in any order, the first one included, all within the
    join window: the single line, whole."""
    got, cap = read(capture(order))
    assert got == MSGS
    assert cap.stats.missing == 0 and cap.stats.before_start == 0
    assert cap.stats.duplicates == 60 and cap.stats.sessions == {"AB": (1, 61)}


def test_only_one_session_when_asked() -> None:
    other = DownstreamPacket("OTHER", 1, (b"x",)).build()
    got, cap = read(capture([0, 1], tail=other))
    assert got == [*MSGS[:12], b"x"]
    cap = SequencedCapture(capture([0, 1], tail=other), session="AB")
    assert [m for ev in cap for m in ev.messages] == MSGS[:12]
    assert cap.stats.other_session_packets == 1


@settings(max_examples=60, deadline=None)
@given(st.permutations(list(range(1, 10)) * 2), st.integers(1, 60))
def test_any_ab_interleaving_after_the_first_packet_is_undone(
    rest: list[int], max_held: int
) -> None:
    got, cap = read(capture([0, *rest, 0]), max_held=max_held)
    if cap.stats.missing == 0:
        assert got == MSGS
    # However small max_held is, nothing is lost silently: delivered + missing = all.
    assert cap.stats.messages + cap.stats.missing == 60
    assert sorted(got) == got  # in sequence order
    assert cap.stats.messages == len(got)
    assert cap.stats.conflicts == 0  # copies that agree, however interleaved or given up


def test_a_forged_copy_first_is_a_fault_named_in_one_phrase() -> None:
    """A made-up copy of packet 2 comes before lines A and B: it is what is read (nothing
    can tell yet), both real copies differ from it, and the capture is not whole. The
    clean A/B capture is whole."""
    order = [0, 0, 1, 1, 1, 2, 2]
    got, cap = read(capture(order))
    assert cap.stats.conflicts == 0 and cap.stats.faults() is None
    got, cap = read(capture(order, forged=frozenset({2})))
    assert got[6:12] == [b"X" + m[1:] for m in MSGS[6:12]]
    assert cap.stats.conflicts == 12 and cap.stats.first_conflict == "AB 7"
    assert (
        cap.stats.faults() == "12 messages whose copies differ (one copy lies, the first at AB 7)"
    )
    assert cap.stats.as_dict()["conflicts"] == 12
    assert "12 copies that differ" in cap.stats.text()


def test_receiver_skip_gap_delivers_the_held_run_and_counts_the_hole() -> None:
    rx = Receiver(ReceiverConfig(session="AB"))
    rx.receive(PACKETS[0].build(), None, 0.0)
    events = rx.receive(PACKETS[2].build(), None, 1.0)
    assert any(isinstance(e, GapDetected) for e in events)
    rx.receive(PACKETS[4].build(), None, 1.5)
    assert rx.buffered == 12 and rx.gap_since == 1.0
    events = rx.skip_gap(2.0)
    (delivered,) = [e for e in events if isinstance(e, Messages)]
    assert (delivered.sequence, delivered.messages) == (13, list(MSGS[12:18]))
    # The hole of packet 3 is a new gap, timed from the skip.
    assert [e.first for e in events if isinstance(e, GapDetected)] == [19]
    assert rx.gap_since == 2.0 and rx.stats.skipped_messages == 6
    events = rx.skip_gap(3.0)
    assert [e.sequence for e in events if isinstance(e, Messages)] == [25]
    assert not rx.in_gap and rx.skip_gap(4.0) == [] and rx.stats.skipped_messages == 12


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="max_held"):
        SequencedCapture(b"", max_held=0)


def test_a_far_jump_is_a_gap_like_any_other() -> None:
    # A capture is a record: the live receiver's max_jump guard (one stray packet claiming
    # a far sequence number is held as suspect) must not swallow the last packet of a
    # capture that skips ahead, as NASDAQ's Multiple.Packets.pcap does.
    far = DownstreamPacket("AB", 5_000_001, (b"far",)).build()
    got, cap = read(capture([0], tail=far))
    assert got == [*MSGS[:6], b"far"]
    assert cap.stats.missing == 5_000_001 - 7 and cap.stats.gaps == 1


def test_a_packet_running_past_2_64_is_a_bad_packet_of_the_capture() -> None:
    """A packet whose messages would run past sequence number 2^64 - 1 is refused by the
    receiver (``SequenceOverflow``); in a capture it is counted as a bad packet, so the
    reading is a fault (exit 1 in every command), not a silent loss and not messages
    numbered past 2^64 - 1."""
    top = 1 << 64
    # top - 1, then top: refused by the receiver, so not built (DownstreamPacket.build
    # refuses it): its header packed by hand
    past = struct.pack(">10sQH", b"S".ljust(10), top - 1, 2) + b"\x00\x01c\x00\x01d"
    buf = io.BytesIO()
    with PcapWriter(buf) as w:
        for n, pkt in enumerate(
            (
                DownstreamPacket("S", top - 3, (b"a", b"b")).build(),
                past,
                DownstreamPacket("S", top - 1, (b"c",)).build(),
            )
        ):
            frame = build_udp_frame(
                pkt, src_ip="198.18.0.1", dst_ip="198.18.0.2", src_port=1, dst_port=2
            )
            w.write(frame, timestamp_ns=n * 1_000_000)
    cap = SequencedCapture(buf.getvalue())
    runs = [(ev.sequence, ev.messages) for ev in cap]
    assert runs == [(top - 3, [b"a", b"b"]), (top - 1, [b"c"])]
    st = cap.stats
    assert st.capture.bad_packets == 1 and st.capture.packets == 2
    assert st.capture.frames == 3 and st.capture.messages == 3
    assert st.capture.errors[0].startswith("frame 2: 2 messages from sequence")
    faults = st.faults()
    assert faults is not None and "1 bad MoldUDP64 packets" in faults


def test_packets_numbered_1_while_a_join_waits_cost_no_rescan(
    thread_cpu: Callable[..., tuple[Any, float]],
) -> None:
    """A packet numbered 0 or 1 that does not reach a waiting join's start costs one
    comparison: the join keeps its start and moves it when a packet reaches it. It sorted
    every held frame again at each such packet, so a capture of a first packet at 5 and
    then heartbeats (held without limit: they carry no message) or packets numbered 1 in
    the join window was quadratic (8,000 heartbeats: 6.3 s)."""
    buf = io.BytesIO()
    with PcapWriter(buf) as w:

        def put(p: DownstreamPacket, ms: int) -> None:
            frame = build_udp_frame(
                p.build(), src_ip="198.18.0.1", dst_ip="198.18.0.2", src_port=1, dst_port=2
            )
            w.write(frame, timestamp_ns=ms * 1_000)

        put(DownstreamPacket("S", 5, (b"m5",)), 0)
        for i in range(3_000):
            put(DownstreamPacket.heartbeat("S", 1), i)
            put(DownstreamPacket("S", 1, (b"m1",)), i)  # reaches 1 .. 1, not 5
        put(DownstreamPacket("S", 2, (b"m2", b"m3", b"m4")), 3_000)  # bridges 1 .. 5
        put(DownstreamPacket("S", 6, (b"m6",)), 3_001)
    data = buf.getvalue()
    (got, cap), elapsed = thread_cpu(lambda: read(data))
    assert got == [b"m1", b"m2", b"m3", b"m4", b"m5", b"m6"]
    assert cap.stats.sessions == {"S": (1, 7)} and cap.stats.missing == 0
    assert elapsed < 0.5, f"{elapsed:.2f} s"  # 2.6 s before


def _frames(payloads: list[tuple[int, bytes]]) -> bytes:
    """A pcap of ``(capture time in ms, MoldUDP64 payload)``."""
    buf = io.BytesIO()
    with PcapWriter(buf) as w:
        for ms, payload in payloads:
            frame = build_udp_frame(
                payload, src_ip="198.18.0.1", dst_ip="198.18.0.2", src_port=1, dst_port=2
            )
            w.write(frame, timestamp_ns=ms * 1_000_000)
    return buf.getvalue()


def test_data_after_a_confirmed_end_of_session_is_a_fault() -> None:
    """Data 1..2, an end of session at 3 sent twice a second apart (confirmed and
    reported), then data 3..4 of the same session: the end of session is final, so 3..4
    are not read, and they are counted and named in the fault. They were dropped with
    nothing said (no count, no fault: exit 0)."""
    data = DownstreamPacket("S", 1, (b"m1", b"m2")).build()
    end = DownstreamPacket.end_of_session_packet("S", 3).build()
    after = DownstreamPacket("S", 3, (b"m3", b"m4")).build()
    got, cap = read(_frames([(0, data), (1, end), (1001, end), (1002, after)]))
    assert got == [b"m1", b"m2"]
    st = cap.stats
    assert st.faults() == (
        "2 messages after the end of session (not read: an end of session is final;"
        " the first at S 3)"
    )
    assert st.after_end == 2 and st.first_after_end == "S 3"
    assert st.as_dict()["after_end"] == 2
    assert "2 messages after the end of session" in st.text()
    # Only one end of session (not confirmed): 3..4 are read, the end was stale.
    got, cap = read(_frames([(0, data), (1, end), (1002, after)]))
    assert got == [b"m1", b"m2", b"m3", b"m4"]
    assert cap.stats.faults() is None and cap.stats.after_end == 0
