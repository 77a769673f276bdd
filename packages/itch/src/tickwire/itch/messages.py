"""ITCH 5.0 messages: the one wire table, typed message objects, ``decode`` and ``encode``.

The byte layout of every message type is written exactly once, below, as a construct
``Struct`` (:data:`MESSAGE_STRUCTS`). Everything else is derived from that table:

* :data:`MESSAGE_LENGTHS` is the ``sizeof()`` of each Struct;
* the fast pure-Python codecs behind :func:`decode` and :func:`encode` are generated at
  import time from the table (each field's construct type maps to a ``struct`` format
  code, and a small decoder/encoder function is compiled per type), because running
  construct's interpreter per message is about 20x slower than ``struct``;
* :func:`decode_construct` / :func:`encode_construct` run the table through construct
  itself. The test-suite proves with hypothesis that both paths agree byte for byte and
  object for object, so the fast path is never trusted on its own.

Conventions (see DESIGN.md): integers stay integers. Prices are ``int`` in the spec's
units (Price(4): 1/10,000 dollar; Price(8): 1e-8 dollar), timestamps are ``int``
nanoseconds since midnight, symbols and other multi-character Alpha fields are ``str``
with the right space padding stripped (it is added back on encode, so decode/encode is
lossless). One-character Alpha fields with a documented code list decode to a
:class:`enum.StrEnum` member when the value is known and to the raw one-character
``str`` otherwise: newer feeds carry codes older specs do not list, and a decoder must
not reject them. Both compare equal to plain strings (``msg.buy_sell_indicator == "S"``).
Alpha bytes are decoded as latin-1 so that any byte value round-trips.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any, ClassVar, Final

import construct as cs

__all__ = [
    "MESSAGE_CLASSES",
    "MESSAGE_LENGTHS",
    "MESSAGE_STRUCTS",
    "NOII",
    "AddOrder",
    "AddOrderMPID",
    "AnyMessage",
    "BrokenTrade",
    "CrossTrade",
    "CrossType",
    "DLCRPriceDiscovery",
    "DecodeError",
    "EncodeError",
    "EventCode",
    "IPOQuotingPeriodUpdate",
    "ImbalanceDirection",
    "InterestFlag",
    "IssueClassification",
    "LULDAuctionCollar",
    "MWCBDeclineLevel",
    "MWCBStatus",
    "MarketCategory",
    "MarketParticipantPosition",
    "Message",
    "OperationalHalt",
    "OrderCancel",
    "OrderDelete",
    "OrderExecuted",
    "OrderExecutedWithPrice",
    "OrderReplace",
    "RegSHORestriction",
    "RetailPriceImprovementIndicator",
    "Side",
    "StockDirectory",
    "StockTradingAction",
    "SystemEvent",
    "Trade",
    "TradingState",
    "decode",
    "decode_construct",
    "encode",
    "encode_construct",
]


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------


class DecodeError(ValueError):
    """Bytes that are not a valid ITCH 5.0 message (or BinaryFILE stream).

    ``offset`` is the byte offset of the offending message in its source (0 when a single
    message was decoded), ``message_type`` the type letter when one was read (``None``
    when not even the type byte was available) and ``reason`` a human-readable cause.
    """

    def __init__(self, reason: str, *, offset: int = 0, message_type: str | None = None) -> None:
        self.reason = reason
        self.offset = offset
        self.message_type = message_type
        where = f"at byte offset {offset}"
        if message_type is not None:
            where += f", message type {message_type!r}"
        super().__init__(f"{reason} ({where})")

    def __reduce__(self) -> tuple[Any, ...]:
        """Rebuilt from its fields (keyword-only arguments need help to survive pickling:
        multiprocessing users), then given its other attributes back: above all the
        input file ``tickwire.cli.name_input`` marked it with, which ``one_line`` prints
        first (``day.itch: truncated frame ...``); rebuilt from the fields alone, a
        worker's error lost the file's name. Test: ``test_itch_messages.py::
        test_decode_error_pickles_with_the_file_it_was_read_from``."""
        return (
            _rebuild_decode_error,
            (self.reason, self.offset, self.message_type),
            dict(self.__dict__),
        )


def _rebuild_decode_error(reason: str, offset: int, message_type: str | None) -> DecodeError:
    return DecodeError(reason, offset=offset, message_type=message_type)


class EncodeError(ValueError):
    """A message object whose field values cannot be represented on the wire
    (an integer out of range, a symbol longer than its field, a non-latin-1 character)."""


# --------------------------------------------------------------------------------------
# Code lists of one-character Alpha fields (ITCH 5.0 spec, section 4)
# --------------------------------------------------------------------------------------


class EventCode(StrEnum):
    """System Event codes (S)."""

    START_OF_MESSAGES = "O"
    START_OF_SYSTEM_HOURS = "S"
    START_OF_MARKET_HOURS = "Q"
    END_OF_MARKET_HOURS = "M"
    END_OF_SYSTEM_HOURS = "E"
    END_OF_MESSAGES = "C"


class MarketCategory(StrEnum):
    """Stock Directory market category (R)."""

    NASDAQ_GLOBAL_SELECT = "Q"
    NASDAQ_GLOBAL_MARKET = "G"
    NASDAQ_CAPITAL_MARKET = "S"
    NYSE = "N"
    NYSE_AMERICAN = "A"
    NYSE_ARCA = "P"
    BATS = "Z"
    INVESTORS_EXCHANGE = "V"
    NOT_AVAILABLE = " "


class FinancialStatusIndicator(StrEnum):
    """Stock Directory financial status indicator (R)."""

    DEFICIENT = "D"
    DELINQUENT = "E"
    BANKRUPT = "Q"
    SUSPENDED = "S"
    DEFICIENT_BANKRUPT = "G"
    DEFICIENT_DELINQUENT = "H"
    DELINQUENT_BANKRUPT = "J"
    DEFICIENT_DELINQUENT_BANKRUPT = "K"
    CREATIONS_REDEMPTIONS_SUSPENDED = "C"
    NORMAL = "N"
    NOT_AVAILABLE = " "


class IssueClassification(StrEnum):
    """Stock Directory issue classification (R)."""

    AMERICAN_DEPOSITARY_SHARE = "A"
    BOND = "B"
    COMMON_STOCK = "C"
    DEPOSITORY_RECEIPT = "F"
    RULE_144A = "I"
    LIMITED_PARTNERSHIP = "L"
    NOTES = "N"
    ORDINARY_SHARE = "O"
    PREFERRED_STOCK = "P"
    OTHER_SECURITIES = "Q"
    RIGHT = "R"
    SHARES_OF_BENEFICIAL_INTEREST = "S"
    CONVERTIBLE_DEBENTURE = "T"
    UNIT = "U"
    UNITS_BENEFICIAL_INTEREST = "V"
    WARRANT = "W"


class YesNo(StrEnum):
    """Generic ``Y``/``N`` flag (round lots only, printable, primary market maker, ...)."""

    YES = "Y"
    NO = "N"


class YesNoBlank(StrEnum):
    """``Y``/``N`` flag where a space means "not available"."""

    YES = "Y"
    NO = "N"
    NOT_AVAILABLE = " "


class Authenticity(StrEnum):
    """Stock Directory authenticity (R)."""

    LIVE = "P"
    TEST = "D"


class LULDReferencePriceTier(StrEnum):
    """Stock Directory LULD reference price tier (R)."""

    TIER_1 = "1"
    TIER_2 = "2"
    NOT_AVAILABLE = " "


class TradingState(StrEnum):
    """Stock Trading Action trading state (H)."""

    HALTED = "H"
    PAUSED = "P"
    QUOTATION_ONLY = "Q"
    TRADING = "T"


class RegSHOAction(StrEnum):
    """Reg SHO short sale price test restriction action (Y)."""

    NO_PRICE_TEST = "0"
    RESTRICTION_INTRADAY_DROP = "1"
    RESTRICTION_REMAINS = "2"


class MarketMakerMode(StrEnum):
    """Market participant position: market maker mode (L)."""

    NORMAL = "N"
    PASSIVE = "P"
    SYNDICATE = "S"
    PRE_SYNDICATE = "R"
    PENALTY = "L"


class MarketParticipantState(StrEnum):
    """Market participant position: state (L)."""

    ACTIVE = "A"
    EXCUSED = "E"
    WITHDRAWN = "W"
    SUSPENDED = "S"
    DELETED = "D"


class BreachedLevel(StrEnum):
    """MWCB status: breached level (W)."""

    LEVEL_1 = "1"
    LEVEL_2 = "2"
    LEVEL_3 = "3"


class IPOReleaseQualifier(StrEnum):
    """IPO quoting period update: release qualifier (K)."""

    ANTICIPATED = "A"
    CANCELED_OR_POSTPONED = "C"


class MarketCode(StrEnum):
    """Operational halt: market code (h)."""

    NASDAQ = "Q"
    BX = "B"
    PSX = "X"


class OperationalHaltAction(StrEnum):
    """Operational halt: action (h)."""

    HALTED = "H"
    RESUMED = "T"


class Side(StrEnum):
    """Buy/sell indicator (A, F, P)."""

    BUY = "B"
    SELL = "S"


class CrossType(StrEnum):
    """Cross type (Q, I). ``A`` (extended trading close) and ``I`` (intraday/post-close)
    postdate the 2015 PDF."""

    OPENING = "O"
    CLOSING = "C"
    IPO_OR_HALTED = "H"
    INTRADAY_OR_POSTCLOSE = "I"
    EXTENDED_TRADING_CLOSE = "A"


class ImbalanceDirection(StrEnum):
    """NOII imbalance direction (I)."""

    BUY = "B"
    SELL = "S"
    NO_IMBALANCE = "N"
    INSUFFICIENT_ORDERS = "O"
    PAUSED = "P"


class PriceVariationIndicator(StrEnum):
    """NOII price variation indicator (I): how far the near price is from the reference."""

    LESS_THAN_1_PERCENT = "L"
    PCT_1_TO_2 = "1"
    PCT_2_TO_3 = "2"
    PCT_3_TO_4 = "3"
    PCT_4_TO_5 = "4"
    PCT_5_TO_6 = "5"
    PCT_6_TO_7 = "6"
    PCT_7_TO_8 = "7"
    PCT_8_TO_9 = "8"
    PCT_9_TO_10 = "9"
    PCT_10_TO_20 = "A"
    PCT_20_TO_30 = "B"
    PCT_30_OR_MORE = "C"
    NOT_AVAILABLE = " "


class InterestFlag(StrEnum):
    """Retail price improvement indicator interest flag (N)."""

    BUY = "B"
    SELL = "S"
    BOTH = "A"
    NONE = "N"


# --------------------------------------------------------------------------------------
# construct field types
# --------------------------------------------------------------------------------------


class Alpha(cs.Adapter):  # type: ignore[misc]
    """An ITCH Alpha field of ``length`` bytes.

    One-character fields decode to a member of ``codes`` (a StrEnum) when the value is
    known, else to the raw character. Longer fields (symbols, MPIDs, reason codes) decode
    to ``str`` with the right space padding stripped, and are padded back on build.
    """

    def __init__(self, length: int, codes: type[StrEnum] | None = None) -> None:
        super().__init__(cs.Bytes(length))
        self.length = length
        self.codes = codes
        self.lookup: dict[bytes, str] = _code_lookup(codes) if length == 1 else {}

    def _decode(self, obj: bytes, context: Any, path: Any) -> str:
        if self.length == 1:
            return self.lookup[obj]
        return obj.decode("latin-1").rstrip(" ")

    def _encode(self, obj: str, context: Any, path: Any) -> bytes:
        try:
            raw = str(obj).encode("latin-1")
        except UnicodeEncodeError as exc:
            raise cs.ExplicitError(f"not latin-1: {obj!r}") from exc
        if self.length == 1:
            if len(raw) != 1:
                raise cs.ExplicitError(f"expected one character, got {obj!r}")
            return raw
        if len(raw) > self.length:
            raise cs.ExplicitError(f"{obj!r} longer than {self.length} bytes")
        return raw.ljust(self.length, b" ")


def _code_lookup(codes: type[StrEnum] | None) -> dict[bytes, str]:
    """Every possible byte -> its enum member, or the raw latin-1 character."""
    table: dict[bytes, str] = {bytes([b]): chr(b) for b in range(256)}
    if codes is not None:
        for member in codes:
            table[member.value.encode("latin-1")] = member
    return table


#: Big-endian unsigned integers of the widths ITCH uses.
Integer2: Final = cs.Int16ub
Integer4: Final = cs.Int32ub
Integer8: Final = cs.Int64ub
#: Price(4): unsigned 4-byte integer, 1/10,000 dollar units.
Price4: Final = cs.Int32ub
#: Price(8): unsigned 8-byte integer, 1e-8 dollar units.
Price8: Final = cs.Int64ub
#: 6-byte big-endian nanoseconds since midnight.
Timestamp: Final = cs.BytesInteger(6)
Stock: Final = Alpha(8)


def _layout(message_type: str, *body: Any) -> Any:
    """The message type byte, the common header, then the type's own fields."""
    return cs.Struct(
        "message_type" / cs.Const(message_type.encode("ascii")),
        "stock_locate" / Integer2,
        "tracking_number" / Integer2,
        "timestamp" / Timestamp,
        *body,
    )


