"""Streaming BinaryFILE reader: 2-byte big-endian length prefix, then one ITCH message.

Framing rules (the issue and ``specs/NOTES.md``):

* A known message type is always read with the type's own length
  (:data:`~tickwire.itch.messages.MESSAGE_LENGTHS`). When the length prefix is 0 or
  disagrees with it, the type's length wins and ``stats.length_fixups`` counts it. (The
  real NASDAQ sample ``ex20101224.TEST_ITCH_50`` has every prefix zero.)
* An unknown message type is skipped by its length prefix and counted in
  ``stats.skipped`` (receivers must tolerate types newer than they are).
* A truncated tail, or an unknown type whose prefix is 0 (nothing to skip by), cannot be
  framed: strict mode raises :class:`~tickwire.itch.messages.DecodeError` with the byte
  offset of the frame (its length prefix, in the uncompressed stream) and the type
  letter. In lenient mode the problem is logged on the ``tickwire.itch`` logger, kept in
  ``stats.errors`` and reading goes on: after garbage the reader moves forward byte by
  byte until a plausible frame (a known type whose prefix is 0 or its length) starts; a
  truncated tail ends the stream.
* A stream that starts with a pcap or pcapng magic number is a capture, not a BinaryFILE:
  both modes raise :class:`~tickwire.itch.messages.DecodeError` at offset 0 saying so (no
  BinaryFILE starts that way: its first prefix would be 2,573 or more bytes, no ITCH
  message's length). Why: lenient mode resynchronised through a capture and reported
  counts of "messages" found in its bytes, exit 0; strict mode said "unknown message
  type with a zero length prefix" somewhere inside it. The compiled framers
  (:mod:`tickwire.itch.fastpath`) apply the same rule (:func:`refuse_capture`).

Input can be a path, a binary file object or a bytes-like object; gzip is detected from
its magic number and decompressed on the fly. Memory use is bounded by the chunk size
however large the input is.
"""

from __future__ import annotations

import gzip
import io
import logging
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import IO, Any, Final, Protocol, cast

from tickwire.itch.messages import DECODERS, MESSAGE_LENGTHS, DecodeError, Message

__all__ = [
    "BinaryFileReader",
    "ReaderStats",
    "Source",
    "iter_raw",
    "read",
    "read_chunks",
    "refuse_capture",
]

log = logging.getLogger("tickwire.itch")

#: What :func:`read` accepts: a path, a binary file object or the bytes themselves.
Source = str | os.PathLike[str] | IO[bytes] | bytes | bytearray | memoryview

#: Bytes read per refill. Large enough to amortise the per-chunk work, small enough
#: that a multi-GB file streams in constant memory.
CHUNK_SIZE: Final = 1 << 20
#: Lenient mode keeps at most this many errors in ``stats.errors`` (the count goes on).
MAX_KEPT_ERRORS: Final = 1000

_GZIP_MAGIC: Final = b"\x1f\x8b"
#: The first four bytes of a capture, as in the file: classic pcap (microsecond,
#: nanosecond and the "modified" pcap of 1999's Linux tcpdump, both byte orders) and
#: pcapng's section header block. tickwire-itch imports nothing, so this is its copy of
#: :data:`tickwire.net.pcap.CAPTURE_MAGICS` (``tests/test_capture_sniffing.py`` holds
#: the two equal).
_CAPTURE_MAGICS: Final = (
    b"\xd4\xc3\xb2\xa1",
    b"\xa1\xb2\xc3\xd4",
    b"\x4d\x3c\xb2\xa1",
    b"\xa1\xb2\x3c\x4d",
    b"\x34\xcd\xb2\xa1",
    b"\xa1\xb2\xcd\x34",
    b"\x0a\x0d\x0d\x0a",
)
#: The first bytes of a file compressed by another tool than gzip, and what it is called
#: (a gzip here is one inside the gzip already unwrapped). No BinaryFILE starts with
#: them: each is a first length prefix of 1,058 bytes or more, no ITCH message's length.
_COMPRESSED_MAGICS: Final = (
    (_GZIP_MAGIC, "a gzip inside a gzip", "gunzip it once first"),
    (b"\xfd7zXZ\x00", "an xz-compressed file", "only gzip is read (xz -d first)"),
    (b"BZh", "a bzip2-compressed file", "only gzip is read (bzip2 -d first)"),
    (b"\x28\xb5\x2f\xfd", "a zstd-compressed file", "only gzip is read (zstd -d first)"),
    (b"PK\x03\x04", "a zip-compressed file", "only gzip is read (unzip first)"),
    (b"\x04\x22\x4d\x18", "a lz4-compressed file", "only gzip is read (lz4 -d first)"),
)
# type byte -> message length, for plausibility checks while resynchronising.
_LENGTH_BY_BYTE: Final = {ord(t): n for t, n in MESSAGE_LENGTHS.items()}


