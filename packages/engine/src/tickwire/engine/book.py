"""Full-depth (L3) order books per instrument, built from ITCH 5.0 messages.

Data structures, chosen to be clear and not slow:

* one :class:`OrderBook` per stock locate, with two ``sortedcontainers.SortedDict``
  sides mapping price -> :class:`Level` (best bid is the last key, best ask the first);
* each :class:`Level` keeps its orders in a plain ``dict`` used as a FIFO: Python dicts
  keep insertion order and delete in O(1), so time priority, O(1) cancels from the
  middle of a queue and "queue ahead" come from one structure;
* one ``dict`` order reference -> :class:`Order` for the whole feed (ITCH order
  reference numbers are unique across instruments for the day), so E, C, X, D and U
  find their order in O(1) whatever locate they carry.

Faults never crash the book. A message that refers to an order not (yet) in the book is
held for a short *reorder window* (``reorder_window`` messages, 64 by default): feeds and
test files do deliver a delete or an execution a few messages before the add it refers
to (NASDAQ's own ``ex20101224.TEST_ITCH_50`` does, 117 times, at most 9 messages early),
and applying it when the add arrives rebuilds the book the exchange meant. A held
message whose order never shows up within the window is dropped and counted in
``unknown_references`` (held messages still pending count there too). An add onto a live reference evicts
the stale order first (``duplicate_references``); an execution or cancel larger than
the order removes it (``clamped``); an add or replace with zero shares or a zero price is
not booked (``rejected``). These are the rules itch-book documents, so both books can be
compared message by message. A Stock Directory that gives a locate the feed had named
another symbol is counted (``renamed_locates``): the old symbol has no book from then on
(:func:`name_locate`). An add whose side is neither ``B`` nor ``S`` is not booked
either (``rejected``): it is no order, and read as a sell it would stand on the ask and
cross a backtest's bids (test: ``test_faults_are_counted_never_raised``).

A message of a type ITCH 5.0 does not define never reaches a book: the reader that frames
the feed skips it by its length prefix, as the specification has receivers do with types
newer than they are, and counts it (:func:`tickwire.itch.decode_binaryfile`'s
``stats.skipped``, the compiled book's own ``skipped``, a capture's ``unknown_types``).
The commands report that count as ``unknown_types`` beside the book's
(:func:`book_summary`, :func:`unknown_types_phrase`): skipped, never dropped unsaid.
"""

from __future__ import annotations

import operator
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sortedcontainers import SortedDict
from tickwire.itch import (
    NOII,
    AddOrder,
    AddOrderMPID,
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
)

__all__ = [
    "BBO",
    "NO_BOOK",
    "BookInvariantError",
    "BookManager",
    "BookStats",
    "Level",
    "LevelView",
    "Order",
    "OrderBook",
    "TapePrint",
    "TopLevels",
    "book_locate",
    "filed_locate",
    "name_locate",
    "unknown_types_phrase",
]

BUY = "B"
SELL = "S"


class BookInvariantError(AssertionError):
    """A book invariant does not hold (a bug in the book, never bad input)."""


class BBO(NamedTuple):
    """Best bid and offer: ``None`` price and 0 size for an empty side."""

    bid_price: int | None
    bid_size: int
    ask_price: int | None
    ask_size: int


class LevelView(NamedTuple):
    """One aggregated price level (L2): price, total shares, number of orders."""

    price: int
    shares: int
    orders: int


#: :meth:`OrderBook.top_levels`: (bids, asks), each side best first as (price, shares).
TopLevels = tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]


class Order:
    """A resting order. ``level`` is the level it queues in (for O(1) removal)."""

    __slots__ = ("book", "level", "price", "ref", "shares", "side")

    def __init__(
        self, ref: int, side: str, price: int, shares: int, book: OrderBook, level: Level
    ) -> None:
        self.ref = ref
        self.side = side
        self.price = price
        self.shares = shares
        self.book = book
        self.level = level

    @property
    def locate(self) -> int:
        """The stock locate of the book the order rests in (the compiled book's
        ``OrderInfo.locate``): where a message naming the order works, whatever locate
        that message carries (the module docs)."""
        return self.book.locate

    def __repr__(self) -> str:
        return (
            f"Order(ref={self.ref}, side={self.side!r}, price={self.price}, shares={self.shares})"
        )


class Level:
    """A price level: total shares and the FIFO of its orders (insertion-ordered dict)."""

    __slots__ = ("orders", "price", "shares")

    def __init__(self, price: int) -> None:
        self.price = price
        self.shares = 0
        self.orders: dict[int, Order] = {}

    def view(self) -> LevelView:
        return LevelView(self.price, self.shares, len(self.orders))


