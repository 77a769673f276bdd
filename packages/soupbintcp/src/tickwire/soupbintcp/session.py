"""Sans-I/O SoupBinTCP session cores (in the manner of h11 and wsproto).

Nothing here touches a socket or a clock. A core is fed received bytes and the
current time (``now``, seconds from any monotonic clock) and returns events;
whatever it wants sent accumulates until :meth:`data_to_send` drains it. A
:class:`Closed` event tells the transport to flush and close. That makes
reconnects, heartbeat timeouts and garbage input testable with simulated time;
:mod:`tickwire.soupbintcp.aio` wraps the cores for asyncio.

What may be sent or received in which state is one table for both sides,
:data:`tickwire.soupbintcp.state.TRANSITIONS`: the cores look every packet up
there (a packet it forbids closes the connection as a protocol error, a call it
forbids raises :class:`SessionError`) and do only what the table cannot say
(sequence numbers, timers, limits, the login check).

Sequencing (spec 1.2): the server numbers its Sequenced Data from 1; a client
logs in again with its session and its next expected sequence number and so
sees every message exactly once across reconnects. :class:`ClientSession`
additionally drops any replayed message it already delivered, so a server
that resumes too early still causes no duplicate; and a "replay" that differs
from what it delivered is a server whose stream was reset (:class:`StreamDiverged`):
its messages are delivered as new, not dropped.

Logins (server): a source address that failed too many logins is refused
without its password being checked (:class:`SourceThrottle`), and a session
has at most one logged-in connection: a second login with the right password
is refused with "Session not available" while the first is up (see
:meth:`ServerConnection._login`).
"""

from __future__ import annotations

import hmac
import logging
import re
from array import array
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .packets import (
    ClientHeartbeat,
    Debug,
    EndOfSession,
    LoginAccepted,
    LoginRejected,
    LoginRequest,
    LogoutRequest,
    Packet,
    PacketError,
    PacketFramer,
    SequencedData,
    ServerHeartbeat,
    SoupVersion,
    UnsequencedData,
    build_packet,
    data_packet,
    parse_client_packet,
    parse_server_packet,
)
from .state import Role, SessionState, StateMachine

__all__ = [
    "MAX_SEQUENCE",
    "Accepted",
    "ClientSession",
    "ClientState",
    "Closed",
    "DebugText",
    "Event",
    "LoggedIn",
    "Message",
    "Rejected",
    "ServerConnection",
    "ServerStats",
    "SessionEnded",
    "SessionError",
    "SoupServer",
    "SourceThrottle",
    "StreamDiverged",
    "reason_kind",
]

log = logging.getLogger("tickwire.soupbintcp")


class SessionError(RuntimeError):
    """An operation the session's current state does not allow."""


# ------------------------------------------------------------------ events
@dataclass(frozen=True, slots=True)
class Event:
    """Base of the events the cores return."""


@dataclass(frozen=True, slots=True)
class Accepted(Event):
    """Client: the server accepted the login (``sequence_number`` comes next).

    ``skipped`` is how many sequenced messages the server will not replay: it resumed
    after the sequence number the client asked for (they are lost to this client; also
    counted in :attr:`ClientSession.skipped_messages`). 0 on an ordinary login.
    """

    session: str
    sequence_number: int
    skipped: int = 0


