"""Parameter sweeps: the backtest of every (day, parameter set) pair, on Dask distributed.

``python -m tickwire.engine sweep`` (:mod:`tickwire.engine.cli_sweep`) is the command;
this module is the library under it. The algorithm:

1. The grid (:func:`load_grid`): ``[grid]`` maps dotted paths into the backtest config
   (``"strategy.quote_size" = [100, 200]``, or the same as nested TOML tables) to lists of
   values; the parameter sets are their cartesian product, in the order the keys and
   values are written, numbered ``p000``, ``p001``, ... (:meth:`Grid.combinations`).
2. Before anything runs, every parameter set is written into a copy of the base config
   (:func:`apply_params`) and built exactly as ``backtest`` builds its run
   (:func:`tickwire.engine.cli_backtest.prepare_backtest`), so a bad value is one usage
   error naming the grid file, the parameter set and the key, not N failed runs.
3. One Dask task per pair (:class:`SweepTask`, :func:`run_task`) on a ``LocalCluster``
   of worker processes (one thread each: the backtest is pure Python) or on the
   scheduler given. A task runs :func:`tickwire.engine.cli_backtest.backtest_file`, the
   ``backtest`` command as a function: the same config loading, the same run and the
   same report, written to ``DIR/runs/<day>/<params-id>/``. It returns one small summary
   row (:data:`METRICS`, from the report); any exception in the run becomes a row with
   ``status = "error"`` and the one-line error, so one failing day never loses the others;
   but ``backtest.first_user_ref_num`` leaving too few UserRefNums, a configuration error
   found only by running, ends the sweep as it ends ``backtest`` (exit 2; :func:`run_sweep`).
4. The client collects the rows with ``as_completed`` (a callback per finished run for
   the progress bar and the failure lines); a task that dies with its worker
   (``KilledWorker``) becomes an error row the same way.
5. Each run that finishes (``ok`` or ``incomplete``) writes last, whole, a record
   (:data:`RUN_RECORD`, ``run.json``) of what decided its report
   (:func:`run_fingerprint`) and its row; ``--resume`` (:func:`resumed_rows`) takes the
   row of every pair whose record matches instead of running it again.
6. :func:`write_results`: ``summary.parquet`` and ``summary.csv`` (every row, ordered by
   day then parameter set), ``sweep.json`` (days, grid, parameter sets),
   ``pnl_heatmap.png`` and ``equity.png`` (:func:`write_plots`).

Everything in a row except ``runtime_s`` is deterministic: it is what ``backtest`` on
that day with that config reports (``tests``: the same numbers as serial runs).
Paths are made absolute before they are sent: with ``--scheduler`` the workers must see
the data and the output folder at the same paths (a shared file system).
"""

from __future__ import annotations

import argparse
import copy
import csv
import itertools
import json
import math
import os
import time
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tickwire.cli import (
    UsageError,
    atomic_path,
    existing_file,
    one_line,
    remove_stages,
    staged_folder,
    toml_loads,
)
from tickwire.threshold.schema import ConfigError, MapOf, Raw, Str, from_table, setting

__all__ = [
    "MAX_RUNS",
    "METRICS",
    "PLOT_MAX_SETS",
    "RUN_RECORD",
    "SCHEDULER_TIMEOUT",
    "Grid",
    "GridFile",
    "SweepResult",
    "SweepTask",
    "apply_params",
    "check_scheduler",
    "collect_days",
    "foreign_runs",
    "load_grid",
    "parse_grid",
    "plots_skipped",
    "resumed_rows",
    "run_fingerprint",
    "run_sweep",
    "run_task",
    "summarize",
    "write_plots",
    "write_results",
]

#: What to install for a sweep, for the messages that say something is missing.
DASK_HINT = "pip install 'tickwire-engine[dask]'"

#: The most runs (days x parameter sets) one sweep takes. Why: the parameter sets are
#: built and checked before anything runs and every run is a task with its own config,
#: so a grid of 8 keys of 20 values (25.6 billion sets) ran out of memory (a
#: ``MemoryError`` traceback) instead of saying what was asked. 100,000 is 21 days x
#: 4,761 sets, a few hundred MB of tasks; split a larger sweep (by days, or by a key).
MAX_RUNS = 100_000

#: The config tables a grid key may point into.
TABLES = ("strategy", "risk", "backtest", "fees")

#: Summary columns taken from each run's report (after ``day``, ``params_id``, the
#: parameters, ``status`` and ``error``); money in Price(4) x shares (``_e4``).
#: The files :func:`write_results` owns in the sweep's output folder (beside ``runs/``).
SUMMARY_FILES = ("summary.csv", "summary.parquet", "sweep.json", "pnl_heatmap.png", "equity.png")

METRICS = (
    "messages",
    "unknown_types",
    "pnl_e4",
    "realised_e4",
    "unrealised_e4",
    "fees_e4",
    "max_drawdown_e4",
    "sharpe",
    "fills",
    "shares",
    "orders_sent",
    "refused_by_risk",
    "rejected_by_venue",
    "tick_to_venue_p50_ns",
    "tick_to_venue_p99_ns",
    "tick_to_venue_p99_9_ns",
    "order_to_ack_p50_ns",
    "order_to_ack_p99_ns",
    "order_to_ack_p99_9_ns",
    "runtime_s",
)

_Scalar = (bool, int, float, str)


