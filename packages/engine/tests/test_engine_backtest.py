"""End-to-end backtests on the generated day: determinism, PnL reconciled with fills,
latency plumbing, reports and the CLI."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tickwire.engine.backtest import BacktestConfig, BacktestResult, run_backtest
from tickwire.engine.backtest.latency import (
    ConstantLatency,
    LatencySpecError,
    LogNormalLatency,
    parse_latency,
)
from tickwire.engine.backtest.report import build_report, percentiles, summary_text, write_outputs
from tickwire.engine.cli_backtest import DEFAULT_RISK, main
from tickwire.engine.risk import parse_risk_limits
from tickwire.engine.strategy import (
    BookUpdate,
    MarketMaker,
    OrderUpdate,
    ThresholdTaker,
    TradeEvent,
)
from tickwire.engine.strategy.api import Context
from tickwire.itch.generator import generate_day

DAY = (40_000, 40, 1)  # messages, symbols, seed: a small generated day keeps the suite quick


def _run(strategy: Any = None, **cfg: Any) -> BacktestResult:
    return run_backtest(
        strategy if strategy is not None else MarketMaker(),
        generate_day(*DAY),
        limits=parse_risk_limits(DEFAULT_RISK),
        config=BacktestConfig(**cfg),
        total=DAY[0],
    )


def _deterministic(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k != "runtime"}


@pytest.fixture(scope="module")
def mm_result() -> BacktestResult:
    return _run()


def test_engine_backtest_market_maker_is_deterministic(mm_result: BacktestResult) -> None:
    again = _run()
    a, b = build_report(mm_result), build_report(again)
    assert _deterministic(a) == _deterministic(b)
    assert mm_result.fills == again.fills
    assert mm_result.pnl_series == again.pnl_series
    assert a["fills"]["count"] > 20  # it really traded
    assert a["orders"]["sent"] > 100


def _updates_timed_and_untimed(
    strategy: Callable[[], Any], backend: str
) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """The order updates ``strategy()`` records (its ``updates``) in a run with callback
    timing and in one without, on the day ``DAY``."""
    runs = []
    for measure in (True, False):
        seen = strategy()
        run_backtest(
            seen,
            generate_day(*DAY),
            limits=parse_risk_limits(DEFAULT_RISK),
            measure=measure,
            backend=backend,
        )
        runs.append(seen.updates)
    return runs[0], runs[1]


@pytest.mark.parametrize("backend", ["reference", "compiled"])
def test_engine_backtest_untimed_run_counts_the_no_op_order_updates(
    mm_result: BacktestResult, backend: str
) -> None:
    """Without callback timing (``measure=False``) the runner counts the order updates of a
    strategy that keeps the base class's no-op ``on_order_update`` instead of driving each
    through a coroutine: the report is the timed run's, its events counted the same; a
    strategy that overrides it still gets every update, in order."""

    class Seen(MarketMaker):
        def __init__(self) -> None:
            super().__init__()
            self.updates: list[tuple[str, int]] = []

        async def on_order_update(self, update: OrderUpdate) -> None:
            self.updates.append((update.kind, update.order.user_ref_num))

    untimed = run_backtest(
        MarketMaker(),
        generate_day(*DAY),
        limits=parse_risk_limits(DEFAULT_RISK),
        measure=False,
        backend=backend,
    )
    assert _deterministic(build_report(untimed)) == _deterministic(build_report(mm_result))
    assert untimed.strategy_events == mm_result.strategy_events
    timed, untimed = _updates_timed_and_untimed(Seen, backend)
    assert len(timed) > 100 and timed == untimed


@pytest.mark.parametrize("backend", ["reference", "compiled"])
def test_engine_backtest_untimed_run_calls_an_order_update_bound_per_instance(
    backend: str,
) -> None:
    """A strategy's own ``on_order_update`` bound per instance (the class keeps the base
    no-op) gets every update without callback timing too: the runner decided from the
    class that it was the no-op and counted the updates of an untimed run (``measure=
    False``) without calling it, so the strategy saw updates only when timed."""

    class PerInstance(MarketMaker):
        def __init__(self) -> None:
            super().__init__()
            self.updates: list[tuple[str, int]] = []
            self.on_order_update = self._update  # type: ignore[method-assign]

        async def _update(self, update: OrderUpdate) -> None:
            self.updates.append((update.kind, update.order.user_ref_num))

    timed, untimed = _updates_timed_and_untimed(PerInstance, backend)
    assert len(timed) > 100 and timed == untimed


class _BoundIn(MarketMaker):
    """The market maker with its ``on_order_update``, ``on_book`` and ``on_trade`` bound
    per instance (the class keeps the base no-ops for the first and last) in ``__init__``
    or, with ``where = "on_start"``, in ``on_start``; each records what it is given in
    ``updates`` (``on_book`` then trades as the market maker does)."""

    where = "__init__"

    def __init__(self) -> None:
        super().__init__()
        self.updates: list[tuple[str, int]] = []
        if self.where == "__init__":
            self._bind()

    async def on_start(self, ctx: Context) -> None:
        await super().on_start(ctx)
        if self.where == "on_start":
            self._bind()

    def _bind(self) -> None:
        self.on_order_update = self._update  # type: ignore[method-assign]
        self.on_book = self._book  # type: ignore[method-assign]
        self.on_trade = self._trade  # type: ignore[method-assign]

    async def _update(self, update: OrderUpdate) -> None:
        self.updates.append((update.kind, update.order.user_ref_num))

    async def _book(self, update: BookUpdate) -> None:
        self.updates.append(("book", update.timestamp))
        await MarketMaker.on_book(self, update)

    async def _trade(self, trade: TradeEvent) -> None:
        self.updates.append(("trade", trade.timestamp))


class _BoundInOnStart(_BoundIn):
    where = "on_start"


@pytest.mark.parametrize("backend", ["reference", "compiled"])
def test_engine_backtest_callbacks_bound_in_on_start_are_called(backend: str) -> None:
    """Callbacks a strategy binds per instance in ``on_start`` are called as those bound in
    ``__init__``, timed or not, on both backends: the runner took the callbacks (and
    whether ``on_order_update`` was the no-op to count) before ``on_start``, so it never
    called an ``on_book`` or ``on_trade`` bound there, nor an ``on_order_update`` in an
    untimed run (``measure=False``)."""
    want = _updates_timed_and_untimed(_BoundIn, backend)
    kinds = {kind for kind, _ in want[0]}
    assert {"book", "trade", "accepted", "executed"} <= kinds and want[0] == want[1]
    assert _updates_timed_and_untimed(_BoundInOnStart, backend) == want


class _BindsLater(MarketMaker):
    """The market maker (which keeps the base class's no-op ``on_order_update``) that
    binds its own per instance in the middle of the run, in its 200th ``on_book``; it
    records each order update it is given from then on in ``updates``."""

    def __init__(self) -> None:
        super().__init__()
        self.updates: list[tuple[str, int]] = []
        self.books = 0

    async def on_book(self, update: BookUpdate) -> None:
        self.books += 1
        if self.books == 200:
            self.on_order_update = self._update  # type: ignore[method-assign]
        await super().on_book(update)

    async def _update(self, update: OrderUpdate) -> None:
        self.updates.append((update.kind, update.order.user_ref_num))


def test_engine_backtest_an_order_update_bound_mid_run_is_called_timed_or_not() -> None:
    """An ``on_order_update`` a strategy binds in the middle of a run (in ``on_book``) is
    called from then on, timed or not, on both backends, as live calls it: an untimed
    run (``measure=False``) decided once, after ``on_start``, that the strategy kept the
    base no-op and counted every later update instead of calling what it bound."""
    want = _updates_timed_and_untimed(_BindsLater, "reference")
    assert len(want[0]) > 100 and want[0] == want[1]
    assert _updates_timed_and_untimed(_BindsLater, "compiled") == want


def test_engine_backtest_pnl_reconciles_with_fills(mm_result: BacktestResult) -> None:
    report = build_report(mm_result)
    cash: dict[str, int] = {}
    pos: dict[str, int] = {}
    for f in mm_result.fills:
        signed = f.quantity if f.side == "B" else -f.quantity
        pos[f.symbol] = pos.get(f.symbol, 0) + signed
        cash[f.symbol] = cash.get(f.symbol, 0) - signed * f.price
    total = 0
    for sym in pos:
        pnl = cash[sym] + pos[sym] * mm_result.marks.get(sym, 0)
        assert report["symbols"][sym]["pnl_e4"] == pnl
        assert report["symbols"][sym]["position"] == pos[sym]
        total += pnl
    assert report["pnl"]["total_e4"] == total
    assert report["pnl"]["realised_e4"] + report["pnl"]["unrealised_e4"] == total
    assert mm_result.pnl_series[-1].pnl == total
    # Every fill belongs to an order, and the orders' filled shares add up.
    filled: dict[int, int] = {}
    for f in mm_result.fills:
        filled[f.user_ref_num] = filled.get(f.user_ref_num, 0) + f.quantity
    for o in mm_result.orders:
        assert o["filled"] == filled.get(o["user_ref_num"], 0)
    # The day ends flat on orders: the strategy cancelled everything on stop.
    assert all(o["state"] in ("done", "refused", "rejected") for o in mm_result.orders)


def test_engine_backtest_constant_latencies_show_in_percentiles(mm_result: BacktestResult) -> None:
    lat = build_report(mm_result)["latency_ns"]
    # Feed 20 us + order 30 us between the event and the venue; order 30 + ack 30 us.
    assert lat["tick_to_venue"]["p50"] == lat["tick_to_venue"]["p99_9"] == 50_000
    assert lat["order_to_ack"]["p50"] == lat["order_to_ack"]["max"] == 60_000
    assert lat["order_to_ack"]["tail_ratio"] == 1.0


def test_engine_backtest_random_latency_is_seeded() -> None:
    a = _run(feed_latency="lognormal:20000,0.6", order_latency="uniform:10000,90000", seed=7)
    b = _run(feed_latency="lognormal:20000,0.6", order_latency="uniform:10000,90000", seed=7)
    c = _run(feed_latency="lognormal:20000,0.6", order_latency="uniform:10000,90000", seed=8)
    ra, rb, rc = (build_report(x) for x in (a, b, c))
    assert _deterministic(ra) == _deterministic(rb)
    assert ra["latency_ns"] != rc["latency_ns"]
    t = ra["latency_ns"]["order_to_ack"]
    assert t["p50"] < t["p99"] <= t["p99_9"] and t["tail_ratio"] > 1


def test_engine_backtest_taker_trades_and_reconciles() -> None:
    res = _run(ThresholdTaker())
    report = build_report(res)
    assert report["fills"]["count"] > 0
    assert report["fills"]["passive_shares"] == 0  # IOC only: it never rests
    assert all(o["time_in_force"] == "3" for o in res.orders)
    total = sum(-(f.quantity if f.side == "B" else -f.quantity) * f.price for f in res.fills) + sum(
        p * res.marks.get(s, 0) for s, p in res.positions.items()
    )
    assert report["pnl"]["total_e4"] == total


def test_engine_backtest_risk_refusals_reach_the_report() -> None:
    limits = dict(DEFAULT_RISK, max_position=100, max_open_orders=2)
    res = run_backtest(MarketMaker(), generate_day(*DAY), limits=parse_risk_limits(limits))
    report = build_report(res)
    assert sum(report["orders"]["refused_by_risk"].values()) > 0
    assert all(abs(p) <= 100 for p in res.positions.values())


def test_engine_backtest_answers_for_orders_never_sent_reach_the_report(
    mm_result: BacktestResult,
) -> None:
    report = build_report(mm_result)
    assert report["orders"]["unknown_answers"] == mm_result.unknown_answers == 0
    assert "never sent" not in summary_text(report)  # a line only when there are some
    report = build_report(BacktestResult(unknown_answers=3))
    assert report["orders"]["unknown_answers"] == 3
    assert "3 answers for orders never sent (ignored)" in summary_text(report)
    assert report["orders"]["unknown_executions"] == mm_result.unknown_executions == 0
    assert "kill switch tripped" not in summary_text(report)
    report = build_report(BacktestResult(unknown_answers=3, unknown_executions=2))
    assert report["orders"]["unknown_executions"] == 2
    assert "2 executions of orders never sent: kill switch tripped" in summary_text(report)


def test_engine_backtest_outputs(tmp_path: Path, mm_result: BacktestResult) -> None:
    report = write_outputs(mm_result, tmp_path, plot=True)
    assert json.loads((tmp_path / "report.json").read_text())["pnl"] == report["pnl"]
    with (tmp_path / "fills.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(mm_result.fills)
    assert sum(int(r["quantity"]) for r in rows) == report["fills"]["shares"]
    png = (tmp_path / "pnl.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    text = summary_text(report)
    assert "pnl" in text and "P99.9" in text


def test_engine_backtest_percentiles() -> None:
    p = percentiles(list(range(1, 1001)))
    assert (p["p50"], p["p99"], p["p99_9"], p["max"]) == (500, 990, 999, 1000)
    assert p["tail_ratio"] == round(999 / 500, 3)
    assert percentiles([])["count"] == 0


@pytest.mark.parametrize(
    ("spec", "kind"),
    [
        ("20000", ConstantLatency),
        ("constant:5", ConstantLatency),
        ("lognormal:1000,0.5", LogNormalLatency),
    ],
)
def test_engine_backtest_latency_specs(spec: str, kind: type) -> None:
    model = parse_latency(spec, seed=3)
    assert isinstance(model, kind)
    draws = [model.sample() for _ in range(100)]
    assert all(d >= 0 for d in draws)
    again = parse_latency(spec, seed=3)
    assert draws == [again.sample() for _ in range(100)]


@pytest.mark.parametrize(
    "spec", ["", "fast", "uniform:5", "uniform:9,1", "constant:-1", "lognormal:0,1"]
)
def test_engine_backtest_latency_bad_specs(spec: str) -> None:
    with pytest.raises(LatencySpecError):
        parse_latency(spec)


def test_engine_backtest_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "bt.toml"
    cfg.write_text(
        "[strategy]\nmax_symbols = 3\n[risk]\nmax_position = 400\nmax_order_qty = 500\n"
        '[backtest]\nfeed_latency = "constant:10000"\n'
    )
    out = tmp_path / "out"
    js = tmp_path / "r.json"
    rc = main(
        [
            "backtest",
            "--messages",
            "20000",
            "--symbols",
            "20",
            "--config",
            str(cfg),
            "--out",
            str(out),
            "--json",
            str(js),
            "--no-plot",
        ]
    )
    assert rc == 0
    stdout = capsys.readouterr().out
    assert "pnl" in stdout and "outputs" in stdout
    report = json.loads(js.read_text())
    assert report["config"]["feed_latency"] == "constant:10000"
    assert report["config"]["strategy_config"]["max_symbols"] == 3
    assert {p.name for p in out.iterdir()} >= {"report.json", "orders.csv", "fills.csv", "pnl.csv"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--strategy", "nope"], "module:Class"),
        (["--strategy", "json:JSONDecoder"], "not a tickwire Strategy"),
        (["--feed-latency", "soon"], "backtest.feed_latency: must be a latency spec, got 'soon'"),
        (["no/such/file"], "no such file"),
    ],
)
def test_engine_backtest_cli_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    rc = main(["backtest", "--messages", "2000", "--symbols", "5", "--out", str(tmp_path), *args])
    assert rc == 2
    assert message in capsys.readouterr().err


def test_engine_backtest_cli_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[risk]\nmax_positon = 5\n")
    rc = main(
        [
            "backtest",
            "--messages",
            "2000",
            "--symbols",
            "5",
            "--config",
            str(cfg),
            "--out",
            str(tmp_path),
        ]
    )
    assert rc == 2
    assert "risk.max_positon: unknown key" in capsys.readouterr().err


def test_engine_backtest_from_binaryfile_and_capture(tmp_path: Path) -> None:
    """The same day read back from a BinaryFILE and from a MoldUDP64 pcap gives the same
    report as the in-memory day."""
    from tickwire.itch import encode
    from tickwire.itch.writer import BinaryFileWriter
    from tickwire.moldudp64.codec import DownstreamPacket
    from tickwire.net import PcapWriter, build_udp_frame

    day = list(generate_day(8_000, 10, 4))
    itch = tmp_path / "day.itch"
    with BinaryFileWriter(itch) as w:
        w.write_all(day)
    pcap = tmp_path / "day.pcap"
    with PcapWriter(pcap) as pw:
        seq = 1
        for i in range(0, len(day), 20):
            blocks = tuple(encode(m) for m in day[i : i + 20])
            payload = DownstreamPacket("TESTSESS01", seq, blocks).build()
            seq += len(blocks)
            frame = build_udp_frame(
                payload, src_ip="198.18.0.1", dst_ip="198.18.0.2", src_port=1, dst_port=26477
            )
            pw.write(frame, timestamp_ns=day[i].timestamp)
    reports = []
    for data in (None, itch, pcap):
        out = tmp_path / f"out-{len(reports)}"
        args = ["backtest", "--out", str(out), "--no-plot", "--quiet"]
        # the sample day's options only without DATA (with it they are a usage error)
        day_args = ["--messages", "8000", "--symbols", "10", "--day-seed", "4"]
        assert main([*args, str(data)] if data is not None else [*args, *day_args]) == 0
        report = json.loads((out / "report.json").read_text())
        skip = ("runtime", "data", "capture")  # capture: what the capture reader dropped
        reports.append({k: v for k, v in report.items() if k not in skip})
    assert reports[0] == reports[1] == reports[2]
    assert reports[0]["messages"] == 8_000


def test_engine_backtest_cli_bad_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk.itch"
    junk.write_bytes(b"\x00\x24A12345")  # an Add Order cut short: not a BinaryFILE
    rc = main(["backtest", str(junk), "--out", str(tmp_path / "o"), "--quiet", "--no-plot"])
    assert rc == 1
    assert "error:" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["market_maker", "taker"])
def test_engine_backtest_example_configs_run(name: str, tmp_path: Path) -> None:
    cfg = Path(__file__).resolve().parents[1] / "examples" / f"{name}.toml"
    out = tmp_path / name
    rc = main(
        [
            "backtest",
            "--config",
            str(cfg),
            "--messages",
            "15000",
            "--symbols",
            "15",
            "--out",
            str(out),
            "--quiet",
            "--no-plot",
        ]
    )
    assert rc == 0
    report = json.loads((out / "report.json").read_text())
    assert report["orders"]["sent"] > 0
    assert report["config"]["strategy"].endswith(
        "MarketMaker" if name == "market_maker" else "ThresholdTaker"
    )


def test_json_on_stdout_is_json_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--json -`` (or ``--json`` alone) used to print the terminal summary after the
    JSON report on stdout, so stdout did not parse; now the text is left out there, and
    with ``--json PATH`` it is printed as before (docs/cli.md)."""
    day = ["backtest", "--messages", "3000", "--symbols", "5", "--no-plot"]
    for flag in (["--json"], ["--json", "-"]):
        assert main([*day, "--out", str(tmp_path / "o"), *flag]) == 0
        report = json.loads(capsys.readouterr().out)
        assert "pnl" in report
    path = tmp_path / "r.json"
    assert main([*day, "--out", str(tmp_path / "o"), "--json", str(path)]) == 0
    assert "outputs" in capsys.readouterr().out
    assert "pnl" in json.loads(path.read_text())


def test_engine_backtest_latency_draws_are_bounded_and_unchanged_below_a_day() -> None:
    """Every draw is in 0..MAX_LATENCY_NS (a day); below it the lognormal gives the draws
    random.lognormvariate gave (reports of old seeds are unchanged)."""
    import math
    import random

    from tickwire.engine.backtest.latency import MAX_LATENCY_NS

    model = parse_latency("lognormal:20000,0.5", seed=3)
    rng = random.Random(3)
    assert [model.sample() for _ in range(2000)] == [
        round(rng.lognormvariate(math.log(20000), 0.5)) for _ in range(2000)
    ]
    for spec in ("lognormal:20000,99", f"normal:{MAX_LATENCY_NS},{MAX_LATENCY_NS}"):
        model = parse_latency(spec, seed=1)
        draws = [model.sample() for _ in range(2000)]
        assert min(draws) >= 0 and max(draws) == MAX_LATENCY_NS, spec
    for bad in ("lognormal:20000,nan", "lognormal:20000,inf", "lognormal:20000,-1"):
        with pytest.raises(LatencySpecError, match="finite sigma"):
            parse_latency(bad)
    for bad in (f"constant:{MAX_LATENCY_NS + 1}", f"uniform:0,{MAX_LATENCY_NS + 1}"):
        with pytest.raises(LatencySpecError, match="more than a day"):
            parse_latency(bad)


@pytest.mark.parametrize("backend", ["reference", "compiled"])
def test_engine_backtest_report_shows_the_books_faults(backend: str) -> None:
    """A day that contradicts itself (a generated day with one add reusing a live
    reference, one execution beyond its order and one add of zero shares) is traded on
    the book's rules, and the report says what the venue's book made of it; both
    backends count the same. The book counted them, the report showed none."""
    from tickwire.engine import cbook
    from tickwire.itch import AddOrder, OrderDelete, OrderExecuted

    if backend == "compiled" and not cbook.AVAILABLE:
        pytest.skip(f"compiled book not built: {cbook.UNAVAILABLE_REASON}")
    day = list(generate_day(3000, 5, 1))
    later = [m for m in day if isinstance(m, AddOrder)][-1]
    at = day.index(later)
    loc, t, sym, far = later.stock_locate, later.timestamp, later.stock, 1_999_990_000
    hostile = [
        AddOrder(loc, 0, t, 10**12, "B", 0, sym, 1_000_000),  # zero shares: rejected
        AddOrder(loc, 0, t, 10**12 + 1, "S", 100, sym, far),
        OrderExecuted(loc, 0, t, 10**12 + 1, 500, 10**9),  # beyond its 100: clamped
        AddOrder(loc, 0, t, 10**12 + 2, "S", 100, sym, far),
        AddOrder(loc, 0, t, 10**12 + 2, "S", 200, sym, far),  # a live reference again
        OrderDelete(loc, 0, t, 10**12 + 2),
    ]
    day[at:at] = hostile
    result = run_backtest(
        MarketMaker(),
        day,
        limits=parse_risk_limits(DEFAULT_RISK),
        config=BacktestConfig(),
        backend=backend,
    )
    report = build_report(result)
    faults = report["book_faults"]
    assert faults == {
        "unknown_references": 0,
        "duplicate_references": 1,
        "clamped": 1,
        "rejected": 1,
        "renamed_locates": 0,
    }
    assert "  book      " in summary_text(report) and "not booked" in summary_text(report)
    clean = build_report(
        run_backtest(MarketMaker(), generate_day(3000, 5, 1), config=BacktestConfig())
    )
    assert not any(clean["book_faults"].values()) and "  book  " not in summary_text(clean)


def test_engine_backtest_outputs_leave_no_file_of_an_earlier_run(
    mm_result: BacktestResult, tmp_path: Path
) -> None:
    """The folder holds one run's files: pnl.png and log.txt of an earlier run are removed
    by a run that writes neither (``--no-plot``, a strategy that logs nothing). They
    stayed beside the new report and passed for this run's."""
    (tmp_path / "pnl.png").write_bytes(b"an earlier day's chart")
    (tmp_path / "log.txt").write_text("an earlier strategy's log\n")
    (tmp_path / "notes.txt").write_text("mine")
    assert not len(mm_result.log)
    report = write_outputs(mm_result, tmp_path, plot=False)
    assert report["runtime"]["plot"] == "not requested"
    names = {p.name for p in tmp_path.iterdir()}
    assert "pnl.png" not in names and "log.txt" not in names
    assert {"report.json", "orders.csv", "notes.txt"} <= names


def test_out_files_names_every_file_a_run_writes(mm_result: BacktestResult, tmp_path: Path) -> None:
    """``cli_backtest.OUT_FILES`` (what no other output may name) is what ``write_outputs``
    writes: every file of a run with its plot (log.txt when the strategy logs)."""
    from tickwire.engine.cli_backtest import OUT_FILES

    write_outputs(mm_result, tmp_path, plot=True)
    names = {p.name for p in tmp_path.iterdir()}
    assert names <= set(OUT_FILES) and set(OUT_FILES) - names == {"log.txt"}


def test_an_output_named_like_a_file_of_the_out_folder_is_refused_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``backtest --out run1 --json run1/fills.csv`` (or ``--html``) wrote the fills table,
    then the other output over it, exit 0; now a usage error before the run."""
    out = tmp_path / "run1"
    argv = ["backtest", "--messages", "2000", "--symbols", "5", "--out", str(out), "--quiet"]
    assert main([*argv, "--json", str(out / "fills.csv")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{out / 'fills.csv'}: is also another output" in err
    assert not out.exists()
    assert main([*argv, "--no-plot", "--json", str(out / "summary.json")]) == 0  # not one of them
