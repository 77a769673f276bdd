"""TCP segments out of captures, reassembly (holes, retransmissions, wrap) and the
conversation writer."""

from __future__ import annotations

import io
import itertools
import struct
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from tickwire.net import PcapngWriter, read_pcap
from tickwire.net.frames import build_tcp, build_tcp_frame
from tickwire.net.pcap import PcapRecord
from tickwire.net.tcp import (
    ReassemblyStats,
    TcpCaptureWriter,
    TcpSegment,
    TcpStreamChunk,
    reassemble,
    tcp_segment,
    tcp_segments,
)

SERVER = ("198.18.0.2", 26400)
CLIENT = ("198.18.0.1", 40000)


def _seg(
    seq: int, data: bytes, *, ack: int = 0, flags: int = 0x18, server: bool = True
) -> TcpSegment:
    src, dst = (SERVER, CLIENT) if server else (CLIENT, SERVER)
    return TcpSegment(0, src[0], src[1], dst[0], dst[1], seq, ack, flags, data)


def _run(segs: list[TcpSegment], **kw: int) -> tuple[list[TcpStreamChunk], ReassemblyStats]:
    st = ReassemblyStats()
    return list(reassemble(segs, stats=st, **kw)), st


def test_reassembly_reorder_retransmit_overlap_wrap() -> None:
    base = 0xFFFFFFF0  # sequence numbers wrap inside the stream
    stream = bytes(range(60))
    segs = [
        _seg(base - 1, b"", flags=0x02),  # SYN
        _seg(base + 20, stream[20:40]),  # early: held back
        _seg(base, stream[0:10]),
        _seg(base, stream[0:10]),  # retransmission
        _seg((base + 5) & 0xFFFFFFFF, stream[5:25]),  # overlap
        _seg((base + 40) & 0xFFFFFFFF, stream[40:60]),
    ]
    out = b"".join(c.data for c in reassemble(segs))
    assert out == stream


def test_a_hole_the_peer_acknowledged_is_given_up_at_once() -> None:
    chunks, st = _run(
        [
            _seg(1000, b"a" * 10),
            _seg(1020, b"c" * 10),  # 1010..1020 never captured
            _seg(5000, b"", ack=1030, server=False),  # the client had it all
            _seg(1030, b"d" * 10),
        ]
    )
    assert [(c.data, c.lost) for c in chunks] == [(b"a" * 10, 0), (b"c" * 10, 10), (b"d" * 10, 0)]
    assert (st.gaps, st.lost, st.delivered) == (1, 10, 30)


def test_an_acknowledged_tail_with_nothing_after_it_is_announced_empty() -> None:
    chunks, _ = _run([_seg(1000, b"a" * 10), _seg(5000, b"", ack=1025, server=False)])
    assert [(c.data, c.lost, c.src) for c in chunks] == [
        (b"a" * 10, 0, SERVER[0]),
        (b"", 15, SERVER[0]),
    ]


def test_the_ack_of_a_fin_is_no_lost_byte() -> None:
    chunks, st = _run(
        [_seg(1000, b"a" * 10, flags=0x19), _seg(5000, b"", ack=1011, server=False, flags=0x11)]
    )
    assert [c.data for c in chunks] == [b"a" * 10] and st.gaps == 0


def test_unacknowledged_holes_wait_for_max_held_or_the_end() -> None:
    segs = [_seg(1000, b"a" * 10), *(_seg(1020 + 10 * i, bytes([i]) * 10) for i in range(5))]
    chunks, st = _run(segs)  # the end of the capture gives the hole up
    assert [c.lost for c in chunks] == [0, 10, 0, 0, 0, 0] and st.delivered == 60
    chunks, st = _run(segs, max_held=25)  # the third held segment goes past 25 bytes
    assert [c.lost for c in chunks] == [0, 10, 0, 0, 0, 0] and st.gaps == 1
    # A late copy of the lost bytes after the hole was given up is counted, not delivered.
    chunks, st = _run([*segs, _seg(1010, b"b" * 10)], max_held=25)
    assert st.retransmitted == 10 and b"b" not in b"".join(c.data for c in chunks)


