"""OUCH 5.0: every inbound and outbound message, with the TagValue appendage.

Layouts follow NASDAQ's *OUCH 5.0 Order Entry Specification* (April 2023).
Integers are big-endian; prices are 8-byte unsigned ints with 4 implied
decimals (Price(4) units, e.g. ``1500000`` is $150.0000); alpha fields are
``str`` without their space padding; enum-like one-character fields are ``str``
(compare with the :class:`Side`, :class:`TimeInForce`, ... constants or plain
letters). Timestamps are int nanoseconds since midnight.

Messages that carry an Optional Appendage (inbound O and U, outbound A, U, E
and R) have an ``appendages`` tuple of :class:`TagValue` as their last field;
the Appendage Length on the wire is derived from it.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any, ClassVar, NamedTuple

import construct as cs

from ._errors import DecodeError, EncodeError
from ._wire import (
    CHAR,
    CHAR_TYPE,
    SINT_TYPES,
    U16,
    U32,
    U64,
    UINT_TYPES,
    Message,
    Registry,
    WireType,
    alpha,
    alpha_type,
)
from ._wire import encode as _encode

__all__ = [
    "CANCELED_SYSTEM",
    "CANCELED_TIMEOUT",
    "CANCELED_USER_REQUESTED",
    "ENTER_DISPLAYS",
    "EXPIRE_TIME_LIMIT",
    "INBOUND_MIN_LENGTHS",
    "MAX_PRICE",
    "MAX_QUANTITY",
    "MAX_USER_REF_NUM",
    "OPTION_TYPES",
    "OUTBOUND_MIN_LENGTHS",
    "UNRUN_APPENDAGES",
    "AccountQueryRequest",
    "AccountQueryResponse",
    "AiqCanceled",
    "AnsweredTerms",
    "BrokenTrade",
    "CancelOrder",
    "CancelPending",
    "CancelReject",
    "Capacity",
    "CrossType",
    "Display",
    "EnterOrder",
    "InboundMessage",
    "LiquidityFlag",
    "ModifyOrder",
    "OptionTag",
    "OrderAccepted",
    "OrderCanceled",
    "OrderExecuted",
    "OrderModified",
    "OrderPriorityUpdate",
    "OrderReplaced",
    "OrderRestated",
    "OutboundMessage",
    "RejectReason",
    "Rejected",
    "ReplaceOrder",
    "Side",
    "SystemEvent",
    "TagValue",
    "TimeInForce",
    "answer_firm",
    "answer_min_qty",
    "answered_terms",
    "cl_ord_id_for",
    "cross_type_reason",
    "decode_inbound",
    "decode_outbound",
    "encode",
    "expire_time",
    "firm_appendage",
    "held_display",
    "lifetime",
    "min_qty_appendages",
    "next_user_ref_num",
    "not_as_entered",
    "order_fields_reason",
    "order_terms_reason",
    "time_in_force_error",
    "wider_time_in_force",
]


#: Order Canceled reason ``T``: "Timeout. The Time In Force for this order has expired"
#: (4.2 alike). One name for the backtest venues (a Day order at the End of Market Hours,
#: anything left at the End of System Hours) and the simulated exchange (those, and a
#: GTT or 4.2 Time In Force in seconds run out); the codec has no table of cancel reasons.
CANCELED_TIMEOUT = "T"

#: Order Canceled reason ``U``: "User requested cancel" (4.2 alike), the answer to a Cancel
#: Order (or a Replace's invalid details' cancel is ``Z``, an IOC's rest ``I``: none of
#: those answers a Cancel; ``tickwire.ouch.orders.acknowledges_cancel``).
CANCELED_USER_REQUESTED = "U"

#: Order Canceled reason ``Z``: "System cancel. This order was cancelled by the system".
#: The backtest venues' answer for an order resting in a book that a Stock Directory
#: made no longer its symbol's (``SimulatedVenue._directory``, ``CVenue._directory``).
CANCELED_SYSTEM = "Z"


class Side(StrEnum):
    BUY = "B"
    SELL = "S"
    SELL_SHORT = "T"
    SELL_SHORT_EXEMPT = "E"


class TimeInForce(StrEnum):
    DAY = "0"
    IOC = "3"
    GTX = "5"
    GTT = "6"
    AFTER_HOURS = "E"


class Display(StrEnum):
    VISIBLE = "Y"
    HIDDEN = "N"
    ATTRIBUTABLE = "A"
    CONFORMANT = "Z"


class LiquidityFlag(StrEnum):
    """The Liquidity Flags of an Order Executed that a continuous book gives (OUCH 5.0
    Appendix E): the resting side of a displayed order ``A`` (Added), of a non-displayed
    one (Display ``N``) ``J`` ("Non-displayed adding liquidity"), the incoming side ``R``
    (Removed). One place for the bytes: the simulated exchange's matching, both backtest
    venues and the backtest's fee schedule and maker/taker counts read them here."""

    ADDED = "A"
    ADDED_HIDDEN = "J"
    REMOVED = "R"


class Capacity(StrEnum):
    AGENCY = "A"
    PRINCIPAL = "P"
    RISKLESS = "R"
    OTHER = "O"


class CrossType(StrEnum):
    CONTINUOUS = "N"
    OPENING = "O"
    CLOSING = "C"
    HALT_IPO = "H"
    SUPPLEMENTAL = "S"
    RETAIL = "R"
    EXTENDED_LIFE = "E"
    AFTER_HOURS_CLOSE = "A"


class RejectReason(IntEnum):
    """The Reason of a :class:`Rejected` message: Appendix D, "Order Reject Reasons".

    The one table of these codes in tickwire: the simulated exchange, the backtest's
    venue and the order book of :mod:`tickwire.ouch.orders` answer with its members.
    ``Rejected.reason`` stays a plain ``int`` when decoded, so a code newer than this
    table still decodes; ``RejectReason(code)`` names a known one (``ValueError`` else).
    """

    QUOTE_UNAVAILABLE = 0x01
    DESTINATION_CLOSED = 0x02
    INVALID_DISPLAY = 0x03
    INVALID_MAX_FLOOR = 0x04
    INVALID_PEG_TYPE = 0x05
    FAT_FINGER = 0x06
    HALTED = 0x07
    ISO_NOT_ALLOWED = 0x08
    INVALID_SIDE = 0x09
    PROCESSING_ERROR = 0x0A
    CANCEL_PENDING = 0x0B
    FIRM_NOT_AUTHORIZED = 0x0C
    INVALID_MIN_QUANTITY = 0x0D
    NO_CLOSING_REFERENCE_PRICE = 0x0E
    OTHER = 0x0F
    CANCEL_NOT_ALLOWED = 0x10
    PEGGING_NOT_ALLOWED = 0x11
    CROSSED_MARKET = 0x12
    INVALID_QUANTITY = 0x13
    INVALID_CROSS_ORDER = 0x14
    REPLACE_NOT_ALLOWED = 0x15
    ROUTING_NOT_ALLOWED = 0x16
    INVALID_SYMBOL = 0x17
    TEST = 0x18
    LATE_LOC_TOO_AGGRESSIVE = 0x19
    RETAIL_NOT_ALLOWED = 0x1A
    INVALID_MIDPOINT_POST_ONLY_PRICE = 0x1B
    INVALID_DESTINATION = 0x1C
    INVALID_PRICE = 0x1D
    SHARES_EXCEED_THRESHOLD = 0x1E
    EXCEEDS_MAXIMUM_ALLOWED_NOTIONAL_VALUE = 0x1F
    RISK_AGGREGATE_EXPOSURE_EXCEEDED = 0x20
    RISK_MARKET_IMPACT = 0x21
    RISK_RESTRICTED_STOCK = 0x22
    RISK_SHORT_SELL_RESTRICTED = 0x23
    RISK_ORDER_TYPE_RESTRICTED = 0x24
    RISK_EXCEEDS_ADV_LIMIT = 0x25
    RISK_FAT_FINGER = 0x26
    RISK_LOCATE_REQUIRED = 0x27
    RISK_SYMBOL_MESSAGE_RATE_RESTRICTION = 0x28
    RISK_PORT_MESSAGE_RATE_RESTRICTION = 0x29
    RISK_DUPLICATE_MESSAGE_RATE_RESTRICTION = 0x2A


