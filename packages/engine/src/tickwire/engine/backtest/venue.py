"""A simulated NASDAQ venue: OUCH 5.0 in, fills driven by the real ITCH order flow out.

The venue keeps its own :class:`~tickwire.engine.book.BookManager` fed at exchange time
(or the compiled :class:`~tickwire.engine.cbook.CythonBookManager`: it asks a book only
``orders_at``, ``prices_through``, ``orders``, ``symbol`` and ``trading_state``, which both
answer alike).
The strategy's orders are *not* inserted into that book (the historical flow cannot react
to them: no market impact); instead each resting order of ours remembers exactly which
displayed orders were ahead of it at its price when it arrived (from the L3 book) and how
many shares that was, and the real flow works through that queue. What fills us, and
why (the same text is in ``docs/backtest.md``):

1. **On arrival, against displayed liquidity.** A buy priced at or above displayed asks
   (a sell at or below displayed bids) executes at once against those resting orders, best
   price first and FIFO within a price, at their prices (liquidity flag ``R``). Shares we
   took from a historical order are remembered so they are not taken twice.
2. **Executions (E, C) of a resting order on our side.** ITCH reports the passive order
   that traded, so an aggressor hit that side at that price.

   * At a price *worse* than ours for the aggressor (e.g. it sold to a bid below our bid):
     it would have traded with us first: we fill, up to the executed shares.
   * At our price, against an order that was ahead of us: the queue ahead shrinks by the
     executed shares; we do not fill.
   * At our price, against an order that queued behind us: the aggressor reached our
     place in the queue. The executed shares first use up what is still ahead of us,
     the rest fills us.
   * In a cross: an Order Executed With Price not printable ``Y`` (ITCH 5.0 4.4.2: a
     cross's executions are non-printable, in the Cross Trade's bulk print) fills
     nothing, whatever its price; an order ahead of us still leaves the queue by its
     shares, as the book applies it (:meth:`SimulatedVenue._passive`).
3. **Trades (P) strictly through our price.** A non-displayed print below our bid (above
   our ask) means someone traded at a price that would have reached our order first,
   whichever side was aggressive, so we fill, up to the printed shares. A print *at* our
   price fills nothing: its side and queue position are unknown.
4. **Incoming orders that cross us.** An Add (A, F) or a Replace (U) on the other side
   priced through our resting order would have executed against us on arrival: we fill,
   up to its shares, at our price, and those shares of the new order count as taken.
   Only while the stock trades: halted, paused or quotation only (Stock Trading Action
   ``H``, ``P``, ``Q``) NASDAQ executes no continuous order, so it fills nothing
   (:meth:`SimulatedVenue._crossing`; an Enter then is Rejected 0x07).

**Hidden orders (our Display ``N``).** NASDAQ matches by price, then display, then time:
at a price every displayed order executes before any non-displayed one, whatever their
arrival (the simulated exchange alike, ``matching._next_in_line``). So our hidden order
has no place in the queue at its price: rule 2's executions *at* its price (always of
displayed orders: ITCH names no hidden one) never fill it, neither of an order that was
ahead of it nor of one that came after it, since every displayed share resting at that
price, now or later, is ahead of it; its shares ahead (``queue_ahead``) are only what
the displayed level held when it joined. It fills by rule 1 on arrival, by rule 2 at a
price worse than its own (the aggressor went past its price: every order there, hidden
ones too, traded first), by rule 3 (prints strictly through it; one at its price fills
nothing, as for any order) and by rule 4 (an order that crosses it: on a sound feed no
displayed order of its side rests at its price then, or that order would have traded).
Where several of ours share an aggressor's shares, at one price our displayed orders
come before our hidden ones (:meth:`SimulatedVenue._priority`). A Replace's Display is
the replacement's: replaced hidden, an order leaves its place; replaced displayed, it
joins the back of the displayed queue. Passive fills of a hidden order have liquidity
flag ``J`` ("Non-displayed adding liquidity", OUCH 5.0 Appendix E), as the simulated
exchange answers; the fee schedule prices it by ``add_hidden_per_share``
(:func:`liquidity_flag`). A strategy sends one with ``ctx.orders.submit(...,
display="N")``. Why: the venue ignored
Display, so our hidden order took a displayed order's place and filled when a displayed
order that came after it traded, a fill NASDAQ would have given that order. Tests:
``test_engine_backtest_queue.py::test_engine_backtest_queue_a_hidden_order_never_fills_from_its_place_at_its_price``,
``..._a_replace_that_changes_display_moves_the_order`` (both venues),
``test_engine_backtest_cvenue.py::test_engine_backtest_cvenue_a_hidden_order_is_held_alike``
(a hand-made day, both venues compared after every message; the file's random OUCH
draws Display ``N`` too), ``tests/test_exchange_venue_replace_parity.py::test_a_hidden_order_trades_after_a_displayed_one_at_its_price_on_both``.

An Order Accepted or Order Replaced repeats the Enter's or Replace's appendages (an
ExpireTime, ...), as the simulated exchange's accounts and ``OuchHost50`` answer. Why: the
venue answered none, so a GTT order's answers differed from the exchange's. Test:
``tests/test_exchange_venue_replace_parity.py::test_accepted_and_replaced_repeat_the_appendages_on_both``.

Cancels (X), deletes (D) and replaces (U) of orders ahead of us shrink the queue ahead
(a replace loses priority), and so does an add or replace onto the reference of a live
order ahead of us (the book evicts it); a message naming a feed order works where the
book files that order, whatever locate it carries (:meth:`SimulatedVenue._gone`), and a
message the book held in its reorder window works when the book applies it
(:meth:`SimulatedVenue._held`). Cross trades (Q) never fill us: our orders are continuous
market orders (Cross Type ``N``). An Enter of any other Cross Type (``O`` opening,
``C`` closing, ..., or a byte not in the table) is Rejected 0x14 Invalid Cross Order,
after every other check of the Enter (:func:`tickwire.ouch.v50.cross_type_reason`, the
rule the simulated exchange and ``OuchHost50`` share): the venue runs no cross, so such
an order would otherwise trade as a continuous one. A Replace carries no Cross Type.
Tests: ``tests/test_exchange_venue_parity_property.py`` (every Cross Type drawn),
``test_engine_backtest_cvenue.py::test_engine_backtest_cvenue_an_enter_of_a_cross_type_other_than_n_is_rejected_alike``.
Several of our orders share one aggressor's shares in
price, display, time priority (at one price our displayed orders first). Passive fills are at our limit price with liquidity flag ``A`` (``J`` for a hidden order: :func:`liquidity_flag`).

:class:`SimulatedVenue` is the oracle, and the reference backend's venue. The compiled
replay core runs the same rules compiled (:func:`compiled_venue`, ``_cbook.CVenue``), held
to this class by the core's differential tests (``test_engine_backtest_core.py``), by
``test_engine_backtest_cvenue.py`` (both venues compared after every message of random
ITCH and raw OUCH flows) and by ``test_engine_backtest_queue.py``, which runs every
hand-built flow on both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tickwire.engine import cbook
from tickwire.engine.book import BUY, BookManager
from tickwire.engine.cbook import positional_constructor
from tickwire.engine.strategy.api import MAX_TIME_NS
from tickwire.itch import (
    AddOrder,
    AddOrderMPID,
    EventCode,
    Message,
    OrderCancel,
    OrderDelete,
    OrderExecuted,
    OrderExecutedWithPrice,
    OrderReplace,
    StockDirectory,
    SystemEvent,
    Trade,
    encode,
)
from tickwire.ouch import v50
from tickwire.ouch.deadlines import Deadlines
from tickwire.ouch.v50 import (
    RejectReason,  # the one table of reject codes; re-exported here
    cross_type_reason,
    time_in_force_error,
)

__all__ = [
    "Fill",
    "RejectReason",
    "SimOrder",
    "SimulatedVenue",
    "compiled_venue",
    "gtt_deadline",
    "hidden",
    "liquidity_flag",
    "order_terms_reason",
]

#: Our order reference numbers live far above any the feed uses.
_OWN_REF_BASE = 1 << 60
_GTT = v50.TimeInForce.GTT.value


def order_terms_reason(
    display: object, qty: object, appendages: tuple[v50.TagValue, ...]
) -> int | None:
    """An Enter's (Replace's) Display, quantity and appendages asked of the one rule,
    :func:`tickwire.ouch.v50.order_terms_reason` (0x03 Invalid Display, then the first
    appendage the venue does not run: MinQty 0x0D, MaxFloor below the quantity 0x04,
    pegs 0x05, discretion, PostOnly, RandomReserves 0x0F, ...):
    ``SimulatedVenue._validate`` asks it and ``compiled_venue`` gives it to the
    ``CVenue``, so both answer alike."""
    return v50.order_terms_reason(display, qty, appendages)


def hidden(display: object) -> bool:
    """Whether an Enter's (Replace's) Display makes our order hidden: ``N``
    (:attr:`tickwire.ouch.v50.Display.HIDDEN`), the byte the simulated exchange's
    ``accounts.hidden`` hides. ``SimulatedVenue`` asks it; ``compiled_venue`` gives the
    ``CVenue`` the same byte. The rule for such an order is the module docs'."""
    return display == v50.Display.HIDDEN


