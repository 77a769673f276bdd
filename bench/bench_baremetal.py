"""Benchmark of the bare-metal backend, next to its userspace peers, in one run.

Measured on the same frames (a generated day carried as MoldUDP64, the config derived
from it so that a good share of frames trigger):

* in-guest: rdtsc cycles from descriptor-done to the TX tail write, per order sent
  (the kernel's histogram; frames sent back to back without per-frame acks);
* host round trip: host UDP send to QEMU -> e1000 RX -> kernel -> e1000 TX -> host UDP
  receive of the order frame, one frame at a time;
* userspace C: the kernel's own strategy.c built hosted (-O2) in a small driver, rdtsc
  around tw_process() for each frame that sends an order (the same span minus the NIC);
* userspace Python: the reference ``ThresholdEngine.feed`` per order-sending frame.

Cycles become nanoseconds with a TSC rate calibrated against CLOCK_MONOTONIC by the C
driver (the guest's TSC runs at the host's rate under both TCG and KVM without TSC
scaling). Run: ``uv run --no-sync python bench/bench_baremetal.py [--messages N]``.
XDP figures are in bench/RESULTS.md's own section (measured by bench/bench_xdp.py).
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tickwire.baremetal import Guest, default_accel
from tickwire.baremetal.build import kernel_source_dir
from tickwire.baremetal.layout import config_blob, new_secret
from tickwire.baremetal.traffic import (
    TrafficPlan,
    feed_frames,
    generated_messages,
    run_plan,
    threshold_config_for,
)
from tickwire.net.stats import percentiles
from tickwire.threshold.reference import ThresholdEngine

DRIVER = r"""
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <x86intrin.h>
#include "strategy.h"
static struct tw_state st;
static unsigned char buf[1 << 16], out[TW_ORDER_MAX];
static int cmp(const void *a, const void *b) {
    unsigned long long x = *(const unsigned long long *)a, y = *(const unsigned long long *)b;
    return x < y ? -1 : x > y;
}
int main(int argc, char **argv) {
    FILE *cf = fopen(argv[1], "rb"), *ff = fopen(argv[2], "rb");
    static unsigned char cfg[8192];
    size_t cl = fread(cfg, 1, sizeof cfg, cf);
    if (tw_load_config(&st, cfg, (unsigned)cl)) return 2;
    int rounds = atoi(argv[3]);
    static unsigned long long samples[1 << 22];
    size_t ns = 0;
    long pos0 = ftell(ff);
    for (int r = 0; r < rounds; r++) {
        if (tw_load_config(&st, cfg, (unsigned)cl)) return 2;
        fseek(ff, pos0, SEEK_SET);
        unsigned char hdr[4];
        while (fread(hdr, 1, 4, ff) == 4) {
            unsigned n = hdr[0] | hdr[1] << 8 | hdr[2] << 16 | (unsigned)hdr[3] << 24;
            if (n > sizeof buf || fread(buf, 1, n, ff) != n) return 3;
            _mm_lfence();
            unsigned long long t0 = __rdtsc();
            unsigned o = tw_process(&st, buf, n, out);
            _mm_lfence();
            unsigned long long t1 = __rdtsc();
            if (o && ns < (1u << 22)) samples[ns++] = t1 - t0;
        }
    }
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    unsigned long long c0 = __rdtsc();
    do clock_gettime(CLOCK_MONOTONIC, &b);
    while ((b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec) < 200000000LL);
    unsigned long long c1 = __rdtsc();
    double hz = (double)(c1 - c0) / ((b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9);
    qsort(samples, ns, sizeof samples[0], cmp);
    printf("%.0f %zu %llu %llu %llu\n", hz, ns, samples[ns / 2], samples[ns * 99 / 100],
           samples[ns * 999 / 1000]);
    return 0;
}
"""


def pct(values: list[int]) -> list[float]:
    """P50, P99, P99.9 (the project's nearest rank, tickwire.net.stats)."""
    p = percentiles(values)
    return [float(v or 0) for v in (p["p50"], p["p99"], p["p99_9"])]


def userspace_c(config_bytes: bytes, frames: list[bytes], rounds: int) -> tuple[float, list[int]]:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "drv.c").write_text(DRIVER)
        (d / "cfg.bin").write_bytes(config_bytes)
        (d / "frames.bin").write_bytes(b"".join(len(f).to_bytes(4, "little") + f for f in frames))
        src = kernel_source_dir()
        subprocess.run(
            [
                "gcc",
                "-O2",
                f"-I{src}",
                "-o",
                str(d / "drv"),
                str(d / "drv.c"),
                str(src / "strategy.c"),
            ],
            check=True,
        )
        out = subprocess.run(
            [str(d / "drv"), str(d / "cfg.bin"), str(d / "frames.bin"), str(rounds)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
    hz = float(out[0])
    return hz, [int(x) for x in out[2:5]]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=40_000)
    ap.add_argument("--symbols", type=int, default=50)
    ap.add_argument("--rtt-frames", type=int, default=600)
    ap.add_argument("--accel", choices=("auto", "kvm", "tcg"), default=None)
    args = ap.parse_args()

    messages = list(generated_messages(args.messages, args.symbols, 42))
    config = threshold_config_for(messages, max_orders=4_000_000_000)
    frames = list(feed_frames(messages))
    # Rebuild the config with unlimited positions so every round keeps sending orders.
    import dataclasses

    config = dataclasses.replace(
        config,
        instruments=tuple(
            dataclasses.replace(i, max_position=2**62, max_notional=2**62)
            for i in config.instruments
        ),
    )
    triggering = [f for f in frames if ThresholdEngine(config).feed(f)]
    print(
        f"machine: {platform.machine()} {platform.processor() or ''} python {sys.version.split()[0]}"
    )
    print(
        f"frames: {len(frames)} ({len(triggering)} send an order), instruments: {len(config.instruments)}"
    )

    # userspace C: the kernel's strategy.c, hosted.
    hz, c_cycles = userspace_c(config_blob(config, new_secret()), frames, rounds=20)

    def ns(cycles: int) -> float:
        return cycles / hz * 1e9

    print(f"TSC: {hz / 1e9:.3f} GHz (calibrated)")

    # userspace Python: the reference engine, per order-sending frame.
    ref = ThresholdEngine(config)
    py_ns: list[int] = []
    for _ in range(3):
        ref.configure(config)
        for f in frames:
            t0 = time.perf_counter_ns()
            out = ref.feed(f)
            t1 = time.perf_counter_ns()
            if out:
                py_ns.append(t1 - t0)

    accel = args.accel or default_accel()
    with Guest(config, accel=accel, ack_frames=False) as guest:
        start = time.perf_counter()
        for _ in range(3):
            guest.blast(frames)
        blast_s = time.perf_counter() - start
        guest_hist = guest.report().histogram
        guest.set_ack_frames(True)
        plan = TrafficPlan(
            warmup=50, bursts=max(args.rtt_frames // 100, 1), burst_size=100, burst_gap=0.005
        )
        rtt = run_plan(guest, triggering, plan).round_trip_ns
        used = guest.accel

    def row(name: str, values: list[float]) -> tuple[str, float, float, float]:
        return name, values[0], values[1], values[2]

    levels = (50, 99, 99.9)
    rows = [
        row("in-guest (e1000 DD -> TX tail)", [ns(guest_hist.percentile(p)) for p in levels]),
        row("userspace C (tw_process)", [ns(c) for c in c_cycles]),
        row("userspace Python (reference)", pct(py_ns)),
        row("host round trip via QEMU", pct(rtt)),
    ]
    print(
        f"\naccelerator: {used}; in-guest samples {guest_hist.count}, host round trips {len(rtt)}"
    )
    print(
        f"in-guest cycles P50/P99/P99.9: {guest_hist.percentile(50)}/{guest_hist.percentile(99)}/{guest_hist.percentile(99.9)}"
    )
    print(f"guest throughput (no acks): {3 * len(frames) / blast_s:.0f} frames/s\n")
    print(f"{'path (per order-sending frame)':34} {'P50 ns':>12} {'P99 ns':>12} {'P99.9 ns':>12}")
    for name, p50, p99, p999 in rows:
        print(f"{name:34} {p50:12.0f} {p99:12.0f} {p999:12.0f}")
    base = rows[1][1]
    print("\nratios of P50 to userspace C:")
    for name, p50, _, _ in rows:
        print(f"  {name:34} {p50 / base:10.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
