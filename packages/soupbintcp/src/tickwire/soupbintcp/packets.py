"""SoupBinTCP 3.0, 4.0 and 4.1 logical packets.

Every packet is ``Packet Length (2, big-endian, counts type + payload)``,
``Packet Type (1)`` and a payload. Numeric fields of the login packets are
ASCII, right-justified and left-padded with spaces; the Session is likewise
left-padded (spec 2.2.1); Username and Password are padded on the right.

Versions differ only in two places: 4.0 added server-to-client Unsequenced
Data, 4.1 added the 5-digit Heartbeat Timeout (ms) to the Login Request.

The layouts are written once as construct structs (:data:`PACKET`); the hot
data packets also have a direct ``struct`` fast path, checked against the
construct layout by the tests.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar

import construct as cs

__all__ = [
    "PACKET",
    "ClientHeartbeat",
    "Debug",
    "EndOfSession",
    "LoginAccepted",
    "LoginRejected",
    "LoginRequest",
    "LogoutRequest",
    "Packet",
    "PacketError",
    "PacketFramer",
    "SequencedData",
    "ServerHeartbeat",
    "SoupVersion",
    "UnsequencedData",
    "build_packet",
    "data_packet",
    "parse_client_packet",
    "parse_server_packet",
]


class SoupVersion(Enum):
    V3_0 = "3.0"
    V4_0 = "4.0"
    V4_1 = "4.1"


class PacketError(ValueError):
    """Bytes that are not a valid SoupBinTCP packet (or not valid from that side)."""


class _Numeric(cs.Adapter):  # type: ignore[misc]
    """ASCII decimal number, right-justified, left-padded with spaces."""

    def __init__(self, size: int) -> None:
        super().__init__(cs.Bytes(size))
        self.size = size

    def _decode(self, obj: bytes, context: Any, path: Any) -> int:
        text = obj.strip(b" ")
        if not text.isdigit():
            raise cs.ValidationError(f"not an ASCII number: {obj!r}", path=path)
        return int(text)

    def _encode(self, obj: int, context: Any, path: Any) -> bytes:
        if not isinstance(obj, int) or obj < 0:
            raise cs.ValidationError(f"{obj!r} is not a non-negative int", path=path)
        raw = str(obj).encode("ascii")
        if len(raw) > self.size:
            raise cs.ValidationError(f"{obj} does not fit {self.size} digits", path=path)
        return raw.rjust(self.size, b" ")


class _Text(cs.Adapter):  # type: ignore[misc]
    """Fixed-width ASCII; ``right`` pads on the right (left-justified), else on the left."""

    def __init__(self, size: int, *, right: bool) -> None:
        super().__init__(cs.Bytes(size))
        self.size = size
        self.right = right

    def _decode(self, obj: bytes, context: Any, path: Any) -> str:
        try:
            return obj.decode("ascii").strip(" ")
        except UnicodeDecodeError as exc:
            raise cs.ValidationError(f"non-ASCII text {obj!r}", path=path) from exc

    def _encode(self, obj: str, context: Any, path: Any) -> bytes:
        try:
            raw = obj.encode("ascii")
        except (UnicodeEncodeError, AttributeError) as exc:
            raise cs.ValidationError(f"{obj!r} is not ASCII text", path=path) from exc
        if len(raw) > self.size:
            raise cs.ValidationError(f"{obj!r} longer than {self.size}", path=path)
        return raw.ljust(self.size, b" ") if self.right else raw.rjust(self.size, b" ")


class _FreeText(cs.Adapter):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__(cs.GreedyBytes)

    def _decode(self, obj: bytes, context: Any, path: Any) -> str:
        return obj.decode("ascii", errors="replace")

    def _encode(self, obj: str, context: Any, path: Any) -> bytes:
        return obj.encode("ascii", errors="replace")


_LOGIN_REQUEST_40 = cs.Struct(
    "username" / _Text(6, right=True),
    "password" / _Text(10, right=True),
    "requested_session" / _Text(10, right=False),
    "requested_sequence_number" / _Numeric(20),
)
_LOGIN_REQUEST_41 = cs.Struct(
    *_LOGIN_REQUEST_40.subcons,
    "heartbeat_timeout" / _Numeric(5),
)

#: The declarative layout of every packet: length prefix, type, payload.
PACKET = cs.Prefixed(
    cs.Int16ub,
    cs.Struct(
        "packet_type" / cs.Bytes(1),
        "payload"
        / cs.Switch(
            cs.this.packet_type,
            {
                b"+": cs.Struct("text" / _FreeText()),
                b"A": cs.Struct(
                    "session" / _Text(10, right=False), "sequence_number" / _Numeric(20)
                ),
                b"J": cs.Struct("reject_reason_code" / _Text(1, right=True)),
                b"S": cs.Struct("message" / cs.GreedyBytes),
                b"U": cs.Struct("message" / cs.GreedyBytes),
                b"H": cs.Struct(),
                b"Z": cs.Struct(),
                b"L": cs.Select(
                    cs.Struct(*_LOGIN_REQUEST_41.subcons, cs.Terminated),
                    cs.Struct(*_LOGIN_REQUEST_40.subcons, cs.Terminated),
                ),
                b"R": cs.Struct(),
                b"O": cs.Struct(),
            },
            default=cs.Error,
        ),
        cs.Terminated,
    ),
)


class Packet:
    """Base of every SoupBinTCP packet."""

    __slots__ = ()
    packet_type: ClassVar[str]
    #: sent by the server (True), the client (False) or either (None)
    from_server: ClassVar[bool | None]

    def build(self) -> bytes:
        return build_packet(self)


@dataclass(frozen=True, slots=True)
class Debug(Packet):
    packet_type: ClassVar[str] = "+"
    from_server: ClassVar[bool | None] = None
    text: str


@dataclass(frozen=True, slots=True)
class LoginAccepted(Packet):
    packet_type: ClassVar[str] = "A"
    from_server: ClassVar[bool | None] = True
    session: str
    sequence_number: int


@dataclass(frozen=True, slots=True)
class LoginRejected(Packet):
    packet_type: ClassVar[str] = "J"
    from_server: ClassVar[bool | None] = True
    #: "A" not authorised, "S" session not available
    reject_reason_code: str

    NOT_AUTHORIZED: ClassVar[str] = "A"
    SESSION_NOT_AVAILABLE: ClassVar[str] = "S"


@dataclass(frozen=True, slots=True)
class SequencedData(Packet):
    packet_type: ClassVar[str] = "S"
    from_server: ClassVar[bool | None] = True
    message: bytes


@dataclass(frozen=True, slots=True)
class UnsequencedData(Packet):
    """Client to server (every version) or server to client (4.0 and later)."""

    packet_type: ClassVar[str] = "U"
    from_server: ClassVar[bool | None] = None
    message: bytes


@dataclass(frozen=True, slots=True)
class ServerHeartbeat(Packet):
    packet_type: ClassVar[str] = "H"
    from_server: ClassVar[bool | None] = True


@dataclass(frozen=True, slots=True)
class EndOfSession(Packet):
    packet_type: ClassVar[str] = "Z"
    from_server: ClassVar[bool | None] = True


@dataclass(frozen=True, slots=True)
class LoginRequest(Packet):
    """``heartbeat_timeout`` (ms) is sent only by SoupBinTCP 4.1 (``None`` otherwise)."""

    packet_type: ClassVar[str] = "L"
    from_server: ClassVar[bool | None] = False
    username: str
    password: str = field(repr=False)  # never in logs or reprs
    requested_session: str
    requested_sequence_number: int
    heartbeat_timeout: int | None = None


@dataclass(frozen=True, slots=True)
class ClientHeartbeat(Packet):
    packet_type: ClassVar[str] = "R"
    from_server: ClassVar[bool | None] = False


@dataclass(frozen=True, slots=True)
class LogoutRequest(Packet):
    packet_type: ClassVar[str] = "O"
    from_server: ClassVar[bool | None] = False


_CLASSES: dict[bytes, type[Packet]] = {
    c.packet_type.encode(): c
    for c in (
        Debug,
        LoginAccepted,
        LoginRejected,
        SequencedData,
        UnsequencedData,
        ServerHeartbeat,
        EndOfSession,
        LoginRequest,
        ClientHeartbeat,
        LogoutRequest,
    )
}
_EMPTY: dict[bytes, Packet] = {
    b"H": ServerHeartbeat(),
    b"Z": EndOfSession(),
    b"R": ClientHeartbeat(),
    b"O": LogoutRequest(),
}
_LEN = struct.Struct(">H")
MAX_PAYLOAD = 0xFFFF - 1


def build_packet(packet: Packet) -> bytes:
    """The wire bytes of a packet (length prefix included)."""
    if isinstance(packet, SequencedData | UnsequencedData):
        return data_packet(packet.packet_type, packet.message)
    values: dict[str, Any] = {}
    if isinstance(packet, Debug):
        values = {"text": packet.text}
    elif isinstance(packet, LoginAccepted):
        values = {"session": packet.session, "sequence_number": packet.sequence_number}
    elif isinstance(packet, LoginRejected):
        values = {"reject_reason_code": packet.reject_reason_code}
    elif isinstance(packet, LoginRequest):
        values = {
            "username": packet.username,
            "password": packet.password,
            "requested_session": packet.requested_session,
            "requested_sequence_number": packet.requested_sequence_number,
            # construct's Select tries the 4.1 layout first; without a timeout it fails
            # validation and the 4.0 layout (no Heartbeat Timeout) is built instead
            "heartbeat_timeout": packet.heartbeat_timeout,
        }
    try:
        return bytes(PACKET.build({"packet_type": packet.packet_type.encode(), "payload": values}))
    except cs.ConstructError as exc:
        raise PacketError(f"cannot build {packet!r}: {exc}") from exc


def data_packet(packet_type: str, message: bytes) -> bytes:
    """Fast path for Sequenced ("S") and Unsequenced ("U") Data packets."""
    if len(message) > MAX_PAYLOAD:
        raise PacketError(f"message of {len(message)} bytes does not fit a SoupBinTCP packet")
    return _LEN.pack(len(message) + 1) + packet_type.encode("ascii") + message


def _parse(body: bytes | memoryview) -> Packet:
    """Parse one packet body (type byte + payload, without the length prefix)."""
    if len(body) == 0:
        raise PacketError("empty packet (length 0)")
    t = bytes(body[:1])
    if t in (b"S", b"U"):
        return (SequencedData if t == b"S" else UnsequencedData)(bytes(body[1:]))
    cls = _CLASSES.get(t)
    if cls is None:
        raise PacketError(f"unknown packet type {t!r}")
    if t in _EMPTY:
        if len(body) != 1:
            raise PacketError(f"packet {t!r} carries {len(body) - 1} unexpected bytes")
        return _EMPTY[t]
    try:
        c = PACKET.parse(_LEN.pack(len(body)) + bytes(body))
    except cs.ConstructError as exc:
        raise PacketError(f"malformed {cls.__name__}: {exc}") from exc
    p = c.payload
    if cls is Debug:
        return Debug(p.text)
    if cls is LoginAccepted:
        return LoginAccepted(p.session, p.sequence_number)
    if cls is LoginRejected:
        return LoginRejected(p.reject_reason_code)
    return LoginRequest(
        p.username,
        p.password,
        p.requested_session,
        p.requested_sequence_number,
        p.get("heartbeat_timeout"),
    )


def parse_server_packet(
    body: bytes | memoryview, version: SoupVersion = SoupVersion.V4_1
) -> Packet:
    """Parse a packet a server sent (the client's view); raises :class:`PacketError`."""
    packet = _parse(body)
    if packet.from_server is False:
        raise PacketError(f"{type(packet).__name__} is not sent by a server")
    if isinstance(packet, UnsequencedData) and version is SoupVersion.V3_0:
        raise PacketError("SoupBinTCP 3.0 servers send no Unsequenced Data")
    return packet


def parse_client_packet(
    body: bytes | memoryview, version: SoupVersion = SoupVersion.V4_1
) -> Packet:
    """Parse a packet a client sent (the server's view); raises :class:`PacketError`."""
    packet = _parse(body)
    if packet.from_server is True:
        raise PacketError(f"{type(packet).__name__} is not sent by a client")
    return packet


class PacketFramer:
    """Splits a TCP byte stream into packet bodies (type + payload).

    ``max_length`` bounds the Packet Length a peer may announce; a longer or a
    zero length raises :class:`PacketError` at once, before buffering it.
    """

    def __init__(self, max_length: int = 0xFFFF) -> None:
        self.max_length = max_length
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        out: list[bytes] = []
        buf = self._buf
        pos = 0
        n = len(buf)
        while n - pos >= 2:
            length = (buf[pos] << 8) | buf[pos + 1]
            if length == 0 or length > self.max_length:
                del buf[:pos]
                raise PacketError(f"packet length {length} outside 1..{self.max_length}")
            end = pos + 2 + length
            if end > n:
                break
            out.append(bytes(buf[pos + 2 : end]))
            pos = end
        del buf[:pos]
        return out

    @property
    def buffered(self) -> int:
        return len(self._buf)
