"""The simulated exchange runs the continuous market only: an Enter of another Cross Type
is Rejected 0x14 Invalid Cross Order (OUCH 5.0 Appendix D; 4.2: ``Z``).

OUCH 5.0's Enter Order Cross Type (offset 30): ``N`` continuous market, ``O`` opening
cross, ``C`` closing cross, ``H`` halt/IPO, ``S`` supplemental, ``R`` retail, ``E``
extended life, ``A`` after hours close (OUCH 4.2's Enter Order has the field too). The
exchange runs none of those crosses, so it refuses every Cross Type but ``N`` (a byte not
in the table as well), after every other check of the Enter, its UserRefNum (Order Token)
consumed as for the other rejects: ``tickwire.ouch.v50.cross_type_reason``, the one rule,
which ``OuchHost50``/``OuchHost42`` and the backtest venues share. Before, such an order
was accepted and traded at once in the continuous book: an on-close order filled at
10:00. Sans-I/O, as ``test_exchange_hostile.py``: a real MatchingEngine, real accounts,
the feed replayed into a real BookManager.
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

#: Every Cross Type but continuous, and bytes no table has.
NOT_CONTINUOUS = [str(c) for c in v50.CrossType if c != v50.CrossType.CONTINUOUS] + ["X", " "]
OFFER = 1_500_000  # someone else's offer, which every buy here would take


def _enter42(token: str, cross_type: str, price: int = OFFER) -> v42.EnterOrder:
    return v42.EnterOrder(token, "B", 100, "AAPL", price, 99999, "TW", "Y", "P", "N", 0, cross_type, " ")  # fmt: skip


@pytest.mark.parametrize("cross_type", NOT_CONTINUOUS)
def test_ouch50_an_enter_of_a_cross_type_other_than_n_is_rejected_and_trades_nothing(
    cross_type: str,
) -> None:
    """Rejected 0x14, nothing on the book or the feed, no fill; the UserRefNum is
    consumed (a resend of it, even as ``N``, is ignored), and the next ``N`` order
    trades."""
    v = Venue(Account50)
    v.engine.submit("AAPL", "S", 100, OFFER)
    published = len(v.published)
    msg = dataclasses.replace(enter50(1, OFFER), cross_type=cross_type)
    out = v.acct.handle(msg)
    assert out == [v50.Rejected(1, 1, v50.RejectReason.INVALID_CROSS_ORDER, "X")]
    ouch_encode(out[0])
    assert v.engine.executions == 0 and v.acct.ledger.positions == {}
    assert len(v.published) == published and v.sent == []
    assert v.acct.records[1].state == "rejected"
    # consumed: a resend of UserRefNum 1 is a repeat, whatever its Cross Type
    assert v.acct.handle(enter50(1, OFFER)) == []
    out = v.acct.handle(enter50(2, OFFER))
    assert [type(m) for m in out] == [v50.OrderAccepted, v50.OrderExecuted]
    assert v.acct.ledger.positions == {"AAPL": 100}
    v.equal()


@pytest.mark.parametrize("cross_type", NOT_CONTINUOUS)
def test_ouch42_an_enter_of_a_cross_type_other_than_n_is_rejected_and_trades_nothing(
    cross_type: str,
) -> None:
    """As 5.0's, the reason as its 4.2 letter, ``Z`` (4.2 has none of its own for it:
    ``v42.reject_letter``); the Order Token is used."""
    v = Venue(Account42)
    v.engine.submit("AAPL", "S", 100, OFFER)
    published = len(v.published)
    out = v.acct.handle(_enter42("CROSS", cross_type))
    assert out == [v42.Rejected(1, "CROSS", "Z")]
    ouch_encode(out[0])
    assert v.engine.executions == 0 and v.acct.ledger.positions == {}
    assert len(v.published) == published and v.sent == []
    assert v.acct.handle(_enter42("CROSS", "N")) == []  # the token is used
    out = v.acct.handle(_enter42("NEXT", "N"))
    assert [type(m) for m in out] == [v42.OrderAccepted, v42.OrderExecuted]
    v.equal()


def _closed(v: Venue) -> None:
    v.engine.system("M")


def _halted(v: Venue) -> None:
    v.engine.set_trading_state("AAPL", "H")


@pytest.mark.parametrize(
    ("fault", "reason", "letter"),
    [
        ({"symbol": "NOPE"}, v50.RejectReason.INVALID_SYMBOL, "S"),
        ({"side": "X"}, v50.RejectReason.INVALID_SIDE, "Z"),
        ({"quantity": 0}, v50.RejectReason.INVALID_QUANTITY, "Z"),
        ({"price": 0}, v50.RejectReason.INVALID_PRICE, "X"),
        (_closed, v50.RejectReason.DESTINATION_CLOSED, "C"),
        (_halted, v50.RejectReason.HALTED, "H"),
        ({"time_in_force": "Q"}, v50.RejectReason.OTHER, None),
    ],
    ids=["symbol", "side", "quantity", "price", "closed", "halted", "time-in-force"],
)
def test_the_cross_type_is_checked_after_every_other_check_of_an_enter(
    fault: object, reason: v50.RejectReason, letter: str | None
) -> None:
    """An Enter of Cross Type ``C`` and another fault earns the other fault's reason:
    the symbol, side, quantity, price, market state and (5.0) Time In Force come first,
    the backtest venue's and the hosts' order (``v50.cross_type_reason``'s docs)."""
    for account in (Account50, Account42):
        if letter is None and account is Account42:
            continue  # 4.2 has no Time In Force refusal
        v = Venue(account)
        fields = fault if isinstance(fault, dict) else {}
        if callable(fault):
            fault(v)
        if account is Account50:
            msg50 = dataclasses.replace(enter50(1, OFFER), cross_type="C", **fields)
            assert v.acct.handle(msg50) == [v50.Rejected(1, 1, reason, "X")]
        else:
            names = {"symbol": "stock", "side": "buy_sell_indicator", "quantity": "shares"}
            fields42 = {names.get(k, k): val for k, val in fields.items()}
            msg42 = dataclasses.replace(_enter42("T", "C"), **fields42)
            assert v.acct.handle(msg42) == [v42.Rejected(1, "T", letter)]
        assert list(v.engine.resting_orders()) == []
