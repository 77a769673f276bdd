"""BBO and trades series of a day, from the compiled book: the ``book`` plugin of
``python -m tickwire.itch convert`` (entry point group ``tickwire.itch.series``).

tickwire-itch writes one Parquet table per message type but has no order book (it
depends on nothing else), so it looks up this plugin, registered by tickwire-engine
(:class:`BookSeries`). The algorithm: apply every message of the input (a BinaryFILE,
gzip, or a MoldUDP64 capture in sequence order) to a fresh book manager, and

* after each message that can move a book (A, F, E, C, X, D, U), compare the best bid
  and offer of the instrument whose book it changed (for one naming a feed order, the
  stock that files the order, whatever locate the message carries:
  :func:`~tickwire.engine.book.filed_locate`) with the last one written for it; a
  change is a row
  of ``bbo.parquet``: ``timestamp, stock_locate, stock, bid_price, bid_size,
  ask_price, ask_size`` (integer Price(4); an empty side is a null price and size 0);
* every print the book reports (E, printable C, P, Q, and B with price and shares 0) is
  a row of ``trades.parquet``: ``timestamp, stock_locate, stock, kind, match_number,
  price, shares, side, order_reference_number``.

Where the messages come from:

* **one pass** (``convert`` with both extensions built): tickwire.itch's column builder
  frames the input once and hands every message to the compiled book through its C sink
  (``CBookManager.itch_sink()``, a ``"tickwire.itch.sink"`` capsule; the ABI is in
  ``tickwire/itch/_fast.pyx``): no Python call per message, no second read or framing.
  :meth:`BookSeries.chunk_done` takes the rows after each input chunk;
* **own pass** (:func:`iter_tables`, :func:`book_series`, or ``convert`` without a
  compiled builder): the compiled book's own ``feed_binaryfile`` over the input (a
  capture's messages, through :class:`~tickwire.moldudp64.sequenced.SequencedCapture`,
  are framed with their lengths first), or without the compiled book
  :func:`iter_series`: each decoded message applied to
  :class:`~tickwire.engine.book.BookManager` and its BBO compared in Python, rows in
  lists of at most :data:`FLUSH_ROWS`.

With the compiled book, the rows are recorded in C (``record_bbo``: the top of the book
compared after each such message; ``record_trades``: every print) into buffers laid out
as Arrow columns and handed over as they are (``take_bbo``, ``take_trades``); the text
columns are vectorised takes (locate -> symbol, byte -> letter). All paths give the same
tables (tested, and equal to itch-book's book on a generated day).

Tables are written by :class:`tickwire.itch.convert.TableWriter` (``.part`` files renamed
at the end, removed on error; row groups of about a million rows). Needs pyarrow (the
engine's ``parquet`` extra, or ``tickwire-itch[arrow]``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Final

from tickwire.engine import cbook
from tickwire.engine.book import BBO, BookManager, TapePrint, filed_locate
from tickwire.engine.sources import is_capture, iter_binaryfile, iter_capture
from tickwire.itch import Message, StockDirectory
from tickwire.itch.convert import TableWriter
from tickwire.moldudp64.sequenced import SequencedCapture

__all__ = [
    "BBO_FIELDS",
    "BOOK_TYPES",
    "FLUSH_ROWS",
    "TRADE_FIELDS",
    "BookSeries",
    "book_series",
    "iter_capture_raw",
    "iter_series",
    "iter_tables",
]

#: Message types that can change a book's best bid or offer.
BOOK_TYPES: Final = frozenset("AFECXDU")
#: Rows held before they are written as a Parquet row group.
FLUSH_ROWS: Final = 1 << 20
BBO_FIELDS: Final = (
    "timestamp",
    "stock_locate",
    "stock",
    "bid_price",
    "bid_size",
    "ask_price",
    "ask_size",
)
TRADE_FIELDS: Final = (
    "timestamp",
    "stock_locate",
    "stock",
    "kind",
    "match_number",
    "price",
    "shares",
    "side",
    "order_reference_number",
)


def _schemas() -> dict[str, Any]:
    import pyarrow as pa

    return {
        "bbo": pa.schema(
            [
                ("timestamp", pa.uint64()),
                ("stock_locate", pa.uint16()),
                ("stock", pa.string()),
                ("bid_price", pa.uint32()),
                ("bid_size", pa.uint64()),
                ("ask_price", pa.uint32()),
                ("ask_size", pa.uint64()),
            ]
        ),
        "trades": pa.schema(
            [
                ("timestamp", pa.uint64()),
                ("stock_locate", pa.uint16()),
                ("stock", pa.string()),
                ("kind", pa.string()),
                ("match_number", pa.uint64()),
                ("price", pa.uint32()),
                ("shares", pa.uint64()),
                ("side", pa.string()),
                ("order_reference_number", pa.uint64()),
            ]
        ),
    }


def iter_capture_raw(source: str, *, session: str | None = None) -> Iterator[bytes]:
    """A capture's message bytes in sequence order (SequencedCapture, as every reader): of
    ``session``, else of the capture's one session (a second is refused, as everywhere)."""
    for event in SequencedCapture(source, session=session, one_session=session is None):
        yield from event.messages