class OptionTag(IntEnum):
    """OptionTag values of Appendix B (tag 8, "Discretion", has no published tag)."""

    SECONDARY_ORD_REF_NUM = 1
    FIRM = 2
    MIN_QTY = 3
    CUSTOMER_TYPE = 4
    MAX_FLOOR = 5
    PRICE_TYPE = 6
    PEG_OFFSET = 7
    DISCRETION_PRICE = 9
    DISCRETION_PRICE_TYPE = 10
    DISCRETION_PEG_OFFSET = 11
    POST_ONLY = 12
    RANDOM_RESERVES = 13
    ROUTE = 14
    EXPIRE_TIME = 15
    TRADE_NOW = 16
    HANDLE_INST = 17
    BBO_WEIGHT_INDICATOR = 18
    DISPLAY_QUANTITY = 22
    DISPLAY_PRICE = 23
    GROUP_ID = 24
    SHARES_LOCATED = 25


#: Appendix B: the wire type of each option's value (the size excludes the
#: TagValue length and tag bytes). Signed Price offsets are signed 4-byte ints.
OPTION_TYPES: dict[int, WireType] = {
    OptionTag.SECONDARY_ORD_REF_NUM: UINT_TYPES[8],
    OptionTag.FIRM: alpha_type(4),
    OptionTag.MIN_QTY: UINT_TYPES[4],
    OptionTag.CUSTOMER_TYPE: CHAR_TYPE,
    OptionTag.MAX_FLOOR: UINT_TYPES[4],
    OptionTag.PRICE_TYPE: CHAR_TYPE,
    OptionTag.PEG_OFFSET: SINT_TYPES[4],
    OptionTag.DISCRETION_PRICE: UINT_TYPES[8],
    OptionTag.DISCRETION_PRICE_TYPE: CHAR_TYPE,
    OptionTag.DISCRETION_PEG_OFFSET: SINT_TYPES[4],
    OptionTag.POST_ONLY: CHAR_TYPE,
    OptionTag.RANDOM_RESERVES: UINT_TYPES[4],
    OptionTag.ROUTE: alpha_type(4),
    OptionTag.EXPIRE_TIME: UINT_TYPES[4],
    OptionTag.TRADE_NOW: CHAR_TYPE,
    OptionTag.HANDLE_INST: CHAR_TYPE,
    OptionTag.BBO_WEIGHT_INDICATOR: CHAR_TYPE,
    OptionTag.DISPLAY_QUANTITY: UINT_TYPES[4],
    OptionTag.DISPLAY_PRICE: UINT_TYPES[8],
    OptionTag.GROUP_ID: UINT_TYPES[2],
    OptionTag.SHARES_LOCATED: CHAR_TYPE,
}


@dataclass(frozen=True, slots=True)
class TagValue:
    """One option of an Optional Appendage.

    ``value`` is an ``int`` for numeric, price and signed-price options, a
    ``str`` for alpha and character options, and the raw ``bytes`` for a tag
    this version does not know (kept so that a message round-trips).
    """

    tag: int
    value: int | str | bytes

    @property
    def name(self) -> str:
        try:
            return OptionTag(self.tag).name.lower()
        except ValueError:
            return f"tag_{self.tag}"


def _option_value_bytes(item: TagValue) -> bytes:
    wt = OPTION_TYPES.get(item.tag)
    v = item.value
    if wt is None:
        if not isinstance(v, bytes):
            raise EncodeError(f"unknown option tag {item.tag} needs a bytes value, got {v!r}")
        return v
    if wt.kind in ("alpha", "char"):
        if not isinstance(v, str):
            raise EncodeError(f"option {item.name} needs a str value, got {v!r}")
        try:
            raw = v.encode("ascii")
        except UnicodeEncodeError as exc:
            raise EncodeError(f"option {item.name} is not ASCII: {v!r}") from exc
        if len(raw) > wt.size or (wt.kind == "char" and len(raw) != 1):
            raise EncodeError(f"option {item.name} must fit {wt.size} characters: {v!r}")
        return raw.ljust(wt.size, b" ")
    if not isinstance(v, int):
        raise EncodeError(f"option {item.name} needs an int value, got {v!r}")
    try:
        return struct.pack(">" + wt.fmt, v)
    except struct.error as exc:
        raise EncodeError(f"option {item.name}: {exc}") from exc


class _TagValueAdapter(cs.Adapter):  # type: ignore[misc]
    """construct view of one TagValue element: Length (1), OptionTag (1), value."""

    def __init__(self) -> None:
        super().__init__(
            cs.Prefixed(cs.Int8ub, cs.Struct("tag" / cs.Int8ub, "value" / cs.GreedyBytes))
        )

    def _decode(self, obj: Any, context: Any, path: Any) -> TagValue:
        wt = OPTION_TYPES.get(obj.tag)
        if wt is None:
            return TagValue(obj.tag, bytes(obj.value))
        if len(obj.value) != wt.size:
            raise cs.ValidationError(
                f"option tag {obj.tag} value is {len(obj.value)} bytes", path=path
            )
        return TagValue(obj.tag, wt.construct.parse(obj.value))

    def _encode(self, obj: TagValue, context: Any, path: Any) -> dict[str, Any]:
        wt = OPTION_TYPES.get(obj.tag)
        if wt is None and not isinstance(obj.value, bytes):
            raise cs.ValidationError(f"unknown option tag {obj.tag} needs bytes", path=path)
        value = obj.value if wt is None else wt.construct.build(obj.value)
        return {"tag": obj.tag, "value": value}


