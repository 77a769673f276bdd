"""The compiled venue (``compiled_venue``, the compiled replay core's) against the reference
``SimulatedVenue`` (the oracle), message by message.

The core's differential tests (``test_engine_backtest_core.py``) compare whole reports of
strategies that send valid orders through pre-trade risk; here random interleavings of
ITCH book messages (adds with any side byte, executions, cancels, deletes, replaces,
non-displayed trades, halts, the open and the close, references that are unknown or
reused) and raw OUCH 5.0 messages (any side, quantity, price, symbol and time in force,
displayed or hidden,
GTT with an ExpireTime of 1 or 2 seconds among them, an ExpireTime twice, after another
tag or with another Time In Force, replaces and cancels of any of our
orders, retransmitted UserRefNums), with waits of whole seconds (after which both are
woken at that time, as the backtest loops wake them, or not, so what is due expires
before the next message), reach both venues, each over its own book, and after every
message both have sent the same answers, made the same fills, asked to be woken at the
same deadlines, and hold the same orders with the same queue ahead and the same shares
taken from feed orders."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
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
    OrderReplace,
    StockTradingAction,
    SystemEvent,
    Trade,
)
from tickwire.ouch import v50

pytestmark = pytest.mark.skipif(not cbook.AVAILABLE, reason="compiled extension not built")

SYM = "TEST"
LOC = 7
PX = 1_000_000
TICK = 100

_refs = st.integers(1, 12)  # feed references: a small pool, so messages name live orders
_px = st.integers(-3, 3).map(lambda k: PX + k * TICK)
_itch = st.one_of(
    st.tuples(st.just("A"), _refs, st.sampled_from("BSBSX"), st.integers(0, 500), _px),
    st.tuples(st.just("E"), _refs, st.integers(1, 600)),
    st.tuples(st.just("X"), _refs, st.integers(1, 600)),
    st.tuples(st.just("D"), _refs),
    st.tuples(st.just("U"), _refs, _refs, st.integers(0, 500), _px),
    st.tuples(st.just("P"), st.sampled_from("BS"), st.integers(1, 500), _px),
    # Halts and the close are rare, and mostly undone (T, Q): orders must get through.
    st.tuples(st.just("H"), st.sampled_from(["H", "T", "T", "T"])),
    st.tuples(st.just("S"), st.sampled_from(["M", "E", "Q", "Q", "Q", "Q"])),
    # Whole seconds pass (a GTT's deadline may), then both are woken or not.
    st.tuples(st.just("W"), st.sampled_from([1, 1, 2]), st.booleans()),
)
#: A Time In Force, ``6/N`` being GTT with an ExpireTime of N seconds (``6`` without).
_GTT = {"6/1": 1, "6/2": 2}
#: Hostile appendages: an ExpireTime with another Time In Force (no deadline), twice (the
#: first counts), after another tag, or another tag alone with GTT (refused).
_APPENDED = {
    "0/1": ("0", (v50.TagValue(v50.OptionTag.EXPIRE_TIME, 1),)),
    "6/1,2": ("6", (v50.TagValue(v50.OptionTag.EXPIRE_TIME, 1), v50.TagValue(15, 2))),
    "6/0,1": ("6", (v50.TagValue(v50.OptionTag.EXPIRE_TIME, 0), v50.TagValue(15, 1))),
    "6/m,1": ("6", (v50.TagValue(v50.OptionTag.MIN_QTY, 0), v50.TagValue(15, 1))),  # 0: none
    "6/m": ("6", (v50.TagValue(v50.OptionTag.MIN_QTY, 5),)),
}
#: Every OUCH 5.0 Capacity and Cross Type, an Enter's by its UserRefNum: Cross Type ``N``
#: three times in four (only it is taken: ``v50.cross_type_reason``), every other one and
#: a byte not in the table now and then (Rejected 0x14 alike).
_CAPACITIES = [str(c) for c in v50.Capacity]
_CROSS_TYPES = ["N"] * 24 + [str(c) for c in v50.CrossType if c != "N"] + ["X"]
#: Display: hidden (``N``) one order in three, so our hidden and displayed orders share
#: prices and aggressors (the module docs' hidden order rule; ``A`` is displayed).
_DISPLAYS = ["Y", "N", "Y", "N", "A", "Y"]
_ouch = st.one_of(
    # flaw: 0-7 one thing wrong (side, quantity, price, symbol, a retransmission), else none
    st.tuples(
        st.just("enter"),
        st.sampled_from("BSTE"),
        st.sampled_from([100, 300, 50, 1, 999_999]),
        _px,
        st.sampled_from(
            ["0", "0", "3", "0", "0", "3", "5", "6", "Q", "6/1", "6/2", *_APPENDED]
        ),  # 6, Q: refused
        st.integers(0, 23),
    ),
    st.tuples(
        st.just("replace"),
        st.integers(0, 20),
        st.sampled_from([100, 300, 50, 1, 0, 1_000_000]),
        _px,
        st.sampled_from(["0", "3", "0", "3", "6", "Q", "6/1", "6/2", "5", "E", *_APPENDED]),
    ),
    st.tuples(st.just("cancel"), st.integers(0, 20), st.sampled_from([0, 10, 100, 0])),
)


class Pair:
    """Both venues, each over its own book, fed the same messages."""

    def __init__(self) -> None:
        self.ref_out: list[v50.OutboundMessage] = []
        self.c_out: list[v50.OutboundMessage] = []
        self.ref_books = BookManager()
        self.c_books: Any = cbook.make_book_manager("cython")
        self.ref_wakes: list[int] = []
        self.c_wakes: list[int] = []
        self.ref = SimulatedVenue(self.ref_books, self.ref_out.append, self.ref_wakes.append)
        self.comp: Any = compiled_venue(self.c_books, self.c_out.append, self.c_wakes.append)
        self.t = 34_200_000_000_000
        self.match = 0
        self.user_ref = 0
        self.feed(SystemEvent(0, 0, self.t, "Q"))
        # Far quotes on both sides (references outside the pool): the symbol's book exists.
        self.feed(AddOrder(LOC, 0, self.ts(), 100, "B", 1_000, SYM, PX - 10 * TICK))
        self.feed(AddOrder(LOC, 0, self.ts(), 101, "S", 1_000, SYM, PX + 10 * TICK))

    def ts(self) -> int:
        self.t += 1_000
        return self.t

    def feed(self, msg: Message) -> None:
        self.ref.on_market(msg, msg.timestamp)
        self.ref_books.apply(msg)
        self.comp.on_market(msg, msg.timestamp)
        self.c_books.apply(msg)

    def send(self, msg: v50.InboundMessage) -> None:
        t = self.ts()
        self.ref.receive(msg, t)
        self.comp.receive(msg, t)

    def named(self, k: int) -> int:
        """The feed order a message names: mostly a live one (the ``k``-th), else ``k``
        itself (maybe unknown: the books hold it in their reorder window)."""
        live = sorted(self.ref_books.orders)
        return live[k % len(live)] if live and k <= 9 else k

    def itch(self, op: tuple[Any, ...]) -> None:
        kind, t = op[0], self.ts()
        self.match += 1
        if kind == "A":
            _, ref, side, shares, price = op
            self.feed(AddOrder(LOC, 0, t, ref, side, shares, SYM, price))
        elif kind == "E":
            self.feed(OrderExecuted(LOC, 0, t, self.named(op[1]), op[2], self.match))
        elif kind == "X":
            self.feed(OrderCancel(LOC, 0, t, self.named(op[1]), op[2]))
        elif kind == "D":
            self.feed(OrderDelete(LOC, 0, t, self.named(op[1])))
        elif kind == "U":
            _, old, new, shares, price = op
            self.feed(OrderReplace(LOC, 0, t, self.named(old), new, shares, price))
        elif kind == "P":
            _, side, shares, price = op
            self.feed(Trade(LOC, 0, t, 0, side, shares, SYM, price, self.match))
        elif kind == "H":
            self.feed(StockTradingAction(LOC, 0, t, SYM, op[1], " ", ""))
        elif kind == "W":
            self.t += op[1] * 1_000_000_000
            if op[2]:  # woken (the loops' wake); else what is due goes before what comes
                self.ref.expire(self.t)
                self.comp.expire(self.t)
        else:
            self.feed(SystemEvent(0, 0, t, op[1]))

    @staticmethod
    def tif(tif: str) -> tuple[str, tuple[v50.TagValue, ...]]:
        """The Time In Force byte and appendages of ``tif`` (``6/N``: GTT, N seconds)."""
        if tif in _APPENDED:
            return _APPENDED[tif]
        if tif in _GTT:
            return "6", (v50.TagValue(v50.OptionTag.EXPIRE_TIME, _GTT[tif]),)
        return tif, ()

    def ouch(self, op: tuple[Any, ...]) -> None:
        kind = op[0]
        if kind == "enter":
            _, side, qty, price, tif, flaw = op
            tif, appendages = self.tif(tif)
            symbol = SYM
            if flaw < 8:
                side, qty, price, symbol = (
                    ("X", qty, price, SYM),
                    (side, 0, price, SYM),
                    (side, 1_000_000, price, SYM),
                    (side, qty, 0, SYM),
                    (side, qty, 2_000_000_000, SYM),
                    (side, qty, price, "NOPE"),
                    (side, qty, price, SYM),
                    (side, qty, price, SYM),
                )[flaw]
            if flaw != 7 or self.user_ref == 0:  # 7: a retransmission (the same number)
                self.user_ref += 1
            self.send(
                v50.EnterOrder(
                    user_ref_num=self.user_ref,
                    side=side,
                    quantity=qty,
                    symbol=symbol,
                    price=price,
                    time_in_force=tif,
                    display=_DISPLAYS[self.user_ref % len(_DISPLAYS)],
                    # every Capacity and Cross Type, which the Order Replaced of the
                    # order's chain repeats (SimOrder.capacity)
                    capacity=_CAPACITIES[self.user_ref % len(_CAPACITIES)],
                    intermarket_sweep_eligibility="N",
                    cross_type=_CROSS_TYPES[self.user_ref % len(_CROSS_TYPES)],
                    cl_ord_id=v50.cl_ord_id_for(self.user_ref),
                    appendages=appendages,
                )
            )
        elif kind == "replace":
            _, back, qty, price, tif = op
            tif, appendages = self.tif(tif)
            self.user_ref += 1
            self.send(
                v50.ReplaceOrder(
                    orig_user_ref_num=max(1, self.user_ref - 1 - back),
                    user_ref_num=self.user_ref,
                    quantity=qty,
                    price=price,
                    time_in_force=tif,
                    display=_DISPLAYS[self.user_ref // 2 % len(_DISPLAYS)],
                    intermarket_sweep_eligibility="N",
                    cl_ord_id=v50.cl_ord_id_for(self.user_ref),
                    appendages=appendages,
                )
            )
        else:
            _, back, qty = op
            self.send(v50.CancelOrder(user_ref_num=max(1, self.user_ref - back), quantity=qty))

    def check(self) -> None:
        assert self.c_out == self.ref_out
        assert self.comp.fills == self.ref.fills
        assert self.comp._consumed == self.ref._consumed
        ref_live = [(o.user_ref_num, o.side, o.price, o.open) for o in self.ref.live_orders()]
        c_live = [(o.user_ref_num, o.side, o.price, o.open) for o in self.comp.live_orders()]
        assert c_live == ref_live
        for o in self.ref.live_orders():
            c = self.comp._live[o.user_ref_num]
            assert (
                c.ahead, c.joined_ahead, c.ahead_refs, c.chain_filled, c.expires, c.capacity,
                c.cross_type, c.hidden,
            ) == (
                o.ahead, o.joined_ahead, o.ahead_refs, o.chain_filled, o.expires, o.capacity,
                o.cross_type, o.hidden,
            )  # fmt: skip
            assert self.comp.queue_ahead(o.user_ref_num) == self.ref.queue_ahead(o.user_ref_num)
        assert sorted(self.comp._by_locate) == sorted(self.ref._by_locate)
        assert self.comp._last_ref == self.ref._last_ref
        assert self.c_wakes == self.ref_wakes


@settings(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(st.one_of(_itch, _ouch), min_size=10, max_size=150))
def test_engine_backtest_cvenue_matches_the_reference_message_by_message(
    ops: list[tuple[Any, ...]],
) -> None:
    pair = Pair()
    for op in ops:
        if op[0] in ("enter", "replace", "cancel"):
            pair.ouch(op)
        else:
            pair.itch(op)
        pair.check()


def test_engine_backtest_cvenue_replace_with_bad_details_takes_the_order_out() -> None:
    """OUCH 5.0 2.2, case 2: a Replace with invalid details (here a price out of range)
    cancels the order it names (reason ``Z``) on both venues."""
    pair = Pair()
    pair.itch(("A", 1, "B", 100, PX))
    pair.ouch(("enter", "B", 300, PX, "0", 23))  # 23: nothing wrong
    pair.ouch(("replace", 0, 300, 2_000_000_000, "0"))
    pair.check()
    cancels = [m for m in pair.c_out if isinstance(m, v50.OrderCanceled)]
    assert [(m.quantity, m.reason) for m in cancels] == [(300, "Z")]
    assert pair.comp.live_orders() == []


def test_engine_backtest_cvenue_a_bad_time_in_force_is_answered_alike() -> None:
    """A Time In Force byte not in OUCH 5.0's table, or GTT (6) without an ExpireTime
    appendage: an Enter is Rejected 0x0F Other, a Replace cancels the order it names
    (reason ``Z``, section 2.2 case 2), on both venues; GTT with ExpireTime is taken.
    Both accepted each and rested it."""
    pair = Pair()
    pair.ouch(("enter", "B", 300, PX - TICK, "Q", 23))  # UserRefNum 1
    pair.ouch(("enter", "B", 300, PX - TICK, "6", 23))  # 2: GTT, no ExpireTime
    pair.ouch(("enter", "B", 300, PX - TICK, "\x00", 23))  # 3
    pair.check()
    assert [(type(m), m.reason) for m in pair.c_out] == [  # type: ignore[union-attr]
        (v50.Rejected, v50.RejectReason.OTHER)
    ] * 3
    assert pair.comp.live_orders() == []
    pair.ouch(("enter", "B", 300, PX - TICK, "0", 23))  # 4
    pair.ouch(("replace", 0, 300, PX - 2 * TICK, "6"))  # 5 replaces 4: GTT, no ExpireTime
    pair.check()
    assert [(type(m), m.reason) for m in pair.c_out[-1:]] == [  # type: ignore[union-attr]
        (v50.OrderCanceled, "Z")
    ]
    expire = (v50.TagValue(v50.OptionTag.EXPIRE_TIME, 30),)
    gtt = v50.EnterOrder(5, "B", 100, SYM, PX - TICK, "6", "Y", "P", "N", "N", "C5", expire)
    pair.send(gtt)  # 5 was not consumed
    pair.check()
    assert isinstance(pair.c_out[-1], v50.OrderAccepted)
    assert [o.user_ref_num for o in pair.comp.live_orders()] == [5]


def test_engine_backtest_cvenue_an_enter_of_a_cross_type_other_than_n_is_rejected_alike() -> None:
    """The venues run the continuous market only: an Enter whose Cross Type is any byte
    but ``N`` is Rejected 0x14 Invalid Cross Order on both (``v50.cross_type_reason``,
    as the simulated exchange answers), its UserRefNum consumed, after every other check
    (a bad price earns 0x1D, a bad Time In Force 0x0F). Both accepted an order of any
    Cross Type and traded it at once against the offer it crossed."""
    pair = Pair()
    pair.itch(("A", 1, "S", 100, PX))  # someone else's offer, which each buy would take
    invalid = v50.RejectReason.INVALID_CROSS_ORDER
    ref = 0
    for cross_type in [chr(b) for b in range(256) if chr(b) != "N"]:
        ref += 1
        enter = v50.EnterOrder(ref, "B", 100, SYM, PX, "0", "Y", "P", "N", cross_type, "C")
        assert _answer_alike(pair, enter) == [v50.Rejected(pair.t, ref, invalid, "C")]
        bad = [
            (dataclasses.replace(enter, price=0), v50.RejectReason.INVALID_PRICE),
            (dataclasses.replace(enter, time_in_force="Q"), v50.RejectReason.OTHER),
        ]
        for other, reason in bad:
            ref += 1
            msg = dataclasses.replace(other, user_ref_num=ref)
            assert _answer_alike(pair, msg) == [v50.Rejected(pair.t, ref, reason, "C")]
    assert pair.comp.fills == [] and pair.comp.live_orders() == []
    n = v50.EnterOrder(ref, "B", 100, SYM, PX, "0", "Y", "P", "N", "N", "C")
    assert _answer_alike(pair, n) == []  # the last UserRefNum was consumed
    out = _answer_alike(pair, dataclasses.replace(n, user_ref_num=ref + 1))
    assert [type(m) for m in out] == [v50.OrderAccepted, v50.OrderExecuted]
    pair.check()


def test_engine_backtest_cvenue_a_bad_display_or_a_min_qty_is_refused_alike() -> None:
    """An Enter whose Display is any byte but ``Y``, ``N``, ``A`` is Rejected 0x03
    Invalid Display on both, one with a MinQty other than 0 (which neither venue runs)
    0x0D Invalid Min Quantity (``v50.order_terms_reason``, given to the ``CVenue``);
    a Replace with either cancels its original, reason ``Z``, on both; so too a
    MaxFloor below the quantity (0x04), a peg (0x05), PostOnly ``P`` (0x0F). Both
    accepted and echoed a Display ``Q``; a MinQty 100 (a MaxFloor 10, a post-only) buy
    filled at once."""
    pair = Pair()
    pair.itch(("A", 1, "S", 100, PX))  # someone else's offer, which each buy would take
    ref = 0
    min_qty = (v50.TagValue(v50.OptionTag.MIN_QTY, 100),)
    cases = [(chr(b), (), v50.RejectReason.INVALID_DISPLAY) for b in range(256)
             if chr(b) not in "YNA"]  # fmt: skip
    cases += [("Y", min_qty, v50.RejectReason.INVALID_MIN_QUANTITY)]
    # appendages neither runs (v50.order_terms_reason's table): a reserve order, a peg,
    # a post-only order (which here would take the offer)
    T, R = v50.OptionTag, v50.RejectReason
    cases += [("Y", (v50.TagValue(T.MAX_FLOOR, 10),), R.INVALID_MAX_FLOOR),
              ("N", (v50.TagValue(T.PRICE_TYPE, "M"),), R.INVALID_PEG_TYPE),
              ("Y", (v50.TagValue(T.POST_ONLY, "P"),), R.OTHER)]  # fmt: skip
    for display, appendages, reason in cases:
        ref += 1
        enter = v50.EnterOrder(ref, "B", 100, SYM, PX, "0", display, "P", "N", "N", "C",
                               appendages)  # fmt: skip
        assert _answer_alike(pair, enter) == [v50.Rejected(pair.t, ref, reason, "C")]
    assert pair.comp.fills == [] and pair.comp.live_orders() == []
    for display, appendages, _ in [cases[0], cases[-1]]:
        ref += 1
        rest = v50.EnterOrder(ref, "B", 100, SYM, PX - TICK, "0", "Y", "P", "N", "N", "C")
        assert [type(m) for m in _answer_alike(pair, rest)] == [v50.OrderAccepted]
        rep = v50.ReplaceOrder(ref, ref + 1, 100, PX - TICK, "0", display, "N", "R", appendages)
        assert _answer_alike(pair, rep) == [v50.OrderCanceled(pair.t, ref, 100, "Z")]
    assert pair.comp.live_orders() == []
    pair.check()


def test_engine_backtest_cvenue_every_order_left_expires_at_the_end_of_system_hours() -> None:
    """System Event ``E`` (End of System Hours): every order still resting, whatever its
    Time In Force (GTX, After Hours, GTT with ExpireTime), is canceled, reason ``T``,
    oldest first, on both venues; the Day order went at ``M``. Both left them resting."""
    pair = Pair()
    pair.ouch(("enter", "B", 300, PX - TICK, "5", 23))  # UserRefNum 1: GTX
    pair.ouch(("enter", "S", 100, PX + TICK, "E", 23))  # 2: After Hours
    pair.ouch(("enter", "B", 200, PX - 2 * TICK, "0", 23))  # 3: Day
    expire = (v50.TagValue(v50.OptionTag.EXPIRE_TIME, 30),)
    pair.send(v50.EnterOrder(4, "B", 50, SYM, PX - 3 * TICK, "6", "Y", "P", "N", "N", "C4", expire))
    pair.check()
    pair.ref_out.clear()
    pair.c_out.clear()
    pair.itch(("S", "M"))
    pair.check()
    assert [(m.user_ref_num, m.reason) for m in pair.c_out] == [(3, "T")]  # type: ignore[union-attr]
    pair.itch(("S", "E"))
    pair.check()
    assert [(type(m), m.user_ref_num, m.quantity, m.reason) for m in pair.c_out[1:]] == [  # type: ignore[union-attr]
        (v50.OrderCanceled, 1, 300, "T"),
        (v50.OrderCanceled, 2, 100, "T"),
        (v50.OrderCanceled, 4, 50, "T"),
    ]
    assert pair.comp.live_orders() == [] and pair.ref.live_orders() == []


def test_an_invalid_replace_does_not_consume_its_user_ref_num() -> None:
    """OUCH 5.0 2.2, case 2: after a Replace with invalid details "the replacement Order
    UserRefNum will not be consumed, and may be reused": an Enter, then a Replace, under
    that UserRefNum are processed, not ignored as repeats. Both venues consumed it."""
    pair = Pair()
    pair.ouch(("enter", "B", 300, PX - TICK, "0", 23))  # UserRefNum 1
    pair.ouch(("enter", "B", 100, PX - TICK, "0", 23))  # 2
    pair.ouch(("replace", 1, 1_000_000, PX - TICK, "0"))  # 3 replaces 1: invalid
    pair.check()
    assert [(type(m), m.user_ref_num) for m in pair.c_out[-1:]] == [(v50.OrderCanceled, 1)]
    pair.user_ref = 2  # 3 again: an Enter under it is accepted
    pair.ouch(("enter", "B", 50, PX - TICK, "0", 23))
    pair.check()
    assert isinstance(pair.c_out[-1], v50.OrderAccepted) and pair.c_out[-1].user_ref_num == 3
    pair.ouch(("replace", 0, 0, PX - TICK, "0"))  # 4 replaces 3: invalid (quantity 0)
    pair.user_ref = 3
    pair.ouch(("replace", 1, 100, PX - 2 * TICK, "0"))  # 4 again, now replacing 2
    pair.check()
    last = pair.c_out[-1]
    assert isinstance(last, v50.OrderReplaced)
    assert (last.orig_user_ref_num, last.user_ref_num) == (2, 4)


# The edges of OUCH's order-field rules (``v50.order_fields_reason`` in the reference venue,
# the C checks of ``CVenue._validate`` given the same table at construction).
EDGE_QTY = [0, 1, v50.MAX_QUANTITY, v50.MAX_QUANTITY + 1, 2**32 - 1]
EDGE_PX = [0, 1, v50.MAX_PRICE, v50.MAX_PRICE + 1, 2**32 - 1]
EVERY_BYTE = [chr(b) for b in range(256)]
EXPIRE = {
    "none": (),
    "0s": (v50.TagValue(v50.OptionTag.EXPIRE_TIME, 0),),
    "1s": (v50.TagValue(v50.OptionTag.EXPIRE_TIME, 1),),
    "86399s": (v50.TagValue(v50.OptionTag.EXPIRE_TIME, v50.EXPIRE_TIME_LIMIT - 1),),
    "86400s": (v50.TagValue(v50.OptionTag.EXPIRE_TIME, v50.EXPIRE_TIME_LIMIT),),
}


def _answer_alike(pair: Pair, msg: v50.InboundMessage) -> list[v50.OutboundMessage]:
    """Send ``msg`` to both venues; both answer the same, which is returned."""
    before = len(pair.ref_out)
    pair.send(msg)
    assert pair.c_out[before:] == pair.ref_out[before:], msg
    return pair.ref_out[before:]


def _edge_enter(ref: int, side: str, qty: int, price: int, tif: str, expire: str) -> v50.EnterOrder:
    return v50.EnterOrder(
        ref, side, qty, SYM, price, tif, "Y", "P", "N", "N", f"C{ref}", EXPIRE[expire]
    )  # fmt: skip


def test_engine_backtest_cvenue_edge_fields_are_answered_alike() -> None:
    """Every side byte, the quantity and price edges (0, 1, the limit, one past it,
    2**32 - 1) and every Time In Force byte (GTT with no, 0, 1, 86,399 and 86,400 s of
    ExpireTime), as Enters and as Replaces: the compiled venue, whose checks stay in C,
    answers each alike with the reference, whose checks are
    ``v50.order_fields_reason`` and ``v50.time_in_force_error``; an Enter's side,
    quantity and price earn the reason that function gives. Seen failing with one
    limit given to ``CVenue`` off by one."""
    pair = Pair()
    ref = 0
    grid = [(s, q, p, "3", "none") for s in EVERY_BYTE for q in EDGE_QTY for p in EDGE_PX]
    grid += [(s, q, p, t, "none") for t in EVERY_BYTE for s in "BX" for q in EDGE_QTY[1:4] for p in EDGE_PX[1:4]]  # fmt: skip
    grid += [(s, q, p, "6", e) for e in EXPIRE for s in "SX" for q in EDGE_QTY for p in EDGE_PX]  # fmt: skip
    for side, qty, price, tif, expire in grid:
        ref += 1
        out = _answer_alike(pair, _edge_enter(ref, side, qty, price, tif, expire))[0]
        fields = v50.order_fields_reason(side, qty, price)
        if fields is not None:
            assert out == v50.Rejected(pair.t, ref, fields, f"C{ref}")
        if isinstance(out, v50.OrderAccepted) and ref in pair.ref._live:
            _answer_alike(pair, v50.CancelOrder(ref, 0))  # keep the book small
    pair.check()
    # Replaces of a resting order to each edge: taken alike, or the order out alike
    for qty in EDGE_QTY:
        for price in [p for p in EDGE_PX if p < PX] + [0, 2**32 - 1]:
            for tif, expire in [("0", "none"), ("Q", "none"), ("6", "none"), ("6", "1s"), ("6", "86400s")]:  # fmt: skip
                ref += 1
                _answer_alike(pair, _edge_enter(ref, "B", 100, PX - 5 * TICK, "0", "none"))
                ref += 1
                rep = v50.ReplaceOrder(ref - 1, ref, qty, price, tif, "Y", "N", f"C{ref}", EXPIRE[expire])  # fmt: skip
                _answer_alike(pair, rep)
                for live in list(pair.ref._live):
                    _answer_alike(pair, v50.CancelOrder(live, 0))
    pair.check()


def test_engine_backtest_cvenue_accepted_and_replaced_repeat_the_appendages() -> None:
    """An Order Accepted and an Order Replaced repeat the Enter's and the Replace's
    appendages (a GTT's ExpireTime) on both venues, as the simulated exchange and
    ``OuchHost50`` answer. Both answered none."""
    pair = Pair()
    expire = (v50.TagValue(v50.OptionTag.EXPIRE_TIME, 30),)
    pair.send(v50.EnterOrder(1, "B", 50, SYM, PX - TICK, "6", "Y", "P", "N", "N", "C1", expire))
    pair.send(v50.ReplaceOrder(1, 2, 50, PX - 2 * TICK, "6", "Y", "N", "C2", expire))
    pair.check()
    assert [(type(m), m.appendages) for m in pair.c_out] == [  # type: ignore[union-attr]
        (v50.OrderAccepted, expire),
        (v50.OrderReplaced, expire),
    ]


def test_engine_backtest_cvenue_a_replace_of_a_sell_short_order_keeps_its_side() -> None:
    """The Order Replaced of a sell short order (``T``, ``E``), and of its replacement,
    says the side it was entered with on both venues, as the simulated exchange and
    ``OuchHost50`` answer. Both said ``S``."""
    pair = Pair()
    for ref, side in ((1, "T"), (3, "E")):
        pair.send(v50.EnterOrder(ref, side, 50, SYM, PX + TICK, "0", "Y", "P", "N", "N", "C"))
        pair.send(v50.ReplaceOrder(ref, ref + 1, 50, PX + 2 * TICK, "0", "Y", "N", "C"))
    pair.send(v50.ReplaceOrder(4, 5, 50, PX + 3 * TICK, "0", "Y", "N", "C"))
    pair.check()
    replaced = [m.side for m in pair.c_out if isinstance(m, v50.OrderReplaced)]
    assert replaced == ["T", "E", "E"]


def test_engine_backtest_cvenue_a_hidden_order_is_held_alike() -> None:
    """A hand-made day of our hidden and displayed bids at one price (the venue's module
    docs, "Hidden orders"), both venues compared after every message: our hidden bid
    (UserRefNum 1, Display ``N`` by ``_DISPLAYS``) never fills from its place, not when
    the displayed bid that came after it trades; our displayed bid (2) fills from its
    place, and first from a print through both; replaced hidden (3) the chain has no
    place, replaced displayed (4) it joins the back of the queue and fills from there."""
    pair = Pair()
    ops: list[tuple[Any, ...]] = [
        ("A", 10, "B", 300, PX),
        ("enter", "B", 100, PX, "0", 23),  # 1: hidden
        ("A", 11, "B", 200, PX),  # displayed, after our hidden bid
        ("enter", "B", 100, PX, "0", 23),  # 2: displayed
        ("E", 10, 300),
        ("E", 11, 150),  # came after our hidden bid: fills nothing of ours
        ("A", 12, "B", 100, PX),
        ("E", 12, 100),  # 50 of order 11 ahead of 2, then 50 of 2; never 1
        ("P", "B", 120, PX - TICK),  # through: 2's last 50, then 70 of 1
        ("replace", 1, 100, PX, "0"),  # 3 replaces 1, hidden (_DISPLAYS[3 // 2])
        ("A", 12, "B", 100, PX),
        ("E", 12, 10),  # behind 3: fills nothing
        ("replace", 0, 100, PX, "0"),  # 4 replaces 3, displayed (_DISPLAYS[4 // 2])
        ("A", 13, "B", 100, PX),
        ("E", 11, 50),  # ahead of 4 (11's last 50 and 12's 90): fills nothing
        ("E", 12, 50),
        ("E", 13, 100),  # behind 4: 40 of 12 first, then 4's 30 open (its chain had 70)
    ]
    for op in ops:
        pair.ouch(op) if op[0] in ("enter", "replace", "cancel") else pair.itch(op)
        pair.check()
    got = [(f.user_ref_num, f.quantity, f.cause) for f in pair.ref.fills]
    assert got == [
        (2, 50, "execution"),
        (2, 50, "trade-through"),
        (1, 70, "trade-through"),
        (4, 30, "execution"),
    ]
