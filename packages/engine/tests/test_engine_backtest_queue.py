"""The simulated venue's L3 queue model, on hand-built ITCH flows.

Our order joins the back of its price level; it fills only after the shares ahead of it
(known exactly from the L3 book) have traded or been cancelled; executions against
orders behind us, executions and prints through our price, and incoming orders that
cross us fill us as ``tickwire.engine.backtest.venue`` documents.

Every flow runs on both venues (``venue_kind``): the reference :class:`SimulatedVenue` on
the reference book, and the compiled venue (``compiled_venue``, the compiled replay core's)
on the compiled book, fed the same messages' bytes. The compiled core's differential tests
compare whole reports; these pin each rule of the queue model on the compiled venue too."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tickwire.engine import cbook
from tickwire.engine.backtest.venue import SimulatedVenue, compiled_venue
from tickwire.engine.book import BookManager
from tickwire.itch import (
    AddOrder,
    Message,
    OrderCancel,
    OrderDelete,
    OrderExecuted,
    OrderExecutedWithPrice,
    OrderReplace,
    StockTradingAction,
    SystemEvent,
    Trade,
)
from tickwire.ouch import v50

SYM = "TEST"
LOC = 7
PX = 1_000_000

VENUES = [
    "reference",
    pytest.param(
        "compiled",
        marks=pytest.mark.skipif(not cbook.AVAILABLE, reason="compiled extension not built"),
    ),
]
pytestmark = pytest.mark.parametrize("venue_kind", VENUES)


class Sim:
    """A venue over a book, with the answers it sends collected."""

    def __init__(self, venue_kind: str) -> None:
        self.out: list[v50.OutboundMessage] = []
        self.wakes: list[int] = []  # the deadlines the venue asked to be woken at
        self.books: Any
        self.venue: Any
        if venue_kind == "compiled":
            self.books = cbook.make_book_manager("cython")
            self.venue = compiled_venue(self.books, self.out.append, self.wakes.append)
        elif venue_kind == "reference-over-compiled":  # book_backend compiled
            self.books = cbook.make_book_manager("cython")
            self.venue = SimulatedVenue(self.books, self.out.append, self.wakes.append)
        else:
            self.books = BookManager()
            self.venue = SimulatedVenue(self.books, self.out.append, self.wakes.append)
        self.t = 34_200_000_000_000
        self.feed(SystemEvent(0, 0, self.t, "Q"))

    def feed(self, msg: Message) -> None:
        self.venue.on_market(msg, msg.timestamp)
        self.books.apply(msg)

    def ts(self) -> int:
        self.t += 1_000
        return self.t

    def add(self, ref: int, side: str, shares: int, price: int = PX) -> None:
        self.feed(AddOrder(LOC, 0, self.ts(), ref, side, shares, SYM, price))

    def execute(self, ref: int, shares: int) -> None:
        self.feed(OrderExecuted(LOC, 0, self.ts(), ref, shares, 1))

    def cancel(self, ref: int, shares: int) -> None:
        self.feed(OrderCancel(LOC, 0, self.ts(), ref, shares))

    def delete(self, ref: int) -> None:
        self.feed(OrderDelete(LOC, 0, self.ts(), ref))

    def enter(
        self,
        ref: int,
        side: str,
        qty: int,
        price: int = PX,
        tif: str = "0",
        appendages: tuple[v50.TagValue, ...] = (),
        display: str = "Y",
    ) -> None:
        self.venue.receive(
            v50.EnterOrder(
                user_ref_num=ref,
                side=side,
                quantity=qty,
                symbol=SYM,
                price=price,
                time_in_force=tif,
                display=display,
                capacity="P",
                intermarket_sweep_eligibility="N",
                cross_type="N",
                cl_ord_id=v50.cl_ord_id_for(ref),
                appendages=appendages,
            ),
            self.ts(),
        )

    def replace(
        self,
        orig: int,
        ref: int,
        qty: int,
        price: int = PX,
        tif: str = "0",
        appendages: tuple[v50.TagValue, ...] = (),
        at: int | None = None,
        display: str = "Y",
    ) -> None:
        if at is not None:
            self.t = at
        self.venue.receive(
            v50.ReplaceOrder(
                orig_user_ref_num=orig,
                user_ref_num=ref,
                quantity=qty,
                price=price,
                time_in_force=tif,
                display=display,
                intermarket_sweep_eligibility="N",
                cl_ord_id=v50.cl_ord_id_for(ref),
                appendages=appendages,
            ),
            self.t if at is not None else self.ts(),
        )

    def filled(self, ref: int | None = None) -> int:
        return sum(
            m.quantity
            for m in self.out
            if isinstance(m, v50.OrderExecuted) and (ref is None or m.user_ref_num == ref)
        )

    def cancelled(self, ref: int) -> list[v50.OrderCanceled]:
        return [m for m in self.out if isinstance(m, v50.OrderCanceled) and m.user_ref_num == ref]


def test_engine_backtest_queue_walkthrough(venue_kind: str) -> None:
    s = Sim(venue_kind)
    s.add(1, "B", 300)
    s.add(2, "B", 200)
    s.enter(10, "B", 100)
    assert isinstance(s.out[0], v50.OrderAccepted) and s.out[0].order_state == "L"
    assert s.venue.queue_ahead(10) == 500
    s.execute(1, 300)  # the first order in line trades: queue moves, we do not fill
    assert (s.venue.queue_ahead(10), s.filled()) == (200, 0)
    s.cancel(2, 150)  # a partial cancel ahead of us
    assert (s.venue.queue_ahead(10), s.filled()) == (50, 0)
    s.add(3, "B", 100)  # joins behind us
    s.execute(3, 80)  # an aggressor reached the order behind us: 50 ahead, then 30 to us
    assert (s.venue.queue_ahead(10), s.filled(10)) == (0, 30)
    s.delete(2)  # nothing left ahead anyway
    s.execute(3, 20)
    assert s.filled(10) == 50
    fills = [m for m in s.out if isinstance(m, v50.OrderExecuted)]
    assert all(f.price == PX and f.liquidity_flag == "A" for f in fills)
    assert len({f.match_number for f in fills}) == len(fills)


@settings(max_examples=60, deadline=None)
@given(
    ahead=st.lists(st.integers(1, 500), min_size=1, max_size=6),
    chunks=st.lists(st.tuples(st.booleans(), st.integers(1, 200)), min_size=1, max_size=30),
    qty=st.integers(1, 300),
)
def test_engine_backtest_queue_fills_only_after_the_shares_ahead(
    venue_kind: str, ahead: list[int], chunks: list[tuple[bool, int]], qty: int
) -> None:
    """Behind N shares, our order fills only once N shares ahead traded or were
    cancelled; aggressive flow then reaches us through an order queued behind us."""
    s = Sim(venue_kind)
    for i, shares in enumerate(ahead):
        s.add(100 + i, "B", shares)
    s.enter(10, "B", qty)
    n = sum(ahead)
    assert s.venue.queue_ahead(10) == n
    s.add(999, "B", 10_000)  # behind us: the flow that reaches us once the queue is gone
    left = dict(enumerate(ahead))
    removed = 0
    for execute, size in chunks:
        live = [i for i in sorted(left) if left[i] > 0]
        if not live:
            break
        i = live[0]
        take = min(size, left[i])
        if execute:
            s.execute(100 + i, take)
        else:
            s.cancel(100 + i, take) if take < left[i] else s.delete(100 + i)
        left[i] -= take
        removed += take
        assert s.filled(10) == 0
        assert s.venue.queue_ahead(10) == n - removed
    # Now trade the order behind us: each share first clears what is still ahead.
    s.execute(999, n - removed + qty)
    assert s.filled(10) == qty
    assert s.venue.live_orders() == []


def test_engine_backtest_queue_trade_through_and_better_price(venue_kind: str) -> None:
    s = Sim(venue_kind)
    s.add(1, "B", 500)
    s.add(2, "B", 500, PX - 100)
    s.enter(10, "B", 300)  # behind 500 at PX
    s.execute(2, 200)  # a seller went down to PX - 100: it passed our price
    assert s.filled(10) == 200
    s.feed(Trade(LOC, 0, s.ts(), 0, "B", 100, SYM, PX, 77))  # a print AT our price: no fill
    assert s.filled(10) == 200
    s.feed(Trade(LOC, 0, s.ts(), 0, "B", 500, SYM, PX - 100, 78))  # strictly through: fill
    assert s.filled(10) == 300


def test_engine_backtest_queue_a_hidden_order_never_fills_from_its_place_at_its_price(
    venue_kind: str,
) -> None:
    """Our Display N bid has no place in the queue at its price: every displayed order
    there executes first (NASDAQ's price, display, time priority), those that came after
    it too, so an execution at its price fills it never; one or a print through its
    price does, after our displayed orders at that price (the module docs' hidden rule).
    Before: it queued as a displayed order, so the execution of a displayed bid that
    came after it filled it, and a print through filled it first, being older."""
    s = Sim(venue_kind)
    s.add(1, "B", 300)
    s.enter(10, "B", 100, display="N")
    s.add(2, "B", 200)  # displayed, after our hidden bid
    s.enter(11, "B", 100)  # ours, displayed, behind 1 and 2
    s.execute(1, 300)
    s.execute(2, 150)  # order 2 came after our hidden bid: it still trades first
    assert (s.filled(10), s.filled(11)) == (0, 0)
    s.add(3, "B", 100)  # behind both of ours
    s.execute(3, 100)  # reached our displayed bid (50 of order 2 first), never the hidden
    assert (s.filled(10), s.filled(11)) == (0, 50)
    s.feed(Trade(LOC, 0, s.ts(), 0, "B", 120, SYM, PX - 100, 7))  # through: displayed first
    assert (s.filled(10), s.filled(11)) == (70, 50 + 50)
    s.feed(Trade(LOC, 0, s.ts(), 0, "B", 500, SYM, PX, 8))  # at its price: nothing
    s.add(4, "B", 100, PX - 100)
    s.execute(4, 10)  # an execution through its price: fills it
    assert s.filled(10) == 80
    fills = [m for m in s.out if isinstance(m, v50.OrderExecuted)]
    assert all(f.price == PX for f in fills)


def test_engine_backtest_queue_a_replace_that_changes_display_moves_the_order(
    venue_kind: str,
) -> None:
    """A Replace gets a new timestamp and its new Display: our displayed bid replaced
    hidden no longer fills when an order behind it trades; replaced displayed again it
    joins the back of the displayed queue and fills from there. Before: the hidden
    replacement kept a displayed order's place and filled."""
    s = Sim(venue_kind)
    s.add(1, "B", 300)
    s.enter(10, "B", 100)
    s.replace(10, 11, 100, display="N")
    s.add(2, "B", 100)  # displayed, behind our now hidden bid
    s.execute(1, 300)
    s.execute(2, 100)
    assert s.filled() == 0
    s.add(3, "B", 100)
    s.replace(11, 12, 100, display="Y")  # displayed, behind order 3
    s.add(4, "B", 100)
    s.execute(3, 100)
    assert s.filled() == 0
    s.execute(4, 60)
    assert s.filled(12) == 60
    s.enter(13, "S", 50, PX - 500, display="N")  # a hidden order takes on arrival alike
    assert s.filled(13) == 40  # what is left of order 4


def test_engine_backtest_queue_a_hidden_orders_passive_fills_are_flagged_j(
    venue_kind: str,
) -> None:
    """Every passive fill of our hidden order has liquidity flag ``J`` (OUCH 5.0 Appendix
    E, "Non-displayed adding liquidity", :attr:`v50.LiquidityFlag.ADDED_HIDDEN`, the
    simulated exchange's answer too): by an execution through its price, a print through
    it and an order crossing it; our displayed order's are ``A``, and a hidden order
    that takes on arrival is ``R``. In the Fill and in the Order Executed alike. Before:
    both venues answered ``A`` for the hidden order's, so the fee schedule priced it as
    a displayed add."""
    s = Sim(venue_kind)
    s.add(1, "B", 100, PX - 200)
    s.enter(10, "B", 100, display="N")
    s.enter(11, "B", 100, PX - 100)
    s.execute(1, 30)  # through both of ours: 30 to the hidden bid
    s.feed(Trade(LOC, 0, s.ts(), 0, "S", 50, SYM, PX - 300, 9))  # through both: 50 more
    s.add(2, "S", 40, PX - 100)  # crosses both: 20 hidden, then 20 to the displayed
    s.add(3, "B", 100, PX + 500)
    s.enter(12, "S", 10, PX + 500, display="N")  # a hidden order that takes: R
    flags = [(f.user_ref_num, f.liquidity_flag) for f in s.venue.fills]
    assert flags == [(10, "J"), (10, "J"), (10, "J"), (11, "A"), (12, "R")]
    executed = [m for m in s.out if isinstance(m, v50.OrderExecuted)]
    assert [(m.user_ref_num, m.liquidity_flag) for m in executed] == flags


def test_engine_backtest_queue_a_print_of_zero_price_fills_nothing(venue_kind: str) -> None:
    """A Trade (P) of price 0 is no trade (``SimulatedVenue._through``), as an add of
    price 0 is no order: it filled our resting buy, being below every bid. One priced
    a tick through us still fills us."""
    s = Sim(venue_kind)
    s.add(1, "B", 500)
    s.enter(10, "B", 300)
    s.feed(Trade(LOC, 0, s.ts(), 0, "S", 100, SYM, 0, 77))
    assert s.filled(10) == 0
    s.feed(Trade(LOC, 0, s.ts(), 0, "S", 100, SYM, PX - 100, 78))
    assert s.filled(10) == 100


def test_engine_backtest_queue_incoming_cross_fills_us(venue_kind: str) -> None:
    s = Sim(venue_kind)
    s.add(1, "S", 100, PX + 500)
    s.enter(10, "B", 300)  # not marketable: best ask is above
    assert s.filled() == 0
    s.add(2, "S", 120, PX - 100)  # a sell priced through our bid would have hit us
    assert s.filled(10) == 120
    # Those shares are taken: a new buy of ours cannot take them again.
    s.enter(11, "B", 500, PX, tif="3")
    assert s.filled(11) == 0
    assert s.cancelled(11)[0].reason == "I" and s.cancelled(11)[0].quantity == 500


def test_engine_backtest_queue_incoming_add_with_no_side_fills_nothing(venue_kind: str) -> None:
    """An Add Order whose side is neither B nor S is no order (the book does not book it:
    a fault, ``rejected``), so it crosses nothing of ours either: it was read as a sell,
    which filled our bid on a damaged or made-up message."""
    s = Sim(venue_kind)
    s.add(1, "S", 100, PX + 500)
    s.enter(10, "B", 300)
    s.add(2, "X", 120, PX - 100)
    assert s.filled(10) == 0
    assert s.books.stats.rejected == 1 and 2 not in s.books.orders
    s.add(3, "S", 120, PX - 100)  # the same add with a real side still crosses us
    assert s.filled(10) == 120


def test_engine_backtest_queue_marketable_ioc_partial(venue_kind: str) -> None:
    s = Sim(venue_kind)
    s.add(1, "S", 100, PX)
    s.add(2, "S", 50, PX + 100)
    s.add(3, "S", 1_000, PX + 200)
    s.enter(10, "B", 400, PX + 100, tif="3")  # IOC: takes 150 over two levels
    ex = [m for m in s.out if isinstance(m, v50.OrderExecuted)]
    assert [(m.quantity, m.price, m.liquidity_flag) for m in ex] == [
        (100, PX, "R"),
        (50, PX + 100, "R"),
    ]
    assert s.cancelled(10)[0].quantity == 250 and s.cancelled(10)[0].reason == "I"
    assert s.venue.live_orders() == []


def test_engine_backtest_queue_day_remainder_rests_and_expires(venue_kind: str) -> None:
    s = Sim(venue_kind)
    s.add(1, "S", 100, PX)
    s.add(2, "B", 70, PX - 100)
    s.enter(10, "B", 300, PX)  # takes 100, rests 200 at PX (a new level: nothing ahead)
    assert s.filled(10) == 100
    assert s.venue.queue_ahead(10) == 0
    s.enter(11, "S", 100, PX - 100)  # sells into the bid at PX - 100: 70 there
    assert s.filled(11) == 70
    s.feed(SystemEvent(0, 0, s.ts(), "M"))  # end of market hours: Day orders expire
    assert s.cancelled(10)[-1].reason == "T" and s.cancelled(10)[-1].quantity == 200
    assert s.cancelled(11)[-1].quantity == 30


def test_engine_backtest_queue_replace_loses_priority_cancel_keeps_it(venue_kind: str) -> None:
    s = Sim(venue_kind)
    s.add(1, "B", 100)
    s.enter(10, "B", 300)
    s.add(2, "B", 200)  # behind us
    s.venue.receive(v50.CancelOrder(user_ref_num=10, quantity=250), s.ts())  # reduce: keeps place
    assert s.cancelled(10)[0].quantity == 50
    assert s.venue.queue_ahead(10) == 100
    s.venue.receive(
        v50.ReplaceOrder(
            orig_user_ref_num=10,
            user_ref_num=11,
            quantity=250,
            price=PX,
            time_in_force="0",
            display="Y",
            intermarket_sweep_eligibility="N",
            cl_ord_id=v50.cl_ord_id_for(11),
        ),
        s.ts(),
    )
    rep = [m for m in s.out if isinstance(m, v50.OrderReplaced)]
    assert rep and rep[0].quantity == 250 and rep[0].orig_user_ref_num == 10
    assert s.venue.queue_ahead(11) == 300  # now behind both orders
    # A replace of an order that is no longer live is silently ignored.
    before = len(s.out)
    s.venue.receive(
        v50.ReplaceOrder(
            orig_user_ref_num=10,
            user_ref_num=12,
            quantity=100,
            price=PX,
            time_in_force="0",
            display="Y",
            intermarket_sweep_eligibility="N",
            cl_ord_id=v50.cl_ord_id_for(12),
        ),
        s.ts(),
    )
    assert len(s.out) == before


def test_engine_backtest_queue_replace_counts_the_chain(venue_kind: str) -> None:
    s = Sim(venue_kind)
    s.add(1, "S", 100, PX)
    s.enter(10, "B", 500, PX - 100)
    s.add(2, "S", 100, PX - 100)  # crosses us: 100 filled
    assert s.filled(10) == 100
    # OUCH: the replace quantity is total liability incl. the 100 executed -> 400 exposed.
    s.venue.receive(
        v50.ReplaceOrder(
            orig_user_ref_num=10,
            user_ref_num=11,
            quantity=500,
            price=PX - 200,
            time_in_force="0",
            display="Y",
            intermarket_sweep_eligibility="N",
            cl_ord_id=v50.cl_ord_id_for(11),
        ),
        s.ts(),
    )
    rep = next(m for m in s.out if isinstance(m, v50.OrderReplaced))
    assert rep.quantity == 400


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"qty": 0}, 0x13),
        ({"qty": 1_000_000}, 0x13),
        ({"price": 0}, 0x1D),
        ({"symbol": "NOPE"}, 0x17),
    ],
)
def test_engine_backtest_queue_venue_rejects(
    venue_kind: str, kwargs: dict[str, object], code: int
) -> None:
    s = Sim(venue_kind)
    s.add(1, "B", 100)
    s.venue.receive(
        v50.EnterOrder(
            user_ref_num=5,
            side="B",
            quantity=int(kwargs.get("qty", 100)),  # type: ignore[call-overload]
            symbol=str(kwargs.get("symbol", SYM)),
            price=int(kwargs.get("price", PX)),  # type: ignore[call-overload]
            time_in_force="0",
            display="Y",
            capacity="P",
            intermarket_sweep_eligibility="N",
            cross_type="N",
            cl_ord_id="X",
        ),
        s.ts(),
    )
    assert isinstance(s.out[-1], v50.Rejected) and s.out[-1].reason == code