@dataclass(frozen=True, slots=True)
class Rejected(Event):
    """Client: the server rejected the login ("A" not authorised, "S" no session)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Message(Event):
    """A higher-level message. ``sequence_number`` is None for unsequenced data."""

    data: bytes
    sequence_number: int | None = None


@dataclass(frozen=True, slots=True)
class DebugText(Event):
    text: str


@dataclass(frozen=True, slots=True)
class SessionEnded(Event):
    """Client: the server sent End of Session."""


@dataclass(frozen=True, slots=True)
class StreamDiverged(Event):
    """Client: the server's message ``sequence`` differs from the one delivered under
    that number: its stream is not the one delivered (it was reset, e.g. a gateway
    restarted with the same session name and an empty stream). The message and those
    after it are delivered as new (:class:`ClientSession`, "Replays are checked")."""

    session: str
    sequence: int


@dataclass(frozen=True, slots=True)
class LoggedIn(Event):
    """Server: a client logged in; replay starts at ``sequence_number``."""

    username: str
    session: str
    sequence_number: int


@dataclass(frozen=True, slots=True)
class Closed(Event):
    """The connection must be closed (after sending what :meth:`data_to_send` holds)."""

    reason: str


# ------------------------------------------------------------------ client
#: The client's state; the same enum as the server's (:class:`~.state.SessionState`).
ClientState = SessionState

#: Why a received packet that is legal but ends the connection closes it.
_CLOSE_REASONS: dict[type[Packet], str] = {
    LoginRejected: "login rejected",
    EndOfSession: "end of session",
    LogoutRequest: "logout",
}
#: How an illegal packet is named in the protocol error, by the state it arrived in.
_WHEN = {
    SessionState.LOGIN_SENT: "before Login Accepted",
    SessionState.AWAITING_LOGIN: "before login",
    SessionState.LOGGED_IN: "after login",
}


#: The largest sequence number a Login Request can ask for (20 ASCII digits).
MAX_SEQUENCE = 10**20 - 1

#: How many sequence numbers back :class:`ClientSession` can check a replay by default:
#: 8 bytes each, 8 MB at most (a SoupBinTCP ITCH feed of 400M messages stays bounded).
REPLAY_WINDOW = 1_000_000


class _Core(StateMachine):
    """What the client and server cores share: the peer's bytes framed into packets, and
    the dead-peer timer that whole packets restart."""

    _framer: PacketFramer
    _last_recv: float  # when the last whole packet came (the heartbeat timeout's start)

    def _frame(self, data: bytes, now: float) -> tuple[Sequence[bytes], PacketError | None]:
        """The packet bodies ``data`` completes, and the framing error after them if any.

        Rule: silence is counted in packets: the heartbeat timeout restarts when a whole
        packet arrives, not at every byte (the spec's "neither data nor heartbeats" are
        packets). Why: a peer stuck part-way through a packet that sent a byte now and
        then was never timed out: a server by the client, and a logged-in client by the
        server, which kept the session held (a re-login elsewhere refused "S") for as
        long as the bytes came. Tests: ``test_soupbintcp_hostile_server.py::
        test_a_packet_trickled_a_byte_at_a_time_does_not_keep_a_dead_link_alive``,
        ``test_soupbintcp_hostile_client.py::
        test_a_packet_trickled_after_login_does_not_keep_a_dead_client_alive``.
        """
        try:
            bodies: Sequence[bytes] = self._framer.feed(data)
            framing = None
        except PacketError as exc:  # the packets before the bad length first
            bodies, framing = exc.bodies, exc
        if bodies:
            self._last_recv = now
        return bodies, framing


class ClientSession(_Core):
    """The client side of one SoupBinTCP session, across any number of connections.

    Call :meth:`connect` for every new TCP connection: it queues a Login Request
    for the current session and the next expected sequence number, so a
    reconnect resumes exactly where the last connection stopped. What may be
    sent or received when is :data:`~tickwire.soupbintcp.state.TRANSITIONS`
    (role ``CLIENT``); a packet it forbids closes the connection with a protocol
    error, a call it forbids raises :class:`SessionError`.

    The server's sequencing is checked too; each of these closes the connection
    with a protocol error, and the next :meth:`connect` asks for the same session
    and sequence number again:

    * a Login Accepted for another session than the one requested (when one was:
      blank asks for the current one, and the first accepted is then kept);
    * a Login Accepted at sequence number 0 (sequence numbers start at 1);
    * a Sequenced Data numbered :data:`MAX_SEQUENCE`: the client could never ask
      for the message after it (the Login Request has 20 digits).

    A Login Accepted *after* the sequence number asked for means the server will not
    replay the messages between: they are lost, so it is not silent. The
    :class:`Accepted` event says how many (``skipped``), :attr:`skipped_messages`
    counts them all, and a warning is logged.

    **Replays are checked.** Rule: a replay must equal what was delivered. The client
    keeps a digest of each message it delivers (``hash(bytes)``, 8 bytes, in an
    ``array('q')`` ring) for the last ``replay_window`` sequence numbers (default
    :data:`REPLAY_WINDOW`, 8 MB at most; 0 turns the check off). A message numbered below
    :attr:`next_sequence` whose digest is known and equal is a replay, dropped. One whose
    digest differs means the server's stream is not the one delivered: the client emits
    :class:`StreamDiverged` (counted in :attr:`streams_diverged`, one warning logged),
    moves :attr:`next_sequence` back to that message, forgets the digests after it and
    delivers it and every message after it as new. A stream that diverges again (a
    second restart) is checked the same way, against what was delivered since. A replay
    whose digest is not known (older than the window, before this client's first
    message or a skipped resume, or any replay with the window 0) is dropped unchecked,
    counted in :attr:`unchecked_replays`: not an error. Why: a server accepting a login
    at S below the sequence asked for may be replaying (honest: dropped as before) or
    may have restarted with an empty stream, numbering its new messages from 1 again;
    the client dropped those as "replays", silently, and an OUCH client lost the
    answers of a restarted gateway. ``hash`` is randomised per process, which does not
    matter: the digests are compared only within this process; a collision of two
    different messages' 64-bit hashes (a reset taken for a replay) is negligible, and
    a reset stream whose messages equal the delivered ones byte for byte is a replay
    by this rule. When the first message of a connection differs and the server started
    there because its stream ends before the sequence asked for (a reset stream that
    already holds a few messages: a login at N accepted at K + 1), the new stream's
    messages 1..K were not sent: the client closes the connection (``"stream diverged:
    ..."``) and its next login asks for the oldest message it holds a digest of, so
    they are checked and the divergence is found (and delivered) where it is. A reset
    stream whose messages are all numbered below the window (more than
    ``replay_window`` delivered) cannot be told from a replay: its messages are dropped
    unchecked, counted. Tests:
    ``test_soupbintcp_hostile_server.py::test_a_reset_stream_is_delivered_not_dropped_as_a_replay``
    and its neighbours.
    """

    role = Role.CLIENT

    def __init__(
        self,
        username: str,
        password: str,
        *,
        session: str = "",
        next_sequence: int = 1,
        version: SoupVersion = SoupVersion.V4_1,
        heartbeat_interval: float = 1.0,
        timeout: float = 15.0,
        max_packet_length: int = 0xFFFF,
        replay_window: int = REPLAY_WINDOW,
    ) -> None:
        if not 0 <= next_sequence <= MAX_SEQUENCE:
            raise ValueError(f"next_sequence must be 0 to {MAX_SEQUENCE}, got {next_sequence}")
        if replay_window < 0:
            raise ValueError(f"replay_window must be >= 0, got {replay_window}")
        self.username = username
        self._password = password
        self.session = session
        self.next_sequence = next_sequence
        self.version = version
        self.heartbeat_interval = heartbeat_interval
        self.timeout = timeout
        self.max_packet_length = max_packet_length
        self._go(SessionState.IDLE)
        self.ended = False
        self._out = bytearray()
        self._framer = PacketFramer(max_packet_length)
        self._server_seq = 0
        #: What the last Login Request asked for: (session, sequence number).
        self._requested = (session, next_sequence)
        #: Sequenced messages the server did not replay on a login (see the class docs).
        self.skipped_messages = 0
        #: Sequence numbers back a replay is checked against what was delivered (class
        #: docs, "Replays are checked"); 0: not checked.
        self.replay_window = replay_window
        #: Times the server's stream differed from the one delivered (:class:`StreamDiverged`).
        self.streams_diverged = 0
        #: Replays dropped without a known digest to check them against (class docs).
        self.unchecked_replays = 0
        # The digests of the delivered messages _digest_low.._digest_next-1 (at most
        # replay_window of them): message s at (s - _digest_base) % replay_window.
        self._digests = array("q")
        self._digest_base = 0
        self._digest_low = 0
        self._digest_next = 0
        self._accepted_at = 0  # where the server started on this connection
        #: the next login asks for this, not next_sequence (None): a diverged stream's
        #: earlier messages are to be checked (class docs, "Replays are checked")
        self._check_from: int | None = None
        self._last_recv = 0.0
        self._last_send = 0.0
        self._login_sent = 0.0  # when connect sent the Login Request (timer's login rule)
        self._on: dict[type[Packet], Callable[[Any], list[Event]]] = {
            SequencedData: self._on_sequenced,
            UnsequencedData: lambda p: [Message(p.message, None)],
            ServerHeartbeat: lambda p: [],
            Debug: lambda p: [DebugText(p.text)],
            LoginAccepted: self._on_accepted,
            LoginRejected: lambda p: [Rejected(p.reject_reason_code)],
            EndOfSession: self._on_end,
        }

    def __repr__(self) -> str:  # no password
        return (
            f"ClientSession(username={self.username!r}, session={self.session!r}, "
            f"next_sequence={self.next_sequence}, state={self.state.value})"
        )

    def connect(self, now: float) -> None:
        """A new TCP connection is up: queue the Login Request.

        Raises :class:`SessionError` while connected, or when :attr:`next_sequence` or
        :attr:`session` (set by hand) cannot be put in a Login Request; a ``connect``
        that raises changes nothing.
        """
        if not self.can_send(LoginRequest):
            raise SessionError(f"already connected ({self.state.value})")
        timeout_ms = None
        if self.version is SoupVersion.V4_1:
            timeout_ms = min(99999, int(self.timeout * 1000))
        # a check of a diverged stream's earlier messages asks for them (class docs)
        ask = self.next_sequence if self._check_from is None else self._check_from
        request = LoginRequest(self.username, self._password, self.session, ask, timeout_ms)
        try:
            data = build_packet(request)  # first: a failure must leave the state as it was
        except PacketError as exc:
            raise SessionError(f"cannot build the Login Request: {exc}") from exc
        self._framer = PacketFramer(self.max_packet_length)
        self._out.clear()
        self._requested = (self.session, ask)
        self._sent_packet(LoginRequest)
        self._out += data
        self._last_send = now
        self._last_recv = now
        self._login_sent = now

    def send_message(self, message: bytes, now: float) -> None:
        """Queue an Unsequenced Data packet (only once logged in)."""
        if not self.can_send(UnsequencedData):
            raise SessionError(f"cannot send data while {self.state.value}")
        self._out += data_packet("U", message)
        self._last_send = now

    def logout(self, now: float) -> list[Event]:
        if self.can_send(LogoutRequest):
            self._send(LogoutRequest(), now)
        return self._close("logout")

    def connection_lost(self) -> None:
        """The transport went away; the session survives for the next :meth:`connect`."""
        self._closing()

    def data_to_send(self) -> bytes:
        data = bytes(self._out)
        self._out.clear()
        return data

    def next_deadline(self) -> float | None:
        """When :meth:`timer` next has something to do (None when not connected)."""
        if not self.reading:
            return None
        if self.can_send(ClientHeartbeat):
            return min(self._last_recv + self.timeout, self._last_send + self.heartbeat_interval)
        if self.state is SessionState.LOGIN_SENT:  # the login's own deadline comes first
            return self._login_sent + self.timeout
        return self._last_recv + self.timeout

    def hold_timeout(self, now: float) -> None:
        """Restart the server's heartbeat timeout at ``now``: the adapter stopped reading
        the socket itself (its application has not taken the messages), so silence is
        not the server's (``SoupClient``'s "Messages nobody reads")."""
        self._last_recv = now

    def timer(self, now: float) -> list[Event]:
        """Heartbeats, the dead-peer timeout and the login timeout.

        Rule: the server answers the Login Request (Login Accepted or Rejected) within
        :attr:`timeout` of :meth:`connect`, or the connection is closed (``"login
        timeout: ..."``); heartbeats and Debug packets do not extend it. Why: they kept
        a client whose login a server never answered waiting in ``login_sent`` for as
        long as they came, and ``SoupClient.connect`` gave up on it with the connection
        still open. Test: ``test_soupbintcp_hostile_server.py::
        test_a_server_that_heartbeats_but_never_answers_the_login_is_timed_out``.
        """
        if not self.reading:
            return []
        if self.state is SessionState.LOGIN_SENT and now - self._login_sent >= self.timeout:
            return self._close(
                f"login timeout: no answer to the Login Request in {self.timeout:g} s"
            )
        if now - self._last_recv >= self.timeout:
            return self._close("heartbeat timeout: nothing from the server")
        if self.can_send(ClientHeartbeat) and now - self._last_send >= self.heartbeat_interval:
            self._send(ClientHeartbeat(), now)
        return []

    def receive_data(self, data: bytes, now: float) -> list[Event]:
        """Frame and handle the server's bytes; returns the events. The heartbeat
        timeout restarts at a whole packet, not at every byte (:meth:`_Core._frame`)."""
        if not self.reading:
            return []
        events: list[Event] = []
        bodies, framing = self._frame(data, now)
        # Each packet: the table says whether it is legal now and what state follows
        # (looked up in this state's row, kept at hand by _go); _on does what it means.
        for body in bodies:
            try:
                packet = parse_server_packet(body, self.version)
            except PacketError as exc:
                events += self._close(f"protocol error: {exc}")
                return events
            cls = type(packet)
            target = self._received.get(cls)
            if target is None:
                events += self._close(f"protocol error: {cls.spec.name} {_WHEN[self.state]}")
                break
            if target is not self.state:
                self._go(target)
            events += self._on[cls](packet)
            if target is SessionState.CLOSED:
                events.append(Closed(_CLOSE_REASONS[cls]))
                break
            if self.state is SessionState.CLOSED:  # the handler found a protocol error
                break
        if framing is not None and self.state is not SessionState.CLOSED:
            events += self._close(f"protocol error: {framing}")
        return events

    def _on_sequenced(self, packet: SequencedData) -> list[Event]:
        seq = self._server_seq
        if seq >= MAX_SEQUENCE:  # the message after it could never be asked for
            return self._close(
                f"protocol error: sequence number {seq} leaves none to log in at after it"
            )
        self._server_seq = seq + 1
        data = packet.message
        window = self.replay_window
        events: list[Event] = []
        if seq < self.next_sequence:  # a replay: equal to what was delivered? (class docs)
            if not self._digest_low <= seq < self._digest_next:  # window 0: never
                self.unchecked_replays += 1
                return []
            if self._digests[(seq - self._digest_base) % window] == hash(data):
                return []
            if seq == self._accepted_at and self._digest_low < seq <= self._requested[1]:
                return self._check_earlier(seq)
            events.append(self._diverged(seq))
        self.next_sequence = seq + 1
        if window:
            digests, nxt = self._digests, self._digest_next
            if seq != nxt and (seq > nxt or seq < self._digest_low):
                del digests[:]  # not next to the digests kept: start again from seq
                self._digest_base = self._digest_low = seq
            i = seq - self._digest_base
            if i == len(digests) < window:  # still filling the ring
                digests.append(hash(data))
            else:
                digests[i % window] = hash(data)
            self._digest_next = nxt = seq + 1
            if nxt - self._digest_low > window:  # the oldest one was just overwritten
                self._digest_low = nxt - window
        events.append(Message(data, seq))
        return events

    def _check_earlier(self, seq: int) -> list[Event]:
        """The first message of this connection, ``seq``, differs, and the server started
        there only because its stream ends before (it was asked for more): its messages
        from the oldest digest kept to ``seq`` - 1 were not sent, so not checked. Log in
        again asking for them (class docs, "Replays are checked")."""
        low = self._digest_low
        self._check_from = low
        log.warning(
            "session %r: the server's first message, %d, differs from the one delivered; "
            "logging in again at %d to find where its stream diverged",
            self.session,
            seq,
            low,
        )
        return self._close(
            f"stream diverged: message {seq} differs, logging in again at {low} to check "
            "the messages before it"
        )

    def _diverged(self, seq: int) -> StreamDiverged:
        """Message ``seq`` differs from the one delivered: deliver from it on as new, the
        digests after it forgotten (the class docs, "Replays are checked")."""
        self.streams_diverged += 1
        log.warning(
            "session %r: the server's message %d differs from the one delivered: its "
            "stream was reset (or is another); the %d messages delivered from %d to %d "
            "were not this stream's, its messages from %d on are delivered as new",
            self.session,
            seq,
            self.next_sequence - seq,
            seq,
            self.next_sequence - 1,
            seq,
        )
        self._digest_next = seq  # forget the digests from seq on
        return StreamDiverged(self.session, seq)

    def _on_accepted(self, packet: LoginAccepted) -> list[Event]:
        # padding on either side is not the session's: a server padding on the right
        # (the spec pads on the left) named "S1", not "S1" and 8 spaces, which the next
        # Login Request asked for and a server reading the spec's way refused. Test
        # (test_soupbintcp_hostile_server.py):
        # test_a_session_padded_on_the_wrong_side_is_asked_for_without_its_padding
        session, start = packet.session.strip(" "), packet.sequence_number
        wanted, asked = self._requested
        if wanted.strip() and session != wanted.strip():
            return self._close(
                f"protocol error: Login Accepted for session {session!r}, {wanted!r} requested"
            )
        if start == 0:
            return self._close("protocol error: Login Accepted at sequence number 0")
        self.session = session
        self._server_seq = self._accepted_at = start
        self._check_from = None
        skipped = 0
        if asked and start > self.next_sequence:
            skipped = start - self.next_sequence
            self.skipped_messages += skipped
            log.warning(
                "server resumes session %r at %d: %d messages (%d to %d) will not be replayed",
                session,
                start,
                skipped,
                self.next_sequence,
                start - 1,
            )
        if start > self.next_sequence:
            self.next_sequence = start
        return [Accepted(session, start, skipped)]

    def _on_end(self, packet: EndOfSession) -> list[Event]:
        self.ended = True
        return [SessionEnded()]

    def _send(self, packet: Packet, now: float) -> None:
        """Queue a packet; the table must allow sending it (a bug here otherwise)."""
        data = build_packet(packet)
        self._sent_packet(type(packet))
        self._out += data
        self._last_send = now

    def _close(self, reason: str) -> list[Event]:
        self._closing()
        return [Closed(reason)]


# ------------------------------------------------------------------ server
#: Most distinct keys a reason counter holds; later new reasons count under "other".
MAX_REASON_KINDS = 64
_NUMBER = re.compile(r"\d+")


def reason_kind(reason: str) -> str:
    """The fixed part of a close or error reason: the text before its first ``": "``,
    numbers shown as ``N``.

    Details (a packet length, a type byte) are the peer's to choose, so counters are
    keyed by this, not by the whole reason.
    """
    return _NUMBER.sub("N", reason.split(": ", 1)[0])


def count_reason(counts: dict[str, int], reason: str, limit: int = MAX_REASON_KINDS) -> None:
    """Count ``reason`` by :func:`reason_kind` in ``counts``, holding at most ``limit`` keys
    (a kind not yet held counts under ``"other"`` once the limit is reached)."""
    key = reason_kind(reason)
    if key not in counts and len(counts) >= limit - 1:
        key = "other"
    counts[key] = counts.get(key, 0) + 1


@dataclass
class ServerStats:
    logins: int = 0
    #: Logins refused for wrong credentials (``throttled`` ones are not checked, not here).
    bad_logins: int = 0
    protocol_errors: int = 0
    rate_limited: int = 0
    timeouts: int = 0
    #: Logins refused unchecked: their source address failed too many logins recently.
    login_throttled: int = 0
    #: Logins with the right password refused because the session is already logged in.
    duplicate_logins: int = 0
    #: Source addresses dropped from the full failed-login table (least recent first).
    sources_forgotten: int = 0
    #: Connections closed at once: their address already had ``max_pending_per_source``
    #: connections awaiting login.
    pending_refused: int = 0
    #: Protocol errors logged at DEBUG, not WARNING: their address had logged its share.
    warnings_suppressed: int = 0
    #: Protocol errors by :func:`reason_kind`, at most ``MAX_REASON_KINDS`` keys.
    by_reason: dict[str, int] = field(default_factory=dict)


class SourceThrottle:
    """Failed attempts per source address: a token bucket each, in a bounded table.

    A source may fail ``burst`` times in a row; after that one more failure is allowed
    per ``1 / rate`` seconds (the bucket refills at ``rate`` tokens a second, up to
    ``burst``). :meth:`blocked` says whether a source has no token left: the caller then
    refuses it *without* checking its password, so a guesser learns nothing while
    blocked. Only failures are recorded; the table holds at most ``max_sources``
    addresses and forgets the one that failed least recently beyond that (a forgotten
    source starts again with ``burst`` attempts). Sans-I/O: time is passed in.
    """

    def __init__(self, burst: int = 5, rate: float = 0.2, max_sources: int = 10_000) -> None:
        if burst < 1 or rate <= 0 or max_sources < 1:
            raise ValueError(
                f"need burst >= 1, rate > 0 and max_sources >= 1, got {burst}, {rate}, {max_sources}"
            )
        self.burst = burst
        self.rate = rate
        self.max_sources = max_sources
        self.forgotten = 0
        # Insertion order is recency of the last failure.
        self._buckets: dict[Hashable, tuple[float, float]] = {}

    def __len__(self) -> int:
        return len(self._buckets)

    def _tokens(self, source: Hashable, now: float) -> float:
        held = self._buckets.get(source)
        if held is None:
            return float(self.burst)
        tokens, last = held
        return min(float(self.burst), tokens + max(0.0, now - last) * self.rate)

    def blocked(self, source: Hashable, now: float) -> bool:
        """True while ``source`` has no failure left to spend."""
        return self._tokens(source, now) < 1.0

    def failed(self, source: Hashable, now: float) -> None:
        """Record one failure of ``source``."""
        tokens = self._tokens(source, now) - 1.0
        buckets = self._buckets
        if buckets.pop(source, None) is None and len(buckets) >= self.max_sources:
            del buckets[next(iter(buckets))]
            self.forgotten += 1
        buckets[source] = (max(0.0, tokens), now)


class SoupServer:
    """Shared state of a SoupBinTCP server for one session (one OUCH account).

    Keeps the sequenced stream (every message published, replayed from any
    requested sequence on re-login), the users, and the limits each
    :class:`ServerConnection` enforces: packet length and rate per connection,
    failed logins per source address (``failed_login_burst`` in a row, then one per
    ``1 / failed_login_rate`` seconds, in a table of ``max_login_sources``
    addresses), and one logged-in connection at a time (:attr:`active`).

    **Per address, also.** At most ``max_pending_per_source`` connections of one address
    await login at once: another is closed as it opens (``pending_refused``, reason
    "connection refused: too many awaiting login from this address"); and at most
    ``max_pending`` (256) of all addresses together ("... from all addresses"), so
    connections from many addresses cannot take every descriptor of the process either
    (its feed and re-request sockets, its files; test:
    ``..::test_connections_awaiting_login_are_capped_in_all``). Protocol errors are
    logged as warnings at the failed-login pace, per address (the same
    :class:`SourceThrottle` rule in a table of its own: ``failed_login_burst`` lines,
    then one per ``1 / failed_login_rate`` seconds), the rest at DEBUG
    (``warnings_suppressed``); every one is counted. Why: one address holding
    connections that never log in took every descriptor of the process (the legitimate
    client could not connect for the login timeout, and again as soon as it was
    renewed), and a peer that connected, sent a bad byte and reconnected wrote a
    warning line per connection, without end. Tests:
    ``test_soupbintcp_server_abuse.py::test_connections_awaiting_login_are_capped_per_address``,
    ``..._over_tcp``, ``..::test_protocol_error_warnings_are_rate_limited_per_address``.
    """

    def __init__(
        self,
        users: Mapping[str, str],
        *,
        session: str = "SESSION001",
        version: SoupVersion = SoupVersion.V4_1,
        heartbeat_interval: float = 1.0,
        timeout: float = 15.0,
        login_timeout: float = 30.0,
        max_packet_length: int = 1024,
        max_rate: float = 5000.0,
        burst: int = 1000,
        failed_login_burst: int = 5,
        failed_login_rate: float = 0.2,
        max_login_sources: int = 10_000,
        max_pending_per_source: int = 16,
        max_pending: int = 256,
    ) -> None:
        if not users:
            raise ValueError("a server needs at least one user")
        # the spec makes Username and Password case-insensitive
        self._users = [(u.upper().encode(), p.upper().encode()) for u, p in users.items()]
        self.session = session
        self.version = version
        self.heartbeat_interval = heartbeat_interval
        self.timeout = timeout
        self.login_timeout = login_timeout
        self.max_packet_length = max_packet_length
        self.max_rate = max_rate
        self.burst = burst
        self.stream: list[bytes] = []
        self.ended = False
        self.stats = ServerStats()
        self.login_throttle = SourceThrottle(
            failed_login_burst, failed_login_rate, max_login_sources
        )
        #: protocol-error warnings per address (the failed-login pace; class docs)
        self.warn_throttle = SourceThrottle(
            failed_login_burst, failed_login_rate, max_login_sources
        )
        if max_pending_per_source < 1:
            raise ValueError(f"max_pending_per_source must be >= 1, got {max_pending_per_source}")
        self.max_pending_per_source = max_pending_per_source
        if max_pending < max_pending_per_source:
            raise ValueError(
                f"max_pending ({max_pending}) must be at least max_pending_per_source "
                f"({max_pending_per_source})"
            )
        self.max_pending = max_pending
        #: connections awaiting login, all addresses together
        self.pending_total = 0
        #: connections awaiting login, by address (only addresses with one or more)
        self.pending: dict[Hashable, int] = {}
        #: The logged-in connection, if any (one at a time: see ``ServerConnection._login``).
        self.active: ServerConnection | None = None

    def __repr__(self) -> str:
        return f"SoupServer(session={self.session!r}, users={len(self._users)}, sequenced={len(self.stream)})"

    @property
    def next_sequence(self) -> int:
        return len(self.stream) + 1

    def publish(self, message: bytes) -> int:
        """Append a sequenced message; returns its sequence number. Connections
        send it on their next :meth:`ServerConnection.pump`."""
        if self.ended:
            raise SessionError("the session has ended")
        self.stream.append(bytes(message))
        return len(self.stream)

    def end_session(self) -> None:
        self.ended = True

    def authenticate(self, username: str, password: str) -> bool:
        """Constant-time check against every user (no early exit on a name match)."""
        u = username.upper().encode()
        p = password.upper().encode()
        ok = False
        for user, pw in self._users:
            ok |= hmac.compare_digest(u, user) & hmac.compare_digest(p, pw)
        return ok

    def connection(
        self, now: float, peer: str = "", source: Hashable | None = None
    ) -> ServerConnection:
        """A new TCP connection from ``peer`` (for logs); ``source`` is its address (the
        failed-login throttle's key; ``peer`` when not given)."""
        return ServerConnection(self, now, peer, source)

    def _count(self, reason: str) -> None:
        count_reason(self.stats.by_reason, reason)


class ServerConnection(_Core):
    """The server side of one TCP connection.

    What may be sent or received when is
    :data:`~tickwire.soupbintcp.state.TRANSITIONS` (role ``SERVER``): a packet it
    forbids is a protocol error (counted, the connection closed); sending data
    before login raises :class:`SessionError`. The Login Request is legal while
    awaiting login, and the answer the server sends (:meth:`_login`) moves the
    connection on: Login Accepted to ``LOGGED_IN``, Login Rejected to ``CLOSED``.
    """

    role = Role.SERVER

    def __init__(
        self, server: SoupServer, now: float, peer: str = "", source: Hashable | None = None
    ) -> None:
        self.server = server
        self.peer = peer
        self.source: Hashable = peer if source is None else source
        self.username: str | None = None
        #: why the connection was closed as it opened (None: it was not; class docs of
        #: :class:`SoupServer`); the adapter closes it and reports ``Closed(refused)``
        self.refused: str | None = None
        self._pending = False  # counted in server.pending
        self._go(SessionState.AWAITING_LOGIN)
        self.cursor = 0  # index into server.stream of the next message to send
        #: At most this many bytes of sequenced data queued per :meth:`pump` (None: all
        #: of the backlog). The aio adapter sets it and pumps again once the socket took
        #: the batch (:attr:`backlog`), so a peer that stops reading costs a batch, not a
        #: copy of the stream the server keeps anyway.
        self.batch_bytes: int | None = None
        self.timeout = server.timeout
        self._framer = PacketFramer(server.max_packet_length)
        self._out = bytearray()
        self._opened = now
        self._last_recv = now
        self._last_send = now
        self._tokens = float(server.burst)
        self._token_time = now
        self._on: dict[type[Packet], Callable[[Any, float], list[Event]]] = {
            LoginRequest: self._login,
            UnsequencedData: lambda p, now: [Message(p.message, None)],
            ClientHeartbeat: lambda p, now: [],
            Debug: lambda p, now: [],
            LogoutRequest: lambda p, now: [],
        }
        pending = server.pending
        if pending.get(self.source, 0) >= server.max_pending_per_source:
            server.stats.pending_refused += 1
            self.refused = "connection refused: too many awaiting login from this address"
            self._closing()
        elif server.pending_total >= server.max_pending:
            server.stats.pending_refused += 1
            self.refused = "connection refused: too many awaiting login from all addresses"
            self._closing()
        else:
            pending[self.source] = pending.get(self.source, 0) + 1
            server.pending_total += 1
            self._pending = True

    def _go(self, state: SessionState) -> None:
        if self._pending and state is not SessionState.AWAITING_LOGIN:
            self._pending = False  # logged in or closed: no longer awaiting login
            self.server.pending_total -= 1
            pending = self.server.pending
            left = pending[self.source] - 1
            if left:
                pending[self.source] = left
            else:
                del pending[self.source]
        super()._go(state)

    @property
    def logged_in(self) -> bool:
        return self.state is SessionState.LOGGED_IN

    @property
    def closed(self) -> bool:
        return self.state is SessionState.CLOSED

    def data_to_send(self) -> bytes:
        data = bytes(self._out)
        self._out.clear()
        return data

    @property
    def backlog(self) -> bool:
        """Whether :meth:`pump` has something to queue (messages not yet sent, or the
        session's end)."""
        return self.can_send(SequencedData) and (
            self.cursor < len(self.server.stream) or self.server.ended
        )

    def pump(self, now: float) -> list[Event]:
        """Queue the sequenced messages not yet sent, at most :attr:`batch_bytes` of them
        (at least one), then End of Session once every message is queued."""
        if not self.can_send(SequencedData):
            return []
        stream = self.server.stream
        if self.cursor < len(stream):
            out, limit, cursor = self._out, self.batch_bytes, self.cursor
            end = len(stream)
            while cursor < end:
                out += data_packet("S", stream[cursor])
                cursor += 1
                if limit is not None and len(out) >= limit:
                    break
            self.cursor = cursor
            self._last_send = now
            if cursor < end:
                return []
        if self.server.ended:
            self._send(EndOfSession(), now)
            return [Closed("end of session")]
        return []

    def send_unsequenced(self, message: bytes, now: float) -> None:
        if not self.can_send(UnsequencedData):
            raise SessionError("not logged in")
        if not UnsequencedData.spec.server_sends(self.server.version):
            raise SessionError(
                f"SoupBinTCP {self.server.version.value} has no server Unsequenced Data"
            )
        self._out += data_packet("U", message)
        self._last_send = now

    def next_deadline(self) -> float | None:
        if not self.reading:
            return None
        if self.state is SessionState.AWAITING_LOGIN:
            return min(self._opened + self.server.login_timeout, self._last_recv + self.timeout)
        return min(self._last_recv + self.timeout, self._last_send + self.server.heartbeat_interval)

    def timer(self, now: float) -> list[Event]:
        if not self.reading:
            return []
        if (
            self.state is SessionState.AWAITING_LOGIN
            and now - self._opened >= self.server.login_timeout
        ):
            self.server.stats.timeouts += 1
            return self._close("no login request in time")
        if now - self._last_recv >= self.timeout:
            self.server.stats.timeouts += 1
            return self._close("heartbeat timeout: nothing from the client")
        if (
            self.can_send(ServerHeartbeat)
            and now - self._last_send >= self.server.heartbeat_interval
        ):
            self._send(ServerHeartbeat(), now)
        return []

    def connection_lost(self) -> None:
        self._release()
        self._closing()

    def receive_data(self, data: bytes, now: float) -> list[Event]:
        """Frame and handle the client's bytes; returns the events. The heartbeat
        timeout restarts at a whole packet, not at every byte (:meth:`_Core._frame`)."""
        if not self.reading:
            return []
        bodies, framing = self._frame(data, now)
        events: list[Event] = []
        for body in bodies:
            if not self._take_token(now):
                self.server.stats.rate_limited += 1
                events += self._close("packet rate limit exceeded")
                break
            try:
                packet = parse_client_packet(body, self.server.version)
            except PacketError as exc:
                events += self._protocol_error(str(exc), now)
                break
            # the table says whether the packet is legal now and what state follows;
            # the transition first: a Login Request keeps the state, and the answer
            # the handler sends moves it on
            cls = type(packet)
            target = self._received.get(cls)
            if target is None:
                events += self._protocol_error(f"{cls.spec.name} {_WHEN[self.state]}", now)
                break
            if target is not self.state:
                self._go(target)
            events += self._on[cls](packet, now)
            if target is SessionState.CLOSED:
                self._release()
                events.append(Closed(_CLOSE_REASONS[cls]))
            if not self._received:  # closed, here or by the handler
                break
        if framing is not None and self._received:
            events += self._protocol_error(str(framing), now)
        return events

    def _take_token(self, now: float) -> bool:
        s = self.server
        self._tokens = min(float(s.burst), self._tokens + (now - self._token_time) * s.max_rate)
        self._token_time = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True

    def _login(self, req: LoginRequest, now: float) -> list[Event]:
        """Check a Login Request, in this order; every refusal answers Login Rejected,
        is counted and closes the connection.

        1. The source address failed too many logins lately (:class:`SourceThrottle`):
           "A" (Not Authorized) without checking the password, so guessing at the
           connection rate learns nothing (``login_throttled``).
        2. Wrong username or password: "A", and one failure charged to the source
           (``bad_logins``).
        3. Another session requested, or the session ended: "S" (``bad_logins``). The
           Requested Session is compared without spaces on either side: the spec pads it
           on the left, but "S1" padded on the right names "S1" too, as the client reads a
           Login Accepted (``ClientSession._on_accepted``). Why: a client padding on the
           right was refused "S" for the session it named. Test:
           ``test_soupbintcp_hostile_client.py::test_a_requested_session_padded_on_the_right_logs_in``.
        4. The session is already logged in on another connection: "S" (Session not
           available), and the first connection carries on (``duplicate_logins``). Two
           live connections would each see the other's answers (the sequenced stream is
           the session's), and logging the first out instead would let anyone holding
           the password take over the session mid-day and its open orders, or two
           reconnecting engines evict each other forever. A dead first connection is
           released when the transport reports it lost, or by its heartbeat timeout.
        """
        s = self.server
        if s.login_throttle.blocked(self.source, now):
            s.stats.login_throttled += 1
            log.debug("throttled login for user %r from %s", req.username, self.peer or "?")
            self._send(LoginRejected(LoginRejected.NOT_AUTHORIZED), now)
            return self._close("login rejected: too many failed logins from this address")
        if not s.authenticate(req.username, req.password):
            s.stats.bad_logins += 1
            s.login_throttle.failed(self.source, now)
            s.stats.sources_forgotten = s.login_throttle.forgotten
            log.warning("rejected login for user %r from %s", req.username, self.peer or "?")
            self._send(LoginRejected(LoginRejected.NOT_AUTHORIZED), now)
            return self._close("login rejected: not authorized")
        wanted = req.requested_session.strip(" ")  # padding on either side (step 3)
        if (wanted and wanted != s.session.strip(" ")) or s.ended:
            s.stats.bad_logins += 1
            self._send(LoginRejected(LoginRejected.SESSION_NOT_AVAILABLE), now)
            return self._close("login rejected: session not available")
        if s.active is not None and s.active is not self and not s.active.closed:
            s.stats.duplicate_logins += 1
            self._warn(
                now,
                "refused a second login for user %r from %s: session %s is logged in from %s",
                req.username,
                self.peer or "?",
                s.session,
                s.active.peer or "?",
            )
            self._send(LoginRejected(LoginRejected.SESSION_NOT_AVAILABLE), now)
            return self._close("login rejected: session already logged in")
        if req.heartbeat_timeout:
            self.timeout = req.heartbeat_timeout / 1000.0
        # 0 asks for the most recent message onwards; beyond the end means "from the end"
        requested = req.requested_sequence_number
        start = s.next_sequence if requested == 0 else min(requested, s.next_sequence)
        self.username = req.username
        s.active = self
        self.cursor = start - 1
        s.stats.logins += 1
        log.info("user %r logged in from %s at sequence %d", req.username, self.peer or "?", start)
        self._send(LoginAccepted(s.session, start), now)
        events: list[Event] = [LoggedIn(req.username, s.session, start)]
        events += self.pump(now)
        return events

    def _protocol_error(self, reason: str, now: float) -> list[Event]:
        s = self.server
        s.stats.protocol_errors += 1
        s._count(reason.split(":")[0])
        self._warn(now, "closing %s: %s", self.peer or "connection", reason)
        return self._close(f"protocol error: {reason}")

    def _warn(self, now: float, msg: str, *args: object) -> None:
        """A warning a peer's packets cause, at the failed-login pace per address
        (:class:`SoupServer`'s ``warn_throttle``); beyond it at DEBUG, counted in
        ``warnings_suppressed``. Protocol errors and refused second logins use it."""
        s = self.server
        if s.warn_throttle.blocked(self.source, now):  # this address logged its share
            s.stats.warnings_suppressed += 1
            log.debug(msg, *args)
        else:
            s.warn_throttle.failed(self.source, now)
            log.warning(msg, *args)

    def _send(self, packet: Packet, now: float) -> None:
        """Queue a packet; the table must allow sending it (a bug here otherwise)."""
        self._sent_packet(type(packet))
        if self.state is SessionState.CLOSED:
            self._release()
        self._out += build_packet(packet)
        self._last_send = now

    def _release(self) -> None:
        if self.server.active is self:
            self.server.active = None

    def _close(self, reason: str) -> list[Event]:
        self._release()
        self._closing()
        return [Closed(reason)]
