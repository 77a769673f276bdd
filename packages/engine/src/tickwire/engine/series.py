"""BBO and trades series of a day, from the compiled book: the ``book`` plugin of
``python -m tickwire.itch convert`` (entry point group ``tickwire.itch.series``).

tickwire-itch writes one Parquet table per message type but has no order book (it
depends on nothing else), so it looks up this plugin, registered by tickwire-engine. The
algorithm: read the same input (a BinaryFILE, gzip, or a MoldUDP64 capture in sequence
order: :mod:`tickwire.engine.sources`), apply every message to the book manager (the
compiled :class:`~tickwire.engine.cbook.CythonBookManager` when built, else the
reference :class:`~tickwire.engine.book.BookManager`; both give the same books), and

* after each message that can move a book (A, F, E, C, X, D, U), compare that
  instrument's best bid and offer with the last one written for it; a change is a row
  of ``bbo.parquet``: ``timestamp, stock_locate, stock, bid_price, bid_size,
  ask_price, ask_size`` (integer Price(4); an empty side is a null price and size 0);
* every print the book reports (E, printable C, P, Q, and B with price and shares 0) is
  a row of ``trades.parquet``: ``timestamp, stock_locate, stock, kind, match_number,
  price, shares, side, order_reference_number``.

Rows are collected in lists and written every :data:`FLUSH_ROWS` rows, through a
``.part`` file renamed at the end (removed on error). Needs pyarrow (the engine's
``parquet`` extra, or ``tickwire-itch[arrow]``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from tickwire.engine import cbook
from tickwire.engine.book import BBO, BookManager, TapePrint
from tickwire.engine.sources import is_capture, iter_binaryfile, iter_capture
from tickwire.itch import Message, StockDirectory

__all__ = ["BBO_FIELDS", "BOOK_TYPES", "FLUSH_ROWS", "TRADE_FIELDS", "book_series", "iter_series"]

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


def book_series(
    source: str | os.PathLike[str], outdir: str | os.PathLike[str], *, compression: str = "snappy"
) -> list[tuple[Path, int]]:
    """The ``tickwire.itch.series`` entry point: write ``bbo.parquet`` and
    ``trades.parquet`` for ``source`` into ``outdir``; returns ``(path, rows)`` of each."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schemas = _schemas()
    out = Path(outdir)
    writers: dict[str, Any] = {}
    counts = {"bbo": 0, "trades": 0}
    parts = {name: out / f"{name}.parquet.part" for name in schemas}
    try:
        for name, rows in iter_series(_messages(os.fspath(source))):
            sch = schemas[name]
            cols: list[Any] = list(zip(*rows, strict=True)) if rows else [[] for _ in sch]
            table = pa.Table.from_arrays(
                [pa.array(c, type=f.type) for c, f in zip(cols, sch, strict=True)], schema=sch
            )
            if name not in writers:
                writers[name] = pq.ParquetWriter(parts[name], sch, compression=compression)
            writers[name].write_table(table)
            counts[name] += len(rows)
        for name, w in writers.items():
            w.close()
            parts[name].replace(out / f"{name}.parquet")
    except BaseException:
        for name, w in writers.items():
            w.close()
            parts[name].unlink(missing_ok=True)
        raise
    return [(out / f"{name}.parquet", counts[name]) for name in schemas]
