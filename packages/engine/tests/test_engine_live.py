"""End to end on loopback: the simulated exchange, the live engine and a strategy.

Real sockets throughout: ITCH 5.0 over MoldUDP64 (UDP) with a re-request server, OUCH 5.0
over SoupBinTCP (TCP) with login.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import socket
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable
from typing import Any

import pytest
from tickwire.engine.backtest.fees import FeeSchedule
from tickwire.engine.live import LiveConfig, LiveEngine, send_command
from tickwire.engine.live.engine import (
    CONTROL_LINE_LIMIT,
    CONTROL_MAX_CLIENTS,
    LOGGED_UNDECODABLE,
    ControlUnanswered,
)
from tickwire.engine.risk import RiskLimits
from tickwire.engine.strategy import MarketMaker, Strategy
from tickwire.engine.strategy.orders import OrderState
from tickwire.engine.strategy.taker import ThresholdTaker
from tickwire.exchange import Exchange, ExchangeConfig, Faults
from tickwire.itch import AddOrder, SystemEvent
from tickwire.itch.generator import generate_day
from tickwire.moldudp64 import DownstreamPacket
from tickwire.moldudp64.aio import run
from tickwire.ouch import v50

STRATEGY = {"max_symbols": 4, "max_position": 3_000, "exit_ticks": 2}


NO_FAULTS = Faults()
FREE = FeeSchedule()


def _config(ex: Exchange, **more: Any) -> LiveConfig:
    """The engine's config against ``ex``: its OUCH port and re-request server, a 5,000
    share position limit, and ``more``."""
    return LiveConfig(
        feed=("127.0.0.1", 0),
        ouch=("127.0.0.1", ex.ouch50_port),
        rerequest=ex.rerequest_address,
        limits=RiskLimits(max_position=5_000),
        **more,
    )


def _maker() -> MarketMaker:
    """The market maker these tests run (three symbols, requoting at once)."""
    return MarketMaker({"max_symbols": 3, "requote_ns": 0, "improve_spread_ticks": 1})


async def _pair(
    faults: Faults = NO_FAULTS,
    control: str | None = None,
    report: str | None = None,
    strategy: Strategy | None = None,
    first_user_ref_num: int = 1,
    fees: FeeSchedule = FREE,
) -> tuple[Exchange, LiveEngine]:
    ex = await Exchange.start(ExchangeConfig(feed_target=("127.0.0.1", 9), faults=faults))
    cfg = _config(
        ex, control=control, report=report, first_user_ref_num=first_user_ref_num, fees=fees
    )
    eng = LiveEngine(strategy if strategy is not None else ThresholdTaker(STRATEGY), cfg)
    await eng.start()
    assert ex.feed is not None
    ex.feed.target = eng.feed_address
    return ex, eng


async def _session(
    faults: Faults = NO_FAULTS,
    messages: int = 4_000,
    report: str | None = None,
    rate: float = 40_000,
    strategy: Strategy | None = None,
    first_user_ref_num: int = 1,
    fees: FeeSchedule = FREE,
    on_ouch: Callable[[bytes], None] | None = None,
) -> tuple[Exchange, LiveEngine, dict[str, Any]]:
    ex, eng = await _pair(
        faults, report=report, strategy=strategy, first_user_ref_num=first_user_ref_num, fees=fees
    )
    if on_ouch is not None:  # sees every OUCH message the engine gets, then passes it on
        deliver = eng.runner.on_ouch

        def tap(data: bytes) -> None:
            on_ouch(data)
            deliver(data)

        eng.runner.on_ouch = tap  # type: ignore[method-assign]
    task = asyncio.create_task(eng.run())
    await ex.run_flow(generate_day(messages, 6, 3), rate=rate)
    await asyncio.sleep(0.3)  # the last answers and recoveries
    assert ex.feed is not None
    await ex.feed.end_session()  # the engine stops at the end of session
    result = await asyncio.wait_for(task, 30)
    await ex.close()
    return ex, eng, result


def _nonzero(d: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in d.items() if v}


def _assert_agree(ex: Exchange, eng: LiveEngine) -> None:
    """Positions, cash and PnL agree between the engine and the exchange."""
    mine = eng.runner.risk.ledger
    theirs = ex.account50.ledger
    assert _nonzero(mine.positions) == _nonzero(theirs.positions)
    assert _nonzero(mine.cash) == _nonzero(theirs.cash)
    assert _nonzero(mine.realised) == _nonzero(theirs.realised)


def _assert_books_equal(ex: Exchange, eng: LiveEngine) -> None:
    books = eng.runner.books.books
    assert len(books) == len(ex.engine.books)
    for locate, book in books.items():
        xb = ex.engine.by_locate[locate]
        assert book.symbol == xb.symbol
        assert book.l2() == xb.l2(), book.symbol


async def _taker_against(handle: Any) -> tuple[asyncio.Server, LiveEngine]:
    """A ``ThresholdTaker`` engine (not started) against a hand-written OUCH exchange:
    ``handle``, an ``asyncio.start_server`` callback, serving on loopback."""
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    cfg = LiveConfig(feed=("127.0.0.1", 0), ouch=("127.0.0.1", port))
    return server, LiveEngine(ThresholdTaker(STRATEGY), cfg)


async def _read_client_packet(reader: asyncio.StreamReader) -> object:
    """One SoupBinTCP packet from the engine, for the hand-written exchanges below."""
    from tickwire.soupbintcp.packets import parse_client_packet

    size = int.from_bytes(await reader.readexactly(2), "big")
    return parse_client_packet(await reader.readexactly(size))


def test_end_to_end_orders_filled_positions_and_pnl_agree() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "report.json")
        ex, eng, report = run(_session(report=path))
        assert os.path.exists(path)
    m = eng.runner.manager
    assert m.sent > 5
    executed = [o for o in m.orders.values() if o.filled_qty]
    assert executed, "some orders were filled"
    assert ex.engine.executions > 0
    _assert_agree(ex, eng)
    # every order the engine sent reached the exchange exactly once, and nothing is open
    sent = sorted(o.user_ref_num for o in m.orders.values() if o.state is not OrderState.REFUSED)
    assert sorted(ex.account50.entered) == sent
    assert not m.open_orders()
    assert report["orders"]["sent"] == m.sent
    assert report["feed"]["end_of_session"]
    assert report["latency_ns"]["count"] >= 1
    _assert_books_equal(ex, eng)


def test_user_ref_nums_running_out_refuses_orders_and_the_session_goes_on() -> None:
    # Three UserRefNums left: the fourth order is refused (it raised OverflowError in the
    # strategy's callback before), counted and reported, and the session runs to its end.
    first = 2**32 - 3
    ex, eng, report = run(_session(first_user_ref_num=first))
    m = eng.runner.manager
    assert m.sent == 3
    assert sorted(ex.account50.entered) == [first, first + 1, first + 2]
    exhausted = report["orders"]["refusals"]["user_ref_num_exhausted"]
    assert exhausted >= 1
    assert m.refused >= exhausted and report["orders"]["refused"] == m.refused
    assert 0 not in m.orders, "an order refused for want of a UserRefNum is not kept"
    assert report["feed"]["end_of_session"]
    assert eng.runner.messages_seen == ex.published
    _assert_agree(ex, eng)


def test_five_percent_feed_loss_books_equal() -> None:
    ex, eng, report = run(
        _session(Faults(feed_loss=0.05, feed_reorder=0.02, feed_delay=0.0002, seed=11))
    )
    assert ex.feed is not None and ex.feed.dropped > 5
    assert report["feed"]["gaps"] > 0 and report["feed"]["messages_requested"] > 0
    assert eng.runner.messages_seen == ex.published
    _assert_books_equal(ex, eng)
    _assert_agree(ex, eng)


def test_ouch_connection_dropped_every_order_known_once() -> None:
    ex, eng, report = run(_session(Faults(drop_ouch_every=3), messages=5_000, rate=10_000))
    assert ex.ouch_drops >= 2
    assert report["ouch"]["connections"] >= 3
    m = eng.runner.manager
    mine = sorted(o.user_ref_num for o in m.orders.values() if o.state is not OrderState.REFUSED)
    theirs = ex.account50.entered
    assert len(theirs) == len(set(theirs)), "no order doubled"
    assert sorted(theirs) == mine, "no order lost"
    # both sides agree on the outcome of every order
    for ref in mine:
        o = m.orders[ref]
        rec = ex.account50.records[ref]
        assert o.filled_qty == rec.executed, ref
        assert o.is_open == (rec.state == "live"), ref
    assert any(o.filled_qty for o in m.orders.values())
    assert report["ouch"]["resent"] > 0
    _assert_agree(ex, eng)


async def _kill_scenario(tmp: str) -> tuple[Exchange, LiveEngine, dict[str, Any], int]:
    control = os.path.join(tmp, "ctl.sock")
    ex, eng = await _pair(control=control)
    task = asyncio.create_task(eng.run())
    day = generate_day(1_500, 4, 5)  # books and limits; the market stays open
    ex.replay(m for m in day if not (isinstance(m, SystemEvent) and m.event_code in "MEC"))
    await asyncio.sleep(0.3)
    before = eng.runner.manager.sent
    answer = await send_command(control, "kill")  # from "another process": the socket
    assert answer["ok"] and answer["armed"] is False
    # a trigger for every symbol the strategy watches: a sell at its limit
    strat = eng.strategy
    assert isinstance(strat, ThresholdTaker) and strat.limits

    async def trigger_every_symbol() -> None:
        seen = eng.runner.messages_seen
        for sym, limit in strat.limits.items():
            ex.engine.submit(sym, "S", 100, limit)
        ex.flush()
        while eng.runner.messages_seen < seen + len(strat.limits):
            await asyncio.sleep(0.01)

    await trigger_every_symbol()
    after_kill = eng.runner.manager.sent - before
    before = eng.runner.manager.sent
    status = await send_command(control, "arm")
    assert status["armed"] is True
    await trigger_every_symbol()
    after_arm = eng.runner.manager.sent - before
    await send_command(control, "stop")
    report = await asyncio.wait_for(task, 10)
    await ex.close()
    return ex, eng, report, after_kill, after_arm


def test_kill_switch_stops_new_orders_within_one_message() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        _ex, eng, report, after_kill, after_arm = run(_kill_scenario(tmp))
    assert after_kill == 0, "no order after the kill switch"
    refused = report["orders"]["refusals"]
    assert refused.get("kill_switch", 0) >= 1
    assert eng.runner.orders_after_kill == 0
    # re-armed, the same triggers send orders again (each within its own message)
    assert after_arm >= 1


def test_matching_price_time_priority() -> None:
    from tickwire.exchange import MatchingEngine

    out: list[object] = []
    fills: list[Any] = []
    eng = MatchingEngine(out.append, fills.append, lambda: 0)
    eng.system("Q")
    eng.add_instrument("AAPL")
    a, _, _ = eng.submit("AAPL", "S", 100, 1_000_000, owner="x")
    b, _, _ = eng.submit("AAPL", "S", 100, 1_000_000, owner="y")
    c, _, _ = eng.submit("AAPL", "S", 100, 990_000, owner="z")
    _, done, resting = eng.submit("AAPL", "B", 250, 1_000_000, owner="me")
    assert (done, resting) == (250, 0)
    makers = [f.order_reference_number for f in fills if f.liquidity == "A"]
    assert makers == [c, a, b]  # best price first, then time
    assert [f.price for f in fills if f.liquidity == "R"] == [990_000, 1_000_000, 1_000_000]
    assert eng.orders[b].shares == 50
    adds = [m for m in out if isinstance(m, AddOrder)]
    assert len(adds) == 3  # the taker never shows


def test_market_maker_quotes_replaced_and_hit_by_flow_positions_agree() -> None:
    """Resting quotes, replaces and cancels (OUCH 5.0 Replace and Cancel), filled by the
    background flow as the maker (executions arriving unprompted)."""
    mm = _maker()
    ex, eng, report = run(_session(messages=5_000, rate=20_000, strategy=mm))
    states = report["orders"]["states"]
    assert states.get("done", 0) > 0
    replaced = [o for o in eng.runner.manager.orders.values() if o.replaces is not None]
    assert replaced, "some quotes were replaced"
    assert any(o.filled_qty for o in eng.runner.manager.orders.values())
    assert not eng.runner.manager.open_orders()  # cancelled at shutdown, answers seen
    assert not [o for o in ex.engine.resting_orders() if o.owner is ex.account50]
    _assert_agree(ex, eng)


def test_live_fees_charge_every_execution_as_the_schedule_says() -> None:
    """``LiveConfig.fees`` (``[fees]`` of ``live --config``) charges each execution the
    venue reports by its liquidity flag, as a backtest charges its fills: the report's
    ``fees`` is the schedule over the OUCH Order Executed messages the engine received,
    and its ``pnl`` is net of them (issue #18: the live engine ignored ``[fees]``)."""
    fees = FeeSchedule(remove_per_share=30, add_per_share=-20)
    executions: list[v50.OrderExecuted] = []

    def tap(data: bytes) -> None:
        msg = v50.decode_outbound(data)
        if isinstance(msg, v50.OrderExecuted):
            executions.append(msg)

    mm = _maker()
    ex, eng, report = run(
        _session(messages=5_000, rate=20_000, strategy=mm, fees=fees, on_ouch=tap)
    )
    assert executions, "the maker's quotes were hit"
    removed = sum(e.quantity * 30 for e in executions if e.liquidity_flag == "R")
    added = sum(e.quantity * -20 for e in executions if e.liquidity_flag == "A")
    assert added < 0
    assert report["fees"] == {
        "schedule": {"remove_per_share": 30, "add_per_share": -20, "add_hidden_per_share": 0},
        "total_e4": removed + added,
        "removed_e4": removed,
        "added_e4": added,
        "unknown_flag_fills": 0,
    }
    gross = eng.runner.risk.ledger.total_pnl()
    assert report["pnl_gross"] == gross and report["pnl"] == gross - (removed + added)
    _assert_agree(ex, eng)  # fees change the money reported, never the trading


def test_a_pinned_feed_session_holds_against_packets_nobody_published() -> None:
    """Sent to the engine's feed port mid-session: a packet of another session, an end of
    session below what was delivered and a heartbeat with an absurd sequence number. The
    engine keeps its feed (pinned with ``feed_session``), sends no request for the absurd
    number, and stops only at the real end of session, with books equal to the exchange's."""

    async def main() -> tuple[Exchange, LiveEngine, dict[str, Any], bool]:
        ex = await Exchange.start(ExchangeConfig(feed_target=("127.0.0.1", 9)))
        session = ex.config.feed_session
        cfg = _config(ex, feed_session=session)
        eng = LiveEngine(ThresholdTaker(STRATEGY), cfg)
        await eng.start()
        assert ex.feed is not None
        ex.feed.target = eng.feed_address
        task = asyncio.create_task(eng.run())
        flow = asyncio.create_task(ex.run_flow(generate_day(4_000, 6, 3), rate=20_000))
        for _ in range(2_000):
            if eng.runner.messages_seen >= 500:
                break
            await asyncio.sleep(0.005)
        hostile = (
            DownstreamPacket("STRAY00001", 1, (b"x",)).build(),
            DownstreamPacket.end_of_session_packet(session, 1).build(),
            DownstreamPacket.heartbeat(session, 2**62).build(),
        )
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for data in hostile:
                sock.sendto(data, eng.feed_address)
        await flow
        await asyncio.sleep(0.3)
        survived = not task.done()  # the stale end of session did not end it
        await ex.feed.end_session()
        report = await asyncio.wait_for(task, 30)
        await ex.close()
        return ex, eng, report, survived

    ex, eng, report, survived = run(main())
    assert survived
    feed = report["feed"]
    assert feed["session"] == "TWFEED0001" and feed["end_of_session"]
    refused = feed["refused"]
    assert refused["other_session_packets"] == 1
    assert refused["stale_end_of_session"] == 1
    assert refused["suspect_packets"] == 1 and refused["jumps_confirmed"] == 0
    assert feed["requests"] < 20  # no storm (a handful at most for real loss)
    assert eng.runner.messages_seen == ex.published
    _assert_books_equal(ex, eng)
    _assert_agree(ex, eng)


def test_a_session_change_trips_the_kill_switch() -> None:
    """Two packets of a made-up session sent to an unpinned engine's feed port before the
    feed starts are a session: adopted, their Add Orders booked. When the real feed takes
    over (the made-up one silent for the grace), the books hold both sessions' orders, so
    the engine trips its kill switch, cancels what is open and sends nothing more, and the
    report names the change. The old code traded on, books unlike the exchange's, with
    nothing said but a count of candidate packets."""
    from tickwire.itch import encode

    def stray(seq: int, ref: int) -> bytes:
        add = AddOrder(1, 0, 1, ref, "B", 5_000, "STRAY", 99_990_000)
        return DownstreamPacket("STRAY00001", seq, (encode(add),)).build()

    async def main() -> tuple[Exchange, LiveEngine, dict[str, Any], int]:
        ex, eng = await _pair()
        task = asyncio.create_task(eng.run())
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for seq in (1, 2):
                sock.sendto(stray(seq, 900_000_000 + seq), eng.feed_address)
        await asyncio.sleep(0.05)
        await ex.run_flow(generate_day(4_000, 6, 3), rate=20_000)
        for _ in range(400):  # the real feed is adopted after 5 s of the other's silence
            if eng.session_changes:
                break
            await asyncio.sleep(0.025)
        sent_at_change = eng.runner.manager.sent
        await ex.run_flow(generate_day(4_000, 6, 4), rate=20_000)
        await asyncio.sleep(0.3)
        assert ex.feed is not None
        await ex.feed.end_session()
        report = await asyncio.wait_for(task, 30)
        await ex.close()
        return ex, eng, report, sent_at_change

    _, eng, report, sent_at_change = run(main())
    assert report["feed"]["session_changes"] == ["STRAY00001 -> TWFEED0001"]
    assert report["feed"]["session"] == "TWFEED0001"
    assert not report["armed"] and report["kill_trips"] == 2  # the change, then the stop
    assert eng.runner.manager.sent == sent_at_change  # nothing sent after the change
    assert 900_000_001 in eng.runner.books.orders  # why: the stray orders are in the books


def test_a_resume_past_the_sequence_asked_trips_the_kill_switch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The OUCH connection drops and the exchange accepts the re-login 3 messages past the
    sequence the engine asked for: three answers are lost. The engine resends its
    unanswered Enter, then trips the kill switch and cancels it (the cancel after the
    Enter), logs why, and the report counts the loss. The old engine only counted it
    (ouch.skipped) and traded on, armed. Messages skipped at the first login (2 here:
    before this engine, about none of its orders) are counted, and trip nothing."""
    from tickwire.soupbintcp.packets import (
        LoginAccepted,
        LoginRequest,
        UnsequencedData,
        build_packet,
    )

    async def main() -> tuple[list[object], dict[str, Any], int]:
        seen: list[list[object]] = []  # what each connection received after its login
        first_enter = asyncio.Event()
        second_cancel = asyncio.Event()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            login = await _read_client_packet(reader)
            assert isinstance(login, LoginRequest)
            if login.requested_sequence_number == 0:  # the engine's probe of the history:
                writer.write(build_packet(LoginAccepted("OUCH01", 1)))  # none (fresh)
                with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
                    await _read_client_packet(reader)  # its logout
                writer.close()
                return
            got: list[object] = []
            seen.append(got)
            # the first login resumes 2 messages past the sequence asked, the second 3
            start = login.requested_sequence_number + (3 if len(seen) == 2 else 2)
            writer.write(build_packet(LoginAccepted("OUCH01", start)))
            with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
                while True:
                    packet = await _read_client_packet(reader)
                    if isinstance(packet, UnsequencedData):
                        msg = v50.decode_inbound(packet.message)
                        got.append(msg)
                        if len(seen) == 1 and isinstance(msg, v50.EnterOrder):
                            first_enter.set()
                            break  # the connection drops with the Enter unanswered
                        if isinstance(msg, v50.CancelOrder):
                            second_cancel.set()
            writer.close()

        server, eng = await _taker_against(handle)
        await eng.start()
        try:
            assert eng.runner.risk.armed and eng.snapshot()["ouch"]["skipped"] == 2
            order = eng.runner.manager.submit("AAPL", "B", 100, 1_500_000)
            assert order.state is OrderState.PENDING and eng.runner.risk.armed
            await asyncio.wait_for(first_enter.wait(), 5)
            with contextlib.suppress(TimeoutError):  # the old engine sent no cancel
                await asyncio.wait_for(second_cancel.wait(), 3)
            snap = eng.snapshot()
            trips = eng.kill_trips
        finally:
            await eng.shutdown()
            server.close()
            await server.wait_closed()
        return seen[1], snap, trips

    with caplog.at_level(logging.WARNING, logger="tickwire.engine.live"):
        second, snap, trips = run(main())
    assert snap["armed"] is False and trips == 1
    assert snap["ouch"]["skipped"] == 2 + 3
    # the resent Enter first, then its cancel
    assert [type(m).__name__ for m in second] == ["EnterOrder", "CancelOrder"]
    tripped = [m for m in caplog.messages if "kill switch tripped" in m]
    assert len(tripped) == 1 and "resumed 3 messages past the sequence asked" in tripped[0]


async def _crash(eng: LiveEngine, task: asyncio.Task[dict[str, Any]]) -> None:
    """End ``eng`` as a killed process ends: the OUCH link dies without a logout, nothing
    is cancelled, no report (its open orders stay resting at the exchange). The client
    is closed without a logout, which also stops a reconnect under way (a link the
    exchange dropped just before): ``reconnect = False`` and ``drop()`` did not, and the
    "crashed" engine could log in again and hold the session."""
    assert eng.client is not None
    await eng.client.close(logout=False)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    if eng._task is not None:
        eng._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await eng._task
    assert eng.receiver is not None
    await eng.receiver.close()


async def _account_query(ex: Exchange) -> v50.AccountQueryResponse:
    """Log in to the exchange's OUCH 5.0 session, ask the Account Query, log out (what
    every engine run on a session with history does first: its response stays in the
    session's replay)."""
    from tickwire.soupbintcp.aio import SoupClient
    from tickwire.soupbintcp.session import ClientSession

    client = SoupClient(ClientSession("TW", "SECRET"), "127.0.0.1", ex.ouch50_port, reconnect=False)
    await client.connect()
    client.send(v50.encode(v50.AccountQueryRequest()))
    answer = v50.decode_outbound((await client.receive(5)).data)
    await client.close()
    assert isinstance(answer, v50.AccountQueryResponse)
    return answer


def test_a_restart_on_a_session_with_history_inherits_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Run 1 (a market maker) quotes, is hit, and is killed with quotes resting. Run 2
    logs in to the same OUCH session: the previous run's answers are replayed, the
    exchange's Account Query Response closes them. Run 2 holds the position run 1 left
    (booked from the replayed executions), numbers its orders above run 1's (the
    exchange answers them), cancels the quotes run 1 left resting, and trades on armed.
    The session's replay holds earlier Account Query Responses (an earlier login's, run
    1's own): only the one sequenced after run 2 logged in ends its inheriting.
    The old engine took the replayed executions for orders it did not know and tripped
    its kill switch, and numbered its orders from 1 again (ignored by the exchange)."""

    async def main() -> tuple[Exchange, LiveEngine, dict[str, Any], dict[str, Any]]:
        ex = await Exchange.start(ExchangeConfig(feed_target=("127.0.0.1", 9)))
        assert (await _account_query(ex)).next_user_ref_num == 1  # an earlier login's
        cfg = _config(ex)
        eng1 = LiveEngine(_maker(), cfg)
        await eng1.start()
        assert ex.feed is not None
        ex.feed.target = eng1.feed_address
        task1 = asyncio.create_task(eng1.run())
        day = list(generate_day(8_000, 6, 3))
        await ex.run_flow(day[:4_000], rate=20_000)
        await asyncio.sleep(0.3)
        resting = [o for o in ex.engine.resting_orders() if o.owner is ex.account50]
        assert resting, "run 1 left quotes resting"
        # hit, though maybe flat again: its crossing replaces trade too, and are booked
        assert ex.account50.ledger.executed_notional > 0, "run 1 was hit"
        await _crash(eng1, task1)
        before = {
            "positions": _nonzero(dict(ex.account50.ledger.positions)),
            "last_ref": ex.account50.last_user_ref_num,
            "resting": sorted(int(o.tag) for o in ex.engine.resting_orders()
                              if o.owner is ex.account50),
        }  # fmt: skip
        before["run1"] = eng1.snapshot()
        caplog.clear()
        eng2 = LiveEngine(_maker(), cfg)
        await eng2.start()
        ex.feed.target = eng2.feed_address
        task2 = asyncio.create_task(eng2.run())
        for _ in range(400):
            if eng2.snapshot().get("inherited") is not None:  # (the old engine had none)
                break
            await asyncio.sleep(0.01)
        after = eng2.snapshot()
        await ex.run_flow(day[4_000:], rate=20_000)
        await asyncio.sleep(0.3)
        await ex.feed.end_session()
        report = await asyncio.wait_for(task2, 30)
        await ex.close()
        before["snapshot"] = after
        return ex, eng2, report, before

    with caplog.at_level(logging.INFO, logger="tickwire.engine.live"):
        ex, eng, report, before = run(main())
    at_restart = before["snapshot"]
    # the position run 1 left, booked before run 2 traded, and nothing tripped
    assert at_restart["armed"] and at_restart["kill_trips"] == 0
    assert _nonzero(at_restart["positions"]) == before["positions"]
    assert before["run1"]["inherited"]["orders"] == 0  # run 1 inherited only a response
    inherited = report["inherited"]
    assert inherited["positions"] == before["positions"]
    assert inherited["next_user_ref_num"] == before["last_ref"] + 1
    # run 1's resting quotes were cancelled at the exchange
    assert inherited["cancelled"] == len(before["resting"]) > 0
    for ref in before["resting"]:
        assert ex.account50.records[ref].state == "done", ref
    # run 2's orders: numbered above run 1's, every one reached the exchange and was answered
    m = eng.runner.manager
    own = sorted(
        o.user_ref_num
        for o in m.orders.values()
        if not o.inherited and o.state is not OrderState.REFUSED
    )
    assert own and own[0] > before["last_ref"]
    for ref in set(own) - set(ex.account50.entered):  # only replaces of an order gone
        assert m.orders[ref].reason == "original order no longer live", ref
    assert own[0] in ex.account50.entered
    assert all(m.orders[ref].state is not OrderState.PENDING for ref in own)
    assert report["orders"]["unknown_executions"] == 0
    assert report["orders"]["unknown_answers"] == 0
    assert report["kill_trips"] == 1  # the stop's, only
    assert not m.open_orders()
    _assert_agree(ex, eng)  # position, cash and PnL: the whole day's, both runs
    inherits = [msg for msg in caplog.messages if "inherited" in msg]
    assert len(inherits) == 1


def test_a_fresh_session_inherits_nothing_and_sends_no_query() -> None:
    """Nothing sequenced on the OUCH session yet: the engine sends no Account Query, holds
    nothing, numbers its orders from ``first_user_ref_num`` as before."""
    queries: list[v50.OutboundMessage] = []

    def tap(data: bytes) -> None:
        msg = v50.decode_outbound(data)
        if isinstance(msg, v50.AccountQueryResponse):
            queries.append(msg)

    ex, eng, report = run(_session(on_ouch=tap))
    assert not queries
    assert report["inherited"] is None
    m = eng.runner.manager
    assert min(m.orders) == 1
    assert report["orders"]["refusals"].get("awaiting_account", 0) == 0
    _assert_agree(ex, eng)


def test_a_query_lost_with_the_link_is_asked_again() -> None:
    """A session with history (two answers of a previous run: an Accepted, an execution);
    the connection drops with the engine's Account Query unanswered. On the re-login the
    engine asks again, and the response (sequenced after the replay) ends the inheriting:
    the previous run's order is cancelled, its execution booked, orders released."""
    from tickwire.soupbintcp.packets import (
        LoginAccepted,
        LoginRequest,
        SequencedData,
        UnsequencedData,
        build_packet,
    )

    history = [
        v50.OrderAccepted(1, 4, "B", 300, "AAPL", 1_500_000, "0", "Y", 9, "P", "N", "N", "L",
                          "X", ()),
        v50.OrderExecuted(2, 4, 100, 1_500_000, "A", 7),
    ]  # fmt: skip

    async def main() -> tuple[list[list[str]], dict[str, Any]]:
        stream = [v50.encode(m) for m in history]  # the session's sequenced messages
        seen: list[list[str]] = []  # what each main connection received
        answered = asyncio.Event()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            login = await _read_client_packet(reader)
            assert isinstance(login, LoginRequest)
            asked = login.requested_sequence_number
            start = len(stream) + 1 if asked == 0 else min(asked, len(stream) + 1)
            writer.write(build_packet(LoginAccepted("OUCH01", start)))
            if asked == 0:  # the probe
                with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
                    await _read_client_packet(reader)
                writer.close()
                return
            for data in stream[start - 1 :]:
                writer.write(build_packet(SequencedData(data)))
            got: list[str] = []
            seen.append(got)
            with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
                while True:
                    packet = await _read_client_packet(reader)
                    if not isinstance(packet, UnsequencedData):
                        continue
                    msg = v50.decode_inbound(packet.message)
                    got.append(type(msg).__name__)
                    if isinstance(msg, v50.AccountQueryRequest):
                        if len(seen) == 1:
                            break  # the link drops with the query unanswered
                        data = v50.encode(v50.AccountQueryResponse(3, 5))
                        stream.append(data)
                        writer.write(build_packet(SequencedData(data)))
                        answered.set()
            writer.close()

        server, eng = await _taker_against(handle)
        await eng.start()
        task = asyncio.create_task(eng.run())
        try:
            await asyncio.wait_for(answered.wait(), 5)
            for _ in range(200):
                if eng.inherited is not None:
                    break
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.1)  # the cancel goes out
            snap = eng.snapshot()
        finally:
            eng.stop()
            await asyncio.wait_for(task, 10)
            server.close()
            await server.wait_closed()
        return seen, snap

    seen, snap = run(main())
    assert seen[0] == ["AccountQueryRequest"]
    assert seen[1][:2] == ["AccountQueryRequest", "CancelOrder"]
    assert snap["ouch"]["history"] == 2 and not snap["ouch"]["awaiting_account"]
    assert snap["inherited"]["positions"] == {"AAPL": 100}
    assert snap["inherited"]["cancelled"] == 1 and snap["armed"]
    assert snap["positions"] == {"AAPL": 100}
    assert snap["orders"]["unknown_answers"] == 0


