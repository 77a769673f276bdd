"""A backtest's records on disk while it runs: orders, fills, the PnL series, the marks and
the latency samples, so that its memory does not grow with the length of the day.

Everything a report counts grows with the day: a row per order and per fill, a PnL point
per fill and per ``pnl_sample_every`` messages, a latency sample per order sent and
answered and (``measure``) per strategy callback. A :class:`Spill` keeps them in
unnamed temporary files (:func:`tempfile.TemporaryFile`: in ``$TMPDIR``, else ``/tmp``,
unlinked at once, so nothing is left behind however the process ends) and the report
reads them back as streams at the end. The rule:

* **Tables** (:class:`SpilledTable`): each row is one fixed-size binary record packed with
  :mod:`struct` from its columns' kinds (``i`` int64, ``u`` uint64, ``s`` a string, as the
  index of the spill's string table: the distinct strings of a day are few, symbols,
  sides, states, reasons, causes; ``?`` after a kind: nullable, one bit of the record's
  leading mask byte, whose top bit marks a written record). Rows are appended to a buffer
  of :data:`BATCH` records, written to the file when it is full: memory holds one batch per
  table, and a table's file is opened only when its first batch is written (a run whose
  records fit a batch per table holds no file, and no file descriptor). :meth:`SpilledTable.put` writes a row at its index instead (the orders table: a
  row is written when the order can change no more, in any order, and read back in
  UserRefNum order).
* **Samples** (:class:`SpilledInts`): int64s in arrival order, an ``array('q')`` buffer of
  :data:`BATCH` values written when full (an append costs what a list append does).
  Their nearest-rank percentiles are exact and read no more than a batch at a time: each
  batch is sorted into a run of a second file, which is memory-mapped, and the value of
  rank ``k`` is the smallest ``x`` with ``count(values <= x) >= k``, found by bisection
  on ``x`` (at most 64 steps), each count a bisection in every run
  (:meth:`SpilledInts.sorted_view`, given to :func:`tickwire.net.stats.percentiles` with
  ``ordered=True``: the one definition of the percentiles).
* **Lines** (:class:`SpilledLines`): the strategy's ``ctx.log`` lines, free text, so not
  interned: their UTF-8 bytes appended to a file in batches of :data:`BATCH` lines, each
  line's end offset a :class:`SpilledInts` sample; line ``i`` is the bytes between the
  ends of lines ``i - 1`` and ``i``.

Both are read-only :class:`~collections.abc.Sequence` views once written (``len``,
iteration in order, indexing, slices, ``==`` with any sequence), so a
:class:`~tickwire.engine.backtest.runner.BacktestResult` reads as it did with lists.

The files are closed, which frees their space, by :meth:`Spill.close`
(``BacktestResult.close()``, or leaving its ``with`` block), when the spill is garbage
collected, at interpreter exit, by the runner on an error, and by the kernel when the
process ends in any other way; reading a closed spill raises :class:`SpillClosed`. Test:
``test_engine_backtest_spill.py``.
"""

from __future__ import annotations

import bisect
import mmap
import os
import struct
import tempfile
import weakref
from array import array
from collections.abc import Callable, Iterator, Sequence
from itertools import groupby, pairwise
from typing import IO, Any, Generic, TypeVar, overload

from tickwire.net.stats import Percentiles, percentiles

__all__ = [
    "BATCH",
    "Spill",
    "SpillClosed",
    "SpilledInts",
    "SpilledLines",
    "SpilledTable",
    "percentiles_of",
]

#: Records held in memory per table before they are written (a batch is read back whole).
BATCH = 1 << 14

T = TypeVar("T")

_KINDS = {"i": "q", "u": "Q", "s": "I"}
_PRESENT = 0x80


class SpillClosed(RuntimeError):
    """The records were on disk and have been removed (the result was closed)."""


def _cleanup(files: list[IO[bytes]], maps: list[tuple[memoryview, mmap.mmap]]) -> None:
    for view, mapped in maps:
        view.release()
        mapped.close()
    for f in files:
        f.close()


