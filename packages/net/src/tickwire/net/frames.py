"""Ethernet II, 802.1Q, IPv4, IPv6, UDP and TCP headers: parse and build.

Parsing walks a :class:`Cursor` over the frame, one header at a time, in the manner of the
XDP tutorial's ``parsing_helpers.h``: each ``parse_*`` function checks that its header
fits between ``cursor.pos`` and ``cursor.end`` *before* reading it, checks the header's own
fields, advances ``pos`` past it and returns the header as a named tuple, whose next-layer
field (``ethertype``, ``protocol``) tells the caller which parser comes next. A header that
says how long its payload is (IPv4 total length, the UDP length) also pulls ``end`` in to
that length, so Ethernet padding and a trailing FCS never reach the next layer. Every
failure is a :class:`~tickwire.net.errors.BadFrame` naming the problem and the byte offset.

:func:`parse_udp_frame` and :func:`parse_tcp_frame` compose these parsers for the two
frames this project meets (MoldUDP64 in UDP, SoupBinTCP in TCP); :func:`network_layer`
finds the IP packet in a captured frame of any link type the readers support.

Building is the mirror image: ``build_*`` packs one header with ``struct`` (the layouts
are the ``*_HEADER`` structs below, the one place they are written) and the frame builders
fill in lengths and checksums (:mod:`tickwire.net.checksum`).

Addresses: MACs are 6 raw bytes, IPv4 addresses dotted-quad strings (or 4 raw bytes where
a builder takes them), IPv6 addresses their compressed text form.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import socket
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

from .checksum import IPPROTO_TCP, IPPROTO_UDP, ipv4_checksum, tcp_checksum, udp_checksum
from .errors import BadFrame, BadPcap, Fragment

__all__ = [
    "ETHERNET_HEADER",
    "ETHERNET_LAYOUT",
    "ETHERTYPE_IPV4",
    "ETHERTYPE_IPV6",
    "ETHERTYPE_QINQ",
    "ETHERTYPE_VLAN",
    "IPPROTO_TCP",
    "IPPROTO_UDP",
    "IPV4_HEADER",
    "IPV4_LAYOUT",
    "IPV6_HEADER",
    "IPV6_LAYOUT",
    "IP_DF",
    "LINKTYPE_ETHERNET",
    "LINKTYPE_IPV4",
    "LINKTYPE_IPV6",
    "LINKTYPE_LINUX_SLL",
    "LINKTYPE_LINUX_SLL2",
    "LINKTYPE_NAMES",
    "LINKTYPE_NULL",
    "LINKTYPE_RAW",
    "TCP_ACK",
    "TCP_FIN",
    "TCP_HEADER",
    "TCP_LAYOUT",
    "TCP_PSH",
    "TCP_RST",
    "TCP_SYN",
    "UDP_HEADER",
    "UDP_LAYOUT",
    "VLAN_LAYOUT",
    "VLAN_TAG",
    "Cursor",
    "Ethernet",
    "HeaderField",
    "HeaderLayout",
    "Ipv4",
    "Ipv6",
    "Tcp",
    "TcpFrame",
    "Udp",
    "UdpFrame",
    "build_ethernet",
    "build_ipv4",
    "build_tcp",
    "build_tcp_frame",
    "build_udp",
    "build_udp_frame",
    "ip_bytes",
    "linktype_name",
    "multicast_mac",
    "network_layer",
    "parse_ethernet",
    "parse_ipv4",
    "parse_ipv6",
    "parse_tcp",
    "parse_tcp_frame",
    "parse_udp",
    "parse_udp_frame",
    "positional_constructor",
]

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD
ETHERTYPE_VLAN = 0x8100
#: 802.1ad service tag (the outer tag of QinQ).
ETHERTYPE_QINQ = 0x88A8
#: Don't Fragment, fragment offset 0: the IPv4 flags/offset word of an ordinary datagram.
IP_DF = 0x4000

TCP_FIN = 0x01
TCP_SYN = 0x02
TCP_RST = 0x04
TCP_PSH = 0x08
TCP_ACK = 0x10

# pcap LINKTYPE_* values of the link layers network_layer() reads.
LINKTYPE_NULL = 0  # BSD loopback: a 4-byte address family in host order
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101  # raw IPv4 or IPv6 (version nibble)
LINKTYPE_LINUX_SLL = 113  # Linux cooked capture v1 (tcpdump -i any)
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276

#: Names of common link types, for error messages.
LINKTYPE_NAMES = {
    LINKTYPE_NULL: "BSD loopback",
    LINKTYPE_ETHERNET: "Ethernet",
    LINKTYPE_RAW: "raw IP",
    105: "802.11",
    LINKTYPE_LINUX_SLL: "Linux cooked (SLL)",
    127: "802.11 radiotap",
    LINKTYPE_IPV4: "raw IPv4",
    LINKTYPE_IPV6: "raw IPv6",
    LINKTYPE_LINUX_SLL2: "Linux cooked v2 (SLL2)",
}


def linktype_name(linktype: int) -> str:
    """``"113 (Linux cooked (SLL))"``: the number and, when known, the name."""
    name = LINKTYPE_NAMES.get(linktype)
    return f"{linktype} ({name})" if name else str(linktype)


# --- the header layouts (the one place they are written) -----------------------------------


@dataclass(frozen=True, slots=True)
class HeaderField:
    """One field of a header: its name, byte offset and size."""

    name: str
    offset: int
    size: int


class HeaderLayout:
    """The wire layout of one header, as a table of ``(field, struct code)`` in order.

    The table is the one place the layout is written: :attr:`struct` (big-endian) packs
    and unpacks the header, :attr:`fields` gives each field's offset and size (the C header
    of the compiled backends is generated from them, ``tickwire.threshold.cheader``).
    """

    __slots__ = ("fields", "name", "size", "struct")

    def __init__(self, name: str, table: tuple[tuple[str, str], ...]) -> None:
        self.name = name
        self.struct = struct.Struct(">" + "".join(code for _, code in table))
        fields = []
        pos = 0
        for field_name, code in table:
            width = struct.calcsize(">" + code)
            fields.append(HeaderField(field_name, pos, width))
            pos += width
        self.fields: tuple[HeaderField, ...] = tuple(fields)
        self.size: int = pos

    def field(self, name: str) -> HeaderField:
        """The field called ``name``."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name!r}")

    def __repr__(self) -> str:
        return f"HeaderLayout({self.name!r}, {self.size} bytes)"


