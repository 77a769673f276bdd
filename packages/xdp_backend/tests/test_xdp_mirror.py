"""The mirror as a feed source: ``MirrorFeed`` hands the frames XDP copied to its ring buffer
to a MoldUDP64 receiver, and ``live --xdp-mirror`` makes the live engine see every message.

The unit tests put real records in the ring buffer by running frames through the loaded
program (BPF_PROG_TEST_RUN). The end-to-end test attaches the program to a veth end in a
namespace, publishes from the simulated exchange in the peer namespace and runs the live
engine (``python -m tickwire.engine live``) next to the program.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tickwire.engine.live import LiveConfig, LiveEngine, MirrorError
from tickwire.engine.strategy.taker import ThresholdTaker
from tickwire.exchange import Exchange, ExchangeConfig
from tickwire.itch import AddOrder, AddOrderMPID, Message, StockDirectory
from tickwire.itch.generator import generate_day
from tickwire.moldudp64.aio import Line, MoldReceiver, run
from tickwire.moldudp64.events import Event, GapDetected
from tickwire.moldudp64.receiver import ReceiverConfig
from tickwire.net import parse_udp_frame
from tickwire.threshold.config import InstrumentConfig, ThresholdConfig, parse_config
from tickwire.threshold.reference import ThresholdEngine
from tickwire.threshold.testing import FEED_DST_IP, add_order, feed_frame
from tickwire.xdp import XDP_PASS, XDP_TX, MirrorFeed, XdpError, XdpProgram, layout
from tickwire.xdp.netns import VethPair, in_netns
from tickwire.xdp.program import PASS_PROGRAM_NAME

FEED_PORT = 26477
ORDER_PORT = 26400
CONFIG = ThresholdConfig(
    armed=True,
    max_orders=100,
    first_user_ref_num=1,
    feed_port=FEED_PORT,
    order_port=ORDER_PORT,
    order_session="TWORDERS01",
    instruments=(InstrumentConfig(13, "AAPL", 1_500_000, 100, 100, 100, 1000, 5000, 10**12),),
)
WAIT = 2.0  # seconds for something that must happen


def _frame(sequence: int, *, trigger: bool = False, **kw: Any) -> bytes:
    """A one-message feed frame; a sell at 149.00 triggers CONFIG, a buy does not."""
    side = "S" if trigger else "B"
    return feed_frame([add_order(13, side, 1_490_000, ref=sequence)], sequence=sequence, **kw)


def _message(frame: bytes) -> bytes:
    """The one ITCH message of a ``_frame``."""
    return parse_udp_frame(frame).payload[22:]


class _Rx:
    """A MoldReceiver on loopback recording its events, from sequence 1, no re-requests."""

    def __init__(self, rx: MoldReceiver, events: list[Event]) -> None:
        self.rx = rx
        self.events = events

    @classmethod
    async def create(cls) -> _Rx:
        events: list[Event] = []
        rx = await MoldReceiver.create(
            Line(port=0, host="127.0.0.1"),
            # Pinned to feed_frame's session: adopted on its first packet (unpinned, a
            # session needs two packets, docs/robustness.md section 2).
            config=ReceiverConfig(session="FEED000001", start_sequence=1),
            on_event=events.append,
        )
        return cls(rx, events)

    async def until(self, sequence: int) -> list[tuple[int, bytes]]:
        """Messages up to ``sequence``, within WAIT seconds."""
        got: list[tuple[int, bytes]] = []

        async def take() -> None:
            async for _session, seq, msg in self.rx.messages():
                got.append((seq, msg))
                if seq >= sequence:
                    return

        await asyncio.wait_for(take(), WAIT)
        return got

    @property
    def gaps(self) -> list[GapDetected]:
        return [e for e in self.events if isinstance(e, GapDetected)]


# -- the adapter, on records BPF_PROG_TEST_RUN put in the ring buffer ---------------------
@pytest.mark.parametrize("use_uvloop", [True, False])
def test_mirrored_frames_reach_the_receiver(program: XdpProgram, use_uvloop: bool) -> None:
    program.configure(CONFIG, mirror=layout.MIRROR_ALL)
    frames = [_frame(1), _frame(2, trigger=True), _frame(3)]

    async def main() -> tuple[list[tuple[int, bytes]], dict[str, int], _Rx]:
        rx = await _Rx.create()
        with MirrorFeed(program) as mirror:
            assert mirror.port == FEED_PORT
            mirror.start(rx.rx)
            verdicts = [program.test_run(f).retval for f in frames]
            assert verdicts == [XDP_PASS, XDP_TX, XDP_PASS]
            # Nothing drains explicitly: the ring buffer's epoll fd wakes the loop.
            got = await rx.until(3)
            snap = mirror.snapshot()
        await rx.rx.close()
        return got, snap, rx

    got, snap, rx = run(main(), use_uvloop=use_uvloop)
    assert got == [(i, _message(f)) for i, f in enumerate(frames, start=1)]
    del snap["stale"]  # whatever earlier tests left in the session's ring buffer
    assert snap == {"frames": 3, "ordered": 1, "cut": 0, "ignored": 0, "bad": 0, "dropped": 0,
                    "held": 0}  # fmt: skip
    assert rx.gaps == []


def test_cut_foreign_and_bad_frames_are_counted_and_skipped(program: XdpProgram) -> None:
    program.configure(CONFIG, mirror=layout.MIRROR_ALL)
    # 2,600 bytes of frame: the mirror keeps 2,048 of them.
    long = feed_frame([b"S" + b"\x00" * 2_500], sequence=1)
    other_host = _frame(1, dst_ip="198.18.0.77")
    bad = bytearray(_frame(1))
    bad[38:40] = (4).to_bytes(2, "big")  # a UDP length below its own header
    other_port = _frame(1, dst_port=FEED_PORT + 1)
    good = _frame(1)

    async def main() -> tuple[MirrorFeed, _Rx]:
        rx = await _Rx.create()
        mirror = MirrorFeed(program, address=FEED_DST_IP)
        mirror.start(rx.rx)
        for frame in (long, other_host, bytes(bad)):
            program.test_run(frame)
        # The program mirrors the frames of its feed port only; moved to another port,
        # it copies frames this feed (opened for the old port) must not take.
        program.configure(
            dataclasses.replace(CONFIG, feed_port=FEED_PORT + 1), mirror=layout.MIRROR_ALL
        )
        program.test_run(other_port)
        program.configure(CONFIG, mirror=layout.MIRROR_ALL)
        program.test_run(good)
        got = await rx.until(1)
        assert got == [(1, _message(good))]
        mirror.close()
        await rx.rx.close()
        return mirror, rx

    mirror, rx = run(main())
    assert program.raw_stats().mirrored == 1  # counters restart with each configure
    st = mirror.stats
    assert (st.frames, st.cut, st.ignored, st.bad) == (1, 1, 2, 1)
    assert rx.rx.receiver.stats.packets == 1  # only the good frame reached the receiver
    assert mirror.snapshot()["dropped"] == 0  # readable after close


def test_copies_are_merged_with_the_socket_in_sequence_order(program: XdpProgram) -> None:
    """The kernel passed 1, copied 2 (an order), passed 3: whichever queue the loop reads
    first, the receiver gets 1, 2, 3 and never reports a gap."""
    program.configure(CONFIG, mirror=layout.MIRROR_ORDERS)
    frames = [_frame(1), _frame(2, trigger=True), _frame(3)]

    async def main() -> tuple[list[tuple[int, bytes]], MirrorFeed, _Rx]:
        rx = await _Rx.create()
        mirror = MirrorFeed(program)
        mirror.start(rx.rx)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            target = rx.rx.local_addresses[0]
            # All three before the loop runs again: both queues are ready at once.
            tx.sendto(parse_udp_frame(frames[0]).payload, target)
            assert program.test_run(frames[1]).retval == XDP_TX
            tx.sendto(parse_udp_frame(frames[2]).payload, target)
            got = await rx.until(3)
        mirror.close()
        await rx.rx.close()
        return got, mirror, rx

    for use_uvloop in (True, False):
        got, mirror, rx = run(main(), use_uvloop=use_uvloop)
        assert got == [(i, _message(f)) for i, f in enumerate(frames, start=1)]
        assert rx.gaps == []
        assert (mirror.stats.frames, mirror.stats.ordered) == (1, 1)


def test_a_copy_after_a_lost_packet_is_handed_over_after_the_hold(program: XdpProgram) -> None:
    """Packet 2 was lost on the wire: the copy of 3 waits ``hold`` for it, then goes to the
    receiver, whose gap recovery takes over."""
    program.configure(CONFIG, mirror=layout.MIRROR_ORDERS)

    async def main() -> tuple[_Rx, float]:
        rx = await _Rx.create()
        mirror = MirrorFeed(program, hold=0.05)
        mirror.start(rx.rx)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            tx.sendto(parse_udp_frame(_frame(1)).payload, rx.rx.local_addresses[0])
            await rx.until(1)
        t0 = asyncio.get_running_loop().time()
        assert program.test_run(_frame(3, trigger=True)).retval == XDP_TX
        end = t0 + WAIT
        while not rx.gaps and asyncio.get_running_loop().time() < end:
            await asyncio.sleep(0.005)
        waited = asyncio.get_running_loop().time() - t0
        mirror.close()
        await rx.rx.close()
        return rx, waited

    rx, waited = run(main())
    # From 2 to the end known, 3 included: it is buffered behind the hole.
    assert [(g.first, g.count) for g in rx.gaps] == [(2, 2)]
    assert waited >= 0.04


def test_frames_copied_before_the_feed_opened_are_discarded(program: XdpProgram) -> None:
    program.configure(CONFIG, mirror=layout.MIRROR_ALL)
    reader = program.mirror_reader()
    reader.consume()  # what earlier tests left
    reader.close()
    for seq in (1, 2):
        program.test_run(_frame(seq, session="OLDSESSION"))
    with MirrorFeed(program) as mirror:
        assert mirror.stats.stale == 2
        assert mirror.drain() == 0  # not started: nothing to hand to


def test_a_program_that_mirrors_nothing_is_refused(program: XdpProgram) -> None:
    program.configure(CONFIG, mirror=layout.MIRROR_NONE)
    with pytest.raises(XdpError, match="mirror mode none"):
        MirrorFeed(program)


# -- opening the pins of an attached program -------------------------------------------------
@pytest.fixture
def pinned(pin: Callable[[ThresholdConfig], str]) -> str:
    return pin(CONFIG)


def test_open_reads_the_feed_port_of_the_pinned_program(pinned: str) -> None:
    with MirrorFeed.open(pinned) as mirror:
        assert mirror.port == FEED_PORT
        assert mirror.snapshot()["dropped"] == 0


def test_open_without_pins_says_to_attach() -> None:
    with pytest.raises(
        XdpError, match=r"attach a program first with `python -m tickwire.xdp attach"
    ):
        MirrorFeed.open("twxnothere")


#: Run by a fresh interpreter: it imports as root, drops to nobody, then tries to open.
OPEN_AS_NOBODY = """
import os, sys
from tickwire.xdp import MirrorFeed, XdpError
os.setgroups([])
os.setgid(65534)
os.setuid(65534)
try:
    MirrorFeed.open(sys.argv[1])
    print("opened")
