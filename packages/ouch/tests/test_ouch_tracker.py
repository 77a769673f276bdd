"""The one order tracker: OUCH 4.2 and 5.0 answers through one table, one state machine."""

from __future__ import annotations

import dataclasses

from tickwire.ouch import v42, v50
from tickwire.ouch.orders import OrderBook42, OrderBook50
from tickwire.ouch.tracker import (
    ANSWERS,
    Answer,
    Event,
    OrderState,
    OrderTracker,
    TrackedOrder,
    answer_for,
    worse_price,
)


def _accepted50(urn: int, qty: int, state: str = "L") -> v50.OrderAccepted:
    return v50.OrderAccepted(1, urn, "B", qty, "AAPL", 100, "0", "Y", 7, "A", "N", "N", state, "x")


def _replaced50(orig: int, urn: int, qty: int) -> v50.OrderReplaced:
    return v50.OrderReplaced(
        2, orig, urn, "B", qty, "AAPL", 99, "0", "Y", 8, "A", "N", "N", "L", "x"
    )


def _accepted42(token: str, qty: int) -> v42.OrderAccepted:
    return v42.OrderAccepted(
        1, token, "B", qty, "AAPL", 100, 0, "", "Y", 7, "A", "N", 0, "N", "L", " "
    )


def _replaced42(orig: str, token: str, qty: int) -> v42.OrderReplaced:
    return v42.OrderReplaced(
        2, token, "B", qty, "AAPL", 99, 0, "", "Y", 8, "A", "N", 0, "N", "L", orig, " "
    )


def _story(version: str) -> list[tuple[str, OrderState, int, int, OrderState | None]]:
    """Enter 500, accept, execute 100, replace (total 300), replaced, cancel the rest:
    the same answers of either version leave the same states and shares."""
    keys: tuple[int, int] | tuple[str, str] = (1, 2) if version == "5.0" else ("A1", "A2")
    tracker: OrderTracker = OrderTracker()  # type: ignore[type-arg]
    first, second = keys
    tracker.sent(TrackedOrder(first, "AAPL", "B", 100, 500))
    if version == "5.0":
        msgs: list[object] = [
            _accepted50(1, 500),
            v50.OrderExecuted(3, 1, 100, 100, "A", 1),
        ]
        after_replace: list[object] = [
            _replaced50(1, 2, 200),
            v50.OrderCanceled(4, 2, 200, "U"),
        ]
    else:
        msgs = [_accepted42("A1", 500), v42.OrderExecuted(3, "A1", 100, 100, "A", 1)]
        after_replace = [_replaced42("A1", "A2", 200), v42.OrderCanceled(4, "A2", 200, "U")]
    seen = []
    for m in msgs:
        change = tracker.on_message(m)
        assert change is not None and change.order is not None
        o = change.order
        seen.append((str(change.answer.event), o.state, o.quantity, o.executed, None))
    tracker.sent(TrackedOrder(second, "AAPL", "B", 99, 200, replaces=first))
    assert tracker.orders[first].replaced_by == second
    for m in after_replace:
        change = tracker.on_message(m)
        assert change is not None and change.order is not None
        o = change.order
        prev = change.previous.state if change.previous is not None else None
        seen.append((str(change.answer.event), o.state, o.quantity, o.executed, prev))
    return seen


def test_ouch_tracker_one_table_for_both_versions() -> None:
    story = _story("5.0")
    assert story == _story("4.2")
    assert story == [
        ("accepted", OrderState.LIVE, 500, 0, None),
        ("executed", OrderState.LIVE, 400, 100, None),
        ("replaced", OrderState.LIVE, 200, 100, OrderState.DEAD),  # chain executed carried
        ("canceled", OrderState.DEAD, 0, 100, None),
    ]


def test_ouch_tracker_every_message_about_an_order_is_in_the_table() -> None:
    """Nothing about an order is silently dropped: each outbound class naming an order
    has an entry (state-changing or a NOTICE); the rest name no order."""
    for mod, key in ((v50, "user_ref_num"), (v42, "order_token")):
        for name in dir(mod):
            cls = getattr(mod, name)
            if not (isinstance(cls, type) and issubclass(cls, mod.OutboundMessage)):
                continue
            if cls is mod.OutboundMessage:
                continue
            names = {f.name for f in dataclasses.fields(cls)}
            about_order = key in names or "replacement_order_token" in names
            assert (cls in ANSWERS) == about_order, cls


