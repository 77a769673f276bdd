"""Order state (sans-I/O): the client books and the conformance hosts."""

from __future__ import annotations

import dataclasses

import pytest
from tickwire.ouch import OuchError, v42, v50
from tickwire.ouch.orders import OrderBook42, OrderBook50, OuchHost42, OuchHost50


def test_ouch_book50_lifecycle_through_host() -> None:
    book, host = OrderBook50(next_user_ref_num=100), OuchHost50()

    def exchange(msg: v50.InboundMessage) -> list[v50.OutboundMessage]:
        replies = host.handle(v50.decode_inbound(v50.encode(msg)), 5)
        for r in replies:
            book.on_message(v50.decode_outbound(v50.encode(r)))
        return replies

    a = book.enter("B", 500, "AAPL", 1_500_000)  # Day: an IOC order never rests here
    assert a.user_ref_num == 100 and a.cl_ord_id == "TW000000000100"
    assert book.orders[100].state == "pending" and book.pending() == [a]
    [acc] = exchange(a)
    assert isinstance(acc, v50.OrderAccepted) and book.orders[100].state == "live"
    assert exchange(a) == [] and host.ignored == 1  # a resend is recognised
    # an execution reported by the exchange
    book.on_message(v50.OrderExecuted(6, 100, 100, 1_500_000, "R", 77))
    assert book.orders[100].executed == 100 and book.orders[100].quantity == 400
    [rep] = exchange(book.replace(100, 500, 1_490_000))
    assert isinstance(rep, v50.OrderReplaced) and rep.user_ref_num == 101
    assert 100 not in book.orders and book.orders[101].executed == 100
    [mod] = exchange(book.modify(101, "B", 300))
    assert isinstance(mod, v50.OrderModified) and book.orders[101].quantity == 300
    [can] = exchange(book.cancel(101, 100))
    assert isinstance(can, v50.OrderCanceled) and can.quantity == 200
    assert book.orders[101].quantity == 100 and book.orders[101].state == "live"
    book.on_message(v50.AiqCanceled(7, 101, 100, "Q", 100, 1_490_000, "A", "N"))
    assert book.orders[101].state == "dead"
    [q] = exchange(v50.AccountQueryRequest())
    assert isinstance(q, v50.AccountQueryResponse) and q.next_user_ref_num == 102
    assert book.pending() == []


def test_ouch_book50_reject_and_account_query() -> None:
    book = OrderBook50()
    e = book.enter("S", 10, "MSFT", 1)
    book.on_message(v50.Rejected(1, e.user_ref_num, 0x17, e.cl_ord_id))
    assert book.orders[e.user_ref_num].state == "rejected" and book.pending() == []
    book.on_message(v50.AccountQueryResponse(1, 500))
    assert book.enter("S", 10, "MSFT", 1).user_ref_num == 500  # strictly increasing
    with pytest.raises(OuchError):
        book.cancel(12345)
    with pytest.raises(OuchError):
        book.enter("S", 10, "TOOLONGSYMBOL", 1)  # validated before any state changes
    assert book.next_user_ref_num == 501  # the invalid order took no UserRefNum


def test_ouch_host50_rejects_bad_quantity_and_ignores_stale() -> None:
    host = OuchHost50()
    bad = v50.EnterOrder(5, "B", 1_000_000, "AAPL", 1, "0", "Y", "A", "N", "N", "x")
    [rej] = host.handle(bad, 0)
    assert isinstance(rej, v50.Rejected) and rej.reason == 0x13
    older = v50.EnterOrder(4, "B", 1, "AAPL", 1, "0", "Y", "A", "N", "N", "x")
    assert host.handle(older, 0) == []  # below the last UserRefNum: a retransmission
    assert host.handle(v50.CancelOrder(99, 0), 0) == []  # superfluous cancel: ignored


GTT_1S = (v50.TagValue(v50.OptionTag.EXPIRE_TIME, 1),)
MAXQ, MAXP = v50.MAX_QUANTITY, v50.MAX_PRICE


@pytest.mark.parametrize(
    ("side", "qty", "price", "tif", "appendages", "reason"),
    [
        ("B", 100, 1, "0", (), None),
        ("E", MAXQ, MAXP, "6", GTT_1S, None),  # every limit, exactly
        ("X", 100, 1, "0", (), 0x09),
        ("", 100, 1, "0", (), 0x09),
        ("X", 0, 0, "Q", (), 0x09),  # side first
        ("S", 0, 1, "0", (), 0x13),
        ("S", MAXQ + 1, 1, "0", (), 0x13),
        ("S", 2**32 - 1, 0, "Q", (), 0x13),  # then quantity
        ("T", 1, 0, "0", (), 0x1D),
        ("T", 1, MAXP + 1, "0", (), 0x1D),
        ("T", 1, 2**32 - 1, "Q", (), 0x1D),  # then price
        ("B", 1, 1, "Q", (), 0x0F),
        ("B", 1, 1, "6", (), 0x0F),  # GTT without ExpireTime
    ],
)
def test_hosts_refuse_an_enter_of_a_bad_side_quantity_price_or_time_in_force(
    side: str, qty: int, price: int, tif: str, appendages: tuple[v50.TagValue, ...],
    reason: int | None,
) -> None:  # fmt: skip
    """OuchHost50 answers what the simulated exchange and the backtest venue answer
    (``v50.order_fields_reason``, then the Time In Force: 0x0F); OuchHost42 the same
    side, quantity and price rule, as its letter (X price, Z else). Each answer goes
    through the wire, as ``serve_ouch`` sends it."""
    host = OuchHost50()
    enter = v50.EnterOrder(7, side, qty, "AAPL", price, tif, "Y", "A", "N", "N", "x", appendages)
    [out] = [v50.decode_outbound(v50.encode(m)) for m in host.handle(enter, 0)]
    if reason is None:
        assert isinstance(out, v50.OrderAccepted) and 7 in host.live
    else:
        assert out == v50.Rejected(0, 7, reason, "x") and host.live == {}
    assert host.handle(enter, 0) == []  # its UserRefNum consumed either way

    host42 = OuchHost42()
    e42 = v42.EnterOrder("T1", side, qty, "AAPL", price, 99998, "", "Y", "A", "N", 0, "N", " ")
    [out42] = [v42.decode_outbound(v42.encode(m)) for m in host42.handle(e42, 0)]
    if reason in (None, 0x0F):  # 4.2's Time In Force is seconds: no 5.0 byte to refuse
        assert isinstance(out42, v42.OrderAccepted) and "T1" in host42.live
    else:
        letter = "X" if reason == 0x1D else "Z"
        assert out42 == v42.Rejected(0, "T1", letter) and host42.live == {}
    assert host42.handle(e42, 0) == []


