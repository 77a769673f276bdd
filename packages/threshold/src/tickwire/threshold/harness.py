"""The differential harness of the threshold strategy (``docs/threshold.md``), public.

Hypothesis differential testing across backends: a backend is held to the reference
engine by feeding both the same frames and comparing the outputs frame by frame and the
statistics (STATS.json text), byte for byte. Run it on a backend of your own with one
call, :func:`check_backend` (or the ``threshold_backend`` fixture of this package's pytest
plugin for every registered backend); :func:`check_frames` does one comparison on frames
you choose (a capture, a regression case) and says where the two first differ.

The algorithm of :func:`check_backend`: hypothesis draws a configuration and a sequence of
frames (:func:`configs`, :data:`frame_sequences`); the backend made once by the factory is
configured with it (``configure`` resets every counter, position and sequence, as the
contract requires) and fed the frames, the reference likewise; the first frame whose
order frames differ, or else differing statistics, fails the example with a
:class:`HarnessMismatch`, which hypothesis then shrinks to a minimal configuration and
frame sequence before re-raising it. Nothing is mocked: both sides get the very bytes.

The parts, also usable on their own:

* :class:`FrameSpec`: a *structural* description of one input frame (its message blocks
  and every way the contract says a frame can be odd: VLAN tags (one, QinQ with either
  outer TPID, or a third one the contract does not read), IPv4 options, another
  port, fragments, truncation of the MoldUDP64 packet, snap-length cuts, stray trailing
  bytes, Ethernet padding, heartbeats; header fields the contract does not check written
  wrong, one field that makes the frame not IPv4/UDP, the UDP length and the MoldUDP64
  count as sent rather than as built; an add's side byte and stock field as any bytes),
  built into bytes with the project codecs
  (:func:`tickwire.threshold.testing.feed_frame`) and then patched at offsets from the one
  wire table (:data:`tickwire.threshold.cheader.WIRE`);
* :func:`expected`: an independent model that computes, from the descriptions alone,
  the order frames and statistics the contract prescribes (it reads messages with
  ``tickwire.itch.decode``, never with the engine's scanner);
* hypothesis strategies for configurations and frame sequences that reach every rule and
  every limit's edge (64 blocks, positions, notionals, max orders, suppression).

Needs hypothesis: ``pip install tickwire-threshold[harness]``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tickwire.itch import MESSAGE_LENGTHS, AddOrder, AddOrderMPID, OrderDelete, decode, encode
from tickwire.threshold.backends import Backend, run_frames
from tickwire.threshold.cheader import WIRE
from tickwire.threshold.config import InstrumentConfig, ThresholdConfig
from tickwire.threshold.monitoring import clear_orphaned_events
from tickwire.threshold.order import build_order_frame
from tickwire.threshold.reference import ThresholdEngine
from tickwire.threshold.stats import InstrumentStats, ThresholdStats
from tickwire.threshold.testing import (
    FEED_DST_IP,
    FEED_DST_MAC,
    FEED_SRC_IP,
    FEED_SRC_MAC,
    add_order,
    feed_frame,
)

__all__ = [
    "FEED_PORT",
    "FILLER",
    "LOCATES",
    "ORDER_PORT",
    "FrameSpec",
    "HarnessMismatch",
    "add_blocks",
    "blocks",
    "check_backend",
    "check_frames",
    "configs",
    "expected",
    "frame_sequences",
    "frame_specs",
    "instruments",
]

FEED_PORT = 26477
ORDER_PORT = 26400
LOCATES = (13, 14, 15)
FILLER = encode(OrderDelete(13, 0, 0, 42))  # a scanned message that never triggers
_ETH, _VLAN, _IP, _UDP, _MOLD = 14, 4, 20, 8, 20
_MAX_TAGS = 2  # docs/threshold.md section 2 rule 1 (restated: the model is independent)


@dataclass(frozen=True)
class FrameSpec:
    """One input frame, described structurally (see :func:`feed_frame` for the knobs)."""

    blocks: tuple[bytes, ...] = ()
    vlan_tci: int | None = None
    #: Stacked tags, ``(TPID, TCI)`` outer first (instead of ``vlan_tci``'s one 802.1Q tag).
    vlan_tags: tuple[tuple[int, int], ...] = ()
    options: bytes = b""
    dst_port: int = FEED_PORT
    flags_fragment: int | None = None
    end_of_session: bool = False
    cut: int | None = None
    trailing: bytes = b""
    padding: int = 0
    snap: int | None = None
    #: Header fields the contract does not check, ``(layout, field, value)`` with the
    #: layout a key of :data:`tickwire.threshold.cheader.WIRE` (``IPV4``, ``UDP``,
    #: ``MOLD``): a wrong IPv4 checksum or total length, TTL 0, a UDP checksum...
    unchecked: tuple[tuple[str, str, int], ...] = ()
    #: One field that makes the frame not IPv4/UDP, ``(layout, field, value)``: the
    #: EtherType after the tags (``ETH``, ``ethertype``: 0x9100, IPv6...), the IPv4
    #: version or IHL below 5 (``IPV4``, ``version_ihl``), another protocol.
    not_udp: tuple[str, str, int] | None = None
    #: The UDP length as sent, instead of the datagram's: below 8, or shorter than the
    #: datagram (the bytes after it stay in the frame), or longer (when nothing is cut).
    udp_length: int | None = None
    #: The MoldUDP64 message count as sent, instead of the number of blocks: 0, 0xFFFF,
    #: or fewer than the blocks present (the later ones are ignored).
    count: int | None = None

    def build(self) -> bytes:
        frame = feed_frame(
            list(self.blocks),
            dst_port=self.dst_port,
            vlan_tci=self.vlan_tci,
            vlan_tags=self.vlan_tags,
            options=self.options,
            flags_fragment=self.flags_fragment,
            end_of_session=self.end_of_session,
            cut=self.cut,
            trailing=self.trailing,
            padding=self.padding,
        )
        patches = list(self.unchecked)
        if self.not_udp is not None:
            patches.append(self.not_udp)
        if self.udp_length is not None:
            patches.append(("UDP", "length", self.udp_length))
        if self.count is not None:
            patches.append(("MOLD", "count", self.count))
        if patches:
            frame = self._patched(frame, patches)
        return frame if self.snap is None else frame[: self.snap]

    def _patched(self, frame: bytes, patches: Sequence[tuple[str, str, int]]) -> bytes:
        """``frame`` with each ``(layout, field, value)`` written big-endian where the
        layout starts in this frame (offsets from the one table, ``cheader.WIRE``)."""
        l3 = WIRE["ETH"].size + WIRE["VLAN"].size * len(self.tags)
        l4 = l3 + WIRE["IPV4"].size + len(self.options)
        bases = {"ETH": l3 - WIRE["ETH"].size, "IPV4": l3, "UDP": l4, "MOLD": l4 + WIRE["UDP"].size}
        out = bytearray(frame)
        for layout, name, value in patches:
            at = WIRE[layout].span(name, bases[layout])
            if at.stop <= len(out):
                out[at] = value.to_bytes(at.stop - at.start, "big")
        return bytes(out)

    @property
    def tags(self) -> tuple[tuple[int, int], ...]:
        """The frame's VLAN tags, ``(TPID, TCI)`` outer first, whichever field gave them."""
        return self.vlan_tags if self.vlan_tci is None else ((0x8100, self.vlan_tci),)

    @property
    def headers(self) -> int:
        """Bytes from the frame start to the MoldUDP64 payload."""
        return _ETH + _VLAN * len(self.tags) + _IP + len(self.options) + _UDP

    @property
    def packet_length(self) -> int:
        """Length of the MoldUDP64 payload the frame's UDP length announces."""
        full = _MOLD + (0 if self.end_of_session else sum(2 + len(b) for b in self.blocks))
        return (full if self.cut is None else min(full, self.cut)) + len(self.trailing)


