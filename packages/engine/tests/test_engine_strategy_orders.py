"""The engine's OrderManager on the one OUCH order tracker of tickwire-ouch."""

from __future__ import annotations

import logging

import pytest
from tickwire.engine.risk import RiskEngine, RiskLimits
from tickwire.engine.strategy import OrderManager, OrderState, OrderUpdate
from tickwire.ouch import v50

PX = 1_000_000


def _manager() -> tuple[OrderManager, list[OrderUpdate]]:
    updates: list[OrderUpdate] = []
    risk = RiskEngine(RiskLimits(max_open_orders=1))
    m = OrderManager(lambda msg: None, risk, lambda: 7, on_update=updates.append)
    return m, updates


def _accept(m: OrderManager, ref: int, qty: int) -> None:
    o = m.orders[ref]
    orn = 9000 + ref
    args = (o.price, o.time_in_force, "Y", orn, o.capacity, "N", "N", "L", o.cl_ord_id)
    m.on_message(v50.OrderAccepted(1, ref, o.side, qty, o.symbol, *args))


def test_the_enter_and_replace_sent_carry_every_field() -> None:
    """The Enter and the Replace the manager sends (built by position, for speed) are the
    messages built field by field by name: every field, with values no two share where
    they could be swapped (time in force, capacity, display, ...)."""
    sent: list[object] = []
    m = OrderManager(sent.append, RiskEngine(RiskLimits()), lambda: 7, capacity="A")
    o = m.submit("AAPL ", "S", 300, PX, time_in_force=v50.TimeInForce.GTX)
    assert sent[-1] == v50.EnterOrder(
        user_ref_num=o.user_ref_num,
        side="S",
        quantity=300,
        symbol="AAPL",
        price=PX,
        time_in_force=str(v50.TimeInForce.GTX),
        display="Y",
        capacity="A",
        intermarket_sweep_eligibility="N",
        cross_type="N",
        cl_ord_id=v50.cl_ord_id_for(o.user_ref_num),
    )
    _accept(m, o.user_ref_num, 300)
    m.on_message(v50.OrderExecuted(2, o.user_ref_num, 100, PX, "A", 1))
    new = m.replace(o, price=PX + 100, quantity=150)
    assert new is not None
    assert sent[-1] == v50.ReplaceOrder(
        orig_user_ref_num=o.user_ref_num,
        user_ref_num=new.user_ref_num,
        quantity=250,  # 100 executed on the chain + 150 open
        price=PX + 100,
        time_in_force=str(v50.TimeInForce.GTX),
        display="Y",
        intermarket_sweep_eligibility="N",
        cl_ord_id=v50.cl_ord_id_for(new.user_ref_num),
    )


def test_a_hidden_order_is_sent_with_display_n_and_replaced_alike() -> None:
    """``submit(..., display="N")`` sends a hidden order (OUCH 5.0 Display ``N``; a
    ``Display`` member alike); a replace keeps the order's Display unless given one; the
    venue's answered Display (``Y``, ``N``, ``A``) is the one a later replace sends, a
    conformant ``Z`` is not; a Display not sendable raises one line and takes no
    UserRefNum, sends nothing. Before: ``submit`` and ``replace`` took no ``display`` and
    every Enter and Replace went ``Y``."""
    sent: list[v50.EnterOrder | v50.ReplaceOrder] = []
    m = OrderManager(sent.append, RiskEngine(RiskLimits()), lambda: 7)  # type: ignore[arg-type]
    o = m.submit("AAPL", "B", 100, PX, display="N")
    assert (sent[-1].display, o.display) == ("N", "N")
    _answer(m, sent[-1], display="N")
    new = m.replace(o, price=PX - 100)  # kept
    assert new is not None and (sent[-1].display, new.display) == ("N", "N")
    _answer(m, sent[-1], display="N")
    shown = m.replace(new, display=v50.Display.ATTRIBUTABLE)  # given
    assert shown is not None and sent[-1].display == "A" and type(shown.display) is str
    _answer(m, sent[-1], display="Y")  # the venue holds it displayed: a replace sends Y
    assert shown.display == "Y"
    again = m.replace(shown, price=PX)
    assert again is not None and sent[-1].display == "Y"
    _answer(m, sent[-1], display="Z")  # conformant: an answer's byte, never re-sent
    assert again.display == "Y"
    count, next_ref = len(sent), m._next_ref
    for bad in ("Z", "H", "", "NN", 1, None, True):
        with pytest.raises(ValueError, match=r"^display must be one of Y, N, A .* got ") as e:
            m.submit("AAPL", "B", 100, PX, display=bad)  # type: ignore[arg-type]
        assert "\n" not in str(e.value)
        if bad is not None:  # a replace's None keeps the order's
            with pytest.raises(ValueError, match=r"^display must be one of"):
                m.replace(again, display=bad)  # type: ignore[arg-type]
    assert (len(sent), m._next_ref) == (count, next_ref)
    assert m.submit("AAPL", "S", 100, PX).display == "Y" and sent[-1].display == "Y"


def test_engine_orders_state_is_the_ouch_trackers() -> None:
    m, _ = _manager()
    o = m.submit("AAPL", "B", 100, PX)
    assert m.tracker.orders[o.user_ref_num] is o.tracked
    _accept(m, o.user_ref_num, 100)
    assert (o.state, o.tracked.state, o.order_reference_number) == (
        OrderState.LIVE,
        "live",
        9000 + o.user_ref_num,
    )


def test_engine_orders_aiq_cancel_frees_the_order() -> None:
    """An AIQ cancel (anti-internalisation) was ignored: the order stayed open forever for
    the strategy and for risk's open-order count."""
    m, updates = _manager()
    o = m.submit("AAPL", "B", 100, PX)
    _accept(m, o.user_ref_num, 100)
    m.on_message(v50.AiqCanceled(2, o.user_ref_num, 100, "Q", 100, PX, "A", "N"))
    assert (o.state, o.open_qty) == (OrderState.DONE, 0)
    assert [(u.kind, u.quantity, u.reason) for u in updates][-1] == ("cancelled", 100, "Q")
    assert m.open_orders() == [] and m.risk.open_orders() == 0
    # The freed slot takes a new order (max_open_orders=1).
    assert m.submit("AAPL", "B", 100, PX).state is OrderState.PENDING


def test_engine_orders_answers_for_a_refused_order_are_unknown() -> None:
    """A UserRefNum risk refused never reached the wire: an answer naming it is counted,
    never applied to the refused order."""
    m, _ = _manager()
    m.submit("AAPL", "B", 100, PX)
    refused = m.submit("AAPL", "B", 100, PX)  # a second open order: refused
    assert refused.state is OrderState.REFUSED
    m.on_message(v50.OrderExecuted(3, refused.user_ref_num, 100, PX, "A", 1))
    assert refused.state is OrderState.REFUSED and refused.filled_qty == 0
    assert m.unknown_answers == 1