@dataclass(frozen=True, slots=True)
class TapePrint:
    """One print on the tape: an execution (E, C), a trade (P), a cross (Q) or a break (B).

    ``kind`` is the ITCH type letter; ``price``/``shares`` are 0 for a break; ``side``
    is the resting side for E/C, the message's side for P (``""`` when that byte is NUL:
    the compiled book and its trades recorder keep a side as one byte, 0 for none),
    ``""`` otherwise.
    """

    kind: str
    stock_locate: int
    timestamp: int
    match_number: int
    price: int
    shares: int
    side: str = ""
    order_reference_number: int = 0


class OrderBook:
    """The full-depth book of one instrument, plus its instrument state."""

    def __init__(self, locate: int, symbol: str = "") -> None:
        self.locate = locate
        self.symbol = symbol
        self.bids: SortedDict = SortedDict()  # price -> Level; best bid = last key
        self.asks: SortedDict = SortedDict()  # price -> Level; best ask = first key
        self.order_count = 0
        # Instrument state, from the administrative messages (last one of each kind).
        self.directory: StockDirectory | None = None
        self.trading_state: str = ""
        self.trading_action: StockTradingAction | None = None
        self.reg_sho: RegSHORestriction | None = None
        self.participants: dict[str, MarketParticipantPosition] = {}
        self.ipo_quoting: IPOQuotingPeriodUpdate | None = None
        self.luld_collar: LULDAuctionCollar | None = None
        self.operational_halts: dict[str, OperationalHalt] = {}
        self.noii: NOII | None = None
        self.rpii: RetailPriceImprovementIndicator | None = None
        self.dlcr: DLCRPriceDiscovery | None = None

    # -- queries --------------------------------------------------------------------
    def bbo(self) -> BBO:
        """Best bid and offer."""
        bids, asks = self.bids, self.asks
        if bids:
            bp, bl = bids.peekitem(-1)
            bid: tuple[int | None, int] = (bp, bl.shares)
        else:
            bid = (None, 0)
        if asks:
            ap, al = asks.peekitem(0)
            return BBO(bid[0], bid[1], ap, al.shares)
        return BBO(bid[0], bid[1], None, 0)

    def depth(self, n: int) -> tuple[list[LevelView], list[LevelView]]:
        """The top ``n`` levels of each side, best first: (bids, asks)."""
        if n <= 0:
            return [], []
        first_bid = max(len(self.bids) - n, 0)
        bids = [self.bids[p].view() for p in self.bids.islice(first_bid, reverse=True)]
        asks = [self.asks[p].view() for p in self.asks.islice(0, n)]
        return bids, asks

    def top_levels(self, n: int) -> TopLevels:
        """The top ``n`` levels of each side, best first, as (price, total shares) pairs:
        ((bids), (asks)). What ``Consumes(book="depth", depth=n)`` compares from one book
        message to the next (order counts are not compared, as ``"bbo"`` compares none)."""
        if n <= 0:
            return (), ()
        bids, asks = self.bids, self.asks
        first_bid = max(len(bids) - n, 0)
        return (
            tuple([(p, bids[p].shares) for p in bids.islice(first_bid, reverse=True)]),
            tuple([(p, asks[p].shares) for p in asks.islice(0, n)]),
        )

    def l2(self) -> tuple[list[LevelView], list[LevelView]]:
        """Every level of each side, best first: (bids, asks)."""
        return (
            [lvl.view() for lvl in reversed(self.bids.values())],
            [lvl.view() for lvl in self.asks.values()],
        )

    @property
    def level_count(self) -> int:
        return len(self.bids) + len(self.asks)

    def orders_at(self, side: str, price: int) -> list[Order]:
        """The FIFO queue at one price, first in line first."""
        levels = self.bids if side == BUY else self.asks
        lvl = levels.get(price)
        return list(lvl.orders.values()) if lvl is not None else []

    def prices_through(self, side: str, limit: int) -> list[int]:
        """The prices of ``side``'s levels that an order of the other side limited at
        ``limit`` reaches, best first: asks at or below ``limit`` (``side`` "S"), bids at
        or above it (``side`` "B")."""
        if side == BUY:
            return list(self.bids.irange(minimum=limit, reverse=True))
        return list(self.asks.irange(maximum=limit))

    def crossed(self) -> bool:
        """True when the best bid is at or above the best ask (locked or crossed)."""
        return bool(self.bids and self.asks and self.bids.keys()[-1] >= self.asks.keys()[0])

    def invariant_violations(self, *, allow_crossed: bool = True) -> list[str]:
        """Every broken invariant, described; empty when the book is sound."""
        problems: list[str] = []
        count = 0
        for side, levels in ((BUY, self.bids), (SELL, self.asks)):
            for price, lvl in levels.items():
                if lvl.price != price:
                    problems.append(f"{side} level keyed {price} says {lvl.price}")
                if not lvl.orders:
                    problems.append(f"{side} level {price} is empty but present")
                total = 0
                for ref, order in lvl.orders.items():
                    total += order.shares
                    count += 1
                    if order.ref != ref or order.level is not lvl or order.book is not self:
                        problems.append(f"order {ref} is filed in the wrong place")
                    if order.side != side or order.price != price or order.shares <= 0:
                        problems.append(f"order {ref} disagrees with its level {side}{price}")
                if total != lvl.shares:
                    problems.append(f"{side} level {price}: total {lvl.shares} != sum {total}")
        if count != self.order_count:
            problems.append(f"order count {self.order_count} != {count} orders in levels")
        if not allow_crossed and self.crossed():
            problems.append(
                f"book crossed: bid {self.bids.keys()[-1]} >= ask {self.asks.keys()[0]}"
            )
        return problems


