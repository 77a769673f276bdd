"""MoldUDP64 packets out of captures (MoldCapture), and the deprecated modules that moved
to tickwire-net (tickwire.moldudp64.net, tickwire.moldudp64.pcap)."""

from __future__ import annotations

import importlib
import io
import sys
import warnings
from pathlib import Path
from types import ModuleType

import pytest
from tickwire.moldudp64 import BadFrame, BadPcap, DownstreamPacket, MoldError
from tickwire.moldudp64.capture import MoldCapture
from tickwire.net import PcapWriter, build_udp_frame
from tickwire.net import errors as net_errors


def _frames(n: int) -> list[tuple[int, bytes]]:
    out = []
    for i in range(n):
        payload = DownstreamPacket("TEST", 1 + i, (bytes([65 + i % 26]) * (i % 50 + 1),)).build()
        frame = build_udp_frame(
            payload, src_ip="198.18.0.1", dst_ip="198.18.0.2", src_port=1000, dst_port=26477
        )
        out.append((1_700_000_000_123_456_789 + i * 1_000_001, frame))
    return out


def test_frames_the_capture_cut_short_are_counted_as_such(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A capture taken with a small snap length: the frames it cut are counted as cut
    (with what to change), not as frames that are not UDP; pcap2itch exits 1 since their
    messages are lost. They were counted under ``not_udp`` (pcap2itch exit 0), which
    sends a user looking for the wrong problem."""
    import struct

    from tickwire.itch import AddOrder, BinaryFileWriter, SystemEvent
    from tickwire.moldudp64.cli import main, pack_binaryfile

    day = tmp_path / "day.itch"
    with BinaryFileWriter(day) as w:
        for i in range(6):  # 10 ms apart: a packet each (each frame over 64 bytes)
            w.write(SystemEvent(0, 0, i * 10**7, "O") if i == 0 else
                    AddOrder(1, 0, i * 10**7, i, "B", 100, "AAPL", 1_000_000))  # fmt: skip
    frames = [
        build_udp_frame(pkt, src_ip="198.18.0.1", dst_ip="198.18.0.2", src_port=1, dst_port=2)
        for _, pkt in pack_binaryfile(str(day), session="TEST", end_of_session=False)
    ]
    raw = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 64, 1))
    for i, frame in enumerate(frames):
        kept = frame[:64] if i in (2, 4) else frame
        raw += struct.pack("<IIII", 1, i, len(kept), len(frame)) + kept
    assert len(frames) == 6 and len(frames[2]) > 64 and len(frames[4]) > 64
    path = tmp_path / "snap.pcap"
    path.write_bytes(bytes(raw))
    cap = MoldCapture(path)
    assert [m.packet.sequence for m in cap] == [1, 2, 4, 6]
    st = cap.stats
    assert (st.frames, st.packets, st.cut, st.not_udp, st.bad_packets) == (6, 4, 2, 0, 0)
    assert "snap length" in st.errors[0]
    assert main(["pcap2itch", str(path), str(tmp_path / "o.itch")]) == 1
    assert '"cut_frames": 2' in capsys.readouterr().err


def test_capture_reads_every_packet(tmp_path: Path) -> None:
    path = tmp_path / "x.pcap"
    with PcapWriter(path) as w:
        for ts, fr in _frames(200):
            w.write(fr, timestamp_ns=ts)
    cap = MoldCapture(path, port=26477)
    assert [m.packet.sequence for m in cap] == list(range(1, 201))
    assert cap.stats.packets == 200 and cap.stats.messages == 200


def test_capture_counts_what_it_skips() -> None:
    out = io.BytesIO()
    good = _frames(1)[0][1]
    with PcapWriter(out) as w:
        w.write(good)
        w.write(b"\x00" * 60)  # not IPv4
        w.write(
            build_udp_frame(
                b"short", src_ip="198.18.0.1", dst_ip="198.18.0.2", src_port=1, dst_port=26477
            )
        )
        w.write(
            build_udp_frame(b"", src_ip="198.18.0.1", dst_ip="198.18.0.2", src_port=1, dst_port=9)
        )
    cap = MoldCapture(out.getvalue(), port=26477)
    assert len(list(cap)) == 1
    st = cap.stats
    assert (st.frames, st.packets, st.not_udp, st.bad_packets, st.other_port) == (4, 1, 1, 1, 1)
    assert "frame 3" in st.errors[0]


def test_capture_errors_are_mold_errors_and_net_errors() -> None:
    """The reader moved to tickwire-net; what MoldCapture raises is still a MoldError."""
    with pytest.raises(BadPcap, match="not a pcap") as bad:
        list(MoldCapture(b"\x00" * 40))
    assert isinstance(bad.value, MoldError) and isinstance(bad.value, net_errors.BadPcap)
    assert bad.value.reason.startswith("not a pcap") and bad.value.offset == 0
    out = io.BytesIO()
    with PcapWriter(out) as w:
        w.write(b"\x00" * 60)
    with pytest.raises(BadFrame, match="not IPv4") as frame:
        list(MoldCapture(out.getvalue(), strict=True))
    assert isinstance(frame.value, MoldError) and isinstance(frame.value, net_errors.BadFrame)


def _fresh(name: str) -> tuple[ModuleType, list[warnings.WarningMessage]]:
    sys.modules.pop(name, None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(name)
    return module, caught


def test_deprecated_net_module_warns_and_keeps_its_names() -> None:
    net, caught = _fresh("tickwire.moldudp64.net")
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)
    frame = net.build_udp_frame(
        b"x", src_ip="198.18.0.1", dst_ip="198.18.0.2", src_port=1, dst_port=2
    )
    assert net.parse_udp_frame(frame).payload == b"x"
    # The construct layouts stay here and agree with tickwire.net's frames.
    ref = net.parse_udp_frame_construct(frame)
    assert ref["payload"] == b"x" and ref["udp"].length == 9 and ref["ip"].ttl == 64
    # up to two stacked tags (QinQ), the outer one's TCI, as tickwire.net's parser
    qinq = frame[:12] + bytes.fromhex("88a8000981000007") + frame[12:]
    ref = net.parse_udp_frame_construct(qinq)
    assert (
        (ref["payload"], ref["vlan"].tci)
        == (b"x", 9)
        == (
            net.parse_udp_frame(qinq).payload,
            net.parse_udp_frame(qinq).vlan_tci,
        )
    )
    assert net.ipv4_checksum(frame[14:34]) == 0
    with pytest.raises(MoldError, match="14 bytes"):  # still a MoldError, as before
        net.parse_udp_frame(b"\x00")
    with pytest.raises(MoldError, match="dotted-quad"):
        net.build_udp_frame(b"", src_ip="198.18", dst_ip="198.18.0.2", src_port=1, dst_port=2)


def test_deprecated_pcap_module_warns_and_keeps_its_names() -> None:
    pcap, caught = _fresh("tickwire.moldudp64.pcap")
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)
    out = io.BytesIO()
    with pcap.PcapWriter(out, snaplen=1000) as w:
        w.write(b"\xab" * 70, timestamp_ns=3_000_000_123)
    raw = out.getvalue()
    head = pcap.PCAP_HEADER.parse(raw)
    assert (head.magic, head.snaplen, head.linktype) == (0xA1B23C4D, 1000, 1)
    rec = pcap.PCAP_RECORD.parse(raw[24:])
    assert (rec.ts_sec, rec.ts_frac, rec.incl_len, rec.orig_len) == (3, 123, 70, 70)
    assert [r.frame for r in pcap.read_pcap(raw)] == [b"\xab" * 70]
    with pytest.raises(MoldError, match="empty"):
        list(pcap.read_pcap(b""))
    assert pcap.MoldCapture is MoldCapture


def test_the_deprecated_construct_layouts_agree_with_the_net_tables() -> None:
    """The construct copies kept in the shim describe the same headers as tickwire.net's."""
    from tickwire.net import frames

    net, _ = _fresh("tickwire.moldudp64.net")
    for construct_struct, table in (
        (net.ETHERNET, frames.ETHERNET_LAYOUT),
        (net.VLAN_TAG, frames.VLAN_LAYOUT),
        (net.UDP, frames.UDP_LAYOUT),
    ):
        assert [(s.name, s.sizeof()) for s in construct_struct.subcons] == [
            (f.name, f.size) for f in table.fields
        ]
    fixed = [s for s in net.IPV4.subcons if s.name != "options"]
    assert [(s.name, s.sizeof()) for s in fixed] == [
        (f.name, f.size) for f in frames.IPV4_LAYOUT.fields
    ]


@pytest.mark.parametrize("cut_first", [1, 25])
def test_each_fault_count_quotes_an_error_of_its_own_kind(cut_first: int) -> None:
    """A capture holding ``cut_first`` frames cut by the snap length, then a bad packet,
    then a good one: each count of ``faults_text`` quotes the first error of its own
    kind. It quoted ``errors[0]`` after the bad packets, which mixes the kinds: the cut
    frame's words (``1 bad MoldUDP64 packets (frame 1: 60 of its ...)``), and after 20
    cut frames (``errors`` keeps 20) no bad packet's at all."""
    import struct

    from tickwire.moldudp64.capture import faults_text

    good = [frame for _, frame in _frames(cut_first + 1)]
    bad = build_udp_frame(
        b"short", src_ip="198.18.0.1", dst_ip="198.18.0.2", src_port=1000, dst_port=26477
    )
    raw = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 60, 1))
    records = [(f[:60], len(f)) for f in good[:cut_first]]  # cut: 60 bytes of more
    records += [(bad, len(bad)), (good[-1], len(good[-1]))]  # whole
    for i, (kept, wire) in enumerate(records):
        raw += struct.pack("<IIII", 1, i, len(kept), wire) + kept
    assert all(len(f) > 60 for f in good[:cut_first])
    cap = MoldCapture(bytes(raw), port=26477)
    assert len(list(cap)) == 1
    st = cap.stats
    assert (st.cut, st.bad_packets, st.packets) == (cut_first, 1, 1)
    text = faults_text(st)
    assert text is not None
    assert text.startswith(f"1 bad MoldUDP64 packets (frame {cut_first + 1}: "), text
    bad_part, cut_part = text.split(" frames cut short by the capture's snap length ")
    assert "bytes captured" not in bad_part, text
    assert cut_part.startswith("(frame 1: 60 of its "), text