#: Ethernet II: destination MAC, source MAC, ethertype.
ETHERNET_LAYOUT = HeaderLayout("Ethernet II", (("dst", "6s"), ("src", "6s"), ("ethertype", "H")))
#: 802.1Q / 802.1ad tag after the source MAC: TCI, then the inner ethertype.
VLAN_LAYOUT = HeaderLayout("802.1Q tag", (("tci", "H"), ("ethertype", "H")))
#: IPv4 without its options (version and IHL share the first byte).
IPV4_LAYOUT = HeaderLayout(
    "IPv4",
    (
        ("version_ihl", "B"),
        ("tos", "B"),
        ("total_length", "H"),
        ("identification", "H"),
        ("flags_fragment", "H"),
        ("ttl", "B"),
        ("protocol", "B"),
        ("checksum", "H"),
        ("src", "4s"),
        ("dst", "4s"),
    ),
)
#: The IPv6 fixed header (version, traffic class and flow label share the first word).
IPV6_LAYOUT = HeaderLayout(
    "IPv6",
    (
        ("version_class_flow", "I"),
        ("payload_length", "H"),
        ("next_header", "B"),
        ("hop_limit", "B"),
        ("src", "16s"),
        ("dst", "16s"),
    ),
)
UDP_LAYOUT = HeaderLayout(
    "UDP", (("src_port", "H"), ("dst_port", "H"), ("length", "H"), ("checksum", "H"))
)
#: TCP without its options (data offset and flags share one 16-bit word).
TCP_LAYOUT = HeaderLayout(
    "TCP",
    (
        ("src_port", "H"),
        ("dst_port", "H"),
        ("seq", "I"),
        ("ack", "I"),
        ("offset_flags", "H"),
        ("window", "H"),
        ("checksum", "H"),
        ("urgent", "H"),
    ),
)

# The structs the parsers and builders use, from the tables.
ETHERNET_HEADER = ETHERNET_LAYOUT.struct
VLAN_TAG = VLAN_LAYOUT.struct
IPV4_HEADER = IPV4_LAYOUT.struct
IPV6_HEADER = IPV6_LAYOUT.struct
UDP_HEADER = UDP_LAYOUT.struct
TCP_HEADER = TCP_LAYOUT.struct

_T = TypeVar("_T")
_ZERO_MAC = b"\x00" * 6


class Cursor:
    """A position in a frame and the end of the current layer (``data[pos:end]``).

    The ``parse_*`` functions check their header fits before ``end``, advance ``pos`` past
    it and may pull ``end`` in to the length the header declares.
    """

    __slots__ = ("data", "end", "pos")

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    def rest(self) -> bytes:
        """The bytes of the current layer not parsed yet."""
        return self.data[self.pos : self.end]

    def __repr__(self) -> str:
        return f"Cursor(pos={self.pos}, end={self.end}, len={len(self.data)})"


class Ethernet(NamedTuple):
    """An Ethernet II header, with the 802.1Q tag's TCI (the outer one if stacked)."""

    dst: bytes
    src: bytes
    #: The ethertype after the tags: what comes next.
    ethertype: int
    vlan_tci: int | None = None


