"""Example strategy: a liquidity taker built on the threshold rule.

The rule is the threshold strategy's (``docs/threshold.md``): a sell Add Order (A or F)
for a watched symbol at a price at or below its limit triggers an IOC buy at that price
for ``base_qty + step_qty x ((limit - price) // tick)`` shares, capped by
``max_order_qty`` and by what ``max_position`` leaves. Unlike the wire-level threshold
engine it runs through the strategy API, so its orders pass pre-trade risk and its fills
come from the simulated venue. It also takes profit: with a long position and a best bid
at least ``exit_ticks`` above the limit it sells the position with an IOC at the bid.

Config (``[strategy]``, :class:`TakerParams`; prices in Price(4) units)::

    # explicit instruments ...
    [[strategy.instruments]]
    symbol = "AAPL"
    limit_price = 1500000
    # ... or automatic: the first max_symbols two-sided books, limit = first mid + limit_ticks
    max_symbols = 5
    limit_ticks = 1
    base_qty = 100
    step_qty = 100
    tick = 100
    max_order_qty = 1000
    max_position = 2000
    exit_ticks = 3
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tickwire.engine.strategy.api import BookUpdate, Context, Strategy, strategy_table
from tickwire.engine.strategy.orders import OrderState
from tickwire.itch import AddOrder, AddOrderMPID
from tickwire.ouch.v50 import TimeInForce
from tickwire.threshold.schema import Int, Tables, Text, check_fields, setting

__all__ = ["TakerInstrument", "TakerParams", "ThresholdTaker"]


@dataclass(frozen=True, slots=True)
class TakerInstrument:
    """One ``[[strategy.instruments]]`` table: a watched symbol and its limit."""

    symbol: str = setting(Text(8, 0x21), doc="the symbol")
    limit_price: int = setting(
        Int(1), doc="sell orders at or below this price trigger a buy, Price(4)"
    )

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass(frozen=True, slots=True)
class TakerParams:
    """The ``[strategy]`` keys of :class:`ThresholdTaker` (prices in Price(4) units)."""

    instruments: tuple[TakerInstrument, ...] = setting(
        Tables(TakerInstrument, "strategy.instruments", unique="symbol"),
        (),
        doc="watched symbols; none: choose automatically",
    )
    max_symbols: int = setting(Int(1), 5, doc="symbols chosen automatically")
    limit_ticks: int = setting(
        Int(), 1, doc="an automatic symbol's limit: its first mid + this many ticks"
    )
    base_qty: int = setting(Int(0), 100, doc="shares at the limit")
    step_qty: int = setting(Int(0), 100, doc="extra shares per tick below the limit")
    tick: int = setting(Int(1), 100, doc="price increment, Price(4)")
    max_order_qty: int = setting(Int(1), 1000, doc="shares per order at most")
    max_position: int = setting(Int(0), 2000, doc="long position at most, shares")
    exit_ticks: int = setting(Int(0), 3, doc="sell the position when the bid is this far above")

    def __post_init__(self) -> None:
        check_fields(self)


class ThresholdTaker(Strategy):
    """Buys sell orders that arrive at or below a limit (see the module docs)."""

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__(strategy_table(TakerParams, config))
        self.limits: dict[str, int] = {
            inst["symbol"]: inst["limit_price"] for inst in self.config["instruments"]
        }
        self.auto = not self.limits
        self.triggers = 0

    async def on_start(self, ctx: Context) -> None:
        await super().on_start(ctx)
        ctx.subscribe(None if self.auto else sorted(self.limits))

    def _open_buys(self, ctx: Context, sym: str) -> int:
        return sum(o.open_qty for o in ctx.orders.open_orders(sym) if o.side == "B")

    async def on_book(self, update: BookUpdate) -> None:
        ctx = self.ctx
        assert ctx is not None
        c = self.config
        sym = update.symbol
        limit = self.limits.get(sym)
        if limit is None:
            bbo = update.bbo
            if not self.auto or len(self.limits) >= c["max_symbols"]:
                return
            if bbo.bid_price is None or bbo.ask_price is None or bbo.ask_price <= bbo.bid_price:
                return
            mid = (bbo.bid_price + bbo.ask_price) // 2
            self.limits[sym] = mid // c["tick"] * c["tick"] + c["limit_ticks"] * c["tick"]
            if len(self.limits) >= c["max_symbols"]:
                ctx.subscribe(sorted(self.limits))
            return
        if not ctx.is_trading(sym):
            return
        msg = update.message
        if isinstance(msg, AddOrder | AddOrderMPID) and msg.buy_sell_indicator == "S":
            price = msg.price
            if 0 < price <= limit:
                self.triggers += 1
                room = c["max_position"] - ctx.position(sym) - self._open_buys(ctx, sym)
                qty = min(
                    c["base_qty"] + c["step_qty"] * ((limit - price) // c["tick"]),
                    c["max_order_qty"],
                    room,
                )
                if qty > 0:
                    ctx.orders.submit(sym, "B", qty, price, TimeInForce.IOC)
                return
        pos = ctx.position(sym)
        bid = update.bbo.bid_price
        if pos > 0 and bid is not None and bid >= limit + c["exit_ticks"] * c["tick"]:
            selling = sum(o.open_qty for o in ctx.orders.open_orders(sym) if o.side == "S")
            qty = min(pos - selling, c["max_order_qty"])
            if qty > 0:
                order = ctx.orders.submit(sym, "S", qty, bid, TimeInForce.IOC)
                if order.state is OrderState.REFUSED:
                    ctx.log(f"exit refused: {order.reason}")