def _queue_ahead(order: Order) -> tuple[int, int]:
    shares = 0
    for count, other in enumerate(order.level.orders.values()):
        if other is order:
            return shares, count
        shares += other.shares
    raise BookInvariantError(f"order {order.ref} is not in its level")  # pragma: no cover


@dataclass(slots=True)
class BookStats:
    """Counters of what the manager saw and how it handled faults."""

    messages: int = 0
    unknown_references: int = 0
    reordered: int = 0
    duplicate_references: int = 0
    clamped: int = 0
    rejected: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    #: Stock Directories that gave a book the feed had named another symbol
    #: (:func:`name_locate`: the old symbol has no book until a directory names one).
    renamed_locates: int = 0


class BookManager:
    """Books for every instrument of a feed, fed ITCH messages in feed order.

    ``apply(msg)`` takes one decoded message; ``feed(messages)`` an iterable of them;
    :mod:`tickwire.engine.sources` reads them from a BinaryFILE or a MoldUDP64 capture.
    ``on_print`` receives every :class:`TapePrint` (E, printable C, P, Q, B).
    """

    def __init__(
        self,
        on_print: Callable[[TapePrint], None] | None = None,
        *,
        reorder_window: int = 64,
    ) -> None:
        if reorder_window < 0:
            raise ValueError(f"reorder_window must be >= 0, got {reorder_window}")
        self.reorder_window = reorder_window
        self._pending: dict[int, list[Message]] = {}
        self._expiry: deque[tuple[int, int]] = deque()  # (expires after message n, ref)
        self.books: dict[int, OrderBook] = {}
        #: Symbol -> the stock locate of its book (:func:`name_locate`; :meth:`locate_of`).
        self.locates: dict[str, int] = {}
        self.orders: dict[int, Order] = {}
        self.stats = BookStats()
        self.on_print = on_print
        #: Called with each message held in the reorder window just before it is applied
        #: (:meth:`_resolve`): the backtest venue's queue model sees it then, as it sees
        #: every other message before the book (``SimulatedVenue._held``, which sets it).
        self.on_held: Callable[[Message], None] | None = None
        self.system_event: str = ""
        self.mwcb_levels: MWCBDeclineLevel | None = None
        self.mwcb_status: MWCBStatus | None = None
        self._dispatch: dict[str, Callable[[Message], None]] = {
            "A": self._add,  # type: ignore[dict-item]
            "F": self._add,  # type: ignore[dict-item]
            "E": self._executed,  # type: ignore[dict-item]
            "C": self._executed_with_price,  # type: ignore[dict-item]
            "X": self._cancel,  # type: ignore[dict-item]
            "D": self._delete,  # type: ignore[dict-item]
            "U": self._replace,  # type: ignore[dict-item]
            "P": self._trade,  # type: ignore[dict-item]
            "Q": self._cross,  # type: ignore[dict-item]
            "B": self._broken,  # type: ignore[dict-item]
            "R": self._directory,  # type: ignore[dict-item]
            "S": self._system,  # type: ignore[dict-item]
            "H": self._trading_action,  # type: ignore[dict-item]
            "Y": self._reg_sho,  # type: ignore[dict-item]
            "L": self._participant,  # type: ignore[dict-item]
            "V": self._mwcb_levels,  # type: ignore[dict-item]
            "W": self._mwcb_status,  # type: ignore[dict-item]
            "K": self._ipo,  # type: ignore[dict-item]
            "J": self._luld,  # type: ignore[dict-item]
            "h": self._operational_halt,  # type: ignore[dict-item]
            "I": self._noii,  # type: ignore[dict-item]
            "N": self._rpii,  # type: ignore[dict-item]
            "O": self._dlcr,  # type: ignore[dict-item]
        }

    # -- feeding --------------------------------------------------------------------
    def apply(self, msg: Message) -> None:
        """Apply one decoded ITCH message."""
        t = msg.message_type
        stats = self.stats
        by_type = stats.by_type
        by_type[t] = by_type.get(t, 0) + 1
        stats.messages += 1
        if self._expiry and self._expiry[0][0] < stats.messages:
            self._expire(stats.messages)
        handler = self._dispatch.get(t)
        if handler is not None:
            handler(msg)

    def feed(self, messages: Iterable[Message]) -> None:
        """Apply every message of ``messages`` in order (``apply`` inlined: the hot loop)."""
        stats = self.stats
        by_type = stats.by_type
        dispatch = self._dispatch
        expiry = self._expiry
        n = stats.messages
        for msg in messages:
            t = msg.message_type
            n += 1
            stats.messages = n
            by_type[t] = by_type.get(t, 0) + 1
            if expiry and expiry[0][0] < n:
                self._expire(n)
            handler = dispatch.get(t)
            if handler is not None:
                handler(msg)

    # -- queries --------------------------------------------------------------------
    def book(self, locate: int) -> OrderBook:
        """The book of ``locate`` (created empty on first use)."""
        b = self.books.get(locate)
        if b is None:
            b = self.books[locate] = OrderBook(locate)
        return b

    @property
    def unknown_references(self) -> int:
        """Messages whose order never appeared: dropped ones plus those still held."""
        return self.stats.unknown_references + self.pending

    @property
    def pending(self) -> int:
        """Messages held in the reorder window, waiting for their order's add."""
        return sum(len(v) for v in self._pending.values())

    def _orphan(self, ref: int, msg: Message) -> None:
        """Hold a message for an order not in the book (or count it, window 0)."""
        if self.reorder_window == 0:
            self.stats.unknown_references += 1
            return
        held = self._pending.get(ref)
        if held is None:
            self._pending[ref] = [msg]
            self._expiry.append((self.stats.messages + self.reorder_window, ref))
        else:
            held.append(msg)

    def _expire(self, now: int) -> None:
        expiry, pending = self._expiry, self._pending
        while expiry and expiry[0][0] < now:
            _, ref = expiry.popleft()
            held = pending.pop(ref, None)
            if held is not None:
                self.stats.unknown_references += len(held)

    def _resolve(self, ref: int) -> None:
        """Apply the messages held for ``ref``, now that its order is in the book."""
        held = self._pending.pop(ref)
        self.stats.reordered += len(held)
        for msg in held:
            if self.on_held is not None:
                self.on_held(msg)
            self._dispatch[msg.message_type](msg)

    def bbo(self, locate: int) -> BBO:
        b = self.books.get(locate)
        return b.bbo() if b is not None else BBO(None, 0, None, 0)

    def locate_of(self, symbol: str) -> int | None:
        """The stock locate of ``symbol``'s book: the one its latest Stock Directory named,
        else the first book that carried its name (:func:`name_locate`); None for a
        symbol the feed has not named or whose book a directory renamed
        (:func:`book_locate`)."""
        return book_locate(self.locates, symbol)

    def order_locate(self, order_reference_number: int) -> int:
        """The stock locate of the book filing live order ``order_reference_number`` (where
        a message naming it works, the module docs), or -1 when no live order has it.
        The compiled book's alike, without making an ``OrderInfo``: the strategy
        context asks it of every message naming an order (:func:`filed_locate`)."""
        order = self.orders.get(order_reference_number)
        return -1 if order is None else order.book.locate

    def queue_ahead(self, order_reference_number: int) -> tuple[int, int]:
        """(shares, orders) ahead of a live order in its price level's FIFO."""
        order = self.orders.get(order_reference_number)
        if order is None:
            raise KeyError(f"no live order {order_reference_number}")
        return _queue_ahead(order)

    def in_continuous_trading(self, locate: int) -> bool:
        """Market hours (system events Q..M) and the instrument trading (H state T)."""
        b = self.books.get(locate)
        return self.system_event == "Q" and b is not None and b.trading_state in ("T", "")

    def invariant_violations(self, *, crossed: bool = True) -> list[str]:
        """Every broken invariant over all books: level totals, filing, order counts,
        the reference index, and (``crossed=True``) no crossed or locked book during
        continuous trading. Crosses, halts and the pre- and post-market may cross."""
        problems: list[str] = []
        live = 0
        for locate, b in self.books.items():
            allow = not crossed or not self.in_continuous_trading(locate)
            problems += [
                f"locate {locate}: {p}" for p in b.invariant_violations(allow_crossed=allow)
            ]
            live += b.order_count
        if live != len(self.orders):
            problems.append(f"{len(self.orders)} indexed orders != {live} orders in books")
        for ref, order in self.orders.items():
            if order.level.orders.get(ref) is not order:
                problems.append(f"indexed order {ref} is not in its level")
        return problems

    def check_invariants(self, *, crossed: bool = True) -> None:
        """Raise :class:`BookInvariantError` listing every broken invariant."""
        problems = self.invariant_violations(crossed=crossed)
        if problems:
            raise BookInvariantError("; ".join(problems[:20]))

    def summary(self, *, unknown_types: int = 0) -> dict[str, object]:
        """The JSON object of ``python -m tickwire.engine book --json`` (``unknown_types``:
        the messages the reader that fed the books skipped, :func:`book_summary`)."""
        return book_summary(
            self.books, self.unknown_references, self.stats, unknown_types=unknown_types
        )

    def iter_orders(self) -> Iterator[Order]:
        return iter(self.orders.values())

    # -- book-changing messages --------------------------------------------------------
    def _insert(self, book: OrderBook, ref: int, side: str, price: int, shares: int) -> None:
        levels = book.bids if side == BUY else book.asks
        lvl = levels.get(price)
        if lvl is None:
            lvl = levels[price] = Level(price)
        order = Order(ref, side, price, shares, book, lvl)
        lvl.orders[ref] = order
        lvl.shares += shares
        book.order_count += 1
        self.orders[ref] = order
        if self._pending and ref in self._pending:
            self._resolve(ref)

    def _remove(self, order: Order) -> None:
        lvl = order.level
        del lvl.orders[order.ref]
        lvl.shares -= order.shares
        book = order.book
        book.order_count -= 1
        if not lvl.orders:
            del (book.bids if order.side == BUY else book.asks)[lvl.price]
        del self.orders[order.ref]

    def _reduce(self, order: Order, shares: int) -> None:
        if shares >= order.shares:
            if shares > order.shares:
                self.stats.clamped += 1
            self._remove(order)
        else:
            order.shares -= shares
            order.level.shares -= shares

    def _add(self, msg: AddOrder | AddOrderMPID) -> None:
        # The most frequent message: _insert is inlined here (same steps).
        ref = msg.order_reference_number
        orders = self.orders
        if ref in orders:
            self.stats.duplicate_references += 1
            self._remove(orders[ref])
        shares = msg.shares
        price = msg.price
        indicator = msg.buy_sell_indicator
        if not shares or not price or (indicator != BUY and indicator != SELL):
            self.stats.rejected += 1
            return
        book = self.books.get(msg.stock_locate)
        if book is None:
            book = self.book(msg.stock_locate)
            book.symbol = msg.stock
            name_locate(self.locates, msg.stock, msg.stock_locate, directory=False)
        if indicator == BUY:
            side, levels = BUY, book.bids
        else:
            side, levels = SELL, book.asks
        lvl = levels.get(price)
        if lvl is None:
            lvl = levels[price] = Level(price)
        order = Order(ref, side, price, shares, book, lvl)
        lvl.orders[ref] = order
        lvl.shares += shares
        book.order_count += 1
        orders[ref] = order
        if self._pending and ref in self._pending:
            self._resolve(ref)

    def _executed(self, msg: OrderExecuted) -> None:
        order = self.orders.get(msg.order_reference_number)
        if order is None:
            self._orphan(msg.order_reference_number, msg)
            return
        if self.on_print is not None:
            self.on_print(
                TapePrint(
                    "E",
                    order.book.locate,
                    msg.timestamp,
                    msg.match_number,
                    order.price,
                    min(msg.executed_shares, order.shares),
                    order.side,
                    order.ref,
                )
            )
        self._reduce(order, msg.executed_shares)

    def _executed_with_price(self, msg: OrderExecutedWithPrice) -> None:
        order = self.orders.get(msg.order_reference_number)
        if order is None:
            self._orphan(msg.order_reference_number, msg)
            return
        if self.on_print is not None and msg.printable == "Y":
            self.on_print(
                TapePrint(
                    "C",
                    order.book.locate,
                    msg.timestamp,
                    msg.match_number,
                    msg.execution_price,
                    min(msg.executed_shares, order.shares),
                    order.side,
                    order.ref,
                )
            )
        self._reduce(order, msg.executed_shares)

    def _cancel(self, msg: OrderCancel) -> None:
        order = self.orders.get(msg.order_reference_number)
        if order is None:
            self._orphan(msg.order_reference_number, msg)
            return
        self._reduce(order, msg.cancelled_shares)

    def _delete(self, msg: OrderDelete) -> None:
        order = self.orders.get(msg.order_reference_number)
        if order is None:
            self._orphan(msg.order_reference_number, msg)
            return
        self._remove(order)

    def _replace(self, msg: OrderReplace) -> None:
        old = self.orders.get(msg.original_order_reference_number)
        if old is None:
            self._orphan(msg.original_order_reference_number, msg)
            return
        self._remove(old)
        new_ref = msg.new_order_reference_number
        stale = self.orders.get(new_ref)
        if stale is not None:
            self.stats.duplicate_references += 1
            self._remove(stale)
        if msg.shares == 0 or msg.price == 0:
            self.stats.rejected += 1
            return
        # A replace loses time priority: the new order joins the back of its level.
        self._insert(old.book, new_ref, old.side, msg.price, msg.shares)

    # -- tape -------------------------------------------------------------------------
    def _trade(self, msg: Trade) -> None:
        if self.on_print is not None:
            self.on_print(
                TapePrint(
                    "P",
                    msg.stock_locate,
                    msg.timestamp,
                    msg.match_number,
                    msg.price,
                    msg.shares,
                    str(msg.buy_sell_indicator).strip("\x00"),
                    msg.order_reference_number,
                )
            )

    def _cross(self, msg: CrossTrade) -> None:
        if self.on_print is not None:
            self.on_print(
                TapePrint(
                    "Q",
                    msg.stock_locate,
                    msg.timestamp,
                    msg.match_number,
                    msg.cross_price,
                    msg.shares,
                )
            )

    def _broken(self, msg: BrokenTrade) -> None:
        if self.on_print is not None:
            self.on_print(TapePrint("B", msg.stock_locate, msg.timestamp, msg.match_number, 0, 0))

    # -- instrument and market state ------------------------------------------------------
    def _directory(self, msg: StockDirectory) -> None:
        b = self.book(msg.stock_locate)
        previous, b.symbol = b.symbol, msg.stock
        b.directory = msg
        if name_locate(
            self.locates, msg.stock, msg.stock_locate, directory=True, previous=previous
        ):
            self.stats.renamed_locates += 1

    def _system(self, msg: SystemEvent) -> None:
        self.system_event = str(msg.event_code)

    def _trading_action(self, msg: StockTradingAction) -> None:
        b = self.book(msg.stock_locate)
        b.trading_state = str(msg.trading_state)
        b.trading_action = msg
        if not b.symbol:
            b.symbol = msg.stock
            name_locate(self.locates, msg.stock, msg.stock_locate, directory=False)

    def _reg_sho(self, msg: RegSHORestriction) -> None:
        self.book(msg.stock_locate).reg_sho = msg

    def _participant(self, msg: MarketParticipantPosition) -> None:
        self.book(msg.stock_locate).participants[msg.mpid] = msg

    def _mwcb_levels(self, msg: MWCBDeclineLevel) -> None:
        self.mwcb_levels = msg

    def _mwcb_status(self, msg: MWCBStatus) -> None:
        self.mwcb_status = msg

    def _ipo(self, msg: IPOQuotingPeriodUpdate) -> None:
        self.book(msg.stock_locate).ipo_quoting = msg

    def _luld(self, msg: LULDAuctionCollar) -> None:
        self.book(msg.stock_locate).luld_collar = msg

    def _operational_halt(self, msg: OperationalHalt) -> None:
        self.book(msg.stock_locate).operational_halts[str(msg.market_code)] = msg

    def _noii(self, msg: NOII) -> None:
        self.book(msg.stock_locate).noii = msg

    def _rpii(self, msg: RetailPriceImprovementIndicator) -> None:
        self.book(msg.stock_locate).rpii = msg

    def _dlcr(self, msg: DLCRPriceDiscovery) -> None:
        self.book(msg.stock_locate).dlcr = msg