@dataclass
class ReaderStats:
    """What a reader has seen so far (complete once iteration ends).

    ``messages`` counts messages delivered; ``by_type`` maps type letter to count;
    ``skipped`` counts frames of unknown type skipped by their prefix (per type letter in
    ``skipped_by_type``); ``length_fixups`` counts frames whose prefix was 0 or wrong;
    ``errors`` holds the problems lenient mode reported (at most
    :data:`MAX_KEPT_ERRORS`; ``error_count`` has them all) and ``garbage_bytes`` the
    bytes it stepped over; ``bytes_read`` is the uncompressed stream position reached.
    """

    skipped: int = 0
    length_fixups: int = 0
    bytes_read: int = 0
    garbage_bytes: int = 0
    error_count: int = 0
    errors: list[DecodeError] = field(default_factory=list)
    skipped_by_type: dict[str, int] = field(default_factory=dict)
    # Per type byte counts: a list indexed by the byte is the cheapest thing to bump in
    # the per-message loop; ``by_type`` turns it into letters.
    _counts: list[int] = field(default_factory=lambda: [0] * 256, repr=False)

    @property
    def messages(self) -> int:
        """Messages delivered so far."""
        return sum(self._counts)

    @property
    def by_type(self) -> dict[str, int]:
        """Type letter -> messages delivered (letters in byte order)."""
        return {chr(b): n for b, n in enumerate(self._counts) if n}

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "messages": self.messages,
            "by_type": self.by_type,
            "skipped": self.skipped,
            "skipped_by_type": dict(self.skipped_by_type),
            "length_fixups": self.length_fixups,
            "bytes_read": self.bytes_read,
            "errors": self.error_count,
            "garbage_bytes": self.garbage_bytes,
        }


def refuse_capture(head: bytes | bytearray | memoryview) -> None:
    """Raise :class:`DecodeError` when ``head``, the first bytes of a (decompressed)
    stream, starts like a pcap or pcapng capture (see the module docstring), or like a
    file compressed by another tool than gzip (xz, bzip2, zstd, zip, lz4) or gzipped
    twice: ``an xz-compressed file, not a BinaryFILE: only gzip is read (xz -d
    first)``. Why the compressed ones: every framer framed their bytes as ITCH, skipping
    "unknown types" by whatever prefix it met, and said ``truncated frame at end of
    stream ... at byte offset 119886``, a damaged day, not the wrong format (and a
    stream that happened to end on a frame would have been a day of 0 messages). Test:
    ``test_itch_reader.py::test_a_compressed_file_other_than_gzip_is_named_not_framed``."""
    start = bytes(head[:6])
    if start[:4] in _CAPTURE_MAGICS:
        raise DecodeError(
            "a pcap or pcapng capture, not a BinaryFILE (moldudp64 pcap2itch writes its "
            "MoldUDP64 messages as one)",
            offset=0,
        )
    for magic, what, how in _COMPRESSED_MAGICS:
        if start.startswith(magic):
            raise DecodeError(f"{what}, not a BinaryFILE: {how}", offset=0)


def read_chunks(stream: _Stream, size: int) -> Iterator[bytes]:
    """The bytes of ``stream`` (a file, a ``GzipFile``, ...), ``size`` at a time (the last
    chunk shorter), until its end.

    A damaged gzip stream (gzip and zlib raise ``EOFError``, ``BadGzipFile`` or
    ``zlib.error``: a day cut short, garbage in it) yields every byte decompressed before
    the damage, then raises ``DecodeError("corrupt gzip stream: REASON")`` at the offset
    in the uncompressed stream where those bytes end. So what is read of a cut gzip, the
    frames before the error and the error's line, does not depend on the reader's chunk
    size. Reason: ``GzipFile.read(size)`` drops what it decompressed in the call that
    fails, so the compiled book and core (their 1 and 4 MiB chunks, and a bare
    ``EOFError``: ``corrupt or truncated gzip data: ...``) and the Python readers (1 MiB:
    ``corrupt gzip stream: ... (at byte offset N)``, N a multiple of their chunk size)
    applied different frames of the same cut day and said different lines. It reads with
    ``read1`` where the stream has it (each call returns what one read of the compressed
    file gave). The one chunk reader of :class:`BinaryFileReader`, the compiled framers
    (:func:`tickwire.itch.fastpath.decode_binaryfile`) and the engine's compiled book and
    core (``tickwire.engine.cbook.file_chunks``). Tests: ``test_itch_fast.py::
    test_a_cut_gzip_says_how_far_it_was_read``, ``test_engine_cython_book.py::
    test_a_cut_gzip_reads_alike_on_the_compiled_and_the_reference_book``."""
    read = getattr(stream, "read1", None) or stream.read
    consumed = 0  # bytes yielded
    while True:
        parts: list[bytes] = []
        n = 0
        try:
            while n < size:
                part = read(size - n)
                if not part:
                    break
                parts.append(part)
                n += len(part)
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            if parts:
                yield b"".join(parts)
            raise DecodeError(
                f"corrupt gzip stream: {exc or type(exc).__name__}", offset=consumed + n
            ) from exc
        if not n:
            return
        consumed += n
        yield parts[0] if len(parts) == 1 else b"".join(parts)


