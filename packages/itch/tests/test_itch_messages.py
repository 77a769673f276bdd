"""The wire table, the construct path and the generated fast path agree, for every type."""

from __future__ import annotations

import pickle
import struct
from dataclasses import FrozenInstanceError, fields, replace

import pytest
import tickwire.itch as itch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tickwire.itch import (
    MESSAGE_CLASSES,
    MESSAGE_LENGTHS,
    AddOrder,
    DecodeError,
    EncodeError,
    Side,
    decode,
    decode_construct,
    encode,
    encode_construct,
)
from tickwire.itch.strategies import messages_of

TYPES = sorted(MESSAGE_CLASSES)
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# NOTES.md, "Message lengths (type byte included)".
SPEC_LENGTHS = (
    "S12 R39 H25 Y20 L26 V35 W12 K28 J35 h21 A36 F40 E31 C36 X23 D19 U35 P44 Q40 B19 I50 N20 O48"
)


def test_all_23_types_with_spec_lengths() -> None:
    expected = {item[0]: int(item[1:]) for item in SPEC_LENGTHS.split()}
    assert expected == MESSAGE_LENGTHS
    assert len(MESSAGE_CLASSES) == 23
    for letter, cls in MESSAGE_CLASSES.items():
        assert cls.message_type == letter
        assert [f.name for f in fields(cls)][:3] == ["stock_locate", "tracking_number", "timestamp"]


def test_known_message_bytes() -> None:
    # Hand-assembled from the spec's offsets, independent of the table.
    raw = (
        b"A"
        + struct.pack(">HH", 13, 7)
        + (34_200_000_000_123).to_bytes(6, "big")
        + struct.pack(">Q", 99)
        + b"S"
        + struct.pack(">I", 300)
        + b"AAPL    "
        + struct.pack(">I", 1_500_000)
    )
    expected = AddOrder(13, 7, 34_200_000_000_123, 99, "S", 300, "AAPL", 1_500_000)
    for dec in (decode, decode_construct):
        msg = dec(raw)
        assert msg == expected
        assert isinstance(msg, AddOrder)
        assert msg.buy_sell_indicator is Side.SELL
        assert msg.buy_sell_indicator == "S"
    assert encode(expected) == raw
    assert encode_construct(expected) == raw


@pytest.mark.parametrize("letter", TYPES)
def test_build_then_parse(letter: str) -> None:
    @FAST
    @given(messages_of(MESSAGE_CLASSES[letter], valid_codes=False))
    def check(msg: itch.Message) -> None:
        raw = encode(msg)
        assert raw == encode_construct(msg)
        assert len(raw) == MESSAGE_LENGTHS[letter]
        assert raw[0:1] == letter.encode()
        assert decode(raw) == msg
        assert decode_construct(raw) == msg

    check()


@pytest.mark.parametrize("letter", TYPES)
def test_parse_then_build(letter: str) -> None:
    length = MESSAGE_LENGTHS[letter]

    @FAST
    @given(st.binary(min_size=length - 1, max_size=length - 1))
    def check(body: bytes) -> None:
        raw = letter.encode() + body
        fast = decode(raw)
        slow = decode_construct(raw)
        assert fast == slow
        assert type(fast) is type(slow) is MESSAGE_CLASSES[letter]
        # Same field values of the same types (enum member vs raw str included).
        for f in fields(fast):
            a, b = getattr(fast, f.name), getattr(slow, f.name)
            assert type(a) is type(b), f.name
        assert encode(fast) == raw
        assert encode_construct(slow) == raw

    check()


def test_unknown_codes_are_preserved() -> None:
    raw = bytearray(encode(AddOrder(1, 0, 0, 1, "B", 1, "X", 1)))
    raw[19] = ord("Z")  # not a side the spec knows
    msg = decode(bytes(raw))
    assert isinstance(msg, AddOrder)
    assert msg.buy_sell_indicator == "Z"
    assert type(msg.buy_sell_indicator) is str
    assert encode(msg) == bytes(raw)


def test_messages_are_frozen_and_slotted() -> None:
    msg = AddOrder(1, 0, 0, 1, "B", 1, "X", 1)
    with pytest.raises(FrozenInstanceError):
        msg.price = 2  # type: ignore[misc]
    assert not hasattr(msg, "__dict__")
    assert replace(msg, price=2).price == 2
    assert hash(msg) == hash(AddOrder(1, 0, 0, 1, "B", 1, "X", 1))