@settings(max_examples=60, deadline=None)
@given(
    stream=st.binary(min_size=1, max_size=400),
    isn=st.integers(0, 0xFFFFFFFF),
    data=st.data(),
)
def test_reassembly_of_any_cut_shuffle_and_duplication(
    stream: bytes, isn: int, data: st.DataObject
) -> None:
    """However the stream is cut, reordered and duplicated, it comes out whole, once."""
    cuts = sorted(set(data.draw(st.lists(st.integers(1, len(stream)), max_size=12))))
    bounds = [0, *cuts, len(stream)]
    pieces = [(a, b) for a, b in itertools.pairwise(bounds) if a < b]
    order = data.draw(st.permutations(pieces))
    dups = data.draw(st.lists(st.sampled_from(pieces), max_size=4))
    segs = [_seg(isn, b"", flags=0x02)] + [
        _seg((isn + 1 + a) & 0xFFFFFFFF, stream[a:b]) for a, b in [*order, *dups]
    ]
    chunks, stats = _run(segs)
    assert b"".join(c.data for c in chunks) == stream
    assert (stats.delivered, stats.gaps, stats.lost) == (len(stream), 0, 0)
    assert stats.retransmitted == sum(b - a for a, b in dups)


def test_segments_of_every_link_type_and_ipv6_with_a_vlan_tag() -> None:
    tcp = build_tcp(5000, 26400, 7, 0, 0x18, window=1000) + b"\x00\x01H"
    ip6 = (
        struct.pack(">IHBB", 6 << 28, len(tcp), 6, 64)
        + bytes(15) + b"\x01" + bytes(15) + b"\x01"
    )  # fmt: skip
    eth = b"\x02" * 12 + b"\x81\x00\x00\x05" + b"\x86\xdd"  # one 802.1Q tag, then IPv6
    seg = tcp_segment(PcapRecord(0, eth + ip6 + tcp, 1))
    assert (
        seg is not None and seg.src == "::1" and seg.dport == 26400 and seg.payload == b"\x00\x01H"
    )
    frame = build_tcp_frame(b"abc", src=CLIENT, dst=SERVER, seq=9, ack=3, flags=0x18)
    for linktype, raw in ((1, frame), (228, frame[14:]), (0, b"\x02\x00\x00\x00" + frame[14:])):
        seg = tcp_segment(PcapRecord(5, raw, linktype))
        assert seg == TcpSegment(5, *CLIENT, *SERVER, 9, 3, 0x18, b"abc")
    # A capture cut at its snap length keeps the bytes it has (as before the move).
    cut = tcp_segment(PcapRecord(0, frame[:-1], 1))
    assert cut is not None and cut.payload == b"ab"
    assert tcp_segment(PcapRecord(0, frame[:30], 1)) is None  # inside the IPv4 header


def test_pcapng_nanosecond_capture_of_tcp(tmp_path: Path) -> None:
    frame = build_tcp_frame(b"xyz", src=CLIENT, dst=SERVER, seq=1, ack=0, flags=0x18)
    ts = 1_700_000_000_123_456_789
    p = tmp_path / "x.pcapng"
    with PcapngWriter(p) as w:
        w.write(frame, timestamp_ns=ts)
    [seg] = list(tcp_segments(read_pcap(p)))
    assert seg.timestamp_ns == ts and seg.payload == b"xyz"


def test_capture_writer_round_trip() -> None:
    buf = io.BytesIO()
    with TcpCaptureWriter(buf, client=CLIENT, server=SERVER, mss=7) as w:
        w.client_sent(b"hello server")
        w.server_sent(b"hello client, at length")
        w.client_sent(b"bye")
    chunks = list(reassemble(tcp_segments(read_pcap(buf.getvalue()))))
    got: dict[str, bytes] = {}
    for c in chunks:
        got[c.src] = got.get(c.src, b"") + c.data
    assert got == {CLIENT[0]: b"hello serverbye", SERVER[0]: b"hello client, at length"}
    assert all(c.lost == 0 for c in chunks)
