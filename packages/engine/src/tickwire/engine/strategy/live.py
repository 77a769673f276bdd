"""Run a strategy live: ITCH messages in, OUCH 5.0 over SoupBinTCP out.

:class:`LiveRunner` gives a :class:`~tickwire.engine.strategy.api.Strategy` the same
:class:`~tickwire.engine.strategy.api.Context` it gets in a backtest, backed by real
transports instead of simulated ones:

* the feed is any async iterator of decoded ITCH messages (for example the messages of a
  MoldUDP64 receiver from ``tickwire.moldudp64``), applied to the engine's
  :class:`~tickwire.engine.book.BookManager` as they arrive;
* orders leave through pre-trade risk and the OUCH 5.0 order manager, encoded with
  ``tickwire.ouch.v50.encode`` and handed to ``send`` (for example
  :meth:`tickwire.soupbintcp.SoupClient.send`); the venue's answers are fed back with
  :meth:`LiveRunner.on_ouch` (raw OUCH 5.0 outbound bytes);
* time is the wall clock as ns since local midnight (``clock`` to override), and timers
  are asyncio timers; pre-trade risk's rate windows (throttle, duplicates) run on
  ``time.monotonic_ns`` instead (``risk_clock`` to override), because time since
  midnight wraps: a throttle filled at 23:59:58 would otherwise refuse every order
  until 23:59:58 the next day.

Every event (market data, OUCH answers, timers) goes through one queue and one
dispatcher, so callbacks run one at a time, in arrival order, exactly as in a backtest;
unlike a backtest, a live callback may ``await`` real I/O.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from tickwire.engine.book import BookManager, OrderBook, TapePrint
from tickwire.engine.risk import RiskEngine, RiskLimits
from tickwire.engine.strategy.api import (
    BookUpdate,
    InstrumentState,
    OrderUpdate,
    Strategy,
    TimerEvent,
    TradeEvent,
)
from tickwire.engine.strategy.orders import OrderManager
from tickwire.itch import Message, StockDirectory, StockTradingAction
from tickwire.ouch import v50

__all__ = ["LiveRunner", "wall_clock_ns"]

_BOOK_TYPES = frozenset("AFECXDU")


def wall_clock_ns() -> int:
    """Nanoseconds since local midnight, the ITCH and OUCH timestamp convention."""
    now = time.time_ns()
    lt = time.localtime(now // 1_000_000_000)
    seconds = lt.tm_hour * 3600 + lt.tm_min * 60 + lt.tm_sec
    return seconds * 1_000_000_000 + now % 1_000_000_000


class _LiveContext:
    def __init__(self, runner: LiveRunner, config: Mapping[str, Any]) -> None:
        self._r = runner
        self.config = config
        self.orders: OrderManager = runner.manager

    def now(self) -> int:
        return self._r.clock()

    def book(self, symbol: str) -> OrderBook | None:
        locate = self._r.locates.get(symbol)
        return None if locate is None else self._r.books.books.get(locate)

    def symbols(self) -> list[str]:
        return sorted(self._r.locates)

    def is_trading(self, symbol: str) -> bool:
        locate = self._r.locates.get(symbol)
        return locate is not None and self._r.books.in_continuous_trading(locate)

    def subscribe(self, symbols: list[str] | None) -> None:
        self._r.subscribed = None if symbols is None else set(symbols)

    def set_timer(self, at_ns: int, name: str) -> None:
        delay = max(0, at_ns - self._r.clock()) / 1e9
        loop = asyncio.get_running_loop()
        loop.call_later(delay, self._r.queue.put_nowait, ("timer", (name, at_ns)))

    def position(self, symbol: str) -> int:
        return self._r.risk.ledger.positions.get(symbol, 0)

    def log(self, text: str) -> None:
        self._r.log.append(f"{self._r.clock()} {text}")


class LiveRunner:
    """Drives one strategy from live transports (see the module docs)."""

    def __init__(
        self,
        strategy: Strategy,
        send: Callable[[bytes], None],
        *,
        limits: RiskLimits | None = None,
        first_user_ref_num: int = 1,
        clock: Callable[[], int] = wall_clock_ns,
        risk_clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self.strategy = strategy
        self.clock = clock
        self.risk_clock = risk_clock
        self._send_bytes = send
        self._prints: list[TapePrint] = []
        self.books = BookManager(on_print=self._prints.append)
        self.locates: dict[str, int] = {}
        self.subscribed: set[str] | None = None
        self.risk = RiskEngine(limits if limits is not None else RiskLimits())
        self._updates: list[OrderUpdate] = []
        self.manager = OrderManager(
            self._send,
            self.risk,
            clock,
            first_user_ref_num=first_user_ref_num,
            on_update=self._updates.append,
            risk_clock=risk_clock,
        )
        self.queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.ctx = _LiveContext(self, strategy.config)
        self.log: list[str] = []
        self.sent: list[v50.InboundMessage] = []

    def _send(self, msg: v50.InboundMessage) -> None:
        self.sent.append(msg)
        self._send_bytes(v50.encode(msg))

    def on_ouch(self, data: bytes) -> None:
        """Queue one OUCH 5.0 outbound message (raw bytes) from the venue."""
        self.queue.put_nowait(("ouch", data))

    def on_itch(self, msg: Message) -> None:
        """Queue one decoded ITCH message from the feed."""
        self.queue.put_nowait(("itch", msg))

    async def _drain_updates(self) -> None:
        while self._updates:
            pending, self._updates[:] = list(self._updates), []
            for upd in pending:
                await self.strategy.on_order_update(upd)

    async def _dispatch(self, kind: str, payload: Any) -> None:
        if kind == "ouch":
            self.manager.on_message(v50.decode_outbound(payload))
        elif kind == "timer":
            name, at = payload
            await self.strategy.on_timer(TimerEvent(name, at))
        else:
            await self._market(payload)
        await self._drain_updates()

    async def _market(self, msg: Message) -> None:
        self.books.apply(msg)
        if isinstance(msg, StockDirectory):
            self.locates[msg.stock] = msg.stock_locate
            return
        book = self.books.books.get(msg.stock_locate)
        prints = self._prints
        if book is None or (self.subscribed is not None and book.symbol not in self.subscribed):
            prints.clear()
            return
        symbol = book.symbol
        self.locates.setdefault(symbol, msg.stock_locate)
        if msg.message_type in _BOOK_TYPES:
            bbo = book.bbo()
            if bbo.bid_price is not None and bbo.ask_price is not None:
                self.risk.set_reference(symbol, (bbo.bid_price + bbo.ask_price) // 2)
            await self.strategy.on_book(
                BookUpdate(symbol, book.locate, msg.timestamp, bbo, book, msg)
            )
            await self._drain_updates()
        elif isinstance(msg, StockTradingAction):
            state = InstrumentState(symbol, book.locate, msg.timestamp, str(msg.trading_state))
            await self.strategy.on_instrument_state(state)
        for p in prints:
            trade = TradeEvent(
                symbol, book.locate, p.timestamp, p.kind, p.price, p.shares, p.side, p.match_number
            )
            await self.strategy.on_trade(trade)
        prints.clear()

    async def run(self, feed: AsyncIterator[Message], *, settle: float = 0.2) -> None:
        """Start the strategy, run until ``feed`` ends, then stop it and wait ``settle``
        seconds for the venue's last answers (OUCH arrives through :meth:`on_ouch`)."""

        async def pump() -> None:
            async for msg in feed:
                self.on_itch(msg)
            self.queue.put_nowait(("end", None))

        await self.strategy.on_start(self.ctx)
        await self._drain_updates()
        task = asyncio.create_task(pump())
        try:
            while True:
                kind, payload = await self.queue.get()
                if kind == "end":
                    break
                await self._dispatch(kind, payload)
            await self.strategy.on_stop()
            await self._drain_updates()
            deadline = asyncio.get_running_loop().time() + settle
            while True:
                left = deadline - asyncio.get_running_loop().time()
                if left <= 0:
                    break
                try:
                    kind, payload = await asyncio.wait_for(self.queue.get(), left)
                except TimeoutError:
                    break
                if kind != "end":
                    await self._dispatch(kind, payload)
        finally:
            task.cancel()
