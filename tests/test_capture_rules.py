"""The two rules of every command that reads a capture's messages (``docs/cli.md``,
"Captures") held on the commands of tickwire-itch, which read captures through the
``tickwire.itch.captures`` plugin of tickwire-moldudp64: ``itch dump`` and ``itch
convert`` refuse a capture of two MoldUDP64 sessions (exit 2, naming both; they merged
them), and end with one error line and exit 1 when messages were lost (a sequence gap),
their output written all the same (they exited 0). A copy of a message that differs
from the copy read (a forged packet of the session came first) is such a fault too."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from tickwire.itch import encode
from tickwire.itch.cli import main as itch_main
from tickwire.itch.generator import generate_day
from tickwire.itch.writer import BinaryFileWriter
from tickwire.moldudp64.testing import write_capture


def _capture(path: Path, packets: list[tuple[str, int]], forged: int = 0) -> Path:
    """A capture of one generated message a packet (:func:`write_capture`)."""
    return write_capture(path, packets, [encode(m) for m in generate_day(40, 2, 1)], forged=forged)


@pytest.mark.parametrize("cmd", ["dump", "convert"])
def test_itch_commands_follow_the_capture_rules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cmd: str
) -> None:
    if cmd == "convert":
        pytest.importorskip("pyarrow")
    whole = _capture(tmp_path / "whole.pcap", [("FEED", s) for s in range(1, 11)])
    gap = _capture(tmp_path / "gap.pcap", [("FEED", s) for s in range(1, 11) if s != 4])
    mixed = _capture(tmp_path / "mixed.pcap", [("FEED", 1), ("FEED", 2), ("OTHER", 1), ("FEED", 3)])
    ab = [("FEED", s) for s in range(1, 11) for _line in "AB"]
    clean_ab = _capture(tmp_path / "ab.pcap", ab)
    forged = _capture(tmp_path / "forged.pcap", [*ab[:6], ("FEED", 4), *ab[6:]], forged=4)

    def run(path: Path) -> tuple[int, str]:
        out = tmp_path / f"{cmd}-{path.stem}"
        argv = [cmd, str(path)] + (
            ["--parquet", str(out), "--no-series"] if cmd == "convert" else []
        )
        status = itch_main(argv)
        return status, capsys.readouterr().err

    assert run(whole) == (0, "")
    assert run(clean_ab) == (0, "")
    status, err = run(forged)  # a made-up copy of 4 came first: both real copies differ
    assert status == 1 and err.count("\n") == 1
    assert f"error: {forged}: 2 messages whose copies differ (one copy lies, the first " in err
    status, err = run(gap)
    assert status == 1 and err.count("\n") == 1
    assert f"error: {gap}: 1 sequence gaps (1 messages missing); the " in err
    assert "all the same" in err
    status, err = run(mixed)
    assert status == 2 and err.count("\n") == 1
    assert "session 'OTHER' and frame 1 one of session 'FEED'" in err
    assert err.rstrip().endswith("choose one with --session NAME")


def test_dump_limit_stops_before_the_gap_is_known(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--limit stops reading: what the rest lost is not known, so nothing is said."""
    gap = _capture(tmp_path / "gap.pcap", [("FEED", s) for s in range(1, 11) if s != 4])
    assert itch_main(["dump", str(gap), "--limit", "2"]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("cmd", ["dump", "convert"])
def test_itch_commands_read_one_session_with_session(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cmd: str
) -> None:
    """--session NAME reads that session of a capture of two (the others' packets
    counted, not read; the series plugin's own pass too: ``--implementation pure``);
    a name with no packet is exit 2 naming the capture's sessions; for a BinaryFILE it
    is a usage error (it would be ignored). They had no --session at all."""
    if cmd == "convert":
        pytest.importorskip("pyarrow")
    mixed = _capture(tmp_path / "mixed.pcap", [("FEED", 1), ("FEED", 2), ("OTHER", 1), ("FEED", 3)])
    binaryfile = tmp_path / "day.itch"
    with BinaryFileWriter(binaryfile) as w:
        w.write_all(generate_day(40, 2, 1))

    def run(path: Path, session: str) -> tuple[int, str, str]:
        out = tmp_path / f"{cmd}-{session}"
        argv = [cmd, str(path), "--session", session, "--json"] + (
            ["--parquet", str(out), "--implementation", "pure"] if cmd == "convert" else []
        )
        status = itch_main(argv)
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    status, out, err = run(mixed, "FEED")
    assert (status, err) == (0, "")
    if cmd == "dump":
        assert len(out.splitlines()) == 3  # FEED's three messages, not OTHER's
    else:
        summary = json.loads(out)
        assert summary["capture"]["other_session_packets"] == 1
        assert summary["capture"]["messages"] == 3
        assert "bbo.parquet" in summary["files"]  # the series plugin read FEED too
    status, _, err = run(mixed, "NONE")
    assert status == 2 and err.count("\n") == 1 and "FEED" in err and "OTHER" in err
    status, _, err = run(binaryfile, "FEED")
    assert status == 2 and "--session: for a MoldUDP64 capture, not " in err


def _no_feed_captures(tmp_path: Path) -> dict[str, Path]:
    """Captures with not one MoldUDP64 packet: frames of other traffic only (TCP, here
    the OUCH session's port), and a capture header with no frame at all."""
    from tickwire.net import PcapWriter, build_tcp_frame

    tcp = tmp_path / "tcp.pcap"
    with PcapWriter(tcp) as w:
        for i in range(3):
            w.write(
                build_tcp_frame(
                    b"hello",
                    src=("198.18.0.1", 40000),
                    dst=("198.18.0.2", 15000),
                    seq=1 + 5 * i,
                    ack=1,
                    flags=0x18,  # PSH ACK
                )
            )
    nothing = tmp_path / "nothing.pcap"
    with PcapWriter(nothing):
        pass
    return {"tcp": tcp, "nothing": nothing}


def _capture_commands(out: Path) -> list[tuple[str, Callable[[list[str]], int], list[str]]]:
    from tickwire.engine.cli import main as engine_main
    from tickwire.moldudp64.cli import main as mold_main

    return [
        ("itch dump", itch_main, ["dump"]),
        ("itch convert", itch_main, ["convert", "--parquet", str(out / "pq"), "--no-series"]),
        ("pcap2itch", mold_main, ["pcap2itch", "OUT"]),
        ("pcap2itch --keep-duplicates", mold_main, ["pcap2itch", "OUT", "--keep-duplicates"]),
        ("engine book", engine_main, ["book"]),
        ("engine export", engine_main, ["export", "--symbol", "AAAA", "--out", str(out / "ex")]),
        (
            "engine backtest",
            engine_main,
            ["backtest", "--out", str(out / "bt"), "--no-plot", "--quiet"],
        ),
    ]


@pytest.mark.parametrize("kind", ["tcp", "nothing"])
def test_a_capture_without_one_moldudp64_packet_is_a_fault(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    """A capture with not one MoldUDP64 packet (another stream's capture, the wrong port,
    a capture header and no frame) is read as nothing at all: every command that reads a
    capture's messages ends with one line saying so, exit 1, its outputs written all the
    same, like a capture that lost messages. They wrote empty books, tables and reports
    with exit 0, a quiet day (``ouch decode`` already says ``no SoupBinTCP stream found``)."""
    pytest.importorskip("pyarrow")
    path = _no_feed_captures(tmp_path)[kind]
    for name, main, argv in _capture_commands(tmp_path):
        args = [argv[0], str(path)] + [
            str(tmp_path / "o.itch") if a == "OUT" else a for a in argv[1:]
        ]
        status = main(args)
        err = capsys.readouterr().err.splitlines()
        assert status == 1, (name, err)
        assert f"{path}: not one MoldUDP64 packet" in err[-1], (name, err)
        if name == "engine export":  # the symbol asked for is not there either: said first
            assert "error: not found in the data: AAAA (and " in err[-1]
        else:
            assert "all the same" in err[-1], (name, err)


def _fragments(frame: bytes, size: int) -> list[bytes]:
    """The Ethernet/IPv4 ``frame`` (no VLAN tag, a 20-byte IPv4 header) as IPv4 fragments
    of at most ``size`` bytes of IP payload each (a multiple of 8), as a router splits a
    datagram larger than its MTU."""
    import struct

    eth, ip, body = frame[:14], frame[14:34], frame[34:]
    out = []
    for off in range(0, len(body), size):
        part = body[off : off + size]
        more = 0x2000 if off + size < len(body) else 0
        hdr = bytearray(ip)
        struct.pack_into(">H", hdr, 2, 20 + len(part))
        struct.pack_into(">H", hdr, 6, more | (off // 8))
        out.append(eth + bytes(hdr) + part)
    return out


def test_a_fragmented_feed_datagram_is_a_lost_packet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A MoldUDP64 packet larger than the MTU reaches the capture as IPv4 fragments, which
    are not reassembled: its messages are lost, so the reading is a fault (exit 1, one
    line, the outputs written all the same). The fragments were counted as frames of
    other traffic ("not UDP"): with no packet after it to show the gap, the lost
    messages left no trace but ``3 frames without a MoldUDP64 packet``, exit 0."""
    from tickwire.engine.cli import main as engine_main
    from tickwire.moldudp64 import DownstreamPacket
    from tickwire.moldudp64.cli import main as mold_main
    from tickwire.net import PcapWriter, build_udp_frame

    day = [encode(m) for m in generate_day(120, 2, 1)]
    whole = DownstreamPacket("FEED", 1, tuple(day[:5])).build()
    big = DownstreamPacket("FEED", 6, tuple(day[5:105])).build()
    assert len(big) > 3000
    path = tmp_path / "frag.pcap"
    with PcapWriter(path) as w:
        for n, payload in enumerate((whole, big)):
            frame = build_udp_frame(
                payload, src_ip="198.18.0.1", dst_ip="198.18.0.2", src_port=1, dst_port=2
            )
            for part in [frame] if n == 0 else _fragments(frame, 1480):
                w.write(part)
    for name, main, argv in (
        ("engine book", engine_main, ["book", str(path)]),
        ("pcap2itch", mold_main, ["pcap2itch", str(path), str(tmp_path / "o.itch")]),
        (
            "pcap2itch --keep-duplicates",
            mold_main,
            ["pcap2itch", str(path), str(tmp_path / "k.itch"), "--keep-duplicates"],
        ),
    ):
        status = main(argv)
        err = capsys.readouterr().err.splitlines()
        assert status == 1, (name, err)
        assert (
            f"{path}: 3 IPv4 fragments of UDP datagrams (not reassembled: their messages "
            "are lost)" in err[-1]
        ), (name, err)
        assert "all the same" in err[-1], (name, err)


def _stray_datagram(src_ip: str, dst_ip: str, ident: int) -> list[bytes]:
    """A datagram of other traffic (a 4000-byte answer to port 2049, NFS) as the three
    IPv4 fragments a 1500-byte MTU makes of it."""
    from tickwire.net import build_udp_frame

    frame = build_udp_frame(
        bytes(range(256)) * 16,
        src_ip=src_ip,
        dst_ip=dst_ip,
        src_port=2049,
        dst_port=2049,
        identification=ident,
        dont_fragment=False,
    )
    return _fragments(frame, 1480)


def _with_frames(whole: Path, path: Path, extra: dict[int, list[bytes]]) -> Path:
    """``whole`` rewritten to ``path`` with the frames ``extra[n]`` before its frame ``n``
    (0-based; ``len`` of its frames: at the end)."""
    from tickwire.net import PcapWriter, read_pcap

    records = list(read_pcap(whole))
    with PcapWriter(path) as w:
        for n in range(len(records) + 1):
            for frame in extra.get(n, []):
                w.write(frame)
            if n < len(records):
                w.write(records[n].frame, timestamp_ns=records[n].timestamp_ns)
    return path


def test_an_unrelated_fragmented_datagram_is_other_traffic(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A fragmented datagram of other traffic (another port, other hosts) in a feed's
    capture is other traffic, not lost feed data: every command that reads a capture's
    messages exits 0, the books (both backends) the same as without it. Every IPv4
    fragment of a UDP datagram was counted as lost: one NFS read on the capture's link
    made the whole day exit 1. A later fragment whose first is not in the capture, between
    other hosts, is other traffic too."""
    pytest.importorskip("pyarrow")

    whole = _capture(tmp_path / "whole.pcap", [("FEED", s) for s in range(1, 11)])
    stray = _stray_datagram("198.18.7.1", "198.18.7.2", 0x1234)
    orphan = _stray_datagram("198.18.9.1", "198.18.9.2", 0x4321)[1:]  # its first not seen
    path = _with_frames(whole, tmp_path / "stray.pcap", {0: orphan, 4: stray})
    _every_command_reads(path, tmp_path, capsys)
    for stats in _same_books_as(whole, path, tmp_path):
        assert stats["fragments"] == 0 and stats["skipped_frames"] == len(stray) + len(orphan)
    capsys.readouterr()


def _every_command_reads(path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every capture command reads ``path`` (a capture of AAPL's feed) with exit 0."""
    for name, main, argv in _capture_commands(tmp_path):
        if name == "engine export":
            argv = [a if a != "AAAA" else "AAPL" for a in argv]
        args = [argv[0], str(path)] + [
            str(tmp_path / "o.itch") if a == "OUT" else a for a in argv[1:]
        ]
        status = main(args)
        err = capsys.readouterr().err.splitlines()
        assert status == 0, (path.name, name, err)


def _same_books_as(whole: Path, path: Path, tmp_path: Path) -> list[dict[str, int]]:
    """``engine book`` of ``path`` gives the books of ``whole`` on both backends; the
    capture statistics of ``path``, one per backend."""
    from tickwire.engine.cli import main as engine_main

    stats = []
    for backend in ("reference", "cython"):
        books = []
        for capture in (whole, path):
            out = tmp_path / f"{backend}-{capture.stem}.json"
            argv = ["book", str(capture), "--backend", backend, "--json", str(out)]
            assert engine_main(argv) == 0, (capture.name, backend)
            summary = json.loads(out.read_text())
            captured = summary.pop("capture")
            books.append(summary)
        assert books[0] == books[1], (path.name, backend)
        stats.append(captured)
    return stats


@pytest.mark.parametrize(
    "where", ["first", "first fragment lost", "with a stray", "every packet fragmented"]
)
def test_the_feeds_own_fragments_are_lost_wherever_they_are(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    """The fragments of the feed's own datagram are lost messages (exit 1) wherever they
    are: before any whole packet of the feed (its port is known only later), without
    their first fragment (no UDP header: matched by the feed's addresses), and next to a
    fragmented datagram of other traffic (counted apart: only the feed's three), and in
    a capture where every packet of the feed is fragmented (no whole packet to learn its
    port from: its datagrams start like MoldUDP64 packets, the stray's do not)."""
    from tickwire.engine.cli import main as engine_main
    from tickwire.moldudp64 import DownstreamPacket
    from tickwire.net import build_udp_frame

    day = [encode(m) for m in generate_day(120, 2, 1)]
    big = DownstreamPacket("FEED", 11, tuple(day[10:110])).build()
    frame = build_udp_frame(
        big, src_ip="198.18.0.1", dst_ip="198.18.0.2", src_port=1, dst_port=26477,
        identification=7, dont_fragment=False,
    )  # fmt: skip
    feed = _fragments(frame, 1480)
    whole = write_capture(tmp_path / "whole.pcap", [("FEED", s) for s in range(1, 11)], day)
    extra = {
        "first": {0: feed},
        "first fragment lost": {10: feed[1:]},
        "with a stray": {10: _stray_datagram("198.18.7.1", "198.18.7.2", 7) + feed},
        "every packet fragmented": {0: feed + _stray_datagram("198.18.7.1", "198.18.7.2", 7)},
    }[where]
    source = whole
    if where == "every packet fragmented":  # the feed's only packet: fragmented
        source = write_capture(tmp_path / "none.pcap", [], day)
    path = _with_frames(source, tmp_path / "frag.pcap", extra)
    lost = len(feed[1:]) if where == "first fragment lost" else len(feed)
    for backend in ("reference", "cython"):
        status = engine_main(["book", str(path), "--backend", backend])
        err = capsys.readouterr().err.splitlines()
        assert status == 1, (backend, err)
        assert f"{path}: {lost} IPv4 fragments of UDP datagrams (not reassembled" in err[-1]


def _last_record_at(pcap: bytes) -> int:
    """The byte offset of a classic pcap's last record (its 16-byte header)."""
    import struct

    at = last = 24
    while at < len(pcap):
        last = at
        at += 16 + struct.unpack_from("<I", pcap, at + 8)[0]
    return last


@pytest.mark.parametrize("where", ["data", "header"])  # of the last record
def test_a_capture_cut_inside_a_record_keeps_what_came_before(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    """A capture that ends inside a record (copied while it was written, or cut by a full
    disk): every command that reads a capture's messages reads the whole records before
    it, writes its outputs and ends with one line saying where the file ends, exit 1
    (``tickwire.net.CutPcap``, ``CaptureStats.truncated``). They raised at the cut: exit
    1 with no output at all, though every record before was whole."""
    pytest.importorskip("pyarrow")
    whole = _capture(tmp_path / "whole.pcap", [("FEED", s) for s in range(1, 11)])
    path = tmp_path / "cut.pcap"
    data = whole.read_bytes()
    last = _last_record_at(data)
    path.write_bytes(data[: len(data) - 1] if where == "data" else data[: last + 8])
    for name, main, argv in _capture_commands(tmp_path):
        if name == "engine export":
            continue  # no symbol of the day asked for: its own line (test above)
        args = [argv[0], str(path)] + [
            str(tmp_path / "o.itch") if a == "OUT" else a for a in argv[1:]
        ]
        status = main(args)
        err = capsys.readouterr().err.splitlines()
        assert status == 1, (name, err)
        assert f"{path}: the file ends inside a " in err[-1], (name, err)
        assert "its last record lost" in err[-1] and "all the same" in err[-1], (name, err)
    assert itch_main(["dump", str(path), "--json"]) == 1
    dumped = capsys.readouterr().out.splitlines()
    assert itch_main(["dump", str(whole), "--json"]) == 0
    assert dumped == capsys.readouterr().out.splitlines()[: len(dumped)] and dumped  # a prefix


def test_two_captures_concatenated_are_one_line_naming_where(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``cat a.pcap b.pcap`` given to every command that reads a capture's messages: one
    line naming the file and the byte where the second file header starts, exit 1 (a
    file that cannot be read). It said ``the file ends inside a 15872-byte record`` (or
    ``record length ... is not plausible``), nothing of the cause."""
    pytest.importorskip("pyarrow")
    whole = _capture(tmp_path / "whole.pcap", [("FEED", s) for s in range(1, 11)])
    path = tmp_path / "cat.pcap"
    path.write_bytes(whole.read_bytes() * 2)
    at = whole.stat().st_size
    from tickwire.moldudp64.cli import main as mold_main

    replay = ("replay", mold_main, ["replay", "--to", "127.0.0.1:9", "--speed", "0"])  # loopback
    for name, main, argv in [*_capture_commands(tmp_path), replay]:
        args = [argv[0], str(path)] + [
            str(tmp_path / "o.itch") if a == "OUT" else a for a in argv[1:]
        ]
        status = main(args)
        err = capsys.readouterr().err.splitlines()
        assert status == 1 and len(err) == 1, (name, err)
        assert err[0].endswith(
            f"error: {path}: a second pcap file header: two captures concatenated (merge them "
            f"with mergecap, or read them one by one) (at byte {at})"
        ), (name, err)


@pytest.mark.parametrize("damage", ["version", "caplen", "pcapng version"])
def test_an_impossible_pcap_header_or_record_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    """A pcap of version 3.0, or with a record holding more bytes than its frame had on
    the wire, given to every command that reads a capture's messages: one line naming
    the file, what is wrong and where, exit 1. Both were read as good captures; so was a
    pcapng section of major version 2."""
    import struct

    from tickwire.net import PcapngWriter, read_pcap

    pytest.importorskip("pyarrow")
    whole = _capture(tmp_path / "whole.pcap", [("FEED", s) for s in range(1, 11)])
    raw = bytearray(whole.read_bytes())
    if damage == "pcapng version":
        ng = tmp_path / "whole.pcapng"
        with PcapngWriter(ng) as w:
            for rec in read_pcap(whole):
                w.write(rec.frame, timestamp_ns=rec.timestamp_ns)
        raw = bytearray(ng.read_bytes())
        struct.pack_into("<H", raw, 12, 2)
        want = (
            "pcapng section version 2.0 is not 1.x, the version pcapng files are written in "
            "(at byte 12)"
        )
    elif damage == "version":
        struct.pack_into("<HH", raw, 4, 3, 0)
        want = (
            "pcap version 3.0 is not 2.0 to 2.4, the versions pcap files are written in (at byte 4)"
        )
    else:
        at = _last_record_at(bytes(raw))
        n = struct.unpack_from("<I", raw, at + 8)[0]
        struct.pack_into("<I", raw, at + 12, n - 4)
        want = f"record of {n} bytes captured from a {n - 4}-byte frame on the wire (at byte {at})"
    path = tmp_path / "bad.pcap"
    path.write_bytes(bytes(raw))
    for name, main, argv in _capture_commands(tmp_path):
        args = [argv[0], str(path)] + [
            str(tmp_path / "o.itch") if a == "OUT" else a for a in argv[1:]
        ]
        status = main(args)
        err = capsys.readouterr().err.splitlines()
        assert status == 1 and len(err) == 1, (name, err)
        assert err[0].endswith(f"error: {path}: {want}"), (name, err)


def test_a_feed_in_qinq_is_read_as_the_feed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A feed captured in two stacked VLAN tags (QinQ: 802.1ad 0x88A8 then 802.1Q, or
    802.1Q twice) is the same feed: every command that reads a capture's messages exits
    0 and the books (both backends) are those of the untagged capture. Every frame was
    counted as other traffic: exit 1, ``not one MoldUDP64 packet in its 10 frames (10 not
    UDP)``. Three tags are still not read."""
    pytest.importorskip("pyarrow")
    from tickwire.engine.cli import main as engine_main
    from tickwire.net import PcapWriter, read_pcap

    whole = _capture(tmp_path / "whole.pcap", [("FEED", s) for s in range(1, 11)])

    def tagged(path: Path, tpids: list[int]) -> Path:
        with PcapWriter(path) as w:
            for rec in read_pcap(whole):
                tags = b"".join(t.to_bytes(2, "big") + (7 + i).to_bytes(2, "big")
                                for i, t in enumerate(tpids))  # fmt: skip
                w.write(rec.frame[:12] + tags + rec.frame[12:])
        return path

    for tpids in ([0x88A8, 0x8100], [0x8100, 0x8100]):
        path = tagged(tmp_path / f"qinq-{tpids[0]:x}.pcap", tpids)
        _every_command_reads(path, tmp_path, capsys)
        for stats in _same_books_as(whole, path, tmp_path):
            assert stats["packets"] == 10, tpids
    three = tagged(tmp_path / "three.pcap", [0x88A8, 0x8100, 0x8100])
    assert engine_main(["book", str(three)]) == 1
    assert "not one MoldUDP64 packet in its 10 frames (10 not UDP)" in capsys.readouterr().err
