"""The sans-I/O MoldUDP64 publisher and re-request server.

:class:`Publisher` packs messages into downstream packets no larger than a UDP payload
budget (1,400 bytes by default, so a packet fits an Ethernet MTU with room for tunnels),
sends what it holds after ``flush_interval``, a heartbeat after each second of silence, and
end of session on :meth:`Publisher.close` (repeated each heartbeat interval afterwards, so a
receiver that lost it still learns the session's end). Every published message is kept in a
:class:`MessageStore`.

:class:`RequestServer` answers request packets from that store, unicast to the requester,
with ordinary downstream packets. It never raises on what it is sent: requests for another
session, out of range, malformed, over the per-address rate or over the global byte budget
are counted by reason in :class:`ServerStats`, logged at debug level and dropped (the
receiver retries with backoff).

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
    "source_address",
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
    """Limits of a :class:`RequestServer`.

    A 20-byte request can ask for ``max_count`` messages, tens of kilobytes of answer, and
    UDP source addresses cost nothing to vary, so the server limits what it sends at two
    levels: a token bucket of requests per source *address* (the port is ignored, so
    rotating source ports buys nothing) and one token bucket of answer bytes shared by all
    requesters, which caps the server's output whatever the number of addresses.
    """

    #: Largest UDP payload of an answer packet.
    max_payload: int = DEFAULT_MAX_PAYLOAD
    #: Most messages sent for one request (a bigger request is answered in part; the receiver
    #: asks again for the rest).
    max_count: int = 2000
    #: Requests per second each source address may make (token bucket refill rate) ...
    rate: float = 200.0
    #: ... and how many it may make in a burst.
    burst: float = 50.0
    #: Source addresses remembered for rate limiting (the least recently seen is forgotten
    #: beyond this, so the table stays bounded whatever addresses requests claim).
    max_requesters: int = 10_000
    #: Answer bytes (UDP payload) per second, all requesters together (refill rate) ...
    byte_rate: float = 10_000_000.0
    #: ... and the most sent in a burst. At least ``max_payload``, so a packet always fits.
    byte_burst: float = 1_000_000.0

    def __post_init__(self) -> None:
        if self.max_payload < HEADER_SIZE + 2:
            raise ValueError(f"max_payload {self.max_payload} cannot hold a message block")
        if self.max_count < 1 or self.max_requesters < 1:
            raise ValueError("max_count and max_requesters must be at least 1")
        if not (self.rate > 0 and self.burst >= 1 and self.byte_rate > 0):
            raise ValueError("rate and byte_rate must be positive and burst at least 1")
        if self.byte_burst < self.max_payload:
            raise ValueError(
                f"byte_burst {self.byte_burst} is below max_payload {self.max_payload}:"
                " no answer packet could ever be sent"
            )


@dataclass(slots=True)
class ServerStats:
    """What a :class:`RequestServer` did with the requests it got.

    Every request is counted once in ``requests`` and, unless answered, once under the
    reason it was refused (``bad_requests``, ``wrong_session``, ``out_of_range``,
    ``rate_limited``, ``over_budget``, ``too_large``). ``partial`` counts answers cut short
    by the byte budget (the receiver asks again for the rest); ``forgotten`` counts source
    addresses dropped from the full rate-limit table.
    """

    requests: int = 0
    answered: int = 0
    messages_sent: int = 0
    packets_sent: int = 0
    bytes_sent: int = 0
    wrong_session: int = 0
    out_of_range: int = 0
    #: Refused: the source address was over its request rate.
    rate_limited: int = 0
    #: Refused: the global byte budget could not pay for even one answer packet.
    over_budget: int = 0
    #: Answered in part: the byte budget paid for only the first packets.
    partial: int = 0
    bad_requests: int = 0
    forgotten: int = 0
    #: Answers stopped before a stored message longer than an answer packet can carry
    #: (``max_payload`` below the publisher's); refused when it is the first asked for.
    too_large: int = 0


def source_address(source: Address) -> Address:
    """The address part of a datagram source: ``(host, port, ...)`` gives ``host``.

    Rate limits are keyed by it, not by ``(host, port)``: a requester can pick any number
    of source ports. Anything that is not a tuple (a simulation's node name) is its own key.
    """
    if isinstance(source, tuple) and source:
        return source[0]
    return source


class RequestServer:
    """Answers MoldUDP64 request packets for one session from a :class:`MessageStore`.

    For each request, in order (each refusal counted in :attr:`stats`, nothing sent):

    1. it must parse (``bad_requests``), name this session (``wrong_session``) and ask
       for at least one message the store holds (``out_of_range``);
    2. the source address (:func:`source_address`: the port is ignored) takes a token
       from its bucket, ``burst`` deep and refilled at ``rate`` a second, else
       ``rate_limited``. The buckets live in a table of at most ``max_requesters``
       addresses, least recently seen first out (``forgotten``): a forgotten address
       comes back with a full bucket, which costs at most ``burst`` extra requests and
       is still paid for in step 3;
    3. the answer (at most ``max_count`` messages, packed into ``max_payload`` packets)
       is paid for from one byte bucket shared by every requester, ``byte_burst`` deep
       and refilled at ``byte_rate`` bytes a second: the packets it can pay for go out
       (``partial`` when not all), and if it cannot pay for the first, ``over_budget``.

    A stored message longer than an answer packet can carry (a publisher's
    ``max_payload`` above the server's) ends the answer before it, counted in
    ``too_large`` (refused when it is the first asked for): ``handle`` raised
    MessageTooLarge on such a valid request.

    So whatever the number of addresses and ports, the server sends at most
    ``byte_burst + byte_rate * t`` bytes in any ``t`` seconds.
    """

    def __init__(
        self, session: str, store: MessageStore, config: ServerConfig | None = None
    ) -> None:
        self.session = session
        self._session = encode_session(session)
        self.store = store
        self.config = config or ServerConfig()
        self.stats = ServerStats()
        # Insertion order is recency: a source is moved to the end when it is seen.
        self._buckets: dict[Address, tuple[float, float]] = {}
        self._bytes = float(self.config.byte_burst)
        self._bytes_time: float | None = None

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
        if not self._allow(source_address(source), now):
            st.rate_limited += 1
            log.debug("request from %s over the rate limit", source)
            return []
        msgs = store.get(req.sequence, min(req.count, self.config.max_count))
        room = self.config.max_payload - HEADER_SIZE - 2  # the longest message a packet holds
        cut = next((i for i, m in enumerate(msgs) if len(m) > room), None)
        if cut is not None:
            # Stored from packets bigger than ours: the answer stops before it (test:
            # test_moldudp64_server.py::test_a_message_no_answer_packet_can_carry_is_counted_not_raised).
            st.too_large += 1
            log.debug("request from %s reaches a message over %d bytes", source, room)
            msgs = msgs[:cut]
            if not msgs:
                return []
        packets = self._pay(
            pack_messages(self._session, req.sequence, msgs, self.config.max_payload), now
        )
        if not packets:
            st.over_budget += 1
            log.debug("request from %s over the byte budget", source)
            return []
        sent = sum(int.from_bytes(p[18:20], "big") for p in packets)
        if sent < len(msgs):
            st.partial += 1
        st.answered += 1
        st.messages_sent += sent
        st.packets_sent += len(packets)
        st.bytes_sent += sum(len(p) for p in packets)
        return packets

    def _allow(self, address: Address, now: float) -> bool:
        """Take one request token from ``address``'s bucket."""
        cfg = self.config
        buckets = self._buckets
        held = buckets.pop(address, None)
        tokens, last = held if held is not None else (cfg.burst, now)
        if now > last:  # a clock going back refills nothing, now or later (_pay)
            tokens = min(cfg.burst, tokens + (now - last) * cfg.rate)
            last = now
        ok = tokens >= 1.0
        if ok:
            tokens -= 1.0
        if held is None and len(buckets) >= cfg.max_requesters:
            del buckets[next(iter(buckets))]  # the least recently seen
            self.stats.forgotten += 1
        buckets[address] = (tokens, last)
        return ok

    def _pay(self, packets: list[bytes], now: float) -> list[bytes]:
        """The leading ``packets`` the global byte bucket can pay for (and pays).

        Each bucket keeps the latest time it was given: a ``now`` that goes back refills
        nothing. Why: it kept the last ``now``, so a clock going back and forth refilled
        the buckets at every step forward, over the stated budget. Test:
        ``test_moldudp64_server.py::test_a_clock_going_back_refills_no_bucket``."""
        cfg = self.config
        last = self._bytes_time
        if last is None or now > last:
            if last is not None:
                self._bytes = min(cfg.byte_burst, self._bytes + (now - last) * cfg.byte_rate)
            self._bytes_time = now
        n = 0
        for p in packets:
            if len(p) > self._bytes:
                break
            self._bytes -= len(p)
            n += 1
        return packets[:n]
