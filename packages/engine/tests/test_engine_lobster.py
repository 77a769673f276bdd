"""LOBSTER export: the order book file matches the engine's book at sampled times, and
the message file replays into exactly the order book file."""

from __future__ import annotations

import csv
import os
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tickwire.engine.book import BookManager
from tickwire.engine.cli_backtest import main
from tickwire.engine.lobster import ASK_DUMMY, BID_DUMMY, ExportError, export
from tickwire.itch import Message
from tickwire.itch.generator import generate_day

LEVELS = 5


@pytest.fixture(scope="module")
def day() -> list[Message]:
    return list(generate_day(30_000, 20, 3))


@pytest.fixture(scope="module")
def exported(
    day: list[Message], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, list[str]]:
    out = tmp_path_factory.mktemp("lobster")
    books = BookManager()
    books.feed(day)
    # The two busiest symbols of the day.
    busiest = sorted(books.books.values(), key=lambda b: -b.order_count)[:2]
    symbols = [b.symbol for b in busiest]
    res = export(day, symbols, out, levels=LEVELS, bbo_format="csv")
    assert sorted(res.rows) == sorted(symbols) and all(n > 100 for n in res.rows.values())
    return out, symbols


def _read(path: Path) -> list[list[str]]:
    with path.open() as f:
        return list(csv.reader(f))


def _ns(t: str) -> int:
    return int(Decimal(t) * 1_000_000_000)


def test_engine_lobster_matches_the_book_at_sampled_times(
    day: list[Message], exported: tuple[Path, list[str]]
) -> None:
    out, symbols = exported
    rng = random.Random(5)
    for sym in symbols:
        msgs = _read(out / f"{sym}_message_{LEVELS}.csv")
        rows = _read(out / f"{sym}_orderbook_{LEVELS}.csv")
        assert len(msgs) == len(rows)
        times = [_ns(m[0]) for m in msgs]
        samples = [*sorted(rng.sample(range(times[0], times[-1] + 1), 40)), times[-1]]
        books = BookManager()
        i = 0
        row = -1
        for t in samples:
            while i < len(day) and day[i].timestamp <= t:
                books.apply(day[i])
                i += 1
            while row + 1 < len(times) and times[row + 1] <= t:
                row += 1
            book = next(b for b in books.books.values() if b.symbol == sym)
            bids, asks = book.depth(LEVELS)
            expected: list[int] = []
            for k in range(LEVELS):
                expected += [asks[k].price, asks[k].shares] if k < len(asks) else [ASK_DUMMY, 0]
                expected += [bids[k].price, bids[k].shares] if k < len(bids) else [BID_DUMMY, 0]
            assert [int(x) for x in rows[row]] == expected, (sym, t)


def test_engine_lobster_messages_replay_into_the_orderbook(
    exported: tuple[Path, list[str]],
) -> None:
    """An independent reader rebuilds the book from the message file alone."""
    out, symbols = exported
    for sym in symbols:
        orders: dict[int, tuple[int, int, int]] = {}  # id -> (direction, price, size)
        for msg, row in zip(
            _read(out / f"{sym}_message_{LEVELS}.csv"),
            _read(out / f"{sym}_orderbook_{LEVELS}.csv"),
            strict=True,
        ):
            _, typ, oid, size, price, direction = (int(x) if i else x for i, x in enumerate(msg))
            assert isinstance(typ, int) and isinstance(oid, int) and isinstance(size, int)
            if typ == 1:
                orders[oid] = (int(direction), int(price), size)
            elif typ in (2, 4):
                d, p, s = orders[oid]
                assert s >= size
                if s == size:
                    del orders[oid]
                else:
                    orders[oid] = (d, p, s - size)
            elif typ == 3:
                assert orders.pop(oid)[2] == size
            levels: dict[tuple[int, int], int] = {}
            for d, p, s in orders.values():
                levels[(d, p)] = levels.get((d, p), 0) + s
            asks = sorted((p, s) for (d, p), s in levels.items() if d == -1)
            bids = sorted(((p, s) for (d, p), s in levels.items() if d == 1), reverse=True)
            expected: list[int] = []
            for k in range(LEVELS):
                expected += list(asks[k]) if k < len(asks) else [ASK_DUMMY, 0]
                expected += list(bids[k]) if k < len(bids) else [BID_DUMMY, 0]
            assert [int(x) for x in row] == expected