def test_engine_backtest_queue_closed_market_rejects(venue_kind: str) -> None:
    s = Sim(venue_kind)
    s.add(1, "B", 100)
    s.feed(SystemEvent(0, 0, s.ts(), "M"))
    s.enter(5, "B", 100)
    assert isinstance(s.out[-1], v50.Rejected) and s.out[-1].reason == 0x02


def test_engine_backtest_queue_replace_in_feed_shrinks_queue(venue_kind: str) -> None:
    s = Sim(venue_kind)
    s.add(1, "B", 100)
    s.add(2, "B", 100)
    s.enter(10, "B", 100)
    s.feed(OrderReplace(LOC, 0, s.ts(), 1, 3, 200, PX))  # loses priority: now behind us
    assert s.venue.queue_ahead(10) == 100
    s.execute(3, 150)  # behind us: 100 clear the queue, 50 fill us
    assert s.filled(10) == 50


def test_engine_backtest_queue_a_message_works_where_its_order_rests(venue_kind: str) -> None:
    """An execution, cancel or replace naming a feed order works on our orders of the
    stock that order rests in, whatever locate the message carries: the book applies it
    to that order there (``tickwire.engine.book``'s module docs; ``SimulatedVenue._gone``).
    Both venues looked at our orders of the message's locate: an execution of another
    stock's cheap bid said at ours filled our bid at its price, one of ours said at
    another's filled nothing."""
    s = Sim(venue_kind)
    other = LOC + 1
    s.feed(AddOrder(other, 0, s.ts(), 50, "B", 1_000, "OTHR", 10_000))
    s.add(1, "B", 100)
    s.add(2, "B", 500, PX - 100)
    s.add(7, "S", 100, PX + 500)
    s.enter(10, "B", 300)
    s.feed(OrderExecuted(LOC, 0, s.ts(), 50, 500, 1))  # OTHR's bid, said at our locate
    assert s.filled(10) == 0
    s.feed(OrderExecuted(other, 0, s.ts(), 2, 200, 2))  # ours below us, said at OTHR's
    assert s.filled(10) == 200
    s.feed(OrderCancel(other, 0, s.ts(), 1, 60))  # the order ahead of us, said at OTHR's
    assert s.venue.queue_ahead(10) == 40
    s.feed(OrderReplace(other, 0, s.ts(), 1, 3, 100, PX))  # it leaves; the new one is behind
    assert s.venue.queue_ahead(10) == 0
    s.feed(OrderReplace(other, 0, s.ts(), 7, 8, 100, PX - 100))  # our ask, now through us
    assert s.filled(10) == 300


