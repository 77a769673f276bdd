"""BinaryFILE writer: each message framed by its 2-byte big-endian length."""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterable
from types import TracebackType
from typing import IO, Final

from tickwire.itch.messages import MESSAGE_LENGTHS, EncodeError, Message, encode

__all__ = ["BinaryFileWriter"]

_MAX_FRAME: Final = 0xFFFF


class BinaryFileWriter:
    """Write messages (objects or raw message bytes) as a BinaryFILE.

    ``dest`` is a path or a binary file object. ``compress=None`` gzips when a path ends
    in ``.gz``; pass True/False to force. Files the writer opened are closed by
    :meth:`close` (or the ``with`` block); a caller's file object is only flushed.
    ``count`` is the number of messages written.
    """

    def __init__(
        self, dest: str | os.PathLike[str] | IO[bytes], *, compress: bool | None = None
    ) -> None:
        self.count = 0
        self._closers: list[IO[bytes] | gzip.GzipFile] = []
        if isinstance(dest, str | os.PathLike):
            if compress is None:
                compress = os.fspath(dest).endswith(".gz")
            raw: IO[bytes] | gzip.GzipFile = open(dest, "wb")  # noqa: SIM115 - closed in close()
            self._closers.append(raw)
        else:
            raw = dest
        if compress:
            zipped = gzip.GzipFile(fileobj=raw, mode="wb")
            self._closers.insert(0, zipped)
            raw = zipped
        self._out = raw
        self._write = raw.write

    def write(self, message: Message | bytes | bytearray | memoryview) -> None:
        """Frame and write one message.

        Raw bytes are written as given (type byte first), so unknown or future types pass
        through; a known type must have exactly its spec length.
        """
        if isinstance(message, Message):
            body = encode(message)
        else:
            body = bytes(message)
            if not body:
                raise EncodeError("an empty message cannot be framed")
            expected = MESSAGE_LENGTHS.get(chr(body[0]))
            if expected is not None and len(body) != expected:
                raise EncodeError(
                    f"message type {chr(body[0])!r} is {expected} bytes, got {len(body)}"
                )
            if len(body) > _MAX_FRAME:
                raise EncodeError(f"message of {len(body)} bytes does not fit a 2-byte length")
        self._write(len(body).to_bytes(2, "big") + body)
        self.count += 1

    def write_all(self, messages: Iterable[Message | bytes]) -> int:
        """Write every message of an iterable; returns how many were written."""
        n = 0
        for m in messages:
            self.write(m)
            n += 1
        return n

    def flush(self) -> None:
        self._out.flush()

    def close(self) -> None:
        """Flush, and close what the writer opened."""
        if self._closers:
            while self._closers:
                self._closers.pop(0).close()
        else:
            self._out.flush()

    def __enter__(self) -> BinaryFileWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