#: Our fills' Liquidity Flags (OUCH 5.0 Appendix E, :class:`tickwire.ouch.v50.LiquidityFlag`),
#: in the order :func:`liquidity_flag` and ``compiled_venue`` give them.
LIQUIDITY_FLAGS = (
    v50.LiquidityFlag.ADDED.value,
    v50.LiquidityFlag.ADDED_HIDDEN.value,
    v50.LiquidityFlag.REMOVED.value,
)


def liquidity_flag(passive: bool, hidden: bool) -> str:
    """The Liquidity Flag of our fill: resting (``passive``), ``A`` for a displayed order
    and ``J`` ("Non-displayed adding liquidity") for a hidden one; on arrival ``R``. The
    simulated exchange's matching answers alike; the backtest's fee schedule prices
    ``J`` by ``add_hidden_per_share`` and the report counts it a maker fill. The compiled
    ``CVenue`` is given :data:`LIQUIDITY_FLAGS` by ``compiled_venue``. Why: both venues
    answered ``A`` for a hidden order's passive fill, a displayed add's flag and fee.
    Test: ``test_engine_backtest_queue.py::test_engine_backtest_queue_a_hidden_orders_passive_fills_are_flagged_j``."""
    added, added_hidden, removed = LIQUIDITY_FLAGS
    if not passive:
        return removed
    return added_hidden if hidden else added


def gtt_deadline(now: int, appendages: tuple[v50.TagValue, ...]) -> int:
    """The venue time (ns) a GTT order (Time In Force ``6``) accepted or replaced at
    ``now`` with ``appendages`` expires at: ``now`` + its lifetime
    (:func:`tickwire.ouch.v50.lifetime`: its ExpireTime's seconds), at most
    :data:`MAX_TIME_NS`; 0 when it has none (a GTT without one never rests:
    :func:`tickwire.ouch.v50.time_in_force_error`).

    For both venues (``SimulatedVenue`` and the compiled ``CVenue`` ask it), by the rule
    the simulated exchange's accounts and tickwire-ouch's hosts follow: the order is
    canceled, reason ``T``, that many seconds after its Order Accepted (a replacement's
    after its Order Replaced, by its own Time In Force and appendages).
    Test: ``test_engine_backtest_queue.py::test_gtt_order_expires_on_a_quiet_symbol``."""
    lifetime = v50.lifetime(_GTT, appendages)
    if not lifetime or lifetime < 0:
        return 0
    return min(now + lifetime, MAX_TIME_NS)


# The venue's answers, built without the frozen dataclasses' per-field
# ``object.__setattr__`` (the same messages; a replace's answer has 16 fields).
_order_accepted = positional_constructor(v50.OrderAccepted)
_order_replaced = positional_constructor(v50.OrderReplaced)
_order_canceled = positional_constructor(v50.OrderCanceled)
_order_executed = positional_constructor(v50.OrderExecuted)
_rejected = positional_constructor(v50.Rejected)