#: The ``locates`` value (symbol -> stock locate) of a symbol whose book a later Stock
#: Directory gave another symbol: it has no book until a directory names one for it
#: (:func:`name_locate`). Never a stock locate (ITCH's are 16-bit, unsigned), so no book
#: has it: ``books.get(NO_BOOK)`` is None; ``locate_of`` says None.
NO_BOOK = -1


def name_locate(
    locates: dict[str, int],
    symbol: str,
    locate: int,
    *,
    directory: bool,
    previous: str = "",
) -> bool:
    """Record in ``locates`` (symbol -> stock locate) that the book of ``locate`` is named
    ``symbol``: by a Stock Directory (``directory``; ``previous``: the book's name before
    it, "" for a book the feed had not named), or else by the first message that named it
    (an add's stock, a Stock Trading Action's, for a book the feed built without a
    directory). The rule: **a symbol is the book its latest Stock Directory named**; a
    symbol no directory named is the first book that carried its name; **a symbol whose
    book a directory gave another symbol has no book** (``locates`` says :data:`NO_BOOK`)
    until a directory names one for it (an add or a trading action carrying its name
    does not). Returns whether the directory renamed a book the feed had named otherwise
    (``previous`` not ``symbol``): a feed fault, which the book managers count
    (``BookStats.renamed_locates``, :func:`fault_counts`).

    Why the latest: a Stock Directory re-sent for a symbol at another locate (a live feed
    that re-numbers an instrument, two days in one file) says where the symbol's orders
    are from then on; the earlier book keeps its orders and its name but is no longer the
    symbol's. Why no book after a rename: a directory that gives locate 1 (AAA's) the
    symbol BBB says locate 1's orders are BBB's from then on; AAA still pointing there,
    ``ctx.book("AAA")`` was BBB's book, an order of AAA rested and filled in BBB's book,
    and the report marked AAA at BBB's prices. With no book, an Enter of AAA is Rejected
    0x17 Invalid Symbol, the strategy gets no events and risk no mark of AAA, and the
    report keeps AAA's last mark. Every layer that maps a symbol to a book follows it,
    through this one function: the book managers (``BookManager.locate_of``, the
    compiled book's alike), so both backtest venues (where an order of the symbol rests
    and fills) and the report's marks; the strategy context (``ctx.book``,
    ``ctx.is_trading``, and which book's messages reach the strategy and risk's mark:
    none of a book its symbol left), and with it the compiled core's routes and the live
    runner. It costs the compiled core one dict write per directory or new book.
    (``engine export`` refuses such a day instead: one pair of LOBSTER files follows one
    book, ``lobster._one_locate``.) Tests:
    ``test_engine_backtest_core.py::test_engine_backtest_core_a_symbol_is_the_book_its_last_directory_named``,
    ``test_engine_backtest_core.py::test_engine_backtest_core_a_symbol_whose_book_a_directory_renamed_has_none``."""
    if not symbol or not (directory or symbol not in locates):
        return False
    locates[symbol] = locate
    if not previous or previous == symbol:
        return False
    if locates.get(previous) == locate:  # its book is the renamed one: it has none now
        locates[previous] = NO_BOOK
    return True