def _messages(source: str, session: str | None) -> Iterator[Message]:
    if is_capture(source):
        return iter_capture(source, session=session)
    return iter_binaryfile(source)


def iter_series(messages: Iterator[Message]) -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
    """``("bbo" | "trades", rows)`` batches of at most about :data:`FLUSH_ROWS` rows
    (see the module docstring), from ``messages`` applied to a fresh book manager."""
    prints: list[TapePrint] = []
    backend = "cython" if cbook.AVAILABLE else "reference"
    manager: BookManager = cbook.make_book_manager(backend, on_print=prints.append)
    symbols: dict[int, str] = {}
    last: dict[int, BBO] = {}
    bbo_rows: list[tuple[Any, ...]] = []
    trade_rows: list[tuple[Any, ...]] = []
    apply, bbo = manager.apply, manager.bbo
    for msg in messages:
        t = msg.message_type
        loc = filed_locate(manager, msg) if t in BOOK_TYPES else msg.stock_locate
        apply(msg)
        if t in BOOK_TYPES:
            now = bbo(loc)
            if now != last.get(loc):
                last[loc] = now
                bbo_rows.append((msg.timestamp, loc, symbols.get(loc, ""), *now))
                if len(bbo_rows) >= FLUSH_ROWS:
                    yield "bbo", bbo_rows
                    bbo_rows = []
        elif isinstance(msg, StockDirectory):
            symbols[msg.stock_locate] = msg.stock
        if prints:
            for p in prints:
                trade_rows.append(
                    (
                        p.timestamp,
                        p.stock_locate,
                        symbols.get(p.stock_locate, ""),
                        p.kind,
                        p.match_number,
                        p.price,
                        p.shares,
                        str(p.side),
                        p.order_reference_number,
                    )
                )
            prints.clear()
            if len(trade_rows) >= FLUSH_ROWS:
                yield "trades", trade_rows
                trade_rows = []
    yield "bbo", bbo_rows
    yield "trades", trade_rows


def _rows_table(name: str, rows: list[tuple[Any, ...]]) -> Any:
    import pyarrow as pa

    sch = _schemas()[name]
    cols: list[Any] = list(zip(*rows, strict=True)) if rows else [[] for _ in sch]
    return pa.Table.from_arrays(
        [pa.array(c, type=f.type) for c, f in zip(cols, sch, strict=True)], schema=sch
    )


def _binaryfile_chunks(source: str, session: str | None = None) -> Iterator[bytes]:
    """The BinaryFILE bytes of ``source`` in chunks: the file itself (gzip opened), or a
    capture's messages (of ``session``, in sequence order) framed with their lengths."""
    if is_capture(source):
        frames: list[bytes] = []
        for msg in iter_capture_raw(source, session=session):
            frames.append(len(msg).to_bytes(2, "big"))
            frames.append(msg)
            if len(frames) >= 1 << 17:
                yield b"".join(frames)
                frames.clear()
        yield b"".join(frames)
        return
    yield from cbook.file_chunks(source)