@dataclass(slots=True, eq=False)
class SimOrder:
    """One of our orders resting at the simulated venue."""

    user_ref_num: int
    locate: int
    symbol: str
    side: str  # "B" or "S" (sell short variants are treated as sells)
    price: int
    open: int
    tif: str
    seq: int
    order_reference_number: int
    chain_filled: int = 0
    ahead: int = 0
    joined_ahead: int = 0  # ``ahead`` when the order joined its price level: its FIFO place
    ahead_refs: set[int] = field(default_factory=set)
    #: The side byte the Enter gave (B, S, T sell short, E exempt): ``side`` is the book's
    #: (B or S), this is the one an Order Replaced repeats, as the simulated exchange's
    #: accounts and ``OuchHost50`` do (it said ``S`` for a sell short order). Test:
    #: ``tests/test_exchange_venue_replace_parity.py::test_a_replace_of_a_sell_short_order_keeps_its_side_on_both``.
    entered_side: str = ""
    #: A GTT order's deadline (venue ns, :func:`gtt_deadline`); 0: none (every other
    #: Time In Force).
    expires: int = 0
    #: The Enter's Capacity and Cross Type, which every Order Replaced of the chain
    #: repeats: a Replace Order carries neither (OUCH 5.0 section 2.2), so the
    #: replacement keeps the original's, as the simulated exchange's accounts and
    #: ``OuchHost50`` answer. The venue said ``P`` and ``N`` whatever the Enter said. Test:
    #: ``tests/test_exchange_venue_replace_parity.py::test_a_replace_keeps_the_originals_capacity_and_cross_type_on_both``.
    capacity: str = ""
    cross_type: str = ""
    #: OUCH Display ``N`` (:func:`hidden`): no place in the queue at its price, behind
    #: every displayed order there (the module docs' hidden order rule).
    hidden: bool = False


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution of our order, at exchange time."""

    timestamp: int
    user_ref_num: int
    symbol: str
    side: str
    quantity: int
    price: int
    liquidity_flag: str
    match_number: int
    cause: str  # what filled it: arrival, execution, trade, cross-in (see module docs)
    #: Shares that were ahead of the order at its price when it joined the queue (its
    #: FIFO place, from the L3 book); 0 for an aggressive fill (flag ``R``).
    queue_ahead: int = 0


class SimulatedVenue:
    """OUCH 5.0 order entry against an ITCH-driven L3 book (see the module docs)."""

    def __init__(
        self,
        books: BookManager,
        respond: Callable[[v50.OutboundMessage], None],
        wake: Callable[[int], None] | None = None,
    ) -> None:
        self.books = books
        if isinstance(books, BookManager):  # its reorder window's messages (_held)
            books.on_held = self._held
        elif hasattr(books, "held_to"):  # the compiled book's: tuples (held)
            books.held_to = self
        self.respond = respond
        #: Called with the earliest GTT deadline of a resting order, when no wake asked
        #: for before comes at or before it (``Deadlines.wake_at``): the backtest loop
        #: schedules :meth:`expire` then (the deadline may come with no market message or
        #: order), which asks for the next.
        self.wake = wake
        # the deadlines of resting GTT orders, by UserRefNum: :meth:`expire`
        self._deadlines: Deadlines[int] = Deadlines()
        self.fills: list[Fill] = []
        self._live: dict[int, SimOrder] = {}  # user_ref_num -> order
        self._by_locate: dict[int, list[SimOrder]] = {}
        # The highest UserRefNum an Enter or Replace used: one at or below it is a
        # retransmission, ignored (OUCH 5.0 1.2: UserRefNums are strictly increasing;
        # tickwire.ouch.orders.OuchHost50's rule). A number, not a set of every one used.
        self._last_ref = 0
        self._consumed: dict[int, int] = {}  # feed order ref -> shares we took from it
        self._seq = 0
        self._match = 0
        self.now = 0

    # -- helpers ------------------------------------------------------------------------
    def _locate_of(self, symbol: str) -> int | None:
        """The locate of ``symbol``'s book, where its orders rest and fill: the one its
        latest Stock Directory named (``BookManager.locate_of``, the rule of every layer:
        :func:`~tickwire.engine.book.name_locate`), as the strategy's ``ctx.book``. Why:
        the first book found with the name was taken (and kept), so with the directory
        sent again at another locate an order the strategy priced on the book it saw
        filled against the other. Test: ``test_engine_backtest_core.py::
        test_engine_backtest_core_a_symbol_is_the_book_its_last_directory_named``."""
        return self.books.locate_of(symbol)

    def _trading(self, locate: int) -> bool:
        """Whether the stock of ``locate`` trades: its last Stock Trading Action said
        ``T``, or none came. Halted ``H``, paused ``P`` or quotation only ``Q`` (ITCH 5.0
        4.2.2), an Enter is Rejected 0x07 (:meth:`_validate`) and no incoming order
        fills ours (:meth:`_crossing`)."""
        return self.books.books[locate].trading_state in ("T", "")

    def _fill(self, o: SimOrder, qty: int, price: int, passive: bool, cause: str) -> None:
        flag = liquidity_flag(passive, o.hidden)
        self._match += 1
        o.open -= qty
        o.chain_filled += qty
        self.fills.append(
            Fill(
                self.now,
                o.user_ref_num,
                o.symbol,
                o.side,
                qty,
                price,
                flag,
                self._match,
                cause,
                o.joined_ahead if passive else 0,
            )
        )
        self.respond(
            _order_executed(
                timestamp=self.now,
                user_ref_num=o.user_ref_num,
                quantity=qty,
                price=price,
                liquidity_flag=flag,
                match_number=self._match,
            )
        )
        if o.open == 0:
            self._unrest(o)

    def _unrest(self, o: SimOrder) -> None:
        self._live.pop(o.user_ref_num, None)
        if o.expires:  # its deadline goes with it (Deadlines.discard)
            self._deadlines.discard(o.user_ref_num)
        lst = self._by_locate.get(o.locate)
        if lst is not None and o in lst:
            lst.remove(o)
            if not lst:
                del self._by_locate[o.locate]

    def _rest(self, o: SimOrder) -> None:
        book = self.books.books.get(o.locate)
        queue = [] if book is None else book.orders_at(o.side, o.price)
        if queue:
            o.ahead = o.joined_ahead = sum(q.shares for q in queue)
            o.ahead_refs = {q.ref for q in queue}
        self._live[o.user_ref_num] = o
        self._by_locate.setdefault(o.locate, []).append(o)
        if o.expires:  # a GTT order: its deadline (expire)
            self._deadlines.set(o.user_ref_num, o.expires)
            self._wake()

    def _wake(self) -> None:
        """Ask the loop (:attr:`wake`) to wake the venue at its earliest live deadline,
        unless a wake asked for before comes first (``Deadlines.wake_at``)."""
        if self.wake is not None:
            at = self._deadlines.wake_at(self.now, self._live.__contains__)
            if at is not None:
                self.wake(at)

    def _priority(self, orders: list[SimOrder], side: str) -> list[SimOrder]:
        """Our orders of ``side`` in price, display, time priority: at one price the
        displayed ones before the hidden ones (NASDAQ's rule, the simulated exchange's
        ``matching._next_in_line``), each by arrival (the compiled ``_first`` alike)."""
        mine = [o for o in orders if o.side == side]
        if side == BUY:
            mine.sort(key=lambda o: (-o.price, o.hidden, o.seq))
        else:
            mine.sort(key=lambda o: (o.price, o.hidden, o.seq))
        return mine

    # -- market data (call before the venue book applies the message) ---------------------
    def on_market(self, msg: Message, t: int) -> None:
        """Let one ITCH message work on our resting orders, then the caller books it."""
        self.now = t
        if (heap := self._deadlines.heap) and heap[0][0] <= t:
            self.expire(t)  # what is due first (expire)
        if isinstance(msg, SystemEvent):
            if msg.event_code == EventCode.END_OF_MARKET_HOURS:  # Day orders expire
                self._expire_day_orders()
            elif msg.event_code == EventCode.END_OF_SYSTEM_HOURS:  # every order expires
                self._expire_all_orders()
            return
        if isinstance(msg, StockDirectory):
            if self._live:
                self._directory(msg.stock_locate, msg.stock)
            return
        by_locate = self._by_locate
        if not by_locate and not self._consumed:
            return  # nothing of ours rests and we took from no feed order
        orders = self.books.orders
        # A message naming a feed order works where that order rests (its ``locate``),
        # whatever locate the message carries: the book's rule (:meth:`_gone`).
        if isinstance(msg, OrderExecuted | OrderExecutedWithPrice):
            o = orders.get(msg.order_reference_number)
            if o is not None and (rest := by_locate.get(o.locate)):
                executed = min(msg.executed_shares, o.shares)
                cross = isinstance(msg, OrderExecutedWithPrice) and msg.printable != "Y"
                self._passive(rest, o.side, o.price, executed, o.ref, executed == o.shares, cross)
        elif isinstance(msg, OrderCancel):
            o = orders.get(msg.order_reference_number)
            if o is not None and (rest := by_locate.get(o.locate)):
                gone = min(msg.cancelled_shares, o.shares)
                self._shrink_queue(rest, o.ref, o.side, o.price, gone, gone == o.shares)
        elif isinstance(msg, OrderDelete):
            o = orders.get(msg.order_reference_number)
            if o is not None:
                self._gone(o)
        elif isinstance(msg, OrderReplace):
            o = orders.get(msg.original_order_reference_number)
            if o is not None:
                self._gone(o)
                new = msg.new_order_reference_number
                stale = orders.get(new) if new != o.ref else None
                if stale is not None:  # the book evicts it (duplicate_references)
                    self._gone(stale)
                if rest := by_locate.get(o.locate):
                    self._crossing(rest, o.side, msg.price, msg.shares, new, o.locate)
        elif isinstance(msg, AddOrder | AddOrderMPID):
            ref = msg.order_reference_number
            stale = orders.get(ref)
            if stale is not None:  # the book evicts it (duplicate_references)
                self._gone(stale)
            indicator = msg.buy_sell_indicator
            if (indicator == BUY or indicator == "S") and (
                rest := by_locate.get(msg.stock_locate)
            ):  # else no order (the book's docs)
                side = BUY if indicator == BUY else "S"
                self._crossing(rest, side, msg.price, msg.shares, ref, msg.stock_locate)
        elif isinstance(msg, Trade) and (rest := by_locate.get(msg.stock_locate)):
            self._through(rest, msg.price, msg.shares)
        if self._consumed:
            self._forget_consumed(msg)

    def _held(self, msg: Message) -> None:
        """A message the book held in its reorder window (it named an order not yet
        added), applied now that the add (or a replace's new order) filed that order:
        it works on our orders as any message does, just before the book applies it
        (:meth:`on_market`, at the time of the message that filed the order).

        Rule: every message the book applies reaches the queue model first, the held
        ones too (``BookManager.on_held``; the compiled book calls ``CVenue.held``, and
        the core's venue filter, ``ReplayCore._venue_needs_python``, lets an add through
        that resolves held messages). Why: the venue saw a held execution only when it
        came, with its order not in the book, and never when the book applied it: an
        execution that arrived a few messages before the add of an order queued behind
        ours (NASDAQ's sample file has 117 such early messages) traded past our place and
        filled nothing. Tests:
        ``test_engine_backtest_queue.py::test_engine_backtest_queue_a_held_execution_works_when_applied``,
        ``test_engine_backtest_core.py::test_engine_backtest_core_held_messages_match_the_reference``.
        """
        self.on_market(msg, self.now)

    def held(self, m: tuple[Any, ...]) -> None:
        """:meth:`_held` for the compiled book (``CBookManager.held_to``), which gives
        a held message as its tuple, kind first (the layout ``CVenue.held`` reads): the
        same message rebuilt (its locate and time are not read: it works where its
        order rests, :meth:`_gone`). Why: over the compiled book (``book_backend``
        compiled) only ``CVenue`` was given held messages, so this venue never saw
        them applied. Test:
        ``test_engine_backtest_queue.py::test_engine_backtest_queue_a_held_execution_works_when_applied_over_the_compiled_book``."""
        kind = m[0]
        msg: Message
        if kind == 0x45:
            msg = OrderExecuted(0, 0, m[3], m[1], m[2], m[4])
        elif kind == 0x43:
            printable = "Y" if m[5] == 0x59 else "N"
            msg = OrderExecutedWithPrice(0, 0, m[3], m[1], m[2], m[4], printable, m[6])
        elif kind == 0x58:
            msg = OrderCancel(0, 0, self.now, m[1], m[2])
        elif kind == 0x44:
            msg = OrderDelete(0, 0, self.now, m[1])
        else:
            msg = OrderReplace(0, 0, self.now, m[1], m[2], m[3], m[4])
        self._held(msg)

    def _gone(self, o: Any) -> None:
        """Feed order ``o`` leaves the book whole: by a delete (D), as a replace's (U)
        original, or evicted by an add (A, F) or a replace's new order onto its live
        reference (the book's ``duplicate_references``). It leaves the queue ahead of
        each of our orders it was ahead of, where it rested (``o.locate``, whatever
        locate the message carries), and the shares we took from it are forgotten: a
        later order under its number is another order.

        Rule: a message naming a feed order works on our orders of the stock that order
        rests in, as the book applies it there (``tickwire.engine.book``'s module docs);
        the compiled ``CVenue`` and the core's venue filter
        (``ReplayCore._venue_needs_python``) alike. Why: the venue looked at our orders of
        the locate the message carried, so an execution of one stock's order carrying
        another's locate filled our orders of the other stock at the first one's price,
        and an evicted order stayed ahead of ours (an execution of its successor, behind
        us, never reached us) with its shares still counted as taken. Tests:
        ``test_engine_backtest_queue.py::test_engine_backtest_queue_a_message_works_where_its_order_rests``,
        ``test_engine_backtest_queue.py::test_engine_backtest_queue_an_evicted_order_leaves_our_queue``,
        ``test_engine_backtest_core.py::test_engine_backtest_core_messages_naming_orders_elsewhere_match_the_reference``.
        """
        self._consumed.pop(o.ref, None)
        rest = self._by_locate.get(o.locate)
        if rest:
            self._shrink_queue(rest, o.ref, o.side, o.price, o.shares, True)

    def _forget_consumed(self, msg: Message) -> None:
        """Keep the shares we took from a feed order within what it still has."""
        if isinstance(msg, OrderDelete):
            self._consumed.pop(msg.order_reference_number, None)
            return
        if isinstance(msg, OrderReplace):
            self._consumed.pop(msg.original_order_reference_number, None)
            return
        if isinstance(msg, OrderExecuted | OrderExecutedWithPrice):
            ref, reduce = msg.order_reference_number, msg.executed_shares
        elif isinstance(msg, OrderCancel):
            ref, reduce = msg.order_reference_number, msg.cancelled_shares
        else:
            return
        taken = self._consumed.get(ref)
        if taken is None:
            return
        o = self.books.orders.get(ref)
        left = 0 if o is None else o.shares - reduce
        if left <= 0:
            del self._consumed[ref]
        else:
            self._consumed[ref] = min(taken, left)

    def _passive(
        self,
        rest: list[SimOrder],
        side: str,
        price: int,
        executed: int,
        ref: int,
        gone: bool,
        cross: bool = False,
    ) -> None:
        """An execution (E, C) of ``executed`` shares of feed order ``ref`` resting on
        ``side`` at ``price`` (``gone``: all it had, it leaves the book): rule 2 of the
        module docs.

        An execution in a cross (``cross``: an Order Executed With Price not printable
        ``Y``) fills none of ours; it only shrinks the queue ahead of ours when its order
        was ahead. Rule: ITCH 5.0 section 4.4.2 marks a cross's executions non-printable
        ("included into a later bulk print", the Cross Trade), and our orders are
        continuous (Cross Type ``N``), in no cross; the book still applies the execution,
        so the order's shares leave the queue. The book's tape takes a C as a print only
        when printable ``Y`` (``BookManager.on_print``); the compiled ``CVenue`` alike.
        Why: a halt or closing cross's execution of a feed order behind ours, or priced
        worse than ours, filled us, though the cross never reached our order. Test:
        ``test_engine_backtest_queue.py::test_engine_backtest_queue_a_cross_execution_fills_nothing``.

        An order ahead of ours that trades away whole leaves our queue as a delete would
        (:meth:`_shrink_queue`, ``gone``), so a later order under its number, which
        queues behind ours, reaches us when it trades; the compiled ``CVenue`` alike.
        Why: its number stayed among those ahead of ours, so an execution of the new
        order behind us was taken for one ahead: it filled nothing. Test:
        ``test_engine_backtest_queue.py::test_engine_backtest_queue_a_number_reused_after_a_whole_execution_is_behind_us``.
        """
        if cross:  # only the queue ahead moves
            self._shrink_queue(rest, ref, side, price, executed, gone)
            return
        budget = executed
        for o in self._priority(rest, side):
            better = o.price > price if side == BUY else o.price < price
            if better:
                if budget <= 0:
                    continue
                q = min(budget, o.open)
                budget -= q
                self._fill(o, q, o.price, True, "execution-through")
            elif o.price == price:
                if ref in o.ahead_refs:
                    o.ahead = max(0, o.ahead - executed)
                    if gone:
                        o.ahead_refs.discard(ref)
                    continue
                if budget <= 0 or o.hidden:  # a hidden order: the module docs
                    continue
                use = min(budget, o.ahead)
                o.ahead -= use
                budget -= use
                q = min(budget, o.open)
                if q > 0:
                    budget -= q
                    self._fill(o, q, o.price, True, "execution")

    def _shrink_queue(
        self, rest: list[SimOrder], ref: int, side: str, price: int, shares: int, gone: bool
    ) -> None:
        for o in rest:
            if o.side == side and o.price == price and ref in o.ahead_refs:
                o.ahead = max(0, o.ahead - shares)
                if gone:
                    o.ahead_refs.discard(ref)

    def _crossing(
        self, rest: list[SimOrder], side: str, price: int, shares: int, ref: int, locate: int
    ) -> None:
        """An incoming order on ``side`` at ``price`` in the book of ``locate``: does it
        cross our other-side orders?

        Rule: only while the stock trades (its Stock Trading Action ``T``, or none yet)
        does it fill us; halted (``H``), paused (``P``) or quotation only (``Q``), it
        rests crossed and fills nothing (nor counts as taken). ITCH 5.0 section 4.2.2:
        NASDAQ executes no continuous order then; the book is uncrossed by the halt
        cross, whose executions fill none of ours (:meth:`_passive`). The state is the
        one an Enter is held to (:meth:`_validate`, 0x07 Halted); the compiled ``CVenue``
        and the simulated exchange (``MatchingEngine.submit``) alike. Why: an add or
        replace crossing our resting order during a halt filled it, a trade the halted
        market never made. Test:
        ``test_engine_backtest_queue.py::test_engine_backtest_queue_a_crossing_order_fills_nothing_in_a_halt``.
        """
        if price <= 0 or shares <= 0:
            return
        budget = shares
        other = "S" if side == BUY else BUY
        trading = None
        for o in self._priority(rest, other):
            crosses = price <= o.price if side != BUY else price >= o.price
            if not crosses or budget <= 0:
                break
            if trading is None:  # asked once, only when something crosses
                trading = self._trading(locate)
            if not trading:
                break
            q = min(budget, o.open)
            budget -= q
            self._consumed[ref] = self._consumed.get(ref, 0) + q
            self._fill(o, q, o.price, True, "incoming-cross")

    def _through(self, rest: list[SimOrder], price: int, shares: int) -> None:
        """A non-displayed print (P) at ``price``: does it trade through our orders?

        Rule: a print of zero price is no trade (as an add of zero price is no order, the
        book's module docs, and :meth:`_crossing` takes none): it fills nothing; the
        compiled ``CVenue`` alike. Why: a damaged Trade of price 0 was below every bid,
        so it filled each of our resting buys at its limit. Test:
        ``test_engine_backtest_queue.py::test_engine_backtest_queue_a_print_of_zero_price_fills_nothing``.
        """
        if price <= 0:
            return
        for side in (BUY, "S"):
            budget = shares
            for o in self._priority(rest, side):
                through = o.price > price if side == BUY else o.price < price
                if not through or budget <= 0:
                    break
                q = min(budget, o.open)
                budget -= q
                self._fill(o, q, o.price, True, "trade-through")

    def _expire_day_orders(self) -> None:
        """End of Market Hours (System Event ``M``): each resting Day order (Time In Force
        ``0``) is canceled, reason ``T`` (:data:`tickwire.ouch.v50.CANCELED_TIMEOUT`),
        oldest first; the compiled ``CVenue`` and the simulated exchange alike. Test:
        ``tests/test_exchange_venue_replace_parity.py::test_day_orders_are_canceled_at_the_end_of_market_hours_on_both``."""
        for o in sorted(self._live.values(), key=lambda o: o.seq):
            if o.tif == v50.TimeInForce.DAY:
                self._cancel(o, o.open, v50.CANCELED_TIMEOUT)

    def _directory(self, locate: int, symbol: str) -> None:
        """A Stock Directory naming ``symbol`` at ``locate`` (before the book applies it):
        each order of ours resting in a book that is no longer its symbol's is canceled,
        reason ``Z`` (:data:`tickwire.ouch.v50.CANCELED_SYSTEM`), oldest first: one
        resting at ``locate`` for another symbol (the directory renamed its book), one of
        ``symbol`` resting at another locate (the symbol moved). The compiled ``CVenue``
        alike.

        Rule: an order of ours rests in its symbol's book (the one its latest directory
        named, :func:`~tickwire.engine.book.name_locate`). Why: it stayed in the book and
        filled against the flow of the symbol that book was now (or of none: a book its
        symbol left), under its own symbol's name, a market it was no longer in. Tests:
        ``test_engine_backtest_core.py::test_engine_backtest_core_a_symbol_whose_book_a_directory_renamed_has_none``,
        ``test_engine_backtest_core.py::test_engine_backtest_core_an_order_resting_in_a_book_its_symbol_left_is_canceled``."""
        for o in sorted(self._live.values(), key=lambda o: o.seq):
            if (o.locate == locate) != (o.symbol == symbol):
                self._cancel(o, o.open, v50.CANCELED_SYSTEM)

    def _expire_all_orders(self) -> None:
        """End of System Hours (System Event ``E``): every order still resting ends.

        Rule: no Time In Force outlives the system's day (GTX ``5`` and After Hours ``E``
        end with system hours; a GTT's ExpireTime is under a day but may run past it), so
        each resting order, whatever its Time In Force, is canceled, reason ``T``
        (:data:`tickwire.ouch.v50.CANCELED_TIMEOUT`), oldest first. The compiled
        ``CVenue`` and the simulated exchange (``MatchingEngine.system``,
        ``_AccountBase.at_system_close``) alike. Why: such orders were left resting after
        the feed's last System Event, ``live`` in the orders table of a finished
        backtest. Tests:
        ``tests/test_exchange_venue_replace_parity.py::test_every_order_left_is_canceled_at_the_end_of_system_hours_on_both``,
        ``test_engine_backtest_cvenue.py::test_engine_backtest_cvenue_every_order_left_expires_at_the_end_of_system_hours``,
        ``test_engine_backtest_core.py::test_engine_backtest_core_gtx_orders_left_resting_are_canceled_at_the_end_of_system_hours``.
        """
        for o in sorted(self._live.values(), key=lambda o: o.seq):
            self._cancel(o, o.open, v50.CANCELED_TIMEOUT)

    def expire(self, t: int) -> None:
        """Cancel every resting GTT order whose deadline is at or before venue time ``t``.

        Rule: a GTT order (Time In Force ``6``) with an ExpireTime of N seconds is
        canceled N seconds after it was accepted (a replacement: after its Order
        Replaced, by the Replace's own Time In Force and appendages; :func:`gtt_deadline`),
        reason ``T`` (:data:`tickwire.ouch.v50.CANCELED_TIMEOUT`), earliest deadline
        first (then oldest), before anything else at or after that time: the simulated
        exchange's rule (``accounts._AccountBase.expire``, its timer
        ``Exchange._expire_now``). :meth:`receive` and :meth:`on_market` expire what is
        due first; the backtest loops (the reference runner's heap, the compiled core's)
        call this at each deadline given to :attr:`wake`, so an order on a quiet symbol
        expires on time and its Canceled reaches the strategy one ack latency later. The
        compiled ``CVenue`` alike. Why: the venues expired a GTT order only at the End of
        System Hours, so a raw OUCH flow with one was answered otherwise than at the
        exchange. Tests: ``test_engine_backtest_queue.py`` (``test_gtt_*``, both venues),
        ``tests/test_exchange_venue_parity_property.py``,
        ``test_engine_backtest_core.py::test_engine_backtest_core_gtt_orders_expire_as_there``.
        """
        self.now = t
        for ref in self._deadlines.due(t, self._live.__contains__):
            o = self._live[ref]
            self._cancel(o, o.open, v50.CANCELED_TIMEOUT)
        self._wake()  # for the next deadline, if no wake asked for comes before it

    # -- order entry -----------------------------------------------------------------------
    def receive(self, msg: v50.InboundMessage, t: int) -> None:
        """Process one OUCH 5.0 inbound message arriving at exchange time ``t`` (what is
        due expires first: :meth:`expire`)."""
        self.now = t
        if (heap := self._deadlines.heap) and heap[0][0] <= t:
            self.expire(t)
        if isinstance(msg, v50.EnterOrder):
            self._enter(msg)
        elif isinstance(msg, v50.ReplaceOrder):
            self._replace(msg)
        elif isinstance(msg, v50.CancelOrder):
            o = self._live.get(msg.user_ref_num)
            if o is not None:  # superfluous cancels are silently ignored (OUCH 5.0 2.3)
                cut = o.open - min(o.open, msg.quantity)
                if cut > 0:
                    self._cancel(o, cut, "U")

    def _cancel(self, o: SimOrder, qty: int, reason: str) -> None:
        o.open -= qty
        self.respond(
            _order_canceled(
                timestamp=self.now, user_ref_num=o.user_ref_num, quantity=qty, reason=reason
            )
        )
        if o.open == 0:
            self._unrest(o)

    def _reject(self, user_ref_num: int, reason: int, cl_ord_id: str) -> None:
        self.respond(
            _rejected(
                timestamp=self.now, user_ref_num=user_ref_num, reason=reason, cl_ord_id=cl_ord_id
            )
        )

    def _validate(
        self,
        symbol: str,
        side: str,
        qty: int,
        price: int,
        tif: str,
        appendages: tuple[v50.TagValue, ...],
        display: str,
    ) -> tuple[int | None, int]:
        """(the locate, 0) when an Enter (or a Replace, of its order's symbol and side) may
        go on, else (None, the Appendix D reason).

        Rule: the symbol first (0x17), then the order's side, quantity and price by the one
        statement of OUCH's rules, :func:`tickwire.ouch.v50.order_fields_reason` (0x09,
        0x13, 0x1D; the compiled ``CVenue`` keeps these checks in C, given the same
        limits, and ``test_engine_backtest_cvenue.py::test_engine_backtest_cvenue_edge_fields_are_answered_alike``
        holds the two equal over a grid of edge values), then the market state (0x02
        closed, 0x07 halted). After these: a Time In Force byte not in OUCH 5.0's table, or GTT
        without an ExpireTime appendage (:func:`tickwire.ouch.v50.time_in_force_error`), is
        0x0F Other (Appendix D has no Time In Force reason): an Enter is Rejected, a Replace
        has invalid details (section 2.2 case 2, :meth:`_replace`); then a Display not
        ``Y``, ``N``, ``A`` (0x03) or an appendage the venue does not run (MinQty 0x0D,
        MaxFloor 0x04, pegs 0x05, ...), :func:`order_terms_reason`, alike. The compiled
        ``CVenue`` and the simulated exchange's ``Account50`` answer alike. An Enter's
        Cross Type is asked after all of these, by :meth:`_enter` alone (a Replace carries
        none): :func:`tickwire.ouch.v50.cross_type_reason`, 0x14. Why: the venue
        took any byte, and rested an order of Time In Force ``Q`` or GTT without
        ExpireTime all day (never expired as Day). Tests:
        ``tests/test_exchange_venue_replace_parity.py::test_a_bad_time_in_force_is_answered_alike_on_both``,
        ``test_engine_backtest_cvenue.py::test_engine_backtest_cvenue_a_bad_time_in_force_is_answered_alike``."""
        locate = self._locate_of(symbol)
        if locate is None:
            return None, RejectReason.INVALID_SYMBOL
        fields = v50.order_fields_reason(side, qty, price)  # side, quantity, price
        if fields is not None:
            return None, fields
        if self.books.system_event != "Q":
            return None, RejectReason.DESTINATION_CLOSED
        if not self._trading(locate):
            return None, RejectReason.HALTED
        if time_in_force_error(tif, appendages) is not None:
            return None, RejectReason.OTHER
        terms = order_terms_reason(display, qty, appendages)  # Display, appendages
        if terms is not None:
            return None, terms
        return locate, 0

    def _enter(self, msg: v50.EnterOrder) -> None:
        ref = msg.user_ref_num
        if ref <= self._last_ref:
            return  # a retransmission: ignored (OUCH 5.0 1.2)
        self._last_ref = ref
        locate, reason = self._validate(
            msg.symbol,
            msg.side,
            msg.quantity,
            msg.price,
            msg.time_in_force,
            msg.appendages,
            msg.display,
        )
        if locate is not None:  # the Enter's Cross Type, last (cross_type_reason's docs)
            cross = cross_type_reason(msg.cross_type)
            if cross is not None:
                locate, reason = None, cross
        if locate is None:
            self._reject(ref, reason, msg.cl_ord_id)
            return
        self._seq += 1
        side = BUY if msg.side == "B" else "S"
        o = SimOrder(
            ref,
            locate,
            msg.symbol,
            side,
            msg.price,
            msg.quantity,
            msg.time_in_force,
            self._seq,
            _OWN_REF_BASE + self._seq,
            entered_side=msg.side,
            capacity=msg.capacity,
            cross_type=msg.cross_type,
            hidden=hidden(msg.display),
        )
        if msg.time_in_force == _GTT:
            o.expires = gtt_deadline(self.now, msg.appendages)
        self.respond(
            _order_accepted(
                timestamp=self.now,
                user_ref_num=ref,
                side=msg.side,
                quantity=msg.quantity,
                symbol=msg.symbol,
                price=msg.price,
                time_in_force=msg.time_in_force,
                display=msg.display,
                order_reference_number=o.order_reference_number,
                capacity=msg.capacity,
                intermarket_sweep_eligibility=msg.intermarket_sweep_eligibility,
                cross_type=msg.cross_type,
                order_state="L",
                cl_ord_id=msg.cl_ord_id,
                appendages=msg.appendages,
            )
        )
        self._arrive(o)

    def _arrive(self, o: SimOrder) -> None:
        """Execute what is marketable against displayed liquidity, then rest or cancel."""
        book = self.books.books[o.locate]
        other = "S" if o.side == BUY else BUY
        consumed = self._consumed
        for price in book.prices_through(other, o.price):
            if o.open == 0:
                break
            for resting in book.orders_at(other, price):
                ref = resting.ref
                avail = resting.shares - consumed.get(ref, 0)
                if avail <= 0:
                    continue
                q = min(avail, o.open)
                consumed[ref] = consumed.get(ref, 0) + q
                self._fill(o, q, price, False, "arrival")
                if o.open == 0:
                    break
        if o.open == 0:
            return
        if o.tif == v50.TimeInForce.IOC:
            self.respond(
                _order_canceled(
                    timestamp=self.now, user_ref_num=o.user_ref_num, quantity=o.open, reason="I"
                )
            )
            o.open = 0
            return
        self._rest(o)

    def _replace(self, msg: v50.ReplaceOrder) -> None:
        old = self._live.get(msg.orig_user_ref_num)
        if old is None or msg.user_ref_num <= self._last_ref:
            return  # silently ignored (OUCH 5.0 2.2, case 1; 1.2)
        locate, _ = self._validate(
            old.symbol,
            old.side,
            msg.quantity,
            msg.price,
            msg.time_in_force,
            msg.appendages,
            msg.display,
        )
        if locate is None:
            # Invalid details: the existing order is taken out of the book (case 2),
            # reason Z (system cancel), and the replacement's UserRefNum "will not be
            # consumed, and may be reused": _last_ref stays. It was consumed, so a later
            # Enter or Replace reusing it was ignored as a repeat. Test:
            # test_engine_backtest_cvenue.py::test_an_invalid_replace_does_not_consume_its_user_ref_num
            self._cancel(old, old.open, "Z")
            return
        self._last_ref = msg.user_ref_num
        self._unrest(old)
        self._seq += 1
        exposed = max(0, msg.quantity - old.chain_filled)
        o = SimOrder(
            msg.user_ref_num,
            old.locate,
            old.symbol,
            old.side,
            msg.price,
            exposed,
            msg.time_in_force,
            self._seq,
            _OWN_REF_BASE + self._seq,
            chain_filled=old.chain_filled,
            entered_side=old.entered_side,
            capacity=old.capacity,
            cross_type=old.cross_type,
            hidden=hidden(msg.display),
        )
        if msg.time_in_force == _GTT:
            o.expires = gtt_deadline(self.now, msg.appendages)
        self.respond(
            _order_replaced(
                timestamp=self.now,
                orig_user_ref_num=old.user_ref_num,
                user_ref_num=o.user_ref_num,
                side=old.entered_side,
                quantity=exposed,
                symbol=old.symbol,
                price=msg.price,
                time_in_force=msg.time_in_force,
                display=msg.display,
                order_reference_number=o.order_reference_number,
                capacity=old.capacity,  # the Enter's: a Replace carries none (SimOrder)
                intermarket_sweep_eligibility=msg.intermarket_sweep_eligibility,
                cross_type=old.cross_type,
                order_state="L" if exposed > 0 else "D",
                cl_ord_id=msg.cl_ord_id,
                appendages=msg.appendages,
            )
        )
        if exposed > 0:
            self._arrive(o)  # a replace gets a new timestamp: it joins the back of the queue

    # -- inspection ---------------------------------------------------------------------------
    def live_orders(self) -> list[SimOrder]:
        """Our resting orders, in arrival order."""
        return sorted(self._live.values(), key=lambda o: o.seq)

    def queue_ahead(self, user_ref_num: int) -> int:
        """Shares still ahead of our resting order ``user_ref_num`` at its price."""
        return self._live[user_ref_num].ahead


def compiled_venue(
    books: Any,
    respond: Callable[[v50.OutboundMessage], None],
    wake: Callable[[int], None] | None = None,
) -> Any:
    """The compiled venue (``tickwire.engine._cbook.CVenue``) over the compiled venue book
    ``books`` (a :class:`~tickwire.engine.cbook.CythonBookManager`): this module's rules in
    Cython, reading the book's levels and FIFO lists directly, with the same
    :class:`Fill` objects in the same list and the same answers through ``respond``, in the
    same order, as :class:`SimulatedVenue` (the oracle). The compiled replay core's venue
    (``run_backtest(..., backend="compiled")``), fed each ITCH message's bytes by the core
    (``CVenue.market``; ``CVenue.on_frame`` from Python). Held to the reference by the
    differential tests of ``test_engine_backtest_core.py``, by
    ``test_engine_backtest_cvenue.py`` (random ITCH and raw OUCH, compared after every
    message) and by ``test_engine_backtest_queue.py``, which runs its hand-built flows on
    both venues."""
    ext: Any = cbook._ext
    if ext is None:  # pragma: no cover - the caller checked cbook.AVAILABLE
        raise RuntimeError(f"compiled venue not available: {cbook.UNAVAILABLE_REASON}")
    return ext.CVenue(
        books,
        respond,
        positional_constructor(Fill),
        _order_accepted,
        _order_replaced,
        _order_canceled,
        _order_executed,
        _rejected,
        v50.EnterOrder,
        v50.ReplaceOrder,
        v50.CancelOrder,
        v50.TimeInForce.DAY,
        v50.TimeInForce.IOC,
        RejectReason,
        encode,
        v50.MAX_QUANTITY,
        v50.MAX_PRICE,
        time_in_force_error,
        v50.CANCELED_TIMEOUT,
        wake,
        _GTT,
        gtt_deadline,
        cross_type_reason,
        order_terms_reason,
        v50.Display.HIDDEN.value,
        LIQUIDITY_FLAGS,
    )