def test_engine_backtest_queue_an_evicted_order_leaves_our_queue(venue_kind: str) -> None:
    """An add (or a replace's new order) onto a live reference evicts the older order
    (the book's ``duplicate_references``): it leaves the queue ahead of ours as a delete
    would, and the shares we took from it are forgotten, so its successor under the same
    number is another order (``SimulatedVenue._gone``). Both venues kept the evicted
    order ahead of us (an execution of its successor, behind us, filled nothing) and
    its shares counted as taken (a second buy took 40 of 100 on offer)."""
    s = Sim(venue_kind)
    s.add(1, "B", 100)
    s.add(2, "B", 100, PX - 200)
    s.enter(10, "B", 100)
    assert s.venue.queue_ahead(10) == 100
    s.add(1, "B", 100)  # evicts the order ahead of us; the new one queues behind us
    assert s.venue.queue_ahead(10) == 0
    s.execute(1, 100)  # an aggressor reached the order behind us: it fills us
    assert s.filled(10) == 100

    s = Sim(venue_kind)
    s.add(1, "B", 100)
    s.add(2, "B", 100, PX - 200)
    s.enter(10, "B", 100)
    s.feed(OrderReplace(LOC, 0, s.ts(), 2, 1, 100, PX - 300))  # onto the live 1: evicted
    assert s.venue.queue_ahead(10) == 0
    assert s.books.stats.duplicate_references == 1

    s = Sim(venue_kind)
    s.add(1, "S", 100, PX)
    s.enter(10, "B", 60, PX, tif="3")  # takes 60 of order 1
    s.add(1, "S", 100, PX)  # another order under number 1: all 100 on offer
    s.enter(11, "B", 100, PX, tif="3")
    assert (s.filled(10), s.filled(11)) == (60, 100)


