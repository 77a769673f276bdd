"""TCP streams in captures: segments out of frames, reassembly, and a conversation writer.

:func:`tcp_segments` turns the records of a capture (:func:`tickwire.net.pcap.read_pcap`)
into :class:`TcpSegment` objects, over every link type :func:`tickwire.net.frames.network_layer`
reads, IPv4 and IPv6 (without extension headers). :func:`reassemble` turns segments into
in-order byte chunks per direction, in linear time, reporting the holes the capture missed
(its docstring has the rules). :class:`TcpCaptureWriter` goes the other way: it writes a
pcap of a TCP conversation (handshake, data with correct seq/ack and checksums, FIN) from
the byte chunks each side sent, which is how the tests hand Wireshark a session.
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, BinaryIO

from .frames import TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, build_tcp_frame, parse_tcp_frame
from .pcap import PcapRecord, PcapWriter

__all__ = [
    "DEFAULT_MAX_HELD",
    "ReassemblyStats",
    "TcpCaptureWriter",
    "TcpSegment",
    "TcpStreamChunk",
    "reassemble",
    "tcp_segment",
    "tcp_segments",
]


@dataclass(frozen=True, slots=True)
class TcpSegment:
    """One TCP segment of a capture: when, who to whom, sequence numbers, flags, payload."""

    timestamp_ns: int
    src: str
    sport: int
    dst: str
    dport: int
    seq: int
    ack: int
    flags: int
    payload: bytes

    SYN = TCP_SYN
    FIN = TCP_FIN
    RST = TCP_RST
    ACK = TCP_ACK


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


def tcp_segment(record: PcapRecord) -> TcpSegment | None:
    """The TCP segment of a captured frame (None for anything else, or a frame too short
    for its headers). A record of a link type the reader cannot take raises
    :class:`~tickwire.net.errors.BadPcap` (see :func:`tickwire.net.frames.network_layer`)."""
    found = parse_tcp_frame(record.linktype, record.frame)
    if found is None:
        return None
    t = found.tcp
    return TcpSegment(
        record.timestamp_ns,
        found.src_ip,
        t.src_port,
        found.dst_ip,
        t.dst_port,
        t.seq,
        t.ack,
        t.flags,
        found.payload,
    )


def tcp_segments(records: Iterable[PcapRecord]) -> Iterator[TcpSegment]:
    """The TCP segments of ``records``, skipping the frames that are not TCP."""
    for record in records:
        seg = tcp_segment(record)
        if seg is not None:
            yield seg


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
class TcpCaptureWriter:
    """Writes a classic pcap (Ethernet, IPv4, TCP, valid checksums) of one TCP
    connection from the chunks each side sent, in the order given."""

    def __init__(
        self,
        dest: str | os.PathLike[str] | BinaryIO | IO[bytes],
        *,
        client: tuple[str, int] = ("127.0.0.1", 40000),
        server: tuple[str, int] = ("127.0.0.1", 26400),
        start_ns: int = 1_700_000_000_000_000_000,
        mss: int = 1460,
    ) -> None:
        self._pcap = PcapWriter(dest, snaplen=65535)
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
        ack = self._seq[other] if flags & TCP_ACK else 0
        mac_c, mac_s = b"\x02\x00\x00\x00\x00\x01", b"\x02\x00\x00\x00\x00\x02"
        src_mac, dst_mac = (mac_c, mac_s) if side == "c" else (mac_s, mac_c)
        frame = build_tcp_frame(
            payload, src=src, dst=dst, seq=seq, ack=ack, flags=flags, src_mac=src_mac,
            dst_mac=dst_mac,
        )  # fmt: skip
        self.now += 10_000
        self._pcap.write(frame, timestamp_ns=self.now)
        self._seq[side] = (
            seq + len(payload) + (1 if flags & (TCP_SYN | TCP_FIN) else 0)
        ) & 0xFFFFFFFF

    def _handshake(self) -> None:
        if not self._open:
            self._frame("c", TCP_SYN)
            self._frame("s", TCP_SYN | TCP_ACK)
            self._frame("c", TCP_ACK)
            self._open = True

    def client_sent(self, data: bytes) -> None:
        """The client sent ``data`` (split into segments of at most ``mss`` bytes)."""
        self._send("c", data)

    def server_sent(self, data: bytes) -> None:
        """The server sent ``data`` (split into segments of at most ``mss`` bytes)."""
        self._send("s", data)

    def _send(self, side: str, data: bytes) -> None:
        self._handshake()
        for i in range(0, len(data), self.mss):
            self._frame(side, 0x18, data[i : i + self.mss])  # PSH ACK

    def close(self) -> None:
        """Close the connection (FIN from each side) and the file."""
        if self._open:
            self._frame("c", TCP_FIN | TCP_ACK)
            self._frame("s", TCP_FIN | TCP_ACK)
            self._frame("c", TCP_ACK)
            self._open = False
        self._pcap.close()