def test_engine_lobster_bbo_csv_and_parquet(
    day: list[Message], tmp_path: Path, exported: tuple[Path, list[str]]
) -> None:
    out, symbols = exported
    with (out / "bbo.csv").open() as f:
        rows = list(csv.DictReader(f))
    books = BookManager()
    books.feed(day)
    for sym in symbols:
        last = [r for r in rows if r["symbol"] == sym][-1]
        book = next(b for b in books.books.values() if b.symbol == sym)
        q = book.bbo()
        assert (last["bid_price"], last["ask_price"]) == (
            str(q.bid_price or ""),
            str(q.ask_price or ""),
        )
        assert (int(last["bid_size"]), int(last["ask_size"])) == (q.bid_size, q.ask_size)
    import pyarrow.parquet as pq  # a dev dependency; optional for users

    export(day, symbols[:1], tmp_path, levels=2, bbo_format="parquet", date="2026-11-23")
    table = pq.read_table(tmp_path / "bbo.parquet")
    assert table.num_rows == sum(1 for r in rows if r["symbol"] == symbols[0])
    assert (tmp_path / f"{symbols[0]}_2026-11-23_34200000_57600000_message_2.csv").exists()


def test_engine_lobster_cli_date_is_checked_while_parsing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["export", "--symbol", "X", "--date", "2020-13-01", "--out", str(tmp_path / "o")]
    assert main([*argv, "--messages", "100", "--symbols", "2"]) == 2
    assert "'2020-13-01' is not a date (YYYY-MM-DD)" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_engine_lobster_errors(day: list[Message], tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="levels"):
        export(day, ["X"], tmp_path, levels=0)
    with pytest.raises(ExportError, match="levels must be 1 to 1000"):
        export(day, ["X"], tmp_path, levels=10**17)
    with pytest.raises(ExportError, match="csv or parquet"):
        export(day, ["X"], tmp_path, bbo_format="xlsx")
    # The date is part of every file name: only a real YYYY-MM-DD date (2020-13-01 and
    # ../x were written as given, the second outside the folder).
    for bad in ("2020-13-01", "../x", "20200102"):
        with pytest.raises(ExportError, match="YYYY-MM-DD"):
            export(day, ["X"], tmp_path / "d", date=bad)
    assert not (tmp_path / "d").exists()
    res = export(day[:1000], ["NOTHERE"], tmp_path)
    assert res.missing_symbols == ["NOTHERE"]


def test_engine_lobster_cli_a_symbol_not_in_the_data_is_an_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The symbols found are written; one that is not in the data ends the command with
    exit 1 and one ``error:`` line on stderr naming it, as every failure (docs/cli.md).
    It was a line among the summary on stdout, exit 1, no error."""
    books = BookManager()
    books.feed(generate_day(3_000, 3, 2))
    sym = next(b.symbol for b in books.books.values())
    argv = ["export", "--symbol", sym, "--symbol", "NOPE", "--out", str(tmp_path / "o")]
    assert main([*argv, "--messages", "3000", "--symbols", "3", "--day-seed", "2"]) == 1
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.endswith(" export: error: not found in the data: NOPE\n")
    assert f"{sym}: " in out and "NOPE" not in out
    assert (tmp_path / "o").is_dir() and any((tmp_path / "o").iterdir())


def test_engine_lobster_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    books = BookManager()
    books.feed(generate_day(5_000, 5, 2))
    sym = next(iter(books.books.values())).symbol
    rc = main(
        [
            "export",
            "--messages",
            "5000",
            "--symbols",
            "5",
            "--day-seed",
            "2",
            "--symbol",
            sym,
            "--levels",
            "3",
            "--out",
            str(tmp_path),
        ]
    )
    assert rc == 0
    assert f"{sym}:" in capsys.readouterr().out
    assert (tmp_path / f"{sym}_orderbook_3.csv").exists()


def test_engine_lobster_a_failed_export_leaves_no_file(
    day: list[Message], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A day that fails part way (a truncated file) leaves no LOBSTER file, no BBO series
    and not the folder the export made; a folder that was there keeps what it held. The
    files were written in place: exit 1 with two plausible CSVs of half a day left."""
    from tickwire.itch import BinaryFileWriter, DecodeError

    def cut_short() -> Any:
        yield from day[: len(day) // 2]
        raise DecodeError("truncated frame at end of stream: only 5 bytes left")

    symbol = next(m.stock for m in day if m.message_type == "R")
    out = tmp_path / "new"
    with pytest.raises(DecodeError):
        export(cut_short(), [symbol], out, levels=2)
    assert not out.exists()
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "notes.txt").write_text("mine")
    with pytest.raises(DecodeError):
        export(cut_short(), [symbol], kept, levels=2, bbo_format="csv")
    assert [p.name for p in kept.iterdir()] == ["notes.txt"]

    data = tmp_path / "day.itch"
    with BinaryFileWriter(data) as w:
        w.write_all(day[:2000])
    data.write_bytes(data.read_bytes()[:-3])
    cli_out = tmp_path / "cli"
    assert main(["export", str(data), "--symbol", symbol, "--out", str(cli_out)]) == 1
    assert "truncated" in capsys.readouterr().err
    assert not cli_out.exists()


