"""Codec and decoder figures of one checkout in CPU time, for A/B runs between trees.

    cd TREE && .venv/bin/python /path/to/bench/ab_cpu.py

Runs this tree's own bench functions (``bench/`` of the current directory, so each
checkout measures its own code with its own venv): ``bench_itch.measure`` on the
generated day ``bench/out/day-500000-3000-1.itch`` (``bench_itch.py --messages 500000``
writes it) and on the real sample, ``bench_ouch.codec_rows`` (50,000 messages, best of
3) and ``bench_moldudp64.bench_receiver`` (100,000 generated messages, best of 5), with
``time.perf_counter`` replaced by ``time.process_time``: on a shared 2-core machine the
wall-clock best of a few rounds swung 0.3x to 3x between rounds of the same code, CPU
time within a few percent. Prints ``FIG <bench> <figure> <per second> ...`` lines; the
interleaving of trees is the caller's (``bench/ab.sh`` does it for whole scripts).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path.cwd() / "bench"))
time.perf_counter = time.process_time  # before the bench modules take the clock

import bench_itch  # noqa: E402
import bench_moldudp64  # noqa: E402
import bench_ouch  # noqa: E402
from tickwire.itch import encode  # noqa: E402
from tickwire.itch.generator import generate_day  # noqa: E402


def main() -> None:
    day = Path("bench/out/day-500000-3000-1.itch").read_bytes()
    for name, data in (("generated", day), ("real", bench_itch.REAL.read_bytes())):
        for impl, r in bench_itch.measure(name, data, 3, 20_000).items():
            print(f"FIG itch {name} {impl} {r['msgs_per_s']:.0f}")
    for name, fast, ref in bench_ouch.codec_rows(50_000, 3):
        print(f"FIG ouch {name.replace(' ', '_')} {fast:.0f} construct {ref:.0f}")
    messages = [encode(m) for m in generate_day(100_000, 500, 1)]
    r = bench_moldudp64.bench_receiver(messages, 5)
    print(f"FIG mold receiver {r['receiver_msgs_per_s']:.0f}")
    print(f"FIG mold construct {r['construct_msgs_per_s']:.0f}")


if __name__ == "__main__":
    main()
