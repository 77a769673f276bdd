"""Declarative wire layouts shared by the OUCH 4.2 and 5.0 codecs.

Every message is a frozen dataclass whose fields carry their wire type in the
field metadata (``field(metadata=U32)``), in wire order. From that single
declaration this module derives two codecs:

* a construct ``Struct`` (the reference, readable, declarative layout), and
* a ``struct.Struct`` fast path used by :func:`encode` / ``decode_*``.

The hypothesis tests check that both agree on every message type, so the fast
path is never trusted on its own.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol, TypeVar

import construct as cs
from tickwire.soupbintcp.fields import PaddedText, ascii_bytes

from ._errors import DecodeError, EncodeError

Kind = Literal["uint", "int", "alpha", "char"]


class _CharAdapter(cs.Adapter):  # type: ignore[misc]
    """A single ASCII character (enum-like fields: side, display, ...)."""

    def __init__(self) -> None:
        super().__init__(cs.Bytes(1))

    def _decode(self, obj: bytes, context: Any, path: Any) -> str:
        try:
            return obj.decode("ascii")
        except UnicodeDecodeError as exc:
            raise cs.ValidationError(f"non-ASCII char field: {obj!r}", path=path) from exc

    def _encode(self, obj: str, context: Any, path: Any) -> bytes:
        raw = ascii_bytes(obj, path)
        if len(raw) != 1:
            raise cs.ValidationError(f"{obj!r} is not one character", path=path)
        return raw


@dataclass(frozen=True, slots=True)
class WireType:
    """One field's wire type: its construct, its struct code, its Python kind."""

    kind: Kind
    size: int
    construct: Any
    fmt: str


def _uint(size: int) -> WireType:
    con = {1: cs.Int8ub, 2: cs.Int16ub, 4: cs.Int32ub, 8: cs.Int64ub}[size]
    return WireType("uint", size, con, {1: "B", 2: "H", 4: "I", 8: "Q"}[size])


def _sint(size: int) -> WireType:
    con = {1: cs.Int8sb, 2: cs.Int16sb, 4: cs.Int32sb, 8: cs.Int64sb}[size]
    return WireType("int", size, con, {1: "b", 2: "h", 4: "i", 8: "q"}[size])


def alpha_type(size: int) -> WireType:
    """Space-padded ASCII of ``size`` bytes, a ``str`` without the padding in Python."""
    return WireType("alpha", size, PaddedText(size), f"{size}s")


CHAR_TYPE = WireType("char", 1, _CharAdapter(), "1s")


def wire(wt: WireType) -> Mapping[str, WireType]:
    """Field metadata for a dataclass field: ``x: int = field(metadata=wire(...))``."""
    return {"wire": wt}


U8 = wire(_uint(1))
U16 = wire(_uint(2))
U32 = wire(_uint(4))
U64 = wire(_uint(8))
I32 = wire(_sint(4))
CHAR = wire(CHAR_TYPE)
UINT_TYPES = {n: _uint(n) for n in (1, 2, 4, 8)}
SINT_TYPES = {n: _sint(n) for n in (1, 2, 4, 8)}


def alpha(size: int) -> Mapping[str, WireType]:
    return wire(alpha_type(size))


class AppendageCodec(Protocol):
    """How a message's optional appendage (OUCH 5.0 TagValue list) is coded."""

    construct: Any

    def encode(self, items: Sequence[Any]) -> bytes: ...

    def decode(self, data: bytes, base_offset: int, message_type: str) -> tuple[Any, ...]: ...


class Message:
    """Base of every OUCH message dataclass."""

    __slots__ = ()
    message_type: ClassVar[str]
    _codec: ClassVar[MessageCodec]


M = TypeVar("M", bound=Message)


