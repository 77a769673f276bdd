"""Read pcap and pcapng captures; write either.

:func:`read_pcap` streams the records of a classic pcap file (either byte order, microsecond
or nanosecond timestamps, and the "modified" pcap's longer record headers) or a pcapng
file (section and interface blocks, enhanced, simple and obsolete packet blocks, any
``if_tsresol`` and ``if_tsoffset``, sections of either byte order), gzip-compressed or not,
from a path, a binary file object or bytes.
:func:`is_capture` says whether a file is one (its magic number, under gzip too), so a
command tells a capture from a BinaryFILE by the same rule the reader reads by.

How it reads: a :class:`_Chunks` window holds about a megabyte of the stream; each header is
unpacked with ``struct`` at ``pos`` after ``need(n)`` made ``n`` bytes available (refilling
the window, never holding the whole file), so multi-gigabyte captures stream in constant
memory. Every length read from the file is checked before it is used: a record longer than
16 MiB, a pcapng block length below 12, unaligned or past the end of the file, packet data
running past its block, a record holding more bytes than its frame had on the wire, a
packet for an interface not declared in its section, a file cut inside a header or a
record, a classic pcap version other than 2.0 to 2.4 and DG/UX's 543.0 (a pcapng
section's major version other than 1; the record lengths of 2.0 to 2.3 and 543.0 are read
in their order, as libpcap does),
a second capture's header where a record should be (two files concatenated): each is a
:class:`~tickwire.net.errors.BadPcap` naming it, with the byte offset. A clean end of
file between records is the only silent end.

:class:`PcapWriter` writes classic pcap with nanosecond timestamps (magic ``a1b23c4d``) and
:class:`PcapngWriter` pcapng (one section, one interface with ``if_tsresol`` 9, enhanced
packet blocks); tshark, tcpdump, scapy and dpkt read both.
"""

from __future__ import annotations

import gzip
import io
import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import IO, BinaryIO, Final

from .errors import BadPcap, CutPcap, NetError
from .frames import LINKTYPE_ETHERNET, LINKTYPE_NAMES, linktype_name

__all__ = [
    "CAPTURE_MAGICS",
    "LINKTYPE_ETHERNET",
    "LINKTYPE_NAMES",
    "MAX_RECORD",
    "PCAPNG_BLOCK",
    "PCAP_HEADER",
    "PCAP_RECORD",
    "PcapRecord",
    "PcapWriter",
    "PcapngWriter",
    "is_capture",
    "linktype_name",
    "read_pcap",
]

_CHUNK = 1 << 20
#: No sane capture record is larger than this; a bigger length means a corrupt file.
MAX_RECORD = 1 << 24

#: Classic pcap file header, little-endian (the magic tells a reader the byte order):
#: magic, version major, minor, thiszone, sigfigs, snaplen, link type.
PCAP_HEADER = struct.Struct("<IHHiIII")
#: Classic pcap record header: seconds, fraction (us or ns), captured length, wire length.
PCAP_RECORD = struct.Struct("<IIII")
#: pcapng block header: type, total length (repeated after the body).
PCAPNG_BLOCK = struct.Struct("<II")

_MAGIC_US = 0xA1B2C3D4
_MAGIC_NS = 0xA1B23C4D
#: Alexey Kuznetsov's "modified" pcap (tcpdump of the Linux distributions of 1999-2000,
#: ``editcap -F modpcap``): microsecond timestamps, and each record header 8 bytes longer
#: than 2.4's (interface index, protocol, packet type, padding), which libpcap
#: (``sf-pcap.c``, ``KUZNETZOV_TCPDUMP_MAGIC``) and tshark read past.
_MAGIC_MODIFIED = 0xA1B2CD34
_PCAPNG_SHB = 0x0A0D0D0A
_PCAPNG_BOM = 0x1A2B3C4D

#: The first four bytes of every capture :func:`read_pcap` reads, as they are in the file:
#: classic pcap with microsecond or nanosecond timestamps and the "modified" pcap
#: (:data:`_MAGIC_MODIFIED`), in either byte order, and a pcapng section header block (its
#: type reads the same in both byte orders).
CAPTURE_MAGICS: Final = frozenset(
    [struct.pack(e + "I", m) for e in "<>" for m in (_MAGIC_US, _MAGIC_NS, _MAGIC_MODIFIED)]
    + [struct.pack("<I", _PCAPNG_SHB)]
)


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