def test_ouch_tracker_accepted_and_replaced_answers_are_whole() -> None:
    """The Answers of an Accepted and a Replaced, built from all their fields in order
    past the NamedTuple's ``__new__`` (tracker.py's ``_tuple_new``, for speed), are the
    ones ``Answer(...)`` makes: every field, of a live and a dead order, of either
    version (a field added to ``Answer`` and not to them fails here)."""
    for state in ("L", "D"):
        live = state == "L"
        acc50 = dataclasses.replace(_accepted50(1, 500), order_state=state)
        rep50 = dataclasses.replace(_replaced50(1, 2, 200), order_state=state)
        acc42 = dataclasses.replace(_accepted42("A1", 500), order_state=state)
        rep42 = dataclasses.replace(_replaced42("A1", "A2", 200), order_state=state)
        accepted = Event.ACCEPTED if live else Event.ACCEPTED_DEAD
        replaced = Event.REPLACED if live else Event.REPLACED_DEAD
        expected = [
            (acc50, Answer(accepted, 1, 500, 100, None, 7, "B", "AAPL", display=acc50.display)),
            (rep50, Answer(replaced, 2, 200, 99, 1, 8, "B", "AAPL", display=rep50.display)),
            (acc42, Answer(accepted, "A1", 500, 100, None, 7, "B", "AAPL", display=acc42.display)),
            (rep42, Answer(replaced, "A2", 200, 99, "A1", 8, "B", "AAPL", display=rep42.display)),
        ]
        for msg, want in expected:
            got = answer_for(msg)
            assert type(got) is Answer
            assert got == want and len(got) == len(Answer._fields)
            assert got._asdict() == want._asdict()


def test_ouch_tracker_original_gone_ends_the_replacement_in_flight() -> None:
    """OUCH 5.0 2.2 case 1: a Replace of an order that is gone is ignored by the venue."""
    tracker: OrderTracker[int] = OrderTracker()
    tracker.sent(TrackedOrder(1, "AAPL", "B", 100, 100))
    tracker.on_message(_accepted50(1, 100))
    tracker.sent(TrackedOrder(2, "AAPL", "B", 99, 100, replaces=1))
    change = tracker.on_message(v50.OrderExecuted(3, 1, 100, 100, "A", 1))
    assert change is not None and [o.key for o in change.cascaded] == [2]
    assert tracker.orders[1].state is OrderState.DEAD
    assert tracker.orders[2].state is OrderState.DEAD
    assert tracker.orders[2].reason == "original order no longer live"


def test_ouch_book_resends_no_replace_of_an_order_that_is_gone() -> None:
    for book, enter, answer in (
        (OrderBook50(), lambda b: b.enter("B", 100, "AAPL", 100), _accepted50),
        (OrderBook42(), lambda b: b.enter("B", 100, "AAPL", 100), _accepted42),
    ):
        e = enter(book)
        key = getattr(e, "user_ref_num", None) or e.order_token
        book.on_message(answer(key, 100))
        book.replace(key, 100, 99)
        if isinstance(book, OrderBook50):
            book.on_message(v50.OrderExecuted(3, key, 100, 100, "A", 1))
        else:
            book.on_message(v42.OrderExecuted(3, key, 100, 100, "A", 1))
        assert book.orders[key].state == "dead"
        assert book.pending() == []  # the old book kept the Replace to resend


def test_ouch_tracker_rejected_replacement_leaves_the_original() -> None:
    tracker: OrderTracker[int] = OrderTracker()
    tracker.sent(TrackedOrder(1, "AAPL", "B", 100, 100))
    tracker.on_message(_accepted50(1, 100))
    tracker.sent(TrackedOrder(2, "AAPL", "B", 99, 100, replaces=1))
    tracker.on_message(v50.Rejected(3, 2, 0x17, "x"))
    assert tracker.orders[2].state is OrderState.REJECTED
    assert tracker.orders[1].state is OrderState.LIVE and tracker.orders[1].replaced_by is None


def test_ouch_tracker_counts_answers_for_unknown_orders() -> None:
    tracker: OrderTracker[int] = OrderTracker()
    change = tracker.on_message(v50.OrderExecuted(3, 99, 100, 100, "A", 1))
    assert change is not None and change.order is None and tracker.unknown == 1
    assert tracker.on_message(v50.AccountQueryResponse(1, 5)) is None  # about no order
    notice = answer_for(v50.CancelPending(1, 99))
    assert notice is not None and notice.event is Event.NOTICE
    change = tracker.on_message(v50.CancelReject(1, 99))
    assert change is not None and change.order is None and tracker.unknown == 2


def test_ouch_tracker_aiq_cancel_ends_the_order() -> None:
    book = OrderBook50()
    book.on_message(_accepted50(book.enter("B", 100, "AAPL", 100).user_ref_num, 100))
    book.on_message(v50.AiqCanceled(4, 1, 100, "Q", 0, 0, "A", "N"))
    assert book.orders[1].state == "dead" and book.orders[1].quantity == 0


def test_ouch_book_orders_have_a_history_list_from_the_start() -> None:
    book = OrderBook50()
    e = book.enter("B", 100, "AAPL", 100)
    assert book.orders[e.user_ref_num].history == []
    book.on_message(_accepted50(e.user_ref_num, 100))
    assert len(book.orders[e.user_ref_num].history or []) == 1


