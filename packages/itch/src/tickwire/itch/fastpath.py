"""The fastest available ITCH 5.0 codec: the compiled extension when built, else pure Python.

``tickwire.itch._fast`` is a Cython extension built (optionally) with the package. This
module configures it from the construct table in :mod:`tickwire.itch.messages` (field
kinds, byte positions, widths and code tables are all read from that table, never
restated) and exposes one API whichever implementation is underneath:

* :func:`decode` / :func:`encode`: one message, same contract as
  :func:`tickwire.itch.messages.decode` / :func:`~tickwire.itch.messages.encode`,
  same objects, same errors;
* :func:`decode_binaryfile`: every message of a BinaryFILE (bytes, a path or a binary
  file object, read in chunks so memory stays bounded), the fast way to read a file;
* :data:`AVAILABLE`: True when the compiled extension is in use; :data:`UNAVAILABLE_REASON`
  says why not otherwise.

Set ``TICKWIRE_PURE=1`` in the environment (before import) to force the pure-Python
implementation, e.g. to compare the two or to rule the extension out when debugging.
"""

from __future__ import annotations

import gzip
import importlib
import io
import itertools
import os
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import IO, Any, Final, TypeVar

from tickwire.itch import messages as _m
from tickwire.itch.layouts import LAYOUTS, FieldKind
from tickwire.itch.messages import (
    MESSAGE_CLASSES,
    MESSAGE_LENGTHS,
    MESSAGE_STRUCTS,
    DecodeError,
    Message,
)
from tickwire.itch.reader import BinaryFileReader, Source, read_chunks, refuse_capture

__all__ = [
    "AVAILABLE",
    "COMPILED",
    "DEFAULT",
    "EXTENSION_KINDS",
    "PURE",
    "UNAVAILABLE_REASON",
    "Codec",
    "FrameStats",
    "decode",
    "decode_binaryfile",
    "encode",
    "extension_specs",
]

#: Field kind name -> number, as the extension's ``cdef enum`` must have them: the numbers
#: are :class:`tickwire.itch.layouts.FieldKind`'s, and ``configure`` refuses to run when its
#: own disagree (see :func:`_load_extension`).
EXTENSION_KINDS: Final[dict[str, int]] = {
    k.name: int(k) for k in FieldKind if k is not FieldKind.TYPE
}

_T = TypeVar("_T")
_E = TypeVar("_E", bound=BaseException)

CHUNK_SIZE: Final = 1 << 20  # bytes read per step by decode_binaryfile


def _slot(cls: type, name: str) -> Any:
    """The ``__slots__`` member descriptor of ``name`` (may live on a base class)."""
    for klass in cls.__mro__:
        if name in vars(klass):
            return vars(klass)[name]
    raise AttributeError(f"{cls.__name__} has no slot {name!r}")


def extension_specs() -> list[tuple[int, type, int, list[tuple[int, int, int, Any, Any]]]]:
    """Per message type, the field descriptors the extension decodes and encodes with.

    Derived from :data:`tickwire.itch.layouts.LAYOUTS` (itself walked from the construct
    table) field by field, the type byte left out:
    ``(type byte, class, length, [(kind, position, width, slot descriptor, code table)])``.
    """
    specs = []
    for letter, wire in LAYOUTS.items():
        cls = MESSAGE_CLASSES[letter]
        cons = {sub.name: sub.subcon for sub in MESSAGE_STRUCTS[letter].subcons}
        out: list[tuple[int, int, int, Any, Any]] = []
        for f in wire:
            if f.kind is FieldKind.TYPE:
                continue
            table: tuple[str, ...] | None = None
            if f.kind is FieldKind.CODE:
                lookup = cons[f.name].lookup
                table = tuple(lookup[bytes([b])] for b in range(256))
            out.append((int(f.kind), f.offset, f.length, _slot(cls, f.name), table))
        if len(out) != len(fields(cls)):  # pragma: no cover - messages.py checks this
            raise TypeError(f"{letter}: table and class disagree")
        specs.append((ord(letter), cls, MESSAGE_LENGTHS[letter], out))
    return specs


def _load_extension() -> tuple[Any, str | None]:
    if os.environ.get("TICKWIRE_PURE", "") not in ("", "0"):
        return None, "TICKWIRE_PURE is set"
    try:
        ext = importlib.import_module("tickwire.itch._fast")
    except ImportError as exc:
        return None, f"extension not built ({exc})"
    try:
        ext.configure(EXTENSION_KINDS, extension_specs(), _m.decode, _m.encode)
    except (TypeError, ValueError) as exc:  # pragma: no cover - layout surprises
        return None, f"extension rejected the message classes ({exc})"
    return ext, None


_ext, UNAVAILABLE_REASON = _load_extension()
#: True when the compiled extension is in use.
AVAILABLE: Final[bool] = _ext is not None