# --------------------------------------------------------------------------------------
# THE TABLE: every ITCH 5.0 message layout, written once.
# --------------------------------------------------------------------------------------

#: Message type letter -> construct Struct (parse and build). The single source of truth.
MESSAGE_STRUCTS: Final[dict[str, Any]] = {
    # 4.1 System Event
    "S": _layout("S", "event_code" / Alpha(1, EventCode)),
    # 4.2.1 Stock Directory
    "R": _layout(
        "R",
        "stock" / Stock,
        "market_category" / Alpha(1, MarketCategory),
        "financial_status_indicator" / Alpha(1, FinancialStatusIndicator),
        "round_lot_size" / Integer4,
        "round_lots_only" / Alpha(1, YesNo),
        "issue_classification" / Alpha(1, IssueClassification),
        "issue_sub_type" / Alpha(2),
        "authenticity" / Alpha(1, Authenticity),
        "short_sale_threshold_indicator" / Alpha(1, YesNoBlank),
        "ipo_flag" / Alpha(1, YesNoBlank),
        "luld_reference_price_tier" / Alpha(1, LULDReferencePriceTier),
        "etp_flag" / Alpha(1, YesNoBlank),
        "etp_leverage_factor" / Integer4,
        "inverse_indicator" / Alpha(1, YesNo),
    ),
    # 4.2.2 Stock Trading Action
    "H": _layout(
        "H",
        "stock" / Stock,
        "trading_state" / Alpha(1, TradingState),
        "reserved" / Alpha(1),
        "reason" / Alpha(4),
    ),
    # 4.2.3 Reg SHO Short Sale Price Test Restricted Indicator
    "Y": _layout("Y", "stock" / Stock, "reg_sho_action" / Alpha(1, RegSHOAction)),
    # 4.2.4 Market Participant Position
    "L": _layout(
        "L",
        "mpid" / Alpha(4),
        "stock" / Stock,
        "primary_market_maker" / Alpha(1, YesNo),
        "market_maker_mode" / Alpha(1, MarketMakerMode),
        "market_participant_state" / Alpha(1, MarketParticipantState),
    ),
    # 4.2.5.1 MWCB Decline Level (Price(8))
    "V": _layout("V", "level_1" / Price8, "level_2" / Price8, "level_3" / Price8),
    # 4.2.5.2 MWCB Status
    "W": _layout("W", "breached_level" / Alpha(1, BreachedLevel)),
    # 4.2.6 IPO Quoting Period Update
    "K": _layout(
        "K",
        "stock" / Stock,
        "ipo_quotation_release_time" / Integer4,
        "ipo_quotation_release_qualifier" / Alpha(1, IPOReleaseQualifier),
        "ipo_price" / Price4,
    ),
    # 4.2.7 LULD Auction Collar
    "J": _layout(
        "J",
        "stock" / Stock,
        "auction_collar_reference_price" / Price4,
        "upper_auction_collar_price" / Price4,
        "lower_auction_collar_price" / Price4,
        "auction_collar_extension" / Integer4,
    ),
    # 4.2.8 Operational Halt
    "h": _layout(
        "h",
        "stock" / Stock,
        "market_code" / Alpha(1, MarketCode),
        "operational_halt_action" / Alpha(1, OperationalHaltAction),
    ),
    # 4.3.1 Add Order, no MPID attribution
    "A": _layout(
        "A",
        "order_reference_number" / Integer8,
        "buy_sell_indicator" / Alpha(1, Side),
        "shares" / Integer4,
        "stock" / Stock,
        "price" / Price4,
    ),
    # 4.3.2 Add Order with MPID attribution
    "F": _layout(
        "F",
        "order_reference_number" / Integer8,
        "buy_sell_indicator" / Alpha(1, Side),
        "shares" / Integer4,
        "stock" / Stock,
        "price" / Price4,
        "attribution" / Alpha(4),
    ),
    # 4.4.1 Order Executed
    "E": _layout(
        "E",
        "order_reference_number" / Integer8,
        "executed_shares" / Integer4,
        "match_number" / Integer8,
    ),
    # 4.4.2 Order Executed With Price
    "C": _layout(
        "C",
        "order_reference_number" / Integer8,
        "executed_shares" / Integer4,
        "match_number" / Integer8,
        "printable" / Alpha(1, YesNo),
        "execution_price" / Price4,
    ),
    # 4.4.3 Order Cancel
    "X": _layout("X", "order_reference_number" / Integer8, "cancelled_shares" / Integer4),
    # 4.4.4 Order Delete
    "D": _layout("D", "order_reference_number" / Integer8),
    # 4.4.5 Order Replace
    "U": _layout(
        "U",
        "original_order_reference_number" / Integer8,
        "new_order_reference_number" / Integer8,
        "shares" / Integer4,
        "price" / Price4,
    ),
    # 4.5.1 Trade (non-cross)
    "P": _layout(
        "P",
        "order_reference_number" / Integer8,
        "buy_sell_indicator" / Alpha(1, Side),
        "shares" / Integer4,
        "stock" / Stock,
        "price" / Price4,
        "match_number" / Integer8,
    ),
    # 4.5.2 Cross Trade (8-byte shares)
    "Q": _layout(
        "Q",
        "shares" / Integer8,
        "stock" / Stock,
        "cross_price" / Price4,
        "match_number" / Integer8,
        "cross_type" / Alpha(1, CrossType),
    ),
    # 4.5.3 Broken Trade
    "B": _layout("B", "match_number" / Integer8),
    # 4.6 Net Order Imbalance Indicator (8-byte share counts)
    "I": _layout(
        "I",
        "paired_shares" / Integer8,
        "imbalance_shares" / Integer8,
        "imbalance_direction" / Alpha(1, ImbalanceDirection),
        "stock" / Stock,
        "far_price" / Price4,
        "near_price" / Price4,
        "current_reference_price" / Price4,
        "cross_type" / Alpha(1, CrossType),
        "price_variation_indicator" / Alpha(1, PriceVariationIndicator),
    ),
    # 4.7 Retail Price Improvement Indicator
    "N": _layout("N", "stock" / Stock, "interest_flag" / Alpha(1, InterestFlag)),
    # Direct Listing with Capital Raise price discovery (postdates the 2015 PDF)
    "O": _layout(
        "O",
        "stock" / Stock,
        "open_eligibility_status" / Alpha(1, YesNo),
        "minimum_allowable_price" / Price4,
        "maximum_allowable_price" / Price4,
        "near_execution_price" / Price4,
        "near_execution_time" / Integer8,
        "lower_price_range_collar" / Price4,
        "upper_price_range_collar" / Price4,
    ),
}

