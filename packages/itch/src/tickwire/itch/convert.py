"""``python -m tickwire.itch convert DAY --parquet OUTDIR``: a day as Parquet, one file per
message type.

The algorithm:

1. **Sniff** the input's first four bytes, under gzip when it is gzip-compressed
   (:func:`is_capture`). A pcap or pcapng capture (``day.pcap.gz`` too) is read through
   a capture reader plugin (below); anything else is a BinaryFILE, gzip detected.
2. **Stream** :func:`tickwire.itch.columnar.iter_batches` (or
   :func:`~tickwire.itch.columnar.iter_message_batches` for a capture's messages): one
   Arrow record batch per type per input chunk, built by the compiled column builder
   (the pure one without the extension: the same tables). Batches of a type are held
   until :data:`ROW_GROUP_ROWS` rows are waiting, then written as one Parquet row group,
   so memory stays bounded whatever the size of the day.
3. **Write** each type to ``OUTDIR/<letter>_<MessageName>.parquet`` (``A_AddOrder``,
   ...; the schema of :func:`tickwire.itch.columnar.schema`, integer prices and
   timestamps) through a ``.part`` file renamed when the whole input has been read. On
   any error every ``.part`` file is removed, so a failed run leaves no half-written
   table next to good ones, and OUTDIR itself when the run created it; files of earlier
   runs for types this day lacks are removed too, so OUTDIR holds exactly this day's
   tables.
4. **Series plugins** (entry point group ``tickwire.itch.series``) add derived tables:
   tickwire-engine registers ``book``, the BBO and trades series from its compiled book
   (``--no-series`` skips them). Each entry point is a factory called with
   ``(OUTDIR, compression=...)`` that returns a :class:`SeriesWriter`. One that says
   ``one_pass`` is fed in step 2's pass: its ``itch_sink()`` capsule is attached to the
   column builder (``ColumnBuilder.attach``), which hands it every message it frames, in
   C, with no Python call per message; after each chunk its ``chunk_done()`` writes what
   it has. So the input is read and framed once for the per-type tables and the series.
   Otherwise (no compiled builder or book) it reads the input itself: ``run(source)``
   after the per-type tables. Then ``finish()`` gives its files (``abort()`` on error).
   A factory's ``FILES`` (a class attribute, the file names it writes) lets a run with
   ``--no-series`` remove those files of an earlier run, as step 3 does for the tables:
   day A's ``bbo.parquet`` beside day B's tables passed for day B's.
5. **Summary**: rows and bytes per file, messages, skipped frames, length fixups,
   seconds and the rate, on stdout (``--json`` for one JSON object); a rich progress bar
   by input bytes on stderr when it is a terminal.

Why plugins: tickwire-itch depends on nothing but construct (and tickwire-cli, its command
line's conventions), so it cannot import the
MoldUDP64 capture reader (tickwire-moldudp64) or the book (tickwire-engine). Each of
those packages registers an entry point in the group this module looks up:
``tickwire.itch.captures`` (name ``moldudp64``: a callable taking the path (and
``session=NAME`` when one was asked for) and returning an iterable of the capture's ITCH
messages in sequence order, with a ``summary()`` dict) and ``tickwire.itch.series``. Installed without them, a capture
gets a one-line error that says what to install, and no series are written.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Final, Protocol, TextIO

from tickwire.cli import named
from tickwire.cli.args import require_regular_file
from tickwire.itch import columnar
from tickwire.itch.fastpath import FrameStats
from tickwire.itch.messages import MESSAGE_CLASSES
from tickwire.itch.reader import _CAPTURE_MAGICS, _open_stream

__all__ = [
    "CAPTURE_GROUP",
    "ROW_GROUP_ROWS",
    "SERIES_GROUP",
    "CaptureMessages",
    "ConvertSummary",
    "SeriesWriter",
    "TableWriter",
    "capture_messages",
    "convert",
    "is_capture",
    "parquet_options",
    "print_summary",
    "rich_progress",
    "table_filename",
]

#: Entry point group of capture readers (tickwire-moldudp64 registers ``moldudp64``).
CAPTURE_GROUP: Final = "tickwire.itch.captures"
#: Entry point group of derived series (tickwire-engine registers ``book``).
SERIES_GROUP: Final = "tickwire.itch.series"
#: Rows of one type gathered before they are written as one Parquet row group.
ROW_GROUP_ROWS: Final = 1 << 20
#: Input bytes per step (the progress bar moves once per step).
CONVERT_CHUNK: Final = 1 << 23


class CaptureMessages(Protocol):
    """What a ``tickwire.itch.captures`` plugin returns for a capture path. A plugin may
    also have ``faults() -> str | None``: what the reading lost (packets that do not
    parse, frames cut short, sequence gaps), which :func:`capture_faults` reads."""

    def __iter__(self) -> Iterator[bytes]: ...

    def summary(self) -> dict[str, Any]: ...


def capture_faults(reader: CaptureMessages) -> str | None:
    """What ``reader`` lost, once iterated (its ``faults()``, None without one): the
    commands write their output, then end with that as one error line, exit 1 (the rule
    of every command that reads captures, ``docs/cli.md``)."""
    faults = getattr(reader, "faults", None)
    return None if faults is None else faults()


class SeriesWriter(Protocol):
    """What a ``tickwire.itch.series`` entry point returns when called with
    ``(outdir, compression=...)`` (see the module docstring, step 4)."""

    #: True when :meth:`itch_sink` can be attached to the compiled column builder.
    one_pass: bool

    def itch_sink(self) -> object:
        """A ``"tickwire.itch.sink"`` capsule (the C sink ABI of ``tickwire.itch._fast``)."""
        ...

    def chunk_done(self) -> None:
        """Called after each input chunk the sink was fed."""
        ...

    def run(self, source: str, *, session: str | None = None) -> None:
        """A pass of its own over ``source`` (when it is not fed by the builder): of the
        MoldUDP64 ``session`` of a capture (passed only when one was asked for)."""
        ...

    def finish(self) -> list[tuple[Path, int]]:
        """Close its files; ``(path, rows)`` of each."""
        ...

    def abort(self) -> None:
        """Remove what it has written."""
        ...


@dataclass
class ConvertSummary:
    """What :func:`convert` did (``convert --json`` prints it)."""

    source: str
    out: str
    kind: str
    implementation: str
    messages: int = 0
    skipped: int = 0
    length_fixups: int = 0
    seconds: float = 0.0
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    capture: dict[str, Any] | None = None
    #: What the capture's reading lost (:func:`capture_faults`), None when whole.
    capture_faults: str | None = None
    series: list[str] = field(default_factory=list)
    #: The series fed by the conversion's own framing (the others read the input again).
    one_pass: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def table_filename(message_type: str) -> str:
    """``A_AddOrder.parquet`` for ``"A"``: the type letter, then the message name."""
    return f"{message_type}_{MESSAGE_CLASSES[message_type].__name__}.parquet"


def is_capture(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` starts with a pcap or pcapng magic number, read through gzip
    when the file is gzip-compressed (``day.pcap.gz``), as the readers read it.

    tickwire-itch depends on nothing, so this is its own sniff of the magic numbers of
    :data:`tickwire.net.pcap.CAPTURE_MAGICS` (``tests/test_capture_sniffing.py`` holds the
    two to the same answers); the gzip layer is the BinaryFILE reader's.

    A path that is not a regular file (a pipe, a FIFO, a device) is refused unopened,
    ``ValueError`` (:func:`tickwire.cli.args.require_regular_file`): the sniff would take
    its first bytes from the reader that follows, or block at a FIFO with no writer."""
    require_regular_file(path)
    stream, _, owned = _open_stream(path)
    try:
        assert stream is not None  # a path always gives a stream
        head = b""
        while len(head) < 4 and (more := stream.read(4 - len(head))):
            head += more  # short reads: the sniffed bytes come back first, then the rest
    except (OSError, EOFError, zlib.error):  # a damaged gzip stream: not recognisably one
        return False
    finally:
        for f in owned:
            f.close()
    return head in _CAPTURE_MAGICS


