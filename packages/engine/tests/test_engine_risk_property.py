"""Pre-trade risk against a real venue: the simulated exchange's matching engine behind an
OUCH 5.0 account, every message through the wire codec, answers and executions racing
the strategy's messages. Whatever the strategy does and however the messages interleave,
the venue never holds a position, an order or a notional past a configured limit.

The harness is deliberately literal: two FIFO queues stand for one OUCH session (requests
to the venue, answers to the strategy), the test decides when each side reads its queue,
and other participants' orders go straight into the matching engine, where they trade with
ours while our answers are still in flight.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tickwire.engine.risk import RiskEngine, RiskLimits
from tickwire.engine.strategy import OrderManager, OrderState
from tickwire.engine.strategy.orders import Order
from tickwire.exchange import Account50, MatchingEngine
from tickwire.exchange.matching import Fill
from tickwire.ouch import v50

PX = 10_000  # $1.0000
SYMBOLS = ("AAPL", "MSFT", "GME")


class Session:
    """One OUCH 5.0 session between an order manager (with risk) and the exchange."""

    def __init__(self, limits: RiskLimits) -> None:
        self.limits = limits
        self.t = 1
        self.engine = MatchingEngine(lambda m: None, self._on_fill, lambda: self.t)
        self.engine.system("Q")
        for s in SYMBOLS:
            self.engine.add_instrument(s)
        self.to_venue: deque[bytes] = deque()
        self.to_strategy: deque[bytes] = deque()
        self.account = Account50("risk", self.engine, send=self._answer)
        self.risk = RiskEngine(limits)
        for s in SYMBOLS:
            self.risk.set_reference(s, PX)
        self.manager = OrderManager(self._request, self.risk, lambda: self.t)

    def _on_fill(self, fill: Fill) -> None:
        if fill.owner is self.account:
            self.account.on_fill(fill)

    def _request(self, msg: v50.InboundMessage) -> None:
        self.to_venue.append(v50.encode(msg))

    def _answer(self, msg: object) -> None:
        self.to_strategy.append(v50.encode(msg))  # type: ignore[arg-type]

    # -- the two ends of the session -------------------------------------------------
    def venue_reads(self, n: int = 1) -> None:
        """The exchange processes up to ``n`` requests (its answers are queued)."""
        for _ in range(n):
            if not self.to_venue:
                return
            self.t += 1
            for out in self.account.handle(v50.decode_inbound(self.to_venue.popleft())):
                self._answer(out)
            self.check_venue()

    def strategy_reads(self, n: int = 1) -> None:
        """The order manager takes up to ``n`` answers."""
        for _ in range(n):
            if not self.to_strategy:
                return
            self.t += 1
            self.manager.on_message(v50.decode_outbound(self.to_strategy.popleft()))

    def flow(self, symbol: str, side: str, shares: int, price: int) -> None:
        """Another participant's order: it may trade with ours at once."""
        self.t += 1
        self.engine.submit(symbol, side, shares, price)
        self.check_venue()

    def settle(self) -> None:
        while self.to_venue or self.to_strategy:
            self.venue_reads(len(self.to_venue))
            self.strategy_reads(len(self.to_strategy))

    # -- what the venue holds ----------------------------------------------------------
    def check_venue(self) -> None:
        """Every configured limit, measured on the exchange's side."""
        lim = self.limits
        resting = [o for o in self.engine.resting_orders() if o.owner is self.account]
        ledger = self.account.ledger
        for sym in SYMBOLS:
            pos = ledger.positions.get(sym, 0)
            buys = sum(o.shares for o in resting if o.symbol == sym and o.side == "B")
            sells = sum(o.shares for o in resting if o.symbol == sym and o.side == "S")
            max_pos = lim.position_limit(sym)
            if max_pos is not None:
                assert pos + buys <= max_pos, (sym, pos, buys)
                assert pos - sells >= -max_pos, (sym, pos, sells)
        for rec in self.account.records.values():
            if rec.state == "rejected":
                continue
            assert rec.symbol not in lim.restricted
            if lim.max_order_qty is not None:
                assert rec.quantity <= lim.max_order_qty
            if lim.max_order_notional is not None:
                assert rec.quantity * rec.price <= lim.max_order_notional
        if lim.credit_limit is not None:
            open_notional = sum(o.shares * o.price for o in resting)
            assert ledger.executed_notional + open_notional <= lim.credit_limit
        if lim.max_open_orders is not None:
            assert len(resting) <= lim.max_open_orders


# -- the cases, one by one ----------------------------------------------------------


