"""OUCH 4.2: every inbound and outbound message.

OUCH 4.2 identifies orders by a 14-character Order Token (``str``), prices are
4-byte Price(4) ints, Time In Force is a 4-byte number of seconds (0 = IOC,
99998 = market hours, 99999 = system hours) and timestamps are 8-byte
nanoseconds since midnight. Lengths are those of ``specs/NOTES.md`` (type byte
included); Wireshark's ``ouch`` dissector reads the same layouts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from ._wire import CHAR, U32, U64, Message, Registry, alpha
from ._wire import encode as _encode
from .v50 import OptionTag, RejectReason, TagValue, TimeInForce, wider_time_in_force

__all__ = [
    "INBOUND_LENGTHS",
    "OUTBOUND_LENGTHS",
    "TIF_IOC",
    "TIF_MARKET_HOURS",
    "TIF_SYSTEM_HOURS",
    "AiqCanceled",
    "BrokenTrade",
    "CancelOrder",
    "CancelPending",
    "CancelReject",
    "EnterOrder",
    "ExecutedWithReferencePrice",
    "InboundMessage",
    "ModifyOrder",
    "OrderAccepted",
    "OrderCanceled",
    "OrderExecuted",
    "OrderModified",
    "OrderPriorityUpdate",
    "OrderReplaced",
    "OutboundMessage",
    "Rejected",
    "ReplaceOrder",
    "SystemEvent",
    "TradeCorrection",
    "answered_time_in_force",
    "decode_inbound",
    "decode_outbound",
    "encode",
    "lifetime",
    "reject_letter",
]

TIF_IOC = 0
TIF_MARKET_HOURS = 99998
TIF_SYSTEM_HOURS = 99999


def lifetime(time_in_force: int) -> int | None:
    """How long (ns) a 4.2 order of ``time_in_force`` lives, or None: no time limit.

    Rule: OUCH 4.2's Time In Force is a number of seconds but for :data:`TIF_IOC` (0),
    :data:`TIF_MARKET_HOURS` (99998, a Day order) and :data:`TIF_SYSTEM_HOURS` (99999).
    The one statement of it: the simulated exchange's ``Account42`` (as
    ``tickwire.exchange.accounts.v42_lifetime``) and ``OuchHost42`` cancel an order
    that long after its Order Accepted (or Replaced), reason ``T``. Tests:
    ``packages/exchange/tests/test_exchange_hostile.py::test_ouch42_an_order_with_a_time_in_force_in_seconds_expires_on_the_engine_clock``,
    ``test_ouch_orders.py::test_hosts_expire_a_gtt_or_4_2_time_in_force_in_seconds_on_the_deadline_clock``.
    """
    if time_in_force in (TIF_IOC, TIF_MARKET_HOURS, TIF_SYSTEM_HOURS):
        return None
    return time_in_force * 1_000_000_000


def _as_v50(time_in_force: int) -> tuple[str, tuple[TagValue, ...]]:
    """A 4.2 Time In Force as the 5.0 one of the same scope: IOC as IOC, market hours as
    Day, system hours as GTX (extended hours), N seconds as GTT with ExpireTime N."""
    if time_in_force == TIF_IOC:
        return TimeInForce.IOC.value, ()
    if time_in_force == TIF_MARKET_HOURS:
        return TimeInForce.DAY.value, ()
    if time_in_force == TIF_SYSTEM_HOURS:
        return TimeInForce.GTX.value, ()
    return TimeInForce.GTT.value, (TagValue(OptionTag.EXPIRE_TIME, time_in_force),)


def answered_time_in_force(sent: int, accepted: int) -> int | str:
    """The Time In Force a 4.2 order holds after an Order Accepted (Order Replaced) naming
    ``accepted`` answers the Enter (Replace) sent with ``sent``; or why the answer is
    distrusted (a ``str``), the order keeping ``sent``.

    Rule: OUCH 5.0's "equal to or shorter in scope" (:func:`tickwire.ouch.v50.wider_time_in_force`,
    the rule of :func:`~tickwire.ouch.v50.answered_terms`), asked of the 5.0 terms of the
    same scope: IOC (0) as IOC, market hours (99998) as Day, system hours (99999) as GTX,
    N seconds as GTT with an ExpireTime of N. So IOC accepted as anything else, market
    hours as system hours, or more seconds than sent are wider and distrusted; fewer
    seconds, system hours as market hours, and pairs the spec does not order (seconds and
    market or system hours) are the venue's word and the order's from then on, what a
    later Replace keeps. Every 4-byte value is a 4.2 Time In Force: any but 0, 99998 and
    99999 is a number of seconds (:func:`lifetime`, as the venues expire it), a day
    (86,400) or more too, so none is out of range: 5.0's ExpireTime limit (below a day,
    :func:`~tickwire.ouch.v50.time_in_force_error`) is 5.0's and not asked here. Why:
    ``OrderBook42`` kept the Time In Force sent whatever the answer said, and distrusted
    none; then it distrusted every value of a day or more not the one sent, as out of
    5.0's range (90,000 s accepted for 95,000 s sent, or for system hours). Tests:
    ``test_ouch_orders.py::test_the_4_2_book_keeps_the_time_in_force_the_venue_accepted``,
    ``test_ouch_orders.py::test_a_4_2_time_in_force_of_a_day_or_more_is_judged_as_seconds``.
    """
    if accepted == sent:
        return sent
    wider = wider_time_in_force(*_sent_as_v50(sent), *_as_v50(accepted))
    if wider is not None:
        return f"Time In Force {accepted} for an order sent with {sent} (as 5.0: {wider})"
    return accepted


def _sent_as_v50(time_in_force: int) -> tuple[str, int | None]:
    tif, appendages = _as_v50(time_in_force)
    return tif, (time_in_force if appendages else None)


#: The 4.2 Rejected reason letter of each OUCH 5.0 Appendix D reason that has one of its
#: own; every other reason is ``Z`` (:func:`reject_letter`).
_REJECT_LETTERS: dict[int, str] = {
    RejectReason.INVALID_SYMBOL: "S",
    RejectReason.HALTED: "H",
    RejectReason.INVALID_PRICE: "X",
    RejectReason.DESTINATION_CLOSED: "C",
}


def reject_letter(reason: int) -> str:
    """The OUCH 4.2 Rejected reason letter for an OUCH 5.0 reject ``reason``: ``S``
    invalid stock, ``H`` halted, ``X`` invalid price, ``C`` exchange closed, ``Z``
    otherwise. One table for the simulated exchange's 4.2 port and :class:`OuchHost42`,
    which both decide by 5.0's rules (:func:`tickwire.ouch.v50.order_fields_reason`)."""
    return _REJECT_LETTERS.get(reason, "Z")


