"""The public field-offset API (tickwire.itch.layouts) and the fast path's kind numbers.

The offsets are derived from the construct table; these tests hold them to the spec's
figures for the messages the backends parse by offset (A, F), prove on any message that
``data[offset:end]`` really holds the field, and check that the compiled extension's
field-kind numbers are the layout's (a drift is refused at configure time).
"""

from __future__ import annotations

import dataclasses
import importlib
import itertools
from types import ModuleType

import pytest
import tickwire.itch as itch
from hypothesis import given, settings
from tickwire.itch import fastpath
from tickwire.itch.layouts import LAYOUTS, FieldKind, WireField, layout, offset, wire_field
from tickwire.itch.messages import MESSAGE_CLASSES, MESSAGE_LENGTHS, Message, encode
from tickwire.itch.strategies import messages


def test_add_order_offsets_are_the_specs() -> None:
    # ITCH 5.0 spec, section 4.3.1 (A) and 4.3.2 (F).
    expected = [
        ("message_type", 0, 1, FieldKind.TYPE),
        ("stock_locate", 1, 2, FieldKind.U16),
        ("tracking_number", 3, 2, FieldKind.U16),
        ("timestamp", 5, 6, FieldKind.TS48),
        ("order_reference_number", 11, 8, FieldKind.U64),
        ("buy_sell_indicator", 19, 1, FieldKind.CODE),
        ("shares", 20, 4, FieldKind.U32),
        ("stock", 24, 8, FieldKind.ALPHA),
        ("price", 32, 4, FieldKind.U32),
    ]
    assert [(f.name, f.offset, f.length, f.kind) for f in layout("A")] == expected
    assert [(f.name, f.offset, f.length, f.kind) for f in layout("F")] == [
        *expected,
        ("attribution", 36, 4, FieldKind.ALPHA),
    ]
    assert offset("A", "price") == 32
    assert wire_field("F", "attribution") == WireField("attribution", 36, 4, FieldKind.ALPHA)
    assert wire_field("F", "attribution").end == MESSAGE_LENGTHS["F"] == 40


def test_every_type_is_contiguous_and_names_its_class_fields() -> None:
    assert set(LAYOUTS) == set(MESSAGE_CLASSES)
    for t, fields in LAYOUTS.items():
        assert fields[0] == WireField("message_type", 0, 1, FieldKind.TYPE)
        for before, after in itertools.pairwise(fields):
            assert after.offset == before.end, (t, after.name)
        assert fields[-1].end == MESSAGE_LENGTHS[t]
        names = [f.name for f in dataclasses.fields(MESSAGE_CLASSES[t])]
        assert [f.name for f in fields[1:]] == names


def test_package_exports_the_api() -> None:
    assert itch.layout is layout and itch.offset is offset and itch.LAYOUTS is LAYOUTS


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: layout("Z"), "not an ITCH 5.0 message type: 'Z'"),
        (lambda: offset("AB", "price"), "not an ITCH 5.0 message type: 'AB'"),
        (lambda: offset("A", "attribution"), "ITCH 'A' has no field 'attribution' (fields:"),
    ],
)
def test_bad_lookups_are_one_line_value_errors(call: object, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(")):
        call()  # type: ignore[operator]


def _read(kind: FieldKind, raw: bytes) -> object:
    if kind is FieldKind.ALPHA:
        return raw.decode("latin-1").rstrip(" ")
    if kind is FieldKind.CODE or kind is FieldKind.TYPE:
        return raw.decode("latin-1")
    return int.from_bytes(raw, "big")


@settings(max_examples=200, deadline=None)
@given(messages(valid_codes=False))
def test_each_field_is_where_the_layout_says(msg: Message) -> None:
    data = encode(msg)
    for f in layout(msg.message_type):
        value = _read(f.kind, data[f.offset : f.end])
        assert value == getattr(msg, f.name), f.name


# ------------------------------------------------------------- the extension's kind numbers


def _extension() -> ModuleType:
    # Imported directly, not through fastpath.AVAILABLE: an extension whose numbers
    # drifted is refused there (a silent fallback), and must fail here instead.
    try:
        return importlib.import_module("tickwire.itch._fast")
    except ImportError as exc:
        pytest.skip(f"extension not built ({exc})")


def test_extension_kind_numbers_are_the_layouts() -> None:
    ext = _extension()
    assert ext.FIELD_KINDS == fastpath.EXTENSION_KINDS
    assert fastpath.AVAILABLE or "TICKWIRE_PURE" in str(fastpath.UNAVAILABLE_REASON)
    assert {k.name: k.value for k in FieldKind if k.name != "TYPE"} == fastpath.EXTENSION_KINDS


def test_extension_refuses_drifted_kind_numbers() -> None:
    ext = _extension()
    if not fastpath.AVAILABLE:
        pytest.skip(f"compiled fast path not in use: {fastpath.UNAVAILABLE_REASON}")
    drifted = {**fastpath.EXTENSION_KINDS, "U32": fastpath.EXTENSION_KINDS["U64"]}
    with pytest.raises(ValueError, match="field kinds"):
        ext.configure(drifted, fastpath.extension_specs(), None, None)
    # Refused before anything was installed: the extension still decodes as configured.
    msg = itch.AddOrder(1, 2, 3, 4, "S", 100, "AAPL", 1_000_000)
    assert ext.decode(encode(msg)) == msg