def _is_for_feed(spec: FrameSpec, feed_port: int) -> bool:
    if len(spec.tags) > _MAX_TAGS:  # a third tag's TPID stands where IPv4 should
        return False
    if spec.dst_port != feed_port:
        return False
    if spec.flags_fragment is not None and spec.flags_fragment & 0x3FFF:
        return False
    if spec.not_udp is not None:  # another EtherType, IP version, IHL < 5 or protocol
        return False
    # A snap length that cuts into the Ethernet/IPv4/UDP headers hides the frame.
    return spec.snap is None or spec.snap >= spec.headers


def _trigger(block: bytes) -> tuple[int, bool, int] | None:
    """(locate, sell, price) of a complete A/F block read with the ITCH codec."""
    if not block or block[0] not in b"AF":
        return None
    msg = decode(block[: MESSAGE_LENGTHS[chr(block[0])]])
    assert isinstance(msg, AddOrder | AddOrderMPID)
    return msg.stock_locate, msg.buy_sell_indicator == "S", msg.price


def expected(
    config: ThresholdConfig, specs: Sequence[FrameSpec]
) -> tuple[list[list[bytes]], ThresholdStats]:
    """What the contract prescribes for ``specs``: order frames per frame and the stats."""
    stats = ThresholdStats(instruments={i.locate: InstrumentStats() for i in config.instruments})
    watched = {i.locate: i for i in config.instruments}
    outputs: list[list[bytes]] = []
    for spec in specs:
        stats.frames += 1
        out: list[bytes] = []
        outputs.append(out)
        if not _is_for_feed(spec, config.feed_port):
            continue
        available = spec.packet_length
        if spec.udp_length is not None:
            if spec.udp_length < _UDP:
                stats.parse_errors += 1
                continue
            available = min(spec.udp_length - _UDP, spec.packet_length + spec.padding)
        if spec.snap is not None:
            available = min(available, spec.snap - spec.headers)
        if available < _MOLD:
            stats.parse_errors += 1
            continue
        count = (
            (0xFFFF if spec.end_of_session else len(spec.blocks))
            if spec.count is None
            else spec.count
        )
        if count in (0, 0xFFFF):
            continue  # a heartbeat or the end of session: nothing to scan
        pos = _MOLD
        for i, block in enumerate(spec.blocks[:count]):
            if i == 64:
                break
            if pos + 2 > available or pos + 2 + len(block) > available:
                stats.parse_errors += 1
                break
            if block and block[0] in b"AF" and len(block) < MESSAGE_LENGTHS[chr(block[0])]:
                stats.parse_errors += 1
                break
            pos += 2 + len(block)
            stats.messages_scanned += 1
            seen = _trigger(block)
            if seen is None:
                continue
            locate, sell, price = seen
            inst = watched.get(locate)
            if not sell or inst is None or not 0 < price <= inst.limit_price:
                continue
            stats.triggers += 1
            if out:
                stats.suppressed += 1
            elif not config.armed:
                stats.refused["killed"] += 1
            elif stats.orders == config.max_orders:
                stats.refused["max_orders"] += 1
            else:
                held = stats.instruments[locate]
                improvement = (inst.limit_price - price) // inst.tick
                qty = min(
                    inst.base_qty + inst.step_qty * improvement,
                    inst.max_order_qty,
                    inst.max_position - held.shares,
                )
                if qty <= 0:
                    stats.refused["position"] += 1
                elif held.notional + qty * price > inst.max_notional:
                    stats.refused["notional"] += 1
                else:
                    out.append(_order(config, inst, spec, stats.orders, qty, price))
                    stats.orders += 1
                    held.shares += qty
                    held.notional += qty * price
    return outputs, stats


