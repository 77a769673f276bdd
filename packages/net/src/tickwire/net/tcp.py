"""A small pcap/pcapng reader with TCP reassembly, and a TCP capture writer.

Why not dpkt or tickwire-moldudp64's reader: tickwire-ouch depends on
construct alone, and the decode tool needs TCP stream reassembly (in-order
delivery, retransmissions and overlaps trimmed, out-of-order segments held
back, holes the capture missed given up and reported: :func:`reassemble`),
which neither gives. pcap (micro- and nanosecond) and pcapng (EPB and
SPB) over Ethernet (802.1Q tags), Linux cooked (SLL, SLL2), BSD loopback and
raw IP are read; IPv4, and IPv6 without extension headers.

:class:`TcpCaptureWriter` goes the other way: it writes a classic pcap of a
TCP conversation (handshake, data with correct seq/ack, FIN) from the byte
chunks each side sent, which is how the tests hand Wireshark a session.
"""

from __future__ import annotations

import heapq
import ipaddress
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from ._errors import OuchError

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
    ACK = 0x10


@dataclass(frozen=True, slots=True)
class TcpStreamChunk:
    """In-order bytes of one direction of a TCP connection.

    ``lost`` is the number of bytes of this direction missing from the capture right
    before ``data`` (a hole :func:`reassemble` gave up; ``data`` may then be empty).
    """

    timestamp_ns: int
    src: str
    sport: int
    dst: str
    dport: int
    data: bytes
    lost: int = 0


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


@dataclass(slots=True)
class ReassemblyStats:
    """What :func:`reassemble` delivered, dropped and found missing (bytes, all flows)."""

    #: TCP segments seen (with or without payload).
    segments: int = 0
    #: Stream bytes delivered in order.
    delivered: int = 0
    #: Bytes already delivered that came again (retransmissions, overlaps), dropped.
    retransmitted: int = 0
    #: Holes given up (each announced by a chunk whose ``lost`` is non-zero).
    gaps: int = 0
    #: Stream bytes missing from the capture, summed over the holes.
    lost: int = 0


@dataclass(slots=True)
class _Flow:
    """One direction of a connection. Sequence numbers are unwrapped to 64 bits around
    ``next`` (the next byte to deliver), so held segments order in a heap."""

    key: tuple[str, int, str, int]
    next: int
    acked: int
    held: list[tuple[int, int, TcpSegment]] = field(default_factory=list)
    held_bytes: int = 0
    lost: int = 0  # bytes given up, to announce on the next chunk
    fin: int | None = None  # where the FIN is (it takes a sequence number, no byte)

    def unwrap(self, seq32: int) -> int:
        """The 64-bit position of a 32-bit sequence number: the one nearest ``next``."""
        diff = (seq32 - self.next) & 0xFFFFFFFF
        return self.next + (diff - 0x1_0000_0000 if diff >= 0x8000_0000 else diff)


#: Bytes a flow may hold behind a hole before the hole is given up anyway.
DEFAULT_MAX_HELD = 16 << 20


