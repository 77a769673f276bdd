"""Sans-I/O SoupBinTCP session cores (in the manner of h11 and wsproto).

Nothing here touches a socket or a clock. A core is fed received bytes and the
current time (``now``, seconds from any monotonic clock) and returns events;
whatever it wants sent accumulates until :meth:`data_to_send` drains it. A
:class:`Closed` event tells the transport to flush and close. That makes
reconnects, heartbeat timeouts and garbage input testable with simulated time;
:mod:`tickwire.soupbintcp.aio` wraps the cores for asyncio.

Sequencing (spec 1.2): the server numbers its Sequenced Data from 1; a client
logs in again with its session and its next expected sequence number and so
sees every message exactly once across reconnects. :class:`ClientSession`
additionally drops any replayed message it already delivered, so a server
that resumes too early still causes no duplicate.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

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

__all__ = [
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
    """Client: the server accepted the login (``sequence_number`` comes next)."""

    session: str
    sequence_number: int


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
class ClientState(Enum):
    IDLE = "idle"
    LOGIN_SENT = "login_sent"
    LOGGED_IN = "logged_in"
    CLOSED = "closed"


class ClientSession:
    """The client side of one SoupBinTCP session, across any number of connections.

    Call :meth:`connect` for every new TCP connection: it queues a Login Request
    for the current session and the next expected sequence number, so a
    reconnect resumes exactly where the last connection stopped.
    """

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
    ) -> None:
        self.username = username
        self._password = password
        self.session = session
        self.next_sequence = next_sequence
        self.version = version
        self.heartbeat_interval = heartbeat_interval
        self.timeout = timeout
        self.max_packet_length = max_packet_length
        self.state = ClientState.IDLE
        self.ended = False
        self._out = bytearray()
        self._framer = PacketFramer(max_packet_length)
        self._server_seq = 0
        self._last_recv = 0.0
        self._last_send = 0.0

    def __repr__(self) -> str:  # no password
        return (
            f"ClientSession(username={self.username!r}, session={self.session!r}, "
            f"next_sequence={self.next_sequence}, state={self.state.value})"
        )

    def connect(self, now: float) -> None:
        """A new TCP connection is up: queue the Login Request."""
        if self.state in (ClientState.LOGIN_SENT, ClientState.LOGGED_IN):
            raise SessionError(f"already connected ({self.state.value})")
        self._framer = PacketFramer(self.max_packet_length)
        self._out.clear()
        timeout_ms = None
        if self.version is SoupVersion.V4_1:
            timeout_ms = min(99999, int(self.timeout * 1000))
        self._send(
            LoginRequest(
                self.username,
                self._password,
                self.session,
                self.next_sequence,
                timeout_ms,
            ),
            now,
        )
        self._last_recv = now
        self.state = ClientState.LOGIN_SENT

    def send_message(self, message: bytes, now: float) -> None:
        """Queue an Unsequenced Data packet (only once logged in)."""
        if self.state is not ClientState.LOGGED_IN:
            raise SessionError(f"cannot send data while {self.state.value}")
        self._out += data_packet("U", message)
        self._last_send = now

    def logout(self, now: float) -> list[Event]:
        if self.state is ClientState.LOGGED_IN:
            self._send(LogoutRequest(), now)
        return self._close("logout")

    def connection_lost(self) -> None:
        """The transport went away; the session survives for the next :meth:`connect`."""
        if self.state is not ClientState.CLOSED:
            self.state = ClientState.CLOSED

    def data_to_send(self) -> bytes:
        data = bytes(self._out)
        self._out.clear()
        return data

    def next_deadline(self) -> float | None:
        """When :meth:`timer` next has something to do (None when not connected)."""
        if self.state is ClientState.LOGIN_SENT:
            return self._last_recv + self.timeout
        if self.state is ClientState.LOGGED_IN:
            return min(self._last_recv + self.timeout, self._last_send + self.heartbeat_interval)
        return None

    def timer(self, now: float) -> list[Event]:
        """Heartbeats and the dead-peer timeout."""
        if self.state not in (ClientState.LOGIN_SENT, ClientState.LOGGED_IN):
            return []
        if now - self._last_recv >= self.timeout:
            return self._close("heartbeat timeout: nothing from the server")
        if self.state is ClientState.LOGGED_IN and now - self._last_send >= self.heartbeat_interval:
            self._send(ClientHeartbeat(), now)
        return []

    def receive_data(self, data: bytes, now: float) -> list[Event]:
        if self.state not in (ClientState.LOGIN_SENT, ClientState.LOGGED_IN):
            return []
        self._last_recv = now
        events: list[Event] = []
        try:
            bodies = self._framer.feed(data)
        except PacketError as exc:
            return self._close(f"protocol error: {exc}")
        for body in bodies:
            try:
                packet = parse_server_packet(body, self.version)
            except PacketError as exc:
                events += self._close(f"protocol error: {exc}")
                return events
            events += self._handle(packet)
            if self._closed_now():
                break
        return events

    def _closed_now(self) -> bool:
        # a method, so that type narrowing of ``state`` does not outlive _handle()
        return self.state is ClientState.CLOSED

    def _handle(self, packet: Packet) -> list[Event]:
        if isinstance(packet, SequencedData):
            if self.state is not ClientState.LOGGED_IN:
                return self._close("protocol error: data before Login Accepted")
            seq = self._server_seq
            self._server_seq += 1
            if seq < self.next_sequence:
                return []  # a replay of something already delivered
            self.next_sequence = seq + 1
            return [Message(packet.message, seq)]
        if isinstance(packet, ServerHeartbeat):
            return []
        if isinstance(packet, UnsequencedData):
            if self.state is not ClientState.LOGGED_IN:
                return self._close("protocol error: data before Login Accepted")
            return [Message(packet.message, None)]
        if isinstance(packet, Debug):
            return [DebugText(packet.text)]
        if isinstance(packet, LoginAccepted):
            if self.state is not ClientState.LOGIN_SENT:
                return self._close("protocol error: unexpected Login Accepted")
            self.state = ClientState.LOGGED_IN
            self.session = packet.session
            self._server_seq = packet.sequence_number
            if packet.sequence_number > self.next_sequence:
                log.warning(
                    "server resumes at %d, %d messages not replayed",
                    packet.sequence_number,
                    packet.sequence_number - self.next_sequence,
                )
                self.next_sequence = packet.sequence_number
            return [Accepted(packet.session, packet.sequence_number)]
        if isinstance(packet, LoginRejected):
            return [Rejected(packet.reject_reason_code), *self._close("login rejected")]
        if isinstance(packet, EndOfSession):
            self.ended = True
            return [SessionEnded(), *self._close("end of session")]
        return self._close(f"protocol error: unexpected {type(packet).__name__}")

    def _send(self, packet: Packet, now: float) -> None:
        self._out += build_packet(packet)
        self._last_send = now

    def _close(self, reason: str) -> list[Event]:
        self.state = ClientState.CLOSED
        return [Closed(reason)]


# ------------------------------------------------------------------ server
@dataclass
class ServerStats:
    logins: int = 0
    bad_logins: int = 0
    protocol_errors: int = 0
    rate_limited: int = 0
    timeouts: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)


class SoupServer:
    """Shared state of a SoupBinTCP server for one session (one OUCH account).

    Keeps the sequenced stream (every message published, replayed from any
    requested sequence on re-login), the users, and the limits each
    :class:`ServerConnection` enforces.
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

    def connection(self, now: float, peer: str = "") -> ServerConnection:
        return ServerConnection(self, now, peer)

    def _count(self, reason: str) -> None:
        self.stats.by_reason[reason] = self.stats.by_reason.get(reason, 0) + 1