def test_ouch_tracker_takes_nothing_beyond_what_was_sent() -> None:
    """More shares, another side or symbol, an Accepted of an order not pending, a Replaced
    of an original that is gone: each is distrusted (counted, said in the change) and the
    order keeps what was sent; an answer its state cannot hear changes nothing. The old
    tracker took the venue's word: 900 shares open of a 100-share Enter, a dead order live
    again, a replacement live after its original filled."""
    t: OrderTracker[int] = OrderTracker()
    o = t.sent(TrackedOrder(1, "AAPL", "B", 100, 100))
    msg = _accepted50(1, 900)
    c = t.on_message(dataclasses.replace(msg, side="S", symbol="MSFT"))
    assert c is not None and c.distrust == "900 shares open granted, 100 sent"
    assert (o.state, o.side, o.symbol, o.quantity, t.distrusted) == ("live", "B", "AAPL", 100, 1)
    c = t.on_message(_accepted50(1, 100))  # a second Accepted
    assert c is not None and c.ignored and c.distrust == "accepted of an order live"
    t.on_message(v50.OrderCanceled(3, 1, 100, "U"))
    c = t.on_message(_accepted50(1, 100))  # the dead order does not come back
    assert c is not None and c.ignored and (o.state, o.quantity) == ("dead", 0)
    # A Modified granting shares, or turning a buy into a sell, is distrusted too.
    m = t.sent(TrackedOrder(5, "AAPL", "B", 100, 100))
    t.on_message(_accepted50(5, 100))
    c = t.on_message(v50.OrderModified(6, 5, "S", 50))
    assert c is not None and c.distrust == "side 'S' for an order of side 'B'"
    assert (m.side, m.quantity) == ("B", 50)
    # A Replaced of an original that is gone changes nothing (4.2 and 5.0 alike).
    t42: OrderTracker[str] = OrderTracker()
    t42.sent(TrackedOrder("A1", "AAPL", "B", 100, 100))
    t42.on_message(_accepted42("A1", 100))
    new = t42.sent(TrackedOrder("A2", "AAPL", "B", 99, 100, replaces="A1"))
    t42.on_message(v42.OrderExecuted(3, "A1", 100, 100, "A", 1))
    assert new.state == "dead"  # ended with its original (OUCH 5.0 section 2.2)
    c = t42.on_message(_replaced42("A1", "A2", 100))
    assert c is not None and c.ignored and c.distrust == "replaced of an original dead"
    assert (new.state, new.quantity, t42.distrusted) == ("dead", 0, 1)
    # A Replaced with more open than the replace asked keeps what was asked.
    t.sent(TrackedOrder(7, "AAPL", "B", 100, 100))
    t.on_message(_accepted50(7, 100))
    r = t.sent(TrackedOrder(8, "AAPL", "B", 99, 100, replaces=7))
    c = t.on_message(_replaced50(7, 8, 900))
    assert c is not None and not c.ignored and c.distrust == "900 shares open granted, 100 sent"
    assert (r.state, r.quantity) == ("live", 100)


def test_ouch_tracker_replace_chain_shares_one_history() -> None:
    """A chain of N replaces keeps every message once, in order, in one list every member
    shares. The old tracker copied the chain's history into a new list at every replace
    (O(N**2): 20,000 server-driven replaces took 7.2 s), so the members held different
    lists and the first one stopped at its first replace."""
    n = 300
    t: OrderTracker[int] = OrderTracker(keep_history=True)
    first = t.sent(TrackedOrder(1, "AAPL", "B", 100, 100))
    heard: list[object] = [_accepted50(1, 100)]
    t.on_message(heard[0])
    for key in range(2, n + 2):
        t.sent(TrackedOrder(key, "AAPL", "B", 99, 100, replaces=key - 1))
        # a message of the original crossing the replace, then the replace's answer
        heard.append(v50.CancelPending(3, key - 1))
        heard.append(_replaced50(key - 1, key, 100))
        t.on_message(heard[-2])
        t.on_message(heard[-1])
    last = t.orders[n + 1]
    assert last.state is OrderState.LIVE and first.state is OrderState.DEAD
    assert last.history is not None and last.history == heard
    assert all(o.history is last.history for o in t.orders.values())


def test_ouch_tracker_replacements_never_sent_stay_bounded() -> None:
    """Order Replaced naming UserRefNums never sent, by the thousand: a chain of them
    from one order sent keeps one adopted entry, and those naming no tracked order at
    all keep none (counted unknown). The old tracker kept an entry for each (200,000 took
    51 MB in the live engine, which forgets nothing)."""
    n = 5_000
    t: OrderTracker[int] = OrderTracker(keep_history=True)
    t.sent(TrackedOrder(1, "AAPL", "B", 100, 100))
    t.on_message(_accepted50(1, 100))
    for key in range(1_000, 1_000 + n):  # 1 -> 1000 -> 1001 -> ...: a chain never sent
        c = t.on_message(_replaced50(1 if key == 1_000 else key - 1, key, 100))
        assert c is not None and c.adopted and c.order is not None
    for key in range(100_000, 100_000 + n):  # neither side tracked
        c = t.on_message(_replaced50(key, key + 1, 100))
        assert c is not None and c.order is None
    assert sorted(t.orders) == [1, 1_000 + n - 1]
    assert t.orders[1].state is OrderState.DEAD
    assert t.orders[1_000 + n - 1].state is OrderState.LIVE and t.unknown == n