class Ipv4(NamedTuple):
    """An IPv4 header (addresses as 4 raw bytes)."""

    tos: int
    total_length: int
    identification: int
    flags_fragment: int
    ttl: int
    protocol: int
    checksum: int
    src: bytes
    dst: bytes
    options: bytes = b""

    @property
    def header_length(self) -> int:
        return 20 + len(self.options)


class Ipv6(NamedTuple):
    """An IPv6 fixed header (addresses as 16 raw bytes)."""

    traffic_class: int
    flow_label: int
    payload_length: int
    next_header: int
    hop_limit: int
    src: bytes
    dst: bytes


class Udp(NamedTuple):
    src_port: int
    dst_port: int
    length: int
    checksum: int


class Tcp(NamedTuple):
    src_port: int
    dst_port: int
    seq: int
    ack: int
    #: FIN, SYN, RST, PSH, ACK, URG (the low 6 bits of the flags).
    flags: int
    window: int
    checksum: int
    urgent: int = 0
    options: bytes = b""


# Each header's checks are written once, in a core that works on (data, pos, end) and
# returns plain values; the public parse_* functions wrap a core for a Cursor and return
# named tuples, and parse_udp_frame (the hot path of captures and the XDP mirror) calls the
# cores directly, which saves building objects it would throw away.


def _ethernet(data: bytes, pos: int, end: int, max_tags: int) -> tuple[int, int | None, int]:
    """Ethernet core: ``(ethertype after the tags, first TCI or None, position after)``."""
    if end - pos < 14:
        raise BadFrame(f"an Ethernet header is 14 bytes, the frame has {end - pos}", offset=pos)
    ethertype = (data[pos + 12] << 8) | data[pos + 13]
    pos += 14
    if ethertype != 0x8100 and ethertype != 0x88A8:  # untagged (ETHERTYPE_VLAN, _QINQ)
        return ethertype, None, pos
    tci: int | None = None
    tags = 0
    while ethertype in (ETHERTYPE_VLAN, ETHERTYPE_QINQ):
        if tags == max_tags:
            raise BadFrame(f"more than {max_tags} VLAN tags", offset=pos - 2)
        if end - pos < 4:
            raise BadFrame("frame ends inside its 802.1Q tag", offset=pos)
        if tci is None:
            tci = (data[pos] << 8) | data[pos + 1]
        ethertype = (data[pos + 2] << 8) | data[pos + 3]
        tags += 1
        pos += 4
    return ethertype, tci, pos


_Ipv4Fields = tuple[int, int, int, int, int, int, int, int, bytes, bytes]


def _ipv4(data: bytes, pos: int, end: int, truncated_ok: bool) -> tuple[_Ipv4Fields, int, int]:
    """IPv4 core: ``(the header's struct fields, header length, end of the datagram)``."""
    avail = end - pos
    if avail < 20:
        raise BadFrame("frame ends inside its IPv4 header", offset=pos)
    fields: _Ipv4Fields = IPV4_HEADER.unpack_from(data, pos)
    vihl = fields[0]
    if vihl >> 4 != 4:
        raise BadFrame(f"IP version {vihl >> 4} is not 4", offset=pos)
    hl = (vihl & 0x0F) * 4
    if hl < 20:
        raise BadFrame(f"IPv4 header length {hl} is below 20", offset=pos)
    total = fields[2]
    if hl <= total <= avail:
        return fields, hl, pos + total
    if not truncated_ok or (total and total < hl) or hl > avail:
        raise BadFrame(
            f"IPv4 total length {total} does not fit the {avail} bytes after the link header",
            offset=pos + 2,
        )
    return fields, hl, end


def _udp(data: bytes, pos: int, end: int) -> tuple[int, int, int, int]:
    """UDP core: ``(source port, destination port, length, checksum)``."""
    if end - pos < 8:
        raise BadFrame("datagram ends inside its UDP header", offset=pos)
    fields: tuple[int, int, int, int] = UDP_HEADER.unpack_from(data, pos)
    if fields[2] < 8 or fields[2] > end - pos:
        raise BadFrame(f"UDP length {fields[2]} does not fit the IPv4 payload", offset=pos + 4)
    return fields


def parse_ethernet(cur: Cursor, *, max_tags: int = 2) -> Ethernet:
    """Parse an Ethernet II header and up to ``max_tags`` 802.1Q/802.1ad tags."""
    pos = cur.pos
    ethertype, tci, cur.pos = _ethernet(cur.data, pos, cur.end, max_tags)
    return Ethernet(cur.data[pos : pos + 6], cur.data[pos + 6 : pos + 12], ethertype, tci)