def test_engine_lobster_an_earlier_runs_bbo_series_goes(day: list[Message], tmp_path: Path) -> None:
    """``--bbo none`` (or the other format) into an earlier export's folder removes its
    bbo.csv: it stayed, with other symbols or another day, beside this export's files."""
    symbol = next(m.stock for m in day if m.message_type == "R")
    export(day[:2000], [symbol], tmp_path, levels=2, bbo_format="csv")  # an earlier day
    export(day[:3000], [symbol], tmp_path, levels=2, bbo_format=None)
    assert not (tmp_path / "bbo.csv").exists()
    export(day[:3000], [symbol], tmp_path, levels=2, bbo_format="csv")
    assert (tmp_path / "bbo.csv").read_text().startswith("timestamp_ns,")


def test_engine_lobster_a_day_without_its_directory_names_the_symbol(
    day: list[Message], tmp_path: Path
) -> None:
    """A capture that starts mid-session has no Stock Directory, and its first message of
    a symbol may name an order from before the capture (no symbol in it): the book is
    made unnamed and only the Add Orders name the symbol. The export found the symbol
    there and wrote its files, then reported its rows, its BBO rows and a replace's new
    order under the book's name, empty, and called the symbol missing (exit 1)."""
    from tickwire.itch import OrderDelete, StockDirectory, StockTradingAction

    books = BookManager()
    books.feed(day)
    book = max(books.books.values(), key=lambda b: b.order_count)
    sym, locate = book.symbol, book.locate
    named = (StockDirectory, StockTradingAction)
    cut = [m for m in day if not (isinstance(m, named) and m.stock_locate == locate)]
    first = next(i for i, m in enumerate(cut) if m.stock_locate == locate)
    cut.insert(first, OrderDelete(locate, 0, cut[first].timestamp, 10**15))  # from before
    res = export(cut, [sym], tmp_path, levels=LEVELS, bbo_format="csv")
    assert res.missing_symbols == [] and list(res.rows) == [sym] and res.rows[sym] > 100
    with (tmp_path / "bbo.csv").open() as f:
        assert {r["symbol"] for r in csv.DictReader(f)} == {sym}


