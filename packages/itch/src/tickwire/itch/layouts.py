"""Where every field of every ITCH 5.0 message sits on the wire: offsets, lengths, kinds.

Derived at import from the one wire table, :data:`tickwire.itch.messages.MESSAGE_STRUCTS`,
never restated. For each message type the table's construct ``Struct`` is walked in wire
order; each subcon's ``sizeof()`` is its length, the running sum of the lengths before it
its offset (the type byte is field 0, at offset 0), and its construct type decides its
:class:`FieldKind`:

* ``Const`` (the type byte) -> ``TYPE``;
* big-endian ``Int16ub`` / ``Int32ub`` / ``Int64ub`` -> ``U16`` / ``U32`` / ``U64``
  (prices are ``U32`` (Price(4)) or ``U64`` (Price(8)));
* the 6-byte big-endian ``BytesInteger`` timestamp -> ``TS48``;
* a one-character Alpha -> ``CODE``, a longer one (space padded) -> ``ALPHA``.

A field type the walk does not know raises at import, so a new kind of field in the table
cannot ship without a kind here; the last offset plus length must equal
:data:`~tickwire.itch.messages.MESSAGE_LENGTHS`. Everything that needs a byte position
reads it from here: the compiled fast path (:mod:`tickwire.itch.fastpath`, whose kind
numbers are these), and the C header the XDP and bare-metal backends are built with::

    >>> from tickwire.itch.layouts import offset, layout
    >>> offset("A", "price")
    32
    >>> [(f.name, f.offset, f.length) for f in layout("A")][-2:]
    [('stock', 24, 8), ('price', 32, 4)]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from types import MappingProxyType
from typing import Any, Final

import construct as cs
from tickwire.itch.messages import MESSAGE_LENGTHS, MESSAGE_STRUCTS, Alpha

__all__ = [
    "LAYOUTS",
    "FieldKind",
    "WireField",
    "layout",
    "offset",
    "wire_field",
]


class FieldKind(IntEnum):
    """How a field is encoded. The numbers are the ones the compiled fast path
    (``tickwire.itch._fast``) switches on; it checks them against this class when it is
    configured, so the two cannot drift apart."""

    #: The message type byte (a constant letter).
    TYPE = 0
    #: Big-endian unsigned 2-byte integer.
    U16 = 1
    #: Big-endian unsigned 4-byte integer (Integer(4), Price(4)).
    U32 = 2
    #: Big-endian unsigned 8-byte integer (Integer(8), Price(8)).
    U64 = 3
    #: 6-byte big-endian nanoseconds since midnight.
    TS48 = 4
    #: One-character Alpha (a code).
    CODE = 5
    #: Multi-character Alpha, right-padded with spaces.
    ALPHA = 6


@dataclass(frozen=True, slots=True)
class WireField:
    """One field of one message type: ``data[offset:offset + length]`` holds it."""

    name: str
    offset: int
    length: int
    kind: FieldKind

    @property
    def end(self) -> int:
        """The offset just past the field."""
        return self.offset + self.length


_INTEGER_KINDS: Final = {
    ">H": FieldKind.U16,
    ">I": FieldKind.U32,
    ">L": FieldKind.U32,
    ">Q": FieldKind.U64,
}


def _kind(message_type: str, name: str, con: Any) -> FieldKind:
    """The kind of one table field, from its construct type."""
    if isinstance(con, cs.Const):
        return FieldKind.TYPE
    if isinstance(con, cs.FormatField) and con.fmtstr in _INTEGER_KINDS:
        return _INTEGER_KINDS[con.fmtstr]
    if isinstance(con, cs.BytesInteger) and con.length == 6 and not (con.signed or con.swapped):
        return FieldKind.TS48
    if isinstance(con, Alpha):
        return FieldKind.CODE if con.length == 1 else FieldKind.ALPHA
    raise TypeError(f"{message_type}.{name}: no field kind for {con!r}")  # pragma: no cover


def _walk(message_type: str) -> tuple[WireField, ...]:
    out: list[WireField] = []
    pos = 0
    for sub in MESSAGE_STRUCTS[message_type].subcons:
        width = sub.sizeof()
        out.append(WireField(sub.name, pos, width, _kind(message_type, sub.name, sub.subcon)))
        pos += width
    if pos != MESSAGE_LENGTHS[message_type]:  # pragma: no cover - a programming error
        raise AssertionError(f"{message_type}: fields end at {pos}, not at its length")
    return tuple(out)


#: Message type letter -> its fields in wire order, the type byte first.
LAYOUTS: Final[Mapping[str, tuple[WireField, ...]]] = MappingProxyType(
    {t: _walk(t) for t in MESSAGE_STRUCTS}
)
_BY_NAME: Final = {t: {f.name: f for f in fs} for t, fs in LAYOUTS.items()}


def layout(message_type: str) -> tuple[WireField, ...]:
    """The fields of ``message_type`` (a type letter such as ``"A"``) in wire order, the
    type byte first. ValueError for a letter that is not an ITCH 5.0 message type."""
    try:
        return LAYOUTS[message_type]
    except (KeyError, TypeError):
        raise ValueError(f"not an ITCH 5.0 message type: {message_type!r}") from None


def wire_field(message_type: str, name: str) -> WireField:
    """The field ``name`` of ``message_type``; ValueError naming the type's fields if it
    has none by that name."""
    layout(message_type)
    found = _BY_NAME[message_type].get(name)
    if found is None:
        names = ", ".join(_BY_NAME[message_type])
        raise ValueError(f"ITCH {message_type!r} has no field {name!r} (fields: {names})")
    return found


def offset(message_type: str, name: str) -> int:
    """The byte offset of field ``name`` in a ``message_type`` message (type byte = 0)."""
    return wire_field(message_type, name).offset