def capture_messages(src: str, *, session: str | None = None) -> CaptureMessages:
    """The ITCH messages of the capture at ``src``, in sequence order, from the capture
    reader plugin (tickwire-moldudp64's): of ``session``, or of the capture's one session
    (the plugin refuses a second). ImportError saying what to install without it."""
    opener = _plugin(CAPTURE_GROUP, "moldudp64")
    if opener is None:
        raise ImportError(
            f"{src} is a packet capture; reading one needs tickwire-moldudp64: "
            "pip install 'tickwire-moldudp64[itch]'"
        )
    reader: CaptureMessages = opener(src) if session is None else opener(src, session=session)
    return reader


def _plugin(group: str, name: str) -> Callable[..., Any] | None:
    for ep in entry_points(group=group):
        if ep.name == name:
            loaded: Callable[..., Any] = ep.load()
            return loaded
    return None


def _series_plugins() -> list[tuple[str, Callable[..., SeriesWriter]]]:
    return sorted((ep.name, ep.load()) for ep in entry_points(group=SERIES_GROUP))


def parquet_options(schema: Any) -> dict[str, Any]:
    """The Parquet encodings of every table ``convert`` writes (its own and the series
    plugins'): dictionary encoding for the text columns and ``stock_locate`` (few
    distinct values), none for the other integers (prices, sizes and references rarely
    repeat within a page, so building a dictionary only to drop it costs CPU for
    nothing), and delta encoding for ``timestamp`` (ascending: about 2 bytes a row
    instead of 8). On the generated 2M-message day with zstd, against pyarrow's defaults:
    the per-type tables in 25% less CPU and 25% smaller, the BBO table in 13% less CPU
    and 14% smaller (bench/RESULTS.md, "ITCH to Parquet")."""
    pa = columnar.require("pyarrow")
    names = [f.name for f in schema]
    opts: dict[str, Any] = {
        "use_dictionary": [
            f.name for f in schema if pa.types.is_string(f.type) or f.name == "stock_locate"
        ]
    }
    if "timestamp" in names:
        opts["column_encoding"] = {"timestamp": "DELTA_BINARY_PACKED"}
    return opts


