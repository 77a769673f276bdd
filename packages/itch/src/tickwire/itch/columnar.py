"""ITCH 5.0 as columns: one Arrow table per message type, built without a Python object
per message.

The schema of every table is derived from the one wire table through
:mod:`tickwire.itch.layouts`, field for field in wire order, the type byte left out (the
table is per type): the column names are the spec's field names in snake_case (the
message classes' field names), and the column types follow the field kinds:

=========================  ==========================================================
``FieldKind``              Arrow type
=========================  ==========================================================
``U16``                    ``uint16`` (stock locate, tracking number)
``U32``                    ``uint32`` (shares, Price(4) prices: 1/10,000 dollar)
``U64``                    ``uint64`` (order reference numbers, Price(8) prices)
``TS48``                   ``uint64`` (nanoseconds since midnight, as on the wire)
``CODE`` / ``ALPHA``       ``string`` (latin-1 text, Alpha right padding stripped)
=========================  ==========================================================

So prices and timestamps stay integers, exactly as :func:`tickwire.itch.decode` gives
them, and every value equals the decoded message's (``dump --json`` prints the same).

Two implementations build the same tables:

* **compiled** (``tickwire.itch._fast.ColumnBuilder``): the Cython framer writes each
  field of each message straight into a growing C buffer laid out as the Arrow column
  wants it (host-order integers; ``int32`` offsets plus UTF-8 bytes for text). After
  every input chunk the buffers are handed to Arrow as one record batch per type
  (:func:`pyarrow.Array.from_buffers`, no conversion) and the builder starts afresh, so
  memory is bounded by the chunk size however large the day is;
* **pure** (no extension, or ``implementation="pure"``): the messages of
  :class:`tickwire.itch.reader.BinaryFileReader` are decoded one by one and their field
  values collected into lists per column, flushed every :data:`PURE_BATCH` messages.
  Slow, and the oracle: the tests check that both give equal tables.

Framing and errors are the readers' (:func:`tickwire.itch.fastpath.decode_binaryfile`):
gzip is detected by its magic bytes, a zero or wrong length prefix is fixed and counted,
an unknown type is skipped by its prefix and counted, and a truncated tail or an unknown
type with a zero prefix raises :class:`~tickwire.itch.messages.DecodeError` with the byte
offset.

Captures: this package does not read MoldUDP64 (it must not depend on
tickwire-moldudp64). :func:`messages_to_arrow` takes the message bytes from the caller,
and ``tickwire.moldudp64.columnar.capture_to_arrow`` (in tickwire-moldudp64, which has
the capture reader) feeds it a capture's messages in sequence order.

pyarrow is an optional dependency: ``pip install 'tickwire-itch[arrow]'`` (``[polars]``
and ``[pandas]`` for :func:`to_polars` and :func:`to_pandas`).
"""

from __future__ import annotations

import gzip
import importlib
import operator
import sys
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import fields
from typing import TYPE_CHECKING, Any, Final, Literal

from tickwire.itch import fastpath
from tickwire.itch.layouts import LAYOUTS, FieldKind, WireField
from tickwire.itch.messages import MESSAGE_CLASSES, Message
from tickwire.itch.reader import BinaryFileReader, Source

if TYPE_CHECKING:  # pragma: no cover - typing only
    import pandas
    import polars
    import pyarrow

__all__ = [
    "PURE_BATCH",
    "Implementation",
    "arrow_type",
    "columns",
    "iter_batches",
    "iter_message_batches",
    "messages_to_arrow",
    "require",
    "schema",
    "to_arrow",
    "to_pandas",
    "to_polars",
]

#: Which builder to use: the compiled one when it is available ("auto"), or one by name.
Implementation = Literal["auto", "cython", "pure"]

#: Messages the pure builder collects before it makes record batches of them.
PURE_BATCH: Final = 1 << 16
#: Messages :func:`iter_message_batches` adds to the compiled builder per batch.
MESSAGE_BATCH: Final = 1 << 18

_EXTRAS: Final = {"pyarrow": "arrow", "polars": "polars", "pandas": "pandas"}
_STRING_KINDS: Final = (FieldKind.CODE, FieldKind.ALPHA)


