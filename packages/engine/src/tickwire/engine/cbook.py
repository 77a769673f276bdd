"""The compiled full-depth book (``tickwire.engine._cbook``) and the choice of book backend.

:class:`CythonBookManager` has the API of the reference
:class:`tickwire.engine.book.BookManager` (``apply``, ``feed``, ``book(locate)`` with
``bbo``/``depth``/``l2``/``orders_at``/``order_count``/``level_count``, ``bbo``,
``queue_ahead``, ``orders``, ``stats``, ``unknown_references``, ``summary``,
``invariant_violations``) with the books in C structures, plus :meth:`feed_binaryfile` /
:meth:`~CythonBookManager.feed_file`, which decode ITCH straight from the BinaryFILE bytes.
The differences: orders are reported as :class:`OrderInfo` tuples (the reference returns
its live ``Order`` objects), ``stats`` is a snapshot, and ``orders`` iterates in
hash-table order rather than arrival order.

The wire offsets it reads are taken here from the ITCH construct table
(:data:`tickwire.itch.MESSAGE_STRUCTS`), never restated in the extension.

:func:`make_book_manager` picks a backend by name: ``reference`` or ``cython``. When the
extension is not built, or ``TICKWIRE_PURE=1`` is set, :data:`AVAILABLE` is False and
asking for ``cython`` raises :class:`~tickwire.threshold.backends.BackendUnavailable`.
"""

from __future__ import annotations

import gzip
import importlib
import importlib.util
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NamedTuple, TypeVar

from tickwire.cli import input_of, name_input, named
from tickwire.engine import compiled
from tickwire.engine.book import (
    BBO,
    BookInvariantError,
    BookManager,
    BookStats,
    LevelView,
    book_summary,
)
from tickwire.engine.book import TapePrint as _TapePrint
from tickwire.itch import MESSAGE_LENGTHS, DecodeError
from tickwire.itch import fastpath as itch_fastpath
from tickwire.itch.reader import read_chunks
from tickwire.net.frames import positional_constructor as frames_positional_constructor
from tickwire.threshold.backends import BackendUnavailable
from tickwire.threshold.scan import field_offset

__all__ = [
    "AVAILABLE",
    "BOOK_BACKENDS",
    "UNAVAILABLE_REASON",
    "CythonBookManager",
    "OrderInfo",
    "make_book_manager",
    "positional_constructor",
]

BOOK_BACKENDS = ("reference", "cython")
CHUNK_SIZE: Final = 1 << 22


