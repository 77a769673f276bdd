"""tickwire-engine speed: full-depth book rebuild against meatpy and itch-book, and the
threshold strategy's frames per second, side by side in one run.

Book rebuild, messages per second, on a generated day (``--messages``, default 5 million;
written once to bench/out/ as a BinaryFILE), each from the file on disk:

* ``tickwire``   ``tickwire.itch.fastpath.decode_binaryfile`` + ``BookManager.apply``:
                 full depth (L3) for every instrument, FIFO per level, O(1) lookup;
* ``meatpy``     meatpy 0.5's ``ITCH50MessageReader`` + one ``ITCH50MarketProcessor`` per
                 instrument (its documented use), each message routed to the processor of
                 its stock locate (system events to all);
* ``itch-book``  the C++23 book of itch-book 0.2 (``Feed.batches(tables=("bbo",))``),
                 full depth as well, for scale: it is compiled code.

Both wall-clock and CPU time (``time.process_time``, all threads of the process) are
reported: on a shared 2-core machine the CPU figure is the steadier one.

Threshold: frames per second through the reference backend on the same day carried as
MoldUDP64 (1 to 40 messages per frame, VLAN tagged) with 8 watched instruments.

    uv run --no-sync python bench/bench_engine.py [--messages 5000000] [--symbols 2000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from tickwire.engine import BookManager
from tickwire.itch import AddOrder, BinaryFileWriter, encode
from tickwire.itch.fastpath import decode_binaryfile
from tickwire.itch.generator import generate_day
from tickwire.threshold import InstrumentConfig, ThresholdConfig, ThresholdEngine
from tickwire.threshold.testing import feed_frame

OUT = Path(__file__).resolve().parent / "out"


def day_file(messages: int, symbols: int, seed: int) -> Path:
    path = OUT / f"engine_day_{messages}_{symbols}_{seed}.itch"
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        t = time.perf_counter()
        with BinaryFileWriter(tmp) as w:
            for msg in generate_day(messages, symbols, seed):
                w.write(msg)
        tmp.rename(path)
        print(f"generated {path.name} in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    return path


def bench_tickwire(path: Path) -> tuple[float, float, int, dict[str, int]]:
    t, c = time.perf_counter(), time.process_time()
    books = BookManager()
    books.feed(decode_binaryfile(path))
    elapsed, cpu = time.perf_counter() - t, time.process_time() - c
    live = sum(b.order_count for b in books.books.values())
    return (
        elapsed,
        cpu,
        books.stats.messages,
        {"live_orders": live, "unknown": books.unknown_references},
    )


def bench_meatpy(path: Path) -> tuple[float, float, int, dict[str, int]]:
    from meatpy.itch50 import (
        ITCH50MarketProcessor,
        ITCH50MessageReader,
        StockDirectoryMessage,
        SystemEventMessage,
    )

    day = dt.datetime(2020, 1, 2)
    t, c = time.perf_counter(), time.process_time()
    processors: dict[int, ITCH50MarketProcessor] = {}
    n = errors = 0
    with ITCH50MessageReader(path) as reader:
        for msg in reader:
            n += 1
            if isinstance(msg, StockDirectoryMessage):
                processors[msg.stock_locate] = ITCH50MarketProcessor(msg.stock, day)
            elif isinstance(msg, SystemEventMessage):
                for p in processors.values():
                    p.process_message(msg)
                continue
            proc = processors.get(msg.stock_locate)
            if proc is not None:
                # meatpy insists that an execution hits the front of the best level; the
                # generated day executes resting orders anywhere in the book, on which
                # meatpy 0.5 raises (an IndexError in its own clean-up). Count and go on.
                try:
                    proc.process_message(msg)
                except Exception:
                    errors += 1
    elapsed, cpu = time.perf_counter() - t, time.process_time() - c
    live = 0
    for p in processors.values():
        lob = p.current_lob
        if lob is not None:
            live += sum(len(level.queue) for level in lob.bid_levels + lob.ask_levels)
    return elapsed, cpu, n, {"live_orders": live, "errors": errors}


def bench_itch_book(path: Path) -> tuple[float, float, int, dict[str, int]]:
    import itch_book

    t, c = time.perf_counter(), time.process_time()
    feed = itch_book.Feed(str(path), date=dt.date(2020, 1, 2), price_type="fixed")
    for _ in feed.batches(tables=("bbo",), rows=1 << 30):
        pass
    elapsed, cpu = time.perf_counter() - t, time.process_time() - c
    assert feed.stats is not None
    return (
        elapsed,
        cpu,
        int(feed.stats["messages"]),
        {"live_orders": int(feed.stats["live_orders"])},
    )


def threshold_workload(path: Path, frames_max: int) -> tuple[ThresholdConfig, list[bytes]]:
    """The threshold benchmarks' input: up to ``frames_max`` VLAN-tagged feed frames of 1 to
    40 messages from the day at ``path``, and a config watching 8 instruments at the first
    sell price seen for each (so a realistic share of frames trigger)."""
    raw: list[bytes] = []
    sells: dict[int, int] = {}
    for msg in decode_binaryfile(path):
        raw.append(encode(msg))
        if isinstance(msg, AddOrder) and msg.buy_sell_indicator == "S":
            sells.setdefault(msg.stock_locate, msg.price)
        if len(raw) >= frames_max * 20:
            break
    instruments = tuple(
        InstrumentConfig(loc, f"S{loc}", px, 100, 10, 100, 1000, 10**6, 10**13)
        for loc, px in sorted(sells.items())[:8]
    )
    config = ThresholdConfig(True, 10**6, 1, 26477, 26400, "TWORDERS01", instruments)
    frames: list[bytes] = []
    i, size = 0, 1
    while i < len(raw) and len(frames) < frames_max:
        frames.append(feed_frame(raw[i : i + size], vlan_tci=141))
        i += size
        size = size % 40 + 1
    return config, frames


def bench_threshold(path: Path, frames_max: int) -> tuple[float, float, int, dict[str, int]]:
    config, frames = threshold_workload(path, frames_max)
    engine = ThresholdEngine(config)
    feed = engine.feed
    t, c = time.perf_counter(), time.process_time()
    for f in frames:
        feed(f)
    elapsed, cpu = time.perf_counter() - t, time.process_time() - c
    s = engine.stats()
    return elapsed, cpu, len(frames), {"messages_scanned": s.messages_scanned, "orders": s.orders}


def machine() -> str:
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        model = next(
            (line.split(":", 1)[1].strip() for line in lscpu.splitlines() if "Model name" in line),
            "?",
        )
    except (OSError, subprocess.CalledProcessError):
        model = platform.processor() or "?"
    return f"{model}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--messages", type=int, default=5_000_000)
    ap.add_argument("--symbols", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--frames", type=int, default=100_000, help="threshold frames to time")
    ap.add_argument("--skip-meatpy", action="store_true", help="meatpy is slow; for quick runs")
    args = ap.parse_args()
    if args.messages < 5_000_000:
        print("note: the recorded benchmark uses >= 5,000,000 messages", file=sys.stderr)
    path = day_file(args.messages, args.symbols, args.seed)
    print(f"machine: {machine()}")
    print(f"day: {path.name} ({path.stat().st_size / 1e6:.0f} MB)")
    results: dict[str, dict[str, object]] = {}
    runs = [("tickwire", bench_tickwire), ("itch-book", bench_itch_book)]
    if not args.skip_meatpy:
        runs.append(("meatpy", bench_meatpy))
    for name, fn in runs:
        elapsed, cpu, n, extra = fn(path)
        results[name] = {
            "wall_s": round(elapsed, 2),
            "cpu_s": round(cpu, 2),
            "messages": n,
            "msg_per_s_wall": round(n / elapsed),
            "msg_per_s_cpu": round(n / cpu),
            **extra,
        }
        print(
            f"{name:>10}: {n:,} messages in {elapsed:.2f} s wall, {cpu:.2f} s CPU = "
            f"{n / elapsed:,.0f} msg/s wall, {n / cpu:,.0f} msg/s CPU  {extra}"
        )
    for peer in ("meatpy", "itch-book"):
        if peer in results:
            ratios = [
                float(results["tickwire"][k]) / float(results[peer][k])  # type: ignore[arg-type]
                for k in ("msg_per_s_wall", "msg_per_s_cpu")
            ]
            print(f"tickwire / {peer}: {ratios[0]:.2f}x wall, {ratios[1]:.2f}x CPU")
    elapsed, cpu, n, extra = bench_threshold(path, args.frames)
    print(
        f" threshold: {n:,} frames in {elapsed:.2f} s wall, {cpu:.2f} s CPU = "
        f"{n / elapsed:,.0f} frames/s wall, {n / cpu:,.0f} frames/s CPU  {extra}"
    )
    results["threshold"] = {
        "wall_s": round(elapsed, 2),
        "cpu_s": round(cpu, 2),
        "frames": n,
        "frames_per_s_wall": round(n / elapsed),
        "frames_per_s_cpu": round(n / cpu),
        **extra,
    }
    print(json.dumps(results))


if __name__ == "__main__":
    main()
