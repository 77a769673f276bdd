"""The engine's order manager and the OUCH client book replace an order on the same terms.

An Order Accepted may name a Time In Force "equal to or shorter in scope" than entered
(OUCH 5.0 section 3), and a Replace Order carries its own Time In Force and appendages
(section 2.2). Both layers keep what the venue holds, by the one rule
``tickwire.ouch.v50.answered_terms``: each is sent the same Enter, hears the same Order
Accepted, then replaces the price alone, and the Replace Orders must carry the same Time
In Force and ExpireTime. Before, the manager kept the accepted terms and the book the
terms it sent (a GTX order accepted as Day was replaced as Day by one, as GTX by the
other).
"""

from __future__ import annotations

import pytest
from tickwire.engine.risk import RiskEngine, RiskLimits
from tickwire.engine.strategy import OrderManager
from tickwire.ouch import v50
from tickwire.ouch.orders import OrderBook50

PX = 1_000_000


def _expire(seconds: int) -> tuple[v50.TagValue, ...]:
    return (v50.TagValue(v50.OptionTag.EXPIRE_TIME, seconds),)


# (Time In Force sent, its ExpireTime), (the answer's Time In Force, appendages repeated)
CASES: dict[str, tuple[tuple[str, int | None], tuple[str, tuple[v50.TagValue, ...]]]] = {
    "gtx_accepted_as_day": (("5", None), ("0", ())),
    "gtt_accepted_shorter": (("6", 300), ("6", _expire(60))),
    "gtt_repeating_none": (("6", 300), ("6", ())),
    "gtt_accepted_as_day": (("6", 300), ("0", ())),
    "day_accepted_as_after_hours": (("0", None), ("E", ())),
    "day_accepted_as_gtx_wider": (("0", None), ("5", ())),
    "gtt_accepted_longer_wider": (("6", 60), ("6", _expire(300))),
    "as_sent": (("6", 30), ("6", _expire(30))),
}


def _accepted(enter: v50.EnterOrder, tif: str, apps: tuple[v50.TagValue, ...]) -> v50.OrderAccepted:
    return v50.OrderAccepted(1, enter.user_ref_num, enter.side, enter.quantity, enter.symbol,
                             enter.price, tif, enter.display, 7, enter.capacity,
                             enter.intermarket_sweep_eligibility, enter.cross_type, "L",
                             enter.cl_ord_id, apps)  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_the_manager_and_the_book_replace_on_the_terms_the_venue_holds(case: str) -> None:
    (tif, expire), (answer_tif, answer_apps) = CASES[case]
    sent: list[v50.InboundMessage] = []
    m = OrderManager(sent.append, RiskEngine(RiskLimits()), lambda: 7)
    o = m.submit("AAPL", "B", 100, PX, tif, expire_time=expire)
    enter = sent[-1]
    assert isinstance(enter, v50.EnterOrder)
    m.on_message(_accepted(enter, answer_tif, answer_apps))
    wider = case.endswith("_wider")
    assert m.risk.armed is not wider  # a wider answer trips the kill switch
    m.risk.arm()  # (the operator's re-arming: the replace then goes out)
    assert m.replace(o, price=PX - 100) is not None
    by_manager = sent[-1]

    book = OrderBook50()
    mine = book.enter("B", 100, "AAPL", PX, time_in_force=tif, capacity=enter.capacity,
                      appendages=enter.appendages)  # fmt: skip
    book.on_message(_accepted(mine, answer_tif, answer_apps))
    by_book = book.replace(mine.user_ref_num, 100, PX - 100)

    assert isinstance(by_manager, v50.ReplaceOrder)
    got = [(r.time_in_force, v50.expire_time(r.appendages)) for r in (by_manager, by_book)]
    assert got[0] == got[1], case
    want = (
        (tif, expire) if wider else tuple(v50.answered_terms(tif, expire, answer_tif, answer_apps))
    )
    assert got[0] == want
