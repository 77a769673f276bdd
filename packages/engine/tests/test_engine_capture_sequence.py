"""An A/B capture (every packet twice, the lines racing) gives what one clean line gives:
the same books, the same backtest PnL and the same LOBSTER export."""

from __future__ import annotations

import json
import struct
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
        out.write_all(generate_day(*DAY))
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


def mixed_capture(tmp_path: Path, *, stray_at: int = 6) -> tuple[Path, Path]:
    """(a capture of session FEED01 with one packet of STRAY1 inserted, the same without)."""
    from tickwire.moldudp64.codec import DownstreamPacket, parse_downstream

    itch = tmp_path / "day.itch"
    with BinaryFileWriter(itch) as out:
        out.write_all(generate_day(500, 3, 1))
    packets = list(pack_binaryfile(str(itch), session="FEED01", max_payload=400))
    clean = tmp_path / "clean.pcap"
    write_capture(clean, packets, list(range(len(packets))))
    stray = DownstreamPacket("STRAY1", 1, parse_downstream(packets[5][1]).messages)
    packets.insert(stray_at, (packets[5][0], stray.build()))
    cap = tmp_path / "mixed.pcap"
    write_capture(cap, packets, list(range(len(packets))))
    return cap, clean


COMMANDS = {  # each command that reads a capture, its output in OUT
    "book": ["book", "{cap}", "--json", "{out}/book.json"],
    "backtest": ["backtest", "{cap}", "--out", "{out}", "--no-plot", "--quiet"],
    "export": ["export", "{cap}", "--symbol", "AAPL", "--out", "{out}"],
}


def _argv(cmd: str, cap: Path, out: Path, *extra: str) -> list[str]:
    if cmd == "book":
        out.mkdir(exist_ok=True)
    return [a.format(cap=cap, out=out) for a in COMMANDS[cmd]] + list(extra)


@pytest.mark.parametrize("keep_duplicates", [False, True])
@pytest.mark.parametrize("cmd", sorted(COMMANDS))
def test_a_capture_of_two_sessions_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cmd: str, keep_duplicates: bool
) -> None:
    """One packet of another session in a capture: without --session, every command
    that reads it stops at that packet with one line naming both sessions and the
    option, exit 2, and writes nothing. It was merged into the same books (each session
    sequenced on its own), only named in the capture line: a stray packet's orders
    were booked, two feeds were one."""
    cap, _ = mixed_capture(tmp_path)
    out = tmp_path / "out"
    extra = ["--keep-duplicates"] if keep_duplicates else []
    assert engine_main(_argv(cmd, cap, out, *extra)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "'STRAY1'" in err and "'FEED01'" in err and "--session NAME" in err
    assert "frame 7 " in err
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize("keep_duplicates", [False, True])
def test_session_reads_one_session(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], keep_duplicates: bool
) -> None:
    """--session FEED01 gives the books of the capture without the stray packet, and the
    capture line says what was skipped; --session STRAY1 the stray packet's alone."""
    cap, clean = mixed_capture(tmp_path)
    extra = ["--keep-duplicates"] if keep_duplicates else []
    assert engine_main(["book", str(clean), "--json", *extra]) == 0
    want = json.loads(capsys.readouterr().out)
    assert engine_main(["book", str(cap), "--json", "--session", "FEED01", *extra]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["instruments"] == want["instruments"]
    assert got["capture"]["other_session"] == 1
    assert got["capture"]["sessions"] == ["FEED01", "STRAY1"]
    assert engine_main(["book", str(cap), "--session", "FEED01", *extra]) == 0
    assert "session FEED01 read, 1 packets of STRAY1 skipped" in capsys.readouterr().out
    assert engine_main(["book", str(cap), "--json", "--session", "STRAY1", *extra]) == 0
    stray = json.loads(capsys.readouterr().out)
    assert stray["capture"]["packets"] == 1 and stray["capture"]["other_session"] > 1


def test_session_backtest_and_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cap, clean = mixed_capture(tmp_path)
    for cmd in ("backtest", "export"):
        assert engine_main(_argv(cmd, clean, tmp_path / f"{cmd}-clean")) == 0
        assert engine_main(_argv(cmd, cap, tmp_path / cmd, "--session", "FEED01")) == 0
        capsys.readouterr()
        names = sorted(p.name for p in (tmp_path / cmd).iterdir())
        assert names == sorted(p.name for p in (tmp_path / f"{cmd}-clean").iterdir())
        if cmd == "export":
            for n in names:
                assert (tmp_path / cmd / n).read_bytes() == (
                    tmp_path / f"{cmd}-clean" / n
                ).read_bytes()
    report = json.loads((tmp_path / "backtest" / "report.json").read_text())
    clean_report = json.loads((tmp_path / "backtest-clean" / "report.json").read_text())
    assert report["pnl"] == clean_report["pnl"] and report["messages"] == clean_report["messages"]
    assert report["capture"]["other_session"] == 1


@pytest.mark.parametrize("cmd", sorted(COMMANDS))
def test_a_session_not_in_the_capture_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cmd: str
) -> None:
    """--session NOPE read nothing and said so nowhere: empty books, exit 0."""
    cap, _ = mixed_capture(tmp_path)
    assert engine_main(_argv(cmd, cap, tmp_path / "out", "--session", "NOPE")) == 2
    err = capsys.readouterr().err
    assert "session 'NOPE': not one packet of it in the capture" in err
    assert "'FEED01', 'STRAY1'" in err