class Spill:
    """A run's tables and samples in unnamed temporary files of ``directory`` (default:
    the system's temporary directory; see the module docs)."""

    def __init__(self, directory: str | os.PathLike[str] | None = None, batch: int | None = None):
        self.batch = max(1, BATCH if batch is None else batch)
        self.path = os.fspath(directory) if directory is not None else tempfile.gettempdir()
        self._files: list[IO[bytes]] = []
        self._maps: list[tuple[memoryview, mmap.mmap]] = []
        self._finalize = weakref.finalize(self, _cleanup, self._files, self._maps)
        self.strings: list[str] = []
        self._index: dict[str, int] = {}

    @property
    def closed(self) -> bool:
        return not self._finalize.alive

    def close(self) -> None:
        """Close the files, freeing their space (idempotent); the views read no more."""
        self._finalize()

    def open(self, name: str) -> IO[bytes]:
        """A new unnamed file for ``name``, read and written unbuffered."""
        if self.closed:
            raise SpillClosed(f"backtest records ({name}) were removed")
        f = tempfile.TemporaryFile(  # noqa: SIM115 - closed by close(), or with the spill
            prefix=f"tickwire-backtest-{name}-", dir=self.path, buffering=0
        )
        self._files.append(f)
        return f

    def intern(self, s: str) -> int:
        i = self._index.get(s)
        if i is None:
            i = self._index[s] = len(self.strings)
            self.strings.append(s)
        return i

    def table(self, name: str, columns: str, make: Callable[..., T]) -> SpilledTable[T]:
        """A table of rows with ``columns`` (kinds, e.g. ``"iss?u"``), read back as
        ``make(*row)``."""
        return SpilledTable(self, name, columns, make)

    def ints(self, name: str) -> SpilledInts:
        return SpilledInts(self, name)

    def lines(self, name: str) -> SpilledLines:
        return SpilledLines(self, name)


class _View(Sequence[T]):
    """Equality and repr of a spilled sequence, as for a list of its items."""

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str | bytes):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {len(self):,} on disk>"

    #: What an index out of range is called in its error.
    _what = "spilled records"

    def _item(self, i: int) -> T:
        """The item at ``i`` (``0 <= i < len``)."""
        raise NotImplementedError

    def _slice(self, start: int, stop: int) -> list[T]:
        """The items ``start:stop`` (``0 <= start <= stop <= len``)."""
        raise NotImplementedError

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> list[T]: ...
    def __getitem__(self, index: int | slice) -> T | list[T]:
        n = len(self)
        if isinstance(index, slice):
            start, stop, step = index.indices(n)
            if step != 1:
                return list(self)[index]
            return self._slice(start, max(start, stop))
        i = index + n if index < 0 else index
        if not 0 <= i < n:
            raise IndexError(f"{self._what} index out of range")
        return self._item(i)


