"""The ``sweep`` subcommand of ``python -m tickwire.engine``: backtests over days x a grid.

    python -m tickwire.engine sweep --data DAY [DAY ...] (files or folders)
        --grid GRID.toml [--config FILE] [--strategy module:Class] --out DIR
        [--scheduler ADDRESS | --workers N] [--no-plot] [--keep-duplicates]
        [--session NAME] [--resume] [--quiet]

Every (day, parameter set) pair is one ``backtest`` (the same config loading, run and
report; its outputs in ``DIR/runs/<day>/<params-id>/``), run on Dask distributed: a
``LocalCluster`` of ``--workers`` processes by default, the cluster of ``--scheduler``
otherwise (:mod:`tickwire.engine.backtest.sweep` has the algorithm). ``DIR`` gets
``summary.parquet``, ``summary.csv``, ``sweep.json``, ``pnl_heatmap.png`` and
``equity.png``. A progress bar with runs done and ETA goes to stderr when it is a
terminal; each failed run is a line on stderr and a row with ``status = "error"``; a run
whose capture lost messages (bad packets, cut frames, gaps) keeps its figures, with
``status = "incomplete"`` and what was lost in ``error`` (``docs/cli.md``, "Captures").

Exit status: 0 when every run succeeded, 1 when any failed (the others' results are
written all the same), 2 on a usage, config or grid error (nothing is run), and on a run
whose ``backtest.first_user_ref_num`` leaves too few UserRefNums, as ``backtest``
(found during that run: the others are cancelled, no summary is written).

``--resume`` runs only the pairs an earlier sweep into ``DIR`` did not finish with the
same inputs (each finished run's ``run.json`` records them and its row;
:func:`tickwire.engine.backtest.sweep.resumed_rows`); one stderr line says how many
were resumed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from tickwire.cli import Progress, config_file, output_folder, positive_int, printable

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    """Register ``sweep`` on an argparse subparsers object."""
    sw = subparsers.add_parser(
        "sweep",
        help="backtest every (day, parameter set) pair of a grid on Dask distributed",
        description="Run the backtest for every day x every parameter set of a grid, in "
        "parallel on Dask distributed, and write a summary table and plots.",
    )
    sw.add_argument(
        "--data",
        nargs="+",
        action="extend",  # --data A --data B: both (a repeat replaced the first)
        required=True,
        metavar="DAY",
        help="BinaryFILEs or captures, or folders of them (one day per file; repeatable)",
    )
    sw.add_argument(
        "--grid",
        required=True,
        type=config_file,
        help='TOML file: [grid] "table.key" = [values]',
    )
    sw.add_argument("--config", type=config_file, help="the base config (TOML, as for backtest)")
    sw.add_argument("--strategy", default=None, help="module:Class (as for backtest)")
    sw.add_argument("--out", default="sweep-out", type=output_folder, help="output directory")
    where = sw.add_mutually_exclusive_group()
    where.add_argument(
        "--scheduler", help="address of a Dask scheduler (default: start a LocalCluster)"
    )
    where.add_argument(
        "--workers", type=positive_int, help="LocalCluster worker processes (default: CPUs)"
    )
    from tickwire.engine.sources import add_capture_options

    add_capture_options(sw)
    sw.add_argument("--no-plot", action="store_true", help="no PNGs (the sweep's nor the runs')")
    sw.add_argument(
        "--resume",
        action="store_true",
        help="run only the pairs not finished in DIR/runs with the same config, day and "
        "options (the others' rows are taken from their run.json)",
    )
    sw.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    sw.set_defaults(func=run)


def _cmd_sweep(args: argparse.Namespace) -> int:
    from tickwire.engine.backtest.sweep import (
        build_tasks,
        collect_days,
        foreign_runs,
        load_grid,
        plots_skipped,
        resumed_rows,
        run_sweep,
        total_pnl,
        write_results,
    )
    from tickwire.engine.cli_backtest import read_config

    grid = load_grid(args.grid)
    cfg = read_config(args.config)
    days = collect_days(
        args.data,
        out=args.out,
        skipped=lambda why: print(f"sweep: {printable(why)}", file=sys.stderr),
    )
    out = Path(args.out)
    tasks = build_tasks(
        days,
        cfg,
        grid,
        out,
        source=args.config,
        grid_source=args.grid,
        strategy=args.strategy,
        keep_duplicates=args.keep_duplicates,
        session=args.session,
        plot=not args.no_plot,
    )
    earlier = foreign_runs(out, tasks)
    if earlier:
        print(
            f"sweep: {earlier} run folder{'s' if earlier != 1 else ''} in {out / 'runs'} "
            "not this sweep's (an earlier sweep's, kept; not in this summary)",
            file=sys.stderr,
        )
    # --resume: the rows of the pairs already run with these inputs, decided here in the
    # client before anything is submitted (a LocalCluster and --scheduler alike)
    kept = resumed_rows(tasks) if args.resume else [None] * len(tasks)
    todo = [t for t, row in zip(tasks, kept, strict=True) if row is None]
    if args.resume:
        print(
            f"sweep: resumed {len(tasks) - len(todo)} of {len(tasks)} runs from "
            f"{out / 'runs'}; running {len(todo)}",
            file=sys.stderr,
        )
    start = time.perf_counter()
    with Progress(len(tasks), "sweep", unit="runs", enabled=False if args.quiet else None) as bar:

        def done(row: dict[str, Any]) -> None:
            """One run finished: a failure is a line on stderr (terminal or not), the
            day's file name escaped as the error is (:func:`tickwire.cli.printable`; test:
            ``test_engine_sweep.py::test_a_day_name_with_control_characters_is_shown_escaped``)."""
            if row["status"] != "ok":
                what = "incomplete" if row["status"] == "incomplete" else "failed"
                day = printable(row["day"])
                bar.print(f"sweep: {day} {row['params_id']} {what}: {row['error']}")
            bar.update(1)

        for row in kept:  # resumed: done at the start (an incomplete one said again)
            if row is not None:
                done(row)
        ran: list[dict[str, Any]] = []
        n_workers = 0  # every run resumed: no cluster is started
        if todo:
            ran, n_workers = run_sweep(
                todo, scheduler=args.scheduler, workers=args.workers, on_done=done
            )
    new = iter(ran)
    rows = [row if row is not None else next(new) for row in kept]
    wall = time.perf_counter() - start
    names = [d.name for d in days]
    files = write_results(rows, names, grid, out, plot=not args.no_plot)
    skipped = None if args.no_plot else plots_skipped(grid)
    if skipped is not None:
        print(f"sweep: {skipped}", file=sys.stderr)
    failed = [r for r in rows if r["status"] != "ok"]
    incomplete = sum(r["status"] == "incomplete" for r in rows)
    # an incomplete run (its day lost messages) has figures but fails the sweep all the same
    counts = f"{len(rows) - len(failed)} ok, {len(failed) - incomplete} failed" + (
        f", {incomplete} incomplete" if incomplete else ""
    )
    if failed:
        print(
            f"sweep: {len(failed)} of {len(rows)} runs not ok ({counts}; status and error "
            f"in {out / 'summary.csv'})",
            file=sys.stderr,
        )
    if not args.quiet:
        resumed = f", {len(tasks) - len(todo)} resumed" if args.resume else ""
        on = f" on {n_workers} workers" if todo else ""  # none started when all resumed
        print(
            f"sweep: {len(rows)} runs ({len(days)} days x {grid.size} parameter sets"
            f"{resumed}){on} in {wall:.1f} s: {counts}"
        )
        totals = {k: v for k, v in total_pnl(rows, grid).items() if v is not None}
        if totals:
            best = max(totals, key=lambda k: totals[k])
            params = dict(grid.combinations())[best]
            text = ", ".join(f"{k}={v!r}" for k, v in params.items())
            print(f"  best      {best} ({text}): PnL ${totals[best] / 1e4:,.2f} over the days")
        print(f"  outputs   {out}/ ({', '.join(p.name for p in files)}, runs/)")
    return 1 if failed else 0


def run(args: argparse.Namespace) -> int:
    """Run the parsed ``sweep`` command; returns the exit status (see the module docs).
    A usage, config or grid error (exit 2) and a failed write (exit 1) are left to the
    host's error boundary, :func:`tickwire.cli.run_cli`."""
    return _cmd_sweep(args)
