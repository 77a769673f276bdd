"""MoldUDP64 packets: downstream (messages, heartbeat, end of session) and request packets.

The wire layouts are written once, declaratively, as construct ``Struct`` objects
(:data:`HEADER`, :data:`MESSAGE_BLOCK`, :data:`DOWNSTREAM`, :data:`REQUEST`). Parsing and
building on the hot path use ``struct`` directly (:func:`parse_downstream`,
:meth:`DownstreamPacket.build`), and the test suite checks that fast path against the
construct layouts with hypothesis, byte for byte and error for error.

Layout (all integers big-endian), per the MoldUDP64 1.0 specification:

* header, 20 bytes: Session (10 ASCII, space padded), Sequence Number (8; the sequence of the
  first message in the packet, or for a heartbeat / end of session the next expected one),
  Message Count (2; 0 = heartbeat, 0xFFFF = end of session);
* then ``count`` message blocks: Message Length (2) followed by that many bytes.

A request packet (client to re-request server) is a bare 20-byte header whose count is the
number of messages requested starting at the sequence number.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any, ClassVar

import construct as c

from .errors import (
    BadSession,
    CountMismatch,
    MoldError,
    SequenceOverflow,
    TrailingBytes,
    TruncatedPacket,
)

__all__ = [
    "DOWNSTREAM",
    "END_OF_SESSION_COUNT",
    "HEADER",
    "HEADER_SIZE",
    "MAX_MESSAGE_COUNT",
    "MESSAGE_BLOCK",
    "REQUEST",
    "SESSION_LENGTH",
    "DownstreamPacket",
    "RequestPacket",
    "check_sequence_range",
    "decode_session",
    "encode_session",
    "parse_downstream",
    "parse_downstream_construct",
    "parse_request",
    "split_blocks",
]

SESSION_LENGTH = 10
HEADER_SIZE = 20
#: Message Count of an end-of-session packet.
END_OF_SESSION_COUNT = 0xFFFF
#: The largest count a packet that carries messages can declare (0xFFFF means end of session).
MAX_MESSAGE_COUNT = 0xFFFE

# --- the declarative layouts: the single source of truth for the wire format ----------------

#: The 20-byte header shared by downstream and request packets.
HEADER = c.Struct(
    "session" / c.Bytes(SESSION_LENGTH),
    "sequence" / c.Int64ub,
    "count" / c.Int16ub,
)

#: One message block: a 2-byte length, then the message.
MESSAGE_BLOCK = c.Prefixed(c.Int16ub, c.GreedyBytes)

#: A whole downstream packet. Heartbeats (count 0) and end of session (count 0xFFFF) carry no
#: blocks; ``Terminated`` rejects trailing bytes.
DOWNSTREAM = c.Struct(
    "session" / c.Bytes(SESSION_LENGTH),
    "sequence" / c.Int64ub,
    "count" / c.Int16ub,
    "messages"
    / c.IfThenElse(
        c.this.count == END_OF_SESSION_COUNT,
        c.Array(0, MESSAGE_BLOCK),
        c.Array(c.this.count, MESSAGE_BLOCK),
    ),
    c.Terminated,
)

#: A request packet: the header alone, count = number of messages requested.
REQUEST = c.Struct(
    "session" / c.Bytes(SESSION_LENGTH),
    "sequence" / c.Int64ub,
    "count" / c.Int16ub,
    c.Terminated,
)

# --- fast path -------------------------------------------------------------------------------

_HEADER = struct.Struct(">10sQH")
_unpack_header = _HEADER.unpack_from
_pack_header = _HEADER.pack
_U64_MAX = (1 << 64) - 1
#: One past the largest sequence number: the field is 8 bytes.
_SEQ_LIMIT = 1 << 64


def encode_session(session: str) -> bytes:
    """The 10-byte wire form of ``session``: ASCII, space padded on the right."""
    try:
        raw = session.encode("ascii")
    except UnicodeEncodeError:
        raise BadSession(f"session {session!r} is not ASCII") from None
    if len(raw) > SESSION_LENGTH:
        raise BadSession(f"session {session!r} is longer than {SESSION_LENGTH} characters")
    return raw.ljust(SESSION_LENGTH, b" ")


def decode_session(raw: bytes) -> str:
    """The str form of a 10-byte wire session: ASCII with the space padding stripped.

    Trailing spaces are padding (like ITCH symbols), so ``encode_session(decode_session(x))``
    gives back ``x`` for every valid session.
    """
    try:
        return raw.decode("ascii").rstrip(" ")
    except UnicodeDecodeError:
        raise BadSession(f"session {raw!r} is not ASCII", offset=0) from None


def split_blocks(data: bytes, count: int, offset: int = HEADER_SIZE) -> list[bytes]:
    """The ``count`` message blocks of ``data`` starting at ``offset``, checked.

    Raises :class:`TruncatedPacket` when a block runs past the end, :class:`CountMismatch`
    when the data ends on a block boundary before ``count`` blocks (or whole blocks remain
    after them) and :class:`TrailingBytes` when stray bytes follow the last block.
    """
    # Hot path: walk the blocks without per-block bounds checks. A length byte past the end
    # raises IndexError; a block running past the end makes ``off`` overshoot. Either way
    # the careful walk below runs to name the exact problem.
    out: list[bytes] = []
    append = out.append
    off = offset
    try:
        for _ in range(count):
            start = off + 2
            off = start + ((data[off] << 8) | data[off + 1])
            append(data[start:off])
    except IndexError:
        off = -1
    if off != len(data):
        _check_blocks(data, count, offset)
    return out


def _check_blocks(data: bytes, count: int, offset: int) -> None:
    """Walk the blocks carefully and raise the precise error for what is wrong."""
    end = len(data)
    off = offset
    for i in range(count):
        if off + 2 > end:
            if off == end:
                raise CountMismatch(
                    f"message count is {count} but the packet holds {i} message blocks",
                    offset=off,
                )
            raise TruncatedPacket(f"message block {i} length runs past the end", offset=off)
        n = (data[off] << 8) | data[off + 1]
        start = off + 2
        off = start + n
        if off > end:
            raise TruncatedPacket(
                f"message block {i} of length {n} runs {off - end} bytes past the end",
                offset=start - 2,
            )
    if off != end:
        _raise_trailing(data, count, off)


def _raise_trailing(data: bytes, count: int, off: int) -> None:
    """Tell apart extra whole blocks (a count mismatch) from stray bytes (trailing bytes)."""
    end = len(data)
    extra = 0
    probe = off
    while probe + 2 <= end:
        probe += 2 + ((data[probe] << 8) | data[probe + 1])
        extra += 1
    if probe == end and extra:
        raise CountMismatch(
            f"message count is {count} but {count + extra} message blocks follow", offset=off
        )
    raise TrailingBytes(f"{end - off} bytes follow the last message block", offset=off)


@dataclass(frozen=True, slots=True)
class DownstreamPacket:
    """A downstream MoldUDP64 packet.

    ``messages`` empty and ``end_of_session`` false is a heartbeat; ``end_of_session`` true is
    the end-of-session packet (which carries no messages). ``sequence`` is the sequence number
    of the first message, or for heartbeat / end of session the next expected sequence number.
    """

    session: str
    sequence: int
    messages: tuple[bytes, ...] = ()
    end_of_session: bool = field(default=False, kw_only=True)

    HEARTBEAT_COUNT: ClassVar[int] = 0

    def __post_init__(self) -> None:
        if type(self.messages) is not tuple:  # a list given by a caller: keep it hashable
            object.__setattr__(self, "messages", tuple(self.messages))

    @classmethod
    def heartbeat(cls, session: str, next_sequence: int) -> DownstreamPacket:
        """A heartbeat announcing ``next_sequence`` as the next sequence number."""
        return cls(session, next_sequence)

    @classmethod
    def end_of_session_packet(cls, session: str, next_sequence: int) -> DownstreamPacket:
        """The end-of-session packet; ``next_sequence`` is one past the last message."""
        return cls(session, next_sequence, end_of_session=True)

    @property
    def count(self) -> int:
        """The header's Message Count: number of messages, or 0xFFFF for end of session."""
        return END_OF_SESSION_COUNT if self.end_of_session else len(self.messages)

    @property
    def is_heartbeat(self) -> bool:
        return not self.messages and not self.end_of_session

    @property
    def next_sequence(self) -> int:
        """The sequence number of the message after this packet's last one."""
        return self.sequence + len(self.messages)

    def build(self) -> bytes:
        """The packet's wire bytes (validated: session, sequence range, counts, lengths).

        Rule: a packet whose messages would run past sequence number 2^64 - 1 (sequence +
        count > 2^64) is not built: :class:`~tickwire.moldudp64.errors.SequenceOverflow`
        (a ``ValueError``), the codec's and the receiver's rule and words
        (:func:`check_sequence_range`). Why: it was built, and every reader refuses it,
        so a publisher numbering past the top sent packets no receiver takes. Test:
        ``test_moldudp64_codec.py::test_a_packet_running_past_2_64_is_not_built``."""
        if self.end_of_session and self.messages:
            raise MoldError("an end-of-session packet carries no messages")
        if not 0 <= self.sequence <= _U64_MAX:
            raise MoldError(f"sequence {self.sequence} does not fit in 64 bits")
        count = len(self.messages)
        if count > MAX_MESSAGE_COUNT:
            raise MoldError(f"{count} messages do not fit in one packet (max {MAX_MESSAGE_COUNT})")
        if self.sequence + count > _SEQ_LIMIT:
            check_sequence_range(self.sequence, count)
        session = encode_session(self.session)
        if self.end_of_session:
            return _pack_header(session, self.sequence, END_OF_SESSION_COUNT)
        parts = [_pack_header(session, self.sequence, count)]
        append = parts.append
        for msg in self.messages:
            n = len(msg)
            if n > 0xFFFF:
                raise MoldError(f"a message of {n} bytes does not fit a 2-byte block length")
            append(n.to_bytes(2, "big"))
            append(msg)
        return b"".join(parts)