def is_capture(path: str | os.PathLike[str]) -> bool:
    """True when the file at ``path`` starts with a pcap or pcapng magic number
    (:data:`CAPTURE_MAGICS`), read through gzip when it is gzip-compressed
    (``day.pcap.gz``): the files :func:`read_pcap` reads. Anything else (a BinaryFILE, a
    file under 4 bytes, a gzip stream too damaged to give 4 bytes) is False, and reading
    it is left to whoever does, with that reader's error. ``OSError`` when ``path``
    cannot be opened."""
    f, head, owned = _open(path)
    try:
        head += f.read(4 - len(head))
    except (OSError, EOFError, zlib.error):  # a damaged gzip stream: not recognisably one
        return False
    finally:
        for g in reversed(owned):
            g.close()
    return head in CAPTURE_MAGICS


def read_pcap(source: str | os.PathLike[str] | IO[bytes] | bytes) -> Iterator[PcapRecord]:
    """Stream the records of a pcap or pcapng capture (path, binary file object or bytes).

    Raises :class:`~tickwire.net.errors.BadPcap` for a file that is neither, or that is
    cut inside a record.
    """
    f, head, owned = _open(source)
    try:
        chunks = _Chunks(f, head)
        if not chunks.need(4):
            if not chunks.buf:
                raise BadPcap("empty file: no pcap or pcapng header", offset=0)
            raise BadPcap(
                f"a {len(chunks.buf)}-byte file is too short for a pcap or pcapng header", offset=0
            )
        magic_le = struct.unpack_from("<I", chunks.buf, 0)[0]
        if magic_le == _PCAPNG_SHB:
            yield from _read_pcapng(chunks)
        else:
            yield from _read_classic(chunks)
    finally:
        for g in reversed(owned):
            g.close()


_CLASSIC_MAGICS = (_MAGIC_US, _MAGIC_NS, _MAGIC_MODIFIED)


def _read_classic(ch: _Chunks) -> Iterator[PcapRecord]:
    """The records of a classic pcap; ``ch`` holds at least its 4-byte magic.

    A "modified" pcap (:data:`_MAGIC_MODIFIED`) is read as libpcap reads it: microsecond
    timestamps, each record header 24 bytes (2.4's 16, then the interface index, protocol
    and packet type, which are passed over). Why: it was "not a pcap or pcapng file (magic
    34cdb2a1)", and the commands that tell a capture from a BinaryFILE by its magic framed
    it as ITCH (``truncated frame ... message type '²'``). Test:
    ``test_net_pcap.py::test_a_modified_pcap_is_read_as_tshark_reads_it``."""
    # The magic first: a short file of something else is "not a pcap", not a cut pcap.
    magic = struct.unpack_from("<I", ch.buf, 0)[0]
    if magic in _CLASSIC_MAGICS:
        endian = "<"
    else:
        magic = struct.unpack_from(">I", ch.buf, 0)[0]
        if magic not in _CLASSIC_MAGICS:
            raise BadPcap(f"not a pcap or pcapng file (magic {ch.buf[:4].hex()})", offset=0)
        endian = ">"
    if not ch.need(24):
        raise BadPcap("file ends inside the pcap header", offset=0)
    major, minor = struct.unpack_from(endian + "HH", ch.buf, 4)
    swapped, maybe_swapped = _lengths_swapped(major, minor)
    lengths_swapped = swapped or maybe_swapped
    scale = 1 if magic == _MAGIC_NS else 1000
    linktype = struct.unpack_from(endian + "I", ch.buf, 20)[0] & 0x0FFFFFFF
    ch.pos = 24
    rec = struct.Struct(endian + "IIII")
    unpack = rec.unpack_from
    head = 24 if magic == _MAGIC_MODIFIED else 16  # a record header's bytes
    while True:
        if not ch.need(head):
            if len(ch.buf) != ch.pos:
                raise CutPcap("file ends inside a record header", offset=ch.offset)
            return
        sec, frac, incl, orig = unpack(ch.buf, ch.pos)
        if lengths_swapped and (swapped or incl > orig):  # a file before 2.4: see above
            incl, orig = orig, incl
        if not 0 < incl <= MAX_RECORD:  # one compare for the records that are neither
            _second_header(ch)
            if incl:
                raise BadPcap(f"record length {incl} is not plausible", offset=ch.offset)
        if incl > orig:
            raise BadPcap(_more_than_the_wire(incl, orig), offset=ch.offset)
        if not ch.need(head + incl):
            raise CutPcap(f"file ends inside a {incl}-byte record", offset=ch.offset)
        start = ch.pos + head
        ch.pos = start + incl
        yield PcapRecord(sec * 1_000_000_000 + frac * scale, ch.buf[start : ch.pos], linktype, orig)