class MessageCodec:
    """Encoder and decoder for one message class, derived from its fields."""

    def __init__(self, cls: type[Message], appendage: AppendageCodec | None) -> None:
        self.cls = cls
        self.type_char = cls.message_type
        self.type_byte = cls.message_type.encode("ascii")
        self.appendage = appendage
        self.fields: list[tuple[str, WireType]] = []
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            wt = f.metadata.get("wire")
            if wt is not None:
                self.fields.append((f.name, wt))
            elif f.name != "appendages":
                raise TypeError(f"{cls.__name__}.{f.name} has no wire type")
        fmt = ">1s" + "".join(wt.fmt for _, wt in self.fields)
        if appendage is not None:
            fmt += "H"
        self.struct = struct.Struct(fmt)
        #: length of the fixed part (type byte and appendage length included)
        self.size = self.struct.size
        self.names = [n for n, _ in self.fields]
        self.alpha_idx = [i for i, (_, wt) in enumerate(self.fields) if wt.kind == "alpha"]
        self.char_idx = [i for i, (_, wt) in enumerate(self.fields) if wt.kind == "char"]
        self.layout = [(n, wt.kind, wt.size) for n, wt in self.fields]
        members = [
            "message_type" / cs.Const(self.type_byte),
            *[name / wt.construct for name, wt in self.fields],
        ]
        if appendage is not None:
            members.append("appendages" / cs.Prefixed(cs.Int16ub, appendage.construct))
        #: the declarative reference layout
        self.construct = cs.Struct(*members)
        self._generate()

    # -- fast path --------------------------------------------------------
    def _generate(self) -> None:
        """Compile straight-line encode/decode functions for this layout.

        They are the generic checked paths below unrolled (no per-field loop or
        dispatch); on any error they defer to the checked path, which raises the
        precise :class:`EncodeError` / :class:`DecodeError`.
        """
        ns: dict[str, Any] = {
            "_pack": self.struct.pack,
            "_unpack_from": self.struct.unpack_from,
            "_cls": self.cls,
            "_new": object.__new__,
            "_T": self.type_byte,
            "_enc_checked": self._encode_checked,
            "_dec_checked": self._decode_checked,
            "_app": self.appendage,
        }
        args = ["_T"]
        for name, kind, size in self.layout:
            if kind == "char":
                args.append(f"_c(msg.{name})")
            elif kind == "alpha":
                args.append(f"_a(msg.{name}, {size})")
            else:
                args.append(f"msg.{name}")
        enc = [
            "def _c(v):",
            "    b = v.encode('ascii')",
            "    if len(b) != 1: raise ValueError",
            "    return b",
            "def _a(v, n):",
            "    b = v.encode('ascii')",
            "    if len(b) > n: raise ValueError",
            "    return b.ljust(n, b' ')",
            "def encode(msg):",
            "    try:",
        ]
        if self.appendage is not None:
            enc += [
                "        tail = _app.encode(msg.appendages) if msg.appendages else b''",
                f"        return _pack({', '.join(args)}, len(tail)) + tail",
            ]
        else:
            enc.append(f"        return _pack({', '.join(args)})")
        enc += ["    except Exception:", "        return _enc_checked(msg)"]
        names = [f"f{i}" for i in range(len(self.layout))]
        conv = []
        for i, (_name, kind, _size) in enumerate(self.layout):
            if kind == "alpha":
                conv.append(f"f{i}.decode('ascii').rstrip(' ')")
            elif kind == "char":
                conv.append(f"f{i}.decode('ascii')")
            else:
                conv.append(f"f{i}")
        unpacked = ", ".join(["_t", *names] + (["_alen"] if self.appendage is not None else []))
        dec = ["def decode(data):", "    try:"]
        if self.appendage is not None:
            dec += [
                f"        if len(data) != {self.size}: return _dec_checked(data)",
                f"        {unpacked}, = _unpack_from(data, 0)",
                "        if _alen: return _dec_checked(data)",
                f"        return _cls({', '.join([*conv, '()'])})",
            ]
        else:
            dec += [
                f"        if len(data) != {self.size}: return _dec_checked(data)",
                f"        {unpacked}, = _unpack_from(data, 0)",
                f"        return _cls({', '.join(conv)})",
            ]
        dec += ["    except UnicodeDecodeError:", "        return _dec_checked(data)"]
        exec(compile("\n".join(enc + dec), f"<ouch {self.cls.__name__}>", "exec"), ns)
        self.encode: Callable[[Message], bytes] = ns["encode"]
        self.decode: Callable[[bytes | memoryview], Message] = ns["decode"]

    def _encode_checked(self, msg: Message) -> bytes:
        vals: list[Any] = [self.type_byte]
        for name, kind, size in self.layout:
            v = getattr(msg, name)
            if kind == "alpha" or kind == "char":
                if not isinstance(v, str):
                    raise EncodeError(f"{self.cls.__name__}.{name} must be str, got {v!r}")
                try:
                    raw = v.encode("ascii")
                except UnicodeEncodeError as exc:
                    raise EncodeError(f"{self.cls.__name__}.{name} is not ASCII: {v!r}") from exc
                if kind == "char" and len(raw) != 1:
                    raise EncodeError(f"{self.cls.__name__}.{name} must be one character: {v!r}")
                if len(raw) > size:
                    raise EncodeError(f"{self.cls.__name__}.{name} longer than {size}: {v!r}")
                vals.append(raw.ljust(size, b" "))
            else:
                if not isinstance(v, int):
                    raise EncodeError(f"{self.cls.__name__}.{name} must be int, got {v!r}")
                vals.append(v)
        tail = b""
        if self.appendage is not None:
            tail = self.appendage.encode(msg.appendages)  # type: ignore[attr-defined]
            if len(tail) > 0xFFFF:
                raise EncodeError(f"{self.cls.__name__} appendage longer than 65535 bytes")
            vals.append(len(tail))
        try:
            return self.struct.pack(*vals) + tail
        except struct.error as exc:
            raise EncodeError(f"{self.cls.__name__}: {exc}") from exc

    def _decode_checked(self, data: bytes | memoryview) -> Message:
        n = len(data)
        if n < self.size or (self.appendage is None and n != self.size):
            raise DecodeError(
                f"{self.cls.__name__} is {self.size} bytes{' or more' if self.appendage else ''}, got {n}",
                offset=min(n, self.size),
                message_type=self.type_char,
            )
        vals = list(self.struct.unpack_from(data, 0))
        del vals[0]
        i = -1
        try:
            for i in self.alpha_idx:
                vals[i] = vals[i].decode("ascii").rstrip(" ")
            for i in self.char_idx:
                vals[i] = vals[i].decode("ascii")
        except UnicodeDecodeError as exc:
            raise DecodeError(
                f"non-ASCII bytes in {self.names[i]}",
                offset=self.offset_of(self.names[i]),
                message_type=self.type_char,
            ) from exc
        if self.appendage is not None:
            length = vals.pop()
            if n != self.size + length:
                raise DecodeError(
                    f"appendage length {length} but {n - self.size} bytes follow",
                    offset=self.size - 2,
                    message_type=self.type_char,
                )
            vals.append(self.appendage.decode(bytes(data[self.size :]), self.size, self.type_char))
        return self.cls(*vals)

    def offset_of(self, name: str) -> int:
        off = 1
        for n, wt in self.fields:
            if n == name:
                return off
            off += wt.size
        raise KeyError(name)

    # -- reference path (construct) ---------------------------------------
    def build_reference(self, msg: Message) -> bytes:
        values = {n: getattr(msg, n) for n in self.names}
        if self.appendage is not None:
            values["appendages"] = list(msg.appendages)  # type: ignore[attr-defined]
        try:
            return bytes(self.construct.build(values))
        except cs.ConstructError as exc:
            raise EncodeError(f"{self.cls.__name__}: {exc}") from exc

    def parse_reference(self, data: bytes) -> Message:
        try:
            c = self.construct.parse(data)
        except cs.ConstructError as exc:
            raise DecodeError(str(exc), message_type=self.type_char) from exc
        consumed = self.size + (len(self.appendage.encode(c.appendages)) if self.appendage else 0)
        if consumed != len(data):
            raise DecodeError(
                f"{len(data) - consumed} trailing bytes",
                offset=consumed,
                message_type=self.type_char,
            )
        vals = [c[n] for n in self.names]
        if self.appendage is not None:
            vals.append(tuple(c.appendages))
        return self.cls(*vals)