class _Recorder:
    """The compiled book with its BBO and trades recorders on (``record_bbo``,
    ``record_trades``): rows recorded in C, handed to Arrow as they are. The symbol
    columns are a vectorised take from the locate -> symbol table, the ``kind`` and
    ``side`` columns one from a byte -> letter table."""

    def __init__(self) -> None:
        self.manager: Any = cbook.CythonBookManager()
        self.manager.record_bbo(True)
        self.manager.record_trades(True)
        self._symbols: Any = None
        self._symbols_of = -1  # the number of books the symbol table was made from

    def _symbol_table(self) -> Any:
        import pyarrow as pa

        books = self.manager.books
        if self._symbols_of != len(books):  # books are only ever added
            names = ["" for _ in range(65536)]
            for loc, book in books.items():
                names[loc] = book.symbol
            self._symbols = pa.array(names, type=pa.string())
            self._symbols_of = len(books)
        return self._symbols

    def tables(self, *, empty: bool = False) -> Iterator[tuple[str, Any]]:
        """The rows recorded since the last call, ``bbo`` then ``trades`` (a table with
        no rows only when ``empty``)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        schemas = _schemas()
        rows, cols = self.manager.take_bbo()
        if rows or empty:
            locate = _column(pa.uint16(), rows, cols["stock_locate"])
            arrays = [
                _column(pa.uint64(), rows, cols["timestamp"]),
                locate,
                pc.take(self._symbol_table(), locate),
            ]
            for side in ("bid", "ask"):
                valid = pa.py_buffer(cols[f"{side}_valid"])
                price = pa.py_buffer(cols[f"{side}_price"])
                arrays.append(pa.Array.from_buffers(pa.uint32(), rows, [valid, price]))
                arrays.append(_column(pa.uint64(), rows, cols[f"{side}_size"]))
            yield "bbo", pa.Table.from_arrays(arrays, schema=schemas["bbo"])
        rows, cols = self.manager.take_trades()
        if rows or empty:
            locate = _column(pa.uint16(), rows, cols["stock_locate"])
            kinds, sides = _letters()
            arrays = [
                _column(pa.uint64(), rows, cols["timestamp"]),
                locate,
                pc.take(self._symbol_table(), locate),
                pc.take(kinds, _column(pa.uint8(), rows, cols["kind"])),
                _column(pa.uint64(), rows, cols["match_number"]),
                _column(pa.uint32(), rows, cols["price"]),
                _column(pa.uint64(), rows, cols["shares"]),
                pc.take(sides, _column(pa.uint8(), rows, cols["side"])),
                _column(pa.uint64(), rows, cols["order_reference_number"]),
            ]
            yield "trades", pa.Table.from_arrays(arrays, schema=schemas["trades"])


def _column(kind: Any, rows: int, data: bytes) -> Any:
    import pyarrow as pa

    return pa.Array.from_buffers(kind, rows, [None, pa.py_buffer(data)])


def _letters() -> tuple[Any, Any]:
    """Byte -> one-letter string (``kind``), and the same with 0 -> "" (``side``)."""
    import pyarrow as pa

    chars = [chr(b) for b in range(256)]
    return pa.array(chars, type=pa.string()), pa.array(["", *chars[1:]], type=pa.string())


def _compiled_tables(source: str, session: str | None) -> Iterator[tuple[str, Any]]:
    """The series from the compiled book's own feed loop over ``source`` (a pass of its
    own; ``convert`` feeds the book from its own framing instead: :class:`BookSeries`)."""
    rec = _Recorder()
    chunks = _binaryfile_chunks(source, session)
    for _ in cbook.feed_chunks(rec.manager.feed_binaryfile, chunks, name=source):
        yield from rec.tables()
    yield from rec.tables(empty=True)


def iter_tables(
    source: str | os.PathLike[str], *, session: str | None = None
) -> Iterator[tuple[str, Any]]:
    """``("bbo" | "trades", pyarrow.Table)`` batches of the series of ``source`` (a
    BinaryFILE, gzip or a MoldUDP64 capture: of ``session``, else its one session): from
    the compiled book's feed loop when it is built, else from :func:`iter_series` over
    the reference book."""
    src = os.fspath(source)
    if cbook.AVAILABLE:
        yield from _compiled_tables(src, session)
        return
    for name, rows in iter_series(_messages(src, session)):
        yield name, _rows_table(name, rows)


class BookSeries:
    """The ``tickwire.itch.series`` entry point ``book``: ``bbo.parquet`` and
    ``trades.parquet`` of a conversion, written to ``outdir`` through ``.part`` files.

    With the compiled book (:attr:`one_pass` True), ``convert`` attaches the book to its
    own framer (:meth:`itch_sink`: every message the column builder frames is applied to
    the book in C, its BBO and trades recorders on) and calls :meth:`chunk_done` after
    each input chunk, which writes the rows recorded so far: one read and one framing of
    the input give the per-type tables and the series. Otherwise ``convert`` calls
    :meth:`run`, a pass of its own (:func:`iter_tables`). Then :meth:`finish`, or
    :meth:`abort` on error.
    """

    #: The files it writes in ``outdir``: ``convert --no-series`` removes an earlier
    #: run's (tickwire.itch.convert, step 4).
    FILES: ClassVar[tuple[str, ...]] = ("bbo.parquet", "trades.parquet")

    def __init__(self, outdir: str | os.PathLike[str], *, compression: str = "snappy") -> None:
        out = Path(outdir)
        self.one_pass: bool = cbook.AVAILABLE
        self._rec = _Recorder() if self.one_pass else None
        self._writers = {
            name: TableWriter(out / f"{name}.parquet", compression, schema)
            for name, schema in _schemas().items()
        }

    def _write(self, name: str, table: Any) -> None:
        self._writers[name].add(table)

    def itch_sink(self) -> object:
        """The compiled book's ``"tickwire.itch.sink"`` capsule (only when one_pass)."""
        if self._rec is None:
            raise RuntimeError(f"the compiled book is not available: {cbook.UNAVAILABLE_REASON}")
        sink: object = self._rec.manager.itch_sink()
        return sink

    def chunk_done(self) -> None:
        """Write what the recorders hold (after each chunk the framer fed the book)."""
        if self._rec is not None:
            for name, table in self._rec.tables():
                self._write(name, table)

    def run(self, source: str | os.PathLike[str], *, session: str | None = None) -> None:
        """The series of ``source`` (of its MoldUDP64 ``session`` for a capture) from a
        pass of their own (see :func:`iter_tables`)."""
        self._rec = None  # not fed by a framer: nothing to take at finish()
        for name, table in iter_tables(source, session=session):
            self._write(name, table)

    def finish(self) -> list[tuple[Path, int]]:
        """Write what is left, close, rename the ``.part`` files; ``(path, rows)`` of each."""
        if self._rec is not None:
            for name, table in self._rec.tables():
                self._write(name, table)
        for w in self._writers.values():
            w.finish()
        return [(w.final, w.rows) for w in self._writers.values()]

    def abort(self) -> None:
        """Close and remove the ``.part`` files."""
        for w in self._writers.values():
            w.abort()


def book_series(
    source: str | os.PathLike[str], outdir: str | os.PathLike[str], *, compression: str = "snappy"
) -> list[tuple[Path, int]]:
    """Write ``bbo.parquet`` and ``trades.parquet`` for ``source`` into ``outdir`` in a
    pass of their own (``convert`` uses :class:`BookSeries` in its one pass instead);
    returns ``(path, rows)`` of each."""
    writer = BookSeries(outdir, compression=compression)
    try:
        writer.run(source)
        return writer.finish()
    except BaseException:
        writer.abort()
        raise