@pytest.mark.parametrize("option", [["--session", "FEED01"], ["--keep-duplicates"]])
def test_capture_options_for_a_binaryfile_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: list[str]
) -> None:
    """They were ignored without a word."""
    itch = tmp_path / "day.itch"
    with BinaryFileWriter(itch) as out:
        out.write_all(generate_day(200, 2, 1))
    for argv in (["book", str(itch)], _argv("backtest", itch, tmp_path / "o"), ["backtest"]):
        assert engine_main([*argv, *option]) == 2
        err = capsys.readouterr().err
        assert f"{option[0]}: for a MoldUDP64 capture, not " in err


def faulty_capture(tmp_path: Path, fault: str) -> Path:
    """A one-session capture with one packet lost: ``bad`` (its count lies: the packet
    does not parse), ``cut`` (captured below its wire length) or ``gap`` (not there); or
    ``forged``: a copy of it with its last byte changed comes first (the real one is then
    an A/B duplicate that differs); or ``cut+bad``: an earlier packet cut, then it bad; or
    ``after_end``: an end of session at its sequence number comes first, twice a second
    apart (confirmed), and it and the packets after it come a second later."""
    itch = tmp_path / "day.itch"
    with BinaryFileWriter(itch) as out:
        out.write_all(generate_day(500, 3, 1))
    packets = list(pack_binaryfile(str(itch), session="FEED01", max_payload=400))
    raw = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))  # pcap, us
    if fault == "forged":
        ts, pkt = packets[5]
        packets.insert(5, (ts, pkt[:-1] + bytes([pkt[-1] ^ 1])))
    if fault == "after_end":
        ts, pkt = packets[5]
        eos = pkt[:10] + pkt[10:18] + b"\xff\xff"
        later = [(t + 2_000_000_000, p) for t, p in packets[5:]]
        packets = [*packets[:5], (ts, eos), (ts + 1_000_000_000, eos), *later]
    for i, (ts, pkt) in enumerate(packets):
        if i == 5 and fault == "gap":
            continue
        if i == 5 and fault in ("bad", "cut+bad"):
            count = int.from_bytes(pkt[18:20], "big") + 1
            pkt = pkt[:18] + count.to_bytes(2, "big") + pkt[20:]
        frame = build_udp_frame(
            pkt, src_ip="198.18.0.1", dst_ip="198.18.0.2", src_port=1, dst_port=26477
        )
        cut = (i, fault) in ((5, "cut"), (3, "cut+bad"))
        kept = frame[:60] if cut else frame
        sec, us = divmod(ts // 1000, 1_000_000)
        raw += struct.pack("<IIII", sec, us, len(kept), len(frame)) + kept
    cap = tmp_path / f"{fault}.pcap"
    cap.write_bytes(bytes(raw))
    return cap


@pytest.mark.parametrize("fault", ["bad", "cut", "gap", "forged", "after_end"])
@pytest.mark.parametrize("cmd", sorted(COMMANDS))
def test_lost_messages_are_an_error_after_the_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cmd: str, fault: str
) -> None:
    """One rule for every command that reads a capture (docs/cli.md, "Captures"): the
    output is written, and one error line saying what was lost, exit 1, says it is not
    whole. engine book, backtest and export exited 0 (the loss was in the capture line,
    if the user read it) where pcap2itch exited 1; messages after a confirmed end of
    session were dropped by all four with exit 0 and in no count."""
    cap = faulty_capture(tmp_path, fault)
    out = tmp_path / "out"
    assert engine_main(_argv(cmd, cap, out)) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    what = {
        "bad": "1 bad MoldUDP64 packets",
        "cut": "1 frames cut short",
        "gap": "1 sequence gaps",
        "forged": "1 messages whose copies differ (one copy lies, the first at FEED01 ",
        "after_end": "messages after the end of session (not read: an end of session is"
        " final; the first at FEED01 ",
    }
    said = err.partition(f"error: {cap}: ")[2]
    if fault == "after_end":  # every message from packet 5 on: some hundreds
        said = said.partition(" ")[2] if said.split(" ")[0].replace(",", "").isdigit() else ""
    assert said.startswith(what[fault]) and "all the same" in err
    assert any(out.iterdir())  # written, and said not to be whole