def book_locate(locates: dict[str, int], symbol: str) -> int | None:
    """The stock locate of ``symbol``'s book by ``locates`` (:func:`name_locate`'s map),
    or None for a symbol with no book: one the feed has not named, or whose book a
    directory renamed (:data:`NO_BOOK`)."""
    locate = locates.get(symbol)
    return None if locate is None or locate == NO_BOOK else locate


#: The order reference number a book message names, by its type (U: its original).
_NAMED_REF: dict[str, Callable[[Any], int]] = {
    "E": operator.attrgetter("order_reference_number"),
    "C": operator.attrgetter("order_reference_number"),
    "X": operator.attrgetter("order_reference_number"),
    "D": operator.attrgetter("order_reference_number"),
    "U": operator.attrgetter("original_order_reference_number"),
}


def filed_locate(books: Any, msg: Message) -> int:
    """The stock locate of the book ``msg`` changes in ``books`` (a :class:`BookManager`
    or the compiled one: ``order_locate``), asked before it is applied: for a message
    naming a feed order (E, C, X, D; U by its original), the locate of the book that
    files that order, whatever locate the message carries (the book applies it there:
    the module docs); else, or for an order the book does not hold (it holds the message
    in its reorder window, or drops it), the message's. Asked before, as a delete or a
    full execution removes the order.

    The one rule of every layer that says which stock a message changed: the strategy's
    events and risk's mark (:meth:`StrategyContext.market
    <tickwire.engine.strategy.context.StrategyContext.market>`), the BBO series
    (:func:`tickwire.engine.series.iter_series`) and the LOBSTER export; the compiled
    book reads it in C (``CBookManager._filed_loc``: its BBO recorder and the replay
    core). Tests: ``test_engine_backtest_core.py::
    test_engine_backtest_core_a_book_update_goes_to_the_stock_whose_book_changed``,
    ``test_engine_series.py::test_a_bbo_row_goes_to_the_stock_whose_book_changed``."""
    named = _NAMED_REF.get(msg.message_type)  # one dict probe: most messages name none
    if named is None:
        return msg.stock_locate
    locate: int = books.order_locate(named(msg))
    return msg.stock_locate if locate < 0 else locate