def file_chunks(path: str | os.PathLike[str], chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """A BinaryFILE's bytes in chunks of ``chunk_size`` (a gzip file read through gzip;
    a damaged one read as the Python readers read it: its bytes before the damage, then
    its ``DecodeError``, :func:`tickwire.itch.reader.read_chunks`)."""
    with Path(path).open("rb") as raw:
        magic = raw.read(2)
        raw.seek(0)
        f: Any = gzip.GzipFile(fileobj=raw) if magic == b"\x1f\x8b" else raw
        yield from read_chunks(f, chunk_size)


def feed_chunks(
    feed: Callable[[bytes, bool], int],
    chunks: Iterable[bytes],
    *,
    name: str | os.PathLike[str] | None = None,
) -> Iterator[int]:
    """Feed a BinaryFILE stream, in ``chunks``, to a compiled loop's ``feed(data, final)``.

    The one chunk loop of the compiled book and the replay core. Each chunk is joined to
    the bytes the previous call left (a message cut at a chunk's end); ``feed(data,
    False)`` takes the whole messages and returns how many bytes it used; the rest is
    carried. After the last chunk what is left goes in with ``final=True``, where a cut
    message is a :class:`~tickwire.itch.DecodeError`. A ``DecodeError``'s offset, which
    ``feed`` counts from the start of its ``data``, is made an offset in the whole stream.
    Yields the stream offset reached after each chunk, so a caller can act between
    chunks (``series`` hands the rows recorded so far to Arrow).

    ``name``, the file the chunks are read from (None: not a file), marks the errors of
    reading and decoding it (:func:`tickwire.cli.name_input`: the same exception), so a
    command's error line names the file (``day.itch: truncated frame ...``): an error of
    ``chunks`` (a file that cannot be read, a broken gzip) and the ``DecodeError`` of
    ``feed``'s framing (marked ``_cbook.FRAMING`` where it is raised). Nothing else
    ``feed`` raises is marked or moved, a ``DecodeError`` included: the compiled core runs
    the strategy's callbacks inside it, and a strategy's error is not the file's (a
    strategy's own ``DecodeError`` was said to be the file's, at an offset of the
    stream's; test ``test_engine_cli_bad_input.py::
    test_a_strategy_error_over_a_file_is_not_said_to_be_the_files``). Why:
    ``book --backend cython`` and ``backtest --backend compiled`` said ``truncated
    frame ...`` and nothing of which file. Test:
    ``tests/test_cli_bad_input.py::test_an_unreadable_itch_file_is_named_in_the_error``.
    """
    base = 0  # stream offset of the current buffer's first byte
    rest = b""
    if name is not None:
        chunks = named(name, chunks)
    try:
        for chunk in chunks:
            data = rest + chunk if rest else chunk
            used = feed(data, False)
            rest = data[used:]
            base += used
            yield base
        if rest:
            feed(rest, True)
    except DecodeError as exc:
        if input_of(exc) is not None:  # raised reading ``chunks``: at its own offset
            raise
        if not getattr(exc, _ext.FRAMING, False):  # raised by what feed ran: a strategy's
            raise
        error = DecodeError(exc.reason, offset=base + exc.offset, message_type=exc.message_type)
        raise name_input(error, name) from None


class OrderInfo(NamedTuple):
    """A live order as the compiled book reports it."""

    ref: int
    side: str
    price: int
    shares: int
    locate: int


# Every field the extension reads, "TYPE.field" -> byte offset from the type byte.
_FIELDS = {
    "A": (
        "timestamp",
        "stock_locate",
        "order_reference_number",
        "buy_sell_indicator",
        "shares",
        "stock",
        "price",
    ),
    "E": ("order_reference_number", "executed_shares", "match_number"),
    "C": (
        "order_reference_number",
        "executed_shares",
        "match_number",
        "printable",
        "execution_price",
    ),
    "X": ("order_reference_number", "cancelled_shares"),
    "D": ("order_reference_number",),
    "U": (
        "original_order_reference_number",
        "new_order_reference_number",
        "shares",
        "price",
    ),
    "P": ("order_reference_number", "buy_sell_indicator", "shares", "price", "match_number"),
    "Q": ("shares", "cross_price", "match_number"),
    "B": ("match_number",),
    "S": ("event_code",),
    "R": ("stock",),  # the venue's directory rule (CVenue._directory)
}


def layout() -> dict[str, int]:
    """The byte offsets the compiled book reads, from the ITCH construct table."""
    out = {f"{t}.{name}": field_offset(t, name) for t, names in _FIELDS.items() for name in names}
    # F shares A's first fields (it only appends the attribution), and every message
    # carries stock locate and timestamp at the same place: checked, not assumed.
    for t in ("F", "E", "C", "X", "D", "U", "P", "Q", "B", "R"):
        if field_offset(t, "timestamp") != out["A.timestamp"]:  # pragma: no cover
            raise AssertionError(f"{t}: timestamp is not where A has it")
        if field_offset(t, "stock_locate") != out["A.stock_locate"]:  # pragma: no cover
            raise AssertionError(f"{t}: stock locate is not where A has it")
    for name in _FIELDS["A"]:
        if field_offset("F", name) != out[f"A.{name}"]:  # pragma: no cover
            raise AssertionError(f"F.{name} is not where A has it")
    return out


def _lengths() -> list[int]:
    table = [0] * 256
    for letter, length in MESSAGE_LENGTHS.items():
        table[ord(letter)] = length
    return table


def _load() -> tuple[Any, str | None]:
    if compiled.pure_requested():
        return None, "TICKWIRE_PURE is set"
    spec = importlib.util.find_spec("tickwire.engine._cbook")
    if spec is not None and spec.origin is not None:
        stale = compiled.pyx_stale_reason(Path(spec.origin))
        if stale is not None:  # built from an older _cbook.pyx: never run (compiled docs)
            return None, (
                f"extension tickwire.engine._cbook is stale: {stale} (rebuild it: "
                "uv sync --reinstall-package tickwire-engine)"
            )
    try:
        ext = importlib.import_module("tickwire.engine._cbook")
    except ImportError as exc:
        return None, f"extension tickwire.engine._cbook not built ({exc})"
    ext.configure(
        layout(),
        _lengths(),
        OrderInfo,
        LevelView,
        BBO,
        _TapePrint,
        BookStats,
        # The administrative messages the book decodes (R, H, ...): the compiled decoder
        # when tickwire.itch has it (the same objects and errors, 10x faster).
        itch_fastpath.decode,
        DecodeError,
    )
    return ext, None


_ext, UNAVAILABLE_REASON = _load()
#: True when the compiled book can be used.
AVAILABLE: Final[bool] = _ext is not None

_T = TypeVar("_T")


def positional_constructor(cls: type[_T]) -> Callable[..., _T]:
    """:func:`tickwire.net.frames.positional_constructor` for the frozen, slotted
    dataclass ``cls``, in C when the extension is built (``_cbook.SlotsConstructor``: each
    value stored straight into its slot, about five times faster), else that one. The
    engine builds its events and OUCH messages with it, in the backtest's and the live
    engine's hot paths."""
    if _ext is not None:
        made: Callable[..., _T] = _ext.SlotsConstructor(cls)
        return made
    return frames_positional_constructor(cls)


class _OrderIndex(Mapping[int, OrderInfo]):
    """``manager.orders``: live orders by reference (a read-only view)."""

    def __init__(self, manager: Any) -> None:
        self._m = manager

    def __getitem__(self, ref: int) -> OrderInfo:
        info: OrderInfo | None = self._m.order(ref) if 0 <= ref < 2**64 else None
        if info is None:
            raise KeyError(ref)
        return info

    def get(self, ref: int, default: Any = None) -> Any:  # type: ignore[override]
        """Mapping.get without its ``self[ref]`` and KeyError round trip: the simulated
        venue asks it for each feed message where one of our orders rests."""
        info = self._m.order(ref) if 0 <= ref < 2**64 else None
        return default if info is None else info

    def __contains__(self, ref: object) -> bool:
        return isinstance(ref, int) and 0 <= ref < 2**64 and ref in self._m

    def __len__(self) -> int:
        n: int = self._m.live_orders
        return n

    def __iter__(self) -> Iterator[int]:
        return (o.ref for o in self._m.iter_orders())


if TYPE_CHECKING or _ext is None:
    _Base: Any = object
else:
    _Base = _ext.CBookManager


class CythonBookManager(_Base):  # type: ignore[misc]
    """Books for every instrument of a feed, in C (the reference API; see module doc)."""

    def __init__(self, on_print: Any = None, *, reorder_window: int = 64) -> None:
        if _ext is None:
            raise BackendUnavailable(f"cython book not available: {UNAVAILABLE_REASON}")
        super().__init__(on_print, reorder_window=reorder_window)

    @property
    def orders(self) -> Mapping[int, OrderInfo]:
        """Live orders by reference."""
        return _OrderIndex(self)

    def feed_file(self, path: str | os.PathLike[str], *, chunk_size: int = CHUNK_SIZE) -> None:
        """Decode a BinaryFILE (gzip transparent) straight into the books, in chunks."""
        for _ in feed_chunks(self.feed_binaryfile, file_chunks(path, chunk_size), name=path):
            pass

    def in_continuous_trading(self, locate: int) -> bool:
        """Market hours (system events Q..M) and the instrument trading (H state T)."""
        b = self.books.get(locate)
        return self.system_event == "Q" and b is not None and b.trading_state in ("T", "")

    def summary(self, *, unknown_types: int = 0) -> dict[str, object]:
        """The JSON object of ``python -m tickwire.engine book --json`` (``unknown_types``
        as the reference's: the count of the reader that fed the books, which for
        :meth:`feed_binaryfile` and :meth:`feed_file` is this book's ``skipped``)."""
        return book_summary(
            self.books, self.unknown_references, self.stats, unknown_types=unknown_types
        )

    def invariant_violations(self, *, crossed: bool = True) -> list[str]:
        """Every broken invariant over all books (see the reference's method)."""
        problems: list[str] = []
        for locate, b in self.books.items():
            allow = not crossed or not self.in_continuous_trading(locate)
            problems += [
                f"locate {locate}: {p}" for p in b.invariant_violations(allow_crossed=allow)
            ]
        if self.live_in_books() != self.live_orders:
            problems.append(
                f"{self.live_orders} indexed orders != {self.live_in_books()} orders in books"
            )
        return problems

    def check_invariants(self, *, crossed: bool = True) -> None:
        """Raise :class:`BookInvariantError` listing every broken invariant."""
        problems = self.invariant_violations(crossed=crossed)
        if problems:
            raise BookInvariantError("; ".join(problems[:20]))


def make_book_manager(backend: str = "reference", **kwargs: Any) -> BookManager | Any:
    """A book manager of ``backend`` (``reference`` or ``cython``)."""
    if backend == "reference":
        return BookManager(**kwargs)
    if backend == "cython":
        return CythonBookManager(**kwargs)
    raise ValueError(f"unknown book backend {backend!r} (known: {', '.join(BOOK_BACKENDS)})")