def _lengths_swapped(major: int, minor: int) -> tuple[bool, bool]:
    """For a classic pcap header of version ``major.minor``, whether each record header
    holds its wire length before its captured length (``swapped``), or does when the first
    is the larger (``maybe_swapped``): libpcap read and wrote them in that order before
    2.3, and files of 2.3 were written both ways, so libpcap (``sf-pcap.c``) and tshark
    read 2.0 to 2.2 swapped and 2.3 swapped only where the captured length would be past
    the wire length. 543.0, the version DG/UX's tcpdump wrote, is read swapped as they
    read it. 2.4 is read as written. Every other version is refused at the header, one
    :class:`~tickwire.net.errors.BadPcap` naming it, as libpcap refuses them.

    Why: a 3.0 file or a header of garbage after a good magic was read as 2.4, its records
    trusted; then 2.0 to 2.3 and 543.0, which libpcap and tshark read, were refused too.
    Tests: ``test_net_pcap.py::test_a_pcap_of_2_0_to_2_3_is_read_as_libpcap_reads_it``,
    ``::test_tshark_reads_the_2_0_to_2_3_files_to_the_same_frames``,
    ``::test_a_pcap_version_other_than_2_0_to_2_4_is_refused``."""
    if (major, minor) == (543, 0):  # DG/UX
        return True, False
    if major != 2 or minor > 4:
        raise BadPcap(
            f"pcap version {major}.{minor} is not 2.0 to 2.4, the versions pcap files are "
            "written in",
            offset=4,
        )
    return minor < 3, minor == 3


def _section_version(body: bytes, endian: str, block_start: int) -> None:
    """Raise :class:`~tickwire.net.errors.BadPcap` when the pcapng section header block
    whose body is ``body`` (from its byte-order magic on) is not of major version 1, the
    one pcapng files are written in (a minor version is a backward-compatible change, so
    1.x is read), naming the version and the offset of its field. Why: a section of
    another major version was read as if it were 1.0, its blocks trusted (as a classic
    pcap of a version other than 2.0 to 2.4 was). Test:
    ``test_net_pcap.py::test_a_pcapng_section_of_another_major_version_is_refused``."""
    if len(body) < 8:
        raise BadPcap("short pcapng section header block", offset=block_start)
    major, minor = struct.unpack_from(endian + "HH", body, 4)
    if major != 1:
        raise BadPcap(
            f"pcapng section version {major}.{minor} is not 1.x, the version pcapng files "
            "are written in",
            offset=block_start + 12,
        )


def _more_than_the_wire(captured: int, wire: int) -> str:
    """The reason of :class:`~tickwire.net.errors.BadPcap` for a record that holds more
    bytes (``captured``) than its frame had on the wire: no capture can, so the record is
    corrupt, refused as a record of an impossible length is (a capture cuts a frame, it
    never adds to one; read, its extra bytes were taken for the frame's). Test:
    ``test_net_pcap.py::test_a_record_longer_than_its_frame_on_the_wire_is_refused``."""
    return f"record of {captured} bytes captured from a {wire}-byte frame on the wire"