class _Appendage:
    """The Optional Appendage: a concatenation of TagValue elements."""

    construct = cs.GreedyRange(_TagValueAdapter())

    def encode(self, items: Sequence[Any]) -> bytes:
        out = bytearray()
        for item in items:
            if not isinstance(item, TagValue):
                raise EncodeError(f"appendage items must be TagValue, got {item!r}")
            if not 0 <= item.tag <= 0xFF:
                raise EncodeError(f"option tag {item.tag} does not fit a byte")
            value = _option_value_bytes(item)
            if len(value) + 1 > 0xFF:
                raise EncodeError(f"option tag {item.tag} value too long")
            out += bytes((len(value) + 1, item.tag))
            out += value
        return bytes(out)

    def decode(self, data: bytes, base_offset: int, message_type: str) -> tuple[TagValue, ...]:
        items: list[TagValue] = []
        pos = 0
        n = len(data)
        while pos < n:
            length = data[pos]
            end = pos + 1 + length
            if length < 1 or end > n:
                raise DecodeError(
                    f"TagValue length {length} runs past the appendage",
                    offset=base_offset + pos,
                    message_type=message_type,
                )
            tag = data[pos + 1]
            raw = data[pos + 2 : end]
            wt = OPTION_TYPES.get(tag)
            value: int | str | bytes
            if wt is None:
                value = raw
            elif len(raw) != wt.size:
                raise DecodeError(
                    f"option tag {tag} is {wt.size} bytes, got {len(raw)}",
                    offset=base_offset + pos,
                    message_type=message_type,
                )
            elif wt.kind in ("alpha", "char"):
                try:
                    text = raw.decode("ascii")
                except UnicodeDecodeError as exc:
                    raise DecodeError(
                        f"non-ASCII option tag {tag}",
                        offset=base_offset + pos + 2,
                        message_type=message_type,
                    ) from exc
                value = text.rstrip(" ") if wt.kind == "alpha" else text
            else:
                value = struct.unpack(">" + wt.fmt, raw)[0]
            items.append(TagValue(tag, value))
            pos = end
        return tuple(items)


APPENDAGE = _Appendage()
INBOUND = Registry("OUCH 5.0 inbound", APPENDAGE)
OUTBOUND = Registry("OUCH 5.0 outbound", APPENDAGE)


class InboundMessage(Message):
    """A message from the client to NASDAQ."""

    __slots__ = ()


class OutboundMessage(Message):
    """A message from NASDAQ to the client."""

    __slots__ = ()


# --------------------------------------------------------------- inbound
@INBOUND.register(appendage=True)
@dataclass(frozen=True, slots=True)
class EnterOrder(InboundMessage):
    message_type: ClassVar[str] = "O"
    user_ref_num: int = field(metadata=U32)
    side: str = field(metadata=CHAR)
    quantity: int = field(metadata=U32)
    symbol: str = field(metadata=alpha(8))
    price: int = field(metadata=U64)
    time_in_force: str = field(metadata=CHAR)
    display: str = field(metadata=CHAR)
    capacity: str = field(metadata=CHAR)
    intermarket_sweep_eligibility: str = field(metadata=CHAR)
    cross_type: str = field(metadata=CHAR)
    cl_ord_id: str = field(metadata=alpha(14))
    appendages: tuple[TagValue, ...] = ()


@INBOUND.register(appendage=True)
@dataclass(frozen=True, slots=True)
class ReplaceOrder(InboundMessage):
    message_type: ClassVar[str] = "U"
    orig_user_ref_num: int = field(metadata=U32)
    user_ref_num: int = field(metadata=U32)
    quantity: int = field(metadata=U32)
    price: int = field(metadata=U64)
    time_in_force: str = field(metadata=CHAR)
    display: str = field(metadata=CHAR)
    intermarket_sweep_eligibility: str = field(metadata=CHAR)
    cl_ord_id: str = field(metadata=alpha(14))
    appendages: tuple[TagValue, ...] = ()


@INBOUND.register()
@dataclass(frozen=True, slots=True)
class CancelOrder(InboundMessage):
    message_type: ClassVar[str] = "X"
    user_ref_num: int = field(metadata=U32)
    quantity: int = field(metadata=U32)


@INBOUND.register()
@dataclass(frozen=True, slots=True)
class ModifyOrder(InboundMessage):
    message_type: ClassVar[str] = "M"
    user_ref_num: int = field(metadata=U32)
    side: str = field(metadata=CHAR)
    quantity: int = field(metadata=U32)


@INBOUND.register()
@dataclass(frozen=True, slots=True)
class AccountQueryRequest(InboundMessage):
    message_type: ClassVar[str] = "Q"


# -------------------------------------------------------------- outbound
@OUTBOUND.register()
@dataclass(frozen=True, slots=True)
class SystemEvent(OutboundMessage):
    message_type: ClassVar[str] = "S"
    timestamp: int = field(metadata=U64)
    event_code: str = field(metadata=CHAR)


@OUTBOUND.register(appendage=True)
@dataclass(frozen=True, slots=True)
class OrderAccepted(OutboundMessage):
    message_type: ClassVar[str] = "A"
    timestamp: int = field(metadata=U64)
    user_ref_num: int = field(metadata=U32)
    side: str = field(metadata=CHAR)
    quantity: int = field(metadata=U32)
    symbol: str = field(metadata=alpha(8))
    price: int = field(metadata=U64)
    time_in_force: str = field(metadata=CHAR)
    display: str = field(metadata=CHAR)
    order_reference_number: int = field(metadata=U64)
    capacity: str = field(metadata=CHAR)
    intermarket_sweep_eligibility: str = field(metadata=CHAR)
    cross_type: str = field(metadata=CHAR)
    order_state: str = field(metadata=CHAR)
    cl_ord_id: str = field(metadata=alpha(14))
    appendages: tuple[TagValue, ...] = ()


@OUTBOUND.register(appendage=True)
@dataclass(frozen=True, slots=True)
class OrderReplaced(OutboundMessage):
    message_type: ClassVar[str] = "U"
    timestamp: int = field(metadata=U64)
    orig_user_ref_num: int = field(metadata=U32)
    user_ref_num: int = field(metadata=U32)
    side: str = field(metadata=CHAR)
    quantity: int = field(metadata=U32)
    symbol: str = field(metadata=alpha(8))
    price: int = field(metadata=U64)
    time_in_force: str = field(metadata=CHAR)
    display: str = field(metadata=CHAR)
    order_reference_number: int = field(metadata=U64)
    capacity: str = field(metadata=CHAR)
    intermarket_sweep_eligibility: str = field(metadata=CHAR)
    cross_type: str = field(metadata=CHAR)
    order_state: str = field(metadata=CHAR)
    cl_ord_id: str = field(metadata=alpha(14))
    appendages: tuple[TagValue, ...] = ()


@OUTBOUND.register()
@dataclass(frozen=True, slots=True)
class OrderCanceled(OutboundMessage):
    message_type: ClassVar[str] = "C"
    timestamp: int = field(metadata=U64)
    user_ref_num: int = field(metadata=U32)
    quantity: int = field(metadata=U32)
    reason: str = field(metadata=CHAR)


