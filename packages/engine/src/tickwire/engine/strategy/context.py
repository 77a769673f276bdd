"""The one strategy :class:`~tickwire.engine.strategy.api.Context`, shared by the backtest
and the live runner.

:class:`StrategyContext` is sans-I/O: it reads no clock and starts no timer of its own.
What differs between a backtest and a live session comes in as arguments:

* ``clock``: the strategy's time, ns since midnight (simulated event time in a backtest;
  the wall clock the live adapter passes);
* ``schedule``: how a timer is set (the backtest pushes it on its event heap, live sets
  an asyncio timer that queues it);
* ``orders``: the :class:`~tickwire.engine.strategy.orders.OrderManager`, whose ``send``
  is where orders go (the simulated venue, or OUCH over SoupBinTCP);
* ``books`` and ``prints``: the strategy's view of the market (a reference or compiled
  book manager) and the list its tape prints are appended to;
* ``log``: where ``ctx.log`` lines go, anything with ``append`` (the backtest's spilled
  :class:`~tickwire.engine.backtest.spill.SpilledLines`, the live runner's
  :class:`~tickwire.engine.strategy.live.StrategyLog`).

:meth:`StrategyContext.market` is the feed side, the same for both: it applies one ITCH
message to the strategy's books and returns the events the strategy gets for it, in the
order its callbacks run. The rule, one for both paths:

1. the message is applied to the books;
2. a Stock Directory (R) makes its symbol known (``symbols()``, ``book()``; a symbol
   whose book a later directory gave another symbol has none, and ``symbols()`` drops it) and yields
   nothing; sent again at another locate, the symbol is that locate's book from then on
   (:func:`~tickwire.engine.book.name_locate`, the rule of every layer);
3. a message for a locate with no book yields nothing (its tape prints are dropped);
4. the book's symbol becomes known if it was not (a book the feed built without a
   directory message): known symbols do not depend on the subscription; a book that is
   not its symbol's (its symbol's later directory named another locate) yields nothing;
5. only then the subscription: a symbol outside it yields nothing (prints dropped);
6. a book message (A F E C X D U) sets risk's reference price (the mid of a two-sided
   book) and yields a :class:`BookUpdate`; a Stock Trading Action (H) an
   :class:`InstrumentState`; then one :class:`TradeEvent` per tape print;
7. what the strategy declared (``consumes``, a :class:`~tickwire.engine.strategy.api.Consumes`)
   filters those events: with ``book="bbo"`` a book message yields its
   :class:`BookUpdate` only when the book's BBO differs from the one at the symbol's
   previous book message that reached step 6 (remembered per locate); with
   ``book="depth"`` the same with the top ``depth`` levels of each side, each level's
   price and total shares (:meth:`OrderBook.top_levels
   <tickwire.engine.book.OrderBook.top_levels>`); ``trades=False`` drops the
   :class:`TradeEvent`, ``states=False`` the :class:`InstrumentState`. The declaration is
   the symbol's own when ``subscribe`` was given a mapping, else the strategy's; a
   ``subscribe`` that changes a symbol's declaration forgets what was remembered for it,
   so its next book message counts as a change.

``subscribe`` filters callbacks, never what the context knows. A symbol the strategy
gives (``book``, ``is_trading``, ``subscribe``, ``position``) is looked up in its wire
form, :func:`~tickwire.engine.risk.symbol_key` (``"AAPL    "`` is AAPL), the form in
which the feed's decoders name symbols and risk and the ledger key them. The runners drive each
returned event's callback to completion and deliver the order updates it caused before
the next event (:func:`callback_for`).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Protocol

from tickwire.engine.book import (
    BBO,
    NO_BOOK,
    BookManager,
    OrderBook,
    TapePrint,
    TopLevels,
    book_locate,
    filed_locate,
    name_locate,
)
from tickwire.engine.cbook import positional_constructor
from tickwire.engine.risk import symbol_key
from tickwire.engine.strategy.api import (
    MAX_TIME_NS,
    BookUpdate,
    Consumes,
    InstrumentState,
    OrderUpdate,
    Strategy,
    StrategyError,
    TimerEvent,
    TradeEvent,
)
from tickwire.engine.strategy.orders import OrderManager
from tickwire.itch import Message, StockDirectory, StockTradingAction

__all__ = ["MarketEvent", "StrategyContext", "StrategyEvent", "callback_for", "callbacks"]

_BOOK_TYPES = frozenset("AFECXDU")


#: What :meth:`StrategyContext.market` yields.
MarketEvent = BookUpdate | InstrumentState | TradeEvent
#: Every event a strategy callback receives.
StrategyEvent = BookUpdate | InstrumentState | TradeEvent | TimerEvent | OrderUpdate

_NOTHING: tuple[MarketEvent, ...] = ()

# The events the feed gives, built without the frozen dataclasses' per-field
# ``object.__setattr__`` (the same objects; the fields are the engine's own values).
_book_update = positional_constructor(BookUpdate)
_trade_event = positional_constructor(TradeEvent)

_CALLBACKS: dict[type, str] = {
    BookUpdate: "on_book",
    InstrumentState: "on_instrument_state",
    TradeEvent: "on_trade",
    TimerEvent: "on_timer",
    OrderUpdate: "on_order_update",
}


def callbacks(
    strategy: Strategy,
) -> dict[type, Callable[[Any], Coroutine[Any, Any, None]]]:
    """Event type -> ``strategy``'s bound callback (a runner's hot path looks them up once)."""
    return {cls: getattr(strategy, name) for cls, name in _CALLBACKS.items()}


def callback_for(strategy: Strategy, event: StrategyEvent) -> Coroutine[Any, Any, None]:
    """The coroutine of ``strategy``'s callback for ``event`` (``on_book`` for a
    :class:`BookUpdate`, ...)."""
    method: Callable[[Any], Coroutine[Any, Any, None]] = getattr(strategy, _CALLBACKS[type(event)])
    return method(event)


class _Rule:
    """One declaration, as step 7 applies it."""

    __slots__ = ("depth", "every", "no_book", "states", "trades")

    def __init__(self, consumes: Consumes) -> None:
        self.every = consumes.book == "every"
        self.no_book = consumes.book == "none"
        self.depth = consumes.depth  # 0 unless book="depth"
        self.trades = consumes.trades
        self.states = consumes.states


class LogLines(Protocol):
    """Where the context's log lines go."""

    def append(self, line: str, /) -> None: ...


