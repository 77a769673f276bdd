"""The simulated exchange and the backtest venue answer a Replace the same way.

Both follow OUCH 5.0 section 2.2: a Replace of an order no longer live is silently
ignored (case 1); a Replace whose details are invalid (quantity, price, the symbol halted,
the market not open) cancels the original with an Order Canceled, reason ``Z``, and its
UserRefNum is not consumed, so a later Enter reuses it (case 2); a valid Replace that
crosses the book answers Order Replaced, then the Order Executed of its fills; one
whose total is at or below what the chain executed answers a dead Order Replaced (0
shares, state ``D``). Beyond Replace, both reject a price above $199,999.9900 (0x1D),
an Enter outside market hours 0x02 and in a halted symbol 0x07, an Enter whose Time In
Force byte is not in the table or is GTT without ExpireTime 0x0F (a Replace with one:
case 2), cancel Day orders at the End of Market Hours (System Event ``M``), reason
``T``, and every order left at the End of System Hours (``E``), reason ``T``. Every side
byte and each quantity and price edge is answered alike, by the one rule both ask
(``v50.order_fields_reason``).

Each scenario runs on both (``_exchange_venue_twins.Twins``, which the random flows of
``test_exchange_venue_parity_property.py`` share): a real ``MatchingEngine`` with an ``Account50`` (someone
else's offer submitted to the engine) and a real ``SimulatedVenue`` over a real
``BookManager`` (the same offer as an ITCH Add Order). The answers must be the same
message types with the same fields, but for the timestamp and the match number, which
each side numbers by itself. Order reference numbers are compared by what they say: each
side's are renumbered in the order they first appear in its answers (0 stays 0), so a
fresh number on one side must be a fresh number on the other, at the same place. The
exchange answered Rejected and kept the original, and consumed the UserRefNum; then it
rejected the below-executed Replace keeping the original, accepted prices up to
4,294,967,295, answered 0x07 after the close and kept Day orders past it, and gave a
dead Order Replaced reference number 0 where the venue gives a fresh one (each test
names its case).
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import pytest
from tickwire.ouch import v50

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _exchange_venue_twins import ASK, BID, SYM, Twins
from _exchange_venue_twins import enter as _enter
from _exchange_venue_twins import replace as _replace
from _exchange_venue_twins import types as _types

#: OUCH 5.0's largest price ($199,999.9900), as the one rule states it.
MAX_OUCH_PRICE = v50.MAX_PRICE


def _reuse(tw: Twins, ref: int) -> None:
    """``ref`` was not consumed: an Enter under it is accepted by both."""
    assert _types(tw.send(_enter(ref, BID - 100))) == ["OrderAccepted"]


@pytest.mark.parametrize(
    ("qty", "price"),
    [(0, BID), (1_000_000, BID), (100, 0), (100, 2**32), (100, MAX_OUCH_PRICE + 1)],
    ids=["quantity-0", "quantity-1000000", "price-0", "price-too-high", "price-above-ouch-max"],
)
def test_a_replace_with_invalid_details_cancels_the_original_on_both(qty: int, price: int) -> None:
    tw = Twins()
    tw.send(_enter(1))
    answer = tw.send(_replace(1, 2, qty, price))
    assert answer == [("OrderCanceled", {"user_ref_num": 1, "quantity": 100, "reason": "Z"})]
    assert tw.acct.records[1].state == "done" and tw.venue.live_orders() == []
    _reuse(tw, 2)


def test_a_replace_while_halted_cancels_the_original_and_never_trades_on_both() -> None:
    tw = Twins()
    tw.send(_enter(1))
    tw.trading_state("H")
    answer = tw.send(_replace(1, 2, 100, ASK))  # would cross the offer
    assert answer == [("OrderCanceled", {"user_ref_num": 1, "quantity": 100, "reason": "Z"})]
    assert tw.engine.executions == 0 and tw.venue.fills == []
    tw.trading_state("T")
    _reuse(tw, 2)


def test_a_replace_when_the_market_is_not_open_cancels_the_original_on_both() -> None:
    """After the close (System Event M; an extended-hours order, so the venue does not
    expire it as a Day order) the market is not open: invalid details, as while halted."""
    tw = Twins()
    tw.send(_enter(1, tif="5"))
    tw.system("M")
    answer = tw.send(_replace(1, 2, 100, ASK))
    assert answer == [("OrderCanceled", {"user_ref_num": 1, "quantity": 100, "reason": "Z"})]
    assert tw.engine.executions == 0 and tw.venue.fills == []


def test_a_replace_of_an_order_no_longer_live_is_silently_ignored_on_both() -> None:
    tw = Twins()
    tw.send(_enter(1))
    assert _types(tw.send(v50.CancelOrder(1, 0))) == ["OrderCanceled"]
    assert tw.send(_replace(1, 2)) == []
    assert tw.send(_replace(99, 2)) == []  # never known
    _reuse(tw, 2)


def test_a_valid_crossing_replace_answers_replaced_then_executed_on_both() -> None:
    tw = Twins()
    tw.send(_enter(1))
    answer = tw.send(_replace(1, 2, 100, ASK))
    assert _types(answer) == ["OrderReplaced", "OrderExecuted"]
    executed = answer[1][1]
    assert (executed["user_ref_num"], executed["quantity"], executed["price"]) == (2, 100, ASK)
    assert executed["liquidity_flag"] == "R"
    # 2 was consumed: an Enter under it is a repeat, ignored by both
    assert tw.send(_enter(2)) == []


@pytest.mark.parametrize("total", [100, 60])
def test_a_replace_at_or_below_the_executed_shares_replaces_the_order_dead_on_both(
    total: int,
) -> None:
    """Buy 150 takes the 100 offered and rests 50; a Replace whose chain total (the
    wire's quantity: executed + new open) is at or below the 100 executed is a valid
    Replace (quantity 1..999,999) with nothing left to expose: Order Replaced with 0
    shares, state ``D``, a fresh order reference number; the original is gone and the
    UserRefNum consumed. The exchange answered Rejected INVALID_QUANTITY and kept the
    original; then answered order reference number 0."""
    tw = Twins()
    assert _types(tw.send(_enter(1, ASK, qty=150))) == ["OrderAccepted", "OrderExecuted"]
    [(name, fields)] = tw.send(_replace(1, 2, total, BID))
    assert name == "OrderReplaced"
    assert (fields["orig_user_ref_num"], fields["user_ref_num"]) == (1, 2)
    assert (fields["quantity"], fields["order_state"]) == (0, "D")
    # a fresh order reference number (the second each side answers), as an Order Replaced
    # always carries; the exchange answered 0
    assert fields["order_reference_number"] == 2
    assert tw.acct.records[1].state == "done" and tw.venue.live_orders() == []
    assert list(tw.engine.resting_orders()) == []
    assert tw.send(v50.CancelOrder(1, 0)) == [] and tw.send(v50.CancelOrder(2, 0)) == []
    assert tw.send(_enter(2)) == []  # 2 was consumed: a repeat, ignored by both
    assert tw.acct.ledger.positions == {SYM: 100} and sum(f.quantity for f in tw.venue.fills) == 100


def test_the_largest_ouch_price_is_accepted_and_one_above_rejected_on_both() -> None:
    """OUCH 5.0's Price: at most $199,999.9900 (1,999,999,900), as the backtest venue and
    pre-trade risk check; the exchange accepted up to ITCH's Price(4) maximum."""
    tw = Twins()
    over = v50.EnterOrder(1, "S", 100, SYM, MAX_OUCH_PRICE + 1, "0", "Y", "P", "N", "N", "C1")
    assert tw.send(over) == [
        (
            "Rejected",
            {"user_ref_num": 1, "reason": v50.RejectReason.INVALID_PRICE, "cl_ord_id": "C1"},
        )
    ]
    top = v50.EnterOrder(2, "S", 100, SYM, MAX_OUCH_PRICE, "0", "Y", "P", "N", "N", "C2")
    assert _types(tw.send(top)) == ["OrderAccepted"]


def test_day_orders_are_canceled_at_the_end_of_market_hours_on_both() -> None:
    """System Event ``M``: a resting Day order (Time In Force ``0``) is canceled, reason
    ``T`` (timeout), an extended-hours one stays. The exchange left Day orders resting."""
    tw = Twins()
    tw.send(_enter(1))
    tw.send(_enter(2, BID - 100, tif="5"))
    tw.send(_enter(3, BID - 200))
    tw.system("M")
    assert tw.unsolicited() == [
        ("OrderCanceled", {"user_ref_num": 1, "quantity": 100, "reason": "T"}),
        ("OrderCanceled", {"user_ref_num": 3, "quantity": 100, "reason": "T"}),
    ]
    assert [o.user_ref_num for o in tw.venue.live_orders()] == [2]
    assert [r.key for r in tw.acct.records.values() if r.state == "live"] == [2]
    assert tw.send(v50.CancelOrder(1, 0)) == []


def test_every_order_left_is_canceled_at_the_end_of_system_hours_on_both() -> None:
    """System Event ``E``: every order still resting (GTX ``5``, After Hours ``E``, GTT
    with an ExpireTime not yet up, a replacement, whatever is left) is canceled, reason
    ``T``, oldest first; the Day order went at ``M``. Someone else's offer (the feed's)
    stays. Both left them resting after the end of the system's day."""
    tw = Twins()
    tw.send(_enter(1, BID - 100, tif="5"))
    tw.send(_enter(2, BID - 200, tif="E"))
    tw.send(_enter(3, BID - 300, tif="6", appendages=EXPIRE))  # 30 s: not up by E here
    tw.send(_enter(4, BID - 400))  # Day
    tw.send(_replace(1, 5, 100, BID - 500, tif="5"))  # GTX again, now behind 2, 3 and 4
    tw.system("M")
    assert tw.unsolicited() == [
        ("OrderCanceled", {"user_ref_num": 4, "quantity": 100, "reason": "T"})
    ]
    tw.system("E")
    assert tw.unsolicited() == [
        ("OrderCanceled", {"user_ref_num": n, "quantity": 100, "reason": "T"}) for n in (2, 3, 5)
    ]
    assert tw.venue.live_orders() == []
    assert [r.key for r in tw.acct.records.values() if r.state == "live"] == []
    assert [o.owner for o in tw.engine.resting_orders()] == [None]  # the offer
    assert tw.send(v50.CancelOrder(2, 0)) == []
    assert tw.send(_enter(6)) == [
        (
            "Rejected",
            {"user_ref_num": 6, "reason": v50.RejectReason.DESTINATION_CLOSED, "cl_ord_id": "C6"},
        )
    ]


@pytest.mark.parametrize(
    ("event", "state", "reason"),
    [
        ("M", "T", v50.RejectReason.DESTINATION_CLOSED),
        ("Q", "H", v50.RejectReason.HALTED),
    ],
    ids=["market-closed", "halted"],
)
def test_an_enter_outside_market_hours_or_while_halted_is_rejected_alike_on_both(
    event: str, state: str, reason: int
) -> None:
    """Appendix D: the market not open (after System Event ``M``) is 0x02 Destination
    Closed; the symbol halted while the market is open is 0x07 Halted. The exchange
    answered 0x07 for both."""
    tw = Twins()
    if event != "Q":
        tw.system(event)
    if state != "T":
        tw.trading_state(state)
    assert tw.send(_enter(1)) == [
        ("Rejected", {"user_ref_num": 1, "reason": reason, "cl_ord_id": "C1"})
    ]


#: An ExpireTime appendage ("Seconds to live"), which GTT needs.
EXPIRE = (v50.TagValue(v50.OptionTag.EXPIRE_TIME, 30),)
#: Time In Force bytes no table has (a client sends raw bytes: any ASCII one decodes),
#: and GTT without ExpireTime, or with another appendage only.
BAD_TIF: list[tuple[str, Any]] = [
    ("Q", ()),
    ("\x00", ()),
    ("1", ()),
    ("6", ()),
    ("6", (v50.TagValue(v50.OptionTag.MIN_QTY, 100),)),
    ("6", (v50.TagValue(v50.OptionTag.EXPIRE_TIME, 0),)),
    ("6", (v50.TagValue(v50.OptionTag.EXPIRE_TIME, 86_400),)),
]
BAD_TIF_IDS = [
    "Q",
    "NUL",
    "1",
    "GTT-no-appendage",
    "GTT-without-ExpireTime",
    "GTT-ExpireTime-0",  # no expire time, which GTT needs
    "GTT-ExpireTime-a-day",  # "Must be less than 86400"
]


@pytest.mark.parametrize(("tif", "appendages"), BAD_TIF, ids=BAD_TIF_IDS)
def test_a_bad_time_in_force_is_answered_alike_on_both(tif: str, appendages: Any) -> None:
    """OUCH 5.0's Time In Force is one byte of 0, 3, 5, 6, E, and GTT (6) "needs
    ExpireTime to be specified". An Enter with any other byte, or GTT without an ExpireTime
    appendage, is Rejected 0x0F Other (Appendix D has no Time In Force reason) and nothing
    rests; a Replace with one has invalid details: the original is canceled, reason ``Z``,
    and its UserRefNum is not consumed (section 2.2 case 2). Both accepted each and rested
    it (a Replace to it replaced the order), never expired as a Day order."""
    tw = Twins()
    assert tw.send(_enter(1, tif=tif, appendages=appendages)) == [
        ("Rejected", {"user_ref_num": 1, "reason": v50.RejectReason.OTHER, "cl_ord_id": "C1"})
    ]
    assert tw.venue.live_orders() == [] and len(list(tw.engine.resting_orders())) == 1  # the offer
    tw.send(_enter(2))
    answer = tw.send(_replace(2, 3, 100, BID - 100, tif=tif, appendages=appendages))
    assert answer == [("OrderCanceled", {"user_ref_num": 2, "quantity": 100, "reason": "Z"})]
    assert tw.venue.live_orders() == [] and len(list(tw.engine.resting_orders())) == 1  # the offer
    _reuse(tw, 3)


#: (Display, MinQty appendages, the reason): Display bytes no Enter may carry, and a MinQty
#: (a round lot or not), which neither venue runs.
BAD_TERMS: list[tuple[str, Any, v50.RejectReason]] = [
    ("Q", (), v50.RejectReason.INVALID_DISPLAY),
    ("\x00", (), v50.RejectReason.INVALID_DISPLAY),
    ("Z", (), v50.RejectReason.INVALID_DISPLAY),
    ("Y", (v50.TagValue(v50.OptionTag.MIN_QTY, 100),), v50.RejectReason.INVALID_MIN_QUANTITY),
    ("Y", (v50.TagValue(v50.OptionTag.MIN_QTY, 150),), v50.RejectReason.INVALID_MIN_QUANTITY),
]


@pytest.mark.parametrize(
    ("display", "appendages", "reason"),
    BAD_TERMS,
    ids=["Q", "NUL", "Z", "MinQty-100", "MinQty-150"],
)
def test_a_bad_display_or_a_min_qty_is_answered_alike_on_both(
    display: str, appendages: Any, reason: v50.RejectReason
) -> None:
    """OUCH 5.0's Display is ``Y``, ``N`` or ``A`` (0x03 Invalid Display otherwise), and
    neither venue runs MinQty ("must be a round lot", 0x0D Invalid Min Quantity):
    ``v50.order_terms_reason``, the one rule. An Enter is Rejected, nothing trades (a
    MinQty 100 buy at the offer filled on both); a Replace has invalid details: the
    original canceled, reason ``Z``, its UserRefNum not consumed. Both accepted and
    echoed a Display ``Q``."""
    tw = Twins()
    msg = dataclasses.replace(_enter(1, ASK, appendages=appendages), display=display)
    assert tw.send(msg) == [("Rejected", {"user_ref_num": 1, "reason": reason, "cl_ord_id": "C1"})]
    assert tw.venue.live_orders() == [] and len(list(tw.engine.resting_orders())) == 1  # the offer
    tw.send(_enter(2))
    rep = _replace(2, 3, 100, BID - 100, appendages=appendages)
    answer = tw.send(dataclasses.replace(rep, display=display))
    assert answer == [("OrderCanceled", {"user_ref_num": 2, "quantity": 100, "reason": "Z"})]
    assert tw.venue.live_orders() == [] and len(list(tw.engine.resting_orders())) == 1
    _reuse(tw, 3)


def test_gtt_with_expire_time_and_the_other_time_in_force_values_are_taken_on_both() -> None:
    """What the table has is taken: GTX, After Hours, Day; and GTT with an ExpireTime
    appendage, entered or replaced to (field for field: both repeat the appendages)."""
    tw = Twins()
    assert _types(tw.send(_enter(1, BID - 100, tif="5"))) == ["OrderAccepted"]
    assert _types(tw.send(_enter(2, BID - 200, tif="E"))) == ["OrderAccepted"]
    assert _types(tw.send(_enter(3, BID - 300))) == ["OrderAccepted"]
    assert _types(tw.send(_enter(4, BID - 400, tif="6", appendages=EXPIRE))) == ["OrderAccepted"]
    assert _types(tw.send(_replace(3, 5, 100, BID - 500, "6", EXPIRE))) == ["OrderReplaced"]
    assert [o.user_ref_num for o in tw.venue.live_orders()] == [1, 2, 4, 5]
    assert sorted(r.key for r in tw.acct.records.values() if r.state == "live") == [1, 2, 4, 5]


#: The edges of OUCH's side, quantity and price rules (``v50.order_fields_reason``).
EDGE_QTY = [0, 1, v50.MAX_QUANTITY, v50.MAX_QUANTITY + 1, 2**32 - 1]
EDGE_PX = [0, 1, v50.MAX_PRICE, v50.MAX_PRICE + 1, 2**32 - 1]


def test_an_enter_of_edge_fields_is_answered_alike_on_both() -> None:
    """Every side byte, with each quantity and price edge (0, 1, the limit, one past it,
    2**32 - 1), as an IOC Enter: both answer alike, a refused one Rejected with the
    reason of ``v50.order_fields_reason`` (side, then quantity, then price), the one
    rule both ask; then the Time In Force (0x0F), after the fields. A Replace of a
    resting order to each quantity and price edge: replaced, or the original canceled
    (case 2), alike."""
    tw = Twins()
    ref = 0
    for side in [chr(b) for b in range(256)]:
        for qty in EDGE_QTY:
            for price in EDGE_PX:
                ref += 1
                msg = v50.EnterOrder(ref, side, qty, SYM, price, "3", "Y", "P", "N", "N", "C")
                answer = tw.send(msg)
                reason = v50.order_fields_reason(side, qty, price)
                if reason is not None:
                    assert answer == [
                        ("Rejected", {"user_ref_num": ref, "reason": reason, "cl_ord_id": "C"})
                    ]
                else:
                    assert _types(answer)[0] == "OrderAccepted"
    for qty in EDGE_QTY:
        for price in EDGE_PX:
            ref += 1
            fields = v50.order_fields_reason("B", qty, price)
            assert tw.send(_enter(ref, price, qty, "Q")) == [  # a bad Time In Force too
                (
                    "Rejected",
                    {
                        "user_ref_num": ref,
                        "reason": fields or v50.RejectReason.OTHER,  # the fields first
                        "cl_ord_id": f"C{ref}",
                    },
                )
            ]
            ref += 1
            tw.send(_enter(ref, BID - 100))
            ref += 1
            answer = tw.send(_replace(ref - 1, ref, qty, price))
            expected = "OrderCanceled" if fields is not None else "OrderReplaced"
            assert _types(answer)[0] == expected
            tw.send(v50.CancelOrder(ref, 0))


@pytest.mark.parametrize("price", [BID - 100, ASK], ids=["not-crossing", "crossing"])
def test_a_replace_to_ioc_never_rests_on_both(price: int) -> None:
    """A Replace to Time In Force ``3`` (IOC) executes what it crosses and its rest is
    canceled, reason ``I``, after its Order Replaced (and Order Executed), as an IOC
    Enter's: nothing rests. The exchange rested the replacement as a Day order (found by
    ``test_exchange_venue_parity_property.py``)."""
    tw = Twins()
    tw.send(_enter(1, qty=150))
    answer = tw.send(_replace(1, 2, 150, price, tif="3"))
    filled = 100 if price == ASK else 0
    assert _types(answer) == ["OrderReplaced"] + ["OrderExecuted"] * bool(filled) + [
        "OrderCanceled"
    ]
    assert answer[-1] == (
        "OrderCanceled",
        {"user_ref_num": 2, "quantity": 150 - filled, "reason": "I"},
    )
    assert (
        tw.venue.live_orders() == []
        and [r.key for r in tw.acct.records.values() if r.state == "live"] == []
    )
    assert [o.owner for o in tw.engine.resting_orders()] == [None] * (price != ASK)  # the offer
    assert tw.send(v50.CancelOrder(2, 0)) == []


def test_accepted_and_replaced_repeat_the_appendages_on_both() -> None:
    """An Order Accepted and an Order Replaced repeat the Enter's and the Replace's
    appendages (a GTT's ExpireTime), as ``OuchHost50`` does: field for field alike. The
    backtest venue answered none where the exchange repeated them (found by
    ``test_exchange_venue_parity_property.py``)."""
    tw = Twins()
    expire = ({"tag": v50.OptionTag.EXPIRE_TIME, "value": 30},)  # EXPIRE, as compared
    [(name, fields)] = tw.send(_enter(1, BID - 100, tif="6", appendages=EXPIRE))
    assert (name, fields["appendages"]) == ("OrderAccepted", expire)
    [(name, fields)] = tw.send(_replace(1, 2, 100, BID - 200, tif="6", appendages=EXPIRE))
    assert (name, fields["appendages"]) == ("OrderReplaced", expire)


@pytest.mark.parametrize("side", ["T", "E"], ids=["sell-short", "sell-short-exempt"])
def test_a_replace_of_a_sell_short_order_keeps_its_side_on_both(side: str) -> None:
    """A Replace cannot change the side: the Order Replaced of a sell short order (``T``,
    ``E``) says the side it was entered with, as its Order Accepted did, and as
    ``OuchHost50`` answers. The backtest venue said ``S`` (the book's side), the exchange
    ``T``/``E`` (found by ``test_exchange_venue_parity_property.py``)."""
    tw = Twins()
    assert _types(tw.send(_enter(1, ASK + 100, side=side))) == ["OrderAccepted"]
    [(name, fields)] = tw.send(_replace(1, 2, 100, ASK + 200))
    assert (name, fields["side"]) == ("OrderReplaced", side)
    [(name, fields)] = tw.send(_replace(2, 3, 100, ASK + 300))  # the replacement's too
    assert (name, fields["side"]) == ("OrderReplaced", side)


@pytest.mark.parametrize("dead", [False, True], ids=["live", "dead"])
def test_a_replace_keeps_the_originals_capacity_and_cross_type_on_both(dead: bool) -> None:
    """A Replace Order carries no Capacity and no Cross Type (OUCH 5.0 section 2.2: they
    cannot change), so the Order Replaced says the original's, as its Order Accepted did,
    and a chain of Replaces keeps the first Enter's, a dead replacement's too (``D``: a
    total at or below what executed), as ``OuchHost50`` answers. Both said Capacity
    ``P`` and Cross Type ``N`` whatever the Enter said. The Cross Type kept is ``N``:
    an Enter of any other is Rejected 0x14 (``v50.cross_type_reason``; this test
    entered ``O`` until then, and both traded it as a continuous order)."""
    tw = Twins()
    price = ASK if dead else BID  # dead: buy 150 takes the 100 offered, total 100 is dead
    msg = dataclasses.replace(_enter(1, price, qty=150), capacity="A", cross_type="N")
    [(name, fields), *_] = tw.send(msg)
    assert (name, fields["capacity"], fields["cross_type"]) == ("OrderAccepted", "A", "N")
    [(name, fields)] = tw.send(_replace(1, 2, 100, BID - 100))
    assert (name, fields["capacity"], fields["cross_type"]) == ("OrderReplaced", "A", "N")
    assert fields["order_state"] == ("D" if dead else "L")
    if not dead:  # the replacement's replacement: still the Enter's
        [(name, fields)] = tw.send(_replace(2, 3, 100, BID - 200))
        assert (name, fields["capacity"], fields["cross_type"]) == ("OrderReplaced", "A", "N")


@pytest.mark.parametrize("state", ["H", "P", "Q"])
def test_a_crossing_order_fills_nothing_in_a_halt_on_both(state: str) -> None:
    """Halted, paused or quotation only (Stock Trading Action H, P, Q), someone else's
    order crossing our resting bid rests crossed: NASDAQ executes no continuous order
    then (ITCH 5.0 4.2.2). Both filled our bid (the exchange matched it, the venue's
    rule 4 took the Add for an aggressor)."""
    tw = Twins()
    tw.send(_enter(1, price=BID))
    tw.trading_state(state)
    tw.other("S", 100, BID - 25_000)  # through our bid
    assert tw.unsolicited() == []
    assert tw.engine.executions == 0 and tw.venue.fills == []
    assert tw.venue.live_orders()[0].open == 100
    tw.trading_state("T")  # the resume trades nothing by itself
    assert tw.unsolicited() == [] and tw.venue.fills == []


def test_a_hidden_order_trades_after_a_displayed_one_at_its_price_on_both() -> None:
    """NASDAQ's price, display, time priority: our hidden bid (first) and our displayed
    bid (later) at one price, someone's sell of 150 through both: the displayed bid
    fills 100, then the hidden one 50, on both (the exchange's
    ``matching._next_in_line``, the venue's ``_priority``), the hidden one's fill
    flagged ``J`` (OUCH 5.0 Appendix E, ``v50.LiquidityFlag.ADDED_HIDDEN``) on both.
    Before: by time alone on both, the hidden bid first; then the venue flagged it ``A``
    while the exchange said ``J``."""
    tw = Twins()
    tw.send(dataclasses.replace(_enter(1, BID), display="N"))
    tw.send(_enter(2, BID))
    tw.other("S", 150, BID)

    def fills(out: list[Any]) -> list[tuple[int, int, int, str]]:
        return [
            (m.user_ref_num, m.quantity, m.price, m.liquidity_flag)
            for m in out
            if isinstance(m, v50.OrderExecuted)
        ]

    exchange, venue = fills(tw.acct_sent), fills(tw.venue_out)
    assert [f[:3] for f in exchange] == [f[:3] for f in venue] == [(2, 100, BID), (1, 50, BID)]
    assert [f[3] for f in exchange] == [f[3] for f in venue] == ["A", "J"]
    tw.unsolicited()  # the whole answers, field for field, now alike
    assert [(o.user_ref_num, o.open) for o in tw.venue.live_orders()] == [(1, 50)]
    live = [(r.key, r.open) for r in tw.acct.records.values() if r.state == "live"]
    assert live == [(1, 50)]
