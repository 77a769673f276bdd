"""Read pcap and pcapng captures, write pcap; pull MoldUDP64 packets out of them.

:func:`read_pcap` streams records from a classic pcap file (either byte order, microsecond or
nanosecond timestamps) or a pcapng file (section/interface blocks, enhanced, simple and
obsolete packet blocks, any ``if_tsresol``), gzip-compressed or not. It reads the file in
large chunks and unpacks headers with ``struct``, so it keeps up with multi-gigabyte
captures without holding them in memory.

:class:`PcapWriter` writes classic pcap with nanosecond timestamps (magic ``a1b23c4d``),
which tshark, tcpdump, scapy and dpkt all read.
"""

from __future__ import annotations

import gzip
import io
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import IO, BinaryIO

import construct as c

from .codec import DownstreamPacket, parse_downstream
from .errors import BadFrame, BadPcap, MoldError
from .net import UdpFrame, parse_udp_frame

__all__ = [
    "LINKTYPE_ETHERNET",
    "LINKTYPE_NAMES",
    "PCAP_HEADER",
    "PCAP_RECORD",
    "CaptureStats",
    "MoldCapture",
    "PcapRecord",
    "PcapWriter",
    "linktype_name",
    "read_moldudp64",
    "read_pcap",
]

LINKTYPE_ETHERNET = 1
_CHUNK = 1 << 20
#: No sane capture record is larger than this; a bigger length means a corrupt file.
_MAX_RECORD = 1 << 24

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

_MAGIC_US = 0xA1B2C3D4
_MAGIC_NS = 0xA1B23C4D
_PCAPNG_SHB = 0x0A0D0D0A
_PCAPNG_BOM = 0x1A2B3C4D


@dataclass(frozen=True, slots=True)
class PcapRecord:
    """One captured frame: when (ns since the epoch), its bytes and its link type."""

    timestamp_ns: int
    frame: bytes
    linktype: int = LINKTYPE_ETHERNET
    #: The frame's length on the wire (larger than ``len(frame)`` when the capture cut it).
    original_length: int = -1


class _Chunks:
    """A refillable window over a binary stream, for header-at-a-time parsing."""

    __slots__ = ("buf", "consumed", "eof", "f", "pos")

    def __init__(self, f: IO[bytes], initial: bytes = b"") -> None:
        self.f = f
        self.buf = initial
        self.pos = 0
        self.eof = False
        self.consumed = 0  # bytes of the stream before buf[0]

    def need(self, n: int) -> bool:
        """Make ``n`` bytes available at ``pos``; False at a clean end of stream."""
        while len(self.buf) - self.pos < n:
            if self.eof:
                return False
            more = self.f.read(max(_CHUNK, n))
            if not more:
                self.eof = True
                continue
            self.consumed += self.pos
            self.buf = self.buf[self.pos :] + more
            self.pos = 0
        return True

    @property
    def offset(self) -> int:
        return self.consumed + self.pos


def _open(
    source: str | os.PathLike[str] | IO[bytes] | bytes,
) -> tuple[IO[bytes], bytes, list[IO[bytes]]]:
    """The stream to read, bytes already read from its start, and what to close afterwards."""
    owned: list[IO[bytes]] = []
    if isinstance(source, bytes | bytearray | memoryview):
        f: IO[bytes] = io.BytesIO(bytes(source))
    elif isinstance(source, str | os.PathLike):
        f = open(source, "rb")  # noqa: SIM115 - closed by read_pcap
        owned.append(f)
    else:
        f = source
    head = f.read(2)
    if head != b"\x1f\x8b":
        return f, head, owned
    # gzip: restart the decompressor at the magic.
    if f.seekable():
        f.seek(-2, io.SEEK_CUR)
        raw: IO[bytes] = f
    else:
        raw = io.BytesIO(head + f.read())
    g: IO[bytes] = gzip.GzipFile(fileobj=raw)  # type: ignore[assignment]
    owned.append(g)
    return g, b"", owned