_WRITER_THREAD: ThreadPoolExecutor | None = None


def _writer_thread() -> ThreadPoolExecutor:
    global _WRITER_THREAD
    if _WRITER_THREAD is None:
        _WRITER_THREAD = ThreadPoolExecutor(1, thread_name_prefix="tickwire-parquet")
    return _WRITER_THREAD


class TableWriter:
    """One Parquet file written through ``FINAL.part`` (renamed by :meth:`finish`,
    removed by :meth:`abort`): batches or tables are held until :data:`ROW_GROUP_ROWS`
    rows are waiting, then written as one row group, with :func:`parquet_options`.
    ``schema`` is needed only for a file that may get no rows at all.

    Row groups are encoded and compressed on one background thread shared by every
    writer (pyarrow releases the GIL there), so a conversion's decoding goes on while
    the previous chunk's tables are compressed, as itch-book's writer thread does. A
    writer has at most two row groups in flight (memory stays bounded); an error of the
    thread is raised by the next :meth:`add` or by :meth:`finish`."""

    def __init__(self, final: Path, compression: str, schema: Any = None) -> None:
        self.final = final
        self.part = final.with_name(final.name + ".part")
        self.rows = 0
        self._schema = schema
        self._held: list[Any] = []
        self._held_rows = 0
        self._compression = compression
        self._writer: Any = None
        self._pending: list[Future[None]] = []

    def add(self, data: Any) -> None:
        """Add a record batch or a table (its rows, in order)."""
        if data.num_rows == 0:
            return
        self._held.append(data)
        self._held_rows += data.num_rows
        self.rows += data.num_rows
        if self._held_rows >= ROW_GROUP_ROWS:
            self._flush()

    def _open(self, schema: Any) -> None:
        pq = columnar.require("pyarrow.parquet")
        self._writer = pq.ParquetWriter(
            self.part, schema, compression=self._compression, **parquet_options(schema)
        )

    def _flush(self) -> None:
        if not self._held:
            return
        pa = columnar.require("pyarrow")
        batches = [
            b for d in self._held for b in (d.to_batches() if isinstance(d, pa.Table) else [d])
        ]
        table = pa.Table.from_batches(batches)
        if self._writer is None:
            self._open(table.schema)
        while len(self._pending) > 1:
            self._pending.pop(0).result()
        self._pending.append(
            _writer_thread().submit(self._writer.write_table, table, row_group_size=table.num_rows)
        )
        self._held, self._held_rows = [], 0

    def _wait(self) -> None:
        pending, self._pending = self._pending, []
        for f in pending:
            f.result()

    def finish(self) -> None:
        """Write what is held, close, rename the ``.part`` file to the final name."""
        self._flush()
        self._wait()
        if self._writer is None:
            if self._schema is None:
                raise ValueError(f"{self.final}: no rows and no schema")
            self._open(self._schema)
        self._writer.close()
        self.part.replace(self.final)

    def abort(self) -> None:
        """Close and remove the ``.part`` file."""
        with contextlib.suppress(Exception):  # the error being handled is the caller's
            self._wait()
        if self._writer is not None:
            self._writer.close()
        self.part.unlink(missing_ok=True)


