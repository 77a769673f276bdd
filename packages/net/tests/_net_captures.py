"""Files for the capture sniffing tests (here and ``tests/test_capture_sniffing.py``)."""

from __future__ import annotations

import gzip
import io
import struct
from collections.abc import Iterable
from pathlib import Path

from tickwire.net import PcapngWriter, PcapWriter, build_udp_frame


def _frames(n: int) -> list[tuple[int, bytes]]:
    return [
        (
            1_700_000_000_123_456_789 + i * 1_000_001,
            build_udp_frame(
                bytes([65 + i]) * (i + 1),
                src_ip="198.18.0.1",
                dst_ip="198.18.0.2",
                src_port=1000,
                dst_port=26477,
            ),
        )
        for i in range(n)
    ]


def modified_pcap(records: Iterable[tuple[int, bytes, int]], endian: str = "<") -> bytes:
    """``records`` (timestamp in ns, frame, wire length) as a "modified" pcap (magic
    ``a1b2cd34``, Kuznetsov's tcpdump of 1999, ``editcap -F modpcap``): version 2.4,
    Ethernet, microsecond timestamps, each record header 2.4's 16 bytes then 8 more
    (interface index 2, protocol 0x0800, packet type 0 and a pad byte), written here by
    the format's layout, not by the reader under test."""
    out = bytearray(struct.pack(endian + "IHHiIII", 0xA1B2CD34, 2, 4, 0, 0, 65535, 1))
    for ts, frame, wire in records:
        sec, us = divmod(ts // 1000, 1_000_000)
        out += struct.pack(endian + "IIII", sec, us, len(frame), wire)
        out += struct.pack(endian + "iHBB", 2, 0x0800, 0, 0) + frame
    return bytes(out)


def capture_corpus(tmp_path: Path) -> dict[str, tuple[Path, bool]]:
    """name -> (file, whether it is a capture): every kind of capture, plain and gzipped,
    and files that are not one (a BinaryFILE, gzipped too, short, empty, a cut gzip)."""
    frames = _frames(2)
    pcap_us, pcap_ns, pcapng = io.BytesIO(), io.BytesIO(), io.BytesIO()
    with PcapWriter(pcap_us, nanosecond=False) as w1, PcapWriter(pcap_ns) as w2:
        for ts, fr in frames:
            w1.write(fr, timestamp_ns=ts)
            w2.write(fr, timestamp_ns=ts)
    with PcapngWriter(pcapng) as w3:
        for ts, fr in frames:
            w3.write(fr, timestamp_ns=ts)
    big = struct.pack(">IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    big_ns = struct.pack(">IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 1)
    big_modified = struct.pack(">IHHiIII", 0xA1B2CD34, 2, 4, 0, 0, 65535, 1)
    itch = b"\x00\x0cS" + bytes(11)  # a BinaryFILE: a System Event
    contents = {
        "pcap_us": (pcap_us.getvalue(), True),
        "pcap_ns": (pcap_ns.getvalue(), True),
        "pcap_big": (big, True),
        "pcap_big_ns": (big_ns, True),
        "pcap_modified": (modified_pcap((ts, fr, len(fr)) for ts, fr in frames), True),
        "pcap_big_modified": (big_modified, True),
        "pcapng": (pcapng.getvalue(), True),
        "itch": (itch, False),
        "short": (b"\xd4\xc3\xb2", False),
        "empty": (b"", False),
    }
    out: dict[str, tuple[Path, bool]] = {}
    for name, (data, capture) in contents.items():
        for suffix, blob in (("", data), (".gz", gzip.compress(data))):
            path = tmp_path / (name + suffix)
            path.write_bytes(blob)
            out[name + suffix] = (path, capture)
    cut = tmp_path / "cut.gz"
    cut.write_bytes(gzip.compress(pcap_ns.getvalue())[:12])  # inside the gzip header
    out["cut.gz"] = (cut, False)
    return out