#: Every Cross Type but continuous (``N``), and bytes no table has.
_NOT_CONTINUOUS = [str(c) for c in v50.CrossType if c != v50.CrossType.CONTINUOUS] + ["X", " "]


@pytest.mark.parametrize("cross_type", _NOT_CONTINUOUS)
def test_hosts_reject_an_enter_of_a_cross_type_other_than_continuous(cross_type: str) -> None:
    """The exchange runs no crosses, so an Enter of a Cross Type but ``N`` is Rejected
    0x14 Invalid Cross Order (4.2: ``Z``), its UserRefNum (token) consumed, nothing live
    (``v50.cross_type_reason``, as the simulated exchange answers); after every other
    check: a bad price first earns 0x1D (4.2 ``X``), a bad 5.0 Time In Force 0x0F. The
    hosts accepted any Cross Type. Answers go through the wire."""
    invalid = v50.RejectReason.INVALID_CROSS_ORDER
    host = OuchHost50()
    enter = v50.EnterOrder(7, "B", 100, "AAPL", 1, "0", "Y", "A", "N", cross_type, "x")
    [out] = [v50.decode_outbound(v50.encode(m)) for m in host.handle(enter, 0)]
    assert out == v50.Rejected(0, 7, invalid, "x") and host.live == {}
    ok = v50.EnterOrder(7, "B", 100, "AAPL", 1, "0", "Y", "A", "N", "N", "x")
    assert host.handle(ok, 0) == []  # its UserRefNum consumed
    for n, (fault, reason) in enumerate(
        [({"price": 0}, v50.RejectReason.INVALID_PRICE), ({"time_in_force": "Q"}, 0x0F)], 8
    ):
        bad = v50.EnterOrder(n, "B", 100, "AAPL", 1, "0", "Y", "A", "N", cross_type, "x")
        bad = dataclasses.replace(bad, **fault)  # type: ignore[arg-type]
        assert host.handle(bad, 0) == [v50.Rejected(0, n, reason, "x")]
    [acc] = host.handle(dataclasses.replace(ok, user_ref_num=10), 0)
    assert isinstance(acc, v50.OrderAccepted) and list(host.live) == [10]

    host42 = OuchHost42()
    e42 = v42.EnterOrder("T1", "B", 100, "AAPL", 1, 99998, "", "Y", "A", "N", 0, cross_type, " ")
    [out42] = [v42.decode_outbound(v42.encode(m)) for m in host42.handle(e42, 0)]
    assert out42 == v42.Rejected(0, "T1", "Z") and host42.live == {}
    assert host42.handle(dataclasses.replace(e42, cross_type="N"), 0) == []  # token used
    bad42 = dataclasses.replace(e42, order_token="T2", price=0)
    assert host42.handle(bad42, 0) == [v42.Rejected(0, "T2", "X")]
    [acc42] = host42.handle(dataclasses.replace(e42, order_token="T3", cross_type="N"), 0)
    assert isinstance(acc42, v42.OrderAccepted) and list(host42.live) == ["T3"]


@pytest.mark.parametrize(
    ("display", "min_qty", "reason"),
    [
        ("Q", 0, v50.RejectReason.INVALID_DISPLAY),
        ("\x00", 0, v50.RejectReason.INVALID_DISPLAY),
        ("Z", 0, v50.RejectReason.INVALID_DISPLAY),  # conformant: an answer's only
        ("Q", 100, v50.RejectReason.INVALID_DISPLAY),  # Display first
        ("Y", 100, v50.RejectReason.INVALID_MIN_QUANTITY),  # no venue runs MinQty
        ("N", 150, v50.RejectReason.INVALID_MIN_QUANTITY),  # "must be a round lot"
    ],
    ids=["Q", "NUL", "Z", "Q-and-min-qty", "min-qty-100", "min-qty-150"],
)
def test_hosts_refuse_a_bad_display_or_a_min_qty(display: str, min_qty: int, reason: int) -> None:
    """OUCH 5.0's Enter and Replace Display is ``Y``, ``N`` or ``A``; another byte is
    0x03 Invalid Display, and a MinQty other than 0 is 0x0D Invalid Min Quantity
    (``v50.order_terms_reason``, as the simulated exchange answers; 4.2's Display and
    Minimum Quantity field alike, ``Z``): an Enter Rejected, its UserRefNum (token)
    consumed; a Replace has invalid details, its original canceled ``Z``. The hosts
    accepted and echoed any Display. Answers go through the wire."""
    appendages = (v50.TagValue(v50.OptionTag.MIN_QTY, min_qty),)
    host = OuchHost50()
    enter = v50.EnterOrder(1, "B", 100, "AAPL", 1, "0", display, "A", "N", "N", "x", appendages)
    [out] = [v50.decode_outbound(v50.encode(m)) for m in host.handle(enter, 0)]
    assert out == v50.Rejected(0, 1, reason, "x") and host.live == {}
    ok = dataclasses.replace(enter, user_ref_num=2, display="Y", appendages=())
    assert [type(m) for m in host.handle(dataclasses.replace(ok, user_ref_num=1), 0)] == []
    [acc] = host.handle(ok, 0)
    assert isinstance(acc, v50.OrderAccepted)
    replace = v50.ReplaceOrder(2, 3, 100, 1, "0", display, "N", "y", appendages)
    assert host.handle(replace, 0) == [v50.OrderCanceled(0, 2, 100, "Z")] and host.live == {}
    # MinQty 0, "no minimum quantity", is taken
    zero = dataclasses.replace(ok, user_ref_num=3, appendages=(v50.TagValue(3, 0),))
    assert [type(m) for m in host.handle(zero, 0)] == [v50.OrderAccepted]

    host42 = OuchHost42()
    e42 = v42.EnterOrder("T1", "B", 100, "AAPL", 1, 99998, "", display, "A", "N", min_qty, "N", " ")
    [out42] = [v42.decode_outbound(v42.encode(m)) for m in host42.handle(e42, 0)]
    assert out42 == v42.Rejected(0, "T1", "Z") and host42.live == {}
    ok42 = dataclasses.replace(e42, order_token="T2", display="Y", minimum_quantity=0)
    assert [type(m) for m in host42.handle(ok42, 0)] == [v42.OrderAccepted]
    r42 = v42.ReplaceOrder("T2", "T3", 100, 1, 99998, display, "N", min_qty)
    assert host42.handle(r42, 0) == [v42.OrderCanceled(0, "T2", 100, "Z")]
    assert host42.live == {}


