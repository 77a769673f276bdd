"""SoupBinTCP 3.0, 4.0 and 4.1 logical packets, driven by one table.

Every packet is ``Packet Length (2, big-endian, counts type + payload)``,
``Packet Type (1)`` and a payload. Numeric fields of the login packets are
ASCII, right-justified and left-padded with spaces; the Session is likewise
left-padded (spec 2.2.1); Username and Password are padded on the right.

Versions differ only in two places: 4.0 added server-to-client Unsequenced
Data, 4.1 added the 5-digit Heartbeat Timeout (ms) to the Login Request.

:data:`PACKET_TYPES` is the one table: per type byte, the packet class, who
sends it (:class:`Sender`), the first version whose servers send it, and the
payload layout as a construct struct whose fields are named as the class's.
Everything else is derived from it:

* :data:`PACKET`, the declarative layout of every packet (length prefix, type,
  payload), is the table's payloads under a ``Switch`` on the type byte;
* :func:`build_packet` and the parsers map dataclass fields to the payload by
  name (an import-time check fails if a class and its payload disagree);
* each class's ``packet_type``, ``sender`` and ``from_server``, the type sets
  :data:`CLIENT_PACKET_TYPES` / :data:`SERVER_PACKET_TYPES`, which side may send
  what (:func:`parse_server_packet`, :func:`parse_client_packet`) and the body
  lengths a type can have (:attr:`PacketType.lengths`);
* the fast paths: a payload of one greedy ``message`` field is a data packet
  (``struct`` packing, :func:`data_packet`), an empty payload a constant; the
  tests check both against :data:`PACKET`.
"""

from __future__ import annotations

import dataclasses
import re
import struct
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar

import construct as cs

from .fields import AsciiNumber, PaddedText