def test_an_execution_of_an_unknown_order_trips_the_kill_switch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Shares changed hands that no ledger booked: the kill switch trips, open orders are
    cancelled, and it is counted and logged once (it was counted with the other unknown
    answers and trading went on with a position risk could not see)."""
    sent: list[v50.InboundMessage] = []
    risk = RiskEngine(RiskLimits())
    m = OrderManager(sent.append, risk, lambda: 7)
    o = m.submit("AAPL", "B", 100, PX)
    _accept(m, o.user_ref_num, 100)
    # answers that are not executions change nothing about the position: no trip
    m.on_message(v50.OrderCanceled(2, 777, 100, "U"))
    assert risk.armed and m.unknown_answers == 1 and m.unknown_executions == 0
    assert caplog.messages == [  # logged, no trip (_unknown_answer)
        "the venue sent OrderCanceled for UserRefNum 777, an order this engine never sent"
    ]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="tickwire.engine.orders"):
        m.on_message(v50.OrderExecuted(3, 778, 200, PX, "A", 1))
        m.on_message(v50.OrderExecuted(4, 779, 300, PX, "R", 2))
    assert not risk.armed
    assert (m.unknown_answers, m.unknown_executions) == (3, 2)
    assert sent[-1] == v50.CancelOrder(user_ref_num=o.user_ref_num, quantity=0)
    assert [r.getMessage() for r in caplog.records] == [
        "kill switch tripped: the venue executed 200 at 1000000 of UserRefNum 778, an order "
        "this engine does not know (the position is no longer what it believes); 1 cancels sent"
    ]
    assert m.submit("AAPL", "B", 100, PX).reason == "kill_switch"
    # re-armed by the operator, the next one trips it again, with its own line
    risk.arm()
    with caplog.at_level(logging.WARNING, logger="tickwire.engine.orders"):
        m.on_message(v50.OrderExecuted(5, 780, 100, PX, "A", 3))
    assert not risk.armed and m.unknown_executions == 3 and len(caplog.records) == 2


def test_answers_no_order_explains_trip_the_kill_switch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An Executed of more than the order had open, and an Order Replaced of an order by
    a UserRefNum never sent: each is booked as the venue says, counted, logged, and trips
    the kill switch (the replacement the venue holds is cancelled too). The old code
    booked 900 shares of a 100-share order past max_position, and let a replacement it
    never sent free the original's exposure, trading on with nothing said."""
    sent: list[v50.InboundMessage] = []
    risk = RiskEngine(RiskLimits(max_position=500))
    m = OrderManager(sent.append, risk, lambda: 7)
    over = m.submit("AAPL", "B", 100, PX)
    _accept(m, over.user_ref_num, 100)
    other = m.submit("MSFT", "S", 100, PX)
    _accept(m, other.user_ref_num, 100)
    with caplog.at_level(logging.WARNING, logger="tickwire.engine.orders"):
        m.on_message(v50.OrderExecuted(2, over.user_ref_num, 900, PX, "A", 1))
    assert risk.ledger.positions == {"AAPL": 900}  # what the venue says, booked
    assert not risk.armed and m.excess_executions == 1
    assert sent[-1] == v50.CancelOrder(user_ref_num=other.user_ref_num, quantity=0)
    assert [r.getMessage() for r in caplog.records] == [
        f"kill switch tripped: the venue executed 900 of UserRefNum {over.user_ref_num}, "
        "which had 100 open (the position went 800 shares beyond what risk approved); "
        "1 cancels sent"
    ]
    # An execution of all that was open trips nothing.
    m = OrderManager(sent.append, risk := RiskEngine(RiskLimits()), lambda: 7)
    whole = m.submit("AAPL", "S", 300, PX)
    _accept(m, whole.user_ref_num, 300)
    m.on_message(v50.OrderExecuted(3, whole.user_ref_num, 300, PX, "A", 2))
    assert risk.armed and m.excess_executions == 0
    caplog.clear()
    # A replacement never sent.
    live = m.submit("AAPL", "S", 100, PX)
    _accept(m, live.user_ref_num, 100)
    args = ("S", 300, "AAPL", PX, "0", "Y", 556, "A", "N", "N", "L", v50.cl_ord_id_for(9999))
    with caplog.at_level(logging.WARNING, logger="tickwire.engine.orders"):
        m.on_message(v50.OrderReplaced(4, live.user_ref_num, 9999, *args))
    assert not risk.armed and m.unexpected_replacements == 1 and m.unknown_answers == 1
    assert sent[-1] == v50.CancelOrder(user_ref_num=9999, quantity=0)
    assert [r.getMessage() for r in caplog.records] == [
        f"kill switch tripped: the venue replaced UserRefNum {live.user_ref_num} by 9999 "
        "(300 shares open), a replacement this engine never sent; 0 cancels sent"
    ]


