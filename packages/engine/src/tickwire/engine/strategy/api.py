"""The asyncio strategy API: the events a strategy receives and the context it acts through.

A strategy subclasses :class:`Strategy` and overrides the ``async`` callbacks it cares
about. It never talks to a venue directly: it reads books through ``ctx.book(symbol)``
and sends, replaces and cancels orders through ``ctx.orders`` (an
:class:`~tickwire.engine.strategy.orders.OrderManager` speaking OUCH 5.0, with every order
passing the pre-trade risk checks). Time comes from ``ctx.now()`` and ``ctx.set_timer``,
never from the wall clock, so the same class runs unchanged in a backtest (simulated time)
and live (the runner's clock).

In a backtest callbacks are driven to completion one at a time, in simulated time order:
a callback must not wait for real I/O (``await asyncio.sleep(...)`` would mean nothing in
simulated time); use timers instead. The runner raises :class:`StrategyError` if a
callback suspends.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from tickwire.engine.book import BBO, OrderBook
from tickwire.itch import Message
from tickwire.threshold.schema import (
    Bool,
    Float,
    Int,
    Kind,
    ListOf,
    Raw,
    Str,
    from_table,
    setting,
)

if TYPE_CHECKING:
    from tickwire.engine.strategy.orders import Order, OrderManager

__all__ = [
    "BOOK_EVENTS",
    "MAX_TIME_NS",
    "BookUpdate",
    "Consumes",
    "Context",
    "InstrumentState",
    "OrderUpdate",
    "Strategy",
    "StrategyError",
    "TimerEvent",
    "TradeEvent",
    "declared_consumes",
    "is_base_callback",
    "strategy_exited",
    "strategy_params",
    "strategy_table",
]


#: The latest time of a run, ns since midnight: the largest int64, what the compiled core
#: and the result's tables hold. ``ctx.set_timer`` refuses a later time; an order or an
#: answer whose latency would take it later arrives at this time (the runner's ``_send``
#: and ``_respond``, ``ReplayCore.send`` and ``respond``). Test:
#: ``test_engine_backtest_core.py::test_engine_backtest_core_times_stop_at_the_largest_int64``.
MAX_TIME_NS = (1 << 63) - 1


class StrategyError(RuntimeError):
    """A strategy broke the API's rules (e.g. a callback suspended in a backtest)."""


def strategy_exited(strategy: object, exc: SystemExit) -> StrategyError:
    """The :class:`StrategyError` for ``exc``, a ``SystemExit`` (``sys.exit``) that a
    callback of ``strategy`` raised, naming the strategy and the exit code.

    The rule: a strategy cannot end a run; ``sys.exit`` in a callback fails it like any
    other error of the strategy's. Why: ``engine backtest`` with a strategy calling
    ``sys.exit(0)`` in ``on_book`` ended with exit 0, no report and no error, and in
    ``engine live`` asyncio let it out of the event loop, past the engine's shutdown.
    The backtest (:func:`~tickwire.engine.backtest.run_backtest`) and the live runner
    raise it; the command line prints it as one line, exit 1. Test:
    ``packages/engine/tests/test_engine_cli_bad_input.py``
    (``test_a_strategy_that_calls_sys_exit_fails_the_run``)."""
    name = f"{type(strategy).__module__}:{type(strategy).__qualname__}"
    return StrategyError(
        f"strategy {name} raised SystemExit({exc.code!r}) in a callback: a strategy "
        "cannot end the run (raise an exception to fail it); the run failed"
    )