def test_engine_risk_venue_replace_below_the_executed_counts_the_original_until_answered() -> None:
    """Buy 100, 50 filled in flight, a replace to 10 in flight (the chain's total is
    below what executed): until the venue answers, the original counts in full, so a new
    buy 50 is refused; the venue's answer is a dead Order Replaced (OUCH 5.0: a valid
    replace with nothing left to expose; the exchange and the backtest venue alike), which
    ends the chain at the 50 executed, and only then does a buy 50 fit. (The exchange
    used to answer Rejected and keep the original; risk counted it so, and does here.)"""
    s = Session(RiskLimits(max_position=100))
    o = s.manager.submit("AAPL", "B", 100, PX)
    s.settle()
    assert o.state is OrderState.LIVE
    s.flow("AAPL", "S", 50, PX)  # executes 50 of ours; the Executed is in flight
    new = s.manager.replace(o, quantity=10)
    assert new is not None and new.state is OrderState.PENDING
    early = s.manager.submit("AAPL", "B", 50, PX - 1)  # the original may still fill in full
    assert early.state is OrderState.REFUSED and early.reason == "max_position"
    s.venue_reads()  # 10 - 50 executed < 1: Order Replaced, 0 shares, dead
    s.strategy_reads(2)  # Executed 50, then the dead Order Replaced
    assert new.state is OrderState.DONE and o.state is OrderState.DONE
    assert o.open_qty == 0 and new.open_qty == 0 and s.risk.open_orders() == 0
    assert s.manager.submit("AAPL", "B", 51, PX + 1).state is OrderState.REFUSED
    more = s.manager.submit("AAPL", "B", 50, PX + 1)
    assert more.state is OrderState.PENDING
    s.settle()
    s.flow("AAPL", "S", 500, PX - 100)  # everything of ours that rests fills
    assert s.account.ledger.positions["AAPL"] == 100


def test_engine_risk_venue_replace_down_counts_the_original_until_replaced() -> None:
    """While a replace down is in flight the original can still fill in full: a new
    order sent before the venue's answer must count the original's size."""
    s = Session(RiskLimits(max_position=100))
    o = s.manager.submit("AAPL", "B", 100, PX)
    s.settle()
    new = s.manager.replace(o, quantity=10)
    assert new is not None
    more = s.manager.submit("AAPL", "B", 90, PX - 1)
    assert more.state is OrderState.REFUSED and more.reason == "max_position"
    s.flow("AAPL", "S", 100, PX)  # the original fills in full before the replace lands
    s.settle()
    assert s.account.ledger.positions["AAPL"] == 100
    assert new.state is OrderState.DONE  # the replace was silently ignored by the venue
    assert s.risk.open_orders() == 0


def test_engine_risk_venue_replace_accepted_frees_the_difference() -> None:
    """Once the venue says the replace happened, only the new size counts."""
    s = Session(RiskLimits(max_position=100))
    o = s.manager.submit("AAPL", "B", 100, PX)
    s.settle()
    new = s.manager.replace(o, quantity=10)
    assert new is not None
    s.settle()
    assert new.state is OrderState.LIVE and new.open_qty == 10
    more = s.manager.submit("AAPL", "B", 90, PX - 1)
    assert more.state is OrderState.PENDING
    assert s.manager.submit("AAPL", "B", 1, PX - 2).state is OrderState.REFUSED


def test_engine_risk_venue_pending_cancel_keeps_exposure() -> None:
    """A cancel frees nothing until the venue confirms it."""
    s = Session(RiskLimits(max_position=100))
    o = s.manager.submit("AAPL", "B", 100, PX)
    s.settle()
    assert s.manager.cancel(o)
    assert s.manager.submit("AAPL", "B", 100, PX - 1).state is OrderState.REFUSED
    s.settle()
    assert o.state is OrderState.DONE
    assert s.manager.submit("AAPL", "B", 100, PX - 1).state is OrderState.PENDING


def test_engine_risk_venue_padded_symbol_is_the_same_symbol() -> None:
    """``"AAPL "`` goes on the wire as ``AAPL``: it counts against AAPL's limit, and a
    restricted symbol cannot be reached by padding it."""
    s = Session(RiskLimits(position_limits={"AAPL": 100}, restricted=frozenset({"GME"})))
    a = s.manager.submit("AAPL", "B", 100, PX)
    padded = s.manager.submit("AAPL ", "B", 100, PX)
    assert a.state is OrderState.PENDING
    assert padded.state is OrderState.REFUSED and padded.reason == "max_position"
    gme = s.manager.submit("GME     ", "B", 1, PX)
    assert gme.state is OrderState.REFUSED and gme.reason == "restricted"
    s.settle()
    assert [r.symbol for r in s.account.records.values()] == ["AAPL"]


# -- the property --------------------------------------------------------------------------

