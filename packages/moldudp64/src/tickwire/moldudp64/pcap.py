"""Deprecated: the capture reader and writers moved to :mod:`tickwire.net.pcap`
(tickwire-net), the MoldUDP64 part to :mod:`tickwire.moldudp64.capture`.

This module re-exports both for one minor version and warns on import. :func:`read_pcap`
raises this package's :class:`~tickwire.moldudp64.errors.BadPcap` (a ``MoldError`` and a
``tickwire.net.errors.BadPcap``), as it did; :data:`PCAP_HEADER` and :data:`PCAP_RECORD`
stay the construct layouts they were.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from typing import IO

import construct as c
from tickwire.net import pcap as _pcap
from tickwire.net.errors import BadPcap as _NetBadPcap
from tickwire.net.frames import LINKTYPE_ETHERNET, LINKTYPE_NAMES, linktype_name
from tickwire.net.pcap import PcapRecord, PcapWriter

from .capture import CaptureStats, MoldCapture, MoldFrame, read_moldudp64
from .errors import BadPcap

warnings.warn(
    "tickwire.moldudp64.pcap is deprecated: use tickwire.net.pcap (tickwire-net) and "
    "tickwire.moldudp64.capture",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = [
    "LINKTYPE_ETHERNET",
    "LINKTYPE_NAMES",
    "PCAP_HEADER",
    "PCAP_RECORD",
    "CaptureStats",
    "MoldCapture",
    "MoldFrame",
    "PcapRecord",
    "PcapWriter",
    "linktype_name",
    "read_moldudp64",
    "read_pcap",
]

#: Classic pcap file header (little-endian variant shown; the magic tells the byte order).
PCAP_HEADER = c.Struct(
    "magic" / c.Int32ul,
    "version_major" / c.Int16ul,
    "version_minor" / c.Int16ul,
    "thiszone" / c.Int32sl,
    "sigfigs" / c.Int32ul,
    "snaplen" / c.Int32ul,
    "linktype" / c.Int32ul,
)
#: Classic pcap record header.
PCAP_RECORD = c.Struct(
    "ts_sec" / c.Int32ul,
    "ts_frac" / c.Int32ul,
    "incl_len" / c.Int32ul,
    "orig_len" / c.Int32ul,
)


def read_pcap(source: str | os.PathLike[str] | IO[bytes] | bytes) -> Iterator[PcapRecord]:
    """:func:`tickwire.net.pcap.read_pcap`, raising this package's ``BadPcap``."""
    try:
        yield from _pcap.read_pcap(source)
    except _NetBadPcap as exc:
        raise BadPcap(exc.reason, offset=exc.offset) from None
