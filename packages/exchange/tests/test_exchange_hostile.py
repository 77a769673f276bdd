"""A hostile or careless OUCH client against the simulated exchange's accounts.

Sans-I/O, as ``test_exchange_prices.py``: a real MatchingEngine, real accounts, every
message published by the engine encoded and replayed into a real BookManager, and every
answer encoded as the server would send it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from tickwire.exchange import Exchange, ExchangeConfig
from tickwire.exchange.accounts import Account42, Account50
from tickwire.moldudp64.aio import run
from tickwire.ouch import encode as ouch_encode
from tickwire.ouch import v42, v50

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
from _exchange_venue import Venue as _Venue  # noqa: E402
from _exchange_venue import enter50 as _enter50  # noqa: E402


def _enter42(token: str, price: int, qty: int = 100) -> v42.EnterOrder:
    return v42.EnterOrder(token, "B", qty, "AAPL", price, 99999, "TW", "Y", "P", "N", 0, "N", " ")


# --- a replace that crosses the book -------------------------------------------------


def test_ouch50_a_replace_that_crosses_reports_its_executions() -> None:
    """A Replace to a price that crosses trades at once (a delete of the original, then
    the replacement matched as a new order): its executions belong to the replacement's
    UserRefNum and must reach the client and the ledger, after the Order Replaced."""
    v = _Venue(Account50)
    v.engine.submit("AAPL", "S", 60, 1_500_000)  # someone else's offer
    v.acct.handle(_enter50(1, 1_400_000))
    out = v.acct.handle(v50.ReplaceOrder(1, 2, 100, 1_500_000, "0", "Y", "N", "X2"))
    assert [type(m) for m in out] == [v50.OrderReplaced, v50.OrderExecuted]
    rep, ex = out
    assert isinstance(rep, v50.OrderReplaced) and isinstance(ex, v50.OrderExecuted)
    # as an Order Accepted would: the open shares before the fills, then the fills
    assert (rep.user_ref_num, rep.quantity, rep.order_state) == (2, 100, "L")
    assert (ex.user_ref_num, ex.quantity, ex.price, ex.liquidity_flag) == (2, 60, 1_500_000, "R")
    assert v.acct.ledger.positions == {"AAPL": 60}
    rec = v.acct.records[2]
    assert (rec.executed, rec.open, rec.state) == (60, 40, "live")
    # the rest still trades, as the replacement, and is reported
    v.engine.submit("AAPL", "S", 40, 1_500_000)
    assert [(type(m), m.user_ref_num) for m in v.sent] == [(v50.OrderExecuted, 2)]  # type: ignore[attr-defined]
    assert v.acct.ledger.positions == {"AAPL": 100}
    assert v.acct.records[2].state == "done"
    for m in [*out, *v.sent]:
        ouch_encode(m)  # type: ignore[arg-type]
    v.equal()


def test_ouch42_a_replace_that_crosses_reports_its_executions() -> None:
    v = _Venue(Account42)
    v.engine.submit("AAPL", "S", 100, 1_500_000)
    v.acct.handle(_enter42("OLD", 1_400_000))
    out = v.acct.handle(v42.ReplaceOrder("OLD", "NEW", 100, 1_500_000, 99999, "Y", "N", 0))
    assert [type(m) for m in out] == [v42.OrderReplaced, v42.OrderExecuted]
    rep, ex = out
    assert isinstance(rep, v42.OrderReplaced) and isinstance(ex, v42.OrderExecuted)
    assert (rep.replacement_order_token, rep.shares, rep.order_state) == ("NEW", 100, "L")
    assert (ex.order_token, ex.executed_shares) == ("NEW", 100)
    assert v.acct.ledger.positions == {"AAPL": 100}
    assert v.acct.records["NEW"].state == "done"
    v.equal()


@pytest.mark.parametrize("crossing", [False, True], ids=["not-crossing", "crossing"])
def test_ouch42_a_replace_to_ioc_never_rests(crossing: bool) -> None:
    """A 4.2 Replace to Time In Force 0 (IOC) executes what it crosses and its rest is
    canceled, reason ``I``, after its Order Replaced (and Order Executed), as a 4.2 IOC
    Enter's and a 5.0 IOC Replace's: nothing rests. It rested as if good for the day (the
    5.0 port's fix, found by ``tests/test_exchange_venue_parity_property.py``, had left
    4.2's ``_replace`` out)."""
    v = _Venue(Account42)
    v.engine.submit("AAPL", "S", 60, 1_500_000)  # someone else's offer
    v.acct.handle(_enter42("OLD", 1_400_000, 150))
    price = 1_500_000 if crossing else 1_400_100
    out = v.acct.handle(v42.ReplaceOrder("OLD", "NEW", 150, price, v42.TIF_IOC, "Y", "N", 0))
    filled = 60 if crossing else 0
    assert [type(m) for m in out] == [v42.OrderReplaced] + [v42.OrderExecuted] * bool(filled) + [
        v42.OrderCanceled
    ]
    canceled = out[-1]
    assert isinstance(canceled, v42.OrderCanceled)
    assert (canceled.order_token, canceled.decrement_shares, canceled.reason) == (
        "NEW",
        150 - filled,
        "I",
    )
    assert v.acct.records["NEW"].state == "done" and v.acct.records["NEW"].open == 0
    assert [o.owner for o in v.engine.resting_orders()] == [None] * (not crossing)  # the offer
    for m in out:
        ouch_encode(m)  # type: ignore[arg-type]
    v.equal()


@pytest.mark.parametrize("dead", [False, True], ids=["live", "dead"])
def test_ouch42_a_replace_keeps_the_originals_firm_capacity_and_cross_type(dead: bool) -> None:
    """A 4.2 Replace Order carries no Firm, Capacity or Cross Type (nor does it change
    the side or stock), so its Order Replaced says the original's, as its Order Accepted
    did, and a chain keeps the first Enter's, a dead replacement's (state ``D``) too, as
    ``OuchHost42`` answers. The exchange said Firm empty, Capacity ``A``, Cross Type
    ``N`` whatever the Enter said. The Cross Type kept is ``N``: an Enter of any other
    is Rejected (``test_exchange_cross_type.py``; this test entered ``C`` until then,
    and the exchange traded it as a continuous order)."""
    v = _Venue(Account42)
    v.engine.submit("AAPL", "S", 100, 1_500_000)  # someone else's offer
    price = 1_500_000 if dead else 1_400_000  # dead: buy 150 takes the 100 offered
    enter = v42.EnterOrder("OLD", "B", 150, "AAPL", price, 99999, "FIRM", "Y", "R", "N", 0, "N", " ")  # fmt: skip
    acc = v.acct.handle(enter)[0]
    assert isinstance(acc, v42.OrderAccepted)
    assert (acc.firm, acc.capacity, acc.cross_type) == ("FIRM", "R", "N")
    [rep] = v.acct.handle(v42.ReplaceOrder("OLD", "NEW", 100, 1_390_000, 99999, "Y", "N", 0))
    assert isinstance(rep, v42.OrderReplaced)
    assert (rep.firm, rep.capacity, rep.cross_type) == ("FIRM", "R", "N")
    assert (rep.order_state, rep.bbo_weight_indicator) == ("D" if dead else "L", acc.bbo_weight_indicator)  # fmt: skip
    if not dead:  # the replacement's replacement: still the Enter's
        [rep2] = v.acct.handle(v42.ReplaceOrder("NEW", "NEWER", 100, 1_380_000, 99999, "Y", "N", 0))  # fmt: skip
        assert isinstance(rep2, v42.OrderReplaced)
        assert (rep2.firm, rep2.capacity, rep2.cross_type) == ("FIRM", "R", "N")
    for m in v.sent:
        ouch_encode(m)  # type: ignore[arg-type]
    ouch_encode(rep)
    v.equal()


# --- UserRefNums used up ---------------------------------------------------------------


def test_account_query_after_the_last_user_ref_num_is_answered() -> None:
    """After an order at UserRefNum 2**32 - 1 no UserRefNum is left: the Account Query
    Response says 0 (never a valid UserRefNum) and encodes; ``last + 1`` did not fit the
    4-byte field, so every query raised out of the server's handler, unanswered."""
    v = _Venue(Account50)
    v.acct.handle(_enter50(2**32 - 2, 1_000_000))
    [resp] = v.acct.handle(v50.AccountQueryRequest())
    assert isinstance(resp, v50.AccountQueryResponse) and resp.next_user_ref_num == 2**32 - 1
    v.acct.handle(_enter50(2**32 - 1, 1_000_000))
    [resp] = v.acct.handle(v50.AccountQueryRequest())
    assert isinstance(resp, v50.AccountQueryResponse) and resp.next_user_ref_num == 0
    assert v50.decode_outbound(ouch_encode(resp)) == resp
    # and the account goes on: the last order still cancels
    [canceled] = v.acct.handle(v50.CancelOrder(2**32 - 1, 0))
    assert isinstance(canceled, v50.OrderCanceled) and canceled.quantity == 100


# --- a replace while the symbol does not trade ----------------------------------------


def _halted_with_a_crossing_offer(account: type[Account50] | type[Account42]) -> _Venue:
    v = _Venue(account)
    v.engine.submit("AAPL", "S", 100, 1_500_000)  # someone else's offer
    if account is Account50:
        v.acct.handle(_enter50(1, 1_400_000))
    else:
        v.acct.handle(_enter42("OLD", 1_400_000))
    v.engine.set_trading_state("AAPL", "H")
    return v


def test_ouch50_a_replace_while_halted_cancels_the_original_and_does_not_trade() -> None:
    """A Replace while the symbol is halted (or the market not open) has invalid details:
    OUCH 5.0 2.2 case 2, the original is canceled (reason Z) and the replacement's
    UserRefNum is not consumed. Nothing trades: it traded through the halt, against the
    offer, when it crossed (and then it was Rejected with the original kept)."""
    v = _halted_with_a_crossing_offer(Account50)
    out = v.acct.handle(v50.ReplaceOrder(1, 2, 100, 1_500_000, "0", "Y", "N", "X2"))
    assert out == [v50.OrderCanceled(1, 1, 100, "Z")]
    assert v.engine.executions == 0 and v.acct.ledger.positions == {}
    assert v.acct.records[1].state == "done" and 2 not in v.acct.records
    # the original is gone: a Replace of it now is silently ignored; once trading
    # resumes, UserRefNum 2 (not consumed) enters an order that trades
    assert v.acct.handle(v50.ReplaceOrder(1, 2, 100, 1_500_000, "0", "Y", "N", "X2")) == []
    v.engine.set_trading_state("AAPL", "T")
    out = v.acct.handle(_enter50(2, 1_500_000))
    assert [type(m) for m in out] == [v50.OrderAccepted, v50.OrderExecuted]
    assert v.acct.ledger.positions == {"AAPL": 100}
    v.equal()


def test_ouch42_a_replace_while_halted_cancels_the_original_and_does_not_trade() -> None:
    v = _halted_with_a_crossing_offer(Account42)
    rep = v42.ReplaceOrder("OLD", "NEW", 100, 1_500_000, 99999, "Y", "N", 0)
    assert v.acct.handle(rep) == [v42.OrderCanceled(1, "OLD", 100, "Z")]
    assert v.engine.executions == 0 and v.acct.ledger.positions == {}
    assert v.acct.records["OLD"].state == "done" and "NEW" not in v.acct.records
    # the token NEW was not consumed: once trading resumes an Enter under it trades
    v.engine.set_trading_state("AAPL", "T")
    out = v.acct.handle(_enter42("NEW", 1_500_000))
    assert [type(m) for m in out] == [v42.OrderAccepted, v42.OrderExecuted]
    v.equal()


def test_a_replace_while_the_market_is_closed_cancels_the_original() -> None:
    v = _Venue(Account50)
    v.engine.submit("AAPL", "S", 100, 1_500_000)
    # an extended-hours order (Time In Force 5): a Day order would expire at the close
    v.acct.handle(v50.EnterOrder(1, "B", 100, "AAPL", 1_400_000, "5", "Y", "P", "N", "N", "X"))
    v.engine.system("M")  # the market closed
    out = v.acct.handle(v50.ReplaceOrder(1, 2, 100, 1_500_000, "0", "Y", "N", "X2"))
    assert out == [v50.OrderCanceled(1, 1, 100, "Z")]
    assert v.engine.executions == 0 and v.acct.records[1].state == "done"
    # the order is gone: a cancel of it is ignored
    assert v.acct.handle(v50.CancelOrder(1, 0)) == []
    v.equal()


def test_an_enter_after_the_close_is_destination_closed_and_while_halted_halted() -> None:
    """Appendix D: the market not open is 0x02 (4.2: ``C``, exchange closed); the symbol
    halted in market hours 0x07 (4.2: ``H``). Both were answered 0x07 (4.2: ``H``)."""
    for account in (Account50, Account42):
        v = _Venue(account)
        v.engine.set_trading_state("AAPL", "H")
        halted = v.acct.handle(
            _enter50(1, 1_400_000) if account is Account50 else _enter42("A", 1_400_000)
        )
        v.engine.set_trading_state("AAPL", "T")
        v.engine.system("M")
        closed = v.acct.handle(
            _enter50(2, 1_400_000) if account is Account50 else _enter42("B", 1_400_000)
        )
        if account is Account50:
            assert halted == [v50.Rejected(1, 1, v50.RejectReason.HALTED, "X")]
            assert closed == [v50.Rejected(1, 2, v50.RejectReason.DESTINATION_CLOSED, "X")]
        else:
            assert (halted, closed) == ([v42.Rejected(1, "A", "H")], [v42.Rejected(1, "B", "C")])
        assert list(v.engine.resting_orders()) == []


def test_day_orders_expire_at_the_close_and_the_feed_shows_it() -> None:
    """System Event ``M``: each live Day order (5.0 Time In Force ``0``, 4.2 99998) is
    canceled, reason ``T``, sent unsolicited, and the feed shows its Order Delete (the
    books rebuilt from the feed equal the exchange's); other orders stay, someone else's
    too. Day orders rested past the close."""
    from tickwire.itch import OrderDelete, decode

    for account in (Account50, Account42):
        v = _Venue(account)
        other = v.engine.submit("AAPL", "B", 100, 1_300_000)[0]
        if account is Account50:
            v.acct.handle(_enter50(1, 1_400_000))  # Day
            v.acct.handle(
                v50.EnterOrder(2, "B", 100, "AAPL", 1_390_000, "5", "Y", "P", "N", "N", "X")
            )
            v.acct.handle(v50.ReplaceOrder(1, 3, 100, 1_410_000, "0", "Y", "N", "X"))  # still Day
            day, stays = 3, 2
            expect: object = [v50.OrderCanceled(1, 3, 100, "T")]
        else:
            day42 = v42.EnterOrder("D", "B", 100, "AAPL", 1_400_000, v42.TIF_MARKET_HOURS, "TW", "Y", "P", "N", 0, "N", " ")  # fmt: skip
            v.acct.handle(day42)
            v.acct.handle(_enter42("S", 1_390_000))  # 99999: system hours, stays
            day, stays = "D", "S"  # type: ignore[assignment]
            expect = [v42.OrderCanceled(1, "D", 100, "T")]
        ref = v.acct.records[day].ref
        published = len(v.published)
        v.engine.system("M")
        assert v.sent == expect
        assert [decode(m) for m in v.published[published + 1 :]] == [OrderDelete(1, 0, 1, ref)]
        assert v.acct.records[day].state == "done" and v.acct.records[stays].state == "live"
        assert sorted(o.ref for o in v.engine.resting_orders()) == sorted(
            [other, v.acct.records[stays].ref]
        )
        v.equal()


def _gtt(seconds: int) -> tuple[v50.TagValue, ...]:
    """The appendages of a GTT order of ``seconds`` to live: its ExpireTime."""
    return (v50.TagValue(v50.OptionTag.EXPIRE_TIME, seconds),)


def test_every_order_left_expires_at_the_end_of_system_hours() -> None:
    """System Event ``E``: each live order, whatever its Time In Force (5.0 GTX, After
    Hours, GTT; 4.2 system hours 99999 and seconds), is canceled, reason ``T``, sent
    unsolicited, oldest first, and the feed shows each Order Delete (the books rebuilt
    from the feed equal the exchange's); someone else's order stays. They rested past
    the end of the system's day."""
    from tickwire.itch import OrderDelete, decode

    gtt = _gtt(60)
    for account in (Account50, Account42):
        v = _Venue(account)
        other = v.engine.submit("AAPL", "B", 100, 1_300_000)[0]
        if account is Account50:
            for ref, price, tif, app in [
                (1, 1_400_000, "5", ()),
                (2, 1_390_000, "E", ()),
                (3, 1_380_000, "6", gtt),
            ]:
                e = v50.EnterOrder(ref, "B", 100, "AAPL", price, tif, "Y", "P", "N", "N", "X", app)
                assert [type(m) for m in v.acct.handle(e)] == [v50.OrderAccepted]
            keys: list[int | str] = [1, 2, 3]
            expect: list[object] = [v50.OrderCanceled(1, k, 100, "T") for k in (1, 2, 3)]
        else:
            v.acct.handle(_enter42("S", 1_400_000))  # 99999: system hours
            secs = v42.EnterOrder("N", "B", 100, "AAPL", 1_390_000, 3600, "TW", "Y", "P", "N", 0, "N", " ")  # fmt: skip
            v.acct.handle(secs)
            keys = ["S", "N"]
            expect = [v42.OrderCanceled(1, k, 100, "T") for k in ("S", "N")]
        refs = [v.acct.records[k].ref for k in keys]
        v.engine.system("M")
        assert v.sent == []  # none is a Day order
        published = len(v.published)
        v.engine.system("E")
        assert v.sent == expect
        deletes = [decode(m) for m in v.published[published + 1 :]]
        assert deletes == [OrderDelete(1, 0, 1, ref) for ref in refs]
        assert all(v.acct.records[k].state == "done" for k in keys)
        assert [o.ref for o in v.engine.resting_orders()] == [other]
        assert v.acct.next_expiry() is None
        v.equal()


def test_ouch42_an_order_with_a_time_in_force_in_seconds_expires_on_the_engine_clock() -> None:
    """OUCH 4.2 Time In Force N (not 0, 99998 or 99999) is N seconds: the order is
    canceled N seconds after its acceptance, Order Canceled reason ``T`` (timeout) sent
    unsolicited, its Order Delete on the feed; a replacement's own Time In Force counts
    from the replace. The test drives the engine's clock: what is due expires before the
    next message is answered, or when ``expire`` is called (the server's timer). Such
    orders were good for ever: the Cancel below was answered reason ``U``."""
    from tickwire.itch import OrderDelete, decode

    s = 1_000_000_000
    t0 = 36_000 * s
    now = [t0]
    v = _Venue(Account42, clock=lambda: now[0])

    def enter(token: str, price: int, tif: int) -> list[object]:
        e = v42.EnterOrder(token, "B", 100, "AAPL", price, tif, "TW", "Y", "P", "N", 0, "N", " ")
        return v.acct.handle(e)

    for token, price, tif in [("A", 1_400_000, 5), ("B", 1_390_000, 10), ("R", 1_380_000, 5)]:
        assert [type(m) for m in enter(token, price, tif)] == [v42.OrderAccepted]
    now[0] = t0 + 2 * s  # the replacement's 5 s count from here: it ends at t0 + 7 s
    replace = v42.ReplaceOrder("R", "R2", 100, 1_370_000, 5, "Y", "N", 0)
    assert [type(m) for m in v.acct.handle(replace)] == [v42.OrderReplaced]

    now[0] = t0 + 5 * s - 1  # not yet
    assert [type(m) for m in enter("C", 1_360_000, v42.TIF_SYSTEM_HOURS)] == [v42.OrderAccepted]
    assert v.sent == []
    now[0] = t0 + 5 * s  # A's time is up: it expires before the Cancel is answered
    ref = v.acct.records["A"].ref
    published = len(v.published)
    assert v.acct.handle(v42.CancelOrder("A", 0)) == []
    assert v.sent == [v42.OrderCanceled(t0 + 5 * s, "A", 100, "T")]
    assert [decode(m) for m in v.published[published:]] == [OrderDelete(1, 0, t0 + 5 * s, ref)]
    assert v.acct.records["R2"].state == "live"  # R's 5 s were replaced by R2's own
    v.equal()

    v.sent.clear()
    now[0] = t0 + 7 * s  # the server's timer: nothing else happens
    assert v.acct.expire() == 1
    assert v.sent == [v42.OrderCanceled(t0 + 7 * s, "R2", 100, "T")]
    assert v.acct.next_expiry() == t0 + 10 * s
    v.sent.clear()
    now[0] = t0 + 10 * s - 1
    assert v.acct.expire() == 0 and v.sent == []
    now[0] = t0 + 10 * s
    assert v.acct.expire() == 1
    assert v.sent == [v42.OrderCanceled(t0 + 10 * s, "B", 100, "T")]
    assert v.acct.next_expiry() is None
    live = {k for k, r in v.acct.records.items() if r.state == "live"}
    assert live == {"C"}  # system hours: no time limit
    assert [o.tag for o in v.engine.resting_orders()] == ["C"]
    v.equal()


def test_ouch50_a_gtt_order_expires_after_its_expire_time_on_the_engine_clock() -> None:
    """OUCH 5.0 GTT (``6``) with an ExpireTime appendage of N seconds ("Seconds to live")
    is canceled N seconds after its Order Accepted, Order Canceled reason ``T`` sent
    unsolicited, its Order Delete on the feed; a replacement to GTT counts from its Order
    Replaced with the Replace's own ExpireTime, and a replacement to Day has no deadline.
    The clock is driven: what is due expires before the next message is answered, or
    when ``expire`` is called (the server's timer). GTT orders rested for ever: the Cancel
    below was answered reason ``U``."""
    from tickwire.itch import OrderDelete, decode

    s = 1_000_000_000
    t0 = 36_000 * s
    now = [t0]
    v = _Venue(Account50, clock=lambda: now[0])

    def enter(ref: int, price: int, tif: str, app: tuple[v50.TagValue, ...]) -> list[object]:
        e = v50.EnterOrder(ref, "B", 100, "AAPL", price, tif, "Y", "P", "N", "N", "X", app)
        return v.acct.handle(e)

    def replace(old: int, new: int, price: int, tif: str, app: tuple[v50.TagValue, ...]) -> list[object]:  # fmt: skip
        r = v50.ReplaceOrder(old, new, 100, price, tif, "Y", "N", "X", app)
        return v.acct.handle(r)

    assert [type(m) for m in enter(1, 1_400_000, "6", _gtt(5))] == [v50.OrderAccepted]
    assert [type(m) for m in enter(2, 1_390_000, "6", _gtt(10))] == [v50.OrderAccepted]
    assert [type(m) for m in enter(3, 1_380_000, "6", _gtt(5))] == [v50.OrderAccepted]
    assert [type(m) for m in enter(4, 1_370_000, "6", _gtt(3))] == [v50.OrderAccepted]
    now[0] = t0 + 2 * s  # 3's replacement (5 s of its own) ends at t0 + 7 s
    assert [type(m) for m in replace(3, 5, 1_360_000, "6", _gtt(5))] == [v50.OrderReplaced]
    assert [type(m) for m in replace(4, 6, 1_350_000, "0", ())] == [v50.OrderReplaced]  # Day

    now[0] = t0 + 5 * s - 1  # not yet
    assert [type(m) for m in enter(7, 1_340_000, "5", ())] == [v50.OrderAccepted]  # GTX
    assert v.sent == []
    now[0] = t0 + 5 * s  # 1's time is up: it expires before the Cancel is answered
    ref = v.acct.records[1].ref
    published = len(v.published)
    assert v.acct.handle(v50.CancelOrder(1, 0)) == []
    assert v.sent == [v50.OrderCanceled(t0 + 5 * s, 1, 100, "T")]
    assert [decode(m) for m in v.published[published:]] == [OrderDelete(1, 0, t0 + 5 * s, ref)]
    assert v.acct.records[5].state == "live"  # 3's 5 s were replaced by 5's own
    v.equal()

    v.sent.clear()
    now[0] = t0 + 7 * s  # the server's timer: nothing else happens
    assert v.acct.expire() == 1
    assert v.sent == [v50.OrderCanceled(t0 + 7 * s, 5, 100, "T")]
    assert v.acct.next_expiry() == t0 + 10 * s
    v.sent.clear()
    now[0] = t0 + 10 * s - 1
    assert v.acct.expire() == 0 and v.sent == []
    now[0] = t0 + 10 * s
    assert v.acct.expire() == 1
    assert v.sent == [v50.OrderCanceled(t0 + 10 * s, 2, 100, "T")]
    assert v.acct.next_expiry() is None
    live = {k for k, r in v.acct.records.items() if r.state == "live"}
    assert live == {6, 7}  # Day (ends at M) and GTX: no time limit of their own
    assert sorted(o.tag for o in v.engine.resting_orders()) == [6, 7]  # type: ignore[type-var]
    v.equal()


def test_ouch50_an_order_replaced_of_a_gtt_replacement_repeats_its_appendages_and_counts_from_the_replace() -> None:  # fmt: skip
    """The Order Replaced of a Replace to GTT repeats the Replace's own appendages (its
    ExpireTime, not the original's), on the wire too, and the replacement is canceled
    ``T`` that many seconds after the Order Replaced, the original's deadline forgotten,
    whether the original was GTT (partly executed: the replacement opens the rest) or
    Day; a Replace of a GTT to Day repeats no appendage and has no deadline. What the
    backtest venue answers (``tests/test_exchange_venue_replace_parity.py``,
    ``packages/engine/tests/test_engine_backtest_queue.py::test_gtt_*``)."""
    s = 1_000_000_000
    t0 = 36_000 * s
    now = [t0]
    v = _Venue(Account50, clock=lambda: now[0])

    def enter(ref: int, price: int, tif: str, app: tuple[v50.TagValue, ...]) -> None:
        e = v50.EnterOrder(ref, "B", 100, "AAPL", price, tif, "Y", "P", "N", "N", "X", app)
        assert [type(m) for m in v.acct.handle(e)] == [v50.OrderAccepted]

    def replace(old: int, new: int, tif: str, app: tuple[v50.TagValue, ...]) -> v50.OrderReplaced:  # fmt: skip
        r = v50.ReplaceOrder(old, new, 100, 1_390_000 - new, tif, "Y", "N", f"R{new}", app)
        [rep] = v.acct.handle(r)
        assert isinstance(rep, v50.OrderReplaced) and rep.timestamp == now[0]
        assert v50.decode_outbound(v50.encode(rep)) == rep
        return rep

    enter(1, 1_400_000, "6", _gtt(3))  # deadline t0 + 3 s
    enter(2, 1_390_000, "0", ())  # Day
    enter(3, 1_380_000, "6", _gtt(1))  # deadline t0 + 1 s
    v.engine.submit("AAPL", "S", 30, 1_400_000, ioc=True)  # 1 executes 30
    v.sent.clear()
    now[0] = t0 + s // 2
    rep = replace(1, 4, "6", _gtt(2))  # GTT -> GTT of its own 2 s: t0 + 2.5 s
    assert (rep.quantity, rep.time_in_force, rep.appendages) == (70, "6", _gtt(2))
    rep = replace(2, 5, "6", _gtt(1))  # Day -> GTT: t0 + 1.5 s
    assert (rep.time_in_force, rep.appendages) == ("6", _gtt(1))
    rep = replace(3, 6, "0", ())  # GTT -> Day: no deadline (3's was t0 + 1 s)
    assert (rep.time_in_force, rep.appendages) == ("0", ())
    assert v.acct.next_expiry() == t0 + 3 * s // 2

    now[0] = t0 + 3 * s // 2
    assert v.acct.expire() == 1 and v.sent == [v50.OrderCanceled(now[0], 5, 100, "T")]
    v.sent.clear()
    now[0] = t0 + 5 * s // 2 - 1  # not yet
    assert v.acct.expire() == 0 and v.sent == []
    now[0] = t0 + 5 * s // 2  # before 1's old deadline (t0 + 3 s)
    assert v.acct.expire() == 1 and v.sent == [v50.OrderCanceled(now[0], 4, 70, "T")]
    v.sent.clear()
    now[0] = t0 + 10 * s
    assert v.acct.expire() == 0 and v.sent == [] and v.acct.next_expiry() is None
    live = {k for k, r in v.acct.records.items() if r.state == "live"}
    assert live == {6}
    v.equal()


@pytest.mark.parametrize("seconds", [0, 86_400, 2**32 - 1])
def test_ouch50_a_gtt_expire_time_of_0_or_a_day_or_more_is_refused(seconds: int) -> None:
    """ExpireTime "Must be less than 86400" (a day), and 0 is no expire time, which GTT
    needs: an Enter is Rejected 0x0F Other as GTT without ExpireTime is, a Replace has
    invalid details (the original canceled ``Z``, the UserRefNum not consumed). Both
    were taken, and the order rested for ever."""
    v = _Venue(Account50)
    app = _gtt(seconds)
    e = v50.EnterOrder(1, "B", 100, "AAPL", 1_400_000, "6", "Y", "P", "N", "N", "X", app)
    assert v.acct.handle(e) == [v50.Rejected(1, 1, v50.RejectReason.OTHER, "X")]
    v.acct.handle(_enter50(2, 1_390_000))
    r = v50.ReplaceOrder(2, 3, 100, 1_380_000, "6", "Y", "N", "X", app)
    assert v.acct.handle(r) == [v50.OrderCanceled(1, 2, 100, "Z")]
    assert list(v.engine.resting_orders()) == [] and v.acct.last_user_ref_num == 2
    v.equal()


# --- one port's session over, the other still trading ----------------------------------


def test_a_fill_after_one_ports_session_ended_spoils_nothing_on_the_other() -> None:
    """The 5.0 port's session has ended (``Exchange.close`` ended it first) while a 4.2
    order trades with a 5.0 account's resting order: the 4.2 client gets its Accepted and
    Executed and both ledgers book the trade; the 5.0 answer nobody can receive is
    counted. It raised ``SessionError`` out of the match: the trade was on the feed and in
    the 5.0 ledger, and the 4.2 side never heard of it."""

    async def main() -> tuple[Exchange, list[object]]:
        ex = await Exchange.start(ExchangeConfig(feed_target=("127.0.0.1", 9), ouch42_port=0))
        try:
            ex.open_market()
            ex.engine.add_instrument("AAPL")
            ex.account50.handle(_enter50(1, 1_000_000, side="S"))
            assert ex.ouch50 is not None and ex.ouch42 is not None
            ex.ouch50.end_session()
            out: list[object] = list(ex.account42.handle(_enter42("T1", 1_000_000)))
            return ex, out
        finally:
            await ex.close()

    ex, out = run(main())
    assert [type(m) for m in out] == [v42.OrderAccepted, v42.OrderExecuted]
    assert ex.account42.ledger.positions == {"AAPL": 100}
    assert ex.account50.ledger.positions == {"AAPL": -100}
    assert ex.engine.executions == 1
    assert ex.ouch_unsent == 1
