"""pcap and pcapng reading and writing, checked against dpkt, scapy and tshark."""

from __future__ import annotations

import gzip
import io
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tickwire.net import BadPcap, NetError, PcapngWriter, PcapWriter, build_udp_frame, read_pcap
from tickwire.net.pcap import PCAP_HEADER, PCAP_RECORD

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
from _net_captures import capture_corpus, modified_pcap  # noqa: E402

needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")


def _frames(n: int) -> list[tuple[int, bytes]]:
    out = []
    for i in range(n):
        payload = bytes([65 + i % 26]) * (i % 50 + 1)
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


def _simple_blocks(frames: list[bytes], snaplen: int, pad: bytes = b"\xee") -> bytes:
    """A pcapng of one Ethernet interface of SnapLen ``snaplen`` and a simple packet block
    per frame, each holding the frame cut to the SnapLen, padded to 4 bytes with ``pad``."""
    shb = _block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    idb = _block(1, struct.pack("<HHI", 1, 0, snaplen))
    blocks = [shb, idb]
    for fr in frames:
        data = fr[:snaplen] if snaplen else fr
        blocks.append(_block(3, struct.pack("<I", len(fr)) + data + pad * (-len(data) % 4)))
    return b"".join(blocks)


@pytest.mark.parametrize("snaplen", [62, 63, 0])
def test_a_simple_packet_block_is_cut_to_the_snaplen(snaplen: int) -> None:
    """A simple packet block's captured length is its original length cut to the
    interface's SnapLen (pcapng's rule; 0 is no limit): the frame is what was captured,
    not the block's padding after it. A frame cut at 62 bytes was read as 64, two bytes
    of padding taken for its own. A block whose packet runs past it, with no SnapLen to
    cut it, is refused as an enhanced packet block's is (it was read as a cut frame)."""
    frames = [fr for _, fr in _frames(44)[40:]]  # 83 to 86 bytes
    got = [(r.frame, r.original_length) for r in read_pcap(_simple_blocks(frames, snaplen))]
    assert got == [(fr[:snaplen] if snaplen else fr, len(fr)) for fr in frames]
    if snaplen:
        raw = _simple_blocks(frames[:1], snaplen)
        no_limit = raw.replace(struct.pack("<HHI", 1, 0, snaplen), struct.pack("<HHI", 1, 0, 0))
        with pytest.raises(BadPcap, match="packet data runs past its block"):
            list(read_pcap(no_limit))


