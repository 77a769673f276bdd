"""The Cython backend against the reference engine and itch-book, in one run.

Book rebuild, messages per second, on the generated day of ``bench_engine.py``
(``--messages``, default 5 million, 2,000 symbols; the same BinaryFILE in bench/out/),
each from the file on disk, each ending with its live order count:

* ``reference``  ``decode_binaryfile`` + ``BookManager.feed`` (pure Python, the oracle);
* ``cython``     ``CythonBookManager.feed_file``: ITCH decoded straight from the file's
                 bytes into the C book (hash of order references, sorted levels, FIFOs);
* ``itch-book``  the C++23 book of itch-book 0.2 (``Feed.batches(tables=("bbo",))``).

The Cython and reference books are also compared (``summary()`` equal) so the speed is
never that of a wrong answer.

Threshold: frames per second through the reference and the ``cython`` backend on the same
day carried as VLAN-tagged MoldUDP64 frames of 1 to 40 messages, 8 watched instruments;
the order frames and STATS.json of the two are compared too.

    uv run --no-sync python bench/bench_cython.py [--messages 5000000] [--frames 100000]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_engine import bench_itch_book, day_file, machine, threshold_workload
from tickwire.engine import BookManager
from tickwire.engine.cbook import AVAILABLE, UNAVAILABLE_REASON, CythonBookManager
from tickwire.itch.fastpath import decode_binaryfile
from tickwire.threshold import ThresholdConfig, ThresholdEngine
from tickwire.threshold.cbackend import CythonBackend

Result = tuple[float, float, int, dict[str, object]]


def bench_reference(path: Path) -> tuple[Result, BookManager]:
    t, c = time.perf_counter(), time.process_time()
    books = BookManager()
    books.feed(decode_binaryfile(path))
    elapsed, cpu = time.perf_counter() - t, time.process_time() - c
    live = sum(b.order_count for b in books.books.values())
    return (elapsed, cpu, books.stats.messages, {"live_orders": live}), books


def bench_cython(path: Path) -> tuple[Result, CythonBookManager]:
    t, c = time.perf_counter(), time.process_time()
    books = CythonBookManager()
    books.feed_file(path)
    elapsed, cpu = time.perf_counter() - t, time.process_time() - c
    return (elapsed, cpu, books.stats.messages, {"live_orders": len(books.orders)}), books


def bench_threshold(backend: object, config: ThresholdConfig, frames: list[bytes]) -> Result:
    backend.configure(config)  # type: ignore[attr-defined]
    feed = backend.feed  # type: ignore[attr-defined]
    out = []
    t, c = time.perf_counter(), time.process_time()
    for f in frames:
        out.append(feed(f))
    elapsed, cpu = time.perf_counter() - t, time.process_time() - c
    s = backend.stats()  # type: ignore[attr-defined]
    return (
        elapsed,
        cpu,
        len(frames),
        {"orders": s.orders, "stats": s.to_json(), "out": out},
    )


def _line(name: str, r: Result, unit: str) -> str:
    elapsed, cpu, n, extra = r
    shown = {k: v for k, v in extra.items() if k not in ("stats", "out")}
    return (
        f"{name:>10}: {n:,} {unit} in {elapsed:.2f} s wall, {cpu:.2f} s CPU = "
        f"{n / elapsed:,.0f} {unit}/s wall, {n / cpu:,.0f} {unit}/s CPU  {shown}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--messages", type=int, default=5_000_000)
    ap.add_argument("--symbols", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--frames", type=int, default=100_000, help="threshold frames to time")
    ap.add_argument("--repeat", type=int, default=3, help="best of N for the compiled runs")
    args = ap.parse_args()
    if not AVAILABLE:
        sys.exit(f"the Cython extension is not available: {UNAVAILABLE_REASON}")
    if args.messages < 5_000_000:
        print("note: the recorded benchmark uses >= 5,000,000 messages", file=sys.stderr)
    path = day_file(args.messages, args.symbols, args.seed)
    print(f"machine: {machine()}")
    print(f"day: {path.name} ({path.stat().st_size / 1e6:.0f} MB)")
    ref_r, ref_books = bench_reference(path)
    print(_line("reference", ref_r, "msg"))
    cy_runs = [bench_cython(path) for _ in range(args.repeat)]
    cy_r, cy_books = min(cy_runs, key=lambda x: x[0][1])
    print(_line("cython", cy_r, "msg"))
    ib = min((bench_itch_book(path) for _ in range(args.repeat)), key=lambda r: r[1])
    ib_r: Result = (ib[0], ib[1], ib[2], dict(ib[3]))
    print(_line("itch-book", ib_r, "msg"))
    same = cy_books.summary() == ref_books.summary()
    print(f"cython books == reference books: {same}")
    results: dict[str, object] = {"books_equal": same}
    for name, r in (("reference", ref_r), ("cython", cy_r), ("itch-book", ib_r)):
        results[name] = {"wall_s": round(r[0], 3), "cpu_s": round(r[1], 3), "messages": r[2]}
    for peer, r in (("itch-book", ib_r), ("reference", ref_r)):
        wall, cpu = r[0] / cy_r[0], r[1] / cy_r[1]
        print(f"cython / {peer}: {wall:.2f}x wall, {cpu:.2f}x CPU")
        results[f"cython_over_{peer}"] = {"wall": round(wall, 2), "cpu": round(cpu, 2)}
    config, frames = threshold_workload(path, args.frames)
    th_ref = bench_threshold(ThresholdEngine(), config, frames)
    print(_line("reference", th_ref, "frames"))
    th_cy = min(
        (bench_threshold(CythonBackend(), config, frames) for _ in range(args.repeat)),
        key=lambda r: r[1],
    )
    print(_line("cython", th_cy, "frames"))
    agree = th_cy[3]["out"] == th_ref[3]["out"] and th_cy[3]["stats"] == th_ref[3]["stats"]
    print(f"cython order frames and stats == reference: {agree}")
    wall, cpu = th_ref[0] / th_cy[0], th_ref[1] / th_cy[1]
    print(f"threshold cython / reference: {wall:.1f}x wall, {cpu:.1f}x CPU")
    results["threshold"] = {
        "frames": len(frames),
        "orders": th_cy[3]["orders"],
        "equal": agree,
        "reference_frames_per_s_cpu": round(len(frames) / th_ref[1]),
        "cython_frames_per_s_cpu": round(len(frames) / th_cy[1]),
        "cython_frames_per_s_wall": round(len(frames) / th_cy[0]),
    }
    print(json.dumps(results))


if __name__ == "__main__":
    main()
