"""Backtest throughput: ITCH events per second, the reference backtest against the
compiled replay core, with the example strategies and on one symbol.

    uv run --no-sync python bench/bench_backtest.py [--messages 200000] [--symbols 200]

The generated day (``tickwire.itch.generator.generate_day``, seed 1) is written once to a
temporary BinaryFILE, so generation is not timed; both backtests read that file
(``run_backtest(strategy, path, backend=...)``: the reference decodes a Python object per
message, the core streams the bytes). Rows, each the best of ``--repeat`` runs by wall
clock and, separately, by CPU time of this process (``time.process_time``; steadier than
wall on a shared machine):

* ``book replay``: the engine's BookManager alone over the decoded day (the old floor);
* ``idle strategy``: the whole harness with a strategy subscribed to nothing;
* ``MarketMaker`` / ``ThresholdTaker``: the two shipped examples (choosing their own
  symbols) with the CLI's default risk limits;
* ``MarketMaker on the busiest symbol``: configured with that one symbol (every book
  message of it reaches Python: it declares nothing);
* ``JoinBBO on the busiest symbol``: a plain-Python join-the-BBO quoter that declares
  ``Consumes(book="bbo", trades=False, states=False)``: called on BBO changes only;
* the same two on the busiest symbol's messages alone (``--alone``: the file filtered to
  that symbol plus the system events);
* ``Watch ... on the busiest symbol``: a strategy that does nothing when called, declaring
  ``book="every"``, ``book="depth"`` (the top 5 levels of each side) or ``book="bbo"``:
  what each declaration costs by itself (``calls``: its ``on_book`` calls).

Events/s is messages of the file over the run's seconds.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from tickwire.engine.backtest import run_backtest
from tickwire.engine.book import BookManager
from tickwire.engine.cli_backtest import DEFAULT_RISK
from tickwire.engine.risk import parse_risk_limits
from tickwire.engine.strategy import (
    BookUpdate,
    Consumes,
    Context,
    MarketMaker,
    Strategy,
    ThresholdTaker,
)
from tickwire.itch import BinaryFileWriter, Message, StockDirectory, read
from tickwire.itch.generator import generate_day


class Idle(Strategy):
    """Subscribes to nothing."""

    async def on_start(self, ctx: Context) -> None:
        await super().on_start(ctx)
        ctx.subscribe([])


class JoinBBO(Strategy):
    """One Day bid and one Day ask of 100 shares at the best bid and offer of each
    configured symbol, moved (replace) when the BBO moves; BBO changes only."""

    consumes = Consumes(book="bbo", trades=False, states=False)

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self.quotes: dict[tuple[str, str], Any] = {}

    async def on_start(self, ctx: Context) -> None:
        await super().on_start(ctx)
        ctx.subscribe(list(self.config["symbols"]))

    async def on_book(self, update: BookUpdate) -> None:
        ctx = self.ctx
        assert ctx is not None
        bbo = update.bbo
        if bbo.bid_price is None or bbo.ask_price is None or not ctx.is_trading(update.symbol):
            return
        for side, price in (("B", bbo.bid_price), ("S", bbo.ask_price)):
            key = (update.symbol, side)
            cur = self.quotes.get(key)
            if cur is None or not cur.is_open:
                self.quotes[key] = ctx.orders.submit(update.symbol, side, 100, price)
            elif cur.price != price and cur.replaced_by is None and cur.state.value == "live":
                new = ctx.orders.replace(cur, price=price, quantity=100)
                if new is not None:
                    self.quotes[key] = new


class Watch(Strategy):
    """Subscribes to the configured symbols and does nothing when called on a book event
    (``consumes`` set per row)."""

    consumes = Consumes(book="every", trades=False, states=False)

    async def on_start(self, ctx: Context) -> None:
        await super().on_start(ctx)
        ctx.subscribe(list(self.config["symbols"]))

    async def on_book(self, update: BookUpdate) -> None:
        pass


def watch(book: str, depth: int = 0) -> type[Watch]:
    consumes = Consumes(book=book, trades=False, states=False, depth=depth)  # type: ignore[arg-type]
    return type("Watch", (Watch,), {"consumes": consumes})


def best_of(repeat: int, fn: Callable[[], object]) -> tuple[float, float, object]:
    """(best wall seconds, best CPU seconds, the last result) of ``repeat`` runs of ``fn``."""
    wall = cpu = float("inf")
    out = None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall = min(wall, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    return wall, cpu, out


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--messages", type=int, default=200_000)
    ap.add_argument("--symbols", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--no-reference", action="store_true", help="time the compiled core only")
    args = ap.parse_args()
    day: list[Message] = list(generate_day(args.messages, args.symbols, 1))
    limits = parse_risk_limits(DEFAULT_RISK)
    busiest_locate, _ = Counter(
        m.stock_locate for m in day if m.message_type in "AFECXDU"
    ).most_common(1)[0]
    busiest = next(
        m.stock for m in day if isinstance(m, StockDirectory) and m.stock_locate == busiest_locate
    )
    alone = [m for m in day if m.stock_locate in (0, busiest_locate)]
    tmp = tempfile.mkdtemp()
    paths = {}
    for name, msgs in (("day", day), ("alone", alone)):
        paths[name] = os.path.join(tmp, f"{name}.itch")
        with BinaryFileWriter(paths[name]) as w:
            for m in msgs:
                w.write(m)
    sizes = {"day": len(day), "alone": len(alone)}

    def replay() -> None:
        BookManager().feed(read(paths["day"]))

    def run(factory: Callable[[], Strategy], data: str, backend: str) -> Callable[[], object]:
        return lambda: run_backtest(
            factory(), paths[data], limits=limits, measure=False, backend=backend
        )

    one = {"symbols": [busiest]}
    rows: list[tuple[str, str, Callable[[], Strategy]]] = [
        ("idle strategy", "day", Idle),
        ("MarketMaker", "day", MarketMaker),
        ("ThresholdTaker", "day", ThresholdTaker),
        ("MarketMaker on the busiest symbol", "day", lambda: MarketMaker(one)),
        ("JoinBBO on the busiest symbol", "day", lambda: JoinBBO(one)),
        ("MarketMaker, busiest symbol alone", "alone", lambda: MarketMaker(one)),
        ("JoinBBO, busiest symbol alone", "alone", lambda: JoinBBO(one)),
        ("Watch every book message, busiest", "day", lambda: watch("every")(one)),
        ("Watch the top 5 levels, busiest", "day", lambda: watch("depth", 5)(one)),
        ("Watch the BBO, busiest", "day", lambda: watch("bbo")(one)),
    ]
    print(
        f"python {platform.python_version()} on {platform.machine()}; {len(day):,} messages, "
        f"{args.symbols} symbols (busiest {busiest}: {len(alone):,} messages with the system "
        f"events), best of {args.repeat}; events/s by wall, CPU seconds in brackets"
    )
    secs, cpu, _ = best_of(args.repeat, replay)
    print(f"{'book replay (BookManager only)':<36} {len(day) / secs:>10,.0f}/s (CPU {cpu:.3f} s)")
    backends = ["compiled"] if args.no_reference else ["reference", "compiled"]
    print(f"{'':<36} " + "".join(f"{b:>26}" for b in backends) + "   CPU ratio     calls")
    for name, data, factory in rows:
        cells = []
        cpus = []
        calls = 0
        for backend in backends:
            secs, cpu, res = best_of(args.repeat, run(factory, data, backend))
            cells.append(f"{sizes[data] / secs:>12,.0f}/s ({cpu:7.3f} s)")
            cpus.append(cpu)
            calls = getattr(res, "strategy_events", 0)
        ratio = f"   x{cpus[0] / cpus[-1]:<7.1f}" if len(cpus) == 2 else " " * 12
        print(f"{name:<36} " + "".join(f"{c:>26}" for c in cells) + f"{ratio}{calls:>10,}")


if __name__ == "__main__":
    main()
