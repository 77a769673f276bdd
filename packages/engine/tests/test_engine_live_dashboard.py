"""The dashboard renders a snapshot and its keys act on the engine's kill switch."""

from __future__ import annotations

import time

import pytest
from rich.console import Console
from tickwire.engine.backtest.fees import FeeSchedule
from tickwire.engine.live import LiveConfig, LiveEngine, percentiles
from tickwire.engine.live.dashboard import handle_key, render
from tickwire.engine.strategy.taker import ThresholdTaker
from tickwire.ouch import v50


def _engine() -> LiveEngine:
    return LiveEngine(ThresholdTaker(), LiveConfig(feed=("127.0.0.1", 0), ouch=("127.0.0.1", 1)))


def _text(snap: dict[str, object]) -> str:
    console = Console(record=True, width=140)
    console.print(render(snap))
    return console.export_text()


def test_render_shows_pnl_positions_risk_gaps_latency() -> None:
    eng = _engine()
    eng.runner.risk.ledger.fill("AAPL", "B", 300, 1_500_000)
    eng.runner.risk.ledger.mark("AAPL", 1_510_000)
    eng.runner.latencies.extend([10_000, 20_000, 30_000])
    eng.gaps = 4
    text = _text(eng.snapshot())
    assert "ARMED" in text
    assert "AAPL" in text and "300" in text
    assert "PnL 300.00" in text  # 300 shares x $0.01
    assert "gaps recovered" in text and "4 (" in text
    assert "20.0" in text  # P50 in microseconds


def test_render_shows_the_strategy_log_last_lines_as_written() -> None:
    eng = _engine()
    assert "strategy log" not in _text(eng.snapshot())  # nothing logged: no panel
    for i in range(12):
        eng.runner.ctx.log(f"step {i} [bold]not markup[/bold]")
    snap = eng.snapshot()
    assert snap["log"]["lines"] == 12 and len(snap["log"]["last"]) == 10
    text = _text(snap)
    assert "strategy log (12 lines)" in text
    assert "step 11 [bold]not markup[/bold]" in text and "step 6 " not in text


def test_render_shows_feed_strings_as_written() -> None:
    """Symbols and feed session names come from the feed: never rich markup (a symbol
    ``[/]`` raised MarkupError on every refresh, and the dashboard went away)."""
    eng = _engine()
    eng.runner.risk.ledger.fill("[/]", "B", 300, 1_500_000)
    snap = eng.snapshot()
    snap["feed"]["session_changes"] = ["[red]EVIL"]
    text = _text(snap)
    assert "[/]" in text and "[red]EVIL" in text


def test_keys_trip_and_reset_the_kill_switch() -> None:
    eng = _engine()
    assert "tripped" in handle_key(eng, "k")
    assert eng.runner.risk.armed is False
    assert "KILLED" in _text(eng.snapshot())
    order = eng.runner.manager.submit("AAPL", "B", 100, 1_000_000)
    assert order.reason == "kill_switch"
    assert "kill_switch" in _text(eng.snapshot())
    handle_key(eng, "a")
    assert eng.runner.risk.armed is True
    handle_key(eng, "q")
    assert eng.stopping


def test_percentiles_nearest_rank() -> None:
    p = percentiles(list(range(1, 1001)))
    assert (p["p50"], p["p99"], p["p99_9"], p["max"]) == (500, 990, 999, 1000)
    assert percentiles([])["count"] == 0


def test_run_dashboard_until_the_session_stops() -> None:
    import asyncio

    from tickwire.engine.live.dashboard import run_dashboard

    async def main() -> None:
        eng = _engine()
        board = asyncio.create_task(run_dashboard(eng, refresh=0.05))
        await asyncio.sleep(0.2)
        assert not board.done()
        eng.stop()
        await asyncio.wait_for(board, 2)

    asyncio.run(main())


