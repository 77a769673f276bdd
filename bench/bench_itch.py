"""ITCH 5.0 decoding speed: tickwire-itch against its peers, side by side in one run.

Measures messages per second decoded to Python objects from a BinaryFILE in memory by

* ``construct``  tickwire's reference path (construct interprets the wire table),
* ``pure``       tickwire's pure-Python fast path (``fastpath.PURE``: the reader with
                 struct decoders generated from the table),
* ``cython``     tickwire's compiled path (``fastpath.COMPILED``),
* ``itchfeed``   the pure-Python ``itch`` package (its C++ backend switched off),
* ``itchcpp``    the C++ ``itchcpp`` package (pybind11 objects),

on a generated day of at least 2 million messages (written once to bench/out/) and on the
real NASDAQ sample. The peers cannot read zero length prefixes, so they get the same
messages re-framed with correct prefixes; tickwire reads the file as it is. Each
measurement is the best of ``--repeat`` interleaved rounds. Ratios are against the peers measured in
this same run.

    uv run --no-sync python bench/bench_itch.py [--messages 2000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

# itchfeed silently switches to itchcpp when it is installed; measure the real pure-Python
# package. Must be set before ``itch`` is imported.
os.environ["ITCH_NO_CPP"] = "1"

import itch.parser
import itchcpp.parser
from tickwire.itch import fastpath
from tickwire.itch.generator import generate_day
from tickwire.itch.messages import MESSAGE_LENGTHS, decode_construct

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
REAL = HERE.parent / "data" / "itch" / "ex20101224.TEST_ITCH_50"


def write_day(path: Path, messages: int, symbols: int, seed: int) -> None:
    """Generate the day once and write it as a BinaryFILE (correct length prefixes)."""
    t0 = time.perf_counter()
    enc = fastpath.encode
    parts: list[bytes] = []
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as f:
        for msg in generate_day(messages, symbols, seed):
            body = enc(msg)
            parts.append(len(body).to_bytes(2, "big"))
            parts.append(body)
            if len(parts) >= 200_000:
                f.write(b"".join(parts))
                parts.clear()
        f.write(b"".join(parts))
    tmp.replace(path)
    print(
        f"generated {messages:,} messages ({symbols} symbols, seed {seed}) into {path} "
        f"in {time.perf_counter() - t0:.1f} s",
        file=sys.stderr,
    )


def reframe(data: bytes) -> tuple[bytes, list[bytes]]:
    """Correct the length prefixes (the peers need them) and split out the bodies."""
    out = bytearray()
    bodies: list[bytes] = []
    pos = 0
    while pos < len(data):
        length = MESSAGE_LENGTHS[chr(data[pos + 2])]
        body = data[pos + 2 : pos + 2 + length]
        out += length.to_bytes(2, "big") + body
        bodies.append(body)
        pos += 2 + length
    return bytes(out), bodies


def count(it: Iterable[object]) -> int:
    n = 0
    for _ in it:
        n += 1
    return n


def best_rate(run: Callable[[], int], repeat: int) -> tuple[float, int]:
    """(messages per second, messages) of the fastest of ``repeat`` runs."""
    best = 0.0
    n = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        n = run()
        dt = time.perf_counter() - t0
        best = max(best, n / dt)
    return best, n


def measure(
    name: str, data: bytes, repeat: int, construct_limit: int
) -> dict[str, dict[str, float]]:
    framed, bodies = reframe(data)
    sample = bodies[:construct_limit]
    runs: dict[str, Callable[[], int]] = {
        "construct": lambda: count(decode_construct(b) for b in sample),
        "pure": lambda: count(fastpath.PURE.decode_binaryfile(data)),
        "itchfeed": lambda: count(itch.parser.MessageParser().parse_stream(framed)),
        "itchcpp": lambda: count(itchcpp.parser.MessageParser().parse_stream(framed)),
    }
    if fastpath.COMPILED is not None:
        compiled = fastpath.COMPILED
        runs["cython"] = lambda: count(compiled.decode_binaryfile(data))
    # Rounds interleave the implementations (each runs once per round, the best round
    # counts), so a change in machine load hits them all alike.
    best: dict[str, float] = dict.fromkeys(runs, 0.0)
    counts: dict[str, int] = {}
    for round_ in range(repeat):
        for impl, run in runs.items():
            if impl == "construct" and round_ > 0:
                continue  # slow, and only there for scale
            rate, counts[impl] = best_rate(run, 1)
            best[impl] = max(best[impl], rate)
    results: dict[str, dict[str, float]] = {}
    for impl in runs:
        n = counts[impl]
        expected = len(sample) if impl == "construct" else len(bodies)
        if n != expected:
            raise SystemExit(f"{name}/{impl}: decoded {n} messages, expected {expected}")
        results[impl] = {"messages": n, "msgs_per_s": best[impl]}
        print(
            f"  {name:>10} {impl:>10}: {best[impl]:>12,.0f} msg/s  ({n:,} messages)",
            file=sys.stderr,
        )
    return results


def report(all_results: dict[str, dict[str, dict[str, float]]]) -> str:
    lines = [
        "| input | construct | pure | cython | itchfeed | itchcpp "
        "| pure / itchfeed | cython / itchcpp | cython / pure |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, res in all_results.items():

        def r(impl: str, res: dict[str, dict[str, float]] = res) -> float:
            return res[impl]["msgs_per_s"] if impl in res else float("nan")

        lines.append(
            f"| {name} | {r('construct'):,.0f} | {r('pure'):,.0f} | {r('cython'):,.0f} "
            f"| {r('itchfeed'):,.0f} | {r('itchcpp'):,.0f} "
            f"| {r('pure') / r('itchfeed'):.2f}x | {r('cython') / r('itchcpp'):.2f}x "
            f"| {r('cython') / r('pure'):.2f}x |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=2_000_000)
    ap.add_argument("--symbols", type=int, default=3_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument(
        "--construct-limit",
        type=int,
        default=100_000,
        help="messages decoded by the (slow) construct path per input",
    )
    args = ap.parse_args()

    OUT.mkdir(exist_ok=True)
    day = OUT / f"day-{args.messages}-{args.symbols}-{args.seed}.itch"
    if not day.exists():
        write_day(day, args.messages, args.symbols, args.seed)
    print(
        f"python {platform.python_version()}, fast path: "
        f"{'cython' if fastpath.AVAILABLE else 'pure (' + str(fastpath.UNAVAILABLE_REASON) + ')'}",
        file=sys.stderr,
    )
    results = {
        f"generated {args.messages / 1e6:g}M": measure(
            "generated", day.read_bytes(), args.repeat, args.construct_limit
        ),
        "real sample (12,012)": measure(
            "real", REAL.read_bytes(), max(args.repeat, 10), args.construct_limit
        ),
    }
    (OUT / "bench_itch.json").write_text(json.dumps(results, indent=2))
    print(report(results))


if __name__ == "__main__":
    main()