def test_ouch_tracker_a_rejected_dead_or_rejected_order_changes_nothing() -> None:
    """A Rejected answers an Enter or a Replace (the order pending) or a Modify (live):
    an order already dead (filled, cancelled, replaced away) or rejected has nothing a
    Rejected could answer. It is distrusted and changes nothing. The old tracker made a
    filled order ``rejected`` with its Reject Reason, so a report of the day called an
    order that traded 100 shares rejected."""
    book = OrderBook50()
    e = book.enter("B", 100, "AAPL", 100)
    o = book.on_message(_accepted50(e.user_ref_num, 100))
    assert o is not None
    book.on_message(v50.OrderExecuted(2, 1, 100, 100, "A", 7))
    assert (o.state, o.filled, o.quantity) == ("dead", 100, 0)
    change = book.tracker.on_message(v50.Rejected(3, 1, 0x0F, "x"))
    assert change is not None and change.ignored
    assert change.distrust == "rejected of an order dead"
    assert (o.state, o.filled, o.reason, book.tracker.distrusted) == ("dead", 100, "", 1)
    # a rejected order hears a second Rejected: the first one's reason stays
    r = book.enter("S", 100, "AAPL", 101)
    book.on_message(v50.Rejected(4, r.user_ref_num, 0x15, "x"))
    rejected = book.tracker.orders[r.user_ref_num]
    first = rejected.reason
    assert rejected.state == "rejected"
    change = book.tracker.on_message(v50.Rejected(5, r.user_ref_num, 0x0F, "x"))
    assert change is not None and change.ignored
    assert (rejected.state, rejected.reason, book.tracker.distrusted) == ("rejected", first, 2)


def test_ouch_tracker_a_cancel_reject_with_no_cancel_in_flight_is_distrusted() -> None:
    """A Cancel Reject answers a Cancel in flight (OUCH 5.0 section 3.10; 4.2 alike):
    naming a live order with none in flight, or a second time for one Cancel, it is
    distrusted and changes nothing; answering a Cancel sent, it ends that Cancel and the
    order stays as it was, not distrusted. A Cancel answered by an Order Canceled (reason
    U) is no longer in flight; one the venue ignores (moot: to a size at or above the
    shares open) never was. The old tracker took every one for a notice, counted
    nowhere."""
    for book, key, canceled in (
        (OrderBook50(), 1, lambda k, n: v50.OrderCanceled(9, k, n, "U")),
        (OrderBook42(prefix="AB"), "AB000000000001", lambda k, n: v42.OrderCanceled(9, k, n, "U")),
    ):
        e = book.enter("B", 300, "AAPL", 100)
        assert getattr(e, "user_ref_num", getattr(e, "order_token", None)) == key
        if isinstance(book, OrderBook50):
            o = book.on_message(_accepted50(1, 300))
            reject: object = v50.CancelReject(3, 1)
        else:
            o = book.on_message(_accepted42("AB000000000001", 300))
            reject = v42.CancelReject(3, "AB000000000001")
        assert o is not None and o.state == "live"
        change = book.tracker.on_message(reject)  # no Cancel sent
        assert change is not None and change.ignored and change.order is o
        assert change.distrust == "cancel reject of an order live with no Cancel in flight"
        assert (o.state, o.quantity, book.tracker.distrusted) == ("live", 300, 1)
        book.cancel(key, 100)  # a Cancel sent: the Reject answers it
        change = book.tracker.on_message(reject)
        assert change is not None and not change.distrust and not change.ignored
        assert (o.state, o.quantity, book.tracker.distrusted, o.cancelling) == ("live", 300, 1, 0)
        change = book.tracker.on_message(reject)  # "only once for a given UserRefNum"
        assert change is not None and change.ignored and book.tracker.distrusted == 2
        book.cancel(key, 200)  # answered by an Order Canceled (U): no longer in flight
        book.on_message(canceled(key, 100))
        assert (o.quantity, o.cancelling, book.pending()) == (200, 0, [])
        book.cancel(key, 500)  # moot (at or above the 200 open): the venue ignores it
        assert (o.cancelling, book.pending()) == (0, [])
        change = book.tracker.on_message(reject)
        assert change is not None and change.ignored and book.tracker.distrusted == 3
        assert (o.state, o.quantity) == ("live", 200)