class ServerConnection:
    """The server side of one TCP connection."""

    def __init__(self, server: SoupServer, now: float, peer: str = "") -> None:
        self.server = server
        self.peer = peer
        self.username: str | None = None
        self.logged_in = False
        self.closed = False
        self.cursor = 0  # index into server.stream of the next message to send
        self.timeout = server.timeout
        self._framer = PacketFramer(server.max_packet_length)
        self._out = bytearray()
        self._opened = now
        self._last_recv = now
        self._last_send = now
        self._tokens = float(server.burst)
        self._token_time = now
        self._sent_end = False

    def data_to_send(self) -> bytes:
        data = bytes(self._out)
        self._out.clear()
        return data

    def pump(self, now: float) -> list[Event]:
        """Queue every sequenced message not yet sent (and End of Session)."""
        if not self.logged_in or self.closed:
            return []
        stream = self.server.stream
        if self.cursor < len(stream):
            for msg in stream[self.cursor :]:
                self._out += data_packet("S", msg)
            self.cursor = len(stream)
            self._last_send = now
        if self.server.ended and not self._sent_end:
            self._sent_end = True
            self._send(EndOfSession(), now)
            return self._close("end of session")
        return []

    def send_unsequenced(self, message: bytes, now: float) -> None:
        if not self.logged_in or self.closed:
            raise SessionError("not logged in")
        if self.server.version is SoupVersion.V3_0:
            raise SessionError("SoupBinTCP 3.0 has no server Unsequenced Data")
        self._out += data_packet("U", message)
        self._last_send = now

    def next_deadline(self) -> float | None:
        if self.closed:
            return None
        if not self.logged_in:
            return min(self._opened + self.server.login_timeout, self._last_recv + self.timeout)
        return min(self._last_recv + self.timeout, self._last_send + self.server.heartbeat_interval)

    def timer(self, now: float) -> list[Event]:
        if self.closed:
            return []
        if not self.logged_in and now - self._opened >= self.server.login_timeout:
            self.server.stats.timeouts += 1
            return self._close("no login request in time")
        if now - self._last_recv >= self.timeout:
            self.server.stats.timeouts += 1
            return self._close("heartbeat timeout: nothing from the client")
        if self.logged_in and now - self._last_send >= self.server.heartbeat_interval:
            self._send(ServerHeartbeat(), now)
        return []

    def connection_lost(self) -> None:
        self.closed = True

    def receive_data(self, data: bytes, now: float) -> list[Event]:
        if self.closed:
            return []
        self._last_recv = now
        try:
            bodies = self._framer.feed(data)
        except PacketError as exc:
            return self._protocol_error(str(exc))
        events: list[Event] = []
        for body in bodies:
            if not self._take_token(now):
                self.server.stats.rate_limited += 1
                events += self._close("packet rate limit exceeded")
                break
            try:
                packet = parse_client_packet(body, self.server.version)
            except PacketError as exc:
                events += self._protocol_error(str(exc))
                break
            events += self._handle(packet, now)
            if self.closed:
                break
        return events

    def _take_token(self, now: float) -> bool:
        s = self.server
        self._tokens = min(float(s.burst), self._tokens + (now - self._token_time) * s.max_rate)
        self._token_time = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True

    def _handle(self, packet: Packet, now: float) -> list[Event]:
        if isinstance(packet, Debug | ClientHeartbeat):
            return []
        if isinstance(packet, LoginRequest):
            if self.logged_in:
                return self._protocol_error("second Login Request")
            return self._login(packet, now)
        if not self.logged_in:
            return self._protocol_error(f"{type(packet).__name__} before login")
        if isinstance(packet, UnsequencedData):
            return [Message(packet.message, None)]
        if isinstance(packet, LogoutRequest):
            return self._close("logout")
        return self._protocol_error(f"unexpected {type(packet).__name__}")

    def _login(self, req: LoginRequest, now: float) -> list[Event]:
        s = self.server
        if not s.authenticate(req.username, req.password):
            s.stats.bad_logins += 1
            log.warning("rejected login for user %r from %s", req.username, self.peer or "?")
            self._send(LoginRejected(LoginRejected.NOT_AUTHORIZED), now)
            return self._close("login rejected: not authorized")
        if (req.requested_session and req.requested_session != s.session) or s.ended:
            s.stats.bad_logins += 1
            self._send(LoginRejected(LoginRejected.SESSION_NOT_AVAILABLE), now)
            return self._close("login rejected: session not available")
        if req.heartbeat_timeout:
            self.timeout = req.heartbeat_timeout / 1000.0
        # 0 asks for the most recent message onwards; beyond the end means "from the end"
        requested = req.requested_sequence_number
        start = s.next_sequence if requested == 0 else min(requested, s.next_sequence)
        self.username = req.username
        self.logged_in = True
        self.cursor = start - 1
        s.stats.logins += 1
        log.info("user %r logged in from %s at sequence %d", req.username, self.peer or "?", start)
        self._send(LoginAccepted(s.session, start), now)
        events: list[Event] = [LoggedIn(req.username, s.session, start)]
        events += self.pump(now)
        return events

    def _protocol_error(self, reason: str) -> list[Event]:
        self.server.stats.protocol_errors += 1
        self.server._count(reason.split(":")[0])
        log.warning("closing %s: %s", self.peer or "connection", reason)
        return self._close(f"protocol error: {reason}")

    def _send(self, packet: Packet, now: float) -> None:
        self._out += build_packet(packet)
        self._last_send = now

    def _close(self, reason: str) -> list[Event]:
        self.closed = True
        return [Closed(reason)]
