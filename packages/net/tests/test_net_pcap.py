"""pcap and pcapng reading, pcap writing, checked against dpkt and scapy."""

from __future__ import annotations

import gzip
import io
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tickwire.moldudp64 import BadPcap, DownstreamPacket
from tickwire.moldudp64.net import build_udp_frame
from tickwire.moldudp64.pcap import PCAP_HEADER, PCAP_RECORD, MoldCapture, PcapWriter, read_pcap


def _frames(n: int) -> list[tuple[int, bytes]]:
    out = []
    for i in range(n):
        payload = DownstreamPacket("TEST", 1 + i, (bytes([65 + i % 26]) * (i % 50 + 1),)).build()
        frame = build_udp_frame(
            payload, src_ip="198.18.0.1", dst_ip="198.18.0.2", src_port=1000, dst_port=26477
        )
        out.append((1_700_000_000_123_456_789 + i * 1_000_001, frame))
    return out


def test_real_captures_agree_with_dpkt(real_captures: list[Path]) -> None:
    import dpkt

    for path in real_captures:
        ours = [(r.timestamp_ns, r.frame) for r in read_pcap(path)]
        with open(path, "rb") as f:
            reader = dpkt.pcap.Reader(f)
            theirs = [(buf, ts) for ts, buf in reader]
        assert [f for _, f in ours] == [buf for buf, _ in theirs]
        for (ts, _), (_, dts) in zip(ours, theirs, strict=True):
            assert abs(ts / 1e9 - float(dts)) < 1e-6


