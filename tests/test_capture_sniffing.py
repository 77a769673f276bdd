"""One rule tells a capture from a BinaryFILE in every package: the pcap/pcapng magic
number, read through gzip when the file is gzipped (``tickwire.net.pcap.is_capture``).
tickwire-itch, which depends on nothing, sniffs on its own; here the two are held to the
same answers, and ``dump``, ``convert``, ``book`` and ``backtest`` read a gzipped capture
as they read it plain (they read ``day.pcap.gz`` as a BinaryFILE and failed)."""

from __future__ import annotations

import gzip
import json
import shutil
import sys
from pathlib import Path

import pytest
from tickwire.itch import convert
from tickwire.net import pcap

ROOT = Path(__file__).resolve().parents[1]
CAPTURE = ROOT / "data" / "pcap" / "nasdaq-itch50" / "Multiple.Packets.pcap"

sys.path.insert(0, str(ROOT / "packages" / "net" / "tests"))
from _net_captures import capture_corpus  # noqa: E402


def test_itch_sniffs_as_tickwire_net_does(tmp_path: Path) -> None:
    assert set(convert._CAPTURE_MAGICS) == pcap.CAPTURE_MAGICS
    corpus = capture_corpus(tmp_path)
    assert any(name.endswith(".gz") and capture for name, (_, capture) in corpus.items())
    from tickwire.engine import sources  # the engine's commands ask it

    for name, (path, capture) in corpus.items():
        assert convert.is_capture(path) is pcap.is_capture(path) is capture, name
        assert sources.is_capture(path) is capture, name


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_sniff_refuses_what_is_not_a_regular_file(tmp_path: Path, kind: str) -> None:
    """Called from Python, ``is_capture`` (the engine's and tickwire-itch's) and
    ``rebuild(path)`` read a FIFO's first bytes to sniff them, lost to the reader after
    (a FIFO with no writer blocked at the open), and took ``/dev/null`` for an empty
    BinaryFILE: books of nothing, no error. Refused unopened now, with the command lines'
    line (``tickwire.cli.args.not_a_regular_file``)."""
    import os
    import re

    from tickwire.engine import is_capture as engine_is_capture
    from tickwire.engine import sources

    if kind == "fifo":
        path = tmp_path / "day.pcap"
        os.mkfifo(path)
        # a writer holds it open with a capture's first bytes: an open for reading would
        # not block, and the sniff would have its magic
        holder = os.open(path, os.O_RDWR | os.O_NONBLOCK)
        os.write(holder, CAPTURE.read_bytes()[:64])
        needle = "is not a regular file (a pipe): save it to a file first"
    else:
        path, holder = Path(os.devnull), None
        needle = "is not a regular file (a character device): save it to a file first"
    needle = re.escape(f"{path}: {needle}")
    try:
        for sniff in (convert.is_capture, sources.is_capture, engine_is_capture):
            with pytest.raises(ValueError, match=needle):
                sniff(path)
        with pytest.raises(ValueError, match=needle):
            sources.rebuild(path)
        with pytest.raises(ValueError, match=needle):
            sources.rebuild(str(path))
    finally:
        if holder is not None:
            os.close(holder)


@pytest.fixture(scope="module")
def captures(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if not CAPTURE.exists():
        pytest.fail(f"{CAPTURE} is missing (data/PROVENANCE.md)")
    d = tmp_path_factory.mktemp("day")
    plain, gz = d / "day.pcap", d / "day.pcap.gz"
    shutil.copy(CAPTURE, plain)
    gz.write_bytes(gzip.compress(CAPTURE.read_bytes()))
    return plain, gz


def test_dump_reads_a_capture_gzipped_or_not(
    captures: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from tickwire.itch.cli import main

    outputs = []
    for path in captures:
        assert main(["dump", str(path), "--limit", "5"]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1]
    assert outputs[0].splitlines()[0].startswith("D OrderDelete 09:30:00.007495351")


def test_convert_book_and_backtest_read_a_gzipped_capture(
    captures: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("pyarrow")
    from tickwire.engine.cli import main as engine

    plain, gz = captures
    summaries = [convert.convert(p, tmp_path / p.name) for p in (plain, gz)]
    assert summaries[0].kind == summaries[1].kind == "capture"
    assert summaries[0].messages == summaries[1].messages == 39
    assert summaries[0].files == summaries[1].files
    books = []
    for p in (plain, gz):  # a snippet with a sequence gap: written, exit 1 (docs/cli.md)
        assert engine(["book", str(p)]) == 1
        books.append(capsys.readouterr().out)
    assert books[0] == books[1] and "META" in books[0]
    reports = []
    for p in (plain, gz):
        out = tmp_path / f"bt-{p.name}"
        assert engine(["backtest", str(p), "--no-plot", "--quiet", "--out", str(out)]) == 1
        reports.append(json.loads((out / "report.json").read_text()))
    assert reports[0]["messages"] == reports[1]["messages"] == 39
    assert reports[0]["capture"] == reports[1]["capture"]


def test_a_modified_pcap_is_read_as_the_capture(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The shipped capture rewritten as a "modified" pcap (magic a1b2cd34, 24-byte record
    headers: the tcpdump of 1999's Linux distributions, which libpcap and tshark read)
    gives ``dump``, ``book`` and ``backtest`` the capture's output. It was taken for a
    BinaryFILE by the magic: ``truncated frame at end of stream ... message type '²'``,
    exit 1, in each."""
    from _net_captures import modified_pcap
    from tickwire.engine.cli import main as engine
    from tickwire.itch.cli import main as itch

    modified = tmp_path / "day.pcap"
    modified.write_bytes(
        modified_pcap((r.timestamp_ns, r.frame, r.original_length) for r in pcap.read_pcap(CAPTURE))
    )
    dumps, books, reports = [], [], []
    for p in (CAPTURE, modified):
        assert itch(["dump", str(p), "--limit", "5"]) == 0
        dumps.append(capsys.readouterr().out)
        assert engine(["book", str(p)]) == 1  # the snippet's sequence gap (docs/cli.md)
        books.append(capsys.readouterr().out)
        out = tmp_path / f"bt-{p.parent.name}"
        assert engine(["backtest", str(p), "--no-plot", "--quiet", "--out", str(out)]) == 1
        capsys.readouterr()
        reports.append(json.loads((out / "report.json").read_text()))
    assert dumps[0] == dumps[1] and dumps[0].startswith("D OrderDelete 09:30:00.007495351")
    assert books[0] == books[1] and "META" in books[0]
    assert reports[0]["messages"] == reports[1]["messages"] == 39
    assert reports[0]["capture"] == reports[1]["capture"]