LIMITS = RiskLimits(
    max_order_qty=100,
    max_order_notional=100 * (PX + 5),
    credit_limit=1_000 * PX,
    max_position=100,
    position_limits={"MSFT": 150},
    restricted=frozenset({"GME"}),
    max_open_orders=5,
)

# Few prices and round sizes, so orders cross, limits are reached and replaces race fills.
_price = st.integers(PX - 3, PX + 3)
_qty = st.one_of(st.sampled_from([10, 50, 100]), st.integers(1, 120))
_request = st.one_of(
    st.tuples(
        st.just("submit"),
        st.sampled_from(["AAPL", "AAPL", "MSFT", "GME", "AAPL  "]),
        st.sampled_from("BS"),
        _qty,
        _price,
    ),
    # A strategy that takes all the room risk gives it: the largest size that passes.
    st.tuples(st.just("greedy"), st.sampled_from(["AAPL", "MSFT"]), st.sampled_from("BS"), _price),
    st.tuples(st.just("replace"), st.integers(0, 20), st.one_of(st.none(), _price), _qty),
    st.tuples(st.just("cancel"), st.integers(0, 20), st.sampled_from([0, 0, 10, 50])),
)
_event = st.one_of(
    st.tuples(st.just("callback"), st.lists(_request, min_size=1, max_size=4)),
    st.tuples(st.just("venue"), st.integers(1, 4)),
    st.tuples(st.just("answers"), st.integers(1, 4)),
    st.tuples(
        st.just("flow"),
        st.sampled_from(["AAPL", "MSFT"]),
        st.sampled_from("BS"),
        st.integers(1, 400),
        st.integers(PX - 10, PX + 10),
    ),
    st.tuples(st.just("halt"), st.sampled_from(["AAPL", "MSFT"]), st.booleans()),
)


def _run(session: Session, script: list[tuple[Any, ...]]) -> None:
    m = session.manager
    for event in script:
        kind = event[0]
        if kind == "callback":  # several requests in one strategy callback
            for req in event[1]:
                open_orders: list[Order] = m.open_orders()
                if req[0] == "submit":
                    m.submit(*req[1:])
                elif req[0] == "greedy":
                    _, sym, side, price = req
                    for qty in (100, 50, 20, 10, 1):
                        if m.submit(sym, side, qty, price).state is not OrderState.REFUSED:
                            break
                elif req[0] == "replace" and open_orders:
                    _, pick, price, qty = req
                    m.replace(open_orders[pick % len(open_orders)], price=price, quantity=qty)
                elif req[0] == "cancel" and open_orders:
                    _, pick, remaining = req
                    m.cancel(open_orders[pick % len(open_orders)], remaining)
        elif kind == "venue":
            session.venue_reads(event[1])
        elif kind == "answers":
            session.strategy_reads(event[1])
        elif kind == "flow":
            session.flow(*event[1:])
        else:
            session.engine.set_trading_state(event[1], "T" if event[2] else "H")
    session.engine.set_trading_state("AAPL", "T")
    session.engine.set_trading_state("MSFT", "T")
    session.settle()
    # Everything answered: risk's view is exactly the venue's.
    session.check_venue()
    resting = [o for o in session.engine.resting_orders() if o.owner is session.account]
    assert session.risk.open_orders() == len(resting)
    assert session.risk.ledger.positions == session.account.ledger.positions


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(_event, min_size=5, max_size=60))
def test_engine_risk_venue_never_breaks_a_limit(script: list[tuple[Any, ...]]) -> None:
    """Random strategies (submit, replace up and down, cancel, several requests per
    callback) racing fills, rejects and halts: after every step the venue is within
    every limit, and once all answers are in, risk's view equals the venue's."""
    _run(Session(LIMITS), script)


def test_engine_risk_venue_cancel_sizes_are_integers() -> None:
    """A cancel passes no risk check, so its size is checked where it is made."""
    s = Session(RiskLimits())
    o = s.manager.submit("AAPL", "B", 100, PX)
    s.settle()
    for remaining in (True, 1.0, "1", -1, 1_000_000):
        with pytest.raises(ValueError, match="remaining"):
            s.manager.cancel(o, remaining)
    assert not s.to_venue
    s.settle()
    assert o.open_qty == 100


def test_engine_risk_venue_answers_for_unknown_orders_are_counted() -> None:
    """An answer naming an order this manager never sent changes nothing, visibly."""
    s = Session(RiskLimits())
    m = s.manager
    m.on_message(v50.OrderExecuted(5, 777, 100, PX, "A", 1))
    m.on_message(v50.OrderCanceled(5, 778, 100, "U"))
    m.on_message(v50.Rejected(5, 779, 0x13, "X"))
    assert m.unknown_answers == 3
    assert s.risk.ledger.positions == {} and m.orders == {}
