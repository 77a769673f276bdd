"""The argument types (``tickwire.cli``, re-exported by the deprecated
``tickwire.moldudp64.cliargs``) and the moldudp64 command line under bad input: one
``error:`` line, exit 1 (data) or 2 (usage), never a traceback."""

from __future__ import annotations

import argparse
import gzip
import os
import struct
from pathlib import Path

import pytest
from tickwire.cli import (
    UsageError,
    existing_file,
    ipv4,
    probability,
    run_cli,
    tcp_udp_port,
    vlan_tci,
)
from tickwire.moldudp64 import BadPcap
from tickwire.moldudp64.capture import MoldCapture
from tickwire.moldudp64.cli import main, session
from tickwire.moldudp64.codec import DownstreamPacket
from tickwire.net import PcapWriter, build_udp_frame


def _itch(tmp_path: Path) -> Path:
    from tickwire.itch import BinaryFileWriter
    from tickwire.itch.generator import generate_day

    path = tmp_path / "day.itch"
    with BinaryFileWriter(path) as w:
        w.write_all(generate_day(200, 3, 1))
    return path


def _pcap(tmp_path: Path, *, linktype: int = 1) -> Path:
    path = tmp_path / f"feed-{linktype}.pcap"
    with PcapWriter(path, linktype=linktype) as w:
        for i in range(3):
            pkt = DownstreamPacket("S", i + 1, (b"x",)).build()
            w.write(build_udp_frame(pkt, src_ip="198.18.0.1", dst_ip="198.18.0.2",
                                    src_port=1, dst_port=2))  # fmt: skip
    return path