def _second_header(ch: _Chunks) -> None:
    """Raise :class:`~tickwire.net.errors.BadPcap` when the record header at ``ch.pos`` is
    the file header of a second capture (a pcap or pcapng magic number): two captures
    concatenated (``cat a.pcap b.pcap``), which no reader reads as one.

    Why: read as a record header, a second classic pcap header is a record of length 0
    (its ``thiszone``) followed by garbage, and the error said ``record length ... is not
    plausible`` or that the file ends inside a record, nothing of the cause. The classic
    reader looks here only at a record header of length 0 or past :data:`MAX_RECORD`
    (a second pcap header's ``thiszone`` is 0, a pcapng's byte-order magic past it), so
    whole records pay nothing; the pcapng reader at a block it cannot take. Test:
    ``packages/net/tests/test_net_pcap.py::test_two_captures_concatenated_are_named``."""
    magic = ch.buf[ch.pos : ch.pos + 4]
    if magic in CAPTURE_MAGICS:
        kind = "pcapng section" if magic == struct.pack("<I", _PCAPNG_SHB) else "pcap file"
        raise BadPcap(
            f"a second {kind} header: two captures concatenated (merge them with "
            "mergecap, or read them one by one)",
            offset=ch.offset,
        )


@dataclass(slots=True)
class _Interface:
    linktype: int
    #: The interface's SnapLen (0: no limit), which a simple packet block's captured
    #: length is cut to (:func:`_simple_packet`).
    snaplen: int = 0
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
                raise CutPcap("file ends inside a pcapng block header", offset=ch.offset)
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
        if blen < 12 or blen % 4 or blen > MAX_RECORD:
            if btype_le != _PCAPNG_SHB:  # a section header starts a section: a bad one here
                _second_header(ch)
            raise BadPcap(f"pcapng block length {blen} is not valid", offset=block_start)
        if not ch.need(blen):
            raise CutPcap(f"file ends inside a {blen}-byte pcapng block", offset=block_start)
        body = ch.buf[ch.pos + 8 : ch.pos + blen - 4]
        ch.pos += blen
        if btype_le == _PCAPNG_SHB:
            _section_version(body, endian, block_start)
        elif btype == 1:  # interface description
            if len(body) < 8:
                raise BadPcap("short interface description block", offset=block_start)
            linktype, _reserved, snaplen = struct.unpack_from(endian + "HHI", body, 0)
            iface = _Interface(linktype, snaplen)
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
            if caplen > orig:
                raise BadPcap(_more_than_the_wire(caplen, orig), offset=block_start)
            iface = interfaces[ifid]
            ts = ((hi << 32) | lo) * iface.num // iface.den + iface.offset_ns
            yield PcapRecord(ts, body[20 : 20 + caplen], iface.linktype, orig)
        elif btype == 3:  # simple packet block: no timestamp, interface 0
            if not interfaces or len(body) < 4:
                raise BadPcap("simple packet block without an interface", offset=block_start)
            yield _simple_packet(body, endian, interfaces[0], block_start)
        # other blocks (name resolution, statistics, custom, ...) carry no frames


def _simple_packet(body: bytes, endian: str, iface: _Interface, block_start: int) -> PcapRecord:
    """The record of a simple packet block (``body``: its original length, then the packet
    data padded to 4 bytes) of interface 0, ``iface``: by the pcapng rule, its captured
    length is the original length cut to the interface's SnapLen (0: no limit), and data
    that would run past the block is refused as an enhanced packet block's is.

    Why: the data was read up to the original length, so a frame the SnapLen cut took
    the block's padding bytes as its own (62 bytes captured, 64 read: tshark reads 62),
    and a block too short for its packet was read as a frame cut short. Test:
    ``test_net_pcap.py::test_a_simple_packet_block_is_cut_to_the_snaplen``."""
    orig = struct.unpack_from(endian + "I", body, 0)[0]
    caplen = min(orig, iface.snaplen) if iface.snaplen else orig
    if 4 + caplen > len(body):
        raise BadPcap("packet data runs past its block", offset=block_start)
    return PcapRecord(0, body[4 : 4 + caplen], iface.linktype, orig)


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


