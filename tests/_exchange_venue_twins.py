"""The simulated exchange and the backtest venue side by side (``Twins``), for the
parity tests (``test_exchange_venue_replace_parity.py``, scenario by scenario, and
``test_exchange_venue_parity_property.py``, random flows).

Each request runs on both: a real ``MatchingEngine`` with an ``Account50`` (someone
else's orders submitted to the engine) and a real ``SimulatedVenue`` over a real
``BookManager`` (the same orders as ITCH Add Orders). The answers must be the same
message types with the same fields, but for the timestamp and the match number, which
each side numbers by itself. Order reference numbers are compared by what they say: each
side's are renumbered in the order they first appear in its answers (0 stays 0), so a
fresh number on one side must be a fresh number on the other, at the same place.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from tickwire.engine.backtest.venue import SimulatedVenue
from tickwire.engine.book import BookManager
from tickwire.exchange import MatchingEngine
from tickwire.exchange.accounts import Account50
from tickwire.itch import AddOrder, StockTradingAction, SystemEvent
from tickwire.ouch import v50

SYM = "AAPL"
BID = 1_400_000
ASK = 1_500_000
#: Fields each side numbers by itself (not compared).
OWN_NUMBERS = {"timestamp", "match_number"}
#: Compared renumbered: the n-th distinct number a side answers is n (0 stays 0).
ORDER_REF = "order_reference_number"


class Twins:
    """The exchange's account and the backtest venue, given the same market and orders."""

    def __init__(self) -> None:
        self.t = 34_200_000_000_000
        self.engine = MatchingEngine(lambda m: None, lambda f: self.acct.on_fill(f), self.ts)
        self.acct_sent: list[object] = []
        self.acct = Account50("TW", self.engine, self.acct_sent.append, deadline_clock=self.ts)
        self.books = BookManager()
        self.venue_out: list[v50.OutboundMessage] = []
        # each side's order reference numbers, renumbered by first appearance (_plain)
        self.acct_refs: dict[int, int] = {}
        self.venue_refs: dict[int, int] = {}
        self.venue = SimulatedVenue(self.books, self.venue_out.append)
        self.locate = self.engine.add_instrument(SYM)
        self.feed_ref = 1000
        self.system("Q")
        self.offer(100, ASK)

    def ts(self) -> int:
        self.t += 1_000
        return self.t

    def _feed(self, msg: Any) -> None:
        self.venue.on_market(msg, msg.timestamp)
        self.books.apply(msg)

    def system(self, code: str) -> None:
        self.engine.system(code)
        self._feed(SystemEvent(0, 0, self.ts(), code))

    def trading_state(self, state: str) -> None:
        self.engine.set_trading_state(SYM, state)
        self._feed(StockTradingAction(self.locate, 0, self.ts(), SYM, state, " ", ""))

    def offer(self, shares: int, price: int) -> None:
        """Someone else's sell order, resting on both."""
        self.other("S", shares, price)

    def bid(self, shares: int, price: int) -> None:
        """Someone else's buy order, resting on both."""
        self.other("B", shares, price)

    def other(self, side: str, shares: int, price: int) -> None:
        """Someone else's order: submitted to the engine, an ITCH Add Order to the venue
        (what crosses our resting orders fills them on both; the caller keeps it from
        crossing someone else's, which the feed would never show resting)."""
        self.engine.submit(SYM, side, shares, price)
        self.feed_ref += 1
        self._feed(AddOrder(self.locate, 0, self.ts(), self.feed_ref, side, shares, SYM, price))

    def wait(self, seconds: int) -> None:
        """Let ``seconds`` pass with nothing happening, then each side expires what is
        due: the exchange's timer (``Account50.expire``), the backtest loop's wake
        (``SimulatedVenue.expire``); the caller compares what they sent
        (:meth:`unsolicited`)."""
        self.t += seconds * 1_000_000_000
        self.acct.expire()
        self.venue.expire(self.ts())

    def send(self, msg: v50.InboundMessage) -> list[tuple[str, dict[str, Any]]]:
        """Both answers to ``msg``, compared; returns them (without their own numbers)."""
        self.venue_out.clear()
        exchange = plain(self.acct.handle(msg) + self.acct_sent, self.acct_refs)
        self.acct_sent.clear()
        self.venue.receive(msg, self.ts())
        assert exchange == plain(self.venue_out, self.venue_refs), msg
        self.venue_out.clear()
        return exchange

    def unsolicited(self) -> list[tuple[str, dict[str, Any]]]:
        """What both sent by themselves since the last request (e.g. at the close), compared."""
        exchange = plain(self.acct_sent, self.acct_refs)
        venue = plain(self.venue_out, self.venue_refs)
        self.acct_sent.clear()
        self.venue_out.clear()
        assert exchange == venue
        return exchange


def plain(msgs: list[Any], refs: dict[int, int]) -> list[tuple[str, dict[str, Any]]]:
    """Each message as its type name and fields, without :data:`OWN_NUMBERS`, its order
    reference number renumbered in ``refs`` (the side's numbers so far)."""
    out = []
    for m in msgs:
        fields = {k: v for k, v in dataclasses.asdict(m).items() if k not in OWN_NUMBERS}
        if fields.get(ORDER_REF):
            fields[ORDER_REF] = refs.setdefault(fields[ORDER_REF], len(refs) + 1)
        out.append((type(m).__name__, fields))
    return out


def enter(
    ref: int,
    price: int = BID,
    qty: int = 100,
    tif: str = "0",
    appendages: Any = (),
    side: str = "B",
) -> v50.EnterOrder:
    return v50.EnterOrder(
        ref, side, qty, SYM, price, tif, "Y", "P", "N", "N", f"C{ref}", appendages
    )


def replace(
    orig: int, ref: int, qty: int = 100, price: int = BID, tif: str = "0", appendages: Any = ()
) -> v50.ReplaceOrder:
    return v50.ReplaceOrder(orig, ref, qty, price, tif, "Y", "N", f"C{ref}", appendages)


def types(answer: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [name for name, _ in answer]
