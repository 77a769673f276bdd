"""Example strategy: a liquidity taker built on the threshold rule.

The rule is the threshold strategy's (``docs/threshold.md``): a sell Add Order (A or F)
for a watched symbol at a price at or below its limit triggers an IOC buy at that price
for ``base_qty + step_qty x ((limit - price) // tick)`` shares, capped by
``max_order_qty`` and by what ``max_position`` leaves. Unlike the wire-level threshold
engine it runs through the strategy API, so its orders pass pre-trade risk and its fills
come from the simulated venue. It also takes profit: with a long position and a best bid
at least ``exit_ticks`` above the limit it sells the position with an IOC at the bid.

Config (``[strategy]``; prices in Price(4) units)::

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
from typing import Any

from tickwire.engine.strategy.api import BookUpdate, Context, Strategy, strategy_params
from tickwire.engine.strategy.orders import OrderState
from tickwire.itch import AddOrder, AddOrderMPID
from tickwire.ouch.v50 import TimeInForce

__all__ = ["ThresholdTaker"]

_DEFAULTS: dict[str, Any] = {
    "instruments": [],
    "max_symbols": 5,
    "limit_ticks": 1,
    "base_qty": 100,
    "step_qty": 100,
    "tick": 100,
    "max_order_qty": 1000,
    "max_position": 2000,
    "exit_ticks": 3,
}


_MINIMUMS = {
    "max_symbols": 1,
    "base_qty": 0,
    "step_qty": 0,
    "tick": 1,
    "max_order_qty": 1,
    "max_position": 0,
    "exit_ticks": 0,
}


class ThresholdTaker(Strategy):
    """Buys sell orders that arrive at or below a limit (see the module docs)."""

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__(strategy_params("ThresholdTaker", config, _DEFAULTS, _MINIMUMS))
        self.limits: dict[str, int] = {}
        for i, inst in enumerate(self.config["instruments"]):
            try:
                self.limits[str(inst["symbol"])] = int(inst["limit_price"])
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(
                    f"strategy.instruments[{i}]: needs symbol and limit_price ({exc})"
                ) from None
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
