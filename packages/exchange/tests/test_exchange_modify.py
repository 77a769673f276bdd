"""OUCH Modify Order (5.0 section 2.4, 4.2's Modify Order) at the simulated exchange.

Sans-I/O, as ``test_exchange_hostile.py``: a real MatchingEngine, real accounts, every
message the engine publishes replayed into a real BookManager, and the client side a real
:class:`~tickwire.ouch.orders.OrderBook50` / ``OrderBook42`` fed the account's answers.
The rule is :func:`tickwire.ouch.orders.modify_refusal`, shared with ``OuchHost50``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tickwire.exchange.accounts import Account42, Account50
from tickwire.itch import OrderCancel, decode
from tickwire.ouch import encode as ouch_encode
from tickwire.ouch import v42, v50
from tickwire.ouch.orders import OrderBook42, OrderBook50, OuchHost50

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
from _exchange_venue import Venue  # noqa: E402

PX = 1_400_000


def _answer(book: OrderBook50 | OrderBook42, out: list[object]) -> None:
    for m in out:
        ouch_encode(m)  # type: ignore[arg-type]  # what the server would send
        book.on_message(m)  # type: ignore[arg-type]


def test_ouch50_a_modify_reduces_the_order_keeps_priority_and_the_client_tracks_it() -> None:
    v = Venue(Account50)
    client = OrderBook50()
    _answer(client, v.acct.handle(client.enter("B", 100, "AAPL", PX)))
    _answer(client, v.acct.handle(client.enter("B", 100, "AAPL", PX)))  # behind it
    before = len(v.published)
    out = v.acct.handle(client.modify(1, "B", 40))
    assert out == [v50.OrderModified(1, 1, "B", 40)]
    _answer(client, out)
    # the feed shows a partial cancel of 60; the book agrees with the engine
    feed = [decode(raw) for raw in v.published[before:]]
    assert [type(m) for m in feed] == [OrderCancel]
    assert feed[0].cancelled_shares == 60  # type: ignore[attr-defined]
    v.equal()
    assert (v.acct.records[1].open, v.acct.ignored) == (40, 0)
    # priority kept: a sell of 40 fills order 1, not order 2
    v.engine.submit("AAPL", "S", 40, PX)
    assert [(m.user_ref_num, m.quantity) for m in v.sent] == [(1, 40)]  # type: ignore[attr-defined]
    _answer(client, v.sent)
    # the client tracked it all, without distrust, and has nothing left in flight
    assert client.tracker.distrusted == 0
    assert client.pending() == []
    assert client.orders[2].quantity == 100
    assert v.acct.ledger.positions == {"AAPL": 40}


def test_ouch50_a_modify_among_the_sell_sides_changes_the_side_and_nothing_on_the_feed() -> None:
    v = Venue(Account50)
    client = OrderBook50()
    _answer(client, v.acct.handle(client.enter("S", 100, "AAPL", PX)))
    before = len(v.published)
    out = v.acct.handle(client.modify(1, "T", 100))
    assert out == [v50.OrderModified(1, 1, "T", 100)]
    _answer(client, out)
    assert len(v.published) == before  # ITCH shows S for all three: nothing changes
    assert v.acct.records[1].side == "T"
    assert client.tracker.distrusted == 0 and client.pending() == []


def test_ouch50_a_modify_that_is_not_allowed_is_rejected_and_the_order_stays() -> None:
    v = Venue(Account50)
    client = OrderBook50()
    _answer(client, v.acct.handle(client.enter("B", 100, "AAPL", PX)))
    state = v.state()
    out = v.acct.handle(client.modify(1, "S", 100))  # a buy cannot become a sell
    assert [(type(m), m.reason) for m in out] == [(v50.Rejected, v50.RejectReason.INVALID_SIDE)]  # type: ignore[attr-defined]
    _answer(client, out)
    # more shares: "will be ignored" (OUCH 5.0 section 2.4): no answer, nothing changes
    assert v.acct.handle(v50.ModifyOrder(1, "B", 101)) == []
    assert v.state() == state
    assert v.acct.records[1].open == 100
    assert client.tracker.distrusted == 0 and client.pending() == []
    assert client.orders[1].quantity == 100


def test_ouch50_a_modify_to_zero_cancels_the_rest_and_ends_the_order() -> None:
    """ "Entering a zero here will cancel any remaining open shares on this order" (OUCH
    5.0 section 2.4): an Order Modified of 0 shares, the delete on the feed, and the
    client's order ends (the tracker ends an order modified to nothing)."""
    v = Venue(Account50)
    client = OrderBook50()
    _answer(client, v.acct.handle(client.enter("B", 100, "AAPL", PX)))
    out = v.acct.handle(client.modify(1, "B", 0))
    assert out == [v50.OrderModified(1, 1, "B", 0)]
    _answer(client, out)
    v.equal()
    assert v.acct.records[1].open == 0 and v.acct.records[1].state != "live"
    assert client.orders[1].state == "dead" and client.orders[1].quantity == 0
    assert client.tracker.distrusted == 0 and client.pending() == []


