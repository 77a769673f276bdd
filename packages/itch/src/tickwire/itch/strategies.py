"""Hypothesis strategies for ITCH 5.0 messages and consistent message streams.

Public and stable, so that code built on tickwire.itch (order books, feed handlers,
strategies) can be property-tested against messages that are exactly what the codec
produces. Needs the ``hypothesis`` extra: ``pip install "tickwire-itch[hypothesis]"``.

Per-type strategies are derived from the wire table (``MESSAGE_STRUCTS``), so they cover
every field at its real width: integers over their full unsigned range, prices as
Price(4)/Price(8) integers, timestamps within a day, symbols as canonical ``str`` (no
trailing space, since decoding strips the padding).

By default one-character code fields are drawn from the spec's code lists (``"B"`` or
``"S"`` for a side). ``valid_codes=False`` also draws arbitrary latin-1 characters, as a
newer feed can send and the decoder preserves.

Example::

    from hypothesis import given
    from tickwire.itch import decode, encode
    from tickwire.itch.strategies import add_orders, streams

    @given(add_orders())
    def test_round_trip(msg):
        assert decode(encode(msg)) == msg

    @given(streams())
    def test_my_book(msgs):
        book = MyBook()
        for m in msgs:
            book.apply(m)          # every reference is consistent
        assert book.is_sane()
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import construct as cs
from hypothesis import strategies as st
from tickwire.itch.messages import (
    MESSAGE_CLASSES,
    NOII,
    AddOrder,
    AddOrderMPID,
    Alpha,
    BrokenTrade,
    CrossTrade,
    DLCRPriceDiscovery,
    IPOQuotingPeriodUpdate,
    LULDAuctionCollar,
    MarketParticipantPosition,
    Message,
    MWCBDeclineLevel,
    MWCBStatus,
    OperationalHalt,
    OrderCancel,
    OrderDelete,
    OrderExecuted,
    OrderExecutedWithPrice,
    OrderReplace,
    RegSHORestriction,
    RetailPriceImprovementIndicator,
    StockDirectory,
    StockTradingAction,
    SystemEvent,
    Trade,
    _table_fields,
)

__all__ = [
    "add_order_mpids",
    "add_orders",
    "broken_trades",
    "cross_trades",
    "dlcr_price_discoveries",
    "ipo_quoting_period_updates",
    "luld_auction_collars",
    "market_participant_positions",
    "messages",
    "messages_of",
    "mwcb_decline_levels",
    "mwcb_statuses",
    "noiis",
    "operational_halts",
    "order_cancels",
    "order_deletes",
    "order_executeds",
    "order_executeds_with_price",
    "order_replaces",
    "reg_sho_restrictions",
    "retail_price_improvement_indicators",
    "stock_directories",
    "stock_trading_actions",
    "streams",
    "symbols",
    "system_events",
    "timestamps",
    "trades",
]

M = TypeVar("M", bound=Message)

#: Nanoseconds in a day: ITCH timestamps count from midnight.
NS_PER_DAY = 86_400 * 1_000_000_000
_SYMBOL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def timestamps() -> st.SearchStrategy[int]:
    """Nanoseconds since midnight."""
    return st.integers(0, NS_PER_DAY - 1)


def symbols(max_size: int = 8) -> st.SearchStrategy[str]:
    """Realistic symbols: 1 to ``max_size`` capital letters."""
    return st.text(_SYMBOL_ALPHABET, min_size=1, max_size=max_size)


def _alpha(con: Alpha, valid_codes: bool) -> st.SearchStrategy[str]:
    latin1 = st.characters(min_codepoint=0, max_codepoint=255)
    if con.length == 1:
        if con.codes is None:
            return latin1
        known = st.sampled_from(sorted(con.codes, key=str))
        return known if valid_codes else st.one_of(known, latin1)
    if valid_codes:
        return symbols(con.length)
    # Anything that survives the padding: no trailing space.
    return st.text(latin1, max_size=con.length).filter(lambda s: not s.endswith(" "))


def _field(name: str, con: Any, valid_codes: bool) -> st.SearchStrategy[Any]:
    if name in ("timestamp", "near_execution_time"):
        return timestamps()
    if isinstance(con, cs.FormatField):
        return st.integers(0, (1 << (8 * con.sizeof())) - 1)
    if isinstance(con, Alpha):
        return _alpha(con, valid_codes)
    raise TypeError(f"no strategy for {name}: {con!r}")  # pragma: no cover


def messages_of(
    cls: type[M], *, valid_codes: bool = True, **overrides: Any
) -> st.SearchStrategy[M]:
    """Messages of one class; ``overrides`` replace field strategies (values are wrapped
    in ``st.just`` when they are not strategies), e.g. ``messages_of(AddOrder,
    stock="AAPL")``."""
    strategies: dict[str, st.SearchStrategy[Any]] = {
        name: _field(name, con, valid_codes) for name, con in _table_fields(cls.message_type)
    }
    for key, value in overrides.items():
        if key not in strategies:
            raise TypeError(f"{cls.__name__} has no field {key!r}")
        strategies[key] = value if isinstance(value, st.SearchStrategy) else st.just(value)
    return st.builds(cls, **strategies)


def _per_type(cls: type[M]) -> Callable[..., st.SearchStrategy[M]]:
    def strategy(*, valid_codes: bool = True, **overrides: Any) -> st.SearchStrategy[M]:
        return messages_of(cls, valid_codes=valid_codes, **overrides)

    strategy.__doc__ = (
        f"``{cls.message_type}`` :class:`~tickwire.itch.messages.{cls.__name__}` messages "
        "(keyword overrides per field, see :func:`messages_of`)."
    )
    return strategy


system_events = _per_type(SystemEvent)
stock_directories = _per_type(StockDirectory)
stock_trading_actions = _per_type(StockTradingAction)
reg_sho_restrictions = _per_type(RegSHORestriction)
market_participant_positions = _per_type(MarketParticipantPosition)
mwcb_decline_levels = _per_type(MWCBDeclineLevel)
mwcb_statuses = _per_type(MWCBStatus)
ipo_quoting_period_updates = _per_type(IPOQuotingPeriodUpdate)
luld_auction_collars = _per_type(LULDAuctionCollar)
operational_halts = _per_type(OperationalHalt)
add_orders = _per_type(AddOrder)
add_order_mpids = _per_type(AddOrderMPID)
order_executeds = _per_type(OrderExecuted)
order_executeds_with_price = _per_type(OrderExecutedWithPrice)
order_cancels = _per_type(OrderCancel)
order_deletes = _per_type(OrderDelete)
order_replaces = _per_type(OrderReplace)
trades = _per_type(Trade)
cross_trades = _per_type(CrossTrade)
broken_trades = _per_type(BrokenTrade)
noiis = _per_type(NOII)
retail_price_improvement_indicators = _per_type(RetailPriceImprovementIndicator)
dlcr_price_discoveries = _per_type(DLCRPriceDiscovery)


def messages(*, valid_codes: bool = True) -> st.SearchStrategy[Message]:
    """Any ITCH 5.0 message, every type equally likely to be chosen."""
    return st.one_of(
        [messages_of(cls, valid_codes=valid_codes) for cls in MESSAGE_CLASSES.values()]
    )


class _Bits:
    """Slices one drawn integer into several small fields.

    Hypothesis draws are the expensive part of a stream; one wide integer per event,
    cut up with divmod, keeps generation fast, and it still shrinks well (towards 0:
    the first symbol, a buy, one share, the lowest price, no time step).
    """

    def __init__(self, value: int) -> None:
        self.value = value

    def take(self, n: int) -> int:
        self.value, out = divmod(self.value, n)
        return out


@st.composite
def streams(
    draw: st.DrawFn,
    *,
    max_symbols: int = 4,
    max_events: int = 40,
) -> list[Message]:
    """A consistent day in miniature, as a list of messages in feed order.

    System event ``O`` and ``S``, one ``R`` per symbol (stock locate 1..n), ``Q``, then
    order events, then ``M``, ``E``, ``C``. Timestamps never decrease; order reference
    numbers are unique and increase; every ``E``/``C``/``X``/``D``/``U`` refers to a live
    order of the same stock locate, executions and cancels leave at least one share or
    become a delete, a replaced order is gone and its new reference is live; match
    numbers increase. ``P`` (non-displayed trades) refer to no live order, as in the feed.
    """
    n_symbols = draw(st.integers(1, max_symbols))
    names = sorted(draw(st.lists(symbols(), min_size=n_symbols, max_size=n_symbols, unique=True)))
    ts = draw(st.integers(0, 3_600 * 10**9))
    out: list[Message] = []

    def tick(step: int) -> int:
        nonlocal ts
        ts = min(ts + step, NS_PER_DAY - 1)
        return ts

    out.append(SystemEvent(0, 0, tick(0), "O"))
    out.append(SystemEvent(0, 0, tick(1), "S"))
    for i, name in enumerate(names, start=1):
        directory = draw(
            stock_directories(stock_locate=i, tracking_number=0, timestamp=tick(1), stock=name)
        )
        out.append(directory)
    out.append(SystemEvent(0, 0, tick(1), "Q"))
    stocks = dict(enumerate(names, start=1))
    # live order ref -> (locate, side, shares, price)
    live: dict[int, tuple[int, str, int, int]] = {}
    next_ref = draw(st.integers(1, 10**6))
    match = draw(st.integers(1, 10**6))
    actions = ("add", "add", "exec", "cancel", "delete", "replace", "trade")
    n_events = draw(st.integers(0, max_events))
    for _ in range(n_events):
        action = actions[draw(st.integers(0, len(actions) - 1))]
        bits = _Bits(draw(st.integers(0, (1 << 96) - 1)))
        t = tick(bits.take(10**9))
        tracking = bits.take(0x10000)
        if action not in ("add", "trade") and not live:
            action = "add"
        if action in ("add", "trade"):
            locate = 1 + bits.take(len(stocks))
            side = "BS"[bits.take(2)]
            shares = 1 + bits.take(10_000)
            price = (1 + bits.take(10_000)) * 100
            if action == "trade":
                out.append(
                    Trade(locate, tracking, t, 0, side, shares, stocks[locate], price, match)
                )
                match += 1
                continue
            if bits.take(2):
                mpid = "".join(chr(65 + bits.take(26)) for _ in range(1 + bits.take(4)))
                out.append(
                    AddOrderMPID(
                        locate, tracking, t, next_ref, side, shares, stocks[locate], price, mpid
                    )
                )
            else:
                out.append(
                    AddOrder(locate, tracking, t, next_ref, side, shares, stocks[locate], price)
                )
            live[next_ref] = (locate, side, shares, price)
            next_ref += 1 + bits.take(1000)
            continue
        refs = sorted(live)
        ref = refs[bits.take(len(refs))]
        locate, side, shares, price = live[ref]
        if action in ("exec", "cancel"):
            amount = 1 + bits.take(shares)
            if action == "exec":
                if bits.take(2):
                    printable = "YN"[bits.take(2)]
                    exec_price = (1 + bits.take(10_000)) * 100
                    out.append(
                        OrderExecutedWithPrice(
                            locate, tracking, t, ref, amount, match, printable, exec_price
                        )
                    )
                else:
                    out.append(OrderExecuted(locate, tracking, t, ref, amount, match))
                match += 1
                if amount == shares:
                    del live[ref]
                else:
                    live[ref] = (locate, side, shares - amount, price)
                continue
            if amount < shares:
                out.append(OrderCancel(locate, tracking, t, ref, amount))
                live[ref] = (locate, side, shares - amount, price)
                continue
            action = "delete"  # cancelling every share is a delete
        if action == "delete":
            out.append(OrderDelete(locate, tracking, t, ref))
            del live[ref]
            continue
        # replace: same side and stock, new reference, size and price
        new_shares = 1 + bits.take(10_000)
        new_price = (1 + bits.take(10_000)) * 100
        out.append(OrderReplace(locate, tracking, t, ref, next_ref, new_shares, new_price))
        del live[ref]
        live[next_ref] = (locate, side, new_shares, new_price)
        next_ref += 1 + bits.take(1000)
    for code in ("M", "E", "C"):
        out.append(SystemEvent(0, 0, tick(1), code))
    return out
