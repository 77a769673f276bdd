"""MoldUDP64 benchmarks: receiver core, end to end over loopback, recovery time, replay timing.

Run: ``uv run --no-sync python bench/bench_moldudp64.py`` (``--quick`` for a short run).

1. Messages/s through the sans-I/O ``Receiver`` for in-order packets of generated ITCH
   messages (~1,400-byte packets), against the same packets dissected by the construct
   reference layout and by scapy (our MoldUDP64 layer), measured in the same run; and
   what comparing copies costs ("Copies that differ" in the receiver's docs): the
   receiver with its default ``verify_window`` and with ``verify_window=0``, on one line
   and on lines A and B (every packet twice), alternated, CPU time
   (``--receiver-only`` runs this part alone).
2. End-to-end messages/s over loopback UDP (asyncio publisher + re-request server ->
   asyncio receiver), on uvloop and on the standard loop, without and with 5% seeded loss;
   reports messages lost (must be 0).
3. Recovery time after a gap (from the gap's detection to its last message delivered) in
   the 5%-loss run.
4. Replay timing accuracy at 1x: a capture with 1 ms between packets replayed to a
   loopback sink; send-time error percentiles.
5. Reading a capture: frames/s of ``read_pcap`` and ``MoldCapture`` against dpkt and scapy.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from tickwire.itch import encode
from tickwire.itch.generator import generate_day
from tickwire.moldudp64.aio import Line, MoldPublisher, MoldReceiver, have_uvloop, run
from tickwire.moldudp64.codec import DOWNSTREAM
from tickwire.moldudp64.events import Address, Event, GapDetected, Messages
from tickwire.moldudp64.publisher import PublisherConfig, ServerConfig, pack_messages
from tickwire.moldudp64.receiver import Receiver, ReceiverConfig
from tickwire.moldudp64.replay import capture_payloads, open_sender, replay
from tickwire.net import PcapWriter, build_udp_frame


def _best(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def _receive(packets: list[bytes], n: int, config: ReceiverConfig) -> None:
    rx = Receiver(config)
    receive = rx.receive
    got = 0
    for p in packets:
        for ev in receive(p, "A", 0.0):
            if type(ev) is Messages:
                got += len(ev.messages)
    assert got == n and rx.stats.conflicts == 0, got


def bench_verify(messages: list[bytes], rounds: int = 3) -> dict[str, list[float]]:
    """M msgs/s (CPU) of the receiver comparing copies (default ``verify_window``) and
    not (0), on one line and on A/B, each the best of 3, ``rounds`` alternations."""
    packets = pack_messages("BENCH", 1, messages, 1400)
    ab = [p for p in packets for _ in (0, 1)]
    n = len(messages)
    out: dict[str, list[float]] = {}
    for line, pkts in (("one line", packets), ("A/B", ab)):
        for _ in range(rounds):
            for label, window in (("verify", ReceiverConfig().verify_window), ("no verify", 0)):
                best = float("inf")
                for _ in range(3):
                    t = time.process_time()
                    _receive(pkts, n, ReceiverConfig(verify_window=window))
                    best = min(best, time.process_time() - t)
                out.setdefault(f"{line}, {label}", []).append(n / best / 1e6)
    return out


def bench_receiver(messages: list[bytes], repeat: int) -> dict[str, float]:
    packets = pack_messages("BENCH", 1, messages, 1400)
    n = len(messages)

    def ours() -> None:
        _receive(packets, n, ReceiverConfig())

    def construct_ref() -> None:
        got = 0
        for p in packets[: max(1, len(packets) // 10)]:
            got += len(DOWNSTREAM.parse(p).messages)

    t_ours = _best(ours, repeat)
    t_construct = _best(construct_ref, 1) * len(packets) / max(1, len(packets) // 10)
    out = {
        "packets": len(packets),
        "messages": n,
        "receiver_msgs_per_s": n / t_ours,
        "construct_msgs_per_s": n / t_construct,
    }
    try:
        import tickwire.moldudp64.scapy_layers as layers

        sample = packets[: max(1, len(packets) // 50)]
        t = time.perf_counter()
        got = 0
        for p in sample:
            got += len(layers.MoldUDP64(p).messages)
        t_scapy = (time.perf_counter() - t) * len(packets) / len(sample)
        out["scapy_msgs_per_s"] = n / t_scapy
    except ImportError:
        pass
    return out


class LossyPublisher(MoldPublisher):
    rng = random.Random(0)
    loss = 0.0
    dropped = 0

    def _send(self, data: bytes, addr: Address) -> None:
        if self.loss and self.rng.random() < self.loss:
            self.dropped += 1
            return
        super()._send(data, addr)


async def e2e(messages: list[bytes], loss: float) -> dict[str, float]:
    LossyPublisher.rng = random.Random(42)
    LossyPublisher.loss = loss
    pub = await LossyPublisher.create(
        PublisherConfig("E2E", heartbeat_interval=0.05, flush_interval=0.0005),
        ("127.0.0.1", 9),
        request_bind=("127.0.0.1", 0),
        server_config=ServerConfig(rate=100_000, burst=10_000),
    )
    assert isinstance(pub, LossyPublisher)
    pub.dropped = 0
    gap_open: dict[int, float] = {}
    recoveries: list[float] = []

    def on_event(ev: Event) -> None:
        if isinstance(ev, GapDetected):
            gap_open[ev.first + ev.count] = time.perf_counter()
        elif isinstance(ev, Messages) and gap_open:
            for end in [e for e in gap_open if e <= ev.next_sequence]:
                recoveries.append(time.perf_counter() - gap_open.pop(end))

    rx = await MoldReceiver.create(
        Line(port=0, host="127.0.0.1"),
        # Requests as fast as the server above allows (the receiver's default cap, 200 a
        # second, is the default server's per-address limit).
        config=ReceiverConfig(
            request_server=pub.request_address,
            start_sequence=1,
            retry_timeout=0.01,
            request_rate=100_000,
            request_burst=10_000,
        ),
        on_event=on_event,
    )
    pub.target = rx.local_addresses[0]
    n = len(messages)
    got = 0
    done = asyncio.Event()

    async def consume() -> None:
        nonlocal got
        async for ev in rx.events():
            if isinstance(ev, Messages):
                got += len(ev.messages)
                if got >= n:
                    done.set()
                    return

    task = asyncio.create_task(consume())
    t0 = time.perf_counter()
    for i in range(0, n, 2000):
        pub.publish_many(messages[i : i + 2000])
        await asyncio.sleep(0)  # let the receiver run: one process, one loop
    pub.flush()
    with contextlib.suppress(TimeoutError):  # a loss shows up as "lost" in the report
        await asyncio.wait_for(done.wait(), timeout=120)
    elapsed = time.perf_counter() - t0
    task.cancel()
    stats = rx.receiver.stats
    await rx.close()
    await pub.close()
    return {
        "messages": n,
        "delivered": got,
        "lost": n - got,
        "msgs_per_s": got / elapsed,
        "dropped_datagrams": pub.dropped,
        "requests": stats.requests_sent,
        "recovery_ms_p50": statistics.median(recoveries) * 1e3 if recoveries else 0.0,
        "recovery_ms_max": max(recoveries) * 1e3 if recoveries else 0.0,
        "gaps": len(recoveries),
    }


class EveryNth(MoldPublisher):
    """Drops every ``nth`` feed packet (answers to requests always get through)."""

    nth = 50
    sent = 0

    def _send(self, data: bytes, addr: Address) -> None:
        if addr == self.target:
            self.sent += 1
            if self.sent % self.nth == self.nth // 2:
                return
        super()._send(data, addr)


async def recovery(packets: int, nth: int) -> dict[str, float]:
    """Isolated single-packet gaps: time from detection to the gap's last message delivered."""
    pub = await EveryNth.create(
        PublisherConfig("GAPS", heartbeat_interval=0.05, flush_interval=0.0),
        ("127.0.0.1", 9),
        request_bind=("127.0.0.1", 0),
    )
    opened: dict[int, float] = {}
    times: list[float] = []

    def on_event(ev: Event) -> None:
        if isinstance(ev, GapDetected):
            opened[ev.first + ev.count] = time.perf_counter()
        elif isinstance(ev, Messages):
            for end in [e for e in opened if e <= ev.next_sequence]:
                times.append(time.perf_counter() - opened.pop(end))

    rx = await MoldReceiver.create(
        Line(port=0, host="127.0.0.1"),
        config=ReceiverConfig(request_server=pub.request_address, start_sequence=1),
        on_event=on_event,
    )
    pub.target = rx.local_addresses[0]
    msg = b"A" * 36
    for _ in range(packets):
        pub.publish_many([msg] * 10)
        pub.flush()
        await asyncio.sleep(0.002)  # isolated gaps: the next packet reveals the loss
    await asyncio.sleep(0.2)
    await rx.close()
    await pub.close()
    times.sort()
    return {
        "gaps": len(times),
        "p50_ms": times[len(times) // 2] * 1e3 if times else 0.0,
        "p99_ms": times[min(len(times) - 1, int(len(times) * 0.99))] * 1e3 if times else 0.0,
        "max_ms": times[-1] * 1e3 if times else 0.0,
        "request_delay_ms": ReceiverConfig().request_delay * 1e3,
    }


def bench_replay(packets: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "r.pcap"
        with PcapWriter(path) as w:
            for i in range(packets):
                payload = pack_messages("REPLAY", i + 1, [b"A" * 36] * 10, 1400)[0]
                frame = build_udp_frame(
                    payload, src_ip="198.18.0.1", dst_ip="198.18.0.2", src_port=1, dst_port=2
                )
                w.write(frame, timestamp_ns=1_000_000_000 + i * 1_000_000)  # 1 ms apart
        sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sink.bind(("127.0.0.1", 0))
        sink.settimeout(0.5)
        count = [0]

        def drain() -> None:
            try:
                while True:
                    sink.recv(2048)
                    count[0] += 1
            except TimeoutError:
                pass

        th = threading.Thread(target=drain, daemon=True)
        th.start()
        with open_sender(sink.getsockname()) as s:
            rep = replay(lambda: capture_payloads(str(path)), s, speed=1.0)
        th.join(5)
        sink.close()
    out: dict[str, float] = {
        "packets": rep.packets,
        "received": count[0],
        "elapsed_s": rep.elapsed_s,
    }
    out.update({f"err_us_{k}": v for k, v in rep.timing_error_us.items()})
    return out


def bench_pcap_read(messages: list[bytes]) -> dict[str, float]:
    """Frames/s reading a capture: ours (records, and MoldUDP64 packets) vs dpkt and scapy."""
    from tickwire.moldudp64.capture import MoldCapture
    from tickwire.net import read_pcap

    packets = pack_messages("READ", 1, messages, 1400)
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "big.pcap"
        with PcapWriter(path) as w:
            for i, p in enumerate(packets * 4):
                frame = build_udp_frame(
                    p, src_ip="198.18.0.1", dst_ip="198.18.0.2", src_port=1, dst_port=26477
                )
                w.write(frame, timestamp_ns=i * 1000)
        n = len(packets) * 4
        out["frames"] = n
        out["bytes"] = path.stat().st_size
        out["ours"] = n / _best(lambda: sum(1 for _ in read_pcap(path)), 3)
        out["ours_mold"] = n / _best(lambda: sum(1 for _ in MoldCapture(path)), 1)
        try:
            import dpkt

            def dp() -> None:
                with open(path, "rb") as f:
                    for _ in dpkt.pcap.Reader(f):
                        pass

            out["dpkt"] = n / _best(dp, 3)
        except ImportError:
            pass
        try:
            from scapy.utils import RawPcapReader

            def sc() -> None:
                for _ in RawPcapReader(str(path)):
                    pass

            out["scapy_raw"] = n / _best(sc, 1)
        except ImportError:
            pass
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--receiver-only", action="store_true", help="only part 1")
    args = ap.parse_args()
    n = 100_000 if args.quick else 400_000
    print(
        f"# machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, python {sys.version.split()[0]}"
    )
    t = time.perf_counter()
    base = [encode(m) for m in generate_day(min(n, 200_000), 500, 1)]
    messages = (base * (n // len(base) + 1))[:n]
    print(f"# {len(messages)} generated ITCH messages ({time.perf_counter() - t:.1f} s to make)")

    r = bench_receiver(messages, repeat=3)
    print("\n## 1. sans-I/O receiver, in-order packets")
    print(f"packets {r['packets']}, messages {r['messages']}")
    print(f"tickwire Receiver      {r['receiver_msgs_per_s'] / 1e6:8.2f} M msgs/s   1.00x")
    for k, label in (
        ("construct_msgs_per_s", "construct DOWNSTREAM"),
        ("scapy_msgs_per_s", "scapy MoldUDP64 layer"),
    ):
        if k in r:
            print(
                f"{label:22} {r[k] / 1e6:8.3f} M msgs/s   {r['receiver_msgs_per_s'] / r[k]:.0f}x slower"
            )
    print("\n## 1b. comparing copies: verify_window default against 0, CPU time, rounds")
    for label, rates in bench_verify(messages).items():
        print(f"{label:22} {' / '.join(f'{x:.2f}' for x in rates)} M msgs/s")
    if args.receiver_only:
        return 0

    print("\n## 2./3. end to end over loopback UDP (one process)")
    e2e_n = 100_000 if args.quick else 300_000
    loops = [("uvloop", True)] if have_uvloop() else []
    loops.append(("asyncio", False))
    results = {}
    for name, use in loops:
        for loss in (0.0, 0.05):
            res = run(e2e(messages[:e2e_n], loss), use_uvloop=use)
            results[(name, loss)] = res
            print(
                f"{name:8} loss {loss:4.0%}: {res['msgs_per_s'] / 1e3:8.0f} k msgs/s, "
                f"delivered {res['delivered']}/{res['messages']} (lost {res['lost']}), "
                f"datagrams dropped {res['dropped_datagrams']}, requests {res['requests']}, "
                f"gaps {res['gaps']}, recovery p50 {res['recovery_ms_p50']:.2f} ms "
                f"max {res['recovery_ms_max']:.2f} ms"
            )
    if ("uvloop", 0.0) in results:
        ratio = results[("uvloop", 0.0)]["msgs_per_s"] / results[("asyncio", 0.0)]["msgs_per_s"]
        print(f"uvloop / asyncio (no loss): {ratio:.2f}x")

    print("\n## 3b. recovery time of isolated single-packet gaps (loopback, 1 of 50 dropped)")
    for name, use in loops:
        rc = run(recovery(500 if args.quick else 1500, 50), use_uvloop=use)
        print(
            f"{name:8}: {rc['gaps']:.0f} gaps, detection -> filled p50 {rc['p50_ms']:.2f} ms, "
            f"p99 {rc['p99_ms']:.2f} ms, max {rc['max_ms']:.2f} ms "
            f"(includes the {rc['request_delay_ms']:.0f} ms reordering allowance)"
        )

    print("\n## 5. reading a capture (frames/s)")
    pr = bench_pcap_read(messages)
    print(f"{pr['frames']:.0f} frames, {pr['bytes'] / 1e6:.1f} MB")
    print(f"tickwire read_pcap          {pr['ours'] / 1e3:8.0f} k frames/s   1.00x")
    print(f"tickwire MoldCapture (+UDP, +MoldUDP64 parse) {pr['ours_mold'] / 1e3:8.0f} k frames/s")
    for k, label in (("dpkt", "dpkt.pcap.Reader"), ("scapy_raw", "scapy RawPcapReader")):
        if k in pr:
            print(f"{label:27} {pr[k] / 1e3:8.0f} k frames/s   ours {pr['ours'] / pr[k]:.1f}x")

    print("\n## 4. replay timing at 1x (1 ms between packets)")
    rp = bench_replay(500 if args.quick else 2000)
    print(
        f"sent {rp['packets']:.0f}, received {rp['received']:.0f}, elapsed {rp['elapsed_s']:.3f} s; "
        f"error us p50 {rp.get('err_us_p50', 0):.1f} p99 {rp.get('err_us_p99', 0):.1f} "
        f"p99.9 {rp.get('err_us_p99_9', 0):.1f} max {rp.get('err_us_max', 0):.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
