"""A capture's ITCH messages as Arrow tables, and ``python -m tickwire.itch convert`` on a
capture (found through the ``tickwire.itch.captures`` entry point)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from tickwire.itch import MESSAGE_LENGTHS
from tickwire.moldudp64 import DownstreamPacket
from tickwire.net.frames import build_udp_frame
from tickwire.net.pcap import PcapWriter

pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
columnar = pytest.importorskip("tickwire.itch.columnar")
itch_cli = pytest.importorskip("tickwire.itch.cli")

REAL = Path(__file__).resolve().parents[3] / "data" / "itch" / "ex20101224.TEST_ITCH_50"


def ab_capture(messages: list[bytes], per_packet: int = 7) -> bytes:
    """Line A and line B, each packet twice, the pairs of packets after the first swapped."""
    packets = [
        DownstreamPacket("ABCDEFGHIJ", 1 + i, tuple(messages[i : i + per_packet])).build()
        for i in range(0, len(messages), per_packet)
    ]
    order = [0, 0]  # a session is joined at its first packet in the capture
    for k in range(1, len(packets), 2):
        pair = [k + 1, k] if k + 1 < len(packets) else [k]
        order += pair + pair  # reordered, and the B line's copies
    buf = io.BytesIO()
    with PcapWriter(buf) as w:
        for n, i in enumerate(order):
            frame = build_udp_frame(
                packets[i], src_ip="198.18.0.1", dst_ip="198.18.0.2", src_port=1, dst_port=2
            )
            w.write(frame, timestamp_ns=n * 1000)
    return buf.getvalue()


@pytest.fixture(scope="module")
def real_messages() -> list[bytes]:
    data = REAL.read_bytes()
    out, pos = [], 0
    while pos < len(data):
        n = MESSAGE_LENGTHS[chr(data[pos + 2])]
        out.append(data[pos + 2 : pos + 2 + n])
        pos += 2 + n
    return out


def test_capture_to_arrow_equals_the_binaryfile(real_messages: list[bytes]) -> None:
    from tickwire.moldudp64.columnar import capture_to_arrow

    got = capture_to_arrow(ab_capture(real_messages))
    want = columnar.to_arrow(REAL)
    assert got.keys() == want.keys()
    for t in want:
        assert got[t].equals(want[t]), t


def test_itch_convert_reads_a_capture(real_messages: list[bytes], tmp_path: Path) -> None:
    cap = tmp_path / "day.pcap"
    cap.write_bytes(ab_capture(real_messages))
    out = io.StringIO()
    status = itch_cli.main(
        ["convert", str(cap), "--parquet", str(tmp_path / "pq"), "--json", "--no-series"], out=out
    )
    assert status == 0
    summary = json.loads(out.getvalue())
    assert summary["kind"] == "capture"
    assert summary["messages"] == len(real_messages)
    assert summary["capture"]["duplicates"] == len(real_messages)
    assert summary["capture"]["missing"] == 0
    table = pq.read_table(tmp_path / "pq" / "A_AddOrder.parquet")
    assert table.equals(columnar.to_arrow(REAL)["A"])