@dataclass(frozen=True, slots=True)
class RequestPacket:
    """A re-request: ``count`` messages starting at ``sequence`` of ``session``."""

    session: str
    sequence: int
    count: int

    def build(self) -> bytes:
        if not 0 <= self.sequence <= _U64_MAX:
            raise MoldError(f"sequence {self.sequence} does not fit in 64 bits")
        if not 0 <= self.count <= 0xFFFF:
            raise MoldError(f"requested count {self.count} does not fit in 16 bits")
        return _pack_header(encode_session(self.session), self.sequence, self.count)


def _as_bytes(data: bytes | bytearray | memoryview) -> bytes:
    return data if type(data) is bytes else bytes(data)


def parse_downstream(data: bytes | bytearray | memoryview) -> DownstreamPacket:
    """Parse one downstream packet (messages, heartbeat or end of session).

    Raises a :class:`~tickwire.moldudp64.errors.MoldError` subclass saying what was wrong:
    :class:`TruncatedPacket`, :class:`CountMismatch`, :class:`TrailingBytes`,
    :class:`BadSession` or :class:`SequenceOverflow` (a header whose messages would run
    past sequence number 2^64 - 1: :func:`check_sequence_range`).
    """
    raw = _as_bytes(data)
    if len(raw) < HEADER_SIZE:
        raise TruncatedPacket(
            f"a MoldUDP64 header is {HEADER_SIZE} bytes, the packet has {len(raw)}", offset=0
        )
    session_raw, sequence, count = _unpack_header(raw)
    session = decode_session(session_raw)
    if count == END_OF_SESSION_COUNT:
        if len(raw) != HEADER_SIZE:
            raise TrailingBytes(
                f"{len(raw) - HEADER_SIZE} bytes follow an end-of-session header",
                offset=HEADER_SIZE,
            )
        return DownstreamPacket(session, sequence, end_of_session=True)
    if sequence + count > _SEQ_LIMIT:
        check_sequence_range(sequence, count)
    return DownstreamPacket(session, sequence, tuple(split_blocks(raw, count)))