def test_ouch_tracker_a_rejected_live_order_stays_live() -> None:
    """A Rejected naming a live order can only refuse its Modify or Replace in flight:
    the order stays live with its shares (REFUSES_IN); with nothing in flight it is
    distrusted and changes nothing. The old tracker took it for the end of the order:
    rejected, nothing open, while the venue still held 100 shares of it."""
    book = OrderBook50()
    e = book.enter("B", 100, "AAPL", 100)
    o = book.on_message(_accepted50(e.user_ref_num, 100))
    assert o is not None
    # nothing in flight: distrusted, nothing changes
    change = book.tracker.on_message(v50.Rejected(3, 1, 0x0F, "x"))
    assert change is not None and change.ignored
    assert change.distrust == "rejected of an order live with no request in flight"
    assert (o.state, o.quantity, book.tracker.distrusted) == ("live", 100, 1)
    # a Modify refused: the order is as it was, the Modify no longer pending
    book.modify(1, "B", 50)
    assert book.on_message(v50.Rejected(4, 1, 0x0F, "x")) is o
    assert (o.state, o.quantity, book.tracker.distrusted) == ("live", 100, 1)
    assert book.pending() == []  # not resent after a reconnect
    # a Replace in flight, refused naming the original: both stay as they were
    r = book.replace(1, 100, 99)
    change = book.tracker.on_message(v50.Rejected(5, 1, 0x15, "x"))
    assert change is not None and change.refused == "replace"
    new = book.tracker.orders[r.user_ref_num]
    assert (o.state, o.quantity, new.state, o.replaced_by) == ("live", 100, "pending", 2)
    # ... and refused naming the replacement (the spec's way): the original intact
    book.on_message(v50.Rejected(6, r.user_ref_num, 0x15, "x"))
    assert (o.state, o.quantity, new.state, o.replaced_by) == ("live", 100, "rejected", None)
    assert book.tracker.distrusted == 1


def test_ouch_tracker_a_price_worse_than_sent_is_distrusted() -> None:
    """OUCH 5.0 section 3 (Order Accepted, Order Replaced): "The accepted price will always
    be better than or equal to the entered price". A buy accepted above its price, a sell
    below it, or a replacement replaced at a worse price than the Replace sent is
    distrusted and the order keeps the price sent; a better price (the venue re-priced it)
    is the order's. The old tracker took any price silently: a buy at $1.00 resting at
    $1.10."""
    t: OrderTracker[int] = OrderTracker()
    buy = t.sent(TrackedOrder(1, "AAPL", "B", 100, 100))
    c = t.on_message(dataclasses.replace(_accepted50(1, 100), price=110))
    assert c is not None and c.distrust == "price 110 for a 'B' order sent at 100 (worse)"
    assert (buy.state, buy.price, t.distrusted) == ("live", 100, 1)
    sell = t.sent(TrackedOrder(2, "AAPL", "S", 100, 100))
    c = t.on_message(dataclasses.replace(_accepted50(2, 100), side="S", price=90))
    assert c is not None and c.distrust and (sell.price, t.distrusted) == (100, 2)
    better = t.sent(TrackedOrder(3, "AAPL", "B", 100, 100))
    c = t.on_message(dataclasses.replace(_accepted50(3, 100), price=95))
    assert c is not None and not c.distrust and (better.price, t.distrusted) == (95, 2)
    new = t.sent(TrackedOrder(4, "AAPL", "B", 98, 100, replaces=3))
    c = t.on_message(_replaced50(3, 4, 100))  # at 99: worse than the 98 sent
    assert c is not None and c.distrust == "price 99 for a 'B' order sent at 98 (worse)"
    assert (new.state, new.price, t.distrusted) == ("live", 98, 3)
    # 4.2 alike: a sell accepted below its price.
    t42: OrderTracker[str] = OrderTracker()
    s42 = t42.sent(TrackedOrder("A1", "AAPL", "S", 101, 100))
    c = t42.on_message(dataclasses.replace(_accepted42("A1", 100), buy_sell_indicator="S"))
    assert c is not None and c.distrust and (s42.price, t42.distrusted) == (101, 1)


def test_ouch_tracker_a_cancel_no_order_explains_is_distrusted() -> None:
    """An Order Canceled (or AIQ Canceled) decrements shares open: "the number of shares
    being decremented from the order". One naming an order already over (filled,
    cancelled, replaced away, rejected) changes nothing; one decrementing more shares than
    the order has open, or none, is applied (the order ends when nothing is left) and
    distrusted. The old tracker took each silently (a filled order cancelled again, 900
    shares cancelled of 100)."""
    t: OrderTracker[int] = OrderTracker()
    o = t.sent(TrackedOrder(1, "AAPL", "B", 100, 100))
    t.on_message(_accepted50(1, 100))
    t.on_message(v50.OrderExecuted(2, 1, 100, 100, "A", 1))
    c = t.on_message(v50.OrderCanceled(3, 1, 100, "U"))  # of an order filled
    assert c is not None and c.ignored and c.distrust == "canceled of an order dead"
    assert (o.state, o.filled, t.distrusted) == ("dead", 100, 1)
    c = t.on_message(v50.AiqCanceled(3, 1, 100, "Q", 100, 100, "A", "N"))
    assert c is not None and c.ignored and t.distrusted == 2
    r = t.sent(TrackedOrder(2, "AAPL", "B", 100, 100))
    t.on_message(v50.Rejected(3, 2, 0x13, "x"))
    c = t.on_message(v50.OrderCanceled(3, 2, 100, "U"))  # of an order rejected
    assert c is not None and c.ignored and (r.state, t.distrusted) == ("rejected", 3)
    more = t.sent(TrackedOrder(3, "AAPL", "B", 100, 100))
    t.on_message(_accepted50(3, 100))
    c = t.on_message(v50.OrderCanceled(4, 3, 900, "U"))
    assert c is not None and not c.ignored and c.distrust == "900 shares canceled, 100 open"
    assert (more.state, more.quantity, t.distrusted) == ("dead", 0, 4)
    zero = t.sent(TrackedOrder(4, "AAPL", "B", 100, 100))
    t.on_message(_accepted50(4, 100))
    c = t.on_message(v50.OrderCanceled(5, 4, 0, "U"))
    assert c is not None and c.distrust == "0 shares canceled, 100 open"
    assert (zero.state, zero.quantity, t.distrusted) == ("live", 100, 5)
    # What an honest venue says is trusted: a partial cancel, then the rest.
    ok = t.sent(TrackedOrder(5, "AAPL", "B", 100, 100))
    t.on_message(_accepted50(5, 100))
    for dec in (40, 60):
        c = t.on_message(v50.OrderCanceled(6, 5, dec, "U"))
        assert c is not None and not c.distrust
    assert (ok.state, ok.quantity, t.distrusted) == ("dead", 0, 5)
    # 4.2 alike: a cancel of a token already gone.
    t42: OrderTracker[str] = OrderTracker()
    t42.sent(TrackedOrder("A1", "AAPL", "B", 100, 100))
    t42.on_message(_accepted42("A1", 100))
    t42.on_message(v42.OrderCanceled(3, "A1", 100, "U"))
    c = t42.on_message(v42.OrderCanceled(4, "A1", 100, "U"))
    assert c is not None and c.ignored and t42.distrusted == 1