def test_engine_backtest_queue_a_held_execution_works_when_applied(venue_kind: str) -> None:
    """A message that comes a few messages before the add of its order is held by the
    book (its reorder window) and applied when the add comes; it works on our orders
    then, as any message does (``SimulatedVenue._held``, ``CVenue.held``). Both venues
    looked at it only when it came, its order unknown: the execution of an order queued
    behind ours traded past our place and filled nothing."""
    s = Sim(venue_kind)
    s.add(1, "B", 100)
    s.enter(10, "B", 100)
    s.execute(5, 150)  # early: order 5 is not in the book yet (held)
    assert s.filled(10) == 0
    s.add(5, "B", 200)  # queues behind us; the held execution is applied now
    assert s.books.orders[5].shares == 50
    assert (s.filled(10), s.venue.queue_ahead(10)) == (50, 0)  # 100 ahead, then 50 us
    s.feed(OrderReplace(LOC, 0, s.ts(), 8, 9, 40, PX - 100))  # early: order 8 unknown
    s.add(8, "S", 100, PX + 100)  # the held replace re-prices it through our bid
    assert s.filled(10) == 90


@pytest.mark.skipif(not cbook.AVAILABLE, reason="compiled extension not built")
def test_engine_backtest_queue_a_held_execution_works_when_applied_over_the_compiled_book(
    venue_kind: str,
) -> None:
    """The reference venue over the compiled book (``book_backend`` compiled) is given
    the book's held messages too (``SimulatedVenue.held``): only ``CVenue`` was, so the
    held execution of an order queued behind ours filled nothing."""
    if venue_kind != "reference":
        pytest.skip("one combination: the reference venue over the compiled book")
    test_engine_backtest_queue_a_held_execution_works_when_applied("reference-over-compiled")