def test_render_shows_the_frames_from_the_xdp_mirror_when_there_is_one() -> None:
    snap = _engine().snapshot()
    assert snap["feed"]["mirror"] is None
    assert "XDP mirror" not in _text(snap)
    snap["feed"]["mirror"] = {
        "frames": 61, "ordered": 60, "cut": 1, "ignored": 0, "bad": 0, "stale": 0,
        "dropped": 2, "held": 0,
    }  # fmt: skip
    assert "frames from the XDP mirror" in _text(snap)
    assert "61 (60 ordered, 1 cut, 2 dropped)" in _text(snap)


def test_render_shows_an_ouch_session_the_exchange_ended() -> None:
    """``ouch.session_ended`` (``LiveEngine._ouch_session_ended``: the kill switch
    tripped, no order can go out) is a dashboard row, shown only when it happened."""
    snap = _engine().snapshot()
    assert snap["ouch"]["session_ended"] is False
    assert "OUCH session" not in _text(snap)
    snap["ouch"]["session_ended"] = True
    assert "ended by the exchange (kill switch)" in _text(snap)


def test_render_shows_an_ouch_link_that_could_not_be_restored() -> None:
    """``ouch.reconnect_failed`` (``LiveEngine._ouch_reconnect_failed``: the client gave up
    reconnecting, the kill switch tripped) is a dashboard row, shown only when it
    happened, with the reason."""
    snap = _engine().snapshot()
    assert snap["ouch"]["reconnect_failed"] is None
    assert "OUCH reconnect" not in _text(snap)
    snap["ouch"]["reconnect_failed"] = "could not reconnect after 50 attempts"
    assert "given up: could not reconnect after 50 attempts (kill switch)" in _text(snap)


def test_render_shows_an_ouch_stream_the_exchange_reset() -> None:
    """``ouch.stream_diverged`` (``LiveEngine._ouch_stream_diverged``: the exchange's OUCH
    stream was reset, the kill switch tripped) is a dashboard row, shown only when it
    happened, with the sequence number of the last reset."""
    snap = _engine().snapshot()
    assert snap["ouch"]["stream_diverged"] == 0 and snap["ouch"]["stream_diverged_at"] is None
    assert "OUCH stream reset" not in _text(snap)
    snap["ouch"].update(stream_diverged=2, stream_diverged_at=7)
    assert "at sequence 7, 2x (kill switch)" in _text(snap)


def test_render_shows_what_the_feed_receiver_refused() -> None:
    snap = _engine().snapshot()
    assert snap["feed"]["refused"]["stale_end_of_session"] == 0
    assert "feed packets refused" not in _text(snap)
    snap["feed"]["refused"].update(other_session_packets=2, stale_end_of_session=1)
    text = _text(snap)
    assert "feed packets refused" in text
    assert "other_session 2, stale_end_of_session 1" in text


def test_the_books_faults_reach_the_report_and_the_dashboard() -> None:
    """The live books apply the feed by the book's fault rules; what they made of it is
    in the snapshot (``feed.book_faults``) and on the dashboard when any is not zero. It
    was in neither: an order evicted by a reused reference went unsaid."""
    from tickwire.itch import AddOrder, OrderExecuted

    eng = _engine()
    assert not any(eng.snapshot()["feed"]["book_faults"].values())
    assert "book faults" not in _text(eng.snapshot())
    books = eng.runner.books
    books.apply(AddOrder(1, 0, 1, 5, "B", 100, "AAPL", 1_000_000))
    books.apply(AddOrder(1, 0, 2, 5, "S", 100, "AAPL", 1_010_000))  # reference 5 again
    books.apply(OrderExecuted(1, 0, 3, 5, 500, 1))  # beyond its 100
    snap = eng.snapshot()
    assert snap["feed"]["book_faults"] == {
        "unknown_references": 0,
        "duplicate_references": 1,
        "clamped": 1,
        "rejected": 0,
        "renamed_locates": 0,
    }
    text = _text(snap)
    assert "book faults" in text and "1 adds onto a live reference" in text


