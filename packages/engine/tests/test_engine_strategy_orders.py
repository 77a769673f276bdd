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
    args = (o.price, "0", "Y", orn, "P", "N", "N", "L", o.cl_ord_id)
    m.on_message(v50.OrderAccepted(1, ref, o.side, qty, o.symbol, *args))


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
    """The engine replaces A by R; the venue answers "B replaced by R". The old code took
    it: B ended, A stayed live with its replace pending for ever, and trading went on."""
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
    assert not risk.armed and m.unexpected_replacements == 1
    assert [rec.getMessage() for rec in caplog.records] == [
        f"kill switch tripped: the venue replaced UserRefNum {b.user_ref_num} by "
        f"{r.user_ref_num} (200 shares open), a replacement this engine sent for UserRefNum "
        f"{a.user_ref_num}; 2 cancels sent"
    ]
    cancels = [msg for msg in sent if isinstance(msg, v50.CancelOrder)]
    assert sorted(c.user_ref_num for c in cancels) == [a.user_ref_num, r.user_ref_num]