def require(module: str) -> Any:
    """Import an optional dependency (``pyarrow``, ``polars`` or ``pandas``), or raise an
    ImportError that says which extra of tickwire-itch installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        extra = _EXTRAS.get(module, module)
        raise ImportError(
            f"{module} is not installed: pip install 'tickwire-itch[{extra}]'"
        ) from None


def columns(message_type: str) -> tuple[WireField, ...]:
    """The fields that are columns of ``message_type``'s table: its layout without the
    type byte, in wire order (ValueError for an unknown letter)."""
    if message_type not in LAYOUTS:
        raise ValueError(f"not an ITCH 5.0 message type: {message_type!r}")
    return tuple(f for f in LAYOUTS[message_type] if f.kind is not FieldKind.TYPE)


def arrow_type(kind: FieldKind) -> pyarrow.DataType:
    """The Arrow type of a field kind (see the table in the module docstring)."""
    pa = require("pyarrow")
    types = {
        FieldKind.U16: pa.uint16(),
        FieldKind.U32: pa.uint32(),
        FieldKind.U64: pa.uint64(),
        FieldKind.TS48: pa.uint64(),
        FieldKind.CODE: pa.string(),
        FieldKind.ALPHA: pa.string(),
    }
    if kind not in types:
        raise ValueError(f"{kind!r} is not a column kind")
    return types[kind]


def schema(message_type: str) -> pyarrow.Schema:
    """The Arrow schema of ``message_type``'s table, from :mod:`tickwire.itch.layouts`;
    its metadata names the message type and its class."""
    pa = require("pyarrow")
    cols = columns(message_type)
    return pa.schema(
        [pa.field(f.name, arrow_type(f.kind), nullable=False) for f in cols],
        metadata={
            "itch_message_type": message_type,
            "itch_message_name": MESSAGE_CLASSES[message_type].__name__,
        },
    )


def _use_compiled(implementation: Implementation) -> bool:
    if implementation == "pure":
        return False
    compiled = fastpath.COMPILED is not None and sys.byteorder == "little"
    if implementation == "cython" and not compiled:
        reason = fastpath.UNAVAILABLE_REASON or "Arrow buffers are little-endian"
        raise RuntimeError(f"the compiled column builder is not available: {reason}")
    return compiled


# --------------------------------------------------------------------------------------
# The compiled builder: its buffers become Arrow arrays as they are
# --------------------------------------------------------------------------------------


def _compiled_batches(built: dict[int, tuple[int, list[Any]]]) -> Iterator[tuple[str, Any]]:
    pa = require("pyarrow")
    for t, (rows, cols) in built.items():
        letter = chr(t)
        sch = schema(letter)
        arrays = []
        for f, col in zip(columns(letter), cols, strict=True):
            if f.kind in _STRING_KINDS:
                offsets, data = col
                bufs = [None, pa.py_buffer(offsets), pa.py_buffer(data)]
            else:
                bufs = [None, pa.py_buffer(col)]
            arrays.append(pa.Array.from_buffers(arrow_type(f.kind), rows, bufs))
        yield letter, pa.RecordBatch.from_arrays(arrays, schema=sch)


def _builder(sinks: Sequence[object]) -> Any:
    ext = fastpath._ext
    assert ext is not None
    builder = ext.ColumnBuilder()
    for sink in sinks:
        builder.attach(sink)
    return builder


def _iter_compiled_file(
    source: Source,
    stats: fastpath.FrameStats | None,
    chunk_size: int,
    progress: Callable[[], None] | None,
    sinks: Sequence[object],
) -> Iterator[tuple[str, Any]]:
    builder = _builder(sinks)

    def feed(buf: Any, start: int, limit: int) -> tuple[dict[int, Any], int, bool]:
        stop, blocked = builder.feed(buf, start, limit)
        return builder.take(), stop, blocked

    for built in fastpath._frame_chunks(builder, feed, source, stats, chunk_size):
        yield from _compiled_batches(built)
        if progress is not None:
            progress()


# --------------------------------------------------------------------------------------
# The pure builder: decoded messages, their values in lists
# --------------------------------------------------------------------------------------


class _PureBuilder:
    """Collects decoded messages' field values per type (the compiled builder's oracle)."""

    def __init__(self) -> None:
        self.rows: dict[str, list[tuple[Any, ...]]] = {}
        self.pending = 0
        self._getters = {
            t: operator.attrgetter(*(f.name for f in fields(cls)))
            for t, cls in MESSAGE_CLASSES.items()
        }

    def add(self, msg: Message) -> None:
        t = msg.message_type
        rows = self.rows.get(t)
        if rows is None:
            rows = self.rows[t] = []
        rows.append(self._getters[t](msg))
        self.pending += 1

    def take(self) -> Iterator[tuple[str, Any]]:
        pa = require("pyarrow")
        rows_by_type, self.rows, self.pending = self.rows, {}, 0
        for letter in sorted(rows_by_type, key=ord):
            sch = schema(letter)
            cols = list(zip(*rows_by_type[letter], strict=True))
            arrays = []
            for f, values in zip(columns(letter), cols, strict=True):
                if f.kind in _STRING_KINDS:
                    values = tuple(str(v) for v in values)  # StrEnum members as text
                arrays.append(pa.array(values, type=arrow_type(f.kind)))
            yield letter, pa.RecordBatch.from_arrays(arrays, schema=sch)


def _iter_pure_file(
    source: Source,
    stats: fastpath.FrameStats | None,
    chunk_size: int,
    progress: Callable[[], None] | None,
) -> Iterator[tuple[str, Any]]:
    builder = _PureBuilder()
    reader = BinaryFileReader(source, chunk_size=chunk_size)
    try:
        for msg in reader:
            builder.add(msg)
            if builder.pending >= PURE_BATCH:
                yield from builder.take()
                if progress is not None:
                    progress()
        yield from builder.take()
        if progress is not None:
            progress()
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise fastpath._gzip_error(exc) from exc
    finally:
        if stats is not None:
            stats.messages = reader.stats.messages
            stats.skipped = reader.stats.skipped
            stats.length_fixups = reader.stats.length_fixups
            stats.by_type = reader.stats.by_type
        reader.close()


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


def iter_batches(
    source: Source,
    *,
    implementation: Implementation = "auto",
    stats: fastpath.FrameStats | None = None,
    chunk_size: int = fastpath.CHUNK_SIZE,
    progress: Callable[[], None] | None = None,
    sinks: Sequence[object] = (),
) -> Iterator[tuple[str, pyarrow.RecordBatch]]:
    """``(type letter, record batch)`` pairs for every message of a BinaryFILE, in input
    chunks of ``chunk_size`` bytes (gzip detected; same framing rules and errors as
    :func:`tickwire.itch.fastpath.decode_binaryfile`). Each batch has :func:`schema`'s
    schema; concatenating a type's batches gives its table. ``progress`` is called after
    each chunk (e.g. to show how far a file object's ``tell()`` is); ``stats`` is filled
    with the counts when the iteration ends.

    ``sinks`` (compiled builder only, ValueError otherwise) are C message sinks the
    builder feeds every message it frames, in C (``ColumnBuilder.attach``: an object
    whose ``itch_sink()`` gives a ``"tickwire.itch.sink"`` capsule, e.g.
    tickwire-engine's compiled book); each chunk's messages have reached them when
    ``progress`` is called."""
    require("pyarrow")
    size = max(64, chunk_size)
    if _use_compiled(implementation):
        return _iter_compiled_file(source, stats, size, progress, sinks)
    _no_sinks(sinks)
    return _iter_pure_file(source, stats, size, progress)


def _no_sinks(sinks: Sequence[object]) -> None:
    if sinks:
        raise ValueError("message sinks need the compiled column builder")


def iter_message_batches(
    messages: Iterable[bytes | bytearray | memoryview],
    *,
    implementation: Implementation = "auto",
    stats: fastpath.FrameStats | None = None,
    progress: Callable[[], None] | None = None,
    sinks: Sequence[object] = (),
) -> Iterator[tuple[str, pyarrow.RecordBatch]]:
    """Like :func:`iter_batches`, for messages the caller has framed already (each one
    from its type byte, e.g. a MoldUDP64 packet's messages; ``progress`` is called after
    each batch of them). An unknown type is skipped and counted; an empty or truncated
    message raises DecodeError."""
    require("pyarrow")
    if _use_compiled(implementation):
        return _iter_compiled_messages(messages, stats, progress, sinks)
    _no_sinks(sinks)
    return _iter_pure_messages(messages, stats, progress)


def _iter_compiled_messages(
    messages: Iterable[bytes | bytearray | memoryview],
    stats: fastpath.FrameStats | None,
    progress: Callable[[], None] | None,
    sinks: Sequence[object],
) -> Iterator[tuple[str, Any]]:
    builder = _builder(sinks)
    batch: list[bytes | bytearray | memoryview] = []
    try:
        for m in messages:
            batch.append(m)
            if len(batch) >= MESSAGE_BATCH:
                builder.add(batch)
                batch = []
                yield from _compiled_batches(builder.take())
                if progress is not None:
                    progress()
        builder.add(batch)
        yield from _compiled_batches(builder.take())
        if progress is not None:
            progress()
    finally:
        if stats is not None:
            stats.messages = builder.messages
            stats.skipped = builder.skipped
            stats.by_type = builder.by_type


def _iter_pure_messages(
    messages: Iterable[bytes | bytearray | memoryview],
    stats: fastpath.FrameStats | None,
    progress: Callable[[], None] | None,
) -> Iterator[tuple[str, Any]]:
    builder = _PureBuilder()
    counts: dict[str, int] = {}
    skipped = 0
    try:
        for m in messages:
            if len(m) and chr(m[0]) not in MESSAGE_CLASSES:
                skipped += 1
                continue
            msg = fastpath.PURE.decode(m)
            counts[msg.message_type] = counts.get(msg.message_type, 0) + 1
            builder.add(msg)
            if builder.pending >= PURE_BATCH:
                yield from builder.take()
                if progress is not None:
                    progress()
        yield from builder.take()
        if progress is not None:
            progress()
    finally:
        if stats is not None:
            stats.messages = sum(counts.values())
            stats.skipped = skipped
            stats.by_type = {t: counts[t] for t in sorted(counts, key=ord)}


def _tables(batches: Iterable[tuple[str, Any]]) -> dict[str, pyarrow.Table]:
    pa = require("pyarrow")
    by_type: dict[str, list[Any]] = {}
    for letter, batch in batches:
        by_type.setdefault(letter, []).append(batch)
    return {
        t: pa.Table.from_batches(by_type[t], schema=schema(t)) for t in sorted(by_type, key=ord)
    }


def to_arrow(
    source: Source,
    *,
    implementation: Implementation = "auto",
    stats: fastpath.FrameStats | None = None,
) -> dict[str, pyarrow.Table]:
    """Every message of a BinaryFILE (path, file object or bytes; gzip detected) as one
    Arrow table per message type present, keyed by type letter in byte order. See the
    module docstring for the schema; :func:`iter_batches` streams instead."""
    return _tables(iter_batches(source, implementation=implementation, stats=stats))


def messages_to_arrow(
    messages: Iterable[bytes | bytearray | memoryview],
    *,
    implementation: Implementation = "auto",
    stats: fastpath.FrameStats | None = None,
) -> dict[str, pyarrow.Table]:
    """:func:`to_arrow` for messages already framed by the caller (a capture's)."""
    return _tables(iter_message_batches(messages, implementation=implementation, stats=stats))


def to_polars(
    source: Source, *, implementation: Implementation = "auto"
) -> dict[str, polars.DataFrame]:
    """:func:`to_arrow` as polars DataFrames (zero copy from the Arrow tables)."""
    pl = require("polars")
    tables = to_arrow(source, implementation=implementation)
    return {t: pl.from_arrow(table) for t, table in tables.items()}  # type: ignore[misc]


def to_pandas(
    source: Source, *, implementation: Implementation = "auto"
) -> dict[str, pandas.DataFrame]:
    """:func:`to_arrow` as pandas DataFrames (integer columns stay unsigned integers)."""
    require("pandas")
    tables = to_arrow(source, implementation=implementation)
    return {t: table.to_pandas() for t, table in tables.items()}
