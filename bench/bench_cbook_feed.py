"""The compiled module's BinaryFILE loop in CPU time: the book's ``feed_binaryfile`` and
the replay core's ``feed`` (a compiled backtest with ``Idle``, bench_hftbacktest's
workload c), over one generated day; and the book fed by tickwire.itch's framing loop
instead, as a C sink of its ``ColumnBuilder`` (``itch_sink``): the builder alone and with
the book attached, whose difference is what the sink path costs beyond itch's framing.

    .venv/bin/python bench/bench_cbook_feed.py [--messages 1000000] [--symbols 200]
        [--seed 1] [--repeat 3] [--ext PATH]

``--ext PATH`` runs another build of ``tickwire.engine._cbook`` (a saved ``.so``) with
this tree's Python, for an A/B of a change to ``_cbook.pyx`` alone: run the two in
alternation in one sitting. Figures are CPU seconds (``time.process_time``, best of
``--repeat``): on the shared 2-core machine the wall clock swings far more than the
change measured. Prints ``FIG feed_binaryfile ...``, ``FIG core ...``, ``FIG columns ...``
and ``FIG columns+book ...`` lines (seconds, messages per second, ns per message).
"""

from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import sys
import time
from collections.abc import Callable
from typing import Any


def load_ext(path: str) -> None:
    """Install the extension at ``path`` as ``tickwire.engine._cbook`` before anything
    imports it."""
    name = "tickwire.engine._cbook"
    loader = importlib.machinery.ExtensionFileLoader(name, path)
    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    assert spec is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    loader.exec_module(mod)


def best(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--symbols", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--ext", help="another build of tickwire.engine._cbook (.so) to run")
    args = ap.parse_args()
    if args.ext:
        load_ext(args.ext)
    from tickwire.engine import cbook
    from tickwire.engine.backtest import run_backtest
    from tickwire.engine.cli_backtest import DEFAULT_RISK
    from tickwire.engine.risk import parse_risk_limits
    from tickwire.engine.strategy import Consumes, Strategy
    from tickwire.itch import encode, fastpath
    from tickwire.itch.generator import generate_day

    if cbook.UNAVAILABLE_REASON is not None:
        raise SystemExit(f"compiled book not available: {cbook.UNAVAILABLE_REASON}")
    parts: list[bytes] = []
    for msg in generate_day(args.messages, args.symbols, args.seed):
        body = encode(msg)
        parts += (len(body).to_bytes(2, "big"), body)
    data = b"".join(parts)
    limits = parse_risk_limits(DEFAULT_RISK)

    class Idle(Strategy):
        """No strategy, called for no market event (bench_hftbacktest's ``Idle``)."""

        consumes = Consumes(book="none", trades=False, states=False)

    def feed() -> None:
        cbook.CythonBookManager().feed_binaryfile(data)

    def core() -> None:
        run_backtest(Idle(), data, limits=limits, measure=False, backend="compiled")

    def columns(book: bool) -> Callable[[], None]:
        def run() -> None:
            assert fastpath._ext is not None
            builder = fastpath._ext.ColumnBuilder()
            if book:
                builder.attach(cbook.CythonBookManager())
            builder.feed(data, 0)
            builder.take()

        return run

    n = args.messages
    label = args.ext or "this tree"
    runs = [("feed_binaryfile", feed), ("core", core)]
    if fastpath._ext is not None:
        runs += [("columns", columns(False)), ("columns+book", columns(True))]
    for name, fn in runs:
        cpu = best(fn, args.repeat)
        print(
            f"FIG {name} {cpu:.3f} s CPU {n / cpu:,.0f} msg/s {cpu * 1e9 / n:.1f} ns/msg ({label})",
            flush=True,
        )


if __name__ == "__main__":
    main()
