"""End to end: the program attached to a veth in its own namespace, driven by the CLI.

A sender in the peer namespace writes raw Ethernet frames (AF_PACKET) at the XDP end.
Triggering frames must come back as order frames, byte-identical to the reference
engine's, decodable by tickwire.moldudp64 and tickwire.ouch.v50 and by Wireshark's
MoldUDP64 dissector, and accepted by the peer's own UDP stack; non-triggering frames
must reach the XDP end's stack; ``disarm`` must stop orders on the very next frame.
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tickwire.itch import OrderDelete, encode
from tickwire.moldudp64.codec import parse_downstream
from tickwire.net import PcapWriter, parse_udp_frame
from tickwire.ouch import v50
from tickwire.threshold import ThresholdEngine, ThresholdStats
from tickwire.threshold.config import parse_config
from tickwire.threshold.testing import add_order, feed_frame
from tickwire.xdp import XdpProgram
from tickwire.xdp.netns import VethPair, in_netns
from tickwire.xdp.program import PASS_PROGRAM_NAME

FEED_PORT = 26477
ORDER_PORT = 26400
CONFIG = f"""
armed = true
max_orders = 100
first_user_ref_num = 7
feed_port = {FEED_PORT}
order_port = {ORDER_PORT}
order_session = "TWORDERS01"

[[instrument]]
locate = 13
symbol = "AAPL"
limit_price = 1500000
base_qty = 100
step_qty = 100
tick = 100
max_order_qty = 1000
max_position = 5000
max_notional = 500000000000
"""
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
FILLER = encode(OrderDelete(13, 0, 0, 42))
WAIT = 2.0  # seconds to wait for a frame that must arrive
QUIET = 0.3  # seconds of silence that show a frame did not arrive


def _cli(ns: str, *args: str) -> subprocess.CompletedProcess[str]:
    # nsenter switches the network namespace only, so /sys/fs/bpf stays the host's.
    return subprocess.run(
        ["nsenter", f"--net=/run/netns/{ns}", sys.executable, "-m", "tickwire.xdp", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _cli_ok(ns: str, *args: str) -> str:
    proc = _cli(ns, *args)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


class _Wire:
    """The sockets of the test: raw send/receive on the peer, UDP listeners on both sides."""

    def __init__(self, net: VethPair) -> None:
        self.net = net
        with in_netns(net.ns_peer):
            self.raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            self.raw.bind((net.if_peer, 0))
            self.orders_udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.orders_udp.bind((net.ip_peer, ORDER_PORT))
        with in_netns(net.ns_xdp):
            self.feed_udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.feed_udp.bind((net.ip_xdp, FEED_PORT))

    def frame(self, blocks: list[bytes], sequence: int) -> bytes:
        n = self.net
        return feed_frame(
            blocks,
            sequence=sequence,
            src_mac=n.mac_peer,
            dst_mac=n.mac_xdp,
            src_ip=n.ip_peer,
            dst_ip=n.ip_xdp,
        )

    def send(self, frame: bytes) -> None:
        self.raw.send(frame)

    def order_frame(self, timeout: float) -> bytes | None:
        """The next frame to the order port arriving at the peer, or None."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            if not select.select([self.raw], [], [], left)[0]:
                return None
            data, addr = self.raw.recvfrom(65535)
            if addr[2] == PACKET_OUTGOING:
                continue  # our own sends
            try:
                udp = parse_udp_frame(data)
            except ValueError:
                continue  # IPv6 neighbour discovery and the like
            if udp.dst_port == ORDER_PORT:
                return data
        return None

    @staticmethod
    def datagram(sock: socket.socket, timeout: float) -> bytes | None:
        if not select.select([sock], [], [], timeout)[0]:
            return None
        return sock.recv(65535)

    def close(self) -> None:
        for s in (self.raw, self.orders_udp, self.feed_udp):
            s.close()


