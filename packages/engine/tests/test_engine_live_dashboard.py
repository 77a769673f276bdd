"""The dashboard renders a snapshot and its keys act on the engine's kill switch."""

from __future__ import annotations

from rich.console import Console
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


def test_render_shows_what_the_feed_receiver_refused() -> None:
    snap = _engine().snapshot()
    assert snap["feed"]["refused"]["stale_end_of_session"] == 0
    assert "feed packets refused" not in _text(snap)
    snap["feed"]["refused"].update(other_session_packets=2, stale_end_of_session=1)
    text = _text(snap)
    assert "feed packets refused" in text
    assert "other_session 2, stale_end_of_session 1" in text


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
