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

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("series") / "20260102.day.itch"
    assert itch_main(["generate", "--messages", "40000", "--symbols", "12", str(path)]) == 0
    return path


@pytest.mark.parametrize("compiled", [True, False], ids=["one-pass", "own-pass"])
def test_convert_writes_the_series(
    day: Path, tmp_path: Path, compiled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the compiled book, convert feeds it from its own framing (one pass); without
    it the plugin reads the input itself: the same files either way, equal to the
    series' own pass (itself equal to the reference book's and itch-book's, below)."""
    if compiled and not cbook.AVAILABLE:
        pytest.skip(f"compiled book not built: {cbook.UNAVAILABLE_REASON}")
    monkeypatch.setattr(cbook, "AVAILABLE", compiled)
    out = io.StringIO()
    assert itch_main(["convert", str(day), "--parquet", str(tmp_path), "--json"], out=out) == 0
    summary = json.loads(out.getvalue())
    assert summary["series"] == ["book"]
    assert summary["one_pass"] == (["book"] if compiled else [])
    want = tables(day)
    for name in ("bbo", "trades"):
        got = pq.read_table(tmp_path / f"{name}.parquet")
        assert got.equals(want[name]), name
    bbo = pq.read_table(tmp_path / "bbo.parquet")
    trades = pq.read_table(tmp_path / "trades.parquet")
    assert summary["files"]["bbo.parquet"]["rows"] == bbo.num_rows > 0
    assert summary["files"]["trades.parquet"]["rows"] == trades.num_rows > 0
    assert bbo.column_names == list(series.BBO_FIELDS)
    assert trades.column_names == list(series.TRADE_FIELDS)
    assert not list(tmp_path.glob("*.part"))


def test_no_series_removes_an_earlier_runs_series(day: Path, tmp_path: Path) -> None:
    """OUTDIR holds exactly this run's files: day A's bbo.parquet and trades.parquet are
    removed by a run of day B with --no-series, as A's tables of types B lacks are. On
    the old code they stayed beside B's tables and passed for B's series."""
    out = io.StringIO()
    assert itch_main(["convert", str(day), "--parquet", str(tmp_path), "--json"], out=out) == 0
    written = sorted(json.loads(out.getvalue())["files"])
    assert set(series.BookSeries.FILES) <= set(written)  # FILES names what it writes
    other = tmp_path / "b.itch"
    assert itch_main(["generate", "--messages", "50", "--symbols", "2", str(other)]) == 0
    argv = ["convert", str(other), "--parquet", str(tmp_path), "--json", "--no-series"]
    out = io.StringIO()
    assert itch_main(argv, out=out) == 0
    files = json.loads(out.getvalue())["files"]
    assert sorted(p.name for p in tmp_path.glob("*.parquet")) == sorted(files)
    assert not set(series.BookSeries.FILES) & set(files)


@pytest.mark.skipif(not cbook.AVAILABLE, reason="compiled book not built")
def test_compiled_and_reference_books_give_the_same_series(
    day: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The compiled path records the BBO inside the book's own feed loop; the reference
    path compares each message's BBO in Python: the same tables."""
    got = {}
    for available in (True, False):
        monkeypatch.setattr(cbook, "AVAILABLE", available)
        got[available] = tables(day)
    assert got[True].keys() == got[False].keys() == {"bbo", "trades"}
    for name in got[True]:
        assert got[True][name].equals(got[False][name]), name
        assert got[True][name].num_rows > 0


def tables(source: Path) -> dict[str, Any]:
    parts: dict[str, list[Any]] = {}
    for name, table in series.iter_tables(source):
        parts.setdefault(name, []).append(table)
    return {name: pa.concat_tables(ts) for name, ts in parts.items()}


def test_series_equal_itch_books(day: Path, tmp_path: Path) -> None:
    ib = pytest.importorskip("itch_book.cli")
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        status = ib.main(["convert", str(day), str(tmp_path / "ib"), "--no-md5",
                          "--date", "2026-01-02", "--price-type", "fixed"])  # fmt: skip
    assert status == 0
    ours = {name: [tuple(r.values()) for r in t.to_pylist()] for name, t in tables(day).items()}
    theirs = pq.read_table(tmp_path / "ib" / "bbo.parquet").to_pylist()
    assert [(r[1], r[3] or 0, r[4], r[5] or 0, r[6]) for r in ours["bbo"]] == [
        (r["locate"], r["bid_px"] or 0, r["bid_sz"], r["ask_px"] or 0, r["ask_sz"]) for r in theirs
    ]
    prints = pq.read_table(tmp_path / "ib" / "trades.parquet").to_pylist()
    assert [(r[1], r[3], r[4], r[5], r[6]) for r in ours["trades"]] == [
        (r["locate"], r["kind"], r["match_number"], r["price"], r["size"]) for r in prints
    ]


def test_a_capture_gives_the_files_series(day: Path, tmp_path: Path) -> None:
    """A capture of the day (read in sequence order, as every capture reader does) gives
    the series of the BinaryFILE."""
    from tickwire.moldudp64.cli import main as mold_main

    cap = tmp_path / "day.pcap"
    assert mold_main(["itch2pcap", str(day), str(cap)]) == 0
    got, want = tables(cap), tables(day)
    for name in want:
        assert got[name].equals(want[name]), name


def test_convert_of_a_capture_feeds_the_book_in_the_same_pass(day: Path, tmp_path: Path) -> None:
    """A capture's messages (from the moldudp64 capture reader, in sequence order) go
    through the column builder to the book: the series of the BinaryFILE."""
    from tickwire.moldudp64.cli import main as mold_main

    cap = tmp_path / "day.pcap"
    assert mold_main(["itch2pcap", str(day), str(cap)]) == 0
    out = io.StringIO()
    outdir = tmp_path / "out"
    assert itch_main(["convert", str(cap), "--parquet", str(outdir), "--json"], out=out) == 0
    summary = json.loads(out.getvalue())
    assert summary["one_pass"] == (["book"] if cbook.AVAILABLE else [])
    want = tables(day)
    for name in ("bbo", "trades"):
        assert pq.read_table(outdir / f"{name}.parquet").equals(want[name]), name


def _elsewhere_day(path: Path) -> list[Any]:
    """Two stocks, AAA (locate 1) and BBB (locate 2), one bid each; then messages that
    carry AAA's locate but name BBB's orders: an execution of half of BBB's bid, a
    replace of BBB's ask, a delete of the replaced ask. Written to ``path``; the
    messages returned."""
    from tickwire.itch import (
        AddOrder,
        BinaryFileWriter,
        OrderDelete,
        OrderExecuted,
        OrderReplace,
        StockDirectory,
    )

    def directory(locate: int, stock: str) -> StockDirectory:
        return StockDirectory(
            locate, 0, 1_000, stock, "Q", "N", 100, "N", "C", "Z", "P", "N", "N", "1", "N", 0, "N"
        )

    s = 10**9
    day = [
        directory(1, "AAA"),
        directory(2, "BBB"),
        AddOrder(1, 0, 1 * s, 1, "B", 100, "AAA", 100_000),
        AddOrder(2, 0, 2 * s, 2, "B", 1_000, "BBB", 10_000),
        AddOrder(2, 0, 3 * s, 3, "S", 400, "BBB", 10_100),
        OrderExecuted(1, 0, 4 * s, 2, 500, 1),  # BBB's bid, said at AAA's locate
        OrderReplace(1, 0, 5 * s, 3, 4, 300, 10_200),  # BBB's ask
        OrderDelete(1, 0, 6 * s, 4),  # the replaced ask: it leaves BBB's book
    ]
    with BinaryFileWriter(path) as w:
        w.write_all(day)
    return day


def test_a_bbo_row_goes_to_the_stock_whose_book_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A message naming a feed order (E, C, X, D, U) changes the book that files the
    order, whatever locate it carries (``tickwire.engine.book``'s rule): its BBO row is
    that stock's, on the compiled recorder (``CBookManager._apply_frame``) and the
    reference one (:func:`series.iter_series`), and the two give the same table. Both
    re-checked the locate the message carried (AAA's, unchanged: the compiled recorder
    wrote no row) and missed BBB's three changes."""
    path = tmp_path / "elsewhere.itch"
    _elsewhere_day(path)
    s = 10**9
    want = [
        (1 * s, 1, "AAA", 100_000, 100, None, 0),
        (2 * s, 2, "BBB", 10_000, 1_000, None, 0),
        (3 * s, 2, "BBB", 10_000, 1_000, 10_100, 400),
        (4 * s, 2, "BBB", 10_000, 500, 10_100, 400),
        (5 * s, 2, "BBB", 10_000, 500, 10_200, 300),
        (6 * s, 2, "BBB", 10_000, 500, None, 0),
    ]
    got = {}
    for available in (True, False) if cbook.AVAILABLE else (False,):
        monkeypatch.setattr(cbook, "AVAILABLE", available)
        got[available] = tables(path)["bbo"]
        assert [tuple(r.values()) for r in got[available].to_pylist()] == want, available
    if cbook.AVAILABLE:
        assert got[True].equals(got[False])