def read_pcap(source: str | os.PathLike[str] | IO[bytes] | bytes) -> Iterator[PcapRecord]:
    """Stream the records of a pcap or pcapng capture (path, binary file object or bytes).

    Raises :class:`~tickwire.moldudp64.errors.BadPcap` for a file that is neither, or that is
    cut inside a record.
    """
    f, head, owned = _open(source)
    try:
        chunks = _Chunks(f, head)
        if not chunks.need(4):
            raise BadPcap("empty file: no pcap or pcapng header", offset=0)
        magic_le = struct.unpack_from("<I", chunks.buf, 0)[0]
        if magic_le == _PCAPNG_SHB:
            yield from _read_pcapng(chunks)
        else:
            yield from _read_classic(chunks)
    finally:
        for g in reversed(owned):
            g.close()


def _read_classic(ch: _Chunks) -> Iterator[PcapRecord]:
    if not ch.need(24):
        raise BadPcap("file ends inside the pcap header", offset=0)
    magic = struct.unpack_from("<I", ch.buf, 0)[0]
    if magic in (_MAGIC_US, _MAGIC_NS):
        endian = "<"
    else:
        magic = struct.unpack_from(">I", ch.buf, 0)[0]
        if magic not in (_MAGIC_US, _MAGIC_NS):
            raise BadPcap(f"not a pcap or pcapng file (magic {ch.buf[:4].hex()})", offset=0)
        endian = ">"
    scale = 1 if magic == _MAGIC_NS else 1000
    linktype = struct.unpack_from(endian + "I", ch.buf, 20)[0] & 0x0FFFFFFF
    ch.pos = 24
    rec = struct.Struct(endian + "IIII")
    unpack = rec.unpack_from
    while True:
        if not ch.need(16):
            if len(ch.buf) != ch.pos:
                raise BadPcap("file ends inside a record header", offset=ch.offset)
            return
        sec, frac, incl, orig = unpack(ch.buf, ch.pos)
        if incl > _MAX_RECORD:
            raise BadPcap(f"record length {incl} is not plausible", offset=ch.offset)
        if not ch.need(16 + incl):
            raise BadPcap(f"file ends inside a {incl}-byte record", offset=ch.offset)
        start = ch.pos + 16
        ch.pos = start + incl
        yield PcapRecord(sec * 1_000_000_000 + frac * scale, ch.buf[start : ch.pos], linktype, orig)


@dataclass(slots=True)
class _Interface:
    linktype: int
    # timestamp units -> ns: ns = ts * num // den
    num: int = 1000
    den: int = 1
    offset_ns: int = 0


def _tsresol(value: int) -> tuple[int, int]:
    if value & 0x80:
        return 1_000_000_000, 1 << (value & 0x7F)
    exp = value
    if exp <= 9:
        return 10 ** (9 - exp), 1
    return 1, 10 ** (exp - 9)


