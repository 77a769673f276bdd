"""A capture that lost TCP segments: decode reports the gap, resynchronises and decodes
what follows, all in linear time (the reassembly rules are tested in tickwire-net)."""

from __future__ import annotations

import io
import struct
import time
from pathlib import Path

import pytest
from tickwire.net.tcp import TcpCaptureWriter
from tickwire.ouch import v42
from tickwire.ouch.decode import DecodeStats, decode_capture, main
from tickwire.soupbintcp.packets import (
    ClientHeartbeat,
    LoginAccepted,
    LoginRequest,
    build_packet,
    data_packet,
)

SERVER = ("198.18.0.2", 26400)


# --------------------------------------------------------------------------- decode


def _events(n: int) -> bytes:
    """``n`` Sequenced Data packets, each an OUCH 4.2 System Event stamped with its index."""
    return b"".join(
        data_packet("S", v42.encode(v42.SystemEvent(timestamp=i, event_code="S"))) for i in range(n)
    )


def _session(n: int, mss: int) -> bytes:
    buf = io.BytesIO()
    with TcpCaptureWriter(buf, server=SERVER, client=("198.18.0.1", 40000), mss=mss) as w:
        w.client_sent(build_packet(LoginRequest("USER01", "pw", "", 1)))
        w.server_sent(build_packet(LoginAccepted("SESSION001", 1)))
        w.server_sent(_events(n))
        w.client_sent(build_packet(ClientHeartbeat()))
    return buf.getvalue()


def _drop(pcap: bytes, index: int) -> bytes:
    """The capture without its ``index``-th frame (classic pcap, little-endian)."""
    out, pos, n = [pcap[:24]], 24, 0
    while pos < len(pcap):
        incl = struct.unpack_from("<I", pcap, pos + 8)[0]
        if n != index:
            out.append(pcap[pos : pos + 16 + incl])
        pos += 16 + incl
        n += 1
    return b"".join(out)


def _stamps(recs: list[dict[str, object]]) -> list[int]:
    return [r["ouch"]["timestamp"] for r in recs if "ouch" in r]  # type: ignore[index]


@pytest.mark.parametrize("mss", [30, 64, 500])
def test_decode_reports_a_lost_segment_and_resumes_after_it(mss: int) -> None:
    n = 200
    full = _session(n, mss)
    assert _stamps(list(decode_capture(full))) == list(range(n))
    # Frames: SYN, SYN-ACK, ACK, login request, login accepted, then the events.
    lossy = _drop(full, 5 + 2)  # the third segment of events
    st = DecodeStats()
    recs = list(decode_capture(lossy, stats=st))
    (gap,) = [r for r in recs if "gap" in r]
    assert gap["gap"]["lost_bytes"] == mss and gap["src"] == f"{SERVER[0]}:{SERVER[1]}"  # type: ignore[index]
    got = _stamps(recs)
    # Everything before the hole and everything after the packets it cut is decoded.
    first_missing = next(i for i, s in enumerate(got) if s != i)
    per_packet = 2 + 1 + 10  # length, type, System Event
    cut = got[first_missing] - first_missing
    assert got == list(range(first_missing)) + list(range(first_missing + cut, n))
    assert 1 <= cut <= mss // per_packet + 2
    assert not [r for r in recs if "error" in r or "ouch_error" in r]
    assert (st.gaps, st.lost_bytes, st.tcp.gaps) == (1, mss, 1)
    assert st.packets == len([r for r in recs if "packet" in r])


def test_decode_command_exits_1_and_says_so_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clean, lossy = tmp_path / "clean.pcap", tmp_path / "lossy.pcap"
    full = _session(50, 40)
    clean.write_bytes(full)
    lossy.write_bytes(_drop(full, 8))
    assert main(["decode", str(clean)]) == 0
    assert capsys.readouterr().err == ""
    assert main(["decode", str(lossy)]) == 1
    out, err = capsys.readouterr()
    assert " GAP 40 bytes missing from the capture" in out
    assert "1 gap(s) in the capture: 40 bytes missing" in err and len(err.splitlines()) == 1
    assert "SystemEvent timestamp=49" in out  # decoded to the end


def _heartbeats(n: int) -> bytes:
    """A server sending ``n`` heartbeats, one segment each; the third segment lost."""
    buf = io.BytesIO()
    with TcpCaptureWriter(buf, server=SERVER, client=("198.18.0.1", 40000)) as w:
        for _ in range(n):
            w.server_sent(b"\x00\x01H")
    return _drop(buf.getvalue(), 5)


def _decode_time(pcap: bytes, n: int) -> float:
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        recs = sum(1 for r in decode_capture(pcap) if "packet" in r)
        best = min(best, time.perf_counter() - t)
        assert recs == n - 1  # every heartbeat but the lost one
    return best


def test_decode_after_a_gap_takes_linear_time() -> None:
    # 9 s for 16,000 segments before: every segment after the hole re-scanned the held
    # ones. 16x the segments must take about 16x the time (measured 16.6x to 17.2x;
    # quadratic: 256x), whatever the machine: the bound is 64x, the geometric middle, so
    # a busy machine's noise (the best of three runs also keeps it out) cannot reach it.
    small, large = _heartbeats(2_000), _heartbeats(32_000)
    _decode_time(small, 2_000)  # warm up
    ratio = _decode_time(large, 32_000) / _decode_time(small, 2_000)
    assert ratio < 64.0, f"16x the segments took {ratio:.1f}x the time"