except XdpError as exc:
    print(exc)
"""


def test_open_as_non_root_says_root_is_needed(pinned: str) -> None:
    """A new process, not ``os.fork()``: this one has threads (other tests leave them),
    and a forked child of a threaded process can deadlock on a lock held at the fork
    (Python 3.12 and later say so with a DeprecationWarning)."""
    proc = subprocess.run(
        [sys.executable, "-c", OPEN_AS_NOBODY, pinned],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    message = proc.stdout.strip()
    assert message.startswith(f"the pins of {pinned} under ") and "run as root" in message


def test_live_engine_refuses_a_mirror_for_another_feed_port(pinned: str) -> None:
    config = LiveConfig(feed=("127.0.0.1", FEED_PORT + 1), ouch=("127.0.0.1", 9),
                        xdp_mirror=pinned)  # fmt: skip
    engine = LiveEngine(ThresholdTaker(), config)
    with pytest.raises(MirrorError, match=f"watches feed port {FEED_PORT}, the engine listens"):
        run(engine.start())
    assert engine.receiver is None  # refused before any socket was opened


def test_live_xdp_mirror_without_pins_is_a_usage_error() -> None:
    """Refused before any socket is opened (nothing listens at the OUCH address)."""
    proc = subprocess.run(
        [sys.executable, "-m", "tickwire.engine", "live", "--feed", "127.0.0.1:26477",
         "--ouch", "127.0.0.1:9", "--xdp-mirror", "twxnothere"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert (
        "tickwire-engine live: error: --xdp-mirror twxnothere: nothing attached to 'twxnothere'"
        in proc.stderr
    )


# -- end to end: exchange -> veth -> XDP -> live engine ----------------------------------------
MESSAGES = 3_000
SYMBOLS = 4
DAY_SEED = 5
RATE = 10_000.0  # messages a second: 150 packets of 20 in 0.3 s
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def _cli_ok(ns: str, *args: str) -> str:
    # nsenter switches the network namespace only, so /sys/fs/bpf stays the host's.
    proc = subprocess.run(
        ["nsenter", f"--net=/run/netns/{ns}", sys.executable, "-m", "tickwire.xdp", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _threshold_toml(flow: list[Message]) -> str:
    """Watch the busiest instrument, with a limit a quarter of its sell adds are under."""
    sells: dict[int, list[int]] = {}
    symbols: dict[int, str] = {}
    for m in flow:
        if isinstance(m, StockDirectory):
            symbols[m.stock_locate] = m.stock
        elif isinstance(m, AddOrder | AddOrderMPID) and m.buy_sell_indicator == "S":
            sells.setdefault(m.stock_locate, []).append(m.price)
    locate = max(sells, key=lambda k: len(sells[k]))
    prices = sorted(sells[locate])
    return f"""