def test_an_unanswered_account_query_is_warned_of_once_and_orders_stay_held(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A session with history whose exchange never answers the Account Query: past
    ``account_alert_after`` one warning says so (once, however long it waits), ``status``
    shows how long it has waited (``ouch.awaiting_account_s``), and orders stay held
    (refused ``awaiting_account``). On the old code nothing was logged and ``status``
    had only the flag."""
    from tickwire.soupbintcp.packets import LoginAccepted, LoginRequest, SequencedData, build_packet

    accepted = v50.OrderAccepted(
        1, 4, "B", 300, "AAPL", 1_500_000, "0", "Y", 9, "P", "N", "N", "L", "X", ()
    )

    async def main() -> tuple[dict[str, Any], dict[str, Any], str | None]:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            login = await _read_client_packet(reader)
            assert isinstance(login, LoginRequest)
            probe = login.requested_sequence_number == 0
            writer.write(build_packet(LoginAccepted("OUCH01", 2 if probe else 1)))
            if not probe:
                writer.write(build_packet(SequencedData(v50.encode(accepted))))
            with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
                while not probe:  # reads the query and never answers it
                    await _read_client_packet(reader)
            writer.close()

        server, eng = await _taker_against(handle)
        eng.account_alert_after = 0.3
        await eng.start()
        task = asyncio.create_task(eng.run())
        try:
            early = eng.snapshot()
            await asyncio.sleep(1.2)  # four times the alert: still one warning
            snap = eng.snapshot()
            refused = eng.runner.manager.submit("AAPL", "B", 100, 1_500_000)
        finally:
            eng.stop()
            await asyncio.wait_for(task, 10)
            server.close()
            await server.wait_closed()
        return early, snap, refused.reason

    with caplog.at_level(logging.WARNING, logger="tickwire.engine.live"):
        early, snap, reason = run(main())
    warned = [r.getMessage() for r in caplog.records if "Account Query" in r.getMessage()]
    assert len(warned) == 1, warned
    assert "not answered the Account Query Request in 0.3 s" in warned[0]
    assert "held" in warned[0]
    assert early["ouch"]["awaiting_account"] and early["ouch"]["awaiting_account_s"] < 0.3
    assert snap["ouch"]["awaiting_account"] and snap["ouch"]["awaiting_account_s"] >= 1.0
    assert reason == "awaiting_account"


class _FailsAfterFills(ThresholdTaker):
    """Trades as the taker does, then raises in on_order_update once it has fills."""

    async def on_order_update(self, update: Any) -> None:
        await super().on_order_update(update)
        if update.kind == "executed":
            raise ValueError("the strategy broke after a fill")


def test_a_strategy_that_fails_still_gets_its_report_and_logout() -> None:
    """A strategy error does not cut the shutdown short: the kill switch, the cancels, the
    logout and the report (with ``strategy_error``) all happen, then the error is raised.
    Before, it went out of the shutdown after the kill switch: no logout, no report."""

    async def main(path: str) -> tuple[Exchange, LiveEngine, BaseException | None]:
        ex, eng = await _pair(report=path, strategy=_FailsAfterFills(STRATEGY))
        task = asyncio.create_task(eng.run())
        flow = asyncio.create_task(ex.run_flow(generate_day(4_000, 6, 3), rate=40_000))
        await asyncio.wait({task, flow}, return_when=asyncio.FIRST_COMPLETED)
        failure = None
        try:
            await asyncio.wait_for(task, 30)
        except ValueError as exc:
            failure = exc
        flow.cancel()
        await asyncio.sleep(0.2)  # the exchange notes the logout
        await ex.close()
        return ex, eng, failure

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "report.json")
        ex, eng, failure = run(main(path))
        assert isinstance(failure, ValueError)
        with open(path) as f:
            report = json.load(f)
    assert report["strategy_error"] == "ValueError: the strategy broke after a fill"
    assert eng.report is not None and eng.report["strategy_error"] == report["strategy_error"]
    assert not report["armed"] and report["orders"]["sent"] > 0
    assert not eng.runner.manager.open_orders()  # cancelled before the logout
    assert any("logout" in r or "logged out" in r for r in ex.ouch50.closed_reasons), list(
        ex.ouch50.closed_reasons
    )
    _assert_agree(ex, eng)


# -- the control socket against its own clients ----------------------------------------
async def _control_engine(tmp: str) -> tuple[Exchange, LiveEngine, str]:
    control = os.path.join(tmp, "ctl.sock")
    ex, eng = await _pair(control=control)
    return ex, eng, control


async def _close(ex: Exchange, eng: LiveEngine) -> None:
    await eng.shutdown()
    await ex.close()


def test_the_control_socket_is_the_owners_only() -> None:
    """Under umask 002 (and 000) the socket was 0775 (0777): anyone in the group (or
    anyone at all) could connect and send ``kill`` or ``stop``."""

    async def go(tmp: str) -> int:
        ex, eng, control = await _control_engine(tmp)
        mode = stat.S_IMODE(os.stat(control).st_mode)
        assert (await send_command(control, "status"))["ok"]  # the owner still can
        await _close(ex, eng)
        return mode

    for umask in (0o002, 0o000):
        old = os.umask(umask)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                mode = run(go(tmp))
        finally:
            os.umask(old)
        assert mode == 0o600, (oct(umask), oct(mode))


def test_control_a_silent_client_is_closed_and_the_kill_switch_still_answers() -> None:
    """A client that connects and sends nothing is closed after ``control_timeout``; on
    the old code it held its task and descriptor for the whole session."""

    async def go(tmp: str) -> None:
        ex, eng, control = await _control_engine(tmp)
        eng.control_timeout = 0.3
        silent = [await asyncio.open_unix_connection(control) for _ in range(5)]
        for reader, _writer in silent:
            assert await asyncio.wait_for(reader.read(), 3) == b""  # closed, unanswered
        answer = await send_command(control, "kill")
        assert answer["ok"] and answer["armed"] is False
        for _reader, writer in silent:
            writer.close()
        await _close(ex, eng)

    with tempfile.TemporaryDirectory() as tmp:
        run(go(tmp))


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_control_connections_beyond_the_cap_evict_the_oldest_silent_one() -> None:
    """At most CONTROL_MAX_CLIENTS connections are held at once: at the cap a new
    connection evicts the oldest silent one (closed at once, unanswered) and is served
    itself, so a loop of silent clients holds a bounded number of descriptors."""

    async def go(tmp: str) -> None:
        ex, eng, control = await _control_engine(tmp)
        eng.control_timeout = 30.0  # the cap, not the timeout, closes the evicted ones
        before = _open_fds()
        held = [await asyncio.open_unix_connection(control) for _ in range(CONTROL_MAX_CLIENTS)]
        await asyncio.sleep(0.1)
        more = [await asyncio.open_unix_connection(control) for _ in range(3)]
        for reader, _writer in held[:3]:  # the three oldest, evicted
            assert await asyncio.wait_for(reader.read(), 3) == b""
        await asyncio.sleep(0.1)
        # this process holds both ends: ours (16 + 3) and the engine's (at most the cap)
        engine_side = _open_fds() - before - (CONTROL_MAX_CLIENTS + 3)
        assert engine_side <= CONTROL_MAX_CLIENTS, engine_side
        reader, writer = more[-1]  # the newest is served
        writer.write(b"status\n")
        assert json.loads(await asyncio.wait_for(reader.read(), 3))["ok"]
        for _reader, w in held + more:
            w.close()
        await asyncio.sleep(0.1)
        assert (await send_command(control, "status"))["ok"]
        await _close(ex, eng)

    with tempfile.TemporaryDirectory() as tmp:
        run(go(tmp))


def test_control_a_kill_is_served_past_silent_clients_at_the_cap() -> None:
    """CONTROL_MAX_CLIENTS connections that say nothing are held open, then a loop keeps
    opening more: ``kill`` (and the other commands) through ``send_command`` are answered
    at once, far under ``control_timeout``, and the kill switch is tripped. On the old
    code the command's connection was closed unanswered (``not an engine's answer``)
    until a silent one timed out, and for good while the loop renewed them."""

    async def go(tmp: str) -> tuple[list[dict[str, Any]], float]:
        ex, eng, control = await _control_engine(tmp)
        eng.control_timeout = 30.0
        held = [await asyncio.open_unix_connection(control) for _ in range(CONTROL_MAX_CLIENTS)]
        await asyncio.sleep(0.1)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        answers = [await send_command(control, "kill", timeout=2.0)]
        took = loop.time() - t0
        assert eng.kill_trips >= 1 and eng.runner.risk.armed is False
        eng.arm()

        async def renew() -> None:  # a loop of `nc -U`: a new silent one every few ms
            mine: list[asyncio.StreamWriter] = []
            try:
                while True:
                    _r, w = await asyncio.open_unix_connection(control)
                    mine.append(w)
                    if len(mine) > 2 * CONTROL_MAX_CLIENTS:
                        mine.pop(0).close()
                    await asyncio.sleep(0.002)
            finally:
                for w in mine:
                    w.close()

        flood = asyncio.create_task(renew())
        await asyncio.sleep(0.2)
        for command in ("status", "kill", "arm", "kill"):
            answers.append(await send_command(control, command, timeout=2.0))
            await asyncio.sleep(0.05)
        flood.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await flood
        for _reader, w in held:
            w.close()
        await _close(ex, eng)
        return answers, took

    with tempfile.TemporaryDirectory() as tmp:
        answers, took = run(go(tmp))
    assert took < 1.0, took
    assert [a["ok"] for a in answers] == [True] * 5
    assert [a["armed"] for a in answers] == [False, True, False, True, False]


def test_control_the_cli_commands_are_served_past_silent_clients_at_the_cap() -> None:
    """The same through the command line (``live --control PATH --command ...``, another
    process): with CONTROL_MAX_CLIENTS silent connections held open, ``kill``, ``status``,
    ``arm`` and ``stop`` each exit 0 with the engine's answer, long before
    ``control_timeout``. On the old code each exited 2 (``live: control socket PATH:
    not an engine's answer: b''``, or ``Connection lost``) while the silent ones were
    held."""

    async def cli(control: str, command: str) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tickwire.engine", "live", "--control", control,
            "--command", command,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode is not None
        return proc.returncode, out.decode(), err.decode()

    async def go(tmp: str) -> tuple[list[tuple[int, str, str]], bool]:
        ex, eng, control = await _control_engine(tmp)
        eng.control_timeout = 120.0  # far above a Python start-up on a busy machine
        held = [await asyncio.open_unix_connection(control) for _ in range(CONTROL_MAX_CLIENTS)]
        await asyncio.sleep(0.1)
        results = [await cli(control, c) for c in ("kill", "status", "arm", "stop")]
        stopping = eng.stopping
        for _reader, w in held:
            w.close()
        await _close(ex, eng)
        return results, stopping

    with tempfile.TemporaryDirectory() as tmp:
        results, stopping = run(go(tmp))
    assert [(code, err) for code, _out, err in results] == [(0, "")] * 4
    answers = [json.loads(out) for _code, out, _err in results]
    assert [a["ok"] for a in answers] == [True] * 4
    assert [a["armed"] for a in answers] == [False, False, True, True]
    assert stopping


def test_control_hangups_and_an_overlong_line_print_no_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A client that hung up without a word, or before the answer, and a line over the
    reader's limit each printed "Unhandled exception in client_connected_cb" and a
    traceback on the engine's stderr (a log line per connection); the long line got no
    answer."""

    async def go(tmp: str) -> bytes:
        ex, eng, control = await _control_engine(tmp)
        for _ in range(3):
            _r, w = await asyncio.open_unix_connection(control)
            w.close()
        _r, w = await asyncio.open_unix_connection(control)
        w.write(b"status\n")
        w.close()  # gone before the answer
        reader, writer = await asyncio.open_unix_connection(control)
        writer.write(b"k" * 70_000 + b"\n")
        await writer.drain()
        answer = await asyncio.wait_for(reader.readline(), 3)
        writer.close()
        await asyncio.sleep(0.2)
        assert (await send_command(control, "status"))["ok"]
        await _close(ex, eng)
        return answer

    with caplog.at_level(logging.ERROR), tempfile.TemporaryDirectory() as tmp:
        answer = run(go(tmp))
    assert json.loads(answer) == {
        "ok": False,
        "error": f"command longer than {CONTROL_LINE_LIMIT} bytes",
        "armed": True,
    }
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_undecodable_feed_messages_are_counted_and_logged_a_few_times(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """500 feed messages of a type no ITCH decoder knows, in packets of the feed's
    session: each is counted (``feed.undecodable``) and only the first
    LOGGED_UNDECODABLE are logged. On the old code each was a warning line (at the
    feed's rate, all day) and the report counted none."""

    async def main() -> tuple[LiveEngine, dict[str, Any]]:
        ex, eng = await _pair()
        task = asyncio.create_task(eng.run())
        session = ex.config.feed_session
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for first in range(1, 501, 100):
                junk = tuple(b"\x01junk" for _ in range(100))
                sock.sendto(DownstreamPacket(session, first, junk).build(), eng.feed_address)
        for _ in range(300):
            if eng.snapshot()["feed"].get("undecodable") == 500:
                break
            await asyncio.sleep(0.01)
        eng.stop()
        report = await asyncio.wait_for(task, 30)
        await ex.close()
        return eng, report

    with caplog.at_level(logging.WARNING, logger="tickwire.engine.live"):
        _eng, report = run(main())
    lines = [r.getMessage() for r in caplog.records if "undecodable ITCH" in r.getMessage()]
    assert report["feed"]["undecodable"] == 500
    assert report["ouch"]["undecodable"] == 0
    assert len(lines) == LOGGED_UNDECODABLE
    assert lines[-1].endswith("(later ones are counted only)")


def test_undecodable_ouch_answers_are_counted_and_the_session_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A hostile OUCH exchange sequences messages no OUCH 5.0 decoder reads: an unknown
    type, an Order Accepted of one byte, an empty message, a short Order Executed. Each
    is counted (``ouch.undecodable``) and logged, the engine stays armed on the same
    connection, and an order it enters afterwards reaches the exchange."""
    from tickwire.soupbintcp.packets import (
        LoginAccepted,
        LoginRequest,
        UnsequencedData,
        build_packet,
        data_packet,
    )

    junk = (b"?junk", b"A", b"", b"E" + bytes(5))

    async def main() -> tuple[dict[str, Any], int, bool]:
        entered = asyncio.Event()
        logins = 0

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal logins
            login = await _read_client_packet(reader)
            assert isinstance(login, LoginRequest)
            writer.write(build_packet(LoginAccepted("OUCH01", 1)))
            if login.requested_sequence_number == 0:  # the engine's probe of the history
                with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
                    await _read_client_packet(reader)  # its logout
                writer.close()
                return
            logins += 1
            writer.write(b"".join(data_packet("S", j) for j in junk))
            with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
                while True:  # until the engine logs out
                    packet = await _read_client_packet(reader)
                    if isinstance(packet, UnsequencedData) and isinstance(
                        v50.decode_inbound(packet.message), v50.EnterOrder
                    ):
                        entered.set()
            writer.close()

        server, eng = await _taker_against(handle)
        await eng.start()
        try:
            for _ in range(300):
                if eng.snapshot()["ouch"]["undecodable"] == len(junk):
                    break
                await asyncio.sleep(0.01)
            eng.runner.manager.submit("AAPL", "B", 100, 1_500_000)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(entered.wait(), 5)
            snap = eng.snapshot()
        finally:
            await eng.shutdown()
            server.close()
            await server.wait_closed()
        return snap, logins, entered.is_set()

    with caplog.at_level(logging.ERROR, logger="tickwire.engine.live"):
        snap, logins, entered = run(main())
    assert snap["ouch"]["undecodable"] == len(junk)
    assert snap["armed"] is True and entered
    assert logins == 1 and snap["ouch"]["connections"] == 1
    lines = [m for m in caplog.messages if m.startswith("undecodable OUCH message")]
    assert len(lines) == min(len(junk), LOGGED_UNDECODABLE)


def test_an_ouch_link_that_cannot_be_restored_trips_the_kill_switch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The OUCH exchange drops the link and closes every connection after (a gateway
    that does not come back): once the client's reconnect tries are used up, the kill
    switch trips, one line says why (INFO: nothing was open), and
    ``ouch.reconnect_failed`` says so. The old
    engine stayed armed: its orders were queued for a resend that never came."""
    from tickwire.soupbintcp.packets import LoginAccepted, LoginRequest, build_packet

    async def main() -> tuple[dict[str, Any], int, int]:
        drop = asyncio.Event()
        opened = 0

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal opened
            opened += 1
            if opened > 2:  # the probe, then the engine's login: every later one closed
                writer.close()
                return
            login = await _read_client_packet(reader)
            assert isinstance(login, LoginRequest)
            writer.write(build_packet(LoginAccepted("OUCH01", 1)))
            with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
                if login.requested_sequence_number == 0:  # the probe of the history
                    await _read_client_packet(reader)  # its logout
                else:
                    await drop.wait()
            writer.close()

        server, eng = await _taker_against(handle)
        await eng.start()
        try:
            assert eng.client is not None and eng.runner.risk.armed
            eng.client.max_reconnect_attempts = 3
            drop.set()
            for _ in range(300):  # bounded: 3 s (the tries wait 0.05, 0.1, 0.2 s)
                if not eng.runner.risk.armed:
                    break
                await asyncio.sleep(0.01)
            snap = eng.snapshot()
            trips = eng.kill_trips
        finally:
            await eng.shutdown()
            server.close()
            await server.wait_closed()
        return snap, trips, opened

    with caplog.at_level(logging.INFO, logger="tickwire.engine.live"):
        snap, trips, opened = run(main())
    assert snap["armed"] is False and trips == 1 and opened == 2 + 3
    assert snap["ouch"]["reconnect_failed"] == "could not reconnect after 3 attempts"
    (line,) = [m for m in caplog.messages if "could not be restored" in m]
    assert "kill switch tripped" in line


def test_a_forged_session_name_reaches_the_log_escaped(caplog: pytest.LogCaptureFixture) -> None:
    """Packets of a session named ESC [ 2 J ESC [ H, then a differing copy of the first:
    the kill-switch warning names the session as a literal. On the old code the control
    characters went to stderr raw (the operator's terminal was cleared)."""
    evil = "\x1b[2J\x1b[H"

    async def main() -> LiveEngine:
        ex, eng = await _pair()
        assert ex.feed is not None
        ex.feed.target = ("127.0.0.1", 9)  # the exchange's heartbeats elsewhere
        task = asyncio.create_task(eng.run())
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for seq, body in ((1, b"\x01a"), (2, b"\x01b"), (1, b"\x01c")):
                sock.sendto(DownstreamPacket(evil, seq, (body,)).build(), eng.feed_address)
                await asyncio.sleep(0.05)
        for _ in range(200):
            if eng.conflicts:
                break
            await asyncio.sleep(0.01)
        eng.stop()
        await asyncio.wait_for(task, 30)
        await ex.close()
        return eng

    with caplog.at_level(logging.WARNING, logger="tickwire.engine.live"):
        eng = run(main())
    assert eng.conflicts == 1 and eng.kill_trips >= 1
    warned = [r.getMessage() for r in caplog.records if "differ from the copies" in r.getMessage()]
    assert len(warned) == 1 and repr(evil) in warned[0] and "\x1b" not in warned[0]


def test_control_a_status_over_64_kib_is_read_whole() -> None:
    """Ten strategy log lines of 10,000 characters make a ``status`` answer of some
    100 KB: ``send_command`` reads it whole. On the old code it raised ValueError
    ("Separator is found, but chunk is longer than limit"): a traceback from ``live
    --command status`` while the session ran on."""

    async def go(tmp: str) -> dict[str, Any]:
        ex, eng, control = await _control_engine(tmp)
        for i in range(10):
            eng.runner.ctx.log(f"{i} " + "x" * 10_000)
        answer = await send_command(control, "status")
        await _close(ex, eng)
        return answer

    with tempfile.TemporaryDirectory() as tmp:
        answer = run(go(tmp))
    assert answer["ok"] and answer["log"]["lines"] == 10
    assert len(answer["log"]["last"]) == 10 and answer["log"]["last"][9].endswith("x" * 10_000)


def _answering(eng: Any) -> int:
    """How many control connections the engine is answering (a count on the old code)."""
    places = eng._control_answering
    return places if isinstance(places, int) else len(places)


async def _answering_every_place(
    eng: Any, control: str
) -> list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """CONTROL_MAX_CLIENTS clients that ask for a status of about 1 MB and do not read it,
    once the engine is answering all of them (its write stuck on their full socket
    buffers); their readers and writers, oldest first."""
    for i in range(10):
        eng.runner.ctx.log(f"{i} " + "x" * 100_000)
    stuck = []
    for _ in range(CONTROL_MAX_CLIENTS):
        reader, writer = await asyncio.open_unix_connection(control)
        writer.write(b"status\n")
        await writer.drain()
        stuck.append((reader, writer))
    for _ in range(100):
        if _answering(eng) == CONTROL_MAX_CLIENTS:
            break
        await asyncio.sleep(0.01)
    return stuck


def test_control_clients_that_do_not_read_their_answer_are_let_go() -> None:
    """CONTROL_MAX_CLIENTS clients ask for a status of about 1 MB and never read it: each
    is let go after ``control_timeout`` (its answer cut, the connection closed), and the
    kill switch answers. Without the timeout on the answer they held every place for the
    whole session."""

    async def go(tmp: str) -> tuple[dict[str, Any], list[bytes], int]:
        ex, eng, control = await _control_engine(tmp)
        eng.control_timeout = 0.3
        stuck = await _answering_every_place(eng, control)
        assert _answering(eng) == CONTROL_MAX_CLIENTS
        await asyncio.sleep(1.0)
        left = _answering(eng)
        got = [await asyncio.wait_for(reader.read(), 3) for reader, _writer in stuck]
        answer = await send_command(control, "kill", timeout=2.0)
        for _reader, writer in stuck:
            writer.close()
        await _close(ex, eng)
        return answer, got, left

    with tempfile.TemporaryDirectory() as tmp:
        answer, got, left = run(go(tmp))
    assert left == 0
    assert all(not data.endswith(b"\n") for data in got)  # cut: the engine let them go
    assert answer["ok"] and answer["armed"] is False


def test_control_a_kill_is_served_past_clients_not_reading_their_answer() -> None:
    """CONTROL_MAX_CLIENTS clients send ``status`` (an answer of about 1 MB, far over a
    socket buffer) and never read it, with the default ``control_timeout``: a ``kill``,
    retried as ``send_command``'s "try again" says, is answered in under a second, the
    oldest stuck client evicted (its answer cut, its connection closed) and the others
    held. On the old code a place being answered was never evicted and the answer's
    write waited on the full buffer: every ``kill`` was closed unanswered until the
    first timed out, about ``control_timeout`` (5 s) later."""

    async def go(tmp: str) -> tuple[dict[str, Any], float, int, bytes]:
        ex, eng, control = await _control_engine(tmp)
        assert eng.control_timeout == 5.0
        stuck = await _answering_every_place(eng, control)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        while True:
            try:
                answer = await send_command(control, "kill", timeout=10.0)
                break
            except ControlUnanswered:
                assert loop.time() - t0 < 15
                await asyncio.sleep(0.05)
        took = loop.time() - t0
        held = _answering(eng)
        oldest = await asyncio.wait_for(stuck[0][0].read(), 3)
        for _reader, writer in stuck:
            writer.close()
        await _close(ex, eng)
        return answer, took, held, oldest

    with tempfile.TemporaryDirectory() as tmp:
        answer, took, held, oldest = run(go(tmp))
    assert answer["ok"] and answer["armed"] is False
    assert took < 1.0, took
    assert held == CONTROL_MAX_CLIENTS - 1
    assert not oldest.endswith(b"\n")  # evicted: its answer cut


def test_live_command_to_an_engine_that_does_not_answer_exits_1() -> None:
    """``live --command`` to an engine reached but not answering (its event loop busy
    for longer than the command's 5 s) says so in one line and exits 1 (the run failed;
    try again), not 2, which is for a usage error (a path where no engine listens, still
    2). It exited 2 when the engine closed the connection unanswered."""

    async def go(tmp: str) -> subprocess.CompletedProcess[str]:
        ex, eng, control = await _control_engine(tmp)
        # run synchronously: the engine's loop (this one) answers nothing meanwhile
        cli = subprocess.run(
            [sys.executable, "-m", "tickwire.engine", "live", "--control", control,
             "--command", "status"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        await _close(ex, eng)
        return cli

    with tempfile.TemporaryDirectory() as tmp:
        cli = run(go(tmp))
        nobody = os.path.join(tmp, "nobody.sock")
        gone = subprocess.run(
            [sys.executable, "-m", "tickwire.engine", "live", "--control", nobody,
             "--command", "status"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert cli.returncode == 1, cli.stderr
    lines = cli.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tickwire-engine live: error: control socket")
    assert "no answer" in lines[0]
    assert gone.returncode == 2 and "is an engine running with it?" in gone.stderr


class _SlowTaker(ThresholdTaker):
    """The taker, 2 ms on each BBO change: slower than the feed (it awaits, so the
    exchange in the same event loop publishes on at its own rate)."""

    async def on_book(self, update: Any) -> None:
        await asyncio.sleep(0.002)
        await super().on_book(update)


def test_a_strategy_behind_the_feed_holds_bounded_memory_and_loses_nothing() -> None:
    """With at most ``feed_queue`` feed events waiting, a strategy slower than the feed
    makes the receiver drop datagrams before it (gaps), requested again: the books still
    end equal to the exchange's. Before, the queue held every datagram it fell behind by."""

    async def main() -> tuple[Exchange, LiveEngine, dict[str, Any]]:
        ex, eng = await _pair(strategy=_SlowTaker(STRATEGY))
        assert eng.receiver is not None
        eng.runner.max_waiting = 50  # (LiveConfig.feed_queue and the receiver's queue,
        eng.receiver.queue_size = 4  # made small for the test)
        waiting = 0
        feed_events = eng.receiver.on_event

        def watch(ev: Any) -> None:  # the most ever waiting, in both queues
            nonlocal waiting
            assert eng.receiver is not None and feed_events is not None
            feed_events(ev)
            waiting = max(waiting, eng.runner._waiting + eng.receiver._queue.qsize())

        eng.receiver.on_event = watch
        task = asyncio.create_task(eng.run())
        await ex.run_flow(generate_day(3_000, 6, 3), rate=40_000)
        for _ in range(300):  # the recoveries (bounded: 30 s)
            await asyncio.sleep(0.1)
            if eng.runner.messages_seen >= ex.published:
                break
        assert ex.feed is not None
        await ex.feed.end_session()
        report = await asyncio.wait_for(task, 60)
        await ex.close()
        assert waiting <= 50 + 4 + 1, waiting
        return ex, eng, report

    ex, eng, report = run(main())
    assert report["feed"]["datagrams_dropped"] > 0 and report["feed"]["gaps"] > 0
    assert eng.runner.messages_seen == ex.published  # every message, once
    _assert_books_equal(ex, eng)


class _OfferThen(Strategy):
    """Offers ``quantity`` AAPL once the market trades and, as soon as the offer is
    accepted, calls ``then(ctx, offer)`` (a replace, a reduce: what the test races)."""

    def __init__(self, quantity: int, then: Callable[[Any, Any], None]) -> None:
        super().__init__()
        self.quantity = quantity
        self.then = then
        self.offer: Any = None

    async def on_instrument_state(self, state: Any) -> None:
        ctx = self.ctx
        assert ctx is not None
        if self.offer is None and ctx.is_trading(state.symbol):
            self.offer = ctx.orders.submit(state.symbol, "S", self.quantity, 1_000_000)

    async def on_order_update(self, update: Any) -> None:
        if update.kind == "accepted" and update.order is self.offer:
            self.then(self.ctx, self.offer)


def test_a_replace_the_venue_ignores_is_not_resent_or_left_unanswered() -> None:
    """The flow takes an offer whole while its Replace is on the wire: the exchange
    ignores the Replace (OUCH 5.0 section 2.2 case 1: the original is gone; no answer
    comes). The engine ends the replacement with the original, forgets the Replace as a
    request waiting for an answer, so a dropped OUCH connection does not resend it, and
    the report says nothing is unanswered. Before, it stayed in ``ouch.unacked`` for the
    session, resent after every reconnect (``ouch.resent``)."""

    async def main() -> tuple[Exchange, LiveEngine, dict[str, Any], Any]:
        holder: list[Exchange] = []
        replacement: list[Any] = []

        def replace_then_take_the_offer(ctx: Any, offer: Any) -> None:
            # the Replace is handed to the session; the flow's buy gets there first
            replacement.append(ctx.orders.replace(offer, price=1_000_100))
            ex = holder[0]
            ex.engine.submit("AAPL", "B", 100, 1_000_000)
            ex.flush()

        strat = _OfferThen(100, replace_then_take_the_offer)
        ex, eng = await _pair(strategy=strat)
        holder.append(ex)
        task = asyncio.create_task(eng.run())
        ex.open_market()
        ex.engine.add_instrument("AAPL")
        ex.flush()
        m = eng.runner.manager
        for _ in range(200):  # the execution, then the replacement ended (bounded: 2 s)
            await asyncio.sleep(0.01)
            if replacement and not replacement[0].is_open:
                break
        assert strat.offer.filled_qty == 100 and replacement[0].state is OrderState.DONE
        assert ex.account50.ignored >= 1, "the exchange ignored the Replace"
        connections = eng.client.connections if eng.client is not None else 0
        ex.drop_ouch()  # a reconnect resends what is still waiting for an answer
        for _ in range(300):  # bounded: 3 s
            await asyncio.sleep(0.01)
            client = eng.client
            if client is not None and client.connections > connections and client.logged_in:
                break
        assert ex.feed is not None
        await ex.feed.end_session()
        report = await asyncio.wait_for(task, 10)
        await ex.close()
        assert m.open_orders() == []
        return ex, eng, report, replacement[0]

    ex, eng, report, replaced = run(main())
    assert report["ouch"]["connections"] >= 2, "the link was dropped and came back"
    assert report["ouch"]["unacked"] == 0, "the ignored Replace is not waiting for an answer"
    assert report["ouch"]["resent"] == 0, "nothing to resend: every request was answered"
    assert replaced.user_ref_num not in ex.account50.records
    assert report["positions"] == {"AAPL": -100}
    _assert_agree(ex, eng)
    _assert_books_equal(ex, eng)


def test_a_cancel_sent_after_a_reduce_is_resent_when_the_link_loses_it() -> None:
    """A reduce (Cancel Order to 100 shares) is answered; the kill switch's cancel of the
    rest left before that answer arrived and is lost with the link (the exchange had not
    read it). The reduce's answer acknowledges the reduce only, so the cancel is resent
    on the re-login and the order ends on both sides. Before, both cancels of the order
    were one entry: the reduce's answer forgot the cancel, it was never resent, and the
    100 shares stayed on the exchange's book after the engine logged out (its shutdown
    does not cancel an order again whose cancel it believes in flight)."""

    async def main() -> tuple[Exchange, LiveEngine, dict[str, Any], _OfferThen]:
        strat = _OfferThen(300, lambda ctx, offer: ctx.orders.cancel(offer, remaining=100))
        ex, eng = await _pair(strategy=strat)
        assert ex.ouch50 is not None
        handle = ex.ouch50.on_message
        assert handle is not None
        killed: list[int] = []

        def reduce_then_kill(conn: Any, data: bytes) -> None:
            handle(conn, data)
            msg = v50.decode_inbound(data)
            if isinstance(msg, v50.CancelOrder) and msg.quantity == 100 and not killed:
                # the reduce is processed and its answer is on its way; the exchange
                # reads nothing more on this link (the kill's cancel waits unread)
                assert ex.ouch50 is not None
                for proto in ex.ouch50.connections:
                    if proto.transport is not None:
                        proto.transport.pause_reading()
                killed.append(eng.kill())  # the operator's kill: cancel the rest

        ex.ouch50.on_message = reduce_then_kill
        task = asyncio.create_task(eng.run())
        ex.open_market()
        ex.engine.add_instrument("AAPL")
        ex.flush()
        for _ in range(300):  # the reduce answered, the kill's cancel unread (bounded: 3 s)
            await asyncio.sleep(0.01)
            if killed and strat.offer.open_qty == 100:
                break
        assert killed == [1] and strat.offer.open_qty == 100
        rec = ex.account50.records[strat.offer.user_ref_num]
        assert (rec.state, rec.open) == ("live", 100), "the exchange has not read the cancel"
        connections = eng.client.connections if eng.client is not None else 0
        ex.drop_ouch()  # the unread cancel is lost with the link
        for _ in range(300):  # the re-login, and what it resends answered (bounded: 3 s)
            await asyncio.sleep(0.01)
            client = eng.client
            back = client is not None and client.connections > connections and client.logged_in
            if back and not strat.offer.is_open:
                break
        assert ex.feed is not None
        await ex.feed.end_session()
        report = await asyncio.wait_for(task, 10)
        await ex.close()
        return ex, eng, report, strat

    ex, eng, report, strat = run(main())
    rec = ex.account50.records[strat.offer.user_ref_num]
    assert (rec.state, rec.open) == ("done", 0), "the exchange cancelled the rest"
    assert not [o for o in ex.engine.resting_orders() if o.owner is ex.account50]
    assert not strat.offer.is_open and report["orders"]["open"] == []
    assert report["ouch"]["resent"] == 1 and report["ouch"]["unacked"] == 0
    _assert_agree(ex, eng)
    _assert_books_equal(ex, eng)


def test_the_ouch_session_ended_by_the_exchange_trips_the_kill_switch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The exchange ends the OUCH session (SoupBinTCP End of Session) mid-day while its
    feed goes on. The engine cannot send or hear anything on it any more: it trips the
    kill switch, so the market maker's next quotes are refused ``kill_switch`` (heard
    and counted) and none is sent, warns naming what is left open, and the report has
    ``ouch.session_ended``. Before, nothing was said: the quotes went into the queue of
    requests to resend, for a session that would never come back, and the report listed
    them as pending."""

    async def main() -> tuple[Exchange, LiveEngine, dict[str, Any], int, dict[str, Any]]:
        mm = _maker()
        ex, eng = await _pair(strategy=mm)
        task = asyncio.create_task(eng.run())
        day = list(generate_day(5_000, 6, 3))
        await ex.run_flow(day[:2_500], rate=20_000)
        await asyncio.sleep(0.3)
        assert eng.runner.manager.open_orders(), "quotes rest when the session ends"
        assert ex.ouch50 is not None
        ex.ouch50.end_session()
        for _ in range(200):  # the End of Session reaches the engine (bounded: 2 s)
            await asyncio.sleep(0.01)
            if eng.client is not None and eng.client.core.ended:
                break
        sent = eng.runner.manager.sent
        await ex.run_flow(day[2_500:], rate=20_000)  # the feed goes on: the books move
        await asyncio.sleep(0.3)
        status = eng.snapshot()
        assert ex.feed is not None
        await ex.feed.end_session()
        report = await asyncio.wait_for(task, 30)
        await ex.close()
        return ex, eng, report, sent, status

    with caplog.at_level(logging.WARNING, logger="tickwire.engine.live"):
        ex, eng, report, sent, status = run(main())
    assert status["armed"] is False and status["ouch"]["session_ended"] is True
    assert status["orders"]["refusals"].get("kill_switch", 0) >= 1, "the quotes were refused"
    assert eng.runner.manager.sent == sent, "nothing sent after the session ended"
    warned = [r.getMessage() for r in caplog.records if "ended the OUCH session" in r.getMessage()]
    assert len(warned) == 1 and "orders open" in warned[0], warned
    assert report["ouch"]["session_ended"] is True
    _assert_books_equal(ex, eng)  # the feed was read to its end


def test_an_ouch_stream_the_exchange_reset_trips_the_kill_switch_and_is_heard(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The exchange's OUCH gateway restarts mid-day with the same session name and an
    empty stream (a fresh SoupServer behind the same port, every connection dropped)
    while the engine has answers delivered. The engine logs in again at its next
    sequence number, the gateway accepts at 1 and numbers its new answers 1, 2, ...:
    the first differs from the answer 1 delivered, so the kill switch trips (the open
    quotes cancelled, later ones refused ``kill_switch``), one warning names the
    sequence, the report has ``ouch.stream_diverged``, and every answer of the new
    stream reaches the order manager: both sides agree order by order. Before, the new
    stream's first answers were dropped as replays, silently: the engine's quotes stayed
    open in its view, cancelled in the exchange's."""
    from tickwire.soupbintcp.session import SoupServer

    async def main() -> tuple[Exchange, LiveEngine, dict[str, Any], dict[str, Any], int]:
        mm = _maker()
        ex, eng = await _pair(strategy=mm)
        task = asyncio.create_task(eng.run())
        day = list(generate_day(5_000, 6, 3))
        await ex.run_flow(day[:2_500], rate=20_000)
        assert ex.ouch50 is not None and eng.client is not None
        old = ex.ouch50.core
        for _ in range(500):  # bounded: 5 s
            # quiet: every answer of the old stream delivered, no request unanswered, so
            # the restart loses nothing in flight (what it would lose is no engine's to
            # know: the kill switch says reconcile) and both sides can be compared
            await asyncio.sleep(0.01)
            if eng.client.core.next_sequence == len(old.stream) + 1 and not (
                eng.runner.unacked_count()
            ):
                break
        delivered = eng.client.core.next_sequence - 1
        assert delivered == len(old.stream) and not eng.runner.unacked_count(), "quiet"
        assert delivered > 5 and eng.runner.manager.open_orders(), "answers delivered"
        fresh = SoupServer(
            ex.config.users, session=old.session, max_rate=old.max_rate, burst=old.burst
        )
        ex.ouch50.core = fresh  # the gateway restarted: the same session, an empty stream
        ex.drop_ouch()
        await ex.run_flow(day[2_500:], rate=20_000)  # the feed goes on: the books move
        await asyncio.sleep(0.5)
        status = eng.snapshot()
        assert ex.feed is not None
        await ex.feed.end_session()
        report = await asyncio.wait_for(task, 30)
        await ex.close()
        return ex, eng, report, status, len(fresh.stream)

    with caplog.at_level(logging.WARNING, logger="tickwire.engine.live"):
        ex, eng, report, status, new_answers = run(main())
    assert status["armed"] is False
    assert status["ouch"]["stream_diverged"] == 1 and status["ouch"]["stream_diverged_at"] == 1
    warned = [
        r.getMessage()
        for r in caplog.records
        if r.name == "tickwire.engine.live" and "stream was reset" in r.getMessage()
    ]
    assert len(warned) == 1 and "at sequence 1:" in warned[0], warned
    assert report["ouch"]["stream_diverged"] == 1
    assert new_answers > 0
    assert eng.client is not None and eng.client.core.next_sequence == new_answers + 1
    # every answer of the new stream reached the order manager: the two sides agree
    m = eng.runner.manager
    for ref, o in m.orders.items():
        rec = ex.account50.records.get(ref)
        if rec is None:  # refused, or a replacement that never came to be: nowhere
            assert not o.is_open and not o.filled_qty, ref
            continue
        assert o.chain_filled + o.filled_qty == rec.executed, ref  # over its replace chain
        assert o.is_open == (rec.state == "live"), ref
    assert report["orders"]["open"] == [] and report["ouch"]["unacked"] == 0
    _assert_agree(ex, eng)


def test_replays_with_nothing_to_check_them_against_are_reported() -> None:
    """The exchange resumes the first login 2 answers past the sequence asked (counted in
    ``ouch.skipped``, nothing tripped: they predate this engine), then drops the link and
    accepts the re-login at 1, replaying those 2: the client holds no digest of them, so
    it drops them unchecked. The status and the report count them in
    ``ouch.unchecked_replays`` (the client's ``unchecked_replays``) and nothing trips.
    Before, the report did not say how many replays were taken on trust."""
    from tickwire.soupbintcp.packets import (
        LoginAccepted,
        LoginRequest,
        SequencedData,
        build_packet,
    )

    old = [v50.encode(v50.SystemEvent(i, "S")) for i in (1, 2)]  # before this engine

    async def main() -> tuple[dict[str, Any], dict[str, Any], list[int]]:
        asked: list[int] = []
        replayed = asyncio.Event()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            login = await _read_client_packet(reader)
            assert isinstance(login, LoginRequest)
            if login.requested_sequence_number == 0:  # the engine's probe: no history
                writer.write(build_packet(LoginAccepted("OUCH01", 1)))
                with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
                    await _read_client_packet(reader)  # its logout
                writer.close()
                return
            asked.append(login.requested_sequence_number)
            if len(asked) == 1:  # past the sequence asked, then the link drops
                writer.write(build_packet(LoginAccepted("OUCH01", 3)))
                await writer.drain()
                await asyncio.sleep(0.1)
                writer.transport.abort()
                return
            writer.write(build_packet(LoginAccepted("OUCH01", 1)))  # replays 1 and 2
            for data in old:
                writer.write(build_packet(SequencedData(data)))
            await writer.drain()
            replayed.set()
            with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
                while await reader.read(4096):
                    pass
            writer.close()

        server, eng = await _taker_against(handle)
        await eng.start()
        task = asyncio.create_task(eng.run())
        try:
            await asyncio.wait_for(replayed.wait(), 5)
            await asyncio.sleep(0.2)
            status = eng.snapshot()
        finally:
            eng.stop()
            report = await asyncio.wait_for(task, 10)
            server.close()
            await server.wait_closed()
        return status, report, asked

    status, report, asked = run(main())
    assert asked == [1, 3]
    assert status["ouch"]["skipped"] == 2 and status["armed"] and status["kill_trips"] == 0
    assert status["ouch"]["unchecked_replays"] == 2
    assert report["ouch"]["unchecked_replays"] == 2
    assert report["ouch"]["stream_diverged"] == 0


def _halted_day(messages: int, halt_at: int, resume_at: int) -> Any:
    """``generate_day(messages, 6, 3)`` with every symbol halted (Trading Action H) before
    message ``halt_at`` and trading again before ``resume_at``."""
    from tickwire.itch import StockDirectory, StockTradingAction

    symbols: list[str] = []
    for i, msg in enumerate(generate_day(messages, 6, 3)):
        if isinstance(msg, StockDirectory):
            symbols.append(msg.stock)
        for at, state in ((halt_at, "H"), (resume_at, "T")):
            if i == at:
                for s in symbols:
                    yield StockTradingAction(0, 0, msg.timestamp, s, state, " ", "")
        yield msg


def _assert_engine_is_the_exchange(ex: Exchange, eng: LiveEngine, report: dict[str, Any]) -> None:
    """The engine's whole view at the end is the exchange's truth: every order's fills
    (over its replace chain) and state, positions, cash, realised PnL, the books, every
    feed message once, nothing left open or waiting for an answer, nothing distrusted."""
    m = eng.runner.manager
    records = ex.account50.records
    assert len(ex.account50.entered) == len(set(ex.account50.entered)), "no order doubled"
    assert set(ex.account50.entered) <= set(m.orders), "no order unknown to the engine"
    for o in m.orders.values():
        if o.state is OrderState.REFUSED:
            continue
        rec = records.get(o.user_ref_num)
        if rec is None:  # a Replace the exchange ignored (its original gone first)
            assert o.replaces is not None and not o.is_open and not o.filled_qty, o
            continue
        assert o.chain_filled + o.filled_qty == rec.executed, o.user_ref_num
        assert o.is_open == (rec.state == "live"), o.user_ref_num
    assert not m.open_orders() and eng.runner.risk.open_orders() == 0
    assert not [o for o in ex.engine.resting_orders() if o.owner is ex.account50]
    _assert_agree(ex, eng)
    assert eng.runner.messages_seen == ex.published
    _assert_books_equal(ex, eng)
    o = report["orders"]
    assert o["sent"] == m.sent and o["states"].get("live", 0) == 0
    for k in ("unknown_answers", "unknown_executions", "excess_executions"):
        assert o[k] == 0, k
    assert o["unexpected_replacements"] == 0 and o["distrusted_answers"] == 0
    assert report["ouch"]["unacked"] == 0 and report["ouch"]["skipped"] == 0
    assert not any(report["feed"]["book_faults"].values())
    assert report["positions"] == dict(sorted(eng.runner.risk.ledger.positions.items()))


@pytest.mark.parametrize(
    ("faults", "halted"),
    [
        (Faults(drop_ouch_every=3, feed_loss=0.05, feed_reorder=0.02, seed=11), False),
        (Faults(drop_ouch_every=2, feed_loss=0.05, seed=7), True),
    ],
    ids=["drops-loss-reorder", "drops-loss-halt"],
)
def test_a_market_maker_under_faults_ends_with_the_exchanges_view(
    faults: Faults, halted: bool
) -> None:
    """A market maker (Enters, Replaces in flight, Cancels, fills as the maker) while the
    exchange drops the OUCH connection every few orders (answers and requests lost in
    flight, resent and replayed) and loses and reorders feed packets (gaps recovered
    from the re-request server), once with every symbol halted for a stretch (Replaces
    rejected): at the end the engine's view is the exchange's, order by order
    (``_assert_engine_is_the_exchange``). The red team's harness of the live path, kept
    (each run about 0.2 s of CPU)."""

    async def main() -> tuple[Exchange, LiveEngine, dict[str, Any]]:
        mm = _maker()
        ex, eng = await _pair(faults, strategy=mm)
        task = asyncio.create_task(eng.run())
        flow = _halted_day(6_000, 1_000, 4_000) if halted else generate_day(5_000, 6, 3)
        await ex.run_flow(flow, rate=20_000)
        await asyncio.sleep(0.3)
        assert ex.feed is not None
        await ex.feed.end_session()
        report = await asyncio.wait_for(task, 30)
        await ex.close()
        return ex, eng, report

    ex, eng, report = run(main())
    assert ex.ouch_drops >= 2 and report["ouch"]["connections"] >= 3
    assert ex.feed is not None and ex.feed.dropped > 0 and report["feed"]["gaps"] > 0
    m = eng.runner.manager
    assert any(o.replaces is not None for o in m.orders.values()), "quotes were replaced"
    assert any(o.filled_qty for o in m.orders.values()), "quotes were hit"
    _assert_engine_is_the_exchange(ex, eng, report)


def test_an_ouch_stream_reset_while_inheriting_still_ends_the_inheriting(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Run 1 (a market maker) is killed with quotes resting; run 2 logs in to the same
    OUCH session and asks its Account Query. The gateway restarts right then (a fresh
    stream under the same session name, the query lost with the link): run 2 logs in
    again, asks again, and the new stream answers at sequence 1, below the count of the
    old stream's messages (``ouch.history``). The stream divergence trips the kill
    switch; the response still ends the inheriting (orders released from the hold, the
    report's ``inherited`` set), so an ``arm`` after reconciling trades again. Before,
    the response was taken for a previous run's (``sequence_number <= ouch_history``):
    the engine held every order ``awaiting_account`` for the rest of the session, armed
    or not, and the report said it still waited."""
    from tickwire.soupbintcp.session import SoupServer

    async def main() -> tuple[Exchange, LiveEngine, dict[str, Any], dict[str, Any], int]:
        ex = await Exchange.start(ExchangeConfig(feed_target=("127.0.0.1", 9)))
        cfg = _config(ex)
        eng1 = LiveEngine(_maker(), cfg)
        await eng1.start()
        assert ex.feed is not None and ex.ouch50 is not None
        ex.feed.target = eng1.feed_address
        task1 = asyncio.create_task(eng1.run())
        day = list(generate_day(8_000, 6, 3))
        await ex.run_flow(day[:3_000], rate=20_000)
        await asyncio.sleep(0.3)
        assert [o for o in ex.engine.resting_orders() if o.owner is ex.account50]
        await _crash(eng1, task1)
        history = len(ex.ouch50.core.stream)
        handle = ex.ouch50.on_message
        assert handle is not None
        resets: list[SoupServer] = []

        def reset_at_the_query(conn: Any, data: bytes) -> None:
            if not resets and isinstance(v50.decode_inbound(data), v50.AccountQueryRequest):
                assert ex.ouch50 is not None
                old = ex.ouch50.core
                resets.append(SoupServer(ex.config.users, session=old.session,
                                         max_rate=old.max_rate, burst=old.burst))  # fmt: skip
                ex.ouch50.core = resets[0]  # the gateway restarted: an empty stream
                ex.drop_ouch()  # the query is lost with the link
                return
            handle(conn, data)

        ex.ouch50.on_message = reset_at_the_query
        eng2 = LiveEngine(_maker(), cfg)
        await eng2.start()
        ex.feed.target = eng2.feed_address
        task2 = asyncio.create_task(eng2.run())
        for _ in range(300):  # the reset, the re-login and the new stream's answer (3 s)
            await asyncio.sleep(0.01)
            if (
                resets
                and eng2.ouch_stream_diverged
                and not eng2.snapshot()["ouch"]["awaiting_account"]
            ):
                break
        status = eng2.snapshot()
        eng2.arm()  # reconciled: the operator re-arms
        await ex.run_flow(day[3_000:], rate=20_000)
        await asyncio.sleep(0.3)
        await ex.feed.end_session()
        report = await asyncio.wait_for(task2, 30)
        await ex.close()
        return ex, eng2, report, status, history

    with caplog.at_level(logging.WARNING, logger="tickwire.engine.live"):
        ex, eng, report, status, history = run(main())
    assert status["ouch"]["history"] == history > 1
    assert status["ouch"]["stream_diverged"] == 1 and status["armed"] is False
    assert status["ouch"]["awaiting_account"] is False, "the new stream's response is ours"
    assert status["inherited"] is not None and status["inherited"]["cancelled"] >= 0
    assert report["ouch"]["awaiting_account"] is False
    assert eng.runner.manager.sent > 0, "re-armed, the maker quoted again"
    own = [o for o in eng.runner.manager.orders.values() if not o.inherited]
    assert own and all(o.state is not OrderState.PENDING for o in own)
    assert not [o for o in ex.engine.resting_orders() if o.owner is ex.account50]
    assert report["orders"]["open"] == [] and report["ouch"]["unacked"] == 0
    _assert_agree(ex, eng)  # both runs' fills: inherited from the replay, then its own


def test_orders_left_open_at_the_stop_are_warned_of(caplog: pytest.LogCaptureFixture) -> None:
    """A market maker is stopped while the exchange reads nothing more on the OUCH link:
    its cancels go unanswered, so its quotes stay resting at the exchange. The shutdown
    waits for them, then one warning names the orders open and the requests unanswered
    (and the report has them). Before, nothing was logged: the engine logged out with
    quotes resting, said only inside the report's JSON (the ``live`` command exits 1
    now: ``test_engine_live_cli.py::test_live_exits_1_when_orders_are_left_open_at_the_stop``)."""

    async def main() -> tuple[dict[str, Any], int]:
        mm = _maker()
        ex, eng = await _pair(strategy=mm)
        task = asyncio.create_task(eng.run())
        await ex.run_flow(list(generate_day(5_000, 6, 3))[:2_500], rate=20_000)
        await asyncio.sleep(0.3)
        assert ex.ouch50 is not None and eng.runner.manager.open_orders(), "quotes rest"
        for proto in ex.ouch50.connections:  # the exchange reads no more (the cancels)
            if proto.transport is not None:
                proto.transport.pause_reading()
        eng.stop()
        report = await asyncio.wait_for(task, 20)
        resting = sum(1 for o in ex.engine.resting_orders() if o.owner is ex.account50)
        await ex.close()
        return report, resting

    with caplog.at_level(logging.WARNING, logger="tickwire.engine.live"):
        report, resting = run(main())
    left = len(report["orders"]["open"])
    assert left == resting > 0 and report["ouch"]["unacked"] == left
    warned = [r.getMessage() for r in caplog.records if "stopped with" in r.getMessage()]
    assert warned == [
        f"stopped with {left} orders still open and {left} requests unanswered (no answer "
        "in 2 s): the exchange may still hold them; reconcile with it (the report's "
        "orders.open, ouch.unacked)"
    ]


def _crash_now(eng: LiveEngine) -> None:
    """Kill ``eng``'s OUCH link at once, from inside the exchange's handler: what the
    exchange has just sent it is never read (a process killed between the two); the
    rest of :func:`_crash` follows."""
    client = eng.client
    assert client is not None
    client._closing = True  # no reconnect (what close(logout=False) sets)
    if client._reconnect_task is not None:
        client._reconnect_task.cancel()
    if client._proto is not None and client._proto.transport is not None:
        client._proto.transport.abort()


@pytest.mark.parametrize(
    ("maker", "faults"),
    [
        (True, Faults(drop_ouch_every=3, feed_loss=0.05, feed_reorder=0.02, seed=11)),
        (False, Faults(drop_ouch_every=2, feed_loss=0.05, feed_reorder=0.02, seed=7)),
    ],
    ids=["maker", "taker"],
)
def test_a_chain_of_crashes_under_faults_ends_with_the_exchanges_view(
    maker: bool, faults: Faults
) -> None:
    """Three runs on one OUCH session while the exchange drops the OUCH link every few
    orders and loses and reorders feed packets: run 1 is killed right after the exchange
    executed one of its orders (the Executed sent, never read); run 2 is killed while
    inheriting, its Account Query answered but the response never read; run 3 inherits
    both (run 1's orders and fills, run 2's query in the replay), cancels what is left
    and trades to the end of the day. Its view is then the exchange's, order by order
    over the three runs (``_assert_engine_is_the_exchange``). The red team's harness of
    restarts under faults (the single-restart test has no faults, no crash mid-answer
    and no second crash)."""

    def strategy() -> Strategy:
        if maker:
            return _maker()
        return ThresholdTaker(STRATEGY)

    async def main() -> tuple[Exchange, LiveEngine, dict[str, Any], int]:
        ex = await Exchange.start(ExchangeConfig(feed_target=("127.0.0.1", 9), faults=faults))
        cfg = _config(ex)
        assert ex.feed is not None and ex.ouch50 is not None
        engines: list[LiveEngine] = []

        async def launch() -> asyncio.Task[dict[str, Any]]:
            eng = LiveEngine(strategy(), cfg)
            engines.append(eng)  # before start: its query goes out inside it
            await asyncio.wait_for(eng.start(), 40)
            assert ex.feed is not None
            ex.feed.target = eng.feed_address
            return asyncio.create_task(eng.run())

        send, handle = ex.account50.send, ex.ouch50.on_message
        assert handle is not None
        crashes: list[str] = []

        def crash_if_executed() -> None:  # a maker's fill, or a taker's, answering its Enter
            if not crashes and ex.account50.ledger.executed_notional:
                crashes.append("run 1, its Executed unread")
                _crash_now(engines[0])

        def sent_unprompted(msg: Any) -> None:
            send(msg)
            crash_if_executed()

        def answered(conn: Any, data: bytes) -> None:
            handle(conn, data)
            crash_if_executed()

        ex.account50.send = sent_unprompted  # type: ignore[method-assign]
        ex.ouch50.on_message = answered
        task = await launch()
        day = list(generate_day(8_000, 6, 3))
        at = 0
        while not crashes and at < 5_000:  # until one of run 1's orders is executed
            await ex.run_flow(day[at : at + 250], rate=20_000)
            at += 250
            await asyncio.sleep(0.05)
        assert crashes, "run 1 was executed"
        await _crash(engines[0], task)
        ex.account50.send = send  # type: ignore[method-assign]

        def crash_at_the_query(conn: Any, data: bytes) -> None:
            handle(conn, data)  # answered (sequenced), the answer never read
            if len(crashes) == 1 and isinstance(v50.decode_inbound(data), v50.AccountQueryRequest):
                crashes.append("run 2, inheriting")
                _crash_now(engines[1])

        ex.ouch50.on_message = crash_at_the_query
        task = await launch()
        await _crash(engines[1], task)
        assert len(crashes) == 2 and engines[1].inherited is None
        ex.ouch50.on_message = handle
        task = await launch()
        last = engines[2]
        for _ in range(500):  # bounded: 5 s
            if last.inherited is not None:
                break
            await asyncio.sleep(0.01)
        assert last.inherited is not None and last.runner.risk.armed
        await ex.run_flow(day[at:], rate=20_000)
        await asyncio.sleep(0.3)
        await ex.feed.end_session()
        report = await asyncio.wait_for(task, 30)
        await ex.close()
        return ex, last, report, engines[0].runner.manager.sent

    ex, eng, report, run1_sent = run(main())
    assert ex.ouch_drops >= 2 and report["feed"]["gaps"] > 0
    inherited = report["inherited"]
    assert inherited["orders"] > 0 and report["ouch"]["history"] > 0 and run1_sent > 0
    own = [o for o in eng.runner.manager.orders.values() if not o.inherited]
    assert own and min(o.user_ref_num for o in own if o.user_ref_num) > max(
        o.user_ref_num for o in eng.runner.manager.orders.values() if o.inherited
    )
    assert report["kill_trips"] == 1  # the stop's, only
    _assert_engine_is_the_exchange(ex, eng, report)


def test_only_a_user_requested_cancel_answers_a_cancel_in_flight() -> None:
    """An Order Canceled answers a Cancel Order only when its reason is ``U`` (user
    request), the rule the OUCH client books keep
    (``tickwire.ouch.orders.acknowledges_cancel``): an unsolicited partial cancel (here
    ``S``, supervisory, of 20 shares) while a reduce to 50 is in flight leaves that reduce
    waiting for its own answer, so it is resent after a reconnect. Before, any Order
    Canceled acknowledged the oldest cancel in flight: the reduce was forgotten and, were
    the link to drop, never resent (the order stayed 80 shares at the exchange, not 50)."""
    eng = LiveEngine(ThresholdTaker(), LiveConfig(feed=("127.0.0.1", 0), ouch=("127.0.0.1", 1)))
    runner = eng.runner
    order = runner.manager.submit("AAPL", "B", 100, 1_500_000)
    ref = order.user_ref_num
    accepted = v50.OrderAccepted(
        1, ref, "B", 100, "AAPL", 1_500_000, "0", "Y", 9, "P", "N", "N", "L", order.cl_ord_id
    )
    answers: list[v50.OutboundMessage] = [accepted]
    for msg in answers:
        runner.acknowledge(msg)
        runner.manager.on_message(msg)
    assert runner.manager.cancel(order, remaining=50)
    assert runner.unacked_count() == 1
    unsolicited = v50.OrderCanceled(2, ref, 20, "S")
    runner.acknowledge(unsolicited)
    runner.manager.on_message(unsolicited)
    assert order.open_qty == 80 and runner.unacked_count() == 1
    assert [type(m).__name__ for m in runner.to_resend()] == ["CancelOrder"]
    answer = v50.OrderCanceled(3, ref, 30, "U")  # the reduce's own answer
    runner.acknowledge(answer)
    runner.manager.on_message(answer)
    assert order.open_qty == 50 and runner.unacked_count() == 0 and runner.risk.armed


def test_a_request_answered_by_a_distrusted_answer_stays_unanswered() -> None:
    """A hand-written exchange accepts one Enter as entered and another as an agency order
    (the engine enters principal, ``P``: an Order Accepted not as entered,
    ``v50.not_as_entered``), then answers the cancels the kill switch sends. The honest
    answer answers its Enter; the distrusted one trips the kill switch and leaves its
    Enter unanswered as entered: ``ouch.unacked`` is 1 in the status and the report, and
    the stop says a request went unanswered (:attr:`LiveEngine.left_open`). Before, any
    Order Accepted acknowledged its Enter: the report said every request was answered."""
    from tickwire.soupbintcp.packets import (
        LoginAccepted,
        LoginRequest,
        SequencedData,
        UnsequencedData,
        build_packet,
    )

    async def main() -> tuple[dict[str, Any], dict[str, Any], LiveEngine]:
        seq = 0

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal seq
            login = await _read_client_packet(reader)
            assert isinstance(login, LoginRequest)
            writer.write(build_packet(LoginAccepted("OUCH01", seq + 1)))
            if login.requested_sequence_number == 0:  # the engine's probe: no history
                with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
                    await _read_client_packet(reader)  # its logout
                writer.close()
                return
            with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
                while True:
                    packet = await _read_client_packet(reader)
                    if not isinstance(packet, UnsequencedData):
                        continue
                    msg = v50.decode_inbound(packet.message)
                    answer: v50.OutboundMessage | None = None
                    if isinstance(msg, v50.EnterOrder):
                        capacity = msg.capacity if msg.user_ref_num == 1 else "A"
                        answer = v50.OrderAccepted(
                            5, msg.user_ref_num, msg.side, msg.quantity, msg.symbol,
                            msg.price, msg.time_in_force, msg.display, msg.user_ref_num,
                            capacity, msg.intermarket_sweep_eligibility, msg.cross_type, "L",
                            msg.cl_ord_id,
                        )  # fmt: skip
                    elif isinstance(msg, v50.CancelOrder):
                        answer = v50.OrderCanceled(6, msg.user_ref_num, 100, "U")
                    if answer is not None:
                        seq += 1
                        writer.write(build_packet(SequencedData(v50.encode(answer))))
                        await writer.drain()
            writer.close()

        server, eng = await _taker_against(handle)
        await eng.start()
        task = asyncio.create_task(eng.run())
        try:
            m = eng.runner.manager
            for _ in range(300):  # bounded: 3 s, until the session is up
                if eng.client is not None and eng.client.logged_in:
                    break
                await asyncio.sleep(0.01)
            first = m.submit("AAPL", "B", 100, 1_500_000)
            for _ in range(300):  # bounded: 3 s
                await asyncio.sleep(0.01)
                if first.state is OrderState.LIVE:
                    break
            assert first.state is OrderState.LIVE and eng.runner.risk.armed
            assert eng.runner.unacked_count() == 0, "the honest Accepted answered its Enter"
            second = m.submit("AAPL", "B", 100, 1_500_000)
            for _ in range(300):  # bounded: 3 s, until the kill switch's cancels are answered
                await asyncio.sleep(0.01)
                if not first.is_open and not second.is_open:
                    break
            assert not eng.runner.risk.armed, "the distrusted Accepted tripped the kill switch"
            status = eng.snapshot()
        finally:
            eng.stop()
            report = await asyncio.wait_for(task, 10)
            server.close()
            await server.wait_closed()
        return status, report, eng

    status, report, eng = run(main())
    assert report["orders"]["open"] == [] and eng.runner.manager.distrusted_answers == 1
    assert status["ouch"]["unacked"] == report["ouch"]["unacked"] == 1
    assert [type(r).__name__ for r in eng.runner.to_resend()] == ["EnterOrder"]
    assert eng.left_open is not None and "1 requests unanswered" in str(eng.left_open)


async def _exchange_answering(
    answers: Callable[[v50.EnterOrder], list[v50.OutboundMessage]],
) -> tuple[dict[str, Any], dict[str, Any], list[v50.InboundMessage]]:
    """A hand-written OUCH exchange that answers the engine's first Enter (AAPL B 200 at
    $150) with ``answers(enter)`` and every Cancel with an Order Canceled of reason U;
    the engine's status once its kill switch tripped (or 3 s passed), its report and
    what it sent."""
    from tickwire.soupbintcp.packets import (
        LoginAccepted,
        LoginRequest,
        SequencedData,
        UnsequencedData,
        build_packet,
    )

    received: list[v50.InboundMessage] = []
    shares: dict[int, int] = {}  # open at the exchange, by UserRefNum (its own: 100)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        login = await _read_client_packet(reader)
        assert isinstance(login, LoginRequest)
        writer.write(build_packet(LoginAccepted("OUCH01", 1)))
        if login.requested_sequence_number == 0:  # the engine's probe: no history
            with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
                await _read_client_packet(reader)  # its logout
            writer.close()
            return
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:  # until the engine logs out
                packet = await _read_client_packet(reader)
                if not isinstance(packet, UnsequencedData):
                    continue
                msg = v50.decode_inbound(packet.message)
                received.append(msg)
                out: list[v50.OutboundMessage] = []
                if isinstance(msg, v50.EnterOrder):
                    out = answers(msg)
                    for a in out:  # the executions it answered with
                        if isinstance(a, v50.OrderExecuted):
                            shares[a.user_ref_num] = msg.quantity - a.quantity
                    shares.setdefault(msg.user_ref_num, msg.quantity)
                elif isinstance(msg, v50.CancelOrder):
                    left = shares.pop(msg.user_ref_num, 100)
                    out = [v50.OrderCanceled(6, msg.user_ref_num, left, "U")]
                for answer in out:
                    writer.write(build_packet(SequencedData(v50.encode(answer))))
                await writer.drain()
        writer.close()

    server, eng = await _taker_against(handle)
    await eng.start()
    task = asyncio.create_task(eng.run())
    try:
        for _ in range(300):  # bounded: 3 s, until the session is up
            if eng.client is not None and eng.client.logged_in:
                break
            await asyncio.sleep(0.01)
        eng.runner.manager.submit("AAPL", "B", 200, 1_500_000)
        for _ in range(300):  # bounded: 3 s
            await asyncio.sleep(0.01)
            if not eng.runner.risk.armed:
                break
        await asyncio.sleep(0.2)  # the kill switch's cancels answered
        status = eng.snapshot()
    finally:
        eng.stop()
        report = await asyncio.wait_for(task, 10)
        server.close()
        await server.wait_closed()
    return status, report, received


def _accepted(enter: v50.EnterOrder) -> v50.OrderAccepted:
    """The Order Accepted of ``enter``, as entered."""
    return v50.OrderAccepted(
        5, enter.user_ref_num, enter.side, enter.quantity, enter.symbol, enter.price,
        enter.time_in_force, enter.display, 9, enter.capacity,
        enter.intermarket_sweep_eligibility, enter.cross_type, "L", enter.cl_ord_id,
    )  # fmt: skip


def test_an_execution_sent_twice_is_booked_once_and_trips_the_kill_switch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A hand-written exchange accepts a 200-share buy and sends its 100-share execution
    twice, one Match Number (OUCH 5.0 section 3.6: one trade). The position is 100, the
    kill switch trips, the status counts the answer (``orders.distrusted_answers``) and
    the trip (``kill_trips`` 1, the report 2 with the stop's), and one warning names the
    order and the match. The old engine booked 200 shares and stayed armed; and a trip by
    the order manager (an execution of an order never sent, beyond its order) was not in
    ``kill_trips`` (0 beside ``armed`` false)."""

    def answers(enter: v50.EnterOrder) -> list[v50.OutboundMessage]:
        ref = enter.user_ref_num
        twice = v50.OrderExecuted(5, ref, 100, enter.price, "A", 5)
        return [_accepted(enter), twice, twice]

    with caplog.at_level(logging.WARNING, logger="tickwire.engine.orders"):
        status, report, _received = run(_exchange_answering(answers))
    assert status["positions"] == report["positions"] == {"AAPL": 100}
    assert status["armed"] is False and status["kill_trips"] == 1
    assert report["kill_trips"] == 2  # the answer's, then the stop's
    assert status["orders"]["distrusted_answers"] == 1 and report["orders"]["open"] == []
    assert [m for m in caplog.messages if "kill switch tripped" in m] == [
        "kill switch tripped: the venue sent OrderExecuted for UserRefNum 1 (match 5 "
        "executed twice), which no order of this engine explains; 1 cancels sent"
    ]


def test_an_order_accepted_that_was_never_sent_trips_the_kill_switch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A hand-written exchange accepts the engine's Enter, then sends an Order Accepted
    live with 100 shares for UserRefNum 777, which the engine never sent (not a previous
    run's: the session had no history). The kill switch trips, the status and the report
    count it (``orders.unknown_orders``, ``kill_trips``), the engine cancels order 777 at
    the exchange, and one warning names it. The old engine counted it in
    ``unknown_answers`` only and traded on, armed, with 100 shares at the exchange that
    its position and limits left out."""

    def answers(enter: v50.EnterOrder) -> list[v50.OutboundMessage]:
        foreign = dataclasses.replace(_accepted(enter), user_ref_num=777, quantity=100)
        return [_accepted(enter), foreign]

    with caplog.at_level(logging.WARNING, logger="tickwire.engine.orders"):
        status, report, received = run(_exchange_answering(answers))
    assert status["armed"] is False and status["kill_trips"] == 1
    assert status["orders"]["unknown_orders"] == report["orders"]["unknown_orders"] == 1
    # its Accepted, then the Order Canceled answering the engine's cancel of it
    assert status["orders"]["unknown_answers"] == 2 and report["orders"]["open"] == []
    assert v50.CancelOrder(user_ref_num=777, quantity=0) in received
    assert [m for m in caplog.messages if "kill switch tripped" in m] == [
        "kill switch tripped: the venue sent OrderAccepted for UserRefNum 777 (100 shares "
        "live), an order this engine never sent; 1 cancels sent"
    ]