@OUTBOUND.register()
@dataclass(frozen=True, slots=True)
class AiqCanceled(OutboundMessage):
    message_type: ClassVar[str] = "D"
    timestamp: int = field(metadata=U64)
    user_ref_num: int = field(metadata=U32)
    decrement_shares: int = field(metadata=U32)
    reason: str = field(metadata=CHAR)
    quantity_prevented_from_trading: int = field(metadata=U32)
    execution_price: int = field(metadata=U64)
    liquidity_flag: str = field(metadata=CHAR)
    aiq_strategy: str = field(metadata=CHAR)


@OUTBOUND.register(appendage=True)
@dataclass(frozen=True, slots=True)
class OrderExecuted(OutboundMessage):
    message_type: ClassVar[str] = "E"
    timestamp: int = field(metadata=U64)
    user_ref_num: int = field(metadata=U32)
    quantity: int = field(metadata=U32)
    price: int = field(metadata=U64)
    liquidity_flag: str = field(metadata=CHAR)
    match_number: int = field(metadata=U64)
    appendages: tuple[TagValue, ...] = ()


@OUTBOUND.register()
@dataclass(frozen=True, slots=True)
class BrokenTrade(OutboundMessage):
    message_type: ClassVar[str] = "B"
    timestamp: int = field(metadata=U64)
    user_ref_num: int = field(metadata=U32)
    match_number: int = field(metadata=U64)
    reason: str = field(metadata=CHAR)
    cl_ord_id: str = field(metadata=alpha(14))


@OUTBOUND.register()
@dataclass(frozen=True, slots=True)
class Rejected(OutboundMessage):
    message_type: ClassVar[str] = "J"
    timestamp: int = field(metadata=U64)
    user_ref_num: int = field(metadata=U32)
    reason: int = field(metadata=U16)
    cl_ord_id: str = field(metadata=alpha(14))


@OUTBOUND.register()
@dataclass(frozen=True, slots=True)
class CancelPending(OutboundMessage):
    message_type: ClassVar[str] = "P"
    timestamp: int = field(metadata=U64)
    user_ref_num: int = field(metadata=U32)


@OUTBOUND.register()
@dataclass(frozen=True, slots=True)
class CancelReject(OutboundMessage):
    message_type: ClassVar[str] = "I"
    timestamp: int = field(metadata=U64)
    user_ref_num: int = field(metadata=U32)


@OUTBOUND.register()
@dataclass(frozen=True, slots=True)
class OrderPriorityUpdate(OutboundMessage):
    message_type: ClassVar[str] = "T"
    timestamp: int = field(metadata=U64)
    user_ref_num: int = field(metadata=U32)
    price: int = field(metadata=U64)
    display: str = field(metadata=CHAR)
    order_reference_number: int = field(metadata=U64)


@OUTBOUND.register()
@dataclass(frozen=True, slots=True)
class OrderModified(OutboundMessage):
    message_type: ClassVar[str] = "M"
    timestamp: int = field(metadata=U64)
    user_ref_num: int = field(metadata=U32)
    side: str = field(metadata=CHAR)
    quantity: int = field(metadata=U32)


@OUTBOUND.register(appendage=True)
@dataclass(frozen=True, slots=True)
class OrderRestated(OutboundMessage):
    message_type: ClassVar[str] = "R"
    timestamp: int = field(metadata=U64)
    user_ref_num: int = field(metadata=U32)
    reason: str = field(metadata=CHAR)
    appendages: tuple[TagValue, ...] = ()


@OUTBOUND.register()
@dataclass(frozen=True, slots=True)
class AccountQueryResponse(OutboundMessage):
    message_type: ClassVar[str] = "Q"
    timestamp: int = field(metadata=U64)
    next_user_ref_num: int = field(metadata=U32)


#: minimum lengths (type byte included; appendage length included when present)
INBOUND_MIN_LENGTHS: dict[str, int] = INBOUND.lengths()
OUTBOUND_MIN_LENGTHS: dict[str, int] = OUTBOUND.lengths()


def encode(msg: Message) -> bytes:
    """Encode an OUCH 5.0 message to wire bytes (raises :class:`EncodeError`)."""
    return _encode(msg)


def decode_inbound(data: bytes | memoryview) -> InboundMessage:
    """Decode one client-to-NASDAQ message (raises :class:`DecodeError`)."""
    msg = INBOUND.decode(data)
    assert isinstance(msg, InboundMessage)
    return msg


def decode_outbound(data: bytes | memoryview) -> OutboundMessage:
    """Decode one NASDAQ-to-client message (raises :class:`DecodeError`)."""
    msg = OUTBOUND.decode(data)
    assert isinstance(msg, OutboundMessage)
    return msg


def cl_ord_id_for(user_ref_num: int) -> str:
    """The threshold strategy's ClOrdID: ``TW`` + UserRefNum in 12 zero-padded digits."""
    return f"TW{user_ref_num:012d}"


#: The largest Quantity an Enter/Replace Order may carry. OUCH 5.0: "Must be greater
#: than zero and less than 1,000,000". The one table of this limit: pre-trade risk
#: (``tickwire.engine.risk.MAX_OUCH_QUANTITY``), the backtest venues (``SimulatedVenue``
#: and the compiled ``CVenue``, given it at construction) and the exchange read it from
#: here, so no copy can drift (``test_engine_ouch_limits.py``).
MAX_QUANTITY = 999_999
#: The largest limit Price, $199,999.9900 in Price(4) (OUCH 5.0). One table, as
#: :data:`MAX_QUANTITY` (``test_engine_ouch_limits.py``).
MAX_PRICE = 1_999_999_900
#: The sides an Enter Order may carry (:class:`Side`; OUCH 4.2's Buy/Sell Indicator alike).
_SIDES = tuple(s.value for s in Side)


def order_fields_reason(side: object, quantity: int, price: int) -> RejectReason | None:
    """The Appendix D reason an Enter (or Replace) Order's own side, quantity and price
    earn, or None when all three may be taken.

    Rule, checked in this order: a side not one of :class:`Side` (``B``, ``S``, ``T``,
    ``E``) is :attr:`RejectReason.INVALID_SIDE`; a quantity not in 1..:data:`MAX_QUANTITY`
    ("greater than zero and less than 1,000,000") :attr:`~RejectReason.INVALID_QUANTITY`;
    a price not in 1..:data:`MAX_PRICE` :attr:`~RejectReason.INVALID_PRICE`. OUCH 4.2 has
    the same sides and limits (its Shares "less than 1,000,000", its Price(4) up to
    $199,999.9900), so a 4.2 port asks this too and maps the reason to its letter. The
    symbol, market state and Time In Force (:func:`time_in_force_error`) are the
    caller's to check: a venue's symbol comes first, the market state and Time In Force
    after these. The one statement of these rules: the simulated exchange's accounts
    (``Account50``, ``Account42``), the backtest venue (``SimulatedVenue._validate``;
    the compiled ``CVenue`` keeps them in C, given these limits, and is held equal by a
    grid of edge values) and :class:`~tickwire.ouch.orders.OuchHost50`/``OuchHost42``
    ask it. Why: each restated them (the exchange with its own ``MAX_SHARES``), and the
    hosts took any side and price. Tests:
    ``test_ouch_orders.py::test_hosts_refuse_an_enter_of_a_bad_side_quantity_price_or_time_in_force``,
    ``packages/engine/tests/test_engine_backtest_cvenue.py::test_engine_backtest_cvenue_edge_fields_are_answered_alike``.
    """
    if side not in _SIDES:  # (a tuple: == per member, any object)
        return RejectReason.INVALID_SIDE
    if not 0 < quantity <= MAX_QUANTITY:
        return RejectReason.INVALID_QUANTITY
    if not 0 < price <= MAX_PRICE:
        return RejectReason.INVALID_PRICE
    return None