class _Writer:
    """What both writers share: the destination, the record count, closing."""

    def __init__(self, dest: str | os.PathLike[str] | BinaryIO | IO[bytes]) -> None:
        if isinstance(dest, str | os.PathLike):
            self._f: IO[bytes] = open(dest, "wb")  # noqa: SIM115 - closed by close()
            self._owned = True
        else:
            self._f = dest
            self._owned = False
        #: Frames written so far.
        self.count = 0

    @staticmethod
    def _check(frame: bytes, timestamp_ns: int) -> None:
        if timestamp_ns < 0:
            raise NetError(f"negative timestamp {timestamp_ns}")
        if len(frame) > MAX_RECORD:
            raise NetError(f"a {len(frame)}-byte frame is larger than a record may be")

    def close(self) -> None:
        """Close the file (a path given to the constructor) or flush it (a file object)."""
        if self._owned:
            self._f.close()
        else:
            self._f.flush()

    def __enter__(self) -> _Writer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class PcapWriter(_Writer):
    """Write a classic pcap file (nanosecond timestamps unless ``nanosecond=False``).

    A timestamp the format cannot hold (negative, or past 2106 where the 32-bit seconds
    end) raises :class:`~tickwire.net.errors.NetError` instead of wrapping around.

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
        super().__init__(dest)
        self._ns = nanosecond
        self._f.write(
            PCAP_HEADER.pack(_MAGIC_NS if nanosecond else _MAGIC_US, 2, 4, 0, 0, snaplen, linktype)
        )

    def write(self, frame: bytes, *, timestamp_ns: int = 0) -> None:
        """Append one frame captured at ``timestamp_ns`` (ns since the epoch)."""
        self._check(frame, timestamp_ns)
        sec, ns = divmod(timestamp_ns, 1_000_000_000)
        if sec > 0xFFFFFFFF:
            raise NetError(f"timestamp {timestamp_ns} ns is past what pcap can hold (2106)")
        frac = ns if self._ns else ns // 1000
        n = len(frame)
        self._f.write(PCAP_RECORD.pack(sec, frac, n, n))
        self._f.write(frame)
        self.count += 1

    def __enter__(self) -> PcapWriter:
        return self


def _block(btype: int, body: bytes) -> bytes:
    """A little-endian pcapng block: type, length, body padded to 4 bytes, length again."""
    body += b"\x00" * (-len(body) % 4)
    n = len(body) + 12
    return PCAPNG_BLOCK.pack(btype, n) + body + struct.pack("<I", n)


class PcapngWriter(_Writer):
    """Write a pcapng file: one section, one interface (``linktype``, nanosecond
    timestamps: ``if_tsresol`` 9), one enhanced packet block per frame.

    >>> import io
    >>> buf = io.BytesIO()
    >>> with PcapngWriter(buf) as w:
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
    ) -> None:
        super().__init__(dest)
        if not 0 <= linktype <= 0xFFFF:
            raise NetError(f"pcapng link type {linktype} does not fit in 16 bits")
        # Section header: byte-order magic, version 1.0, section length unknown (-1).
        shb = struct.pack("<IHHq", _PCAPNG_BOM, 1, 0, -1)
        # Interface description: link type, reserved, snap length; if_tsresol = 9 (ns).
        idb = struct.pack("<HHI", linktype, 0, snaplen) + struct.pack("<HHB3x", 9, 1, 9)
        idb += struct.pack("<HH", 0, 0)  # opt_endofopt
        self._f.write(_block(_PCAPNG_SHB, shb) + _block(1, idb))

    def write(self, frame: bytes, *, timestamp_ns: int = 0) -> None:
        """Append one frame captured at ``timestamp_ns`` (ns since the epoch)."""
        self._check(frame, timestamp_ns)
        if timestamp_ns >> 64:
            raise NetError(f"timestamp {timestamp_ns} ns does not fit pcapng's 64 bits")
        n = len(frame)
        epb = struct.pack("<IIIII", 0, timestamp_ns >> 32, timestamp_ns & 0xFFFFFFFF, n, n)
        self._f.write(_block(6, epb + frame))
        self.count += 1

    def __enter__(self) -> PcapngWriter:
        return self
