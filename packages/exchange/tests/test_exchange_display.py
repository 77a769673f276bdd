"""OUCH Display at the simulated exchange: a hidden order (``N``) is never on the feed.

ITCH 5.0: an Add Order is "added to the displayable book" (4.3); "no Add Order Message is
generated when a non-displayed order is initially received", and each execution of one is
a Trade (``P``, 4.5.1: Order Reference Number 0, Buy/Sell Indicator ``B`` whatever the
resting side). Sans-I/O, as ``test_exchange_modify.py``: a real MatchingEngine and
accounts, every published message replayed into a real BookManager (``Venue.equal``), the
client a real ``OrderBook50`` / ``OrderBook42`` that must distrust nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tickwire.exchange import FlowReplayer, MatchingError
from tickwire.exchange.accounts import Account42, Account50
from tickwire.itch import AddOrder, AddOrderMPID, OrderDelete, OrderExecuted, Trade, decode
from tickwire.ouch import encode as ouch_encode
from tickwire.ouch import v50
from tickwire.ouch.orders import OrderBook42, OrderBook50

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
from _exchange_venue import Venue  # noqa: E402

PX = 1_400_000


def _answer(book: OrderBook50 | OrderBook42, out: list[object]) -> None:
    for m in out:
        ouch_encode(m)  # type: ignore[arg-type]  # what the server would send
        book.on_message(m)  # type: ignore[arg-type]
    assert book.tracker.distrusted == 0


def _feed(v: Venue, since: int) -> list[object]:
    return [decode(raw) for raw in v.published[since:]]


def test_ouch50_a_hidden_order_is_never_on_the_feed_and_trades_as_p() -> None:
    """A hidden buy rests unseen; a sell trading with it prints a Trade (P), reference 0,
    side B, its match number the Order Executed's; the rest canceled shows nothing.
    Before: an Add Order, an Order Executed and an Order Delete showed it."""
    v = Venue(Account50)
    client = OrderBook50()
    before = len(v.published)
    _answer(client, v.acct.handle(client.enter("B", 100, "AAPL", PX, display="N")))
    assert _feed(v, before) == [] and v.engine.l2("AAPL") == ([], [])
    v.equal()
    before = len(v.published)
    v.engine.submit("AAPL", "S", 30, PX - 100, ioc=True)  # someone's sell
    (fill,) = v.sent
    assert isinstance(fill, v50.OrderExecuted) and fill.liquidity_flag == "J"
    _answer(client, v.sent)
    assert _feed(v, before) == [
        Trade(v.engine.by_locate[1].locate, 0, 1, 0, "B", 30, "AAPL", PX, fill.match_number)
    ]
    v.equal()
    before = len(v.published)
    out = v.acct.handle(client.cancel(1))
    assert [(m.quantity, m.reason) for m in out] == [(70, "U")]  # type: ignore[attr-defined]
    _answer(client, out)
    assert _feed(v, before) == [] and list(v.engine.resting_orders()) == []
    v.equal()


def test_ouch42_a_hidden_order_is_never_on_the_feed_and_trades_as_p() -> None:
    v = Venue(Account42)
    client = OrderBook42()
    before = len(v.published)
    _answer(client, v.acct.handle(client.enter("S", 100, "AAPL", PX, display="N")))
    v.engine.submit("AAPL", "B", 100, PX)  # takes it all
    _answer(client, v.sent)
    feed = _feed(v, before)
    assert [type(m) for m in feed] == [Trade]
    assert (feed[0].buy_sell_indicator, feed[0].shares) == ("B", 100)  # type: ignore[attr-defined]
    assert v.acct.records[next(iter(v.acct.records))].state == "done"
    v.equal()


def test_a_replace_that_hides_or_shows_an_order_says_so_on_the_feed() -> None:
    """Visible to hidden: the original's Order Delete; hidden to visible: the
    replacement's Add Order; hidden to hidden: nothing. Before: an Order Replace each
    time (and the hidden order on the feed's book)."""
    v = Venue(Account50)
    client = OrderBook50()
    _answer(client, v.acct.handle(client.enter("B", 100, "AAPL", PX)))
    kinds = []
    for urn, display in ((1, "N"), (2, "N"), (3, "Y")):
        before = len(v.published)
        _answer(client, v.acct.handle(client.replace(urn, 100, PX - 100 * urn, display=display)))
        kinds.append([type(m) for m in _feed(v, before)])
        v.equal()
    assert kinds == [[OrderDelete], [], [AddOrder]]
    ((bid,), asks) = v.engine.l2("AAPL")
    assert (bid.price, bid.shares, asks) == (PX - 300, 100, [])


def test_an_order_sweeping_levels_with_a_hidden_one_prints_e_p_e() -> None:
    """A buy crossing a visible ask, our hidden ask and another visible ask: Order
    Executed, Trade, Order Executed, in price order; the books agree after each."""
    v = Venue(Account50)
    client = OrderBook50()
    v.engine.submit("AAPL", "S", 100, PX)
    _answer(client, v.acct.handle(client.enter("S", 100, "AAPL", PX + 100, display="N")))
    v.engine.submit("AAPL", "S", 100, PX + 200)
    v.equal()
    before = len(v.published)
    v.engine.submit("AAPL", "B", 250, PX + 200)
    _answer(client, v.sent)
    feed = _feed(v, before)
    shares = [m.executed_shares if isinstance(m, OrderExecuted) else m.shares for m in feed]  # type: ignore[attr-defined]
    assert list(zip(map(type, feed), shares, strict=True)) == [
        (OrderExecuted, 100),
        (Trade, 100),
        (OrderExecuted, 50),
    ]
    assert feed[1].price == PX + 100  # type: ignore[attr-defined]
    v.equal()
    assert client.orders[1].executed == 100


def test_an_attributable_order_is_an_add_order_with_mpid() -> None:
    """Display A: Add Order with MPID Attribution (F) naming the order's Firm (5.0: its
    Firm appendage, else NSDQ; 4.2: its Firm); a Replace dropping or taking the
    attribution is the original's Order Delete and an Add Order of the new kind, one
    keeping it an Order Replace. Before: an unattributed Add Order (A) every time."""
    v = Venue(Account50)
    client = OrderBook50()
    before = len(v.published)
    firm = (v50.TagValue(v50.OptionTag.FIRM, "ABCD"),)
    _answer(client, v.acct.handle(client.enter("B", 100, "AAPL", PX, display="A")))
    _answer(client, v.acct.handle(client.enter("B", 100, "AAPL", PX, display="A", appendages=firm)))
    feed = _feed(v, before)
    assert [(type(m), m.attribution) for m in feed] == [  # type: ignore[attr-defined]
        (AddOrderMPID, "NSDQ"),
        (AddOrderMPID, "ABCD"),
    ]
    kinds = []
    for urn, display in ((2, "A"), (3, "Y"), (4, "A")):
        before = len(v.published)
        _answer(client, v.acct.handle(client.replace(urn, 100, PX - 100, display=display)))
        kinds.append([(type(m).__name__, getattr(m, "attribution", "")) for m in _feed(v, before)])
        v.equal()
    assert kinds == [
        [("OrderReplace", "")],
        [("OrderDelete", ""), ("AddOrder", "")],
        [("OrderDelete", ""), ("AddOrderMPID", "ABCD")],  # the chain's Firm
    ]
    v = Venue(Account42)
    before = len(v.published)
    v.acct.handle(OrderBook42().enter("S", 100, "AAPL", PX, firm="WXYZ", display="A"))
    assert [(type(m), m.attribution) for m in _feed(v, before)] == [(AddOrderMPID, "WXYZ")]  # type: ignore[attr-defined]


def test_a_hidden_orders_passive_fill_is_flagged_j_and_ends_the_order() -> None:
    """OUCH 5.0 Appendix E: ``J``, "Non-displayed adding liquidity", for the resting
    hidden order's Order Executed (4.2 alike), ``R`` for the incoming one's; a hidden
    order filled in full is done. Before: ``A``, as for a displayed order."""
    for account, book in ((Account50, OrderBook50), (Account42, OrderBook42)):
        v = Venue(account)
        client = book()
        _answer(client, v.acct.handle(client.enter("B", 100, "AAPL", PX, display="N")))
        out = v.acct.handle(client.enter("S", 100, "AAPL", PX))  # trades with it
        _answer(client, out)
        assert [m.liquidity_flag for m in out[1:]] == ["J", "R"]  # type: ignore[attr-defined]
        maker = next(iter(v.acct.records.values()))
        assert (maker.state, maker.open, maker.executed) == ("done", 0, 100)
        assert client.pending() == [] and not any(o.is_open for o in client.orders.values())


def test_seed_flow_keeps_its_attribution() -> None:
    """A seed's Add Order with MPID is republished as one with the same MPID (and a
    plain Add Order as plain). Before: both as plain Add Orders."""
    v = Venue(Account50)
    replayer = FlowReplayer(v.engine)
    before = len(v.published)
    replayer.apply(AddOrderMPID(1, 0, 1, 7, "B", 100, "AAPL", PX, "GSCO"))
    replayer.apply(AddOrder(1, 0, 1, 8, "S", 100, "AAPL", PX + 100))
    assert [(type(m), getattr(m, "attribution", "")) for m in _feed(v, before)] == [
        (AddOrderMPID, "GSCO"),
        (AddOrder, ""),
    ]
    v.equal()


def test_an_attribution_the_feed_cannot_carry_is_refused_before_anything_trades() -> None:
    """An MPID longer than ITCH's Alpha(4) (a direct caller's) is a MatchingError with
    the book, the reference numbers and the feed untouched, as a bad size or price."""
    v = Venue(Account50)
    v.engine.submit("AAPL", "S", 100, PX)
    ref, _, _ = v.engine.submit("AAPL", "B", 100, PX - 100)
    before = v.state()
    for call in (
        lambda: v.engine.submit("AAPL", "B", 100, PX, attribution="TOOLONG"),
        lambda: v.engine.replace(ref, 100, PX, attribution="TOOLONG"),
    ):
        try:
            call()
        except MatchingError:
            pass
        else:
            raise AssertionError("accepted")
        assert v.state() == before


def _executed(client: OrderBook50) -> dict[int, int]:
    return {urn: o.executed for urn, o in client.orders.items()}


def test_displayed_orders_at_a_price_trade_before_hidden_ones_whatever_their_time() -> None:
    """NASDAQ matches by price, then display, then time: our hidden bid (first), someone's
    displayed bid, our second hidden bid, all at one price; a sell of 150 takes the
    displayed 100 (Order Executed), then 50 of the older hidden bid (Trade), none of the
    newer. Before: time alone, so the hidden bid that came first traded 100 before the
    displayed one (a Trade, then an Order Executed of 50)."""
    v = Venue(Account50)
    client = OrderBook50()
    _answer(client, v.acct.handle(client.enter("B", 100, "AAPL", PX, display="N")))
    v.engine.submit("AAPL", "B", 100, PX)  # someone's, displayed, later
    _answer(client, v.acct.handle(client.enter("B", 100, "AAPL", PX, display="N")))
    before = len(v.published)
    v.sent.clear()
    v.engine.submit("AAPL", "S", 150, PX, ioc=True)
    _answer(client, v.sent)
    feed = _feed(v, before)
    assert [(type(m), getattr(m, "executed_shares", getattr(m, "shares", 0))) for m in feed] == [
        (OrderExecuted, 100),
        (Trade, 50),
    ]
    assert _executed(client) == {1: 50, 2: 0}
    v.equal()
    before = len(v.published)
    v.sent.clear()
    v.engine.submit("AAPL", "S", 100, PX, ioc=True)  # hidden among hidden: by time
    _answer(client, v.sent)
    assert [type(m) for m in _feed(v, before)] == [Trade, Trade]
    assert _executed(client) == {1: 100, 2: 50}
    v.equal()


def test_a_replace_that_changes_display_moves_the_order_to_its_new_place() -> None:
    """A Replace gives the order a new timestamp (OUCH 5.0 2.2) and its new Display: our
    displayed bid replaced hidden goes behind our older hidden bid; that one replaced
    displayed goes ahead of both hidden ones, behind someone's displayed bid that came
    before the replace. A sell of 250: someone's 100, our now displayed 100, then 50 of
    our now hidden one. Before: time alone, the now hidden bid traded before the now
    displayed one."""
    v = Venue(Account50)
    client = OrderBook50()
    _answer(client, v.acct.handle(client.enter("B", 100, "AAPL", PX)))  # 1: displayed
    _answer(client, v.acct.handle(client.enter("B", 100, "AAPL", PX, display="N")))  # 2
    v.engine.submit("AAPL", "B", 100, PX)  # someone's, displayed
    _answer(client, v.acct.handle(client.replace(1, 100, PX, display="N")))  # 3: hidden
    _answer(client, v.acct.handle(client.replace(2, 100, PX, display="Y")))  # 4: displayed
    v.equal()
    before = len(v.published)
    v.sent.clear()
    v.engine.submit("AAPL", "S", 250, PX, ioc=True)
    _answer(client, v.sent)
    assert [type(m) for m in _feed(v, before)] == [OrderExecuted, OrderExecuted, Trade]
    assert {urn: n for urn, n in _executed(client).items() if urn > 2} == {3: 50, 4: 100}
    v.equal()