def test_ouch50_a_modify_of_an_order_no_longer_live_is_ignored() -> None:
    v = Venue(Account50)
    v.acct.handle(v50.EnterOrder(1, "B", 100, "AAPL", PX, "0", "Y", "P", "N", "N", "X"))
    v.acct.handle(v50.CancelOrder(1, 0))
    state = v.state()
    assert v.acct.handle(v50.ModifyOrder(1, "B", 50)) == []
    assert v.acct.handle(v50.ModifyOrder(9, "B", 50)) == []  # never entered
    assert v.state() == state
    assert v.acct.ignored == 2


def test_ouch50_the_exchange_and_the_ouch_host_answer_a_modify_alike() -> None:
    v = Venue(Account50)
    host = OuchHost50()
    enter = v50.EnterOrder(1, "S", 100, "AAPL", PX, "0", "Y", "P", "N", "N", "X")
    v.acct.handle(enter)
    host.handle(enter, 1)
    for req in [
        v50.ModifyOrder(1, "B", 50),
        v50.ModifyOrder(1, "E", 150),
        v50.ModifyOrder(1, "E", 50),
        v50.ModifyOrder(1, "S", 50),
    ]:
        assert v.acct.handle(req) == host.handle(req, 1), req


def test_ouch42_a_modify_reduces_or_is_rejected_and_the_client_tracks_it() -> None:
    v = Venue(Account42)
    client = OrderBook42()
    enter = client.enter("S", 100, "AAPL", PX)
    token = enter.order_token
    _answer(client, v.acct.handle(enter))
    before = len(v.published)
    out = v.acct.handle(client.modify(token, "E", 30))
    assert out == [v42.OrderModified(1, token, "E", 30)]
    _answer(client, out)
    feed = [decode(raw) for raw in v.published[before:]]
    assert [type(m) for m in feed] == [OrderCancel]
    v.equal()
    out = v.acct.handle(client.modify(token, "B", 30))
    assert out == [v42.Rejected(1, token, "Z")]
    _answer(client, out)
    assert v.acct.records[token].open == 30
    assert client.tracker.distrusted == 0 and client.pending() == []
    assert client.orders[token].quantity == 30


def test_ouch50_a_rejected_modify_of_a_replacement_carries_the_replacements_cl_ord_id() -> None:
    """A Replace Order Request carries the replacement's own ClOrdID: a Rejected answering
    a Modify of the replacement (a buy cannot become a sell) names it, as the Order
    Replaced did. The exchange recorded ClOrdIDs of Enter Orders only, so the Rejected
    carried an empty one."""
    v = Venue(Account50)
    v.acct.handle(v50.EnterOrder(1, "B", 100, "AAPL", PX, "0", "Y", "P", "N", "N", "ENTER1"))
    [replaced] = v.acct.handle(v50.ReplaceOrder(1, 2, 100, PX - 100, "0", "Y", "N", "REPL2"))
    assert isinstance(replaced, v50.OrderReplaced) and replaced.cl_ord_id == "REPL2"
    out = v.acct.handle(v50.ModifyOrder(2, "S", 100))
    assert out == [v50.Rejected(1, 2, v50.RejectReason.INVALID_SIDE, "REPL2")]
    assert v.acct.records[2].open == 100 and v.acct.records[2].state == "live"