def test_answers_for_orders_never_sent_are_reported_and_shown() -> None:
    eng = _engine()
    assert eng.snapshot()["orders"]["unknown_answers"] == 0
    assert "never sent" not in _text(eng.snapshot())
    eng.runner.manager.on_message(
        v50.OrderCanceled(timestamp=5, user_ref_num=777, quantity=100, reason="U")
    )
    snap = eng.snapshot()
    assert snap["orders"]["unknown_answers"] == 1
    assert "answers for orders never sent" in _text(snap)


def test_fees_reach_the_report_and_the_dashboard() -> None:
    """An execution is charged by ``LiveConfig.fees``: the snapshot's ``pnl`` is net of
    it, ``fees`` is the backtest report's table, and the dashboard shows gross, fees and
    net when a schedule is set (and nothing new without one)."""
    assert "fees" not in _text(_engine().snapshot())
    eng = LiveEngine(
        ThresholdTaker(),
        LiveConfig(
            feed=("127.0.0.1", 0),
            ouch=("127.0.0.1", 1),
            fees=FeeSchedule(remove_per_share=30, add_per_share=-20),
        ),
    )
    order = eng.runner.manager.submit("AAPL", "B", 300, 1_500_000)
    m = eng.runner.manager
    m.on_message(v50.OrderAccepted(
        timestamp=1, user_ref_num=order.user_ref_num, side="B", quantity=300, symbol="AAPL",
        price=1_500_000, time_in_force="0", display="Y", order_reference_number=9,
        capacity="A", intermarket_sweep_eligibility="N", cross_type="N", order_state="L", cl_ord_id="",
    ))  # fmt: skip
    m.on_message(v50.OrderExecuted(timestamp=2, user_ref_num=order.user_ref_num,
                                   quantity=300, price=1_500_000, liquidity_flag="R",
                                   match_number=1))  # fmt: skip
    eng.runner.risk.ledger.mark("AAPL", 1_510_000)
    snap = eng.snapshot()
    assert snap["fees"]["total_e4"] == snap["fees"]["removed_e4"] == 9_000  # 300 x $0.003
    assert snap["pnl_gross"] == 3_000_000 and snap["pnl"] == 3_000_000 - 9_000
    text = _text(snap)
    assert "PnL gross / fees / net" in text and "300.00 / 0.90 / 299.10" in text
    assert "PnL 299.10" in text


def test_an_execution_nobody_sent_trips_the_live_kill_switch() -> None:
    """Through the live runner's OUCH path: an Order Executed naming a UserRefNum this
    engine never sent engages the kill switch; the report and the dashboard say so."""
    import asyncio

    eng = _engine()
    order = eng.runner.manager.submit("AAPL", "B", 100, 1_500_000)
    assert order.state.value == "pending" and eng.runner.risk.armed

    async def main() -> None:
        unknown = v50.OrderExecuted(
            timestamp=5, user_ref_num=777, quantity=100, price=1_500_000,
            liquidity_flag="A", match_number=1,
        )  # fmt: skip
        await eng.runner._dispatch("ouch", v50.encode(unknown))

    asyncio.run(main())
    snap = eng.snapshot()
    assert snap["armed"] is False
    assert snap["orders"]["unknown_executions"] == snap["orders"]["unknown_answers"] == 1
    assert isinstance(eng.runner.sent[-1], v50.CancelOrder)  # the open order is cancelled
    text = _text(snap)
    assert "KILLED" in text and "executions of orders never sent" in text


def test_an_execution_beyond_the_order_trips_the_live_kill_switch() -> None:
    """Through the live runner's OUCH path: an Order Executed of more shares than the
    order had open; the report and the dashboard say so."""
    import asyncio

    eng = _engine()
    order = eng.runner.manager.submit("AAPL", "B", 100, 1_500_000)

    async def main() -> None:
        over = v50.OrderExecuted(
            timestamp=5, user_ref_num=order.user_ref_num, quantity=400, price=1_500_000,
            liquidity_flag="A", match_number=1,
        )  # fmt: skip
        await eng.runner._dispatch("ouch", v50.encode(over))

    asyncio.run(main())
    snap = eng.snapshot()
    assert snap["armed"] is False and snap["orders"]["excess_executions"] == 1
    assert snap["positions"] == {"AAPL": 400}
    text = _text(snap)
    assert "KILLED" in text and "executions beyond the order" in text