def _read_pcapng(ch: _Chunks) -> Iterator[PcapRecord]:
    endian = "<"
    interfaces: list[_Interface] = []
    while True:
        if not ch.need(12):
            if len(ch.buf) != ch.pos:
                raise BadPcap("file ends inside a pcapng block header", offset=ch.offset)
            return
        block_start = ch.offset
        btype_le = struct.unpack_from("<I", ch.buf, ch.pos)[0]
        if btype_le == _PCAPNG_SHB:
            bom = ch.buf[ch.pos + 8 : ch.pos + 12]
            if bom == b"\x4d\x3c\x2b\x1a":
                endian = "<"
            elif bom == b"\x1a\x2b\x3c\x4d":
                endian = ">"
            else:
                raise BadPcap(
                    "pcapng section header with a bad byte-order magic", offset=block_start
                )
            interfaces = []  # interface ids are per section
        btype, blen = struct.unpack_from(endian + "II", ch.buf, ch.pos)
        if blen < 12 or blen % 4 or blen > _MAX_RECORD:
            raise BadPcap(f"pcapng block length {blen} is not valid", offset=block_start)
        if not ch.need(blen):
            raise BadPcap(f"file ends inside a {blen}-byte pcapng block", offset=block_start)
        body = ch.buf[ch.pos + 8 : ch.pos + blen - 4]
        ch.pos += blen
        if btype == 1:  # interface description
            if len(body) < 8:
                raise BadPcap("short interface description block", offset=block_start)
            iface = _Interface(struct.unpack_from(endian + "H", body, 0)[0])
            _interface_options(iface, body[8:], endian)
            interfaces.append(iface)
        elif btype == 6 or btype == 2:  # enhanced / obsolete packet block
            if btype == 6:
                if len(body) < 20:
                    raise BadPcap("short enhanced packet block", offset=block_start)
                ifid, hi, lo, caplen, orig = struct.unpack_from(endian + "IIIII", body, 0)
            else:
                if len(body) < 20:
                    raise BadPcap("short packet block", offset=block_start)
                ifid, _drops, hi, lo, caplen, orig = struct.unpack_from(endian + "HHIIII", body, 0)
            if ifid >= len(interfaces):
                raise BadPcap(f"packet for undeclared interface {ifid}", offset=block_start)
            if 20 + caplen > len(body):
                raise BadPcap("packet data runs past its block", offset=block_start)
            iface = interfaces[ifid]
            ts = ((hi << 32) | lo) * iface.num // iface.den + iface.offset_ns
            yield PcapRecord(ts, body[20 : 20 + caplen], iface.linktype, orig)
        elif btype == 3:  # simple packet block: no timestamp, interface 0
            if not interfaces or len(body) < 4:
                raise BadPcap("simple packet block without an interface", offset=block_start)
            orig = struct.unpack_from(endian + "I", body, 0)[0]
            data = body[4 : 4 + orig]
            yield PcapRecord(0, data, interfaces[0].linktype, orig)
        # other blocks (name resolution, statistics, custom, ...) carry no frames


def _interface_options(iface: _Interface, opts: bytes, endian: str) -> None:
    off = 0
    while off + 4 <= len(opts):
        code, length = struct.unpack_from(endian + "HH", opts, off)
        value = opts[off + 4 : off + 4 + length]
        off += 4 + ((length + 3) & ~3)
        if code == 0:
            break
        if code == 9 and length >= 1:
            iface.num, iface.den = _tsresol(value[0])
        elif code == 14 and length == 8:
            iface.offset_ns = struct.unpack(endian + "q", value)[0] * 1_000_000_000


class PcapWriter:
    """Write a classic pcap file (nanosecond timestamps unless ``nanosecond=False``).

    >>> import io
    >>> buf = io.BytesIO()
    >>> with PcapWriter(buf) as w:
    ...     w.write(b"\\x00" * 60, timestamp_ns=1_500_000_000)
    >>> [r.timestamp_ns for r in read_pcap(buf.getvalue())]
    [1500000000]
    """

    def __init__(
        self,
        dest: str | os.PathLike[str] | BinaryIO | IO[bytes],
        *,
        linktype: int = LINKTYPE_ETHERNET,
        snaplen: int = 262144,
        nanosecond: bool = True,
    ) -> None:
        if isinstance(dest, str | os.PathLike):
            self._f: IO[bytes] = open(dest, "wb")  # noqa: SIM115 - closed by close()
            self._owned = True
        else:
            self._f = dest
            self._owned = False
        self._ns = nanosecond
        self._rec = struct.Struct("<IIII")
        self.count = 0
        self._f.write(
            struct.pack(
                "<IHHiIII", _MAGIC_NS if nanosecond else _MAGIC_US, 2, 4, 0, 0, snaplen, linktype
            )
        )

    def write(self, frame: bytes, *, timestamp_ns: int = 0) -> None:
        """Append one frame captured at ``timestamp_ns`` (ns since the epoch)."""
        if timestamp_ns < 0:
            raise MoldError(f"negative timestamp {timestamp_ns}")
        sec, ns = divmod(timestamp_ns, 1_000_000_000)
        frac = ns if self._ns else ns // 1000
        n = len(frame)
        self._f.write(self._rec.pack(sec & 0xFFFFFFFF, frac, n, n))
        self._f.write(frame)
        self.count += 1

    def close(self) -> None:
        if self._owned:
            self._f.close()
        else:
            self._f.flush()

    def __enter__(self) -> PcapWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@dataclass(slots=True)