__all__ = [
    "CLIENT_PACKET_TYPES",
    "PACKET",
    "PACKET_TYPES",
    "SERVER_PACKET_TYPES",
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
    "PacketType",
    "Sender",
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


_VERSION_ORDER = {v: i for i, v in enumerate(SoupVersion)}


class PacketError(ValueError):
    """Bytes that are not a valid SoupBinTCP packet (or not valid from that side).

    ``bodies``: when :meth:`PacketFramer.feed` raises it, the packets it framed from the
    same bytes before the bad length, in order (the caller handles them before the
    error: a valid Sequenced Data in the same TCP read as a broken header is still
    data); empty otherwise.
    """

    def __init__(self, message: str, *, bodies: tuple[bytes, ...] = ()) -> None:
        super().__init__(message)
        self.bodies = bodies


class Sender(Enum):
    """Who sends a packet type."""

    CLIENT = "client"
    SERVER = "server"
    EITHER = "either"

    @property
    def client(self) -> bool:
        return self is not Sender.SERVER

    @property
    def server(self) -> bool:
        return self is not Sender.CLIENT


class _FreeText(cs.Adapter):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__(cs.GreedyBytes)

    def _decode(self, obj: bytes, context: Any, path: Any) -> str:
        return obj.decode("ascii", errors="replace")

    def _encode(self, obj: str, context: Any, path: Any) -> bytes:
        return obj.encode("ascii", errors="replace")


class Packet:
    """Base of every SoupBinTCP packet. The class attributes come from :data:`PACKET_TYPES`."""

    __slots__ = ()
    packet_type: ClassVar[str]
    sender: ClassVar[Sender]
    #: sent by the server (True), the client (False) or either (None)
    from_server: ClassVar[bool | None]
    spec: ClassVar[PacketType]

    def build(self) -> bytes:
        return build_packet(self)


@dataclass(frozen=True, slots=True)
class Debug(Packet):
    text: str


@dataclass(frozen=True, slots=True)
class LoginAccepted(Packet):
    session: str
    sequence_number: int


@dataclass(frozen=True, slots=True)
class LoginRejected(Packet):
    #: "A" not authorised, "S" session not available
    reject_reason_code: str

    NOT_AUTHORIZED: ClassVar[str] = "A"
    SESSION_NOT_AVAILABLE: ClassVar[str] = "S"


@dataclass(frozen=True, slots=True)
class SequencedData(Packet):
    message: bytes


@dataclass(frozen=True, slots=True)
class UnsequencedData(Packet):
    """Client to server (every version) or server to client (4.0 and later)."""

    message: bytes


@dataclass(frozen=True, slots=True)
class ServerHeartbeat(Packet):
    pass


@dataclass(frozen=True, slots=True)
class EndOfSession(Packet):
    pass


@dataclass(frozen=True, slots=True)
class LoginRequest(Packet):
    """``heartbeat_timeout`` (ms) is sent only by SoupBinTCP 4.1 (``None`` otherwise)."""

    username: str
    password: str = field(repr=False)  # never in logs or reprs
    requested_session: str
    requested_sequence_number: int
    heartbeat_timeout: int | None = None


@dataclass(frozen=True, slots=True)
class ClientHeartbeat(Packet):
    pass


@dataclass(frozen=True, slots=True)
class LogoutRequest(Packet):
    pass


def _names(con: Any) -> list[str]:
    """The field names of a payload (of every alternative of a ``Select``, in order)."""
    if isinstance(con, cs.Select):
        out: list[str] = []
        for sub in con.subcons:
            out += [n for n in _names(sub) if n not in out]
        return out
    return [sc.name for sc in con.subcons if sc.name]


def _sizes(con: Any) -> frozenset[int] | None:
    """The payload sizes a layout can have; None when it is variable."""
    if isinstance(con, cs.Select):
        alternatives = [_sizes(sub) for sub in con.subcons]
        if any(a is None for a in alternatives):
            return None
        return frozenset().union(*alternatives)  # type: ignore[arg-type]
    if isinstance(con, cs.Struct):  # its fields' sizes (a Terminated check takes none)
        total = 0
        for sub in con.subcons:
            if sub is cs.Terminated:
                continue
            try:
                total += sub.sizeof()
            except cs.SizeofError:
                return None
        return frozenset({total})
    try:
        return frozenset({con.sizeof()})
    except cs.SizeofError:
        return None


@dataclass(frozen=True, slots=True)
class PacketType:
    """One row of :data:`PACKET_TYPES`."""

    code: bytes
    cls: type[Packet]
    sender: Sender
    #: the payload layout, its fields named as ``cls``'s
    payload: Any
    #: the first version whose servers send this type (clients: every version)
    server_since: SoupVersion = SoupVersion.V3_0

    def server_sends(self, version: SoupVersion) -> bool:
        """Whether servers of ``version`` send this type."""
        return self.sender.server and _VERSION_ORDER[version] >= _VERSION_ORDER[self.server_since]

    @property
    def name(self) -> str:
        """The spec's name ("Unsequenced Data")."""
        words = re.sub(r"(?<!^)(?=[A-Z])", " ", self.cls.__name__)
        return words.replace(" Of ", " of ")  # EndOfSession: "End of Session"

    @property
    def fields(self) -> list[str]:
        return _names(self.payload)

    @property
    def is_data(self) -> bool:
        """A data packet: the payload is one message of any length (the fast path)."""
        subcons = getattr(self.payload, "subcons", [])
        return len(subcons) == 1 and subcons[0].name == "message" and self.lengths is None

    @property
    def lengths(self) -> frozenset[int] | None:
        """The body lengths (type byte included) this type can have; None: any."""
        sizes = _sizes(self.payload)
        return None if sizes is None else frozenset(1 + n for n in sizes)


def _login_request(*extra: Any) -> Any:
    return cs.Struct(
        "username" / PaddedText(6),
        "password" / PaddedText(10),
        "requested_session" / PaddedText(10, justify="right"),
        "requested_sequence_number" / AsciiNumber(20),
        *extra,
        cs.Terminated,
    )


#: The one packet table: type byte, class, sender, payload (and when servers began to
#: send it). Everything else in this module is derived from it.
PACKET_TYPES: tuple[PacketType, ...] = (
    PacketType(b"+", Debug, Sender.EITHER, cs.Struct("text" / _FreeText())),
    PacketType(
        b"A",
        LoginAccepted,
        Sender.SERVER,
        cs.Struct("session" / PaddedText(10, justify="right"), "sequence_number" / AsciiNumber(20)),
    ),
    PacketType(b"J", LoginRejected, Sender.SERVER, cs.Struct("reject_reason_code" / PaddedText(1))),
    PacketType(b"S", SequencedData, Sender.SERVER, cs.Struct("message" / cs.GreedyBytes)),
    PacketType(
        b"U",
        UnsequencedData,
        Sender.EITHER,
        cs.Struct("message" / cs.GreedyBytes),
        server_since=SoupVersion.V4_0,
    ),
    PacketType(b"H", ServerHeartbeat, Sender.SERVER, cs.Struct()),
    PacketType(b"Z", EndOfSession, Sender.SERVER, cs.Struct()),
    # 4.1 first: without a Heartbeat Timeout it fails and the 4.0 layout is built instead
    PacketType(
        b"L",
        LoginRequest,
        Sender.CLIENT,
        cs.Select(_login_request("heartbeat_timeout" / AsciiNumber(5)), _login_request()),
    ),
    PacketType(b"R", ClientHeartbeat, Sender.CLIENT, cs.Struct()),
    PacketType(b"O", LogoutRequest, Sender.CLIENT, cs.Struct()),
)

#: The declarative layout of every packet: length prefix, type, payload.
PACKET = cs.Prefixed(
    cs.Int16ub,
    cs.Struct(
        "packet_type" / cs.Bytes(1),
        "payload"
        / cs.Switch(
            cs.this.packet_type, {t.code: t.payload for t in PACKET_TYPES}, default=cs.Error
        ),
        cs.Terminated,
    ),
)

#: The type bytes each side may send (in some version).
CLIENT_PACKET_TYPES = frozenset(t.code for t in PACKET_TYPES if t.sender.client)
SERVER_PACKET_TYPES = frozenset(t.code for t in PACKET_TYPES if t.sender.server)

_BY_CODE: dict[bytes, PacketType] = {}
_EMPTY: dict[bytes, Packet] = {}
_DATA: dict[bytes, type[Packet]] = {}
_FROM_SERVER = {Sender.CLIENT: False, Sender.SERVER: True, Sender.EITHER: None}
_LEN = struct.Struct(">H")
MAX_PAYLOAD = 0xFFFF - 1

for _t in PACKET_TYPES:
    _declared = [f.name for f in dataclasses.fields(_t.cls)]  # type: ignore[arg-type]
    if _declared != _t.fields or _t.code in _BY_CODE or len(_t.code) != 1:
        raise TypeError(f"packet table: {_t.cls.__name__} {_declared} vs payload {_t.fields}")
    _t.cls.packet_type = _t.code.decode("ascii")
    _t.cls.sender = _t.sender
    _t.cls.from_server = _FROM_SERVER[_t.sender]
    _t.cls.spec = _t
    _BY_CODE[_t.code] = _t
    if not _declared:
        _EMPTY[_t.code] = _t.cls()
    elif _t.is_data:
        _DATA[_t.code] = _t.cls
_EMPTY_WIRE = {code: _LEN.pack(1) + code for code in _EMPTY}
# which classes each side sends (servers: per version), for the parsers' one lookup
_SERVER_SENDS = {
    v: frozenset(t.cls for t in PACKET_TYPES if t.server_sends(v)) for v in SoupVersion
}
_SERVER_41 = _SERVER_SENDS[SoupVersion.V4_1]
_CLIENT_SENDS = frozenset(t.cls for t in PACKET_TYPES if t.sender.client)


def build_packet(packet: Packet) -> bytes:
    """The wire bytes of a packet (length prefix included)."""
    code = packet.packet_type.encode()
    if code in _DATA:
        return data_packet(packet.packet_type, packet.message)  # type: ignore[attr-defined]
    empty = _EMPTY_WIRE.get(code)
    if empty is not None:
        return empty
    values = {name: getattr(packet, name) for name in packet.spec.fields}
    try:
        return bytes(PACKET.build({"packet_type": code, "payload": values}))
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
    data = _DATA.get(t)
    if data is not None:
        return data(bytes(body[1:]))  # type: ignore[call-arg]
    spec = _BY_CODE.get(t)
    if spec is None:
        raise PacketError(f"unknown packet type {t!r}")
    empty = _EMPTY.get(t)
    if empty is not None:
        if len(body) != 1:
            raise PacketError(f"packet {t!r} carries {len(body) - 1} unexpected bytes")
        return empty
    try:
        payload = PACKET.parse(_LEN.pack(len(body)) + bytes(body)).payload
    except cs.ConstructError as exc:
        reason = _construct_reason(exc, len(body) - 1)
        raise PacketError(f"malformed {spec.cls.__name__}: {reason}") from exc
    return spec.cls(**{name: payload[name] for name in spec.fields if name in payload})


def parse_server_packet(
    body: bytes | memoryview, version: SoupVersion = SoupVersion.V4_1
) -> Packet:
    """Parse a packet a server sent (the client's view); raises :class:`PacketError`."""
    packet = _parse(body)
    legal = _SERVER_41 if version is SoupVersion.V4_1 else _SERVER_SENDS[version]
    if type(packet) not in legal:
        spec = packet.spec
        if not spec.sender.server:
            raise PacketError(f"{type(packet).__name__} is not sent by a server")
        raise PacketError(f"SoupBinTCP {version.value} servers send no {spec.name}")
    return packet


def parse_client_packet(
    body: bytes | memoryview, version: SoupVersion = SoupVersion.V4_1
) -> Packet:
    """Parse a packet a client sent (the server's view); raises :class:`PacketError`."""
    packet = _parse(body)
    if type(packet) not in _CLIENT_SENDS:
        raise PacketError(f"{type(packet).__name__} is not sent by a client")
    return packet


def _construct_reason(exc: cs.ConstructError, size: int) -> str:
    """construct's error on one line, naming the field: ``session: non-ASCII text: ...``
    (it was ``Error in path (parsing) -> payload -> session`` and the reason on a second
    line, which split a log line or ``ouch decode``'s text record in two)."""
    path, _, reason = str(exc).partition("\n")
    if not reason:
        path, reason = "", path
    field = path.rpartition("-> ")[2].strip() if "->" in path else ""
    if reason.strip() == "no subconstruct matched":  # a layout chosen by its length
        reason = f"a {size}-byte payload fits none of its layouts"
        field = ""
    text = " ".join(reason.split())
    return f"{field}: {text}" if field and field != "payload" else text


class PacketFramer:
    """Splits a TCP byte stream into packet bodies (type + payload).

    ``max_length`` bounds the Packet Length a peer may announce; a longer or a
    zero length raises :class:`PacketError` at once, before buffering it, with the
    packets framed before it in the same bytes in its ``bodies`` (they were dropped: an
    Order Executed read together with a broken header was lost).
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
                # the packets before it are good: they go with the error, never lost
                raise PacketError(
                    f"packet length {length} outside 1..{self.max_length}", bodies=tuple(out)
                )
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