def check_sequence_range(sequence: int, count: int) -> None:
    """Raise :class:`~tickwire.moldudp64.errors.SequenceOverflow` when ``count`` messages
    from ``sequence`` (not an end of session's count) would run past sequence number
    2^64 - 1, the largest the 8-byte field can name: ``2 messages from sequence
    18446744073709551615 run past 2^64 - 1 (at byte 10)``.

    The rule of the codec (:func:`parse_downstream` and the construct reference) and of
    the receiver (:class:`~tickwire.moldudp64.receiver.Receiver`, the same words). Why:
    the codec parsed such a packet and only the receiver refused it later, so every
    other reader of packets took sequence numbers no packet can carry. Test:
    ``test_moldudp64_codec.py::test_a_header_running_past_2_64_is_refused``."""
    if count != END_OF_SESSION_COUNT and sequence + count > _SEQ_LIMIT:
        raise SequenceOverflow(
            f"{count} messages from sequence {sequence} run past 2^64 - 1", offset=10
        )


def parse_request(data: bytes | bytearray | memoryview) -> RequestPacket:
    """Parse a request packet (exactly 20 bytes)."""
    raw = _as_bytes(data)
    if len(raw) < HEADER_SIZE:
        raise TruncatedPacket(
            f"a request packet is {HEADER_SIZE} bytes, this one has {len(raw)}", offset=0
        )
    if len(raw) > HEADER_SIZE:
        raise TrailingBytes(
            f"{len(raw) - HEADER_SIZE} bytes follow a request header", offset=HEADER_SIZE
        )
    session_raw, sequence, count = _unpack_header(raw)
    return RequestPacket(decode_session(session_raw), sequence, count)


def parse_downstream_construct(data: bytes) -> DownstreamPacket:
    """Parse with the construct layout :data:`DOWNSTREAM` (the reference for the fast path).

    Slower than :func:`parse_downstream`; raises :class:`MoldError` (not the precise subclass)
    on any construct error.
    """
    try:
        parsed: Any = DOWNSTREAM.parse(bytes(data))
    except c.ConstructError as exc:
        raise MoldError(f"not a MoldUDP64 downstream packet: {exc}") from None
    session = decode_session(parsed.session)
    if parsed.count == END_OF_SESSION_COUNT:
        return DownstreamPacket(session, parsed.sequence, end_of_session=True)
    check_sequence_range(parsed.sequence, parsed.count)
    return DownstreamPacket(session, parsed.sequence, tuple(bytes(m) for m in parsed.messages))


def build_downstream_construct(packet: DownstreamPacket) -> bytes:
    """Build with the construct layout :data:`DOWNSTREAM` (the reference for ``build``)."""
    result: bytes = DOWNSTREAM.build(
        {
            "session": encode_session(packet.session),
            "sequence": packet.sequence,
            "count": packet.count,
            "messages": list(packet.messages),
        }
    )
    return result
