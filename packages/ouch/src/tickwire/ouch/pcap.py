"""A small pcap/pcapng reader with TCP reassembly, and a TCP capture writer.

Why not dpkt or tickwire-moldudp64's reader: tickwire-ouch depends on
construct alone, and the decode tool needs TCP stream reassembly (in-order
delivery, retransmissions and overlaps trimmed, out-of-order segments held
back), which neither gives. pcap (micro- and nanosecond) and pcapng (EPB and
SPB) over Ethernet (802.1Q tags), Linux cooked (SLL, SLL2), BSD loopback and
raw IP are read; IPv4, and IPv6 without extension headers.

:class:`TcpCaptureWriter` goes the other way: it writes a classic pcap of a
TCP conversation (handshake, data with correct seq/ack, FIN) from the byte
chunks each side sent, which is how the tests hand Wireshark a session.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from ._errors import OuchError

__all__ = [
    "CaptureError",
    "Frame",
    "TcpCaptureWriter",
    "TcpSegment",
    "TcpStreamChunk",
    "parse_tcp",
    "read_frames",
    "reassemble",
]


class CaptureError(OuchError):
    """A capture file that cannot be read."""


@dataclass(frozen=True, slots=True)
class Frame:
    timestamp_ns: int
    linktype: int
    data: bytes


@dataclass(frozen=True, slots=True)
class TcpSegment:
    timestamp_ns: int
    src: str
    sport: int
    dst: str
    dport: int
    seq: int
    ack: int
    flags: int
    payload: bytes

    SYN = 0x02
    FIN = 0x01
    RST = 0x04


@dataclass(frozen=True, slots=True)
class TcpStreamChunk:
    """In-order bytes of one direction of a TCP connection."""

    timestamp_ns: int
    src: str
    sport: int
    dst: str
    dport: int
    data: bytes


# ------------------------------------------------------------------ reading
def read_frames(source: str | Path | BinaryIO | bytes) -> Iterator[Frame]:
    """Frames of a pcap or pcapng capture (path, binary file or bytes)."""
    if isinstance(source, bytes):
        data = source
    elif isinstance(source, str | Path):
        data = Path(source).read_bytes()
    else:
        data = source.read()
    if len(data) < 4:
        raise CaptureError("file too short for a capture")
    magic = data[:4]
    if magic == b"\x0a\x0d\x0d\x0a":
        yield from _read_pcapng(data)
    else:
        yield from _read_pcap(data)


def _read_pcap(data: bytes) -> Iterator[Frame]:
    magics = {
        b"\xd4\xc3\xb2\xa1": ("<", 1000),
        b"\xa1\xb2\xc3\xd4": (">", 1000),
        b"\x4d\x3c\xb2\xa1": ("<", 1),
        b"\xa1\xb2\x3c\x4d": (">", 1),
    }
    if data[:4] not in magics:
        raise CaptureError(f"not a pcap or pcapng file (magic {data[:4].hex()})")
    endian, mult = magics[data[:4]]
    if len(data) < 24:
        raise CaptureError("truncated pcap header")
    linktype = struct.unpack_from(endian + "I", data, 20)[0] & 0x0FFFFFFF
    rec = struct.Struct(endian + "IIII")
    pos = 24
    while pos + 16 <= len(data):
        sec, frac, incl, _orig = rec.unpack_from(data, pos)
        pos += 16
        if pos + incl > len(data):
            raise CaptureError(f"truncated pcap record at offset {pos - 16}")
        yield Frame(sec * 1_000_000_000 + frac * mult, linktype, data[pos : pos + incl])
        pos += incl


def _read_pcapng(data: bytes) -> Iterator[Frame]:
    pos = 0
    endian = "<"
    interfaces: list[tuple[int, int]] = []  # (linktype, ns per tick)
    while pos + 12 <= len(data):
        btype_raw = data[pos : pos + 4]
        if btype_raw == b"\x0a\x0d\x0d\x0a":
            bom = data[pos + 8 : pos + 12]
            endian = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
            interfaces = []
        btype, blen = struct.unpack_from(endian + "II", data, pos)
        if blen < 12 or pos + blen > len(data):
            raise CaptureError(f"bad pcapng block length {blen} at offset {pos}")
        body = data[pos + 8 : pos + blen - 4]
        if btype == 1:  # Interface Description Block
            linktype = struct.unpack_from(endian + "H", body, 0)[0]
            tick_ns = 1000  # default resolution: microseconds
            opos = 8
            while opos + 4 <= len(body):
                code, olen = struct.unpack_from(endian + "HH", body, opos)
                if code == 0:
                    break
                if code == 9 and olen >= 1:  # if_tsresol
                    v = body[opos + 4]
                    tick_ns = int(1e9 / (2 ** (v & 0x7F))) if v & 0x80 else int(10 ** (9 - v)) or 1
                opos += 4 + ((olen + 3) & ~3)
            interfaces.append((linktype, tick_ns))
        elif btype == 6:  # Enhanced Packet Block
            iface, hi, lo, cap = struct.unpack_from(endian + "IIII", body, 0)
            if iface >= len(interfaces):
                raise CaptureError(f"packet for unknown interface {iface}")
            linktype, tick_ns = interfaces[iface]
            yield Frame(((hi << 32) | lo) * tick_ns, linktype, body[20 : 20 + cap])
        elif btype == 3:  # Simple Packet Block
            if not interfaces:
                raise CaptureError("simple packet block before any interface")
            (orig,) = struct.unpack_from(endian + "I", body, 0)
            yield Frame(0, interfaces[0][0], body[4 : 4 + min(orig, len(body) - 4)])
        pos += blen


_ETH_IPV4 = 0x0800
_ETH_IPV6 = 0x86DD


def _ip_payload(frame: Frame) -> bytes | None:
    d = frame.data
    lt = frame.linktype
    if lt == 1:  # Ethernet, optional 802.1Q / QinQ tags
        if len(d) < 14:
            return None
        etype = struct.unpack_from(">H", d, 12)[0]
        off = 14
        while etype in (0x8100, 0x88A8) and len(d) >= off + 4:
            etype = struct.unpack_from(">H", d, off + 2)[0]
            off += 4
        return d[off:] if etype in (_ETH_IPV4, _ETH_IPV6) else None
    ip_types = (b"\x08\x00", b"\x86\xdd")
    if lt == 113:  # Linux cooked v1
        return d[16:] if len(d) >= 16 and d[14:16] in ip_types else None
    if lt == 276:  # Linux cooked v2
        return d[20:] if len(d) >= 20 and d[0:2] in ip_types else None
    if lt == 0:  # BSD loopback: a 4-byte address family, then IPv4 or IPv6
        return d[4:] if len(d) >= 4 else None
    if lt in (101, 228, 229):  # raw IP / raw IPv4 / raw IPv6
        return d
    # Not "no TCP here": a link type we cannot read would hide every segment of the
    # capture and make a decode of it look like an empty session.
    raise CaptureError(
        f"link type {lt} cannot be read (Ethernet 1, Linux cooked 113/276, BSD loopback 0 "
        "and raw IP 101/228/229 can)"
    )


def parse_tcp(frame: Frame) -> TcpSegment | None:
    """The TCP segment of an IPv4 or IPv6 frame (None for anything else or truncated).

    Raises :class:`CaptureError` for a frame of a link type this reader does not know.
    """
    ip = _ip_payload(frame)
    if ip is None or len(ip) < 20:
        return None
    if ip[0] >> 4 == 6:
        return _parse_tcp6(frame, ip)
    if ip[0] >> 4 != 4 or ip[9] != 6:
        return None
    ihl = (ip[0] & 0x0F) * 4
    total = struct.unpack_from(">H", ip, 2)[0]
    ip = ip[: max(total, ihl)] if total else ip  # drop Ethernet padding
    if len(ip) < ihl + 20:
        return None
    tcp = ip[ihl:]
    sport, dport, seq, ack, off_flags = struct.unpack_from(">HHIIH", tcp, 0)
    doff = (off_flags >> 12) * 4
    if doff < 20 or len(tcp) < doff:
        return None
    src = ".".join(str(b) for b in ip[12:16])
    dst = ".".join(str(b) for b in ip[16:20])
    return TcpSegment(
        frame.timestamp_ns, src, sport, dst, dport, seq, ack, off_flags & 0x3F, tcp[doff:]
    )


def _parse_tcp6(frame: Frame, ip: bytes) -> TcpSegment | None:
    """IPv6 without extension headers (Next Header must be TCP)."""
    if len(ip) < 60 or ip[6] != 6:
        return None
    plen = struct.unpack_from(">H", ip, 4)[0]
    tcp = ip[40 : 40 + plen]
    if len(tcp) < 20:
        return None
    sport, dport, seq, ack, off_flags = struct.unpack_from(">HHIIH", tcp, 0)
    doff = (off_flags >> 12) * 4
    if doff < 20 or len(tcp) < doff:
        return None
    src = str(ipaddress.IPv6Address(ip[8:24]))
    dst = str(ipaddress.IPv6Address(ip[24:40]))
    return TcpSegment(
        frame.timestamp_ns, src, sport, dst, dport, seq, ack, off_flags & 0x3F, tcp[doff:]
    )


@dataclass
class _Flow:
    next_seq: int | None = None
    held: dict[int, TcpSegment] = field(default_factory=dict)


def reassemble(segments: Iterator[TcpSegment] | list[TcpSegment]) -> Iterator[TcpStreamChunk]:
    """In-order byte chunks per direction of every TCP connection.

    Retransmitted and overlapping bytes are delivered once; a segment from the
    future is held until the gap before it fills. Sequence numbers wrap.
    """
    flows: dict[tuple[str, int, str, int], _Flow] = {}
    for seg in segments:
        key = (seg.src, seg.sport, seg.dst, seg.dport)
        flow = flows.setdefault(key, _Flow())
        if seg.flags & TcpSegment.SYN:
            flow.next_seq = (seg.seq + 1) & 0xFFFFFFFF
            flow.held.clear()
            if not seg.payload:
                continue
        if not seg.payload:
            continue
        if flow.next_seq is None:
            flow.next_seq = seg.seq  # capture started mid-connection
        flow.held[seg.seq] = seg
        progressed = True
        while progressed and flow.held:
            progressed = False
            for s_seq in list(flow.held):
                s = flow.held[s_seq]
                rel = (s_seq - flow.next_seq) & 0xFFFFFFFF
                if rel >= 0x80000000:  # starts before next_seq: trim what we already have
                    skip = (flow.next_seq - s_seq) & 0xFFFFFFFF
                    del flow.held[s_seq]
                    if skip < len(s.payload):
                        data = s.payload[skip:]
                        flow.next_seq = (flow.next_seq + len(data)) & 0xFFFFFFFF
                        yield TcpStreamChunk(s.timestamp_ns, s.src, s.sport, s.dst, s.dport, data)
                        progressed = True
                elif rel == 0:
                    del flow.held[s_seq]
                    flow.next_seq = (flow.next_seq + len(s.payload)) & 0xFFFFFFFF
                    yield TcpStreamChunk(s.timestamp_ns, s.src, s.sport, s.dst, s.dport, s.payload)
                    progressed = True


# ------------------------------------------------------------------ writing
def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    s: int = sum(struct.unpack(f">{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def _ip4(addr: str) -> bytes:
    return bytes(int(x) for x in addr.split("."))


class TcpCaptureWriter:
    """Writes a classic pcap (Ethernet, IPv4, TCP, valid checksums) of one TCP
    connection from the chunks each side sent, in the order given."""

    def __init__(
        self,
        dest: str | Path | BinaryIO,
        *,
        client: tuple[str, int] = ("127.0.0.1", 40000),
        server: tuple[str, int] = ("127.0.0.1", 26400),
        start_ns: int = 1_700_000_000_000_000_000,
        mss: int = 1460,
    ) -> None:
        self._own = isinstance(dest, str | Path)
        self._f: BinaryIO = open(dest, "wb") if isinstance(dest, str | Path) else dest  # noqa: SIM115
        self._f.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 1))  # ns pcap
        self.client = client
        self.server = server
        self.mss = mss
        self.now = start_ns
        self._seq = {"c": 1000, "s": 5000}
        self._open = False

    def __enter__(self) -> TcpCaptureWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _frame(self, side: str, flags: int, payload: bytes = b"") -> None:
        src, dst = (self.client, self.server) if side == "c" else (self.server, self.client)
        other = "s" if side == "c" else "c"
        seq = self._seq[side]
        ack = self._seq[other] if flags & 0x10 else 0
        tcp = struct.pack(">HHIIBBHHH", src[1], dst[1], seq, ack, 5 << 4, flags, 65535, 0, 0)
        pseudo = _ip4(src[0]) + _ip4(dst[0]) + struct.pack(">BBH", 0, 6, len(tcp) + len(payload))
        csum = _checksum(pseudo + tcp + payload)
        tcp = tcp[:16] + struct.pack(">H", csum) + tcp[18:]
        total = 20 + len(tcp) + len(payload)
        ip = struct.pack(
            ">BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, 64, 6, 0, _ip4(src[0]), _ip4(dst[0])
        )
        ip = ip[:10] + struct.pack(">H", _checksum(ip)) + ip[12:]
        mac_c, mac_s = b"\x02\x00\x00\x00\x00\x01", b"\x02\x00\x00\x00\x00\x02"
        eth = (mac_s + mac_c if side == "c" else mac_c + mac_s) + b"\x08\x00"
        frame = eth + ip + tcp + payload
        self.now += 10_000
        self._f.write(
            struct.pack("<IIII", self.now // 10**9, self.now % 10**9, len(frame), len(frame))
        )
        self._f.write(frame)
        self._seq[side] = (seq + len(payload) + (1 if flags & 0x03 else 0)) & 0xFFFFFFFF

    def _handshake(self) -> None:
        if not self._open:
            self._frame("c", 0x02)  # SYN
            self._frame("s", 0x12)  # SYN ACK
            self._frame("c", 0x10)  # ACK
            self._open = True

    def client_sent(self, data: bytes) -> None:
        self._send("c", data)

    def server_sent(self, data: bytes) -> None:
        self._send("s", data)

    def _send(self, side: str, data: bytes) -> None:
        self._handshake()
        for i in range(0, len(data), self.mss):
            self._frame(side, 0x18, data[i : i + self.mss])  # PSH ACK

    def close(self) -> None:
        if self._open:
            self._frame("c", 0x11)  # FIN ACK
            self._frame("s", 0x11)
            self._frame("c", 0x10)
            self._open = False
        if self._own:
            self._f.close()
        else:
            self._f.flush()
