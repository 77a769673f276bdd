"""Tick-to-trade latency: from the exchange sending a market data packet to the exchange
receiving the order it triggered.

    uv run --no-sync python bench/bench_tick_to_trade.py [--backend reference,recv]
        [--path loopback,veth] [--triggers 2000] [--warmup 200] [--plot bench/out/t2t.png]

The simulated exchange (``tickwire.engine.exchange``) runs in this process. For every
trigger it publishes one MoldUDP64 packet with one ITCH Add Order (a sell at the watched
symbol's limit), notes the time just before the packet leaves, and notes the time the OUCH
Enter Order arrives on its SoupBinTCP port, both on the exchange's own monotonic clock.
The trading side is a separate process, one of the backends:

* ``reference``: the live engine, ``python -m tickwire.engine live`` (uvloop, MoldUDP64
  receiver with gap recovery, books, the ThresholdTaker strategy, pre-trade risk, the OUCH
  order manager and session);
* ``recv``: a plain Python ``recv()`` loop making the same decision (sell Add Order for the
  symbol at or below the limit: buy it, IOC) with no books and no risk: the baseline.

XDP and bare-metal backends register in ``BACKENDS`` later and report on the same
benchmark. Paths: ``loopback`` (127.0.0.1) and ``veth`` (the exchange and the trader each
in a network namespace the benchmark creates, joined by a veth pair in 198.18.0.0/15, both
removed afterwards; needs root). The first ``--warmup`` triggers are not counted. It
prints P50, P99, P99.9, max and the tail ratio P99.9 / P50 in microseconds, and the ratio
of each backend to the ``recv`` baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SYMBOL = "TWTT"
LIMIT = 1_000_000  # $100.0000
NS_X, NS_B = "twtt_x", "twtt_b"
IP_X, IP_B = "198.18.7.1", "198.18.7.2"
VETH_X, VETH_B = "twtt0", "twtt1"
FEED_PORT = 26477


# ------------------------------------------------------------------ the baseline bot
def recv_bot(feed: tuple[str, int], ouch: tuple[str, int], limit: int) -> None:
    """A plain recv() loop: MoldUDP64 in, OUCH 5.0 Enter Order out (no books, no risk)."""
    from tickwire.ouch import v50
    from tickwire.soupbintcp.packets import LoginRequest, build_packet, data_packet

    stop = False

    def on_term(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(feed)
    tcp = socket.create_connection(ouch)
    tcp.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    tcp.sendall(build_packet(LoginRequest("TW", "SECRET", "", 1, 15_000)))
    sym = SYMBOL.encode().ljust(8)
    ref = 0
    last_sent = time.monotonic()
    while not stop:
        ready, _, _ = select.select([udp, tcp], [], [], 0.5)
        if udp in ready:
            pkt = udp.recv(2048)
            count = struct.unpack_from(">H", pkt, 18)[0]
            off = 20
            for _ in range(count if count != 0xFFFF else 0):
                (n,) = struct.unpack_from(">H", pkt, off)
                m = pkt[off + 2 : off + 2 + n]
                off += 2 + n
                if m[:1] in (b"A", b"F") and m[19:20] == b"S" and m[24:32] == sym:
                    price = struct.unpack_from(">I", m, 32)[0]
                    if 0 < price <= limit:
                        ref += 1
                        order = v50.EnterOrder(
                            ref, "B", 100, SYMBOL, price, "3", "Y", "P", "N", "N",
                            f"TW{ref:012d}",
                        )  # fmt: skip
                        tcp.sendall(data_packet("U", v50.encode(order)))
                        last_sent = time.monotonic()
                        break  # one order per packet
        if tcp in ready and not tcp.recv(65536):
            break
        if time.monotonic() - last_sent > 0.8:
            tcp.sendall(b"\x00\x01R")  # client heartbeat
            last_sent = time.monotonic()
    with contextlib.suppress(OSError):
        tcp.sendall(b"\x00\x01O")  # logout
    tcp.close()


# ------------------------------------------------------------------ backends
def _reference_cmd(feed: str, ouch: str, rereq: str, tmp: Path) -> list[str]:
    cfg = tmp / "t2t.toml"
    cfg.write_text(
        "[strategy]\n"
        'class = "tickwire.engine.strategy.taker:ThresholdTaker"\n'
        f'instruments = [{{symbol = "{SYMBOL}", limit_price = {LIMIT}}}]\n'
        "base_qty = 100\nstep_qty = 0\nmax_order_qty = 1000\n"
        "max_position = 1000000000\nexit_ticks = 1000000\n"
    )
    return [sys.executable, "-m", "tickwire.engine", "live", "--feed", feed, "--ouch", ouch,
            "--rerequest", rereq, "--config", str(cfg)]  # fmt: skip


def _recv_cmd(feed: str, ouch: str, rereq: str, tmp: Path) -> list[str]:
    return [sys.executable, __file__, "--role", "recv-bot", "--feed", feed, "--ouch", ouch]


#: name -> builder of the trader's command line (feed, ouch, rerequest, temp dir)
BACKENDS: dict[str, Callable[[str, str, str, Path], list[str]]] = {
    "reference": _reference_cmd,
    "recv": _recv_cmd,
}


# ------------------------------------------------------------------ the exchange side
async def measure(
    backend: str, host: str, bot_host: str, prefix: list[str], triggers: int, warmup: int
) -> list[int]:
    """Run the exchange here and the backend in a subprocess; tick-to-trade in ns."""
    from tickwire.engine.exchange import Exchange, ExchangeConfig

    ex = await Exchange.start(
        ExchangeConfig(feed_target=(bot_host, FEED_PORT), host=host, flush_interval=0.0)
    )
    ex.open_market()
    ex.engine.add_instrument(SYMBOL)
    assert ex.ouch50 is not None and ex.feed is not None
    arrived: asyncio.Future[int] | None = None
    original = ex.ouch50.on_message
    assert original is not None

    def hook(conn: Any, data: bytes) -> None:
        t = time.perf_counter_ns()
        if data[:1] == b"O" and arrived is not None and not arrived.done():
            arrived.set_result(t)
        original(conn, data)

    ex.ouch50.on_message = hook
    with tempfile.TemporaryDirectory() as tmpdir:
        cmd = BACKENDS[backend](
            f"{bot_host}:{FEED_PORT}",
            f"{host}:{ex.ouch50_port}",
            f"{host}:{ex.rerequest_address[1]}",
            Path(tmpdir),
        )
        bot = subprocess.Popen([*prefix, *cmd], stdout=subprocess.DEVNULL)
        try:
            end = time.monotonic() + 20
            while ex.ouch50.core.stats.logins < 1:
                if time.monotonic() > end or bot.poll() is not None:
                    raise RuntimeError(f"{backend}: the trader never logged in")
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.5)  # the trader catches up with the feed
            loop = asyncio.get_running_loop()
            out: list[int] = []
            misses = 0
            for i in range(warmup + triggers):
                arrived = loop.create_future()
                ex.engine.submit(SYMBOL, "S", 100, LIMIT)
                t0 = time.perf_counter_ns()
                ex.flush()
                try:
                    t1 = await asyncio.wait_for(arrived, 1.0)
                except TimeoutError:
                    misses += 1
                    continue
                if i >= warmup:
                    out.append(t1 - t0)
                await asyncio.sleep(0.001)
            if misses:
                print(f"  {backend}: {misses} triggers got no order within 1 s", file=sys.stderr)
        finally:
            bot.send_signal(signal.SIGTERM)
            try:
                bot.wait(10)
            except subprocess.TimeoutExpired:
                bot.kill()
            await ex.close()
    return out


def _sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True)


def veth_up() -> None:
    veth_down()
    _sh("ip", "netns", "add", NS_X)
    _sh("ip", "netns", "add", NS_B)
    _sh("ip", "link", "add", VETH_X, "netns", NS_X, "type", "veth", "peer", VETH_B, "netns", NS_B)
    for ns, dev, ip in ((NS_X, VETH_X, IP_X), (NS_B, VETH_B, IP_B)):
        _sh("ip", "-n", ns, "addr", "add", f"{ip}/30", "dev", dev)
        _sh("ip", "-n", ns, "link", "set", dev, "up")
        _sh("ip", "-n", ns, "link", "set", "lo", "up")


def veth_down() -> None:
    for ns in (NS_X, NS_B):
        subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL, check=False)


def stats(samples: list[int]) -> dict[str, float]:
    s = sorted(samples)
    n = len(s)
    if not n:
        return {"n": 0, "p50": 0.0, "p99": 0.0, "p999": 0.0, "max": 0.0, "tail": 0.0}

    def q(x: float) -> float:
        return s[min(n - 1, max(0, int(x * n + 0.999999) - 1))] / 1e3

    p50 = q(0.5)
    return {"n": n, "p50": p50, "p99": q(0.99), "p999": q(0.999), "max": s[-1] / 1e3,
            "tail": q(0.999) / p50 if p50 else 0.0}  # fmt: skip


def _plot(results: dict[tuple[str, str], list[int]], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib not installed: no plot)", file=sys.stderr)
        return
    fig, ax = plt.subplots(figsize=(8, 4.5))
    everything = [x for samples in results.values() for x in samples]
    if not everything:
        return
    lo, hi = math.log10(min(everything) / 1e3), math.log10(max(everything) / 1e3)
    bins = [10 ** (lo + (hi - lo) * i / 60) for i in range(61)]  # log-spaced
    for (backend, path_name), samples in results.items():
        if samples:
            us = [x / 1e3 for x in samples]
            ax.hist(us, bins=bins, histtype="step", label=f"{backend} / {path_name}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("tick-to-trade (us)")
    ax.set_ylabel("triggers")
    ax.legend()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    print(f"histogram: {path}")


def _exchange_role(args: argparse.Namespace) -> None:
    """Run inside the exchange namespace: measure and write the samples as JSON."""
    from tickwire.moldudp64.aio import run

    prefix = ["ip", "netns", "exec", NS_B] if args.path == "veth" else []
    host, bot = (IP_X, IP_B) if args.path == "veth" else ("127.0.0.1", "127.0.0.1")
    samples = run(measure(args.backend, host, bot, prefix, args.triggers, args.warmup))
    Path(args.out).write_text(json.dumps(samples))


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--backend", default="reference,recv", help=f"comma list of {sorted(BACKENDS)}")
    ap.add_argument("--path", default="loopback,veth", help="comma list: loopback, veth")
    ap.add_argument("--triggers", type=int, default=2000)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--plot", default="bench/out/tick_to_trade.png")
    ap.add_argument("--role", default="main", choices=["main", "exchange", "recv-bot"])
    ap.add_argument("--feed", default=None)
    ap.add_argument("--ouch", default=None)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    if args.role == "recv-bot":
        f_host, _, f_port = args.feed.rpartition(":")
        o_host, _, o_port = args.ouch.rpartition(":")
        recv_bot((f_host, int(f_port)), (o_host, int(o_port)), LIMIT)
        return
    if args.role == "exchange":
        _exchange_role(args)
        return
    backends = args.backend.split(",")
    for b in backends:
        if b not in BACKENDS:
            ap.error(f"unknown backend {b!r} (known: {sorted(BACKENDS)})")
    paths = args.path.split(",")
    results: dict[tuple[str, str], list[int]] = {}
    for path in paths:
        if path == "veth":
            if os.geteuid() != 0:
                print("veth path needs root: skipped", file=sys.stderr)
                continue
            veth_up()
        try:
            for backend in backends:
                with tempfile.NamedTemporaryFile(suffix=".json") as tmp:
                    prefix = ["ip", "netns", "exec", NS_X] if path == "veth" else []
                    subprocess.run(
                        [*prefix, sys.executable, __file__, "--role", "exchange", "--backend",
                         backend, "--path", path, "--triggers", str(args.triggers), "--warmup",
                         str(args.warmup), "--out", tmp.name],
                        check=True,
                    )  # fmt: skip
                    results[(backend, path)] = json.loads(Path(tmp.name).read_text())
        finally:
            if path == "veth":
                veth_down()
    print(f"tick-to-trade, {args.triggers} triggers after {args.warmup} warm-up (microseconds)")
    print(
        f"{'backend':<11}{'path':<10}{'n':>6}{'P50':>9}{'P99':>9}{'P99.9':>9}{'max':>9}{'tail':>7}  vs recv P50  P50 first/last 10%"
    )
    for (backend, path), samples in results.items():
        s = stats(samples)
        base = stats(results.get(("recv", path), []))
        ratio = f"{s['p50'] / base['p50']:.2f}x" if base["p50"] else "-"
        tenth = max(1, len(samples) // 10)  # drift over the run (state that grows per order)
        drift = f"{stats(samples[:tenth])['p50']:.0f}/{stats(samples[-tenth:])['p50']:.0f}"
        print(f"{backend:<11}{path:<10}{s['n']:>6}{s['p50']:>9.1f}{s['p99']:>9.1f}"
              f"{s['p999']:>9.1f}{s['max']:>9.1f}{s['tail']:>7.2f}  {ratio:>11}  {drift}")  # fmt: skip
    if args.plot:
        _plot(results, Path(args.plot))


if __name__ == "__main__":
    main()
