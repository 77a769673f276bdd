"""The sans-I/O MoldUDP64 publisher and re-request server.

:class:`Publisher` packs messages into downstream packets no larger than a UDP payload
budget (1,400 bytes by default, so a packet fits an Ethernet MTU with room for tunnels),
sends what it holds after ``flush_interval``, a heartbeat after each second of silence, and
end of session on :meth:`Publisher.close` (repeated each heartbeat interval afterwards, so a
receiver that lost it still learns the session's end). Every published message is kept in a
:class:`MessageStore`.

:class:`RequestServer` answers request packets from that store, unicast to the requester,
with ordinary downstream packets. It never raises on what it is sent: requests for another
session, out of range, malformed or over the per-requester rate are counted, logged at debug
level and dropped (the receiver retries with backoff).

Neither owns a socket or a clock: they return the datagrams to send, and the asyncio adapters
(:mod:`tickwire.moldudp64.aio`) or a simulation deliver them.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from .codec import (
    END_OF_SESSION_COUNT,
    HEADER_SIZE,
    MAX_MESSAGE_COUNT,
    encode_session,
    parse_request,
)
from .errors import MessageTooLarge, MoldError
from .events import Address

__all__ = [
    "MessageStore",
    "Publisher",
    "PublisherConfig",
    "RequestServer",
    "ServerConfig",
    "ServerStats",
    "pack_messages",
]

log = logging.getLogger("tickwire.moldudp64.publisher")

_header = struct.Struct(">10sQH").pack
DEFAULT_MAX_PAYLOAD = 1400


def pack_messages(
    session: str | bytes, first_sequence: int, messages: Iterable[bytes], max_payload: int
) -> list[bytes]:
    """Downstream packets carrying ``messages`` from ``first_sequence``, each <= ``max_payload``."""
    sess = session if isinstance(session, bytes) else encode_session(session)
    out: list[bytes] = []
    parts: list[bytes] = []
    size = HEADER_SIZE
    seq = first_sequence
    n = 0
    for msg in messages:
        need = 2 + len(msg)
        if HEADER_SIZE + need > max_payload:
            raise MessageTooLarge(
                f"a {len(msg)}-byte message does not fit a {max_payload}-byte packet"
            )
        if size + need > max_payload or n == MAX_MESSAGE_COUNT:
            out.append(_header(sess, seq, n) + b"".join(parts))
            seq += n
            parts = []
            size = HEADER_SIZE
            n = 0
        parts.append(len(msg).to_bytes(2, "big"))
        parts.append(msg)
        size += need
        n += 1
    if n:
        out.append(_header(sess, seq, n) + b"".join(parts))
    return out


class MessageStore:
    """The messages of one session by sequence number, for the re-request server.

    In memory. With ``retain``, only the last ``retain`` messages are kept, which bounds
    that memory over a long session: requests for older ones are out of range, which the
    server counts and ignores, as a real one does for what it no longer has.
    ``first_sequence`` is the oldest sequence number still held.
    """

    def __init__(self, first_sequence: int = 1, *, retain: int | None = None) -> None:
        if retain is not None and retain < 1:
            raise ValueError(f"retain must be at least 1, got {retain}")
        self.first_sequence = first_sequence
        self.retain = retain
        self._messages: list[bytes] = []

    def append(self, message: bytes) -> int:
        """Store ``message``; return its sequence number."""
        messages = self._messages
        messages.append(message)
        held = len(messages)
        if self.retain is not None and held >= 2 * self.retain:
            # Half of what is held in one go, so appending stays O(1) amortised.
            forget = held - self.retain
            del messages[:forget]
            self.first_sequence += forget
            held = self.retain
        return self.first_sequence + held - 1

    @property
    def next_sequence(self) -> int:
        return self.first_sequence + len(self._messages)

    def __len__(self) -> int:
        """Messages held (all of the session's unless ``retain`` is set)."""
        return len(self._messages)

    def get(self, sequence: int, count: int) -> list[bytes]:
        """Up to ``count`` messages from ``sequence`` (fewer at the end; none out of range)."""
        i = sequence - self.first_sequence
        if i < 0 or count <= 0:
            return []
        return self._messages[i : i + count]


@dataclass(frozen=True, slots=True)
class PublisherConfig:
    session: str
    #: Largest UDP payload (MoldUDP64 packet) sent.
    max_payload: int = DEFAULT_MAX_PAYLOAD
    #: Send a partly filled packet this long after its first message (0: at the next tick).
    flush_interval: float = 0.001
    #: Heartbeat after this long without sending; also the end-of-session repeat interval.
    heartbeat_interval: float = 1.0
    first_sequence: int = 1
    #: Keep only the last this many messages for re-requests (None: the whole session).
    retain: int | None = None


class Publisher:
    """Sans-I/O MoldUDP64 publisher: returns the datagrams to multicast."""

    def __init__(self, config: PublisherConfig, store: MessageStore | None = None) -> None:
        if config.max_payload < HEADER_SIZE + 2:
            raise ValueError(f"max_payload {config.max_payload} cannot hold a message block")
        self.config = config
        self._session = encode_session(config.session)
        self.store = (
            store
            if store is not None
            else MessageStore(config.first_sequence, retain=config.retain)
        )
        self._parts: list[bytes] = []
        self._size = HEADER_SIZE
        self._count = 0
        self._first = self.store.next_sequence  # sequence of the first unsent message
        self._oldest: float | None = None  # when the first unsent message was published
        self._last_send: float | None = None
        self._closed = False
        self.packets_sent = 0
        self.heartbeats_sent = 0

    @property
    def session(self) -> str:
        return self.config.session

    @property
    def next_sequence(self) -> int:
        """The sequence number the next published message gets."""
        return self.store.next_sequence

    @property
    def closed(self) -> bool:
        return self._closed

    def publish(self, message: bytes, now: float) -> list[bytes]:
        """Queue one message; return any packet that filled up."""
        if self._closed:
            raise MoldError(f"session {self.config.session!r} has ended")
        need = 2 + len(message)
        if HEADER_SIZE + need > self.config.max_payload:
            raise MessageTooLarge(
                f"a {len(message)}-byte message does not fit a {self.config.max_payload}-byte packet"
            )
        out: list[bytes] = []
        if self._size + need > self.config.max_payload or self._count == MAX_MESSAGE_COUNT:
            out.append(self._take(now))
        if self._count == 0:
            self._oldest = now
            # The store may be shared (a restarted publisher continuing a session).
            self._first = self.store.next_sequence
        self.store.append(message)
        self._parts.append(len(message).to_bytes(2, "big"))
        self._parts.append(message)
        self._size += need
        self._count += 1
        return out

    def publish_many(self, messages: Iterable[bytes], now: float) -> list[bytes]:
        out: list[bytes] = []
        for m in messages:
            out.extend(self.publish(m, now))
        return out

    def flush(self, now: float) -> list[bytes]:
        """Send what is queued now."""
        return [self._take(now)] if self._count else []

    def tick(self, now: float) -> list[bytes]:
        """Timers: flush after ``flush_interval``, heartbeat (or repeated end of session)."""
        cfg = self.config
        if self._count and self._oldest is not None and now >= self._oldest + cfg.flush_interval:
            return [self._take(now)]
        if self._count == 0 and (
            self._last_send is None or now >= self._last_send + cfg.heartbeat_interval
        ):
            self._last_send = now
            self.heartbeats_sent += 1
            count = END_OF_SESSION_COUNT if self._closed else 0
            return [_header(self._session, self.store.next_sequence, count)]
        return []

    def next_deadline(self) -> float:
        """When :meth:`tick` has something to do next."""
        if self._count and self._oldest is not None:
            return self._oldest + self.config.flush_interval
        if self._last_send is None:
            return 0.0
        return self._last_send + self.config.heartbeat_interval

    def close(self, now: float) -> list[bytes]:
        """Flush and end the session; return the last packets (data, then end of session)."""
        out = self.flush(now)
        if not self._closed:
            self._closed = True
            out.append(self.end_of_session())
            self._last_send = now
        return out

    def end_of_session(self) -> bytes:
        """The end-of-session packet (Sequence = one past the last message)."""
        return _header(self._session, self.store.next_sequence, END_OF_SESSION_COUNT)

    def _take(self, now: float) -> bytes:
        pkt = _header(self._session, self._first, self._count) + b"".join(self._parts)
        self._first += self._count
        self._parts = []
        self._size = HEADER_SIZE
        self._count = 0
        self._oldest = None
        self._last_send = now
        self.packets_sent += 1
        return pkt


@dataclass(frozen=True, slots=True)
class ServerConfig:
    #: Largest UDP payload of an answer packet.
    max_payload: int = DEFAULT_MAX_PAYLOAD
    #: Most messages sent for one request (a bigger request is answered in part; the receiver
    #: asks again for the rest).
    max_count: int = 2000
    #: Requests per second each requester may make (token bucket refill rate) ...
    rate: float = 200.0
    #: ... and how many it may make in a burst.
    burst: float = 50.0
    #: Requesters remembered for rate limiting (the oldest are forgotten beyond this).
    max_requesters: int = 10_000


@dataclass(slots=True)
class ServerStats:
    requests: int = 0
    answered: int = 0
    messages_sent: int = 0
    packets_sent: int = 0
    wrong_session: int = 0
    out_of_range: int = 0
    rate_limited: int = 0
    bad_requests: int = 0


class RequestServer:
    """Answers MoldUDP64 request packets for one session from a :class:`MessageStore`."""

    def __init__(
        self, session: str, store: MessageStore, config: ServerConfig | None = None
    ) -> None:
        self.session = session
        self._session = encode_session(session)
        self.store = store
        self.config = config or ServerConfig()
        self.stats = ServerStats()
        self._buckets: dict[Address, tuple[float, float]] = {}

    def handle(self, data: bytes, source: Address, now: float) -> list[bytes]:
        """Answer one request datagram; return the packets to send back to ``source``."""
        st = self.stats
        st.requests += 1
        try:
            req = parse_request(data)
        except MoldError as exc:
            st.bad_requests += 1
            log.debug("bad request from %s: %s", source, exc)
            return []
        if data[:10] != self._session:
            st.wrong_session += 1
            log.debug(
                "request from %s for session %r, serving %r", source, req.session, self.session
            )
            return []
        store = self.store
        if (
            req.count == 0
            or req.sequence < store.first_sequence
            or req.sequence >= store.next_sequence
        ):
            st.out_of_range += 1
            log.debug(
                "request from %s for %d+%d outside %d..%d",
                source,
                req.sequence,
                req.count,
                store.first_sequence,
                store.next_sequence - 1,
            )
            return []
        if not self._allow(source, now):
            st.rate_limited += 1
            log.debug("request from %s over the rate limit", source)
            return []
        msgs = store.get(req.sequence, min(req.count, self.config.max_count))
        packets = pack_messages(self._session, req.sequence, msgs, self.config.max_payload)
        st.answered += 1
        st.messages_sent += len(msgs)
        st.packets_sent += len(packets)
        return packets

    def _allow(self, source: Address, now: float) -> bool:
        cfg = self.config
        buckets = self._buckets
        tokens, last = buckets.get(source, (cfg.burst, now))
        tokens = min(cfg.burst, tokens + (now - last) * cfg.rate)
        ok = tokens >= 1.0
        if ok:
            tokens -= 1.0
        if source not in buckets and len(buckets) >= cfg.max_requesters:
            del buckets[next(iter(buckets))]
        buckets[source] = (tokens, now)
        return ok