@dataclass(frozen=True)
class Grid:
    """Dotted config keys and, for each, the values to try (in file order)."""

    keys: tuple[str, ...]
    values: tuple[tuple[Any, ...], ...]

    def combinations(self) -> list[tuple[str, dict[str, Any]]]:
        """Every parameter set as ``(params_id, {key: value})``: the cartesian product,
        the last key varying fastest, ids ``p000``, ``p001``, ..."""
        width = max(3, len(str(self.size - 1)))
        return [
            (f"p{i:0{width}d}", dict(zip(self.keys, combo, strict=True)))
            for i, combo in enumerate(itertools.product(*self.values))
        ]

    @property
    def size(self) -> int:
        """The number of parameter sets."""
        return math.prod(len(v) for v in self.values)


@dataclass(frozen=True)
class GridFile:
    """The tables of a grid file: ``[grid]`` only (its dotted keys are checked by
    :func:`parse_grid`, against the config schemas when the runs are built)."""

    grid: Mapping[str, Any] = setting(
        MapOf(Str(), Raw(), valid='`"table.key" = [values]`'), factory=dict
    )


def load_grid(path: str | Path) -> Grid:
    """The grid TOML file at ``path`` (see :func:`parse_grid`)."""
    try:
        data = toml_loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--grid {path}: {one_line(exc)}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML: {exc}") from None
    return parse_grid(data, str(path))


def parse_grid(data: Mapping[str, Any], source: str) -> Grid:
    """Validate a parsed grid file; every problem is one :class:`UsageError` line that
    names ``source`` and the key (``grid.strategy.quote_size: ...``).

    ``[grid]`` is the only table. Its keys are dotted paths whose first part is one of
    :data:`TABLES` (quoted, ``"strategy.quote_size" = [...]``, or as nested tables); each
    maps to a non-empty list of distinct numbers, strings or booleans of one type (ints
    and floats mix).
    """
    try:  # the file's one table, checked by the schema mechanism like every config file
        from_table(GridFile, data)
    except ConfigError as exc:
        raise UsageError(f"{source}: {exc}") from None
    table = data.get("grid")
    if not isinstance(table, dict) or not table:
        raise UsageError(
            f'{source}: [grid] is missing or empty: give at least one "table.key" = [values], '
            f'e.g. "strategy.quote_size" = [100, 200]'
        )
    keys: list[str] = []
    values: list[tuple[Any, ...]] = []
    for key, vals in _flatten(table, ()):
        name = f"grid.{key}"
        parts = key.split(".")
        if len(parts) < 2 or not all(parts):
            raise UsageError(
                f"{source}: {name}: must be a dotted path table.key, e.g. backtest.seed"
            )
        if parts[0] not in TABLES:
            raise UsageError(
                f"{source}: {name}: unknown table {parts[0]!r} (known: {', '.join(TABLES)})"
            )
        if key in keys:
            raise UsageError(f"{source}: {name}: given twice")
        if not isinstance(vals, list):
            raise UsageError(
                f"{source}: {name}: must be a list of values, got {type(vals).__name__} {vals!r}"
            )
        if not vals:
            raise UsageError(f"{source}: {name}: must list at least one value")
        kinds = set()
        for v in vals:
            if not isinstance(v, _Scalar):
                raise UsageError(
                    f"{source}: {name}: values must be numbers, strings or booleans, "
                    f"got {type(v).__name__} {v!r}"
                )
            kinds.add(_kind(v))
        if len(kinds) > 1:
            raise UsageError(
                f"{source}: {name}: values must all be of one type, got {' and '.join(sorted(kinds))}"
            )
        # A set: equal values hash alike (1 and 1.0 are one value, as ``==`` says, and
        # a NaN is none other), and a list of 300,000 values was 45 billion comparisons
        # (test_engine_sweep.py::test_a_long_value_list_is_checked_in_linear_time).
        seen: set[Any] = set()
        for v in vals:
            if v in seen:
                raise UsageError(f"{source}: {name}: value {v!r} is listed twice")
            seen.add(v)
        keys.append(key)
        values.append(tuple(vals))
    return Grid(tuple(keys), tuple(values))


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "str"


def _flatten(table: Mapping[str, Any], prefix: tuple[str, ...]) -> Iterable[tuple[str, Any]]:
    """``(dotted key, value)`` for every leaf of nested tables."""
    for key, value in table.items():
        path = (*prefix, key)
        if isinstance(value, dict):
            yield from _flatten(value, path)
        else:
            yield ".".join(path), value