def _order(
    config: ThresholdConfig,
    inst: InstrumentConfig,
    spec: FrameSpec,
    sent: int,
    qty: int,
    price: int,
) -> bytes:
    return build_order_frame(
        in_dst_mac=FEED_DST_MAC,
        in_src_mac=FEED_SRC_MAC,
        vlan_tags=spec.tags,
        in_src_ip=bytes(int(x) for x in FEED_SRC_IP.split(".")),
        in_dst_ip=bytes(int(x) for x in FEED_DST_IP.split(".")),
        config=config,
        instrument=inst,
        sequence=sent + 1,
        user_ref_num=config.first_user_ref_num + sent,
        quantity=qty,
        price=price,
    )


# ----------------------------------------------------------------------- hypothesis strategies

_LIMITS = (1000, 2000, 5000)

# The strategies below are built once, here, not at every draw: hypothesis validates a
# strategy object the first time it is drawn from, and a list argument (sampled_from,
# one_of, a filter's lambda) makes a new object each call, so building them inside the
# composites below validated them again at every draw, about a third of a check_backend
# run. The same strategies draw the same values: derandomized runs and their shrunk
# examples are unchanged.
_SYMBOLS = st.sampled_from(["AAPL", "MSFT", "A", "ZVZZT", "BRK.A", "QQQQQQQQ"])
_LIMIT_PRICES = st.sampled_from(_LIMITS)
_QTY = st.integers(0, 300)
_TICKS = st.sampled_from([1, 7, 100, 499, 2**32 - 1])
_MAX_ORDER_QTYS = st.sampled_from([1, 100, 999, 999_999])
_MAX_POSITIONS = st.sampled_from([0, 100, 1000, 2500, 2**62, 2**62])
_MAX_NOTIONALS = st.sampled_from([0, 1_000_000, 4_000_000, 2**62, 2**62, 2**62])