class StrategyContext:
    """The :class:`~tickwire.engine.strategy.api.Context` of both runners (see the
    module docs for what is a parameter and for the feed rule)."""

    #: The strategy's time, ns since midnight (``Context.now``): the ``clock`` given,
    #: bound as it is. Reason: a strategy asks on every callback (workload a of
    #: ``bench/bench_hftbacktest.py``: 132,000 times), and a method around the clock cost
    #: a Python call more each time (~1% of that run's CPU). Tests: the strategies that
    #: read the time in ``test_engine_strategy.py`` and ``test_engine_backtest_core.py``.
    now: Callable[[], int]

    def __init__(
        self,
        config: Mapping[str, Any],
        orders: OrderManager,
        books: BookManager,
        prints: list[TapePrint],
        *,
        clock: Callable[[], int],
        schedule: Callable[[int, str], None],
        log: LogLines,
        consumes: Consumes | None = None,
    ) -> None:
        self.config = config
        self.orders = orders
        self.books = books
        self._prints = prints
        self._clock = clock
        self.now = clock
        self._schedule = schedule
        self.lines = log
        self.locates: dict[str, int] = {}
        self.subscribed: set[str] | None = None
        #: The strategy's declaration, and the symbols (wire form) that have their own.
        self.consumes = consumes if consumes is not None else Consumes()
        self.declared: dict[str, Consumes] = {}
        self._rule = _Rule(self.consumes)
        self._rules: dict[str, _Rule] = {}
        #: Counts the changes of subscription or declarations (the compiled core
        #: recomputes its routes when it moves).
        self.generation = 0
        #: ``book`` "bbo", "depth" or "none": the BBO (the top levels for "depth") at each
        #: locate's last book message that passed the subscription (step 7; the compiled
        #: core follows the same in C).
        self.last_seen: dict[int, BBO | TopLevels] = {}

    # -- the Context protocol -----------------------------------------------------------
    def book(self, symbol: str) -> OrderBook | None:
        locate = book_locate(self.locates, symbol_key(symbol))
        return None if locate is None else self.books.books.get(locate)

    def symbols(self) -> list[str]:
        """Every symbol with a book (:func:`~tickwire.engine.book.book_locate`), sorted: not
        one whose book a Stock Directory gave another symbol (``locates`` keeps it, as
        :data:`~tickwire.engine.book.NO_BOOK`, until a directory names a book for it).
        Why: ``book()`` of it is None and an order of it is rejected, so listing it sent
        a strategy looping over ``symbols()`` to a symbol it cannot see or trade. Test:
        ``test_engine_backtest_core.py::test_engine_backtest_core_a_symbol_whose_book_a_directory_renamed_has_none``.

        ``book_locate`` inlined over the map's items (a locate in ``locates`` is a book's
        or ``NO_BOOK``): compiled, 8,000 symbols take 0.13 ms, 0.62 ms with a call each
        (``sorted(self.locates)``, which listed AAA: 0.075 ms)."""
        return sorted([s for s, locate in self.locates.items() if locate != NO_BOOK])

    def is_trading(self, symbol: str) -> bool:
        locate = book_locate(self.locates, symbol_key(symbol))
        return locate is not None and self.books.in_continuous_trading(locate)

    def subscribe(self, symbols: list[str] | Mapping[str, Consumes] | None) -> None:
        declared: dict[str, Consumes] = {}
        if isinstance(symbols, Mapping):
            for symbol, consumes in symbols.items():
                if not isinstance(consumes, Consumes):
                    raise StrategyError(
                        f"ctx.subscribe: {symbol}'s declaration must be a Consumes(...), "
                        f"got {type(consumes).__name__} {consumes!r}"
                    )
                declared[symbol_key(symbol)] = consumes
            subscribed: set[str] | None = set(declared)
        else:
            subscribed = None if symbols is None else {symbol_key(s) for s in symbols}
        if subscribed == self.subscribed and declared == self.declared:
            return  # the same again (a strategy may subscribe on every callback)
        # A symbol whose declaration changes starts afresh: its next book message counts,
        # at every locate whose book has its name.
        changed = {
            symbol
            for symbol in self.declared.keys() | declared.keys()
            if self.declared.get(symbol, self.consumes) != declared.get(symbol, self.consumes)
        }
        if changed:
            books = self.books.books
            for locate in list(self.last_seen):
                book = books.get(locate)
                if book is not None and book.symbol in changed:
                    del self.last_seen[locate]
        self.declared = declared
        self._rules = {symbol: _Rule(c) for symbol, c in declared.items()}
        self.subscribed = subscribed
        self.generation += 1

    def consumes_for(self, symbol: str) -> Consumes:
        """What ``symbol`` (wire form) is delivered under: its own declaration, or the
        strategy's."""
        return self.declared.get(symbol, self.consumes)

    def set_timer(self, at_ns: int, name: str) -> None:
        """A time already past fires now: the timer's event carries ``max(at_ns, now)``.

        ``at_ns`` must be an integer (what ``operator.index`` takes): anything else, a
        float above all (``ctx.now() + 1e6``), is refused with a :class:`StrategyError`
        naming it. Reason: time is integer ns everywhere; the reference backtest took a
        float into its clock (the timer's time, ``ctx.now()`` and every send time after it
        became floats; an order sent then failed in the orders table with a bare
        ``TypeError``) and the compiled core truncated it to an int, so the two reports
        differed. Test: ``test_engine_strategy_context.py::
        test_engine_strategy_context_a_timer_at_a_float_time_is_refused``.

        ``at_ns`` must not be after :data:`~tickwire.engine.strategy.api.MAX_TIME_NS`
        (``2**63 - 1``, the largest int64; ``sys.maxsize`` is a fine "at the end"): a
        later time is refused with a :class:`StrategyError` naming it. Reason: the compiled
        core keeps times as int64 and failed with a bare "Python int too large to convert
        to C long", where the reference ran on and failed at its next sample with
        "argument out of range". Test: ``test_engine_backtest_core.py::
        test_engine_backtest_core_a_timer_after_the_largest_time_is_refused``."""
        try:
            at = operator.index(at_ns)
        except TypeError:
            raise StrategyError(
                "ctx.set_timer: at_ns must be an integer number of ns since midnight, "
                f"got {type(at_ns).__name__} {at_ns!r}"
            ) from None
        if at > MAX_TIME_NS:
            raise StrategyError(
                f"ctx.set_timer: at_ns {at} is after the latest time, {MAX_TIME_NS} ns (2**63 - 1)"
            )
        self._schedule(max(at, self._clock()), name)

    def position(self, symbol: str) -> int:
        return self.orders.risk.ledger.position(symbol)  # "AAPL " is AAPL

    def log(self, text: str) -> None:
        self.lines.append(f"{self._clock()} {text}")

    # -- the feed -----------------------------------------------------------------------
    def market(
        self, msg: Message, applied: bool = False, locate: int | None = None
    ) -> tuple[MarketEvent, ...] | list[MarketEvent]:
        """Apply ``msg`` to the strategy's books; the events it gives, in callback order.

        ``applied``: the books already hold it (the compiled core applies a message in C
        before it knows whether the strategy consumes it), and ``locate`` is the book it
        changed, asked before (:func:`~tickwire.engine.book.filed_locate`; the message's when not given).

        Rule: the events, and risk's mark, are the stock's whose book the message changed:
        a message naming a feed order (E, C, X, D, U) is the stock's that files that
        order, whatever locate it carries (:func:`~tickwire.engine.book.filed_locate`); the compiled core
        alike. Why: the book applied such a message to the order's stock, but the
        strategy got a BookUpdate of the stock the message named (its BBO unchanged) and
        none of the stock that changed, and risk's mark of the first moved not. Test:
        ``test_engine_backtest_core.py::test_engine_backtest_core_a_book_update_goes_to_the_stock_whose_book_changed``."""
        books = self.books
        if isinstance(msg, StockDirectory):  # never applied before: not a book message
            renamed = books.books.get(msg.stock_locate)
            previous = "" if renamed is None else renamed.symbol  # its name before
            if not applied:
                books.apply(msg)
            name_locate(
                self.locates, msg.stock, msg.stock_locate, directory=True, previous=previous
            )
            return _NOTHING
        if not applied:
            locate = filed_locate(books, msg)
            books.apply(msg)
        elif locate is None:
            locate = msg.stock_locate
        prints = self._prints
        book = books.books.get(locate)
        if book is None:
            prints.clear()
            return _NOTHING
        symbol = book.symbol
        if symbol:
            known = self.locates.get(symbol)
            if known is None:
                name_locate(self.locates, symbol, locate, directory=False)
            elif known != locate:  # a book its symbol's later directory left
                prints.clear()
                return _NOTHING
        sub = self.subscribed
        if sub is not None and symbol not in sub:
            prints.clear()
            return _NOTHING
        events: list[MarketEvent] = []
        rule = self._rules.get(symbol, self._rule) if self._rules else self._rule
        if msg.message_type in _BOOK_TYPES:
            bbo = book.bbo()
            bid, _, ask, _ = bbo
            if bid is not None and ask is not None:
                # The reference price of the collar and of unrealised PnL in risk.
                self.orders.risk.set_reference(symbol, (bid + ask) // 2)
            if rule.every:
                events.append(_book_update(symbol, locate, msg.timestamp, bbo, book, msg))
            else:
                last_seen = self.last_seen
                seen = book.top_levels(rule.depth) if rule.depth else bbo
                if not rule.no_book and last_seen.get(locate) != seen:
                    events.append(_book_update(symbol, locate, msg.timestamp, bbo, book, msg))
                last_seen[locate] = seen
        elif isinstance(msg, StockTradingAction) and rule.states:
            events.append(InstrumentState(symbol, locate, msg.timestamp, str(msg.trading_state)))
        if not prints:
            return events
        if rule.trades:
            for p in prints:
                trade = _trade_event(
                    symbol, locate, p.timestamp, p.kind, p.price, p.shares, p.side, p.match_number
                )
                events.append(trade)
        prints.clear()
        return events
