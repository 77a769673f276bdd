"""tickwire-net: the network layer under every tickwire codec, with no dependencies.

* :mod:`tickwire.net.frames`: Ethernet II, 802.1Q, IPv4, IPv6, UDP and TCP headers, parsed
  one at a time with a bounds-checked :class:`~tickwire.net.frames.Cursor` and built with
  valid lengths and checksums; :func:`parse_udp_frame` / :func:`build_udp_frame` for the
  frames MoldUDP64 travels in.
* :mod:`tickwire.net.checksum`: the Internet checksum (IPv4 header, UDP and TCP with the
  pseudo-header).
* :mod:`tickwire.net.pcap`: one pcap/pcapng reader (gzip too) and a writer for each format.
* :mod:`tickwire.net.tcp`: TCP segments out of captures, linear-time reassembly with gap
  reporting, a writer of TCP conversations.
* :mod:`tickwire.net.stats`: :func:`percentiles`, the project's one definition of P50, P99,
  P99.9 and the tail ratio (nearest rank).
"""

from __future__ import annotations

from .checksum import internet_checksum, ipv4_checksum, tcp_checksum, udp_checksum
from .errors import BadFrame, BadPcap, CutPcap, Fragment, NetError
from .frames import (
    LINKTYPE_ETHERNET,
    LINKTYPE_NAMES,
    Cursor,
    UdpFrame,
    build_tcp_frame,
    build_udp_frame,
    linktype_name,
    multicast_mac,
    parse_tcp_frame,
    parse_udp_frame,
)
from .pcap import CAPTURE_MAGICS, PcapngWriter, PcapRecord, PcapWriter, is_capture, read_pcap
from .stats import percentiles
from .tcp import (
    ReassemblyStats,
    TcpCaptureWriter,
    TcpSegment,
    TcpStreamChunk,
    reassemble,
    tcp_segment,
    tcp_segments,
)

__all__ = [
    "CAPTURE_MAGICS",
    "LINKTYPE_ETHERNET",
    "LINKTYPE_NAMES",
    "BadFrame",
    "BadPcap",
    "Cursor",
    "CutPcap",
    "Fragment",
    "NetError",
    "PcapRecord",
    "PcapWriter",
    "PcapngWriter",
    "ReassemblyStats",
    "TcpCaptureWriter",
    "TcpSegment",
    "TcpStreamChunk",
    "UdpFrame",
    "build_tcp_frame",
    "build_udp_frame",
    "internet_checksum",
    "ipv4_checksum",
    "is_capture",
    "linktype_name",
    "multicast_mac",
    "parse_tcp_frame",
    "parse_udp_frame",
    "percentiles",
    "read_pcap",
    "reassemble",
    "tcp_checksum",
    "tcp_segment",
    "tcp_segments",
    "udp_checksum",
]

__version__ = "0.1.0"
