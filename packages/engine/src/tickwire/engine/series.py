"""BBO and trades series of a day, from the compiled book: the ``book`` plugin of
``python -m tickwire.itch convert`` (entry point group ``tickwire.itch.series``).

tickwire-itch writes one Parquet table per message type but has no order book (it
depends on nothing else), so it looks up this plugin, registered by tickwire-engine. The
algorithm: read the same input (a BinaryFILE, gzip, or a MoldUDP64 capture in sequence
order through :class:`~tickwire.moldudp64.sequenced.SequencedCapture`), apply every
message to a fresh book manager, and


* after each message that can move a book (A, F, E, C, X, D, U), compare that
  instrument's best bid and offer with the last one written for it; a change is a row
  of ``bbo.parquet``: ``timestamp, stock_locate, stock, bid_price, bid_size,
  ask_price, ask_size`` (integer Price(4); an empty side is a null price and size 0);
* every print the book reports (E, printable C, P, Q, and B with price and shares 0) is
  a row of ``trades.parquet``: ``timestamp, stock_locate, stock, kind, match_number,
  price, shares, side, order_reference_number``.

Two implementations, the same tables (tested, and equal to itch-book's book on a
generated day):

* **compiled** (:func:`_compiled_tables`, when ``tickwire.engine._cbook`` is built): the
  bytes go through ``CBookManager.feed_binaryfile`` (a capture's messages are framed with
  their lengths first); its BBO recorder (``record_bbo``) compares the top of the book in
  C after each such message and appends changed rows to C buffers laid out as Arrow
  columns, handed over after each chunk (``take_bbo``); the symbol column is a
  vectorised take from the locate -> symbol table. Prints come through ``on_print``;
* **reference** (:func:`iter_series`): each decoded message applied to
  :class:`~tickwire.engine.book.BookManager` and its BBO compared in Python, rows in
  lists of at most :data:`FLUSH_ROWS`.

Tables are written through ``.part`` files renamed at the end (removed on error). Needs
pyarrow (the engine's ``parquet`` extra, or ``tickwire-itch[arrow]``).
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from tickwire.engine import cbook
from tickwire.engine.book import BBO, BookManager, TapePrint
from tickwire.engine.sources import is_capture, iter_binaryfile, iter_capture
from tickwire.itch import DecodeError, Message, StockDirectory
from tickwire.moldudp64.sequenced import SequencedCapture

__all__ = [
    "BBO_FIELDS",
    "BOOK_TYPES",
    "FLUSH_ROWS",
    "TRADE_FIELDS",
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


def iter_capture_raw(source: str) -> Iterator[bytes]:
    """A capture's message bytes in sequence order (SequencedCapture, as every reader)."""
    for event in SequencedCapture(source):
        yield from event.messages


def _messages(source: str) -> Iterator[Message]:
    return iter_capture(source) if is_capture(source) else iter_binaryfile(source)


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
        apply(msg)
        t = msg.message_type
        if t in BOOK_TYPES:
            loc = msg.stock_locate
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


def _binaryfile_chunks(source: str) -> Iterator[bytes]:
    """The BinaryFILE bytes of ``source`` in chunks: the file itself (gzip opened), or a
    capture's messages (in sequence order) framed with their lengths."""
    if is_capture(source):
        frames: list[bytes] = []
        for msg in iter_capture_raw(source):
            frames.append(len(msg).to_bytes(2, "big"))
            frames.append(msg)
            if len(frames) >= 1 << 17:
                yield b"".join(frames)
                frames.clear()
        yield b"".join(frames)
        return
    with open(source, "rb") as raw:
        f: Any = gzip.GzipFile(fileobj=raw) if raw.read(2) == b"\x1f\x8b" else raw
        raw.seek(0)
        while chunk := f.read(cbook.CHUNK_SIZE):
            yield chunk


