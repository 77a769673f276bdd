"""Example strategy: a simple, inventory-aware market maker.

For each quoted symbol it keeps one Day bid and one Day ask of ``quote_size`` shares:
it joins the best bid and offer, or improves each by one tick when the spread is at
least ``improve_spread_ticks`` wide; it skews both quotes down (up) by one tick per
``skew_shares`` of long (short) inventory, and stops bidding (offering) at
``max_inventory``. A quote is moved with an OUCH Replace at most once per
``requote_ns``. With no ``symbols`` configured it picks the first ``max_symbols``
symbols whose book becomes two-sided. At the end it cancels everything.

Config (``[strategy]`` of the config file, :class:`MarketMakerParams`; prices in Price(4)
units)::

    symbols = []              # empty: choose automatically
    max_symbols = 5
    quote_size = 100
    max_inventory = 500
    skew_shares = 200
    tick = 100
    improve_spread_ticks = 3
    requote_ns = 1_000_000
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tickwire.engine.strategy.api import BookUpdate, Context, Strategy, strategy_table
from tickwire.engine.strategy.orders import Order, OrderState
from tickwire.threshold.schema import Int, ListOf, Text, check_fields, setting

__all__ = ["MarketMaker", "MarketMakerParams"]


@dataclass(frozen=True, slots=True)
class MarketMakerParams:
    """The ``[strategy]`` keys of :class:`MarketMaker` (prices in Price(4) units)."""

    #: Each one a symbol the ITCH stock field carries (as ``risk.restricted`` and the
    #: taker's ``instruments[].symbol``): ``""``, ``"AA PL"`` or a longer one quoted
    #: nothing, exit 0 (test: ``test_engine_cli_bad_input.py``).
    symbols: list[str] = setting(
        ListOf(Text(8, 0x21), list),
        factory=list,
        doc="symbols to quote; empty: choose automatically",
    )
    max_symbols: int = setting(Int(1), 5, doc="symbols chosen automatically (first two-sided)")
    quote_size: int = setting(Int(1), 100, doc="shares per quote")
    max_inventory: int = setting(Int(0), 500, doc="stop bidding (offering) at this long (short)")
    skew_shares: int = setting(Int(1), 200, doc="quotes move one tick per this many shares held")
    tick: int = setting(Int(1), 100, doc="price increment, Price(4)")
    improve_spread_ticks: int = setting(
        Int(0), 3, doc="improve each side by a tick when the spread is this wide"
    )
    requote_ns: int = setting(Int(0), 1_000_000, doc="at most one replace per quote per this")

    def __post_init__(self) -> None:
        check_fields(self)


class MarketMaker(Strategy):
    """Quotes both sides of a few symbols (see the module docs)."""

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__(strategy_table(MarketMakerParams, config))
        c = self.config
        self.symbols: list[str] = list(c["symbols"])
        self.auto = not self.symbols
        self.quotes: dict[tuple[str, str], Order] = {}
        self.last_change: dict[tuple[str, str], int] = {}
        self.refusals = 0

    async def on_start(self, ctx: Context) -> None:
        await super().on_start(ctx)
        ctx.subscribe(None if self.auto else self.symbols)

    async def on_book(self, update: BookUpdate) -> None:
        ctx = self.ctx
        assert ctx is not None
        sym = update.symbol
        bbo = update.bbo
        if bbo.bid_price is None or bbo.ask_price is None:
            return
        if sym not in self.symbols:
            if not self.auto or len(self.symbols) >= self.config["max_symbols"]:
                return
            self.symbols.append(sym)
            if len(self.symbols) >= self.config["max_symbols"]:
                ctx.subscribe(list(self.symbols))
        if not ctx.is_trading(sym):
            return  # outside market hours or halted: the venue would reject quotes
        tick = self.config["tick"]
        bid, ask = bbo.bid_price, bbo.ask_price
        if ask <= bid:
            return  # locked or crossed feed book: no sensible quote
        if ask - bid >= self.config["improve_spread_ticks"] * tick:
            bid += tick
            ask -= tick
        pos = ctx.position(sym)
        skew = int(pos / self.config["skew_shares"]) * tick
        bid -= skew
        ask -= skew
        if bid >= ask or bid <= 0:
            return
        self._quote(ctx, sym, "B", bid, pos < self.config["max_inventory"])
        self._quote(ctx, sym, "S", ask, pos > -self.config["max_inventory"])

    def _quote(self, ctx: Context, sym: str, side: str, price: int, wanted: bool) -> None:
        key = (sym, side)
        cur = self.quotes.get(key)
        now = ctx.now()
        if cur is not None and cur.is_open:
            if not wanted:
                ctx.orders.cancel(cur)
                return
            if cur.state is not OrderState.LIVE or cur.replaced_by is not None:
                return  # an answer is still in flight
            if (
                cur.price == price
                or now - self.last_change.get(key, -(10**18)) < self.config["requote_ns"]
            ):
                return
            new = ctx.orders.replace(cur, price=price, quantity=self.config["quote_size"])
            if new is not None and new.state is not OrderState.REFUSED:
                self.quotes[key] = new
                self.last_change[key] = now
            elif new is not None:
                self.refusals += 1
            return
        if not wanted:
            return
        if now - self.last_change.get(key, -(10**18)) < self.config["requote_ns"]:
            return
        order = ctx.orders.submit(sym, side, self.config["quote_size"], price)
        self.last_change[key] = now
        if order.state is OrderState.REFUSED:
            self.refusals += 1
            return
        self.quotes[key] = order

    async def on_stop(self) -> None:
        if self.ctx is not None:
            self.ctx.orders.cancel_all()
