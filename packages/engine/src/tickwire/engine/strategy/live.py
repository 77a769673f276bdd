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
* the runner is the adapter that reads real clocks; the strategy's context and the order
  manager are sans-I/O and get them as arguments. Time is :func:`wall_clock_ns`, ns
  since local midnight (``clock`` to override), and timers are asyncio timers; pre-trade risk's rate windows (throttle, duplicates) run on
  ``time.monotonic_ns`` instead (``risk_clock`` to override), because time since
  midnight wraps: a throttle filled at 23:59:58 would otherwise refuse every order
  until 23:59:58 the next day.
* every execution the order manager applies is charged by the fee schedule (``fees``,
  the ``[fees]`` table of a config) in :attr:`LiveRunner.fees`, the backtest's
  :class:`~tickwire.engine.backtest.fees.FeeLedger`: the same fees for the same fills.
* what grows with the session is bounded: the strategy's ``ctx.log`` lines go to the
  ``tickwire.engine.strategy`` logger (INFO) as they come and only the last
  :data:`LOG_KEPT` stay (:class:`StrategyLog`); :attr:`LiveRunner.sent` keeps the last
  :data:`SENT_KEPT` OUCH messages sent (a day's would grow without bound).

Every event (market data, OUCH answers, timers) goes through one queue and one
dispatcher, so callbacks run one at a time, in arrival order, exactly as in a backtest;
unlike a backtest, a live callback may ``await`` real I/O.
"""

from __future__ import annotations

import asyncio
import logging
import reprlib
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

from tickwire.cli import log_first
from tickwire.engine.backtest.fees import FeeLedger, FeeSchedule
from tickwire.engine.book import BookManager, TapePrint
from tickwire.engine.risk import RiskEngine, RiskLimits
from tickwire.engine.strategy.api import (
    OrderUpdate,
    Strategy,
    TimerEvent,
    declared_consumes,
    strategy_exited,
)
from tickwire.engine.strategy.context import StrategyContext, StrategyEvent, callback_for
from tickwire.engine.strategy.orders import Order, OrderManager
from tickwire.itch import Message
from tickwire.ouch import v50
from tickwire.ouch.client import ns_since_midnight

__all__ = ["LOG_KEPT", "SENT_KEPT", "LiveRunner", "StrategyLog", "wall_clock_ns"]

#: The strategy's last log lines a live session keeps (all of them go to the logger).
LOG_KEPT = 200
#: The last OUCH messages sent a live session keeps (:attr:`LiveRunner.sent`).
SENT_KEPT = 1000

_strategy_log = logging.getLogger("tickwire.engine.strategy")
_orders_log = logging.getLogger("tickwire.engine.orders")


#: The project's one wall clock (ns since local midnight), under the name the engine has
#: always exported: the same function as :func:`tickwire.ouch.client.ns_since_midnight`.
wall_clock_ns = ns_since_midnight


class StrategyLog:
    """Where a live strategy's ``ctx.log`` lines go: each to the ``tickwire.engine.strategy``
    logger at INFO, the last ``keep`` in :attr:`recent`, the count in :attr:`lines`."""

    def __init__(self, keep: int = LOG_KEPT) -> None:
        self.recent: deque[str] = deque(maxlen=keep)
        self.lines = 0

    def append(self, line: str) -> None:
        self.lines += 1
        self.recent.append(line)
        _strategy_log.info("%s", line)


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
        fees: FeeSchedule | None = None,
        max_waiting: int = 65_536,
    ) -> None:
        if max_waiting < 1:
            raise ValueError(f"max_waiting must be >= 1, got {max_waiting}")
        self.strategy = strategy
        #: Feed messages waiting for the strategy, at most: at that many, :meth:`run`
        #: takes no more from the feed until half are dispatched (the feed's own queue
        #: then holds what comes, and a bounded one drops datagrams as gaps).
        self.max_waiting = max_waiting
        self._waiting = 0  # ("itch", ...) entries in the queue
        self._room = asyncio.Event()
        self.clock = clock
        self.risk_clock = risk_clock
        self._send_bytes = send
        prints: list[TapePrint] = []
        self.books = BookManager(on_print=prints.append)
        self.risk = RiskEngine(limits if limits is not None else RiskLimits())
        self._updates: list[OrderUpdate] = []
        #: What the fee schedule charged the session's executions.
        self.fees = FeeLedger(fees if fees is not None else FeeSchedule())
        self.manager = OrderManager(
            self._send,
            self.risk,
            clock,
            first_user_ref_num=first_user_ref_num,
            on_update=self._on_update,
            risk_clock=risk_clock,
        )
        self.queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.log = StrategyLog()
        self.ctx = StrategyContext(
            strategy.config,
            self.manager,
            self.books,
            prints,
            clock=clock,
            schedule=self._schedule,
            log=self.log,
            consumes=declared_consumes(strategy),
        )
        #: The last :data:`SENT_KEPT` OUCH messages sent, oldest first.
        self.sent: deque[v50.InboundMessage] = deque(maxlen=SENT_KEPT)

    @property
    def locates(self) -> dict[str, int]:
        """Symbol -> locate of every symbol known from the feed (the context's)."""
        return self.ctx.locates

    @property
    def subscribed(self) -> set[str] | None:
        """The symbols the strategy subscribed to (None: all)."""
        return self.ctx.subscribed

    def _on_update(self, update: OrderUpdate) -> None:
        """The order manager's updates: an execution is charged its fee, then every
        update of the strategy's own orders waits for it (an order inherited from a
        previous run, :meth:`OrderManager.inherit`, is not the strategy's: its
        executions are charged and booked, and the strategy hears nothing of it)."""
        if update.kind == "executed":
            self.fees.charge(update.order.symbol, update.liquidity_flag, update.quantity)
        elif update.kind == "refused" and update.reason == "invalid":
            self._log_invalid(update.order)
        if not update.order.inherited:
            self._updates.append(update)

    def _log_invalid(self, order: Order) -> None:
        """Log an order risk refused as ``invalid`` (a symbol or side that is not one, a
        price or quantity that is not an integer, a Time In Force not in OUCH 5.0's table
        or GTT: a bug of the strategy's), one
        ``tickwire.engine.orders`` WARNING naming what it was given (each value's short
        ``repr``: a None symbol shows as ``None``, a list as a list), the first
        :data:`~tickwire.cli.LOGGED_FIRST` of them; every one is counted
        (``risk.refusals``, ``orders.refusals`` in ``status``). Why: the strategy was told
        (``refused``, ``invalid``) but the session's log said nothing of what was wrong.
        Test: ``test_engine_strategy_live.py::
        test_live_an_order_of_a_symbol_not_a_str_is_refused_logged_and_the_session_goes_on``."""
        log_first(
            _orders_log,
            logging.WARNING,
            self.risk.refusals["invalid"],
            "order %s refused by risk (invalid): symbol %s, side %s, quantity %s, price %s, "
            "time in force %s",
            order.user_ref_num,
            *map(reprlib.repr, (order.symbol, order.side, order.quantity, order.price)),
            reprlib.repr(order.time_in_force),
        )

    def _schedule(self, at: int, name: str) -> None:
        """The context's timers: an asyncio timer that queues the event at ``at``."""
        delay = max(0, at - self.clock()) / 1e9
        loop = asyncio.get_running_loop()
        loop.call_later(delay, self.queue.put_nowait, ("timer", (name, at)))

    def _send(self, msg: v50.InboundMessage) -> None:
        self.sent.append(msg)
        self._send_bytes(v50.encode(msg))

    def on_ouch(self, data: bytes) -> None:
        """Queue one OUCH 5.0 outbound message (raw bytes) from the venue."""
        self.queue.put_nowait(("ouch", data))

    def on_itch(self, msg: Message) -> None:
        """Queue one decoded ITCH message from the feed."""
        self._waiting += 1
        self.queue.put_nowait(("itch", msg))

    async def _next(self) -> tuple[str, Any]:
        """The next queued event; a feed message taken makes room for the pump."""
        kind, payload = await self.queue.get()
        if kind == "itch":
            self._waiting -= 1
            if self._waiting <= self.max_waiting // 2:
                self._room.set()
        return kind, payload

    async def _drain_updates(self) -> None:
        while self._updates:
            pending, self._updates[:] = list(self._updates), []
            for upd in pending:
                await self.strategy.on_order_update(upd)

    async def _call(self, event: StrategyEvent) -> None:
        """Run one callback, then deliver the order updates it caused (as a backtest)."""
        await callback_for(self.strategy, event)
        await self._drain_updates()

    async def _dispatch(self, kind: str, payload: Any) -> None:
        if kind == "ouch":
            self._venue_message(v50.decode_outbound(payload))
            await self._drain_updates()
        elif kind == "timer":
            name, at = payload
            await self._call(TimerEvent(name, at))
        else:
            await self._market(payload)

    def _venue_message(self, msg: v50.OutboundMessage) -> None:
        """Apply one OUCH message from the venue: the order manager's (the live engine
        also settles the request it answered)."""
        self.manager.on_message(msg)

    async def _market(self, msg: Message) -> None:
        for event in self.ctx.market(msg):
            await self._call(event)

    async def run(self, feed: AsyncIterator[Message], *, settle: float = 0.2) -> None:
        """Start the strategy, run until ``feed`` ends, then stop it and wait ``settle``
        seconds for the venue's last answers (OUCH arrives through :meth:`on_ouch`).

        A ``SystemExit`` from the strategy (``sys.exit`` in a callback) is raised as a
        :class:`~tickwire.engine.strategy.api.StrategyError` naming it
        (:func:`~tickwire.engine.strategy.api.strategy_exited`), as in a backtest: asyncio
        lets a ``SystemExit`` out of the event loop, past the engine's shutdown (its
        kill switch, the cancels of the open orders), and ``engine live`` ended with the
        strategy's exit code. Test: ``packages/engine/tests/test_engine_strategy_live.py``
        (``test_sys_exit_in_a_live_callback_is_a_strategy_error``)."""
        try:
            await self._run(feed, settle)
        except SystemExit as exc:
            raise strategy_exited(self.strategy, exc) from exc

    async def _run(self, feed: AsyncIterator[Message], settle: float) -> None:
        async def pump() -> None:
            async for msg in feed:
                self.on_itch(msg)
                if self._waiting >= self.max_waiting:  # the strategy is behind: wait
                    self._room.clear()
                    await self._room.wait()
            self.queue.put_nowait(("end", None))

        await self.strategy.on_start(self.ctx)
        await self._drain_updates()
        task = asyncio.create_task(pump())
        try:
            while True:
                kind, payload = await self._next()
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
                    kind, payload = await asyncio.wait_for(self._next(), left)
                except TimeoutError:
                    break
                if kind != "end":
                    await self._dispatch(kind, payload)
        finally:
            task.cancel()