@pytest.mark.parametrize(
    ("tag", "value", "reason"),
    [
        (v50.OptionTag.MAX_FLOOR, 10, v50.RejectReason.INVALID_MAX_FLOOR),
        (v50.OptionTag.PRICE_TYPE, "M", v50.RejectReason.INVALID_PEG_TYPE),
        (v50.OptionTag.PEG_OFFSET, 5, v50.RejectReason.INVALID_PEG_TYPE),
        (v50.OptionTag.DISCRETION_PRICE, 2, v50.RejectReason.OTHER),
        (v50.OptionTag.POST_ONLY, "P", v50.RejectReason.OTHER),
        (v50.OptionTag.RANDOM_RESERVES, 100, v50.RejectReason.OTHER),
    ],
    ids=["max-floor", "midpoint-peg", "peg-offset", "discretion", "post-only", "random-reserves"],
)
def test_hosts_refuse_an_appendage_they_do_not_run(tag: int, value: object, reason: int) -> None:
    """A reserve, pegged, discretionary, post-only or random-reserve order was accepted
    and rested as a plain limit order; ``v50.order_terms_reason`` now refuses each with
    its tag's Appendix D reason (an Enter Rejected, a Replace's original canceled
    ``Z``), while the tag's "no effect" value (MaxFloor of the whole order, PriceType
    ``L``, PostOnly ``N``) is taken. Answers go through the wire."""
    appendages = (v50.TagValue(tag, value),)
    host = OuchHost50()
    enter = v50.EnterOrder(1, "B", 100, "AAPL", 1, "0", "Y", "A", "N", "N", "x", appendages)
    [out] = [v50.decode_outbound(v50.encode(m)) for m in host.handle(enter, 0)]
    assert out == v50.Rejected(0, 1, reason, "x") and host.live == {}
    ok = dataclasses.replace(enter, user_ref_num=2, appendages=())
    [acc] = host.handle(ok, 0)
    assert isinstance(acc, v50.OrderAccepted)
    replace = v50.ReplaceOrder(2, 3, 100, 1, "0", "Y", "N", "y", appendages)
    assert host.handle(replace, 0) == [v50.OrderCanceled(0, 2, 100, "Z")] and host.live == {}
    for n, harmless in enumerate(
        [
            (v50.OptionTag.MAX_FLOOR, 100),
            (v50.OptionTag.PRICE_TYPE, "L"),
            (v50.OptionTag.POST_ONLY, "N"),
        ]
    ):
        taken = dataclasses.replace(ok, user_ref_num=4 + n, appendages=(v50.TagValue(*harmless),))
        assert [type(m) for m in host.handle(taken, 0)] == [v50.OrderAccepted]


def test_ouch_book42_lifecycle_through_host() -> None:
    book, host = OrderBook42(prefix="AB"), OuchHost42()

    def exchange(msg: v42.InboundMessage) -> list[v42.OutboundMessage]:
        replies = host.handle(v42.decode_inbound(v42.encode(msg)), 1)
        for r in replies:
            book.on_message(v42.decode_outbound(v42.encode(r)))
        return replies

    e = book.enter("B", 200, "SPY", 4_000_000, firm="FRMA")
    assert e.order_token == "AB000000000001"
    [acc] = exchange(e)
    assert isinstance(acc, v42.OrderAccepted) and acc.firm == "FRMA"
    assert exchange(e) == []  # duplicate token
    [rep] = exchange(book.replace(e.order_token, 300, 3_990_000))
    assert isinstance(rep, v42.OrderReplaced) and rep.previous_order_token == e.order_token
    new = rep.replacement_order_token
    book.on_message(v42.ExecutedWithReferencePrice(2, new, 100, 3_990_000, "A", 9, 3_990_000, "N"))
    assert book.orders[new].executed == 100 and book.orders[new].quantity == 200
    [mod] = exchange(book.modify(new, "B", 150))
    assert isinstance(mod, v42.OrderModified) and book.orders[new].quantity == 150
    [can] = exchange(book.cancel(new))
    assert isinstance(can, v42.OrderCanceled) and book.orders[new].state == "dead"
    assert book.pending() == []
    with pytest.raises(OuchError):
        book.enter("B", 1, "SPY", 1, order_token=e.order_token)


def test_ouch_hosts_take_the_time_and_read_no_clock() -> None:
    """Sans-I/O: the answers carry the ``now`` given, whatever the wall clock says; the
    adapter (``serve_ouch``) owns the clock."""
    enter = v50.EnterOrder(
        1, "B", 100, "AAPL", 1_000_000, "0", "Y", "P", "N", "N", v50.cl_ord_id_for(1), ()
    )
    [acc] = OuchHost50().handle(enter, 123)
    assert acc.timestamp == 123
    [acc42] = OuchHost42().handle(OrderBook42(prefix="AB").enter("B", 10, "AAPL", 100), 7)
    assert acc42.timestamp == 7
    with pytest.raises(TypeError, match="now"):
        OuchHost50().handle(enter)


def test_ouch_hosts_clock_argument_is_deprecated_but_works() -> None:
    with pytest.warns(DeprecationWarning, match="handle"):
        host = OuchHost50(clock=lambda: 42)
    enter = v50.EnterOrder(
        1, "B", 100, "AAPL", 1_000_000, "0", "Y", "P", "N", "N", v50.cl_ord_id_for(1), ()
    )
    [acc] = host.handle(enter)
    assert acc.timestamp == 42
    with pytest.warns(DeprecationWarning):
        OuchHost42(clock=lambda: 1)


def test_account_query_after_the_last_user_ref_num_says_none_left() -> None:
    """``last + 1`` is 2**32 after the last UserRefNum and does not fit the 4-byte field:
    the host answers 0 (never a valid UserRefNum), which encodes, and a client book keeps
    its own next number."""
    host = OuchHost50()
    enter = v50.EnterOrder(
        2**32 - 1, "B", 100, "AAPL", 1_000_000, "0", "Y", "P", "N", "N", "LAST", ()
    )
    host.handle(enter, 1)
    [resp] = host.handle(v50.AccountQueryRequest(), 2)
    assert isinstance(resp, v50.AccountQueryResponse) and resp.next_user_ref_num == 0
    assert v50.decode_outbound(v50.encode(resp)) == resp
    assert v50.next_user_ref_num(2**32 - 2) == 2**32 - 1 == v50.MAX_USER_REF_NUM
    book = OrderBook50(next_user_ref_num=7)
    book.on_message(resp)
    assert book.next_user_ref_num == 7


