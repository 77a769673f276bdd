"""Benchmark of the FPGA core: latency in cycles of every order of a generated day, and
simulation speed (Python and Verilator).

The day is carried as MoldUDP64 frames of 1 to 40 messages (every third one 802.1Q
tagged) sent back to back, one beat every cycle; the config watches the first 12 locates
with a sell at their first sell price, so many frames trigger. For every order sent:

* **RX first beat -> TX first beat**: cycles from the first beat of the triggering frame
  entering the core to the first beat of the order leaving it;
* **trigger's last price byte -> TX first beat**: cycles from the beat holding the last
  byte of the triggering message's price to the order's first beat. Which message sent
  the order is found in the frame from the order's symbol and price (the first A/F sell
  block of that locate at that price), and its byte offset by walking the MoldUDP64
  blocks, independently of the core.

Simulation speed is given per CPU second (``time.process_time`` of this process, plus
the Verilator model's own process read from ``/proc/PID/stat``), which a loaded machine
depresses far less than wall time; wall time is printed beside it.

Cycles become nanoseconds at 156.25 MHz (6.4 ns). Run:
``uv run --no-sync python bench/bench_fpga.py [--messages N] [--python-messages N]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

from tickwire.fpga.backend import FpgaBackend
from tickwire.fpga.sim import CLOCK_HZ
from tickwire.fpga.vsim import VerilatorSim
from tickwire.itch import AddOrder, AddOrderMPID, encode
from tickwire.itch.generator import generate_day
from tickwire.threshold import ThresholdEngine
from tickwire.threshold.config import InstrumentConfig, ThresholdConfig
from tickwire.threshold.testing import feed_frame

NS_PER_CYCLE = 1e9 / CLOCK_HZ


def day(messages: int, seed: int = 42) -> tuple[ThresholdConfig, list[bytes]]:
    msgs = list(generate_day(messages, 50, seed))
    first: dict[int, int] = {}
    for m in msgs:
        if isinstance(m, AddOrder | AddOrderMPID) and m.buy_sell_indicator == "S":
            first.setdefault(m.stock_locate, m.price)
    instruments = tuple(
        InstrumentConfig(loc, f"S{loc}", px, 100, 10, 100, 1000, 10**9, 10**15)
        for loc, px in sorted(first.items())[:12]
    )
    config = ThresholdConfig(True, 2**31, 1, 26477, 26400, "TWORDERS01", instruments)
    raw = [encode(m) for m in msgs]
    frames, i, size = [], 0, 1
    while i < len(raw):
        frames.append(feed_frame(raw[i : i + size], vlan_tci=141 if size % 3 == 0 else None))
        i += size
        size = size % 40 + 1
    return config, frames


def price_end(frame: bytes, order: bytes, config: ThresholdConfig) -> tuple[int, int]:
    """Byte offsets of the last price byte and of the last byte of the message that
    sent ``order``."""
    vlan = order[12:14] == b"\x81\x00"
    shift = 4 if vlan else 0
    symbol = order[74 + shift : 82 + shift].decode().rstrip()
    price = int.from_bytes(order[82 + shift : 90 + shift], "big")
    locate = next(i.locate for i in config.instruments if i.symbol == symbol)
    l3 = 18 if frame[12:14] == b"\x81\x00" else 14
    q = l3 + 4 * (frame[l3] & 0x0F) + 8 + 20
    count = int.from_bytes(frame[q - 2 : q], "big")
    for _ in range(min(count, 64)):
        length = int.from_bytes(frame[q : q + 2], "big")
        m = frame[q + 2 : q + 2 + length]
        if (
            length >= 36
            and m[0] in b"AF"
            and m[19] == ord("S")
            and int.from_bytes(m[1:3], "big") == locate
            and int.from_bytes(m[32:36], "big") == price
        ):
            return q + 2 + 35, q + 2 + length - 1
        q += 2 + length
    raise AssertionError("no block of the frame sent this order")


def latencies(
    backend: FpgaBackend, got: list[list[bytes]], frames: list[bytes], config: ThresholdConfig
) -> dict[str, list[int]]:
    """Per order, cycles to the first TX beat from: the RX first beat, the beat of the
    trigger's last price byte, the beat of the trigger message's last byte."""
    assert backend.sim is not None
    out: dict[str, list[int]] = {"first RX beat": [], "last price byte": [], "message end": []}
    for lat in backend.sim.latencies:
        price, end = price_end(frames[lat.frame], got[lat.frame][0], config)
        out["first RX beat"].append(lat.first_tx - lat.first_rx)
        out["last price byte"].append(lat.first_tx - (lat.first_rx + price // 8))
        out["message end"].append(lat.first_tx - (lat.first_rx + end // 8))
    return out


def pct(values: list[int], p: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def _child_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a running child process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--python-messages", type=int, default=5_000)
    args = parser.parse_args()

    config, frames = day(args.messages)
    engine = ThresholdEngine(config)
    want = [engine.feed(f) for f in frames]
    vsim = FpgaBackend("verilator")
    vsim.configure(config)  # builds the model on first use
    assert vsim.sim is not None
    assert isinstance(vsim.sim, VerilatorSim)
    pid = vsim.sim.proc.pid
    t0, cpu0, child0 = time.perf_counter(), time.process_time(), _child_cpu(pid)
    c0 = vsim.sim.cycle
    got = vsim.feed_many(frames)
    v_wall = time.perf_counter() - t0
    v_cpu = time.process_time() - cpu0 + _child_cpu(pid) - child0
    v_cycles = vsim.sim.cycle - c0
    assert got == want, "the Verilator simulation differs from the reference"
    assert vsim.stats().to_json() == engine.stats().to_json()

    back_to_back = latencies(vsim, got, frames, config)
    # Again with 3 idle cycles after each frame (on the wire, 8 bytes of preamble and 12
    # of inter-frame gap separate frames: 2.5 beats), so the TX port is free at each order.
    vsim.configure(config)
    assert vsim.sim.stream(frames, gap=3) == want
    with_gaps = latencies(vsim, want, frames, config)
    vsim.close()

    small_config, small = day(args.python_messages)
    py = FpgaBackend("python")
    py.configure(small_config)
    assert py.sim is not None
    t0, cpu0 = time.perf_counter(), time.process_time()
    c0 = py.sim.cycle
    py.feed_many(small)
    p_wall = time.perf_counter() - t0
    p_cpu = time.process_time() - cpu0
    p_cycles = py.sim.cycle - c0

    print(f"machine: {platform.machine()}, {platform.python_version()}, {sys.platform}")
    print(
        f"day: {args.messages} messages in {len(frames)} frames, "
        f"{sum(len(f) for f in frames)} bytes, {len(back_to_back['message end'])} orders"
    )
    for mode, table in (("back to back", back_to_back), ("3 idle cycles", with_gaps)):
        for name, values in table.items():
            spread = dict(sorted(Counter(values).items())) if name != "first RX beat" else {}
            print(
                f"{mode}: {name} -> TX first beat: min {min(values)} P50 {pct(values, 0.5)} "
                f"P99 {pct(values, 0.99)} max {max(values)} cycles "
                f"(mean {statistics.mean(values):.2f}; "
                f"{min(values) * NS_PER_CYCLE:.1f}..{max(values) * NS_PER_CYCLE:.1f} ns)"
                + (f" counts {spread}" if spread else "")
            )
    print(
        f"Verilator: {v_cycles} cycles, {len(frames)} frames in {v_cpu:.3f} CPU s "
        f"(both processes) = {v_cycles / v_cpu:,.0f} cycles/CPU s, "
        f"{len(frames) / v_cpu:,.0f} frames/CPU s ({v_wall:.3f} s wall)"
    )
    print(
        f"Python (Amaranth pysim): {p_cycles} cycles, {len(small)} frames in {p_cpu:.2f} CPU s "
        f"= {p_cycles / p_cpu:,.0f} cycles/CPU s, {len(small) / p_cpu:,.2f} frames/CPU s "
        f"({p_wall:.2f} s wall)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