def test_engine_backtest_queue_a_number_reused_after_a_whole_execution_is_behind_us(
    venue_kind: str,
) -> None:
    """An order ahead of ours that trades away whole leaves our queue as a delete would
    (``SimulatedVenue._passive``): a later order under its number queues behind ours and
    its execution reaches us. Both venues kept the number among those ahead of ours, so
    that execution filled nothing."""
    s = Sim(venue_kind)
    s.add(1, "B", 100)
    s.enter(10, "B", 100)
    s.execute(1, 100)  # the order ahead of us trades away whole
    s.add(1, "B", 100)  # the number again: a new order, behind us
    assert s.venue.queue_ahead(10) == 0
    s.execute(1, 60)  # an aggressor reached the order behind us
    assert s.filled(10) == 60


@pytest.mark.parametrize("state", ["H", "P", "Q"])
def test_engine_backtest_queue_a_crossing_order_fills_nothing_in_a_halt(
    venue_kind: str, state: str
) -> None:
    """Halted, paused or quotation only (Stock Trading Action H, P, Q), an add or a
    replace priced through our resting orders fills nothing: NASDAQ executes no
    continuous order then (ITCH 5.0 4.2.2; ``SimulatedVenue._crossing``). Both venues
    filled our bid and our ask at once; trading again (T), a crossing add fills us."""
    s = Sim(venue_kind)
    s.add(1, "B", 100, PX - 500)
    s.enter(10, "B", 100)
    s.enter(11, "S", 100, PX + 500)
    s.feed(StockTradingAction(LOC, 0, s.ts(), SYM, state, " ", ""))
    s.add(2, "S", 300, PX - 100)  # through our bid
    s.feed(OrderReplace(LOC, 0, s.ts(), 1, 3, 300, PX + 600))  # through our ask
    assert s.filled() == 0
    assert [o.open for o in s.venue.live_orders()] == [100, 100]
    s.feed(StockTradingAction(LOC, 0, s.ts(), SYM, "T", " ", ""))
    s.add(4, "S", 60, PX)  # trading: it crosses our bid
    assert (s.filled(10), s.filled(11)) == (60, 0)


