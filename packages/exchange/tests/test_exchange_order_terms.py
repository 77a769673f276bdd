"""The simulated exchange refuses a Display it does not know and any Minimum Quantity.

OUCH 5.0's Enter (offset 27) and Replace (offset 22) Display is ``Y`` visible, ``N``
hidden or ``A`` attributable (``Z`` conformant is the answers' only); Appendix D has
0x03 Invalid Display. Appendix B's MinQty (tag 3): "MinQty must be a round lot. 0
(zero), no minimum quantity", Appendix D 0x0D Invalid Min Quantity. The exchange runs
no minimum quantity (as it runs no crosses), so a MinQty other than 0 is refused with
the field's reason rather than filled below it. One rule,
``tickwire.ouch.v50.order_terms_reason``, which ``OuchHost50``/``OuchHost42`` and the
backtest venues share; OUCH 4.2's Display byte and Minimum Quantity field alike (its
letter ``Z``). Before, a Display ``Q`` or NUL was accepted and echoed in the Order
Accepted, and an order of MinQty 100 filled 50 shares. Sans-I/O, as
``test_exchange_cross_type.py``: a real MatchingEngine, real accounts, the feed replayed
into a real BookManager.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest
from tickwire.exchange.accounts import Account42, Account50
from tickwire.ouch import encode as ouch_encode
from tickwire.ouch import v42, v50

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
from _exchange_venue import Venue, enter50  # noqa: E402

#: Display bytes no Enter or Replace may carry: not in the table, NUL, space, and the
#: answers' ``Z`` (conformant), lower case ``y``.
BAD_DISPLAYS = ["Q", "\x00", " ", "Z", "y"]
OFFER = 1_500_000  # someone else's offer, which every buy here would take
MIN_QTY = v50.OptionTag.MIN_QTY


def _enter42(
    token: str, display: str = "Y", min_qty: int = 0, price: int = OFFER
) -> v42.EnterOrder:
    return v42.EnterOrder(token, "B", 100, "AAPL", price, 99999, "TW", display, "P", "N", min_qty, "N", " ")  # fmt: skip


def _replace42(old: str, new: str, display: str = "Y", min_qty: int = 0) -> v42.ReplaceOrder:
    return v42.ReplaceOrder(old, new, 100, OFFER - 100, 99999, display, "N", min_qty)


def _replace50(
    orig: int, ref: int, display: str = "Y", appendages: tuple[v50.TagValue, ...] = ()
) -> v50.ReplaceOrder:
    return v50.ReplaceOrder(orig, ref, 100, OFFER - 100, "0", display, "N", "R", appendages)


@pytest.mark.parametrize("display", BAD_DISPLAYS)
def test_ouch50_an_enter_of_a_bad_display_is_rejected_and_trades_nothing(display: str) -> None:
    """Rejected 0x03 Invalid Display, nothing on the book or the feed, no fill; the
    UserRefNum consumed, and the next order (Display ``Y``) trades."""
    v = Venue(Account50)
    v.engine.submit("AAPL", "S", 100, OFFER)
    published = len(v.published)
    out = v.acct.handle(dataclasses.replace(enter50(1, OFFER), display=display))
    assert out == [v50.Rejected(1, 1, v50.RejectReason.INVALID_DISPLAY, "X")]
    ouch_encode(out[0])
    assert v.engine.executions == 0 and v.acct.ledger.positions == {}
    assert len(v.published) == published
    assert v.acct.handle(enter50(1, OFFER)) == []  # consumed
    out = v.acct.handle(enter50(2, OFFER))
    assert [type(m) for m in out] == [v50.OrderAccepted, v50.OrderExecuted]
    v.equal()


@pytest.mark.parametrize("display", BAD_DISPLAYS)
def test_ouch42_an_enter_of_a_bad_display_is_rejected_and_trades_nothing(display: str) -> None:
    """As 5.0's, the reason as its 4.2 letter ``Z`` (``v42.reject_letter``); the token
    is used."""
    v = Venue(Account42)
    v.engine.submit("AAPL", "S", 100, OFFER)
    published = len(v.published)
    assert v.acct.handle(_enter42("BAD", display)) == [v42.Rejected(1, "BAD", "Z")]
    assert v.engine.executions == 0 and len(v.published) == published
    assert v.acct.handle(_enter42("BAD")) == []  # the token is used
    assert [type(m) for m in v.acct.handle(_enter42("NEXT"))] == [
        v42.OrderAccepted,
        v42.OrderExecuted,
    ]
    v.equal()


@pytest.mark.parametrize("display", BAD_DISPLAYS)
def test_a_replace_of_a_bad_display_cancels_the_original(display: str) -> None:
    """A Replace's Display is one of its details: a bad one is section 2.2 case 2, the
    original canceled (reason ``Z``, its Order Delete on the feed), the replacement's
    UserRefNum (Order Token) not consumed: a later Enter may use it."""
    v = Venue(Account50)
    assert [type(m) for m in v.acct.handle(enter50(1, OFFER - 200))] == [v50.OrderAccepted]
    assert v.acct.handle(_replace50(1, 2, display)) == [v50.OrderCanceled(1, 1, 100, "Z")]
    assert list(v.engine.resting_orders()) == []
    assert [type(m) for m in v.acct.handle(enter50(2, OFFER - 200))] == [v50.OrderAccepted]
    v.equal()
    v = Venue(Account42)
    assert [type(m) for m in v.acct.handle(_enter42("A1", price=OFFER - 200))] == [
        v42.OrderAccepted
    ]
    out = v.acct.handle(_replace42("A1", "A2", display))
    assert out == [v42.OrderCanceled(1, "A1", 100, "Z")]
    assert list(v.engine.resting_orders()) == []
    assert [type(m) for m in v.acct.handle(_enter42("A2", price=OFFER - 200))] == [
        v42.OrderAccepted
    ]
    v.equal()


@pytest.mark.parametrize("min_qty", [100, 150, 1])
def test_ouch50_an_enter_with_a_min_qty_is_refused_not_filled_below_it(min_qty: int) -> None:
    """MinQty 100 against an offer of 50 filled 50 shares; MinQty 150 is no round lot.
    Each is Rejected 0x0D Invalid Min Quantity, nothing trades; MinQty 0 ("no minimum
    quantity") is taken and trades."""
    v = Venue(Account50)
    v.engine.submit("AAPL", "S", 50, OFFER)
    msg = dataclasses.replace(enter50(1, OFFER), appendages=(v50.TagValue(MIN_QTY, min_qty),))
    out = v.acct.handle(msg)
    assert out == [v50.Rejected(1, 1, v50.RejectReason.INVALID_MIN_QUANTITY, "X")]
    ouch_encode(out[0])
    assert v.engine.executions == 0 and v.acct.ledger.positions == {}
    msg = dataclasses.replace(enter50(2, OFFER), appendages=(v50.TagValue(MIN_QTY, 0),))
    assert [type(m) for m in v.acct.handle(msg)] == [v50.OrderAccepted, v50.OrderExecuted]
    assert v.acct.ledger.positions == {"AAPL": 50}
    v.equal()


def test_ouch42_an_enter_or_replace_with_a_minimum_quantity_is_refused() -> None:
    """4.2's Minimum Quantity field alike: an Enter of 100 Rejected ``Z``, nothing
    traded; a Replace carrying one cancels its original (case 2)."""
    v = Venue(Account42)
    v.engine.submit("AAPL", "S", 50, OFFER)
    assert v.acct.handle(_enter42("MQ", min_qty=100)) == [v42.Rejected(1, "MQ", "Z")]
    assert v.engine.executions == 0
    assert [type(m) for m in v.acct.handle(_enter42("R1", price=OFFER - 200))] == [
        v42.OrderAccepted
    ]
    out = v.acct.handle(_replace42("R1", "R2", min_qty=100))
    assert out == [v42.OrderCanceled(1, "R1", 100, "Z")]
    v.equal()


def test_ouch50_a_replace_with_a_min_qty_cancels_the_original() -> None:
    v = Venue(Account50)
    assert [type(m) for m in v.acct.handle(enter50(1, OFFER - 200))] == [v50.OrderAccepted]
    out = v.acct.handle(_replace50(1, 2, appendages=(v50.TagValue(MIN_QTY, 100),)))
    assert out == [v50.OrderCanceled(1, 1, 100, "Z")]
    assert list(v.engine.resting_orders()) == []
    v.equal()


def test_display_and_min_qty_come_after_the_time_in_force_and_before_the_cross_type() -> None:
    """The order of checks every venue keeps (``v50.order_terms_reason``'s docs): a bad
    Time In Force first (0x0F), then the Display (0x03), then MinQty (0x0D), then the
    Cross Type (0x14)."""
    v = Venue(Account50)
    bad = dataclasses.replace(
        enter50(1, OFFER),
        time_in_force="Q",
        display="Q",
        cross_type="C",
        appendages=(v50.TagValue(MIN_QTY, 100),),
    )
    reasons = []
    for n, fix in enumerate(({}, {"time_in_force": "0"}, {"display": "Y"}, {"appendages": ()})):
        bad = dataclasses.replace(bad, user_ref_num=n + 1, **fix)
        (answer,) = v.acct.handle(bad)
        assert isinstance(answer, v50.Rejected)
        reasons.append(answer.reason)
    R = v50.RejectReason
    assert reasons == [R.OTHER, R.INVALID_DISPLAY, R.INVALID_MIN_QUANTITY, R.INVALID_CROSS_ORDER]


T = v50.OptionTag
R = v50.RejectReason
#: An appendage asking for a condition the exchange does not run, and its Appendix D
#: reason (``v50.order_terms_reason``'s per-tag table).
UNRUN = [
    (T.MAX_FLOOR, 10, R.INVALID_MAX_FLOOR),
    (T.MAX_FLOOR, 99, R.INVALID_MAX_FLOOR),
    (T.PRICE_TYPE, "P", R.INVALID_PEG_TYPE),
    (T.PRICE_TYPE, "m", R.INVALID_PEG_TYPE),
    (T.PEG_OFFSET, -100, R.INVALID_PEG_TYPE),
    (T.DISCRETION_PRICE, OFFER + 100, R.OTHER),
    (T.DISCRETION_PRICE_TYPE, "M", R.INVALID_PEG_TYPE),
    (T.DISCRETION_PEG_OFFSET, 100, R.INVALID_PEG_TYPE),
    (T.POST_ONLY, "P", R.OTHER),
    (T.RANDOM_RESERVES, 100, R.OTHER),
    (T.ROUTE, "SCAN", R.ROUTING_NOT_ALLOWED),
    (T.HANDLE_INST, "I", R.INVALID_CROSS_ORDER),
]
#: Their "no effect" values (Appendix B's defaults; a MaxFloor of the whole order), and
#: informational tags, which are taken and trade as a plain order.
TAKEN = [
    (T.MAX_FLOOR, 0),
    (T.MAX_FLOOR, 100),
    (T.MAX_FLOOR, 500),
    (T.PRICE_TYPE, "L"),
    (T.PEG_OFFSET, 0),
    (T.DISCRETION_PRICE, 0),
    (T.DISCRETION_PRICE_TYPE, "L"),
    (T.DISCRETION_PEG_OFFSET, 0),
    (T.POST_ONLY, "N"),
    (T.RANDOM_RESERVES, 0),
    (T.ROUTE, ""),
    (T.HANDLE_INST, " "),
    (T.SECONDARY_ORD_REF_NUM, 7),
    (T.CUSTOMER_TYPE, "R"),
    (T.TRADE_NOW, "Y"),
    (T.BBO_WEIGHT_INDICATOR, "3"),
    (T.GROUP_ID, 12),
    (T.SHARES_LOCATED, "Y"),
]


@pytest.mark.parametrize(("tag", "value", "reason"), UNRUN, ids=lambda x: str(x))
def test_ouch50_an_enter_with_an_appendage_the_exchange_does_not_run_is_refused(
    tag: int, value: object, reason: int
) -> None:
    """A reserve (MaxFloor 10 of 100), pegged, discretionary, post-only (which here
    would take the offer), random-reserve, routed or cross-handled order traded at once
    as a plain visible limit order; each is Rejected with its tag's Appendix D reason,
    nothing trades, and a Replace carrying one cancels its original (case 2)."""
    v = Venue(Account50)
    v.engine.submit("AAPL", "S", 50, OFFER)
    msg = dataclasses.replace(enter50(1, OFFER), appendages=(v50.TagValue(tag, value),))
    out = v.acct.handle(msg)
    assert out == [v50.Rejected(1, 1, reason, "X")]
    ouch_encode(out[0])
    assert v.engine.executions == 0 and v.acct.ledger.positions == {}
    assert [type(m) for m in v.acct.handle(enter50(2, OFFER - 200))] == [v50.OrderAccepted]
    out = v.acct.handle(_replace50(2, 3, appendages=(v50.TagValue(tag, value),)))
    assert out == [v50.OrderCanceled(1, 2, 100, "Z")]
    v.equal()


@pytest.mark.parametrize(("tag", "value"), TAKEN, ids=lambda x: str(x))
def test_ouch50_an_appendage_of_no_effect_is_taken(tag: int, value: object) -> None:
    v = Venue(Account50)
    v.engine.submit("AAPL", "S", 50, OFFER)
    msg = dataclasses.replace(enter50(1, OFFER), appendages=(v50.TagValue(tag, value),))
    assert [type(m) for m in v.acct.handle(msg)] == [v50.OrderAccepted, v50.OrderExecuted]
    assert v.acct.ledger.positions == {"AAPL": 50}
    v.equal()


def test_the_first_refused_appendage_in_wire_order_gives_the_reason() -> None:
    """Display first, then the appendages in wire order: one rule for every venue."""
    peg, floor = v50.TagValue(T.PRICE_TYPE, "P"), v50.TagValue(T.MAX_FLOOR, 10)
    assert v50.order_terms_reason("Q", 100, (peg, floor)) == R.INVALID_DISPLAY
    assert v50.order_terms_reason("Y", 100, (peg, floor)) == R.INVALID_PEG_TYPE
    assert v50.order_terms_reason("Y", 100, (floor, peg)) == R.INVALID_MAX_FLOOR
    assert v50.order_terms_reason("N", 100, (v50.TagValue(T.MAX_FLOOR, 100),)) is None