def cross_type_reason(cross_type: object) -> RejectReason | None:
    """The Appendix D reason an Enter Order's Cross Type earns, or None when it may be
    taken.

    Rule: tickwire's venues run the continuous market only (no opening, closing,
    halt/IPO, supplemental, retail, extended-life or after-hours-close cross), so a Cross
    Type other than ``N`` (:attr:`CrossType.CONTINUOUS`) is
    :attr:`RejectReason.INVALID_CROSS_ORDER`, a :class:`CrossType` member or any other
    byte alike. Asked of an Enter after every other check (the symbol,
    :func:`order_fields_reason`, the market state, :func:`time_in_force_error`,
    :func:`order_terms_reason`): the
    Enter is Rejected and its UserRefNum (4.2: Order Token) consumed, as for the other
    rejects. A Replace carries no Cross Type (the chain keeps its Enter's, which was
    ``N``), so no Replace is asked this and the checks it shares with an Enter keep their
    order. OUCH 4.2's Enter Order has the same field and asks this of its byte, the
    reason said as its letter (``tickwire.ouch.v42.reject_letter``: ``Z``, 4.2 naming
    none of its own here). The one statement of this rule: the simulated exchange's
    ``Account50`` and ``Account42``, :class:`~tickwire.ouch.orders.OuchHost50` and
    ``OuchHost42``, and both backtest venues (``SimulatedVenue._enter``, the compiled
    ``CVenue``, given this function) ask it. Why: they took an order of any Cross Type
    (``O``, ``C``, a byte not in the table) and traded it at once in the continuous
    book, so a client's on-close order filled at 10:00 and a client tested against them
    learned a wrong answer. Tests:
    ``packages/exchange/tests/test_exchange_cross_type.py``,
    ``test_ouch_orders.py::test_hosts_reject_an_enter_of_a_cross_type_other_than_continuous``,
    ``packages/engine/tests/test_engine_backtest_cvenue.py::test_engine_backtest_cvenue_an_enter_of_a_cross_type_other_than_n_is_rejected_alike``.
    """
    if cross_type != CrossType.CONTINUOUS:
        return RejectReason.INVALID_CROSS_ORDER
    return None


#: The Display an Enter or Replace Order may carry: OUCH 5.0 sections 2.1 and 2.2 list
#: ``Y`` visible, ``N`` hidden, ``A`` attributable (``Z`` conformant is an answer's only).
ENTER_DISPLAYS = (Display.VISIBLE.value, Display.HIDDEN.value, Display.ATTRIBUTABLE.value)


def held_display(answered: str, kept: str) -> str:
    """The Display an order holds after a trusted answer naming ``answered`` (an Order
    Accepted's or Replaced's, "the accepted display on the order", OUCH 5.0 section 3; an
    Order Priority Update's "new display"), the one a later Replace re-sends: the
    venue's when a Replace may carry it (:data:`ENTER_DISPLAYS`), else ``kept`` (5.0's
    conformant ``Z`` is an answer's only: a Replace carrying it is refused 0x03 and its
    original canceled). The one rule of the OUCH client books
    (``tickwire.ouch.orders._with_display``) and the engine's order manager."""
    return answered if answered in ENTER_DISPLAYS else kept


def min_qty_appendages(minimum_quantity: int) -> tuple[TagValue, ...]:
    """OUCH 4.2's Minimum Quantity field as 5.0 appendages, for
    :func:`order_terms_reason`: a MinQty appendage (0, no minimum, alike)."""
    return (TagValue(OptionTag.MIN_QTY, minimum_quantity),)


#: OUCH 5.0 Appendix B appendages that change how an order trades, which tickwire's
#: venues do not run: each tag's "no effect" values (its Appendix B default) and the
#: Appendix D reason any other value earns (:func:`order_terms_reason`). MinQty: 0x0D
#: Invalid Min Quantity; MaxFloor: 0x04 Invalid Max Floor (also taken: a MaxFloor of the
#: whole quantity or more, which displays all of it, as the venues do); PriceType,
#: PegOffset, DiscretionPriceType, DiscretionPegOffset: 0x05 Invalid Peg Type (pegs);
#: DiscretionPrice, PostOnly, RandomReserves: 0x0F Other (Appendix D names no reason of
#: their own; 0x1B is for a midpoint post-only price only); HandleInst: 0x14 Invalid
#: Cross Order (each of its values belongs to a Cross Type other than ``N``); Route:
#: 0x16 Routing Not Allowed (the venues route nowhere; blank, no route, is taken).
UNRUN_APPENDAGES: dict[int, tuple[tuple[object, ...], RejectReason]] = {
    OptionTag.MIN_QTY: ((0,), RejectReason.INVALID_MIN_QUANTITY),
    OptionTag.MAX_FLOOR: ((0,), RejectReason.INVALID_MAX_FLOOR),
    OptionTag.PRICE_TYPE: (("L",), RejectReason.INVALID_PEG_TYPE),
    OptionTag.PEG_OFFSET: ((0,), RejectReason.INVALID_PEG_TYPE),
    OptionTag.DISCRETION_PRICE: ((0,), RejectReason.OTHER),
    OptionTag.DISCRETION_PRICE_TYPE: (("L",), RejectReason.INVALID_PEG_TYPE),
    OptionTag.DISCRETION_PEG_OFFSET: ((0,), RejectReason.INVALID_PEG_TYPE),
    OptionTag.POST_ONLY: (("N",), RejectReason.OTHER),
    OptionTag.RANDOM_RESERVES: ((0,), RejectReason.OTHER),
    OptionTag.ROUTE: (("", "    "), RejectReason.ROUTING_NOT_ALLOWED),
    OptionTag.HANDLE_INST: ((" ", ""), RejectReason.INVALID_CROSS_ORDER),
}


