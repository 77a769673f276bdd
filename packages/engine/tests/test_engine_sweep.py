"""``python -m tickwire.engine sweep``: days x a parameter grid on a Dask LocalCluster.

The sweep's results are held to serial ``backtest`` runs of each pair (a config file per
parameter set with the values written in, run through the ``backtest`` command), a
corrupt day must not lose the other days' results, and every bad grid is one line.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from tickwire.cli import UsageError
from tickwire.engine.backtest.sweep import Grid, apply_params, parse_grid
from tickwire.engine.cli import main
from tickwire.itch.generator import generate_day
from tickwire.itch.writer import BinaryFileWriter

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CONFIG = EXAMPLES / "market_maker.toml"
GRID = EXAMPLES / "market_maker_grid.toml"  # the example of docs/backtest.md

PARAMS = [
    {"strategy.quote_size": q, "strategy.improve_spread_ticks": t}
    for q in (100, 200)
    for t in (1, 3)
]


#: Messages in each generated day: enough for every run to quote, fill and differ by its
#: parameters; the sweep's equality with serial runs does not depend on a day's length
#: (20,000 before: 87 s of CPU for this file, bench/RESULTS.md "Test suite: CPU per file").
MESSAGES = 5_000


@pytest.fixture(scope="module")
def days(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three generated days of 5,000 messages (20 symbols, seeds 1 to 3)."""
    folder = tmp_path_factory.mktemp("days")
    paths = []
    for seed in (1, 2, 3):
        path = folder / f"day{seed}.itch"
        with BinaryFileWriter(path) as w:
            w.write_all(generate_day(MESSAGES, 20, seed))
        paths.append(path)
    return paths


def _deterministic(report: dict[str, Any]) -> dict[str, Any]:
    """A report without its wall-clock part (``runtime``)."""
    return {k: v for k, v in report.items() if k != "runtime"}