def parse_ipv4(cur: Cursor, *, truncated_ok: bool = False) -> Ipv4:
    """Parse an IPv4 header (any IHL) and pull ``end`` in to its total length.

    A total length beyond the bytes present is an error, unless ``truncated_ok`` (a capture
    cut at its snap length, or a segmentation-offload capture whose total length is 0):
    then ``end`` stays where it was.
    """
    pos = cur.pos
    f, hl, cur.end = _ipv4(cur.data, pos, cur.end, truncated_ok)
    cur.pos = pos + hl
    return Ipv4(*f[1:], cur.data[pos + 20 : pos + hl])


def parse_ipv6(cur: Cursor, *, truncated_ok: bool = False) -> Ipv6:
    """Parse the IPv6 fixed header (extension headers are the caller's: ``next_header``)
    and pull ``end`` in to its payload length."""
    data, pos = cur.data, cur.pos
    avail = cur.end - pos
    if avail < 40:
        raise BadFrame("frame ends inside its IPv6 header", offset=pos)
    vtf, plen, nxt, hops, src, dst = IPV6_HEADER.unpack_from(data, pos)
    if vtf >> 28 != 6:
        raise BadFrame(f"IP version {vtf >> 28} is not 6", offset=pos)
    if 40 + plen > avail:
        if not truncated_ok:
            raise BadFrame(
                f"IPv6 payload length {plen} does not fit the {avail - 40} bytes after its header",
                offset=pos + 4,
            )
    else:
        cur.end = pos + 40 + plen
    cur.pos = pos + 40
    return Ipv6((vtf >> 20) & 0xFF, vtf & 0xFFFFF, plen, nxt, hops, src, dst)


def parse_udp(cur: Cursor) -> Udp:
    """Parse a UDP header and pull ``end`` in to the UDP length."""
    pos = cur.pos
    udp = Udp(*_udp(cur.data, pos, cur.end))
    cur.pos = pos + 8
    cur.end = pos + udp.length
    return udp


def parse_tcp(cur: Cursor) -> Tcp:
    """Parse a TCP header with its options; the payload is what is left up to ``end``."""
    pos = cur.pos
    if cur.end - pos < 20:
        raise BadFrame("segment ends inside its TCP header", offset=pos)
    sport, dport, seq, ack, off_flags, window, cksum, urg = TCP_HEADER.unpack_from(cur.data, pos)
    doff = (off_flags >> 12) * 4
    if doff < 20 or doff > cur.end - pos:
        raise BadFrame(f"TCP data offset {doff} does not fit the segment", offset=pos + 12)
    cur.pos = pos + doff
    return Tcp(
        sport,
        dport,
        seq,
        ack,
        off_flags & 0x3F,
        window,
        cksum,
        urg,
        cur.data[pos + 20 : pos + doff],
    )


_SLL_IP = {ETHERTYPE_IPV4, ETHERTYPE_IPV6}


def network_layer(linktype: int, frame: bytes) -> tuple[int, Cursor] | None:
    """Where the IP packet of a captured frame starts: ``(ethertype, cursor)``.

    Reads Ethernet (with 802.1Q/802.1ad tags), Linux cooked v1 and v2, BSD loopback and raw
    IP (101, 228, 229). ``None`` when the frame is too short for its link header or carries
    neither IPv4 nor IPv6. A link type it cannot read raises
    :class:`~tickwire.net.errors.BadPcap` instead: skipping every frame of such a capture
    would make it look empty.
    """
    n = len(frame)
    if linktype == LINKTYPE_ETHERNET:
        cur = Cursor(frame)
        try:
            eth = parse_ethernet(cur)
        except BadFrame:
            return None
        return (eth.ethertype, cur) if eth.ethertype in _SLL_IP else None
    if linktype == LINKTYPE_LINUX_SLL:
        if n < 16:
            return None
        etype = (frame[14] << 8) | frame[15]
        return (etype, Cursor(frame, 16)) if etype in _SLL_IP else None
    if linktype == LINKTYPE_LINUX_SLL2:
        if n < 20:
            return None
        etype = (frame[0] << 8) | frame[1]
        return (etype, Cursor(frame, 20)) if etype in _SLL_IP else None
    if linktype in (LINKTYPE_NULL, LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6):
        start = 4 if linktype == LINKTYPE_NULL else 0
        if n <= start:
            return None
        version = frame[start] >> 4
        if version == 4:
            return ETHERTYPE_IPV4, Cursor(frame, start)
        if version == 6:
            return ETHERTYPE_IPV6, Cursor(frame, start)
        return None
    raise BadPcap(
        f"link type {linktype_name(linktype)} cannot be read (Ethernet 1, Linux cooked "
        "113/276, BSD loopback 0 and raw IP 101/228/229 can)"
    )


# --- UDP frames ----------------------------------------------------------------------------