@pytest.mark.tshark
@needs_tshark
def test_tshark_reads_simple_packet_blocks_to_the_same_frames(tmp_path: Path) -> None:
    """tshark reads the test above's file (SnapLen 62) to the frames read_pcap reads."""
    ours, theirs = tmp_path / "spb.pcapng", tmp_path / "spb.pcap"
    ours.write_bytes(_simple_blocks([fr for _, fr in _frames(44)[40:]], 62))
    subprocess.run(
        ["tshark", "-r", str(ours), "-F", "pcap", "-w", str(theirs)],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    want = [(r.frame, r.original_length) for r in read_pcap(theirs)]
    assert [(r.frame, r.original_length) for r in read_pcap(ours)] == want
    assert all(len(fr) == 62 for fr, _ in want)


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


def _written(fmt: str, frames: list[tuple[int, bytes]]) -> bytes:
    """``frames`` as a capture: ``pcap`` (ns), ``pcap_us``, ``pcap_be`` (big-endian, us)
    or ``pcapng``."""
    out = io.BytesIO()
    if fmt == "pcap_be":
        out.write(struct.pack(">IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for ts, frame in frames:
            sec, ns = divmod(ts, 10**9)
            out.write(struct.pack(">IIII", sec, ns // 1000, len(frame), len(frame)) + frame)
        return out.getvalue()
    with PcapngWriter(out) if fmt == "pcapng" else PcapWriter(out, nanosecond=fmt == "pcap") as w:
        for ts, frame in frames:
            w.write(frame, timestamp_ns=ts)
    return out.getvalue()


@pytest.mark.parametrize(
    ("first", "second"),
    [("pcap", "pcap"), ("pcap_us", "pcap"), ("pcap", "pcap_be"), ("pcap_be", "pcap_us"),
     ("pcap", "pcapng"), ("pcapng", "pcap"), ("pcapng", "pcap_be")],
)  # fmt: skip
@pytest.mark.parametrize("stamps", ["real", "zero"])
def test_two_captures_concatenated_are_named(first: str, second: str, stamps: str) -> None:
    """``cat a.pcap b.pcap``: the second file's header is named where it starts, one line.
    It was read as a record header: ``record length ... is not plausible`` (real
    timestamps), ``the file ends inside a 15872-byte record`` (zero timestamps) or a
    zero-length record of garbage. Two pcapng files concatenated are one pcapng file of
    two sections (the format's rule): read whole."""
    frames = _frames(3) if stamps == "real" else [(0, f) for _, f in _frames(3)]
    a, b = _written(first, frames), _written(second, frames)
    kind = "pcapng section" if second == "pcapng" else "pcap file"
    with pytest.raises(BadPcap) as err:
        list(read_pcap(a + b))
    assert err.value.offset == len(a)
    assert str(err.value) == (
        f"a second {kind} header: two captures concatenated (merge them with mergecap, or "
        f"read them one by one) (at byte {len(a)})"
    )
    ng = _written("pcapng", frames)
    assert [r.frame for r in read_pcap(ng + ng)] == [f for _, f in frames] * 2


def test_writer_matches_the_header_layouts() -> None:
    out = io.BytesIO()
    with PcapWriter(out, snaplen=1000) as w:
        w.write(b"\xab" * 70, timestamp_ns=3_000_000_123)
    raw = out.getvalue()
    assert PCAP_HEADER.unpack_from(raw) == (0xA1B23C4D, 2, 4, 0, 0, 1000, 1)
    assert PCAP_RECORD.unpack_from(raw, 24) == (3, 123, 70, 70)
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


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 2**63), st.binary(max_size=300)), max_size=20),
    st.sampled_from([1, 101, 113, 276]),
)
def test_pcapng_write_read_round_trip(records: list[tuple[int, bytes]], linktype: int) -> None:
    out = io.BytesIO()
    with PcapngWriter(out, linktype=linktype) as w:
        for ts, frame in records:
            w.write(frame, timestamp_ns=ts)
    assert w.count == len(records)
    got = list(read_pcap(out.getvalue()))
    assert [(r.timestamp_ns, r.frame, r.linktype, r.original_length) for r in got] == [
        (ts, frame, linktype, len(frame)) for ts, frame in records
    ]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 2**32 * 10**9 - 1), st.binary(max_size=300)), max_size=20),
    st.booleans(),
)
def test_pcap_write_read_round_trip(records: list[tuple[int, bytes]], nanosecond: bool) -> None:
    out = io.BytesIO()
    with PcapWriter(out, nanosecond=nanosecond) as w:
        for ts, frame in records:
            w.write(frame, timestamp_ns=ts)
    got = [(r.timestamp_ns, r.frame) for r in read_pcap(out.getvalue())]
    unit = 1 if nanosecond else 1000
    assert got == [(ts // unit * unit, frame) for ts, frame in records]


def test_writers_refuse_what_the_format_cannot_hold() -> None:
    for writer in (PcapWriter(io.BytesIO()), PcapngWriter(io.BytesIO())):
        with pytest.raises(NetError, match="negative timestamp"):
            writer.write(b"x", timestamp_ns=-1)
    with pytest.raises(NetError, match="past what pcap can hold"):
        PcapWriter(io.BytesIO()).write(b"x", timestamp_ns=2**32 * 10**9)  # it wrapped before
    with pytest.raises(NetError, match="64 bits"):
        PcapngWriter(io.BytesIO()).write(b"x", timestamp_ns=2**64)


def test_pcapng_reader_refuses_bad_blocks() -> None:
    out = io.BytesIO()
    with PcapngWriter(out) as w:
        w.write(b"\x01" * 60, timestamp_ns=5)
    raw = out.getvalue()
    with pytest.raises(BadPcap, match="inside a 92-byte pcapng block"):
        list(read_pcap(raw[:-1]))
    shb_idb = raw[: raw.index(b"\x06\x00\x00\x00")]
    epb = bytearray(raw[len(shb_idb) :])
    epb[8:12] = struct.pack("<I", 1)  # interface 1 was never declared
    with pytest.raises(BadPcap, match="undeclared interface 1"):
        list(read_pcap(shb_idb + bytes(epb)))
    epb = bytearray(raw[len(shb_idb) :])
    epb[20:24] = struct.pack("<I", 61)  # captured length past the block
    with pytest.raises(BadPcap, match="runs past its block"):
        list(read_pcap(shb_idb + bytes(epb)))
    with pytest.raises(BadPcap, match="byte-order magic"):
        list(read_pcap(b"\x0a\x0d\x0d\x0a" + bytes(40)))


@pytest.mark.tshark
@needs_tshark
@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_tshark_reads_what_we_write(tmp_path: Path, fmt: str) -> None:
    frames = _frames(5)
    path = tmp_path / f"x.{fmt}"
    with PcapWriter(path) if fmt == "pcap" else PcapngWriter(path) as w:
        for ts, fr in frames:
            w.write(fr, timestamp_ns=ts)
    out = subprocess.run(
        ["tshark", "-r", str(path), "-T", "fields", "-e", "frame.time_epoch", "-e", "udp.length",
         "-e", "ip.checksum.status", "-o", "ip.check_checksum:TRUE"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.split("\n")  # fmt: skip
    rows = [line.split("\t") for line in out if line]
    assert [int(r[1]) for r in rows] == [len(fr) - 34 for _, fr in frames]
    assert all(r[2] == "1" for r in rows)  # 1: good checksum
    for r, (ts, _) in zip(rows, frames, strict=True):
        assert abs(float(r[0]) - ts / 1e9) < 1e-6


def test_is_capture_reads_the_magic_under_gzip(tmp_path: Path) -> None:
    """A gzipped pcap or pcapng (``day.pcap.gz``) is a capture, as read_pcap reads it;
    is_capture said no (it read the gzip magic), so commands read it as a BinaryFILE."""
    from tickwire.net import CAPTURE_MAGICS, is_capture

    corpus = capture_corpus(tmp_path)
    assert {name: is_capture(p) for name, (p, _) in corpus.items()} == {
        name: capture for name, (_, capture) in corpus.items()
    }
    for name, (path, capture) in corpus.items():
        if capture and not name.startswith("pcap_big"):  # headers only: no records
            assert len(list(read_pcap(path))) == 2, name
    assert len(CAPTURE_MAGICS) == 7
    with pytest.raises(FileNotFoundError):
        is_capture(tmp_path / "missing.pcap")


@pytest.mark.parametrize(
    ("version", "endian"),
    [
        ((3, 0), "<"), ((3, 0), ">"), ((2, 5), "<"), ((1, 0), "<"), ((0, 4), ">"),
        ((543, 1), "<"), ((0x1F02, 0), "<"),
    ],
)  # fmt: skip
def test_a_pcap_version_other_than_2_0_to_2_4_is_refused(
    version: tuple[int, int], endian: str
) -> None:
    """A classic pcap header of a version other than 2.0 to 2.4 (and DG/UX's 543.0) is
    refused at the header, one line naming the version, as libpcap refuses them (543.1,
    and 543.0 with its bytes the other way round). It was read as 2.4, its records
    trusted."""
    raw = bytearray(_written("pcap_be" if endian == ">" else "pcap", _frames(2)))
    struct.pack_into(endian + "HH", raw, 4, *version)
    with pytest.raises(BadPcap) as err:
        list(read_pcap(bytes(raw)))
    assert str(err.value) == (
        f"pcap version {version[0]}.{version[1]} is not 2.0 to 2.4, the versions pcap files "
        "are written in (at byte 4)"
    )


def _old_version(version: tuple[int, int], endian: str, frames: list[tuple[int, bytes]]) -> bytes:
    """``frames`` (microsecond timestamps), each cut by 4 bytes, as a pcap of ``version``
    (2.0 to 2.3, or DG/UX's 543.0) written by the project's writer, then patched: the
    version, and each record's lengths in the order of that version: wire length first
    before 2.3 and in 543.0; in 2.3 the records alternate, wire length first or captured
    length first (files of 2.3 were written both ways)."""
    raw = bytearray(_written("pcap_be" if endian == ">" else "pcap_us", frames))
    struct.pack_into(endian + "HH", raw, 4, *version)
    at = 24
    for i in range(len(frames)):
        incl = struct.unpack_from(endian + "I", raw, at + 8)[0]
        del raw[at + 16 + incl - 4 : at + 16 + incl]  # the capture cut the frame's tail
        lengths = (incl - 4, incl)
        if version != (2, 3) or i % 2:
            lengths = lengths[::-1]
        struct.pack_into(endian + "II", raw, at + 8, *lengths)
        at += 16 + incl - 4
    assert at == len(raw)
    return bytes(raw)


#: The classic pcap versions before 2.4 that libpcap and tshark read.
OLD_VERSIONS = [(2, 0), (2, 1), (2, 2), (2, 3), (543, 0)]


@pytest.mark.parametrize("endian", ["<", ">"])
@pytest.mark.parametrize("version", OLD_VERSIONS)
def test_a_pcap_of_2_0_to_2_3_is_read_as_libpcap_reads_it(
    version: tuple[int, int], endian: str
) -> None:
    """A classic pcap of version 2.0 to 2.2 (or DG/UX tcpdump's 543.0) holds each
    record's wire length before its captured length, and one of 2.3 either order:
    libpcap (and tshark) read 2.0 to 2.2 and 543.0 swapped, and 2.3 swapped where the
    captured length would be past the wire length. They are read so: the frames as
    captured, their wire lengths (tshark reads the same files to the same frames: the
    test below). They were refused (``pcap version 2.3 is not 2.4``; 543.0 until
    later)."""
    frames = _frames(6)
    got = [
        (r.timestamp_ns, r.frame, r.original_length)
        for r in read_pcap(_old_version(version, endian, frames))
    ]
    assert got == [(ts // 1000 * 1000, fr[:-4], len(fr)) for ts, fr in frames]


@pytest.mark.tshark
@needs_tshark
@pytest.mark.parametrize("endian", ["<", ">"])
@pytest.mark.parametrize("version", OLD_VERSIONS)
def test_tshark_reads_the_2_0_to_2_3_files_to_the_same_frames(
    tmp_path: Path, version: tuple[int, int], endian: str
) -> None:
    """tshark reads each file of the test above to the frames read_pcap reads: rewritten
    by tshark as a pcap of 2.4 (``-F pcap``), the same timestamps, bytes and wire lengths."""
    raw = _old_version(version, endian, _frames(6))
    old, new = tmp_path / "old.pcap", tmp_path / "new.pcap"
    old.write_bytes(raw)
    subprocess.run(
        ["tshark", "-r", str(old), "-F", "pcap", "-w", str(new)],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    assert struct.unpack_from("<HH", new.read_bytes(), 4) == (2, 4)
    theirs = [(r.timestamp_ns, r.frame, r.original_length) for r in read_pcap(new)]
    ours = [(r.timestamp_ns, r.frame, r.original_length) for r in read_pcap(raw)]
    assert theirs == ours
    assert len(ours) == 6 and all(len(fr) == n - 4 for _, fr, n in ours)


def _cut_by_four(frames: list[tuple[int, bytes]]) -> list[tuple[int, bytes, int]]:
    """Each frame with its last 4 bytes not captured (a snap length), odd ones only."""
    return [(ts, fr[:-4] if i % 2 else fr, len(fr)) for i, (ts, fr) in enumerate(frames)]


@pytest.mark.parametrize("endian", ["<", ">"])
def test_a_modified_pcap_is_read_as_libpcap_reads_it(endian: str) -> None:
    """A "modified" pcap (magic a1b2cd34: Kuznetsov's tcpdump, ``editcap -F modpcap``)
    holds 8 more bytes in each record header than 2.4 (interface index, protocol, packet
    type); libpcap and tshark read past them. read_pcap reads the frames as captured,
    their microsecond timestamps and wire lengths, in either byte order, and the file is
    a capture cut inside its last record header as any other. It was "not a pcap or
    pcapng file (magic 34cdb2a1)", and framed as ITCH by the commands that sniff."""
    records = _cut_by_four(_frames(6))
    raw = modified_pcap(records, endian)
    got = [(r.timestamp_ns, r.frame, r.original_length, r.linktype) for r in read_pcap(raw)]
    assert got == [(ts // 1000 * 1000, fr, n, 1) for ts, fr, n in records]
    with pytest.raises(BadPcap, match="file ends inside a record header"):
        list(read_pcap(raw + raw[24:44]))  # 20 bytes of a 24-byte record header


@pytest.mark.tshark
@needs_tshark
def test_a_modified_pcap_is_read_as_tshark_reads_it(tmp_path: Path) -> None:
    """tshark agrees, both ways: the test above's file rewritten by tshark as a pcap of
    2.4 has the frames read_pcap reads, and ours rewritten by editcap as a modified pcap
    (its writer, not ours) reads to the frames of the original."""
    records = _cut_by_four(_frames(6))
    ours, theirs = tmp_path / "ours.pcap", tmp_path / "theirs.pcap"
    ours.write_bytes(modified_pcap(records))
    subprocess.run(
        ["tshark", "-r", str(ours), "-F", "pcap", "-w", str(theirs)],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    want = [(r.timestamp_ns, r.frame, r.original_length) for r in read_pcap(ours)]
    assert [(r.timestamp_ns, r.frame, r.original_length) for r in read_pcap(theirs)] == want
    plain, edited = tmp_path / "plain.pcap", tmp_path / "edited.pcap"
    plain.write_bytes(_written("pcap_us", _frames(6)))
    subprocess.run(
        ["editcap", "-F", "modpcap", str(plain), str(edited)],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    assert edited.read_bytes()[:4] == struct.pack("<I", 0xA1B2CD34)
    assert list(read_pcap(edited)) == list(read_pcap(plain))


@pytest.mark.parametrize("fmt", ["pcap", "pcap_be", "pcapng"])
def test_a_record_longer_than_its_frame_on_the_wire_is_refused(fmt: str) -> None:
    """A record that holds more bytes than its frame had on the wire (captured length
    above the original length) is impossible, refused as the reader refuses a record of
    an impossible length: ``BadPcap`` naming the record's offset. It was read, and the
    bytes past the frame's end taken for the frame's."""
    frames = _frames(3)
    raw = bytearray(_written(fmt, frames))
    n = len(frames[1][1])
    if fmt == "pcapng":
        first = raw.index(struct.pack("<I", 6))  # the first packet block, then the second
        at = first + struct.unpack_from("<I", raw, first + 4)[0]
        struct.pack_into("<I", raw, at + 24, n - 1)  # its original length
    else:
        at = 24 + 16 + len(frames[0][1])
        struct.pack_into(">I" if fmt == "pcap_be" else "<I", raw, at + 12, n - 1)
    with pytest.raises(BadPcap) as err:
        list(read_pcap(bytes(raw)))
    assert str(err.value) == (
        f"record of {n} bytes captured from a {n - 1}-byte frame on the wire (at byte {at})"
    )
    assert len(list(read_pcap(_written(fmt, frames)))) == 3  # the file as written: whole


@pytest.mark.parametrize("endian", ["<", ">"])
@pytest.mark.parametrize("version", [(2, 0), (0, 1), (65535, 0)])
@pytest.mark.parametrize("section", [0, 1])
def test_a_pcapng_section_of_another_major_version_is_refused(
    endian: str, version: tuple[int, int], section: int
) -> None:
    """A pcapng section header block of another major version than 1 (the first
    section, or the second of two files concatenated) is refused at its version field,
    one line naming the version. It was read as if it were 1.0, its blocks trusted; a
    minor version other than 0 is read (a backward-compatible change)."""

    def block(btype: int, body: bytes) -> bytes:
        body += b"\x00" * (-len(body) % 4)
        n = 12 + len(body)
        return struct.pack(endian + "II", btype, n) + body + struct.pack(endian + "I", n)

    def file(major: int, minor: int) -> bytes:
        shb = block(0x0A0D0D0A, struct.pack(endian + "IHHq", 0x1A2B3C4D, major, minor, -1))
        idb = block(1, struct.pack(endian + "HHI", 1, 0, 0))
        epbs = [
            block(
                6, struct.pack(endian + "IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(f), len(f)) + f
            )
            for ts, f in _frames(2)
        ]
        return b"".join([shb, idb, *epbs])

    good = file(1, 0)
    assert len(list(read_pcap(good + file(1, 2)))) == 4  # another minor version: read
    bad = file(*version)
    raw = bad if section == 0 else good + bad
    at = 12 + (0 if section == 0 else len(good))
    with pytest.raises(BadPcap) as err:
        list(read_pcap(raw))
    assert str(err.value) == (
        f"pcapng section version {version[0]}.{version[1]} is not 1.x, the version pcapng "
        f"files are written in (at byte {at})"
    )
