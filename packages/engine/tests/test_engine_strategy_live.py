"""The same strategy class live: OUCH 5.0 over a real SoupBinTCP session on loopback,
against the simulated venue serving as the exchange."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import pytest
from tickwire.engine.backtest.venue import SimulatedVenue
from tickwire.engine.book import BookManager
from tickwire.engine.risk import RiskLimits
from tickwire.engine.strategy import BookUpdate, MarketMaker, OrderState, OrderUpdate, Strategy
from tickwire.engine.strategy.live import LiveRunner, wall_clock_ns
from tickwire.itch import Message
from tickwire.itch.generator import generate_day
from tickwire.ouch import v50
from tickwire.soupbintcp.aio import SoupClient, SoupServerRunner
from tickwire.soupbintcp.session import ClientSession, ServerConnection, SoupServer


async def _session(
    strategy: Strategy | None = None,
) -> tuple[LiveRunner, SimulatedVenue, list[v50.OutboundMessage]]:
    vbooks = BookManager()
    answers: list[v50.OutboundMessage] = []
    server: SoupServerRunner | None = None

    def respond(msg: v50.OutboundMessage) -> None:
        answers.append(msg)
        assert server is not None
        server.publish(v50.encode(msg))  # sequenced, the way OUCH answers

    venue = SimulatedVenue(vbooks, respond)

    def on_order(conn: ServerConnection, data: bytes) -> None:
        venue.receive(v50.decode_inbound(data), venue.now)

    server = SoupServerRunner(SoupServer({"TW": "SECRET"}, session="TWLIVE0001"), on_order)
    port = await server.start("127.0.0.1", 0)
    runner: LiveRunner | None = None

    def to_runner(m: object) -> None:
        assert runner is not None
        runner.on_ouch(m.data)  # type: ignore[attr-defined]

    client = SoupClient(
        ClientSession("TW", "SECRET"), "127.0.0.1", port, reconnect=False, on_message=to_runner
    )
    await client.connect(timeout=5)
    if strategy is None:
        strategy = MarketMaker({"max_symbols": 3, "requote_ns": 0})
    runner = LiveRunner(strategy, client.send, limits=RiskLimits(max_position=1_000))

    async def feed() -> AsyncIterator[Message]:
        for i, msg in enumerate(generate_day(6_000, 6, 2)):
            venue.on_market(msg, msg.timestamp)  # the exchange sees it first
            vbooks.apply(msg)
            yield msg
            if i % 50 == 0:
                await asyncio.sleep(0.001)  # let the session carry orders and answers

    try:
        await asyncio.wait_for(runner.run(feed(), settle=0.5), timeout=60)
    finally:
        await client.close()
        await server.close()
    return runner, venue, answers


def test_engine_strategy_live_over_soupbintcp() -> None:
    runner, venue, answers = asyncio.run(_session())
    sent = runner.sent
    assert any(isinstance(m, v50.EnterOrder) for m in sent)
    assert any(isinstance(m, v50.ReplaceOrder) for m in sent)
    # Every order that left got its answer over the session: nothing is left pending.
    orders = runner.manager.orders.values()
    assert all(
        o.state is not OrderState.PENDING for o in orders if o.state is not OrderState.REFUSED
    )
    # What the strategy believes it filled is exactly what the venue filled.
    filled_at_venue: dict[int, int] = {}
    for f in venue.fills:
        filled_at_venue[f.user_ref_num] = filled_at_venue.get(f.user_ref_num, 0) + f.quantity
    assert {o.user_ref_num: o.filled_qty for o in orders if o.filled_qty} == filled_at_venue
    assert len(answers) >= len(sent)


class _OneGtt(Strategy):
    """On its first two-sided book, one GTT buy 1% below the bid, ExpireTime 2 seconds."""

    def __init__(self) -> None:
        super().__init__()
        self.updates: list[OrderUpdate] = []

    async def on_book(self, update: BookUpdate) -> None:
        assert self.ctx is not None
        bid, ask = update.bbo.bid_price, update.bbo.ask_price
        if self.updates or self.ctx.orders.orders or bid is None or ask is None:
            return
        price = (bid - bid // 100) // 100 * 100
        self.ctx.orders.submit(update.symbol, "B", 100, price, "6", expire_time=2)

    async def on_order_update(self, update: OrderUpdate) -> None:
        self.updates.append(update)


def test_live_a_gtt_order_carries_its_expire_time_and_ends_t() -> None:
    """Live, ``submit(..., "6", expire_time=2)`` goes out over SoupBinTCP as an Enter
    with the ExpireTime appendage (OUCH 5.0's codec), the venue accepts it (repeating
    the appendage) and cancels it 2 seconds later, reason ``T``; the order manager
    (its tracker) takes both answers and the order ends done. Before, risk refused it."""
    strategy = _OneGtt()
    runner, _, answers = asyncio.run(_session(strategy))
    expire = (v50.TagValue(v50.OptionTag.EXPIRE_TIME, 2),)
    (enter,) = [m for m in runner.sent if isinstance(m, v50.EnterOrder)]
    assert enter.time_in_force == "6" and enter.appendages == expire
    accepted = [m for m in answers if isinstance(m, v50.OrderAccepted)]
    assert [a.appendages for a in accepted] == [expire]
    (canceled,) = [m for m in answers if isinstance(m, v50.OrderCanceled)]
    assert canceled.reason == v50.CANCELED_TIMEOUT and canceled.quantity == 100
    assert canceled.timestamp >= accepted[0].timestamp + 2_000_000_000
    assert [(u.kind, u.reason) for u in strategy.updates] == [("accepted", ""), ("cancelled", "T")]
    (order,) = runner.manager.orders.values()
    assert order.state is OrderState.DONE and order.expire_time == 2


def test_engine_strategy_wall_clock() -> None:
    t = wall_clock_ns()
    assert 0 <= t < 86_400 * 1_000_000_000


def test_engine_strategy_live_risk_windows_survive_midnight() -> None:
    """The throttle runs on a monotonic clock: an order after local midnight is not
    refused because the one before it was sent at 23:59:58 (time since midnight wraps)."""
    wall = [86_398 * 1_000_000_000]  # 23:59:58 local time
    runner = LiveRunner(
        MarketMaker(),
        lambda data: None,
        limits=RiskLimits(throttle_orders=1, throttle_window_ns=1_000_000),  # 1 per ms
        clock=lambda: wall[0],
    )
    first = runner.manager.submit("AAPL", "B", 100, 1_000_000)
    time.sleep(0.005)  # 5 ms of monotonic time
    wall[0] = 1_000_000_000  # 00:00:01 the next day
    second = runner.manager.submit("AAPL", "B", 100, 1_000_100)
    assert first.state is OrderState.PENDING
    assert second.state is OrderState.PENDING, second.reason
    assert runner.risk.refusals == {}


def test_live_strategy_log_goes_to_the_logger_and_what_is_kept_is_bounded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A day's session kept every ctx.log line and every OUCH message sent in lists that
    nobody read: the lines now go to the tickwire.engine.strategy logger and only the last
    LOG_KEPT lines and SENT_KEPT messages stay."""
    from tickwire.engine.strategy import live

    sent_bytes: list[bytes] = []
    runner = live.LiveRunner(MarketMaker(), sent_bytes.append, limits=RiskLimits())
    with caplog.at_level(logging.INFO, logger="tickwire.engine.strategy"):
        for i in range(live.LOG_KEPT + 50):
            runner.ctx.log(f"line {i}")
    assert runner.log.lines == live.LOG_KEPT + 50
    assert [r.split(" ", 1)[1] for r in runner.log.recent] == [
        f"line {i}" for i in range(50, live.LOG_KEPT + 50)
    ]
    logged = [r.getMessage() for r in caplog.records if r.name == "tickwire.engine.strategy"]
    assert len(logged) == live.LOG_KEPT + 50 and logged[0].endswith(" line 0")
    for i in range(live.SENT_KEPT + 5):
        runner._send(v50.CancelOrder(user_ref_num=i + 1, quantity=0))
    assert len(runner.sent) == live.SENT_KEPT and runner.sent[0].user_ref_num == 6
    assert len(sent_bytes) == live.SENT_KEPT + 5  # every one left