def test_a_broken_trade_trips_the_live_kill_switch_and_is_shown() -> None:
    """Through the live runner's OUCH path: a Broken Trade of one of the engine's orders
    (OUCH 5.0 section 3.7: "the trade is no longer good and will not clear") trips the
    kill switch, the report counts it (``orders.broken_trades``) and the dashboard says
    so; the position stays as booked, to reconcile. The old engine took it silently,
    armed, its position 100 shares off what clears."""
    import asyncio

    eng = _engine()
    order = eng.runner.manager.submit("AAPL", "B", 100, 1_500_000)

    async def main() -> None:
        ref = order.user_ref_num
        acc = v50.OrderAccepted(1, ref, "B", 100, "AAPL", 1_500_000, "0", "Y", 9, "P", "N",
                                "N", "L", order.cl_ord_id)  # fmt: skip
        exe = v50.OrderExecuted(2, ref, 100, 1_500_000, "A", 77)
        broken = v50.BrokenTrade(3, ref, 77, "E", order.cl_ord_id)
        for msg in (acc, exe, broken):
            await eng.runner._dispatch("ouch", v50.encode(msg))

    asyncio.run(main())
    snap = eng.snapshot()
    assert snap["armed"] is False and snap["orders"]["broken_trades"] == 1
    assert snap["positions"] == {"AAPL": 100}
    text = _text(snap)
    assert "KILLED" in text and "broken trades" in text


def test_a_feed_copy_that_differs_trips_the_live_kill_switch_once() -> None:
    """The receiver's Conflict (a forged packet of the session was applied, or is the
    copy now): the kill switch trips, the open order is cancelled, a flood trips it
    once; the report and the dashboard say so."""
    from tickwire.moldudp64.events import Conflict

    eng = _engine()
    eng.runner.manager.submit("AAPL", "B", 100, 1_500_000)
    eng._on_feed_event(Conflict("TWFEED0001", 40, 2, ("198.18.0.7", 1)))
    assert eng.runner.risk.armed is False and eng.kill_trips == 1
    assert isinstance(eng.runner.sent[-1], v50.CancelOrder)
    eng._on_feed_event(Conflict("TWFEED0001", 41, 1, ("198.18.0.7", 1)))
    snap = eng.snapshot()
    assert eng.kill_trips == 1 and snap["feed"]["conflicts"] == 3
    text = _text(snap)
    assert "KILLED" in text and "feed copies that differ" in text