def test_engine_backtest_queue_a_cross_execution_fills_nothing(venue_kind: str) -> None:
    """An Order Executed With Price not printable (``N``: a cross's execution, ITCH 5.0
    4.4.2, its shares in the Cross Trade's bulk print) fills none of ours: our orders
    are continuous (Cross Type N). The book applies it, so an order ahead of ours
    leaves the queue by its shares (``SimulatedVenue._passive``). Both venues filled our
    bid from a cross's execution of an order below it or behind it."""
    s = Sim(venue_kind)
    s.add(1, "B", 100)
    s.enter(10, "B", 200)
    s.add(2, "B", 300)  # behind us
    s.add(3, "B", 300, PX - 100)  # below us
    s.feed(OrderExecutedWithPrice(LOC, 0, s.ts(), 3, 200, 1, "N", PX - 100))
    s.feed(OrderExecutedWithPrice(LOC, 0, s.ts(), 2, 150, 2, "N", PX))
    s.feed(OrderExecutedWithPrice(LOC, 0, s.ts(), 1, 60, 3, "N", PX))  # ahead of us
    assert (s.filled(10), s.venue.queue_ahead(10)) == (0, 40)
    s.feed(OrderExecutedWithPrice(LOC, 0, s.ts(), 9, 100, 4, "N", PX))  # early: held
    s.add(9, "B", 100)  # behind us; the held cross execution is applied now
    assert (s.filled(10), s.venue.queue_ahead(10)) == (0, 40)
    s.feed(OrderExecutedWithPrice(LOC, 0, s.ts(), 2, 100, 5, "Y", PX))  # printable
    assert (s.filled(10), s.venue.queue_ahead(10)) == (60, 0)