def order_terms_reason(
    display: object, quantity: object, appendages: Sequence[TagValue]
) -> RejectReason | None:
    """The Appendix D reason an Enter (or Replace) Order's Display and appendages earn,
    or None when they may be taken.

    Rule, checked in this order: a Display not in :data:`ENTER_DISPLAYS` (``Y``, ``N``,
    ``A``: another byte, NUL, the answers' ``Z``) is :attr:`RejectReason.INVALID_DISPLAY`
    (0x03); then each appendage in wire order, the first that asks for a condition the
    venue cannot keep earning its tag's reason (:data:`UNRUN_APPENDAGES`). Policy: a
    field whose condition the venue cannot keep is refused with the field's own Appendix
    D reason rather than filled as if absent; its Appendix B default ("no effect") is
    taken. Per tag (OUCH 5.0 Appendix B):

    - MinQty (3): 0 taken; else 0x0D Invalid Min Quantity ("must be a round lot": one
      that is not is invalid, one that is a minimum the venue does not run).
    - MaxFloor (5): 0, or the whole ``quantity`` or more (all displayed), taken; else
      0x04 Invalid Max Floor (a reserve order would be displayed whole).
    - PriceType (6) ``L`` and DiscretionPriceType (10) ``L`` taken; PegOffset (7) and
      DiscretionPegOffset (11) 0 taken; else 0x05 Invalid Peg Type (no pegs run).
    - DiscretionPrice (9) 0, PostOnly (12) ``N``, RandomReserves (13) 0 taken; else 0x0F
      Other (Appendix D has no reason of their own; a post-only order that would take
      liquidity would have executed).
    - HandleInst (17) space taken; else 0x14 Invalid Cross Order (every instruction
      belongs to a Cross Type other than ``N``, which :func:`cross_type_reason` refuses).
    - Route (14) blank taken; else 0x16 Routing Not Allowed (the venues route nowhere).
    - Taken whatever the value (informational, or run, or harmless here):
      SecondaryOrdRefNum (1), Firm (2, asked by the callers' own rule), CustomerType (4,
      a designation), ExpireTime (15, run: :func:`time_in_force_error`), TradeNow (16:
      the venues' book never locks), BBO Weight Indicator (18), Display Quantity (22)
      and Display Price (23, Order Restated only), GroupID (24), SharesLocated (25), and
      a tag this table does not know.

    Asked after :func:`time_in_force_error` and before an Enter's
    :func:`cross_type_reason`: an Enter is Rejected, its UserRefNum (4.2: Order Token)
    consumed; a Replace has invalid details, section 2.2 case 2 (the original canceled,
    reason ``Z``). OUCH 4.2's Enter and Replace carry the same Display byte and a
    Minimum Quantity field; a 4.2 port asks this of them, its Minimum Quantity given as
    a MinQty appendage, and says the reason as its letter
    (``tickwire.ouch.v42.reject_letter``: ``Z``). The one statement of this rule: the
    simulated exchange's ``Account50`` and ``Account42``,
    :class:`~tickwire.ouch.orders.OuchHost50` and ``OuchHost42``, and both backtest
    venues (``SimulatedVenue._validate``, the compiled ``CVenue``, given it) ask it.
    Why: they accepted an Enter (Replace) of Display ``Q`` or NUL and echoed it in the
    Order Accepted, the exchange took MinQty 100 and filled 50 shares of it, and a
    reserve, pegged or post-only order traded as a plain visible limit order. Tests:
    ``packages/exchange/tests/test_exchange_order_terms.py``,
    ``test_ouch_orders.py::test_hosts_refuse_a_bad_display_or_a_min_qty``,
    ``test_ouch_orders.py::test_hosts_refuse_an_appendage_they_do_not_run``,
    ``tests/test_exchange_venue_replace_parity.py::test_a_bad_display_or_a_min_qty_is_answered_alike_on_both``,
    ``tests/test_exchange_venue_parity_property.py``.
    """
    if display not in ENTER_DISPLAYS:  # (a tuple: == per member, any object)
        return RejectReason.INVALID_DISPLAY
    for a in appendages:
        rule = UNRUN_APPENDAGES.get(a.tag)
        if rule is None or a.value in rule[0]:
            continue
        if a.tag == OptionTag.MAX_FLOOR and _at_least(a.value, quantity):
            continue
        return rule[1]
    return None


def _at_least(value: object, quantity: object) -> bool:
    """``value >= quantity`` for two ints, else False (a MaxFloor of the whole order)."""
    return isinstance(value, int) and isinstance(quantity, int) and value >= quantity


#: The largest UserRefNum (4 bytes, strictly increasing in a session): none follows it.
MAX_USER_REF_NUM = 2**32 - 1


def next_user_ref_num(last: int) -> int:
    """The NextUserRefNum an Account Query Response gives after ``last`` was processed.

    Rule: ``last + 1``, or 0 once :data:`MAX_USER_REF_NUM` was used: 0 is never a valid
    UserRefNum (they start at 1 and only increase), so it says "none left" in the field's
    4 bytes. Why: a host answered ``last + 1`` = 2**32, which does not fit, so after an
    order at UserRefNum 2**32 - 1 every Account Query Request raised ``EncodeError`` out
    of the host (a traceback a query in the simulated exchange's log, and no answer).
    Tests: ``test_ouch_orders.py::test_account_query_after_the_last_user_ref_num_says_none_left``,
    ``packages/exchange/tests/test_exchange_hostile.py::test_account_query_after_the_last_user_ref_num_is_answered``.
    """
    return last + 1 if last < MAX_USER_REF_NUM else 0


def time_in_force_error(time_in_force: object, appendages: Sequence[TagValue] = ()) -> str | None:
    """Why an Enter or Replace Order's Time In Force cannot be taken, or None when it can.

    Rule: the field is one byte of :class:`TimeInForce` (``0`` Day, ``3`` IOC, ``5`` GTX,
    ``6`` GTT, ``E`` After Hours); anything else (another byte, an empty string, an
    ``int``) is an error, and GTT "needs ExpireTime to be specified": an
    :attr:`OptionTag.EXPIRE_TIME` appendage ("Seconds to live") among ``appendages``,
    of 1 to 86,399 seconds (:func:`expire_time`): Appendix B's ExpireTime "Must be less
    than 86400" (a day), and 0 is no expire time at all, where GTT needs one: both are
    refused as a missing one is, rather than taken as an order that never expires.
    The one statement of this rule: pre-trade risk (``tickwire.engine.risk``, given the
    order manager's ``expire_time`` as the appendage), both backtest venues and the
    simulated exchange's ``Account50`` ask it. Why: none checked it, so an order of Time
    In Force ``Q`` or ``6`` without ExpireTime was accepted and rested all day in a
    backtest and at the simulated exchange. Tests:
    ``tests/test_exchange_venue_replace_parity.py::test_a_bad_time_in_force_is_answered_alike_on_both``,
    ``packages/engine/tests/test_engine_backtest_core.py::test_engine_backtest_core_an_order_of_a_bad_time_in_force_is_refused_as_there``.
    """
    if time_in_force not in _TIME_IN_FORCE:  # (a tuple: == per member, any object)
        return f"Time In Force {time_in_force!r} is not one of 0, 3, 5, 6, E"
    if time_in_force == TimeInForce.GTT:
        seconds = expire_time(appendages)
        if seconds is None:
            return "Time In Force '6' (GTT) needs an ExpireTime appendage (OptionTag 15)"
        if not 0 < seconds < EXPIRE_TIME_LIMIT:
            return (
                f"Time In Force '6' (GTT) needs an ExpireTime of 1 to {EXPIRE_TIME_LIMIT - 1}"
                f" seconds, not {seconds}"
            )
    return None


