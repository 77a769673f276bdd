"""Deprecated: the frames moved to :mod:`tickwire.net.frames` (tickwire-net).

This module re-exports them for one minor version and warns on import. What stays here
is construct-based (tickwire-net has no dependencies): the declarative layouts
:data:`ETHERNET`, :data:`VLAN_TAG`, :data:`IPV4`, :data:`UDP` and
:func:`parse_udp_frame_construct`. :func:`parse_udp_frame` and :func:`build_udp_frame`
raise this package's :class:`~tickwire.moldudp64.errors.BadFrame` (a ``MoldError`` and a
``tickwire.net.errors.BadFrame``), as they did.
"""

from __future__ import annotations

import warnings
from typing import Any

import construct as c
from tickwire.net import frames as _frames
from tickwire.net.checksum import IPPROTO_UDP, ipv4_checksum, udp_checksum
from tickwire.net.errors import BadFrame as _NetBadFrame
from tickwire.net.frames import (
    ETHERTYPE_IPV4,
    ETHERTYPE_QINQ,
    ETHERTYPE_VLAN,
    IP_DF,
    UdpFrame,
    multicast_mac,
)

from .errors import BadFrame

warnings.warn(
    "tickwire.moldudp64.net is deprecated: use tickwire.net.frames (tickwire-net)",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = [
    "ETHERNET",
    "ETHERTYPE_IPV4",
    "ETHERTYPE_VLAN",
    "IPPROTO_UDP",
    "IPV4",
    "IP_DF",
    "UDP",
    "VLAN_TAG",
    "UdpFrame",
    "build_udp_frame",
    "ipv4_checksum",
    "multicast_mac",
    "parse_udp_frame",
    "udp_checksum",
]

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


def parse_udp_frame(frame: bytes | bytearray | memoryview, *, verify: bool = False) -> UdpFrame:
    """:func:`tickwire.net.frames.parse_udp_frame`, raising this package's ``BadFrame``."""
    try:
        return _frames.parse_udp_frame(frame, verify=verify)
    except _NetBadFrame as exc:
        raise BadFrame(exc.reason, offset=exc.offset) from None


def build_udp_frame(payload: bytes, **kwargs: Any) -> bytes:
    """:func:`tickwire.net.frames.build_udp_frame`, raising this package's ``BadFrame``."""
    try:
        return _frames.build_udp_frame(payload, **kwargs)
    except _NetBadFrame as exc:
        raise BadFrame(exc.reason, offset=exc.offset) from None


def parse_udp_frame_construct(frame: bytes) -> dict[str, Any]:
    """Parse the headers with the construct layouts (the reference the tests compare against).

    Returns a plain dict: ``eth``, ``vlan`` (the outer of up to two tags, or None), ``ip``,
    ``udp`` containers and the ``payload`` bytes.
    """
    try:
        eth: Any = ETHERNET.parse(frame)
        off = ETHERNET.sizeof()
        vlan: Any = None
        ethertype = eth.ethertype
        for _ in range(2):  # up to two stacked tags (QinQ), as parse_udp_frame; the outer one
            if ethertype not in (ETHERTYPE_VLAN, ETHERTYPE_QINQ):
                break
            tag: Any = VLAN_TAG.parse(frame[off:])
            vlan = vlan if vlan is not None else tag
            off += VLAN_TAG.sizeof()
            ethertype = tag.ethertype
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
