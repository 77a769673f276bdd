"""Sweep throughput: backtest runs per minute on a Dask LocalCluster of 1 and 2 workers.

    uv run --no-sync python bench/bench_sweep.py [--days 3] [--messages 100000]
        [--symbols 100] [--workers 1 2] [--month-messages 400000000]

Generated days (``generate_day(messages, symbols, seed)``, seeds 1..days) are written once
to ``bench/out/sweep/`` as BinaryFILEs; the grid is 2 x 2 ``MarketMaker`` parameters
(``quote_size`` x ``improve_spread_ticks``) over the example config
``packages/engine/examples/market_maker.toml``, so days x 4 runs. For each worker count
the sweep runs as ``python -m tickwire.engine sweep --no-plot`` does (the library calls
under it: :func:`build_tasks`, :func:`run_sweep`, :func:`write_results`; each run reads
its day, backtests it and writes its report and CSVs); the wall time includes starting
and stopping the cluster, and each figure is the best of ``--rounds`` (the worker counts
interleaved within a round). The per-message figure is the runs' own time (``runtime_s``:
read + backtest + write, on one worker process) over their messages, and the month is
projected from it: 21 days x ``--month-messages`` per parameter set, the runs spread
evenly over N workers (they are independent, so N workers take ceil(runs / N) run times).

``--backend compiled`` runs every pair on the compiled replay core (``[backtest]
book_backend``). ``--cpu-rounds N`` measures instead, with no cluster, the CPU time
(``time.process_time``) of each run as a worker does it (:func:`run_task` in this process:
read, backtest, write), best of N per run; run it from two checkouts with their own venvs
(``cd TREE && .venv/bin/python /path/to/bench/bench_sweep.py --cpu-rounds 3``) to A/B them.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time
from pathlib import Path
from typing import Any

from tickwire.engine.backtest.sweep import (
    build_tasks,
    parse_grid,
    run_sweep,
    run_task,
    write_results,
)
from tickwire.engine.cli_backtest import read_config
from tickwire.itch.generator import generate_day
from tickwire.itch.writer import BinaryFileWriter

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "packages" / "engine" / "examples" / "market_maker.toml"
GRID = {"grid": {"strategy.quote_size": [100, 200], "strategy.improve_spread_ticks": [1, 3]}}


def make_days(folder: Path, days: int, messages: int, symbols: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for seed in range(1, days + 1):
        path = folder / f"day{seed}-{messages}-{symbols}.itch"
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            with BinaryFileWriter(tmp) as w:
                w.write_all(generate_day(messages, symbols, seed))
            tmp.rename(path)
        paths.append(path)
    return paths


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--days", type=int, default=3)
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--symbols", type=int, default=100)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--month-messages", type=int, default=400_000_000)
    ap.add_argument("--rounds", type=int, default=2, help="worker counts interleaved; best kept")
    ap.add_argument("--backend", choices=("reference", "compiled"), default="reference")
    ap.add_argument("--cpu-rounds", type=int, default=0, help="CPU time per run, no cluster")
    args = ap.parse_args()
    out = ROOT / "bench" / "out" / "sweep"
    days = make_days(out / "days", args.days, args.messages, args.symbols)
    grid = parse_grid(GRID, "bench grid")
    cfg = read_config(str(CONFIG))
    cfg.setdefault("backtest", {})["book_backend"] = args.backend
    if args.cpu_rounds:
        cpu_per_run(days, cfg, grid, out / "cpu", args.cpu_rounds)
        return
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"# {args.days} days x {grid.size} parameter sets = {args.days * grid.size} runs "
        f"of {args.messages:,} messages ({args.symbols} symbols)"
    )
    print("| workers | wall | runs/min | per run (mean) | msg/s per worker | msg/s total |")
    print("|---|---|---|---|---|---|")
    best: dict[int, tuple[float, list[dict[str, Any]], int]] = {}
    for _ in range(args.rounds):
        for n in args.workers:
            tasks = build_tasks(days, cfg, grid, out / f"w{n}", source=str(CONFIG), plot=False)
            t0 = time.perf_counter()
            rows, got = run_sweep(tasks, workers=n)
            wall = time.perf_counter() - t0
            write_results(rows, [d.name for d in days], grid, out / f"w{n}", plot=False)
            failed = [r for r in rows if r["status"] != "ok"]
            assert not failed, failed
            if n not in best or wall < best[n][0]:
                best[n] = (wall, rows, got)
    per_message: list[float] = []
    for n in args.workers:
        wall, rows, got = best[n]
        busy = sum(float(r["runtime_s"]) for r in rows)
        messages = sum(int(r["messages"]) for r in rows)
        per_message.append(busy / messages)
        print(
            f"| {got} | {wall:.1f} s | {len(rows) / wall * 60:.1f} | {busy / len(rows):.2f} s "
            f"| {messages / busy:,.0f} | {messages / wall:,.0f} |"
        )
    cost = min(per_message)  # s per message on one worker, the least loaded measurement
    day_s = args.month_messages * cost
    print(
        f"\n# per message: {cost * 1e6:.2f} us on one worker; one {args.month_messages:,}-"
        f"message day: {day_s / 3600:.2f} h per parameter set"
    )
    print("| parameter sets | runs (21 days) | 1 worker | 8 workers | 32 workers | 128 workers |")
    print("|---|---|---|---|---|---|")
    for sets in (1, 16, 100):
        runs = 21 * sets
        cells: list[Any] = []
        for n in (1, 8, 32, 128):
            cells.append(_human(math.ceil(runs / n) * day_s))
        print(f"| {sets} | {runs} | " + " | ".join(cells) + " |")


def cpu_per_run(days: list[Path], cfg: dict[str, Any], grid: Any, out: Path, rounds: int) -> None:
    """Each run's CPU time in this process (best of ``rounds``), and their sum."""
    tasks = build_tasks(days, cfg, grid, out, source=str(CONFIG), plot=False)
    best: dict[int, float] = {}
    messages = 0
    for _ in range(rounds):
        messages = 0
        for i, task in enumerate(tasks):
            t0 = time.process_time()
            row = run_task(task)
            cpu = time.process_time() - t0
            assert row["status"] == "ok", row["error"]
            messages += int(row["messages"])
            best[i] = min(best.get(i, cpu), cpu)
    total = sum(best.values())
    backend = cfg["backtest"]["book_backend"]
    print(
        f"FIG sweep_cpu {backend} runs {len(tasks)} cpu_s {total:.3f} "
        f"per_run_s {total / len(tasks):.3f} msg_per_cpu_s {messages / total:,.0f}"
    )


def _human(seconds: float) -> str:
    hours = seconds / 3600
    return f"{hours:,.1f} h" if hours < 48 else f"{hours / 24:,.1f} days"


if __name__ == "__main__":
    main()
