"""The strategy API and the OUCH 5.0 order manager."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tickwire.engine import cbook
from tickwire.engine.backtest import BacktestConfig, run_backtest
from tickwire.engine.risk import RiskEngine, RiskLimits
from tickwire.engine.strategy import (
    BookUpdate,
    Consumes,
    Context,
    MarketMaker,
    OrderManager,
    OrderState,
    OrderUpdate,
    Strategy,
    StrategyError,
    ThresholdTaker,
    TimerEvent,
    UserRefNumsExhausted,
)
from tickwire.engine.strategy.live import LiveRunner
from tickwire.itch import AddOrder, Message, OrderExecuted, StockDirectory, SystemEvent
from tickwire.ouch import v50

_NEEDS_CORE = pytest.mark.skipif(not cbook.AVAILABLE, reason=str(cbook.UNAVAILABLE_REASON))

PX = 1_000_000


def manager(**limits: Any) -> tuple[OrderManager, list[v50.InboundMessage], list[OrderUpdate]]:
    sent: list[v50.InboundMessage] = []
    updates: list[OrderUpdate] = []
    risk = RiskEngine(RiskLimits(**limits))
    m = OrderManager(
        sent.append, risk, lambda: 123, first_user_ref_num=41, on_update=updates.append
    )
    return m, sent, updates


def test_engine_strategy_enter_order_is_real_ouch() -> None:
    m, sent, _ = manager()
    a = m.submit("AAPL", "B", 100, PX)
    b = m.submit("AAPL", "S", 50, PX + 100, v50.TimeInForce.IOC)
    assert (a.user_ref_num, b.user_ref_num) == (41, 42)  # strictly increasing
    msg = sent[0]
    assert isinstance(msg, v50.EnterOrder)
    assert (msg.side, msg.quantity, msg.symbol, msg.price, msg.time_in_force) == (
        "B",
        100,
        "AAPL",
        PX,
        "0",
    )
    assert (msg.display, msg.capacity, msg.intermarket_sweep_eligibility, msg.cross_type) == (
        "Y",
        "P",
        "N",
        "N",
    )
    assert msg.cl_ord_id == v50.cl_ord_id_for(41)
    wire = v50.encode(msg)
    assert wire[0:1] == b"O" and v50.decode_inbound(wire) == msg
    assert isinstance(sent[1], v50.EnterOrder) and sent[1].time_in_force == "3"


def _accept(m: OrderManager, ref: int, qty: int) -> None:
    o = m.orders[ref]
    m.on_message(
        v50.OrderAccepted(
            timestamp=1,
            user_ref_num=ref,
            side=o.side,
            quantity=qty,
            symbol=o.symbol,
            price=o.price,
            time_in_force=o.time_in_force,
            display="Y",
            order_reference_number=9000 + ref,
            capacity="P",
            intermarket_sweep_eligibility="N",
            cross_type="N",
            order_state="L",
            cl_ord_id=o.cl_ord_id,
        )
    )


def test_engine_strategy_replace_carries_chain_liability() -> None:
    m, sent, updates = manager()
    o = m.submit("AAPL", "B", 500, PX)
    _accept(m, o.user_ref_num, 500)
    m.on_message(
        v50.OrderExecuted(
            timestamp=2,
            user_ref_num=o.user_ref_num,
            quantity=100,
            price=PX,
            liquidity_flag="A",
            match_number=1,
        )
    )
    assert (o.open_qty, o.filled_qty, o.state) == (400, 100, OrderState.LIVE)
    new = m.replace(o, price=PX - 100, quantity=400)
    assert new is not None and new.user_ref_num == o.user_ref_num + 1
    rep = sent[-1]
    assert isinstance(rep, v50.ReplaceOrder)
    # OUCH 5.0: total shares liable for the chain = 100 executed + 400 open.
    assert (rep.orig_user_ref_num, rep.user_ref_num, rep.quantity, rep.price) == (
        o.user_ref_num,
        new.user_ref_num,
        500,
        PX - 100,
    )
    assert m.replace(o, price=PX - 200) is None  # a replace is already in flight
    m.on_message(
        v50.OrderReplaced(
            timestamp=3,
            orig_user_ref_num=o.user_ref_num,
            user_ref_num=new.user_ref_num,
            side="B",
            quantity=400,
            symbol="AAPL",
            price=PX - 100,
            time_in_force="0",
            display="Y",
            order_reference_number=1,
            capacity="P",
            intermarket_sweep_eligibility="N",
            cross_type="N",
            order_state="L",
            cl_ord_id=new.cl_ord_id,
        )
    )
    assert o.state is OrderState.DONE and new.state is OrderState.LIVE and new.open_qty == 400
    assert [u.kind for u in updates] == ["accepted", "executed", "replaced"]
    assert m.risk.ledger.positions["AAPL"] == 100


def test_engine_strategy_cancel_passes_the_kill_switch() -> None:
    m, sent, updates = manager()
    o = m.submit("AAPL", "B", 100, PX)
    _accept(m, o.user_ref_num, 100)
    m.risk.kill()
    refused = m.submit("AAPL", "B", 100, PX)
    assert refused.state is OrderState.REFUSED and refused.reason == "kill_switch"
    assert updates[-1].kind == "refused" and updates[-1].reason == "kill_switch"
    assert (
        m.replace(o, price=PX - 100) is not None
        and m.orders[o.user_ref_num + 2].state is OrderState.REFUSED
    )
    n_sent = len(sent)
    assert m.cancel(o)
    cancel = sent[-1]
    assert len(sent) == n_sent + 1 and isinstance(cancel, v50.CancelOrder) and cancel.quantity == 0
    assert not m.cancel(o)  # already pending: not sent twice
    m.on_message(
        v50.OrderCanceled(timestamp=5, user_ref_num=o.user_ref_num, quantity=100, reason="U")
    )
    assert o.state is OrderState.DONE and m.open_orders() == []
    assert dict(m.risk.refusals) == {"kill_switch": 2}


def test_engine_strategy_user_ref_nums_exhausted_refuses_and_can_still_cancel() -> None:
    sent: list[v50.InboundMessage] = []
    updates: list[OrderUpdate] = []
    last = 2**32 - 1
    m = OrderManager(
        sent.append,
        RiskEngine(RiskLimits()),
        lambda: 5,
        first_user_ref_num=last,
        on_update=updates.append,
    )
    o = m.submit("AAPL", "B", 100, PX)
    assert o.user_ref_num == last and len(sent) == 1
    _accept(m, last, 100)
    more = m.submit("AAPL", "S", 100, PX + 100)  # raised OverflowError before
    assert more.state is OrderState.REFUSED and more.reason == "user_ref_num_exhausted"
    assert more.user_ref_num == 0 and 0 not in m.orders
    assert updates[-1].kind == "refused" and updates[-1].reason == "user_ref_num_exhausted"
    new = m.replace(o, price=PX - 100)
    assert new is not None and new.state is OrderState.REFUSED and new.user_ref_num == 0
    assert o.state is OrderState.LIVE and o.replaced_by is None  # the original stands
    assert len(sent) == 1 and m.sent == 1 and m.refused == 2
    assert dict(m.risk.refusals) == {"user_ref_num_exhausted": 2}
    assert m.cancel(o) and isinstance(sent[-1], v50.CancelOrder)
    # the backtest's mode: running out is a configuration error
    strict = OrderManager(
        sent.append,
        RiskEngine(RiskLimits()),
        lambda: 5,
        first_user_ref_num=last,
        on_refs_exhausted="raise",
    )
    strict.submit("AAPL", "B", 100, PX)
    # its own type (an OverflowError), so the backtest names the key for it alone
    with pytest.raises(UserRefNumsExhausted, match="UserRefNum space exhausted"):
        strict.submit("AAPL", "B", 100, PX)
    assert issubclass(UserRefNumsExhausted, OverflowError)


def test_engine_strategy_rejected_by_venue() -> None:
    m, _, updates = manager()
    o = m.submit("AAPL", "B", 100, PX)
    m.on_message(
        v50.Rejected(timestamp=1, user_ref_num=o.user_ref_num, reason=0x17, cl_ord_id=o.cl_ord_id)
    )
    assert o.state is OrderState.REJECTED and updates[-1].kind == "rejected"
    assert m.risk.open_orders() == 0


# -- strategies in a backtest ---------------------------------------------------------------

T0 = 34_200_000_000_000


def flow() -> list[Message]:
    return [
        SystemEvent(0, 0, T0, "Q"),
        AddOrder(1, 0, T0 + 1_000, 1, "B", 300, "ABC", PX - 100),
        AddOrder(1, 0, T0 + 2_000, 2, "S", 200, "ABC", PX),
        AddOrder(1, 0, T0 + 3_000_000, 3, "S", 100, "ABC", PX + 100),
        OrderExecuted(1, 0, T0 + 4_000_000, 1, 300, 5),
        AddOrder(1, 0, T0 + 9_000_000, 4, "B", 100, "ABC", PX - 200),
    ]


def directory_flow() -> list[Message]:
    """flow() with ABC's Stock Directory first: a symbol the compiled core can route
    (declared ``book="bbo"``, its BBO changes reach on_book from C)."""
    first, *rest = flow()
    abc = StockDirectory(
        1, 0, T0, "ABC", "Q", "N", 100, "N", "C", "Z", "P", "N", "N", "1", "N", 0, "N"
    )
    return [first, abc, *rest]


class Recorder(Strategy):
    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.events: list[tuple[str, Any]] = []
        self.sent = False

    async def on_start(self, ctx: Context) -> None:
        await super().on_start(ctx)
        ctx.set_timer(T0 + 5_000_000, "late")

    async def on_book(self, update: BookUpdate) -> None:
        assert self.ctx is not None
        self.events.append(("book", (update.timestamp, self.ctx.now(), update.bbo.ask_price)))
        if not self.sent and update.bbo.ask_price == PX:
            self.sent = True
            self.ctx.orders.submit("ABC", "B", 250, PX, v50.TimeInForce.IOC)  # 200 available
            self.ctx.orders.submit("ABC", "B", 1, PX + 10**6)  # outside the collar: refused

    async def on_order_update(self, update: OrderUpdate) -> None:
        assert self.ctx is not None
        self.events.append((update.kind, (update.quantity, update.reason, self.ctx.now())))

    async def on_timer(self, timer: TimerEvent) -> None:
        self.events.append(("timer", timer.timestamp))


def test_engine_strategy_events_in_simulated_time() -> None:
    s = Recorder()
    cfg = BacktestConfig(
        feed_latency="constant:1000", order_latency="constant:5000", ack_latency="constant:7000"
    )
    res = run_backtest(s, flow(), limits=RiskLimits(price_collar_bps=1000), config=cfg)
    kinds = [k for k, _ in s.events]
    assert kinds.count("book") == 5
    # The strategy sees each message one feed latency after the exchange did.
    book_times = [v for k, v in s.events if k == "book"]
    assert all(seen == ts + 1_000 for ts, seen, _ in book_times)
    refused = next(v for k, v in s.events if k == "refused")
    assert refused[1] == "price_collar" and refused[2] == T0 + 3_000  # synchronous, no latency
    # accepted, executed 200, IOC remainder cancelled: 1 + 5 + 7 us after the trigger.
    acc = next(v for k, v in s.events if k == "accepted")
    ex = next(v for k, v in s.events if k == "executed")
    cx = next(v for k, v in s.events if k == "cancelled")
    assert acc[2] == ex[2] == cx[2] == T0 + 2_000 + 1_000 + 5_000 + 7_000
    assert (ex[0], cx[0], cx[1]) == (200, 50, "I")
    assert ("timer", T0 + 5_000_000) in s.events
    assert res.fills[0].timestamp == T0 + 2_000 + 1_000 + 5_000  # at the venue
    assert res.refusals == {"price_collar": 1}


class PaddedPosition(Recorder):
    """Asks for its position with the symbol padded as on the wire."""

    async def on_order_update(self, update: OrderUpdate) -> None:
        assert self.ctx is not None
        if update.kind == "executed":
            self.events.append(("position", (self.ctx.position("ABC "), self.ctx.position("ABC"))))


def test_engine_strategy_position_of_a_padded_symbol() -> None:
    # The ledger books fills under the wire symbol "ABC"; ctx.position("ABC ") was 0.
    s = PaddedPosition()
    res = run_backtest(s, flow(), limits=RiskLimits(price_collar_bps=1000))
    assert ("position", (200, 200)) in s.events
    assert res.positions == {"ABC": 200} and res.unknown_answers == 0
    live = LiveRunner(s, lambda data: None)
    m = live.manager
    o = m.submit("ABC     ", "S", 300, PX)
    _accept(m, o.user_ref_num, 300)
    m.on_message(
        v50.OrderExecuted(
            timestamp=2,
            user_ref_num=o.user_ref_num,
            quantity=300,
            price=PX,
            liquidity_flag="A",
            match_number=1,
        )
    )
    assert live.ctx.position("ABC     ") == live.ctx.position("ABC") == -300


class Sleeper(Strategy):
    calls = 0

    async def on_book(self, update: BookUpdate) -> None:
        self.calls += 1
        await asyncio.sleep(self.config["delay"])


class BboSleeper(Sleeper):
    consumes = Consumes(book="bbo")  # the compiled core calls on_book from C


class Raiser(Strategy):
    consumes = Consumes(book="bbo")

    async def on_book(self, update: BookUpdate) -> None:
        raise RuntimeError("the strategy's own error")


_BACKENDS = ["reference", pytest.param("compiled", marks=_NEEDS_CORE)]


@pytest.mark.parametrize("backend", _BACKENDS)
@pytest.mark.parametrize("measure", [False, True])
@pytest.mark.parametrize("delay", [0, 0.001])
def test_engine_strategy_suspending_callback_is_an_error(
    delay: float, measure: bool, backend: str
) -> None:
    for strategy in (Sleeper({"delay": delay}), BboSleeper({"delay": delay})):
        with pytest.raises(StrategyError, match="set_timer"):
            run_backtest(strategy, directory_flow(), measure=measure, backend=backend)
        assert strategy.calls == 1  # the first suspension is the error


@pytest.mark.parametrize("backend", _BACKENDS)
@pytest.mark.parametrize("measure", [False, True])
def test_engine_strategy_callback_error_is_the_strategys(measure: bool, backend: str) -> None:
    with pytest.raises(RuntimeError, match="the strategy's own error") as caught:
        run_backtest(Raiser(), directory_flow(), measure=measure, backend=backend)
    assert type(caught.value) is RuntimeError


def test_engine_strategy_examples_reject_unknown_config() -> None:
    with pytest.raises(ValueError, match=r"^strategy\.quote_sise: unknown key$"):
        MarketMaker({"quote_sise": 1})
    with pytest.raises(ValueError, match=r"^strategy\.limt: unknown key$"):
        ThresholdTaker({"limt": 1})
    with pytest.raises(ValueError, match=r"^strategy\.instruments\[0\]\.limit_price: missing$"):
        ThresholdTaker({"instruments": [{"symbol": "X"}]})
    with pytest.raises(ValueError, match=r"^strategy\.instruments\[1\]\.symbol: symbol X repeats$"):
        ThresholdTaker({"instruments": [{"symbol": "X", "limit_price": 1}] * 2})


def test_engine_strategy_taker_threshold_quantity() -> None:
    """The taker's quantity is the threshold rule's: base + step x ticks of improvement."""
    cfg = {
        "instruments": [{"symbol": "ABC", "limit_price": PX + 300}],
        "base_qty": 100,
        "step_qty": 50,
    }
    s = ThresholdTaker(cfg)
    res = run_backtest(s, flow(), limits=RiskLimits())
    sent = [(o["price"], o["quantity"], o["time_in_force"]) for o in res.orders]
    # Sell adds at PX (3 ticks under the limit) and PX + 100 (2 ticks under).
    assert sent == [(PX, 250, "3"), (PX + 100, 200, "3")]


def test_engine_strategy_replace_crossing_an_execution() -> None:
    """An execution of the original in flight with the replace: the venue's Replaced
    carries what is left exposed, and the next replace counts the whole chain."""
    m, sent, _ = manager()
    o = m.submit("AAPL", "B", 500, PX)
    _accept(m, o.user_ref_num, 500)
    new = m.replace(o, price=PX - 100, quantity=500)  # wire: 0 executed + 500
    assert new is not None and isinstance(sent[-1], v50.ReplaceOrder) and sent[-1].quantity == 500
    m.on_message(
        v50.OrderExecuted(
            timestamp=2,
            user_ref_num=o.user_ref_num,
            quantity=200,
            price=PX,
            liquidity_flag="A",
            match_number=1,
        )
    )
    m.on_message(
        v50.OrderReplaced(
            timestamp=3,
            orig_user_ref_num=o.user_ref_num,
            user_ref_num=new.user_ref_num,
            side="B",
            quantity=300,
            symbol="AAPL",
            price=PX - 100,
            time_in_force="0",
            display="Y",
            order_reference_number=2,
            capacity="P",
            intermarket_sweep_eligibility="N",
            cross_type="N",
            order_state="L",
            cl_ord_id=new.cl_ord_id,
        )
    )
    assert (new.open_qty, new.chain_filled, new.state) == (300, 200, OrderState.LIVE)
    again = m.replace(new, price=PX - 200, quantity=300)
    assert again is not None and isinstance(sent[-1], v50.ReplaceOrder)
    assert sent[-1].quantity == 500  # 200 executed on the chain + 300 open


# -- open_orders keeps an index instead of scanning the day's orders -----------------------
_OPS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "submit",
                "accept",
                "accept_dead",
                "execute",
                "cancel",
                "canceled",
                "replace",
                "replaced",
                "cancel_all",
            ]
        ),
        st.integers(0, 30),  # which order (index into the orders sent so far)
        st.integers(1, 300),  # shares
        st.sampled_from(["AAPL", "MSFT"]),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(ops=_OPS)
def test_engine_strategy_open_orders_index_equals_a_full_scan(
    ops: list[tuple[str, int, int, str]],
) -> None:
    """Regression: open_orders() used to scan every order ever sent (the live engine's
    tick-to-trade grew threefold over a run); its index must still give exactly what a full
    scan gives, in the same order, through any sequence of requests and venue answers."""
    m, _, _ = manager(max_open_orders=1000)
    for op, i, qty, sym in ops:
        refs = list(m.orders)
        o = m.orders[refs[i % len(refs)]] if refs else None
        if op == "submit" or o is None:
            m.submit(sym, "B", qty, PX)
        elif op in ("accept", "accept_dead"):
            _accept(m, o.user_ref_num, o.quantity)
            if op == "accept_dead":
                m.on_message(
                    v50.OrderCanceled(
                        timestamp=1, user_ref_num=o.user_ref_num, quantity=o.open_qty, reason="U"
                    )
                )
        elif op == "execute":
            m.on_message(
                v50.OrderExecuted(
                    timestamp=2,
                    user_ref_num=o.user_ref_num,
                    quantity=qty,
                    price=o.price,
                    liquidity_flag="A",
                    match_number=i,
                )
            )
        elif op == "cancel":
            m.cancel(o)
        elif op == "canceled":
            m.on_message(
                v50.OrderCanceled(
                    timestamp=3, user_ref_num=o.user_ref_num, quantity=qty, reason="U"
                )
            )
        elif op == "replace":
            m.replace(o, price=o.price - 100)
        elif op == "replaced" and o.replaces is not None:
            m.on_message(
                v50.OrderReplaced(
                    timestamp=4,
                    orig_user_ref_num=o.replaces,
                    user_ref_num=o.user_ref_num,
                    side=o.side,
                    quantity=o.quantity,
                    symbol=o.symbol,
                    price=o.price,
                    time_in_force=o.time_in_force,
                    display="Y",
                    order_reference_number=7000 + o.user_ref_num,
                    capacity="P",
                    intermarket_sweep_eligibility="N",
                    cross_type="N",
                    order_state="L",
                    cl_ord_id=o.cl_ord_id,
                )
            )
        elif op == "cancel_all":
            m.cancel_all(sym)
        for symbol in (None, "AAPL", "MSFT"):
            full_scan = [x for x in m.orders.values() if x.is_open and symbol in (None, x.symbol)]
            assert m.open_orders(symbol) == full_scan