def multicast_mac(ip: str | bytes) -> bytes:
    """The Ethernet address an IPv4 multicast group maps to (01:00:5e + low 23 bits)."""
    raw = ip_bytes(ip)
    return bytes((0x01, 0x00, 0x5E, raw[1] & 0x7F, raw[2], raw[3]))


def ip_bytes(ip: str | bytes | bytearray) -> bytes:
    """An IPv4 address as 4 raw bytes (from a dotted quad or 4 bytes)."""
    if isinstance(ip, bytes | bytearray):
        if len(ip) != 4:
            raise BadFrame(f"an IPv4 address is 4 bytes, not {len(ip)}")
        return bytes(ip)
    try:
        return socket.inet_pton(socket.AF_INET, ip)
    except OSError:
        raise BadFrame(f"{ip!r} is not a dotted-quad IPv4 address") from None


@dataclass(frozen=True, slots=True)
class UdpFrame:
    """One Ethernet/IPv4/UDP frame, with every header field needed to rebuild it."""

    dst_mac: bytes
    src_mac: bytes
    vlan_tci: int | None
    src_ip: str
    dst_ip: str
    src_port: int
    dst_port: int
    payload: bytes
    ip_tos: int = 0
    ip_id: int = 0
    ip_flags_fragment: int = IP_DF
    ip_ttl: int = 64
    ip_options: bytes = b""
    #: The UDP checksum as found (0: none). :meth:`build` recomputes it when it was non-zero.
    udp_checksum: int = 0

    def build(self) -> bytes:
        """Rebuild the frame (fresh IPv4 checksum; UDP checksum recomputed if one was set)."""
        return build_udp_frame(
            self.payload,
            src_ip=self.src_ip,
            dst_ip=self.dst_ip,
            src_port=self.src_port,
            dst_port=self.dst_port,
            dst_mac=self.dst_mac,
            src_mac=self.src_mac,
            vlan_tci=self.vlan_tci,
            tos=self.ip_tos,
            identification=self.ip_id,
            flags_fragment=self.ip_flags_fragment,
            ttl=self.ip_ttl,
            options=self.ip_options,
            udp_checksum=self.udp_checksum != 0,
        )


def positional_constructor(cls: type[_T]) -> Callable[..., _T]:
    """A constructor of the frozen, slotted dataclass ``cls`` taking every field in order
    (by position or by name; a field with a plain default may be left out).

    A frozen dataclass's ``__init__`` stores each field with ``object.__setattr__(self,
    name, value)``, a lookup by name per field: for :class:`UdpFrame` (14 fields) that was
    half the cost of :func:`parse_udp_frame`. This writes each slot through its descriptor
    instead, with the descriptors bound once; the instance is the same (frozen, equal,
    hashable), only built faster. It runs no ``__post_init__`` and no default factory:
    for a class without either, and for values the caller has already checked (the
    engine uses it for the events and OUCH messages it builds itself).
    """
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    names = [f.name for f in fields]
    env: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    env.update({f"_set{i}": getattr(cls, name).__set__ for i, name in enumerate(names)})
    params = []
    for i, f in enumerate(fields):
        if f.default is not dataclasses.MISSING:
            env[f"_default{i}"] = f.default
            params.append(f"{f.name}=_default{i}")
        else:
            params.append(f.name)
    body = "".join(f"    _set{i}(obj, {name})\n" for i, name in enumerate(names))
    exec(f"def make({', '.join(params)}):\n    obj = _new(_cls)\n{body}    return obj\n", env)
    make: Callable[..., _T] = env["make"]
    return make


_make_udp_frame = positional_constructor(UdpFrame)