def apply_params(cfg: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the config ``cfg`` with each dotted key of ``params`` set (tables made
    as needed); a key through a value that is not a table is a :class:`UsageError`."""
    out = copy.deepcopy(dict(cfg))
    for key, value in params.items():
        parts = key.split(".")
        node = out
        for i, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                where = ".".join(parts[: i + 1])
                raise UsageError(f"grid.{key}: {where} is a {type(child).__name__}, not a table")
            node = child
        node[parts[-1]] = value
    return out


def collect_days(
    paths: Sequence[str | Path],
    *,
    out: str | Path | None = None,
    skipped: Callable[[str], None] | None = None,
) -> list[Path]:
    """The day files of ``--data``: each file as given, each folder's files (not hidden)
    sorted by name; absolute, links resolved. Names must be distinct (they name the run
    folders), no file may be given twice (through a link, a hard link or two folders:
    ``--data day.itch link.itch`` ran the day twice, both runs in one folder, and its PnL
    counted twice in the totals; test: ``test_engine_sweep.py``), and
    each is an input as ``backtest``'s DATA is (:func:`tickwire.cli.existing_file`: an
    empty file is a usage error, not a day of no messages counted as a run that went
    well; so is one that is not a regular file, a FIFO or a device, given or in a folder,
    refused before anything runs: one in a folder was skipped without a word, and
    ``--data /dev/null`` said "no such file or folder"). ``out``, the sweep's output folder,
    must not be a folder of ``paths``: its
    ``summary.csv``, ``summary.parquet`` and ``sweep.json`` were read as days by the next
    sweep over it (three error rows; hostile-input round 4; test:
    ``test_engine_sweep.py``). A folder inside a ``--data`` folder is no day: it is
    skipped, and ``skipped`` (when given) is called with a line saying so
    (``DIR/sub: a folder inside --data, not read``); it was skipped without a word."""
    days: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir() and out is not None and p.resolve() == Path(out).resolve():
            raise UsageError(
                f"--out {out}: is the --data folder {p}: its summary files would be days of "
                "the next sweep over it: name another folder (one inside it is fine)"
            )
        if p.is_dir():
            found = []
            for f in sorted(p.iterdir()):
                if f.name.startswith("."):
                    continue
                if f.is_dir():
                    if skipped is not None:
                        skipped(f"{f}: a folder inside --data, not read")
                    continue
                found.append(f)  # anything else is a day, checked below as one
            if not found:
                raise UsageError(f"--data {p}: the folder has no files")
            days.extend(found)
        elif os.path.lexists(p):
            days.append(p)  # a file, or what is checked below as one (a FIFO, a device)
        else:
            raise UsageError(f"--data {p}: no such file or folder")
    for d in days:  # every day is an input as for backtest: an empty one is refused
        try:
            existing_file(str(d))
        except argparse.ArgumentTypeError as exc:
            raise UsageError(f"--data {exc}") from None
    by_file: dict[tuple[int, int], Path] = {}
    by_name: dict[str, Path] = {}
    resolved = []
    for d in days:
        real = d.resolve()  # its name is the run folder's: a link's target's, not the link's
        st = real.stat()
        same = by_file.setdefault((st.st_dev, st.st_ino), d)
        if same is not d:
            raise UsageError(
                f"--data: {same} and {d} are the same file; a day given twice is run and "
                "counted twice: give it once"
            )
        if real.name in by_name:
            raise UsageError(
                f"--data: two days are named {real.name} ({by_name[real.name]}, {d}); "
                "their results would share a folder: rename one"
            )
        by_name[real.name] = d
        resolved.append(real)
    return resolved


@dataclass(frozen=True)
class SweepTask:
    """One (day, parameter set) run, as sent to a worker."""

    day: str  # absolute path of the day's file
    day_name: str
    params_id: str
    params: dict[str, Any]
    config: dict[str, Any]  # the base config with the parameters applied
    out: str  # absolute path of the run's folder
    source: str | None = None  # the config file, for error messages
    strategy: str | None = None  # --strategy
    keep_duplicates: bool = False
    session: str | None = None  # --session
    plot: bool = True


def _row(task: SweepTask) -> dict[str, Any]:
    row: dict[str, Any] = {"day": task.day_name, "params_id": task.params_id}
    row.update(task.params)
    row.update({"status": "ok", "error": None})
    row.update(dict.fromkeys(METRICS))
    return row


def summarize(report: Mapping[str, Any]) -> dict[str, Any]:
    """The :data:`METRICS` of one backtest report (``runtime_s`` excepted)."""
    pnl, fills, orders = report["pnl"], report["fills"], report["orders"]
    lat = report["latency_ns"]
    out: dict[str, Any] = {
        "messages": report["messages"],
        "unknown_types": report["unknown_types"],
        "pnl_e4": pnl["total_e4"],
        "realised_e4": pnl["realised_e4"],
        "unrealised_e4": pnl["unrealised_e4"],
        "fees_e4": pnl["fees_e4"],
        "max_drawdown_e4": pnl["max_drawdown_e4"],
        "sharpe": report["statistics"]["sharpe"],
        "fills": fills["count"],
        "shares": fills["shares"],
        "orders_sent": orders["sent"],
        "refused_by_risk": sum(orders["refused_by_risk"].values()),
        "rejected_by_venue": sum(orders["rejected_by_venue"].values()),
    }
    for name in ("tick_to_venue", "order_to_ack"):
        for p in ("p50", "p99", "p99_9"):
            out[f"{name}_{p}_ns"] = lat[name][p]
    return out


def _capture_faults(report: Mapping[str, Any]) -> str | None:
    """What a run's capture lost (:meth:`CaptureFeedStats.faults`), None if whole or
    not a capture."""
    from tickwire.engine.sources import CaptureFeedStats

    counts = report.get("capture")
    return None if counts is None else CaptureFeedStats(**counts).faults()


def run_task(task: SweepTask) -> dict[str, Any]:
    """Run one pair (on a worker): the backtest with its outputs in ``task.out``; the
    summary row, with ``status = "error"`` and the one-line error if it failed.

    Except :class:`~tickwire.engine.cli_backtest.UserRefNumsTooFew`, raised: a
    configuration error (``backtest`` exits 2 on it), which :func:`run_sweep` makes the
    sweep's (it stops, exit 2, backtest's line); it was an error row per run, exit 1.
    Test: ``test_engine_sweep.py::test_too_few_user_ref_nums_ends_the_sweep_as_a_usage_error``."""
    from tickwire.engine.cli_backtest import UserRefNumsTooFew, backtest_file

    row = _row(task)
    start = time.perf_counter()
    try:
        out = Path(task.out)
        out.mkdir(parents=True, exist_ok=True)
        # Rule: a run removes its folder's record (RUN_RECORD) before it writes anything,
        # and writes its own last. Why: a run killed midway (its worker ended with an
        # interrupted sweep) left the record of an earlier run of the folder beside its
        # own params.json, or its own report; --resume took that record for the folder.
        # Test: test_engine_sweep.py::test_a_run_killed_midway_leaves_no_record_and_reruns
        (out / RUN_RECORD).unlink(missing_ok=True)
        fingerprint = run_fingerprint(task)  # the day as it is before the run reads it
        # Rule: a run first removes the hidden stage folders an earlier run of this folder
        # left, killed while writing (its worker ended with an interrupted sweep's
        # cluster, or by the OOM killer before a retry): half-written tables nothing
        # else removes. Test:
        # test_engine_sweep.py::test_a_run_removes_the_stage_folder_a_killed_run_left
        remove_stages(out)
        (out / "params.json").write_text(
            json.dumps({"day": task.day, "params_id": task.params_id, "params": task.params}) + "\n"
        )
        report = backtest_file(
            task.config,
            Path(task.day),
            out,
            source=task.source,
            strategy=task.strategy,
            keep_duplicates=task.keep_duplicates,
            session=task.session,
            plot=task.plot,
        )
        row.update(summarize(report))
        faults = _capture_faults(report)
        if faults is not None:  # figures of a day with messages lost: kept, and said so
            row.update(status="incomplete", error=f"{task.day_name}: {faults}")
        row["runtime_s"] = round(time.perf_counter() - start, 3)
        record = {"fingerprint": fingerprint, "report": _stamp(out / "report.json"), "row": row}
        with atomic_path(out / RUN_RECORD) as tmp:  # last, whole: the run is done
            tmp.write_text(json.dumps(record) + "\n")
    except UserRefNumsTooFew:  # a configuration error: the sweep's, not this run's
        raise
    except Exception as exc:  # any other failure is this run's row, never the sweep's end
        row.update(dict.fromkeys(METRICS))  # none of its figures: the run failed
        row.update(status="error", error=f"{type(exc).__name__}: {one_line(exc)}")
        _clear_outputs(Path(task.out))
        row["runtime_s"] = round(time.perf_counter() - start, 3)
    return row


#: The record a finished run (``ok`` or ``incomplete``) writes last, whole, in its run
#: folder: ``{"fingerprint": ..., "row": ...}`` (:func:`run_fingerprint`, the summary
#: row). ``sweep --resume`` takes the row from it instead of running the pair again
#: (:func:`resumed_rows`).
RUN_RECORD = "run.json"


def run_fingerprint(task: SweepTask) -> dict[str, Any]:
    """Everything that decides the report of ``task``'s run, as JSON values: the merged
    config (canonical JSON), ``--strategy``, ``--keep-duplicates``, ``--session``, the
    plot option, the day's resolved path, size and ``st_mtime_ns``, and the
    tickwire-engine version.

    The day is known by its size and modification time, not a hash of its bytes: days
    are gigabytes, and hashing each one at every resume would cost a read of the month.
    Touching a day (``touch``, a copy that does not keep times) re-runs its runs. What
    the fingerprint cannot see (the code of a strategy module edited in place, without a
    version change) is not compared: a sweep without ``--resume`` runs everything.
    Test: ``test_engine_sweep.py::test_resume_reruns_exactly_what_changed``."""
    from tickwire.engine import __version__

    day = Path(task.day).resolve()
    st = day.stat()
    return {
        "config": json.dumps(task.config, sort_keys=True, separators=(",", ":"), default=repr),
        "strategy": task.strategy,
        "keep_duplicates": task.keep_duplicates,
        "session": task.session,
        "plot": task.plot,
        "day": {"path": str(day), "size": st.st_size, "mtime_ns": st.st_mtime_ns},
        "engine": __version__,
    }


def _stamp(path: Path) -> list[int]:
    """``path``'s size and ``st_mtime_ns``: a run's ``report.json`` as its record knows it."""
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def _resumed_row(task: SweepTask) -> dict[str, Any] | None:
    """``task``'s row from the record of its run folder, or None (it is to be run): no
    ``report.json``, one other than the run wrote (its size or mtime not the record's:
    a ``backtest --out`` into the folder since), or a record missing, unreadable, not a
    finished run's, or of a run whose fingerprint differs."""
    folder = Path(task.out)
    try:
        record = json.loads((folder / RUN_RECORD).read_text(encoding="utf-8"))
        kept = record["row"]
        if record["report"] != _stamp(folder / "report.json"):
            return None
        if record["fingerprint"] != run_fingerprint(task):
            return None
        if kept["status"] not in ("ok", "incomplete"):
            return None
        row = _row(task)  # this sweep's day, id and grid columns
        row.update(status=kept["status"], error=kept["error"])
        row.update({name: kept[name] for name in METRICS})
    except (OSError, ValueError, TypeError, KeyError, RecursionError):  # not a record
        return None
    return row