#: Type letter -> message length in bytes, type byte included (NOTES.md), from the table.
MESSAGE_LENGTHS: Final[dict[str, int]] = {t: s.sizeof() for t, s in MESSAGE_STRUCTS.items()}


# --------------------------------------------------------------------------------------
# Typed message objects. Field order and names must match the table (checked at import).
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Message:
    """Base of every ITCH 5.0 message: the common header.

    ``timestamp`` is nanoseconds since midnight (48 bits on the wire).
    """

    message_type: ClassVar[str] = ""
    stock_locate: int
    tracking_number: int
    timestamp: int


@dataclass(frozen=True, slots=True)
class SystemEvent(Message):
    """``S``: a market or data feed event (start/end of messages, system and market hours)."""

    message_type: ClassVar[str] = "S"
    event_code: str


@dataclass(frozen=True, slots=True)
class StockDirectory(Message):
    """``R``: one per active symbol at the start of the day."""

    message_type: ClassVar[str] = "R"
    stock: str
    market_category: str
    financial_status_indicator: str
    round_lot_size: int
    round_lots_only: str
    issue_classification: str
    issue_sub_type: str
    authenticity: str
    short_sale_threshold_indicator: str
    ipo_flag: str
    luld_reference_price_tier: str
    etp_flag: str
    etp_leverage_factor: int
    inverse_indicator: str


