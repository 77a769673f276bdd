"""Scapy layers: rdpcap(...)[0].show() decodes MoldUDP64 and the ITCH messages inside."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
from tickwire.moldudp64 import DownstreamPacket
from tickwire.moldudp64.capture import MoldCapture
from tickwire.net import PcapWriter, build_udp_frame

pytest.importorskip("scapy")
itch = pytest.importorskip("tickwire.itch")

import tickwire.moldudp64.scapy_layers as layers  # noqa: E402
from scapy.utils import rdpcap  # noqa: E402


def test_real_capture_shows_moldudp64_and_itch(real_captures: list[Path]) -> None:
    path = next(p for p in real_captures if p.name == "Multiple.Packets.pcap")
    pkts = rdpcap(str(path))
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        pkts[0].show()
    text = buf.getvalue()
    assert "MoldUDP64" in text and "session   = b'000010059B'" in text
    assert "ITCH 5.0 'D'" in text and "order_reference_number= 23485802" in text
    mold = pkts[1][layers.MoldUDP64]
    ours = list(MoldCapture(path))[1].packet
    assert (mold.session.decode(), mold.sequence, mold.count) == ("000010059B", ours.sequence, 38)
    for block, raw in zip(mold.messages, ours.messages, strict=True):
        assert block.length == len(raw)
        decoded = itch.decode(raw)
        assert block.payload.message_type.decode() == decoded.message_type
        assert block.payload.stock_locate == decoded.stock_locate
        if isinstance(decoded, itch.AddOrder):
            assert block.payload.price == decoded.price
            assert block.payload.stock.decode().rstrip() == decoded.stock


def test_our_capture_on_another_port(tmp_path: Path) -> None:
    from tickwire.itch.generator import generate_day

    msgs = tuple(itch.encode(m) for m in generate_day(30, 2, 3))
    pkt = DownstreamPacket("SCAPY", 5, msgs)
    path = tmp_path / "x.pcap"
    with PcapWriter(path) as w:
        w.write(
            build_udp_frame(
                pkt.build(), src_ip="198.18.0.1", dst_ip="198.18.0.2", src_port=1, dst_port=31000
            )
        )
    layers.bind_port(31000)
    got = rdpcap(str(path))[0][layers.MoldUDP64]
    assert got.count == 30 and got.sequence == 5
    assert [bytes(b.payload) for b in got.messages] == list(msgs)
    # Building through scapy gives our bytes back.
    rebuilt = layers.MoldUDP64(
        session=b"SCAPY     ", sequence=5, messages=[layers.MoldMessageBlock() / m for m in msgs]
    )
    assert bytes(rebuilt) == pkt.build()