def resumed_rows(tasks: Sequence[SweepTask]) -> list[dict[str, Any] | None]:
    """For ``sweep --resume``: each task's row as its finished run recorded it
    (:data:`RUN_RECORD`), or None where the pair is to be run again.

    Rule: a pair is resumed only when its run folder holds the ``report.json`` its run
    wrote (the size and mtime its record keeps) and a record whose fingerprint
    (:func:`run_fingerprint`) equals the task's; the row is the
    record's (``runtime_s`` the original run's), so the summary, tables and plots are
    those of the sweep had it not been interrupted. A record that is missing (a run
    killed midway removed it first), unreadable or of other inputs is no error: that
    pair runs. A failed run writes no record, so it always runs again. Decided in the
    client before any task is submitted, so it is the same on a LocalCluster and with
    ``--scheduler``. Why: a sweep interrupted at 90% re-ran every pair from zero.
    Tests: ``test_engine_sweep.py::test_resume_runs_only_the_pair_an_interrupted_sweep_lost``
    and the ``test_resume_*`` tests after it."""
    return [_resumed_row(t) for t in tasks]


def _clear_outputs(folder: Path) -> None:
    """Remove an earlier run's backtest outputs (:data:`report.OUT_FILES`) and its record
    (:data:`RUN_RECORD`) from the folder of a run that failed, leaving its ``params.json``.

    Rule: a failed run's folder holds this run's ``params.json`` and nothing of an
    earlier sweep's. Why: a sweep into the ``--out`` of an earlier one, whose run of the
    same day and parameter-set id failed, left the earlier run's ``report.json`` and
    tables beside this run's ``params.json``: a report of other parameters (or of the
    day before it was replaced) passing for this run's. Test:
    ``test_engine_sweep.py::test_a_failed_run_leaves_no_earlier_report_in_its_folder``."""
    from tickwire.engine.backtest.report import OUT_FILES

    for name in (RUN_RECORD, *OUT_FILES):
        try:
            (folder / name).unlink(missing_ok=True)
        except OSError:  # the folder could not be made or read: nothing of it to show
            return


