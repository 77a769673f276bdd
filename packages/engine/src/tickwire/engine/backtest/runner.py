"""The backtest loop: ITCH messages -> venue book and simulated venue -> (feed latency) ->
the strategy's book and callbacks -> order manager and risk -> (order latency) -> venue.

Three clocks meet in one deterministic event queue, all in ns since midnight:

* exchange time: each ITCH message's timestamp. The venue's book and the simulated venue
  process a message at its exchange time.
* strategy time: the strategy sees a message at exchange time + a feed latency draw
  (deliveries keep feed order: a draw never lets a message overtake the one before).
* order entry: an order sent at strategy time ``t`` reaches the venue at ``t`` + an order
  latency draw; the venue's answers reach the strategy after an ack latency draw (both
  in order, like one TCP session).

At equal times, scheduled events (a GTT order's deadline at the venue, then order
arrivals at the venue, answers, timers) come before the market message of that time,
and feed deliveries of earlier messages come before it only when strictly earlier. Nothing reads the wall clock except the
optional runtime measurements, which are reported separately (``runtime``) because they
are the only part of a report that differs between two runs.
"""

from __future__ import annotations

import heapq
import os
import time
from collections import deque
from collections.abc import Callable, Coroutine, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any, Literal, NoReturn

from tickwire.engine.backtest.fees import FeeLedger, FeeSchedule
from tickwire.engine.backtest.latency import LatencyModel, LatencySpecError, parse_latency
from tickwire.engine.backtest.spill import Spill
from tickwire.engine.backtest.venue import Fill, SimulatedVenue, compiled_venue
from tickwire.engine.book import BookManager, TapePrint, fault_counts
from tickwire.engine.cbook import BOOK_BACKENDS, make_book_manager
from tickwire.engine.risk import Ledger, RiskEngine, RiskLimits
from tickwire.engine.strategy.api import (
    MAX_TIME_NS,
    OrderUpdate,
    Strategy,
    StrategyError,
    TimerEvent,
    declared_consumes,
    is_base_callback,
    strategy_exited,
)
from tickwire.engine.strategy.context import StrategyContext, callbacks
from tickwire.engine.strategy.orders import Order, OrderManager, OrderState
from tickwire.itch import Message
from tickwire.itch.fastpath import FrameStats, decode_binaryfile
from tickwire.ouch import v50
from tickwire.threshold.schema import Choice, Int, Str, check_fields, from_table, setting

__all__ = ["BACKENDS", "BacktestConfig", "BacktestResult", "PnlPoint", "Source", "run_backtest"]

_SUSPENDED = (
    "a strategy callback suspended during a backtest: callbacks run in simulated time "
    "and cannot wait for real I/O or asyncio timers; use ctx.set_timer instead"
)

# Heap event kinds (the rank orders simultaneous events).
_EXPIRE = -1  # a GTT order's deadline at the venue: before anything else of its time
_ARRIVE = 0  # an OUCH message reaches the venue
_RESPOND = 1  # a venue answer reaches the strategy
_TIMER = 2  # a strategy timer


def _latency_spec(spec: str) -> None:
    """Refuse a bad latency spec with what is wrong in it (``parse_latency``'s text
    without its ``bad latency spec '...':`` lead, which the schema's message says)."""
    try:
        parse_latency(spec)
    except LatencySpecError as exc:
        raise ValueError(str(exc).removeprefix(f"bad latency spec {spec!r}: ")) from None


_LATENCY = Str(
    _latency_spec,
    "a latency spec",
    "`constant:NS` (or `NS`), `uniform:LO,HI`, `normal:MEAN,SD`, `lognormal:MEDIAN,SIGMA`",
)


@dataclass(frozen=True, slots=True)
class BacktestConfig:
    """Simulation settings (``[backtest]`` of the config file), validated on
    construction; the keys are declared with :mod:`tickwire.threshold.schema`."""

    feed_latency: str = setting(
        _LATENCY, "constant:20000", doc="exchange to strategy, ns (a latency spec)"
    )
    order_latency: str = setting(_LATENCY, "constant:30000", doc="strategy to venue, ns")
    ack_latency: str = setting(_LATENCY, "constant:30000", doc="venue answer to strategy, ns")
    seed: int = setting(Int(), 1, doc="seed of the latency draws")
    first_user_ref_num: int = setting(
        Int(1, 2**32 - 1), 1, doc="the first order's UserRefNum (OUCH 5.0: 4 bytes, from 1)"
    )
    pnl_sample_every: int = setting(
        Int(1), 1_000, doc="messages between PnL samples (plus one per fill)"
    )
    # Which L3 book implementation gives the strategy its view of the market (the venue's
    # queue model runs on the reference book), or "compiled": the whole backtest in the
    # compiled replay core (tickwire.engine.backtest.core), both books in C.
    book_backend: str = setting(
        Choice((*BOOK_BACKENDS, "compiled")),
        "reference",
        doc="the L3 book of the strategy's market view, or compiled: the replay core",
    )

    def __post_init__(self) -> None:
        check_fields(self)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> BacktestConfig:
        """Build from the ``[backtest]`` TOML table; a :class:`ConfigError` names the key."""
        return from_table(cls, data, "backtest")