def test_a_dashboard_that_fails_is_said_at_once_and_the_session_goes_on(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import asyncio

    from tickwire.engine.cli_live import _dashboard_gone

    async def broken() -> None:
        raise ValueError("cannot draw")

    async def main() -> None:
        board = asyncio.create_task(broken())
        board.add_done_callback(_dashboard_gone)
        await asyncio.gather(board, return_exceptions=True)

    asyncio.run(main())
    assert capsys.readouterr().err == "live: the dashboard stopped: cannot draw\n"


def test_what_a_restart_inherited_is_reported_and_shown() -> None:
    """The previous run's answers, heard while inheriting, are booked (position, an open
    order counted by risk) and never told to the strategy; the Account Query Response
    cancels the open order, moves the UserRefNums on, releases the orders, and the status
    and the dashboard say what was inherited."""
    eng = _engine()
    m = eng.runner.manager
    eng._awaiting_account = m.inheriting = True
    eng.runner.risk.hold("awaiting the Account Query Response")
    assert "inheriting a previous run" in _text(eng.snapshot())
    eng._awaiting_since = time.monotonic() - 12.2  # the query sent 12 s ago, unanswered
    assert "Account Query Response (12 s unanswered)" in _text(eng.snapshot())
    refused = m.submit("AAPL", "B", 100, 1_500_000)  # no UserRefNum taken: 1 may be theirs
    assert refused.reason == "awaiting_account" and refused.user_ref_num == 0
    assert 0 not in m.orders
    accepted = v50.OrderAccepted(
        1, 1, "B", 300, "AAPL", 1_500_000, "0", "Y", 42, "P", "N", "N", "L", "X", ()
    )
    m.on_message(accepted)
    m.on_message(v50.OrderExecuted(2, 1, 100, 1_500_000, "A", 9))
    m.on_message(v50.Rejected(3, 2, v50.RejectReason.HALTED, "Y"))  # ended unaccepted
    assert eng.runner.risk.open_orders() == 1
    eng._awaiting_account, eng._awaiting_since = False, None
    eng._inherit(v50.AccountQueryResponse(4, 3))
    snap = eng.snapshot()
    assert snap["inherited"] == {
        "messages": 0, "answers": 3, "orders": 1, "open": 1, "cancelled": 1,
        "positions": {"AAPL": 100}, "realised": {}, "next_user_ref_num": 3,
    }  # fmt: skip
    assert snap["positions"] == {"AAPL": 100}
    assert snap["orders"]["unknown_answers"] == 0 and snap["armed"]
    assert [o["inherited"] for o in snap["orders"]["open"]] == [True]
    # the strategy hears only of its own refused order
    assert [(u.kind, u.order) for u in eng.runner._updates] == [("refused", refused)]
    assert m.next_user_ref_num == 3 and not eng.runner.risk.held
    cancel = eng.runner.sent[-1]
    assert isinstance(cancel, v50.CancelOrder) and cancel.user_ref_num == 1
    assert "inherited from a previous run" in _text(snap)
    assert "1 orders, 1 cancelled; AAPL 100" in _text(snap)


def test_render_escapes_control_characters_from_the_feed() -> None:
    """A symbol and a session name carrying ESC sequences (clear the screen, set the
    window title) are shown escaped, on a real terminal too: rich passes ESC through, so
    on the old code every refresh wrote them to the operator's terminal."""
    eng = _engine()
    eng.runner.risk.ledger.fill("\x1b[2J\x9bH", "B", 300, 1_500_000)
    snap = eng.snapshot()
    snap["feed"]["session_changes"] = ["\x1b]0;pwned\x07 -> TWFEED0001"]
    console = Console(record=True, width=140, force_terminal=True, color_system="truecolor")
    console.print(render(snap))
    raw = console.export_text(styles=True)  # with rich's own styling: ESC [ ... m only
    assert "\x1b[2J" not in raw and "\x1b]0;" not in raw and "\x9b" not in raw
    assert "\\x1b[2J\\x9bH" in raw and "\\x1b]0;pwned\\x07" in raw


def test_uptime_is_measured_on_a_monotonic_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """``uptime_s`` (status, the dashboard's ``up``) is an interval: the wall clock set back
    an hour (an NTP step, a hand-set clock) leaves it as it was. It was ``time.time()``
    minus the start, so it went negative (``up -3600s``) or jumped."""
    eng = _engine()
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() - 3600.0)
    up = eng.snapshot()["uptime_s"]
    assert 0 <= up < 60, up


def test_an_order_never_sent_live_at_the_exchange_is_shown() -> None:
    """Through the live runner's OUCH path: an Order Accepted live for a UserRefNum this
    engine never sent trips the kill switch; the report counts it
    (``orders.unknown_orders``) and the dashboard says so."""
    import asyncio

    eng = _engine()
    eng.runner.manager.submit("AAPL", "B", 100, 1_500_000)

    async def main() -> None:
        foreign = v50.OrderAccepted(
            5, 777, "B", 100, "AAPL", 1_500_000, "0", "Y", 9, "P", "N", "N", "L", "x"
        )
        await eng.runner._dispatch("ouch", v50.encode(foreign))

    asyncio.run(main())
    snap = eng.snapshot()
    assert snap["armed"] is False and snap["kill_trips"] == 1
    assert snap["orders"]["unknown_orders"] == snap["orders"]["unknown_answers"] == 1
    text = _text(snap)
    assert "KILLED" in text and "orders never sent, live" in text
