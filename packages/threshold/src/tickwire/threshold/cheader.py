"""The C header of the compiled backends, generated from the Python tables.

The XDP program and the bare-metal kernel parse the same wire formats as the Python
codecs and build the same order frame. Their C used to restate the layouts by hand (bare
36, 97, 77, 47 ...); now every offset and length they use comes from a header this module
writes, and the header comes from the one table of each format:

* Ethernet, 802.1Q, IPv4 and UDP: the header tables of :mod:`tickwire.net.frames`;
* the MoldUDP64 header and message block: :data:`tickwire.moldudp64.codec.HEADER` and
  :data:`~tickwire.moldudp64.codec.MESSAGE_BLOCK`;
* ITCH 5.0 Add Order (``A``, ``F``): :func:`tickwire.itch.layouts.layout`;
* the OUCH 5.0 Enter Order: the wire table of :class:`tickwire.ouch.v50.EnterOrder`;
* the threshold contract (``docs/threshold.md``): blocks scanned per packet, instruments,
  the order of the counters, the lengths of the order frame of section 5;
* a backend's own structs (its ``C_LAYOUTS``: ctypes map values, construct blobs).

Algorithm. Each table is walked into a :class:`CLayout`: its fields in order, each with
the offset (the sum of the lengths before it) and length (``sizeof`` of the field). A
construct Struct is walked until its first field of variable size: a ``Prefixed`` field
contributes its length prefix as ``<name>_length`` (the OUCH appendage length) and ends
the fixed part, any other variable field just ends it. A tickwire.net ``HeaderLayout``
and a ctypes Structure give their
fields' ``offset``/``size`` directly. Each layout becomes ``#define TW_<P>_<FIELD>_OFF``
/ ``_LEN`` lines and ``TW_<P>_LEN`` (the fixed part; ``TW_<P>_SIZE`` for a C struct),
and, for the wire formats, a packed struct of byte fields (``struct tw_wire_<p>``) with a
``_Static_assert`` per field, so the compiler's view of the layout is checked too; the
XDP object carries those structs in its BTF, which the tests compare with the tables.
For a backend struct, a ``TW_CHECK_<P>(tag)`` macro holds one ``_Static_assert`` per
field (offset and size) plus one on ``sizeof``: the C defines the struct, names the
macro after it, and does not compile if it drifts from the table.

The output is deterministic (a pure function of the tables), so the copies committed
next to the C (``tickwire_layout.h``) are checked by tests that regenerate them and
fail on any difference; ``python -m tickwire.threshold.cheader --check`` does the same.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import construct as cs
from tickwire.itch.layouts import layout as itch_layout
from tickwire.moldudp64 import codec as mold
from tickwire.net import frames as net
from tickwire.ouch import v50
from tickwire.threshold.config import MAX_INSTRUMENTS
from tickwire.threshold.scan import MAX_SCANNED, MAX_TAGS
from tickwire.threshold.stats import REFUSAL_REASONS

__all__ = [
    "COUNTERS",
    "ORDER_LENGTHS",
    "SESSION_LEN",
    "SYMBOL_LEN",
    "WIRE",
    "CField",
    "CLayout",
    "backend_header",
    "check_header",
    "construct_layout",
    "ctypes_layout",
    "main",
    "render_header",
    "wire_layouts",
]

#: The strategy's counters in contract order (``docs/threshold.md`` section 6): the
#: first fields of every backend's stats struct, each a 64-bit counter.
COUNTERS: tuple[str, ...] = (
    "frames",
    "messages_scanned",
    "triggers",
    "orders",
    "suppressed",
    "parse_errors",
    *(f"refused_{r}" for r in REFUSAL_REASONS),
)


#: Bytes of a MoldUDP64 session name (the order session in a backend's config).
SESSION_LEN: int = mold.SESSION_LENGTH
#: Bytes of a symbol: the ITCH Add Order's stock, copied into the Enter Order's symbol.
SYMBOL_LEN: int = next(f.length for f in itch_layout("A") if f.name == "stock")
_OUCH_SYMBOL_LEN = {name: size for name, _kind, size in v50.EnterOrder._codec.layout}["symbol"]
if SYMBOL_LEN != _OUCH_SYMBOL_LEN:  # pragma: no cover - the order could not carry the symbol
    raise AssertionError("ITCH stock and OUCH 5.0 symbol differ in length")


@dataclass(frozen=True, slots=True)
class CField:
    """One field: ``length`` bytes at ``offset``."""

    name: str
    offset: int
    length: int


@dataclass(frozen=True, slots=True)
class CLayout:
    """One table walked into fields.

    ``prefix`` names the macros (``TW_<prefix>_...``); ``size`` is the fixed part's
    length; ``source`` says which table it came from (written in the header);
    ``wire`` selects a packed byte struct (wire formats) or a ``TW_CHECK_`` macro for a
    struct the C defines itself (a backend's own layouts).
    """

    prefix: str
    source: str
    fields: tuple[CField, ...]
    size: int
    wire: bool = True

    def field(self, name: str) -> CField:
        """The field ``name`` (KeyError naming the layout when there is none)."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.prefix} has no field {name!r}")

    def span(self, name: str, base: int = 0) -> slice:
        """``data[span]`` is field ``name`` of the layout starting at ``base``."""
        f = self.field(name)
        return slice(base + f.offset, base + f.offset + f.length)


