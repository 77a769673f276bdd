"""Deprecated: the capture reader, TCP reassembly and the TCP capture writer moved to
tickwire-net (:mod:`tickwire.net.pcap`, :mod:`tickwire.net.tcp`).

This module re-exports them for one minor version and warns on import. :func:`read_frames`
and :func:`parse_tcp` keep their :class:`Frame` objects and raise :class:`CaptureError`
(an ``OuchError`` and a ``tickwire.net.errors.BadPcap``), as they did.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from tickwire.net.errors import BadPcap
from tickwire.net.pcap import PcapRecord, read_pcap
from tickwire.net.tcp import (
    DEFAULT_MAX_HELD,
    ReassemblyStats,
    TcpCaptureWriter,
    TcpSegment,
    TcpStreamChunk,
    reassemble,
    tcp_segment,
)

from ._errors import CaptureError

warnings.warn(
    "tickwire.ouch.pcap is deprecated: use tickwire.net.pcap and tickwire.net.tcp (tickwire-net)",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = [
    "DEFAULT_MAX_HELD",
    "CaptureError",
    "Frame",
    "ReassemblyStats",
    "TcpCaptureWriter",
    "TcpSegment",
    "TcpStreamChunk",
    "parse_tcp",
    "read_frames",
    "reassemble",
]


@dataclass(frozen=True, slots=True)
class Frame:
    timestamp_ns: int
    linktype: int
    data: bytes


def read_frames(source: str | Path | BinaryIO | bytes) -> Iterator[Frame]:
    """Frames of a pcap or pcapng capture (path, binary file or bytes)."""
    try:
        for rec in read_pcap(source):
            yield Frame(rec.timestamp_ns, rec.linktype, rec.frame)
    except BadPcap as exc:
        raise CaptureError(exc.reason, offset=exc.offset) from None


def parse_tcp(frame: Frame) -> TcpSegment | None:
    """The TCP segment of an IPv4 or IPv6 frame (None for anything else or truncated).

    Raises :class:`CaptureError` for a frame of a link type this reader does not know.
    """
    try:
        return tcp_segment(PcapRecord(frame.timestamp_ns, frame.data, frame.linktype))
    except BadPcap as exc:
        raise CaptureError(exc.reason, offset=exc.offset) from None