INBOUND = Registry("OUCH 4.2 inbound")
OUTBOUND = Registry("OUCH 4.2 outbound")
TOKEN = alpha(14)
STOCK = alpha(8)
FIRM = alpha(4)


class InboundMessage(Message):
    """A message from the client to NASDAQ."""

    __slots__ = ()


class OutboundMessage(Message):
    """A message from NASDAQ to the client."""

    __slots__ = ()


# --------------------------------------------------------------- inbound
@INBOUND.register()
@dataclass(frozen=True, slots=True)
class EnterOrder(InboundMessage):
    message_type: ClassVar[str] = "O"
    order_token: str = field(metadata=TOKEN)
    buy_sell_indicator: str = field(metadata=CHAR)
    shares: int = field(metadata=U32)
    stock: str = field(metadata=STOCK)
    price: int = field(metadata=U32)
    time_in_force: int = field(metadata=U32)
    firm: str = field(metadata=FIRM)
    display: str = field(metadata=CHAR)
    capacity: str = field(metadata=CHAR)
    intermarket_sweep_eligibility: str = field(metadata=CHAR)
    minimum_quantity: int = field(metadata=U32)
    cross_type: str = field(metadata=CHAR)
    customer_type: str = field(metadata=CHAR)


@INBOUND.register()
@dataclass(frozen=True, slots=True)
class ReplaceOrder(InboundMessage):
    message_type: ClassVar[str] = "U"
    existing_order_token: str = field(metadata=TOKEN)
    replacement_order_token: str = field(metadata=TOKEN)
    shares: int = field(metadata=U32)
    price: int = field(metadata=U32)
    time_in_force: int = field(metadata=U32)
    display: str = field(metadata=CHAR)
    intermarket_sweep_eligibility: str = field(metadata=CHAR)
    minimum_quantity: int = field(metadata=U32)