def construct_layout(prefix: str, source: str, struct: Any, *, wire: bool = True) -> CLayout:
    """Walk a construct ``Struct`` up to its first variable-size field (see the module
    docstring); a ``Prefixed`` field there contributes its length prefix."""
    fields: list[CField] = []
    pos = 0
    for sub in struct.subcons:
        if sub.name is None:  # Terminated and friends: no bytes
            continue
        try:
            width = sub.sizeof()
        except cs.SizeofError:
            inner = sub.subcon
            if isinstance(inner, cs.Prefixed):  # its length: "<name>_length"
                width = inner.lengthfield.sizeof()
                fields.append(CField(f"{sub.name}_length", pos, width))
                pos += width
            break
        fields.append(CField(sub.name, pos, width))
        pos += width
    return CLayout(prefix, source, tuple(fields), pos, wire)


def net_layout(prefix: str, source: str, layout: net.HeaderLayout) -> CLayout:
    """A header table of tickwire.net (its fields' offsets and sizes)."""
    fields = tuple(CField(f.name, f.offset, f.size) for f in layout.fields)
    return CLayout(prefix, source, fields, layout.size, True)


def ctypes_layout(prefix: str, source: str, struct: type[ctypes.Structure]) -> CLayout:
    """A ctypes Structure's fields, offsets and sizes (a C struct the backend defines)."""
    fields = tuple(
        CField(name, getattr(struct, name).offset, getattr(struct, name).size)
        for name, *_ in struct._fields_
    )
    return CLayout(prefix, source, fields, ctypes.sizeof(struct), wire=False)


def _itch(letter: str) -> CLayout:
    fields = tuple(CField(f.name, f.offset, f.length) for f in itch_layout(letter))
    return CLayout(f"ITCH_{letter}", f"tickwire.itch.layouts.layout({letter!r})", fields,
                   fields[-1].offset + fields[-1].length)  # fmt: skip


def wire_layouts() -> tuple[CLayout, ...]:
    """The wire formats the backends parse and build, from their tables."""
    return (
        net_layout("ETH", "tickwire.net.frames.ETHERNET_LAYOUT", net.ETHERNET_LAYOUT),
        net_layout("VLAN", "tickwire.net.frames.VLAN_LAYOUT", net.VLAN_LAYOUT),
        net_layout("IPV4", "tickwire.net.frames.IPV4_LAYOUT (no options)", net.IPV4_LAYOUT),
        net_layout("UDP", "tickwire.net.frames.UDP_LAYOUT", net.UDP_LAYOUT),
        construct_layout("MOLD", "tickwire.moldudp64.codec.HEADER", mold.HEADER),
        _itch("A"),
        _itch("F"),
        construct_layout(
            "OUCH_ENTER_ORDER",
            "tickwire.ouch.v50.EnterOrder (appendages: their length only)",
            v50.EnterOrder._codec.construct,
        ),
    )


#: The wire layouts by prefix (``ETH``, ``VLAN``, ``IPV4``, ``UDP``, ``MOLD``, ``ITCH_A``,
#: ``ITCH_F``, ``OUCH_ENTER_ORDER``): the same numbers as the header, for Python code
#: that slices frames (traffic tools, the mirror) instead of restating them.
WIRE: Mapping[str, CLayout] = MappingProxyType({lay.prefix: lay for lay in wire_layouts()})