class Registry:
    """The message classes of one direction of one protocol version."""

    def __init__(self, name: str, appendage: AppendageCodec | None = None) -> None:
        self.name = name
        self.appendage = appendage
        self.by_type: dict[str, MessageCodec] = {}
        self._by_byte: dict[int, MessageCodec] = {}

    def register(self, *, appendage: bool = False) -> Callable[[type[M]], type[M]]:
        def deco(cls: type[M]) -> type[M]:
            codec = MessageCodec(cls, self.appendage if appendage else None)
            cls._codec = codec
            if cls.message_type in self.by_type:
                raise TypeError(f"duplicate {self.name} message type {cls.message_type!r}")
            self.by_type[cls.message_type] = codec
            self._by_byte[codec.type_byte[0]] = codec
            return cls

        return deco

    def decode(self, data: bytes | memoryview) -> Message:
        if len(data) == 0:
            raise DecodeError(f"empty {self.name} message")
        codec = self._by_byte.get(data[0])
        if codec is None:
            raise DecodeError(
                f"unknown {self.name} message type {bytes(data[:1])!r}",
                message_type=chr(data[0]),
            )
        return codec.decode(data)

    def lengths(self) -> dict[str, int]:
        return {t: c.size for t, c in self.by_type.items()}


def encode(msg: Message) -> bytes:
    """Encode any OUCH message (4.2 or 5.0) to its wire bytes."""
    try:
        codec = type(msg)._codec
    except AttributeError:
        raise EncodeError(f"not an OUCH message: {msg!r}") from None
    return codec.encode(msg)
