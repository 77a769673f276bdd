"""The Internet checksum (RFC 1071), once, for IPv4 headers, UDP and TCP.

The checksum is the ones' complement of the ones' complement sum of 16-bit big-endian
words (an odd trailing byte is padded with a zero). Summing is done with one
``struct.unpack`` of the whole buffer and Python's arbitrary-precision ``sum``, then the
carries are folded back into 16 bits at the end (end-around carry, RFC 1071 section 2),
which is cheaper than folding per word.

* :func:`ipv4_checksum` over a header whose checksum field is zero gives the value to store
  in it; over a header carrying a correct checksum it gives 0.
* :func:`udp_checksum` and :func:`tcp_checksum` add the IPv4 pseudo-header (source,
  destination, zero, protocol, segment length). Over a segment with its checksum field
  zero they give the value to store; over one carrying a correct checksum, 0xFFFF for
  UDP (a computed 0 is sent as 0xFFFF, RFC 768, since 0 means "no checksum") and 0 for TCP.
"""

from __future__ import annotations

import struct

__all__ = [
    "IPPROTO_TCP",
    "IPPROTO_UDP",
    "internet_checksum",
    "ipv4_checksum",
    "ones_complement_sum",
    "pseudo_header",
    "tcp_checksum",
    "udp_checksum",
]

IPPROTO_TCP = 6
IPPROTO_UDP = 17


def ones_complement_sum(data: bytes | bytearray | memoryview, initial: int = 0) -> int:
    """The 16-bit ones' complement sum of ``data`` (big-endian words), plus ``initial``."""
    n = len(data)
    total = initial
    if n >= 2:
        total += sum(struct.unpack_from(f">{n // 2}H", data))
    if n & 1:
        total += data[n - 1] << 8
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def internet_checksum(data: bytes | bytearray | memoryview, initial: int = 0) -> int:
    """The Internet checksum of ``data``: ``~ones_complement_sum(data, initial) & 0xFFFF``."""
    return ~ones_complement_sum(data, initial) & 0xFFFF


def ipv4_checksum(header: bytes | bytearray | memoryview) -> int:
    """The IPv4 header checksum (RFC 791): 0 over a header that carries a correct one."""
    return internet_checksum(header)


def pseudo_header(src_ip: bytes, dst_ip: bytes, protocol: int, length: int) -> bytes:
    """The IPv4 pseudo-header the UDP and TCP checksums cover."""
    return src_ip + dst_ip + struct.pack(">BBH", 0, protocol, length)


def udp_checksum(src_ip: bytes, dst_ip: bytes, segment: bytes | bytearray | memoryview) -> int:
    """The UDP checksum of ``segment`` (header and payload) from ``src_ip`` to ``dst_ip``
    (4 raw bytes each), RFC 768; a computed 0 is returned as 0xFFFF."""
    initial = ones_complement_sum(pseudo_header(src_ip, dst_ip, IPPROTO_UDP, len(segment)))
    return internet_checksum(segment, initial) or 0xFFFF


def tcp_checksum(src_ip: bytes, dst_ip: bytes, segment: bytes | bytearray | memoryview) -> int:
    """The TCP checksum of ``segment`` (header and payload) from ``src_ip`` to ``dst_ip``
    (4 raw bytes each), RFC 793."""
    initial = ones_complement_sum(pseudo_header(src_ip, dst_ip, IPPROTO_TCP, len(segment)))
    return internet_checksum(segment, initial)