@dataclass
class FrameStats:
    """Counts kept by :func:`decode_binaryfile`."""

    messages: int = 0
    skipped: int = 0
    length_fixups: int = 0
    by_type: dict[str, int] = field(default_factory=dict)


def _open(source: Source) -> tuple[Any, Any]:
    """A binary stream over ``source`` (gzip unwrapped by its magic bytes), and the file
    the caller must close (the one we opened), or None."""
    owned = None
    if isinstance(source, bytes | bytearray | memoryview):
        raw: Any = io.BytesIO(bytes(source))
    elif isinstance(source, str | os.PathLike):
        raw = Path(source).open("rb")  # noqa: SIM115 - closed by decode_binaryfile
        owned = raw
    else:
        raw = source
    peek = raw.read(2)
    stream: Any = _Prepend(peek, raw)
    if peek == b"\x1f\x8b":
        # No seek needed: the two magic bytes are put back in front.
        return gzip.GzipFile(fileobj=stream, mode="rb"), owned
    return stream, owned


class _Prepend:
    """A stream with some already-read bytes put back in front."""

    def __init__(self, head: bytes, stream: IO[bytes]) -> None:
        self._head = head
        self._stream = stream

    def read(self, n: int = -1) -> bytes:
        head = self._head
        if n < 0:
            self._head = b""
            return head + self._stream.read()
        if n <= len(head):
            self._head = head[n:]
            return head[:n]
        self._head = b""
        return head + self._stream.read(n - len(head))

    def close(self) -> None:
        self._stream.close()


def _iter_compiled(source: Source, stats: FrameStats | None, chunk_size: int) -> Iterator[Message]:
    # Messages come in lists, one per chunk, flattened by itertools.chain: the
    # per-message step is then C code, not a Python generator resuming.
    return itertools.chain.from_iterable(_batches(source, stats, chunk_size))


def _batches(source: Source, stats: FrameStats | None, chunk_size: int) -> Iterator[list[Message]]:
    assert _ext is not None
    decoder = _ext.FrameDecoder()
    return _frame_chunks(decoder, decoder.feed, source, stats, chunk_size)


def _frame_chunks(
    framer: Any,
    feed: Callable[[Any, int, int], tuple[_T, int, bool]],
    source: Source,
    stats: FrameStats | None,
    chunk_size: int,
) -> Iterator[_T]:
    """The one chunked read-and-frame loop over a BinaryFILE for the compiled framers
    (:func:`decode_binaryfile`'s ``FrameDecoder``, :mod:`tickwire.itch.columnar`'s
    ``ColumnBuilder``): what ``feed`` gives for each chunk, in order.

    ``feed(buf, start, limit)`` frames the frames of ``buf`` that start in
    ``[start, limit)`` (``limit`` -1: no bound) and returns ``(output, stop, blocked)``
    (the framer's ``_Framer._frame``). Bytes in memory are walked in slices of
    ``chunk_size`` with no copy; anything else (a path, a file object, gzip) is read
    ``chunk_size`` bytes at a time, an incomplete last frame carried into the next read.
    An unframeable frame (``blocked``: an unknown type with a zero prefix) and bytes left
    at the end (a cut frame) raise :class:`DecodeError` at their stream offset, after the
    output of the frames before them; a broken gzip stream is a DecodeError too.
    ``stats`` gets ``framer``'s counters when the iteration ends, however it ends.

    Read from a path, an error of reading or framing it is marked with the path
    (:func:`tickwire.cli.name_input`; the same exception, so ``DecodeError`` and its
    ``offset`` stay): the command lines' error line names the file (``day.itch:
    truncated frame ...``). Test:
    ``tests/test_cli_bad_input.py::test_an_unreadable_itch_file_is_named_in_the_error``."""
    try:
        if isinstance(source, bytes | bytearray | memoryview) and source[:2] != b"\x1f\x8b":
            # In memory already: walk it in slices, no copies.
            refuse_capture(source)
            end = len(source)
            pos = 0
            while True:
                out, stop, blocked = feed(source, pos, pos + chunk_size)
                yield out
                if blocked:
                    _blocked(source, stop, 0)
                if stop == pos:  # no progress: the end, or a frame cut short
                    break
                pos = stop
            if pos < end:
                _truncated(source, pos, 0)
            return
        stream, owned = _open(source)
        base = 0  # offset in the (decompressed) stream of buf[0]
        buf = b""
        try:
            # A damaged gzip: its bytes before the damage, then its DecodeError at their
            # end, whatever the chunk size (the reader's rule: read_chunks).
            for chunk in read_chunks(stream, chunk_size):
                if not base and not buf:
                    refuse_capture(chunk)  # the stream's first bytes
                buf = buf + chunk if buf else chunk
                out, pos, blocked = feed(buf, 0, -1)
                yield out
                if blocked:
                    _blocked(buf, pos, base)
                base += pos
                buf = buf[pos:]
            if buf:
                _truncated(buf, 0, base)
        finally:
            if owned is not None:
                owned.close()
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise _named(_gzip_error(exc), source) from exc
    except Exception as exc:
        _named(exc, source)
        raise
    finally:
        if stats is not None:
            stats.messages = framer.messages
            stats.skipped = framer.skipped
            stats.length_fixups = framer.length_fixups
            stats.by_type = framer.by_type


