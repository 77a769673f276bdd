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
progress is made, so a throttled or lossy server is not flooded. Whichever copy of a message
arrives first (line A, line B or a retransmission) is used; later copies are counted as
duplicates and dropped.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass, field

from .codec import (
    END_OF_SESSION_COUNT,
    HEADER_SIZE,
    RequestPacket,
    decode_session,
    encode_session,
    parse_downstream,
    split_blocks,
)
from .errors import MoldError, TrailingBytes, TruncatedPacket
from .events import (
    Address,
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

__all__ = ["Receiver", "ReceiverConfig", "ReceiverStats"]

log = logging.getLogger("tickwire.moldudp64.receiver")

_seq_count = struct.Struct(">QH").unpack_from


@dataclass(frozen=True, slots=True)
class ReceiverConfig:
    """How a :class:`Receiver` joins, recovers and times out. Times are in seconds."""

    #: Accept only this session (None: the first session seen, then follow session changes).
    session: str | None = None
    #: First sequence number wanted: None joins at the first packet seen (late join: messages
    #: before it are not wanted); 1 recovers the whole session from its start.
    start_sequence: int | None = None
    #: Where request packets go (None: no recovery, gaps wait for the other line).
    request_server: Address = None
    #: Largest Requested Message Count the server allows; bigger holes are split.
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
    #: Report :class:`StaleFeed` after this long without any packet (heartbeats are 1 s).
    stale_after: float = 3.0
    #: Packets of a new session are held this long while the old one may still complete.
    session_grace: float = 5.0
    #: Most out-of-order messages kept; beyond it they are dropped and re-requested later.
    max_buffer: int = 1_000_000


@dataclass(slots=True)
class ReceiverStats:
    packets: int = 0
    messages: int = 0
    duplicate_messages: int = 0
    out_of_order_packets: int = 0
    heartbeats: int = 0
    bad_packets: int = 0
    other_session_packets: int = 0
    gaps: int = 0
    requests_sent: int = 0
    messages_requested: int = 0
    retries: int = 0
    session_changes: int = 0
    #: Messages given up by :meth:`Receiver.skip_gap` (never delivered).
    skipped_messages: int = 0


@dataclass(slots=True)
class _Pending:
    """Packets of a new session held while the old session may still complete."""

    session: bytes
    since: float
    packets: list[tuple[bytes, Address, float]] = field(default_factory=list)


class Receiver:
    """Sans-I/O MoldUDP64 receiver (see the module docstring for the recovery rules)."""

    def __init__(self, config: ReceiverConfig | None = None) -> None:
        self.config = cfg = config or ReceiverConfig()
        if cfg.max_request < 1 or cfg.max_outstanding < 1:
            raise ValueError("max_request and max_outstanding must be at least 1")
        self.stats = ReceiverStats()
        self._fixed = encode_session(cfg.session) if cfg.session is not None else None
        self._session_raw: bytes | None = None
        self._session = ""
        self._retired: set[bytes] = set()
        self._expected = 0  # valid once a session is established
        self._known_end = 0
        self._buffer: dict[int, bytes] = {}
        self._eos: int | None = None
        self._eos_reported = False
        self._last_rx: float | None = None
        self._stale = False
        self._pending: _Pending | None = None
        # recovery state
        self._gap_since: float | None = None
        self._req_hi = 0
        self._retry_at = 0.0
        self._attempts = 0
        self._mark = 0

    # --- public state ---------------------------------------------------------------------

    @property
    def session(self) -> str | None:
        """The current session (None before the first packet)."""
        return self._session if self._session_raw is not None else None

    @property
    def next_sequence(self) -> int:
        """The next sequence number to deliver (0 before the first packet)."""
        return self._expected

    @property
    def known_end(self) -> int:
        """One past the highest sequence number known to exist."""
        return self._known_end

    @property
    def in_gap(self) -> bool:
        return self._session_raw is not None and self._expected < self._known_end

    @property
    def buffered(self) -> int:
        """Messages held beyond the hole at ``next_sequence``, waiting for it to fill."""
        return len(self._buffer)

    @property
    def gap_since(self) -> float | None:
        """When the hole at ``next_sequence`` appeared (None: no hole)."""
        return self._gap_since if self.in_gap else None

    @property
    def ended(self) -> bool:
        """True once end of session was seen and everything before it delivered."""
        return self._eos_reported

    def next_deadline(self) -> float | None:
        """When :meth:`tick` has something to do next (None: only a packet can change that)."""
        times: list[float] = []
        if self._last_rx is not None and not self._stale:
            times.append(self._last_rx + self.config.stale_after)
        if self._pending is not None:
            times.append(self._pending.since + self.config.session_grace)
        if self.in_gap and self.config.request_server is not None and self._gap_since is not None:
            first = self._gap_since + self.config.request_delay
            if self._expected >= self._req_hi:
                times.append(first)
            else:
                times.append(max(first, self._retry_at))
        return min(times) if times else None

    # --- input ----------------------------------------------------------------------------

    def receive(self, data: bytes, source: Address, now: float) -> list[Event]:
        """Process one datagram from ``source`` received at ``now``; return the events."""
        self.stats.packets += 1
        events: list[Event] = []
        if self._stale:
            self._stale = False
            events.append(FeedResumed(now - (self._last_rx or now)))
        self._last_rx = now
        self._process(data, source, now, events)
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
        session = data[:10]
        if session != self._session_raw and not self._on_other_session(
            session, data, source, now, events
        ):
            return events
        seq, count = _seq_count(data, 10)
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
            self.stats.heartbeats += 1
            if count:
                self._eos = seq
            if seq > self._known_end:
                self._known_end = seq
        else:
            try:
                msgs = split_blocks(data, count)
            except MoldError as exc:
                return self._bad(events, source, exc)
            end = seq + count
            expected = self._expected
            if end <= expected:
                self.stats.duplicate_messages += count
            elif seq <= expected:
                if seq < expected:
                    self.stats.duplicate_messages += expected - seq
                    msgs = msgs[expected - seq :]
                self._expected = end
                if end > self._known_end:
                    self._known_end = end
                if self._buffer:
                    msgs.extend(self._drain(expected, end))
                self.stats.messages += len(msgs)
                events.append(Messages(self._session, expected, msgs))
                if self._pending is not None:
                    self._pending.since = now  # the old session still progresses
            else:
                self.stats.out_of_order_packets += 1
                self._store(seq, msgs)
                if end > self._known_end:
                    self._known_end = end
        if self._expected < self._known_end:
            self._on_gap(now, events)
        elif self._gap_since is not None:
            self._gap_since = None
        if self._eos is not None and not self._eos_reported and self._expected >= self._eos:
            self._eos_reported = True
            events.append(EndOfSession(self._session, self._eos))
            if self._pending is not None:
                self._switch(now, events)
        return events

    def tick(self, now: float) -> list[Event]:
        """Timers: retries, stale feed, session grace. Call at :meth:`next_deadline`."""
        events: list[Event] = []
        if (
            self._last_rx is not None
            and not self._stale
            and now >= self._last_rx + self.config.stale_after
        ):
            self._stale = True
            events.append(StaleFeed(now - self._last_rx))
        if self._pending is not None and now >= self._pending.since + self.config.session_grace:
            self._switch(now, events)
        if self.in_gap:
            self._on_gap(now, events)
        return events

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
        target = min(buf) if buf else self._known_end
        self.stats.skipped_messages += target - self._expected
        self._expected = target
        self._gap_since = None
        msgs = self._drain(target, target) if buf else []
        if msgs:
            self.stats.messages += len(msgs)
            events.append(Messages(self._session, target, msgs))
        if self._expected < self._known_end:
            self._on_gap(now, events)
        if self._eos is not None and not self._eos_reported and self._expected >= self._eos:
            self._eos_reported = True
            events.append(EndOfSession(self._session, self._eos))
            if self._pending is not None:
                self._switch(now, events)
        return events

    # --- internals ------------------------------------------------------------------------

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
        if (self._fixed is not None and session != self._fixed) or session in self._retired:
            self.stats.other_session_packets += 1
            return False
        if self._session_raw is None:
            self._establish(session, name, data, now, events)
            return True
        # A new session: the publisher restarted. Finish the old one first while it may still
        # complete (until its end of session is delivered, or for ``session_grace``), holding
        # the new session's packets meanwhile.
        if self._pending is None:
            self._pending = _Pending(session, now)
        elif self._pending.session != session:
            self.stats.other_session_packets += 1
            return False
        if len(self._pending.packets) < 100_000:
            self._pending.packets.append((data, source, now))
        if self._eos_reported:
            self._switch(now, events)
        return False

    def _establish(
        self, session: bytes, name: str, data: bytes, now: float, events: list[Event]
    ) -> None:
        start = self.config.start_sequence
        if start is None:
            start = _seq_count(data, 10)[0]
        self._session_raw = session
        self._session = name
        self._expected = start
        self._known_end = start
        events.append(SessionChanged(None, name, start))

    def _switch(self, now: float, events: list[Event]) -> None:
        """Retire the current session and start the pending one from sequence 1."""
        pending = self._pending
        assert pending is not None
        self._pending = None
        abandoned = max(
            0, (self._eos if self._eos is not None else self._known_end) - self._expected
        )
        old = self._session
        if self._session_raw is not None:
            self._retired.add(self._session_raw)
        self.stats.session_changes += 1
        self._session_raw = pending.session
        self._session = decode_session(pending.session)
        self._expected = 1
        self._known_end = 1
        self._buffer.clear()
        self._eos = None
        self._eos_reported = False
        self._gap_since = None
        self._req_hi = 0
        self._attempts = 0
        if abandoned:
            log.warning("session %s abandoned with %d messages undelivered", old, abandoned)
        events.append(SessionChanged(old, self._session, 1, abandoned))
        for data, source, _at in pending.packets:
            self._process(data, source, now, events)

    def _store(self, seq: int, msgs: list[bytes]) -> None:
        buf = self._buffer
        room = self.config.max_buffer - len(buf)
        if room <= 0:
            return
        for i, m in enumerate(msgs[:room] if room < len(msgs) else msgs):
            s = seq + i
            if s in buf:
                self.stats.duplicate_messages += 1
            else:
                buf[s] = m

    def _drain(self, old_expected: int, end: int) -> list[bytes]:
        """Take buffered messages from ``end`` on; forget buffered copies below ``end``."""
        buf = self._buffer
        pop = buf.pop
        if len(buf) < end - old_expected:
            for s in [s for s in buf if s < end]:
                del buf[s]
                self.stats.duplicate_messages += 1
        else:
            for s in range(old_expected, end):
                if pop(s, None) is not None:
                    self.stats.duplicate_messages += 1
        out: list[bytes] = []
        s = end
        while s in buf:
            out.append(pop(s))
            s += 1
        self._expected = s
        return out

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
        if self._expected < self._req_hi:
            if now < self._retry_at:
                return  # answers to the current window may still be on their way
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
        s = self._expected
        sent = 0
        hi = s
        while s < limit and sent < cfg.max_outstanding:
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
        self._req_hi = max(hi, self._expected + 1)
        self._mark = self._expected
        interval = min(cfg.retry_timeout * cfg.backoff**self._attempts, cfg.max_retry_interval)
        self._retry_at = now + interval