@st.composite
def instruments(draw: st.DrawFn, locate: int) -> InstrumentConfig:
    return InstrumentConfig(
        locate=locate,
        symbol=draw(_SYMBOLS),
        limit_price=draw(_LIMIT_PRICES),
        base_qty=draw(_QTY),
        step_qty=draw(_QTY),
        tick=draw(_TICKS),
        max_order_qty=draw(_MAX_ORDER_QTYS),
        max_position=draw(_MAX_POSITIONS),
        max_notional=draw(_MAX_NOTIONALS),
    )


_MIN_LOCATES = st.sampled_from([0, 1, 1, 1])
_LOCATE_LISTS = {
    n: st.lists(st.sampled_from(LOCATES), min_size=n, max_size=3, unique=True) for n in (0, 1)
}
_MAX_ORDERS = st.sampled_from([0, 1, 2, 3, 10])
_ARMED = st.sampled_from([True, True, True, False])  # mostly armed
_SESSIONS = st.sampled_from(["TWORDERS01", "A", "   x  ", " "])  # " ": spaces only, valid


@st.composite
def configs(draw: st.DrawFn) -> ThresholdConfig:
    locates = draw(_LOCATE_LISTS[draw(_MIN_LOCATES)])
    max_orders = draw(_MAX_ORDERS)
    return ThresholdConfig(
        armed=draw(_ARMED),
        max_orders=max_orders,
        first_user_ref_num=draw(st.sampled_from([0, 1, 2**32 - 1 - max_orders])),
        feed_port=FEED_PORT,
        order_port=ORDER_PORT,
        order_session=draw(_SESSIONS),
        instruments=tuple(draw(instruments(loc)) for loc in locates),
    )


def _prices() -> st.SearchStrategy[int]:
    edges = [0, 1, 2**32 - 1] + [x + d for x in _LIMITS for d in (-1, 0, 1)]
    return st.one_of(st.sampled_from(edges), st.integers(1, 5000))


_ADD_LOCATES = st.sampled_from((*LOCATES, *LOCATES, 16))
_SIDES = st.sampled_from("SSSB")
_PRICES = _prices()
_SHARES = st.integers(0, 2**32 - 1)
_REFS = st.integers(0, 2**64 - 1)
_MPIDS = st.one_of(st.none(), st.just("GSCO"))


@st.composite
def add_blocks(draw: st.DrawFn) -> bytes:
    return add_order(
        draw(_ADD_LOCATES),
        draw(_SIDES),
        draw(_PRICES),
        shares=draw(_SHARES),
        ref=draw(_REFS),
        mpid=draw(_MPIDS),
    )


_ADDS = add_blocks()
_KINDS = st.sampled_from(
    ["add"] * 16
    + ["filler"] * 4
    + ["short", "short", "longer", "longer", "empty", "empty", "other", "other", "odd"]
)
# An A/F block's side byte as sent: only 0x53 sells; 0xD3 is 'S' with the top bit set.
_ODD_SIDES = st.sampled_from(b"SBs\x00\xd3 ")
_STOCK_BYTES = st.binary(min_size=8, max_size=8)  # not read: non-ASCII, NULs, spaces
_EXTRA = st.binary(min_size=1, max_size=8)
_OTHER_TYPES = st.integers(0, 255).filter(lambda b: b not in b"AF")
_OTHER_BODIES = st.binary(max_size=40)


@st.composite
def blocks(draw: st.DrawFn) -> bytes:
    kind = draw(_KINDS)
    if kind == "add":
        return draw(_ADDS)
    if kind == "filler":
        return FILLER
    if kind == "short":  # an A/F block shorter than its type: a parse error
        full = draw(_ADDS)
        return full[: draw(st.integers(1, len(full) - 1))]
    if kind == "longer":  # extra bytes after a whole A/F are ignored
        return draw(_ADDS) + draw(_EXTRA)
    if kind == "odd":  # any side byte, any stock bytes (the codec reads them as latin-1)
        out = bytearray(draw(_ADDS))
        out[WIRE["ITCH_A"].span("buy_sell_indicator")] = bytes([draw(_ODD_SIDES)])
        out[WIRE["ITCH_A"].span("stock")] = draw(_STOCK_BYTES)
        return bytes(out)
    if kind == "empty":
        return b""
    first = draw(_OTHER_TYPES)
    return bytes([first]) + draw(_OTHER_BODIES)