@dataclass(frozen=True, slots=True)
class StockTradingAction(Message):
    """``H``: halts, pauses, quotation-only periods and resumptions."""

    message_type: ClassVar[str] = "H"
    stock: str
    trading_state: str
    reserved: str
    reason: str


@dataclass(frozen=True, slots=True)
class RegSHORestriction(Message):
    """``Y``: Reg SHO short sale price test restriction status."""

    message_type: ClassVar[str] = "Y"
    stock: str
    reg_sho_action: str


@dataclass(frozen=True, slots=True)
class MarketParticipantPosition(Message):
    """``L``: a market maker's status in a security."""

    message_type: ClassVar[str] = "L"
    mpid: str
    stock: str
    primary_market_maker: str
    market_maker_mode: str
    market_participant_state: str


@dataclass(frozen=True, slots=True)
class MWCBDeclineLevel(Message):
    """``V``: market-wide circuit breaker levels, Price(8) (1e-8 dollar units)."""

    message_type: ClassVar[str] = "V"
    level_1: int
    level_2: int
    level_3: int


@dataclass(frozen=True, slots=True)
class MWCBStatus(Message):
    """``W``: a market-wide circuit breaker level was breached."""

    message_type: ClassVar[str] = "W"
    breached_level: str


@dataclass(frozen=True, slots=True)
class IPOQuotingPeriodUpdate(Message):
    """``K``: anticipated IPO quotation release time (seconds since midnight) and price."""

    message_type: ClassVar[str] = "K"
    stock: str
    ipo_quotation_release_time: int
    ipo_quotation_release_qualifier: str
    ipo_price: int