def wider_time_in_force(
    sent: str, sent_expire: int | None, accepted: str, appendages: Sequence[TagValue]
) -> str | None:
    """Why an Order Accepted's (Order Replaced's) Time In Force ``accepted``, with the
    ExpireTimes its ``appendages`` repeat, is wider in scope than the ``sent`` one (with
    ``sent_expire``) of the Enter (Replace) it answers, or None: it is not.

    Rule: OUCH 5.0 section 3 (Order Accepted, Order Replaced): "the accepted Time in Force
    may potentially be different than the entered Time in Force. The accepted Time in
    Force will always be equal to or shorter in scope". So a narrower or equal answer is
    the venue's to give, and only one wider for certain is a lie: IOC (``3``, the
    narrowest) accepted as anything else; Day (``0``) or After Hours (``E``) accepted as
    GTX (``5``: extended hours, both sessions and more); a GTT (``6``) accepted as GTT
    with an ExpireTime longer than sent. Pairs the spec does not order (Day and After
    Hours, Day and GTT) are the venue's word. Test:
    ``test_ouch_orders.py::test_wider_time_in_force_is_only_a_wider_scope_for_certain``.
    """
    if accepted != sent and (
        sent == TimeInForce.IOC or (accepted == TimeInForce.GTX and sent in _SESSION_BOUND)
    ):
        return f"Time In Force {accepted!r} is wider than the {sent!r} sent"
    if sent == accepted == TimeInForce.GTT and sent_expire is not None:
        for a in appendages:
            if (
                a.tag == OptionTag.EXPIRE_TIME
                and isinstance(a.value, int)
                and a.value > sent_expire
            ):
                return f"ExpireTime {a.value!r} s is longer than the {sent_expire} s sent"
    return None


#: The fields an Order Accepted or Order Replaced echoes as the order was entered, in
#: their order on the wire (:func:`not_as_entered`).
AS_ENTERED = ("capacity", "intermarket_sweep_eligibility", "cross_type")


def not_as_entered(
    answer: object,
    capacity: str,
    intermarket_sweep_eligibility: str,
    cross_type: str,
    firm: str = "",
    min_qty: int = 0,
) -> str | None:
    """Why an Order Accepted's (Order Replaced's) ``answer`` does not echo the order as it
    was entered, or None: it does.

    Rule: OUCH 5.0 section 3: "The data fields from the Enter Order Message are echoed
    back in this message. Note that the accepted values may differ from the entered
    values for some fields", and the fields that may differ are the ones the table calls
    accepted: Quantity, Price (better or equal), Time In Force (equal or shorter,
    :func:`wider_time_in_force`) and Display. Capacity is "the capacity specified on the
    order" and Cross Type "the cross type as entered" (a Replace carries neither: the
    chain keeps the Enter's), and Intermarket Sweep Eligibility is echoed as the Enter
    (or the Replace) sent it: another value of any of them is a venue holding an order
    on terms never sent (an agency order as principal, a continuous order in the closing
    cross, an order trading through protected quotes as a sweep). The order manager asks
    this of every Order Accepted and Order Replaced and trips its kill switch on an
    answer (``tickwire.engine.strategy.orders._other_terms``). Why: nothing compared them,
    so such an answer was taken silently. Test:
    ``test_engine_strategy_orders.py::test_an_answer_naming_other_fields_than_entered_trips_the_kill_switch``.

    The Firm (Appendix B, OptionTag 2, of the Enter: a Replace carries none, so the chain
    keeps it; OUCH 4.2's Firm field alike) is compared too when the order was entered with
    one (``firm`` not blank): the answer's (:func:`answer_firm`: 4.2's field, or a repeated
    Firm appendage) must be it. A blank ``firm`` is "the default firm for the OUCH account",
    which the answer may name, and an answer repeating no Firm appendage has none to
    compare. The fields match in 4.2's Order Accepted and Order Replaced, so the one rule
    serves both versions: the OUCH client books (``OrderBook50``, ``OrderBook42``) ask it of
    every Accepted and Replaced, with the chain's Enter, and count another value in
    ``tracker.distrusted``. Why: the client books compared none of these. Tests:
    ``test_ouch_orders.py::test_the_books_distrust_an_answer_not_as_entered``.

    The Minimum Quantity (``min_qty``: the Enter's or the Replace's, 4.2's field or 5.0's
    MinQty appendage, OptionTag 3; 0, none, when a 5.0 request carries no MinQty) is
    compared last: the answer's (:func:`answer_min_qty`: 4.2's field, or a repeated MinQty
    appendage; a 5.0 answer repeating none has none to compare) must be it. OUCH names it
    among no accepted values that may differ (Appendix B: "0 (zero), no minimum
    quantity"), and another minimum is an order that trades, or does not, on terms never
    sent. Why: neither client book compared it, in either version (the 4.2 Accepted's
    Minimum Quantity field and the 5.0 repeated MinQty were taken silently). Test:
    ``test_ouch_orders.py::test_the_books_distrust_an_answer_of_another_minimum_quantity``.
    """
    sent_fields = (capacity, intermarket_sweep_eligibility, cross_type)
    for name, sent in zip(AS_ENTERED, sent_fields, strict=True):
        got = getattr(answer, name)
        if got != sent:
            return f"{name.replace('_', ' ')} {got!r} for an order entered with {sent!r}"
    if firm.strip(" "):
        named = answer_firm(answer)
        if named is not None and named.rstrip(" ") != firm.rstrip(" "):
            return f"firm {named!r} for an order entered with {firm!r}"
    shown = answer_min_qty(answer)
    if shown is not None and shown != min_qty:
        return f"minimum quantity {shown!r} for an order entered with {min_qty!r}"
    return None


def _option(appendages: Sequence[TagValue], tag: OptionTag) -> TagValue | None:
    """The first appendage of ``tag``, or None: the message has none. The one lookup of
    :func:`firm_appendage`, :func:`answer_firm` and :func:`expire_time`."""
    return next((a for a in appendages if a.tag == tag), None)


def firm_appendage(appendages: Sequence[TagValue]) -> str:
    """The value of the first :attr:`OptionTag.FIRM` appendage, or ``""``: none (the
    account's default firm, as a blank Firm is)."""
    a = _option(appendages, OptionTag.FIRM)
    return a.value if a is not None and isinstance(a.value, str) else ""