def test_a_whole_capture_is_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Other traffic, A/B copies and a second session read with --session are no loss."""
    cap, _ = mixed_capture(tmp_path)
    for cmd in sorted(COMMANDS):
        assert engine_main(_argv(cmd, cap, tmp_path / cmd, "--session", "FEED01")) == 0
    assert capsys.readouterr().err == ""


def test_sweep_run_of_a_capture_with_lost_messages_is_incomplete(tmp_path: Path) -> None:
    """A sweep's run keeps its figures and says the day lost messages (status
    "incomplete", counted as failed: the sweep exits 1); --session reaches the run."""
    from tickwire.engine.backtest.sweep import SweepTask, run_task

    def task(day: Path, **kw: object) -> SweepTask:
        return SweepTask(
            day=str(day),
            day_name=day.name,
            params_id="p0",
            params={},
            config={},
            out=str(tmp_path / "runs" / day.stem),
            plot=False,
            **kw,  # type: ignore[arg-type]
        )

    row = run_task(task(faulty_capture(tmp_path, "gap")))
    assert row["status"] == "incomplete" and row["pnl_e4"] is not None
    assert row["error"].startswith("gap.pcap: 1 sequence gaps (")
    cap, _ = mixed_capture(tmp_path)
    row = run_task(task(cap))
    assert row["status"] == "error" and "SessionChoiceError" in row["error"]
    row = run_task(task(cap, session="FEED01"))
    assert row["status"] == "ok", row["error"]


def test_sweep_says_incomplete_runs_apart_from_failed_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The totals count incomplete runs (figures kept, the day lost messages) apart from
    failed ones (no figures): they said "0 ok, 2 failed" while each row said incomplete."""
    grid = tmp_path / "grid.toml"
    grid.write_text('[grid]\n"strategy.quote_size" = [100, 200]\n')
    day = faulty_capture(tmp_path, "gap")
    argv = ["sweep", "--data", str(day), "--grid", str(grid), "--out", str(tmp_path / "s")]
    assert engine_main([*argv, "--workers", "1", "--no-plot"]) == 1
    out, err = capsys.readouterr()
    assert "0 ok, 0 failed, 2 incomplete" in out
    assert "sweep: 2 of 2 runs not ok (0 ok, 0 failed, 2 incomplete; " in err


def test_the_capture_line_shows_a_session_name_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A stray packet whose session is ESC [ 2 J ESC [ H: the capture line names it
    escaped. On the old code it went to the terminal raw (cleared it)."""
    from tickwire.moldudp64.codec import DownstreamPacket, parse_downstream

    itch = tmp_path / "day.itch"
    with BinaryFileWriter(itch) as out:
        out.write_all(generate_day(200, 3, 1))
    packets = list(pack_binaryfile(str(itch), session="FEED01", max_payload=400))
    evil = DownstreamPacket("\x1b[2J\x1b[H", 1, parse_downstream(packets[1][1]).messages)
    packets.insert(2, (packets[1][0], evil.build()))
    cap = tmp_path / "evil.pcap"
    write_capture(cap, packets, list(range(len(packets))))
    assert engine_main(["book", str(cap), "--session", "FEED01"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert "session FEED01 read, 1 packets of \\x1b[2J\\x1b[H skipped" in out


def test_the_first_conflict_names_its_session_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A capture of session ESC [ 2 J ESC [ H with a forged copy of one packet: the error
    line names the first conflict's session escaped (it went to stderr raw)."""
    itch = tmp_path / "day.itch"
    with BinaryFileWriter(itch) as out:
        out.write_all(generate_day(200, 3, 1))
    packets = list(pack_binaryfile(str(itch), session="\x1b[2J\x1b[H", max_payload=400))
    ts, pkt = packets[2]
    packets.insert(2, (ts, pkt[:-1] + bytes([pkt[-1] ^ 1])))
    cap = tmp_path / "evil.pcap"
    write_capture(cap, packets, list(range(len(packets))))
    assert engine_main(["book", str(cap), "--json", str(tmp_path / "b.json")]) == 1
    err = capsys.readouterr().err
    assert "\x1b" not in err and "the first at \\x1b[2J\\x1b[H " in err


def test_the_first_error_is_the_first_bad_packets_not_a_cut_frames(tmp_path: Path) -> None:
    """``CaptureFeedStats.first_error``, "the first bad packet's error", and the bad
    packets' count in ``faults`` quote the bad packet's error when a frame was cut
    before it: both were the capture's first error of any kind, the cut frame's."""
    st = CaptureFeedStats()
    list(iter_capture(faulty_capture(tmp_path, "cut+bad"), stats=st))
    assert (st.cut_frames, st.bad_packets) == (1, 1)
    assert st.first_error is not None and st.first_error.startswith("frame 6: ")
    assert "captured" not in st.first_error, st.first_error
    faults = st.faults()
    assert faults is not None and faults.startswith(f"1 bad MoldUDP64 packets ({st.first_error})")
