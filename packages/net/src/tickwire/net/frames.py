"""Ethernet (one optional 802.1Q tag) / IPv4 (any IHL) / UDP frames: parse and build.

Just enough link, network and transport layer to read and write the frames MoldUDP64 travels
in. The header layouts are written once as construct structs (:data:`ETHERNET`,
:data:`VLAN_TAG`, :data:`IPV4`, :data:`UDP`); :func:`parse_udp_frame` and
:func:`build_udp_frame` are the fast ``struct`` paths, checked against those layouts (and
against scapy) by the tests.

Addresses: MACs are 6 raw bytes, IPv4 addresses dotted-quad strings.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from typing import Any

import construct as c

from .errors import BadFrame

__all__ = [
    "ETHERNET",
    "ETHERTYPE_IPV4",
    "ETHERTYPE_VLAN",
    "IPPROTO_UDP",
    "IPV4",
    "UDP",
    "VLAN_TAG",
    "UdpFrame",
    "build_udp_frame",
    "ipv4_checksum",
    "multicast_mac",
    "parse_udp_frame",
    "udp_checksum",
]

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_VLAN = 0x8100
IPPROTO_UDP = 17
#: Don't Fragment, fragment offset 0: the IPv4 flags/offset word of an ordinary datagram.
IP_DF = 0x4000

# --- declarative layouts --------------------------------------------------------------------

ETHERNET = c.Struct("dst" / c.Bytes(6), "src" / c.Bytes(6), "ethertype" / c.Int16ub)
VLAN_TAG = c.Struct("tci" / c.Int16ub, "ethertype" / c.Int16ub)
IPV4 = c.Struct(
    "version_ihl" / c.BitStruct("version" / c.BitsInteger(4), "ihl" / c.BitsInteger(4)),
    "tos" / c.Int8ub,
    "total_length" / c.Int16ub,
    "identification" / c.Int16ub,
    "flags_fragment" / c.Int16ub,
    "ttl" / c.Int8ub,
    "protocol" / c.Int8ub,
    "checksum" / c.Int16ub,
    "src" / c.Bytes(4),
    "dst" / c.Bytes(4),
    "options" / c.Bytes(c.this.version_ihl.ihl * 4 - 20),
)
UDP = c.Struct(
    "src_port" / c.Int16ub,
    "dst_port" / c.Int16ub,
    "length" / c.Int16ub,
    "checksum" / c.Int16ub,
)

_ETH = struct.Struct(">6s6sH")
_IP = struct.Struct(">BBHHHBBH4s4s")
_UDP = struct.Struct(">HHHH")
_ZERO_MAC = b"\x00" * 6


def _fold(total: int) -> int:
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def _sum16(data: bytes) -> int:
    if len(data) & 1:
        data += b"\x00"
    return sum(struct.unpack(f">{len(data) // 2}H", data))


def ipv4_checksum(header: bytes) -> int:
    """The Internet checksum (RFC 791/1071) of an IPv4 header.

    Over a header whose checksum field is zero this is the value to store in it; over a header
    that already carries a correct checksum it is 0.
    """
    return (~_fold(_sum16(bytes(header)))) & 0xFFFF


def udp_checksum(src_ip: bytes, dst_ip: bytes, segment: bytes) -> int:
    """The UDP checksum of ``segment`` (header with checksum 0, plus payload), RFC 768.

    A computed 0 is sent as 0xFFFF, since 0 on the wire means "no checksum".
    """
    pseudo = src_ip + dst_ip + struct.pack(">BBH", 0, IPPROTO_UDP, len(segment))
    value = (~_fold(_sum16(pseudo) + _sum16(segment))) & 0xFFFF
    return value or 0xFFFF


# build_udp_frame's ``udp_checksum`` flag shadows the function inside it.
_udp_checksum = udp_checksum


def multicast_mac(ip: str | bytes) -> bytes:
    """The Ethernet address an IPv4 multicast group maps to (01:00:5e + low 23 bits)."""
    raw = _ip_bytes(ip)
    return bytes((0x01, 0x00, 0x5E, raw[1] & 0x7F, raw[2], raw[3]))


def _ip_bytes(ip: str | bytes) -> bytes:
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


def parse_udp_frame(frame: bytes | bytearray | memoryview, *, verify: bool = False) -> UdpFrame:
    """Parse an Ethernet/IPv4/UDP frame.

    Lengths come from the IPv4 total length and the UDP length, so Ethernet padding and a
    trailing FCS are ignored. With ``verify`` the IPv4 header checksum (and the UDP checksum
    when non-zero) must be correct. Raises :class:`~tickwire.moldudp64.errors.BadFrame` for
    anything else: not IPv4, not UDP, a fragment, truncated or inconsistent lengths.
    """
    data = frame if type(frame) is bytes else bytes(frame)
    n = len(data)
    if n < 14:
        raise BadFrame(f"an Ethernet header is 14 bytes, the frame has {n}", offset=0)
    dst_mac, src_mac, ethertype = _ETH.unpack_from(data)
    off = 14
    tci: int | None = None
    if ethertype == ETHERTYPE_VLAN:
        if n < 18:
            raise BadFrame("frame ends inside its 802.1Q tag", offset=14)
        tci = (data[14] << 8) | data[15]
        ethertype = (data[16] << 8) | data[17]
        off = 18
    if ethertype != ETHERTYPE_IPV4:
        raise BadFrame(f"ethertype 0x{ethertype:04x} is not IPv4", offset=off - 2)
    if n < off + 20:
        raise BadFrame("frame ends inside its IPv4 header", offset=off)
    vihl, tos, total, ident, flags_frag, ttl, proto, _cksum, src, dst = _IP.unpack_from(data, off)
    if vihl >> 4 != 4:
        raise BadFrame(f"IP version {vihl >> 4} is not 4", offset=off)
    hl = (vihl & 0x0F) * 4
    if hl < 20:
        raise BadFrame(f"IPv4 header length {hl} is below 20", offset=off)
    if total < hl or off + total > n:
        raise BadFrame(
            f"IPv4 total length {total} does not fit the {n - off} bytes after the link header",
            offset=off + 2,
        )
    if proto != IPPROTO_UDP:
        raise BadFrame(f"IP protocol {proto} is not UDP", offset=off + 9)
    if flags_frag & 0x3FFF:
        raise BadFrame("IPv4 fragment: the UDP datagram is not whole", offset=off + 6)
    if verify and ipv4_checksum(data[off : off + hl]) != 0:
        raise BadFrame("bad IPv4 header checksum", offset=off + 10)
    u = off + hl
    if total - hl < 8:
        raise BadFrame("datagram ends inside its UDP header", offset=u)
    sport, dport, ulen, ucsum = _UDP.unpack_from(data, u)
    if ulen < 8 or ulen > total - hl:
        raise BadFrame(f"UDP length {ulen} does not fit the IPv4 payload", offset=u + 4)
    if verify and ucsum and udp_checksum(src, dst, data[u : u + ulen]) != 0xFFFF:
        # Summing a segment that includes its own correct checksum gives 0 -> reported 0xFFFF.
        raise BadFrame("bad UDP checksum", offset=u + 6)
    return UdpFrame(
        dst_mac,
        src_mac,
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
    """
    src = _ip_bytes(src_ip)
    dst = _ip_bytes(dst_ip)
    if flags_fragment is None:
        flags_fragment = IP_DF if dont_fragment else 0
    if dst_mac is None:
        dst_mac = multicast_mac(dst) if 224 <= dst[0] <= 239 else _ZERO_MAC
    if len(dst_mac) != 6 or len(src_mac) != 6:
        raise BadFrame("MAC addresses are 6 bytes")
    if len(options) % 4:
        options = options + b"\x00" * (4 - len(options) % 4)
    hl = 20 + len(options)
    if hl > 60:
        raise BadFrame(f"IPv4 options of {len(options)} bytes exceed the 40-byte maximum")
    ulen = 8 + len(payload)
    total = hl + ulen
    if total > 0xFFFF:
        raise BadFrame(f"a {len(payload)}-byte payload does not fit one IPv4 datagram")
    for name, value, bits in (
        ("src_port", src_port, 16),
        ("dst_port", dst_port, 16),
        ("tos", tos, 8),
        ("identification", identification, 16),
        ("flags_fragment", flags_fragment, 16),
        ("ttl", ttl, 8),
    ):
        if not 0 <= value < (1 << bits):
            raise BadFrame(f"{name} {value} does not fit in {bits} bits")
    ip = bytearray(
        _IP.pack(
            0x40 | (hl // 4),
            tos,
            total,
            identification,
            flags_fragment,
            ttl,
            IPPROTO_UDP,
            0,
            src,
            dst,
        )
    )
    ip += options
    cks = ipv4_checksum(bytes(ip))
    ip[10] = cks >> 8
    ip[11] = cks & 0xFF
    ucsum = 0
    if udp_checksum:
        ucsum = _udp_checksum(src, dst, _UDP.pack(src_port, dst_port, ulen, 0) + payload)
    if vlan_tci is None:
        link = _ETH.pack(dst_mac, src_mac, ETHERTYPE_IPV4)
    else:
        if not 0 <= vlan_tci <= 0xFFFF:
            raise BadFrame(f"802.1Q TCI {vlan_tci} does not fit in 16 bits")
        link = _ETH.pack(dst_mac, src_mac, ETHERTYPE_VLAN) + struct.pack(
            ">HH", vlan_tci, ETHERTYPE_IPV4
        )
    return b"".join((link, ip, _UDP.pack(src_port, dst_port, ulen, ucsum), payload))


def parse_udp_frame_construct(frame: bytes) -> dict[str, Any]:
    """Parse the headers with the construct layouts (the reference the tests compare against).

    Returns a plain dict: ``eth``, ``vlan`` (or None), ``ip``, ``udp`` containers and the
    ``payload`` bytes.
    """
    try:
        eth: Any = ETHERNET.parse(frame)
        off = ETHERNET.sizeof()
        vlan: Any = None
        ethertype = eth.ethertype
        if ethertype == ETHERTYPE_VLAN:
            vlan = VLAN_TAG.parse(frame[off:])
            off += VLAN_TAG.sizeof()
            ethertype = vlan.ethertype
        ip: Any = IPV4.parse(frame[off:])
        hl = ip.version_ihl.ihl * 4
        udp: Any = UDP.parse(frame[off + hl :])
    except c.ConstructError as exc:
        raise BadFrame(f"not an Ethernet/IPv4/UDP frame: {exc}") from None
    start = off + hl + UDP.sizeof()
    return {
        "eth": eth,
        "ethertype": ethertype,
        "vlan": vlan,
        "ip": ip,
        "udp": udp,
        "payload": frame[start : off + hl + udp.length],
    }
