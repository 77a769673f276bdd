"""Fees and rebates by liquidity flag, and the report's standard statistics (Sharpe,
Sortino, drawdown and its duration, turnover, fill ratio, queue position at fill, per
symbol), on hand-built series and on the generated day."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import pytest
from tickwire.engine.backtest import BacktestConfig, BacktestResult, PnlPoint, run_backtest
from tickwire.engine.backtest.fees import FeeLedger, FeeSchedule
from tickwire.engine.backtest.report import build_report, summary_text, write_csv
from tickwire.engine.backtest.stats import (
    MINUTES_PER_YEAR,
    SESSION_OPEN_NS,
    drawdown,
    minute_changes,
    sharpe_sortino,
)
from tickwire.engine.backtest.venue import SimulatedVenue
from tickwire.engine.book import BookManager
from tickwire.engine.cli_backtest import DEFAULT_RISK, main
from tickwire.engine.risk import parse_risk_limits
from tickwire.engine.strategy import MarketMaker
from tickwire.itch import AddOrder, Message, OrderExecuted, SystemEvent
from tickwire.itch.generator import generate_day
from tickwire.ouch import v50
from tickwire.threshold.config import ConfigError

DAY = (40_000, 40, 1)
FEES = FeeSchedule(remove_per_share=30, add_per_share=-20)
MIN = 60_000_000_000


def _run(fees: FeeSchedule | None = None) -> BacktestResult:
    return run_backtest(
        MarketMaker(),
        generate_day(*DAY),
        limits=parse_risk_limits(DEFAULT_RISK),
        config=BacktestConfig(),
        fees=fees,
        measure=False,
    )


@pytest.fixture(scope="module")
def free() -> BacktestResult:
    return _run()


@pytest.fixture(scope="module")
def charged() -> BacktestResult:
    return _run(FEES)


# -- fees ---------------------------------------------------------------------------------


def test_engine_fees_schedule_prices_each_flag() -> None:
    assert FEES.fee("R", 100) == 3_000  # $0.30 to take 100 shares
    assert FEES.fee("A", 100) == -2_000  # a $0.20 rebate for adding them
    assert FEES.fee("J", 100) == 0  # hidden liquidity added: its own rate, default 0
    assert FEES.fee("X", 100) is None  # never silently priced as one of the others
    assert FeeSchedule().is_free and not FEES.is_free


def test_engine_fees_a_hidden_add_is_priced_by_its_own_rate() -> None:
    """Flag ``J`` (our hidden order's passive fill, OUCH 5.0 Appendix E "Non-displayed
    adding liquidity") costs ``add_hidden_per_share`` (``[fees]``; default 0, not the
    displayed rebate), is in the ledger's ``added`` and the schedule's table, and is not
    an unknown flag. Before: the schedule knew ``A`` and ``R`` only, so a ``J`` fill was
    charged nothing and counted in ``unknown_flag_fills``."""
    hidden = FeeSchedule.from_mapping({"add_per_share": -20, "add_hidden_per_share": 10})
    assert hidden.fee("J", 100) == 1_000 and hidden.fee("A", 100) == -2_000
    assert not FeeSchedule(add_hidden_per_share=-1).is_free
    ledger = FeeLedger(hidden)
    assert [ledger.charge("AAPL", flag, 100) for flag in "AJR"] == [-2_000, 1_000, 0]
    assert (ledger.added, ledger.removed, ledger.unknown_flag_fills) == (-1_000, 0, 0)
    assert ledger.as_dict()["schedule"] == {
        "remove_per_share": 0,
        "add_per_share": -20,
        "add_hidden_per_share": 10,
    }
    with pytest.raises(ConfigError, match=r"^fees\.add_hidden_per_share: must be between"):
        FeeSchedule.from_mapping({"add_hidden_per_share": 10_001})


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"remove_per_shar": 30}, "fees.remove_per_shar: unknown key"),
        ({"remove_per_share": 0.003}, "fees.remove_per_share: must be an integer"),
        ({"add_per_share": True}, "fees.add_per_share: must be an integer"),
        ({"add_per_share": "-20"}, "fees.add_per_share: must be an integer"),
        ({"remove_per_share": 30_000}, "fees.remove_per_share: must be between"),
    ],
)
def test_engine_fees_bad_tables_name_the_key(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match="^" + message):
        FeeSchedule.from_mapping(table)


def test_engine_fees_in_pnl_and_report(free: BacktestResult, charged: BacktestResult) -> None:
    a, b = build_report(free), build_report(charged)
    # fees change nothing about the trading, only the money
    assert free.fills == charged.fills
    expected = sum(FEES.fee(f.liquidity_flag, f.quantity) or 0 for f in charged.fills)
    removed = sum(f.quantity for f in charged.fills if f.liquidity_flag == "R") * 30
    added = sum(f.quantity for f in charged.fills if f.liquidity_flag == "A") * -20
    assert removed > 0 and added < 0  # both flags occur on this day
    assert b["fees"]["total_e4"] == expected == removed + added == b["pnl"]["fees_e4"]
    assert (b["fees"]["removed_e4"], b["fees"]["added_e4"]) == (removed, added)
    assert b["pnl"]["gross_e4"] == a["pnl"]["total_e4"]
    assert b["pnl"]["net_e4"] == b["pnl"]["total_e4"] == a["pnl"]["total_e4"] - expected
    # the series is net of fees too, and ends where the report does
    assert charged.pnl_series[-1].fees == expected
    assert b["pnl"]["final_series_pnl_e4"] == b["pnl"]["total_e4"]
    assert sum(s["fees_e4"] for s in b["symbols"].values()) == expected
    for sym, s in b["symbols"].items():
        assert s["pnl_e4"] == s["gross_pnl_e4"] - s["fees_e4"]
        assert s["gross_pnl_e4"] == a["symbols"][sym]["pnl_e4"]
    assert b["config"]["fees"] == {
        "remove_per_share": 30,
        "add_per_share": -20,
        "add_hidden_per_share": 0,
    }
    assert "  fees      gross" in summary_text(b)


def test_engine_fees_in_the_csvs_and_frames(charged: BacktestResult, tmp_path: Path) -> None:
    """fills.csv has each fill's fee, pnl.csv the fees so far beside the net PnL and
    positions.csv each symbol's: they reconcile with the report (issue #18: the PnL was
    net of fees, but no table said how much)."""
    import csv

    write_csv(charged, tmp_path)

    def table(name: str) -> list[dict[str, str]]:
        with (tmp_path / f"{name}.csv").open() as f:
            return list(csv.DictReader(f))

    report = build_report(charged)
    expected = report["fees"]["total_e4"]
    fills, pnl, positions = table("fills"), table("pnl"), table("positions")
    per_fill = [int(r["fee_e4"]) for r in fills]
    assert per_fill == [FEES.fee(f.liquidity_flag, f.quantity) for f in charged.fills]
    assert sum(per_fill) == expected != 0
    # cumulative where PnL is: each point's fees are those of the fills it has seen
    running = [0, *itertools.accumulate(per_fill)]
    for row in pnl:
        assert int(row["fees_e4"]) == running[int(row["fills"])]
    assert int(pnl[-1]["fees_e4"]) == expected
    assert {r["symbol"]: int(r["fees_e4"]) for r in positions} == {
        sym: charged.fees.get(sym, 0) for sym in (r["symbol"] for r in positions)
    }
    assert sum(int(r["fees_e4"]) for r in positions) == expected
    pytest.importorskip("pyarrow")
    frames = charged.to_frames("arrow")
    assert frames["fills"].column("fee_e4").to_pylist() == per_fill
    assert frames["pnl"].column("fees_e4").to_pylist() == [int(r["fees_e4"]) for r in pnl]
    assert sum(frames["positions"].column("fees_e4").to_pylist()) == expected


def test_engine_fees_the_report_and_the_run_charge_alike(charged: BacktestResult) -> None:
    """The report's fee table is the run's fills replayed through the one FeeLedger, and
    a flag the schedule does not price is counted, charged nothing."""
    ledger = FeeLedger.replay(FEES, charged.fills)
    assert ledger.by_symbol == charged.fees
    assert ledger.as_dict() == build_report(charged)["fees"]
    odd = FeeLedger(FEES)
    assert odd.charge("AAPL", "X", 100) == 0
    assert (odd.unknown_flag_fills, odd.total, odd.by_symbol) == (1, 0, {})
    assert odd.charge("AAPL", "R", 100) == 3_000 and odd.charge("AAPL", "A", 50) == -1_000
    assert (odd.removed, odd.added, odd.total, odd.by_symbol) == (
        3_000,
        -1_000,
        2_000,
        {"AAPL": 2_000},
    )


def test_engine_fees_default_changes_no_existing_figure(free: BacktestResult) -> None:
    report = build_report(free)
    assert "fees" not in report["config"]
    assert report["pnl"]["gross_e4"] == report["pnl"]["net_e4"] == report["pnl"]["total_e4"]
    assert report["fees"]["total_e4"] == 0
    assert all(p.fees == 0 for p in free.pnl_series)
    assert "  fees " not in summary_text(report)


def test_engine_fees_from_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "fees.toml"
    cfg.write_text("[fees]\nremove_per_share = 30\nadd_per_share = -20\n")
    args = ["backtest", "--messages", "20000", "--symbols", "20", "--no-plot"]
    assert main([*args, "--config", str(cfg), "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert "fees      gross" in out and "net" in out
    cfg.write_text("[fees]\nremove_per_share = 0.003\n")
    assert main([*args, "--config", str(cfg), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert "fees.remove_per_share: must be an integer" in err and "\n" not in err


# -- statistics ---------------------------------------------------------------------------


def _pt(t: int, pnl: int) -> PnlPoint:
    return PnlPoint(t, 0, pnl, 0, pnl, 0)


def test_engine_stats_minute_changes_sample_the_session() -> None:
    t0 = SESSION_OPEN_NS
    series = [
        _pt(t0 - 10 * MIN, 7),  # pre-open: sets the level, is not a minute of its own
        _pt(t0 + MIN // 2, 10),
        _pt(t0 + MIN, 15),  # on the edge: counts for the minute it ends
        _pt(t0 + 3 * MIN + 1, 5),
    ]
    # edges 09:30, :31, :32, :33, :34 -> 7, 15, 15, 15, 5
    assert minute_changes(series) == [8, 0, 0, -10]
    assert minute_changes([]) == []
    assert minute_changes([_pt(3_600_000_000_000, 5)]) == []  # 01:00: no session minute


def test_engine_stats_sharpe_sortino_formula() -> None:
    x = [10, -5, 20, 0, -10]
    mean = sum(x) / 5
    sd = math.sqrt(sum((v - mean) ** 2 for v in x) / 5)
    down = math.sqrt((25 + 100) / 5)
    sharpe, sortino = sharpe_sortino(x)
    assert sharpe == round(mean / sd * math.sqrt(MINUTES_PER_YEAR), 4)
    assert sortino == round(mean / down * math.sqrt(MINUTES_PER_YEAR), 4)
    assert sharpe_sortino([5]) == (None, None)
    assert sharpe_sortino([3, 3, 3]) == (None, None)  # no deviation, no losing minute
    assert sharpe_sortino([1, 2])[1] is None


def test_engine_stats_drawdown_and_duration() -> None:
    series = [_pt(0, 0), _pt(10, 50), _pt(20, 20), _pt(30, 60), _pt(40, 0), _pt(45, 10)]
    # peak 50 at 10, recovered at 30 (20 ns); peak 60 at 30, never recovered (15 ns)
    assert drawdown(series) == (60, 20)
    assert drawdown([_pt(0, 0), _pt(100, -30)]) == (30, 100)
    assert drawdown([]) == (0, 0)


def test_engine_stats_queue_position_at_fill() -> None:
    books = BookManager()
    venue = SimulatedVenue(books, lambda _msg: None)
    clock = [SESSION_OPEN_NS]

    def feed(make: Any, *fields: Any) -> None:
        clock[0] += 1_000
        msg: Message = make(7, 0, clock[0], *fields)
        venue.on_market(msg, clock[0])
        books.apply(msg)

    def enter(ref: int, qty: int, price: int) -> None:
        clock[0] += 1_000
        order = v50.EnterOrder(
            user_ref_num=ref,
            side="B",
            quantity=qty,
            symbol="TEST",
            price=price,
            time_in_force="0",
            display="Y",
            capacity="P",
            intermarket_sweep_eligibility="N",
            cross_type="N",
            cl_ord_id=v50.cl_ord_id_for(ref),
        )
        venue.receive(order, clock[0])

    venue.on_market(SystemEvent(0, 0, clock[0], "Q"), clock[0])
    books.apply(SystemEvent(0, 0, clock[0], "Q"))
    feed(AddOrder, 1, "B", 300, "TEST", 1_000_000)
    feed(AddOrder, 2, "B", 200, "TEST", 1_000_000)
    enter(10, 100, 1_000_000)  # joins behind 500 shares
    feed(OrderExecuted, 1, 300, 1)
    feed(OrderExecuted, 2, 200, 2)
    feed(AddOrder, 3, "B", 50, "TEST", 1_000_000)  # behind us
    feed(OrderExecuted, 3, 40, 3)  # reaches our place: we fill 40
    (fill,) = venue.fills
    assert (fill.liquidity_flag, fill.quantity, fill.queue_ahead) == ("A", 40, 500)
    feed(AddOrder, 4, "S", 500, "TEST", 1_100_000)
    enter(11, 10, 1_100_000)  # takes liquidity: no queue
    assert venue.fills[-1].liquidity_flag == "R" and venue.fills[-1].queue_ahead == 0


def test_engine_stats_in_the_report(free: BacktestResult) -> None:
    report = build_report(free)
    st = report["statistics"]
    assert st["max_drawdown_e4"] == report["pnl"]["max_drawdown_e4"]
    assert st["turnover_e4"] == report["fills"]["notional_e4"]
    assert st["turnover_shares"] == report["fills"]["shares"]
    sent = [o for o in free.orders if o["state"] != "refused"]
    assert st["fill_ratio"] == round(
        sum(o["filled"] for o in sent) / sum(o["quantity"] for o in sent), 6
    )
    passive = [f for f in free.fills if f.liquidity_flag == "A"]
    assert st["avg_queue_ahead_at_fill"] == round(
        sum(f.queue_ahead for f in passive) / len(passive), 2
    )
    assert st["minutes"] > 300 and st["sharpe"] is not None and st["sortino"] is not None
    assert 0 < st["max_drawdown_duration_ns"] < 86_400_000_000_000
    for s in report["symbols"].values():
        assert s["passive_shares"] + s["aggressive_shares"] == s["bought"] + s["sold"]
    text = summary_text(report)
    assert "Sharpe" in text and "fill ratio" in text and "queue ahead at fill" in text