def test_a_replacement_answered_for_another_order_trips_the_kill_switch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The engine replaces A by R; the venue answers "B replaced by R" (then, alike,
    "B replaced by C", C sent as an Enter). The tracker distrusts it and it changes
    nothing: B stays live and counted by risk, and the kill switch cancels it with the
    others. Before, B ended and its exposure was freed though no Replace of it was sent,
    and the kill switch cancelled A and R but not B, which the venue may still hold."""
    sent: list[v50.InboundMessage] = []
    risk = RiskEngine(RiskLimits())
    m = OrderManager(sent.append, risk, lambda: 7)
    a = m.submit("AAPL", "B", 100, PX)
    _accept(m, a.user_ref_num, 100)
    b = m.submit("AAPL", "B", 100, PX - 100)
    _accept(m, b.user_ref_num, 100)
    r = m.replace(a, price=PX + 100, quantity=200)
    assert r is not None
    args = ("B", 200, "AAPL", PX + 100, "0", "Y", 9100, "A", "N", "N", "L", r.cl_ord_id)
    with caplog.at_level(logging.WARNING, logger="tickwire.engine.orders"):
        m.on_message(v50.OrderReplaced(2, b.user_ref_num, r.user_ref_num, *args))
    assert not risk.armed and m.distrusted_answers == 1
    assert b.state is OrderState.LIVE and b.user_ref_num in risk._open
    assert [rec.getMessage() for rec in caplog.records] == [
        f"kill switch tripped: the venue sent OrderReplaced for UserRefNum {r.user_ref_num} "
        f"(replaced of {b.user_ref_num} by an order sent to replace {a.user_ref_num}), which "
        "no order of this engine explains; 3 cancels sent"
    ]
    cancels = [msg.user_ref_num for msg in sent if isinstance(msg, v50.CancelOrder)]
    assert sorted(cancels) == sorted([a.user_ref_num, b.user_ref_num, r.user_ref_num])
    # an order sent as an Enter named as the replacement
    risk.arm()
    c = m.submit("AAPL", "B", 100, PX - 200)
    m.on_message(v50.OrderReplaced(3, b.user_ref_num, c.user_ref_num, *args))
    assert not risk.armed and m.distrusted_answers == 2
    assert b.state is OrderState.LIVE and c.state is OrderState.PENDING


def _venue_lies() -> dict[str, list[object]]:
    """Answers a hostile or buggy venue may send for order 1 (Enter B 100 AAPL), each
    with executions the messages do not justify (max_position is 100)."""

    def acc(ref: int, qty: int, side: str = "B", symbol: str = "AAPL") -> v50.OrderAccepted:
        cl = v50.cl_ord_id_for(ref)
        return v50.OrderAccepted(1, ref, side, qty, symbol, PX, "0", "Y", 9, "P", "N", "N", "L", cl)

    def exe(ref: int, qty: int) -> v50.OrderExecuted:
        return v50.OrderExecuted(2, ref, qty, PX, "A", 1)

    def exe_at(ref: int, qty: int, price: int) -> v50.OrderExecuted:
        return v50.OrderExecuted(2, ref, qty, price, "A", 1)

    def rep(orig: int, ref: int, qty: int, state: str = "L") -> v50.OrderReplaced:
        args = ("B", qty, "AAPL", PX, "0", "Y", 10, "P", "N", "N", state, "x")
        return v50.OrderReplaced(4, orig, ref, *args)

    return {
        "accepted_more_than_sent": [acc(1, 900), exe(1, 900)],
        "accepted_twice": [acc(1, 100), exe(1, 60), acc(1, 100), exe(1, 100)],
        "dead_order_accepted_again": [
            acc(1, 100),
            v50.OrderCanceled(3, 1, 100, "U"),
            acc(1, 100),
            "submit",
            acc(2, 100),
            exe(1, 100),
            exe(2, 100),
        ],
        "replaced_after_the_original_filled": [
            acc(1, 100),
            "replace",
            exe(1, 100),
            rep(1, 2, 100),
            exe(2, 100),
        ],
        "replaced_with_more_than_sent": [acc(1, 100), "replace", rep(1, 2, 900), exe(2, 900)],
        "modified_unasked": [acc(1, 100), v50.OrderModified(5, 1, "B", 900), exe(1, 900)],
        "accepted_as_another_side_and_symbol": [acc(1, 100, "S", "MSFT"), exe(1, 100)],
        # a Replace is answered by an Order Replaced, "one and only one" (OUCH 5.0 3.3)
        "replacement_accepted_as_an_enter": [
            acc(1, 100),
            "replace",
            acc(2, 100),
            exe(2, 100),
            exe(1, 100),
        ],
        # a buy limit executed above its price (then a message about no order)
        "executed_above_the_limit": [
            acc(1, 100),
            exe_at(1, 100, PX + 5000),
            v50.SystemEvent(6, "Q"),
        ],
        # a buy executed at $0 (out of range: booked at 0 it is a free position)
        "executed_at_a_price_of_0": [acc(1, 100), exe_at(1, 100, 0), v50.SystemEvent(6, "Q")],
        # "You will always get an Executed Order Message prior to getting a Broken Trade
        # Message for a given execution" (3.7): the position booked is not what clears
        "broken_trade": [acc(1, 100), exe(1, 50), v50.BrokenTrade(5, 1, 99, "E", "x")],
        # "The limit price of the order" (OUCH 5.0 3.11): priced above a buy's limit
        "priority_update_above_the_limit": [
            acc(1, 100),
            v50.OrderPriorityUpdate(5, 1, PX + 100, "Y", 11),
        ],
        # only a live order has priority
        "priority_update_of_a_dead_order": [
            acc(1, 100),
            v50.OrderCanceled(3, 1, 100, "U"),
            v50.OrderPriorityUpdate(5, 1, PX, "Y", 11),
        ],
        # live with no shares accepted (OUCH 5.0 3.2): not taken for dead, nothing freed
        "accepted_live_with_no_shares": [acc(1, 0), "submit", acc(2, 100)],
        "replaced_live_with_no_shares": [acc(1, 100), "replace", rep(1, 2, 0), "submit"],
        "dead_replaced_by_a_ref_never_sent": [
            acc(1, 100),
            rep(1, 777, 0, state="D"),
            "submit",
            acc(2, 100),
            exe(2, 100),
            exe(1, 100),
        ],
    }


@pytest.mark.parametrize("case", list(_venue_lies()))
def test_answers_beyond_what_was_sent_trip_the_kill_switch(
    case: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The tracker takes no quantity, side or symbol from the venue beyond what was sent,
    and an answer the order cannot hear in its state (a second Accepted, a dead order
    accepted again, a Replaced of an original already filled) changes nothing: each is
    counted and trips the kill switch before another order goes out, and risk keeps
    counting what it approved. The old code took the venue's word in every case, armed
    (up to 900 shares past max_position=100, a second order let through)."""
    sent: list[v50.InboundMessage] = []
    risk = RiskEngine(RiskLimits(max_position=100))
    m = OrderManager(sent.append, risk, iter(range(1, 10**6)).__next__)
    first = m.submit("AAPL", "B", 100, PX)
    refused = []
    with caplog.at_level(logging.WARNING, logger="tickwire.engine.orders"):
        for msg in _venue_lies()[case]:
            if msg == "submit":
                refused.append(m.submit("AAPL", "B", 100, PX).state is OrderState.REFUSED)
            elif msg == "replace":
                assert m.replace(first, price=PX + 100) is not None
            else:
                m.on_message(msg)  # type: ignore[arg-type]
            if msg in ("replace", "submit") or isinstance(msg, v50.OrderExecuted):
                continue
            if not risk.armed:
                break  # tripped on the answer itself, before any execution
        else:
            pytest.fail("the kill switch is still armed")
    assert refused in ([], [True])  # no second order went out
    assert m.distrusted_answers + m.unexpected_replacements + m.broken_trades == 1
    assert len(caplog.records) == 1 and "kill switch tripped" in caplog.messages[0]
    # Risk counts what it approved less what the venue executed or cancelled before the
    # lie (nothing freed, nothing inflated by it).
    left = {"accepted_twice": 40, "dead_order_accepted_again": 0}
    left["replaced_after_the_original_filled"] = 0
    left["replacement_accepted_as_an_enter"] = 200  # the chain's members, as sent
    left["executed_above_the_limit"] = left["executed_at_a_price_of_0"] = 0
    left["broken_trade"] = 50
    left["priority_update_of_a_dead_order"] = 0
    left["replaced_live_with_no_shares"] = 200  # the original and its replacement
    assert sum(o.remaining for o in risk._open.values()) == left.get(case, 100)


def test_distrusted_answers_leave_the_order_as_sent() -> None:
    """What the order keeps after each distrusted answer: its own side, symbol and at
    most its shares; a second Accepted or one of a dead order changes nothing."""
    m, _ = _manager()
    o = m.submit("AAPL", "B", 100, PX)
    m.on_message(
        v50.OrderAccepted(1, 1, "S", 900, "MSFT", PX, "0", "Y", 9, "P", "N", "N", "L", "x")
    )
    assert (o.state, o.side, o.symbol, o.open_qty) == (OrderState.LIVE, "B", "AAPL", 100)
    m.on_message(v50.OrderExecuted(2, 1, 60, PX, "A", 1))
    _accept(m, 1, 100)  # a second Accepted: still 40 open
    assert (o.state, o.open_qty, m.distrusted_answers) == (OrderState.LIVE, 40, 2)
    m.on_message(v50.OrderCanceled(3, 1, 40, "U"))
    _accept(m, 1, 100)  # dead stays dead
    assert (o.state, o.open_qty, m.distrusted_answers) == (OrderState.DONE, 0, 3)
    assert m.open_orders() == [] and not m.risk.armed


def test_a_rejected_filled_order_stays_filled(caplog: pytest.LogCaptureFixture) -> None:
    """A Rejected naming an order already filled answers nothing this manager sent: the
    kill switch trips and the order stays filled, its shares in the position. The old
    tracker made it ``rejected``, with the Reject Reason as its reason, so the backtest's
    and the live engine's orders table called an order that traded rejected."""
    risk = RiskEngine(RiskLimits())
    updates: list[object] = []
    m = OrderManager(
        lambda msg: None, risk, iter(range(1, 10**6)).__next__, on_update=updates.append
    )
    o = m.submit("AAPL", "B", 100, PX)
    _accept(m, o.user_ref_num, 100)
    m.on_message(v50.OrderExecuted(2, o.user_ref_num, 100, PX, "A", 7))
    assert (o.state, o.filled_qty, risk.ledger.position("AAPL")) == (OrderState.DONE, 100, 100)
    seen = len(updates)
    with caplog.at_level(logging.WARNING, logger="tickwire.engine.orders"):
        m.on_message(v50.Rejected(3, o.user_ref_num, 0x0F, o.cl_ord_id))
    assert (o.state, o.filled_qty, o.reason) == (OrderState.DONE, 100, "")
    assert (risk.armed, m.distrusted_answers, risk.ledger.position("AAPL")) == (False, 1, 100)
    assert len(updates) == seen  # nothing to tell the strategy: the order is as it was
    assert len(caplog.records) == 1 and "rejected of an order dead" in caplog.messages[0]


