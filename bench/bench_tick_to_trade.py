"""Tick-to-trade latency: from the exchange sending a market data packet to the exchange
receiving the order it triggered.

    uv run --no-sync python bench/bench_tick_to_trade.py [--backend reference,recv,xdp]
        [--path loopback,veth] [--triggers 2000] [--warmup 200] [--no-pin]
        [--plot bench/out/t2t.png]

The simulated exchange (``tickwire.exchange``) runs in this process. For every
trigger it publishes one MoldUDP64 packet with one ITCH Add Order (a sell at the watched
symbol's limit) and waits for the order it triggers. Two clocks:

* wire: kernel timestamps at the exchange's interface (:class:`WireTap`), from the
  trigger's frame leaving to the order's frame arriving: what a tap on the exchange's
  link would see;
* app: the exchange's own monotonic clock, from just before the packet is flushed to the
  order's callback, so its own Python time at both ends is in every figure.

The trading side is a separate process, one of the backends:

* ``reference``: the live engine, ``python -m tickwire.engine live`` (uvloop, MoldUDP64
  receiver with gap recovery, books, the ThresholdTaker strategy, pre-trade risk, the OUCH
  order manager and session), orders over SoupBinTCP;
* ``recv``: a plain Python ``recv()`` loop making the same decision (sell Add Order for the
  symbol at or below the limit: buy it, IOC) with no books and no risk: the baseline;
* ``xdp``: the threshold strategy in the XDP hook of the trader's interface
  (``tickwire.xdp``, native mode, veth path only): the feed frame is turned into a
  MoldUDP64-framed OUCH 5.0 Enter Order in the driver and sent straight back (XDP_TX) to
  the exchange's UDP order port; the frames copied to the mirror ring buffer are drained
  by the trader process, as an engine reading them would. Needs root.

Paths: ``loopback`` (127.0.0.1) and ``veth`` (the exchange and the trader each in a
network namespace the benchmark creates, joined by a veth pair in 198.18.0.0/15, both
removed afterwards). As root the exchange runs on the last CPU and the trader on the
first, both at SCHED_FIFO (``--no-pin`` to leave them to the scheduler), and the
benchmark first measures how often the machine itself takes a pinned CPU away
(:func:`machine_jitter`), which bounds every backend's tail. The first ``--warmup``
triggers are not counted. It prints P50, P99, P99.9, max and the tail ratio P99.9 / P50
in microseconds, and each backend's speed-up over the ``recv`` baseline in the same run.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tickwire.net import BadFrame, Cursor
from tickwire.net.frames import (
    ETHERTYPE_IPV4,
    IPPROTO_TCP,
    IPPROTO_UDP,
    parse_ethernet,
    parse_ipv4,
    parse_tcp,
    parse_udp,
)
from tickwire.net.stats import percentiles

SYMBOL = "TWTT"
LIMIT = 1_000_000  # $100.0000
NS_X, NS_B = "twtt_x", "twtt_b"
IP_X, IP_B = "198.18.7.1", "198.18.7.2"
VETH_X, VETH_B = "twtt0", "twtt1"
FEED_PORT = 26477
ORDER_PORT = 26400  # the exchange's UDP port for MoldUDP64-framed OUCH orders (xdp)
FIFO_PRIORITY = 50


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
@dataclass(frozen=True)
class Endpoints:
    """What a trader needs to know of the exchange (all ``HOST:PORT``)."""

    feed: str  # where the feed arrives (the trader's side)
    ouch: str  # the OUCH 5.0 SoupBinTCP port
    rerequest: str  # the MoldUDP64 re-request server
    orders_udp: str  # the UDP port for MoldUDP64-framed OUCH orders (xdp)
    locate: int  # the watched symbol's stock locate
    tmp: Path


@dataclass(frozen=True)
class Backend:
    """A trader: its command line, how its orders reach the exchange, where it runs."""

    command: Callable[[Endpoints], list[str]]
    orders: str = "soupbintcp"  # or "udp": MoldUDP64 + OUCH 5.0 to Endpoints.orders_udp
    paths: tuple[str, ...] = ("loopback", "veth")


def _reference_cmd(at: Endpoints) -> list[str]:
    cfg = at.tmp / "t2t.toml"
    cfg.write_text(
        "[strategy]\n"
        'class = "tickwire.engine.strategy.taker:ThresholdTaker"\n'
        f'instruments = [{{symbol = "{SYMBOL}", limit_price = {LIMIT}}}]\n'
        "base_qty = 100\nstep_qty = 0\nmax_order_qty = 1000\n"
        "max_position = 1000000000\nexit_ticks = 1000000\n"
    )
    return [sys.executable, "-m", "tickwire.engine", "live", "--feed", at.feed, "--ouch", at.ouch,
            "--rerequest", at.rerequest, "--config", str(cfg)]  # fmt: skip


def _recv_cmd(at: Endpoints) -> list[str]:
    return [sys.executable, __file__, "--role", "recv-bot", "--feed", at.feed, "--ouch", at.ouch]


def _xdp_cmd(at: Endpoints) -> list[str]:
    from tickwire.threshold.config import InstrumentConfig, ThresholdConfig

    big = 2**62  # the same decision as the other traders: 100 shares at the limit, no caps
    order_port = at.orders_udp.rpartition(":")[2]
    config = ThresholdConfig(
        armed=True,
        max_orders=2**32 - 1,
        first_user_ref_num=1,
        feed_port=int(at.feed.rpartition(":")[2]),
        order_port=int(order_port),
        order_session="TWORDERS01",
        instruments=(InstrumentConfig(at.locate, SYMBOL, LIMIT, 100, 0, 1, 1000, big, big),),
    )
    cfg = at.tmp / "t2t-xdp.toml"
    cfg.write_text(config.to_toml())
    return [sys.executable, __file__, "--role", "xdp-trader", "--config", str(cfg)]


#: name -> trader
BACKENDS: dict[str, Backend] = {
    "reference": Backend(_reference_cmd),
    "recv": Backend(_recv_cmd),
    "xdp": Backend(_xdp_cmd, orders="udp", paths=("veth",)),
}


def xdp_trader(config_path: str) -> None:
    """Attach the threshold program to the trader's veth end until SIGTERM (run in NS_B).

    Native mode; the exchange's end gets the pass-all program, without which a veth does
    not deliver XDP_TX frames to its peer (docs/xdp.md). Frames XDP passes go to a UDP
    socket on the feed port (an engine's, in production), and the mirror ring buffer of
    frames turned into orders is drained every 20 ms.
    """
    from tickwire.threshold.config import load_config
    from tickwire.xdp import XdpProgram
    from tickwire.xdp.netns import in_netns
    from tickwire.xdp.program import PASS_PROGRAM_NAME

    stop = False

    def on_term(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    config = load_config(config_path)
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind((IP_B, config.feed_port))
    sink.setblocking(False)
    with XdpProgram.load() as prog, XdpProgram.load(program=PASS_PROGRAM_NAME) as peer:
        prog.configure(config)
        mirror = prog.mirror_reader()
        with in_netns(NS_X):
            peer.attach(VETH_X, "native")
        prog.attach(VETH_B, "native")
        try:
            print("ready", flush=True)
            deadline = time.monotonic() + 3600
            while not stop and time.monotonic() < deadline:
                select.select([sink], [], [], 0.02)
                with contextlib.suppress(BlockingIOError):
                    while True:
                        sink.recv(65535)
                mirror.consume()
            raw = prog.raw_stats()
            print(f"xdp: {raw.orders} orders, {raw.mirrored} mirrored", file=sys.stderr)
        finally:
            prog.detach(VETH_B)
            with in_netns(NS_X):
                peer.detach(VETH_X)
            mirror.close()
    sink.close()


# ------------------------------------------------------------------ the exchange side
async def measure(
    backend: str,
    host: str,
    bot_host: str,
    iface: str,
    prefix: list[str],
    triggers: int,
    warmup: int,
) -> dict[str, list[int]]:
    """Run the exchange here and the backend in a subprocess; tick-to-trade in ns.

    Returns ``{"app": [...], "wire": [...]}``: the exchange's clock, and kernel timestamps
    at its interface (:class:`WireTap`).
    """
    from tickwire.exchange import Exchange, ExchangeConfig

    ex = await Exchange.start(
        ExchangeConfig(feed_target=(bot_host, FEED_PORT), host=host, flush_interval=0.0)
    )
    ex.open_market()
    locate = ex.engine.add_instrument(SYMBOL)
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
    trader = BACKENDS[backend]
    loop = asyncio.get_running_loop()
    tap = WireTap(iface, ex.ouch50_port) if os.geteuid() == 0 else None
    udp_orders: asyncio.DatagramTransport | None = None
    if trader.orders == "udp":
        udp_orders, _ = await loop.create_datagram_endpoint(
            lambda: _UdpOrders(lambda: arrived), local_addr=(host, ORDER_PORT)
        )
    with tempfile.TemporaryDirectory() as tmpdir:
        cmd = trader.command(
            Endpoints(
                feed=f"{bot_host}:{FEED_PORT}",
                ouch=f"{host}:{ex.ouch50_port}",
                rerequest=f"{host}:{ex.rerequest_address[1]}",
                orders_udp=f"{host}:{ORDER_PORT}",
                locate=locate,
                tmp=Path(tmpdir),
            )
        )
        bot = subprocess.Popen([*prefix, *cmd], stdout=subprocess.PIPE, text=True)
        try:
            if trader.orders == "udp":
                assert bot.stdout is not None
                line = await asyncio.wait_for(loop.run_in_executor(None, bot.stdout.readline), 30)
                if line.strip() != "ready":
                    raise RuntimeError(f"{backend}: the trader did not start")
            end = time.monotonic() + 20
            while trader.orders == "soupbintcp" and ex.ouch50.core.stats.logins < 1:
                if time.monotonic() > end or bot.poll() is not None:
                    raise RuntimeError(f"{backend}: the trader never logged in")
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.5)  # the trader catches up with the feed
            out: dict[str, list[int]] = {"app": [], "wire": []}
            misses = untapped = 0
            drain = tap.drain if tap is not None else lambda: (None, None)
            drain()
            for i in range(warmup + triggers):
                arrived = loop.create_future()
                ex.engine.submit(SYMBOL, "S", 100, LIMIT)
                t0 = time.perf_counter_ns()
                ex.flush()
                try:
                    t1 = await asyncio.wait_for(arrived, 1.0)
                except TimeoutError:
                    misses += 1
                    drain()
                    continue
                await asyncio.sleep(0.001)  # the order's frame reaches the tap too
                sent, got = drain()
                if i < warmup:
                    continue
                out["app"].append(t1 - t0)
                if sent is not None and got is not None and got >= sent:
                    out["wire"].append(got - sent)
                elif tap is not None:
                    untapped += 1
            if misses:
                print(f"  {backend}: {misses} triggers got no order within 1 s", file=sys.stderr)
            if untapped:
                print(
                    f"  {backend}: {untapped} triggers not seen whole by the tap", file=sys.stderr
                )
        finally:
            bot.send_signal(signal.SIGTERM)
            try:
                bot.wait(10)
            except subprocess.TimeoutExpired:
                bot.kill()
            if udp_orders is not None:
                udp_orders.close()
            if tap is not None:
                tap.close()
            await ex.close()
    return out


SO_TIMESTAMPNS = 35  # SOL_SOCKET; the control message type is the same number
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


class WireTap:
    """Kernel timestamps at the exchange's interface: the trigger leaving, the order arriving.

    An AF_PACKET socket with SO_TIMESTAMPNS on the exchange's interface sees frames where
    a tap on its link would (``dev_queue_xmit_nit`` out, ``netif_receive`` in), so "wire"
    tick-to-trade leaves out the exchange's own Python time at both ends, which "app"
    (the exchange's clock around ``flush()`` and the order callback) keeps. Triggers go
    one at a time, so after each order the captured frames hold one trigger and its order.
    """

    def __init__(self, iface: str, ouch_port: int) -> None:
        self.ouch_port = ouch_port
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind((iface, 0))
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.setblocking(False)

    def drain(self) -> tuple[int | None, int | None]:
        """(the last trigger out, the first order in) since the last call, in ns."""
        sent = got = None
        while True:
            try:
                frame, anc, _flags, addr = self.sock.recvmsg(65535, socket.CMSG_SPACE(16))
            except BlockingIOError:
                return sent, got
            kind = self._kind(frame, outgoing=addr[2] == PACKET_OUTGOING)
            if kind == "trigger":
                sent = _timestamp(anc)
            elif kind == "order" and got is None:
                got = _timestamp(anc)

    def _kind(self, frame: bytes, *, outgoing: bool) -> str | None:
        # Ethernet (lo has a zeroed one too) / IPv4 / UDP or TCP, parsed by tickwire.net
        cur = Cursor(frame)
        try:
            if parse_ethernet(cur).ethertype != ETHERTYPE_IPV4:
                return None
            proto = parse_ipv4(cur, truncated_ok=True).protocol
            if proto == IPPROTO_UDP:
                dport = parse_udp(cur).dst_port
            elif proto == IPPROTO_TCP:
                dport = parse_tcp(cur).dst_port
            else:
                return None
        except BadFrame:
            return None
        payload = cur.rest()
        if outgoing and proto == IPPROTO_UDP and dport == FEED_PORT:
            # The trigger's packet starts with its Add Order; heartbeats have no blocks and
            # the exchange's reports of the previous order's fill start otherwise.
            return "trigger" if payload[22:23] == b"A" else None
        if outgoing:
            return None
        if proto == IPPROTO_UDP and dport == ORDER_PORT:
            return "order"
        if proto == IPPROTO_TCP and dport == self.ouch_port:
            # SoupBinTCP packets in the segment: an Unsequenced Data 'U' carrying OUCH 'O'.
            data = payload
            while len(data) >= 4:
                n = int.from_bytes(data[:2], "big")
                if data[2:4] == b"UO":
                    return "order"
                data = data[2 + n :]
        return None

    def close(self) -> None:
        self.sock.close()


def _timestamp(ancdata: list[tuple[int, int, bytes]]) -> int | None:
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
            sec, nsec = struct.unpack("qq", data[:16])
            return int(sec) * 1_000_000_000 + int(nsec)
    return None


class _UdpOrders(asyncio.DatagramProtocol):
    """The exchange's UDP order port: times the arrival of MoldUDP64-framed Enter Orders."""

    def __init__(self, waiting: Callable[[], asyncio.Future[int] | None]) -> None:
        from tickwire.moldudp64.codec import parse_downstream
        from tickwire.ouch import v50

        self.waiting = waiting
        self.parse, self.v50 = parse_downstream, v50

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        t = time.perf_counter_ns()
        blocks = self.parse(data).messages
        v50 = self.v50
        if not (blocks and isinstance(v50.decode_inbound(blocks[0]), v50.EnterOrder)):
            raise ValueError(f"not an Enter Order: {data.hex()}")
        fut = self.waiting()
        if fut is not None and not fut.done():
            fut.set_result(t)


def machine_jitter(cpu: int | None, rounds: int = 4, busy: float = 0.4) -> dict[str, float]:
    """How often the machine takes the CPU from a pinned SCHED_FIFO loop that does nothing.

    Every gap between two clock reads longer than 10 us is time the loop did not run:
    interrupts, and on a VM the host descheduling the vCPU. A tick-to-trade sample that
    overlaps such a gap carries it whole, so their rate bounds the tail any backend can
    show here. Busy spells of ``busy`` seconds with sleeps between stay clear of the
    kernel's real-time throttling (which would idle the loop 50 ms every second).
    """
    affinity = os.sched_getaffinity(0)
    policy, param = os.sched_getscheduler(0), os.sched_getparam(0)
    gaps: list[int] = []
    clock = time.perf_counter_ns
    try:
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(FIFO_PRIORITY))
        for _ in range(rounds):
            prev = clock()
            end = prev + int(busy * 1e9)
            while prev < end:
                t = clock()
                if t - prev > 10_000:
                    gaps.append(t - prev)
                prev = t
            time.sleep(0.3)
    finally:
        os.sched_setscheduler(0, policy, param)
        os.sched_setaffinity(0, affinity)
    seconds = rounds * busy
    return {
        "per_s_10us": len(gaps) / seconds,
        "per_s_50us": sum(g > 50_000 for g in gaps) / seconds,
        "lost_share": sum(gaps) / (seconds * 1e9),
        "longest_us": max(gaps, default=0) / 1e3,
    }


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
    """The project's percentiles (tickwire.net.stats, nearest rank), in microseconds."""
    p = percentiles(samples)
    us = {k: (v or 0) / 1e3 for k, v in (("p50", p["p50"]), ("p99", p["p99"]),
                                          ("p99_9", p["p99_9"]), ("max", p["max"]))}  # fmt: skip
    return {"count": p["count"], **us, "tail_ratio": p["tail_ratio"] or 0.0}


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
    iface = VETH_X if args.path == "veth" else "lo"
    if args.pin:
        # The exchange (whose sendto runs the XDP path in its softirq on a veth) on the last
        # CPU, the trader on the first, each at SCHED_FIFO: what a latency-sensitive
        # deployment gives its processes, and fewer preemptions by everything else.
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[-1]})
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(FIFO_PRIORITY))
        prefix += ["taskset", "-c", str(cpus[0]), "chrt", "-f", str(FIFO_PRIORITY)]
    samples = run(measure(args.backend, host, bot, iface, prefix, args.triggers, args.warmup))
    Path(args.out).write_text(json.dumps(samples))


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--backend", default="reference,recv,xdp", help=f"comma list of {sorted(BACKENDS)}"
    )
    ap.add_argument("--path", default="loopback,veth", help="comma list: loopback, veth")
    ap.add_argument("--triggers", type=int, default=2000)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--plot", default="bench/out/tick_to_trade.png")
    ap.add_argument(
        "--role", default="main", choices=["main", "exchange", "recv-bot", "xdp-trader"]
    )
    ap.add_argument("--config", default=None)
    ap.add_argument(
        "--no-pin",
        dest="pin",
        action="store_false",
        help="do not pin the exchange and the trader to CPUs at SCHED_FIFO",
    )
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
    if args.role == "xdp-trader":
        xdp_trader(args.config)
        return
    backends = args.backend.split(",")
    for b in backends:
        if b not in BACKENDS:
            ap.error(f"unknown backend {b!r} (known: {sorted(BACKENDS)})")
    paths = args.path.split(",")
    if os.geteuid() != 0:
        args.pin = False  # SCHED_FIFO, like the veth path and the wire tap, needs root
    results: dict[tuple[str, str], dict[str, list[int]]] = {}
    for path in paths:
        if path == "veth":
            if os.geteuid() != 0:
                print("veth path needs root: skipped", file=sys.stderr)
                continue
            veth_up()
        try:
            for backend in backends:
                if path not in BACKENDS[backend].paths:
                    continue
                with tempfile.NamedTemporaryFile(suffix=".json") as tmp:
                    prefix = ["ip", "netns", "exec", NS_X] if path == "veth" else []
                    subprocess.run(
                        [*prefix, sys.executable, __file__, "--role", "exchange", "--backend",
                         backend, "--path", path, "--triggers", str(args.triggers), "--warmup",
                         str(args.warmup), "--out", tmp.name, *([] if args.pin else ["--no-pin"])],
                        check=True,
                    )  # fmt: skip
                    results[(backend, path)] = json.loads(Path(tmp.name).read_text())
        finally:
            if path == "veth":
                veth_down()
    pinned = "pinned, SCHED_FIFO" if args.pin else "not pinned"
    print(f"tick-to-trade, {args.triggers} triggers after {args.warmup} warm-up, {pinned} (us)")
    j = machine_jitter(sorted(os.sched_getaffinity(0))[-1] if args.pin else None)
    print(
        f"machine: a pinned loop that does nothing lost the CPU {j['per_s_10us']:.0f} times a "
        f"second for over 10 us, {j['per_s_50us']:.0f} for over 50 us (longest "
        f"{j['longest_us']:.0f} us, {100 * j['lost_share']:.1f}% of the time)"
    )
    for clock, what in (
        ("wire", "wire: kernel timestamps at the exchange's interface"),
        ("app", "app: the exchange's clock, its own Python time included"),
    ):
        print(f"\n{what}")
        print(
            f"{'backend':<11}{'path':<10}{'n':>6}{'P50':>9}{'P99':>9}{'P99.9':>9}{'max':>9}"
            f"{'tail':>7}  recv/this P50  P50 first/last 10%"
        )
        for (backend, path), result in results.items():
            samples = result[clock]
            s = stats(samples)
            base = stats(results.get(("recv", path), {}).get(clock, []))
            ratio = f"{base['p50'] / s['p50']:.2f}x" if base["p50"] and s["p50"] else "-"
            tenth = max(1, len(samples) // 10)  # drift over the run (state that grows per order)
            drift = f"{stats(samples[:tenth])['p50']:.0f}/{stats(samples[-tenth:])['p50']:.0f}"
            print(f"{backend:<11}{path:<10}{s['count']:>6}{s['p50']:>9.1f}{s['p99']:>9.1f}"
                  f"{s['p99_9']:>9.1f}{s['max']:>9.1f}{s['tail_ratio']:>7.2f}  {ratio:>13}  {drift}")  # fmt: skip
    if args.plot:
        _plot({k: v["wire"] or v["app"] for k, v in results.items()}, Path(args.plot))


if __name__ == "__main__":
    main()