def _one_error_line(err: str) -> str:
    """The single line naming the problem (argparse adds a usage line before its own)."""
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--max-payload", "5"], "--max-payload 5 is not in 72..65507"),
        (["--max-payload", "100000"], "not in 72..65507"),
        (["--session", "WAYTOOLONGSESSION"], "1 to 10 printable ASCII"),
        (["--session", "é"], "1 to 10 printable ASCII"),
        (["--vlan", "99999"], "802.1Q TCI 99999"),
        (["--src-ip", "1.2.3"], "'1.2.3' is not an IPv4 address"),
        (["--dst-ip", "example.com"], "is not an IPv4 address"),
        (["--src-port", "70000"], "port 70000 is not in 1..65535"),
        (["--dst-port", "0"], "port 0 is not in 1..65535"),
        (["--date", "yesterday"], "is not a date"),
        (["--flush-us", "-1"], "is negative"),
    ],
)
def test_itch2pcap_bad_options_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    out = tmp_path / "o.pcap"
    assert main(["itch2pcap", str(_itch(tmp_path)), str(out), *argv]) == 2
    assert needle in _one_error_line(capsys.readouterr().err)
    assert not out.exists()  # refused before anything was written


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--rate", "-5"], "-5.0 is not above 0"),
        (["--rate", "nan"], "not a finite number"),
        (["--speed", "-1"], "is negative"),
        (["--to", "127.0.0.1:99999"], "out of range"),
        (["--to", "127.0.0.1:x"], "'x' is not an integer"),
        (["--ttl", "999"], "TTL 999 is not in 0..255"),
        (["--max", "-2"], "count -2 is not at least 1"),
        (["--port", "-3"], "port -3 is not in 1..65535"),
        (["--session", "TOOLONGSESSIONNAME"], "1 to 10 printable ASCII"),
        (["--max-payload", "3"], "not in 72..65507"),
    ],
)
def test_replay_bad_options_exit_2_before_sending(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    base = ["replay", str(_pcap(tmp_path)), "--to", "127.0.0.1:9", "--max", "1"]
    assert main([*base, *argv]) == 2
    assert needle in _one_error_line(capsys.readouterr().err)


def _bad_files(tmp_path: Path) -> dict[str, Path]:
    good = _itch(tmp_path).read_bytes()
    cap = _pcap(tmp_path).read_bytes()
    blobs = {
        "random": bytes(range(7, 250)) * 7,
        "trunc.gz": gzip.compress(good)[:200],
        "trunc.itch": good[:-5],
        "trunc_hdr.pcap": cap[:10],
        "trunc_rec.pcap": cap[:-7],
        "garbage.pcapng": b"\x0a\x0d\x0d\x0a" + bytes(range(60)),
        "garbage.gz": b"\x1f\x8b" + bytes(range(40)),
    }
    files = {}
    for name, data in blobs.items():
        files[name] = tmp_path / name
        files[name].write_bytes(data)
    return files


def test_bad_files_exit_1_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    for name, path in _bad_files(tmp_path).items():
        for argv in (
            ["pcap2itch", str(path), str(out)],
            ["replay", str(path), "--to", "127.0.0.1:9", "--speed", "0", "--max", "3"],
        ):
            assert main(argv) == 1, (name, argv)
            _one_error_line(capsys.readouterr().err)
        if not name.endswith("pcap") and not name.endswith("pcapng"):  # ITCH inputs
            assert main(["itch2pcap", str(path), str(out)]) == 1, name
            _one_error_line(capsys.readouterr().err)


def test_paths_that_name_no_file_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    for path, needle in (
        (tmp_path / "missing", "no such file"),
        (tmp_path, "is a directory"),
        (empty, "empty file"),
    ):
        for cmd in ("itch2pcap", "pcap2itch"):
            assert main([cmd, str(path), str(tmp_path / "o")]) == 2
            assert needle in _one_error_line(capsys.readouterr().err)


def test_unknown_link_type_is_an_error_not_an_empty_feed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _pcap(tmp_path, linktype=113)  # Linux cooked: what `tcpdump -i any` writes
    with pytest.raises(BadPcap, match=r"link type 113 \(Linux cooked \(SLL\)\) is not Ethernet"):
        list(MoldCapture(path))
    assert main(["pcap2itch", str(path), str(tmp_path / "o.itch")]) == 1
    assert "link type 113" in _one_error_line(capsys.readouterr().err)
    assert main(["replay", str(path), "--to", "127.0.0.1:9", "--max", "1"]) == 1
    assert "link type 113" in _one_error_line(capsys.readouterr().err)


def test_argument_types() -> None:
    assert tcp_udp_port("65535") == 65535
    assert probability("0") == 0.0 and probability("1") == 1.0
    assert session("TICKWIRE01") == "TICKWIRE01"
    assert vlan_tci("0x2064") == 0x2064
    assert ipv4("198.18.0.1") == "198.18.0.1"
    for parse, text in (
        (tcp_udp_port, "65536"),
        (tcp_udp_port, "1e3"),
        (probability, "1.01"),
        (probability, "inf"),
        (session, ""),
        (session, "A\tB"),
        (vlan_tci, "-1"),
        (ipv4, "198.18.0.256"),
    ):
        with pytest.raises(argparse.ArgumentTypeError):
            parse(text)


def test_existing_file_refuses_a_pipe_and_a_directory(tmp_path: Path) -> None:
    """A pipe was accepted, and read wrong: the format sniff took its first bytes."""
    read_end, write_end = os.pipe()
    try:
        with pytest.raises(argparse.ArgumentTypeError, match=r"is not a regular file \(a pipe\)"):
            existing_file(f"/dev/fd/{read_end}")
    finally:
        os.close(read_end)
        os.close(write_end)
    with pytest.raises(argparse.ArgumentTypeError, match="directory"):
        existing_file(str(tmp_path))


def test_run_cli_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="prog")

    def raising(exc: BaseException) -> int:
        raise exc

    assert run_cli(parser, [], lambda a: raising(UsageError("bad --x"))) == 2
    assert _one_error_line(capsys.readouterr().err) == "prog: error: bad --x"
    assert run_cli(parser, [], lambda a: raising(EOFError("Compressed file ended"))) == 1
    assert "corrupt or truncated gzip data" in capsys.readouterr().err
    assert run_cli(parser, [], lambda a: raising(struct.error("unpack requires"))) == 1
    assert run_cli(parser, [], lambda a: raising(FileNotFoundError(2, "No such file", "x"))) == 1
    assert capsys.readouterr().err.splitlines()[-1] == "prog: error: x: No such file"
    assert run_cli(parser, [], lambda a: raising(KeyboardInterrupt())) == 130
    assert capsys.readouterr().err == ""  # quietly
    assert run_cli(parser, ["--help"], lambda a: 0) == 0
    assert run_cli(parser, ["--nope"], lambda a: 0) == 2
    with pytest.raises(RuntimeError):  # a bug keeps its traceback
        run_cli(parser, [], lambda a: raising(RuntimeError("bug")))


def test_the_old_cliargs_module_is_a_deprecated_alias() -> None:
    import importlib
    import sys

    import tickwire.cli

    sys.modules.pop("tickwire.moldudp64.cliargs", None)
    with pytest.warns(DeprecationWarning, match="use tickwire.cli"):
        old = importlib.import_module("tickwire.moldudp64.cliargs")
    assert old.run_cli is tickwire.cli.run_cli and old.session is session
