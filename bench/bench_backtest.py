"""Backtest throughput: ITCH events per second with each example strategy attached.

    uv run --no-sync python bench/bench_backtest.py [--messages 200000] [--symbols 200]

The generated day (``tickwire.itch.generator.generate_day``, seed 1) is built once in
memory, so generation is not timed. Rows, each the best of ``--repeat`` runs by wall
clock and, separately, by CPU time of this process (``time.process_time``; steadier than
wall on a shared machine):

* ``book replay``: the engine's BookManager alone (the floor: one book, no strategy);
* ``backtest, idle strategy``: the whole harness (venue book + strategy book + event
  queue + latency draws) with a strategy that does nothing;
* ``backtest, MarketMaker`` / ``backtest, ThresholdTaker``: the two shipped examples
  with the CLI's default risk limits.

Ratios are against the book replay measured in the same run. There is no peer
backtester in the bench group, so the book replay is the reference point.
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable

from tickwire.engine.backtest import run_backtest
from tickwire.engine.book import BookManager
from tickwire.engine.cli_backtest import DEFAULT_RISK
from tickwire.engine.risk import parse_risk_limits
from tickwire.engine.strategy import MarketMaker, Strategy, ThresholdTaker
from tickwire.itch import Message
from tickwire.itch.generator import generate_day


def best_of(repeat: int, fn: Callable[[], object]) -> tuple[float, float]:
    """(best wall seconds, best CPU seconds) of ``repeat`` runs of ``fn``."""
    wall = cpu = float("inf")
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall = min(wall, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=200_000)
    ap.add_argument("--symbols", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    day: list[Message] = list(generate_day(args.messages, args.symbols, 1))
    limits = parse_risk_limits(DEFAULT_RISK)
    n = len(day)

    def replay() -> None:
        BookManager().feed(day)

    def backtest(factory: Callable[[], Strategy]) -> Callable[[], object]:
        return lambda: run_backtest(factory(), day, limits=limits, total=n, measure=False)

    rows = [
        ("book replay (BookManager only)", replay),
        ("backtest, idle strategy", backtest(Strategy)),
        ("backtest, MarketMaker", backtest(MarketMaker)),
        ("backtest, ThresholdTaker", backtest(ThresholdTaker)),
    ]
    print(
        f"python {platform.python_version()} on {platform.machine()}; {n:,} messages, {args.symbols} symbols, best of {args.repeat}"
    )
    base = None
    for name, fn in rows:
        secs, cpu = best_of(args.repeat, fn)
        rate = n / secs
        base = base or rate
        print(
            f"{name:<34} {secs:7.2f} s  {rate:>10,.0f} events/s  x{rate / base:.2f} of book replay"
            f"  (CPU {cpu:.3f} s)"
        )


if __name__ == "__main__":
    main()