def fault_counts(unknown_references: int, stats: BookStats) -> dict[str, int]:
    """The faults a book handled (module docs), by name: ``unknown_references``,
    ``duplicate_references``, ``clamped``, ``rejected``, ``renamed_locates``
    (:func:`name_locate`) (``engine book --json``, the
    backtest report's ``book_faults``)."""
    return {
        "unknown_references": unknown_references,
        "duplicate_references": stats.duplicate_references,
        "clamped": stats.clamped,
        "rejected": stats.rejected,
        "renamed_locates": stats.renamed_locates,
    }


#: How a terminal line names each fault of :func:`fault_counts` other than the unknown
#: references.
_FAULT_WORDS = {
    "duplicate_references": "adds onto a live reference (the older order evicted)",
    "clamped": "executions or cancels beyond the order's shares",
    "rejected": "adds or replaces not booked (zero shares or price, no side)",
    "renamed_locates": "stock directories that gave a named locate another symbol",
}


def fault_phrases(faults: Mapping[str, int]) -> list[str]:
    """``N what`` for each fault of :func:`fault_counts` that happened, unknown references
    first."""
    out = []
    if faults.get("unknown_references"):
        out.append(f"{faults['unknown_references']} unknown references")
    out += [f"{faults[k]} {words}" for k, words in _FAULT_WORDS.items() if faults.get(k)]
    return out