@dataclass(frozen=True, slots=True)
class PnlPoint:
    """Totals over all symbols at one exchange time.

    ``pnl`` is net of fees: ``realised + unrealised - fees`` (``fees`` is what the fee
    schedule charged so far, negative when rebates exceed fees; 0 without a schedule).
    """

    timestamp: int
    position: int  # sum of absolute positions (gross shares held)
    realised: int
    unrealised: int
    pnl: int
    fills: int
    fees: int = 0


#: The columns of the orders table (``BacktestResult.orders``: a dict per order), as
#: :data:`tickwire.engine.backtest.frames.SCHEMA` has them for the CSV and Parquet.
ORDER_COLUMNS = (
    "user_ref_num",
    "sent_ns",
    "symbol",
    "side",
    "price",
    "quantity",
    "time_in_force",
    "display",
    "state",
    "filled",
    "replaces",
    "reason",
)


def _order_dict(*values: Any) -> dict[str, Any]:
    row = dict(zip(ORDER_COLUMNS, values, strict=True))
    if row["replaces"] is None:
        row["replaces"] = ""
    return row


#: An order state's name (``OrderState.LIVE.value``): a dict lookup, where ``.value`` is
#: a Python-level enum property, on every row of the orders table.
_STATE_NAMES = {state: state.value for state in OrderState}

#: The base class's no-op ``on_order_update`` (:func:`is_base_callback`'s test, inlined on
#: the path of every order update).
_BASE_ORDER_UPDATE = Strategy.on_order_update


def _column_int(value: object) -> int | None:
    """``value`` if the orders table's int64 column holds it as itself, else None."""
    if isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63:
        return value
    return None


def _column_str(value: object) -> str | None:
    """``value`` if the orders table's string column holds it as a string, else None (a
    ``str`` subclass as the plain ``str`` of its characters, not its own ``__str__``)."""
    if type(value) is str:
        return value
    if isinstance(value, str):
        return str.__str__(value)
    return None


def _order_row(o: Order) -> tuple[Any, ...]:
    """The orders table's row of ``o``.

    A price or quantity of a refused order that is not an int64 (a float, a bool, an int
    past 2**63: risk refuses it, reason ``invalid``) is null in the row. Reason: the
    table's columns are int64; packed as it was, it failed the run (both backends) with a
    bare ``required argument is not an integer`` or ``argument out of range``, where live
    refuses the order and goes on. Test: ``test_engine_backtest_core.py::
    test_engine_backtest_core_an_order_of_a_float_price_or_quantity_is_refused_as_there``.

    Likewise a refused order's symbol or side that is not a ``str`` (None, an int, bytes,
    a list: ``invalid``) is null, not its ``repr`` (which a real symbol could spell:
    ``"None"`` is one); a ``str`` that is no wire symbol or side (``"A B"``, ``"X"``) is
    kept as it was given. Reason: the columns are strings, interned by the spill; None
    failed the run with the spill's ``None in a column that is not nullable``, an
    unhashable value with a bare ``unhashable type``, and any other value reached
    ``result.orders`` as itself (an int symbol, which the Parquet string column refuses).
    Test: ``test_engine_backtest_core.py::
    test_engine_backtest_core_an_order_of_a_symbol_or_side_not_a_str_is_refused_as_there``.

    So is a refused order's Time In Force that is not a ``str`` (the ``int`` 5: risk
    refuses it, ``invalid``); a ``str`` outside OUCH 5.0's table (``"Q"``, ``""``) is kept
    as given. Test: ``test_engine_backtest_core.py::
    test_engine_backtest_core_an_order_of_a_bad_time_in_force_is_refused_as_there``.

    ``display`` is the order's OUCH 5.0 Display (:attr:`Order.display`: ``Y``, ``N``
    hidden, ``A``; always one of them, a refused order's too: another raises before an
    order exists). Test: ``test_engine_backtest_core.py::
    test_engine_backtest_core_the_orders_table_has_each_orders_display``."""
    price: int | None = o.price
    quantity: int | None = o.quantity
    symbol: str | None = o.symbol
    side: str | None = o.side
    tif: str | None = o.time_in_force
    if o.refused:  # a sent order's were risk's checked ints and strs
        price, quantity = _column_int(price), _column_int(quantity)
        symbol, side, tif = _column_str(symbol), _column_str(side), _column_str(tif)
    return (
        o.user_ref_num,
        o.sent_ns,
        symbol,
        side,
        price,
        quantity,
        tif,
        o.display,
        _STATE_NAMES[o.state],
        o.filled_qty,
        o.replaces,
        o.reason,
    )