def _run_on_worker(task: SweepTask) -> dict[str, Any] | Exception:
    """:func:`run_task` as the Dask task: its row, or the
    :class:`~tickwire.engine.cli_backtest.UserRefNumsTooFew` it raised, *returned*.

    Rule: a sweep's task never raises, so the workers have nothing to log. Why: a task
    that raised was logged by its worker as ``distributed.worker - ERROR - Compute
    Failed`` with the task, its whole config and a traceback, a dozen lines on the
    terminal before the sweep's one line (exit 2). Test:
    ``test_engine_sweep.py::test_too_few_user_ref_nums_ends_the_sweep_as_a_usage_error``
    (the file descriptor's stderr, the workers' included)."""
    from tickwire.engine.cli_backtest import UserRefNumsTooFew

    try:
        return run_task(task)
    except UserRefNumsTooFew as exc:
        return exc


@dataclass
class SweepResult:
    """The rows of a finished sweep (ordered by day, then parameter set)."""

    rows: list[dict[str, Any]]
    days: list[str]
    grid: Grid
    workers: int
    wall_seconds: float
    files: list[Path] = field(default_factory=list)

    @property
    def failed(self) -> list[dict[str, Any]]:
        """The rows whose run failed."""
        return [r for r in self.rows if r["status"] != "ok"]


def build_tasks(
    days: Sequence[Path],
    cfg: Mapping[str, Any],
    grid: Grid,
    out: Path,
    *,
    source: str | None = None,
    grid_source: str = "grid",
    strategy: str | None = None,
    keep_duplicates: bool = False,
    session: str | None = None,
    plot: bool = True,
) -> list[SweepTask]:
    """One task per (day, parameter set), each parameter set checked first by building
    it as ``backtest`` would (a bad value is a :class:`UsageError` before any run); more
    than :data:`MAX_RUNS` runs is a :class:`UsageError` before any set is built, and so is
    ``session`` or ``keep_duplicates`` with a day that is not a capture (each run refused
    it, after the days before it had run: an error row per parameter set, exit 1)."""
    from tickwire.engine.cli_backtest import prepare_backtest
    from tickwire.engine.sources import check_capture_options, is_capture

    if session is not None or keep_duplicates:
        for day in days:
            check_capture_options(
                day, capture=is_capture(day), session=session, keep_duplicates=keep_duplicates
            )

    runs = grid.size * len(days)
    if runs > MAX_RUNS:
        raise UsageError(
            f"{grid_source}: {grid.size:,} parameter sets x {len(days):,} days = {runs:,} "
            f"runs, more than a sweep takes ({MAX_RUNS:,}): split it, by days or by a key"
        )

    combos = []
    for pid, params in grid.combinations():
        text = ", ".join(f"{k}={v!r}" for k, v in params.items())
        try:
            merged = apply_params(cfg, params)
            prepare_backtest(merged, source=source, strategy=strategy)
        except UsageError as exc:
            raise UsageError(f"{grid_source}: {pid} ({text}): {one_line(exc)}") from None
        combos.append((pid, params, merged))
    out = out.resolve()
    return [
        SweepTask(
            day=str(day),
            day_name=day.name,
            params_id=pid,
            params=params,
            config=merged,
            out=str(out / "runs" / day.name / pid),
            source=source,
            strategy=strategy,
            keep_duplicates=keep_duplicates,
            session=session,
            plot=plot,
        )
        for day in days
        for pid, params, merged in combos
    ]