def test_a_rejected_live_order_stays_counted(caplog: pytest.LogCaptureFixture) -> None:
    """A Rejected naming a live order: with its Replace in flight it refuses that replace,
    and the order stays live and counted; with nothing in flight (this manager sends no
    Modify) nothing explains it: the kill switch trips, the order stays live and counted.
    The old manager took either for the end of the order and freed its 100 shares in
    risk (max_position=100 then let a second 100-share buy through), armed."""
    risk = RiskEngine(RiskLimits(max_position=100))
    m = OrderManager(lambda msg: None, risk, iter(range(1, 10**6)).__next__)
    o = m.submit("AAPL", "B", 100, PX)
    _accept(m, o.user_ref_num, 100)
    new = m.replace(o, price=PX + 100)
    assert new is not None
    m.on_message(v50.Rejected(3, o.user_ref_num, 0x15, o.cl_ord_id))  # the original named
    assert (o.state, o.open_qty, risk.armed, m.distrusted_answers) == (
        OrderState.LIVE,
        100,
        True,
        0,
    )
    assert new.state is OrderState.PENDING
    m.on_message(v50.Rejected(4, new.user_ref_num, 0x15, new.cl_ord_id))  # the spec's way
    assert (o.state, new.state, risk.armed) == (OrderState.LIVE, OrderState.REJECTED, True)
    assert sum(x.remaining for x in risk._open.values()) == 100
    assert m.submit("AAPL", "B", 100, PX).state is OrderState.REFUSED  # max_position
    with caplog.at_level(logging.WARNING, logger="tickwire.engine.orders"):
        m.on_message(v50.Rejected(5, o.user_ref_num, 0x0F, o.cl_ord_id))  # nothing in flight
    assert (o.state, o.open_qty, risk.armed, m.distrusted_answers) == (
        OrderState.LIVE,
        100,
        False,
        1,
    )
    assert sum(x.remaining for x in risk._open.values()) == 100
    assert len(caplog.records) == 1 and "no request in flight" in caplog.messages[0]