@FAST
@given(st.binary(max_size=60))
def test_random_bytes_raise_only_decode_error(data: bytes) -> None:
    for dec in (decode, decode_construct):
        try:
            msg = dec(data)
        except DecodeError as exc:
            assert exc.offset == 0
            assert exc.reason
        else:
            assert len(data) >= MESSAGE_LENGTHS[msg.message_type]
            assert encode(msg) == data[: MESSAGE_LENGTHS[msg.message_type]]


@pytest.mark.parametrize("dec", [decode, decode_construct])
def test_decode_errors(dec: object) -> None:
    f = dec  # type: ignore[assignment]
    with pytest.raises(DecodeError) as info:
        f(b"")  # type: ignore[operator]
    assert info.value.message_type is None
    with pytest.raises(DecodeError) as info:
        f(b"z" + bytes(40))  # type: ignore[operator]
    assert info.value.message_type == "z"
    assert "unknown" in info.value.reason
    with pytest.raises(DecodeError) as info:
        f(b"A" + bytes(20))  # type: ignore[operator]
    assert info.value.message_type == "A"
    assert "truncated" in info.value.reason
    assert isinstance(info.value, ValueError)


def test_decode_error_pickles() -> None:
    err = DecodeError("bad", offset=12, message_type="A")
    back = pickle.loads(pickle.dumps(err))
    assert (back.reason, back.offset, back.message_type) == ("bad", 12, "A")
    assert str(back) == str(err)


def test_decode_error_pickles_with_the_file_it_was_read_from() -> None:
    """A ``DecodeError`` marked with the file it was raised reading
    (``tickwire.cli.name_input``) keeps the mark through a pickle round trip (a
    multiprocessing worker's error, a sweep's): ``one_line`` prints the same line, the file
    first. ``__reduce__`` rebuilt it from its three fields only and the name was lost."""
    from tickwire.cli import input_of, name_input, one_line

    err = name_input(DecodeError("truncated frame", offset=12, message_type="A"), "day.itch")
    assert one_line(err) == "day.itch: truncated frame (at byte offset 12, message type 'A')"
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is DecodeError and input_of(back) == "day.itch"
    assert one_line(back) == one_line(err)
    assert (back.reason, back.offset, back.message_type) == ("truncated frame", 12, "A")
    plain = pickle.loads(pickle.dumps(DecodeError("bad")))  # unmarked: still unmarked
    assert input_of(plain) is None and one_line(plain) == "bad (at byte offset 0)"


@pytest.mark.parametrize(
    "msg",
    [
        AddOrder(1, 0, 0, 1, "B", 1, "TOOLONGSYM", 1),  # symbol > 8 bytes
        AddOrder(1, 0, 0, 1, "BS", 1, "X", 1),  # two-character side
        AddOrder(1, 0, 0, 1, "", 1, "X", 1),  # empty side
        AddOrder(-1, 0, 0, 1, "B", 1, "X", 1),  # negative locate
        AddOrder(1 << 16, 0, 0, 1, "B", 1, "X", 1),  # locate too wide
        AddOrder(1, 0, 1 << 48, 1, "B", 1, "X", 1),  # timestamp too wide
        AddOrder(1, 0, 0, 1, "B", 1 << 32, "X", 1),  # shares too wide
        AddOrder(1, 0, 0, 1, "B", 1, "\u20ac", 1),  # not latin-1
        AddOrder(1, 0, 0, 1, "B", 1, "X", "1"),  # type: ignore[arg-type]
    ],
)
def test_encode_rejects_unrepresentable(msg: AddOrder) -> None:
    with pytest.raises(EncodeError):
        encode(msg)
    with pytest.raises(EncodeError):
        encode_construct(msg)


def test_encode_rejects_non_messages() -> None:
    with pytest.raises(EncodeError):
        encode(object())  # type: ignore[arg-type]
    with pytest.raises(EncodeError):
        encode(itch.Message(0, 0, 0))


def test_decode_accepts_buffers_and_ignores_trailing_bytes() -> None:
    msg = AddOrder(1, 2, 3, 4, "B", 5, "AB", 6)
    raw = encode(msg)
    assert decode(memoryview(raw + b"xyz")) == msg
    assert decode(bytearray(raw)) == msg
    assert decode_construct(memoryview(raw)) == msg