def strategy_table(cls: type, config: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``[strategy]`` table ``config`` checked against the settings dataclass ``cls``
    (declared with :mod:`tickwire.threshold.schema`, like every config table), as a dict
    with the defaults filled in: a :class:`~tickwire.threshold.schema.ConfigError` (a
    ``ValueError``) names the key, ``strategy.quote_size: must be at least 1, got 0``."""
    params: Any = from_table(cls, dict(config or {}), "strategy")
    return dataclasses.asdict(params)


def _copier(default: Any) -> Callable[[], Any]:
    """A factory of copies of a mutable default (no two strategies share one list)."""
    return lambda: copy.copy(default)


def _kind_of(default: object, low: int | None) -> Kind:
    if isinstance(default, bool):
        return Bool()
    if isinstance(default, int):
        return Int(low)
    if isinstance(default, float):
        return Float(low)
    if isinstance(default, str):
        return Str()
    if isinstance(default, list):
        return ListOf(Raw(), list)
    return Raw(type(default).__name__)


def strategy_params(
    owner: str,
    config: Mapping[str, Any] | None,
    defaults: Mapping[str, Any],
    minimums: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """``defaults`` updated with ``config`` (the ``[strategy]`` table), checked key by key
    by the schema mechanism (:func:`strategy_table` of a settings dataclass made from
    ``defaults``; a strategy may declare its own instead, as the examples do).

    Every key must be one of ``defaults`` and have its default's type: an integer default
    takes integers only (TOML ``true`` is not 1, ``"100"`` is not 100), a boolean a
    boolean, a string a string, a list default a list; ``minimums`` bounds integers from
    below. A ``ValueError`` names the key (``strategy.quote_size: must be an integer, got
    str 'abc'``), so a bad value is refused before the run instead of raising a
    ``TypeError`` in the middle of it.
    """
    fields = []
    for key, default in defaults.items():
        kind = _kind_of(default, (minimums or {}).get(key))
        if isinstance(default, list | dict | set):
            spec = setting(kind, factory=_copier(default))
        else:
            spec = setting(kind, default)
        fields.append((key, Any, spec))
    cls = dataclasses.make_dataclass(f"{owner}Params", fields, frozen=True)
    return strategy_table(cls, config)


#: The values of :attr:`Consumes.book`.
BOOK_EVENTS = ("every", "bbo", "depth", "none")
#: The most levels of each side ``Consumes(book="depth")`` may watch.
MAX_DEPTH = 1000


@dataclass(frozen=True, slots=True)
class Consumes:
    """What a strategy is called for, on each symbol it subscribed to (``ctx.subscribe``).

    A strategy declares it as a class attribute, ``consumes = Consumes(book="bbo",
    trades=False)``; both backtests (the reference and the compiled core) and the live
    runner honour it, so a declaration changes what the strategy sees, never which
    backtest it runs in. The default is every event, today's meaning:

    * ``book``: ``"every"`` calls ``on_book`` for every book message (A F E C X D U) of a
      subscribed symbol; ``"bbo"`` only for those that leave its best bid or offer
      (price or size) different from what it was at the symbol's previous book message
      while subscribed (the first one always counts); ``"depth"`` the same with the top
      ``depth`` price levels of each side (price and total shares of each: ``depth=1``
      is ``"bbo"``); ``"none"`` never;
    * ``depth``: how many levels of each side ``book="depth"`` watches (1 to 1,000; only
      with ``book="depth"``);
    * ``trades``: ``on_trade`` for the tape prints (E, printable C, P, Q, B);
    * ``states``: ``on_instrument_state`` for Stock Trading Actions (H).

    A strategy may declare per symbol instead, by subscribing with a mapping:
    ``ctx.subscribe({"AAPL": Consumes(), "MSFT": Consumes(book="bbo")})`` takes every
    event of AAPL and only the BBO changes and prints of MSFT. The comparison of
    ``"bbo"`` and ``"depth"`` is with the symbol's previous book message under the same
    declaration: the first book message after a symbol's declaration changes always
    counts.

    Order updates and timers are the strategy's own and always delivered. Whatever it
    declares, the strategy's books, ``ctx.symbols()`` and risk's reference prices (the mid
    of a subscribed symbol's book) follow every message, as before: the declaration only
    filters callbacks. The compiled core uses it to stay out of Python: a book message
    of a ``"bbo"`` strategy that moves no best price never builds a Python object.
    """

    book: Literal["every", "bbo", "depth", "none"] = "every"
    trades: bool = True
    states: bool = True
    depth: int = 0

    def __post_init__(self) -> None:
        if self.book not in BOOK_EVENTS:
            raise ValueError(f"Consumes.book: {self.book!r} is not one of {', '.join(BOOK_EVENTS)}")
        depth = self.depth
        if isinstance(depth, bool) or not isinstance(depth, int):
            raise ValueError(f"Consumes.depth: must be an integer, got {depth!r}")
        if self.book == "depth" and not 1 <= depth <= MAX_DEPTH:
            raise ValueError(
                f"Consumes.depth: book='depth' watches 1 to {MAX_DEPTH:,} levels, got {depth}"
            )
        if self.book != "depth" and depth:
            raise ValueError(f"Consumes.depth: only with book='depth' (book is {self.book!r})")
        for name in ("trades", "states"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"Consumes.{name}: must be a boolean")


@dataclass(frozen=True, slots=True)
class BookUpdate:
    """The book of ``symbol`` changed; ``message`` is the ITCH message that changed it.

    ``book`` is the strategy's own view (as of the feed latency), not the venue's.
    """

    symbol: str
    locate: int
    timestamp: int
    bbo: BBO
    book: OrderBook
    message: Message


@dataclass(frozen=True, slots=True)
class TradeEvent:
    """A print on the tape: ``kind`` is the ITCH letter (E, C, P or Q)."""

    symbol: str
    locate: int
    timestamp: int
    kind: str
    price: int
    shares: int
    side: str
    match_number: int


@dataclass(frozen=True, slots=True)
class InstrumentState:
    """Trading state from a Stock Trading Action (H): T trading, H halted, P paused, Q quotation."""

    symbol: str
    locate: int
    timestamp: int
    trading_state: str


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """Something happened to one of the strategy's own orders.

    ``kind`` is one of ``accepted``, ``executed``, ``cancelled``, ``replaced``,
    ``rejected`` (by the venue, ``reason`` is the OUCH reject code) or ``refused`` (by
    pre-trade risk, ``reason`` is the :class:`~tickwire.engine.risk.RiskReason` code).
    ``quantity``/``price`` are the executed or cancelled shares and the execution price.
    """

    kind: str
    order: Order
    timestamp: int
    quantity: int = 0
    price: int = 0
    reason: str = ""
    liquidity_flag: str = ""


@dataclass(frozen=True, slots=True)
class TimerEvent:
    """A timer set with ``ctx.set_timer`` fired."""

    name: str
    timestamp: int


class Context(Protocol):
    """What a strategy can see and do; the backtest and the live runner both provide it as
    a :class:`~tickwire.engine.strategy.context.StrategyContext`."""

    orders: OrderManager
    config: Mapping[str, Any]

    def now(self) -> int:
        """Current time, ns since midnight (simulated in a backtest)."""
        ...

    def book(self, symbol: str) -> OrderBook | None:
        """The strategy's view of a symbol's book (None if the symbol is unknown)."""
        ...

    def symbols(self) -> list[str]:
        """Every symbol known from the feed so far that has a book (not one whose book a
        Stock Directory gave another symbol: ``book()`` of it is None), sorted."""
        ...

    def is_trading(self, symbol: str) -> bool:
        """Market hours (System Event Q until M) and the symbol trading (H state T), as
        the strategy's feed has shown so far; orders outside it are rejected."""
        ...

    def subscribe(self, symbols: list[str] | Mapping[str, Consumes] | None) -> None:
        """Receive book/trade/state events only for ``symbols`` (None: every symbol), as
        the strategy's ``consumes`` declares; a mapping declares per symbol instead
        (``{"AAPL": Consumes(), "MSFT": Consumes(book="bbo")}``)."""
        ...

    def set_timer(self, at_ns: int, name: str) -> None:
        """Call ``on_timer`` at time ``at_ns`` (ns since midnight, an integer up to
        :data:`MAX_TIME_NS`: a float or a later time is a :class:`StrategyError`)."""
        ...

    def position(self, symbol: str) -> int:
        """Signed position in shares (``"AAPL "`` is ``AAPL``, as on the wire)."""
        ...

    def log(self, text: str) -> None:
        """A line for the run's log (kept in the backtest report)."""
        ...


class Strategy:
    """Base class: override what you need; every callback is a coroutine.

    The constructor takes the strategy's config table (``[strategy]`` of the config
    file) so a strategy is fully described by its class and its config. ``consumes``
    (a :class:`Consumes`) declares which market events it is called for; the default is
    every event of its subscribed symbols.

    A callback may be bound per instance (``self.on_order_update = self._update``). In a
    backtest ``on_book``, ``on_trade`` and ``on_instrument_state`` are taken once, as
    ``on_start`` leaves them: one bound later in the run is not called (the compiled core
    holds them; a lookup per market event would cost every run), where live calls it;
    ``on_order_update`` and ``on_timer`` are looked up for each event, so one bound at any
    time is called from its next event on, timed or not, as live does (``docs/backtest.md``;
    tests: ``test_engine_backtest.py::
    test_engine_backtest_callbacks_bound_in_on_start_are_called``,
    ``test_engine_backtest.py::
    test_engine_backtest_an_order_update_bound_mid_run_is_called_timed_or_not``).
    """

    #: The market events this strategy is called for (see :class:`Consumes`).
    consumes: ClassVar[Consumes] = Consumes()

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        self.config: Mapping[str, Any] = dict(config or {})
        self.ctx: Context | None = None

    async def on_start(self, ctx: Context) -> None:
        """Called once before any event; keep ``ctx`` (the base class stores it)."""
        self.ctx = ctx

    async def on_stop(self) -> None:
        """Called once at the end of the data (or when the live session ends)."""

    async def on_book(self, update: BookUpdate) -> None:
        """A subscribed book changed."""

    async def on_trade(self, trade: TradeEvent) -> None:
        """A print on the tape of a subscribed symbol."""

    async def on_instrument_state(self, state: InstrumentState) -> None:
        """A subscribed symbol's trading state changed."""

    async def on_order_update(self, update: OrderUpdate) -> None:
        """One of this strategy's orders was accepted, executed, cancelled, replaced,
        rejected or refused by risk."""

    async def on_timer(self, timer: TimerEvent) -> None:
        """A timer fired."""


def declared_consumes(strategy: Strategy) -> Consumes:
    """``strategy.consumes``, checked: a :class:`StrategyError` names the class when it is
    not a :class:`Consumes` (a dict or a string would otherwise filter nothing)."""
    declared = getattr(strategy, "consumes", None)
    if not isinstance(declared, Consumes):
        raise StrategyError(
            f"{type(strategy).__qualname__}.consumes must be a Consumes(...), "
            f"got {type(declared).__name__} {declared!r}"
        )
    return declared


def is_base_callback(callback: Callable[..., Any], name: str) -> bool:
    """Is ``callback`` (a strategy's bound callback, as a runner calls it) the base
    class's no-op :class:`Strategy` ``name`` (``"on_book"``, ...)?

    A runner may count the events of a no-op callback instead of calling it (the compiled
    core for ``on_book`` and ``on_trade``, the reference runner for ``on_order_update``).
    The rule asks the callback the runner holds, not the strategy's class: a strategy may
    bind its own per instance (``self.on_book = self._on_book`` in ``__init__``), which
    the class's attribute does not show; asked of the class, the compiled core counted
    those events and never called the strategy's callback, where the reference called
    it; asked of the class, the reference runner's untimed runs counted an
    ``on_order_update`` bound so. The runner asks after ``on_start``, which may bind them
    too (``_Runner.start``). Tests: ``test_engine_backtest_core.py::
    test_engine_backtest_core_callbacks_bound_per_instance_are_called_as_there``,
    ``test_engine_backtest.py::
    test_engine_backtest_untimed_run_calls_an_order_update_bound_per_instance``,
    ``test_engine_backtest.py::test_engine_backtest_callbacks_bound_in_on_start_are_called``."""
    return getattr(callback, "__func__", None) is getattr(Strategy, name)