def test_ouch_tracker_an_execution_beyond_the_shares_open_is_distrusted() -> None:
    """An Order Executed of more shares than the order has open (or of an order already
    over) is booked as the venue says (``filled``: the shares changed hands) and
    distrusted, so a client book's user sees it (``OrderTracker.distrusted``). The old
    tracker booked it silently."""
    t: OrderTracker[int] = OrderTracker()
    o = t.sent(TrackedOrder(1, "AAPL", "B", 100, 100))
    t.on_message(_accepted50(1, 100))
    c = t.on_message(v50.OrderExecuted(2, 1, 60, 100, "A", 1))
    assert c is not None and not c.distrust
    c = t.on_message(v50.OrderExecuted(2, 1, 900, 100, "A", 2))
    assert c is not None and not c.ignored and c.distrust == "900 shares executed, 40 open"
    assert (o.state, o.filled, o.quantity, t.distrusted) == ("dead", 960, 0, 1)
    c = t.on_message(v50.OrderExecuted(2, 1, 10, 100, "A", 3))  # after it was over
    assert c is not None and c.distrust == "10 shares executed, 0 open"
    assert (o.filled, t.distrusted) == (970, 2)


def test_ouch_tracker_a_repeated_or_empty_execution_changes_nothing() -> None:
    """OUCH 5.0 section 3.6 (4.2 alike): a Match Number identifies one trade, shared by
    its buy and its sell, so an order hears one execution per match; and an execution is
    of some shares. The same execution sent twice (one Match Number), or one of 0 shares,
    is distrusted and changes nothing; the same Match Number on an order of the other
    side (our own buy and sell matched) is a trade. The old tracker applied both: the
    repeat booked twice, the empty one told as an execution."""
    t: OrderTracker[int] = OrderTracker()
    o = t.sent(TrackedOrder(1, "AAPL", "B", 100, 200))
    t.on_message(_accepted50(1, 200))
    c = t.on_message(v50.OrderExecuted(2, 1, 100, 100, "A", 5))
    assert c is not None and not c.distrust
    c = t.on_message(v50.OrderExecuted(3, 1, 100, 100, "A", 5))
    assert c is not None and c.ignored and c.distrust == "match 5 executed twice"
    c = t.on_message(v50.OrderExecuted(4, 1, 0, 100, "A", 6))
    assert c is not None and c.ignored and c.distrust == "an execution of 0 shares"
    assert (o.state, o.filled, o.quantity, t.distrusted) == ("live", 100, 100, 2)
    sell = t.sent(TrackedOrder(2, "AAPL", "S", 100, 100))
    t.on_message(dataclasses.replace(_accepted50(2, 100), side="S"))
    c = t.on_message(v50.OrderExecuted(5, 2, 100, 100, "A", 5))  # the match's other side
    assert c is not None and not c.distrust and sell.filled == 100
    # OUCH 4.2, through a client book: counted in its tracker, the order as it was
    book = OrderBook42()
    token = book.enter("B", 200, "AAPL", 100).order_token
    acc = v42.OrderAccepted(
        1, token, "B", 200, "AAPL", 100, 99998, "", "Y", 7, "A", "N", 0, "N", "L", " "
    )
    book.on_message(acc)
    for shares in (100, 100, 0):
        match = 5 if shares else 6
        book.on_message(v42.OrderExecuted(2, token, shares, 100, "A", match))
    order = book.orders[token]
    assert (order.filled, order.quantity, book.tracker.distrusted) == (100, 100, 2)


