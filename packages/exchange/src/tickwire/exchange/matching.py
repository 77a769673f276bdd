"""A price-display-time priority matching engine for many instruments, publishing ITCH 5.0.

Every change to a book is returned as the ITCH 5.0 message NASDAQ would publish for it:
a resting order is an Add Order (``A``), an execution of a resting order an Order
Executed (``E``, one per maker, with a fresh match number), a partial cancel an Order
Cancel (``X``), a full cancel an Order Delete (``D``) and a non-crossing replace an Order
Replace (``U``). An incoming order that trades is never shown itself (it only takes
liquidity), exactly as on NASDAQ, so replaying the published messages into
:class:`tickwire.engine.book.BookManager` rebuilds books equal to this engine's
displayed books (:meth:`MatchingEngine.l2`).

A hidden order (``hidden``: OUCH Display ``N``) rests and trades like any other, but
behind every displayed order at its price (price, display, time priority:
:func:`_next_in_line`), and the feed never shows it: no Add Order, no Order Cancel or
Delete, and each execution of it is a Trade (``P``, non-cross: order reference number 0
and side ``B``, as ITCH 5.0 section 4.5.1 says since 2010 and 2014) instead of an Order
Executed, and its owner's fill has liquidity flag ``J`` (:data:`ADDED_HIDDEN`, OUCH 5.0
Appendix E: "Non-displayed adding liquidity"), not ``A``; a Replace that makes it
visible publishes its Add Order, one that hides a visible order its Order Delete. Why: the engine published every order, hidden ones included (an Add Order
for an OUCH Display ``N``, their executions as ``E``), so the feed showed what NASDAQ
hides and a client saw its own hidden order on the book. Tests:
``test_exchange_display.py``.

An attributed order (``attribution``: an MPID, for OUCH Display ``A``) is an Add Order
with MPID Attribution (``F``) instead of an Add Order (``A``). ITCH's Order Replace
cannot change attribution (4.4.5: "Firms should retain the side, stock symbol and MPID
from the original Add Order"), so a Replace that attributes an order or drops its
attribution publishes the original's Order Delete and the replacement's Add Order of the
right kind. Why: every displayed order went out as ``A``, the attribution the client
asked for lost. Test: ``test_exchange_display.py``.

Fills are reported to whoever owns the two sides through ``on_fill`` (a :class:`Fill` per
side), so the OUCH front ends can send Executed messages to their account. The engine owns
no socket and no clock beyond the ``clock`` callable: it is a sans-I/O core.

Prices and sizes are checked before anything changes: a price the feed cannot carry (not
in ``1..MAX_PRICE``, the largest ITCH Price(4)) or a size it cannot carry (not in
``1..MAX_FEED_SHARES``, the largest ITCH Shares(4)) is a :class:`MatchingError` with the
books, the reference numbers and the feed untouched, for :meth:`MatchingEngine.submit` and
:meth:`MatchingEngine.replace` (a crossing replace included: nothing is deleted). Why the
sizes: the accounts cap an order at 1,000,000 shares, but the engine is public (seed flow,
tests, a direct caller), and an order of 2**32 shares traded against the book before its
Add Order failed to encode, leaving trades behind an exception (tests:
``test_exchange_prices.py``, ``..._refuses_unpublishable_shares_...``). Each book change is published before it is
made, so a ``publish`` that raises leaves no order on a book that the feed never showed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from sortedcontainers import SortedDict
from tickwire.engine.book import LevelView
from tickwire.itch import (
    AddOrder,
    AddOrderMPID,
    Message,
    OrderCancel,
    OrderDelete,
    OrderExecuted,
    OrderReplace,
    StockDirectory,
    StockTradingAction,
    SystemEvent,
    Trade,
)
from tickwire.ouch.v50 import LiquidityFlag

__all__ = [
    "ADDED",
    "ADDED_HIDDEN",
    "MAX_FEED_SHARES",
    "MAX_PRICE",
    "REMOVED",
    "ExpiresAtClose",
    "Fill",
    "MatchingEngine",
    "MatchingError",
    "Resting",
    "valid_attribution",
    "valid_price",
    "valid_shares",
]

#: The largest price the ITCH feed can carry (Price(4), 1/10,000 dollar): OUCH 5.0's
#: Price(8) holds more, so every order entry checks against this before the book moves.
MAX_PRICE = 0xFFFF_FFFF


def valid_price(price: int) -> bool:
    """Whether ``price`` is a limit price the exchange can book and publish."""
    return 0 < price <= MAX_PRICE


#: The largest size the ITCH feed can carry (Shares(4) of Add Order and Order Replace):
#: every order and replace is checked against this before the book moves.
MAX_FEED_SHARES = 0xFFFF_FFFF


def valid_shares(shares: int) -> bool:
    """Whether ``shares`` is an order size the exchange can book and publish."""
    return 0 < shares <= MAX_FEED_SHARES


#: Liquidity flags of a :class:`Fill` (OUCH 5.0 Appendix E; the Order Executed carries
#: them): the resting side of a displayed order ``A`` (added), of a hidden one ``J``
#: ("Non-displayed adding liquidity"), the incoming side ``R`` (removed); the bytes are
#: :class:`tickwire.ouch.v50.LiquidityFlag`'s, which the backtest venues answer too.
ADDED: str = LiquidityFlag.ADDED.value
ADDED_HIDDEN: str = LiquidityFlag.ADDED_HIDDEN.value
REMOVED: str = LiquidityFlag.REMOVED.value


def valid_attribution(mpid: str) -> bool:
    """Whether ``mpid`` is an attribution the feed can carry (ITCH Alpha(4), ASCII; ""
    is none), checked with the size and price before anything changes: an Add Order with
    MPID that failed to encode after its order traded would leave trades behind an
    exception (the module docs)."""
    return len(mpid) <= 4 and mpid.isascii()


@runtime_checkable
class ExpiresAtClose(Protocol):
    """An order owner told of each of its resting orders at the End of Market Hours and
    at the End of System Hours."""

    def at_close(self, tag: object) -> None:
        """Cancel the order ``tag`` (through :meth:`MatchingEngine.cancel`) if it ends
        with market hours (a Day order); leave it otherwise."""

    def at_system_close(self, tag: object) -> None:
        """Cancel the order ``tag`` (through :meth:`MatchingEngine.cancel`): nothing
        outlives system hours."""


class MatchingError(ValueError):
    """A request the engine cannot carry out (unknown symbol or order, bad size or price)."""


@dataclass(slots=True, eq=False)
class Resting:
    """An order resting on a book. ``owner`` is the account (None: background flow)."""

    ref: int
    symbol: str
    side: str
    price: int
    shares: int
    owner: object | None = None
    tag: object | None = None  # the owner's key for the order (UserRefNum, token)
    displayed: bool = True  # False: hidden, never on the feed (the module docs)
    attribution: str = ""  # the MPID its Add Order names (F), or "": unattributed (A)


@dataclass(frozen=True, slots=True)
class Fill:
    """One side of one execution: ``liquidity`` is :data:`ADDED` (the maker; a hidden
    maker :data:`ADDED_HIDDEN`) or :data:`REMOVED` (the taker)."""

    owner: object | None
    tag: object | None
    symbol: str
    side: str
    shares: int
    price: int
    match_number: int
    liquidity: str
    order_reference_number: int


@dataclass(slots=True)
class _Book:
    locate: int
    symbol: str
    # price -> FIFO of resting orders (dicts keep insertion order: time priority; the
    # displayed ones before the hidden ones: _next_in_line)
    bids: SortedDict = field(default_factory=SortedDict)
    asks: SortedDict = field(default_factory=SortedDict)
    trading_state: str = "T"

    def side(self, side: str) -> SortedDict:
        return self.bids if side == "B" else self.asks

    def l2(self) -> tuple[list[LevelView], list[LevelView]]:
        """The displayed book: what the feed shows (hidden orders left out)."""

        def view(price: int, level: dict[int, Resting]) -> LevelView | None:
            shown = [o.shares for o in level.values() if o.displayed]
            return LevelView(price, sum(shown), len(shown)) if shown else None

        bids = [view(p, self.bids[p]) for p in reversed(self.bids.keys())]
        asks = [view(p, self.asks[p]) for p in self.asks]
        return [v for v in bids if v], [v for v in asks if v]


def _next_in_line(level: dict[int, Resting]) -> Resting:
    """The order at one price an incoming order executes against next: the oldest
    displayed one, else (none displayed) the oldest hidden one.

    Rule: NASDAQ matches by price, then display, then time: at a price every displayed
    order executes before any non-displayed (OUCH Display ``N``) one, whatever their
    arrival; hidden among hidden by time. The level keeps arrival order (a replace
    appends the replacement: a new timestamp, OUCH 5.0 section 2.2, and its new Display),
    so a Replace that hides an order puts it behind every displayed order there and after
    the older hidden ones, one that shows it behind the displayed orders already there.
    Why: the engine matched by time alone, so a hidden order that came first traded
    ahead of displayed ones (and the backtest venue, which queues our hidden orders
    behind all displayed volume, could not agree). Tests: ``test_exchange_display.py``
    (``test_displayed_orders_at_a_price_trade_before_hidden_ones_whatever_their_time``,
    ``test_a_replace_that_changes_display_moves_the_order_to_its_new_place``).
    """
    for o in level.values():
        if o.displayed:
            return o
    return next(iter(level.values()))


def _crosses(side: str, price: int, best: int) -> bool:
    return price >= best if side == "B" else price <= best


class MatchingEngine:
    """Price-display-time priority books for many instruments (see the module docs).

    ``publish(msg)`` receives every ITCH message in order; ``on_fill(fill)`` every side
    of every execution. ``clock()`` gives ITCH timestamps (ns since midnight).
    """

    def __init__(
        self,
        publish: Callable[[Message], None],
        on_fill: Callable[[Fill], None],
        clock: Callable[[], int],
    ) -> None:
        self.publish = publish
        self.on_fill = on_fill
        self.clock = clock
        self.books: dict[str, _Book] = {}
        self.by_locate: dict[int, _Book] = {}
        self.orders: dict[int, Resting] = {}
        self.next_ref = 1
        self.next_match = 1
        self.system_event = ""
        self.executions = 0

    # -- session and instruments ---------------------------------------------------------
    def system(self, code: str) -> None:
        """Publish a System Event (O, S, Q, M, E, C); at ``M`` Day orders expire, at ``E``
        every order of an owner left.

        Rule: after the End of Market Hours event (``M``) is published, each resting
        order whose owner is an :class:`ExpiresAtClose` (the OUCH accounts) is offered to
        it, oldest first (reference number order): the owner cancels its Day orders
        through :meth:`cancel`, so the feed shows each as an Order Delete and the owner
        answers Order Canceled, reason ``T``. The engine knows no time in force; the
        owner does. Why: Day orders rested past the close, where the backtest venue
        (``SimulatedVenue.on_market``) cancels them at ``M``, so a strategy met another
        day live. Tests: ``tests/test_exchange_venue_replace_parity.py::test_day_orders_are_canceled_at_the_end_of_market_hours_on_both``,
        ``test_exchange_hostile.py::test_day_orders_expire_at_the_close_and_the_feed_shows_it``.

        After the End of System Hours event (``E``) every such owner's resting order is
        offered to it alike (``at_system_close``), and the owner cancels it whatever its
        Time In Force (GTX, After Hours, GTT, 4.2 system hours): Order Delete on the feed,
        Order Canceled reason ``T``. Background flow (no owner) is the feed's own and
        stays. Why: those orders rested past the end of the system's day, where the
        backtest venue now cancels them at ``E``. Tests:
        ``tests/test_exchange_venue_replace_parity.py::test_every_order_left_is_canceled_at_the_end_of_system_hours_on_both``,
        ``test_exchange_hostile.py::test_every_order_left_expires_at_the_end_of_system_hours``.
        """
        self.system_event = code
        self.publish(SystemEvent(0, 0, self.clock(), code))
        if code in ("M", "E"):
            for o in list(self.orders.values()):
                if isinstance(o.owner, ExpiresAtClose) and o.ref in self.orders:
                    if code == "M":
                        o.owner.at_close(o.tag)
                    else:
                        o.owner.at_system_close(o.tag)

    def add_instrument(self, symbol: str, locate: int | None = None) -> int:
        """List ``symbol`` (Stock Directory, then Trading Action T); returns its locate."""
        if symbol in self.books:
            return self.books[symbol].locate
        if locate is None:
            locate = max(self.by_locate, default=0) + 1
        if locate in self.by_locate or not 0 < locate < 65536:
            raise MatchingError(f"locate {locate} is taken or out of range")
        book = _Book(locate, symbol)
        self.books[symbol] = book
        self.by_locate[locate] = book
        now = self.clock()
        self.publish(
            StockDirectory(
                locate,
                0,
                now,
                symbol,
                "Q",
                "N",
                100,
                "N",
                "C",
                "Z",
                "P",
                "N",
                "N",
                "1",
                "N",
                0,
                "N",
            )
        )
        self.set_trading_state(symbol, "T")
        return locate

    def set_trading_state(self, symbol: str, state: str) -> None:
        """Publish a Stock Trading Action (T trading, H halted, P paused, Q quotation)."""
        book = self._book(symbol)
        book.trading_state = state
        self.publish(StockTradingAction(book.locate, 0, self.clock(), symbol, state, " ", ""))

    def market_open(self) -> bool:
        """Whether market hours are on (the last System Event is ``Q``)."""
        return self.system_event == "Q"

    def is_trading(self, symbol: str) -> bool:
        """Whether ``symbol`` trades: market hours on and its trading state ``T``."""
        book = self.books.get(symbol)
        return book is not None and book.trading_state == "T" and self.market_open()

    def _book(self, symbol: str) -> _Book:
        book = self.books.get(symbol)
        if book is None:
            raise MatchingError(f"unknown symbol {symbol!r}")
        return book

    # -- orders ---------------------------------------------------------------------------
    def submit(
        self,
        symbol: str,
        side: str,
        shares: int,
        price: int,
        *,
        ioc: bool = False,
        owner: object | None = None,
        tag: object | None = None,
        hidden: bool = False,
        attribution: str = "",
    ) -> tuple[int, int, int]:
        """Match an incoming limit order, then rest what is left (unless ``ioc``).

        Returns ``(order reference number, shares executed, shares resting)``. Sell
        short variants (``T``, ``E``) trade as sells. A ``hidden`` order rests unseen,
        an ``attribution`` one is published as Add Order with MPID (the module docs).

        Only while the symbol trades (trading state ``T``) does it match: halted ``H``,
        paused ``P`` or quotation only ``Q`` (ITCH 5.0 4.2.2), NASDAQ executes no
        continuous order, so it rests, crossed or not (an IOC's shares go unexecuted).
        The accounts reject their own orders then (0x07); this holds for everyone else's
        (the seed flow, a direct caller), as the backtest venue's incoming orders fill
        none of ours in a halt (``SimulatedVenue._crossing``). Test:
        ``tests/test_exchange_venue_replace_parity.py::test_a_crossing_order_fills_nothing_in_a_halt_on_both``.
        """
        if not valid_shares(shares) or not valid_price(price):
            raise MatchingError(f"bad order: {shares} shares at {price}")
        if not valid_attribution(attribution):
            raise MatchingError(f"bad attribution {attribution!r}")
        book = self._book(symbol)
        side = "B" if side == "B" else "S"
        ref = self.next_ref
        self.next_ref += 1
        left = shares
        contra = book.side("S" if side == "B" else "B")
        while left and contra and book.trading_state == "T":
            best = contra.keys()[0 if side == "B" else -1]
            if not _crosses(side, price, best):
                break
            maker = _next_in_line(contra[best])
            qty = min(left, maker.shares)
            left -= qty
            self._execute(book, maker, qty, best, taker_owner=owner, taker_tag=tag, taker_ref=ref)
        resting = 0
        if left and not ioc:
            resting = left
            # Published first: a feed that fails leaves no order it never showed.
            o = Resting(ref, symbol, side, price, left, owner, tag, not hidden, attribution)
            if not hidden:
                self.publish(self._add_message(book, o))
            self.orders[ref] = o
            book.side(side).setdefault(price, {})[ref] = o
        return ref, shares - left, resting

    def _add_message(self, book: _Book, o: Resting) -> AddOrder | AddOrderMPID:
        """The Add Order showing ``o``: with MPID Attribution (``F``) when it has one."""
        now = self.clock()
        if o.attribution:
            return AddOrderMPID(
                book.locate, 0, now, o.ref, o.side, o.shares, o.symbol, o.price, o.attribution
            )
        return AddOrder(book.locate, 0, now, o.ref, o.side, o.shares, o.symbol, o.price)

    def _execute(
        self,
        book: _Book,
        maker: Resting,
        qty: int,
        price: int,
        *,
        taker_owner: object | None,
        taker_tag: object | None,
        taker_ref: int,
    ) -> None:
        match = self.next_match
        self.next_match += 1
        self.executions += 1
        if maker.displayed:
            self.publish(OrderExecuted(book.locate, 0, self.clock(), maker.ref, qty, match))
        else:  # ITCH 5.0 4.5.1: reference number 0, side "B" whatever the resting side
            self.publish(
                Trade(book.locate, 0, self.clock(), 0, "B", qty, book.symbol, price, match)
            )
        self._reduce(book, maker, qty)
        flag = ADDED if maker.displayed else ADDED_HIDDEN
        self.on_fill(
            Fill(
                maker.owner, maker.tag, book.symbol, maker.side, qty, price, match, flag, maker.ref
            )
        )
        taker_side = "S" if maker.side == "B" else "B"
        self.on_fill(
            Fill(
                taker_owner,
                taker_tag,
                book.symbol,
                taker_side,
                qty,
                price,
                match,
                REMOVED,
                taker_ref,
            )
        )

    def _reduce(self, book: _Book, o: Resting, qty: int) -> None:
        o.shares -= qty
        if o.shares <= 0:
            levels = book.side(o.side)
            level = levels[o.price]
            del level[o.ref]
            if not level:
                del levels[o.price]
            del self.orders[o.ref]

    def new_ref(self) -> int:
        """A fresh order reference number, for an order that never reaches a book.

        Rule: taken from the numbers :meth:`submit` and :meth:`replace` give, so it is
        never another order's; nothing is published (the feed never shows the order).
        Why: an OUCH 5.0 Replace that leaves the replacement dead answers an Order
        Replaced, which carries the replacement's order reference number; the account
        answered 0 where the backtest venue gives a fresh number. Test:
        ``tests/test_exchange_venue_replace_parity.py::test_a_replace_at_or_below_the_executed_shares_replaces_the_order_dead_on_both``.
        """
        ref = self.next_ref
        self.next_ref += 1
        return ref

    def execute(self, ref: int, shares: int) -> int:
        """Execute up to ``shares`` of a resting order against hidden contra flow
        (replayed executions of a seed file); returns the shares executed."""
        o = self.orders.get(ref)
        if o is None:
            return 0
        qty = min(shares, o.shares)
        self._execute(
            self.books[o.symbol], o, qty, o.price, taker_owner=None, taker_tag=None, taker_ref=0
        )
        return qty

    def cancel(self, ref: int, remaining: int = 0) -> int:
        """Reduce a resting order to ``remaining`` shares (0 deletes it); returns the
        shares cancelled (0 when the order is gone or already that small)."""
        o = self.orders.get(ref)
        if o is None or remaining >= o.shares:
            return 0
        book = self.books[o.symbol]
        dec = o.shares - remaining
        if not o.displayed:
            pass  # the feed never showed it
        elif remaining == 0:
            self.publish(OrderDelete(book.locate, 0, self.clock(), ref))
        else:
            self.publish(OrderCancel(book.locate, 0, self.clock(), ref, dec))
        self._reduce(book, o, dec)
        return dec

    def replace(
        self,
        ref: int,
        shares: int,
        price: int,
        *,
        tag: object | None = None,
        ioc: bool = False,
        hidden: bool | None = None,
        attribution: str | None = None,
    ) -> tuple[int, int, int] | None:
        """Replace a resting order (new reference number, time priority lost).

        A replace that does not cross is published as Order Replace (``U``); one that
        crosses is a delete plus a new order that matches first. Returns like
        :meth:`submit`, or None when the order is gone.

        Rule: an ``ioc`` replacement (OUCH 5.0 Time In Force ``3``) never rests: the
        original is deleted (Order Delete) and the replacement matches what it crosses, as
        :meth:`submit` with ``ioc``; the rest is the caller's to cancel. Why: the engine
        rested it as if it were Day, where the backtest venue cancels its unexecuted rest
        (reason ``I``). Test:
        ``tests/test_exchange_venue_replace_parity.py::test_a_replace_to_ioc_never_rests_on_both``.

        ``hidden`` (None: as the original) is the replacement's display: a hidden
        replacement of a hidden order publishes nothing, of a visible one the original's
        Order Delete; a visible replacement of a hidden order its Add Order.
        ``attribution`` (None: as the original) is the replacement's MPID, or "": a
        change of it is the original's Order Delete and the replacement's Add Order (the
        module docs; test: ``test_exchange_display.py``).
        """
        o = self.orders.get(ref)
        if o is None:
            return None
        if not valid_shares(shares) or not valid_price(price):
            raise MatchingError(f"bad replace: {shares} shares at {price}")
        if attribution is not None and not valid_attribution(attribution):
            raise MatchingError(f"bad attribution {attribution!r}")
        book = self.books[o.symbol]
        contra = book.side("S" if o.side == "B" else "B")
        best = None if not contra else contra.keys()[0 if o.side == "B" else -1]
        new_tag = o.tag if tag is None else tag
        hide = not o.displayed if hidden is None else hidden
        mpid = o.attribution if attribution is None else attribution
        if ioc or (best is not None and _crosses(o.side, price, best)):
            self.cancel(ref)
            return self.submit(
                o.symbol, o.side, shares, price, ioc=ioc, owner=o.owner, tag=new_tag,
                hidden=hide, attribution=mpid,
            )  # fmt: skip
        new = self.next_ref
        now = self.clock()
        n = Resting(new, o.symbol, o.side, price, shares, o.owner, new_tag, not hide, mpid)
        if o.displayed and not hide and mpid == o.attribution:
            self.publish(OrderReplace(book.locate, 0, now, ref, new, shares, price))
        else:  # hidden, shown or (un)attributed from now on
            if o.displayed:
                self.publish(OrderDelete(book.locate, 0, now, ref))
            if not hide:
                self.publish(self._add_message(book, n))
        self.next_ref += 1
        self._reduce(book, o, o.shares)
        self.orders[new] = n
        book.side(o.side).setdefault(price, {})[new] = n
        return new, 0, shares

    # -- views ----------------------------------------------------------------------------
    def l2(self, symbol: str) -> tuple[list[LevelView], list[LevelView]]:
        """Every displayed level of each side, best first (same shape as the engine's
        books): what the feed shows, hidden orders left out (:meth:`resting_orders` has
        them all)."""
        return self._book(symbol).l2()

    def resting_orders(self, symbol: str | None = None) -> Iterator[Resting]:
        for o in self.orders.values():
            if symbol is None or o.symbol == symbol:
                yield o
