"""Where books get their messages: a BinaryFILE, a MoldUDP64 capture, or live messages.

All decoding is the codecs' job: ``tickwire.itch.fastpath.decode_binaryfile`` (the
fastest ITCH path, Cython when built) for BinaryFILEs, ``tickwire.moldudp64.pcap``
for captures and ``tickwire.itch.decode`` for the message blocks inside them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from tickwire.engine.book import BookManager
from tickwire.itch import DecodeError, Message, decode
from tickwire.itch.fastpath import FrameStats, decode_binaryfile
from tickwire.moldudp64.events import Event, Messages
from tickwire.moldudp64.pcap import MoldCapture

__all__ = [
    "CaptureFeedStats",
    "apply_receiver_events",
    "is_capture",
    "iter_binaryfile",
    "iter_capture",
    "rebuild",
]

_PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1",
    b"\xa1\xb2\xc3\xd4",
    b"\x4d\x3c\xb2\xa1",
    b"\xa1\xb2\x3c\x4d",
    b"\x0a\x0d\x0d\x0a",  # pcapng section header block
}

Source = str | os.PathLike[str]


def is_capture(path: Source) -> bool:
    """True when ``path`` starts with a pcap or pcapng magic number."""
    with open(path, "rb") as f:
        return f.read(4) in _PCAP_MAGICS


class _CountingReader:
    """A binary file wrapper that reports bytes read (for the progress bar)."""

    def __init__(self, f: IO[bytes], on_bytes: Callable[[int], None]) -> None:
        self._f = f
        self._on_bytes = on_bytes

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(n)
        self._on_bytes(len(data))
        return data

    def close(self) -> None:
        self._f.close()


def iter_binaryfile(
    path: Source,
    *,
    stats: FrameStats | None = None,
    on_bytes: Callable[[int], None] | None = None,
) -> Iterator[Message]:
    """Every message of a BinaryFILE (gzip transparent), in file order."""
    if on_bytes is None:
        yield from decode_binaryfile(path, stats=stats)
        return
    with open(path, "rb") as f:
        yield from decode_binaryfile(_CountingReader(f, on_bytes), stats=stats)  # type: ignore[arg-type]


@dataclass(slots=True)
class CaptureFeedStats:
    """What :func:`iter_capture` skipped: frames that carry no MoldUDP64 packet and
    message blocks that are not a decodable ITCH message (unknown type, short block)."""

    frames: int = 0
    packets: int = 0
    skipped_frames: int = 0
    skipped_messages: int = 0


def iter_capture(
    path: Source | IO[bytes] | bytes,
    *,
    port: int | None = None,
    stats: CaptureFeedStats | None = None,
    on_frame: Callable[[int], None] | None = None,
) -> Iterator[Message]:
    """Every ITCH message carried by the MoldUDP64 packets of a pcap/pcapng capture.

    ``port`` keeps only one UDP port. Blocks the ITCH codec rejects (unknown types must
    be skipped by length, per the spec) are counted in ``stats.skipped_messages``.
    """
    st = stats if stats is not None else CaptureFeedStats()
    capture = MoldCapture(path, port=port)
    for mold in capture:
        st.packets += 1
        if on_frame is not None:
            on_frame(1)
        for block in mold.packet.messages:
            try:
                yield decode(block)
            except DecodeError:
                st.skipped_messages += 1
    st.frames = capture.stats.frames
    st.skipped_frames = capture.stats.frames - capture.stats.packets


def apply_receiver_events(manager: BookManager, events: Iterable[Event]) -> int:
    """Apply the in-order messages of live MoldUDP64 receiver events to books.

    ``events`` come from ``tickwire.moldudp64.receiver.Receiver.receive``/``tick`` (the
    sans-I/O receiver with gap recovery), so books see every message exactly once and
    in sequence order, whatever the network did. Other events are ignored here (the
    caller sends the requests). Returns the number of blocks the ITCH codec rejected.
    """
    rejected = 0
    for event in events:
        if isinstance(event, Messages):
            for raw in event.messages:
                try:
                    msg = decode(raw)
                except DecodeError:
                    rejected += 1
                    continue
                manager.apply(msg)
    return rejected


def rebuild(
    source: Source | Iterable[Message],
    *,
    books: BookManager | None = None,
    on_bytes: Callable[[int], None] | None = None,
) -> BookManager:
    """Replay a BinaryFILE, a capture (detected by its magic) or messages into books."""
    manager = books if books is not None else BookManager()
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if is_capture(path):
            manager.feed(iter_capture(path, on_frame=on_bytes))
        else:
            manager.feed(iter_binaryfile(path, on_bytes=on_bytes))
    else:
        manager.feed(source)
    return manager