def test_engine_backtest_queue_a_user_ref_num_at_or_below_the_last_is_ignored(
    venue_kind: str,
) -> None:
    """OUCH 5.0 1.2: UserRefNums are strictly increasing, so an Enter at or below the
    highest one used is a retransmission, ignored (as OuchHost50 does); the venue keeps
    that number, not a set of every UserRefNum of the day."""
    s = Sim(venue_kind)
    s.enter(5, "B", 100)
    answered = len(s.out)
    s.enter(5, "B", 100)  # the same again
    s.enter(3, "B", 100)  # unused, but below the last: was accepted when a set was kept
    assert len(s.out) == answered
    s.enter(6, "B", 100)
    assert len(s.out) == answered + 1


# -- GTT (Time In Force 6) orders expire at their ExpireTime ------------------------------
SECOND = 1_000_000_000


def _expire_time(seconds: int) -> tuple[v50.TagValue, ...]:
    return (v50.TagValue(v50.OptionTag.EXPIRE_TIME, seconds),)


def test_gtt_order_expires_on_a_quiet_symbol(venue_kind: str) -> None:
    """A resting GTT order asks to be woken at accepted + ExpireTime; :meth:`expire` then
    cancels it, reason T, stamped at the deadline, with no market message or order at
    that time (the loop calls it: ``wake``)."""
    s = Sim(venue_kind)
    s.add(99, "S", 100, PX + 10_000)  # the symbol's book, far from our orders
    s.enter(10, "B", 100, tif="6", appendages=_expire_time(2))
    accepted = s.out[-1]
    assert isinstance(accepted, v50.OrderAccepted) and accepted.appendages == _expire_time(2)
    deadline = accepted.timestamp + 2 * SECOND
    assert s.wakes == [deadline]
    s.venue.expire(deadline - 1)
    assert s.cancelled(10) == [] and [o.user_ref_num for o in s.venue.live_orders()] == [10]
    s.venue.expire(deadline)
    assert [(m.timestamp, m.quantity, m.reason) for m in s.cancelled(10)] == [
        (deadline, 100, v50.CANCELED_TIMEOUT)
    ]
    assert s.venue.live_orders() == []
    s.venue.expire(deadline + 10 * SECOND)  # nothing more
    assert len(s.cancelled(10)) == 1


def test_gtt_partly_filled_expires_its_rest_before_a_message_of_its_time(venue_kind: str) -> None:
    """Filled in part on arrival, the rest rests; an Add crossing it at the deadline
    finds it gone: the deadline fires before the message of that time."""
    s = Sim(venue_kind)
    s.add(99, "S", 100, PX + 10_000)
    s.add(1, "S", 40, PX)
    s.enter(10, "B", 100, PX, tif="6", appendages=_expire_time(1))
    assert s.filled(10) == 40
    deadline = s.wakes[0]
    s.t = deadline - 1_000  # (ts() adds 1_000)
    s.add(2, "S", 500, PX)  # crosses us at the deadline: too late
    assert s.filled(10) == 40
    assert [(m.timestamp, m.quantity, m.reason) for m in s.cancelled(10)] == [
        (deadline, 60, v50.CANCELED_TIMEOUT)
    ]
    assert s.venue.live_orders() == []