def test_sys_exit_in_a_live_callback_is_a_strategy_error() -> None:
    """``sys.exit(0)`` in a live callback left the event loop as a ``SystemExit``, past
    the engine's shutdown (kill switch, cancels), and ``engine live`` ended with exit 0:
    the runner now raises a StrategyError naming the strategy, as a backtest does."""
    import sys

    from tickwire.engine.strategy import Strategy, StrategyError

    class Quitter(Strategy):
        async def on_book(self, update: object) -> None:
            sys.exit(0)

    runner = LiveRunner(Quitter(), lambda data: None, limits=RiskLimits())

    async def feed() -> AsyncIterator[Message]:
        for msg in generate_day(2_000, 3, 1):
            yield msg

    with pytest.raises(StrategyError, match=r"Quitter raised SystemExit\(0\) in a callback"):
        asyncio.run(asyncio.wait_for(runner.run(feed(), settle=0.0), timeout=60))


def _run_bad_orders(
    caplog: pytest.LogCaptureFixture, orders: list[tuple[object, ...]]
) -> tuple[list[tuple[str, str]], int, list[bytes], LiveRunner, list[str]]:
    """A live session whose strategy sends ``ctx.orders.submit(*args)`` for each of
    ``orders``, one per book update: (its order updates, its book updates, the bytes
    sent, the runner, the order manager's log lines)."""
    from tickwire.engine.strategy import Strategy

    class Bad(Strategy):
        def __init__(self) -> None:
            super().__init__()
            self.books = 0
            self.updates: list[tuple[str, str]] = []

        async def on_book(self, update: object) -> None:
            self.books += 1
            if self.books <= len(orders):
                assert self.ctx is not None
                self.ctx.orders.submit(*orders[self.books - 1])  # type: ignore[arg-type]

        async def on_order_update(self, update: OrderUpdate) -> None:
            self.updates.append((update.kind, update.reason))

    strategy = Bad()
    wire: list[bytes] = []
    runner = LiveRunner(strategy, wire.append, limits=RiskLimits())
    day = list(generate_day(2_000, 3, 1))

    async def feed() -> AsyncIterator[Message]:
        for msg in day:
            yield msg

    with caplog.at_level(logging.WARNING, logger="tickwire.engine.orders"):
        asyncio.run(asyncio.wait_for(runner.run(feed(), settle=0.0), timeout=60))
    logged = [r.getMessage() for r in caplog.records if r.name == "tickwire.engine.orders"]
    return strategy.updates, strategy.books, wire, runner, logged