@dataclass(frozen=True, slots=True)
class LULDAuctionCollar(Message):
    """``J``: limit up/limit down auction collar thresholds."""

    message_type: ClassVar[str] = "J"
    stock: str
    auction_collar_reference_price: int
    upper_auction_collar_price: int
    lower_auction_collar_price: int
    auction_collar_extension: int


@dataclass(frozen=True, slots=True)
class OperationalHalt(Message):
    """``h``: an operational halt or resumption on one Nasdaq market."""

    message_type: ClassVar[str] = "h"
    stock: str
    market_code: str
    operational_halt_action: str


@dataclass(frozen=True, slots=True)
class AddOrder(Message):
    """``A``: a new displayed order, no MPID attribution."""

    message_type: ClassVar[str] = "A"
    order_reference_number: int
    buy_sell_indicator: str
    shares: int
    stock: str
    price: int


@dataclass(frozen=True, slots=True)
class AddOrderMPID(Message):
    """``F``: a new displayed order attributed to a market participant."""

    message_type: ClassVar[str] = "F"
    order_reference_number: int
    buy_sell_indicator: str
    shares: int
    stock: str
    price: int
    attribution: str


@dataclass(frozen=True, slots=True)
class OrderExecuted(Message):
    """``E``: (part of) a resting order executed at its displayed price."""

    message_type: ClassVar[str] = "E"
    order_reference_number: int
    executed_shares: int
    match_number: int