@INBOUND.register()
@dataclass(frozen=True, slots=True)
class CancelOrder(InboundMessage):
    message_type: ClassVar[str] = "X"
    order_token: str = field(metadata=TOKEN)
    shares: int = field(metadata=U32)


@INBOUND.register()
@dataclass(frozen=True, slots=True)
class ModifyOrder(InboundMessage):
    message_type: ClassVar[str] = "M"
    order_token: str = field(metadata=TOKEN)
    buy_sell_indicator: str = field(metadata=CHAR)
    shares: int = field(metadata=U32)


# -------------------------------------------------------------- outbound
@OUTBOUND.register()
@dataclass(frozen=True, slots=True)
class SystemEvent(OutboundMessage):
    message_type: ClassVar[str] = "S"
    timestamp: int = field(metadata=U64)
    event_code: str = field(metadata=CHAR)


@OUTBOUND.register()
@dataclass(frozen=True, slots=True)
class OrderAccepted(OutboundMessage):
    message_type: ClassVar[str] = "A"
    timestamp: int = field(metadata=U64)
    order_token: str = field(metadata=TOKEN)
    buy_sell_indicator: str = field(metadata=CHAR)
    shares: int = field(metadata=U32)
    stock: str = field(metadata=STOCK)
    price: int = field(metadata=U32)
    time_in_force: int = field(metadata=U32)
    firm: str = field(metadata=FIRM)
    display: str = field(metadata=CHAR)
    order_reference_number: int = field(metadata=U64)
    capacity: str = field(metadata=CHAR)
    intermarket_sweep_eligibility: str = field(metadata=CHAR)
    minimum_quantity: int = field(metadata=U32)
    cross_type: str = field(metadata=CHAR)
    order_state: str = field(metadata=CHAR)
    bbo_weight_indicator: str = field(metadata=CHAR)


@OUTBOUND.register()
@dataclass(frozen=True, slots=True)
class OrderReplaced(OutboundMessage):
    message_type: ClassVar[str] = "U"
    timestamp: int = field(metadata=U64)
    replacement_order_token: str = field(metadata=TOKEN)
    buy_sell_indicator: str = field(metadata=CHAR)
    shares: int = field(metadata=U32)
    stock: str = field(metadata=STOCK)
    price: int = field(metadata=U32)
    time_in_force: int = field(metadata=U32)
    firm: str = field(metadata=FIRM)
    display: str = field(metadata=CHAR)
    order_reference_number: int = field(metadata=U64)
    capacity: str = field(metadata=CHAR)
    intermarket_sweep_eligibility: str = field(metadata=CHAR)
    minimum_quantity: int = field(metadata=U32)
    cross_type: str = field(metadata=CHAR)
    order_state: str = field(metadata=CHAR)
    previous_order_token: str = field(metadata=TOKEN)
    bbo_weight_indicator: str = field(metadata=CHAR)


@OUTBOUND.register()
@dataclass(frozen=True, slots=True)
class OrderCanceled(OutboundMessage):
    message_type: ClassVar[str] = "C"
    timestamp: int = field(metadata=U64)
    order_token: str = field(metadata=TOKEN)
    decrement_shares: int = field(metadata=U32)
    reason: str = field(metadata=CHAR)


@OUTBOUND.register()
@dataclass(frozen=True, slots=True)
class AiqCanceled(OutboundMessage):
    message_type: ClassVar[str] = "D"
    timestamp: int = field(metadata=U64)
    order_token: str = field(metadata=TOKEN)
    decrement_shares: int = field(metadata=U32)
    reason: str = field(metadata=CHAR)
    quantity_prevented_from_trading: int = field(metadata=U32)
    execution_price: int = field(metadata=U32)
    liquidity_flag: str = field(metadata=CHAR)