def convert(
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    implementation: columnar.Implementation = "auto",
    compression: str = "snappy",
    series: bool = True,
    progress: Callable[[int, int | None], None] | None = None,
    session: str | None = None,
) -> ConvertSummary:
    """Write ``source`` (BinaryFILE, gzip, or a pcap/pcapng MoldUDP64 capture with
    tickwire-moldudp64 installed) to ``out`` as one Parquet file per message type, plus
    the installed series plugins' tables; see the module docstring. ``progress`` is
    called with (input bytes done, total or None). ``session`` reads that MoldUDP64
    session of a capture (the plugin's and the series plugins'; a ValueError for a
    BinaryFILE). Raises DecodeError (a ValueError) for input that cannot be framed,
    leaving no ``.part`` file behind."""
    columnar.require("pyarrow")
    t0 = time.perf_counter()
    src = os.fspath(source)
    outdir = Path(out)
    capture = is_capture(src)
    if session is not None and not capture:
        raise ValueError(f"session {session!r}: for a MoldUDP64 capture, not {src}, a BinaryFILE")
    impl = "pure" if not columnar._use_compiled(implementation) else "cython"
    summary = ConvertSummary(src, str(outdir), "capture" if capture else "binaryfile", impl)
    reader = capture_messages(src, session=session) if capture else None
    created = not outdir.exists()  # a folder this run made goes again if it fails
    outdir.mkdir(parents=True, exist_ok=True)
    writers: dict[str, TableWriter] = {}
    plugins: list[tuple[str, SeriesWriter]] = []
    stats = FrameStats()
    total = os.path.getsize(src)
    try:
        if series:
            for name, factory in _series_plugins():
                plugins.append((name, factory(outdir, compression=compression)))
        fed = [w for _, w in plugins if w.one_pass] if impl == "cython" else []
        sinks: list[object] = list(fed)  # the builder calls their itch_sink()
        with open(src, "rb") as raw:

            def step() -> None:
                for w in fed:
                    w.chunk_done()
                if progress is not None and reader is None:
                    progress(raw.tell(), total)

            batches: Iterable[tuple[str, Any]]
            if reader is not None:
                batches = columnar.iter_message_batches(
                    reader, implementation=implementation, stats=stats, progress=step, sinks=sinks
                )
            else:
                batches = columnar.iter_batches(
                    raw,
                    implementation=implementation,
                    stats=stats,
                    chunk_size=CONVERT_CHUNK,
                    progress=step,
                    sinks=sinks,
                )
            # An error reading or decoding the input names it (tickwire.cli.named); a
            # Parquet write's, in the loop's body, does not.
            for letter, batch in named(src, batches):
                w = writers.get(letter)
                if w is None:
                    w = writers[letter] = TableWriter(outdir / table_filename(letter), compression)
                w.add(batch)
        for w in writers.values():
            w.finish()
        for _, plugin in plugins:
            if plugin in fed:
                continue
            if session is None:
                plugin.run(src)
            else:
                plugin.run(src, session=session)
        for name, plugin in plugins:
            for path, rows in plugin.finish():
                summary.files[Path(path).name] = {"rows": rows, "bytes": Path(path).stat().st_size}
            summary.series.append(name)
            if plugin in fed:
                summary.one_pass.append(name)
    except BaseException:
        for w in writers.values():
            w.abort()
        for _, plugin in plugins:
            plugin.abort()
        if created:
            with contextlib.suppress(OSError):  # only when empty: never anything else
                outdir.rmdir()
        raise
    if progress is not None:
        progress(total, total)
    for letter in MESSAGE_CLASSES:  # tables of an earlier run this day does not have
        if letter not in writers:
            (outdir / table_filename(letter)).unlink(missing_ok=True)
    if not series:  # an earlier run's series would pass for this day's
        for _, factory in _series_plugins():
            for name in getattr(factory, "FILES", ()):
                (outdir / name).unlink(missing_ok=True)
    summary.messages = stats.messages
    summary.skipped = stats.skipped
    summary.length_fixups = stats.length_fixups
    series_files = summary.files
    summary.files = {}
    for letter in sorted(writers, key=ord):
        w = writers[letter]
        summary.files[w.final.name] = {"rows": w.rows, "bytes": w.final.stat().st_size}
    summary.files.update(series_files)  # the series after the per-type tables
    if reader is not None:
        summary.capture = reader.summary()
        summary.capture_faults = capture_faults(reader)
    summary.seconds = time.perf_counter() - t0
    return summary


