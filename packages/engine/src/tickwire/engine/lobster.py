"""Research export: LOBSTER message and order book files, and BBO series (CSV or Parquet).

LOBSTER (lobsterdata.com) is the format most limit order book research code reads. For
each chosen symbol two CSV files without a header are written, row k of one describing
the event that moved the book from row k-1 to row k of the other:

* ``SYMBOL_message_N.csv``: ``time, type, order id, size, price, direction`` where time
  is seconds after midnight with nanosecond decimals, price is Price(4) (dollars x 10,000,
  as in LOBSTER) and direction is 1 for a buy order, -1 for a sell order. Types: 1 new
  limit order (A, F), 2 partial cancel (X), 3 deletion (D), 4 execution of a visible
  order (E, C; C at its execution price), 5 execution of a hidden order (P), 6 cross
  trade (Q, order id 0, direction -1), 7 trading halt (H; price -1 halted, 0 quoting,
  1 trading). An ITCH replace (U) becomes two rows, a deletion (3) and a new order (1),
  exactly what the book does with it (the new order loses time priority).
* ``SYMBOL_orderbook_N.csv``: ``ask price 1, ask size 1, bid price 1, bid size 1, ...``
  for N levels after the event; empty levels are LOBSTER's dummies (ask 9999999999,
  bid -9999999999, size 0).

A ``/`` in a symbol is written ``%2F`` in its file names (``%`` as ``%25``): the files
stay in ``out_dir`` whatever the data's stock field holds (:func:`_file_name`).

With ``date`` set, files get LOBSTER's full names
(``SYMBOL_DATE_34200000_57600000_message_N.csv``); it must be a date written
``YYYY-MM-DD`` (:class:`ExportError` otherwise, before anything is written: it becomes
part of every file name, so ``2020-13-01`` or ``../x`` was written as given).

The BBO series has one row per change of a chosen symbol's best bid or offer:
``timestamp_ns, symbol, bid_price, bid_size, ask_price, ask_size`` (empty prices as
blank / null). Parquet needs pyarrow (``pip install pyarrow``), imported only then.

The books are the engine's :class:`~tickwire.engine.book.BookManager`; a replace is fed
to it as the delete and add it is equivalent to, so the intermediate book exists. A
message's rows (and BBO row) are the stock's whose book it changes: for one naming a feed
order (E, C, X, D, U), the stock that files the order, whatever locate it carries
(:func:`~tickwire.engine.book.filed_locate`, the rule of every layer). Why: they went to
the stock the locate named, beside its unchanged book (a replace's new order added to
that book), and the order's stock's files missed them. Test:
``test_engine_lobster.py::test_engine_lobster_a_row_goes_to_the_stock_whose_book_changed``. A
message the book cannot apply as it is (an unknown reference, a cancel or execution
beyond the order's shares, an add of zero shares or price) has no row, or a clamped one:
:attr:`ExportResult.book_faults` counts them and ``engine export`` prints them (``book``
line, the words of ``engine book`` and ``backtest``). Why: the files were written and
nothing was said, so they passed for the whole of the day's ITCH. Test:
``test_engine_lobster.py::test_engine_lobster_says_what_the_book_refused``. Rows whose
time is earlier than the row before are written as the data has them and counted per
symbol (:attr:`ExportResult.time_reversals`, said by ``engine export``): LOBSTER files
are read as a time series (test: ``test_engine_lobster_says_when_time_goes_back``).

Each export that writes files lists them in ``out_dir``'s manifest,
:data:`MANIFEST_NAME` (written last, whole, through :func:`tickwire.cli.atomic_path`),
with each file's size and SHA-256, and one that ends with every chosen symbol
found removes the files the earlier manifest lists that it did not write and that are as
the export left them, listed in :attr:`ExportResult.removed`; a listed file changed since
stays, in :attr:`ExportResult.changed` (:func:`_remove_earlier`): a tool removes only
what it wrote. A folder without a manifest (an older version's export) loses no file.
A manifest's place taken by anything but a file (a folder of that name) is an
:class:`ExportError` before any file is written: the old code wrote the files and then
failed to write the manifest over the folder (exit 1), leaving files none listed. Test:
``test_engine_lobster.py::test_engine_lobster_a_manifest_that_is_not_a_file_is_refused_before_writing``.

A chosen symbol the data never names is in :attr:`ExportResult.missing_symbols`, with the
data's symbols it is a near miss of (another case, or alike: :func:`near_misses`) in
:attr:`ExportResult.near_misses`; none is exported in its place.

A message stamped at or past 24:00:00 (86,400 s; ITCH's 6-byte nanoseconds since
midnight hold some 78 hours) has no row: LOBSTER's time is seconds after midnight of the
file's one day, so ``90000.000000000`` is no time of it. The book still applies it (the
next row's book includes it, as for a message the book refused); such rows are counted
per symbol (:attr:`ExportResult.past_midnight`, said by ``engine export``). Why: they
were written as stamped, a day's file running past its midnight. Test:
``test_engine_lobster.py::test_engine_lobster_refuses_rows_past_24_hours``.
"""

