"""The compiled (Verilator) simulation against the Python one and the reference."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tickwire.fpga.backend import FpgaBackend
from tickwire.itch import AddOrder, AddOrderMPID, encode
from tickwire.itch.generator import generate_day
from tickwire.threshold import ThresholdEngine
from tickwire.threshold.config import InstrumentConfig, ThresholdConfig
from tickwire.threshold.harness import FrameSpec, configs, frame_sequences
from tickwire.threshold.testing import add_order, feed_frame

pytestmark = pytest.mark.skipif(
    shutil.which("verilator") is None or shutil.which("g++") is None,
    reason="verilator and g++ needed (scripts/setup.sh)",
)


@pytest.fixture(scope="module")
def vsim() -> Iterator[FpgaBackend]:
    backend = FpgaBackend("verilator")
    try:
        yield backend
    finally:
        backend.close()


def _day(messages: int) -> tuple[ThresholdConfig, list[bytes]]:
    """A generated day as MoldUDP64 packets of 1 to 40 messages, some 802.1Q-tagged."""
    day = list(generate_day(messages, 30, 5))
    first_price: dict[int, int] = {}
    for m in day:
        if isinstance(m, AddOrder | AddOrderMPID) and m.buy_sell_indicator == "S":
            first_price.setdefault(m.stock_locate, m.price)
    instruments = tuple(
        InstrumentConfig(loc, f"S{loc}", px, 100, 10, 100, 1000, 20_000, 10**13)
        for loc, px in sorted(first_price.items())[:12]
    )
    config = ThresholdConfig(True, 150, 7, 26477, 26400, "TWORDERS01", instruments)
    raw = [encode(m) for m in day]
    frames, i, size = [], 0, 1
    while i < len(raw):
        tag = 141 if size % 3 == 0 else None
        frames.append(FrameSpec(blocks=tuple(raw[i : i + size]), vlan_tci=tag).build())
        i += size
        size = size % 40 + 1
    return config, frames


def test_python_and_verilator_agree_on_every_frame_of_a_generated_day(
    fpga: FpgaBackend, vsim: FpgaBackend
) -> None:
    """Back to back, frame by frame: the same orders, the same statistics, and every
    order's first TX beat the same number of cycles after its frame's first RX beat.
    1,500 messages: 77 frames, every size from 1 to 40 messages at least once, 52 orders
    and 52 suppressed (4,000 before: 26 s of the Python simulation on 3.11, 41 s on 3.13;
    the long day below is Verilator's alone)."""
    config, frames = _day(1_500)
    results = []
    for backend in (fpga, vsim):
        backend.configure(config)
        out = backend.feed_many(frames)
        assert backend.sim is not None
        lat = [(x.frame, x.first_tx - x.first_rx) for x in backend.sim.latencies]
        results.append((out, backend.stats().to_json(), lat))
    assert results[0] == results[1]
    engine = ThresholdEngine(config)
    assert results[1][0] == [engine.feed(f) for f in frames]
    assert results[1][1] == engine.stats().to_json()
    assert engine.stats().orders > 20 and engine.stats().suppressed > 0


def test_verilator_on_a_long_day_matches_the_reference(vsim: FpgaBackend) -> None:
    config, frames = _day(60_000)
    engine = ThresholdEngine(config)
    want = [engine.feed(f) for f in frames]
    vsim.configure(config)
    assert vsim.feed_many(frames) == want
    assert vsim.stats().to_json() == engine.stats().to_json()


def test_frames_longer_than_the_beat_counter(
    vsim: FpgaBackend, aapl_config: ThresholdConfig
) -> None:
    """A frame of 140,000 bytes (more beats than the 14-bit beat counter counts: it
    saturates, and every byte past the UDP datagram is ignored anyway), then normal ones."""
    from tickwire.threshold.testing import add_order, feed_frame

    config = aapl_config
    trigger = feed_frame([add_order(13, "S", 1_499_900)])
    huge = trigger + bytes(140_000 - len(trigger))
    # The datagram announces 5 blocks and holds 1: a parse error. Were the beat counter
    # to wrap at 16,384 beats, the zeros read again from position 42 would be taken as
    # four zero-length blocks, and the packet would end without error.
    short = bytearray(trigger)
    short[60:62] = (5).to_bytes(2, "big")
    wrapped = bytes(short) + bytes(140_000 - len(short))
    frames = [huge, trigger, huge[:65_600], trigger, wrapped, trigger]
    engine = ThresholdEngine(config)
    want = [engine.feed(f) for f in frames]
    vsim.configure(config)
    assert vsim.feed_many(frames) == want
    assert vsim.stats().to_json() == engine.stats().to_json()


_FUZZ_CONFIG = ThresholdConfig(
    True,
    1000,
    1,
    26477,
    26400,
    "TWORDERS01",
    (
        InstrumentConfig(13, "AAPL", 1_500_000, 100, 100, 100, 1000, 50_000, 10**12),
        InstrumentConfig(14, "MSFT", 4_000_000, 10, 3, 7, 999_999, 2**62, 2**62),
    ),
)


@st.composite
def _mutated(draw: st.DrawFn) -> bytes:
    """A valid trigger frame with bytes changed, inserted or cut anywhere, or raw bytes."""
    from tickwire.threshold.testing import add_order, feed_frame

    if draw(st.integers(0, 4)) == 0:
        return draw(st.binary(max_size=200))
    blocks = [
        add_order(draw(st.sampled_from([13, 14, 15])), "S", draw(st.integers(1, 4_000_000)))
        for _ in range(draw(st.integers(1, 4)))
    ]
    frame = bytearray(feed_frame(blocks, vlan_tci=draw(st.sampled_from([None, 5]))))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(frame) - 1))
        kind = draw(st.sampled_from(["set", "set", "insert", "cut"]))
        if kind == "set":
            frame[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            frame[at:at] = draw(st.binary(min_size=1, max_size=3))
        else:
            del frame[at:]
            break
    return bytes(frame)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(frames=st.lists(_mutated(), min_size=1, max_size=8))
def test_verilator_on_damaged_and_arbitrary_frames(vsim: FpgaBackend, frames: list[bytes]) -> None:
    """Byte-level damage anywhere in the headers or the blocks, back to back."""
    engine = ThresholdEngine(_FUZZ_CONFIG)
    want = [engine.feed(f) for f in frames]
    vsim.configure(_FUZZ_CONFIG)
    assert vsim.feed_many(frames) == want
    assert vsim.stats().to_json() == engine.stats().to_json()


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(config=configs(), batches=st.lists(frame_sequences, min_size=1, max_size=6))
def test_verilator_back_to_back_on_the_harness_frames(
    vsim: FpgaBackend, config: ThresholdConfig, batches: list[list[FrameSpec]]
) -> None:
    """The harness's frames and configs (every rule, every limit's edge), back to back,
    in more examples than the Python simulator can afford."""
    frames = [s.build() for batch in batches for s in batch]
    engine = ThresholdEngine(config)
    want = [engine.feed(f) for f in frames]
    vsim.configure(config)
    assert vsim.feed_many(frames) == want
    assert vsim.stats().to_json() == engine.stats().to_json()


def _small_block_frames() -> list[bytes]:
    """Packets of blocks shorter than a beat at every alignment, with every count.

    The scanner follows up to four block starts inside one beat (zero-length blocks are
    two bytes), so these frames put the block limit, the count, a short ``A``/``F``
    (an error) and the packet's end on each of those hops, then a trigger after them.
    """
    trigger = add_order(13, "S", 1_400_000)
    patterns: list[list[bytes]] = [[b""] * k for k in range(1, 9)]
    patterns += [
        [b"", b"X", b"", b"XY", b""],
        [b"X", b"", b"", b"", b""],
        [b"XYZ", b"", b"XY", b"", b""],
        [b"", b"", b"A", b"", b""],
        [b"", b"F12", b""],
        [b"", b"", b"", b"A1234"],
    ]
    frames = []
    for lead in range(8):
        for pattern in patterns:
            blocks = [b"L" * lead, *pattern, trigger]
            for count in range(1, len(blocks) + 2):
                frame = bytearray(feed_frame(blocks))
                frame[60:62] = count.to_bytes(2, "big")  # the MoldUDP64 count
                frames.append(bytes(frame))
            frames.append(feed_frame(blocks, cut=20 + 2 * len(blocks) + lead))
    for lead in range(8):  # the 64-block limit landing on each hop
        frames.append(feed_frame([b"L" * lead, *([b""] * 70), trigger]))
        frames.append(feed_frame([b"L" * lead, *([b""] * 62), trigger, b""]))
    return frames


def test_verilator_on_blocks_shorter_than_a_beat(vsim: FpgaBackend) -> None:
    """Back to back: the reference's orders and statistics, message counts included."""
    frames = _small_block_frames()
    inst = InstrumentConfig(13, "AAPL", 1_500_000, 100, 100, 100, 1000, 2**62, 2**62)
    config = dataclasses.replace(_FUZZ_CONFIG, max_orders=10**6, instruments=(inst,))
    engine = ThresholdEngine(config)
    want = [engine.feed(f) for f in frames]
    vsim.configure(config)
    assert vsim.feed_many(frames) == want
    assert vsim.stats().to_json() == engine.stats().to_json()
    assert engine.stats().orders > 150 and engine.stats().parse_errors > 250
