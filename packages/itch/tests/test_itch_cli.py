"""``python -m tickwire.itch``: stats, dump, generate."""

from __future__ import annotations

import gzip
import io
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import tickwire.itch as itch
from tickwire.itch.cli import main, message_to_dict


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    status = main(list(argv), out=out)
    return status, out.getvalue()


def test_stats_json_on_the_real_file(real_file: Path) -> None:
    status, text = run("stats", str(real_file), "--json")
    assert status == 0
    summary = json.loads(text)
    assert summary["messages"] == 12_012
    assert summary["skipped"] == 0
    assert summary["by_type"]["A"] == 4997
    assert sum(summary["by_type"].values()) == 12_012
    assert summary["length_fixups"] == 12_012


def test_stats_human(real_file: Path) -> None:
    status, text = run("stats", str(real_file))
    assert status == 0
    assert "12012 messages" in text
    assert "AddOrder" in text


def test_module_entry_point(real_file: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tickwire.itch", "stats", str(real_file), "--json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert json.loads(proc.stdout)["messages"] == 12_012
    assert proc.stderr == ""  # no progress bar when stderr is not a terminal


def test_dump_json_filters_by_type(real_file: Path) -> None:
    status, text = run("dump", str(real_file), "--json", "--type", "R,H")
    assert status == 0
    lines = [json.loads(line) for line in text.splitlines()]
    assert len(lines) == 6
    assert {d["type"] for d in lines} == {"R", "H"}
    first = lines[0]
    assert first["name"] == "StockDirectory"
    assert first["stock"] == "ALC"
    assert isinstance(first["timestamp"], int)


def test_dump_symbol_follows_locate(real_file: Path) -> None:
    msgs = list(itch.read(real_file))
    symbol = next(m.stock for m in msgs if isinstance(m, itch.AddOrder))
    locate = next(m.stock_locate for m in msgs if getattr(m, "stock", None) == symbol)
    expected = [
        m
        for m in msgs
        if getattr(m, "stock", None) == symbol
        or (not hasattr(m, "stock") and m.stock_locate == locate and m.stock_locate != 0)
    ]
    status, text = run("dump", str(real_file), "--json", "--symbol", symbol)
    assert status == 0
    got = [json.loads(line) for line in text.splitlines()]
    assert got == [message_to_dict(m) for m in expected]
    assert any(d["type"] in "EXDU" for d in got)  # order events found through the locate
    assert all(d.get("stock", symbol) == symbol for d in got)


@pytest.mark.parametrize("symbol", ["", "  ", "TOOLONGSYM"])
def test_dump_refuses_a_symbol_no_message_names(
    real_file: Path, capsys: pytest.CaptureFixture[str], symbol: str
) -> None:
    """``--symbol ""`` (or blank, or longer than the 8-byte stock field) printed nothing,
    exit 0: a usage error now, found while parsing (``tickwire.cli.stock_symbol``)."""
    assert run("dump", str(real_file), "--symbol", symbol) == (2, "")
    (line,) = [x for x in capsys.readouterr().err.splitlines() if "error:" in x]
    assert "argument --symbol: symbol " in line


def test_dump_human_and_limit(real_file: Path) -> None:
    status, text = run("dump", str(real_file), "--limit", "3")
    assert status == 0
    lines = text.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("S SystemEvent ")
    assert "event_code='O'" in lines[0]


def test_bad_input_exit_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.itch"
    bad.write_bytes(b"\x00\x00A\x00\x01")
    status, _ = run("stats", str(bad), "--json")
    assert status == 1
    assert "truncated" in capsys.readouterr().err
    status, text = run("stats", str(bad), "--json", "--lenient")
    assert status == 0
    assert json.loads(text)["errors"] == 1
    status, _ = run("stats", str(tmp_path / "missing.itch"))
    assert status == 2  # a path that names no file is a usage error, like argparse's FileType


@pytest.mark.parametrize("lenient", [False, True])
def test_stats_of_a_capture_says_it_is_one(
    real_file: Path, capsys: pytest.CaptureFixture[str], lenient: bool
) -> None:
    """A real MoldUDP64 capture given to ``stats`` (which reads BinaryFILEs): exit 1, one
    line saying what the file is. On the old code ``--lenient`` exited 0 with counts of
    "messages" found in the capture's bytes."""
    capture = real_file.parents[1] / "pcap" / "nasdaq-itch50" / "Multiple.Packets.pcap"
    status, text = run("stats", str(capture), *(["--lenient"] if lenient else []))
    err = capsys.readouterr().err
    assert (status, text) == (1, "")
    assert err.count("\n") == 1 and "a pcap or pcapng capture, not a BinaryFILE" in err


def test_unknown_type_filter_is_a_usage_error(
    real_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("dump", str(real_file), "--type", "Z")[0] == 2
    assert "unknown message type(s): Z" in capsys.readouterr().err


def test_generate_then_stats(tmp_path: Path) -> None:
    pytest.importorskip("tickwire.itch.generator")
    out = tmp_path / "day.itch.gz"
    status, _ = run("generate", "--messages", "3000", "--symbols", "50", "--seed", "7", str(out))
    assert status == 0
    assert out.read_bytes()[:2] == b"\x1f\x8b"
    status, text = run("stats", str(out), "--json")
    summary = json.loads(text)
    assert summary["messages"] == 3000
    assert summary["length_fixups"] == 0
    assert summary["by_type"]["R"] == 50
    # Deterministic: the same seed gives the same bytes.
    again = tmp_path / "again.itch.gz"
    run("generate", "--messages", "3000", "--symbols", "50", "--seed", "7", str(again))
    assert gzip.decompress(out.read_bytes()) == gzip.decompress(again.read_bytes())


def test_the_old_progress_module_is_a_deprecated_alias() -> None:
    import importlib
    import sys

    from tickwire.cli import Progress

    sys.modules.pop("tickwire.itch.progress", None)
    with pytest.warns(DeprecationWarning, match="tickwire.cli.Progress"):
        old = importlib.import_module("tickwire.itch.progress")
    assert old.Progress is Progress


def test_bad_arguments_and_files_give_one_line_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("tickwire.itch.generator")
    day = tmp_path / "day.itch"
    assert run("generate", "--messages", "300", "--symbols", "3", str(day))[0] == 0
    cut_gz = tmp_path / "cut.itch.gz"
    cut_gz.write_bytes(gzip.compress(day.read_bytes())[:300])
    empty = tmp_path / "empty.itch"
    empty.write_bytes(b"")
    capsys.readouterr()
    for argv, status, needle in (
        # sizes generate_day refuses: a usage error, and no output file
        (["generate", "--messages", "10", "--symbols", "5000", str(tmp_path / "g.itch")], 2,
         "10 messages cannot hold a day of 5000 symbols"),
        (["generate", "--messages", "0", "--symbols", "1", str(tmp_path / "g.itch")], 2,
         "messages 0 is not in 1..1000000000"),
        (["dump", str(day), "--limit", "-1"], 2, "-1 is not at least 1"),
        (["stats", str(cut_gz)], 1, "gzip"),
        (["dump", str(cut_gz)], 1, "gzip"),
        (["stats", str(empty)], 2, "empty file"),
        (["stats", str(tmp_path)], 2, "is a directory"),
    ):  # fmt: skip
        assert run(*argv)[0] == status, argv
        err = capsys.readouterr().err
        assert "Traceback" not in err
        (line,) = [x for x in err.splitlines() if "error:" in x]
        assert needle in line, (argv, line)
    assert not (tmp_path / "g.itch").exists()


@pytest.mark.parametrize(
    ("option", "value", "needle"),
    [
        ("--messages", "-5", "argument --messages: messages -5 is not in 1..1000000000"),
        ("--messages", "1000000001", "messages 1000000001 is not in 1..1000000000"),
        ("--messages", "10" * 15, f"messages {'10' * 15} is not in 1..1000000000"),
        ("--symbols", "0", "argument --symbols: symbols 0 is not in 1..65535"),
        ("--symbols", "65536", "symbols 65536 is not in 1..65535"),
        ("--seed", "-1", "argument --seed: seed -1 is not in 0..18446744073709551615"),
        ("--seed", str(2**64), f"seed {2**64} is not in 0..18446744073709551615"),
    ],
)
def test_generate_numbers_are_bounded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, value: str, needle: str
) -> None:
    """Every number of ``generate`` is checked while parsing, one line, exit 2, no file:
    ``--messages`` had no upper bound (``10**30`` ran for ever, filling the disk; at most
    ``generator.MAX_MESSAGES``), ``--symbols 65536`` failed mid-day ("cannot encode
    StockDirectory": stock locates are 2 bytes), and ``--seed -1`` wrote the day of
    ``--seed 1`` (``random.Random`` takes the absolute value)."""
    out = tmp_path / "g.itch"
    argv = {"--messages": "3000", "--symbols": "5", "--seed": "0", option: value}
    assert run("generate", *[x for kv in argv.items() for x in kv], str(out))[0] == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    (line,) = [x for x in err.splitlines() if "error:" in x]
    assert needle in line
    assert not out.exists()


def test_generate_day_refuses_what_the_command_refuses() -> None:
    """The library's own check (the engine's sample day reaches it after parsing)."""
    from tickwire.itch.generator import MAX_MESSAGES, MAX_SYMBOLS, generate_day

    for args, needle in (
        ((MAX_MESSAGES + 1, 5, 0), "messages must be at most 1,000,000,000"),
        ((300_000, MAX_SYMBOLS + 1, 0), "symbols must be in 1..65535"),
        ((3000, 5, -1), "seed must be in 0..2**64-1, got -1"),
    ):
        with pytest.raises(ValueError, match=re.escape(needle)):
            generate_day(*args)


def test_json_path_writes_the_file_and_keeps_the_text(real_file: Path, tmp_path: Path) -> None:
    """``--json`` took no value; now ``--json PATH`` writes the JSON there, and stdout
    keeps the text output (``--json``/``--json -``: JSON on stdout only)."""
    path = tmp_path / "stats.json"
    status, text = run("stats", str(real_file), "--json", str(path))
    assert status == 0 and "12012 messages" in text
    assert json.loads(path.read_text())["messages"] == 12_012
    dump = tmp_path / "dump.jsonl"
    status, text = run("dump", str(real_file), "--limit", "3", "--json", str(dump))
    assert status == 0 and len(text.splitlines()) == 3 and not text.startswith("{")
    assert [json.loads(x)["type"] for x in dump.read_text().splitlines()] == ["S", "R", "R"]


def test_a_failed_generate_leaves_no_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The output was created before the day was: an interrupted or failed run left a
    truncated BinaryFILE behind; now it is written beside and renamed at the end."""
    import tickwire.itch.writer as writer

    class Boom(writer.BinaryFileWriter):
        def write(self, msg: Any) -> None:
            if self.count == 100:
                raise OSError(28, "No space left on device")
            super().write(msg)

    out = tmp_path / "day.itch.gz"
    real = writer.BinaryFileWriter
    writer.BinaryFileWriter = Boom  # type: ignore[misc]
    try:
        assert run("generate", "--messages", "3000", "--symbols", "5", str(out))[0] == 1
    finally:
        writer.BinaryFileWriter = real  # type: ignore[misc]
    assert "No space left on device" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
