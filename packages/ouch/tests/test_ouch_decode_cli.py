"""``python -m tickwire.ouch decode`` under bad input: one ``error:`` line, exit 1 for an
unreadable capture, 2 for a usage error, never a traceback."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from tickwire.ouch.decode import main


def _pcap(linktype: int, frames: list[bytes]) -> bytes:
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype)
    for frame in frames:
        out += struct.pack("<IIII", 1, 0, len(frame), len(frame)) + frame
    return out


def _error_line(err: str) -> str:
    assert "Traceback" not in err
    (line,) = [x for x in err.splitlines() if "error:" in x]
    return line


def test_unknown_link_type_is_an_error_not_an_empty_decode(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cap = tmp_path / "usb.pcap"
    cap.write_bytes(_pcap(147, [bytes(60)] * 3))  # LINKTYPE_USER0: nothing we can read
    assert main(["decode", str(cap), "--json"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "link type 147 cannot be read" in _error_line(captured.err)


@pytest.mark.parametrize(
    ("name", "data", "status", "needle"),
    [
        ("random.pcap", bytes(range(256)) * 4, 1, "not a pcap or pcapng file"),
        ("cut.pcap", _pcap(1, [bytes(60)])[:-7], 1, ""),
        ("empty.pcap", b"", 2, "empty file"),
    ],
)
def test_bad_captures(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    data: bytes,
    status: int,
    needle: str,
) -> None:
    cap = tmp_path / name
    cap.write_bytes(data)
    assert main(["decode", str(cap)]) == status
    assert needle in _error_line(capsys.readouterr().err)


def test_bad_arguments_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cap = tmp_path / "ok.pcap"
    cap.write_bytes(_pcap(1, []))
    for argv, needle in (
        (["decode", str(cap), "--port", "99999"], "port 99999 is not in 1..65535"),
        (["decode", str(cap), "--port", "0"], "port 0 is not in 1..65535"),
        (["decode", str(tmp_path / "missing.pcap")], "no such file"),
        (["decode", str(tmp_path)], "is a directory"),
    ):
        assert main(argv) == 2
        assert needle in _error_line(capsys.readouterr().err)
