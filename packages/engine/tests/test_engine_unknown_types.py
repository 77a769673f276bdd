"""Messages of a type ITCH 5.0 does not define are skipped (the spec's rule for new
types) and counted, the same count on every book and backtest backend and for a
BinaryFILE or a capture: ``book``'s line and ``--json``, the backtest's data line and
report.json, the sweep's rows. They were dropped without a word: ``19950 messages, 62
unknown references``, ``19,950 ITCH messages``, exit 0, for a day of 20,000 messages
with 50 of an unknown type (``itch stats`` said ``skipped (unknown types): 50``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tickwire.engine import cbook
from tickwire.engine.cli import main
from tickwire.itch import BinaryFileWriter, encode
from tickwire.itch.generator import generate_day
from tickwire.moldudp64.testing import write_capture

UNKNOWN = 25  # adds rewritten as type 'a', which ITCH 5.0 does not define

needs_cython = pytest.mark.skipif(not cbook.AVAILABLE, reason="compiled book not built")


@pytest.fixture(scope="module")
def days(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, int]:
    """A BinaryFILE with :data:`UNKNOWN` messages of an unknown type, the same day as a
    MoldUDP64 capture, and the number of messages of known types."""
    folder = tmp_path_factory.mktemp("unknown")
    day = folder / "unk.itch"
    blocks = []
    changed = 0
    with BinaryFileWriter(day) as w:
        for msg in generate_day(4_000, 5, 2):
            raw = encode(msg)
            if raw[:1] == b"A" and len(blocks) > 100 and changed < UNKNOWN:
                raw = b"a" + raw[1:]
                changed += 1
            w.write(raw)
            blocks.append(raw)
    assert changed == UNKNOWN
    # The same blocks in MoldUDP64 packets (itch2pcap's reader would skip the unknown ones).
    capture = _capture(folder / "unk.pcap", blocks)
    return day, capture, len(blocks) - UNKNOWN


def _capture(path: Path, blocks: list[bytes]) -> Path:
    """A MoldUDP64 capture of ``blocks``, one a packet, in order."""
    return write_capture(path, [("UNK", seq) for seq in range(1, len(blocks) + 1)], blocks)


@pytest.mark.parametrize("backend", ["reference", pytest.param("cython", marks=needs_cython)])
@pytest.mark.parametrize("kind", ["itch", "pcap"])
def test_book_counts_unknown_types(
    days: tuple[Path, Path, int],
    capsys: pytest.CaptureFixture[str],
    backend: str,
    kind: str,
) -> None:
    day, capture, known = days
    data = day if kind == "itch" else capture
    capsys.readouterr()
    assert main(["book", str(data), "--backend", backend]) == 0  # the spec's rule: exit 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith(f"{known} messages, ")
    assert f", {UNKNOWN} messages of unknown types skipped" in first
    assert main(["book", str(data), "--backend", backend, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["unknown_types"] == UNKNOWN


@pytest.mark.parametrize(
    "backend",
    [
        "reference",
        pytest.param("cython", marks=needs_cython),
        pytest.param("compiled", marks=needs_cython),
    ],
)
@pytest.mark.parametrize("kind", ["itch", "pcap"])
def test_backtest_counts_unknown_types(
    days: tuple[Path, Path, int],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    backend: str,
    kind: str,
) -> None:
    day, capture, known = days
    data = day if kind == "itch" else capture
    out = tmp_path / "bt"
    argv = ["backtest", str(data), "--no-plot", "--out", str(out), "--backend", backend]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert f"data      {known:,} ITCH messages ({UNKNOWN:,} of unknown types skipped)" in text
    report = json.loads((out / "report.json").read_text())
    assert (report["messages"], report["unknown_types"]) == (known, UNKNOWN)


def test_a_day_without_unknown_types_says_nothing_of_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    day = tmp_path / "clean.itch"
    with BinaryFileWriter(day) as w:
        w.write_all(generate_day(1_000, 3, 1))
    assert main(["book", str(day)]) == 0
    assert "unknown types" not in capsys.readouterr().out
    assert main(["book", str(day), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["unknown_types"] == 0


def test_sweep_rows_count_unknown_types(days: tuple[Path, Path, int], tmp_path: Path) -> None:
    from tickwire.engine.backtest.sweep import METRICS, SweepTask, run_task

    day, _, known = days
    assert METRICS[:2] == ("messages", "unknown_types")
    row = run_task(
        SweepTask(
            day=str(day),
            day_name=day.name,
            params_id="p000",
            params={},
            config={},
            out=str(tmp_path / "run"),
            plot=False,
        )
    )
    assert row["status"] == "ok", row["error"]
    assert (row["messages"], row["unknown_types"]) == (known, UNKNOWN)


def test_a_capture_message_cut_short_is_lost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A block of a type ITCH 5.0 defines, shorter than that type's message, is a message
    lost (as the same cut in a BinaryFILE is its reader's error): the outputs are written,
    then one error line, exit 1. Unknown types beside it stay skipped, not lost."""
    blocks = [encode(msg) for msg in generate_day(1_000, 3, 3)]
    adds = [i for i, b in enumerate(blocks) if b[:1] == b"A"]
    blocks[adds[10]] = blocks[adds[10]][:20]  # an Add Order is 36 bytes
    blocks[adds[11]] = b"a" + blocks[adds[11]][1:]  # an unknown type: skipped, exit 0
    capture = _capture(tmp_path / "short.pcap", blocks)
    capsys.readouterr()
    assert main(["book", str(capture)]) == 1
    out, err = capsys.readouterr()
    assert "1 messages of unknown types skipped" in out.splitlines()[0]
    assert (
        err.strip()
        .splitlines()[-1]
        .endswith(
            f"{capture}: 1 ITCH messages shorter than their type; the books are built all the same"
        )
    )
    out_dir = tmp_path / "bt"
    assert main(["backtest", str(capture), "--no-plot", "--out", str(out_dir)]) == 1
    assert "1 ITCH messages shorter than their type" in capsys.readouterr().err
    assert (out_dir / "report.json").is_file()  # written all the same


@pytest.mark.parametrize("kind", ["itch", "pcap"])
def test_export_counts_unknown_types(
    days: tuple[Path, Path, int], tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    from tickwire.engine.sources import iter_binaryfile
    from tickwire.itch import StockDirectory

    day, capture, _ = days
    symbol = next(m.stock for m in iter_binaryfile(day) if isinstance(m, StockDirectory))
    data = day if kind == "itch" else capture
    capsys.readouterr()
    assert main(["export", str(data), "--symbol", symbol, "--out", str(tmp_path / "x")]) == 0
    assert f"  {UNKNOWN} messages of unknown types skipped" in capsys.readouterr().out.splitlines()