def reassemble(
    segments: Iterable[TcpSegment],
    *,
    stats: ReassemblyStats | None = None,
    max_held: int = DEFAULT_MAX_HELD,
) -> Iterator[TcpStreamChunk]:
    """In-order byte chunks per direction of every TCP connection, in linear time.

    Each direction is a :class:`_Flow` with ``next``, the next byte to deliver, and a
    heap of segments from the future (sequence numbers unwrapped to 64 bits, so they
    wrap freely). A segment at or before ``next`` is delivered at once, trimmed of what
    was already delivered (retransmissions and overlaps are dropped and counted); a later
    one is held until the hole before it fills. Every segment costs one heap push and
    pop: no re-scanning, no byte concatenation.

    A hole is given up, and its bytes counted as lost, when it can no longer fill:

    * the peer acknowledged bytes past its start (an ACK of the other direction): the
      receiver had them, so no retransmission will come and the capture missed them;
    * more than ``max_held`` bytes wait behind it;
    * the capture ends (every hole still open, flow by flow).

    The first chunk after a hole carries the number of bytes missing in ``lost`` (with
    empty ``data`` when nothing follows yet), so a consumer knows the stream was cut
    there and can resynchronise its framing.
    """
    st = stats if stats is not None else ReassemblyStats()
    flows: dict[tuple[str, int, str, int], _Flow] = {}
    last_ns = 0
    for seg in segments:
        st.segments += 1
        last_ns = seg.timestamp_ns
        key = (seg.src, seg.sport, seg.dst, seg.dport)
        if seg.flags & TcpSegment.ACK:
            rev = flows.get((seg.dst, seg.dport, seg.src, seg.sport))
            if rev is not None:
                acked = rev.unwrap(seg.ack)
                if rev.fin is not None and acked > rev.fin:
                    acked = rev.fin  # the ACK of the FIN itself
                if acked > rev.acked:
                    rev.acked = acked
                    if acked > rev.next:
                        yield from _settle(rev, seg.timestamp_ns, max_held, st)
        flow = flows.get(key)
        if seg.flags & TcpSegment.SYN:
            start = (seg.seq + 1) & 0xFFFFFFFF
            if flow is not None and flow.held:
                yield from _flush(flow, seg.timestamp_ns, st)  # new connection, same ports
            flow = flows[key] = _Flow(key, start, start)
        if flow is None:
            if not seg.payload:
                continue
            flow = flows[key] = _Flow(key, seg.seq, seg.seq)  # capture began mid-connection
        pos = flow.unwrap(seg.seq) + (1 if seg.flags & TcpSegment.SYN else 0)
        if seg.flags & TcpSegment.FIN:
            flow.fin = pos + len(seg.payload)
        if not seg.payload:
            continue
        if pos + len(seg.payload) <= flow.next:
            st.retransmitted += len(seg.payload)
            continue
        heapq.heappush(flow.held, (pos, st.segments, seg))
        flow.held_bytes += len(seg.payload)
        yield from _settle(flow, seg.timestamp_ns, max_held, st)
    for flow in flows.values():
        if flow.held or flow.acked > flow.next:
            yield from _flush(flow, last_ns, st)


def _settle(
    flow: _Flow, now_ns: int, max_held: int, st: ReassemblyStats
) -> Iterator[TcpStreamChunk]:
    """Deliver what ``flow`` can, giving up holes the rules of :func:`reassemble` say
    will not fill (``now_ns``: the capture time, for a gap announced on its own)."""
    while True:
        yield from _deliver(flow, st)
        held = flow.held
        if flow.acked > flow.next:
            _skip(flow, min(flow.acked, held[0][0]) if held else flow.acked, st)
        elif held and flow.held_bytes > max_held:
            _skip(flow, held[0][0], st)
        else:
            break
    if flow.lost:  # nothing to deliver after the hole yet: announce it on its own
        yield _gap(flow, now_ns)


def _flush(flow: _Flow, now_ns: int, st: ReassemblyStats) -> Iterator[TcpStreamChunk]:
    """Give up every hole of ``flow`` and deliver everything it holds."""
    while True:
        yield from _deliver(flow, st)
        if flow.held:
            _skip(flow, flow.held[0][0], st)
        elif flow.acked > flow.next:
            _skip(flow, flow.acked, st)
        else:
            break
    if flow.lost:
        yield _gap(flow, now_ns)


def _skip(flow: _Flow, to: int, st: ReassemblyStats) -> None:
    """Give up the bytes from ``flow.next`` to ``to``."""
    st.gaps += 1
    st.lost += to - flow.next
    flow.lost += to - flow.next
    flow.next = to


def _deliver(flow: _Flow, st: ReassemblyStats) -> Iterator[TcpStreamChunk]:
    """Pop the held segments that start at or before ``next``; yield their new bytes."""
    held = flow.held
    while held and held[0][0] <= flow.next:
        pos, _, s = heapq.heappop(held)
        flow.held_bytes -= len(s.payload)
        skip = flow.next - pos
        if skip >= len(s.payload):
            st.retransmitted += len(s.payload)
            continue
        st.retransmitted += skip
        data = s.payload[skip:] if skip else s.payload
        flow.next += len(data)
        st.delivered += len(data)
        yield _chunk(s, data, flow.lost)
        flow.lost = 0


def _chunk(s: TcpSegment, data: bytes, lost: int) -> TcpStreamChunk:
    return TcpStreamChunk(s.timestamp_ns, s.src, s.sport, s.dst, s.dport, data, lost)


def _gap(flow: _Flow, now_ns: int) -> TcpStreamChunk:
    """A chunk with no data announcing ``flow``'s lost bytes."""
    lost, flow.lost = flow.lost, 0
    return TcpStreamChunk(now_ns, *flow.key, b"", lost)


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