def test_a_cancel_reject_of_no_cancel_sent_trips_the_kill_switch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A Cancel Reject answering a cancel the manager sent changes nothing and trips
    nothing (the order live, its 300 shares counted); one naming a live order with no
    cancel in flight (none sent, or its one answered already) answers no request: the
    kill switch trips, the order stays live and counted. The old manager took every
    Cancel Reject for a notice, armed."""
    risk = RiskEngine(RiskLimits())
    m = OrderManager(lambda msg: None, risk, iter(range(1, 10**6)).__next__)
    o = m.submit("AAPL", "B", 300, PX)
    _accept(m, o.user_ref_num, 300)
    assert m.cancel(o, 100)  # a reduce refused: explained
    m.on_message(v50.CancelReject(3, o.user_ref_num))
    assert (o.state, o.open_qty, risk.armed, m.distrusted_answers) == (
        OrderState.LIVE,
        300,
        True,
        0,
    )
    with caplog.at_level(logging.WARNING, logger="tickwire.engine.orders"):
        m.on_message(v50.CancelReject(4, o.user_ref_num))  # its Cancel answered already
    assert (o.state, o.open_qty, risk.armed, m.distrusted_answers) == (
        OrderState.LIVE,
        300,
        False,
        1,
    )
    assert sum(x.remaining for x in risk._open.values()) == 300
    assert len(caplog.records) == 1 and "no Cancel in flight" in caplog.messages[0]


def test_a_replayed_cancel_reject_of_an_inherited_order_trips_nothing() -> None:
    """While inheriting, a replayed Cancel Reject naming an inherited live order answers
    the previous run's Cancel, which this run never saw: counted with the inherited
    answers, the order live and counted, nothing tripped. After inheriting, the same
    message with no cancel in flight trips the kill switch
    (:func:`test_a_cancel_reject_of_no_cancel_sent_trips_the_kill_switch`)."""
    risk = RiskEngine(RiskLimits())
    m = OrderManager(lambda msg: None, risk, lambda: 7)
    m.inheriting = True
    m.on_message(v50.OrderAccepted(1, 1, "B", 100, "AAPL", PX, "0", "Y", 9001, "P",
                                   "N", "N", "L", "X1", ()))  # fmt: skip
    m.on_message(v50.CancelReject(2, 1))
    m.inherit(2)
    (o,) = m.inherited_open()
    assert (o.state, o.open_qty, risk.armed, m.distrusted_answers) == (
        OrderState.LIVE,
        100,
        True,
        0,
    )
    assert m.inherited_answers == 2
    m.on_message(v50.CancelReject(3, 1))
    assert (risk.armed, m.distrusted_answers) == (False, 1)


def test_a_time_in_force_not_in_the_table_is_refused_before_it_leaves() -> None:
    """``submit`` with a Time In Force not in OUCH 5.0's table (``Q``, ``ZZ``, empty, the
    ``int`` 5) or GTT ``6`` without an ``expire_time`` sends nothing: the order is
    ``refused``, reason ``invalid``, keeping the value it was given; a member of the table
    goes out as its plain byte. The old manager sent every one (``str(5)`` as GTX)."""
    sent: list[object] = []
    updates: list[OrderUpdate] = []
    risk = RiskEngine(RiskLimits())
    m = OrderManager(sent.append, risk, lambda: 7, on_update=updates.append)
    bad: list[object] = ["Q", "ZZ", "", 5, "6", v50.TimeInForce.GTT]
    for tif in bad:
        o = m.submit("AAPL", "B", 100, PX, tif)  # type: ignore[arg-type]
        assert o.state is OrderState.REFUSED and o.reason == "invalid", tif
        assert o.time_in_force == tif
        assert type(o.time_in_force) is (int if tif == 5 else str)
    assert sent == [] and m.sent == 0 and m.refused == len(bad)
    assert risk.refusals == {"invalid": len(bad)}
    assert [u.kind for u in updates] == ["refused"] * len(bad)
    o = m.submit("AAPL", "B", 100, PX, v50.TimeInForce.IOC)
    assert o.state is OrderState.PENDING and type(o.time_in_force) is str
    assert isinstance(sent[-1], v50.EnterOrder) and sent[-1].time_in_force == "3"


def test_a_gtt_order_goes_with_its_expire_time() -> None:
    """``submit(..., time_in_force="6", expire_time=N)`` sends an Enter carrying the
    ExpireTime appendage (OptionTag 15, N seconds), which encodes on OUCH 5.0's wire and
    decodes back; a replace of it keeps GTT and carries the same ExpireTime (counted from
    the replace at the venue). GTT without ``expire_time``, with 0 or 86,400, a non-int,
    or an ``expire_time`` with another Time In Force is refused ``invalid`` with one
    reason, and nothing is sent. The tracker takes the answers (which repeat the
    appendage) and the Canceled ``T``. Before, every GTT was refused: no ExpireTime
    could be given."""
    sent: list[object] = []
    updates: list[OrderUpdate] = []
    risk = RiskEngine(RiskLimits())
    m = OrderManager(sent.append, risk, lambda: 7, on_update=updates.append)
    expire = (v50.TagValue(v50.OptionTag.EXPIRE_TIME, 30),)
    o = m.submit("AAPL", "B", 100, PX, v50.TimeInForce.GTT, expire_time=30)
    assert o.state is OrderState.PENDING and o.time_in_force == "6" and o.expire_time == 30
    enter = sent[-1]
    assert isinstance(enter, v50.EnterOrder) and enter.appendages == expire
    assert enter.time_in_force == "6"
    assert v50.decode_inbound(v50.encode(enter)) == enter
    args = (PX, "6", "Y", 9001, "P", "N", "N", "L", o.cl_ord_id, expire)
    m.on_message(v50.OrderAccepted(1, o.user_ref_num, "B", 100, "AAPL", *args))
    assert o.state is OrderState.LIVE
    new = m.replace(o, price=PX - 100)
    assert new is not None and new.state is OrderState.PENDING and new.expire_time == 30
    rep = sent[-1]
    assert isinstance(rep, v50.ReplaceOrder) and rep.appendages == expire
    assert rep.time_in_force == "6"
    assert v50.decode_inbound(v50.encode(rep)) == rep
    m.on_message(
        v50.OrderReplaced(
            2, o.user_ref_num, new.user_ref_num, "B", 100, "AAPL", PX - 100, "6", "Y",
            9002, "P", "N", "N", "L", new.cl_ord_id, expire,
        )
    )  # fmt: skip
    assert (o.state, new.state) == (OrderState.DONE, OrderState.LIVE)
    m.on_message(v50.OrderCanceled(3, new.user_ref_num, 100, v50.CANCELED_TIMEOUT))
    assert new.state is OrderState.DONE and updates[-1].kind == "cancelled"
    assert updates[-1].reason == "T" and risk.open_orders() == 0
    before = len(sent)
    bad: list[tuple[str, object]] = [
        ("6", None),
        ("6", 0),
        ("6", 86_400),
        ("6", -1),
        ("6", True),
        ("6", "30"),
        ("0", 30),
        ("3", 30),
    ]
    for tif, seconds in bad:
        r = m.submit("AAPL", "B", 100, PX, tif, expire_time=seconds)  # type: ignore[arg-type]
        assert r.state is OrderState.REFUSED and r.reason == "invalid", (tif, seconds)
        assert updates[-1].kind == "refused"
    assert len(sent) == before and risk.refusals == {"invalid": len(bad)}
    ok = m.submit("AAPL", "B", 100, PX, "6", expire_time=86_399)
    assert ok.state is OrderState.PENDING and len(sent) == before + 1


def test_a_replace_may_change_time_in_force_and_expire_time() -> None:
    """OUCH 5.0's Replace carries its own Time In Force and appendages, and
    ``replace(..., time_in_force=, expire_time=)`` sends them: a GTT order's life
    extended (the same Time In Force, a new ExpireTime), a GTT order made Day (its
    ExpireTime dropped, as one goes with GTT only), a Day order made GTT, a Time In Force
    given as a ``TimeInForce`` member sent as its characters. What is not given is kept.
    A replace to GTT without an ExpireTime, or an ExpireTime with Day, is refused
    ``invalid`` and nothing is sent. Before, ``replace`` took neither keyword: a
    strategy could only cancel and submit again."""
    sent: list[object] = []
    m = OrderManager(sent.append, RiskEngine(RiskLimits()), lambda: 7)

    def live(order: object) -> None:
        msg = sent[-1]
        if isinstance(msg, v50.EnterOrder):
            m.on_message(v50.OrderAccepted(1, msg.user_ref_num, msg.side, msg.quantity,
                                           msg.symbol, msg.price, msg.time_in_force, "Y",
                                           9000 + msg.user_ref_num, "P", "N", "N", "L",
                                           msg.cl_ord_id, msg.appendages))  # fmt: skip
        else:
            assert isinstance(msg, v50.ReplaceOrder)
            m.on_message(v50.OrderReplaced(1, msg.orig_user_ref_num, msg.user_ref_num, "B",
                                           msg.quantity, "AAPL", msg.price,
                                           msg.time_in_force, "Y", 9000 + msg.user_ref_num,
                                           "P", "N", "N", "L", msg.cl_ord_id,
                                           msg.appendages))  # fmt: skip
        assert getattr(order, "state", None) is OrderState.LIVE

    def expire(seconds: int) -> tuple[v50.TagValue, ...]:
        return (v50.TagValue(v50.OptionTag.EXPIRE_TIME, seconds),)

    o = m.submit("AAPL", "B", 100, PX, "6", expire_time=30)
    live(o)
    steps: list[tuple[dict[str, object], str, tuple[v50.TagValue, ...]]] = [
        ({"expire_time": 90}, "6", expire(90)),  # a GTT's life extended
        ({"price": PX - 100}, "6", expire(90)),  # nothing given: both kept
        ({"time_in_force": v50.TimeInForce.DAY}, "0", ()),  # GTT to Day: ExpireTime dropped
        ({"quantity": 50}, "0", ()),
        ({"time_in_force": "6", "expire_time": 5}, "6", expire(5)),  # Day to GTT
        ({"time_in_force": "6"}, "6", expire(5)),  # the same Time In Force: kept
    ]
    for kwargs, tif, appendages in steps:
        new = m.replace(o, **kwargs)  # type: ignore[arg-type]
        assert new is not None and new.state is OrderState.PENDING, (kwargs, new and new.reason)
        rep = sent[-1]
        assert isinstance(rep, v50.ReplaceOrder), kwargs
        assert (rep.time_in_force, rep.appendages) == (tif, appendages), kwargs
        assert type(rep.time_in_force) is str and new.time_in_force == tif
        assert new.expire_time == (appendages[0].value if appendages else None)
        assert v50.decode_inbound(v50.encode(rep)) == rep
        live(new)
        o = new
    before = len(sent)
    day = m.replace(o, time_in_force="0")
    assert day is not None
    live(day)
    for kwargs in ({"time_in_force": "6"}, {"expire_time": 30}, {"time_in_force": "Q"}):
        r = m.replace(day, **kwargs)  # type: ignore[arg-type]
        assert r is not None and r.state is OrderState.REFUSED and r.reason == "invalid", kwargs
    assert len(sent) == before + 1 and day.state is OrderState.LIVE


def test_a_replace_of_an_inherited_gtt_order_carries_its_expire_time() -> None:
    """An order inherited from a previous run as GTT takes the ExpireTime its replayed
    Order Accepted repeats (the appendage, OptionTag 15): its replace goes as GTT with
    that ExpireTime, as for this run's GTT orders. So does a replacement inherited from a
    replayed Order Replaced, with the Replace's own ExpireTime (here 5, the original's
    30). Before: the inherited order had no ``expire_time`` and its replace was refused
    ``invalid``, nothing sent."""
    sent: list[object] = []
    m = OrderManager(sent.append, RiskEngine(RiskLimits()), lambda: 7)
    m.inheriting = True
    exp30 = (v50.TagValue(v50.OptionTag.EXPIRE_TIME, 30),)
    exp5 = (v50.TagValue(v50.OptionTag.EXPIRE_TIME, 5),)
    m.on_message(v50.OrderAccepted(1, 1, "B", 100, "AAPL", PX, "6", "Y", 9001, "P",
                                   "N", "N", "L", "X1", exp30))  # fmt: skip
    m.on_message(v50.OrderAccepted(2, 2, "S", 100, "AAPL", PX + 500, "6", "Y", 9002, "P",
                                   "N", "N", "L", "X2", exp30))  # fmt: skip
    m.on_message(v50.OrderReplaced(3, 2, 3, "S", 100, "AAPL", PX + 400, "6", "Y", 9003,
                                   "P", "N", "N", "L", "X3", exp5))  # fmt: skip
    m.inherit(4)
    first, replacement = m.inherited_open()
    assert (first.expire_time, replacement.expire_time) == (30, 5)
    for o, exp in ((first, exp30), (replacement, exp5)):
        new = m.replace(o, price=o.price + 100)
        assert new is not None and new.state is OrderState.PENDING, new and new.reason
        rep = sent[-1]
        assert isinstance(rep, v50.ReplaceOrder) and rep.orig_user_ref_num == o.user_ref_num
        assert (rep.time_in_force, rep.appendages) == ("6", exp)
        assert v50.decode_inbound(v50.encode(rep)) == rep
    assert len(sent) == 2


def test_a_replace_of_an_inherited_gtt_order_is_refused() -> None:
    """A replace carries its order's Time In Force and risk checks it again: an order
    inherited from a previous run as GTT whose replayed Order Accepted repeats no
    ExpireTime (unknown here) cannot be replaced (``invalid``), nothing is sent; the old
    manager sent the Replace as GTT without one. (One that repeats it: next test above.)"""
    sent: list[object] = []
    m = OrderManager(sent.append, RiskEngine(RiskLimits()), lambda: 7)
    m.inheriting = True
    args = (PX, "6", "Y", 9001, "P", "N", "N", "L", "X1")
    m.on_message(v50.OrderAccepted(1, 1, "B", 100, "AAPL", *args))
    m.inherit(2)
    (o,) = m.inherited_open()
    new = m.replace(o, price=PX + 100)
    assert new is not None and new.state is OrderState.REFUSED and new.reason == "invalid"
    assert sent == [] and o.state is OrderState.LIVE


def _terms_lies() -> dict[str, tuple[dict[str, object], str, tuple[v50.TagValue, ...]]]:
    """An Order Accepted or Replaced (``replace``: of a live GTT order) naming other
    terms than the request sent: (the request's keywords, the answer's Time In Force,
    the answer's appendages)."""

    def expire(*seconds: int) -> tuple[v50.TagValue, ...]:
        return tuple(v50.TagValue(v50.OptionTag.EXPIRE_TIME, s) for s in seconds)

    gtt: dict[str, object] = {"time_in_force": "6", "expire_time": 30}
    return {
        "day_accepted_as_gtx": ({}, "5", ()),
        "ioc_accepted_as_day": ({"time_in_force": "3"}, "0", ()),
        "gtt_accepted_with_another_expire_time": (gtt, "6", expire(86_399)),
        "gtt_accepted_with_its_expire_time_then_another": (gtt, "6", expire(30, 86_399)),
        "after_hours_accepted_as_gtx": ({"time_in_force": "E"}, "5", ()),
        "replace_to_ioc_replaced_as_gtt": ({"replace": {"time_in_force": "3"}}, "6", expire(5)),
        "replace_to_ioc_replaced_as_day": ({"replace": {"time_in_force": "3"}}, "0", ()),
        "replace_extending_replaced_longer": ({"replace": {"expire_time": 60}}, "6", expire(600)),
        # out of OUCH 5.0's range: a byte not in the table, an ExpireTime of 0 (none)
        "day_accepted_as_a_byte_not_in_the_table": ({}, "Q", ()),
        "replace_replaced_as_a_byte_not_in_the_table": (
            {"replace": {"time_in_force": "0"}},
            "Z",
            (),
        ),
        "gtt_accepted_with_an_expire_time_of_0": (gtt, "6", expire(0)),
    }


@pytest.mark.parametrize("case", list(_terms_lies()))
def test_an_answer_naming_wider_terms_than_sent_trips_the_kill_switch(
    case: str, caplog: pytest.LogCaptureFixture
) -> None:
    """An Order Accepted or Order Replaced whose Time In Force is wider in scope than
    what the Enter or Replace sent, for certain (``v50.wider_time_in_force``), or which
    repeats a longer ExpireTime, or names terms out of OUCH 5.0's range (a Time In Force
    not in the table, an ExpireTime of 0: ``v50.time_in_force_error``; the old manager
    made them the order's, whose next replace risk then refused), trips the kill switch (``distrusted_answers``) and the
    order keeps what was sent: the venue holds an order on terms the strategy never chose
    (an IOC resting all day, a GTT living ten times its time). The old manager took such
    an answer silently, armed, its order still saying the terms it sent."""
    kwargs, tif, appendages = _terms_lies()[case]
    replace_kwargs = kwargs.pop("replace", None)
    sent: list[v50.InboundMessage] = []
    risk = RiskEngine(RiskLimits())
    m = OrderManager(sent.append, risk, lambda: 7)

    def answer(msg: v50.InboundMessage, tif: str, appendages: tuple[v50.TagValue, ...]) -> None:
        if isinstance(msg, v50.EnterOrder):
            m.on_message(v50.OrderAccepted(1, msg.user_ref_num, msg.side, msg.quantity,
                                           msg.symbol, msg.price, tif, "Y",
                                           9000 + msg.user_ref_num, "P", "N", "N", "L",
                                           msg.cl_ord_id, appendages))  # fmt: skip
        else:
            assert isinstance(msg, v50.ReplaceOrder)
            m.on_message(v50.OrderReplaced(1, msg.orig_user_ref_num, msg.user_ref_num, "B",
                                           msg.quantity, "AAPL", msg.price, tif, "Y",
                                           9000 + msg.user_ref_num, "P", "N", "N", "L",
                                           msg.cl_ord_id, appendages))  # fmt: skip

    if replace_kwargs is None:
        o = m.submit("AAPL", "B", 100, PX, **kwargs)  # type: ignore[arg-type]
        honest = sent[-1]
        assert isinstance(honest, v50.EnterOrder)
        sent_terms = (honest.time_in_force, honest.appendages)
    else:
        first = m.submit("AAPL", "B", 100, PX, "6", expire_time=30)
        entered = sent[-1]
        assert isinstance(entered, v50.EnterOrder)
        answer(entered, "6", ())  # an answer repeating no appendages: trusted
        answer_again = m.replace(first, **replace_kwargs)  # type: ignore[arg-type]
        assert answer_again is not None
        o = answer_again
        honest = sent[-1]
        assert isinstance(honest, v50.ReplaceOrder)
        sent_terms = (honest.time_in_force, honest.appendages)
    assert risk.armed and m.distrusted_answers == 0
    with caplog.at_level(logging.WARNING, logger="tickwire.engine.orders"):
        answer(honest, tif, appendages)
    assert not risk.armed and m.distrusted_answers == 1, case
    assert len(caplog.records) == 1 and "kill switch tripped" in caplog.messages[0]
    assert o.state is OrderState.LIVE and o.open_qty == 100  # counted: risk keeps it
    expire = v50.expire_time(sent_terms[1])
    assert (o.time_in_force, o.expire_time) == (sent_terms[0], expire)  # as sent


def test_answers_repeating_the_terms_sent_are_trusted() -> None:
    """The answers every venue of tickwire gives (the Time In Force sent, the appendages
    repeated, or none repeated) leave the kill switch armed, GTT, IOC, Day and a replace
    changing Time In Force alike."""
    sent: list[v50.InboundMessage] = []
    risk = RiskEngine(RiskLimits())
    m = OrderManager(sent.append, risk, lambda: 7)
    o = m.submit("AAPL", "B", 100, PX, "6", expire_time=30)
    e = sent[-1]
    assert isinstance(e, v50.EnterOrder)
    m.on_message(v50.OrderAccepted(1, e.user_ref_num, "B", 100, "AAPL", PX, "6", "Y", 1, "P",
                                   "N", "N", "L", e.cl_ord_id, e.appendages))  # fmt: skip
    for kwargs, repeat in (
        ({"time_in_force": "0"}, True),
        ({"time_in_force": "6", "expire_time": 9}, False),
        ({"expire_time": 10}, True),
    ):
        new = m.replace(o, **kwargs)  # type: ignore[arg-type]
        assert new is not None
        r = sent[-1]
        assert isinstance(r, v50.ReplaceOrder)
        apps = r.appendages if repeat else ()
        m.on_message(v50.OrderReplaced(2, r.orig_user_ref_num, r.user_ref_num, "B",
                                       r.quantity, "AAPL", r.price, r.time_in_force, "Y",
                                       2 + r.user_ref_num, "P", "N", "N", "L", r.cl_ord_id,
                                       apps))  # fmt: skip
        assert new.state is OrderState.LIVE
        o = new
    assert risk.armed and m.distrusted_answers == 0


def test_an_answer_naming_narrower_terms_is_taken() -> None:
    """OUCH 5.0 lets the accepted Time In Force be "equal to or shorter in scope" than
    entered: such an answer leaves the kill switch armed and the order takes the venue's
    terms (a GTX accepted as Day; a GTT accepted with a shorter ExpireTime, which its
    replace then sends; a Day order accepted as After Hours; an ExpireTime repeated on a
    Day answer is no ExpireTime of a Day order)."""
    sent: list[v50.InboundMessage] = []
    risk = RiskEngine(RiskLimits())
    m = OrderManager(sent.append, risk, lambda: 7)

    def accept(tif: str, appendages: tuple[v50.TagValue, ...] = ()) -> None:
        e = sent[-1]
        assert isinstance(e, v50.EnterOrder)
        m.on_message(v50.OrderAccepted(1, e.user_ref_num, "B", 100, "AAPL", PX, tif, "Y",
                                       9000 + e.user_ref_num, "P", "N", "N", "L",
                                       e.cl_ord_id, appendages))  # fmt: skip

    ten = (v50.TagValue(v50.OptionTag.EXPIRE_TIME, 10),)
    cases: list[tuple[dict[str, object], str, tuple[v50.TagValue, ...], str, int | None]] = [
        ({"time_in_force": "5"}, "0", (), "0", None),
        ({"time_in_force": "6", "expire_time": 30}, "6", ten, "6", 10),
        ({"time_in_force": "6", "expire_time": 30}, "6", (), "6", 30),
        ({}, "E", (), "E", None),
        ({}, "0", ten, "0", None),
    ]
    for kwargs, tif, appendages, want_tif, want_expire in cases:
        o = m.submit("AAPL", "B", 100, PX, **kwargs)  # type: ignore[arg-type]
        accept(tif, appendages)
        assert o.state is OrderState.LIVE
        assert (o.time_in_force, o.expire_time) == (want_tif, want_expire), kwargs
    assert risk.armed and m.distrusted_answers == 0
    gtt = m.open_orders()[1]  # GTT 30 accepted with 10
    new = m.replace(gtt, price=PX - 100)
    assert new is not None and new.state is OrderState.PENDING
    rep = sent[-1]
    assert isinstance(rep, v50.ReplaceOrder) and rep.appendages == ten


def _fields_lies() -> dict[str, tuple[bool, dict[str, object]]]:
    """An Order Accepted (``False``) or Order Replaced (``True``: of a live order, the
    replace raising the price by 100) naming a field other than the request sent, which
    OUCH 5.0 echoes "as entered" (Capacity "specified on the order", Cross Type, and the
    Intermarket Sweep Eligibility echoed with them), or a price worse than sent ("always
    better than or equal to the entered price")."""
    return {
        "accepted_as_another_capacity": (False, {"capacity": "A"}),
        "accepted_as_an_on_close_cross": (False, {"cross_type": "C"}),
        "accepted_as_an_intermarket_sweep": (False, {"intermarket_sweep_eligibility": "Y"}),
        "accepted_at_a_worse_price": (False, {"price": PX + 100}),
        "replaced_as_an_opening_cross": (True, {"cross_type": "O"}),
        "replaced_as_another_capacity": (True, {"capacity": "R"}),
        "replaced_at_a_worse_price": (True, {"price": PX + 200}),
    }


def _answer(m: OrderManager, msg: object, **fields: object) -> None:
    """The honest answer to ``msg`` (an Enter or a Replace the manager sent), with
    ``fields`` changed."""
    import dataclasses

    if isinstance(msg, v50.EnterOrder):
        ans: object = v50.OrderAccepted(1, msg.user_ref_num, msg.side, msg.quantity,
                                        msg.symbol, msg.price, msg.time_in_force, "Y",
                                        9000 + msg.user_ref_num, msg.capacity, "N",
                                        msg.cross_type, "L", msg.cl_ord_id, msg.appendages)  # fmt: skip
    else:
        assert isinstance(msg, v50.ReplaceOrder)
        ans = v50.OrderReplaced(2, msg.orig_user_ref_num, msg.user_ref_num, "B", msg.quantity,
                                "AAPL", msg.price, msg.time_in_force, "Y",
                                9000 + msg.user_ref_num, "P", "N", "N", "L", msg.cl_ord_id,
                                msg.appendages)  # fmt: skip
    m.on_message(dataclasses.replace(ans, **fields))  # type: ignore[type-var]


@pytest.mark.parametrize("case", list(_fields_lies()))
def test_an_answer_naming_other_fields_than_entered_trips_the_kill_switch(
    case: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The venue says it holds the order on terms the strategy never sent (an agency
    order as principal, a continuous order in the closing cross, an order flagged as an
    intermarket sweep, a buy priced above its limit): the kill switch trips
    (``distrusted_answers``), the order stays live and counted, at the price sent. The
    old manager compared none of these and traded on, armed."""
    replaced, fields = _fields_lies()[case]
    sent: list[v50.InboundMessage] = []
    risk = RiskEngine(RiskLimits())
    m = OrderManager(sent.append, risk, lambda: 7)
    o = m.submit("AAPL", "B", 100, PX)
    if replaced:
        _answer(m, sent[-1])
        new = m.replace(o, price=PX + 100)
        assert new is not None
        o = new
    assert risk.armed and m.distrusted_answers == 0
    with caplog.at_level(logging.WARNING, logger="tickwire.engine.orders"):
        _answer(m, sent[-1], **fields)
    assert not risk.armed and m.distrusted_answers == 1, case
    assert len(caplog.records) == 1 and "kill switch tripped" in caplog.messages[0]
    assert o.state is OrderState.LIVE and o.open_qty == 100
    assert o.tracked.price == o.price  # the price sent, not the worse one


def test_answers_within_what_the_spec_lets_a_venue_change_are_trusted() -> None:
    """What OUCH 5.0 lets an answer change is the venue's word: a better price (a buy
    re-priced lower), another Display ("the accepted display"); an inherited order takes
    its Capacity, Intermarket Sweep Eligibility and Cross Type from its replayed Order
    Accepted, so their echo on its replace is trusted, and so is this run's own order
    sent with the manager's ``capacity``."""
    sent: list[v50.InboundMessage] = []
    risk = RiskEngine(RiskLimits())
    m = OrderManager(sent.append, risk, lambda: 7, capacity="A")
    o = m.submit("AAPL", "B", 100, PX)
    _answer(m, sent[-1], price=PX - 100, display="N")
    assert o.tracked.price == PX - 100 and o.state is OrderState.LIVE
    m2 = OrderManager(sent.append, RiskEngine(RiskLimits()), lambda: 7)
    m2.inheriting = True
    m2.on_message(v50.OrderAccepted(1, 1, "B", 100, "AAPL", PX, "0", "Y", 9001, "R",
                                    "Y", "C", "L", "X1"))  # fmt: skip
    m2.inherit(4)
    (old,) = m2.inherited_open()
    new = m2.replace(old, price=PX - 100)
    assert new is not None
    r = sent[-1]
    assert isinstance(r, v50.ReplaceOrder)
    m2.on_message(v50.OrderReplaced(2, 1, r.user_ref_num, "B", 100, "AAPL", r.price, "0", "Y",
                                    9002, "R", "N", "C", "L", r.cl_ord_id))  # fmt: skip
    assert new.state is OrderState.LIVE
    assert (m.distrusted_answers, m2.distrusted_answers) == (0, 0)
    assert risk.armed and m2.risk.armed


def test_a_cancel_no_order_explains_trips_the_kill_switch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An Order Canceled of an order already filled changes nothing and tells the
    strategy nothing; one decrementing more shares than the order has open, or none,
    ends (or leaves) the order as the venue says; each trips the kill switch
    (``distrusted_answers``). The old manager took each silently, armed: a filled order
    was told ``cancelled`` to the strategy (900 shares of it for a 100-share order)."""
    risk = RiskEngine(RiskLimits())
    updates: list[OrderUpdate] = []
    m = OrderManager(lambda msg: None, risk, lambda: 7, on_update=updates.append)
    cases = [("filled", 100, OrderState.DONE), ("more", 900, OrderState.DONE)]
    cases.append(("none", 0, OrderState.LIVE))
    for case, dec, state in cases:
        risk.arm()
        o = m.submit("AAPL", "B", 100, PX)
        _accept(m, o.user_ref_num, 100)
        if case == "filled":
            m.on_message(v50.OrderExecuted(2, o.user_ref_num, 100, PX, "A", 7))
        seen = len(updates)
        with caplog.at_level(logging.WARNING, logger="tickwire.engine.orders"):
            m.on_message(v50.OrderCanceled(3, o.user_ref_num, dec, "U"))
        assert not risk.armed, case
        assert o.state is state and o.filled_qty == (100 if case == "filled" else 0), case
        told = [u.kind for u in updates[seen:]]
        assert told == ([] if case == "filled" else ["cancelled"]), case
    assert m.distrusted_answers == 3 and risk.ledger.position("AAPL") == 100


def test_a_repeated_or_empty_execution_trips_the_kill_switch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The same execution sent twice (one Match Number: OUCH 5.0 section 3.6, one trade),
    then an execution of 0 shares, of a 200-share order: the repeat is not booked, the
    order keeps its 100 open, the strategy hears one execution; the repeat trips the kill
    switch (``distrusted_answers``, logged once naming the order and the match), the
    empty one is counted too. The old manager booked 200 shares, told the strategy of
    three executions and stayed armed."""
    sent: list[v50.InboundMessage] = []
    risk = RiskEngine(RiskLimits())
    updates: list[OrderUpdate] = []
    m = OrderManager(sent.append, risk, lambda: 7, on_update=updates.append)
    o = m.submit("AAPL", "B", 200, PX)
    _accept(m, o.user_ref_num, 200)
    with caplog.at_level(logging.WARNING, logger="tickwire.engine.orders"):
        m.on_message(v50.OrderExecuted(2, o.user_ref_num, 100, PX, "A", 5))
        m.on_message(v50.OrderExecuted(3, o.user_ref_num, 100, PX, "A", 5))
        m.on_message(v50.OrderExecuted(4, o.user_ref_num, 0, PX, "A", 6))
    assert risk.ledger.positions == {"AAPL": 100} and o.filled_qty == 100
    assert [u.kind for u in updates] == ["accepted", "executed"]
    assert not risk.armed and m.distrusted_answers == 2 and m.trips == 1
    assert sent[-1] == v50.CancelOrder(user_ref_num=o.user_ref_num, quantity=0)
    assert caplog.messages == [
        f"kill switch tripped: the venue sent OrderExecuted for UserRefNum {o.user_ref_num} "
        "(match 5 executed twice), which no order of this engine explains; 1 cancels sent"
    ]


def test_an_order_accepted_that_was_never_sent_trips_the_kill_switch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An Order Accepted live with 100 shares, and an Order Replaced live, each naming
    UserRefNums this manager never sent (not inheriting): orders the venue holds that
    risk does not count. Each is counted (``unknown_orders``, with ``unknown_answers``),
    trips the kill switch (logged once, naming the order) and is cancelled. One accepted
    dead, or a Rejected or Order Canceled naming an order never sent, holds nothing:
    counted as unknown, no trip. The old manager only counted them, armed."""
    sent: list[v50.InboundMessage] = []
    risk = RiskEngine(RiskLimits())
    m = OrderManager(sent.append, risk, lambda: 7)
    own = m.submit("AAPL", "B", 100, PX)
    _accept(m, own.user_ref_num, 100)
    args = ("B", 100, "AAPL", PX, "0", "Y", 9, "P", "N", "N")
    with caplog.at_level(logging.WARNING, logger="tickwire.engine.orders"):
        m.on_message(v50.OrderAccepted(2, 700, *args, "D", "x"))  # dead: holds nothing
        m.on_message(v50.Rejected(2, 701, 1, "x"))
        m.on_message(v50.OrderCanceled(2, 702, 100, "U"))
    assert risk.armed and m.unknown_answers == 3
    assert caplog.messages == [  # logged, the first LOGGED_FIRST (log_first)
        f"the venue sent {kind} for UserRefNum {ref}, an order this engine never sent"
        for kind, ref in (("OrderAccepted", 700), ("Rejected", 701), ("OrderCanceled", 702))
    ]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="tickwire.engine.orders"):
        m.on_message(v50.OrderAccepted(3, 777, *args, "L", "x"))
    assert not risk.armed, "the venue holds an order risk does not count"
    assert (m.unknown_answers, m.unknown_orders, m.trips) == (4, 1, 1)
    assert sent[-2:] == [
        v50.CancelOrder(user_ref_num=own.user_ref_num, quantity=0),
        v50.CancelOrder(user_ref_num=777, quantity=0),
    ]
    assert caplog.messages == [
        "kill switch tripped: the venue sent OrderAccepted for UserRefNum 777 (100 shares "
        "live), an order this engine never sent; 1 cancels sent"
    ]
    risk.arm()
    m.on_message(v50.OrderReplaced(4, 800, 801, *args, "L", "x"))
    assert not risk.armed and (m.unknown_orders, m.trips) == (2, 2)
    assert sent[-1] == v50.CancelOrder(user_ref_num=801, quantity=0)
    assert m.open_orders() == [own]  # nothing of them tracked (own's cancel in flight)