def test_gtt_replaced_before_its_deadline_by_a_day_order_stays(venue_kind: str) -> None:
    s = Sim(venue_kind)
    s.add(99, "S", 100, PX + 10_000)  # the symbol's book, far from our orders
    s.enter(10, "B", 100, tif="6", appendages=_expire_time(2))
    deadline = s.wakes[0]
    s.replace(10, 11, 100, PX - 100, tif="0", at=deadline - SECOND)
    assert isinstance(s.out[-1], v50.OrderReplaced)
    s.venue.expire(deadline)
    s.add(1, "B", 10, PX - 500)  # a message after the old deadline
    assert s.cancelled(10) == [] and s.cancelled(11) == []
    assert [o.user_ref_num for o in s.venue.live_orders()] == [11]
    assert s.wakes == [deadline]


def test_gtt_replacement_expires_at_its_own_deadline(venue_kind: str) -> None:
    """A GTT replacement's ExpireTime counts from its Order Replaced, by its own
    appendage (the original's deadline passes harmlessly: woken then, the venue asks for
    the replacement's, ``Deadlines.wake_at``)."""
    s = Sim(venue_kind)
    s.add(99, "S", 100, PX + 10_000)  # the symbol's book, far from our orders
    s.enter(10, "B", 100, tif="6", appendages=_expire_time(2))
    first = s.wakes[0]
    replaced_at = first - SECOND
    s.replace(10, 11, 100, PX, tif="6", appendages=_expire_time(5), at=replaced_at)
    rep = s.out[-1]
    assert isinstance(rep, v50.OrderReplaced) and rep.appendages == _expire_time(5)
    assert s.wakes == [first]  # a wake comes before the new deadline: no other asked
    s.venue.expire(first)
    assert s.cancelled(10) == [] and s.cancelled(11) == []
    assert s.wakes == [first, replaced_at + 5 * SECOND]  # the next, asked when woken
    s.venue.expire(replaced_at + 5 * SECOND - 1)
    assert s.cancelled(11) == []
    s.t = replaced_at + 6 * SECOND
    s.enter(12, "S", 100, PX + 100)  # an order after the deadline: the expiry goes first
    assert [(m.timestamp, m.quantity, m.reason) for m in s.cancelled(11)] == [
        (s.t, 100, v50.CANCELED_TIMEOUT)
    ]
    assert isinstance(s.out[-1], v50.OrderAccepted) and s.out[-1].user_ref_num == 12
    assert [o.user_ref_num for o in s.venue.live_orders()] == [12]


def test_gtt_orders_canceled_before_their_deadline_cost_nothing_after(venue_kind: str) -> None:
    """A strategy entering and cancelling GTT orders (ExpireTime a day, less a second)
    all day leaves nothing behind per order, in the venue nor in its loop: the venue
    forgets an ended order's deadline (``Deadlines.discard``) and asks its loop to wake
    it only at its earliest live deadline (``Deadlines.wake_at``), once. The old venues
    kept every deadline until it came and asked for a wake at each: 20,000 orders left
    20,000 heap entries and 20,000 wakes (a day of them, some 230 bytes an order). The
    order still live keeps its deadline, and expires at it."""
    s = Sim(venue_kind)
    s.add(99, "S", 100, PX + 10_000)  # the symbol's book, far from our orders
    s.enter(1, "B", 100, PX - 100, tif="6", appendages=_expire_time(3600))  # stays
    deadline = s.wakes[0]
    for ref in range(2, 20_002):
        s.enter(ref, "B", 100, PX - 200, tif="6", appendages=_expire_time(86_399))
        s.venue.receive(v50.CancelOrder(ref, 0), s.ts())
    assert [o.user_ref_num for o in s.venue.live_orders()] == [1]
    assert len(s.venue._deadlines.heap) < 200 and len(s.venue._deadlines) < 200
    assert s.wakes == [deadline]
    s.venue.expire(deadline)
    assert [(m.timestamp, m.reason) for m in s.cancelled(1)] == [(deadline, "T")]


def test_gtt_expiry_leaves_day_orders_alone(venue_kind: str) -> None:
    s = Sim(venue_kind)
    s.add(99, "S", 100, PX + 10_000)  # the symbol's book, far from our orders
    s.enter(9, "B", 100, PX - 100)  # Day
    s.enter(10, "B", 100, tif="6", appendages=_expire_time(1))
    s.venue.expire(s.wakes[0] + 3600 * SECOND)
    assert s.cancelled(9) == [] and s.cancelled(10)[0].reason == v50.CANCELED_TIMEOUT
    assert [o.user_ref_num for o in s.venue.live_orders()] == [9]
    assert len(s.wakes) == 1  # only the GTT order asked