@OUTBOUND.register()
@dataclass(frozen=True, slots=True)
class OrderExecuted(OutboundMessage):
    message_type: ClassVar[str] = "E"
    timestamp: int = field(metadata=U64)
    order_token: str = field(metadata=TOKEN)
    executed_shares: int = field(metadata=U32)
    execution_price: int = field(metadata=U32)
    liquidity_flag: str = field(metadata=CHAR)
    match_number: int = field(metadata=U64)


@OUTBOUND.register()
@dataclass(frozen=True, slots=True)
class BrokenTrade(OutboundMessage):
    message_type: ClassVar[str] = "B"
    timestamp: int = field(metadata=U64)
    order_token: str = field(metadata=TOKEN)
    match_number: int = field(metadata=U64)
    reason: str = field(metadata=CHAR)


@OUTBOUND.register()
@dataclass(frozen=True, slots=True)
class ExecutedWithReferencePrice(OutboundMessage):
    message_type: ClassVar[str] = "G"
    timestamp: int = field(metadata=U64)
    order_token: str = field(metadata=TOKEN)
    executed_shares: int = field(metadata=U32)
    execution_price: int = field(metadata=U32)
    liquidity_flag: str = field(metadata=CHAR)
    match_number: int = field(metadata=U64)
    reference_price: int = field(metadata=U32)
    reference_price_type: str = field(metadata=CHAR)


@OUTBOUND.register()
@dataclass(frozen=True, slots=True)
class TradeCorrection(OutboundMessage):
    message_type: ClassVar[str] = "F"
    timestamp: int = field(metadata=U64)
    order_token: str = field(metadata=TOKEN)
    executed_shares: int = field(metadata=U32)
    execution_price: int = field(metadata=U32)
    liquidity_flag: str = field(metadata=CHAR)
    match_number: int = field(metadata=U64)
    reason: str = field(metadata=CHAR)


@OUTBOUND.register()
@dataclass(frozen=True, slots=True)
class Rejected(OutboundMessage):
    message_type: ClassVar[str] = "J"
    timestamp: int = field(metadata=U64)
    order_token: str = field(metadata=TOKEN)
    reason: str = field(metadata=CHAR)


@OUTBOUND.register()
@dataclass(frozen=True, slots=True)
class CancelPending(OutboundMessage):
    message_type: ClassVar[str] = "P"
    timestamp: int = field(metadata=U64)
    order_token: str = field(metadata=TOKEN)


@OUTBOUND.register()
@dataclass(frozen=True, slots=True)
class CancelReject(OutboundMessage):
    message_type: ClassVar[str] = "I"
    timestamp: int = field(metadata=U64)
    order_token: str = field(metadata=TOKEN)


@OUTBOUND.register()
@dataclass(frozen=True, slots=True)
class OrderPriorityUpdate(OutboundMessage):
    message_type: ClassVar[str] = "T"
    timestamp: int = field(metadata=U64)
    order_token: str = field(metadata=TOKEN)
    price: int = field(metadata=U32)
    display: str = field(metadata=CHAR)
    order_reference_number: int = field(metadata=U64)


@OUTBOUND.register()
@dataclass(frozen=True, slots=True)
class OrderModified(OutboundMessage):
    message_type: ClassVar[str] = "M"
    timestamp: int = field(metadata=U64)
    order_token: str = field(metadata=TOKEN)
    buy_sell_indicator: str = field(metadata=CHAR)
    shares: int = field(metadata=U32)


#: message lengths, type byte included (NOTES.md)
INBOUND_LENGTHS: dict[str, int] = INBOUND.lengths()
OUTBOUND_LENGTHS: dict[str, int] = OUTBOUND.lengths()


def encode(msg: Message) -> bytes:
    """Encode an OUCH 4.2 message to wire bytes (raises :class:`EncodeError`)."""
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