class MarkSeries(Mapping[str, list[tuple[int, int]]]):
    """``BacktestResult.mark_series`` of a run: per symbol, its ``(exchange time, mark)``
    changes, read from the spilled marks table (one scan per symbol asked)."""

    def __init__(self, rows: Sequence[tuple[str, int, int]], symbols: Mapping[str, int]) -> None:
        self._rows = rows
        self._symbols = symbols

    def __getitem__(self, symbol: str) -> list[tuple[int, int]]:
        if symbol not in self._symbols:
            raise KeyError(symbol)
        return [(t, m) for s, t, m in self._rows if s == symbol]

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._symbols))

    def __len__(self) -> int:
        return len(self._symbols)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        return dict(self.items()) == dict(other.items())

    __hash__ = None  # type: ignore[assignment]


@dataclass(slots=True)
class BacktestResult:
    """Everything a report is made of.

    A run's per-order, per-fill and per-sample records (``orders``, ``fills``,
    ``pnl_series``, ``mark_series`` and the latency samples) are kept on disk as it goes
    (:mod:`tickwire.engine.backtest.spill`) and read back as sequences; :meth:`close` (or
    the end of a ``with`` block, or garbage collection) removes the files. A result made
    by hand holds plain lists.
    """

    messages: int = 0
    #: Messages of a type ITCH 5.0 does not define, skipped before the books by the
    #: reader of the data (the spec's rule for new types; not in ``messages``).
    unknown_types: int = 0
    strategy_events: int = 0
    fills: Sequence[Fill] = field(default_factory=list)
    orders: Sequence[dict[str, Any]] = field(default_factory=list)
    pnl_series: Sequence[PnlPoint] = field(default_factory=list)
    positions: dict[str, int] = field(default_factory=dict)
    cash: dict[str, int] = field(default_factory=dict)
    marks: dict[str, int] = field(default_factory=dict)
    realised: dict[str, int] = field(default_factory=dict)
    refusals: dict[str, int] = field(default_factory=dict)
    unknown_answers: int = 0  # venue answers naming a UserRefNum never sent
    unknown_executions: int = 0  # executions among them: each trips the kill switch
    fees: dict[str, int] = field(default_factory=dict)  # per symbol, Price(4) x shares
    fee_schedule: FeeSchedule = field(default_factory=FeeSchedule)
    unknown_flag_fills: int = 0  # fills whose liquidity flag the schedule does not price
    #: What the venue's book made of the data: its faults (``book.fault_counts``).
    book_faults: dict[str, int] = field(default_factory=dict)
    #: Per traded symbol, ``(exchange time, mark)`` whenever its mark changed at a fill or
    #: a PnL sample: the price line under the fills in the HTML report.
    mark_series: Mapping[str, Sequence[tuple[int, int]]] = field(default_factory=dict)
    rejects: dict[str, int] = field(default_factory=dict)
    updates: dict[str, int] = field(default_factory=dict)
    tick_to_venue_ns: Sequence[int] = field(default_factory=list)
    order_to_ack_ns: Sequence[int] = field(default_factory=list)
    callback_ns: Sequence[int] = field(default_factory=list)
    wall_seconds: float = 0.0
    book_backend: str = "reference"
    #: The strategy's ``ctx.log`` lines, each ``"<time> <text>"`` (on disk, as the records).
    log: Sequence[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    #: Where the records above are kept on disk (None: in memory).
    spill: Spill | None = None

    def close(self) -> None:
        """Remove the records kept on disk (idempotent); reading them after it raises
        :class:`~tickwire.engine.backtest.spill.SpillClosed`."""
        if self.spill is not None:
            self.spill.close()

    def __enter__(self) -> BacktestResult:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def to_frames(self, library: Literal["pandas", "polars", "arrow"] = "pandas") -> dict[str, Any]:
        """``orders``, ``fills``, ``pnl`` and ``positions`` as pandas DataFrames (or
        ``"polars"`` DataFrames, ``"arrow"`` tables): the CSVs' tables, integers kept
        (:mod:`tickwire.engine.backtest.frames`; needs pyarrow, the ``parquet`` extra)."""
        from tickwire.engine.backtest.frames import to_frames

        return to_frames(self, library)


class _Runner:
    def __init__(
        self,
        strategy: Strategy,
        limits: RiskLimits,
        cfg: BacktestConfig,
        measure: bool,
        fees: FeeSchedule,
        compiled: bool = False,
    ) -> None:
        self.strategy = strategy
        self.cfg = cfg
        self.measure = measure
        # The records that grow with the day go to disk as the run goes (spill.py).
        self.spill = spill = Spill()
        self._fills = spill.table("fills", "iussiisusi", Fill)
        self._orders = spill.table("orders", "uis?s?i?i?s?ssiu?s", _order_dict)
        self._pnl = spill.table("pnl", "iiiiiii", PnlPoint)
        self._marks = spill.table("marks", "sii", lambda s, t, m: (s, t, m))
        self._last_mark: dict[str, int] = {}
        self._tick_to_venue = spill.ints("tick_to_venue")
        self._order_to_ack = spill.ints("order_to_ack")
        self._callback = spill.ints("callback")
        self._log = spill.lines("log")
        self.result = BacktestResult(
            fee_schedule=fees,
            fills=self._fills,
            orders=self._orders,
            pnl_series=self._pnl,
            mark_series=MarkSeries(self._marks, self._last_mark),
            tick_to_venue_ns=self._tick_to_venue,
            order_to_ack_ns=self._order_to_ack,
            callback_ns=self._callback,
            log=self._log,
            spill=spill,
        )
        self.fees = FeeLedger(fees)
        self.now = 0
        self.exchange_now = 0
        self._heap: list[tuple[int, int, int, Any]] = []
        self._seq = 0
        self._feed: deque[tuple[int, int, Message]] = deque()
        self._last_feed = 0
        self._last_arrival = 0
        self._last_response = 0
        self.feed_lat: LatencyModel = parse_latency(cfg.feed_latency, cfg.seed)
        self.order_lat: LatencyModel = parse_latency(cfg.order_latency, cfg.seed + 1)
        self.ack_lat: LatencyModel = parse_latency(cfg.ack_latency, cfg.seed + 2)
        # The compiled core (``compiled``) keeps both books in C; the reference keeps the
        # venue's on the reference book and the strategy's on ``cfg.book_backend``.
        self.vbooks: Any = make_book_manager("cython") if compiled else BookManager()
        # The compiled core runs the compiled venue (venue.compiled_venue: the same rules
        # in Cython, on the compiled book); the reference runs SimulatedVenue, its oracle.
        self.venue: Any = (
            compiled_venue(self.vbooks, self._respond, self._wake)
            if compiled
            else SimulatedVenue(self.vbooks, self._respond, self._wake)
        )
        self.prints: list[TapePrint] = []
        prints = self.prints
        self.sbooks = make_book_manager(
            "cython" if compiled else cfg.book_backend, on_print=prints.append
        )
        self.risk = RiskEngine(limits)
        self._updates: list[OrderUpdate] = []
        self.manager = OrderManager(
            self._send,
            self.risk,
            lambda: self.now,
            first_user_ref_num=cfg.first_user_ref_num,
            on_update=self._on_update,
            on_refs_exhausted="raise",  # a configuration error: exit 2 names the key
        )
        self.ctx = StrategyContext(
            strategy.config,
            self.manager,
            self.sbooks,
            prints,
            clock=lambda: self.now,
            schedule=lambda at, name: self.push(at, _TIMER, name),
            log=self._log,
            consumes=declared_consumes(strategy),
        )
        # The callbacks (and _count_updates) are taken by start(), after on_start: a
        # strategy may bind its own there.
        self._callbacks = callbacks(strategy)
        self._count_updates = False
        self._trigger_ts = 0  # exchange time of the event being handled (tick-to-venue)
        # Send times of the UserRefNums sent and not answered yet (order-to-ack), and
        # the last one sent: a message naming a lower one is about an order sent before.
        self._sent_at: dict[int, int] = {}
        self._last_sent_ref = 0
        # UserRefNum -> OUCH messages in flight (either way) that name it, or name an
        # order that replaces it: while any is, an answer may still change its order.
        self._pins: dict[int, int] = {}
        self._finished: list[int] = []  # orders an update was about: maybe done for good
        # A ledger at exchange time for the PnL series (the strategy's own ledger learns
        # of fills one ack latency later; both end equal).
        self.xledger = Ledger()
        #: The compiled core's counts of where deliveries ran (empty on the reference).
        self.core_counts: dict[str, int] = {}
        self._fills_seen = 0  # of venue.fills, drained into the fills table as recorded
        self._fill_count = 0

    # -- plumbing -------------------------------------------------------------------------
    def push(self, t: int, kind: int, payload: Any) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (t, kind, self._seq, payload))

    # An order or an answer whose latency would take it after MAX_TIME_NS (one sent from
    # a timer near the end of time) happens at MAX_TIME_NS: times stay int64, as in the
    # compiled core and the result's tables (test_engine_backtest_core.py::
    # test_engine_backtest_core_times_stop_at_the_largest_int64).
    def _send(self, msg: v50.InboundMessage) -> None:
        arrive = self.now + self.order_lat.sample()
        if arrive > MAX_TIME_NS:
            arrive = MAX_TIME_NS
        if arrive < self._last_arrival:
            arrive = self._last_arrival
        self._last_arrival = arrive
        self._tick_to_venue.append(arrive - self._trigger_ts)
        ref = getattr(msg, "user_ref_num", 0)
        if ref > self._last_sent_ref:  # an Enter or a Replace: a new UserRefNum
            self._last_sent_ref = ref
            self._sent_at[ref] = self.now
        self._pin(msg, 1)
        self.push(arrive, _ARRIVE, msg)

    def _wake(self, deadline: int) -> None:
        """The venue's ``wake``: at a GTT order's deadline the venue expires what is due
        (``SimulatedVenue.expire``), before any other event of that time (``_EXPIRE``
        ranks first) and before the market message of that time, as the simulated
        exchange's timer does, even when nothing else happens then. The compiled core
        schedules the same event (``ReplayCore.wake``). Test:
        ``test_engine_backtest_core.py::test_engine_backtest_core_gtt_orders_expire_as_there``."""
        self.push(deadline, _EXPIRE, None)

    def _respond(self, msg: v50.OutboundMessage) -> None:
        deliver = self.exchange_now + self.ack_lat.sample()
        if deliver > MAX_TIME_NS:
            deliver = MAX_TIME_NS
        if deliver < self._last_response:
            deliver = self._last_response
        self._last_response = deliver
        self._pin(msg, 1)
        self.push(deliver, _RESPOND, msg)

    # -- the orders table --------------------------------------------------------------
    # An order's row is written to the orders table, and the order manager forgets it,
    # once nothing can change it any more: it is closed (done, rejected or refused), it
    # does not rest at the venue, and no OUCH message in flight names it or an order
    # replacing it (the venue speaks only of resting orders and in answer to a message;
    # the manager looks an answer's order up, and a replacement's original). The rest
    # are written at the end. Test: test_engine_backtest_spill.py.
    def _pin(self, msg: Any, delta: int) -> None:
        pins = self._pins
        ref = getattr(msg, "user_ref_num", 0)
        # A Replace and an Order Replaced name the original; a Rejected replacement
        # makes the tracker look its original up. (By type: a getattr default would
        # raise and catch an AttributeError for most messages.)
        kind = type(msg)
        if kind is v50.ReplaceOrder or kind is v50.OrderReplaced:
            orig = msg.orig_user_ref_num
        elif kind is v50.Rejected:
            o = self.manager.orders.get(ref)
            orig = o.replaces if o is not None and o.replaces is not None else 0
        else:
            orig = 0
        for r in (ref, orig) if orig else (ref,):
            if r:
                n = pins.get(r, 0) + delta
                if n:
                    pins[r] = n
                else:
                    del pins[r]
                    self._finished.append(r)

    def _on_update(self, update: OrderUpdate) -> None:
        self._updates.append(update)
        if not update.order.is_open:
            self._finished.append(update.order.user_ref_num)

    def _forget_finished(self) -> None:
        finished, self._finished = self._finished, []
        live = self.venue._live
        pins = self._pins
        forget = self.manager.forget
        first = self.cfg.first_user_ref_num
        for ref in finished:
            if ref not in pins and ref not in live:
                o = forget(ref)  # None: open, or already forgotten
                if o is not None:
                    self._orders.put(ref - first, _order_row(o))

    def _drive(self, coro: Coroutine[Any, Any, None]) -> None:
        if self.measure:
            t0 = time.perf_counter_ns()
        # Iterating the coroutine's awaitable runs it to its end like ``send(None)``,
        # without the StopIteration a send raises there (about 0.3 us a call). The
        # compiled core drives on_book the same way in C (ReplayCore._drive).
        suspended = False
        try:
            for _ in coro.__await__():
                suspended = True
                break
        except RuntimeError as exc:
            self._callback_raised(exc)
        if suspended:
            self._suspended(coro)
        if self.measure:
            self._callback.append(time.perf_counter_ns() - t0)
        self.result.strategy_events += 1
        if self._updates:
            self._deliver_updates()
        if self._finished:
            self._forget_finished()

    @staticmethod
    def _suspended(coro: Coroutine[Any, Any, None]) -> NoReturn:
        """A callback suspended (it awaited something that is not the engine's): an error."""
        coro.close()
        raise StrategyError(_SUSPENDED)

    @staticmethod
    def _callback_raised(exc: RuntimeError) -> NoReturn:
        """A callback raised ``exc``: asyncio's "no running event loop" means it awaited an
        asyncio timer or I/O (a suspension, as above); anything else is the strategy's own."""
        if "no running event loop" not in str(exc):
            raise exc
        raise StrategyError(_SUSPENDED) from exc

    def _deliver_updates(self) -> None:
        """Drive ``on_order_update`` for each order update pending, in order (those its
        callbacks cause included).

        Counted instead (``_count_updates``, :meth:`start`) while the strategy's
        ``on_order_update`` is the base class's no-op, asked again at each delivery: one
        the strategy binds in the middle of the run (in ``on_book``, say) is called from
        then on, as live calls it. Reason: asked once after ``on_start``, an untimed run
        counted every later update of a strategy that bound its own in a callback. Cost:
        one attribute test per delivery (about 40 ns, 1.3 ms of workload a's 0.55 s;
        ``bench/RESULTS.md``). Test: ``test_engine_backtest.py::
        test_engine_backtest_an_order_update_bound_mid_run_is_called_timed_or_not``."""
        updates = self._updates
        if self._count_updates:
            if getattr(self.strategy.on_order_update, "__func__", None) is _BASE_ORDER_UPDATE:
                self.result.strategy_events += len(updates)
                updates.clear()
                return
            # The strategy bound its own since (in a callback): driven from now on.
            self._count_updates = False
        while updates:
            pending = list(updates)
            updates.clear()
            for upd in pending:
                self._drive(self.strategy.on_order_update(upd))

    # -- events ---------------------------------------------------------------------------
    def _heap_event(self) -> None:
        t, kind, _, payload = heapq.heappop(self._heap)
        if kind == _ARRIVE:
            if t > self.exchange_now:
                self.exchange_now = t
            self.venue.receive(payload, self.exchange_now)
            self._record_fills()
            self._pin(payload, -1)
            if self._finished:
                self._forget_finished()
            return
        if kind == _EXPIRE:
            if t > self.exchange_now:
                self.exchange_now = t
            self.venue.expire(self.exchange_now)
            if self._finished:
                self._forget_finished()
            return
        if t > self.now:
            self.now = t
        if kind == _RESPOND:
            self._trigger_ts = getattr(payload, "timestamp", t)  # the venue's time
            sent = self._sent_at.pop(getattr(payload, "user_ref_num", 0), None)
            if sent is not None:  # the first answer about this UserRefNum
                self._order_to_ack.append(t - sent)
            kind_name = type(payload).__name__
            updates = self.result.updates
            updates[kind_name] = updates.get(kind_name, 0) + 1
            if isinstance(payload, v50.Rejected):
                key = f"0x{payload.reason:04X}"
                self.result.rejects[key] = self.result.rejects.get(key, 0) + 1
            self.manager.on_message(payload)
            self._pin(payload, -1)
            if self._updates:
                self._deliver_updates()
            if self._finished:
                self._forget_finished()
        else:
            self._trigger_ts = t
            self._drive(self.strategy.on_timer(TimerEvent(payload, t)))

    def _deliver(
        self, t: int, exch_ts: int, msg: Message, applied: bool = False, locate: int = -1
    ) -> None:
        """The strategy's events for feed message ``msg`` (``applied``: the compiled core
        applied it to the strategy's book, which it changed at ``locate``:
        :meth:`StrategyContext.market`)."""
        if t > self.now:
            self.now = t
        self._trigger_ts = exch_ts
        events = self.ctx.market(msg, applied, None if locate < 0 else locate)
        if events:
            callback = self._callbacks
            drive = self._drive
            for event in events:
                drive(callback[type(event)](event))

    def _record_fills(self) -> None:
        """Book the venue's new fills, write them to the fills table and drop them from
        the venue's list (the same list object: the compiled core holds it)."""
        fills = self.venue.fills
        table = self._fills
        while self._fills_seen < len(fills):
            f = fills[self._fills_seen]
            self._fills_seen += 1
            self._fill_count += 1
            table.append(
                (
                    f.timestamp,
                    f.user_ref_num,
                    f.symbol,
                    f.side,
                    f.quantity,
                    f.price,
                    f.liquidity_flag,
                    f.match_number,
                    f.cause,
                    f.queue_ahead,
                )
            )
            self.xledger.fill(f.symbol, f.side, f.quantity, f.price)
            self.fees.charge(f.symbol, f.liquidity_flag, f.quantity)
            self._mark(f.symbol)
            self._sample(f.timestamp)
        fills.clear()
        self._fills_seen = 0

    def _mark(self, symbol: str) -> None:
        """Mark ``symbol`` from the venue book now: the mid (floor) of a two-sided book,
        else the one best price there is; an empty book keeps the previous mark. The
        rule depends only on the book, so sampling never changes the final marks. The book
        is the symbol's as everywhere (``locate_of``: the one its latest Stock Directory
        named, :func:`~tickwire.engine.book.name_locate`), not the first found with its
        name."""
        vbooks = self.vbooks
        book = vbooks.books.get(vbooks.locate_of(symbol))
        if book is None:
            return
        bbo = book.bbo()
        if bbo.bid_price is not None and bbo.ask_price is not None:
            mark = (bbo.bid_price + bbo.ask_price) // 2
        elif bbo.bid_price is not None:
            mark = bbo.bid_price
        elif bbo.ask_price is not None:
            mark = bbo.ask_price
        else:
            return
        self.xledger.mark(symbol, mark)
        if self._last_mark.get(symbol) != mark:  # changes only: bounded by the price moves
            self._last_mark[symbol] = mark
            self._marks.append((symbol, self.exchange_now, mark))

    def _sample_now(self, t: int) -> None:
        """The every-``pnl_sample_every``-messages sample: marks, then a PnL point."""
        self._mark_all()
        self._sample(t)

    def _sample(self, t: int) -> None:
        """A PnL point at exchange time ``t`` (after every fill and every
        ``pnl_sample_every`` messages): the sums over every symbol in C-level or one-loop
        calls (``Ledger.total_unrealised``), not a generator per point."""
        led = self.xledger
        realised = sum(led.realised.values())
        unrealised = led.total_unrealised()
        self._pnl.append(
            (
                t,
                sum(map(abs, led.positions.values())),
                realised,
                unrealised,
                realised + unrealised - self.fees.total,
                self._fill_count,
                self.fees.total,
            )
        )

    # -- the loop ---------------------------------------------------------------------------
    def start(self) -> None:
        """``on_start``, then the strategy's callbacks as it left them, for the run (both
        backends: :meth:`run` and :func:`~tickwire.engine.backtest.core.run_core`).

        The rule: a callback is the strategy's bound attribute after ``on_start``, as
        ``__init__`` or ``on_start`` set it (``self.on_order_update = self._update``; the
        class may keep the base no-op). In a run that times no callback (``measure=False``)
        a strategy whose ``on_order_update`` is then the base class's no-op has its order
        updates counted (``strategy_events``), not driven through a coroutine each (the
        compiled core does the same for ``on_book`` and ``on_trade``); ``on_start``'s own
        updates are driven through whatever it bound, as in a timed run. Reason: taken
        before ``on_start`` (when the runner was made), a callback bound there was never
        called: ``on_order_update`` in untimed runs, ``on_book`` and ``on_trade`` in every
        run, on both backends, where live calls it. Tests: ``test_engine_backtest.py::
        test_engine_backtest_untimed_run_calls_an_order_update_bound_per_instance``,
        ``test_engine_backtest.py::
        test_engine_backtest_callbacks_bound_in_on_start_are_called``.

        ``on_order_update`` (whether it is still the no-op is asked again at each
        delivery: :meth:`_deliver_updates`) and ``on_timer`` are looked up for each event,
        so one bound later in the run is called; ``on_book``, ``on_trade`` and
        ``on_instrument_state`` are taken here once (the documented rule,
        ``docs/backtest.md``)."""
        self._drive(self.strategy.on_start(self.ctx))
        strategy = self.strategy
        self._callbacks = callbacks(strategy)
        self._count_updates = not self.measure and is_base_callback(
            strategy.on_order_update, "on_order_update"
        )

    def run(
        self, messages: Iterable[Message], progress: Callable[[int], None] | None, total: int | None
    ) -> BacktestResult:
        wall0 = time.perf_counter()
        self.start()
        heap = self._heap
        feed = self._feed
        venue = self.venue
        vapply = self.vbooks.apply
        sample_every = max(1, self.cfg.pnl_sample_every)
        count = 0
        pending_progress = 0
        feed_sample = self.feed_lat.sample
        for msg in messages:
            t = msg.timestamp
            if t < self.exchange_now:
                t = self.exchange_now  # never run the clock backwards on a bad stamp
            # Everything scheduled before this message happens first.
            while True:
                ht = heap[0][0] if heap else None
                ft = feed[0][0] if feed else None
                if ht is not None and ht <= t and (ft is None or ht <= ft):
                    self._heap_event()
                elif ft is not None and ft < t:
                    ft_, ts_, m_ = feed.popleft()
                    self._deliver(ft_, ts_, m_)
                else:
                    break
            self.exchange_now = t
            venue.on_market(msg, t)
            vapply(msg)
            if venue.fills and self._fills_seen < len(venue.fills):
                self._record_fills()
            deliver = t + feed_sample()
            if deliver < self._last_feed:
                deliver = self._last_feed
            self._last_feed = deliver
            feed.append((deliver, t, msg))
            count += 1
            if count % sample_every == 0:
                self._sample_now(t)
            if progress is not None:
                pending_progress += 1
                if pending_progress >= 4096:
                    progress(pending_progress)
                    pending_progress = 0
        # Drain: deliver the rest of the feed and every answer still in flight.
        while heap or feed:
            ht = heap[0][0] if heap else None
            ft = feed[0][0] if feed else None
            if ht is not None and (ft is None or ht <= ft):
                self._heap_event()
            else:
                ft_, ts_, m_ = feed.popleft()
                self._deliver(ft_, ts_, m_)
        if progress is not None and pending_progress:
            progress(pending_progress)
        return self.end(count, wall0)

    def end(self, count: int, wall0: float) -> BacktestResult:
        """After the data and its drain: ``on_stop``, its answers, the last sample."""
        self._drive(self.strategy.on_stop())
        while self._heap:  # answers to what on_stop sent (e.g. cancels)
            self._heap_event()
        self._mark_all()
        self._sample(self.exchange_now)
        self._finish(count)
        self.result.wall_seconds = time.perf_counter() - wall0
        return self.result

    def _mark_all(self) -> None:
        for symbol in self.xledger.positions:
            self._mark(symbol)

    def _finish(self, count: int) -> None:
        r = self.result
        r.messages = count
        led = self.xledger
        r.positions = dict(sorted(led.positions.items()))
        r.cash = dict(sorted(led.cash.items()))
        r.marks = {s: led.marks[s] for s in sorted(led.marks) if s in led.positions}
        r.realised = dict(sorted(led.realised.items()))
        r.fees = dict(sorted(self.fees.by_symbol.items()))
        r.unknown_flag_fills = self.fees.unknown_flag_fills
        r.refusals = dict(sorted(self.risk.refusals.items()))
        r.unknown_answers = self.manager.unknown_answers
        r.unknown_executions = self.manager.unknown_executions
        r.book_faults = fault_counts(self.vbooks.unknown_references, self.vbooks.stats)
        first = self.cfg.first_user_ref_num
        for o in self.manager.orders.values():  # the orders not written yet
            self._orders.put(o.user_ref_num - first, _order_row(o))