def test_live_an_order_of_a_symbol_not_a_str_is_refused_logged_and_the_session_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An order whose symbol or side is not a ``str`` (None, an int, bytes, a list, a
    dict) is refused by risk (``invalid``), the strategy is told, the session goes on to
    the end of the feed, and one WARNING per order names what it was given: the strategy
    was told, but the session's log said nothing."""
    bad: list[tuple[object, object]] = [
        (None, "B"),
        (42, "B"),
        (b"AAPL", "B"),
        (["AAPL"], "B"),
        ({"AAPL": 1}, "B"),
        ("AAPL", None),
        ("AAPL", ["B"]),
    ]
    updates, books, _, _, logged = _run_bad_orders(
        caplog, [(symbol, side, 100, 10_000) for symbol, side in bad]
    )
    assert updates == [("refused", "invalid")] * len(bad)
    assert books > len(bad)  # it went on
    assert len(logged) == len(bad)
    assert logged[0] == (
        "order 1 refused by risk (invalid): symbol None, side 'B', quantity 100, price 10000, "
        "time in force '0'"
    )
    assert "symbol ['AAPL']" in logged[3] and "side ['B']" in logged[6]


def test_live_an_order_of_a_bad_time_in_force_is_refused_logged_and_nothing_is_sent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An order whose Time In Force is not OUCH 5.0's (``Q``, empty, the ``int`` 5) or is
    GTT without an ExpireTime (``expire_time``) is refused by risk (``invalid``) before it leaves,
    as in a backtest: nothing is sent, the strategy is told, the WARNING names the value.
    Before, each went out on the wire (the int as ``"5"``)."""
    bad: list[object] = ["Q", "", 5, "6"]
    updates, _, wire, runner, logged = _run_bad_orders(
        caplog, [("AAPL", "B", 100, 10_000, tif) for tif in bad]
    )
    assert updates == [("refused", "invalid")] * len(bad)
    assert wire == [] and len(runner.sent) == 0
    assert [line.rsplit(", ", 1)[1] for line in logged] == [
        "time in force 'Q'",
        "time in force ''",
        "time in force 5",
        "time in force '6'",
    ]