_BODIES = st.lists(blocks(), max_size=6)
_TENTHS = st.integers(0, 9)
_FILLERS = st.integers(58, 64)
# No tag, one, QinQ (outer 0x8100 or 0x88A8) or three (not read): each TPID a tag's.
_TAGS = st.one_of(
    st.just(()),
    st.just(()),
    st.lists(
        st.tuples(st.sampled_from([0x8100, 0x8100, 0x88A8]), st.integers(0, 0xFFFF)),
        min_size=1,
        max_size=3,
    ).map(tuple),
)
_OPTIONS = st.sampled_from([b"", b"", b"\x01\x01\x01\x01", bytes([1]) * 40])
_PORTS = st.sampled_from([FEED_PORT] * 8 + [ORDER_PORT, 1])
# 0x8000 is the reserved flag: not a fragment (the contract masks 0x3FFF).
_FRAGMENTS = st.sampled_from([None] * 8 + [0, 0x2000, 0x0001, 0x4001, 0x8000, 0xC000])
_TWENTIETHS = st.integers(0, 19)
_PADDINGS = st.sampled_from([0, 0, 0, 1, 26])
_MODES = st.sampled_from(["whole"] * 9 + ["cut", "trailing", "snap"])
_TRAILING = st.binary(min_size=1, max_size=6)
# Frames the contract reads whatever these fields hold (docs/threshold.md section 2, "Not
# checked, on purpose"), and frames one field makes not IPv4/UDP; the UDP length and the
# MoldUDP64 count as sent rather than as built.
# Weighted so that few frames lose their blocks (not_udp always, a short UDP length or a
# count of 0 or 0xFFFF), or the rules that need whole frames starve: suppression needs
# two triggers in one frame, and with the four variants on four frames in ten a
# derandomized run of 200 examples held 3 with a suppressed trigger, against 21 before.
_VARIANTS = st.sampled_from(
    ["none"] * 28 + ["unchecked"] * 6 + ["not_udp"] * 2 + ["udp_length"] * 4 + ["count"] * 2
)
_UNCHECKED = st.lists(
    st.sampled_from(
        [
            ("IPV4", "tos", 0xFF),
            ("IPV4", "total_length", 0),
            ("IPV4", "total_length", 20),
            ("IPV4", "total_length", 0xFFFF),
            ("IPV4", "identification", 0xBEEF),
            ("IPV4", "ttl", 0),
            ("IPV4", "checksum", 0),
            ("IPV4", "checksum", 0xFFFF),
            ("UDP", "src_port", 0),
            ("UDP", "src_port", FEED_PORT),
            ("UDP", "checksum", 0xDEAD),
            ("MOLD", "session", int.from_bytes(b"\xff" * 10, "big")),
            ("MOLD", "sequence", 2**64 - 1),
        ]
    ),
    min_size=1,
    max_size=3,
).map(tuple)
_NOT_UDP = st.sampled_from(
    [
        ("ETH", "ethertype", 0x9100),  # a TPID the contract does not read as a tag
        ("ETH", "ethertype", 0x86DD),
        ("ETH", "ethertype", 0x0806),
        ("IPV4", "version_ihl", 0x65),
        ("IPV4", "version_ihl", 0x05),
        ("IPV4", "version_ihl", 0x40),
        ("IPV4", "version_ihl", 0x44),
        ("IPV4", "protocol", 6),
        ("IPV4", "protocol", 0),
    ]
)
_SHORT_UDP_LENGTHS = st.integers(0, 7)


@st.composite
def frame_specs(draw: st.DrawFn) -> FrameSpec:
    body = draw(_BODIES)
    if draw(_TENTHS) == 0:  # around the 64-block scan limit
        body = body[:2] + [FILLER] * draw(_FILLERS) + body[2:]
    spec = FrameSpec(
        blocks=tuple(body),
        vlan_tags=draw(_TAGS),
        options=draw(_OPTIONS),
        dst_port=draw(_PORTS),
        flags_fragment=draw(_FRAGMENTS),
        end_of_session=draw(_TWENTIETHS) == 0,
        padding=draw(_PADDINGS),
    )
    mode = draw(_MODES)
    if mode == "cut":
        spec = dataclasses.replace(spec, cut=draw(st.integers(0, spec.packet_length)))
    elif mode == "trailing":
        spec = dataclasses.replace(spec, trailing=draw(_TRAILING))
    elif mode == "snap":
        total = spec.headers + spec.packet_length
        spec = dataclasses.replace(spec, snap=draw(st.integers(0, total)), padding=0)
    variant = draw(_VARIANTS)
    if variant == "unchecked":
        spec = dataclasses.replace(spec, unchecked=draw(_UNCHECKED))
    elif variant == "not_udp":
        spec = dataclasses.replace(spec, not_udp=draw(_NOT_UDP))
    elif variant == "udp_length":
        datagram = _UDP + spec.packet_length
        # Longer than the datagram only when nothing is cut: the padding it then takes
        # in is never read (every block the count promises comes before it).
        longest = 0xFFFF if spec.cut is None else max(datagram - 1, _UDP)
        ul = draw(st.one_of(_SHORT_UDP_LENGTHS, st.integers(_UDP, longest)))
        spec = dataclasses.replace(spec, udp_length=ul)
    elif variant == "count" and spec.cut is None and spec.blocks and not spec.end_of_session:
        fewer = st.integers(1, len(spec.blocks) - 1) if len(spec.blocks) > 1 else st.just(0)
        spec = dataclasses.replace(spec, count=draw(st.one_of(st.sampled_from([0, 0xFFFF]), fewer)))
    return spec