def test_ouch_tracker_a_replaced_naming_another_orders_replacement_changes_nothing() -> None:
    """An Order Replaced echoes the Replace it answers (OUCH 5.0 section 3.3; 4.2 the
    same): "B replaced by R" where R was sent to replace A, or "B replaced by C" where C
    was sent as an Enter, answers no Replace sent. Distrusted, it changes nothing: B
    stays live with its shares, R and C pending. The old tracker ended B (nothing open)
    and made R live in its place."""
    t: OrderTracker[int] = OrderTracker()
    a = t.sent(TrackedOrder(1, "AAPL", "B", 100, 100))
    b = t.sent(TrackedOrder(2, "AAPL", "B", 100, 100))
    t.on_message(_accepted50(1, 100))
    t.on_message(_accepted50(2, 100))
    r = t.sent(TrackedOrder(3, "AAPL", "B", 99, 100, replaces=1))
    c = t.on_message(_replaced50(2, 3, 100))
    assert (
        c is not None and c.ignored and c.distrust == "replaced of 2 by an order sent to replace 1"
    )
    enter = t.sent(TrackedOrder(4, "AAPL", "B", 99, 100))
    c = t.on_message(_replaced50(2, 4, 100))
    assert (
        c is not None and c.ignored and c.distrust == "replaced of 2 by an order sent as an Enter"
    )
    assert (a.state, b.state, b.quantity, r.state, enter.state) == (
        "live", "live", 100, "pending", "pending",
    )  # fmt: skip
    assert t.distrusted == 2
    c = t.on_message(_replaced50(1, 3, 100))  # the honest answer is still taken
    assert c is not None and not c.distrust and (a.state, r.state) == ("dead", "live")


def test_ouch_tracker_a_replacement_accepted_as_an_enter_changes_nothing() -> None:
    """A Replace is answered by an Order Replaced ("one and only one of these two for each
    replacement", OUCH 5.0 section 3.3; 4.2 the same): an Order Accepted naming the
    replacement in flight is distrusted and changes nothing, the original live with its
    Replace in flight. The old tracker made the replacement live beside its original, two
    live orders for one chain."""
    t: OrderTracker[int] = OrderTracker()
    o = t.sent(TrackedOrder(1, "AAPL", "B", 100, 100))
    t.on_message(_accepted50(1, 100))
    r = t.sent(TrackedOrder(2, "AAPL", "B", 100, 100, replaces=1))
    c = t.on_message(_accepted50(2, 100))
    assert c is not None and c.ignored and c.distrust == "accepted of a replacement"
    assert (o.state, o.replaced_by, r.state, t.distrusted) == ("live", 2, "pending", 1)
    c = t.on_message(_replaced50(1, 2, 100))  # the honest answer still comes
    assert c is not None and not c.distrust and (o.state, r.state) == ("dead", "live")


def test_ouch_tracker_a_priority_update_worse_than_the_limit_is_distrusted() -> None:
    """An Order Priority Update (OUCH 5.0 section 3.11, 4.2 alike) names "the limit price
    of the order" with a new Order Reference Number: it may move the price within the
    limit sent (a buy accepted re-priced to 95 may go back to the 100 it was sent at) but
    never worse (``worse_price``, the Accepted's rule); such an update is distrusted and
    the order keeps its price. Only a live order has priority: an update of an order not
    live changes nothing. The old tracker took any update: a buy sent at 100 shown at 110,
    a cancelled order re-priced."""
    t: OrderTracker[int] = OrderTracker()
    buy = t.sent(TrackedOrder(1, "AAPL", "B", 100, 100))
    t.on_message(dataclasses.replace(_accepted50(1, 100), price=95))  # re-priced better
    c = t.on_message(v50.OrderPriorityUpdate(2, 1, 100, "Y", 71))  # back to its limit
    assert c is not None and not c.distrust and (buy.price, buy.order_reference_number) == (100, 71)
    c = t.on_message(v50.OrderPriorityUpdate(3, 1, 110, "Y", 72))
    assert c is not None and c.distrust == "price 110 for a 'B' order sent at 100 (worse)"
    assert (buy.state, buy.price, buy.quantity, t.distrusted) == ("live", 100, 100, 1)
    sell = t.sent(TrackedOrder(2, "AAPL", "S", 100, 100))
    t.on_message(dataclasses.replace(_accepted50(2, 100), side="S"))
    c = t.on_message(v50.OrderPriorityUpdate(4, 2, 90, "Y", 73))
    assert c is not None and c.distrust and (sell.price, t.distrusted) == (100, 2)
    c = t.on_message(v50.OrderPriorityUpdate(5, 2, 105, "Y", 74))  # better for a sell
    assert c is not None and not c.distrust and sell.price == 105
    # a replacement's limit is the Replace's price
    new = t.sent(TrackedOrder(3, "AAPL", "B", 99, 100, replaces=1))
    t.on_message(_replaced50(1, 3, 100))
    c = t.on_message(v50.OrderPriorityUpdate(6, 3, 100, "Y", 75))
    assert c is not None and c.distrust and (new.price, t.distrusted) == (99, 3)
    # only a live order has priority: the replaced original (dead) hears none
    c = t.on_message(v50.OrderPriorityUpdate(7, 1, 90, "Y", 76))
    assert c is not None and c.ignored and c.distrust == "priority of an order dead"
    assert (buy.price, buy.order_reference_number, t.distrusted) == (100, 72, 4)
    # 4.2 alike
    t42: OrderTracker[str] = OrderTracker()
    b42 = t42.sent(TrackedOrder("A1", "AAPL", "B", 100, 100))
    t42.on_message(_accepted42("A1", 100))
    c = t42.on_message(v42.OrderPriorityUpdate(2, "A1", 101, "Y", 77))
    assert c is not None and c.distrust and (b42.price, t42.distrusted) == (100, 1)