def test_a_cancel_reject_ends_the_cancel_it_answers() -> None:
    """A Cancel Reject answers the oldest Cancel of its order in flight (OUCH 5.0: sent
    once for a UserRefNum, and "duplicate cancel requests for the same UserRefNum will be
    ignored"), so that Cancel is no longer pending: it was kept, resent after every
    reconnect, and ignored. A second Cancel in flight stays pending; the order stays
    live with its shares (4.2 alike)."""
    book50 = OrderBook50()
    enter = book50.enter("B", 300, "AAPL", 1_500_000)
    book50.on_message(
        v50.OrderAccepted(
            1, enter.user_ref_num, "B", 300, "AAPL", 1_500_000, "0", "Y", 7, "P", "N", "N",
            "L", enter.cl_ord_id,
        )
    )  # fmt: skip
    first = book50.cancel(enter.user_ref_num, 100)
    second = book50.cancel(enter.user_ref_num, 50)
    book50.on_message(v50.CancelReject(2, enter.user_ref_num))
    assert book50.pending() == [second] and first != second
    assert book50.orders[enter.user_ref_num].state == "live"
    assert book50.orders[enter.user_ref_num].quantity == 300

    book42 = OrderBook42(prefix="AB")
    e = book42.enter("B", 300, "SPY", 4_000_000)
    book42.on_message(
        v42.OrderAccepted(
            1, e.order_token, "B", 300, "SPY", 4_000_000, 99999, "", "Y", 7, "P", "N", 0,
            "N", "L", "N",
        )
    )  # fmt: skip
    book42.cancel(e.order_token, 100)
    book42.on_message(v42.CancelReject(2, e.order_token))
    assert book42.pending() == [] and book42.orders[e.order_token].state == "live"


def enter50(urn: int, qty: int = 100, tif: str = "0", appendages: tuple[v50.TagValue, ...] = ()) -> v50.EnterOrder:  # fmt: skip
    return v50.EnterOrder(urn, "B", qty, "AAPL", 1_000_000, tif, "Y", "P", "N", "N", f"C{urn}", appendages)  # fmt: skip


def enter42(token: str, shares: int = 100, tif: int = v42.TIF_MARKET_HOURS) -> v42.EnterOrder:
    return v42.EnterOrder(token, "B", shares, "AAPL", 1_000_000, tif, "", "Y", "A", "N", 0, "N", " ")  # fmt: skip


@pytest.mark.parametrize(
    ("qty", "price", "tif", "appendages"),
    [
        (0, 1_000_000, "0", ()),  # quantity
        (MAXQ + 1, 1_000_000, "0", ()),
        (100, 0, "0", ()),  # price
        (100, MAXP + 1, "0", ()),
        (100, 1_000_000, "Q", ()),  # Time In Force byte
        (100, 1_000_000, "6", ()),  # GTT without ExpireTime
        (100, 1_000_000, "6", (v50.TagValue(v50.OptionTag.EXPIRE_TIME, 86_400),)),
    ],
)
def test_hosts_cancel_the_original_of_a_replace_of_invalid_details(
    qty: int, price: int, tif: str, appendages: tuple[v50.TagValue, ...]
) -> None:
    """OUCH 5.0 section 2.2 case 2 (4.2 the same), as the simulated exchange answers: a
    Replace whose details OUCH refuses cancels the original (Order Canceled of its open
    shares, reason Z) and does not consume the replacement's UserRefNum (token), which a
    later Enter may take. The host replaced whatever it was given."""
    host = OuchHost50()
    host.handle(enter50(1, 300), 1)
    bad = v50.ReplaceOrder(1, 2, qty, price, tif, "Y", "N", "C2", appendages)
    assert host.handle(bad, 2) == [v50.OrderCanceled(2, 1, 300, "Z")]
    assert host.live == {} and host.handle(bad, 3) == []  # the original is gone
    [acc] = host.handle(enter50(2), 4)  # UserRefNum 2 not consumed
    assert isinstance(acc, v50.OrderAccepted)

    if tif != "0":  # 4.2's Time In Force is seconds: no byte to refuse
        return
    host42 = OuchHost42()
    host42.handle(enter42("A", 300), 1)
    bad42 = v42.ReplaceOrder("A", "B", qty, price, v42.TIF_MARKET_HOURS, "Y", "N", 0)
    assert host42.handle(bad42, 2) == [v42.OrderCanceled(2, "A", 300, "Z")]
    assert host42.live == {}
    [acc42] = host42.handle(enter42("B"), 3)  # token B not used
    assert isinstance(acc42, v42.OrderAccepted)


def test_hosts_never_rest_an_ioc_order() -> None:
    """Nothing executes on a host, so an IOC order (an Enter, or a Replace to IOC) is
    accepted (replaced) and canceled whole at once, reason I, as the simulated exchange
    answers with no liquidity. The host rested it as a Day order."""
    host = OuchHost50()
    [acc, can] = host.handle(enter50(1, 300, "3"), 5)
    assert isinstance(acc, v50.OrderAccepted)
    assert can == v50.OrderCanceled(5, 1, 300, "I") and host.live == {}
    host.handle(enter50(2, 200), 6)
    [rep, can2] = host.handle(v50.ReplaceOrder(2, 3, 150, 1_000_000, "3", "Y", "N", "C3"), 7)
    assert isinstance(rep, v50.OrderReplaced) and rep.quantity == 150
    assert can2 == v50.OrderCanceled(7, 3, 150, "I") and host.live == {}

    host42 = OuchHost42()
    [acc42, can42] = host42.handle(enter42("A", 300, v42.TIF_IOC), 5)
    assert isinstance(acc42, v42.OrderAccepted)
    assert can42 == v42.OrderCanceled(5, "A", 300, "I") and host42.live == {}
    host42.handle(enter42("B", 200), 6)
    rep42 = v42.ReplaceOrder("B", "C", 150, 1_000_000, v42.TIF_IOC, "Y", "N", 0)
    [_, can42b] = host42.handle(rep42, 7)
    assert can42b == v42.OrderCanceled(7, "C", 150, "I") and host42.live == {}