def _serial_config(tmp: Path, params: dict[str, Any]) -> Path:
    """The example config with ``params`` written into its [strategy] table as text, so the
    serial runs do not share the sweep's way of applying a grid."""
    lines = CONFIG.read_text().splitlines()
    at = lines.index("[strategy]") + 1
    for key, value in params.items():
        table, name = key.split(".")
        assert table == "strategy"
        lines = [ln for ln in lines if not ln.startswith(f"{name} ")]
        lines.insert(at, f"{name} = {value}")
    path = tmp / ("cfg-" + "-".join(str(v) for v in params.values()) + ".toml")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_sweep_equals_serial_backtests(
    days: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sweep"
    argv = ["sweep", "--data", *map(str, days), "--config", str(CONFIG), "--grid", str(GRID)]
    assert main([*argv, "--out", str(out), "--workers", "2", "--no-plot"]) == 0
    printed = capsys.readouterr().out
    assert "12 runs (3 days x 4 parameter sets) on 2 workers" in printed
    assert "12 ok, 0 failed" in printed

    with (out / "summary.csv").open() as f:
        rows = list(csv.DictReader(f))
    table = pq.read_table(out / "summary.parquet").to_pylist()
    assert len(rows) == len(table) == 12
    assert [(r["day"], r["params_id"]) for r in table] == [
        (d.name, f"p{i:03d}") for d in days for i in range(4)
    ]
    assert not (out / "pnl_heatmap.png").exists()  # --no-plot
    sweep = json.loads((out / "sweep.json").read_text())
    assert sweep["params"] == {f"p{i:03d}": p for i, p in enumerate(PARAMS)}

    for row, csv_row in zip(table, rows, strict=True):
        i = int(row["params_id"][1:])
        day = next(d for d in days if d.name == row["day"])
        assert {k: row[k] for k in PARAMS[i]} == PARAMS[i]
        assert row["status"] == "ok" and row["error"] is None
        assert csv_row["pnl_e4"] == str(row["pnl_e4"])
        serial = tmp_path / "serial" / row["day"] / row["params_id"]
        cfg = _serial_config(tmp_path, PARAMS[i])
        assert (
            main(["backtest", str(day), "--config", str(cfg), "--out", str(serial), "--quiet"]) == 0
        )
        expected = json.loads((serial / "report.json").read_text())
        run_dir = out / "runs" / row["day"] / row["params_id"]
        got = json.loads((run_dir / "report.json").read_text())
        # The whole report, to the last fill and latency sample, and every CSV.
        assert _deterministic(got) == _deterministic(expected)
        for name in ("orders.csv", "fills.csv", "pnl.csv", "positions.csv"):
            assert (run_dir / name).read_bytes() == (serial / name).read_bytes()
        # The summary row is the report's figures.
        assert row["messages"] == expected["messages"] == MESSAGES
        assert row["pnl_e4"] == expected["pnl"]["total_e4"]
        assert row["realised_e4"] == expected["pnl"]["realised_e4"]
        assert row["max_drawdown_e4"] == expected["pnl"]["max_drawdown_e4"]
        assert row["fees_e4"] == expected["pnl"]["fees_e4"]
        assert row["sharpe"] == expected["statistics"]["sharpe"]
        assert row["fills"] == expected["fills"]["count"]
        assert row["orders_sent"] == expected["orders"]["sent"]
        lat = expected["latency_ns"]
        assert row["tick_to_venue_p99_ns"] == lat["tick_to_venue"]["p99"]
        assert row["order_to_ack_p50_ns"] == lat["order_to_ack"]["p50"]
        assert row["runtime_s"] > 0
    # Not a degenerate grid: the parameters change the outcome.
    assert len({r["pnl_e4"] for r in table}) > 4


def test_a_corrupt_day_loses_nothing_else(
    days: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "days"
    folder.mkdir()
    shutil.copy(days[0], folder / "a-good.itch")
    raw = days[1].read_bytes()
    # Half a day, then a message whose length prefix runs past the end of the file.
    (folder / "b-corrupt.itch").write_bytes(raw[: len(raw) // 2] + b"\x00\x30A\x00\x01")
    shutil.copy(days[2], folder / "c-good.itch")
    grid = tmp_path / "grid.toml"
    grid.write_text('[grid]\n"backtest.seed" = [1, 2]\n')
    out = tmp_path / "sweep"
    argv = ["sweep", "--data", str(folder), "--grid", str(grid), "--out", str(out)]
    assert main([*argv, "--workers", "2", "--quiet"]) == 1
    err = capsys.readouterr().err
    for png in ("pnl_heatmap.png", "equity.png"):  # drawn with the failed runs marked
        assert (out / png).read_bytes().startswith(b"\x89PNG")
    rows = pq.read_table(out / "summary.parquet").to_pylist()
    assert [(r["day"], r["status"]) for r in rows] == [
        ("a-good.itch", "ok"),
        ("a-good.itch", "ok"),
        ("b-corrupt.itch", "error"),
        ("b-corrupt.itch", "error"),
        ("c-good.itch", "ok"),
        ("c-good.itch", "ok"),
    ]
    for r in rows:
        if r["status"] == "error":
            assert "DecodeError" in r["error"] and "\n" not in r["error"]
            assert r["pnl_e4"] is None
            assert f"sweep: b-corrupt.itch {r['params_id']} failed: {r['error']}" in err
        else:
            assert r["error"] is None and r["messages"] == MESSAGES
            assert (out / "runs" / r["day"] / r["params_id"] / "report.json").exists()
            assert (out / "runs" / r["day"] / r["params_id"] / "pnl.png").exists()
    assert "sweep: 2 of 6 runs not ok (4 ok, 2 failed; " in err
    assert "Traceback" not in err
    with (out / "summary.csv").open() as f:
        assert [r["status"] for r in csv.DictReader(f)] == [r["status"] for r in rows]


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ("", "[grid] is missing or empty"),
        ("[grid]\n", "[grid] is missing or empty"),
        ("grid = 5\n", "grid: must be a table, got int 5"),
        ("[grid]\nx = [", "not valid TOML"),
        ('[grids]\n"strategy.quote_size" = [1]\n', "grids: unknown key"),
        ("[grid]\nseed = [1, 2]\n", "grid.seed: must be a dotted path table.key"),
        ('[grid]\n"venue.x" = [1]\n', "grid.venue.x: unknown table 'venue'"),
        ('[grid]\n"fees.add_per_shar" = [1]\n', "fees.add_per_shar"),
        ('[grid]\n"strategy.quote_size" = 100\n', "grid.strategy.quote_size: must be a list"),
        ('[grid]\n"strategy.quote_size" = []\n', "grid.strategy.quote_size: must list at least"),
        ('[grid]\n"strategy.quote_size" = [1, "a"]\n', "must all be of one type, got number and"),
        ('[grid]\n"strategy.quote_size" = [1, 1]\n', "grid.strategy.quote_size: value 1 is"),
        ('[grid]\n"strategy.symbols" = [["A"]]\n', "grid.strategy.symbols: values must be"),
        ('[grid]\n"strategy.quote_size" = [100, 0]\n', "p001 (strategy.quote_size=0)"),
        ('[grid]\n"strategy.quote_sz" = [100]\n', "strategy.quote_sz: unknown key"),
        ('[grid]\n"risk.max_positon" = [100]\n', "risk.max_positon"),
        ('[grid]\n"backtest.feed_latency" = ["fast"]\n', "backtest.feed_latency"),
        ('[grid]\n"strategy.class" = ["nope:Nope"]\n', "cannot import nope"),
    ],
)
def test_grid_errors_are_one_line(
    days: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], grid: str, message: str
) -> None:
    path = tmp_path / "grid.toml"
    path.write_text(grid)
    out = tmp_path / "sweep"
    argv = ["sweep", "--data", str(days[0]), "--grid", str(path), "--out", str(out)]
    assert main([*argv, "--config", str(CONFIG), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("tickwire-engine sweep: error: "), err
    assert message in err
    assert str(path) in err
    assert not out.exists()  # nothing ran


BAD_CONFIGS = {
    "bad_toml": ("[strategy\n", "not valid TOML"),
    "not_a_table": ("backtest = 5\n", "backtest: must be a table"),
    "unknown_table": ("[venue]\nx = 1\n", "venue: unknown key"),
    "risk_key": ("[risk]\nmax_positon = 5\n", "risk.max_positon"),
    "seed_type": ('[backtest]\nseed = "abc"\n', "backtest.seed"),
}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--data", "/nonexistent/day.itch"], "--data /nonexistent/day.itch: no such file"),
        (["--config", "/nonexistent.toml"], "--config: /nonexistent.toml: no such file"),
        *((["--config", name], message) for name, (_, message) in BAD_CONFIGS.items()),
        # A capture's options with a BinaryFILE day: each run refused them, after the
        # others had run (an error row per parameter set, exit 1).
        (["--session", "FEEDA"], "--session: for a MoldUDP64 capture, not "),
        (["--keep-duplicates"], "--keep-duplicates: for a MoldUDP64 capture, not "),
    ],
)
def test_bad_days_and_config_are_usage_errors(
    days: list[Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    grid = tmp_path / "grid.toml"
    grid.write_text('[grid]\n"strategy.quote_size" = [100]\n')
    if argv[0] == "--config" and argv[1] in BAD_CONFIGS:
        cfg = tmp_path / f"{argv[1]}.toml"
        cfg.write_text(BAD_CONFIGS[argv[1]][0])
        argv = ["--config", str(cfg)]
    base = ["sweep", "--grid", str(grid), "--out", str(tmp_path / "o"), "--quiet"]
    if "--data" not in argv:
        base += ["--data", str(days[0])]
    assert main([*base, *argv]) == 2
    err = capsys.readouterr().err
    # one line (argparse's usage lines before it, for a file refused while parsing)
    lines = [line for line in err.splitlines() if ": error: " in line]
    assert len(lines) == 1 and message in lines[0] and err.endswith(lines[0] + "\n"), err
    assert not (tmp_path / "o").exists()  # nothing ran


@pytest.mark.parametrize("kind", ["dev_null", "fifo", "pipe", "fifo_in_folder"])
def test_a_day_that_is_not_a_regular_file_is_refused(
    days: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    """``--data /dev/null`` (a FIFO, a pipe ``<(cat day.itch)``) said "no such file or
    folder" of a path that exists; a FIFO in a ``--data`` folder was skipped without a
    word. Each is refused as ``backtest`` refuses it, before anything runs (a FIFO
    unopened: with no writer, it blocks)."""
    grid = tmp_path / "grid.toml"
    grid.write_text('[grid]\n"strategy.quote_size" = [100]\n')
    read_end = None
    if kind == "dev_null":
        data, path, what = "/dev/null", "/dev/null", "a character device"
    elif kind == "pipe":
        read_end, write_end = os.pipe()
        os.write(write_end, days[0].read_bytes()[:30_000])
        os.close(write_end)
        data = path = f"/dev/fd/{read_end}"
        what = "a pipe"
    else:
        folder = tmp_path / "days"
        folder.mkdir()
        shutil.copy(days[0], folder / days[0].name)
        os.mkfifo(folder / "zz.itch")
        data = str(folder) if kind == "fifo_in_folder" else str(folder / "zz.itch")
        path, what = str(folder / "zz.itch"), "a pipe"
    out = tmp_path / "o"
    argv = ["sweep", "--data", data, "--grid", str(grid), "--out", str(out), "--quiet"]
    try:
        assert main(argv) == 2
    finally:
        if read_end is not None:
            os.close(read_end)
    err = capsys.readouterr().err
    assert err == (
        f"tickwire-engine sweep: error: --data {path}: is not a regular file ({what}): "
        "save it to a file first\n"
    )
    assert not out.exists()  # nothing ran


def test_data_given_twice_reads_the_days_of_both(
    days: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--data A --data B`` runs the days of both, as ``--data A B`` does: argparse's
    ``nargs="+"`` alone let the second replace the first, and day A was dropped without a
    word."""
    grid = tmp_path / "grid.toml"
    grid.write_text('[grid]\n"strategy.quote_size" = [100]\n')
    out = tmp_path / "o"
    argv = ["sweep", "--data", str(days[0]), "--data", str(days[1]), "--grid", str(grid)]
    assert main([*argv, "--out", str(out), "--workers", "1", "--no-plot", "--quiet"]) == 0
    capsys.readouterr()
    rows = list(csv.DictReader((out / "summary.csv").open()))
    assert sorted(r["day"] for r in rows) == [days[0].name, days[1].name]


def test_a_folder_inside_a_data_folder_is_skipped_and_said(
    days: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A folder inside a ``--data`` folder is no day (only the folder's files are): it is
    still skipped, but now a line on stderr says so (it was skipped without a word), with
    ``--quiet`` too; the folder's hidden files are skipped without one."""
    folder = tmp_path / "days"
    (folder / "sub").mkdir(parents=True)
    shutil.copy(days[0], folder / days[0].name)
    shutil.copy(days[1], folder / "sub" / days[1].name)
    (folder / ".hidden").mkdir()
    grid = tmp_path / "grid.toml"
    grid.write_text('[grid]\n"strategy.quote_size" = [100]\n')
    out = tmp_path / "o"
    argv = ["sweep", "--data", str(folder), "--grid", str(grid), "--out", str(out)]
    assert main([*argv, "--workers", "1", "--no-plot", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert err == f"sweep: {folder / 'sub'}: a folder inside --data, not read\n"
    rows = list(csv.DictReader((out / "summary.csv").open()))
    assert [(r["day"], r["status"]) for r in rows] == [(days[0].name, "ok")]
    # a folder of folders only: nothing to run, a usage error after the same lines
    (folder / days[0].name).unlink()
    assert main([*argv, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"sweep: {folder / 'sub'}: a folder inside --data, not read\n"
        f"tickwire-engine sweep: error: --data {folder}: the folder has no files\n"
    )


def test_a_grid_too_large_is_one_line(
    days: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """8 keys of 20 values: 25.6 billion parameter sets. They were all built before
    anything ran: a MemoryError traceback (or the machine's memory, without a limit)."""
    grid = tmp_path / "grid.toml"
    keys = [f"strategy.k{i}" for i in range(7)] + ["backtest.seed"]
    grid.write_text("[grid]\n" + "".join(f'"{k}" = {list(range(1, 21))}\n' for k in keys))
    out = tmp_path / "o"
    argv = ["sweep", "--data", str(days[0]), "--grid", str(grid), "--out", str(out), "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"{grid}: 25,600,000,000 parameter sets x 1 days = 25,600,000,000 runs" in err
    assert "(100,000): split it" in err
    assert not out.exists()


def test_a_long_value_list_is_checked_in_linear_time() -> None:
    """A key listing 300,000 values (generated, or hostile) is refused as too large at
    once: the check that no value is listed twice compared each value with every one
    before it, about 45 billion comparisons, so the sweep seemed to hang before saying
    ``more than a sweep takes``. Duplicates are still found, ``1`` and ``1.0`` too, and
    NaNs are not duplicates of each other (as before)."""
    import time

    values = list(range(300_000))
    start = time.perf_counter()
    grid = parse_grid({"grid": {"backtest.seed": values}}, "g.toml")
    assert time.perf_counter() - start < 10  # linear: well under a second
    assert grid.size == 300_000
    with pytest.raises(UsageError, match=r"grid\.backtest\.seed: value 1\.0 is listed twice"):
        parse_grid({"grid": {"backtest.seed": [*values[:1000], 1.0]}}, "g.toml")
    nan = float("nan")
    assert parse_grid({"grid": {"strategy.x": [nan, float("nan")]}}, "g.toml").size == 2


def test_an_empty_day_in_a_folder_is_refused(days: list[Path], tmp_path: Path) -> None:
    """An empty file among the days was run as a day of no messages, "ok" with a PnL of
    0 in the totals; backtest refuses it (an empty input, exit 2), and so does sweep."""
    from tickwire.engine.backtest.sweep import collect_days

    folder = tmp_path / "days"
    folder.mkdir()
    shutil.copy(days[0], folder / days[0].name)
    (folder / "empty.itch").write_bytes(b"")
    with pytest.raises(UsageError, match=r"^--data .*empty\.itch: empty file$"):
        collect_days([folder])


def test_two_days_with_one_name_are_refused(days: list[Path], tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    other.mkdir()
    shutil.copy(days[0], other / days[0].name)
    from tickwire.engine.backtest.sweep import collect_days

    with pytest.raises(UsageError, match=r"two days are named day1\.itch"):
        collect_days([days[0], other / days[0].name])


@pytest.mark.parametrize("through", ["a symbolic link", "a hard link", "a folder"])
def test_one_day_given_twice_is_refused(days: list[Path], tmp_path: Path, through: str) -> None:
    """``--data day1.itch link.itch`` (link.itch -> day1.itch) ran the day twice, both
    runs in ``runs/day1.itch/`` (the link resolved to its target's name) and its PnL
    counted twice in the totals; a hard link or the day's folder beside it, a third time."""
    from tickwire.engine.backtest.sweep import collect_days

    link = tmp_path / "link.itch"
    if through == "a symbolic link":
        link.symlink_to(days[0])
    elif through == "a hard link":
        link.hardlink_to(days[0])
    else:
        link = days[0].parent
    with pytest.raises(UsageError, match=r"^--data: .* are the same file; a day given twice"):
        collect_days([days[0], link])
    # A link to a day of another name whose target's name is a given day's: one folder.
    (tmp_path / "elsewhere").mkdir()
    shutil.copy(days[1], tmp_path / "elsewhere" / days[0].name)
    (tmp_path / "other.itch").symlink_to(tmp_path / "elsewhere" / days[0].name)
    with pytest.raises(UsageError, match=r"two days are named day1\.itch"):
        collect_days([days[0], tmp_path / "other.itch"])


def test_the_out_folder_is_not_a_data_folder(
    days: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``sweep --data DAYS --out DAYS`` wrote summary.csv, summary.parquet and sweep.json
    among the days, and the next sweep over DAYS ran them as days (three error rows); a
    folder inside it is fine (only the files of a --data folder are days)."""
    folder = tmp_path / "days"
    folder.mkdir()
    shutil.copy(days[0], folder / days[0].name)
    grid = tmp_path / "grid.toml"
    grid.write_text('[grid]\n"strategy.quote_size" = [100]\n')
    argv = ["sweep", "--grid", str(grid), "--data", str(folder), "--quiet", "--no-plot"]
    assert main([*argv, "--out", str(tmp_path / "." / "days")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"is the --data folder {folder}" in err
    assert [p.name for p in folder.iterdir()] == [days[0].name]
    from tickwire.engine.backtest.sweep import collect_days

    assert collect_days([folder], out=folder / "results") == [(folder / days[0].name).resolve()]


def test_grid_order_and_apply() -> None:
    grid = parse_grid({"grid": {"strategy": {"a": [1, 2]}, "backtest.seed": [7, 8, 9]}}, "g.toml")
    assert grid == Grid(("strategy.a", "backtest.seed"), ((1, 2), (7, 8, 9)))
    combos = grid.combinations()
    assert [pid for pid, _ in combos] == [f"p{i:03d}" for i in range(6)]
    assert combos[1] == ("p001", {"strategy.a": 1, "backtest.seed": 8})
    base = {"strategy": {"a": 0, "b": 5}}
    assert apply_params(base, combos[5][1]) == {
        "strategy": {"a": 2, "b": 5},
        "backtest": {"seed": 9},
    }
    assert base == {"strategy": {"a": 0, "b": 5}}  # a copy
    with pytest.raises(UsageError, match=r"grid.strategy.b.c: strategy.b is a int, not a table"):
        apply_params(base, {"strategy.b.c": 1})


def test_sweep_on_a_running_scheduler(days: list[Path], tmp_path: Path) -> None:
    """``--scheduler ADDRESS``: the runs go to that cluster's workers (which the sweep
    neither starts nor stops), with the same results as on the sweep's own cluster."""
    from dask.distributed import LocalCluster

    grid = tmp_path / "grid.toml"
    grid.write_text('[grid]\n"strategy.quote_size" = [100, 200]\n')
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        argv = ["sweep", "--data", str(days[0]), "--grid", str(grid), "--no-plot", "--quiet"]
        out = tmp_path / "remote"
        assert main([*argv, "--out", str(out), "--scheduler", cluster.scheduler_address]) == 0
        assert len(cluster.workers) == 1  # still there
    rows = pq.read_table(out / "summary.parquet").to_pylist()
    assert [r["status"] for r in rows] == ["ok", "ok"]
    for r in rows:
        serial = tmp_path / "serial" / r["params_id"]
        cfg = tmp_path / f"{r['params_id']}.toml"
        cfg.write_text(f"[strategy]\nquote_size = {r['strategy.quote_size']}\n")
        assert main(["backtest", str(days[0]), "--config", str(cfg), "--out", str(serial),
                     "--no-plot", "--quiet"]) == 0  # fmt: skip
        report = json.loads((out / "runs" / r["day"] / r["params_id"] / "report.json").read_text())
        expected = json.loads((serial / "report.json").read_text())
        assert _deterministic(report) == _deterministic(expected)
        assert r["pnl_e4"] == expected["pnl"]["total_e4"]


def test_a_bad_scheduler_address_is_one_line(
    days: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    grid = tmp_path / "grid.toml"
    grid.write_text('[grid]\n"backtest.seed" = [1]\n')
    argv = ["sweep", "--data", str(days[0]), "--grid", str(grid), "--out", str(tmp_path / "o")]
    assert main([*argv, "--scheduler", "no-port-here", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "tickwire-engine sweep: error: --scheduler no-port-here: cannot connect: "
    )
    assert err.count("\n") == 1


@pytest.mark.parametrize("peer", ["silent", "http", "huge_length"])
def test_a_scheduler_address_that_does_not_answer_dask_is_one_line(
    days: list[Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    peer: str,
) -> None:
    """``--scheduler`` at a loopback port where something other than a Dask scheduler
    listens: one that accepts and says nothing, an HTTP server's answer (its bytes read
    as a frame length of exabytes), a length of 1 GiB and then nothing. Each is one line,
    exit 2, within the bound (``sweep.SCHEDULER_TIMEOUT``, 1 s here): the first and the
    last hung the sweep for ever (the handshake was read without a deadline), the HTTP
    answer was a ``MemoryError`` traceback."""
    import socket
    import threading

    from tickwire.engine.backtest import sweep

    monkeypatch.setattr(sweep, "SCHEDULER_TIMEOUT", 1.0, raising=False)
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:  # closed: the test is over
                return
            held.append(conn)
            if peer == "http":
                conn.sendall(b"HTTP/1.0 426 Upgrade Required\r\nconnection: close\r\n\r\n")
                conn.close()
            elif peer == "huge_length":
                conn.sendall((1 << 30).to_bytes(8, "little"))

    threading.Thread(target=serve, daemon=True).start()
    address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
    grid = tmp_path / "grid.toml"
    grid.write_text('[grid]\n"backtest.seed" = [1]\n')
    out = tmp_path / "o"
    argv = ["sweep", "--data", str(days[0]), "--grid", str(grid), "--out", str(out)]
    result: list[object] = []
    sweep_thread = threading.Thread(
        target=lambda: result.append(_status(main, [*argv, "--scheduler", address, "--quiet"])),
        daemon=True,
    )
    try:
        sweep_thread.start()
        sweep_thread.join(20)
        assert not sweep_thread.is_alive(), f"--scheduler {peer}: still waiting after 20 s"
    finally:
        server.close()
        for conn in held:
            conn.close()
    assert result == [2]
    err = capsys.readouterr().err
    assert err.startswith(f"tickwire-engine sweep: error: --scheduler {address}: "), err
    assert err.count("\n") == 1 and "Traceback" not in err
    if peer != "http":
        assert "no Dask scheduler answered within 1 s" in err
    assert not out.exists()  # nothing ran


def _status(main_: Any, argv: list[str]) -> object:
    """``main_(argv)``, or the exception it raised (in a thread, for the caller to see)."""
    try:
        return main_(argv)
    except BaseException as exc:
        return exc


def test_dollar_signs_in_day_names_are_drawn_not_parsed(
    days: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A day whose file name holds two ``$`` (matplotlib's mathtext delimiters): the plots
    are drawn with the name as written and the summary is written. Matplotlib parsed the
    name as mathtext and raised while drawing ``equity.png``, and the summary files,
    staged with the plots, went with it: exit 1, only ``runs/`` left."""
    folder = tmp_path / "days"
    folder.mkdir()
    name = "a$\\bad{$.itch"
    shutil.copy(days[0], folder / name)
    grid = tmp_path / "grid.toml"
    grid.write_text('[grid]\n"backtest.seed" = [1, 2]\n')
    out = tmp_path / "o"
    argv = ["sweep", "--data", str(folder), "--grid", str(grid), "--out", str(out)]
    assert main([*argv, "--workers", "1", "--quiet"]) == 0, capsys.readouterr().err
    rows = list(csv.DictReader((out / "summary.csv").open()))
    assert [(r["day"], r["status"]) for r in rows] == [(name, "ok"), (name, "ok")]
    for png in ("pnl_heatmap.png", "equity.png"):
        assert (out / png).read_bytes().startswith(b"\x89PNG")


def test_a_day_name_with_control_characters_is_shown_escaped(
    days: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A corrupt day whose file name holds ``ESC [ 2 J`` (clear the screen): the sweep's
    failure line and its error row show the name escaped (``\\x1b``), the day kept
    as it is in ``day``. The line wrote the escape raw to the operator's terminal,
    twice (the day and the error naming its path)."""
    folder = tmp_path / "days"
    folder.mkdir()
    name = "b\x1b[2J.itch"
    (folder / name).write_bytes(days[0].read_bytes()[:1000] + b"\x00\x30A\x00\x01")
    grid = tmp_path / "grid.toml"
    grid.write_text('[grid]\n"backtest.seed" = [1]\n')
    out = tmp_path / "o"
    argv = ["sweep", "--data", str(folder), "--grid", str(grid), "--out", str(out)]
    assert main([*argv, "--workers", "1", "--no-plot", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "\x1b" not in err
    shown = "b\\x1b[2J.itch"
    assert f"sweep: {shown} p000 failed: DecodeError: {folder}/{shown}: " in err
    (row,) = pq.read_table(out / "summary.parquet").to_pylist()
    assert row["day"] == name and row["status"] == "error"
    assert "\x1b" not in row["error"] and f"{folder}/{shown}: " in row["error"]


def test_a_failed_run_leaves_no_earlier_report_in_its_folder(
    days: list[Path], tmp_path: Path
) -> None:
    """A sweep into the ``--out`` of an earlier one, the day since cut short: the run that
    fails keeps its ``params.json`` (seed 2) and none of the earlier run's outputs. The
    earlier run's ``report.json`` (seed 1, the whole day) and tables stayed beside the
    new ``params.json``, a report passing for a run that failed."""
    day = tmp_path / "day.itch"
    shutil.copy(days[0], day)
    out = tmp_path / "o"
    argv = ["sweep", "--data", str(day), "--out", str(out), "--workers", "1", "--no-plot"]
    grid = tmp_path / "grid.toml"
    grid.write_text('[grid]\n"backtest.seed" = [1]\n')
    assert main([*argv, "--grid", str(grid), "--quiet"]) == 0
    run = out / "runs" / "day.itch" / "p000"
    assert (run / "report.json").exists() and (run / "orders.csv").exists()
    day.write_bytes(days[0].read_bytes()[:1000] + b"\x00\x30A\x00\x01")
    grid.write_text('[grid]\n"backtest.seed" = [2]\n')
    assert main([*argv, "--grid", str(grid), "--quiet"]) == 1
    assert sorted(p.name for p in run.iterdir()) == ["params.json"]
    assert json.loads((run / "params.json").read_text())["params"] == {"backtest.seed": 2}


def test_runs_of_an_earlier_sweep_are_kept_and_counted(
    days: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A sweep into the ``--out`` of an earlier, different sweep (two days, two parameter
    sets, then one day, one set): the earlier runs it does not have are kept (``--out``
    is built up one sweep at a time) and one stderr line counts them. They sat beside the
    new summary without a word. A sweep rerun as it was says nothing."""
    out = tmp_path / "o"
    grid = tmp_path / "grid.toml"
    base = ["sweep", "--out", str(out), "--grid", str(grid), "--workers", "1", "--no-plot"]
    grid.write_text('[grid]\n"backtest.seed" = [1, 2]\n')
    both = ["--data", str(days[0]), str(days[1])]
    assert main([*base, *both, "--quiet"]) == 0
    assert "not this sweep's" not in capsys.readouterr().err
    grid.write_text('[grid]\n"backtest.seed" = [3]\n')
    assert main([*base, "--data", str(days[0]), "--quiet"]) == 0
    err = capsys.readouterr().err.splitlines()
    said = [line for line in err if "not this sweep's" in line]
    assert said == [
        f"sweep: 3 run folders in {out / 'runs'} not this sweep's (an earlier sweep's, "
        "kept; not in this summary)"
    ]
    kept = sorted(p.relative_to(out / "runs") for p in (out / "runs").glob("*/*"))
    assert [str(p) for p in kept] == [
        f"{days[0].name}/p000",
        f"{days[0].name}/p001",
        f"{days[1].name}/p000",
        f"{days[1].name}/p001",
    ]
    assert len(list(csv.DictReader((out / "summary.csv").open()))) == 1
    assert main([*base, "--data", str(days[0]), "--quiet"]) == 0  # the same sweep again
    assert "not this sweep's" in capsys.readouterr().err  # the earlier sweep's, still


def test_a_grid_too_large_to_plot_writes_the_summary_and_says_so(
    days: list[Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """More parameter sets than ``sweep.PLOT_MAX_SETS`` (2 here, 1,000 by default): the
    summary files are written, the PNGs are not (an earlier sweep's are removed), and a
    line on stderr says why, with ``--quiet`` too. The plots were drawn whatever the
    size: 10,000 sets took 43 s and 470 MB after the runs, and a memory error there
    lost the summary."""
    from tickwire.engine.backtest import sweep

    grid = tmp_path / "grid.toml"
    grid.write_text('[grid]\n"backtest.seed" = [1, 2, 3]\n')
    out = tmp_path / "o"
    argv = ["sweep", "--data", str(days[0]), "--grid", str(grid), "--out", str(out)]
    assert main([*argv, "--workers", "1", "--quiet"]) == 0  # 3 sets: drawn
    assert (out / "equity.png").exists() and (out / "pnl_heatmap.png").exists()
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(sweep, "PLOT_MAX_SETS", 2, raising=False)
    assert main([*argv, "--workers", "1", "--quiet"]) == 0
    assert capsys.readouterr().err == (
        "sweep: pnl_heatmap.png and equity.png not drawn: 3 parameter sets, more than "
        "they show (2); the summary has every run\n"
    )
    assert sorted(p.name for p in out.iterdir()) == [
        "runs", "summary.csv", "summary.parquet", "sweep.json"
    ]  # fmt: skip
    rows = list(csv.DictReader((out / "summary.csv").open()))
    assert [r["status"] for r in rows] == ["ok", "ok", "ok"]


def test_a_busy_port_8787_says_nothing(
    days: list[Path],
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    recwarn: pytest.WarningsRecorder,
) -> None:
    """Port 8787 (Dask's dashboard default) taken, as by a second sweep or any Dask
    cluster running: the sweep's stderr holds nothing of it (its scheduler's HTTP server
    is on a free loopback port). Each sweep printed Dask's four-line "Port 8787 is
    already in use ... Hosting the HTTP server on port N instead" warning."""
    import socket

    grid = tmp_path / "grid.toml"
    grid.write_text('[grid]\n"backtest.seed" = [1]\n')
    argv = ["sweep", "--data", str(days[0]), "--grid", str(grid), "--out", str(tmp_path / "o")]
    with socket.socket() as busy:
        try:
            busy.bind(("127.0.0.1", 8787))
            busy.listen()
        except OSError:  # taken already (another sweep, a test): the case itself
            pass
        assert main([*argv, "--workers", "1", "--no-plot", "--quiet"]) == 0
    err = capfd.readouterr().err  # a warning is on stderr outside pytest, recorded here
    assert "8787" not in err and "Warning" not in err, err
    assert [str(w.message) for w in recwarn if "8787" in str(w.message)] == []


def test_a_run_removes_the_stage_folder_a_killed_run_left(days: list[Path], tmp_path: Path) -> None:
    """A run folder holding a hidden stage folder of half-written tables, as a worker
    killed while writing leaves it (an interrupted sweep ends its cluster's workers, the
    OOM killer one before Dask retries the run): the next run of that folder removes it.
    It stayed for good, beside the run's outputs, at every later sweep."""
    out = tmp_path / "o"
    stage = out / "runs" / days[0].name / "p000" / ".tickwire-k1lled00.part"
    stage.mkdir(parents=True)
    (stage / "orders.csv").write_text("user_ref_num,sent_ns\n1,")
    grid = tmp_path / "grid.toml"
    grid.write_text('[grid]\n"backtest.seed" = [1]\n')
    argv = ["sweep", "--data", str(days[0]), "--grid", str(grid), "--out", str(out)]
    assert main([*argv, "--workers", "1", "--no-plot", "--quiet"]) == 0
    assert not stage.exists()
    assert (stage.parent / "report.json").exists()


KILLER = '''\
import os

from tickwire.engine.strategy.api import Strategy


class Killer(Strategy):
    """Ends the worker process that runs it, as a crash or the OOM killer would."""

    async def on_start(self, ctx):
        os._exit(3)
'''


def test_a_run_that_kills_its_worker_is_an_error_row(
    days: list[Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The worker process dies mid-run (a crash, the OOM killer): once the scheduler gives
    the task up (``KilledWorker``; at once here, after 3 retries by default) the client
    makes it an error row, and the summary is written."""
    import dask
    import distributed  # noqa: F401  (its defaults join dask.config on import)

    (tmp_path / "sweep_killer.py").write_text(KILLER)
    monkeypatch.syspath_prepend(str(tmp_path))  # the client builds each strategy first
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))  # the workers import it to run it
    grid = tmp_path / "grid.toml"
    grid.write_text('[grid]\n"strategy.class" = ["sweep_killer:Killer"]\n')
    out = tmp_path / "sweep"
    argv = ["sweep", "--data", str(days[0]), "--grid", str(grid), "--out", str(out)]
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        assert main([*argv, "--workers", "1", "--no-plot", "--quiet"]) == 1
    (row,) = pq.read_table(out / "summary.parquet").to_pylist()
    assert row["status"] == "error" and row["pnl_e4"] is None
    assert row["error"].startswith("KilledWorker: ") and "\n" not in row["error"]
    assert "sweep: day1.itch p000 failed: KilledWorker: " in capsys.readouterr().err


def test_a_killed_worker_is_told_only_by_the_sweeps_lines(days: list[Path], tmp_path: Path) -> None:
    """The CLI (a process of its own: Dask's log handlers write to the stderr of import
    time, which only a real process shows) with a run that kills its worker: stderr is
    the sweep's own two lines, exit 1. The LocalCluster's ``distributed.scheduler -
    ERROR - Task ... marked as failed because 1 workers died`` line came first."""
    (tmp_path / "sweep_killer.py").write_text(KILLER)
    grid = tmp_path / "grid.toml"
    grid.write_text('[grid]\n"strategy.class" = ["sweep_killer:Killer"]\n')
    out = tmp_path / "sweep"
    env = {
        **os.environ,
        "PYTHONPATH": str(tmp_path),
        "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0",
    }
    argv = ["sweep", "--data", str(days[0]), "--grid", str(grid), "--out", str(out)]
    done = subprocess.run(
        [sys.executable, "-m", "tickwire.engine", *argv, "--workers", "1", "--no-plot", "--quiet"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
    )  # fmt: skip
    lines = done.stderr.splitlines()
    assert done.returncode == 1, done.stderr
    assert len(lines) == 2, done.stderr
    assert lines[0].startswith("sweep: day1.itch p000 failed: KilledWorker: ")
    assert lines[1].startswith("sweep: 1 of 1 runs not ok (0 ok, 1 failed; ")


def _compiled_config(tmp: Path) -> Path:
    """The example config with the compiled replay core (``book_backend``), as text."""
    text = CONFIG.read_text().replace("[backtest]\n", '[backtest]\nbook_backend = "compiled"\n')
    path = tmp / "compiled.toml"
    path.write_text(text)
    return path


def test_a_compiled_run_streams_the_days_bytes(
    days: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sweep's run with the compiled core gives it the day's file, as ``backtest
    --backend compiled`` does: nothing decodes the day into Python messages (which the
    core would encode back to bytes), and the report is the serial command's."""
    import tickwire.engine.sources as sources
    from tickwire.engine.backtest.sweep import SweepTask, run_task
    from tickwire.engine.cli_backtest import read_config

    decoded: list[Any] = []
    real = sources.iter_binaryfile

    def recording(path: Any, **kwargs: Any) -> Any:
        decoded.append(path)
        return real(path, **kwargs)

    monkeypatch.setattr(sources, "iter_binaryfile", recording)
    cfg_path = _compiled_config(tmp_path)
    out = tmp_path / "run"
    task = SweepTask(
        day=str(days[0]),
        day_name=days[0].name,
        params_id="p000",
        params={},
        config=read_config(str(cfg_path)),
        out=str(out),
        source=str(cfg_path),
        plot=False,
    )
    row = run_task(task)
    assert row["status"] == "ok", row["error"]
    assert decoded == []  # the core read the file's bytes itself
    monkeypatch.setattr(sources, "iter_binaryfile", real)
    serial = tmp_path / "serial"
    argv = ["backtest", str(days[0]), "--config", str(cfg_path), "--out", str(serial)]
    assert main([*argv, "--no-plot", "--quiet"]) == 0
    got = json.loads((out / "report.json").read_text())
    expected = json.loads((serial / "report.json").read_text())
    assert got["runtime"]["book_backend"] == "compiled"
    assert _deterministic(got) == _deterministic(expected)
    assert got["messages"] == MESSAGES and got["fills"]["count"] > 0


def test_compiled_sweep_equals_serial_backtests(days: list[Path], tmp_path: Path) -> None:
    """The sweep with the compiled core: each run's report and CSVs are the serial
    ``backtest --backend reference`` run's (the oracle) of the same pair."""
    cfg = _compiled_config(tmp_path)
    grid = tmp_path / "grid.toml"
    grid.write_text('[grid]\n"strategy.quote_size" = [100, 200]\n')
    out = tmp_path / "sweep"
    argv = ["sweep", "--data", str(days[0]), "--config", str(cfg), "--grid", str(grid)]
    assert main([*argv, "--out", str(out), "--workers", "2", "--no-plot", "--quiet"]) == 0
    rows = pq.read_table(out / "summary.parquet").to_pylist()
    assert [r["status"] for r in rows] == ["ok", "ok"]
    for r in rows:
        serial = tmp_path / "serial" / r["params_id"]
        params = {"strategy.quote_size": r["strategy.quote_size"]}
        ref_cfg = _serial_config(tmp_path, params)
        assert main(["backtest", str(days[0]), "--config", str(ref_cfg), "--out", str(serial),
                     "--backend", "reference", "--no-plot", "--quiet"]) == 0  # fmt: skip
        run_dir = out / "runs" / r["day"] / r["params_id"]
        got = json.loads((run_dir / "report.json").read_text())
        expected = json.loads((serial / "report.json").read_text())
        assert got["runtime"]["book_backend"] == "compiled"
        assert expected["runtime"]["book_backend"] == "reference"
        assert _deterministic(got) == _deterministic(expected)
        for name in ("orders.csv", "fills.csv", "pnl.csv", "positions.csv"):
            assert (run_dir / name).read_bytes() == (serial / name).read_bytes()
        assert r["pnl_e4"] == expected["pnl"]["total_e4"]


@pytest.mark.parametrize(
    ("where", "spec", "message"),
    [
        ("file", 5, 'strategy.class: must be a string "module:Class", got int 5'),
        ("file", ["a:B"], 'strategy.class: must be a string "module:Class", got list'),
        ("file", "", "strategy.class: must be module:Class, got ''"),
        ("file", "os:system", "strategy.class: os:system is not a tickwire Strategy subclass"),
        ("option", "", "--strategy: must be module:Class, got ''"),
        ("option", "..:X", "--strategy: '..:X': relative module names are not allowed"),
        ("option", "tw_sweep_boom:X", "--strategy: cannot import tw_sweep_boom: RuntimeError: x"),
        ("option", "tw_sweep_syntax:X", "cannot import tw_sweep_syntax: SyntaxError: invalid"),
    ],
)
def test_a_bad_strategy_spec_is_one_line_before_any_run(
    days: list[Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    where: str,
    spec: object,
    message: str,
) -> None:
    """The spec is resolved where backtest resolves it (``prepare_backtest``): these were
    tracebacks (a ``class`` that is no string, a relative module, a module that fails to
    import), an empty spec ran the market maker, and a file's ``class`` was blamed on
    ``--strategy``."""
    (tmp_path / "tw_sweep_boom.py").write_text('raise RuntimeError("x")\n')
    (tmp_path / "tw_sweep_syntax.py").write_text("def (:\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    grid = tmp_path / "grid.toml"
    grid.write_text('[grid]\n"strategy.quote_size" = [100, 200]\n')
    cfg = tmp_path / "strat.toml"
    cfg.write_text(f"[strategy]\nclass = {json.dumps(spec)}\n" if where == "file" else "")
    args = ["--config", str(cfg)] + (["--strategy", str(spec)] if where == "option" else [])
    out = tmp_path / "o"
    argv = ["sweep", "--data", str(days[0]), "--grid", str(grid), "--out", str(out), "--quiet"]
    assert main([*argv, "--workers", "1", "--no-plot", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("tickwire-engine sweep: error: "), err
    assert message in err
    if where == "file":
        assert f"{cfg}: strategy.class: " in err
    assert not out.exists()  # nothing ran


#: The strategies of :func:`test_a_strategy_that_exits_or_cannot_be_built`.
FAILING = """
import sys
from tickwire.engine.strategy import Strategy

class Quitter(Strategy):
    async def on_book(self, update):
        sys.exit(0)

class Unbuildable(Strategy):
    def __init__(self, config=None):
        raise RuntimeError("no model file")
"""


def test_a_strategy_that_exits_or_cannot_be_built(
    days: list[Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``sys.exit(0)`` in a callback is a failed run (an error row naming the strategy,
    exit 1), as in ``backtest``; a constructor raising a RuntimeError is one usage line
    before any run (exit 2), where it was a traceback."""
    (tmp_path / "sweep_failing.py").write_text(FAILING)
    monkeypatch.syspath_prepend(str(tmp_path))  # the client builds each strategy first
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))  # the workers import it to run it
    grid = tmp_path / "grid.toml"
    grid.write_text('[grid]\n"strategy.quote_size" = [100]\n')
    out = tmp_path / "sweep"
    argv = ["sweep", "--data", str(days[0]), "--grid", str(grid), "--out", str(out), "--quiet"]
    argv += ["--workers", "1", "--no-plot"]
    assert main([*argv, "--strategy", "sweep_failing:Unbuildable"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert "strategy sweep_failing:Unbuildable: cannot be built: RuntimeError: no model" in err
    assert not out.exists()  # nothing ran

    assert main([*argv, "--strategy", "sweep_failing:Quitter"]) == 1
    (row,) = pq.read_table(out / "summary.parquet").to_pylist()
    assert row["status"] == "error" and row["pnl_e4"] is None
    assert row["error"].startswith(
        "StrategyError: strategy sweep_failing:Quitter raised SystemExit(0) in a callback"
    )
    assert "sweep: day1.itch p000 failed: StrategyError: " in capsys.readouterr().err


def test_too_few_user_ref_nums_ends_the_sweep_as_a_usage_error(
    days: list[Path], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """``backtest.first_user_ref_num`` leaving too few UserRefNums is a usage error in
    ``backtest`` (exit 2) but was one failed run of the sweep (an error row, exit 1): now
    the sweep ends on it, exit 2, with backtest's line after the run it was found in, and
    no summary (found during the run: how many orders a run sends is known only by
    running it). That line is all of stderr, the workers' too (``capfd``): the worker
    logged the task that raised, "Compute Failed" with its config and a traceback."""
    cfg = tmp_path / "refs.toml"
    cfg.write_text(CONFIG.read_text())
    grid = tmp_path / "grid.toml"
    # the runs after the first are cancelled (one worker: they wait for it)
    grid.write_text('[grid]\n"backtest.first_user_ref_num" = [4294967290, 1, 2]\n')
    out = tmp_path / "sweep"
    argv = ["sweep", "--data", str(days[0]), "--grid", str(grid), "--config", str(cfg)]
    assert main([*argv, "--out", str(out), "--workers", "1", "--no-plot", "--quiet"]) == 2
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(
        f"tickwire-engine sweep: error: day1.itch p000: {cfg}: backtest.first_user_ref_num: "
        "4294967290 leaves too few 4-byte UserRefNums for this run ("
    ), err
    assert err.endswith("); start lower\n")
    assert not (out / "summary.csv").exists()
    # backtest's line for the same config and day, word for word
    refs = tmp_path / "refs-bt.toml"
    refs.write_text(
        CONFIG.read_text().replace("[backtest]\n", "[backtest]\nfirst_user_ref_num = 4294967290\n")
    )
    bt = ["backtest", str(days[0]), "--config", str(refs), "--out", str(tmp_path / "bt")]
    assert main([*bt, "--no-plot", "--quiet"]) == 2
    line = capfd.readouterr().err.strip()
    assert (
        line.split("error: ", 1)[1].replace(str(refs), str(cfg))
        == err.split("p000: ", 1)[1].strip()
    )


# --resume: an interrupted sweep is finished, not run again from zero.


@pytest.fixture(scope="module")
def short_days(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two generated days of 1,000 messages (seeds 4, 5): the resume tests run many
    sweeps, and what they hold (which pairs run) does not depend on a day's length."""
    folder = tmp_path_factory.mktemp("short")
    paths = []
    for seed in (4, 5):
        path = folder / f"short{seed}.itch"
        with BinaryFileWriter(path) as w:
            w.write_all(generate_day(1_000, 20, seed))
        paths.append(path)
    return paths


def _reports(out: Path) -> dict[tuple[str, str], tuple[int, int]]:
    """Each run folder's report.json as (inode, mtime): a run writes a new one (staged,
    renamed in), so a pair that ran again has a new inode."""
    found = {}
    for report in sorted((out / "runs").glob("*/*/report.json")):
        st = report.stat()
        found[(report.parent.parent.name, report.parent.name)] = (st.st_ino, st.st_mtime_ns)
    return found


def _ran(before: dict[Any, Any], after: dict[Any, Any]) -> list[tuple[str, str]]:
    """The pairs whose report.json was written again between two snapshots."""
    return sorted(k for k in after if before.get(k) != after[k])


def _copy_days(days: list[Path], folder: Path) -> list[Path]:
    folder.mkdir()
    return [Path(shutil.copy2(d, folder / d.name)) for d in days]


def test_resume_runs_only_the_pair_an_interrupted_sweep_lost(
    short_days: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two days x two parameter sets, one run's record (``run.json``) gone as a run
    interrupted midway leaves it: ``--resume`` runs that pair only (its report is new,
    the other three untouched), says so in one stderr line, and writes the summary, the
    tables and the plots of the uninterrupted sweep (the kept runs' ``runtime_s`` too).
    The same command ran every pair again from zero. (Both sweeps on one running
    cluster, ``--scheduler``: one cluster start, not two.)"""
    from dask.distributed import LocalCluster

    mine = _copy_days(short_days, tmp_path / "days")
    grid = tmp_path / "grid.toml"
    grid.write_text('[grid]\n"strategy.quote_size" = [100, 200]\n')
    out = tmp_path / "o"
    argv = ["sweep", "--data", *map(str, mine), "--grid", str(grid), "--config", str(CONFIG)]
    argv += ["--out", str(out)]
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        argv += ["--scheduler", cluster.scheduler_address]
        assert main([*argv, "--quiet"]) == 0
        capsys.readouterr()
        first = {n: (out / n).read_bytes() for n in ("pnl_heatmap.png", "equity.png")}
        table = pq.read_table(out / "summary.parquet").to_pylist()
        with (out / "summary.csv").open() as f:
            first_csv = list(csv.DictReader(f))
        lost = out / "runs" / mine[1].name / "p001"
        (lost / "run.json").unlink()
        before = _reports(out)
        assert main([*argv, "--resume"]) == 0
    err = capsys.readouterr().err
    assert f"sweep: resumed 3 of 4 runs from {out / 'runs'}; running 1\n" in err
    assert _ran(before, _reports(out)) == [(mine[1].name, "p001")]
    assert (lost / "run.json").exists()  # written again: it finished
    with (out / "summary.csv").open() as f:
        again_csv = list(csv.DictReader(f))
    again = pq.read_table(out / "summary.parquet").to_pylist()
    rerun = (mine[1].name, "p001")
    for tables in ((table, again), (first_csv, again_csv)):
        for old, new in zip(*tables, strict=True):
            if (new["day"], new["params_id"]) == rerun:  # only its wall time can differ
                old, new = {**old, "runtime_s": None}, {**new, "runtime_s": None}
            assert new == old  # the kept runs' runtime_s included
    assert len({r["pnl_e4"] for r in table}) > 1  # the sets differ: rows cannot be swapped
    for name in ("pnl_heatmap.png", "equity.png"):
        assert (out / name).read_bytes() == first[name]


def test_resume_reruns_exactly_what_changed(
    short_days: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Under ``--resume`` a pair runs again when anything that decides its report
    changed since its run: a grid value (that set's runs), a base config value (every
    run), a day touched (that day's runs; the day is known by its size and mtime, not
    its bytes), ``--strategy`` (every run); a record that cannot be read is no error
    (that run runs). The same with ``--scheduler`` (here: every sweep of the test on one
    running cluster) as on the sweep's own: the client decides before submitting."""
    from dask.distributed import LocalCluster

    mine = _copy_days(short_days, tmp_path / "days")
    a, b = (d.name for d in mine)
    grid = tmp_path / "grid.toml"
    grid.write_text('[grid]\n"backtest.seed" = [1, 2]\n')
    cfg = tmp_path / "mm.toml"
    cfg.write_text(CONFIG.read_text())
    out = tmp_path / "o"
    argv = ["sweep", "--data", *map(str, mine), "--grid", str(grid), "--config", str(cfg)]
    argv += ["--out", str(out), "--no-plot", "--quiet", "--resume"]
    cluster = LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
    )

    def sweep(*more: str) -> tuple[list[tuple[str, str]], str]:
        before = _reports(out)
        assert main([*argv, "--scheduler", cluster.scheduler_address, *more]) == 0
        return _ran(before, _reports(out)), capsys.readouterr().err

    with cluster:
        assert sweep() == (
            [(a, "p000"), (a, "p001"), (b, "p000"), (b, "p001")],
            f"sweep: resumed 0 of 4 runs from {out / 'runs'}; running 4\n",
        )
        assert sweep() == ([], f"sweep: resumed 4 of 4 runs from {out / 'runs'}; running 0\n")

        grid.write_text('[grid]\n"backtest.seed" = [1, 3]\n')  # p001's value
        assert sweep()[0] == [(a, "p001"), (b, "p001")]

        cfg.write_text(CONFIG.read_text().replace("max_inventory = 500", "max_inventory = 400"))
        assert sweep()[0] == [(a, "p000"), (a, "p001"), (b, "p000"), (b, "p001")]

        st = mine[0].stat()  # the same bytes, a new mtime
        os.utime(mine[0], ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
        assert sweep()[0] == [(a, "p000"), (a, "p001")]

        strategy = ["--strategy", "tickwire.engine.strategy.market_maker:MarketMaker"]
        assert len(sweep(*strategy)[0]) == 4  # the config's class, but named otherwise

        (out / "runs" / b / "p000" / "run.json").write_text('{"fingerprint": ')  # cut short
        assert sweep(*strategy) == (
            [(b, "p000")],
            f"sweep: resumed 3 of 4 runs from {out / 'runs'}; running 1\n",
        )

        report = out / "runs" / a / "p001" / "report.json"  # another's since (backtest --out)
        report.write_text(report.read_text().replace('"messages"', '"messages" '))
        assert sweep(*strategy)[0] == [(a, "p001")]


def test_resume_runs_a_failed_run_again(
    days: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run that failed (its day cut short) writes no record, so ``--resume`` runs it
    again (and it fails again, said again, exit 1); the run that went well is kept.
    Without ``--resume`` both run again, as before the option."""
    folder = tmp_path / "days"
    folder.mkdir()
    shutil.copy(days[0], folder / "a-good.itch")
    (folder / "b-cut.itch").write_bytes(days[1].read_bytes()[:1000] + b"\x00\x30A\x00\x01")
    grid = tmp_path / "grid.toml"
    grid.write_text('[grid]\n"backtest.seed" = [1]\n')
    out = tmp_path / "o"
    argv = ["sweep", "--data", str(folder), "--grid", str(grid), "--out", str(out)]
    argv += ["--workers", "1", "--no-plot", "--quiet"]
    assert main(argv) == 1
    assert sorted(p.name for p in (out / "runs" / "b-cut.itch" / "p000").iterdir()) == [
        "params.json"
    ]
    good = out / "runs" / "a-good.itch" / "p000" / "report.json"
    kept = (good.stat().st_ino, good.stat().st_mtime_ns)
    capsys.readouterr()
    assert main([*argv, "--resume"]) == 1
    err = capsys.readouterr().err
    assert f"sweep: resumed 1 of 2 runs from {out / 'runs'}; running 1\n" in err
    assert "sweep: b-cut.itch p000 failed: DecodeError: " in err
    assert (good.stat().st_ino, good.stat().st_mtime_ns) == kept
    rows = pq.read_table(out / "summary.parquet").to_pylist()
    assert [(r["day"], r["status"]) for r in rows] == [
        ("a-good.itch", "ok"),
        ("b-cut.itch", "error"),
    ]
    assert main(argv) == 1  # without --resume: every run, the good one too
    assert (good.stat().st_ino, good.stat().st_mtime_ns) != kept
    assert "resumed" not in capsys.readouterr().err


def test_a_run_killed_midway_leaves_no_record_and_reruns(
    days: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run is killed midway (its worker dies after the run started: its params.json is
    written, its report is not) in the folder of an earlier, finished run of other
    parameters. The run removed that run's record first, so the earlier sweep resumed
    runs its pair again and the folder is whole and that run's (its params.json). The
    earlier record, left, was taken by ``--resume`` beside the killed run's
    params.json."""
    import dask
    import distributed  # noqa: F401  (its defaults join dask.config on import)

    (tmp_path / "sweep_killer.py").write_text(KILLER)
    monkeypatch.syspath_prepend(str(tmp_path))  # the client builds each strategy first
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))  # the workers import it to run it
    grid = tmp_path / "grid.toml"
    mm = '[grid]\n"strategy.class" = ["tickwire.engine.strategy.market_maker:MarketMaker"]\n'
    out = tmp_path / "o"
    argv = ["sweep", "--data", str(days[0]), "--grid", str(grid), "--out", str(out)]
    argv += ["--workers", "1", "--no-plot", "--quiet"]
    grid.write_text(mm)
    assert main(argv) == 0
    run = out / "runs" / days[0].name / "p000"
    grid.write_text('[grid]\n"strategy.class" = ["sweep_killer:Killer"]\n')
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        assert main(argv) == 1  # KilledWorker: the folder is as the killed run left it
    assert not (run / "run.json").exists()
    killed = json.loads((run / "params.json").read_text())["params"]
    assert killed == {"strategy.class": "sweep_killer:Killer"}
    before = _reports(out)
    grid.write_text(mm)
    assert main([*argv, "--resume"]) == 0
    assert _ran(before, _reports(out)) == [(days[0].name, "p000")]
    assert json.loads((run / "params.json").read_text())["params"] == {
        "strategy.class": "tickwire.engine.strategy.market_maker:MarketMaker"
    }
