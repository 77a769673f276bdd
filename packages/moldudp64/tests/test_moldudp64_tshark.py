"""What we write is what Wireshark's own ``moldudp64`` dissector reads."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from tickwire.moldudp64 import DownstreamPacket
from tickwire.moldudp64.capture import MoldCapture
from tickwire.net import PcapWriter, build_udp_frame

pytestmark = [
    pytest.mark.tshark,
    pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed"),
]

PORT = 30123


def tshark_fields(path: Path, port: int) -> list[tuple[str, int, int, list[int]]]:
    out = subprocess.run(
        [
            "tshark",
            "-n",
            "-r",
            str(path),
            "-d",
            f"udp.port=={port},moldudp64",
            "-T",
            "fields",
            "-E",
            "separator=\t",
            "-e",
            "moldudp64.session",
            "-e",
            "moldudp64.sequence",
            "-e",
            "moldudp64.count",
            "-e",
            "moldudp64.msglen",
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    rows = []
    for line in out.splitlines():
        session, seq, count, lens = line.split("\t")
        rows.append(
            (session, int(seq), int(count), [int(x) for x in lens.split(",")] if lens else [])
        )
    return rows


def test_tshark_reads_our_packets(tmp_path: Path) -> None:
    packets = [
        DownstreamPacket.heartbeat("TWTEST0001", 1),
        DownstreamPacket("TWTEST0001", 1, (b"A" * 36,)),
        DownstreamPacket("TWTEST0001", 2, tuple(bytes([65 + i]) * (i + 1) for i in range(20))),
        DownstreamPacket("TWTEST0001", 22, (b"",)),
        DownstreamPacket("SHORT", 23, (b"x" * 1000, b"y")),
        DownstreamPacket.heartbeat("TWTEST0001", 25),
        DownstreamPacket.end_of_session_packet("TWTEST0001", 25),
    ]
    path = tmp_path / "ours.pcap"
    with PcapWriter(path) as w:
        for i, p in enumerate(packets):
            frame = build_udp_frame(
                p.build(),
                src_ip="198.18.0.1",
                dst_ip="198.18.0.2",
                src_port=40000,
                dst_port=PORT,
                vlan_tci=100 if i % 2 else None,
                options=b"\x94\x04\x00\x00" if i == 2 else b"",  # router alert: IHL 6
                udp_checksum=i % 3 == 0,
            )
            w.write(frame, timestamp_ns=1_700_000_000_000_000_000 + i * 1000)
    rows = tshark_fields(path, PORT)
    expected = [
        # tshark shows the session with its wire padding
        (p.session.ljust(10), p.sequence, p.count, [len(m) for m in p.messages])
        for p in packets
    ]
    assert rows == expected


def test_tshark_reads_our_itch2pcap_of_the_real_itch_file(tmp_path: Path, itch_file: Path) -> None:
    pytest.importorskip("tickwire.itch")
    from tickwire.moldudp64.cli import main

    out = tmp_path / "day.pcap"
    assert (
        main(["itch2pcap", str(itch_file), str(out), "--dst-port", str(PORT), "--vlan", "7"]) == 0
    )
    ours = [
        (
            m.packet.session.ljust(10),
            m.packet.sequence,
            m.packet.count,
            [len(x) for x in m.packet.messages],
        )
        for m in MoldCapture(out)
    ]
    assert tshark_fields(out, PORT) == ours
    assert sum(len(r[3]) for r in ours) == 12012


def qinq(frame: bytes, outer: int, tci: int) -> bytes:
    """``frame`` (one 802.1Q tag) with an outer tag of TPID ``outer`` and TCI ``tci``
    pushed in front of it: QinQ, as a provider's switch stacks it."""
    return frame[:12] + outer.to_bytes(2, "big") + tci.to_bytes(2, "big") + frame[12:]


@pytest.mark.parametrize("outer", [0x88A8, 0x8100])  # 802.1ad S-tag, or 802.1Q twice
def test_a_qinq_feed_is_read_as_tshark_reads_it(tmp_path: Path, outer: int) -> None:
    """A feed in two stacked VLAN tags: tshark sees both tags (outer 9, inner 100) and
    MoldUDP64 inside, and MoldCapture reads the same packets. It counted every such
    frame as other traffic ("more than 1 VLAN tags"): the whole feed lost, no word but
    "not one MoldUDP64 packet"."""
    packets = [DownstreamPacket("TWTEST0001", 1 + 2 * i, (b"A" * 36, b"B" * 7)) for i in range(4)]
    path = tmp_path / "qinq.pcap"
    with PcapWriter(path) as w:
        for p in packets:
            frame = build_udp_frame(
                p.build(), src_ip="198.18.0.1", dst_ip="198.18.0.2", src_port=40000,
                dst_port=PORT, vlan_tci=100,
            )  # fmt: skip
            w.write(qinq(frame, outer, 9))
    tags = subprocess.run(
        ["tshark", "-n", "-r", str(path), "-T", "fields", "-e", "ieee8021ad.id", "-e", "vlan.id",
         "-e", "udp.dstport"],
        check=True, capture_output=True, text=True, timeout=120,
    ).stdout.split("\n")  # fmt: skip
    seen = "9\t100" if outer == 0x88A8 else "\t9,100"  # 802.1ad's ID, 802.1Q's IDs
    assert [t for t in tags if t] == [f"{seen}\t{PORT}"] * len(packets)
    cap = MoldCapture(path)
    ours = [(m.packet.session.ljust(10), m.packet.sequence, m.packet.count, [36, 7]) for m in cap]
    assert tshark_fields(path, PORT) == ours and len(ours) == len(packets)
    assert cap.stats.not_udp == 0 and {m.udp.vlan_tci for m in MoldCapture(path)} == {9}
