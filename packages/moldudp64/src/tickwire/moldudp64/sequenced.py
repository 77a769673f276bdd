"""A capture's MoldUDP64 messages in sequence order, each once, gaps counted.

A capture of a feed is rarely the feed: an A/B pair puts every packet on the wire twice,
a re-request server answers with copies, and the two lines race, so packets arrive out of
order. :class:`SequencedCapture` gives back what the publisher sent, the way the live
receiver does, by running each session of the capture through its own sans-I/O
:class:`~tickwire.moldudp64.receiver.Receiver` (no re-request server; the capture's
timestamps are the clock). It is the one place captures are sequenced: ``pcap2itch`` and
the engine's ``book``, ``backtest`` and ``export`` all read captures through it.

How it sequences
----------------
* A session is joined where its first packets in the capture start: the capture says
  nothing about the messages before them. The join waits for the other line as a hole
  does: a first packet numbered above 1 is held, with the session's packets after it, for
  ``window_ns`` of capture time (or until ``max_held`` messages are held), and a held
  packet that reaches the start (it ends at or after it) moves the start back to its own
  first sequence number, again and again. So line B racing line A by a packet or two at
  the start of a capture loses nothing; a copy far before the start (a retransmission of
  the morning on a capture joined at noon) moves nothing. Copies of earlier sequence
  numbers that come after the join are counted in ``before_start`` (not delivered: their
  predecessors are unknown). Why: the join was the first packet, so a capture whose
  line B brought packet 2 before line A brought packet 1 dropped packet 1's messages
  (counted, exit 0: a backtest of 19,999 of 20,000 messages). Test:
  ``test_moldudp64_sequenced.py::test_line_b_ahead_at_the_start_loses_nothing``.
* A packet at the next expected sequence number (or overlapping it) is delivered at once;
  whichever copy of a message comes first is used, every later copy is counted in
  ``duplicates`` and dropped.
* A packet beyond it is held, and the hole before it waits for the other line or a
  retransmission: for ``window_ns`` of capture time, or until ``max_held`` messages are
  held behind it, whichever comes first. Then the hole is given up
  (:meth:`Receiver.skip_gap`): its messages are counted in ``missing``, each hole once in
  ``gaps``, and the held messages are delivered. At the end of the capture every hole
  still open is given up the same way, including the messages a heartbeat or end of
  session announced that the capture never carried.
* The capture is taken as the record it is: the live receiver's guards against stray
  packets on an open port (a session adopted on two packets, a far jump suspect until
  confirmed) are off; each session is pinned and joined at its first packet, and a jump
  is a gap like any other.
* Frames that carry no valid MoldUDP64 packet are skipped and counted by
  :class:`~tickwire.moldudp64.capture.MoldCapture` (``capture`` in the stats), a packet
  whose messages run past sequence number 2^64 - 1 among them (the codec refuses it);
  so is a packet the receiver refuses all the same, moved from ``packets`` to
  ``bad_packets``.
* A copy that differs from the copy delivered for the same sequence numbers (the
  receiver's rule, "Copies that differ") is counted in ``conflicts`` (the first one's
  sequence number in ``first_conflict``): the lines of an A/B feed and a retransmission
  carry the same bytes, so one of the copies lies and the messages delivered may be the
  forged ones. Like a gap, it is a fault (:meth:`SequenceStats.faults`).
* Data of a session after its confirmed end of session (the receiver's rule: reported
  on two independent end-of-session packets) is not read, the end being final, and is
  counted in ``after_end`` (the first in ``first_after_end``): lost messages, a fault.
  Why: they were dropped with exit 0 and in no count. Test:
  ``test_moldudp64_sequenced.py::test_data_after_a_confirmed_end_of_session_is_a_fault``.

>>> from tickwire.moldudp64.codec import DownstreamPacket
>>> from tickwire.net import build_udp_frame
>>> from tickwire.net import PcapWriter
>>> import io
>>> buf = io.BytesIO()
>>> with PcapWriter(buf) as w:
...     for seq in (1, 1, 3, 2, 3, 2):  # lines A and B, packet 3 before packet 2
...         pkt = DownstreamPacket("S", seq, (b"m%d" % seq,)).build()
...         w.write(build_udp_frame(pkt, src_ip="198.18.0.1", dst_ip="198.18.0.2",
...                                 src_port=1, dst_port=2))
>>> cap = SequencedCapture(buf.getvalue())
>>> [m for ev in cap for m in ev.messages]
[b'm1', b'm2', b'm3']
>>> cap.stats.duplicates, cap.stats.missing
(3, 0)
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from tickwire.cli import printable

from .capture import CaptureStats, MoldCapture, MoldFrame, faults_text
from .events import BadPacket, Conflict, Event, Messages
from .receiver import Receiver, ReceiverConfig

__all__ = ["DEFAULT_MAX_HELD", "DEFAULT_WINDOW_NS", "SequenceStats", "SequencedCapture"]

#: How long (capture time) a hole waits for the other line or a retransmission.
DEFAULT_WINDOW_NS = 1_000_000_000
#: How many messages may be held behind a hole before it is given up anyway.
DEFAULT_MAX_HELD = 100_000
#: Beyond any 64-bit sequence number: the live receiver's ``max_jump`` guard is off.
_ANY_JUMP = 1 << 64


@dataclass(slots=True)
class SequenceStats:
    """What :class:`SequencedCapture` delivered, dropped and could not find."""

    #: Messages delivered, in sequence order, each once.
    messages: int = 0
    #: Later copies of delivered messages (the other line, retransmissions), dropped.
    duplicates: int = 0
    #: Sequence numbers given up: never in the capture (or not within the window).
    missing: int = 0
    #: Holes given up (each counts its messages in ``missing``).
    gaps: int = 0
    #: Messages numbered before their session's first packet in the capture, dropped.
    before_start: int = 0
    #: Copies of messages that differ from the copy delivered (one of them lies).
    conflicts: int = 0
    #: Where the first of them is: "SESSION SEQUENCE".
    first_conflict: str | None = None
    #: Messages after their session's confirmed end of session, not read: a fault (the
    #: end is final; the receiver's ``after_end_messages``).
    after_end: int = 0
    #: Where the first of them is: "SESSION SEQUENCE".
    first_after_end: str | None = None
    #: End-of-session packets the data proved stale (ignored: nothing lost).
    stale_ends: int = 0
    #: Packets of sessions other than the one asked for.
    other_session_packets: int = 0
    #: Per session: the sequence number it was joined at and the next one after the last
    #: message delivered.
    sessions: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: What the capture reader skipped (frames without a valid MoldUDP64 packet).
    capture: CaptureStats = field(default_factory=CaptureStats)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (the command lines print it)."""
        cap = self.capture
        return {
            "frames": cap.frames,
            "packets": cap.packets,
            "messages": self.messages,
            "duplicates": self.duplicates,
            "missing": self.missing,
            "gaps": self.gaps,
            "before_start": self.before_start,
            "conflicts": self.conflicts,
            "after_end": self.after_end,
            "stale_ends": self.stale_ends,
            "sessions": {s: {"first": a, "next": b} for s, a, b in self._session_rows()},
            "not_udp": cap.not_udp,
            "other_port": cap.other_port,
            "bad_packets": cap.bad_packets,
            "cut_frames": cap.cut,
            "fragments": cap.fragments,
            "other_session_packets": self.other_session_packets,
        }

    def _session_rows(self) -> list[tuple[str, int, int]]:
        return [(s, a, b) for s, (a, b) in sorted(self.sessions.items())]

    def faults(self) -> str | None:
        """What the reading lost or cannot vouch for (bad packets, cut frames, gaps, copies
        that differ), one phrase, or None (:func:`tickwire.moldudp64.capture.faults_text`)."""
        return faults_text(
            self.capture,
            gaps=self.gaps,
            missing=self.missing,
            conflicts=self.conflicts,
            first_conflict=self.first_conflict,
            after_end=self.after_end,
            first_after_end=self.first_after_end,
        )

    def text(self) -> str:
        """One line for a terminal: duplicates dropped, gaps and messages missing."""
        line = (
            f"capture: {self.messages:,} messages in sequence order, "
            f"{self.duplicates:,} duplicates dropped, {self.gaps:,} gaps "
            f"({self.missing:,} messages missing)"
        )
        if self.before_start:
            line += f", {self.before_start:,} before the start dropped"
        if self.conflicts:
            line += f", {self.conflicts:,} copies that differ"
        if self.after_end:
            line += f", {self.after_end:,} messages after the end of session dropped"
        if self.stale_ends:
            line += f", {self.stale_ends:,} stale ends of session ignored"
        skipped = self.capture.frames - self.capture.packets
        if skipped:
            line += f", {skipped:,} frames without a MoldUDP64 packet"
            if self.capture.cut:
                line += f" ({self.capture.cut:,} cut short by the capture's snap length)"
            if self.capture.fragments:
                line += f" ({self.capture.fragments:,} IPv4 fragments, not reassembled)"
        return line