class SpilledTable(_View[T], Generic[T]):
    """Fixed-size records of one table (see the module docs)."""

    def __init__(self, spill: Spill, name: str, columns: str, make: Callable[..., T]) -> None:
        self._spill = spill
        self._make = make
        kinds: list[tuple[str, bool]] = []
        for c in columns:
            if c == "?":
                kinds[-1] = (kinds[-1][0], True)
            elif c in _KINDS:
                kinds.append((c, False))
            else:
                raise ValueError(
                    f"column kind must be one of i, u, s (then ? if nullable), got {c!r}"
                )
        # (kind, null bit or 0): the nullable columns' bits in the mask byte, from 1
        nulls = [n for n, (_, nullable) in enumerate(kinds) if nullable]
        if len(nulls) > 7:
            raise ValueError("at most 7 nullable columns")
        self._kinds = tuple(
            (kind, 1 << nulls.index(n) if nullable else 0)
            for n, (kind, nullable) in enumerate(kinds)
        )
        self._strs = tuple(n for n, (kind, _) in enumerate(kinds) if kind == "s")
        self._nulls = tuple((n, null) for n, (_, null) in enumerate(self._kinds) if null)
        self._direct = not self._strs and not self._nulls
        self._struct = struct.Struct("<B" + "".join(_KINDS[k] for k, _ in kinds))
        self.size = self._struct.size
        self._name = name
        self._file: IO[bytes] | None = None  # opened at the first batch written
        self._buffer = bytearray()
        self._buffered = 0
        self._written = 0  # records in the file (append mode)
        self._slots: dict[int, bytes] = {}  # put(): records not written yet
        self._len = 0

    # -- writing ----------------------------------------------------------------------------
    def _encode(self, row: Sequence[Any]) -> bytes:
        if self._direct:  # ints only, none nullable: the row as it is (the PnL series)
            try:
                return self._struct.pack(_PRESENT, *row)
            except struct.error:
                self._bad(row, list(row))
                raise
        values = list(row)
        index = self._spill._index
        for n in self._strs:
            v = values[n]
            if v is not None:
                i = index.get(v)
                values[n] = self._spill.intern(v) if i is None else i
        mask = _PRESENT
        for n, null in self._nulls:
            if values[n] is None:
                mask |= null
                values[n] = 0
        try:
            return self._struct.pack(mask, *values)
        except struct.error:
            self._bad(row, values)
            raise

    def _bad(self, row: Sequence[Any], values: list[Any]) -> None:
        """Raise the ValueError that names what is wrong with ``row`` (``values``: as it
        was to be packed), if it is one of the two mistakes a caller makes."""
        if len(values) != len(self._kinds):
            raise ValueError(f"{len(self._kinds)} columns, got {len(row)}: {row!r}") from None
        if None in values:
            raise ValueError(f"None in a column that is not nullable: {row!r}") from None

    def append(self, row: Sequence[Any]) -> None:
        """Add ``row`` (a value per column, None for a null) at the end."""
        self._buffer += self._encode(row)
        self._buffered += 1
        self._len += 1
        if self._buffered >= self._spill.batch:
            self.flush()

    def put(self, index: int, row: Sequence[Any]) -> None:
        """Write ``row`` at ``index`` (the table's length becomes at least ``index + 1``;
        indices never put read as absent and are skipped). Held until a batch of rows is
        put, then written a run of consecutive indices at a time (:meth:`flush`)."""
        slots = self._slots
        slots[index] = self._encode(row)
        if index >= self._len:
            self._len = index + 1
        if len(slots) >= self._spill.batch:
            self.flush()

    def _fd(self) -> int:
        if self._file is None:
            self._file = self._spill.open(self._name)
        return self._file.fileno()

    def flush(self) -> None:
        """Write what is buffered to the file (opening it: a table that never filled a
        batch and is only read needs no file)."""
        if self._spill.closed:
            raise SpillClosed("backtest records were removed (the result was closed)")
        if not self._buffered and not self._slots:
            return
        fd = self._fd()
        if self._buffered:
            os.pwrite(fd, self._buffer, self._written * self.size)
            self._written += self._buffered
            self._buffer.clear()
            self._buffered = 0
        if self._slots:
            # A run of consecutive indices in one write: the orders finish nearly in
            # UserRefNum order, so a batch is a few runs, not a write per record (the
            # s18 workload a: 1.5% of the run in pwrite). Test:
            # test_put_rows_in_any_order_read_back_by_index.
            slots = self._slots
            for _, run in groupby(enumerate(sorted(slots)), lambda k: k[1] - k[0]):
                indices = [index for _, index in run]
                os.pwrite(fd, b"".join([slots[i] for i in indices]), indices[0] * self.size)
            slots.clear()

    # -- reading ----------------------------------------------------------------------------
    def _decode(self, record: tuple[Any, ...]) -> T | None:
        mask = record[0]
        if not mask & _PRESENT:
            return None
        strings = self._spill.strings
        values = [
            None if mask & null else (strings[v] if kind == "s" else v)
            for (kind, null), v in zip(self._kinds, record[1:], strict=True)
        ]
        return self._make(*values)

    def _read(self, start: int, stop: int) -> Iterator[T | None]:
        if self._spill.closed:
            raise SpillClosed("backtest records were removed (the result was closed)")
        size = self.size
        if self._file is None and not (self._buffered and self._slots):  # all in memory
            if self._buffered:
                for record in self._struct.iter_unpack(self._buffer[start * size : stop * size]):
                    yield self._decode(record)
            else:
                absent = bytes(size)
                for i in range(start, stop):
                    record = self._struct.unpack(self._slots.get(i, absent))
                    yield self._decode(record)
            return
        self.flush()
        fd = self._fd()
        step = self._spill.batch
        for lo in range(start, stop, step):
            n = min(step, stop - lo)
            data = os.pread(fd, n * self.size, lo * self.size)
            data += bytes(n * self.size - len(data))  # a hole past the file's end: absent
            for record in self._struct.iter_unpack(data):
                yield self._decode(record)

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[T]:
        for item in self._read(0, self._len):
            if item is not None:
                yield item

    _what = "spilled table"

    def _slice(self, start: int, stop: int) -> list[T]:
        return [x for x in self._read(start, stop) if x is not None]

    def _item(self, i: int) -> T:
        item = next(self._read(i, i + 1))
        if item is None:
            raise IndexError(f"no row at {i}")
        return item