def answer_firm(answer: object) -> str | None:
    """The Firm an Order Accepted (Replaced) names: OUCH 4.2's ``firm`` field, or 5.0's
    repeated Firm appendage (:func:`firm_appendage`); None when a 5.0 answer repeats none."""
    named = getattr(answer, "firm", None)
    if isinstance(named, str):
        return named
    a = _option(getattr(answer, "appendages", ()), OptionTag.FIRM)
    if a is None:
        return None
    return a.value if isinstance(a.value, str) else repr(a.value)


def answer_min_qty(msg: object) -> int | str | bytes | None:
    """The Minimum Quantity an OUCH message carries: OUCH 4.2's ``minimum_quantity``
    field, or the value of 5.0's first :attr:`OptionTag.MIN_QTY` appendage; None when a
    5.0 message carries none (for a request: 0, no minimum). Asked of the requests and
    the answers alike (:func:`not_as_entered`)."""
    named = getattr(msg, "minimum_quantity", None)
    if isinstance(named, int):
        return named
    a = _option(getattr(msg, "appendages", ()), OptionTag.MIN_QTY)
    return None if a is None else a.value


#: ExpireTime ("Seconds to live") must be less than this: the seconds in a day.
EXPIRE_TIME_LIMIT = 86_400


def expire_time(appendages: Sequence[TagValue]) -> int | None:
    """The seconds of the first :attr:`OptionTag.EXPIRE_TIME` appendage, or None: none.

    A value that is not an ``int`` (a tag the codec did not read as one) counts as none.
    :func:`time_in_force_error` takes GTT only when this is 1 to ``EXPIRE_TIME_LIMIT - 1``;
    the simulated exchange's ``Account50`` cancels such an order that many seconds after
    it was accepted (its ``expire``).
    """
    a = _option(appendages, OptionTag.EXPIRE_TIME)
    return a.value if a is not None and isinstance(a.value, int) else None


def replace_keeps_expire_time(kept_time_in_force: object, time_in_force: object) -> bool:
    """Whether a Replace Order of Time In Force ``time_in_force`` that gives no ExpireTime
    of its own carries the one of the order it replaces (whose Time In Force is
    ``kept_time_in_force``).

    Rule: an ExpireTime goes with GTT only (:func:`time_in_force_error`), so a Replace
    keeps its order's ExpireTime (the appendage, re-sent: it counts from the replace, as
    the venues here count a replacement's) while it keeps its Time In Force, and drops it
    when it names another (a Replace to GTT then needs one given). The one statement of
    it: the engine's order manager (``OrderManager.replace``) and the OUCH client book
    (``OrderBook50.replace``) ask it. Why: each layer stated it in its own words, which
    could part. Tests:
    ``test_engine_strategy_orders.py::test_a_replace_may_change_time_in_force_and_expire_time``,
    ``test_ouch_orders.py::test_a_replace_keeps_what_it_does_not_say``.
    """
    return time_in_force == kept_time_in_force


class AnsweredTerms(NamedTuple):
    """The Time In Force and ExpireTime (seconds, GTT only; None: none) an order holds
    once the venue answered it (:func:`answered_terms`)."""

    time_in_force: str
    expire_time: int | None


def answered_terms(
    sent: str, sent_expire: int | None, time_in_force: str, appendages: Sequence[TagValue]
) -> AnsweredTerms | str:
    """The terms an order holds after an Order Accepted (Order Replaced) naming
    ``time_in_force``, with the ExpireTime its ``appendages`` repeat, answers the Enter
    (Replace) sent with ``sent`` and ``sent_expire``; or why the answer is distrusted (a
    ``str``), the order keeping the terms sent.

    Rule: the accepted Time In Force may differ from the one entered, "equal to or shorter
    in scope" (OUCH 5.0 section 3): one wider for certain (:func:`wider_time_in_force`) is
    distrusted, and so is one out of the range an order is sent with
    (:func:`time_in_force_error`: a byte not in the table, a GTT repeating an ExpireTime
    of 0 or a day; a GTT repeating none keeps what was sent, and an ExpireTime repeated on
    another Time In Force is none). Any other answer is the venue's word and the order's
    terms from then on, so what a later Replace keeps (it carries its own Time In Force and
    appendages, section 2.2: nothing is inherited on the wire) is what the venue holds: a
    GTX order accepted as Day is replaced as Day, a GTT accepted with a shorter ExpireTime
    re-sends that one. The one statement of it: the engine's order manager
    (``_other_terms``) and the OUCH client book (``OrderBook50.replace``, through its
    kept terms) ask it. Why: the manager kept the accepted terms and the client book the
    terms sent, so the two layers replaced one order differently. Tests:
    ``test_engine_strategy_orders.py::test_an_answer_naming_narrower_terms_is_taken``,
    ``test_ouch_orders.py::test_a_replace_keeps_the_terms_the_venue_accepted``,
    ``tests/test_ouch_answered_terms_parity.py``.
    """
    wider = wider_time_in_force(sent, sent_expire, time_in_force, appendages)
    if wider is not None:
        return wider
    repeated = expire_time(appendages) if time_in_force == TimeInForce.GTT else None
    if time_in_force != TimeInForce.GTT or repeated is not None:
        bad = time_in_force_error(time_in_force, appendages if repeated is not None else ())
        if bad is not None:
            return bad
    if repeated is None and time_in_force == sent == TimeInForce.GTT:
        repeated = sent_expire  # repeated none: what was sent
    return AnsweredTerms(time_in_force, repeated)


def lifetime(time_in_force: str, appendages: Sequence[TagValue]) -> int | None:
    """How long (ns) a 5.0 order of ``time_in_force`` with ``appendages`` lives, or None:
    no time limit.

    Rule: GTT (``6``) lives its ExpireTime appendage's seconds (:func:`expire_time`);
    every other Time In Force has no deadline of its own (Day ends at the End of Market
    Hours). A GTT whose ExpireTime is missing, 0 or a day or more is refused before
    (:func:`time_in_force_error`). The one statement of it: the simulated exchange's
    ``Account50`` (as ``tickwire.exchange.accounts.v50_lifetime``) and ``OuchHost50``
    cancel an order that long after its Order Accepted (or Replaced), reason
    :data:`CANCELED_TIMEOUT`. Tests:
    ``packages/exchange/tests/test_exchange_hostile.py::test_ouch50_a_gtt_order_expires_after_its_expire_time_on_the_engine_clock``,
    ``test_ouch_orders.py::test_hosts_expire_a_gtt_or_4_2_time_in_force_in_seconds_on_the_deadline_clock``.
    """
    if time_in_force != TimeInForce.GTT:
        return None
    seconds = expire_time(appendages)
    return None if seconds is None else seconds * 1_000_000_000


_TIME_IN_FORCE = tuple(t.value for t in TimeInForce)
# Day and After Hours: each one session, both within GTX's extended hours.
_SESSION_BOUND = (TimeInForce.DAY.value, TimeInForce.AFTER_HOURS.value)