def foreign_runs(out: Path, tasks: Iterable[SweepTask]) -> int:
    """How many run folders ``out/runs/<day>/<params-id>/`` are not one of ``tasks``'
    (left by an earlier, different sweep into the same ``--out``).

    Rule: they are counted, never removed: users build ``--out`` up one sweep at a time.
    Why: the new summary covers only this sweep, and the earlier runs beside it passed
    silently for part of it; the CLI says how many there are in one stderr line (see
    docs/backtest.md, "Sweeps"). Test:
    ``test_engine_sweep.py::test_runs_of_an_earlier_sweep_are_kept_and_counted``."""
    ours = {Path(t.out) for t in tasks}
    runs = out.resolve() / "runs"
    if not runs.is_dir():
        return 0
    return sum(
        1
        for day in runs.iterdir()
        if day.is_dir()
        for run in day.iterdir()
        if run.is_dir() and run not in ours
    )


#: Seconds ``--scheduler``'s address has to connect and answer Dask's handshake
#: (:func:`check_scheduler`).
SCHEDULER_TIMEOUT = 10.0


def check_scheduler(address: str) -> None:
    """Refuse, as one :class:`UsageError` line (exit 2), a ``--scheduler`` address that
    does not connect and answer Dask's handshake within :data:`SCHEDULER_TIMEOUT`
    seconds: the whole connection is bounded, not only the TCP connect.

    Rule: the address is tried once with Dask's own ``distributed.comm.connect`` (the
    connect and the handshake's first answer) under one deadline, and whatever that
    raises, or the deadline, is the address's fault, said in one line. Why:
    ``Client(address, timeout=10)`` bounds the TCP connect only, then reads the
    handshake unbounded, trusting its length prefix: a peer that accepted and said
    nothing (a stuck process, a port forwarded to nothing) hung the sweep for ever, one
    that sent a large length waited for ever with that much memory taken, and another
    service on the port (an HTTP server's answer read as a length) ended in a
    ``MemoryError`` traceback; ``tls://`` without a TLS config and ``ucx://`` without
    UCX were ``TypeError`` tracebacks. Test:
    ``test_engine_sweep.py::test_a_scheduler_address_that_does_not_answer_dask_is_one_line``.
    """
    import asyncio

    from distributed.comm.core import connect

    async def probe() -> None:
        connecting = connect(address, timeout=SCHEDULER_TIMEOUT)  # type: ignore[no-untyped-call]
        comm = await asyncio.wait_for(connecting, SCHEDULER_TIMEOUT)
        await comm.close()

    try:
        asyncio.run(probe())
    except TimeoutError:
        raise UsageError(
            f"--scheduler {address}: no Dask scheduler answered within {SCHEDULER_TIMEOUT:g} s"
        ) from None
    except Exception as exc:  # any failure here is the address's
        raise UsageError(
            f"--scheduler {address}: cannot connect: {type(exc).__name__}: {one_line(exc)}"
        ) from None