class _SortedRuns(Sequence[int]):
    """The values of a :class:`SpilledInts` in ascending order, read at a rank by
    bisection over sorted, memory-mapped runs (see the module docs)."""

    def __init__(self, runs: memoryview, bounds: list[tuple[int, int]], n: int) -> None:
        self._runs = runs
        self._bounds = bounds
        self._n = n
        self._lo = min(runs[a] for a, _ in bounds)
        self._hi = max(runs[b - 1] for _, b in bounds)
        self._cache: dict[int, int] = {}

    def __len__(self) -> int:
        return self._n

    def _count_le(self, x: int) -> int:
        runs = self._runs
        return sum(bisect.bisect_right(runs, x, a, b) - a for a, b in self._bounds)

    @overload
    def __getitem__(self, index: int) -> int: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[int]: ...
    def __getitem__(self, index: int | slice) -> int | Sequence[int]:
        if isinstance(index, slice):
            raise TypeError("a sorted view of spilled samples is read one rank at a time")
        k = index + self._n if index < 0 else index
        if not 0 <= k < self._n:
            raise IndexError("rank out of range")
        hit = self._cache.get(k)
        if hit is not None:
            return hit
        lo, hi = self._lo, self._hi
        while lo < hi:  # the smallest x with count(<= x) > k is the value of rank k (0-based)
            mid = (lo + hi) // 2
            if self._count_le(mid) > k:
                hi = mid
            else:
                lo = mid + 1
        self._cache[k] = lo
        return lo


class _Append:
    """An unnamed file of a spill written at its end, opened at its first write."""

    def __init__(self, spill: Spill, name: str) -> None:
        self._spill = spill
        self._name = name
        self._file: IO[bytes] | None = None
        self.size = 0  # bytes written

    def write(self, data: bytes | bytearray) -> None:
        if self._spill.closed:
            raise SpillClosed("backtest records were removed (the result was closed)")
        if self._file is None:
            self._file = self._spill.open(self._name)
        os.pwrite(self._file.fileno(), data, self.size)
        self.size += len(data)

    def read(self, offset: int, n: int) -> bytes:
        """``n`` bytes from ``offset`` (within what was written)."""
        if self._spill.closed:
            raise SpillClosed("backtest records were removed (the result was closed)")
        if not n:
            return b""
        assert self._file is not None  # something was written
        return os.pread(self._file.fileno(), n, offset)


