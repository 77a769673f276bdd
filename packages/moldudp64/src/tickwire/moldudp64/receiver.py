"""The sans-I/O MoldUDP64 receiver: in-order, exactly-once delivery with gap recovery.

:class:`Receiver` owns no socket and no clock. Feed it every datagram with
:meth:`Receiver.receive` (bytes, source, now) and call :meth:`Receiver.tick` at
:meth:`Receiver.next_deadline` (or periodically); both return a list of events
(:mod:`tickwire.moldudp64.events`): messages to deliver, requests to send, gaps, session
changes, end of session, stale feed. That makes it usable from asyncio, threads, a
simulation with virtual time, or a pcap replay, and testable under any loss pattern.

How recovery works
------------------
``expected`` is the next sequence number to deliver and ``known_end`` one past the highest
sequence number the receiver knows exists (from data, heartbeats or end of session). Any
packet at ``expected`` (or overlapping it) is delivered at once; a packet beyond it is
buffered, message by message, and the hole ``[expected, known_end)`` is a gap. After
``request_delay`` (a reordering allowance: the hole is often filled by the other line of an
A/B pair a few microseconds later) the receiver requests the missing runs of the first
``max_request * max_outstanding`` sequence numbers, in requests of at most ``max_request``
messages (split to what the server allows). The next batch goes out as soon as that window
is filled; if it is not filled within ``retry_timeout``, the still-missing runs are requested
again, with exponential backoff (``backoff``, capped at ``max_retry_interval``) while no
progress is made, so a throttled or lossy server is not flooded. Whatever the pattern, a
token bucket caps the requests absolutely: at most ``request_burst`` at once and
``request_rate`` a second; a batch the bucket cannot pay for waits for it (counted in
``requests_deferred``). Whichever copy of a message arrives first (line A, line B or a
retransmission) is used; later copies are counted as duplicates and dropped. The buffer of
out-of-order messages holds at most ``max_buffer`` messages and ``max_buffer_bytes`` bytes
of them; what does not fit is dropped (``buffer_dropped``) and requested again later.

Hostile and stray packets
-------------------------
Anyone who can reach the feed port can send a well-formed packet, so no single packet may
move the receiver far. Three rules, one for the session and two for sequence numbers:

* **A session is adopted on two packets, changed on a sustained run.** With
  ``session`` set (pinned) only that session is ever accepted; every other one is refused
  (``other_session_packets``). Otherwise each other session is a *candidate* (at most
  four, the least recently heard forgotten; their packets held, within ``max_buffer_bytes``
  and counted in ``candidate_packets``). The first session, and the next one after the
  current session's end of session was delivered, is adopted when a second, independent
  packet of it arrives. Mid-session, a candidate replaces the current session only when the
  current one has been silent (no packet at all, heartbeats included) for
  ``session_grace`` seconds *and* the candidate sent ``session_change_after`` independent
  packets during that silence: a publisher restart, not a stray packet. The new session
  starts from sequence 1, the held packets are processed in arrival order, and the old
  session is retired (its packets are refused from then on). Only a pinned session with
  an explicit ``start_sequence`` is adopted on its first packet: nothing about it is left
  to guess.
* **A jump beyond ``max_jump`` is suspect until a second packet confirms it.** A packet
  of the current session that claims messages more than ``max_jump`` beyond ``known_end``
  (a data packet's end, a heartbeat's or end of session's next sequence number) is not
  acted on: it is held as the suspect and counted (``suspect_packets``). A second,
  independent packet claiming a position within ``max_jump`` of it, within
  ``stale_after`` seconds, confirms the jump (``jumps_confirmed``): both are processed.
  A real jump (a burst of loss, a join far into the session) is confirmed by the next
  packet, a heartbeat at the latest; a single absurd number never raises ``known_end``, so
  it neither starts a request storm nor holds the receiver in a gap. On a late join the
  same two packets, close to each other, fix the starting point, so one absurd first
  packet cannot make every real packet a duplicate.

* **No message beyond 2^64 - 1.** The Sequence Number field is 8 bytes, so a packet
  whose messages would run past 2^64 - 1 (sequence number + count over 2^64) is
  malformed: it is refused as a bad packet (``bad_packets``, a
  :class:`~tickwire.moldudp64.events.BadPacket` with
  :class:`~tickwire.moldudp64.errors.SequenceOverflow`) before it can count for a
  candidate session, a jump or delivery, wherever it arrives: first packet of a late
  join, in order, beyond a hole, or as a retransmission filling a gap. Why: on a late
  join near 2^64 such a packet was delivered, and sequence numbers past 2^64 - 1 (which
  no later packet can name) reached the application. Test:
  ``test_a_packet_running_past_2_64_is_refused_wherever_it_arrives``
  (``test_moldudp64_receiver.py``).

*Independent* means another datagram: a byte-identical copy within ``copy_window`` seconds
(the B line, a duplicate in the network) does not count; a heartbeat repeated a second
later does.

End of session
--------------
One packet cannot end the session. Rule: an end of session at or above the delivered
position is only a *claim* until a second, independent end-of-session packet claims the
same sequence number; then it is confirmed, and reported (:class:`EndOfSession`, then
``ended``) once everything before it is delivered. Data delivered at or beyond a claim,
confirmed or not, proves it stale: it is dropped and counted (``stale_end_of_session``)
and delivery goes on with ``ended`` false; so do messages held beyond a confirmed end
when everything before it is delivered (they are delivered once the hole before them
fills). An end below what was already delivered is
stale at once. The latest confirmed end at or above the delivered position counts. Once
the session ended, data beyond its end is refused and counted (``after_end_of_session``):
no message is ever delivered after :class:`EndOfSession`; so is a heartbeat or end of
session claiming messages beyond it. Why: the publisher repeats its end of session every
heartbeat interval (MoldUDP64: a receiver that lost it still learns the end), so the real
end is confirmed about a second later, while one forged end of session at the delivered
position used to end a pinned session at once (the live engine then shut down) and the
real messages after it were still delivered, with ``ended`` true; and one heartbeat
beyond the end, after it, opened a gap the receiver reported and requested for ever, every
answer refused (``test_a_heartbeat_beyond_the_end_after_it_requests_nothing``). At most ``_MAX_END_CLAIMS`` claims are held (the lowest is dropped). Tests:
``test_moldudp64_receiver_end.py``.

Copies that differ
------------------
UDP carries no signature: a well-formed packet of the real session, with the right
sequence numbers and made-up messages, that arrives before the real one is delivered (the
first copy wins) and the real one is dropped as a duplicate. Neither rule above can tell,
but the copies can: the two lines of an A/B feed and a retransmission carry the same
bytes, so a copy that differs from what was delivered means one of them lies. Every
duplicate is compared:

* a copy of a message still buffered (beyond a hole) with the buffered bytes;
* a copy of a delivered message with the delivered one: the receiver keeps what it
  delivered for the last ``verify_window`` sequence numbers, in a ring indexed by the
  sequence number (8 bytes a number: 1 MiB for the default 131,072; it starts at 1,024
  slots and doubles as messages are delivered, so a session of a few messages costs
  8 KiB: a capture reader runs a receiver per session). A run of messages
  of at most 62 bytes on average (ITCH's are 12 to 50) is kept as itself, a reference
  each, so keeping costs a pointer copy and comparing an A/B copy is one comparison of two
  runs of bytes; the messages stay alive that much longer (some 10 MiB). A run of
  larger messages is kept as one 64-bit digest each, Python's ``hash`` of the bytes
  (SipHash keyed at random per process, so a sender cannot make a different message with
  the digest of one it has not seen): the ring's bytes stay bounded (under 14 MiB) for
  any feed. (A digest of every message, the first design, ran the receiver in order at
  0.60 of its speed without comparing, and A/B at 0.69; kept messages run it at 0.74
  and 0.90: bench/RESULTS.md, MoldUDP64.)

A difference is reported (:class:`~tickwire.moldudp64.events.Conflict`, ``stats.conflicts``
counts the messages) and nothing else changes: the delivered copy stands, as the
receiver cannot know which copy is the real one; the application decides (the live engine
trips its kill switch). Not covered: a copy more than ``verify_window`` sequence numbers
behind the delivered position, of a number given up (:meth:`Receiver.skip_gap`) or from
before the session's start (counted in ``unchecked_duplicates``; the window is sized for
A/B skew and retransmissions, which trail the delivered position by far less); and a
forged packet whose real copies are both lost, with nothing to compare it to.

Log lines name a session as a Python literal (``%r``): a session is ten ASCII bytes from
the network, control characters included, and ``ESC [ 2 J`` written raw to the live
engine's stderr cleared the operator's terminal (test:
``test_moldudp64_receiver.py::test_a_session_name_is_logged_escaped``).
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass, field
from heapq import heapify, heappop, heappush

from .codec import (
    END_OF_SESSION_COUNT,
    HEADER_SIZE,
    RequestPacket,
    _as_bytes,
    check_sequence_range,
    encode_session,
    parse_downstream,
    split_blocks,
)
from .errors import MoldError, SequenceOverflow, TrailingBytes, TruncatedPacket
from .events import (
    Address,
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

__all__ = ["Receiver", "ReceiverConfig", "ReceiverStats"]

log = logging.getLogger("tickwire.moldudp64.receiver")

_seq_count = struct.Struct(">QH").unpack_from

#: Candidate sessions tracked at once (the least recently heard is forgotten beyond this).
_MAX_CANDIDATES = 4
#: Packets held per candidate session (bytes are bounded by ``max_buffer_bytes``).
_MAX_HELD = 100_000
#: Datagrams remembered per candidate run to tell copies from independent packets.
_MAX_SEEN = 64
#: Runs of delivered messages whose blocks (2-byte length and message) are up to this
#: long on average are kept as themselves to compare copies with; longer ones as digests
#: (the ring's memory stays bounded).
_KEEP_BYTES = 64
#: The ring of delivered messages starts this small and doubles up to ``verify_window``
#: as messages are delivered (``Receiver._grow``).
_FIRST_RING = 1024
#: One past the largest sequence number: the field is 8 bytes.
_SEQ_LIMIT = 1 << 64
#: Unconfirmed end-of-session claims held at once (the lowest is dropped beyond this).
_MAX_END_CLAIMS = 8


@dataclass(frozen=True, slots=True)
class ReceiverConfig:
    """How a :class:`Receiver` joins, recovers and times out. Times are in seconds."""

    #: Pin this session: only it is accepted, the receiver never changes session (None:
    #: adopt the first session confirmed by two packets, then follow publisher restarts).
    session: str | None = None
    #: First sequence number wanted: None joins at the first packets seen (late join:
    #: messages before them are not wanted); 1 recovers the whole session from its start.
    start_sequence: int | None = None
    #: Where request packets go (None: no recovery, gaps wait for the other line).
    request_server: Address = None
    #: Largest Requested Message Count the server allows; bigger holes are split. At
    #: most 65,535 (the field is 2 bytes).
    max_request: int = 1000
    #: How many requests may be in flight at once.
    max_outstanding: int = 8
    #: Wait this long after a gap appears before requesting it (reordering allowance).
    request_delay: float = 0.002
    #: Re-request what is still missing after this long without the answer.
    retry_timeout: float = 0.05
    #: Multiply the retry interval by this after each retry that brought nothing.
    backoff: float = 2.0
    #: Upper bound of the retry interval.
    max_retry_interval: float = 2.0
    #: Absolute cap on request packets: this many a second (token bucket refill) ...
    request_rate: float = 200.0
    #: ... and at most this many at once (the bucket's size). The defaults match the
    #: per-address limit of :class:`~tickwire.moldudp64.publisher.ServerConfig`.
    request_burst: float = 50.0
    #: Report :class:`StaleFeed` after this long without any packet (heartbeats are 1 s).
    stale_after: float = 3.0
    #: A new session replaces the current one (not ended) only after the current one has
    #: been silent this long ...
    session_grace: float = 5.0
    #: ... and the new one sent this many independent packets during that silence.
    session_change_after: int = 3
    #: A packet claiming messages more than this beyond the highest known sequence number
    #: is suspect until a second, independent packet confirms the jump.
    max_jump: int = 100_000
    #: Byte-identical datagrams this close in time are one packet (the B line, a duplicate
    #: in the network), not two independent ones.
    copy_window: float = 0.25
    #: Most out-of-order messages kept; beyond it they are dropped and re-requested later.
    max_buffer: int = 1_000_000
    #: Most bytes of out-of-order messages kept (and, separately, of packets held for
    #: candidate sessions); beyond it they are dropped and re-requested later.
    max_buffer_bytes: int = 64 << 20
    #: Keep this many of the last delivered messages, to compare their later copies with
    #: (a :class:`~tickwire.moldudp64.events.Conflict` when one differs): 8 bytes each,
    #: and the message held (a digest for runs of long messages: "Copies that differ").
    #: 0: copies of delivered messages are not compared.
    verify_window: int = 1 << 17


@dataclass(slots=True)
class ReceiverStats:
    """What a :class:`Receiver` saw, delivered, requested and refused."""

    packets: int = 0
    messages: int = 0
    duplicate_messages: int = 0
    out_of_order_packets: int = 0
    heartbeats: int = 0
    bad_packets: int = 0
    #: Packets of a session refused outright: not the pinned one, retired, or over the
    #: candidate limit.
    other_session_packets: int = 0
    #: Packets of a session not (yet) adopted, held as a candidate for a session change.
    candidate_packets: int = 0
    gaps: int = 0
    requests_sent: int = 0
    messages_requested: int = 0
    retries: int = 0
    #: Batches of requests the rate cap held back (a wait for tokens, or a batch cut short).
    requests_deferred: int = 0
    session_changes: int = 0
    #: Packets claiming a jump beyond ``max_jump`` (not acted on unless confirmed).
    suspect_packets: int = 0
    #: Suspect jumps a second, independent packet confirmed.
    jumps_confirmed: int = 0
    #: End-of-session packets ignored: below what was delivered, or contradicted by data
    #: (delivered beyond them, or held beyond a confirmed end).
    stale_end_of_session: int = 0
    #: Packets of the ended session claiming messages beyond its end (data, heartbeat or
    #: end of session): refused (nothing is delivered, and no gap opened or requested,
    #: after :class:`~tickwire.moldudp64.events.EndOfSession`).
    after_end_of_session: int = 0
    #: Of them, the messages beyond the end that data packets carried (not delivered; a
    #: capture reader's fault: ``SequenceStats.after_end``).
    after_end_messages: int = 0
    #: Out-of-order messages not buffered (``max_buffer`` / ``max_buffer_bytes``); they
    #: are requested again.
    buffer_dropped: int = 0
    #: Packets of candidate sessions not held (over the bound); requested after a change.
    held_dropped: int = 0
    #: Messages given up by :meth:`Receiver.skip_gap` (never delivered).
    skipped_messages: int = 0
    #: Copies of messages that differ from the copy delivered (or buffered) for the same
    #: sequence number (each reported in a :class:`~tickwire.moldudp64.events.Conflict`).
    conflicts: int = 0
    #: Duplicates not compared: beyond ``verify_window``, given up, or before the start.
    unchecked_duplicates: int = 0


@dataclass(slots=True)
class _Candidate:
    """A session not (yet) adopted, its run of independent packets and its held packets."""

    session: bytes
    name: str
    claim: int  # the position the run's first packet claimed
    first_seq: int  # lowest sequence number of the run (a late join starts there)
    mark: float  # Receiver._cur_rx when the run began: a later packet of the current
    # session (a new _cur_rx) restarts the run
    last: float  # arrival of its last packet
    run: int = 0
    seen: dict[int, float] = field(default_factory=dict)  # hash(datagram) -> arrival
    packets: list[tuple[bytes, Address, float]] = field(default_factory=list)
    nbytes: int = 0


@dataclass(slots=True)
class _Suspect:
    """A packet of the current session claiming an implausible jump."""

    claim: int
    digest: int
    at: float
    data: bytes
    source: Address


def _claim(seq: int, count: int) -> int:
    """One past the last sequence number a packet says exists."""
    return seq if count == 0 or count == END_OF_SESSION_COUNT else seq + count


class Receiver:
    """Sans-I/O MoldUDP64 receiver (see the module docstring for the recovery rules)."""

    def __init__(self, config: ReceiverConfig | None = None) -> None:
        self.config = cfg = config or ReceiverConfig()
        if cfg.max_request < 1 or cfg.max_outstanding < 1:
            raise ValueError("max_request and max_outstanding must be at least 1")
        if cfg.max_request > 0xFFFF:
            # Requested Message Count is 2 bytes: a bigger request cannot be built (test:
            # test_a_max_request_the_count_field_cannot_hold_is_refused_at_once).
            raise ValueError(
                f"max_request {cfg.max_request} does not fit the 2-byte Requested Message"
                " Count (at most 65535)"
            )
        if cfg.request_rate <= 0 or cfg.request_burst < 1:
            raise ValueError("request_rate must be positive and request_burst at least 1")
        if cfg.max_jump < 1 or cfg.session_change_after < 1:
            raise ValueError("max_jump and session_change_after must be at least 1")
        if cfg.max_buffer < 0 or cfg.max_buffer_bytes < 0 or cfg.verify_window < 0:
            raise ValueError("max_buffer, max_buffer_bytes and verify_window must not be negative")
        self.stats = ReceiverStats()
        self._fixed = encode_session(cfg.session) if cfg.session is not None else None
        self._session_raw: bytes | None = None
        self._session = ""
        self._retired: set[bytes] = set()
        self._expected = 0  # valid once a session is established
        self._known_end = 0
        self._max_jump = cfg.max_jump
        self._buffer: dict[int, bytes] = {}
        self._buffer_bytes = 0
        # a heap of sequence numbers s, each the start of a run s .. t of buffered messages
        # when pushed, so that every buffered number is at or after the start of a run it
        # is in: the lowest start still buffered is the lowest buffered number
        # (skip_gap's; _store, _first_buffered)
        self._runs: list[int] = []
        self._eos: int | None = None  # the confirmed end of session
        # unconfirmed end-of-session claims: sequence -> (hash of the packet, arrival)
        self._eos_claims: dict[int, tuple[int, float]] = {}
        self._eos_reported = False
        self._last_rx: float | None = None
        self._cur_rx = 0.0  # last packet of the current session
        self._stale = False
        self._candidates: dict[bytes, _Candidate] = {}
        self._held_bytes = 0
        self._suspect: _Suspect | None = None
        # the last _window delivered messages (or their digests), slot seq % _window
        # (None: not delivered), valid for seq in [max(_verified_from, _expected -
        # _window), _expected); _window doubles from _FIRST_RING up to verify_window as
        # messages are delivered (_grow)
        self._max_window = cfg.verify_window
        self._window = min(cfg.verify_window, _FIRST_RING)
        self._delivered: list[bytes | int | None] = [None] * self._window
        self._verified_from = 0
        # recovery state
        self._gap_since: float | None = None
        self._req_hi = 0
        self._retry_at = 0.0
        self._attempts = 0
        self._mark = 0
        self._tokens = float(cfg.request_burst)
        self._tokens_at = float("-inf")
        self._deferred = False

    # --- public state ---------------------------------------------------------------------

    @property
    def session(self) -> str | None:
        """The current session (None before one is adopted)."""
        return self._session if self._session_raw is not None else None

    @property
    def next_sequence(self) -> int:
        """The next sequence number to deliver (0 before a session is adopted)."""
        return self._expected

    @property
    def known_end(self) -> int:
        """One past the highest sequence number known to exist."""
        return self._known_end

    @property
    def in_gap(self) -> bool:
        return self._session_raw is not None and self._expected < self._known_end

    @property
    def ended(self) -> bool:
        """True once end of session was seen and everything before it delivered."""
        return self._eos_reported

    @property
    def buffered(self) -> int:
        """Messages held beyond the hole at ``next_sequence``, waiting for it to fill."""
        return len(self._buffer)

    @property
    def gap_since(self) -> float | None:
        """When the hole at ``next_sequence`` appeared (None: no hole)."""
        return self._gap_since if self.in_gap else None

    @property
    def buffered_bytes(self) -> int:
        """Bytes of out-of-order messages held (at most ``max_buffer_bytes``)."""
        return self._buffer_bytes

    def next_deadline(self) -> float | None:
        """When :meth:`tick` has something to do next (None: only a packet can change that)."""
        cfg = self.config
        times: list[float] = []
        if self._last_rx is not None and not self._stale:
            times.append(self._last_rx + cfg.stale_after)
        if self._candidates and self._session_raw is not None and not self._eos_reported:
            n = cfg.session_change_after
            cur = self._cur_rx
            if any(c.run >= n and c.mark == cur for c in self._candidates.values()):
                times.append(cur + cfg.session_grace)
        if self.in_gap and cfg.request_server is not None and self._gap_since is not None:
            t = self._gap_since + cfg.request_delay
            if self._expected < self._req_hi:
                t = max(t, self._retry_at)
            if self._tokens < 1:
                t = max(t, self._tokens_at + (1 - self._tokens) / cfg.request_rate)
            times.append(t)
        return min(times) if times else None

    # --- input ----------------------------------------------------------------------------

    def receive(
        self, data: bytes | bytearray | memoryview, source: Address, now: float
    ) -> list[Event]:
        """Process one datagram from ``source`` received at ``now``; return the events.

        ``data`` is any bytes-like object, as the codec's parsers take: anything but
        ``bytes`` is copied to ``bytes`` once, here (``codec._as_bytes``), so every message
        delivered is ``bytes`` of its own. Why: the receiver hashes datagrams to tell
        copies apart, so a ``bytearray`` (or a view of one: ``recv_into``'s buffer) raised
        ``TypeError`` or ``ValueError``, and a view of ``bytes`` was sliced into
        ``memoryview`` messages, delivered and kept as such. Test:
        ``test_moldudp64_receiver.py::test_any_bytes_like_datagram_is_copied_once``.
        """
        raw = data if type(data) is bytes else _as_bytes(data)
        self.stats.packets += 1
        events: list[Event] = []
        if self._stale:
            self._stale = False
            events.append(FeedResumed(now - (self._last_rx or now)))
        self._last_rx = now
        self._process(raw, source, now, events)
        return events

    def _process(
        self, data: bytes, source: Address, now: float, events: list[Event]
    ) -> list[Event]:
        if len(data) < HEADER_SIZE:
            return self._bad(
                events,
                source,
                TruncatedPacket(f"a MoldUDP64 header is 20 bytes, got {len(data)}", offset=0),
            )
        seq, count = _seq_count(data, 10)
        if seq + count > _SEQ_LIMIT and count != END_OF_SESSION_COUNT:
            # Before anything else (a candidate's run, the jump rule, delivery): see
            # "Hostile and stray packets" in the module docstring. The codec's rule and
            # words (check_sequence_range).
            try:
                check_sequence_range(seq, count)
            except SequenceOverflow as exc:
                return self._bad(events, source, exc)
        session = data[:10]
        if session != self._session_raw and not self._on_other_session(
            session, data, source, now, events
        ):
            return events
        if count == END_OF_SESSION_COUNT or count == 0:
            if len(data) != HEADER_SIZE:
                return self._bad(
                    events,
                    source,
                    TrailingBytes(
                        f"{len(data) - HEADER_SIZE} bytes follow a header with count {count}",
                        offset=20,
                    ),
                )
            self._cur_rx = now
            if self._eos_reported and seq > self._expected:
                # The session ended: a claim of messages beyond its end opens no gap (and
                # no request) after EndOfSession, as data beyond it is refused.
                self.stats.after_end_of_session += 1
                return events
            if seq > self._known_end + self._max_jump:
                return self._on_jump(seq, data, source, now, events)
            self.stats.heartbeats += 1
            if count:
                self._on_end(seq, data, source, now)
            if seq > self._known_end:
                self._known_end = seq
        else:
            try:
                msgs = split_blocks(data, count)
            except MoldError as exc:
                return self._bad(events, source, exc)
            self._cur_rx = now
            end = seq + count
            expected = self._expected
            if self._eos_reported and end > expected:
                # The session ended: nothing is delivered (or buffered, or requested) after
                # EndOfSession.
                self.stats.after_end_of_session += 1
                self.stats.after_end_messages += end - max(seq, expected)
                return events
            if end <= expected:
                self.stats.duplicate_messages += count
                self._verify(seq, msgs, source, events)
            elif seq <= expected:
                if seq < expected:
                    self.stats.duplicate_messages += expected - seq
                    self._verify(seq, msgs[: expected - seq], source, events)
                    msgs = msgs[expected - seq :]
                self._expected = end
                if end > self._known_end:
                    self._known_end = end
                size = len(data) - HEADER_SIZE  # at least the bytes of msgs' blocks
                if self._buffer:
                    msgs.extend(self._drain(expected, end, msgs, source, events))
                    size = -1
                if self._window:
                    self._remember(expected, msgs, size)
                self.stats.messages += len(msgs)
                events.append(Messages(self._session, expected, msgs))
            elif end > self._known_end + self._max_jump:
                return self._on_jump(end, data, source, now, events)
            else:
                self.stats.out_of_order_packets += 1
                self._store(seq, msgs, source, events)
                if end > self._known_end:
                    self._known_end = end
        if self._expected < self._known_end:
            self._on_gap(now, events)
        elif self._gap_since is not None:
            self._gap_since = None
        if self._eos is not None or self._eos_claims:
            self._check_end(now, events)
        return events

    def _on_end(self, seq: int, data: bytes, source: Address, now: float) -> None:
        """An end-of-session packet at ``seq``: stale below the delivered position, else a
        claim, confirmed by a second, independent packet claiming the same end (the module
        docstring, "End of session")."""
        if self._eos_reported:
            return  # the publisher's repeats after the end
        if seq < self._expected:
            self.stats.stale_end_of_session += 1
            log.debug("stale end of session %d from %s: %d delivered", seq, source,
                      self._expected)  # fmt: skip
            return
        if seq == self._eos:
            return  # already confirmed
        claims = self._eos_claims
        digest = hash(data)
        claim = claims.get(seq)
        if claim is None:
            if len(claims) >= _MAX_END_CLAIMS:
                del claims[min(claims)]
            claims[seq] = (digest, now)
            log.debug("end of session %d from %s: waiting for a second packet", seq, source)
        elif not (claim[0] == digest and now - claim[1] < self.config.copy_window):
            del claims[seq]
            self._eos = seq  # the latest confirmed end counts
        # else a copy (the B line): no new evidence

    def _check_end(self, now: float, events: list[Event]) -> None:
        """The one place an end of session is dropped as stale or reported: data delivered
        at or beyond an end (claimed or confirmed) proves it stale, and so do messages
        held beyond a confirmed end once everything before it is delivered; else it is
        reported then, and the gap a heartbeat beyond it opened is closed.

        Why the held messages: an end confirmed at a hole, with messages held beyond it,
        was reported with them still held and the gap open, so the receiver went on
        requesting it after :class:`EndOfSession` and ``skip_gap`` (a capture reader's)
        delivered them after it. Test:
        ``test_moldudp64_receiver_end.py::test_messages_held_beyond_an_end_prove_it_stale``."""
        expected = self._expected
        claims = self._eos_claims
        if claims:
            for seq in [s for s in claims if s < expected]:
                del claims[seq]  # messages at and beyond it were delivered
                self.stats.stale_end_of_session += 1
        eos = self._eos
        if eos is not None and not self._eos_reported and expected >= eos:
            if expected > eos or self._buffer:
                # Messages beyond it were delivered, or are held: that was no end of session.
                self._eos = None
                self.stats.stale_end_of_session += 1
            else:
                self._eos_reported = True
                claims.clear()
                self._known_end = eos  # nothing is requested after the end
                self._gap_since = None
                events.append(EndOfSession(self._session, eos))
                if self._candidates:
                    self._adopt_ready(now, events)

    def skip_gap(self, now: float) -> list[Event]:
        """Give up the hole at ``next_sequence``: what a reader without recovery does.

        The missing sequence numbers up to the first buffered message (or up to
        ``known_end`` when nothing is buffered) are counted in ``stats.skipped_messages``
        and never delivered; the buffered run after them is delivered at once. A further
        hole behind that run is a new gap (a new :class:`GapDetected`, timed from ``now``).
        Returns the events; nothing happens when there is no hole.
        """
        events: list[Event] = []
        if not self.in_gap:
            return events
        buf = self._buffer
        target = self._first_buffered() if buf else self._known_end
        self._forget_delivered(self._expected, target)
        self.stats.skipped_messages += target - self._expected
        self._expected = target
        self._gap_since = None
        msgs = self._drain(target, target, [], None, events) if buf else []
        if msgs:
            if self._window:
                self._remember(target, msgs)
            self.stats.messages += len(msgs)
            events.append(Messages(self._session, target, msgs))
        if self._expected < self._known_end:
            self._on_gap(now, events)
        if self._eos is not None or self._eos_claims:
            self._check_end(now, events)
        return events

    def tick(self, now: float) -> list[Event]:
        """Timers: retries, stale feed, session change. Call at :meth:`next_deadline`."""
        events: list[Event] = []
        if (
            self._last_rx is not None
            and not self._stale
            and now >= self._last_rx + self.config.stale_after
        ):
            self._stale = True
            events.append(StaleFeed(now - self._last_rx))
        if self._candidates:
            self._prune(now)
            self._adopt_ready(now, events)
        if self.in_gap:
            self._on_gap(now, events)
        return events

    # --- internals: bad packets, sessions -------------------------------------------------

    def _bad(self, events: list[Event], source: Address, exc: MoldError) -> list[Event]:
        self.stats.bad_packets += 1
        log.debug("bad packet from %s: %s", source, exc)
        events.append(BadPacket(source, exc))
        return events

    def _on_other_session(
        self, session: bytes, data: bytes, source: Address, now: float, events: list[Event]
    ) -> bool:
        """A packet whose session is not the current one. True: process it now."""
        try:
            # A bad packet must not start (or switch) a session: check it whole first.
            name = parse_downstream(data).session
        except MoldError as exc:
            self._bad(events, source, exc)
            return False
        fixed = self._fixed
        if (fixed is not None and session != fixed) or session in self._retired:
            self.stats.other_session_packets += 1
            return False
        start = self.config.start_sequence
        if self._session_raw is None and fixed is not None and start is not None:
            # Session and start both configured: nothing to confirm. The jump rule still
            # guards the position.
            self._establish(session, name, start, now, events)
            return True
        self._candidate(session, name, data, source, now, events)
        return False

    def _candidate(
        self,
        session: bytes,
        name: str,
        data: bytes,
        source: Address,
        now: float,
        events: list[Event],
    ) -> None:
        """Count a packet of a session not adopted into its candidate's run; adopt it when
        the run is long enough (see the module docstring)."""
        cfg = self.config
        cands = self._candidates
        self.stats.candidate_packets += 1
        seq, count = _seq_count(data, 10)
        claim = _claim(seq, count)
        cand = cands.get(session)
        if cand is None:
            if len(cands) >= _MAX_CANDIDATES:
                self._forget(min(cands.values(), key=lambda c: c.last))
            cand = cands[session] = _Candidate(session, name, claim, seq, self._cur_rx, now)
        current = self._session_raw is not None and not self._eos_reported
        if (current and cand.mark != self._cur_rx) or abs(claim - cand.claim) > cfg.max_jump:
            # The current session spoke since the run began, or this packet is far from
            # the run's position: the run starts again here (held packets are kept).
            cand.run = 0
            cand.seen.clear()
            cand.claim = claim
            cand.first_seq = seq
            cand.mark = self._cur_rx
        cand.last = now
        digest = hash(data)
        at = cand.seen.get(digest)
        if at is not None and now - at < cfg.copy_window:
            return  # a copy of a packet of the run: no new evidence, already held
        if len(cand.seen) < _MAX_SEEN:
            cand.seen[digest] = now
        cand.run += 1
        if seq < cand.first_seq:
            cand.first_seq = seq
        extra: tuple[bytes, Address, float] | None = None
        if (
            len(cand.packets) < _MAX_HELD
            and self._held_bytes + len(data) <= self.config.max_buffer_bytes
        ):
            cand.packets.append((data, source, now))
            cand.nbytes += len(data)
            self._held_bytes += len(data)
        else:
            self.stats.held_dropped += 1
            extra = (data, source, now)
        if self._ready(cand, now):
            self._adopt(cand, now, events, extra)

    def _ready(self, cand: _Candidate, now: float) -> bool:
        if self._session_raw is None or self._eos_reported:
            return cand.run >= 2
        return (
            cand.mark == self._cur_rx
            and cand.run >= self.config.session_change_after
            and now - self._cur_rx >= self.config.session_grace
        )

    def _adopt_ready(self, now: float, events: list[Event]) -> None:
        ready = [c for c in self._candidates.values() if self._ready(c, now)]
        if ready:
            self._adopt(max(ready, key=lambda c: c.run), now, events, None)

    def _forget(self, cand: _Candidate) -> None:
        del self._candidates[cand.session]
        self._held_bytes -= cand.nbytes

    def _prune(self, now: float) -> None:
        """Forget candidates not heard from for two ``session_grace``."""
        limit = 2 * self.config.session_grace
        for c in [c for c in self._candidates.values() if now - c.last > limit]:
            self._forget(c)

    def _adopt(
        self,
        cand: _Candidate,
        now: float,
        events: list[Event],
        extra: tuple[bytes, Address, float] | None,
    ) -> None:
        """Make ``cand`` the current session and process its held packets (and ``extra``,
        the packet that could not be held)."""
        self._candidates.clear()
        self._held_bytes = 0
        if self._session_raw is None:
            start = self.config.start_sequence
            self._establish(
                cand.session, cand.name, cand.first_seq if start is None else start, now, events
            )
        else:
            self._switch(cand, now, events)
        for data, source, _at in cand.packets if extra is None else [*cand.packets, extra]:
            self._process(data, source, now, events)

    def _establish(
        self, session: bytes, name: str, start: int, now: float, events: list[Event]
    ) -> None:
        self._session_raw = session
        self._session = name
        self._expected = start
        self._known_end = start
        self._verified_from = start
        self._cur_rx = now
        events.append(SessionChanged(None, name, start))

    def _switch(self, cand: _Candidate, now: float, events: list[Event]) -> None:
        """Retire the current session and start ``cand``'s from sequence 1."""
        abandoned = max(
            0, (self._eos if self._eos is not None else self._known_end) - self._expected
        )
        old = self._session
        if self._session_raw is not None:
            self._retired.add(self._session_raw)
        self.stats.session_changes += 1
        self._session_raw = cand.session
        self._session = cand.name
        self._expected = 1
        self._known_end = 1
        self._verified_from = 1  # the old session's messages are not this one's
        self._cur_rx = now
        self._buffer.clear()
        self._buffer_bytes = 0
        self._runs.clear()
        self._eos = None
        self._eos_claims.clear()
        self._eos_reported = False
        self._suspect = None
        self._gap_since = None
        self._req_hi = 0
        self._attempts = 0
        if abandoned:
            log.warning("session %r abandoned with %d messages undelivered", old, abandoned)
        events.append(SessionChanged(old, self._session, 1, abandoned))

    # --- internals: sequence numbers ------------------------------------------------------

    def _on_jump(
        self, claim: int, data: bytes, source: Address, now: float, events: list[Event]
    ) -> list[Event]:
        """A packet of the current session claiming messages up to ``claim``, more than
        ``max_jump`` beyond ``known_end``: hold it as the suspect, or, when it confirms the
        suspect held, accept the jump and process both."""
        cfg = self.config
        digest = hash(data)
        s = self._suspect
        if (
            s is not None
            and now - s.at < cfg.stale_after
            and abs(claim - s.claim) <= cfg.max_jump
            and not (digest == s.digest and now - s.at < cfg.copy_window)
        ):
            self._suspect = None
            self.stats.jumps_confirmed += 1
            log.info(
                "session %r: sequence jump from %d to %d confirmed",
                self._session,
                self._known_end,
                min(claim, s.claim),
            )
            # Both claims are now within max_jump of known_end: processed as usual.
            self._known_end = max(self._known_end, min(claim, s.claim))
            self._process(s.data, s.source, now, events)
            return self._process(data, source, now, events)
        self.stats.suspect_packets += 1
        log.debug(
            "session %r: packet from %s claims sequence %d, %d beyond the known end: suspect",
            self._session,
            source,
            claim,
            claim - self._known_end,
        )
        if s is None or not (digest == s.digest and now - s.at < cfg.copy_window):
            self._suspect = _Suspect(claim, digest, now, data, source)
        return events

    # --- internals: copies that differ -----------------------------------------------------

    def _remember(self, first: int, msgs: list[bytes], size: int = -1) -> None:
        """Keep ``msgs``, delivered from sequence number ``first`` on; their digests when
        their blocks (message and length) are over ``_KEEP_BYTES`` long on average.
        ``size``: a bound of those bytes known to the caller (the packet's), -1 if none."""
        w = self._window
        n = len(msgs)
        if w < self._max_window and first + n - self._verified_from > w:
            w = self._grow(first, first + n)
        if n > w:
            msgs = msgs[n - w :]
            first += n - w
            n = w
        kept: list[bytes] | list[int] = msgs
        if size < 0:
            size = sum(map(len, msgs)) + 2 * n
        if size > _KEEP_BYTES * n:
            kept = list(map(hash, msgs))
        i = first % w
        j = i + n
        ring = self._delivered
        if j <= w:  # the ring's slots as one run (a slice: pointer copies in C)
            ring[i:j] = kept
        else:
            k = w - i
            ring[i:] = kept[:k]
            ring[: j - w] = kept[k:]

    def _grow(self, first: int, end: int) -> int:
        """Double the ring until it holds the messages from ``_verified_from`` to ``end``
        (at most ``verify_window``), keeping what it holds (delivered below ``first``);
        return its new size. Why grown, not allocated whole: a ring of 131,072 slots is 1
        MiB however little is delivered, and a capture reader runs a receiver per session,
        so a capture of 1,500 one-packet sessions took 1.5 GB (hostile-input round 4).
        Test: ``test_moldudp64_receiver.py``."""
        old, w = self._delivered, self._window
        size = w
        while size < end - self._verified_from and size < self._max_window:
            size *= 2
        size = min(size, self._max_window)
        ring: list[bytes | int | None] = [None] * size
        seq = max(self._verified_from, first - w)
        while seq < first:  # in runs that wrap neither ring: slices, pointer copies in C
            i, j = seq % w, seq % size
            k = min(first - seq, w - i, size - j)
            ring[j : j + k] = old[i : i + k]
            seq += k
        self._delivered, self._window = ring, size
        return size

    def _forget_delivered(self, lo: int, hi: int) -> None:
        """Sequence numbers ``lo`` .. ``hi - 1`` are given up: no message stands for them."""
        w = self._window
        if not w or hi <= lo:
            return
        if hi - lo >= w:
            self._verified_from = hi  # the whole ring is older than the hole
            return
        ring = self._delivered
        for s in range(lo, hi):
            ring[s % w] = None

    def _verify(self, first: int, msgs: list[bytes], source: Address, events: list[Event]) -> None:
        """Compare copies of delivered messages (``first`` .. below ``_expected``) with
        the delivered ones; report the ones that differ."""
        w = self._window
        lo = max(self._verified_from, self._expected - w)
        ring = self._delivered
        i = first % w if w else 0
        n = len(msgs)
        if first >= lo and i + n <= w and ring[i : i + n] == msgs:
            return  # the usual case, a copy that agrees: one comparison of two runs
        bad = 0
        at = 0
        unchecked = 0
        for k, m in enumerate(msgs):
            s = first + k
            if s < lo or (kept := ring[s % w]) is None:
                unchecked += 1
            elif kept != m if kept.__class__ is bytes else kept != hash(m):
                if not bad:
                    at = s
                bad += 1
        self.stats.unchecked_duplicates += unchecked
        if bad:
            self._conflict(at, bad, source, events)

    def _conflict(self, first: int, count: int, source: Address, events: list[Event]) -> None:
        self.stats.conflicts += count
        log.debug(
            "session %r: %d messages from %s (sequence %d first) differ from the copy "
            "already received: a forged packet, or this one is",
            self._session,
            count,
            source,
            first,
        )
        events.append(Conflict(self._session, first, count, source))

    # --- internals: the out-of-order buffer ------------------------------------------------

    def _store(self, seq: int, msgs: list[bytes], source: Address, events: list[Event]) -> None:
        cfg = self.config
        buf = self._buffer
        room = cfg.max_buffer - len(buf)
        nbytes = self._buffer_bytes
        cap = cfg.max_buffer_bytes
        bad = 0
        at = 0
        runs = self._runs
        run = False  # the message before this one is buffered: a run goes on
        for i, m in enumerate(msgs):
            s = seq + i
            held = buf.get(s)
            if held is not None:
                self.stats.duplicate_messages += 1
                if held != m:
                    if not bad:
                        at = s
                    bad += 1
            elif room > 0 and nbytes + len(m) <= cap:
                buf[s] = m
                room -= 1
                nbytes += len(m)
            else:
                self.stats.buffer_dropped += 1
                run = False
                continue
            if not run:
                heappush(runs, s)
                run = True
        self._buffer_bytes = nbytes
        if len(runs) > 2 * len(buf) + 1024:
            # Starts of runs delivered since are stale: keep the bound (amortised O(1)).
            self._runs = runs = [s for s in buf if s - 1 not in buf]
            heapify(runs)
        if bad:
            self._conflict(at, bad, source, events)

    def _first_buffered(self) -> int:
        """The lowest buffered sequence number (the buffer is not empty).

        Why a heap of the runs' starts, not ``min(self._buffer)``: :meth:`skip_gap` is
        called at every hole given up, and a capture of a line losing every other packet
        read with 100,000 messages held scanned all of them at each hole (quadratic: 40,000
        packets took 14 s). Invariant: each buffered number is in a run of buffered numbers
        from a start on the heap (``_store`` pushes the start of each run it buffers; a
        drain takes a run from its start on, contiguously, so it never leaves the tail of
        a run without its start). Test:
        ``test_moldudp64_receiver.py::test_giving_up_many_holes_costs_no_scan_of_the_buffer``.
        """
        runs, buf = self._runs, self._buffer
        while runs[0] not in buf:  # a start delivered (or dropped) since: stale
            heappop(runs)
        return runs[0]

    def _drain(
        self,
        old_expected: int,
        end: int,
        delivered: list[bytes],
        source: Address,
        events: list[Event],
    ) -> list[bytes]:
        """Take buffered messages from ``end`` on; forget buffered copies below ``end``,
        comparing each with ``delivered`` (the messages just delivered from
        ``old_expected``, from ``source``)."""
        buf = self._buffer
        pop = buf.pop
        freed = 0
        bad: list[int] = []
        if len(buf) < end - old_expected:
            below = sorted(s for s in buf if s < end)
        else:
            below = [s for s in range(old_expected, end) if s in buf]
        for s in below:
            m = pop(s)
            freed += len(m)
            self.stats.duplicate_messages += 1
            if m != delivered[s - old_expected]:
                bad.append(s)
        if bad:
            self._conflict(bad[0], len(bad), source, events)
        out: list[bytes] = []
        s = end
        while s in buf:
            out.append(pop(s))
            s += 1
        self._expected = s
        self._buffer_bytes -= freed + sum(map(len, out))
        return out

    # --- internals: requests --------------------------------------------------------------

    def _on_gap(self, now: float, events: list[Event]) -> None:
        cfg = self.config
        if self._gap_since is None:
            self._gap_since = now
            self.stats.gaps += 1
            events.append(
                GapDetected(self._session, self._expected, self._known_end - self._expected)
            )
            self._req_hi = 0
            self._attempts = 0
        if cfg.request_server is None or now < self._gap_since + cfg.request_delay:
            return
        retry = self._expected < self._req_hi
        if retry and now < self._retry_at:
            return  # answers to the current window may still be on their way
        # The token bucket: refill for the time since the last look, at most request_burst.
        self._tokens = min(
            cfg.request_burst, self._tokens + (now - self._tokens_at) * cfg.request_rate
        )
        self._tokens_at = now
        if self._tokens < 1:
            if not self._deferred:  # counted once per wait, not per packet meanwhile
                self._deferred = True
                self.stats.requests_deferred += 1
            return
        if retry:
            self.stats.retries += 1
            if self._expected > self._mark:
                self._attempts = 0  # progress since the last request: no backoff
            else:
                self._attempts += 1
        else:
            self._attempts = 0
        self._request(now, events)

    def _request(self, now: float, events: list[Event]) -> None:
        cfg = self.config
        buf = self._buffer
        limit = min(self._known_end, self._expected + cfg.max_request * cfg.max_outstanding)
        budget = min(cfg.max_outstanding, int(self._tokens))
        s = self._expected
        sent = 0
        hi = s
        while s < limit and sent < budget:
            if s in buf:
                s += 1
                continue
            start = s
            stop = min(limit, start + cfg.max_request)
            while s < stop and s not in buf:
                s += 1
            req = RequestPacket(self._session, start, s - start)
            events.append(SendRequest(req, cfg.request_server))
            self.stats.requests_sent += 1
            self.stats.messages_requested += s - start
            sent += 1
            hi = s
        if sent == budget and budget < cfg.max_outstanding and s < limit:
            self.stats.requests_deferred += 1  # the cap cut this batch short
        self._tokens -= sent
        self._deferred = False
        self._req_hi = max(hi, self._expected + 1)
        self._mark = self._expected
        interval = min(cfg.retry_timeout * cfg.backoff**self._attempts, cfg.max_retry_interval)
        self._retry_at = now + interval