armed = true
max_orders = 1000000
first_user_ref_num = 1
feed_port = {FEED_PORT}
order_port = {ORDER_PORT}
order_session = "TWORDERS01"

[[instrument]]
locate = {locate}
symbol = "{symbols[locate]}"
limit_price = {prices[len(prices) // 4]}
base_qty = 100
step_qty = 0
tick = 100
max_order_qty = 100
max_position = 1000000000000
max_notional = 1000000000000000000
"""


class _Tap:
    """An AF_PACKET socket on one veth end, keeping the feed frames seen in one direction."""

    def __init__(self, ns: str, iface: str, *, outgoing: bool) -> None:
        with in_netns(ns):
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            self.sock.bind((iface, 0))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.setblocking(False)
        self.outgoing = outgoing
        self.frames: list[bytes] = []

    def read(self) -> None:
        while True:
            try:
                data, addr = self.sock.recvfrom(65535)
            except BlockingIOError:
                return
            if (addr[2] == PACKET_OUTGOING) != self.outgoing:
                continue
            try:
                udp = parse_udp_frame(data)
            except ValueError:
                continue  # ARP, IPv6 neighbour discovery, TCP is not UDP either
            if udp.dst_port == FEED_PORT:
                self.frames.append(data)

    def close(self) -> None:
        self.sock.close()


async def _session(
    net: VethPair, flow: list[Message], tmp: Path, mirror: bool
) -> tuple[dict[str, Any], int, _Tap, _Tap, int]:
    """One trading session; returns the engine's report, the messages published, the taps
    on both veth ends and the order frames that reached the peer."""
    loop = asyncio.get_running_loop()
    sent = _Tap(net.ns_peer, net.if_peer, outgoing=True)
    seen = _Tap(net.ns_xdp, net.if_xdp, outgoing=False)
    for tap in (sent, seen):
        loop.add_reader(tap.sock.fileno(), tap.read)
    with in_netns(net.ns_peer):
        orders_udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        orders_udp.bind((net.ip_peer, ORDER_PORT))
        orders_udp.setblocking(False)
        ex = await Exchange.start(
            ExchangeConfig(feed_target=(net.ip_xdp, FEED_PORT), host=net.ip_peer)
        )
    ctl, report = tmp / f"ctl-{mirror}.sock", tmp / f"report-{mirror}.json"
    cmd = [
        "nsenter", f"--net=/run/netns/{net.ns_xdp}", sys.executable, "-m", "tickwire.engine",
        "live", "--feed", f"{net.ip_xdp}:{FEED_PORT}",
        "--rerequest", f"{net.ip_peer}:{ex.rerequest_address[1]}",
        "--ouch", f"{net.ip_peer}:{ex.ouch50_port}",
        "--control", str(ctl), "--json", str(report),
    ]  # fmt: skip
    if mirror:
        cmd += ["--xdp-mirror", net.if_xdp]
    engine = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not ctl.exists():  # the control socket is the last thing start() opens
            assert engine.poll() is None, engine.communicate()[1]
            assert time.monotonic() < deadline, "the engine did not start"
            await asyncio.sleep(0.05)
        await asyncio.wait_for(ex.run_flow(iter(flow), rate=RATE), 30)
        await asyncio.sleep(0.3)  # the engine's last orders and their answers
        published = ex.published
        assert ex.feed is not None
        await ex.feed.end_session()  # the engine stops at the end of session
        deadline = time.monotonic() + 30
        while engine.poll() is None:
            assert time.monotonic() < deadline, "the engine did not stop"
            await asyncio.sleep(0.05)
        _out, err = engine.communicate()
        assert engine.returncode == 0, err
    finally:
        if engine.poll() is None:
            engine.kill()
            engine.wait()
        await ex.close()
        for tap in (sent, seen):
            loop.remove_reader(tap.sock.fileno())
            tap.read()
            tap.close()
    orders = 0
    while True:
        try:
            orders_udp.recv(2048)
        except BlockingIOError:
            break
        orders += 1
    orders_udp.close()
    return json.loads(report.read_text()), published, sent, seen, orders


@pytest.mark.network
@pytest.mark.parametrize("mode", ["generic", "native"])
def test_live_engine_sees_every_message_with_the_mirror(
    veth: VethPair, tmp_path: Path, mode: str
) -> None:
    net = veth
    flow = list(generate_day(MESSAGES, SYMBOLS, DAY_SEED))
    toml = _threshold_toml(flow)
    (tmp_path / "threshold.toml").write_text(toml)
    peer_pass = None
    if mode == "native":
        # A veth delivers XDP_TX frames only to a peer running XDP (its NAPI on).
        peer_pass = XdpProgram.load(program=PASS_PROGRAM_NAME)
        with in_netns(net.ns_peer):
            peer_pass.attach(net.if_peer, "native")
    _cli_ok(net.ns_xdp, "attach", net.if_xdp, "--config", str(tmp_path / "threshold.toml"),
            "--mode", mode)  # fmt: skip
    pinned = XdpProgram.open_pinned(net.if_xdp)
    try:
        for mirror in (True, False):
            before = pinned.raw_stats()
            report, published, sent, seen, order_frames = asyncio.run(
                _session(net, flow, tmp_path, mirror)
            )
            after = pinned.raw_stats()
            ordered = after.orders - before.orders
            feed = report["feed"]
            assert feed["end_of_session"] is True
            # Every sequence number reached the strategy, in both runs.
            assert feed["messages"] == published

            # The frames turned into orders never reached the XDP end's stack (so neither
            # its socket): exactly the frames the reference engine turns into orders.
            assert 0 < ordered < len(sent.frames)
            assert order_frames == ordered
            reference = ThresholdEngine(parse_config(toml))
            triggering = [f for f in sent.frames if reference.feed(f)]
            missing = list((Counter(sent.frames) - Counter(seen.frames)).elements())
            assert sorted(missing) == sorted(triggering)
            assert len(missing) == ordered
            assert after.mirror_dropped == 0

            if mirror:
                assert (feed["gaps"], feed["requests"], feed["messages_requested"]) == (0, 0, 0)
                m = feed["mirror"]
                assert (m["frames"], m["ordered"]) == (ordered, ordered)
                assert (m["cut"], m["ignored"], m["bad"], m["dropped"], m["held"]) == (0,) * 5
            else:
                # The same session without the mirror: every ordered frame is a gap,
                # recovered only through the re-request server.
                assert feed["mirror"] is None
                assert feed["gaps"] > 0 and feed["requests"] > 0
                assert feed["messages_requested"] >= ordered
    finally:
        pinned.close()
        _cli_ok(net.ns_xdp, "detach", net.if_xdp)
        if peer_pass is not None:
            peer_pass.close()
