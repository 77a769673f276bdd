"""An ITCH day to Parquet: ``python -m tickwire.itch convert`` against itch-book's
``itch2parquet convert``, side by side in one run.

Both convert the same generated day (2 million messages by default, written once to
bench/out/ by bench_itch.py's generator, correct length prefixes) from disk to Parquet
files in a fresh directory, in process, timed end to end (reading, building the
columns, compressing, writing) in wall clock and in CPU time of the process (all its
threads: itch-book writes Parquet from a thread of its own), both with zstd, the
compression itch-book's writer is fixed to:

* ``tickwire``         :func:`tickwire.itch.convert.convert` without series: one file
                       per message type (every field of every message: 2M rows);
* ``tickwire+series``  the same plus the installed ``tickwire.itch.series`` plugins
                       (tickwire-engine: BBO and trades from its compiled book), the
                       closest match of itch-book's default output;
* ``itch-book``        ``itch_book.cli.main(["convert", DAY, OUT, "--no-md5", ...])``:
                       its default tables, ``bbo`` and ``trades`` (plus its small
                       ``symbols`` and ``system_events``), from its C++ book.

The outputs differ (that is the point of printing what each wrote); the target is the
rate at which a day becomes Parquet: tickwire / itch-book >= 1.0. Each figure is the best
of ``--repeat`` interleaved rounds; as the machine is shared, the CPU-time ratio is the
one to trust, the wall-clock one says what a user waits. Before timing, the run checks that
:func:`tickwire.itch.columnar.to_arrow` on the real NASDAQ sample equals
``python -m tickwire.itch dump --json`` field for field (the test suite does too).

    uv run --no-sync python bench/bench_parquet.py [--messages 2000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import platform
import shutil
import sys
import time
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from tickwire.itch import columnar, fastpath
from tickwire.itch import convert as tw_convert
from tickwire.itch.cli import main as itch_main

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
REAL = HERE.parent / "data" / "itch" / "ex20101224.TEST_ITCH_50"
#: itch-book's ParquetWriter compression (fixed in its cli.py): tickwire uses the same.
COMPRESSION = "zstd"


def check_real_sample() -> int:
    """to_arrow on the real sample equals dump --json, field for field; returns rows."""
    out = io.StringIO()
    if itch_main(["dump", str(REAL), "--json"], out=out) != 0:
        raise SystemExit("dump --json failed")
    dumped: dict[str, list[dict[str, Any]]] = {}
    for line in out.getvalue().splitlines():
        obj = json.loads(line)
        letter = obj.pop("type")
        obj.pop("name")
        dumped.setdefault(letter, []).append(obj)
    tables = columnar.to_arrow(REAL)
    got = {t: table.to_pylist() for t, table in tables.items()}
    if got != {t: dumped[t] for t in sorted(dumped, key=ord)}:
        raise SystemExit("to_arrow on the real sample differs from dump --json")
    return sum(t.num_rows for t in tables.values())


def _files(path: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in sorted(path.iterdir())}


def run_tickwire(day: Path, out: Path, series: bool) -> None:
    tw_convert.convert(day, out, series=series, compression=COMPRESSION)


def run_itch_book(day: Path, out: Path) -> None:
    from itch_book.cli import main as ib_main

    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        status = ib_main(["convert", str(day), str(out), "--no-md5", "--date", "2026-01-02"])
    if status != 0:
        raise SystemExit(f"itch2parquet convert exited {status}")


def measure(
    day: Path, repeat: int
) -> tuple[dict[str, float], dict[str, float], dict[str, dict[str, int]]]:
    runs: dict[str, Callable[[Path], None]] = {
        "tickwire": lambda o: run_tickwire(day, o, series=False),
        "itch-book": lambda o: run_itch_book(day, o),
    }
    if entry_points(group=tw_convert.SERIES_GROUP):
        runs["tickwire+series"] = lambda o: run_tickwire(day, o, series=True)
    best = {name: float("inf") for name in runs}
    cpu = {name: float("inf") for name in runs}
    wrote: dict[str, dict[str, int]] = {}
    for _ in range(repeat):
        for name, fn in runs.items():
            out = OUT / f"parquet-{name}"
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            t0, c0 = time.perf_counter(), time.process_time()
            fn(out)
            best[name] = min(best[name], time.perf_counter() - t0)
            cpu[name] = min(cpu[name], time.process_time() - c0)
            wrote[name] = _files(out)
    return best, cpu, wrote


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=2_000_000)
    ap.add_argument("--symbols", type=int, default=3_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    sys.path.insert(0, str(HERE))
    from bench_itch import write_day

    OUT.mkdir(exist_ok=True)
    day = OUT / f"day-{args.messages}-{args.symbols}-{args.seed}.itch"
    if not day.exists():
        write_day(day, args.messages, args.symbols, args.seed)
    rows = check_real_sample()
    print(f"real sample: to_arrow == dump --json, field for field ({rows:,} rows)")
    print(
        f"python {platform.python_version()}, column builder: "
        f"{'cython' if fastpath.AVAILABLE else 'pure (' + str(fastpath.UNAVAILABLE_REASON) + ')'}"
    )
    best, cpu, wrote = measure(day, args.repeat)
    print(f"\n{args.messages:,} messages, {day.stat().st_size:,} bytes, best of {args.repeat}:\n")
    print("| converter | wall s | CPU s | messages/s (CPU) | files written (MB) |")
    print("|---|---|---|---|---|")
    for name, secs in best.items():
        files = ", ".join(f"{n} ({b / 1e6:.1f})" for n, b in wrote[name].items())
        rate = args.messages / cpu[name]
        print(f"| {name} | {secs:.2f} | {cpu[name]:.2f} | {rate:,.0f} | {files} |")
    for name in best:
        if name != "itch-book":
            print(
                f"\n{name} / itch-book speed: {cpu['itch-book'] / cpu[name]:.2f}x in CPU time, "
                f"{best['itch-book'] / best[name]:.2f}x wall clock (target >= 1.0x)"
            )
    (OUT / "bench_parquet.json").write_text(
        json.dumps({"seconds": best, "cpu_seconds": cpu, "files": wrote}, indent=2)
    )


if __name__ == "__main__":
    main()