def test_engine_lobster_cli_a_missing_symbol_also_names_lost_messages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A capture that lost messages and a symbol not in it: the one error line says both
    (it named the symbol only, and the gap was never an error)."""
    cap = Path(__file__).resolve().parents[3] / "data/pcap/nasdaq-itch50/Multiple.Packets.pcap"
    argv = ["export", str(cap), "--symbol", "META", "--symbol", "NOPE"]
    assert main([*argv, "--out", str(tmp_path / "o")]) == 1
    out, err = capsys.readouterr()
    assert "  META: 38 LOBSTER rows" in out
    assert err.count("\n") == 1 and "not found in the data: NOPE (and " in err
    assert "1 sequence gaps (4,244,620 messages missing)" in err


def test_engine_lobster_says_what_the_book_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Messages the book cannot apply as they are (a delete of an unknown order, a cancel
    or execution beyond the order's shares, an add of zero shares or price) leave the
    LOBSTER files without them, or clamped: the export says so, in the words of
    ``engine book`` and ``backtest`` (``book_faults``), exit 0 as they do. It wrote its
    files and said nothing: the files looked like the whole of the day's ITCH."""
    from tickwire.itch import (
        AddOrder,
        BinaryFileWriter,
        OrderCancel,
        OrderDelete,
        OrderExecuted,
        SystemEvent,
    )

    day = [
        SystemEvent(0, 0, 1_000, "O"),
        AddOrder(1, 0, 5_000_000_000, 1, "B", 100, "ZZZ", 1_000_000),
        AddOrder(1, 0, 5_100_000_000, 2, "S", 100, "ZZZ", 1_010_000),
        OrderCancel(1, 0, 6_000_000_000, 1, 500),  # 500 of 100: clamped
        OrderExecuted(1, 0, 7_000_000_000, 2, 300, 1),  # 300 of 100: clamped
        AddOrder(1, 0, 8_000_000_000, 3, "B", 0, "ZZZ", 1_000_000),  # zero shares
        AddOrder(1, 0, 9_000_000_000, 4, "S", 100, "ZZZ", 0),  # zero price
        OrderDelete(1, 0, 10_000_000_000, 99),  # no such order
    ]
    res = export(day, ["ZZZ"], tmp_path / "api", levels=1, bbo_format=None)
    assert res.rows == {"ZZZ": 4}
    assert res.book_faults == {
        "unknown_references": 1,
        "duplicate_references": 0,
        "clamped": 2,
        "rejected": 2,
        "renamed_locates": 0,
    }
    data = tmp_path / "weird.itch"
    with BinaryFileWriter(data) as w:
        w.write_all(day)
    argv = ["export", str(data), "--symbol", "ZZZ", "--out", str(tmp_path / "cli")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert (
        "  book      1 unknown references, 2 executions or cancels beyond the order's "
        "shares, 2 adds or replaces not booked (zero shares or price, no side)\n" in out
    )
    clean = tmp_path / "clean.itch"
    with BinaryFileWriter(clean) as w:
        w.write_all(day[:3])
    assert main(["export", str(clean), "--symbol", "ZZZ", "--out", str(tmp_path / "c")]) == 0
    assert "  book      " not in capsys.readouterr().out  # no fault, no line


def test_engine_lobster_a_symbol_never_names_a_file_outside_out(tmp_path: Path) -> None:
    """A stock field is 8 printable characters, ``/`` among them: a day from elsewhere
    whose symbol is ``../../zz`` (asked for as it is) had its LOBSTER files written two
    folders above ``--out``, and ``A/B`` into a folder ``A`` of it. A ``/`` (and ``%``)
    in a symbol is written ``%2F`` (``%25``) in its file names, which stay in the
    folder; the files are named as before for every other symbol."""
    from tickwire.itch import AddOrder, StockDirectory, SystemEvent

    def directory(locate: int, stock: str) -> StockDirectory:
        return StockDirectory(
            locate, 0, 2_000, stock, "Q", "N", 100, "N", "C", "Z", "P", "N", "N", "1", "N", 0, "N"
        )

    symbols = ["../../zz", "A/B", "C%2FD", "OK"]
    day: list[Message] = [SystemEvent(0, 0, 1_000, "O")]
    for i, sym in enumerate(symbols, 1):
        day += [directory(i, sym), AddOrder(i, 0, 5_000_000_000, i, "B", 100, sym, 1_000_000)]
    out = tmp_path / "a" / "b" / "out"
    res = export(day, symbols, out, levels=1, bbo_format=None)
    assert res.rows == dict.fromkeys(symbols, 1)
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.csv"))
    assert written == sorted(
        f"a/b/out/{stem}_{kind}_1.csv"
        for stem in ("..%2F..%2Fzz", "A%2FB", "C%252FD", "OK")
        for kind in ("message", "orderbook")
    )


def test_engine_lobster_a_symbol_under_two_locates_is_a_data_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One symbol listed under two stock locates (two days in one file: ``cat day1
    day2``) cannot make one pair of LOBSTER files, a row of them following one book:
    one line naming the symbol and both locates, exit 1, no file left. It was a usage
    error (exit 2) blaming the command line: ``ZZZ_message_1.csv: is also another output
    of this command``."""
    from tickwire.itch import AddOrder, BinaryFileWriter, StockDirectory, SystemEvent

    def directory(locate: int) -> StockDirectory:
        return StockDirectory(
            locate, 0, 2_000, "ZZZ", "Q", "N", 100, "N", "C", "Z", "P", "N", "N", "1", "N", 0, "N"
        )

    day = [
        SystemEvent(0, 0, 1_000, "O"),
        directory(1),
        AddOrder(1, 0, 5_000_000_000, 1, "B", 100, "ZZZ", 1_000_000),
        directory(2),
        AddOrder(2, 0, 6_000_000_000, 2, "S", 100, "ZZZ", 1_100_000),
    ]
    with pytest.raises(ValueError, match=r"^ZZZ: listed under stock locates 1 and 2") as info:
        export(day, ["ZZZ"], tmp_path / "api", levels=1)
    assert not isinstance(info.value, ExportError)  # the data, not the arguments
    data = tmp_path / "two_days.itch"
    with BinaryFileWriter(data) as w:
        w.write_all(day)
    out = tmp_path / "cli"
    assert main(["export", str(data), "--symbol", "ZZZ", "--out", str(out), "--levels", "1"]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert "error: ZZZ: listed under stock locates 1 and 2" in line
    assert not out.exists()


@pytest.mark.parametrize("chosen", ["AAA", "BBB"])
def test_engine_lobster_a_locate_renamed_is_a_data_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], chosen: str
) -> None:
    """A Stock Directory that gives AAA's stock locate the symbol BBB (AAA has no book
    then: ``book.name_locate``) cannot make LOBSTER files of either, a row following one
    book: one line naming both and the locate, exit 1, no file left. AAA's files went on
    with BBB's orders (an add and an execution of BBB written as AAA's); BBB's began
    with AAA's orders in their depth."""
    from tickwire.itch import (
        AddOrder,
        BinaryFileWriter,
        OrderExecuted,
        StockDirectory,
        SystemEvent,
    )

    def directory(stock: str, locate: int = 1) -> StockDirectory:
        return StockDirectory(
            locate, 0, 2_000, stock, "Q", "N", 100, "N", "C", "Z", "P", "N", "N", "1", "N", 0, "N"
        )

    day = [
        SystemEvent(0, 0, 1_000, "O"),
        directory("AAA"),
        directory("CCC", 2),
        AddOrder(2, 0, 4_000_000_000, 9, "B", 100, "CCC", 2_000_000),
        AddOrder(1, 0, 5_000_000_000, 1, "B", 100, "AAA", 1_000_000),
        directory("BBB"),
        AddOrder(1, 0, 6_000_000_000, 2, "S", 100, "BBB", 1_100_000),
        OrderExecuted(1, 0, 7_000_000_000, 2, 50, 1),
    ]
    reason = r"^AAA: its stock locate 1 renamed BBB by a later Stock Directory"
    with pytest.raises(ValueError, match=reason) as info:
        export(day, [chosen], tmp_path / "api", levels=1)
    assert not isinstance(info.value, ExportError)  # the data, not the arguments
    assert not (tmp_path / "api").exists()
    data = tmp_path / "renamed.itch"
    with BinaryFileWriter(data) as w:
        w.write_all(day)
    out = tmp_path / "cli"
    args = ["export", str(data), "--symbol", chosen, "--out", str(out), "--levels", "1"]
    assert main(args) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert "error: AAA: its stock locate 1 renamed BBB by a later Stock Directory" in line
    assert not out.exists()
    # Another symbol's export runs, and a directory sent again unchanged is no rename.
    res = export(day, ["CCC"], tmp_path / "other", levels=1, bbo_format=None)
    assert res.rows == {"CCC": 1}
    res = export([*day[:5], directory("AAA")], ["AAA"], tmp_path / "again", levels=1)
    assert res.rows == {"AAA": 1}