frame_sequences = st.lists(frame_specs(), min_size=1, max_size=6)


# ----------------------------------------------------------------------- the comparisons


class HarnessMismatch(AssertionError):
    """A backend differs from the reference; the message says where and how."""


def _frames_text(frames: Sequence[bytes]) -> str:
    return "[" + ", ".join(f.hex() for f in frames) + "]" if frames else "no order frame"


def check_frames(
    backend: Backend,
    config: ThresholdConfig,
    frames: Sequence[bytes],
    *,
    reference: Backend | None = None,
) -> ThresholdStats:
    """Run ``frames`` through ``backend`` and the reference; raise on any difference.

    Both are configured with ``config`` first, so state left by an earlier run does not
    count. Returns the reference's statistics when the two agree; otherwise raises
    :class:`HarnessMismatch` naming the first input frame (1-based) whose order frames
    differ, both sides in hex, or else both STATS.json texts. ``reference`` defaults to a
    new :class:`~tickwire.threshold.reference.ThresholdEngine`.
    """
    want_out, want_stats = run_frames(reference or ThresholdEngine(), config, frames)
    got_out, got_stats = run_frames(backend, config, frames)
    for n, (got, want) in enumerate(zip(got_out, want_out, strict=True), 1):
        if got != want:
            raise HarnessMismatch(
                f"input frame {n} of {len(frames)} ({frames[n - 1].hex()}): the backend "
                f"sent {_frames_text(got)}, the reference {_frames_text(want)}"
            )
    got_json, want_json = got_stats.to_json(), want_stats.to_json()
    if got_json != want_json:
        raise HarnessMismatch(
            f"statistics after {len(frames)} frames differ: the backend reported "
            f"{' '.join(got_json.split())}, the reference {' '.join(want_json.split())}"
        )
    return want_stats


def check_backend(
    factory: Callable[[], Backend],
    *,
    max_examples: int = 100,
    derandomize: bool = False,
) -> None:
    """Hold the backend ``factory()`` makes to the reference on generated input.

    hypothesis draws ``max_examples`` configurations and frame sequences that reach every
    rule of the contract and every limit's edge; each is checked with
    :func:`check_frames` on one backend instance (made once, closed at the end). A
    difference raises :class:`HarnessMismatch` for the shrunk, minimal example. A
    backend that cannot run here raises
    :class:`~tickwire.threshold.backends.BackendUnavailable` from its ``configure``, which
    propagates (the plugin's ``threshold_backend`` fixture skips on it).
    ``derandomize=True`` makes the run reproducible (a fixed seed, as for CI) for the same
    code loaded: hypothesis also draws literal constants from the project's own modules
    in ``sys.modules``, so what else the process imported, or a constant added anywhere,
    changes the examples. A test that a broken backend is caught should give it a margin
    of examples (``tests/test_threshold_harness.py::test_check_backend_catches_a_wrong_backend``).
    """
    backend = factory()
    reference = ThresholdEngine()

    @settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=derandomize,
        database=None,
        # One HarnessMismatch, as documented, even when hypothesis finds two distinct
        # failures (it would raise an ExceptionGroup of them): a backend that reads a
        # third tag fails both on frames and on statistics.
        report_multiple_bugs=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(config=configs(), specs=frame_sequences)
    def run(config: ThresholdConfig, specs: list[FrameSpec]) -> None:
        check_frames(backend, config, [s.build() for s in specs], reference=reference)

    try:
        run()
    finally:
        backend.close()
        clear_orphaned_events()