def test_hosts_expire_a_gtt_or_4_2_time_in_force_in_seconds_on_the_deadline_clock() -> None:
    """A 5.0 GTT order (ExpireTime N s) and a 4.2 order of Time In Force N seconds are
    canceled N s after their Accepted (a replacement: after its Replaced), reason T,
    earliest first, as the simulated exchange does; measured on ``deadline_clock`` (only
    runs forward), not on the timestamps, which here go back (midnight). ``handle``
    expires what is due first; ``expire``/``next_expiry`` let a timer do it unsolicited.
    The host never expired an order."""
    mono = [1_000]
    s = 1_000_000_000

    def gtt(seconds: int) -> tuple[v50.TagValue, ...]:
        return (v50.TagValue(v50.OptionTag.EXPIRE_TIME, seconds),)

    host = OuchHost50(deadline_clock=lambda: mono[0])
    host.handle(enter50(1, 100, "6", gtt(2)), 86_399 * s)
    host.handle(enter50(2, 200, "6", gtt(1)), 86_399 * s)
    host.handle(enter50(3, 300, "0"), 86_399 * s)
    assert host.next_expiry() == 1_000 + s
    mono[0] += s  # the timestamps of the day went back to 0 at midnight
    assert host.expire(5) == [v50.OrderCanceled(5, 2, 200, "T")]
    assert host.next_expiry() == 1_000 + 2 * s
    # a Replace of order 1 to GTT 3 s: its deadline counts from the replace
    host.handle(v50.ReplaceOrder(1, 4, 100, 1_000_000, "6", "Y", "N", "C4", gtt(3)), 6)
    mono[0] += 2 * s
    assert host.expire(7) == []  # 1's deadline is forgotten
    mono[0] += s
    # handle expires what is due before it answers: the Cancel finds order 4 gone
    assert host.handle(v50.CancelOrder(4, 0), 8) == [v50.OrderCanceled(8, 4, 100, "T")]
    assert set(host.live) == {3} and host.next_expiry() is None

    mono[0] = 50
    host42 = OuchHost42(deadline_clock=lambda: mono[0])
    host42.handle(enter42("A", 100, 2), 86_399 * s)
    host42.handle(enter42("B", 100, v42.TIF_SYSTEM_HOURS), 86_399 * s)
    assert host42.next_expiry() == 50 + 2 * s
    mono[0] += 2 * s - 1
    assert host42.expire(1) == []
    mono[0] += 1
    assert host42.expire(2) == [v42.OrderCanceled(2, "A", 100, "T")]
    assert set(host42.live) == {"B"} and host42.next_expiry() is None


def test_wider_time_in_force_is_only_a_wider_scope_for_certain() -> None:
    """OUCH 5.0: the accepted Time In Force is "equal to or shorter in scope" than the one
    entered. Wider for certain: IOC accepted as anything else, Day or After Hours as GTX,
    a GTT with a longer ExpireTime (any of the ExpireTimes repeated). Narrower, equal, or
    not ordered by the spec (Day and After Hours, Day and GTT): not wider."""
    from tickwire.ouch.v50 import OptionTag, TagValue, wider_time_in_force

    def et(*seconds: int) -> tuple[TagValue, ...]:
        return tuple(TagValue(OptionTag.EXPIRE_TIME, s) for s in seconds)

    wider = [
        ("3", None, "0", ()),
        ("3", None, "5", ()),
        ("3", None, "6", et(5)),
        ("3", None, "E", ()),
        ("0", None, "5", ()),
        ("E", None, "5", ()),
        ("6", 30, "6", et(31)),
        ("6", 30, "6", et(30, 86_399)),
    ]
    for case in wider:
        assert wider_time_in_force(*case) is not None, case
    narrower_or_unordered = [
        ("0", None, "0", ()),
        ("0", None, "3", ()),
        ("5", None, "0", ()),
        ("5", None, "E", ()),
        ("5", None, "3", ()),
        ("0", None, "E", ()),
        ("E", None, "0", ()),
        ("0", None, "6", et(30)),
        ("6", 30, "0", ()),
        ("6", 30, "6", ()),
        ("6", 30, "6", et(30)),
        ("6", 30, "6", et(10)),
        ("6", 30, "5", ()),
    ]
    for case in narrower_or_unordered:
        assert wider_time_in_force(*case) is None, case


def test_a_replace_keeps_what_it_does_not_say() -> None:
    """A client book's ``replace`` given only shares and price keeps the order's Time In
    Force, Display, Intermarket Sweep Eligibility and appendages (4.2: Minimum Quantity)
    from its Enter or last Replace; a new Time In Force drops a kept ExpireTime (it goes
    with GTT only) and keeps the other appendages; what is given wins. Before, the
    defaults were Day (4.2: market hours), visible and no appendages: the host answered
    the GTT's replace by canceling the original (``Z``: GTT without an ExpireTime) and a
    hidden order came back visible."""
    book, host = OrderBook50(), OuchHost50()

    def send(msg: v50.InboundMessage) -> list[v50.OutboundMessage]:
        out = host.handle(msg, now=1)
        for answer in out:
            book.on_message(answer)
        return out

    expire = v50.TagValue(v50.OptionTag.EXPIRE_TIME, 30)
    # another appendage the host takes (a MinQty, which it now refuses: 0x0D)
    other = v50.TagValue(v50.OptionTag.CUSTOMER_TYPE, "N")
    enter = book.enter("B", 300, "AAPL", 1_000_000, time_in_force="6", display="N",
                       appendages=(expire, other))  # fmt: skip
    send(enter)
    rep = book.replace(enter.user_ref_num, 300, 999_900)
    assert (rep.time_in_force, rep.display, rep.appendages) == ("6", "N", (expire, other))
    (answer,) = send(rep)
    assert isinstance(answer, v50.OrderReplaced) and answer.time_in_force == "6"
    day = book.replace(rep.user_ref_num, 300, 999_800, time_in_force="0")
    assert (day.time_in_force, day.display, day.appendages) == ("0", "N", (other,))
    (answer,) = send(day)
    assert isinstance(answer, v50.OrderReplaced) and answer.time_in_force == "0"
    shown = book.replace(day.user_ref_num, 300, 999_700, display="Y", appendages=())
    assert (shown.time_in_force, shown.display, shown.appendages) == ("0", "Y", ())

    book42, host42 = OrderBook42(), OuchHost42()
    e42 = book42.enter("B", 300, "AAPL", 1_000_000, time_in_force=30, display="N",
                       minimum_quantity=100)  # fmt: skip
    # a venue that runs Minimum Quantity accepts it (tickwire's hosts refuse one: Z)
    assert host42.handle(e42, now=1) == [v42.Rejected(1, e42.order_token, "Z")]
    book42.on_message(
        v42.OrderAccepted(1, e42.order_token, "B", 300, "AAPL", 1_000_000, 30, e42.firm, "N",
                          7, e42.capacity, e42.intermarket_sweep_eligibility, 100,
                          e42.cross_type, "L", " ")
    )  # fmt: skip
    r42 = book42.replace(e42.order_token, 300, 999_900)
    assert (r42.time_in_force, r42.display, r42.minimum_quantity) == (30, "N", 100)
    r42b = book42.replace(e42.order_token, 300, 999_900, time_in_force=0)
    assert (r42b.time_in_force, r42b.display, r42b.minimum_quantity) == (0, "N", 100)