@dataclass(frozen=True, slots=True)
class OrderExecutedWithPrice(Message):
    """``C``: (part of) a resting order executed at a price other than its displayed one."""

    message_type: ClassVar[str] = "C"
    order_reference_number: int
    executed_shares: int
    match_number: int
    printable: str
    execution_price: int


@dataclass(frozen=True, slots=True)
class OrderCancel(Message):
    """``X``: part of an order's shares cancelled."""

    message_type: ClassVar[str] = "X"
    order_reference_number: int
    cancelled_shares: int


@dataclass(frozen=True, slots=True)
class OrderDelete(Message):
    """``D``: an order removed from the book."""

    message_type: ClassVar[str] = "D"
    order_reference_number: int


@dataclass(frozen=True, slots=True)
class OrderReplace(Message):
    """``U``: an order cancelled and replaced by a new reference (same side and stock)."""

    message_type: ClassVar[str] = "U"
    original_order_reference_number: int
    new_order_reference_number: int
    shares: int
    price: int


@dataclass(frozen=True, slots=True)
class Trade(Message):
    """``P``: a match involving a non-displayed order."""

    message_type: ClassVar[str] = "P"
    order_reference_number: int
    buy_sell_indicator: str
    shares: int
    stock: str
    price: int
    match_number: int


@dataclass(frozen=True, slots=True)
class CrossTrade(Message):
    """``Q``: the bulk print of a cross (8-byte shares)."""

    message_type: ClassVar[str] = "Q"
    shares: int
    stock: str
    cross_price: int
    match_number: int
    cross_type: str


@dataclass(frozen=True, slots=True)
class BrokenTrade(Message):
    """``B``: an earlier execution was broken."""

    message_type: ClassVar[str] = "B"
    match_number: int


@dataclass(frozen=True, slots=True)
class NOII(Message):
    """``I``: net order imbalance indicator ahead of a cross (8-byte share counts)."""

    message_type: ClassVar[str] = "I"
    paired_shares: int
    imbalance_shares: int
    imbalance_direction: str
    stock: str
    far_price: int
    near_price: int
    current_reference_price: int
    cross_type: str
    price_variation_indicator: str


@dataclass(frozen=True, slots=True)
class RetailPriceImprovementIndicator(Message):
    """``N``: retail interest on the bid, the ask, both or neither."""

    message_type: ClassVar[str] = "N"
    stock: str
    interest_flag: str


@dataclass(frozen=True, slots=True)
class DLCRPriceDiscovery(Message):
    """``O``: Direct Listing with Capital Raise price discovery (``near_execution_time``
    is a timestamp in ns since midnight)."""

    message_type: ClassVar[str] = "O"
    stock: str
    open_eligibility_status: str
    minimum_allowable_price: int
    maximum_allowable_price: int
    near_execution_price: int
    near_execution_time: int
    lower_price_range_collar: int
    upper_price_range_collar: int


#: Any concrete ITCH 5.0 message, for exhaustive ``match`` statements.
AnyMessage = (
    SystemEvent
    | StockDirectory
    | StockTradingAction
    | RegSHORestriction
    | MarketParticipantPosition
    | MWCBDeclineLevel
    | MWCBStatus
    | IPOQuotingPeriodUpdate
    | LULDAuctionCollar
    | OperationalHalt
    | AddOrder
    | AddOrderMPID
    | OrderExecuted
    | OrderExecutedWithPrice
    | OrderCancel
    | OrderDelete
    | OrderReplace
    | Trade
    | CrossTrade
    | BrokenTrade
    | NOII
    | RetailPriceImprovementIndicator
    | DLCRPriceDiscovery
)

#: Type letter -> message class.
MESSAGE_CLASSES: Final[dict[str, type[Message]]] = {
    cls.message_type: cls
    for cls in (
        SystemEvent,
        StockDirectory,
        StockTradingAction,
        RegSHORestriction,
        MarketParticipantPosition,
        MWCBDeclineLevel,
        MWCBStatus,
        IPOQuotingPeriodUpdate,
        LULDAuctionCollar,
        OperationalHalt,
        AddOrder,
        AddOrderMPID,
        OrderExecuted,
        OrderExecutedWithPrice,
        OrderCancel,
        OrderDelete,
        OrderReplace,
        Trade,
        CrossTrade,
        BrokenTrade,
        NOII,
        RetailPriceImprovementIndicator,
        DLCRPriceDiscovery,
    )
}