class SpilledInts(_View[int]):
    """int64 samples in arrival order (see the module docs)."""

    def __init__(self, spill: Spill, name: str) -> None:
        self._spill = spill
        self._name = name
        self._out = _Append(spill, name)
        self._buffer = array("q")
        self._written = 0  # samples in the file
        self._sorted: _SortedRuns | None = None

    def append(self, value: int) -> None:
        buf = self._buffer
        buf.append(value)
        if len(buf) >= self._spill.batch:
            self.flush()

    def flush(self) -> None:
        if self._spill.closed:
            raise SpillClosed("backtest records were removed (the result was closed)")
        if self._buffer:
            self._out.write(self._buffer.tobytes())
            self._written += len(self._buffer)
            self._buffer = array("q")
            self._sorted = None

    def __len__(self) -> int:
        return self._written + len(self._buffer)

    def _chunks(self) -> Iterator[array[int]]:
        step = self._spill.batch
        for lo in range(0, self._written, step):
            chunk = array("q")
            chunk.frombytes(self._out.read(lo * 8, min(step, self._written - lo) * 8))
            yield chunk
        if self._buffer:
            yield self._buffer

    def __iter__(self) -> Iterator[int]:
        if self._spill.closed:
            raise SpillClosed("backtest records were removed (the result was closed)")
        for chunk in self._chunks():
            yield from chunk

    _what = "spilled samples"

    def _slice(self, start: int, stop: int) -> list[int]:
        return self._range(start, stop).tolist()

    def _item(self, i: int) -> int:
        if i >= self._written:
            return self._buffer[i - self._written]
        return int.from_bytes(self._out.read(i * 8, 8), "little", signed=True)

    def _range(self, start: int, stop: int) -> array[int]:
        """Samples ``start:stop`` (``0 <= start <= stop <= len``), read at their offsets."""
        out = array("q")
        if start < self._written:
            out.frombytes(self._out.read(start * 8, (min(stop, self._written) - start) * 8))
        if stop > self._written:
            out.extend(self._buffer[max(0, start - self._written) : stop - self._written])
        return out

    def sorted_view(self) -> Sequence[int]:
        """The samples in ascending order, for :func:`~tickwire.net.stats.percentiles`
        with ``ordered=True``: a sorted list when they fit one batch, else a view over
        sorted runs on disk (written once, then reused until more samples come)."""
        if self._written == 0:
            return sorted(self._buffer)
        self.flush()
        if self._sorted is None:
            runs = self._spill.open(f"{self._name}.runs")
            bounds = []
            for chunk in self._chunks():
                start = runs.tell() // 8
                runs.write(array("q", sorted(chunk)).tobytes())
                bounds.append((start, start + len(chunk)))
            mapped = mmap.mmap(runs.fileno(), 0, access=mmap.ACCESS_READ)
            view = memoryview(mapped).cast("q")
            self._spill._maps.append((view, mapped))
            self._sorted = _SortedRuns(view, bounds, self._written)
        return self._sorted


def percentiles_of(values: Sequence[int] | Sequence[float]) -> Percentiles:
    """:func:`tickwire.net.stats.percentiles` of a list or of :class:`SpilledInts` (read
    at the ranks, never loaded whole)."""
    if isinstance(values, SpilledInts):
        return percentiles(values.sorted_view(), ordered=True)
    return percentiles(values)


class SpilledLines(_View[str]):
    """Lines of text in arrival order (see the module docs)."""

    def __init__(self, spill: Spill, name: str) -> None:
        self._spill = spill
        self._out = _Append(spill, name)
        self._ends = SpilledInts(spill, f"{name}.ends")  # each line's end offset
        self._buffer = bytearray()
        self._buffered = 0

    def append(self, line: str) -> None:
        self._buffer += line.encode()
        self._ends.append(self._out.size + len(self._buffer))
        self._buffered += 1
        if self._buffered >= self._spill.batch:
            self.flush()

    def flush(self) -> None:
        if self._spill.closed:
            raise SpillClosed("backtest records were removed (the result was closed)")
        if self._buffer:
            self._out.write(self._buffer)
            self._buffer.clear()
        self._buffered = 0

    def __len__(self) -> int:
        return len(self._ends)

    def _bytes(self, start: int, stop: int) -> bytes:
        """The bytes at offsets ``start:stop`` of the file and then the buffer."""
        written = self._out.size
        out = self._out.read(start, min(stop, written) - start) if start < written else b""
        if stop > written:
            out += self._buffer[max(0, start - written) : stop - written]
        return out

    def _read(self, start: int, stop: int) -> Iterator[str]:
        if self._spill.closed:
            raise SpillClosed("backtest records were removed (the result was closed)")
        step = self._spill.batch
        ends = self._ends
        for lo in range(start, stop, step):
            hi = min(stop, lo + step)
            first = ends[lo - 1] if lo else 0
            offsets = [first, *ends._range(lo, hi)]
            data = self._bytes(first, offsets[-1])
            for a, b in pairwise(offsets):
                yield data[a - first : b - first].decode()

    def __iter__(self) -> Iterator[str]:
        return self._read(0, len(self))

    _what = "spilled lines"

    def _slice(self, start: int, stop: int) -> list[str]:
        return list(self._read(start, stop))

    def _item(self, i: int) -> str:
        return next(self._read(i, i + 1))