def test_a_replace_keeps_the_terms_the_venue_accepted() -> None:
    """An Order Accepted (Replaced) may name a Time In Force "equal to or shorter in scope"
    than entered (OUCH 5.0 section 3): a replace that does not say one keeps what the venue
    holds (``v50.answered_terms``, as the engine's order manager does): a GTX order
    accepted as Day is replaced as Day, a GTT 300 s accepted with 60 s re-sends 60 (its
    other appendages kept), a GTT whose answer repeats no ExpireTime keeps the one sent.
    A wider answer (a Day order accepted as GTX) is not the order's: its replace keeps the
    terms sent. The old book kept the terms sent in every case."""
    book = OrderBook50()

    def accepted(
        enter: v50.EnterOrder, tif: str, appendages: tuple[v50.TagValue, ...] = ()
    ) -> None:
        book.on_message(v50.OrderAccepted(1, enter.user_ref_num, enter.side, enter.quantity,
                                          enter.symbol, enter.price, tif, enter.display, 7,
                                          enter.capacity, "N", enter.cross_type, "L",
                                          enter.cl_ord_id, appendages))  # fmt: skip

    def expire(seconds: int) -> v50.TagValue:
        return v50.TagValue(v50.OptionTag.EXPIRE_TIME, seconds)

    gtx = book.enter("B", 100, "AAPL", 1_000_000, time_in_force="5")
    accepted(gtx, "0")
    assert book.replace(gtx.user_ref_num, 100, 999_900).time_in_force == "0"
    other = v50.TagValue(v50.OptionTag.MIN_QTY, 100)
    gtt = book.enter("B", 100, "AAPL", 1_000_000, time_in_force="6",
                     appendages=(other, expire(300)))  # fmt: skip
    accepted(gtt, "6", (expire(60),))
    rep = book.replace(gtt.user_ref_num, 100, 999_900)
    assert (rep.time_in_force, rep.appendages) == ("6", (other, expire(60)))
    quiet = book.enter("B", 100, "AAPL", 1_000_000, time_in_force="6", appendages=(expire(30),))
    accepted(quiet, "6")  # repeats no ExpireTime: the one sent
    assert book.replace(quiet.user_ref_num, 100, 999_900).appendages == (expire(30),)
    day = book.enter("B", 100, "AAPL", 1_000_000, time_in_force="0")
    accepted(day, "5")  # wider than sent: not the order's
    assert book.replace(day.user_ref_num, 100, 999_900).time_in_force == "0"


def _accept50(enter: v50.EnterOrder, **fields: object) -> v50.OrderAccepted:
    """The Order Accepted echoing ``enter`` as entered, but for ``fields``."""
    acc = v50.OrderAccepted(1, enter.user_ref_num, enter.side, enter.quantity, enter.symbol,
                            enter.price, enter.time_in_force, enter.display, 7, enter.capacity,
                            enter.intermarket_sweep_eligibility, enter.cross_type, "L",
                            enter.cl_ord_id)  # fmt: skip
    return dataclasses.replace(acc, **fields)  # type: ignore[arg-type]


def _accept42(enter: v42.EnterOrder, **fields: object) -> v42.OrderAccepted:
    """The Order Accepted echoing ``enter`` as entered, but for ``fields``."""
    acc = v42.OrderAccepted(1, enter.order_token, enter.buy_sell_indicator, enter.shares,
                            enter.stock, enter.price, enter.time_in_force, enter.firm,
                            enter.display, 7, enter.capacity, enter.intermarket_sweep_eligibility,
                            enter.minimum_quantity, enter.cross_type, "L", " ")  # fmt: skip
    return dataclasses.replace(acc, **fields)  # type: ignore[arg-type]


FIRM = v50.TagValue(v50.OptionTag.FIRM, "ABCD")


@pytest.mark.parametrize(
    "field, value",
    [("capacity", "P"), ("cross_type", "C"), ("intermarket_sweep_eligibility", "Y"),
     ("firm", "ZZZZ")],
)  # fmt: skip
def test_the_books_distrust_an_answer_not_as_entered(field: str, value: str) -> None:
    """OUCH 5.0 section 3: an Order Accepted echoes the Enter; Capacity is "the capacity
    specified on the order", Cross Type "the cross type as entered", and the Intermarket
    Sweep Eligibility and the Firm (5.0: the Firm appendage, repeated; 4.2: the Firm
    field) are the order's too: another value is counted in ``tracker.distrusted`` by both
    client books, by the order manager's rule (``v50.not_as_entered``), once per answer,
    the order live as the tracker applied it. An answer naming them as entered, or a firm
    for an order entered with a blank one (the account's default firm), or a 5.0 answer
    repeating no Firm, is not. Before, the books compared none of these."""
    b50, b42 = OrderBook50(), OrderBook42()
    e50 = b50.enter("B", 100, "AAPL", 1_000_000, capacity="A", appendages=(FIRM,))
    e42 = b42.enter("B", 100, "AAPL", 1_000_000, capacity="A", firm="ABCD")
    b50.on_message(_accept50(e50, appendages=(FIRM,)))  # as entered
    b42.on_message(_accept42(e42))
    blank50, blank42 = b50.enter("B", 100, "AAPL", 1_000_000), b42.enter("B", 100, "AAPL", 1)
    b50.on_message(_accept50(blank50, appendages=(dataclasses.replace(FIRM, value="DFLT"),)))
    b42.on_message(_accept42(blank42, firm="DFLT"))  # the default firm of a blank one
    assert (b50.tracker.distrusted, b42.tracker.distrusted) == (0, 0)
    o50 = b50.enter("B", 100, "AAPL", 1_000_000, capacity="A", appendages=(FIRM,))
    o42 = b42.enter("B", 100, "AAPL", 1_000_000, capacity="A", firm="ABCD")
    if field == "firm":
        a50 = _accept50(o50, appendages=(dataclasses.replace(FIRM, value=value),))
    else:
        a50 = _accept50(o50, **{field: value})
    b50.on_message(a50)
    b42.on_message(_accept42(o42, **{field: value}))
    assert (b50.tracker.distrusted, b42.tracker.distrusted) == (1, 1)
    assert b50.orders[o50.user_ref_num].state == b42.orders[o42.order_token].state == "live"
    # a replacement: its Order Replaced echoes the chain's Enter (a Replace carries none
    # of Capacity, Cross Type, Firm)
    r50 = b50.replace(e50.user_ref_num, 100, 999_900)
    b50.on_message(v50.OrderReplaced(2, e50.user_ref_num, r50.user_ref_num, "B", 100, "AAPL",
                                     999_900, "0", "Y", 8, "O", "N", "N", "L", r50.cl_ord_id))  # fmt: skip
    assert b50.tracker.distrusted == 2, "a replacement of capacity O, entered A"