def test_ouch_tracker_an_accepted_live_with_no_shares_changes_nothing() -> None:
    """An Order Accepted's Quantity is the "total number of shares accepted" and its Order
    State L "Order Live" (OUCH 5.0 section 3.2; an order "accepted and automatically
    canceled" is D): live with none accepted contradicts itself, as no Enter asks for 0
    shares. It is distrusted and changes nothing: the order stays pending with the shares
    sent. The old tracker made it dead (and the order manager freed its exposure) while the
    venue said it was live. Accepted dead with 0 is still an ordinary end."""
    t: OrderTracker[int] = OrderTracker()
    o = t.sent(TrackedOrder(1, "AAPL", "B", 100, 100))
    c = t.on_message(_accepted50(1, 0))
    assert c is not None and c.ignored and c.distrust == "accepted live with 0 shares"
    assert (o.state, o.quantity, t.distrusted) == ("pending", 100, 1)
    c = t.on_message(_accepted50(1, 100))  # its real answer is still heard
    assert c is not None and not c.distrust and (o.state, o.quantity) == ("live", 100)
    # a Replaced live with no shares "left exposed" alike: both stay as they were
    new = t.sent(TrackedOrder(3, "AAPL", "B", 99, 100, replaces=1))
    c = t.on_message(_replaced50(1, 3, 0))
    assert c is not None and c.ignored and c.distrust == "replaced live with 0 shares"
    assert (o.state, o.quantity, new.state, new.quantity) == ("live", 100, "pending", 100)
    dead = t.sent(TrackedOrder(2, "AAPL", "B", 100, 100))
    c = t.on_message(_accepted50(2, 0, state="D"))
    assert c is not None and not c.distrust and (dead.state, dead.quantity) == ("dead", 0)
    t42: OrderTracker[str] = OrderTracker()
    o42 = t42.sent(TrackedOrder("A1", "AAPL", "B", 100, 100))
    c = t42.on_message(_accepted42("A1", 0))
    assert c is not None and c.ignored and (o42.state, o42.quantity) == ("pending", 100)


def test_ouch_tracker_a_price_of_0_is_no_better_price() -> None:
    """A price of 0 is no OUCH price (section 1.2: prices are unsigned, a limit 1 to
    $199,999.9900; an Enter at 0 is refused, 0x1D Invalid Price) and not a market order
    (those are flagged above the largest limit, ``7FFFFFFF``): named for a buy sent at a
    limit it is no better price, though 0 is below any limit. An Order Accepted priced 0
    is distrusted and the order keeps its limit, an Order Priority Update priced 0 too
    (4.2 alike), as is a market flag named for a sell sent at a limit (above any limit,
    "better" in the arithmetic). A price equal to the limit sent is never worse (a market
    order for a cross sent at the flag is echoed with it). The old tracker took 0 as a
    better price: the buy was shown resting at $0 and nothing was distrusted."""
    assert worse_price("B", 0, 100) and worse_price("S", 0x7FFF_FFFF, 100)
    assert not worse_price("B", 99, 100) and not worse_price("S", 0x7FFF_FFFF, 0x7FFF_FFFF)
    t: OrderTracker[int] = OrderTracker()
    buy = t.sent(TrackedOrder(1, "AAPL", "B", 100, 100))
    c = t.on_message(dataclasses.replace(_accepted50(1, 100), price=0))
    assert c is not None and c.distrust == "price 0 for a 'B' order sent at 100 (worse)"
    assert (buy.state, buy.price, buy.limit, t.distrusted) == ("live", 100, 100, 1)
    c = t.on_message(v50.OrderPriorityUpdate(2, 1, 0, "Y", 71))
    assert c is not None and c.distrust and (buy.price, t.distrusted) == (100, 2)
    sell = t.sent(TrackedOrder(2, "AAPL", "S", 100, 100))
    t.on_message(dataclasses.replace(_accepted50(2, 100), side="S", price=0x7FFF_FFFF))
    assert (sell.price, t.distrusted) == (100, 3)
    market = t.sent(TrackedOrder(3, "AAPL", "B", 0x7FFF_FFFF, 100))
    c = t.on_message(dataclasses.replace(_accepted50(3, 100), price=0x7FFF_FFFF))
    assert c is not None and not c.distrust and market.price == 0x7FFF_FFFF
    t42: OrderTracker[str] = OrderTracker()
    b42 = t42.sent(TrackedOrder("A1", "AAPL", "B", 100, 100))
    t42.on_message(_accepted42("A1", 100))
    c = t42.on_message(v42.OrderPriorityUpdate(2, "A1", 0, "Y", 77))
    assert c is not None and c.distrust and (b42.price, t42.distrusted) == (100, 1)