@dataclass(slots=True)
class _Join:
    """A session's first packets, held until the join window closes.

    ``start`` decides an early join (at 1: nothing is numbered before it) in one
    comparison a packet; it is at or above :func:`_start` of the frames, which the join
    takes. Why not :func:`_start` at each packet numbered 0 or 1: it sorts every held
    frame, and heartbeats are held without limit (they carry no message), so a capture of
    a first packet at 5 then 8,000 heartbeats numbered 1 in the window took 6.3 s,
    quadratic. Test:
    ``test_moldudp64_sequenced.py::test_packets_numbered_1_while_a_join_waits_cost_no_rescan``.
    """

    since: float  # capture time of the first, in seconds
    start: int  # the first's sequence number, moved back by each packet reaching it
    frames: list[MoldFrame] = field(default_factory=list)
    held: int = 0  # their messages


def _start(frames: list[MoldFrame]) -> int:
    """Where a session held as ``frames`` is joined: the first one's sequence number,
    moved back by each held packet that reaches it (one pass from the highest: a packet
    that does not reach the start cannot reach a lower one)."""
    start = frames[0].packet.sequence
    for seq, count in sorted(
        ((mf.packet.sequence, len(mf.packet.messages)) for mf in frames), reverse=True
    ):
        if seq < start <= seq + count:
            start = seq
    return start