def test_the_books_count_a_wider_time_in_force() -> None:
    """An answer wider than sent is distrusted and counted in ``tracker.distrusted`` by the
    client books, as the order manager counts it: a Time In Force wider in scope (5.0: a
    Day order accepted as GTX; 4.2: IOC accepted as market hours, 30 s as 60 s), as were
    already more shares or a worse price (pinned: one count per answer, however many
    reasons). The order keeps the terms sent. Before, a wider Time In Force was left out of
    the book's terms silently: ``tracker.distrusted`` stayed 0."""
    b50, b42 = OrderBook50(), OrderBook42()
    day = b50.enter("B", 100, "AAPL", 1_000_000, time_in_force="0")
    b50.on_message(_accept50(day, time_in_force="5"))
    assert b50.tracker.distrusted == 1
    assert b50.replace(day.user_ref_num, 100, 999_900).time_in_force == "0"
    ioc = b42.enter("B", 100, "AAPL", 1_000_000, time_in_force=v42.TIF_IOC)
    b42.on_message(_accept42(ioc, time_in_force=v42.TIF_MARKET_HOURS))
    secs = b42.enter("B", 100, "AAPL", 1_000_000, time_in_force=30)
    b42.on_message(_accept42(secs, time_in_force=60))
    assert b42.tracker.distrusted == 2
    assert b42.replace(secs.order_token, 100, 999_900).time_in_force == 30
    more = b50.enter("B", 100, "AAPL", 1_000_000)
    b50.on_message(_accept50(more, quantity=200, time_in_force="5"))  # two reasons: one count
    worse = b42.enter("B", 100, "AAPL", 1_000_000)
    b42.on_message(_accept42(worse, price=1_100_000))
    assert (b50.tracker.distrusted, b42.tracker.distrusted) == (2, 3)
    assert b50.orders[more.user_ref_num].quantity == 100
    assert b42.orders[worse.order_token].price == 1_000_000


def test_the_4_2_book_keeps_the_time_in_force_the_venue_accepted() -> None:
    """OUCH 4.2 follows 5.0's rule (``v50.answered_terms``, by ``v42.answered_time_in_force``
    on the 5.0 terms of the same scope): an answer "equal to or shorter in scope" is the
    order's and what a later replace that names none keeps: system hours accepted as
    market hours is replaced as market hours, 60 s accepted as 30 s re-sends 30, a pair
    the spec does not order (seconds accepted as market hours) is the venue's word. A wider
    one (market hours as system hours) is not: the replace keeps what was sent. The old
    book kept the Time In Force sent in every case."""
    book = OrderBook42()
    cases = [(v42.TIF_SYSTEM_HOURS, v42.TIF_MARKET_HOURS, v42.TIF_MARKET_HOURS),
             (60, 30, 30), (60, v42.TIF_MARKET_HOURS, v42.TIF_MARKET_HOURS),
             (v42.TIF_MARKET_HOURS, v42.TIF_SYSTEM_HOURS, v42.TIF_MARKET_HOURS)]  # fmt: skip
    for sent, accepted, kept in cases:
        e = book.enter("B", 100, "AAPL", 1_000_000, time_in_force=sent)
        book.on_message(_accept42(e, time_in_force=accepted))
        assert book.replace(e.order_token, 100, 999_900).time_in_force == kept, (sent, accepted)
    assert book.tracker.distrusted == 1, "market hours accepted as system hours"
    assert v42.answered_time_in_force(v42.TIF_IOC, v42.TIF_IOC) == v42.TIF_IOC
    assert isinstance(v42.answered_time_in_force(30, 100_000), str)


def test_the_books_keep_the_display_the_venue_accepted() -> None:
    """The Display the exchange accepted (OUCH 5.0 section 3: "the accepted display on the
    order", which may differ from the entered; 4.2's Display field alike), then an Order
    Priority Update's "new display", is the book's order's ``display``: a visible order
    accepted hidden says ``N``, its replacement the Replaced's, an update's afterwards;
    an answer distrusted for the order's state (a second Accepted) changes nothing. Before,
    neither the books nor the order manager kept it: the order said nothing of it."""
    b50, b42 = OrderBook50(), OrderBook42()
    e50 = b50.enter("B", 100, "AAPL", 1_000_000, display="Y")
    e42 = b42.enter("B", 100, "AAPL", 1_000_000, display="Y")
    assert b50.orders[e50.user_ref_num].display == b42.orders[e42.order_token].display == ""
    b50.on_message(_accept50(e50, display="N"))
    b42.on_message(_accept42(e42, display="N"))
    assert b50.orders[e50.user_ref_num].display == b42.orders[e42.order_token].display == "N"
    b50.on_message(_accept50(e50, display="A"))  # a second Accepted: changes nothing
    assert b50.orders[e50.user_ref_num].display == "N" and b50.tracker.distrusted == 1
    r50 = b50.replace(e50.user_ref_num, 100, 999_900)
    b50.on_message(v50.OrderReplaced(2, e50.user_ref_num, r50.user_ref_num, "B", 100, "AAPL",
                                     999_900, "0", "A", 8, "A", "N", "N", "L", r50.cl_ord_id))  # fmt: skip
    assert b50.orders[r50.user_ref_num].display == "A"
    b50.on_message(v50.OrderPriorityUpdate(3, r50.user_ref_num, 999_900, "Y", 9))
    b42.on_message(v42.OrderPriorityUpdate(3, e42.order_token, 1_000_000, "Y", 9))
    assert b50.orders[r50.user_ref_num].display == b42.orders[e42.order_token].display == "Y"