def _order_frame() -> list[tuple[str, int, str]]:
    """The lengths of the order frame of ``docs/threshold.md`` section 5: one Enter
    Order in one MoldUDP64 block, in UDP, IPv4 (no options), Ethernet."""
    lay = WIRE
    block = mold.MESSAGE_BLOCK.lengthfield.sizeof()
    mold_len = lay["MOLD"].size + block + lay["OUCH_ENTER_ORDER"].size
    udp_len = lay["UDP"].size + mold_len
    ip_len = lay["IPV4"].size + udp_len
    frame = lay["ETH"].size + ip_len
    return [
        ("TW_MOLD_BLOCK_PREFIX_LEN", block, "the length before each message block"),
        ("TW_ORDER_MOLD_LEN", mold_len, "header + one block of an Enter Order"),
        ("TW_ORDER_UDP_LEN", udp_len, "UDP length of an order"),
        ("TW_ORDER_IP_LEN", ip_len, "IPv4 total length of an order"),
        ("TW_ORDER_FRAME_LEN", frame, "the order frame, untagged"),
        ("TW_ORDER_FRAME_TAGGED_LEN", frame + lay["VLAN"].size, "with an 802.1Q tag"),
        ("TW_ORDER_FRAME_QINQ_LEN", frame + MAX_TAGS * lay["VLAN"].size, "with two tags"),
    ]


#: ``TW_ORDER_*`` and ``TW_MOLD_BLOCK_PREFIX_LEN`` of the header, by name.
ORDER_LENGTHS: dict[str, int] = {name: value for name, value, _ in _order_frame()}


def _defines(rows: Iterable[tuple[str, int | str, str]]) -> list[str]:
    out = []
    for name, value, comment in rows:
        text = f"#define {name} {value}"
        out.append(f"{text:<48} /* {comment} */" if comment else text)
    return out


def _layout_lines(lay: CLayout) -> list[str]:
    p = f"TW_{lay.prefix}"
    kind = "LEN" if lay.wire else "SIZE"
    lines = [f"/* {lay.source} */"]
    rows: list[tuple[str, int | str, str]] = []
    for f in lay.fields:
        name = f.name.upper()
        rows += [(f"{p}_{name}_OFF", f.offset, ""), (f"{p}_{name}_LEN", f.length, "")]
    rows.append((f"{p}_{kind}", lay.size, "fixed part" if lay.wire else "sizeof"))
    lines += _defines(rows)
    if lay.wire:
        tag = f"tw_wire_{lay.prefix.lower()}"
        lines.append(f"struct {tag} {{")
        for f in lay.fields:
            array = f"[{f.length}]" if f.length > 1 else ""
            lines.append(f"\tunsigned char {f.name}{array};")
        lines.append("} __attribute__((packed));")
        lines.append(f'_Static_assert(sizeof(struct {tag}) == {p}_LEN, "{tag}");')
        for f in lay.fields:
            name = f.name.upper()
            lines.append(
                f"_Static_assert(__builtin_offsetof(struct {tag}, {f.name}) == {p}_{name}_OFF,"
                f' "{tag}.{f.name}");'
            )
    else:
        lines.append(f"#define TW_CHECK_{lay.prefix}(T) \\")
        lines.append(f'\t_Static_assert(sizeof(struct T) == {p}_SIZE, "struct " #T); \\')
        for i, f in enumerate(lay.fields):
            name = f.name.upper()
            end = "; \\" if i + 1 < len(lay.fields) else ""
            lines.append(
                f"\t_Static_assert(__builtin_offsetof(struct T, {f.name}) == {p}_{name}_OFF && "
                f"sizeof(((struct T *)0)->{f.name}) == {p}_{name}_LEN, "
                f'"struct " #T ".{f.name}"){end}'
            )
    return lines