def parse_udp_frame(frame: bytes | bytearray | memoryview, *, verify: bool = False) -> UdpFrame:
    """Parse an Ethernet (up to two VLAN tags) / IPv4 / UDP frame.

    Tags: none, one, or two stacked (QinQ: a provider's S-tag over the customer's
    C-tag), each an EtherType 0x8100 (802.1Q) or 0x88A8 (802.1ad), either at either depth,
    as :func:`parse_ethernet` reads them (and the threshold contract's ``scan_frame``);
    ``vlan_tci`` is the outer tag's. A third tag is a :class:`~tickwire.net.errors.BadFrame`. Why: a feed
    carried in QinQ (a provider's S-tag over the customer's VLAN) was read as other
    traffic, "more than 1 VLAN tags", its packets lost without a word in every capture
    reader. Test: ``packages/moldudp64/tests/test_moldudp64_tshark.py::test_a_qinq_feed_is_read_as_tshark_reads_it``,
    ``tests/test_capture_rules.py::test_a_feed_in_qinq_is_read_as_the_feed``.

    The checks of :func:`parse_ethernet`, :func:`parse_ipv4` and :func:`parse_udp` in turn
    (their cores, without the named tuples), so lengths come from the IPv4 total length and
    the UDP length (Ethernet padding and a trailing FCS are ignored). With ``verify`` the IPv4 header checksum (and the UDP checksum when
    non-zero) must be correct. Raises :class:`~tickwire.net.errors.BadFrame` for anything
    else: not IPv4, not UDP, a fragment, truncated or inconsistent lengths.
    """
    data = frame if type(frame) is bytes else bytes(frame)
    n = len(data)
    ethertype, tci, off = _ethernet(data, 0, n, 2)
    if ethertype != ETHERTYPE_IPV4:
        raise BadFrame(f"ethertype 0x{ethertype:04x} is not IPv4", offset=off - 2)
    ip, hl, end = _ipv4(data, off, n, False)
    _vihl, tos, _total, ident, flags_frag, ttl, proto, _cksum, src, dst = ip
    if proto != IPPROTO_UDP:
        raise BadFrame(f"IP protocol {proto} is not UDP", offset=off + 9)
    if flags_frag & 0x3FFF:
        raise _fragment(data, off + hl, end, flags_frag, off + 6, (src, dst, ident))
    if verify and ipv4_checksum(data[off : off + hl]) != 0:
        raise BadFrame("bad IPv4 header checksum", offset=off + 10)
    u = off + hl
    sport, dport, ulen, ucsum = _udp(data, u, end)
    if verify and ucsum and udp_checksum(src, dst, data[u : u + ulen]) != 0xFFFF:
        # Summing a segment that includes its own correct checksum gives 0 -> reported 0xFFFF.
        raise BadFrame("bad UDP checksum", offset=u + 6)
    return _make_udp_frame(
        data[0:6],
        data[6:12],
        tci,
        socket.inet_ntoa(src),
        socket.inet_ntoa(dst),
        sport,
        dport,
        data[u + 8 : u + ulen],
        tos,
        ident,
        flags_frag,
        ttl,
        data[off + 20 : off + hl],
        ucsum,
    )


def _fragment(
    data: bytes, u: int, end: int, flags_frag: int, at: int, datagram: tuple[bytes, bytes, int]
) -> Fragment:
    """The :class:`~tickwire.net.errors.Fragment` of an IPv4 fragment of a UDP datagram
    whose payload starts at ``u`` (the UDP header, in the first fragment); ``datagram``
    is its IPv4 source, destination and identification."""
    first = not flags_frag & 0x1FFF
    ports = struct.unpack_from(">HH", data, u) if first and end - u >= 4 else (None, None)
    src, dst, ident = datagram
    return Fragment(
        "IPv4 fragment: the UDP datagram is not whole",
        offset=at,
        first=first,
        src_port=ports[0],
        dst_port=ports[1],
        src_ip=socket.inet_ntoa(src),
        dst_ip=socket.inet_ntoa(dst),
        ident=ident,
        head=data[u + 8 : min(end, u + 28)] if first else b"",
    )


def _check_fields(*fields: tuple[str, int, int]) -> None:
    for name, value, bits in fields:
        if not 0 <= value < (1 << bits):
            raise BadFrame(f"{name} {value} does not fit in {bits} bits")


def build_ethernet(
    dst_mac: bytes,
    src_mac: bytes,
    ethertype: int,
    *,
    vlan_tci: int | None = None,
    vlan_tags: Sequence[tuple[int, int]] = (),
) -> bytes:
    """An Ethernet II header, with one 802.1Q tag when ``vlan_tci`` is given.

    ``vlan_tags`` stacks tags instead, outer first, each a ``(TPID, TCI)`` pair (QinQ:
    ``((ETHERTYPE_QINQ, s_tci), (ETHERTYPE_VLAN, c_tci))``); each TPID is written as the
    EtherType before its tag, ``ethertype`` after the last. Any number is built (a
    three-tag frame is how a test shows :func:`parse_ethernet` refusing one); give
    ``vlan_tci`` or ``vlan_tags``, not both. Test:
    ``packages/net/tests/test_net_frames.py::test_build_ethernet_stacks_tags_as_parse_ethernet_reads_them``.
    """
    if len(dst_mac) != 6 or len(src_mac) != 6:
        raise BadFrame("MAC addresses are 6 bytes")
    if not 0 <= ethertype < 0x10000:
        _check_fields(("ethertype", ethertype, 16))
    if vlan_tci is not None:
        if vlan_tags:
            raise BadFrame("give vlan_tci or vlan_tags, not both")
        vlan_tags = ((ETHERTYPE_VLAN, vlan_tci),)
    for tpid, tci in vlan_tags:
        if not 0 <= tpid <= 0xFFFF:
            raise BadFrame(f"VLAN TPID {tpid} does not fit in 16 bits")
        if not 0 <= tci <= 0xFFFF:
            raise BadFrame(f"802.1Q TCI {tci} does not fit in 16 bits")
    if not vlan_tags:
        return ETHERNET_HEADER.pack(dst_mac, src_mac, ethertype)
    nexts = [tpid for tpid, _ in vlan_tags[1:]] + [ethertype]
    return ETHERNET_HEADER.pack(dst_mac, src_mac, vlan_tags[0][0]) + b"".join(
        VLAN_TAG.pack(tci, after) for (_, tci), after in zip(vlan_tags, nexts, strict=True)
    )