def test_a_replace_keeps_the_display_the_venue_accepted() -> None:
    """A replace that gives no Display re-sends the one the venue holds: the Order
    Accepted's (Replaced's) Display ("the accepted display on the order", OUCH 5.0 section
    3; 4.2 alike), then an Order Priority Update's "new display", when a Replace may carry
    it (``Y``, ``N``, ``A``: ``v50.ENTER_DISPLAYS``). A conformant ``Z`` (an answer's only,
    refused 0x03 in a Replace, whose original the venue would cancel) or a distrusted
    answer's Display leaves the one sent. Before, the book re-sent the Display it had sent:
    a visible order the venue accepted hidden came back visible at each replace."""
    b50, b42 = OrderBook50(), OrderBook42()
    e50 = b50.enter("B", 100, "AAPL", 1_000_000, display="Y")
    e42 = b42.enter("B", 100, "AAPL", 1_000_000, display="Y")
    b50.on_message(_accept50(e50, display="N"))
    b42.on_message(_accept42(e42, display="N"))
    r50 = b50.replace(e50.user_ref_num, 100, 999_900)
    r42 = b42.replace(e42.order_token, 100, 999_900)
    assert (r50.display, r42.display) == ("N", "N")
    # the replacement answered attributable, then a Priority Update says visible
    b50.on_message(v50.OrderReplaced(2, e50.user_ref_num, r50.user_ref_num, "B", 100, "AAPL",
                                     999_900, "0", "A", 8, "A", "N", "N", "L", r50.cl_ord_id))  # fmt: skip
    assert b50.replace(r50.user_ref_num, 100, 999_800).display == "A"
    b50.on_message(v50.OrderPriorityUpdate(3, r50.user_ref_num, 999_900, "Y", 9))
    assert b50.replace(r50.user_ref_num, 100, 999_800).display == "Y"
    assert b50.replace(r50.user_ref_num, 100, 999_800, display="N").display == "N"  # given
    # conformant (an answer's only) and a distrusted answer: the Display sent
    z = b50.enter("B", 100, "AAPL", 1_000_000, display="N")
    b50.on_message(_accept50(z, display="Z"))
    assert b50.replace(z.user_ref_num, 100, 999_900).display == "N"
    bad = b42.enter("B", 100, "AAPL", 1_000_000, display="Y", capacity="A")
    b42.on_message(_accept42(bad, display="N", capacity="P"))
    assert b42.tracker.distrusted == 1
    assert b42.replace(bad.order_token, 100, 999_900).display == "Y"


def test_the_books_distrust_an_answer_of_another_minimum_quantity() -> None:
    """An Order Accepted (Replaced) echoes the Minimum Quantity as entered (OUCH 4.2's
    field; 5.0's MinQty appendage, when the answer repeats one: ``v50.answer_min_qty``):
    OUCH lists it among no accepted values that may differ, so another (a minimum of 100
    on an order sent with none) is counted in ``tracker.distrusted`` by both books, by the
    one rule ``v50.not_as_entered``; the Enter's (the Replace's) own value, or a 5.0 answer
    repeating none, is not. Before, neither book compared it."""
    b50, b42 = OrderBook50(), OrderBook42()
    mq = v50.TagValue(v50.OptionTag.MIN_QTY, 100)
    same50 = b50.enter("B", 100, "AAPL", 1_000_000, appendages=(mq,))
    b50.on_message(_accept50(same50, appendages=(mq,)))
    quiet50 = b50.enter("B", 100, "AAPL", 1_000_000, appendages=(mq,))
    b50.on_message(_accept50(quiet50))  # repeats none: nothing to compare
    none50 = b50.enter("B", 100, "AAPL", 1_000_000)
    b50.on_message(_accept50(none50, appendages=(dataclasses.replace(mq, value=0),)))
    same42 = b42.enter("B", 100, "AAPL", 1_000_000, minimum_quantity=100)
    b42.on_message(_accept42(same42))
    assert (b50.tracker.distrusted, b42.tracker.distrusted) == (0, 0)
    o50 = b50.enter("B", 100, "AAPL", 1_000_000)
    o42 = b42.enter("B", 100, "AAPL", 1_000_000)
    b50.on_message(_accept50(o50, appendages=(mq,)))
    b42.on_message(_accept42(o42, minimum_quantity=100))
    assert (b50.tracker.distrusted, b42.tracker.distrusted) == (1, 1)
    # a replacement is compared with its Replace's Minimum Quantity
    r42 = b42.replace(same42.order_token, 100, 999_900, minimum_quantity=200)
    b42.on_message(v42.OrderReplaced(2, r42.replacement_order_token, "B", 100, "AAPL", 999_900,
                                     r42.time_in_force, "", "Y", 8, "A", "N", 100, "N", "L",
                                     same42.order_token, " "))  # fmt: skip
    assert b42.tracker.distrusted == 2, "MinQty 100 for a replace of 200"


def test_a_4_2_time_in_force_of_a_day_or_more_is_judged_as_seconds() -> None:
    """OUCH 4.2's Time In Force is a number of seconds but for 0 (IOC), 99998 (market
    hours) and 99999 (system hours): any other value, a day (86,400) or more too, is
    seconds (``v42.lifetime``, as the exchange expires it). An answer is wider only as
    5.0's rule says (``v50.wider_time_in_force`` on the terms of the same scope): more
    seconds than sent, or anything for IOC, or system hours for market hours; fewer
    seconds, or seconds for system hours (a pair the spec does not order), are the
    venue's word. 5.0's ExpireTime limit (below a day) is 5.0's, not 4.2's. Before, a
    value of a day or more was distrusted as "out of range" whenever it was not the one
    sent: 90,000 s accepted for 95,000 s sent, or for system hours."""
    taken = [(95_000, 90_000), (v42.TIF_SYSTEM_HOURS, 90_000), (v42.TIF_SYSTEM_HOURS, 86_400),
             (100_000, 86_400), (90_000, 30), (v42.TIF_MARKET_HOURS, 100_000)]  # fmt: skip
    for sent, accepted in taken:
        assert v42.answered_time_in_force(sent, accepted) == accepted, (sent, accepted)
    wider = [(30, 86_400), (86_400, 90_000), (v42.TIF_IOC, 90_000),
             (v42.TIF_MARKET_HOURS, v42.TIF_SYSTEM_HOURS)]  # fmt: skip
    for sent, accepted in wider:
        assert isinstance(v42.answered_time_in_force(sent, accepted), str), (sent, accepted)
    book = OrderBook42()
    e = book.enter("B", 100, "AAPL", 1_000_000, time_in_force=95_000)
    book.on_message(_accept42(e, time_in_force=90_000))
    assert book.tracker.distrusted == 0
    assert book.replace(e.order_token, 100, 999_900).time_in_force == 90_000