def print_summary(summary: ConvertSummary, out: TextIO) -> None:
    """The human summary of ``convert``."""
    rate = summary.messages / summary.seconds if summary.seconds > 0 else 0.0
    out.write(
        f"{summary.source}: {summary.messages:,} messages in {summary.seconds:.2f} s "
        f"({rate:,.0f} msg/s, {summary.implementation}) -> {summary.out}\n"
    )
    for name, info in summary.files.items():
        out.write(f"  {name:<40} {info['rows']:>12,} rows {info['bytes']:>14,} bytes\n")
    out.write(
        f"skipped (unknown types): {summary.skipped}  length fixups: {summary.length_fixups}\n"
    )
    if summary.capture is not None:
        out.write(f"capture: {json.dumps(summary.capture, sort_keys=True)}\n")
    if not summary.series:
        out.write("series: none installed (tickwire-engine adds BBO and trades)\n")
    else:
        out.write(
            "series: "
            + ", ".join(
                f"{name} ({'same pass' if name in summary.one_pass else 'own pass'})"
                for name in summary.series
            )
            + "\n"
        )


def rich_progress(label: str) -> tuple[Callable[[int, int | None], None], Callable[[], None]]:
    """A progress bar on stderr (shown only on a terminal): ``(update, close)``; the
    bar is :class:`tickwire.cli.Progress`, which the command line uses directly."""
    from tickwire.cli import Progress

    bar = Progress(None, label)
    return bar.set, bar.close