@pytest.mark.parametrize("nanosecond", [True, False])
def test_write_read_round_trip(tmp_path: Path, nanosecond: bool) -> None:
    frames = _frames(200)
    path = tmp_path / "x.pcap"
    with PcapWriter(path, nanosecond=nanosecond) as w:
        for ts, fr in frames:
            w.write(fr, timestamp_ns=ts)
    got = [(r.timestamp_ns, r.frame) for r in read_pcap(path)]
    if nanosecond:
        assert got == frames
    else:
        assert got == [(ts // 1000 * 1000, fr) for ts, fr in frames]
    # dpkt reads what we wrote.
    import dpkt

    with open(path, "rb") as f:
        assert [buf for _, buf in dpkt.pcap.Reader(f)] == [fr for _, fr in frames]
    # File objects, bytes and gzip work too.
    raw = path.read_bytes()
    assert [r.frame for r in read_pcap(io.BytesIO(raw))] == [fr for _, fr in frames]
    assert [r.frame for r in read_pcap(gzip.compress(raw))] == [fr for _, fr in frames]
    cap = MoldCapture(path, port=26477)
    assert [m.packet.sequence for m in cap] == list(range(1, 201))
    assert cap.stats.packets == 200 and cap.stats.messages == 200


def test_big_endian_pcap() -> None:
    frames = _frames(3)
    out = io.BytesIO()
    out.write(struct.pack(">IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for ts, fr in frames:
        sec, ns = divmod(ts, 10**9)
        out.write(struct.pack(">IIII", sec, ns // 1000, len(fr), len(fr)))
        out.write(fr)
    got = list(read_pcap(out.getvalue()))
    assert [r.frame for r in got] == [fr for _, fr in frames]
    assert [r.timestamp_ns for r in got] == [ts // 1000 * 1000 for ts, _ in frames]


def test_pcapng_written_by_scapy(tmp_path: Path) -> None:
    from scapy.layers.l2 import Ether
    from scapy.utils import PcapNgWriter

    frames = _frames(20)
    path = tmp_path / "x.pcapng"
    w = PcapNgWriter(str(path))
    for ts, fr in frames:
        pkt = Ether(fr)
        pkt.time = ts / 1e9
        w.write(pkt)
    w.close()
    got = list(read_pcap(path))
    assert [r.frame for r in got] == [fr for _, fr in frames]
    for r, (ts, _) in zip(got, frames, strict=True):
        assert abs(r.timestamp_ns - ts) < 2000  # scapy stores microseconds by default


def _block(btype: int, body: bytes) -> bytes:
    body += b"\x00" * (-len(body) % 4)
    n = 12 + len(body)
    return struct.pack("<II", btype, n) + body + struct.pack("<I", n)


def test_pcapng_tsresol_simple_and_unknown_blocks() -> None:
    frames = _frames(3)
    shb = _block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    # if_tsresol = 9 (nanoseconds), then end of options
    idb = _block(1, struct.pack("<HHI", 1, 0, 0) + struct.pack("<HHB3x", 9, 1, 9) + b"\x00" * 4)
    blocks = [shb, idb, _block(0x0BAD, b"ignored")]
    for ts, fr in frames:
        blocks.append(
            _block(6, struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(fr), len(fr)) + fr)
        )
    blocks.append(_block(3, struct.pack("<I", len(frames[0][1])) + frames[0][1]))
    got = list(read_pcap(b"".join(blocks)))
    assert [(r.timestamp_ns, r.frame) for r in got[:3]] == frames
    assert got[3].frame == frames[0][1] and got[3].timestamp_ns == 0


def test_bad_files_raise_typed_errors(tmp_path: Path) -> None:
    with pytest.raises(BadPcap, match="empty"):
        list(read_pcap(b""))
    with pytest.raises(BadPcap, match="magic"):
        list(read_pcap(b"\x00" * 40))
    good = io.BytesIO()
    with PcapWriter(good) as w:
        w.write(b"\x01" * 60, timestamp_ns=1)
    raw = good.getvalue()
    with pytest.raises(BadPcap, match="inside a 60-byte record"):
        list(read_pcap(raw[:-1]))
    with pytest.raises(BadPcap, match="inside a record header"):
        list(read_pcap(raw + b"\x00" * 3))
    with pytest.raises(BadPcap, match="block length"):
        list(read_pcap(struct.pack("<II", 0x0A0D0D0A, 13) + b"\x4d\x3c\x2b\x1a"))


def test_capture_counts_what_it_skips() -> None:
    out = io.BytesIO()
    good = _frames(1)[0][1]
    with PcapWriter(out) as w:
        w.write(good)
        w.write(b"\x00" * 60)  # not IPv4
        w.write(
            build_udp_frame(
                b"short", src_ip="1.1.1.1", dst_ip="2.2.2.2", src_port=1, dst_port=26477
            )
        )
        w.write(build_udp_frame(b"", src_ip="1.1.1.1", dst_ip="2.2.2.2", src_port=1, dst_port=9))
    cap = MoldCapture(out.getvalue(), port=26477)
    assert len(list(cap)) == 1
    st = cap.stats
    assert (st.frames, st.packets, st.not_udp, st.bad_packets, st.other_port) == (4, 1, 1, 1, 1)
    assert "frame 3" in st.errors[0]


def test_writer_matches_the_construct_layouts() -> None:
    out = io.BytesIO()
    with PcapWriter(out, snaplen=1000) as w:
        w.write(b"\xab" * 70, timestamp_ns=3_000_000_123)
    raw = out.getvalue()
    head = PCAP_HEADER.parse(raw)
    assert (head.magic, head.version_major, head.version_minor, head.snaplen, head.linktype) == (
        0xA1B23C4D,
        2,
        4,
        1000,
        1,
    )
    rec = PCAP_RECORD.parse(raw[24:])
    assert (rec.ts_sec, rec.ts_frac, rec.incl_len, rec.orig_len) == (3, 123, 70, 70)
    assert raw[40:] == b"\xab" * 70


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 2**31 - 1), st.integers(0, 999_999), st.binary(min_size=14, max_size=300)
        ),
        max_size=20,
    ),
    st.booleans(),
)
def test_files_written_by_dpkt(records: list[tuple[int, int, bytes]], ng: bool) -> None:
    """An independent writer (dpkt, pcap and pcapng, microsecond stamps) reads back the same."""
    import dpkt

    out = io.BytesIO()
    writer = dpkt.pcapng.Writer(out) if ng else dpkt.pcap.Writer(out)
    for sec, usec, frame in records:
        writer.writepkt(frame, ts=sec + usec / 1e6)
    got = list(read_pcap(out.getvalue()))
    assert [r.frame for r in got] == [f for _, _, f in records]
    for r, (sec, usec, _) in zip(got, records, strict=True):
        assert abs(r.timestamp_ns - (sec * 10**9 + usec * 1000)) <= 1000
