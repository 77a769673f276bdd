"""OUCH 4.2 and 5.0 codecs: hypothesis round trips of every message, fast path
checked against the construct reference layout, lengths, typed errors."""

from __future__ import annotations

import pytest
from _ouch_strategies import message_strategy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tickwire.ouch import DecodeError, EncodeError, OuchError, v42, v50
from tickwire.ouch._wire import Message, Registry

REGISTRIES: list[tuple[str, Registry, object]] = [
    ("v50-in", v50.INBOUND, v50.decode_inbound),
    ("v50-out", v50.OUTBOUND, v50.decode_outbound),
    ("v42-in", v42.INBOUND, v42.decode_inbound),
    ("v42-out", v42.OUTBOUND, v42.decode_outbound),
]
CASES = [
    pytest.param(reg, codec.cls, dec, id=f"{name}-{t}")
    for name, reg, dec in REGISTRIES
    for t, codec in reg.by_type.items()
]


@pytest.mark.parametrize(("registry", "cls", "decode"), CASES)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_ouch_round_trip_every_message(
    registry: Registry, cls: type[Message], decode, data
) -> None:  # type: ignore[no-untyped-def]
    msg = data.draw(message_strategy(cls))
    wire = v50.encode(msg)
    codec = cls._codec
    # the struct fast path and the construct reference agree, both ways
    assert wire == codec.build_reference(msg)
    assert codec.parse_reference(wire) == msg
    assert decode(wire) == msg
    assert wire[:1] == cls.message_type.encode()
    appendages = getattr(msg, "appendages", None)
    if appendages is None:
        assert len(wire) == codec.size
    else:
        assert len(wire) >= codec.size
        assert int.from_bytes(wire[codec.size - 2 : codec.size], "big") == len(wire) - codec.size


NOTES_V42_IN = {"O": 49, "U": 47, "X": 19, "M": 20}
NOTES_V42_OUT = {"S": 10, "A": 66, "U": 80, "C": 28, "D": 37, "E": 40, "B": 32, "G": 45, "F": 41,
                 "J": 24, "P": 23, "I": 23, "T": 36, "M": 28}  # fmt: skip
NOTES_V50_IN = {"O": 47, "U": 40, "X": 9, "M": 10, "Q": 1}
NOTES_V50_OUT = {"S": 10, "A": 64, "U": 68, "C": 18, "D": 32, "E": 36, "B": 36, "J": 29, "P": 13,
                 "I": 13, "T": 30, "M": 18, "R": 16, "Q": 13}  # fmt: skip


def test_ouch_lengths_match_notes() -> None:
    assert v42.INBOUND_LENGTHS == NOTES_V42_IN
    assert v42.OUTBOUND_LENGTHS == NOTES_V42_OUT
    assert v50.INBOUND_MIN_LENGTHS == NOTES_V50_IN
    assert v50.OUTBOUND_MIN_LENGTHS == NOTES_V50_OUT


def test_ouch_threshold_enter_order_bytes() -> None:
    """The threshold strategy's order, byte for byte against the spec offsets."""
    msg = v50.EnterOrder(
        user_ref_num=42,
        side=v50.Side.BUY,
        quantity=300,
        symbol="AAPL",
        price=1_499_900,
        time_in_force=v50.TimeInForce.IOC,
        display="Y",
        capacity="P",
        intermarket_sweep_eligibility="N",
        cross_type="N",
        cl_ord_id=v50.cl_ord_id_for(42),
    )
    wire = v50.encode(msg)
    assert len(wire) == 47
    assert wire[0:1] == b"O"
    assert wire[1:5] == (42).to_bytes(4, "big")
    assert wire[5:6] == b"B"
    assert wire[6:10] == (300).to_bytes(4, "big")
    assert wire[10:18] == b"AAPL    "
    assert wire[18:26] == (1_499_900).to_bytes(8, "big")
    assert wire[26:31] == b"3YPNN"
    assert wire[31:45] == b"TW000000000042"
    assert wire[45:47] == b"\x00\x00"


def test_ouch_appendage_options_bytes() -> None:
    msg = v50.OrderRestated(
        timestamp=1,
        user_ref_num=2,
        reason="P",
        appendages=(
            v50.TagValue(v50.OptionTag.DISPLAY_PRICE, 1_000_000),
            v50.TagValue(v50.OptionTag.PEG_OFFSET, -100),
            v50.TagValue(v50.OptionTag.FIRM, "ABC"),
        ),
    )
    wire = v50.encode(msg)
    tail = wire[16:]
    assert wire[14:16] == len(tail).to_bytes(2, "big")
    assert tail == (
        b"\x09\x17" + (1_000_000).to_bytes(8, "big") + b"\x05\x07" + (-100).to_bytes(4, "big", signed=True)
        + b"\x05\x02ABC "
    )  # fmt: skip
    assert v50.decode_outbound(wire) == msg


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"Z" + bytes(46), "unknown"),
        (b"O" + bytes(10), "47 bytes"),
        (v50.encode(v50.CancelOrder(1, 0)) + b"x", "9 bytes"),
        # appendage length says 5 but 2 bytes follow
        (v50.encode(v50.OrderRestated(1, 2, "R"))[:-2] + b"\x00\x05ab", "appendage length"),
        # a TagValue that runs past the end
        (v50.encode(v50.OrderRestated(1, 2, "R"))[:-2] + b"\x00\x02\x09\x17", "runs past"),
        # MinQty must be 4 bytes
        (v50.encode(v50.OrderRestated(1, 2, "R"))[:-2] + b"\x00\x03\x02\x03\x01", "option tag 3"),
    ],
)
def test_ouch_bad_bytes_raise_typed_errors(data: bytes, reason: str) -> None:
    decode = v50.decode_outbound if data[:1] == b"R" else v50.decode_inbound
    with pytest.raises(DecodeError, match=reason) as info:
        decode(data)
    assert isinstance(info.value, OuchError) and isinstance(info.value, ValueError)


def test_ouch_non_ascii_is_decode_error_with_offset() -> None:
    wire = bytearray(v42.encode(v42.CancelOrder("TOKEN1", 5)))
    wire[3] = 0xFF
    with pytest.raises(DecodeError) as info:
        v42.decode_inbound(bytes(wire))
    assert info.value.offset == 1
    assert info.value.message_type == "X"


@pytest.mark.parametrize(
    "msg",
    [
        v42.CancelOrder("T" * 15, 1),
        v42.CancelOrder("TOKEN", -1),
        v42.CancelOrder("TOKEN", 2**32),
        v42.CancelOrder("TÖKEN", 1),
        v42.ModifyOrder("TOKEN", "BS", 1),
        v50.OrderRestated(1, 2, "R", (v50.TagValue(v50.OptionTag.MIN_QTY, "x"),)),
        v50.OrderRestated(1, 2, "R", (v50.TagValue(250, 5),)),
    ],
)
def test_ouch_bad_values_raise_encode_error(msg: Message) -> None:
    with pytest.raises(EncodeError):
        v50.encode(msg)
    with pytest.raises(EncodeError):
        type(msg)._codec.build_reference(msg)
