"""Feed traffic for the bare-metal kernel: real frames, from a generated day or a capture.

The pieces, each usable alone:

* :func:`feed_frames` packs raw ITCH messages into MoldUDP64 packets inside
  Ethernet/IPv4/UDP frames (the project's codecs build every layer);
  :func:`generated_frames` does it for :func:`tickwire.itch.generator.generate_day`,
  :func:`capture_frames` reads the frames of a pcap/pcapng capture.
* :func:`inject_faults` mixes corrupt, truncated, oversize, runt and malformed-MoldUDP64
  frames into a stream at a given rate, deterministically (seeded), labelling each.
* :class:`TrafficPlan` and :func:`run_plan` send a stream to a running :class:`Guest`
  with a warm-up, timed bursts and inter-packet jitter, and measure the host round trip
  (send to order frame back) of every frame that triggers an order.
* :func:`threshold_config_for` makes a config that watches the busiest locates of a
  message stream, with limits that exercise every refusal reason.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tickwire.threshold.cheader import ORDER_LENGTHS, WIRE
from tickwire.threshold.config import InstrumentConfig, ThresholdConfig

__all__ = [
    "FAULT_KINDS",
    "FeedAddresses",
    "PlanResult",
    "StopReason",
    "TrafficPlan",
    "capture_frames",
    "feed_frames",
    "generated_frames",
    "generated_messages",
    "inject_faults",
    "run_plan",
    "threshold_config_for",
]

MAX_BLOCKS = 38  # per packet, as in the real captures (keeps the payload under 1,400 bytes)
MAX_PAYLOAD = 1400


@dataclass(frozen=True, slots=True)
class FeedAddresses:
    """Where the synthetic feed comes from and goes to: test addresses only, IPv4 in
    198.18.0.0/15 (the benchmarking range, RFC 2544) and locally administered unicast
    MACs, never a real feed's (the guest's NIC is promiscuous and ignores them)."""

    src_mac: bytes = b"\x02\x00\x00\x00\x00\x01"
    dst_mac: bytes = b"\x02\x00\x00\x00\x00\x02"
    src_ip: str = "198.18.0.1"
    dst_ip: str = "198.18.0.2"
    src_port: int = 50000
    feed_port: int = 26477
    session: str = "TWFEED0001"
    vlan_tci: int | None = None


def feed_frames(
    messages: Iterable[bytes],
    addresses: FeedAddresses | None = None,
    *,
    max_blocks: int = MAX_BLOCKS,
    first_sequence: int = 1,
) -> Iterator[bytes]:
    """Pack encoded ITCH messages into MoldUDP64 frames (at most ``max_blocks`` per
    packet and about 1,400 payload bytes, as a real feed would)."""
    from tickwire.moldudp64.codec import DownstreamPacket
    from tickwire.net import build_udp_frame

    a = addresses or FeedAddresses()
    seq = first_sequence
    batch: list[bytes] = []
    size = _MOLD.size

    def flush() -> bytes:
        packet = DownstreamPacket(session=a.session, sequence=seq, messages=tuple(batch)).build()
        return build_udp_frame(
            packet,
            src_ip=a.src_ip,
            dst_ip=a.dst_ip,
            src_port=a.src_port,
            dst_port=a.feed_port,
            src_mac=a.src_mac,
            dst_mac=a.dst_mac,
            vlan_tci=a.vlan_tci,
        )

    for msg in messages:
        if batch and (len(batch) >= max_blocks or size + _BLOCK + len(msg) > MAX_PAYLOAD):
            yield flush()
            seq += len(batch)
            batch, size = [], _MOLD.size
        batch.append(msg)
        size += _BLOCK + len(msg)
    if batch:
        yield flush()


def generated_messages(messages: int, symbols: int, seed: int) -> Iterator[bytes]:
    """The encoded messages of a deterministic generated day."""
    from tickwire.itch import encode
    from tickwire.itch.generator import generate_day

    for msg in generate_day(messages, symbols, seed):
        yield encode(msg)


def generated_frames(
    messages: int, symbols: int, seed: int, addresses: FeedAddresses | None = None
) -> list[bytes]:
    """Feed frames of a generated day."""
    return list(feed_frames(generated_messages(messages, symbols, seed), addresses))


def capture_frames(path: str | Path) -> list[bytes]:
    """Every frame of a pcap or pcapng capture, in file order.

    Raises ``BadPcap`` for a record of another link type than Ethernet (the guest's NIC
    takes Ethernet frames; anything else would be sent as garbage).
    """
    from tickwire.net import LINKTYPE_ETHERNET, BadPcap, linktype_name, read_pcap

    frames = []
    for n, rec in enumerate(read_pcap(path), 1):
        if rec.linktype != LINKTYPE_ETHERNET:
            raise BadPcap(
                f"{path}: frame {n}: link type {linktype_name(rec.linktype)} is not Ethernet"
            )
        frames.append(rec.frame)
    return frames


def threshold_config_for(
    messages: Sequence[bytes],
    *,
    instruments: int = 8,
    feed_port: int = 26477,
    armed: bool = True,
    max_orders: int = 1000,
) -> ThresholdConfig:
    """A config watching the locates with the most sell adds in ``messages``.

    Each limit is set at the median sell price seen for that locate, so about half of
    the sell adds trigger; positions (even-numbered instruments) and notionals
    (odd-numbered) are capped low enough that ``position`` and ``notional`` refusals
    happen too.
    """
    prices: dict[int, list[int]] = {}
    add = WIRE["ITCH_A"]
    side, locate, price = (
        add.span("buy_sell_indicator"),
        add.span("stock_locate"),
        add.span("price"),
    )
    for m in messages:
        if len(m) >= add.size and m[0] in _ADD_TYPES and m[side] == b"S":
            prices.setdefault(int.from_bytes(m[locate], "big"), []).append(
                int.from_bytes(m[price], "big")
            )
    busiest = Counter({loc: len(p) for loc, p in prices.items()}).most_common(instruments)
    insts = []
    for n, (loc, _) in enumerate(sorted(busiest)):
        ps = sorted(prices[loc])
        limit = max(ps[len(ps) // 2], 1)
        insts.append(
            InstrumentConfig(
                locate=loc,
                symbol=f"SYM{loc}"[:8],
                limit_price=limit,
                base_qty=100,
                step_qty=50 + 10 * n,
                tick=100,
                max_order_qty=500 + 100 * n,
                max_position=2000 + 500 * n,
                max_notional=limit * (1500 + 400 * n) * (1 if n % 2 else 100),
            )
        )
    return ThresholdConfig(
        armed=armed,
        max_orders=max_orders,
        first_user_ref_num=1,
        feed_port=feed_port,
        order_port=26400,
        order_session="TWORDERS01",
        instruments=tuple(insts),
    )


FAULT_KINDS = (
    "corrupt",  # random bytes flipped anywhere in the frame
    "truncated",  # cut at a random length (as by a short snap length)
    "oversize",  # random bytes appended: longer than the UDP length says, up to 9,000
    "runt",  # fewer than 60 bytes
    "bad_count",  # the MoldUDP64 message count made larger than the blocks present
    "bad_block",  # a block length pointing past the end
    "short_add",  # an Add Order block shortened below its type's length
    "garbage",  # random bytes of a random length
)


_ADD_TYPES = (ord("A"), ord("F"))
_ETH, _IPV4, _UDP, _MOLD = WIRE["ETH"], WIRE["IPV4"], WIRE["UDP"], WIRE["MOLD"]
_BLOCK = ORDER_LENGTHS["TW_MOLD_BLOCK_PREFIX_LEN"]


def _udp_payload_offset(frame: bytes) -> int:
    """Where the UDP payload (the MoldUDP64 packet) of ``frame`` starts, found by
    tickwire.net's header parsers (802.1Q tags and IPv4 options included); right after
    an untagged Ethernet, option-less IPv4 and UDP header when it cannot be parsed."""
    from tickwire.net import BadFrame, Cursor
    from tickwire.net.frames import parse_ethernet, parse_ipv4, parse_udp

    cur = Cursor(frame)
    try:
        parse_ethernet(cur)
        parse_ipv4(cur)
        parse_udp(cur)
    except BadFrame:
        return _ETH.size + _IPV4.size + _UDP.size
    return cur.pos


def _fault(kind: str, frame: bytes, rng: random.Random) -> bytes:
    b = bytearray(frame)
    mold = _udp_payload_offset(frame)
    count = _MOLD.span("count", mold)
    first = mold + _MOLD.size  # the first block's length
    if kind == "corrupt":
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(b))
            b[i] ^= rng.randint(1, 255)
        return bytes(b)
    if kind == "truncated":
        return bytes(b[: rng.randrange(0, len(b))])
    if kind == "oversize":
        return bytes(b) + rng.randbytes(rng.randint(1, 9000 - min(len(b), 8999)))
    if kind == "runt":
        return bytes(b[: rng.randrange(0, 60)])
    if kind == "bad_count" and len(b) >= first:
        n = int.from_bytes(b[count], "big")
        b[count] = min(n + rng.randint(1, 100), 0xFFFE).to_bytes(2, "big")
        return bytes(b)
    if kind == "bad_block" and len(b) >= first + _BLOCK:
        b[first : first + _BLOCK] = rng.randint(len(b), 0xFFFF).to_bytes(2, "big")
        return bytes(b)
    if kind == "short_add" and len(b) >= first + _BLOCK:
        q = first
        while q + _BLOCK <= len(b):
            length = int.from_bytes(b[q : q + _BLOCK], "big")
            if q + _BLOCK < len(b) and b[q + _BLOCK] in _ADD_TYPES and length >= 2:
                short = rng.randint(1, WIRE["ITCH_A"].size - 1)
                b[q : q + _BLOCK] = short.to_bytes(2, "big")
                return bytes(b)
            q += _BLOCK + length
        return bytes(b[: rng.randrange(0, len(b))])
    return rng.randbytes(rng.randint(0, 1600))


def inject_faults(
    frames: Iterable[bytes], *, rate: float, seed: int, kinds: Sequence[str] = FAULT_KINDS
) -> Iterator[tuple[str, bytes]]:
    """Yield ``(label, frame)``: every input frame (label ``valid``), and after each one,
    with probability ``rate``, a damaged copy labelled with its :data:`FAULT_KINDS` kind."""
    for k in kinds:
        if k not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {k!r} (known: {', '.join(FAULT_KINDS)})")
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must be between 0 and 1, got {rate}")
    rng = random.Random(seed)
    for frame in frames:
        yield "valid", frame
        if rng.random() < rate:
            kind = rng.choice(list(kinds))
            yield kind, _fault(kind, frame, rng)


@dataclass(frozen=True, slots=True)
class TrafficPlan:
    """How to send a stream: ``warmup`` frames first (not measured), then ``bursts``
    bursts of ``burst_size`` frames separated by ``burst_gap`` seconds, each frame
    followed by a pause drawn uniformly from ``[0, jitter]`` seconds.

    The stream is sent once (``repeat`` = 1): sending stops at its end even when the
    plan asks for more frames, since a capture resent is a feed that never happened
    (a 2-frame capture used to go out 1,100 times). ``repeat`` = N sends it N times
    over; ``loop`` cycles it until the plan's ``warmup + bursts * burst_size`` frames
    are sent. Every run is bounded in count (the plan's frames) and in time
    (``max_seconds`` from the first frame); :attr:`PlanResult.stopped` says which limit
    ended it.
    """

    warmup: int = 100
    bursts: int = 10
    burst_size: int = 100
    burst_gap: float = 0.01
    jitter: float = 0.0
    seed: int = 1
    repeat: int = 1
    loop: bool = False
    max_seconds: float = 300.0

    def __post_init__(self) -> None:
        if self.repeat < 1:
            raise ValueError(f"repeat must be at least 1, got {self.repeat}")
        if self.loop and self.repeat != 1:
            raise ValueError("loop and repeat exclude each other (loop cycles the stream)")
        if not self.max_seconds > 0:
            raise ValueError(f"max_seconds must be positive, got {self.max_seconds}")

    @property
    def frames(self) -> int:
        """How many frames the plan asks for (warm-up and bursts)."""
        return self.warmup + self.bursts * self.burst_size


#: Why :func:`run_plan` stopped: the plan's frames were all sent, the stream ended
#: (its ``repeat`` passes done), or ``max_seconds`` ran out.
StopReason = Literal["plan", "stream", "time"]


@dataclass(slots=True)
class PlanResult:
    """What one :func:`run_plan` sent and measured: ``warmup_sent`` frames of warm-up,
    ``sent`` measured ones, ``orders`` they triggered and their ``round_trip_ns``."""

    sent: int = 0
    orders: int = 0
    round_trip_ns: list[int] = field(default_factory=list)
    elapsed_s: float = 0.0
    warmup_sent: int = 0
    stopped: StopReason = "plan"

    @property
    def frames_sent(self) -> int:
        """Every frame sent, warm-up included."""
        return self.warmup_sent + self.sent


def run_plan(guest: object, frames: Sequence[bytes], plan: TrafficPlan) -> PlanResult:
    """Send ``frames`` to a running :class:`~tickwire.baremetal.qemu.Guest` in ack mode,
    one at a time, by ``plan``, timing the round trip of each frame that sends an order
    (host send to the order frame received, through QEMU's UDP link).

    The stream is ``frames`` once, ``plan.repeat`` times over, or cycled with
    ``plan.loop``; the run stops at the first of: the plan's frames sent, the stream's
    end, ``plan.max_seconds`` since the first frame (``PlanResult.stopped``).
    """
    from .qemu import Guest

    if not isinstance(guest, Guest):
        raise TypeError("run_plan needs a running Guest")
    if not frames:
        raise ValueError("no frames to send")
    rng = random.Random(plan.seed)
    result = PlanResult()
    available = None if plan.loop else len(frames) * plan.repeat
    deadline = time.perf_counter() + plan.max_seconds
    i = 0

    def stop() -> StopReason | None:
        if available is not None and i >= available:
            return "stream"
        if time.perf_counter() >= deadline:
            return "time"
        return None

    for _ in range(plan.warmup):
        if (why := stop()) is not None:
            result.stopped = why
            return result
        guest.process([frames[i % len(frames)]])
        i += 1
        result.warmup_sent += 1
    start = time.perf_counter()
    try:
        for burst in range(plan.bursts):
            for _ in range(plan.burst_size):
                if (why := stop()) is not None:
                    result.stopped = why
                    return result
                frame = frames[i % len(frames)]
                i += 1
                out, rtt = guest.timed_process(frame)
                result.sent += 1
                result.orders += len(out)
                if rtt is not None:
                    result.round_trip_ns.append(rtt)
                if plan.jitter:
                    time.sleep(rng.uniform(0, plan.jitter))
            if plan.burst_gap and burst + 1 < plan.bursts:
                time.sleep(min(plan.burst_gap, max(deadline - time.perf_counter(), 0.0)))
    finally:
        result.elapsed_s = time.perf_counter() - start
    return result