def run_sweep(
    tasks: Sequence[SweepTask],
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    on_done: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Run ``tasks`` on Dask distributed; returns the rows (in task order) and the number
    of workers.

    ``scheduler`` is a scheduler address (``tcp://HOST:8786``); without it a
    ``LocalCluster`` of ``workers`` processes (default: one per CPU), one thread each, is
    started and closed. ``on_done(row)`` is called as each run finishes.

    A run whose ``backtest.first_user_ref_num`` leaves too few UserRefNums
    (:class:`~tickwire.engine.cli_backtest.UserRefNumsTooFew`) ends the sweep: the runs
    not finished are cancelled and a :class:`UsageError` (exit 2) says which run, then
    ``backtest``'s line. It cannot be found before the runs: how many orders a run sends
    is known only by running it.
    """
    from tickwire.engine.cli_backtest import UserRefNumsTooFew

    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError as exc:
        raise UsageError(f"sweep needs Dask distributed ({exc}): {DASK_HINT}") from None
    import logging
    import os

    cluster: Any = None
    try:
        if scheduler is not None:
            check_scheduler(scheduler)
            try:
                client = Client(scheduler, timeout=SCHEDULER_TIMEOUT)  # type: ignore[no-untyped-call]
            except (OSError, TimeoutError, ValueError) as exc:
                raise UsageError(
                    f"--scheduler {scheduler}: cannot connect: {one_line(exc)}"
                ) from None
        else:
            cluster = LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=workers or os.cpu_count() or 1,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                # No dashboard, and its HTTP server (/health, /metrics) on any free port
                # of loopback: on its default, 8787, a second sweep running (or any Dask
                # cluster) made each sweep print Dask's four-line "Port 8787 is already
                # in use" warning on stderr. Test:
                # test_engine_sweep.py::test_a_busy_port_8787_says_nothing
                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                # Dask's own log lines below CRITICAL are not shown (this cluster only,
                # for its life: a --scheduler's are its operator's): a killed worker's
                # run printed "distributed.scheduler - ERROR - Task ... marked as failed
                # because 1 workers died" before the sweep's own line, which says it
                # (an error row). Test:
                # test_engine_sweep.py::test_a_killed_worker_is_told_only_by_the_sweeps_lines
                silence_logs=logging.CRITICAL,
            )
            client = Client(cluster)  # type: ignore[no-untyped-call]
        with client:
            n_workers = len(client.scheduler_info()["workers"])
            by_key: dict[Any, int] = {}
            futures = []
            for i, task in enumerate(tasks):
                fut = client.submit(
                    _run_on_worker,
                    task,
                    key=f"sweep-{i}-{task.day_name}-{task.params_id}",
                    pure=False,
                )
                by_key[fut.key] = i
                futures.append(fut)
            rows: list[dict[str, Any] | None] = [None] * len(tasks)
            for fut in as_completed(futures):  # type: ignore[no-untyped-call]
                i = by_key[fut.key]
                try:
                    result = fut.result()
                    if isinstance(result, UserRefNumsTooFew):  # backtest's usage error
                        client.cancel(futures)  # type: ignore[no-untyped-call]
                        t = tasks[i]
                        raise UsageError(f"{t.day_name} {t.params_id}: {one_line(result)}")
                    row = result
                except UsageError:
                    raise
                except Exception as exc:  # the worker died (KilledWorker), ...
                    row = _row(tasks[i])
                    row.update(status="error", error=f"{type(exc).__name__}: {one_line(exc)}")
                rows[i] = row
                if on_done is not None:
                    on_done(row)
    finally:
        if cluster is not None:
            cluster.close()
    return [r for r in rows if r is not None], n_workers


def write_results(
    rows: Sequence[Mapping[str, Any]],
    days: Sequence[str],
    grid: Grid,
    out: Path,
    *,
    plot: bool = True,
) -> list[Path]:
    """``summary.parquet``, ``summary.csv``, ``sweep.json`` and (``plot``) the two PNGs
    in ``out``; returns the paths written. Whole or not at all, ``sweep.json`` last, and
    an earlier sweep's PNGs that this one does not draw removed
    (:func:`tickwire.cli.staged_folder`: the folder's ``runs/`` are left alone)."""
    try:
        import pyarrow as pa  # type: ignore[import-untyped]
        import pyarrow.parquet as pq  # type: ignore[import-untyped]
    except ImportError as exc:
        raise UsageError(f"sweep writes Parquet with pyarrow ({exc}): {DASK_HINT}") from None

    columns = ["day", "params_id", *grid.keys, "status", "error", *METRICS]
    names = ["summary.csv", "summary.parquet", "sweep.json"]
    with staged_folder(out, SUMMARY_FILES, last="sweep.json") as stage:
        with (stage / "summary.csv").open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=columns)
            w.writeheader()
            w.writerows(rows)
        table = pa.Table.from_pylist([dict(r) for r in rows]).select(columns)
        pq.write_table(table, stage / "summary.parquet")
        (stage / "sweep.json").write_text(
            json.dumps(
                {
                    "days": list(days),
                    "grid": dict(zip(grid.keys, map(list, grid.values), strict=True)),
                    "params": dict(grid.combinations()),
                    "runs": len(rows),
                    "failed": sum(r["status"] != "ok" for r in rows),
                },
                indent=2,
            )
            + "\n"
        )
        if plot and plots_skipped(grid) is None:
            names += [p.name for p in write_plots(rows, days, grid, stage)]
    return [out / name for name in names]


#: The most parameter sets the sweep's PNGs draw (:func:`plots_skipped`).
PLOT_MAX_SETS = 1_000


def plots_skipped(grid: Grid) -> str | None:
    """Why ``pnl_heatmap.png`` and ``equity.png`` are not drawn for ``grid`` (None: they
    are): more than :data:`PLOT_MAX_SETS` parameter sets.

    Rule: a grid of more sets gets the summary files and no PNGs, said on stderr by the
    command. Why: the plots draw a bar or cell, a label and an equity line per set, in
    the same staged folder as the summary: 10,000 sets took 43 s and 470 MB after the
    runs, and the 100,000 a sweep takes would take minutes and GBs, where a memory
    error lost the summary of hours of runs, for pictures no one can read. Test:
    ``test_engine_sweep.py::test_a_grid_too_large_to_plot_writes_the_summary_and_says_so``."""
    if grid.size > PLOT_MAX_SETS:
        return (
            f"pnl_heatmap.png and equity.png not drawn: {grid.size:,} parameter sets, "
            f"more than they show ({PLOT_MAX_SETS:,}); the summary has every run"
        )
    return None


def total_pnl(rows: Iterable[Mapping[str, Any]], grid: Grid) -> dict[str, int | None]:
    """Each parameter set's PnL summed over the days (Price(4) x shares); None for a set
    with a failed day (its total is unknown)."""
    totals: dict[str, int | None] = {pid: 0 for pid, _ in grid.combinations()}
    for r in rows:
        t = totals.get(r["params_id"])
        totals[r["params_id"]] = None if t is None or r["status"] != "ok" else t + int(r["pnl_e4"])
    return totals


def write_plots(
    rows: Sequence[Mapping[str, Any]], days: Sequence[str], grid: Grid, out: Path
) -> list[Path]:
    """``pnl_heatmap.png``: PnL summed over the days per parameter set (one key: bars;
    two: a heatmap; more: a heatmap over the two keys whose values move the mean PnL
    most, each cell the best set over the other keys; a set with a failed day is left
    blank). ``equity.png``: each set's cumulative PnL day by day (a failed day: a red x)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise UsageError(f"sweep plots need matplotlib ({exc}): {DASK_HINT}") from None

    # Every text drawn literally (``text.parse_math`` off while the figures are made and
    # saved). Why: matplotlib reads text between two ``$`` as mathtext, and the labels
    # come from the user and the data (a day's file name, a grid key or value): a day
    # named ``a$\bad{$.itch`` made drawing raise, and with the plots went
    # ``summary.csv``, ``summary.parquet`` and ``sweep.json``, written in the same staged
    # folder (exit 1, only ``runs/`` left). Test:
    # ``test_engine_sweep.py::test_dollar_signs_in_day_names_are_drawn_not_parsed``.
    with plt.rc_context({"text.parse_math": False}):
        return _draw(plt, rows, days, grid, out)


def _draw(
    plt: Any, rows: Sequence[Mapping[str, Any]], days: Sequence[str], grid: Grid, out: Path
) -> list[Path]:
    combos = grid.combinations()
    totals = total_pnl(rows, grid)
    usd = {pid: (None if v is None else v / 1e4) for pid, v in totals.items()}
    paths = []

    fig, ax = plt.subplots(figsize=(8, 6), dpi=100)
    if len(grid.keys) == 1:
        (key,) = grid.keys
        labels = [str(params[key]) for _, params in combos]
        heights = [v if (v := usd[pid]) is not None else 0.0 for pid, _ in combos]
        colours = [
            "lightgrey"
            if usd[pid] is None
            else ("tab:green" if (usd[pid] or 0) >= 0 else "tab:red")
            for pid, _ in combos
        ]
        ax.bar(labels, heights, color=colours)
        for x, (pid, _) in enumerate(combos):
            ax.annotate(
                "failed" if usd[pid] is None else f"${usd[pid]:,.0f}",
                (x, heights[x]),
                ha="center",
                va="bottom",
                fontsize=8,
            )
        ax.set_xlabel(key)
        ax.set_ylabel(f"PnL over {len(days)} days ($)")
        ax.axhline(0, color="grey", linewidth=0.5)
        ax.set_title("sweep: PnL per parameter value")
    else:
        kx, ky = _best_axes(grid, combos, usd)
        xs = list(grid.values[grid.keys.index(kx)])
        ys = list(grid.values[grid.keys.index(ky)])
        cells: list[list[float]] = [[math.nan] * len(xs) for _ in ys]
        for pid, params in combos:
            v = usd[pid]
            if v is None:
                continue
            i, j = ys.index(params[ky]), xs.index(params[kx])
            cells[i][j] = v if math.isnan(cells[i][j]) else max(cells[i][j], v)
        im = ax.imshow(cells, origin="lower", cmap="RdYlGn", aspect="auto")
        fig.colorbar(im, ax=ax, label=f"PnL over {len(days)} days ($)")
        ax.set_xticks(range(len(xs)), [str(x) for x in xs])
        ax.set_yticks(range(len(ys)), [str(y) for y in ys])
        ax.set_xlabel(kx)
        ax.set_ylabel(ky)
        for i, line in enumerate(cells):
            for j, v in enumerate(line):
                text = "failed" if math.isnan(v) else f"${v:,.0f}"
                ax.text(j, i, text, ha="center", va="center", fontsize=8)
        rest = [k for k in grid.keys if k not in (kx, ky)]
        title = "sweep: PnL over the grid"
        if rest:
            title += f"\n(each cell: the best over {', '.join(rest)})"
        ax.set_title(title)
    fig.tight_layout()
    p = out / "pnl_heatmap.png"
    fig.savefig(p)
    plt.close(fig)
    paths.append(p)

    fig, ax = plt.subplots(figsize=(10, 6), dpi=100)
    by_pair = {(r["day"], r["params_id"]): r for r in rows}
    xs_days = list(range(len(days)))
    for pid, params in combos:
        cum = 0.0
        ys_: list[float] = []
        fails: list[tuple[int, float]] = []
        for i, day in enumerate(days):
            r = by_pair.get((day, pid))
            if r is None or r["status"] != "ok":
                fails.append((i, cum))
            else:
                cum += int(r["pnl_e4"]) / 1e4
            ys_.append(cum)
        label = f"{pid} " + ", ".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in params.items())
        ax.plot(xs_days, ys_, marker="o", markersize=3, label=label)
        if fails:
            ax.plot(*zip(*fails, strict=True), "x", color="red", markersize=8)
    ax.set_xticks(xs_days, list(days), rotation=30, ha="right")
    ax.set_ylabel("cumulative PnL ($)")
    ax.set_xlabel("day")
    ax.axhline(0, color="grey", linewidth=0.5)
    ax.grid(alpha=0.3)
    ax.set_title("sweep: equity per parameter set over the days (red x: a failed run)")
    if len(combos) <= 16:
        ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    p = out / "equity.png"
    fig.savefig(p)
    plt.close(fig)
    paths.append(p)
    return paths


def _best_axes(
    grid: Grid, combos: Sequence[tuple[str, dict[str, Any]]], usd: Mapping[str, float | None]
) -> tuple[str, str]:
    """The two keys (in grid order) whose values move the mean PnL most: for each key,
    the range of the mean PnL of the sets sharing each of its values."""
    if len(grid.keys) == 2:
        return grid.keys[0], grid.keys[1]
    spread: dict[str, float] = {}
    for key in grid.keys:
        means = []
        for value in grid.values[grid.keys.index(key)]:
            vals = [usd[pid] for pid, p in combos if p[key] == value and usd[pid] is not None]
            if vals:
                means.append(sum(v for v in vals if v is not None) / len(vals))
        spread[key] = max(means) - min(means) if means else 0.0
    best = sorted(grid.keys, key=lambda k: -spread[k])[:2]
    best.sort(key=grid.keys.index)
    return best[0], best[1]
