"""OUCH 5.0's Quantity and Price limits have one table, ``tickwire.ouch.v50.MAX_QUANTITY``
and ``MAX_PRICE``: pre-trade risk re-exports them (``MAX_OUCH_QUANTITY``,
``MAX_OUCH_PRICE``), the reference venue reads them and the compiled venue is given them,
so the two venues and risk cannot drift apart. Both venues accept an order at each limit
and reject one past it; no engine, exchange or bench source restates the limits as literals."""

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


def test_risk_reexports_the_one_table() -> None:
    assert (risk.MAX_OUCH_QUANTITY, risk.MAX_OUCH_PRICE) == (v50.MAX_QUANTITY, v50.MAX_PRICE)
    assert (v50.MAX_QUANTITY, v50.MAX_PRICE) == (999_999, 1_999_999_900)


def test_no_source_restates_the_limits() -> None:
    """The engine, exchange and OUCH sources and the bench scripts (``bench/``: its
    config-schema models bound quantities by ``v50.MAX_QUANTITY``) hold no limit literal."""
    found = []
    roots = [ROOT / "packages" / pkg / "src" for pkg in ("engine", "exchange", "ouch")]
    for root in [*roots, ROOT / "bench"]:
        for path in sorted(root.rglob("*")):
            if path.suffix not in (".py", ".pyx", ".pxd") or path.name == "v50.py":
                continue
            for n, line in enumerate(path.read_text().splitlines(), 1):
                if LITERAL.search(line.split("#")[0]):
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