class _Prepended(io.RawIOBase):
    """A read-only stream that yields ``head`` and then the rest of ``tail``.

    Used to give back the bytes consumed while sniffing for gzip on non-seekable input.
    """

    def __init__(self, head: bytes, tail: IO[bytes]) -> None:
        self._head = head
        self._tail = tail

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._head:
            n = min(len(view), len(self._head))
            view[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._tail.read(len(view))
        if not data:
            return 0
        view[: len(data)] = data
        return len(data)


class _Stream(Protocol):
    """What the reader needs of a byte stream (files, GzipFile, BufferedReader, ...)."""

    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


def _open_stream(source: Source) -> tuple[_Stream | None, bytes | None, list[_Stream]]:
    """(stream, whole bytes, what to close). Exactly one of stream and bytes is set.

    Only what this module opened is closed later: never a file object the caller passed
    in (a GzipFile wrapped around it leaves it open when closed)."""
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        if data[:2] == _GZIP_MAGIC:
            zipped = gzip.GzipFile(fileobj=io.BytesIO(data), mode="rb")
            return zipped, None, [zipped]
        return None, data, []
    closers: list[_Stream] = []
    if isinstance(source, str | os.PathLike):
        raw: IO[bytes] = open(source, "rb")  # noqa: SIM115 - closed by the reader
        closers.append(raw)
    else:
        raw = source
    head = raw.read(2)
    rest: _Stream = _Prepended(head, raw) if head else raw
    if head == _GZIP_MAGIC:
        zipped = gzip.GzipFile(fileobj=cast(IO[bytes], rest), mode="rb")
        closers.insert(0, zipped)
        return zipped, None, closers
    return rest, None, closers


class BinaryFileReader:
    """Iterate the messages of a BinaryFILE (see the module docstring for the rules).

    Iterating consumes the reader, like a file. ``stats`` is live while iterating and
    complete afterwards. Use as a context manager (or call :meth:`close`) to release a
    file the reader opened itself.

    Read from a path, an error of reading or framing it is marked with the path
    (:func:`tickwire.cli.name_input`: the same exception, its command line's one line
    ``day.itch: truncated frame ...``). Why: ``itch stats``/``dump`` and
    ``moldudp64 itch2pcap``/``replay`` said ``truncated frame ...`` and nothing of which
    file. Test:
    ``tests/test_cli_bad_input.py::test_an_unreadable_itch_file_is_named_in_the_error``.
    """

    def __init__(
        self, source: Source, *, lenient: bool = False, chunk_size: int = CHUNK_SIZE
    ) -> None:
        self.lenient = lenient
        self.stats = ReaderStats()
        self._chunk_size = max(chunk_size, 64)
        self._started = False
        self._name = source if isinstance(source, str | os.PathLike) else None
        self._stream, self._data, self._closers = _open_stream(source)

    # ---------------------------------------------------------------- context manager
    def __enter__(self) -> BinaryFileReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close what the reader opened (never a file object the caller passed in)."""
        while self._closers:
            self._closers.pop(0).close()

    # ---------------------------------------------------------------- iteration
    def __iter__(self) -> Iterator[Message]:
        return self._iterate(decode=True)  # type: ignore[return-value]

    def iter_raw(self) -> Iterator[tuple[int, bytes]]:
        """Yield ``(offset, message bytes)``: the frame's offset in the uncompressed stream
        (where its length prefix starts) and the message from its type byte, exactly the
        type's length (same framing rules as iteration)."""
        return self._iterate(decode=False)  # type: ignore[return-value]

    def _chunks(self) -> Iterator[bytes]:
        if self._data is not None:
            yield self._data
            return
        assert self._stream is not None
        try:
            yield from read_chunks(self._stream, self._chunk_size)
        except DecodeError as exc:
            # A damaged or cut gzip stream: the data before it was delivered; the rest is
            # unreadable (lenient mode ends the stream here).
            self._problem(exc)

    def _iterate(self, decode: bool) -> Iterator[Message | tuple[int, bytes]]:
        if self._started:
            raise RuntimeError("a BinaryFileReader can be iterated only once")
        self._started = True
        stats = self.stats
        counts = stats._counts
        decoders = DECODERS
        buf = b""
        base = 0  # stream offset of buf[0]
        pos = 0
        fixups = 0
        sniff = True
        try:
            for chunk in self._chunks():
                buf = buf[pos:] + chunk if pos < len(buf) else chunk
                if sniff and len(buf) >= 4:  # buf starts the stream: no frame taken yet
                    sniff = False
                    refuse_capture(buf)
                base += pos
                pos = 0
                end = len(buf)
                # The hot loops, one known-type frame per turn, written twice so that
                # the per-message work has no mode test. Every known length is < 256,
                # so "prefix == length" is "high byte 0 and low byte == length".
                if decode:
                    while pos + 3 <= end:
                        t = buf[pos + 2]
                        entry = decoders.get(t)
                        if entry is None:
                            nxt = self._unknown(buf, pos, base, end)
                            if nxt < 0:
                                break  # the skipped frame continues in the next chunk
                            pos = nxt
                            continue
                        length, dec = entry
                        nxt = pos + 2 + length
                        if nxt > end:
                            break
                        if buf[pos + 1] != length or buf[pos]:
                            fixups += 1
                        counts[t] += 1
                        yield dec(buf, pos + 2)
                        pos = nxt
                else:
                    while pos + 3 <= end:
                        t = buf[pos + 2]
                        entry = decoders.get(t)
                        if entry is None:
                            nxt = self._unknown(buf, pos, base, end)
                            if nxt < 0:
                                break
                            pos = nxt
                            continue
                        length = entry[0]
                        nxt = pos + 2 + length
                        if nxt > end:
                            break
                        if buf[pos + 1] != length or buf[pos]:
                            fixups += 1
                        counts[t] += 1
                        yield base + pos, buf[pos + 2 : nxt]
                        pos = nxt
                stats.bytes_read = base + pos
                stats.length_fixups = fixups
            # End of stream: whatever is left is a truncated frame.
            rest = len(buf) - pos
            if rest > 0:
                letter = chr(buf[pos + 2]) if rest > 2 else None
                self._problem(
                    DecodeError(
                        f"truncated frame at end of stream: only {rest} bytes left",
                        offset=base + pos,
                        message_type=letter,
                    )
                )
                stats.garbage_bytes += rest
            stats.bytes_read = base + len(buf)
        except Exception as exc:  # reading or framing the file: named (class docstring)
            if self._name is not None:
                from tickwire.cli import name_input  # on an error only: the codec imports light

                name_input(exc, self._name)
            raise
        finally:
            stats.length_fixups = fixups
            self.close()

    def _unknown(self, buf: bytes, pos: int, base: int, end: int) -> int:
        """Handle a frame whose type byte is unknown at ``buf[pos]``.

        Returns the position to continue at, or -1 when more data is needed.
        """
        t = buf[pos + 2]
        prefix = (buf[pos] << 8) | buf[pos + 1]
        if prefix > 0:
            nxt = pos + 2 + prefix
            if nxt > end:
                return -1
            letter = chr(t)
            self.stats.skipped += 1
            self.stats.skipped_by_type[letter] = self.stats.skipped_by_type.get(letter, 0) + 1
            return nxt
        self._problem(
            DecodeError(
                "unknown message type with a zero length prefix: cannot frame",
                offset=base + pos,
                message_type=chr(t),
            )
        )
        # Lenient: step over garbage until a plausible frame header starts.
        start = pos
        pos += 1
        while pos + 3 <= end:
            expected = _LENGTH_BY_BYTE.get(buf[pos + 2])
            if expected is not None and ((buf[pos] << 8) | buf[pos + 1]) in (0, expected):
                break
            pos += 1
        self.stats.garbage_bytes += pos - start
        return pos

    def _problem(self, error: DecodeError) -> None:
        """Strict: raise. Lenient: log, count and keep going."""
        if not self.lenient:
            raise error
        stats = self.stats
        stats.error_count += 1
        if len(stats.errors) < MAX_KEPT_ERRORS:
            stats.errors.append(error)
        log.warning("tickwire.itch: %s", error)


def read(source: Source, *, lenient: bool = False) -> BinaryFileReader:
    """Open a BinaryFILE for reading: iterate the result for :class:`Message` objects.

    ``source`` is a path, a binary file object or bytes; gzip is detected and handled.
    Strict by default (:class:`DecodeError` on truncation or garbage); ``lenient=True``
    logs, counts (``reader.stats``) and continues instead.
    """
    return BinaryFileReader(source, lenient=lenient)


def iter_raw(source: Source, *, lenient: bool = False) -> Iterator[tuple[int, bytes]]:
    """Yield ``(frame offset, message bytes)`` pairs with the same framing rules as
    :func:`read`, without decoding (for consumers with their own fast decoder)."""
    return BinaryFileReader(source, lenient=lenient).iter_raw()