def _named(exc: _E, source: Source) -> _E:
    """``exc``, marked as raised reading ``source`` when that is a path."""
    if isinstance(source, str | os.PathLike):
        from tickwire.cli import name_input  # on an error only: the codec imports light

        name_input(exc, source)
    return exc


def _blocked(buf: Any, pos: int, base: int) -> None:
    raise DecodeError(
        "unknown message type with a zero length prefix: cannot frame",
        offset=base + pos,
        message_type=chr(buf[pos + 2]),
    )


def _truncated(buf: Any, pos: int, base: int) -> None:
    rest = len(buf) - pos
    raise DecodeError(
        f"truncated frame at end of stream: only {rest} bytes left",
        offset=base + pos,
        message_type=chr(buf[pos + 2]) if rest > 2 else None,
    )


def _iter_pure(source: Source, stats: FrameStats | None, chunk_size: int) -> Iterator[Message]:
    # The reader is the pure implementation: the same framing rules by construction.
    reader = BinaryFileReader(source, chunk_size=chunk_size)
    try:
        yield from reader
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise _gzip_error(exc) from exc
    finally:
        if stats is not None:
            stats.messages = reader.stats.messages
            stats.skipped = reader.stats.skipped
            stats.length_fixups = reader.stats.length_fixups
            stats.by_type = reader.stats.by_type
        reader.close()


def _gzip_error(exc: Exception, offset: int = 0) -> DecodeError:
    """A damaged gzip stream (gzip and zlib raise EOFError, BadGzipFile or zlib.error)
    reported as the DecodeError the API promises, at ``offset``: the bytes of the
    uncompressed stream read before it (the pure reader's ``consumed``; 0 where the
    caller does not know). Why: the compiled framers said ``at byte offset 0`` for a day
    cut near its end. Test: ``test_itch_fast.py::test_a_cut_gzip_says_how_far_it_was_read``."""
    return DecodeError(f"corrupt gzip stream: {exc or type(exc).__name__}", offset=offset)


@dataclass(frozen=True)
class Codec:
    """One implementation of the fast-path API (see :data:`PURE` and :data:`COMPILED`)."""

    name: str
    #: Decode one message starting at its type byte (bytes past its length are ignored).
    decode: Callable[[bytes | bytearray | memoryview], Message]
    #: Encode one message to its wire bytes (EncodeError when a value does not fit).
    encode: Callable[[Message], bytes]
    _iterate: Callable[[Source, FrameStats | None, int], Iterator[Message]]

    def decode_binaryfile(
        self, source: Source, *, stats: FrameStats | None = None, chunk_size: int = CHUNK_SIZE
    ) -> Iterator[Message]:
        """See :func:`decode_binaryfile`."""
        return self._iterate(source, stats, max(64, chunk_size))


#: The pure-Python implementation (always there).
PURE: Final = Codec("pure", _m.decode, _m.encode, _iter_pure)
#: The compiled implementation, or None when the extension is not in use.
COMPILED: Final = (
    Codec("cython", _ext.decode, _ext.encode, _iter_compiled) if _ext is not None else None
)
#: The implementation this module's functions use.
DEFAULT: Final[Codec] = COMPILED if COMPILED is not None else PURE

#: Decode one message starting at its type byte (see :func:`tickwire.itch.messages.decode`).
decode: Final = DEFAULT.decode
#: Encode one message to its wire bytes (see :func:`tickwire.itch.messages.encode`).
encode: Final = DEFAULT.encode


def decode_binaryfile(
    source: Source, *, stats: FrameStats | None = None, chunk_size: int = CHUNK_SIZE
) -> Iterator[Message]:
    """Every message of a BinaryFILE, decoded by the fastest available path.

    ``source`` is bytes, a path or a binary file object; gzip is detected by its magic
    bytes. Framing follows :mod:`tickwire.itch.reader`: a length prefix that is 0 or
    disagrees with the type's length is replaced by the type's length (counted in
    ``stats.length_fixups``), unknown types are skipped by their prefix
    (``stats.skipped``). Raises :class:`DecodeError` (with the byte offset of the frame)
    for a truncated tail or an unknown type whose prefix is 0; use
    :func:`tickwire.itch.read` with ``lenient=True`` to step over damage instead. Input is
    processed ``chunk_size`` bytes at a time, so memory stays bounded whatever its size.
    Pass a :class:`FrameStats` to collect the counts (complete when iteration ends).
    """
    return DEFAULT.decode_binaryfile(source, stats=stats, chunk_size=chunk_size)