class CaptureStats:
    """What :class:`MoldCapture` saw: every frame is counted in exactly one bucket."""

    frames: int = 0
    packets: int = 0
    messages: int = 0
    not_udp: int = 0
    other_port: int = 0
    bad_packets: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class MoldFrame:
    """A MoldUDP64 packet found in a capture, with its frame and timestamp."""

    timestamp_ns: int
    udp: UdpFrame
    packet: DownstreamPacket


#: Names of common link types, for error messages (pcap LINKTYPE_* values).
LINKTYPE_NAMES = {
    0: "BSD loopback",
    1: "Ethernet",
    101: "raw IP",
    105: "802.11",
    113: "Linux cooked (SLL)",
    127: "802.11 radiotap",
    228: "raw IPv4",
    229: "raw IPv6",
    276: "Linux cooked v2 (SLL2)",
}


def linktype_name(linktype: int) -> str:
    """``"113 (Linux cooked (SLL))"``: the number and, when known, the name."""
    name = LINKTYPE_NAMES.get(linktype)
    return f"{linktype} ({name})" if name else str(linktype)


class MoldCapture:
    """Iterate the MoldUDP64 packets of a capture, counting everything it skips.

    Frames that are not Ethernet/IPv4/UDP (``not_udp``), that are for another UDP port than
    ``port`` (when given, either direction) or whose payload is not a valid MoldUDP64 packet
    (``bad_packets``; the first errors are kept in ``stats.errors``) are skipped and counted,
    unless ``strict`` asks for an exception instead.

    A record of another link type than Ethernet raises :class:`BadPcap` naming the link type,
    strict or not: such a capture (a ``-i any`` capture is Linux cooked, a loopback capture
    BSD loopback) cannot be read for MoldUDP64 at all, and skipping every frame would turn
    it into an empty feed that looks like a quiet day.
    """

    def __init__(
        self,
        source: str | os.PathLike[str] | IO[bytes] | bytes,
        *,
        port: int | None = None,
        strict: bool = False,
    ) -> None:
        self._source = source
        self._port = port
        self._strict = strict
        self.stats = CaptureStats()

    def __iter__(self) -> Iterator[MoldFrame]:
        st = self.stats
        for rec in read_pcap(self._source):
            st.frames += 1
            if rec.linktype != LINKTYPE_ETHERNET:
                raise BadPcap(
                    f"frame {st.frames}: link type {linktype_name(rec.linktype)} is not "
                    "Ethernet; MoldUDP64 is read from Ethernet captures only"
                )
            try:
                udp = parse_udp_frame(rec.frame)
            except BadFrame:
                if self._strict:
                    raise
                st.not_udp += 1
                continue
            if self._port is not None and self._port not in (udp.dst_port, udp.src_port):
                st.other_port += 1
                continue
            try:
                pkt = parse_downstream(udp.payload)
            except MoldError as exc:
                if self._strict:
                    raise
                st.bad_packets += 1
                if len(st.errors) < 20:
                    st.errors.append(f"frame {st.frames}: {exc}")
                continue
            st.packets += 1
            st.messages += len(pkt.messages)
            yield MoldFrame(rec.timestamp_ns, udp, pkt)


def read_moldudp64(
    source: str | os.PathLike[str] | IO[bytes] | bytes, *, port: int | None = None
) -> Iterator[MoldFrame]:
    """The MoldUDP64 packets of a capture (see :class:`MoldCapture` for the skipping rules)."""
    return iter(MoldCapture(source, port=port))
