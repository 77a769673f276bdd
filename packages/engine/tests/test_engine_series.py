"""The ``book`` series plugin of ``itch convert`` (bbo.parquet, trades.parquet): the
compiled and the reference book give the same series, and itch-book's own book (a peer,
in the dev group) gives the same BBO changes and prints on a generated day."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from tickwire.engine import cbook, series
from tickwire.itch.cli import main as itch_main
from tickwire.itch.fastpath import decode_binaryfile

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("series") / "20260102.day.itch"
    assert itch_main(["generate", "--messages", "40000", "--symbols", "12", str(path)]) == 0
    return path


def test_convert_writes_the_series(day: Path, tmp_path: Path) -> None:
    out = io.StringIO()
    assert itch_main(["convert", str(day), "--parquet", str(tmp_path), "--json"], out=out) == 0
    summary = json.loads(out.getvalue())
    assert summary["series"] == ["book"]
    bbo = pq.read_table(tmp_path / "bbo.parquet")
    trades = pq.read_table(tmp_path / "trades.parquet")
    assert summary["files"]["bbo.parquet"]["rows"] == bbo.num_rows > 0
    assert summary["files"]["trades.parquet"]["rows"] == trades.num_rows > 0
    assert bbo.column_names == list(series.BBO_FIELDS)
    assert trades.column_names == list(series.TRADE_FIELDS)
    assert not list(tmp_path.glob("*.part"))


@pytest.mark.skipif(not cbook.AVAILABLE, reason="compiled book not built")
def test_compiled_and_reference_books_give_the_same_series(
    day: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    got = {}
    for available in (True, False):
        monkeypatch.setattr(cbook, "AVAILABLE", available)
        got[available] = list(series.iter_series(decode_binaryfile(day)))
    assert got[True] == got[False]


def test_series_equal_itch_books(day: Path, tmp_path: Path) -> None:
    ib = pytest.importorskip("itch_book.cli")
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        status = ib.main(["convert", str(day), str(tmp_path / "ib"), "--no-md5",
                          "--date", "2026-01-02", "--price-type", "fixed"])  # fmt: skip
    assert status == 0
    ours: dict[str, list[Any]] = {"bbo": [], "trades": []}
    for name, rows in series.iter_series(decode_binaryfile(day)):
        ours[name] += rows
    theirs = pq.read_table(tmp_path / "ib" / "bbo.parquet").to_pylist()
    assert [(r[1], r[3] or 0, r[4], r[5] or 0, r[6]) for r in ours["bbo"]] == [
        (r["locate"], r["bid_px"] or 0, r["bid_sz"], r["ask_px"] or 0, r["ask_sz"]) for r in theirs
    ]
    prints = pq.read_table(tmp_path / "ib" / "trades.parquet").to_pylist()
    assert [(r[1], r[3], r[4], r[5], r[6]) for r in ours["trades"]] == [
        (r["locate"], r["kind"], r["match_number"], r["price"], r["size"]) for r in prints
    ]