def _table_fields(message_type: str) -> list[tuple[str, Any]]:
    """(name, construct type) of every field after the type byte, in wire order."""
    out = []
    for sub in MESSAGE_STRUCTS[message_type].subcons:
        if sub.name == "message_type":
            continue
        out.append((sub.name, sub.subcon))
    return out


# The dataclasses must list exactly the table's fields, in wire order: the fast codecs
# pass values positionally. Checked here so a mismatch can never ship.
for _t, _cls in MESSAGE_CLASSES.items():
    _names = [n for n, _ in _table_fields(_t)]
    _dc = [f.name for f in fields(_cls)]
    if _names != _dc:  # pragma: no cover - a programming error caught at import
        raise AssertionError(f"{_cls.__name__} fields {_dc} != table {_names}")
if sorted(MESSAGE_STRUCTS) != sorted(MESSAGE_CLASSES):  # pragma: no cover
    raise AssertionError("table and classes disagree on message types")


# --------------------------------------------------------------------------------------
# The construct path (reference; slow)
# --------------------------------------------------------------------------------------


def decode_construct(data: bytes | bytearray | memoryview) -> Message:
    """Decode one message with construct itself (the reference the fast path is tested
    against). Same contract as :func:`decode`."""
    raw = bytes(data)
    if not raw:
        raise DecodeError("empty message")
    t = chr(raw[0])
    layout = MESSAGE_STRUCTS.get(t)
    if layout is None:
        raise DecodeError("unknown message type", message_type=t)
    if len(raw) < MESSAGE_LENGTHS[t]:
        raise DecodeError(f"truncated: {len(raw)} of {MESSAGE_LENGTHS[t]} bytes", message_type=t)
    try:
        parsed = layout.parse(raw)
    except cs.ConstructError as exc:  # pragma: no cover - lengths were checked
        raise DecodeError(str(exc), message_type=t) from exc
    cls = MESSAGE_CLASSES[t]
    return cls(**{f.name: parsed[f.name] for f in fields(cls)})


def encode_construct(msg: Message) -> bytes:
    """Encode one message with construct itself. Same contract as :func:`encode`."""
    t = msg.message_type
    layout = MESSAGE_STRUCTS.get(t)
    if layout is None or type(msg) is not MESSAGE_CLASSES[t]:
        raise EncodeError(f"not an ITCH message: {msg!r}")
    values = {f.name: getattr(msg, f.name) for f in fields(msg)}
    try:
        return bytes(layout.build(values))
    except (cs.ConstructError, TypeError, ValueError) as exc:
        raise EncodeError(f"cannot encode {type(msg).__name__}: {exc}") from exc


# --------------------------------------------------------------------------------------
# The fast pure-Python path, generated from the table
# --------------------------------------------------------------------------------------


def _field_codec(name: str, con: Any) -> tuple[str, str, str, Any]:
    """Map one table field to (struct format, decode expression, encode args, helper).

    Expressions refer to the unpacked value as ``{v}`` (``{v}_hi``/``{v}_lo`` for the
    48-bit timestamp, which ``struct`` has no code for) and to the object's attribute as
    ``{a}``; the helper, when not None, is bound as ``{h}`` in the generated function.
    """
    if isinstance(con, cs.FormatField):
        code = con.fmtstr[-1]
        if con.fmtstr[0] != ">" or code not in "BHILQ":  # pragma: no cover
            raise TypeError(f"{name}: unsupported integer {con.fmtstr}")
        return code, "{v}", "{a}", None
    if isinstance(con, cs.BytesInteger):
        if con.length != 6 or con.signed or con.swapped:  # pragma: no cover
            raise TypeError(f"{name}: only the 6-byte big-endian timestamp is supported")
        return "HI", "({v}_hi << 32) | {v}_lo", "{a} >> 32, {a} & 0xFFFFFFFF", None
    if isinstance(con, Alpha):
        if con.length == 1:
            # 'c' needs exactly one byte on pack, so bad lengths fail loudly.
            return "c", "{h}[{v}]", "{a}.encode('latin-1')", con.lookup
        return (
            f"{con.length}s",
            "{v}.decode('latin-1').rstrip(' ')",
            "{h}({a}, " + str(con.length) + ")",
            _pad,
        )
    raise TypeError(f"{name}: no fast codec for {con!r}")  # pragma: no cover


def _slot_setter(cls: type, name: str) -> Callable[[Any, Any], None]:
    """The ``__set__`` of the slot descriptor that stores ``name`` on ``cls`` instances."""
    for klass in cls.__mro__:
        descriptor = klass.__dict__.get(name)
        if descriptor is not None:
            setter: Callable[[Any, Any], None] = descriptor.__set__
            return setter
    raise AssertionError(f"{cls.__name__} has no slot {name}")  # pragma: no cover