#: What ``run_backtest(backend=...)`` (and ``--backend``) accepts: the reference loop
#: (its strategy book per ``book_backend``) or the compiled replay core.
BACKENDS = ("reference", "compiled")

#: What a backtest reads: decoded messages in feed order, or a BinaryFILE (a path,
#: gzip transparent, or its bytes).
Source = Iterable[Message] | str | os.PathLike[str] | bytes


def run_backtest(
    strategy: Strategy,
    messages: Source,
    *,
    limits: RiskLimits | None = None,
    config: BacktestConfig | None = None,
    progress: Callable[[int], None] | None = None,
    total: int | None = None,
    measure: bool = True,
    fees: FeeSchedule | None = None,
    backend: str | None = None,
) -> BacktestResult:
    """Run ``strategy`` over ``messages`` (in feed order) and return the result.

    ``messages`` is an iterable of decoded ITCH messages, or a BinaryFILE: a path (gzip
    transparent) or its bytes, streamed in chunks. A BinaryFILE's messages of a type
    ITCH 5.0 does not define are skipped by their length and counted in
    ``result.unknown_types`` (decoded messages have none: their reader counts them).

    ``backend`` is ``"reference"`` (this module's loop, the oracle; the strategy's book
    per ``config.book_backend``) or ``"compiled"`` (the compiled replay core,
    :mod:`tickwire.engine.backtest.core`: the same result, see ``docs/backtest.md``);
    None takes ``"compiled"`` when ``config.book_backend`` is ``"compiled"``, else the
    reference.

    ``fees`` (the ``[fees]`` table; default none) charges each fill by its liquidity
    flag; the PnL series and the report's PnL are net of it.

    ``progress`` is called with the number of messages processed since its last call;
    ``total`` (the expected number of messages, if known) is informational only.
    ``measure`` records wall-clock callback times (reported under ``runtime`` only).

    A ``SystemExit`` from the strategy (``sys.exit`` in a callback) is raised as a
    :class:`~tickwire.engine.strategy.api.StrategyError` naming the strategy
    (:func:`~tickwire.engine.strategy.api.strategy_exited`): the run failed, it did not
    end the program with the strategy's exit code (``sys.exit(0)`` was a backtest with
    exit 0 and no report).
    """
    cfg = config if config is not None else BacktestConfig()
    if backend is None:
        backend = "compiled" if cfg.book_backend == "compiled" else "reference"
    if backend not in BACKENDS:
        raise ValueError(f"backend {backend!r} is not one of {', '.join(BACKENDS)}")
    schedule = fees if fees is not None else FeeSchedule()
    compiled = backend == "compiled"
    if not compiled and cfg.book_backend == "compiled":
        cfg = replace(cfg, book_backend="reference")
    if compiled:
        from tickwire.engine.backtest.core import check_core

        check_core(strategy)
    runner = _Runner(
        strategy,
        limits if limits is not None else RiskLimits(),
        cfg,
        measure,
        schedule,
        compiled=compiled,
    )
    try:
        if compiled:
            from tickwire.engine.backtest.core import run_core

            result = run_core(runner, messages, progress)
            # The core frames a BinaryFILE's bytes itself, into the venue's compiled book.
            result.unknown_types = runner.vbooks.skipped
        else:
            frames = FrameStats()
            result = runner.run(_messages(messages, frames), progress, total)
            result.unknown_types = frames.skipped
    except SystemExit as exc:  # sys.exit in a callback: a failed run, not the program's end
        runner.spill.close()
        raise strategy_exited(strategy, exc) from exc
    except BaseException:
        runner.spill.close()  # nothing of a failed run is kept on disk
        raise
    result.book_backend = "compiled" if compiled else cfg.book_backend
    result.config = {
        "feed_latency": runner.feed_lat.describe(),
        "order_latency": runner.order_lat.describe(),
        "ack_latency": runner.ack_lat.describe(),
        "seed": cfg.seed,
        "strategy": f"{type(strategy).__module__}:{type(strategy).__qualname__}",
        "strategy_config": dict(strategy.config),
    }
    if not schedule.is_free:  # without a schedule the config reads as it always did
        result.config["fees"] = schedule.as_dict()
    return result


def _messages(source: Source, frames: FrameStats) -> Iterable[Message]:
    """Decoded messages of ``source`` (see :data:`Source`) for the reference loop; a
    BinaryFILE's framing counts (the messages of unknown types it skipped) go to
    ``frames`` as it is read."""
    if isinstance(source, str | os.PathLike):
        from tickwire.engine.sources import iter_binaryfile

        return iter_binaryfile(source, stats=frames)
    if isinstance(source, bytes | bytearray | memoryview):
        return decode_binaryfile(bytes(source), stats=frames)
    return source