from __future__ import annotations

import contextlib
import csv
import difflib
import hashlib
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from tickwire.cli import atomic_path, is_iso_date
from tickwire.engine.book import BookManager, OrderBook, fault_counts, filed_locate
from tickwire.itch import (
    AddOrder,
    AddOrderMPID,
    CrossTrade,
    Message,
    OrderCancel,
    OrderDelete,
    OrderExecuted,
    OrderExecutedWithPrice,
    OrderReplace,
    StockDirectory,
    StockTradingAction,
    Trade,
)

__all__ = [
    "ASK_DUMMY",
    "BID_DUMMY",
    "DAY_NS",
    "MANIFEST_NAME",
    "ExportError",
    "ExportResult",
    "export",
    "near_misses",
]

ASK_DUMMY = 9_999_999_999
BID_DUMMY = -9_999_999_999
_HALT_PRICE = {"H": -1, "P": -1, "Q": 0, "T": 1}


class ExportError(ValueError):
    """Bad export arguments (unknown format, missing optional dependency, ...)."""


@dataclass(slots=True)
class ExportResult:
    """What was written: files per symbol and row counts."""

    files: list[Path] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    bbo_rows: int = 0
    missing_symbols: list[str] = field(default_factory=list)
    #: What the books made of the data (:func:`tickwire.engine.book.fault_counts`, as a
    #: backtest report's ``book_faults``): messages not applied as they are (an unknown
    #: reference, a cancel or execution beyond the order's shares, clamped, an add of zero
    #: shares or price) are missing from the files, or clamped there.
    book_faults: dict[str, int] = field(default_factory=dict)
    #: Per symbol (those with any), the rows whose time is earlier than the row before:
    #: written as the data has them, but LOBSTER files are read as a time series.
    time_reversals: dict[str, int] = field(default_factory=dict)
    #: Per symbol (those with any), the rows not written because their message is stamped
    #: at or past 24:00:00 (:data:`DAY_NS`): no time of the day LOBSTER's column counts.
    past_midnight: dict[str, int] = field(default_factory=dict)
    #: Per missing symbol (those with any), the data's symbols it is a near miss of
    #: (:func:`near_misses`): ``{"aapl": ["AAPL"]}``.
    near_misses: dict[str, list[str]] = field(default_factory=dict)
    #: Files of an earlier export removed from the folder (:func:`_remove_earlier`).
    removed: list[Path] = field(default_factory=list)
    #: Files an earlier export wrote that were changed since (another size or content): kept,
    #: and no longer listed; ``engine export`` names them in a warning.
    changed: list[Path] = field(default_factory=list)
    #: Why the folder's earlier manifest (:data:`MANIFEST_NAME`) could not be read (no
    #: file it lists was removed), or None: ``engine export`` says it as a warning.
    manifest_error: str | None = None


#: Nanoseconds in a day: LOBSTER's time is seconds after midnight, so a message stamped
#: this late or later has no row (:class:`ExportResult` ``past_midnight``).
DAY_NS = 86_400 * 1_000_000_000


def _time(ts: int) -> str:
    return f"{ts // 1_000_000_000}.{ts % 1_000_000_000:09d}"