def test_engine_lobster_says_when_time_goes_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """LOBSTER files are read as a time series; rows whose time is earlier than the row
    before (a day from elsewhere out of order, two days of one locate table in one file)
    are written as the data has them, and counted and said, per symbol. They were
    written without a word."""
    from tickwire.itch import AddOrder, BinaryFileWriter, OrderDelete, SystemEvent

    day = [
        SystemEvent(0, 0, 1_000, "O"),
        AddOrder(1, 0, 5_000_000_000, 1, "B", 100, "ZZZ", 1_000_000),
        AddOrder(1, 0, 4_000_000_000, 2, "S", 100, "ZZZ", 1_100_000),  # back
        OrderDelete(1, 0, 4_000_000_000, 2),  # the same time: not back
        AddOrder(1, 0, 3_000_000_000, 3, "S", 100, "ZZZ", 1_100_000),  # back
        AddOrder(2, 0, 9_000_000_000, 4, "B", 100, "YYY", 1_000_000),
    ]
    res = export(day, ["ZZZ", "YYY"], tmp_path / "api", levels=1, bbo_format=None)
    assert res.rows == {"ZZZ": 4, "YYY": 1}
    assert res.time_reversals == {"ZZZ": 2}
    data = tmp_path / "day.itch"
    with BinaryFileWriter(data) as w:
        w.write_all(day)
    argv = ["export", str(data), "--symbol", "ZZZ,YYY", "--out", str(tmp_path / "cli")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "  ZZZ: 4 LOBSTER rows, 2 of them earlier than the row before\n" in out
    assert "  YYY: 1 LOBSTER rows\n" in out


def test_engine_lobster_many_symbols_within_the_open_file_limit(tmp_path: Path) -> None:
    """Every chosen symbol keeps its two files open to the end (written whole or not at
    all), so with the usual soft limit of 1,024 open files an export of some 500
    symbols of a day failed with ``Too many open files`` (exit 1, nothing written). The
    export raises the soft limit as far as the hard limit allows (here the soft limit is
    lowered to 256 for 200 symbols, 400 files)."""
    import resource

    day = list(generate_day(20_000, 200, 5))
    books = BookManager()
    books.feed(day)
    symbols = sorted({b.symbol for b in books.books.values()})
    assert len(symbols) == 200
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 600:
        pytest.skip(f"hard open-file limit {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
    try:
        res = export(day, symbols, tmp_path, levels=1, bbo_format=None)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert sorted(res.rows) == symbols
    assert len(list(tmp_path.glob("*.csv"))) == 400


def test_engine_lobster_refuses_rows_past_24_hours(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """LOBSTER's time is seconds after midnight of the file's one day; a message stamped
    at or past 24:00:00 (ITCH's 6 bytes of nanoseconds hold some 78 hours) has no row,
    its count said per symbol; the book still applies it. Rows of 90000.5 s were written
    as stamped, without a word."""
    from tickwire.itch import AddOrder, BinaryFileWriter, OrderDelete, SystemEvent

    day_ns = 86_400 * 1_000_000_000

    day = [
        SystemEvent(0, 0, 1_000, "O"),
        AddOrder(1, 0, day_ns - 1, 1, "B", 100, "ZZZ", 1_000_000),
        AddOrder(1, 0, day_ns, 2, "S", 100, "ZZZ", 1_100_000),  # 24:00:00: no row
        OrderDelete(1, 0, 90_000_500_000_000, 1),  # 25:00:00.5: no row
        AddOrder(2, 0, 9_000_000_000, 4, "B", 100, "YYY", 1_000_000),
    ]
    out = tmp_path / "api"
    res = export(day, ["ZZZ", "YYY"], out, levels=1, bbo_format=None)
    assert res.rows == {"ZZZ": 1, "YYY": 1}
    assert res.past_midnight == {"ZZZ": 2}
    assert _read(out / "ZZZ_message_1.csv") == [
        ["86399.999999999", "1", "1", "100", "1000000", "1"]
    ]
    assert _read(out / "ZZZ_orderbook_1.csv") == [[str(ASK_DUMMY), "0", "1000000", "100"]]
    data = tmp_path / "day.itch"
    with BinaryFileWriter(data) as w:
        w.write_all(day)
    argv = ["export", str(data), "--symbol", "ZZZ,YYY", "--out", str(tmp_path / "cli")]
    assert main(argv) == 0
    out_text = capsys.readouterr().out
    assert "  ZZZ: 1 LOBSTER rows; 2 stamped at or past 24:00:00 not written\n" in out_text
    assert "  YYY: 1 LOBSTER rows\n" in out_text


def test_engine_lobster_an_earlier_exports_files_go(
    day: list[Message], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An export that ends with its symbols found removes the files an earlier export
    into ``--out`` wrote (its manifest, ``.tickwire-export.json``) that it did not write
    (another symbol, other levels or date), and says so in one line; files it never
    wrote, and anything below the folder, stay. A failed export removes nothing but
    lists its files with the earlier ones. An export of AAPL after one of MSFT left
    MSFT's two CSVs beside AAPL's."""
    books = BookManager()
    books.feed(day[:3000])
    first, second = sorted({b.symbol for b in books.books.values()})[:2]
    out = tmp_path / "out"
    export(day[:3000], [first], out, levels=2, bbo_format=None)
    # A failed export (a symbol not found, exit 1) writes its files and removes nothing.
    res = export(day[:3000], [first, "NOPE"], out, levels=2, bbo_format=None, date="2020-01-02")
    assert res.missing_symbols == ["NOPE"] and res.removed == []
    mine = [
        "notes.txt",
        "analysis_v2_message_1.csv",
        f"{first}_message_0.csv",
        f"{first}_message_2.txt",
    ]
    for name in mine:
        (out / name).write_text("mine\n")
    (out / "sub").mkdir()
    (out / "sub" / f"{first}_message_2.csv").write_text("mine\n")
    earlier = sorted(p.name for p in out.glob("*.csv") if p.name not in mine)
    assert len(earlier) == 4
    res = export(day[:3000], [second], out, levels=2, bbo_format=None)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [
            *mine,
            "sub",
            ".tickwire-export.json",
            f"{second}_message_2.csv",
            f"{second}_orderbook_2.csv",
        ]
    )
    assert sorted(p.name for p in res.removed) == earlier
    assert (out / "sub" / f"{first}_message_2.csv").exists()
    # A failed export (a symbol not found, exit 1) leaves the earlier files as they are.
    res = export(day[:3000], [first, "NOPE"], out, levels=3, bbo_format=None)
    assert res.missing_symbols == ["NOPE"] and res.removed == []
    assert (out / f"{second}_message_2.csv").exists()

    argv = ["export", "--symbol", first, "--levels", "2", "--out", str(out), "--bbo", "none"]
    assert main([*argv, "--messages", "3000", "--symbols", "20", "--day-seed", "3"]) == 0
    lines = [x for x in capsys.readouterr().out.splitlines() if "removed" in x]
    assert lines == [
        f"  removed 4 files of an earlier export from {out}: {first}_message_3.csv, "
        f"{first}_orderbook_3.csv, {second}_message_2.csv, {second}_orderbook_2.csv"
    ]
    assert not (out / f"{second}_message_2.csv").exists()
    assert all((out / name).read_text() == "mine\n" for name in mine)


def test_engine_lobster_removes_only_files_it_wrote(day: list[Message], tmp_path: Path) -> None:
    """Files in ``--out`` an export did not write stay, whatever their names: LOBSTER's
    own sample files (lobsterdata.com's names, as an export with ``--date`` writes them)
    and a ``notes_message_1.csv`` (the name of symbol ``notes``'s files). An export
    removed every file whose name an export could have written, so a first export into a
    folder of LOBSTER's samples deleted them."""
    books = BookManager()
    books.feed(day[:3000])
    first, second = sorted({b.symbol for b in books.books.values()})[:2]
    out = tmp_path / "out"
    out.mkdir()
    theirs = {
        "AAPL_2012-06-21_34200000_57600000_message_10.csv": "34200.01,5,0,1,2238200,-1\n",
        "AAPL_2012-06-21_34200000_57600000_orderbook_10.csv": "2239500,100,2231800,100\n",
        "notes_message_1.csv": "mine\n",
        "bbo_message_1.csv": "mine\n",
    }
    for name, text in theirs.items():
        (out / name).write_text(text)
    res = export(day[:3000], [first], out, levels=10, bbo_format=None)
    assert res.removed == []
    res = export(day[:3000], [second], out, levels=10, bbo_format=None, date="2012-06-21")
    assert sorted(p.name for p in res.removed) == [
        f"{first}_message_10.csv",
        f"{first}_orderbook_10.csv",
    ]
    for name, text in theirs.items():
        assert (out / name).read_text() == text
    assert (out / f"{second}_2012-06-21_34200000_57600000_message_10.csv").exists()


def test_engine_lobster_a_manifest_that_is_not_a_file_is_refused_before_writing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--out``'s manifest (``.tickwire-export.json``) a folder (or anything but a file)
    is a usage error before any file is written: one line naming it, exit 2, the folder as
    it was. The old code wrote the LOBSTER files, then failed to write the manifest over
    the folder (exit 1), leaving files no manifest listed."""
    out = tmp_path / "out"
    (out / ".tickwire-export.json").mkdir(parents=True)
    (out / ".tickwire-export.json" / "mine.txt").write_text("mine\n")
    gen = ["--messages", "3000", "--symbols", "20", "--day-seed", "3"]
    books = BookManager()
    books.feed(generate_day(3000, 20, 3))
    first = sorted({b.symbol for b in books.books.values()})[0]
    argv = ["export", "--out", str(out), "--bbo", "csv", "--symbol", first, *gen]
    assert main(argv) == 2
    _, err = capsys.readouterr()
    assert err.count("\n") == 1, err
    assert f"{out / '.tickwire-export.json'}: is not a file" in err, err
    assert sorted(p.name for p in out.iterdir()) == [".tickwire-export.json"]
    assert (out / ".tickwire-export.json" / "mine.txt").read_text() == "mine\n"


def test_engine_lobster_an_unreadable_manifest_removes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A manifest (``.tickwire-export.json``) that cannot be read, or names anything but a
    file directly in ``--out``, is said in one warning line on stderr and no file is
    removed (exit 0); the export's own manifest replaces it, so the next export removes
    this one's files again."""
    gen = ["--messages", "3000", "--symbols", "20", "--day-seed", "3"]
    books = BookManager()
    books.feed(generate_day(3000, 20, 3))
    first, second, third = sorted({b.symbol for b in books.books.values()})[:3]
    out = tmp_path / "out"
    argv = ["export", "--out", str(out), "--bbo", "none", "--levels", "2", *gen]
    manifest = out / ".tickwire-export.json"
    (tmp_path / "outside.csv").write_text("mine\n")
    fmt = '{"format": "tickwire-export/2", "files": '
    sha = '"' + "ab" * 32 + '"'
    paths = [f'{fmt}{{"../outside.csv": [5, {sha}]}}}}', f'{fmt}{{"{out}/x.csv": [5, {sha}]}}}}']
    bad_stamps = ("7", "[1]", f"[-1, {sha}]", "[5, 1]", '[5, "ab"]', f"[5, {sha.upper()}]")
    stamps = [f'{fmt}{{"{first}_message_2.csv": {v}}}}}' for v in bad_stamps]
    old = '{"format": "tickwire-export/1", "files": ["a_message_2.csv"]}'  # names only
    for bad in ("{not json", '{"files": {}}', "[]", f"{fmt}[]}}", old, *paths, *stamps):
        assert main([*argv, "--symbol", first]) == 0
        capsys.readouterr()
        manifest.write_text(bad)
        assert main([*argv, "--symbol", second]) == 0
        out_text, err = capsys.readouterr()
        assert err.count("\n") == 1 and err.startswith(f"warning: {manifest}: "), err
        assert err.endswith("; no file of an earlier export removed\n"), err
        assert "removed" not in out_text
        assert (out / f"{first}_message_2.csv").exists()
        assert (tmp_path / "outside.csv").read_text() == "mine\n"
        assert main([*argv, "--symbol", third]) == 0
        out_text, err = capsys.readouterr()
        assert err == ""
        assert f"  removed 2 files of an earlier export from {out}: {second}_" in out_text
        assert (out / f"{first}_message_2.csv").exists()
        for p in out.iterdir():
            p.unlink()


def test_engine_lobster_a_missing_symbol_names_its_near_miss(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A symbol the data does not name is quoted with the data's near misses: the same
    letters in another case (``aapl``: AAPL), else alike ones (``APPL``: AAPL); none is
    taken for it (no file of AAPL is written). It ended ``not found in the data: aapl``
    and quoted nothing; ``NOPE`` still quotes nothing."""
    gen = ["--messages", "3000", "--symbols", "20", "--day-seed", "3"]  # AAPL, GOOG, GOOGL
    out = tmp_path / "o"
    argv = ["export", "--symbol", "aapl,APPL,goog,NOPE", "--out", str(out), "--bbo", "none"]
    assert main([*argv, *gen]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.endswith(
        " export: error: not found in the data: APPL (AAPL is in the data), NOPE, "
        "aapl (AAPL is in the data), goog (GOOG is in the data)"
    )
    assert not out.exists() or not any(out.iterdir())
    day = list(generate_day(3000, 20, 3))
    res = export(day, ["aapl", "GOGL", "NOPE"], tmp_path / "api", bbo_format=None)
    assert res.missing_symbols == ["GOGL", "NOPE", "aapl"] and res.rows == {}
    assert res.near_misses == {"GOGL": ["GOOGL", "GOOG"], "aapl": ["AAPL"]}


def test_engine_lobster_a_file_changed_since_its_export_stays(
    day: list[Message], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file an earlier export wrote that was changed since (a user saved a file under
    its name, or edited it) is not removed: the manifest records each file's size and
    SHA-256, a file that matches them no more is the user's now, and one warning line
    names it (one of the same size too, and one copied over with the export's
    modification time). The manifest listed names only, so the next export deleted a user's
    file saved under a listed name; and a ``bbo.csv`` no export listed (a user's, or an
    older version's) was removed by its name alone."""
    books = BookManager()
    books.feed(day[:3000])
    first, second = sorted({b.symbol for b in books.books.values()})[:2]
    out = tmp_path / "out"
    out.mkdir()
    (out / "bbo.csv").write_text("my own BBO series\n")
    export(day[:3000], [first], out, levels=2, bbo_format=None)
    assert (out / "bbo.csv").read_text() == "my own BBO series\n"
    saved = out / f"{first}_message_2.csv"
    size, times = saved.stat().st_size, saved.stat()
    note = "my notes, saved under an exported name\n"
    saved.write_text((note * (size // len(note) + 1))[:size])  # the same size
    os.utime(saved, ns=(times.st_atime_ns, times.st_mtime_ns))  # and time, as cp -p
    mine = saved.read_text()
    argv = ["export", "--symbol", second, "--levels", "2", "--out", str(out), "--bbo", "csv"]
    assert main([*argv, "--messages", "3000", "--symbols", "20", "--day-seed", "3"]) == 0
    text, err = capsys.readouterr()
    assert saved.read_text() == mine
    assert not (out / f"{first}_orderbook_2.csv").exists()  # unchanged: removed
    assert err == (
        f"warning: kept 1 file an earlier export wrote in {out}, changed since: "
        f"{first}_message_2.csv\n"
    ), err
    assert f"removed 1 files of an earlier export from {out}: {first}_orderbook_2.csv" in text
    # The kept file is the user's now: no later export lists or removes it.
    assert main([*argv, "--messages", "3000", "--symbols", "20", "--day-seed", "3"]) == 0
    assert capsys.readouterr()[1] == ""
    assert saved.exists() and saved.name not in (out / ".tickwire-export.json").read_text()


def test_engine_lobster_a_row_goes_to_the_stock_whose_book_changed(tmp_path: Path) -> None:
    """A message naming a feed order (E, C, X, D, U) changes the book that files the
    order, whatever locate it carries (``tickwire.engine.book``'s rule,
    :func:`~tickwire.engine.book.filed_locate`): its rows go to that stock's files and
    BBO series. Here an execution, a replace and a delete carry AAA's locate and name
    BBB's orders: the old code wrote them to AAA's files beside AAA's unchanged book
    (the replace's new order added to AAA's book), and BBB's message file missed them."""
    from tickwire.itch import (
        AddOrder,
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
        OrderDelete(1, 0, 6 * s, 4),  # the replaced ask
    ]
    res = export(day, ["AAA", "BBB"], tmp_path, levels=1)
    assert res.rows == {"AAA": 1, "BBB": 6}
    fields = {
        sym: [[int(x) for x in r[1:]] for r in _read(tmp_path / f"{sym}_message_1.csv")]
        for sym in ("AAA", "BBB")
    }
    assert fields["AAA"] == [[1, 1, 100, 100_000, 1]]
    assert fields["BBB"] == [
        [1, 2, 1_000, 10_000, 1],
        [1, 3, 400, 10_100, -1],
        [4, 2, 500, 10_000, 1],
        [3, 3, 400, 10_100, -1],
        [1, 4, 300, 10_200, -1],
        [3, 4, 300, 10_200, -1],
    ]
    books = {sym: _read(tmp_path / f"{sym}_orderbook_1.csv") for sym in ("AAA", "BBB")}
    assert books["AAA"] == [[str(ASK_DUMMY), "0", "100000", "100"]]
    assert books["BBB"][-1] == [str(ASK_DUMMY), "0", "10000", "500"]
    with (tmp_path / "bbo.csv").open() as f:
        bbo = [(r["timestamp_ns"], r["symbol"]) for r in csv.DictReader(f)]
    assert bbo == [(str(t * s), "AAA" if t == 1 else "BBB") for t in range(1, 7)]