def build_ipv4(
    src: bytes,
    dst: bytes,
    protocol: int,
    payload_length: int,
    *,
    tos: int = 0,
    identification: int = 0,
    flags_fragment: int = IP_DF,
    ttl: int = 64,
    options: bytes = b"",
) -> bytes:
    """An IPv4 header with a valid checksum (``src``/``dst``: 4 raw bytes each).

    ``options`` are padded with zeros (End of Option List) to a multiple of 4.
    """
    if len(options) % 4:
        options = options + b"\x00" * (4 - len(options) % 4)
    hl = 20 + len(options)
    if hl > 60:
        raise BadFrame(f"IPv4 options of {len(options)} bytes exceed the 40-byte maximum")
    total = hl + payload_length
    if total > 0xFFFF:
        raise BadFrame(f"a {payload_length}-byte payload does not fit one IPv4 datagram")
    if not (
        0 <= tos < 0x100
        and 0 <= identification < 0x10000
        and 0 <= flags_fragment < 0x10000
        and 0 <= ttl < 0x100
        and 0 <= protocol < 0x100
    ):  # the comparisons alone on the way that succeeds; the message only on failure
        _check_fields(
            ("tos", tos, 8),
            ("identification", identification, 16),
            ("flags_fragment", flags_fragment, 16),
            ("ttl", ttl, 8),
            ("protocol", protocol, 8),
        )
    vihl = 0x40 | (hl // 4)
    pack = IPV4_HEADER.pack
    cks = ipv4_checksum(
        pack(vihl, tos, total, identification, flags_fragment, ttl, protocol, 0, src, dst) + options
    )
    return (
        pack(vihl, tos, total, identification, flags_fragment, ttl, protocol, cks, src, dst)
        + options
    )


def build_udp(
    src_port: int,
    dst_port: int,
    payload: bytes,
    *,
    checksum_ips: tuple[bytes, bytes] | None = None,
) -> bytes:
    """A UDP header for ``payload``; with the checksum over ``checksum_ips`` (source and
    destination, 4 raw bytes each) when given, else 0 ("none", legal over IPv4)."""
    if not (0 <= src_port < 0x10000 and 0 <= dst_port < 0x10000):
        _check_fields(("src_port", src_port, 16), ("dst_port", dst_port, 16))
    ulen = 8 + len(payload)
    if ulen > 0xFFFF:
        raise BadFrame(f"a {len(payload)}-byte payload does not fit one UDP datagram")
    csum = 0
    if checksum_ips is not None:
        csum = udp_checksum(*checksum_ips, UDP_HEADER.pack(src_port, dst_port, ulen, 0) + payload)
    return UDP_HEADER.pack(src_port, dst_port, ulen, csum)


def build_udp_frame(
    payload: bytes,
    *,
    src_ip: str | bytes,
    dst_ip: str | bytes,
    src_port: int,
    dst_port: int,
    dst_mac: bytes | None = None,
    src_mac: bytes = _ZERO_MAC,
    vlan_tci: int | None = None,
    vlan_tags: Sequence[tuple[int, int]] = (),
    tos: int = 0,
    identification: int = 0,
    dont_fragment: bool = True,
    flags_fragment: int | None = None,
    ttl: int = 64,
    options: bytes = b"",
    udp_checksum: bool = False,
) -> bytes:
    """Build an Ethernet/IPv4/UDP frame with a valid IPv4 header checksum.

    IPv4 addresses are dotted-quad strings or 4 raw bytes. The flags/fragment word is DF (or 0
    with ``dont_fragment=False``) unless ``flags_fragment`` gives the whole 16-bit word.

    ``dst_mac`` defaults to the group's multicast MAC for a multicast ``dst_ip`` (else zeros).
    ``options`` are IPv4 options, padded with zeros (End of Option List) to a multiple of 4.
    The UDP checksum is 0 ("none", legal over IPv4) unless ``udp_checksum`` asks for one.
    ``vlan_tci`` (one 802.1Q tag) or ``vlan_tags`` (stacked tags) as :func:`build_ethernet`.
    """
    src = ip_bytes(src_ip)
    dst = ip_bytes(dst_ip)
    if flags_fragment is None:
        flags_fragment = IP_DF if dont_fragment else 0
    if dst_mac is None:
        dst_mac = multicast_mac(dst) if 224 <= dst[0] <= 239 else _ZERO_MAC
    link = build_ethernet(dst_mac, src_mac, ETHERTYPE_IPV4, vlan_tci=vlan_tci, vlan_tags=vlan_tags)
    udp = build_udp(src_port, dst_port, payload, checksum_ips=(src, dst) if udp_checksum else None)
    ip = build_ipv4(
        src,
        dst,
        IPPROTO_UDP,
        8 + len(payload),
        tos=tos,
        identification=identification,
        flags_fragment=flags_fragment,
        ttl=ttl,
        options=options,
    )
    return b"".join((link, ip, udp, payload))


# --- TCP frames ----------------------------------------------------------------------------


def build_tcp(
    src_port: int,
    dst_port: int,
    seq: int,
    ack: int,
    flags: int,
    payload: bytes = b"",
    *,
    window: int = 65535,
    options: bytes = b"",
    checksum_ips: tuple[bytes, bytes] | None = None,
) -> bytes:
    """A TCP header (``options`` padded with zeros to a multiple of 4), with the checksum
    over ``checksum_ips`` (4 raw bytes each) when given, else 0."""
    _check_fields(
        ("src_port", src_port, 16),
        ("dst_port", dst_port, 16),
        ("seq", seq, 32),
        ("ack", ack, 32),
        ("flags", flags, 6),
        ("window", window, 16),
    )
    if len(options) % 4:
        options = options + b"\x00" * (4 - len(options) % 4)
    doff = 20 + len(options)
    if doff > 60:
        raise BadFrame(f"TCP options of {len(options)} bytes exceed the 40-byte maximum")
    hdr = TCP_HEADER.pack(src_port, dst_port, seq, ack, (doff // 4) << 12 | flags, window, 0, 0)
    hdr += options
    if checksum_ips is None:
        return hdr
    csum = tcp_checksum(*checksum_ips, hdr + payload)
    return hdr[:16] + struct.pack(">H", csum) + hdr[18:]


@dataclass(frozen=True, slots=True)
class TcpFrame:
    """The TCP segment of an IPv4 or IPv6 packet: addresses as text, header, payload."""

    src_ip: str
    dst_ip: str
    tcp: Tcp
    payload: bytes


def parse_tcp_frame(linktype: int, frame: bytes, *, truncated_ok: bool = True) -> TcpFrame | None:
    """The TCP segment of a captured frame of any link type :func:`network_layer` reads.

    ``None`` for a frame that is not IPv4/IPv6 TCP (IPv6 without extension headers) or that
    is too short for its headers; a link type it cannot read raises
    :class:`~tickwire.net.errors.BadPcap`. ``truncated_ok`` (the default) accepts an IP
    total length beyond the captured bytes (snap length, segmentation offload) and keeps
    what was captured.
    """
    found = network_layer(linktype, frame)
    if found is None:
        return None
    ethertype, cur = found
    try:
        if ethertype == ETHERTYPE_IPV4:
            ip4 = parse_ipv4(cur, truncated_ok=truncated_ok)
            if ip4.protocol != IPPROTO_TCP:
                return None
            src, dst = socket.inet_ntoa(ip4.src), socket.inet_ntoa(ip4.dst)
        else:
            ip6 = parse_ipv6(cur, truncated_ok=truncated_ok)
            if ip6.next_header != IPPROTO_TCP:
                return None
            src = str(ipaddress.IPv6Address(ip6.src))
            dst = str(ipaddress.IPv6Address(ip6.dst))
        tcp = parse_tcp(cur)
    except BadFrame:
        return None
    return TcpFrame(src, dst, tcp, cur.data[cur.pos : cur.end])


def build_tcp_frame(
    payload: bytes,
    *,
    src: tuple[str | bytes, int],
    dst: tuple[str | bytes, int],
    seq: int,
    ack: int,
    flags: int,
    src_mac: bytes = b"\x02\x00\x00\x00\x00\x01",
    dst_mac: bytes = b"\x02\x00\x00\x00\x00\x02",
    window: int = 65535,
    ttl: int = 64,
) -> bytes:
    """An Ethernet/IPv4/TCP frame with valid IPv4 and TCP checksums (DF set, id 0)."""
    sip, dip = ip_bytes(src[0]), ip_bytes(dst[0])
    tcp = build_tcp(
        src[1], dst[1], seq, ack, flags, payload, window=window, checksum_ips=(sip, dip)
    )
    ip = build_ipv4(sip, dip, IPPROTO_TCP, len(tcp) + len(payload), ttl=ttl)
    return build_ethernet(dst_mac, src_mac, ETHERTYPE_IPV4) + ip + tcp + payload