class SequencedCapture:
    """Iterate the :class:`~tickwire.moldudp64.events.Messages` of a capture in sequence
    order, each message once (see the module docstring for the rules).

    ``port`` keeps one UDP port, ``session`` one session; without it ``one_session``
    refuses a capture of more than one (:class:`~tickwire.moldudp64.capture.MoldCapture`
    has the rule), else every session is read, each on its own. ``window_ns`` and ``max_held``
    bound how long and how much a hole may hold back before it is given up. ``stats`` is
    complete once the iteration ends.
    """

    def __init__(
        self,
        source: str | os.PathLike[str] | IO[bytes] | bytes,
        *,
        port: int | None = None,
        session: str | None = None,
        one_session: bool = False,
        window_ns: int = DEFAULT_WINDOW_NS,
        max_held: int = DEFAULT_MAX_HELD,
    ) -> None:
        if window_ns < 0 or max_held < 1:
            raise ValueError("window_ns must be at least 0 and max_held at least 1")
        self._capture = MoldCapture(source, port=port, session=session, one_session=one_session)
        self._window = window_ns / 1e9
        self._max_held = max_held
        self.stats = SequenceStats(capture=self._capture.stats)

    def __iter__(self) -> Iterator[Messages]:
        receivers: dict[str, Receiver] = {}
        starts: dict[str, int] = {}
        joining: dict[str, _Join] = {}  # sessions whose first packets are held
        window, max_held = self._window, self._max_held
        for mf in self._capture:
            pkt = mf.packet
            name = pkt.session
            rx = receivers.get(name)
            if rx is None:
                join = joining.get(name)
                now = mf.timestamp_ns / 1e9
                if join is not None and now - join.since >= window:
                    # The window closed before this packet came: join, then read it.
                    del joining[name]
                    yield from self._join(name, join.frames, receivers, starts)
                else:
                    seq = pkt.sequence
                    if join is None:
                        join = joining[name] = _Join(now, seq)
                    elif seq < join.start <= seq + len(pkt.messages):
                        # Reaches the start: moved back (a cheap bound of _start's, which
                        # the join takes; one comparison a packet, no rescan: see _Join).
                        join.start = seq
                    join.frames.append(mf)
                    join.held += len(pkt.messages)
                    if join.held >= max_held or join.start <= 1:
                        del joining[name]  # (nothing is numbered before 1)
                        yield from self._join(name, join.frames, receivers, starts)
                    continue
            yield from self._feed(receivers[name], starts[name], mf)
        for name, join in list(joining.items()):
            yield from self._join(name, join.frames, receivers, starts)
        for rx in receivers.values():
            while rx.in_gap:
                yield from self._skip(rx, 0.0)
        st = self.stats
        st.other_session_packets = self._capture.stats.other_session
        for name, rx in receivers.items():
            rs = rx.stats
            st.messages += rs.messages
            st.duplicates += rs.duplicate_messages
            st.missing += rs.skipped_messages
            st.after_end += rs.after_end_messages
            st.stale_ends += rs.stale_end_of_session
            st.sessions[name] = (starts[name], rx.next_sequence)

    def _join(
        self,
        name: str,
        frames: list[MoldFrame],
        receivers: dict[str, Receiver],
        starts: dict[str, int],
    ) -> Iterator[Messages]:
        """Join session ``name`` where its held ``frames`` start (the module docstring:
        the first packet's sequence number, moved back by each held packet that reaches
        it), then read the frames in their capture order."""
        start = _start(frames)
        # Pinned and told where to start: adopted on its first packet. A capture is a
        # record, not an open port: a far jump is a gap like any other.
        config = ReceiverConfig(
            session=name, start_sequence=start, stale_after=float("inf"), max_jump=_ANY_JUMP
        )
        rx = receivers[name] = Receiver(config)
        starts[name] = start
        for mf in frames:
            yield from self._feed(rx, start, mf)

    def _feed(self, rx: Receiver, start: int, mf: MoldFrame) -> Iterator[Messages]:
        """Read one packet of a joined session: a copy from before ``start`` is counted,
        a hole older than the window or holding ``max_held`` messages is given up."""
        pkt = mf.packet
        if pkt.messages and pkt.sequence + len(pkt.messages) <= start:
            self.stats.before_start += len(pkt.messages)
            return
        now = mf.timestamp_ns / 1e9
        since = rx.gap_since
        if since is not None and now - since >= self._window:
            yield from self._skip(rx, now)  # the hole expired before this packet came
        refused = rx.stats.after_end_messages
        yield from self._delivered(rx.receive(mf.udp.payload, mf.timestamp_ns, now), mf)
        if rx.stats.after_end_messages != refused and self.stats.first_after_end is None:
            # a capture's session: control characters escaped (it reaches stderr)
            first = max(pkt.sequence, rx.next_sequence)
            self.stats.first_after_end = f"{printable(pkt.session)} {first}"
        if rx.buffered >= self._max_held:
            yield from self._skip(rx, now)

    def _refused(self, mf: MoldFrame, ev: BadPacket) -> None:
        """The receiver refused the packet of ``mf``, which parsed (the codec refuses
        one whose messages run past sequence number 2^64 - 1 first, with the receiver's
        words; this is for any other): it moves from the capture's ``packets`` to its
        ``bad_packets``, a fault like any bad packet.
        Why: otherwise it was dropped without a word (the receiver's event went
        unread). Test: ``test_a_packet_running_past_2_64_is_a_bad_packet_of_the_capture``."""
        cap = self._capture.stats
        cap.packets -= 1
        cap.messages -= len(mf.packet.messages)
        cap.bad_packets += 1
        cap.error("bad_packets", f"frame {cap.frames}: {ev.error}")  # frames: the one read

    def _skip(self, rx: Receiver, now: float) -> Iterator[Messages]:
        """Give up ``rx``'s hole; count it as a gap."""
        self.stats.gaps += 1
        yield from self._delivered(rx.skip_gap(now))

    def _delivered(self, events: list[Event], mf: MoldFrame | None = None) -> Iterator[Messages]:
        for ev in events:
            if isinstance(ev, Messages):
                yield ev
            elif isinstance(ev, BadPacket) and mf is not None:
                self._refused(mf, ev)
            elif isinstance(ev, Conflict):
                st = self.stats
                st.conflicts += ev.count
                if st.first_conflict is None:
                    # a capture's session: control characters escaped (it reaches stderr)
                    st.first_conflict = f"{printable(ev.session)} {ev.sequence}"