def _tshark_fields(pcap: Path) -> list[list[str]]:
    proc = subprocess.run(
        [
            "tshark",
            "-r",
            str(pcap),
            "-d",
            f"udp.port=={ORDER_PORT},moldudp64",
            "-T",
            "fields",
            "-E",
            "separator=|",
            "-e",
            "moldudp64.session",
            "-e",
            "moldudp64.sequence",
            "-e",
            "moldudp64.count",
            "-e",
            "moldudp64.msglen",
            "-e",
            "moldudp64.msgdata",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return [line.split("|") for line in proc.stdout.splitlines()]


@pytest.mark.network
@pytest.mark.tshark
@pytest.mark.parametrize("mode", ["generic", "native"])
def test_xdp_end_to_end(veth: VethPair, tmp_path: Path, mode: str) -> None:
    net = veth
    config_file = tmp_path / "threshold.toml"
    config_file.write_text(CONFIG)
    config = parse_config(CONFIG)
    reference = ThresholdEngine(config)
    peer_pass = None
    if mode == "native":
        # A veth delivers XDP_TX frames only to a peer running XDP (its NAPI on).
        peer_pass = XdpProgram.load(program=PASS_PROGRAM_NAME)
        with in_netns(net.ns_peer):
            peer_pass.attach(net.if_peer, "native")
    out = _cli_ok(net.ns_xdp, "attach", net.if_xdp, "--config", str(config_file), "--mode", mode)
    assert f"attached to {net.if_xdp} ({mode})" in out
    wire = _Wire(net)
    try:
        orders: list[bytes] = []
        triggering: list[bytes] = []  # the frames the stack never sees
        seq = 0

        # Triggers, one per frame, each behind a non-triggering message.
        for price in (1_490_000, 1_400_000, 1_500_000):
            seq += 2
            frame = wire.frame([FILLER, add_order(13, "S", price)], seq)
            (expected,) = reference.feed(frame)
            wire.send(frame)
            triggering.append(frame)
            got = wire.order_frame(WAIT)
            assert got == expected
            orders.append(got)
            # The peer's own stack accepts it: valid IPv4 checksum, lengths, addresses.
            assert wire.datagram(wire.orders_udp, WAIT) == expected[42:]

        # Non-triggering traffic reaches the stack of the XDP end, untouched.
        for blocks in ([add_order(13, "B", 1_490_000)], [add_order(13, "S", 1_600_000)], [FILLER]):
            seq += 1
            frame = wire.frame(blocks, seq)
            assert reference.feed(frame) == []
            wire.send(frame)
            assert wire.datagram(wire.feed_udp, WAIT) == frame[42:]
        assert wire.order_frame(QUIET) is None

        # The kill switch: the very next trigger is refused and passed to the stack.
        _cli_ok(net.ns_xdp, "disarm", net.if_xdp)
        frame = wire.frame([add_order(13, "S", 1_490_000)], seq + 1)
        wire.send(frame)
        assert wire.datagram(wire.feed_udp, WAIT) == frame[42:]
        assert wire.order_frame(QUIET) is None

        # Re-armed, with a lower limit set from the CLI: 1,490,000 no longer triggers,
        # 900,000 does.
        _cli_ok(net.ns_xdp, "arm", net.if_xdp)
        _cli_ok(net.ns_xdp, "set", net.if_xdp, "--locate", "13", "--limit-price", "1000000")
        wire.send(wire.frame([add_order(13, "S", 1_490_000)], seq + 2))
        assert wire.datagram(wire.feed_udp, WAIT) is not None
        frame = wire.frame([add_order(13, "S", 900_000)], seq + 3)
        wire.send(frame)
        triggering.append(frame)
        got = wire.order_frame(WAIT)
        assert got is not None
        orders.append(got)

        # Userspace still sees every market data frame: those turned into orders were
        # copied, whole and before the rewrite, to the pinned ring buffer.
        with XdpProgram.open_pinned(net.if_xdp) as pinned:
            reader = pinned.mirror_reader()
            try:
                mirrored = reader.consume()
            finally:
                reader.close()
        assert [(m.data, m.ordered) for m in mirrored] == [(f, True) for f in triggering]

        # Decoded by the project's codecs.
        for i, frame in enumerate(orders, start=1):
            udp = parse_udp_frame(frame, verify=True)
            assert (udp.src_port, udp.dst_port) == (FEED_PORT, ORDER_PORT)
            packet = parse_downstream(udp.payload)
            assert (packet.session, packet.sequence, len(packet.messages)) == ("TWORDERS01", i, 1)
            order = v50.decode_inbound(packet.messages[0])
            assert isinstance(order, v50.EnterOrder)
            assert order.user_ref_num == 6 + i
            assert order.cl_ord_id == f"TW{6 + i:012d}"
            assert (order.side, order.symbol, order.time_in_force) == ("B", "AAPL", "3")
        # 1,000,000 - 900,000 = 100 ticks: 100 + 100 * 100 capped at 1000 shares.
        last = v50.decode_inbound(parse_downstream(parse_udp_frame(orders[-1]).payload).messages[0])
        assert isinstance(last, v50.EnterOrder)
        assert last.quantity == 1000

        # And by Wireshark's MoldUDP64 dissector.
        pcap = tmp_path / "orders.pcap"
        with PcapWriter(pcap) as writer:
            for frame in orders:
                writer.write(frame)
        rows = _tshark_fields(pcap)
        assert len(rows) == len(orders)
        for i, (row, frame) in enumerate(zip(rows, orders, strict=True), start=1):
            session, sequence, count, msglen, msgdata = row
            assert (session.strip(), int(sequence), int(count), int(msglen)) == (
                "TWORDERS01",
                i,
                1,
                47,
            )
            assert bytes.fromhex(msgdata.replace(":", "")) == frame[64:111]

        # The live statistics, through the CLI.
        stats = ThresholdStats.from_dict(
            json.loads(_cli_ok(net.ns_xdp, "stats", net.if_xdp, "--json"))
        )
        assert stats.orders == 4
        assert stats.refused["killed"] == 1
        assert stats.triggers == 5
        text = _cli_ok(net.ns_xdp, "stats", net.if_xdp)
        assert "orders 4" in text
    finally:
        wire.close()
        proc = _cli(net.ns_xdp, "detach", net.if_xdp)
        if peer_pass is not None:
            peer_pass.close()
    assert proc.returncode == 0, proc.stderr
    assert f"detached from {net.if_xdp} ({mode})" in proc.stdout
    assert not (Path("/sys/fs/bpf/tickwire") / net.if_xdp).exists()