def unknown_types_phrase(unknown_types: int) -> str | None:
    """``N messages of unknown types skipped``, or None for none: how every command's
    text names the messages of a type ITCH 5.0 does not define, which the reader skipped
    by their length (module docs; ``unknown_types`` in the JSON)."""
    if not unknown_types:
        return None
    return f"{unknown_types:,} messages of unknown types skipped"


def book_summary(
    books: Mapping[int, Any],
    unknown_references: int,
    stats: BookStats | None = None,
    *,
    unknown_types: int = 0,
) -> dict[str, object]:
    """The JSON object of ``python -m tickwire.engine book --json``, from any books with the
    reference's per-book API (``symbol``, ``bbo()``, ``order_count``, ``level_count``), so
    every book backend prints the same layout. With ``stats``, every fault the book
    handled (:func:`fault_counts`) beside ``unknown_references``, so a feed that
    contradicts itself says so; ``unknown_types`` the messages of unknown types the
    reader skipped before the books (module docs)."""
    faults: dict[str, object] = {"unknown_references": unknown_references}
    if stats is not None:
        faults.update(fault_counts(unknown_references, stats))
    faults["unknown_types"] = unknown_types
    instruments: dict[str, object] = {}
    for locate in sorted(books):
        b = books[locate]
        q = b.bbo()
        instruments[str(locate)] = {
            "symbol": b.symbol,
            "bid_price": q.bid_price,
            "bid_size": q.bid_size,
            "ask_price": q.ask_price,
            "ask_size": q.ask_size,
            "orders": b.order_count,
            "levels": b.level_count,
        }
    return {**faults, "instruments": instruments}


def faults_text(stats: BookStats, unknown_references: int, unknown_types: int = 0) -> str:
    """``N messages, N unknown references``, each other fault the book handled when there
    was one, and the messages of unknown types skipped before it when there were some
    (``engine book`` prints it)."""
    faults = fault_counts(unknown_references, stats)
    rest = fault_phrases({**faults, "unknown_references": 0})
    skipped = unknown_types_phrase(unknown_types)
    if skipped is not None:
        rest.append(skipped)
    return ", ".join([f"{stats.messages} messages, {unknown_references} unknown references", *rest])