def _pad(value: str, length: int) -> bytes:
    raw = value.encode("latin-1")
    if len(raw) > length:
        raise EncodeError(f"{value!r} is longer than {length} bytes")
    return raw.ljust(length, b" ")


def _compile(
    message_type: str,
) -> tuple[struct.Struct, Callable[..., Message], Callable[[Any], bytes]]:
    cls = MESSAGE_CLASSES[message_type]
    fmt = ">x"  # the type byte: known from dispatch
    unpack_names: list[str] = []
    ctor_args: list[str] = []
    pack_args: list[str] = [repr(message_type.encode("ascii"))]
    env: dict[str, Any] = {"_cls": cls, "_new": object.__new__}
    for i, (name, con) in enumerate(_table_fields(message_type)):
        code, dec, enc, helper = _field_codec(name, con)
        v, h, a = f"v{i}", f"_h{i}", f"m.{name}"
        fmt += code
        unpack_names += [f"{v}_hi", f"{v}_lo"] if code == "HI" else [v]
        ctor_args.append(dec.format(v=v, h=h))
        pack_args.append(enc.format(a=a, h=h))
        if helper is not None:
            env[h] = helper
    st = struct.Struct(fmt)
    pack_st = struct.Struct(">c" + fmt[2:])
    env["_unpack"] = st.unpack_from
    env["_pack"] = pack_st.pack
    # Frozen dataclasses assign every field through object.__setattr__ in __init__,
    # which costs more than the whole unpack. The generated decoder instead allocates the
    # object and stores each value through its slot's member descriptor (what __init__
    # ends up doing, minus the attribute-name lookups): same object, ~1.8x faster.
    # Equality with the construct path is what the hypothesis tests check.
    stores = []
    for i, name in enumerate(n for n, _ in _table_fields(message_type)):
        env[f"_s{i}"] = _slot_setter(cls, name)
        stores.append(f"    _s{i}(o, {ctor_args[i]})\n")
    src = (
        f"def decode_{message_type}(data, offset=0):\n"
        f"    {', '.join(unpack_names)}, = _unpack(data, offset)\n"
        f"    o = _new(_cls)\n" + "".join(stores) + "    return o\n"
        f"def encode_{message_type}(m):\n"
        f"    return _pack({', '.join(pack_args)})\n"
    )
    exec(compile(src, f"<tickwire.itch codec {message_type}>", "exec"), env)
    return st, env[f"decode_{message_type}"], env[f"encode_{message_type}"]


_COMPILED = {t: _compile(t) for t in MESSAGE_STRUCTS}
if any(st.size != MESSAGE_LENGTHS[t] for t, (st, _, _) in _COMPILED.items()):  # pragma: no cover
    raise AssertionError("fast codec sizes disagree with the construct table")

#: Type byte (as int) -> (length, fast decoder). A decoder is called as ``dec(buffer,
#: offset=0)`` with the type byte at ``offset`` and at least ``length`` bytes available
#: (unchecked: callers check). Used by decode() and the readers.
DECODERS: Final[dict[int, tuple[int, Callable[..., Message]]]] = {
    ord(t): (MESSAGE_LENGTHS[t], dec) for t, (_, dec, _) in _COMPILED.items()
}
#: Message class -> fast encoder.
ENCODERS: Final[dict[type[Message], Callable[[Any], bytes]]] = {
    MESSAGE_CLASSES[t]: enc for t, (_, _, enc) in _COMPILED.items()
}


def decode(data: bytes | bytearray | memoryview) -> Message:
    """Decode one ITCH 5.0 message that starts at its type byte.

    ``data`` must hold at least the type's length (:data:`MESSAGE_LENGTHS`); bytes past
    it are ignored. Raises :class:`DecodeError` for empty or truncated data and unknown
    message types; never anything else.
    """
    if not data:
        raise DecodeError("empty message")
    t = data[0]
    entry = DECODERS.get(t)
    if entry is None:
        raise DecodeError("unknown message type", message_type=chr(t))
    length, dec = entry
    if len(data) < length:
        raise DecodeError(f"truncated: {len(data)} of {length} bytes", message_type=chr(t))
    return dec(data)


def encode(msg: Message) -> bytes:
    """Encode one message to its wire bytes (type byte first, no length prefix).

    Raises :class:`EncodeError` when a field does not fit its wire type.
    """
    enc = ENCODERS.get(type(msg))
    if enc is None:
        raise EncodeError(f"not an ITCH message: {msg!r}")
    try:
        return enc(msg)
    except EncodeError:
        raise
    except (struct.error, UnicodeEncodeError, AttributeError, TypeError) as exc:
        raise EncodeError(f"cannot encode {type(msg).__name__}: {exc}") from exc