def _depth_row(book: OrderBook, levels: int) -> list[int]:
    bids, asks = book.depth(levels)
    row: list[int] = []
    for i in range(levels):
        if i < len(asks):
            row += [asks[i].price, asks[i].shares]
        else:
            row += [ASK_DUMMY, 0]
        if i < len(bids):
            row += [bids[i].price, bids[i].shares]
        else:
            row += [BID_DUMMY, 0]
    return row


def _file_name(symbol: str) -> str:
    """``symbol`` as a part of a file name in the output folder: a ``/`` is written
    ``%2F`` (and ``%`` ``%25``, so two symbols never share a name). Why: the stock field
    is 8 printable characters, ``/`` among them, and a day from elsewhere whose symbol is
    ``../../zz`` had its files written two folders above ``--out``. Test:
    ``test_engine_lobster.py::test_engine_lobster_a_symbol_never_names_a_file_outside_out``."""
    return symbol.replace("%", "%25").replace("/", "%2F")


class _Writer:
    """A symbol's two LOBSTER files, written through temporary files that ``files`` (the
    export's stack) renames when the export ends and removes when it fails."""

    def __init__(
        self,
        out_dir: Path,
        symbol: str,
        levels: int,
        date: str | None,
        files: contextlib.ExitStack,
    ) -> None:
        self.symbol = symbol  # as the data names it (a directory message may be missing)
        name = _file_name(symbol)
        stem = f"{name}_{date}_34200000_57600000" if date else name
        self.msg_path = out_dir / f"{stem}_message_{levels}.csv"
        self.book_path = out_dir / f"{stem}_orderbook_{levels}.csv"
        self._mf: IO[str] = _open_whole(files, self.msg_path)
        self._bf: IO[str] = _open_whole(files, self.book_path)
        self.msgs = csv.writer(self._mf)
        self.books = csv.writer(self._bf)
        self.rows = 0
        self.now = 0  # the time of the message being written
        self._last = 0
        self.back = 0  # rows earlier than the row before
        self.late = 0  # rows not written: stamped at or past 24:00:00

    def row(self, fields: list[Any], book: OrderBook, levels: int) -> None:
        if self.now >= DAY_NS:  # no time of LOBSTER's day: counted, not written
            self.late += 1
            return
        if self.now < self._last:
            self.back += 1
        self._last = self.now
        self.msgs.writerow(fields)
        self.books.writerow(_depth_row(book, levels))
        self.rows += 1


#: The most order book levels a file carries: each row of ``*_orderbook_N.csv`` has four
#: columns per level, padded with dummies, so ``--levels 10**17`` ran for ever filling
#: the disk (``--levels 100000`` wrote 1.2 GB for a 3,000-message day).
MAX_LEVELS = 1000


def _one_locate(writers: dict[int, _Writer], symbol: str, locate: int) -> None:
    """A ``ValueError`` (the data's, exit 1) when ``symbol`` already has its files under
    another stock locate. Why: a row of a symbol's files follows one book, and one symbol
    under two locates (two days in one file, ``cat day1 day2``) had its second files
    renamed over the first (the first day's rows lost, from Python), or was a usage error
    blaming the command line (``is also another output of this command``, exit 2).
    Test: ``test_engine_lobster.py::test_engine_lobster_a_symbol_under_two_locates_is_a_data_error``."""
    for other, w in writers.items():
        if w.symbol == symbol:
            raise ValueError(
                f"{symbol}: listed under stock locates {other} and {locate}: one pair of "
                "LOBSTER files follows one book (two days in one file?)"
            )


def _one_symbol(manager: BookManager, wanted: set[str], msg: StockDirectory) -> None:
    """A ``ValueError`` (the data's, exit 1) when Stock Directory ``msg`` gives a stock
    locate whose book had another symbol its symbol (``book.name_locate``: the old one
    has no book then), either symbol chosen. Why: the chosen symbol's rows follow one
    book, and its files took the other symbol's rows after the directory (the old
    symbol's files went on with the new one's orders), or began with the other's orders
    in their depth (the new symbol's). Test:
    ``test_engine_lobster.py::test_engine_lobster_a_locate_renamed_is_a_data_error``."""
    book = manager.books.get(msg.stock_locate)
    before = "" if book is None else book.symbol
    if before and before != msg.stock and (before in wanted or msg.stock in wanted):
        raise ValueError(
            f"{before}: its stock locate {msg.stock_locate} renamed {msg.stock} by a later "
            "Stock Directory: one pair of LOBSTER files follows one book (two days in one file?)"
        )