def _compiled_tables(source: str) -> Iterator[tuple[str, Any]]:
    """The series from the compiled book's own feed loop: the BBO rows are recorded in C
    (``CBookManager.record_bbo``) and handed to Arrow as they are; prints come through
    ``on_print`` (a few per cent of the messages)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    prints: list[TapePrint] = []
    manager: Any = cbook.make_book_manager("cython", on_print=prints.append)
    manager.record_bbo(True)
    sch = _schemas()["bbo"]
    rest = b""

    symbols: list[Any] = [None, -1]  # locate -> symbol array, and the books it was made of

    def bbo_table() -> Any:
        rows, cols = manager.take_bbo()
        if symbols[1] != len(manager.books):  # books are only ever added
            names = ["" for _ in range(65536)]
            for loc, book in manager.books.items():
                names[loc] = book.symbol
            symbols[:] = [pa.array(names, type=pa.string()), len(manager.books)]
        locate = pa.Array.from_buffers(
            pa.uint16(), rows, [None, pa.py_buffer(cols["stock_locate"])]
        )
        arrays = [
            pa.Array.from_buffers(pa.uint64(), rows, [None, pa.py_buffer(cols["timestamp"])]),
            locate,
            pc.take(symbols[0], locate),
        ]
        for side in ("bid", "ask"):
            valid = pa.py_buffer(cols[f"{side}_valid"])
            price = pa.py_buffer(cols[f"{side}_price"])
            arrays.append(pa.Array.from_buffers(pa.uint32(), rows, [valid, price]))
            arrays.append(
                pa.Array.from_buffers(pa.uint64(), rows, [None, pa.py_buffer(cols[f"{side}_size"])])
            )
        return pa.Table.from_arrays(arrays, schema=sch)

    base = 0
    try:
        for chunk in _binaryfile_chunks(source):
            data = rest + chunk if rest else chunk
            used: int = manager.feed_binaryfile(data, False)
            rest = data[used:]
            base += used
            yield "bbo", bbo_table()
            if prints:
                yield "trades", _rows_table("trades", _print_rows(prints, manager))
                prints.clear()
        if rest:
            manager.feed_binaryfile(rest, True)
    except DecodeError as exc:
        raise DecodeError(
            exc.reason, offset=base + exc.offset, message_type=exc.message_type
        ) from None
    yield "bbo", bbo_table()
    yield "trades", _rows_table("trades", _print_rows(prints, manager))


def _print_rows(prints: list[TapePrint], manager: Any) -> list[tuple[Any, ...]]:
    books = manager.books
    return [
        (
            p.timestamp,
            p.stock_locate,
            books[p.stock_locate].symbol if p.stock_locate in books else "",
            p.kind,
            p.match_number,
            p.price,
            p.shares,
            str(p.side),
            p.order_reference_number,
        )
        for p in prints
    ]


def iter_tables(source: str | os.PathLike[str]) -> Iterator[tuple[str, Any]]:
    """``("bbo" | "trades", pyarrow.Table)`` batches of the series of ``source`` (a
    BinaryFILE, gzip or a MoldUDP64 capture): from the compiled book's feed loop when it
    is built, else from :func:`iter_series` over the reference book."""
    src = os.fspath(source)
    if cbook.AVAILABLE:
        yield from _compiled_tables(src)
        return
    for name, rows in iter_series(_messages(src)):
        yield name, _rows_table(name, rows)


def book_series(
    source: str | os.PathLike[str], outdir: str | os.PathLike[str], *, compression: str = "snappy"
) -> list[tuple[Path, int]]:
    """The ``tickwire.itch.series`` entry point: write ``bbo.parquet`` and
    ``trades.parquet`` for ``source`` into ``outdir``; returns ``(path, rows)`` of each."""
    import pyarrow.parquet as pq

    schemas = _schemas()
    out = Path(outdir)
    writers: dict[str, Any] = {}
    counts = {"bbo": 0, "trades": 0}
    parts = {name: out / f"{name}.parquet.part" for name in schemas}
    try:
        for name, table in iter_tables(source):
            if name not in writers:
                writers[name] = pq.ParquetWriter(
                    parts[name], schemas[name], compression=compression
                )
            writers[name].write_table(table)
            counts[name] += table.num_rows
        for name, w in writers.items():
            w.close()
            parts[name].replace(out / f"{name}.parquet")
    except BaseException:
        for name, w in writers.items():
            w.close()
            parts[name].unlink(missing_ok=True)
        raise
    return [(out / f"{name}.parquet", counts[name]) for name in schemas]
