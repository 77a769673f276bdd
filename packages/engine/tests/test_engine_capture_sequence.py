"""An A/B capture (every packet twice, the lines racing) gives what one clean line gives:
the same books, the same backtest PnL and the same LOBSTER export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tickwire.engine.cli import main as engine_main
from tickwire.engine.sources import CaptureFeedStats, iter_capture
from tickwire.itch import BinaryFileWriter
from tickwire.itch.generator import generate_day
from tickwire.moldudp64.cli import pack_binaryfile
from tickwire.net import PcapWriter, build_udp_frame

DAY = (6_000, 8, 3)  # messages, symbols, seed


def write_capture(path: Path, packets: list[tuple[int, bytes]], order: list[int]) -> None:
    with PcapWriter(path) as w:
        for i in order:
            ts, pkt = packets[i]
            frame = build_udp_frame(
                pkt, src_ip="198.18.0.1", dst_ip="198.18.0.2", src_port=1, dst_port=26477
            )
            w.write(frame, timestamp_ns=ts)


@pytest.fixture(scope="module")
def captures(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, int]:
    """(one line, A/B lines interleaved and reordered, packets): itch2pcap of a day."""
    tmp = tmp_path_factory.mktemp("ab")
    itch = tmp / "day.itch"
    with BinaryFileWriter(itch) as out:
        for msg in generate_day(*DAY):
            out.write(msg)
    packets = list(pack_binaryfile(str(itch), session="AB", max_payload=400))
    single, ab = tmp / "single.pcap", tmp / "ab.pcap"
    write_capture(single, packets, list(range(len(packets))))
    # Line A sends packet i while line B sends packet i - 1; every fifth pair swapped, so
    # packet i + 1 sometimes comes before packet i.
    order: list[int] = []
    for i in range(len(packets) + 1):
        pair = [i, i - 1] if i % 5 else [i - 1, i]
        order += [p for p in pair if 0 <= p < len(packets)]
    for i in range(3, len(order) - 1, 7):
        order[i], order[i + 1] = order[i + 1], order[i]
    write_capture(ab, packets, order)
    return single, ab, len(packets)


def test_iter_capture_gives_the_single_line(captures: tuple[Path, Path, int]) -> None:
    single, ab, _ = captures
    stats = CaptureFeedStats()
    assert list(iter_capture(ab, stats=stats)) == list(iter_capture(single))
    assert stats.duplicates == DAY[0] and stats.missing == 0 and stats.gaps == 0
    raw = CaptureFeedStats()
    assert len(list(iter_capture(ab, stats=raw, keep_duplicates=True))) == 2 * DAY[0]
    assert not raw.sequenced


@pytest.mark.parametrize("backend", ["reference", "cython"])
def test_book_on_an_ab_capture(
    captures: tuple[Path, Path, int], backend: str, capsys: pytest.CaptureFixture[str]
) -> None:
    single, ab, _ = captures
    books = []
    for path in (single, ab):
        assert engine_main(["book", str(path), "--json", "--backend", backend]) == 0
        out, err = capsys.readouterr()
        books.append(json.loads(out))
    assert books[0]["unknown_references"] == 0
    assert books[0]["instruments"] == books[1]["instruments"]
    assert books[1]["unknown_references"] == 0
    assert books[1]["capture"]["duplicates"] == DAY[0] and books[1]["capture"]["missing"] == 0
    assert err == ""
    assert engine_main(["book", str(ab)]) == 0
    assert f"{DAY[0]:,} duplicates dropped, 0 gaps" in capsys.readouterr().out
    # --keep-duplicates applies every copy: what the books looked like before.
    assert engine_main(["book", str(ab), "--json", "--keep-duplicates"]) == 0
    raw = json.loads(capsys.readouterr().out)
    assert raw["unknown_references"] > 0 and raw["capture"]["sequenced"] is False


def test_backtest_on_an_ab_capture(captures: tuple[Path, Path, int], tmp_path: Path) -> None:
    reports = []
    for path in captures[:2]:
        out = tmp_path / path.stem
        args = ["backtest", str(path), "--out", str(out), "--no-plot", "--quiet"]
        assert engine_main(args) == 0
        report = json.loads((out / "report.json").read_text())
        reports.append(report)
    assert reports[1]["capture"]["duplicates"] == DAY[0]
    assert reports[0]["messages"] == reports[1]["messages"] == DAY[0]
    same = [
        {k: v for k, v in r.items() if k not in ("runtime", "data", "capture")} for r in reports
    ]
    assert same[0] == same[1]


def test_export_on_an_ab_capture(
    captures: tuple[Path, Path, int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tickwire.itch import StockDirectory

    symbols = sorted(
        {m.stock.strip() for m in generate_day(*DAY) if isinstance(m, StockDirectory)}
    )[:2]
    files = []
    for path in captures[:2]:
        out = tmp_path / path.stem
        argv = ["export", str(path), "--symbol", ",".join(symbols), "--out", str(out)]
        assert engine_main(argv) == 0
        files.append({p.name: p.read_bytes() for p in sorted(out.iterdir())})
    assert files[0] == files[1] and len(files[0]) >= 2 * len(symbols)
    assert "duplicates dropped" in capsys.readouterr().out


@pytest.mark.parametrize("keep_duplicates", [False, True])
def test_a_second_session_in_a_capture_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], keep_duplicates: bool
) -> None:
    """One packet of another session in a capture: each session is sequenced on its own
    and every message is read, so the capture line says there were two and names them
    (``capture.sessions`` in the JSON). Nothing said so: one stray packet's messages went
    into the books unseen."""
    from tickwire.moldudp64.codec import DownstreamPacket, parse_downstream

    itch = tmp_path / "day.itch"
    with BinaryFileWriter(itch) as out:
        for msg in generate_day(500, 3, 1):
            out.write(msg)
    packets = list(pack_binaryfile(str(itch), session="FEED01", max_payload=400))
    stray = DownstreamPacket("STRAY1", 1, parse_downstream(packets[5][1]).messages)
    packets.insert(6, (packets[5][0], stray.build()))
    cap = tmp_path / "mixed.pcap"
    write_capture(cap, packets, list(range(len(packets))))
    argv = ["book", str(cap), *(["--keep-duplicates"] if keep_duplicates else [])]
    assert engine_main(argv) == 0
    text = capsys.readouterr().out
    assert "2 MoldUDP64 sessions, all read: FEED01, STRAY1" in text
    assert engine_main([*argv, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["capture"]["sessions"] == ["FEED01", "STRAY1"]