#: Open files an export needs beyond two a symbol: its input, the BBO series and the
#: interpreter's own.
_SPARE_FILES = 64


def _room_for_files(symbols: int) -> None:
    """Make room for the two open files of each of ``symbols`` chosen symbols (each is
    kept open to the end, so the export is written whole or not at all): raise the soft
    open-file limit as far as the hard limit allows, else an :class:`ExportError`
    before anything is read. Why: with the usual soft limit of 1,024, an export of some
    500 symbols of a day failed midway with ``Too many open files`` (exit 1). Test:
    ``test_engine_lobster.py::test_engine_lobster_many_symbols_within_the_open_file_limit``."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX: the system's limit stands
        return
    needed = 2 * symbols + _SPARE_FILES
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or needed <= soft:
        return
    room = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (room, hard))
        soft = room
    if needed > soft:
        raise ExportError(
            f"{symbols:,} symbols need {needed:,} open files and this process may open "
            f"{soft:,} (ulimit -n): export them in parts"
        )


def _rmdir(path: Path) -> bool:
    """Remove the empty folder ``path`` (quietly not, if it is not empty); False."""
    with contextlib.suppress(OSError):
        path.rmdir()
    return False


def _open_whole(files: contextlib.ExitStack, path: Path) -> IO[str]:
    """``path`` open for writing through :func:`tickwire.cli.atomic_path` on ``files``:
    closed, then renamed into place, when the stack ends; removed if it ends in an error."""
    tmp = files.enter_context(atomic_path(path))
    return files.enter_context(tmp.open("w", newline=""))


def export(
    messages: Iterable[Message],
    symbols: list[str],
    out_dir: str | Path,
    *,
    levels: int = 10,
    bbo_format: str | None = "csv",
    date: str | None = None,
) -> ExportResult:
    """Write LOBSTER files (and a BBO series) for ``symbols`` from ITCH ``messages``."""
    if not 1 <= levels <= MAX_LEVELS:
        raise ExportError(f"levels must be 1 to {MAX_LEVELS}, got {levels}")
    if date is not None and not is_iso_date(date):
        raise ExportError(f"date must be a date written YYYY-MM-DD, got {date!r}")
    if bbo_format not in (None, "csv", "parquet"):
        raise ExportError(f"bbo format must be csv or parquet, got {bbo_format!r}")
    if bbo_format == "parquet":
        try:
            import pyarrow  # type: ignore[import-untyped]  # noqa: F401
        except ImportError:
            raise ExportError("Parquet output needs pyarrow: pip install pyarrow") from None
    _room_for_files(len(set(symbols)))
    out = Path(out_dir)
    manifest = out / MANIFEST_NAME
    if manifest.exists() and not manifest.is_file():  # refused before any file is written
        raise ExportError(f"{manifest}: is not a file; an export lists the files it wrote there")
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    wanted = set(symbols)
    manager = BookManager()
    orders = manager.orders
    writers: dict[int, _Writer] = {}  # locate -> writer
    last_bbo: dict[int, tuple[int | None, int, int | None, int]] = {}
    bbo_rows: list[tuple[int, str, int | None, int, int | None, int]] = []
    result = ExportResult()
    named: set[str] = set()  # every symbol the data names

    # Every file through a temporary one: renamed when the export ends, removed if it
    # fails (a day cut short left LOBSTER files that looked whole, exit 1).
    with contextlib.ExitStack() as files:
        if created:  # last out: a failed export leaves no folder it made (empty by then)
            files.push(lambda kind, *_: kind is not None and _rmdir(out))
        for msg in messages:
            typ = msg.message_type
            if typ == "R" and isinstance(msg, StockDirectory):
                _one_symbol(manager, wanted, msg)
            locate = filed_locate(manager, msg)  # the stock whose book it changes
            w = writers.get(locate)
            if w is None:
                stock = getattr(msg, "stock", None)
                if stock is not None and typ in "RAFH":
                    named.add(stock)  # for a missing symbol's near misses
                if stock is not None and stock in wanted and typ in "RAFH":
                    _one_locate(writers, stock, locate)
                    w = writers[locate] = _Writer(out, stock, levels, date, files)
                    result.files += [w.msg_path, w.book_path]
                else:
                    manager.apply(msg)
                    continue
            ts = w.now = msg.timestamp
            book = manager.book(locate)
            if isinstance(msg, AddOrder | AddOrderMPID):
                manager.apply(msg)
                if msg.order_reference_number in orders:
                    side = 1 if msg.buy_sell_indicator == "B" else -1
                    row = [_time(ts), 1, msg.order_reference_number, msg.shares, msg.price, side]
                    w.row(row, book, levels)
            elif isinstance(
                msg, OrderExecuted | OrderExecutedWithPrice | OrderCancel | OrderDelete
            ):
                o = orders.get(msg.order_reference_number)
                if o is None:
                    manager.apply(msg)
                    continue
                side = 1 if o.side == "B" else -1
                if isinstance(msg, OrderDelete):
                    fields = [_time(ts), 3, o.ref, o.shares, o.price, side]
                elif isinstance(msg, OrderCancel):
                    n = min(msg.cancelled_shares, o.shares)
                    fields = [_time(ts), 3 if n == o.shares else 2, o.ref, n, o.price, side]
                else:
                    n = min(msg.executed_shares, o.shares)
                    price = (
                        msg.execution_price if isinstance(msg, OrderExecutedWithPrice) else o.price
                    )
                    fields = [_time(ts), 4, o.ref, n, price, side]
                manager.apply(msg)
                w.row(fields, book, levels)
            elif isinstance(msg, OrderReplace):
                old = orders.get(msg.original_order_reference_number)
                if old is None:
                    manager.apply(msg)
                    continue
                side = 1 if old.side == "B" else -1
                manager.apply(OrderDelete(locate, msg.tracking_number, ts, old.ref))
                w.row([_time(ts), 3, old.ref, old.shares, old.price, side], book, levels)
                new = AddOrder(
                    locate,
                    msg.tracking_number,
                    ts,
                    msg.new_order_reference_number,
                    old.side,
                    msg.shares,
                    w.symbol,
                    msg.price,
                )
                manager.apply(new)
                if new.order_reference_number in orders:
                    row = [_time(ts), 1, new.order_reference_number, new.shares, new.price, side]
                    w.row(row, book, levels)
            elif isinstance(msg, Trade):
                manager.apply(msg)
                side = 1 if msg.buy_sell_indicator == "B" else -1
                row = [_time(ts), 5, msg.order_reference_number, msg.shares, msg.price, side]
                w.row(row, book, levels)
            elif isinstance(msg, CrossTrade):
                manager.apply(msg)
                w.row([_time(ts), 6, 0, msg.shares, msg.cross_price, -1], book, levels)
            elif isinstance(msg, StockTradingAction):
                manager.apply(msg)
                price = _HALT_PRICE.get(str(msg.trading_state), -1)
                w.row([_time(ts), 7, 0, 0, price, -1], book, levels)
            else:
                manager.apply(msg)
                continue
            if bbo_format is not None:
                q = book.bbo()
                key = (q.bid_price, q.bid_size, q.ask_price, q.ask_size)
                if last_bbo.get(locate) != key:
                    last_bbo[locate] = key
                    bbo_rows.append((ts, w.symbol, *key))

        result.rows = {w.symbol: w.rows for w in writers.values()}
        result.time_reversals = {w.symbol: w.back for w in writers.values() if w.back}
        result.past_midnight = {w.symbol: w.late for w in writers.values() if w.late}
        result.book_faults = fault_counts(manager.unknown_references, manager.stats)
        result.missing_symbols = sorted(wanted - set(result.rows))
        for sym in result.missing_symbols:
            near = near_misses(sym, named)
            if near:
                result.near_misses[sym] = near
        if bbo_format is not None:
            result.bbo_rows = len(bbo_rows)
            result.files.append(_write_bbo(bbo_rows, out, bbo_format, files))
    if not result.files:  # nothing written: the folder and its manifest stay as they are
        return result
    listed, result.manifest_error = _read_manifest(out)
    written = {p.name for p in result.files}
    earlier = {n: stamp for n, stamp in listed.items() if n not in written}
    result.changed = [out / n for n, stamp in earlier.items() if not _as_written(out / n, stamp)]
    for p in result.changed:
        del earlier[p.name]  # the user's now: neither removed nor listed again
    if result.missing_symbols:  # a failed export (exit 1) removes nothing, lists its files
        keep = {n: stamp for n, stamp in earlier.items() if _plain_file(out / n)}
    else:
        result.removed = _remove_earlier(out, earlier)
        keep = {}
    _write_manifest(out, keep, result.files)
    return result


def near_misses(symbol: str, names: Iterable[str]) -> list[str]:
    """The ``names`` a symbol not among them was likely meant as, best first: those that
    differ from it in case only (``aapl``: ``AAPL``), else up to three alike in letters
    (:func:`difflib.get_close_matches` of the upper-cased symbol, cutoff 0.75: ``APPL``
    gives ``AAPL``). None is taken for the symbol: ``aapl`` is not exported as ``AAPL``.

    Why: ``engine export --symbol aapl`` of a day naming AAPL ended ``not found in the
    data: aapl`` and quoted nothing. Test:
    ``test_engine_lobster.py::test_engine_lobster_a_missing_symbol_names_its_near_miss``."""
    names = sorted(set(names))
    same = [n for n in names if n.casefold() == symbol.casefold()]
    return same or difflib.get_close_matches(symbol.upper(), names, n=3, cutoff=0.75)


#: The file in ``out_dir`` listing the files an export wrote there (:func:`export`).
MANIFEST_NAME = ".tickwire-export.json"

#: The manifest's ``format`` (a manifest of another is unreadable: nothing removed).
_MANIFEST_FORMAT = "tickwire-export/2"

_SHA256 = re.compile("[0-9a-f]{64}")

#: A file as an export left it: its size in bytes and its SHA-256 (hex). Its content, not
#: its modification time, so that two exports of the same data write the same manifest.
Stamp = tuple[int, str]


def _plain_file(path: Path) -> bool:
    """True if ``path`` is a regular file (not a folder, nor a link to anything)."""
    return path.is_file() and not path.is_symlink()


def _stamp(path: Path) -> Stamp:
    with path.open("rb") as f:
        return os.fstat(f.fileno()).st_size, hashlib.file_digest(f, "sha256").hexdigest()


def _as_written(path: Path, stamp: Stamp) -> bool:
    """True if ``path`` is a regular file of the size and SHA-256 ``stamp`` recorded when
    an export wrote it, or is gone (nothing of the user's to keep)."""
    if not path.exists() and not path.is_symlink():
        return True
    return _plain_file(path) and path.stat().st_size == stamp[0] and _stamp(path) == stamp


def _read_manifest(out: Path) -> tuple[dict[str, Stamp], str | None]:
    """The files ``out``'s manifest (:data:`MANIFEST_NAME`) lists, each with its
    :data:`Stamp`, and None; or none and why it cannot be read (unreadable, not JSON,
    another format, a name that is not a file directly in ``out``: ``../x``, ``a/b``, a
    stamp that is not a size and a SHA-256). No manifest (an older version's folder, or none
    yet) lists nothing. Why: :func:`_remove_earlier` removes what it lists, and a name it
    cannot trust must remove nothing. Test:
    ``test_engine_lobster.py::test_engine_lobster_an_unreadable_manifest_removes_nothing``."""
    path = out / MANIFEST_NAME
    if not path.exists() and not path.is_symlink():
        return {}, None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return {}, f"cannot be read ({reason})"
    if not isinstance(data, dict) or data.get("format") != _MANIFEST_FORMAT:
        return {}, f"is not a manifest of {_MANIFEST_FORMAT}"
    files = data.get("files")
    if not isinstance(files, dict):
        return {}, "has no table of files"
    listed: dict[str, Stamp] = {}
    for name, stamp in files.items():
        if name in ("", ".", "..", MANIFEST_NAME):
            return {}, f"lists {name!r}, no file of an export"
        if Path(name).name != name or "/" in name or "\0" in name:
            return {}, f"lists {name!r}, not a file directly in the folder"
        if not (
            isinstance(stamp, list)
            and len(stamp) == 2
            and type(stamp[0]) is int
            and stamp[0] >= 0
            and isinstance(stamp[1], str)
            and _SHA256.fullmatch(stamp[1])
        ):
            return {}, f"gives {name!r} {stamp!r}, not its size and SHA-256"
        listed[name] = (stamp[0], stamp[1])
    return listed, None


def _write_manifest(out: Path, kept: dict[str, Stamp], written: list[Path]) -> None:
    """Write ``out``'s manifest (:data:`MANIFEST_NAME`): the ``kept`` files of an earlier
    export with their stamps, and the ``written`` ones with theirs as they are now, whole
    through :func:`tickwire.cli.atomic_path`: after the files it lists are in place, so it
    never names a file the export did not finish."""
    files = {**kept, **{p.name: _stamp(p) for p in written}}
    data = {"format": _MANIFEST_FORMAT, "files": {n: list(files[n]) for n in sorted(files)}}
    with atomic_path(out / MANIFEST_NAME) as tmp:
        tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def _remove_earlier(out: Path, earlier: dict[str, Stamp]) -> list[Path]:
    """Remove from ``out`` (not below it) the files of an earlier export that this one did
    not write (``earlier``: from its manifest, :func:`_read_manifest`) and that are as it
    left them (:func:`_as_written`); only regular files, the removed ones sorted. Any
    other file stays, whatever its name.

    Rule: a successful export leaves the folder holding one export's files, and a tool
    removes only what it wrote. Why: an export of AAPL after one of MSFT into the same
    ``--out`` left MSFT's two CSVs beside AAPL's (and ``--bbo none`` an earlier
    ``bbo.csv``), a reader of the folder taking them for this export's; removing what an
    export's names could be deleted LOBSTER's own sample files
    (``AAPL_2012-06-21_34200000_57600000_message_10.csv``) and a ``notes_message_1.csv``
    the tool never wrote; and removing what the manifest named deleted a user's file
    saved since under one of its names. Tests:
    ``test_engine_lobster.py::test_engine_lobster_an_earlier_exports_files_go``,
    ``test_engine_lobster.py::test_engine_lobster_removes_only_files_it_wrote``,
    ``test_engine_lobster.py::test_engine_lobster_an_earlier_runs_bbo_series_goes``,
    ``test_engine_lobster.py::test_engine_lobster_a_file_changed_since_its_export_stays``."""
    removed = []
    for name in sorted(earlier):
        p = out / name
        if _plain_file(p) and _as_written(p, earlier[name]):
            p.unlink()
            removed.append(p)
    return removed


def _write_bbo(
    rows: list[tuple[int, str, int | None, int, int | None, int]],
    out: Path,
    fmt: str,
    files: contextlib.ExitStack,
) -> Path:
    cols = ["timestamp_ns", "symbol", "bid_price", "bid_size", "ask_price", "ask_size"]
    if fmt == "parquet":
        import pyarrow as pa  # type: ignore[import-untyped]
        import pyarrow.parquet as pq  # type: ignore[import-untyped]

        table = pa.table(
            {name: [r[i] for r in rows] for i, name in enumerate(cols)},
            schema=pa.schema(
                [
                    ("timestamp_ns", pa.int64()),
                    ("symbol", pa.string()),
                    ("bid_price", pa.int64()),
                    ("bid_size", pa.int64()),
                    ("ask_price", pa.int64()),
                    ("ask_size", pa.int64()),
                ]
            ),
        )
        path = out / "bbo.parquet"
        pq.write_table(table, files.enter_context(atomic_path(path)))
        return path
    path = out / "bbo.csv"
    w = csv.writer(_open_whole(files, path))
    w.writerow(cols)
    for r in rows:
        w.writerow(["" if v is None else v for v in r])
    return path
