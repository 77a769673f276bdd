"""OUCH 5.0's Quantity and Price limits have one table, ``tickwire.ouch.v50.MAX_QUANTITY``
and ``MAX_PRICE``: pre-trade risk re-exports them (``MAX_OUCH_QUANTITY``,
``MAX_OUCH_PRICE``), the reference venue reads them and the compiled venue is given them,
so the two venues and risk cannot drift apart. Both venues accept an order at each limit
and reject one past it; no engine, exchange or bench source restates the limits as literals (nor the OUCH and
exchange sources OUCH's "less than 1,000,000" as a bound)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tickwire.engine import cbook, risk
from tickwire.engine.backtest.venue import SimulatedVenue, compiled_venue
from tickwire.engine.book import BookManager
from tickwire.itch import AddOrder, SystemEvent
from tickwire.ouch import v50

ROOT = Path(__file__).resolve().parents[3]
PX = 1_000_000
LITERAL = re.compile(r"\b(1_?999_?999_?900|999_?999)\b")
#: OUCH's "less than 1,000,000" restated: a bound of 1,000,000 (the exchange's old
#: ``MAX_SHARES = 1_000_000``, OuchHost42's ``shares < 1_000_000``). Only as a bound: a
#: rate or a burst of 1,000,000 (the exchange server's) is no share limit.
SHARES_BOUND = re.compile(r"(<=?|SHARES\s*=)\s*1_?000_?000\b(?!\.)")


def test_risk_reexports_the_one_table() -> None:
    assert (risk.MAX_OUCH_QUANTITY, risk.MAX_OUCH_PRICE) == (v50.MAX_QUANTITY, v50.MAX_PRICE)
    assert (v50.MAX_QUANTITY, v50.MAX_PRICE) == (999_999, 1_999_999_900)


def test_no_source_restates_the_limits() -> None:
    """The engine, exchange and OUCH sources and the bench scripts (``bench/``: its
    config-schema models bound quantities by ``v50.MAX_QUANTITY``) hold no limit literal;
    the exchange and OUCH sources no bound of 1,000,000 (OUCH's wording of the quantity
    limit), which the exchange's ``MAX_SHARES`` and ``OuchHost42``'s check were."""
    found = []
    roots = [ROOT / "packages" / pkg / "src" for pkg in ("engine", "exchange", "ouch")]
    bounded = roots[1:]  # exchange, ouch (the engine's 1_000_000 are nanoseconds)
    for root in [*roots, ROOT / "bench"]:
        for path in sorted(root.rglob("*")):
            if path.suffix not in (".py", ".pyx", ".pxd") or path.name == "v50.py":
                continue
            for n, line in enumerate(path.read_text().splitlines(), 1):
                code = line.split("#")[0]
                if LITERAL.search(code) or (root in bounded and SHARES_BOUND.search(code)):
                    found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert found == []


@pytest.mark.skipif(not cbook.AVAILABLE, reason="compiled extension not built")
@pytest.mark.parametrize(
    ("qty", "price", "accepted"),
    [
        (v50.MAX_QUANTITY, PX, True),
        (v50.MAX_QUANTITY + 1, PX, False),
        (100, v50.MAX_PRICE, True),
        (100, v50.MAX_PRICE + 1, False),
    ],
)
def test_both_venues_take_the_limits_from_the_table(qty: int, price: int, accepted: bool) -> None:
    answers: list[list[v50.OutboundMessage]] = []
    for books in (BookManager(), cbook.make_book_manager("cython")):
        out: list[v50.OutboundMessage] = []
        venue = (SimulatedVenue if isinstance(books, BookManager) else compiled_venue)(
            books, out.append
        )
        t = 34_200_000_000_000
        for msg in (SystemEvent(0, 0, t, "Q"), AddOrder(7, 0, t, 1, "S", 100, "TEST", PX)):
            venue.on_market(msg, t)
            books.apply(msg)
        enter = v50.EnterOrder(
            user_ref_num=1,
            side="B",
            quantity=qty,
            symbol="TEST",
            price=price,
            time_in_force="0",
            display="Y",
            capacity="P",
            intermarket_sweep_eligibility="N",
            cross_type="N",
            cl_ord_id=v50.cl_ord_id_for(1),
        )
        venue.receive(enter, t + 1)
        assert isinstance(out[0], v50.OrderAccepted if accepted else v50.Rejected)
        answers.append(out)
    assert answers[0] == answers[1]