def render_header(
    guard: str = "TICKWIRE_LAYOUT_H",
    extra: Sequence[CLayout] = (),
    *,
    constants: Sequence[tuple[str, int | str, str]] = (),
    source: str = "",
) -> str:
    """The header text: the wire layouts, the threshold contract, then a backend's own
    ``constants`` (name, value, comment) and structs (``extra``). ``source`` names the
    backend module in the banner (the ``--layouts`` that regenerates the file)."""
    wire = wire_layouts()
    lines = [
        "/* SPDX-License-Identifier: (MIT OR GPL-2.0) */",
        "/*",
        " * GENERATED by tickwire.threshold.cheader from the Python tables: do not edit.",
        " * Regenerate: python -m tickwire.threshold.cheader"
        + (f" --layouts {source}" if source else "")
        + " FILE",
        " * Offsets and lengths in bytes; wire fields are big-endian on the wire.",
        " */",
        f"#ifndef {guard}",
        f"#define {guard}",
        "",
        "/* ---- constants of the formats */",
        *_defines(
            [
                ("TW_ETH_P_IPV4", f"0x{net.ETHERTYPE_IPV4:04x}", "EtherType IPv4"),
                ("TW_ETH_P_8021Q", f"0x{net.ETHERTYPE_VLAN:04x}", "EtherType 802.1Q"),
                ("TW_ETH_P_8021AD", f"0x{net.ETHERTYPE_QINQ:04x}", "EtherType 802.1ad (QinQ)"),
                ("TW_IPPROTO_UDP", net.IPPROTO_UDP, ""),
                ("TW_IP_DF", f"0x{net.IP_DF:04x}", "flags/fragment: Don't Fragment"),
                ("TW_MOLD_END_OF_SESSION", f"0x{mold.END_OF_SESSION_COUNT:04x}", "count"),
                ("TW_ITCH_A_TYPE", f"0x{ord('A'):02x}", "'A'"),
                ("TW_ITCH_F_TYPE", f"0x{ord('F'):02x}", "'F'"),
                ("TW_OUCH_ENTER_ORDER_TYPE", f"0x{ord('O'):02x}", "'O'"),
            ]
        ),
    ]
    for lay in wire:
        lines += ["", *_layout_lines(lay)]
    lines += [
        "",
        "/* ---- the threshold contract (docs/threshold.md): tickwire.threshold */",
        *_defines(
            [
                ("TW_MAX_SCANNED", MAX_SCANNED, "blocks looked at per packet"),
                ("TW_MAX_TAGS", MAX_TAGS, "VLAN tags read (0x8100/0x88a8 each)"),
                ("TW_MAX_INSTRUMENTS", MAX_INSTRUMENTS, "instruments in a config"),
                *_order_frame(),
            ]
        ),
        "/* The counters in contract order: TW_STAT_<NAME> is the index of the 64-bit counter",
        " * in a backend's stats struct (checked there with TW_CHECK_COUNTERS). */",
        *_defines((f"TW_STAT_{n.upper()}", i, "") for i, n in enumerate(COUNTERS)),
        *_defines([("TW_STAT_COUNT", len(COUNTERS), "")]),
        "#define TW_CHECK_COUNTERS(T) \\",
    ]
    for i, n in enumerate(COUNTERS):
        end = "; \\" if i + 1 < len(COUNTERS) else ""
        lines.append(
            f"\t_Static_assert(__builtin_offsetof(struct T, {n}) == TW_STAT_{n.upper()} * 8 && "
            f'sizeof(((struct T *)0)->{n}) == 8, "struct " #T ".{n}"){end}'
        )
    if constants:
        lines += ["", f"/* ---- {source or 'the backend'}: its own constants */"]
        lines += _defines(constants)
    for lay in extra:
        lines += ["", *_layout_lines(lay)]
    lines += ["", f"#endif /* {guard} */", ""]
    return "\n".join(lines)


def backend_header(module_name: str | None = None) -> str:
    """The header for a backend module: its ``C_GUARD``, ``C_CONSTANTS`` and
    ``C_LAYOUTS`` after the common part (just the common part without a module)."""
    if not module_name:
        return render_header()
    module = importlib.import_module(module_name)
    return render_header(
        str(getattr(module, "C_GUARD", "TICKWIRE_LAYOUT_H")),
        tuple(getattr(module, "C_LAYOUTS", ())),
        constants=tuple(getattr(module, "C_CONSTANTS", ())),
        source=module_name,
    )


def check_header(path: Path, text: str) -> str | None:
    """None when ``path`` holds exactly ``text``, else a one-line reason."""
    try:
        current = path.read_text()
    except OSError as exc:
        return f"{path}: cannot read ({exc.strerror})"
    if current != text:
        return f"{path} differs from the tables: regenerate it"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tickwire.threshold.cheader [--layouts MODULE] [--check] FILE``."""
    parser = argparse.ArgumentParser(
        prog="python -m tickwire.threshold.cheader",
        description="Write (or --check) the C layout header generated from the Python tables.",
    )
    parser.add_argument("file", type=Path, help="the header to write ('-': stdout)")
    parser.add_argument(
        "--layouts",
        metavar="MODULE",
        help="a backend module whose C_LAYOUTS (and C_GUARD) are appended, "
        "e.g. tickwire.xdp.layout",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if FILE is not current")
    args = parser.parse_args(argv)
    try:
        text = backend_header(args.layouts)
    except ImportError as exc:
        parser.error(f"--layouts {args.layouts}: {exc}")
    if str(args.file) == "-":
        sys.stdout.write(text)
        return 0
    if args.check:
        problem = check_header(args.file, text)
        if problem:
            print(f"{parser.prog}: {problem}", file=sys.stderr)
            return 1
        return 0
    args.file.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
