"""The kernel's strategy.c, compiled hosted (with UBSan), against the Python reference.

This is the fast half of the differential testing: thousands of frames per second, no
QEMU. Frames come from the traffic generator (real MoldUDP64/ITCH built by the codecs),
from the real captures, and from hypothesis mutations of both (truncation, byte flips,
random junk), so every bounds check in the C scanner is exercised.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from _baremetal_helpers import CStrategy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tickwire.baremetal.layout import config_blob, new_secret
from tickwire.baremetal.traffic import (
    FeedAddresses,
    capture_frames,
    feed_frames,
    generated_messages,
    inject_faults,
    threshold_config_for,
)
from tickwire.threshold import ThresholdEngine, ThresholdStats
from tickwire.threshold.config import InstrumentConfig, ThresholdConfig
from tickwire.threshold.testing import add_order, tag_frames

PCAPS = Path(__file__).resolve().parents[3] / "data" / "pcap" / "nasdaq-itch50"
MESSAGES = list(generated_messages(6000, 20, 3))
CONFIG = threshold_config_for(MESSAGES, instruments=6, max_orders=60)
FRAMES = list(feed_frames(MESSAGES, max_blocks=12))
TAGGED = list(feed_frames(MESSAGES[:2000], FeedAddresses(vlan_tci=0x2064), max_blocks=5))
SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def counters(stats: ThresholdStats) -> tuple[int, ...]:
    r = stats.refused
    return (
        stats.frames,
        stats.messages_scanned,
        stats.triggers,
        stats.orders,
        stats.suppressed,
        stats.parse_errors,
        r["killed"],
        r["max_orders"],
        r["position"],
        r["notional"],
    )


def run_both(c: CStrategy, config: ThresholdConfig, frames: list[bytes]) -> None:
    assert c.load(config) == 0
    ref = ThresholdEngine(config)
    for i, frame in enumerate(frames):
        assert c.feed(frame) == ref.feed(frame), f"frame {i}"
    assert c.counters() == counters(ref.stats())


def test_generated_day_matches_reference(cstrategy: CStrategy) -> None:
    run_both(cstrategy, CONFIG, FRAMES)
    assert ThresholdEngine(CONFIG).stats().frames == 0  # sanity: a fresh reference


def test_generated_day_sends_and_refuses() -> None:
    ref = ThresholdEngine(CONFIG)
    for f in FRAMES:
        ref.feed(f)
    s = ref.stats()
    # The fixture exercises what it claims to: orders, suppression and refusals.
    assert s.orders > 20 and s.suppressed > 0
    assert s.refused["position"] > 0 and s.refused["notional"] > 0


def test_tagged_frames_match_reference(cstrategy: CStrategy) -> None:
    run_both(cstrategy, CONFIG, TAGGED)


@pytest.mark.parametrize("outer", [0x88A8, 0x8100])
def test_qinq_feed_frames_match_the_reference(cstrategy: CStrategy, outer: int) -> None:
    """QinQ (docs/threshold.md section 2 rule 1): read, the order carries both tags back
    (119 bytes, the longest order: the out buffer holds it); a third tag, or a frame cut
    inside the second, is ignored. Before, strategy.c ignored every QinQ frame."""
    frames = [
        *tag_frames([add_order(13, "S", 1_490_000)], outer),
        *(f[:12] + bytes.fromhex(f"{outer:04x}e00d81000123") + f[12:] for f in TAGGED[:300]),
    ]
    config = ThresholdConfig(
        True, 1000, 1, 26477, 26400, "TWORDERS01",
        (*CONFIG.instruments, InstrumentConfig(13, "AAPL", 1_500_000, 100, 100, 100, 1000, 5000, 10**12)),
    )  # fmt: skip
    run_both(cstrategy, config, frames)
    (order,) = ThresholdEngine(config).feed(frames[0])
    assert len(order) == 119 and order[12:22] == frames[0][12:20] + b"\x08\x00"


def test_real_captures_match_reference(cstrategy: CStrategy) -> None:
    frames = [f for p in sorted(PCAPS.glob("*.pcap")) for f in capture_frames(p)]
    assert frames, f"no captures in {PCAPS}"
    config = ThresholdConfig(
        True, 5, 1, 26477, 26400, "TWORDERS01",
        (InstrumentConfig(6514, "META", 3_600_000, 10, 1, 100, 500, 1000, 10**12),),
    )  # fmt: skip
    run_both(cstrategy, config, frames * 3)


def test_fault_injection_matches_reference(cstrategy: CStrategy) -> None:
    mixed = [f for _, f in inject_faults(FRAMES, rate=0.7, seed=5)]
    run_both(cstrategy, CONFIG, mixed)


@SETTINGS
@given(
    index=st.integers(0, len(FRAMES) - 1),
    cut=st.integers(0, 1600),
    flips=st.lists(st.tuples(st.integers(0, 1599), st.integers(1, 255)), max_size=6),
    tail=st.binary(max_size=64),
)
def test_mutated_frames_match_reference(
    cstrategy: CStrategy, index: int, cut: int, flips: list[tuple[int, int]], tail: bytes
) -> None:
    frame = bytearray(FRAMES[index][:cut])
    for pos, x in flips:
        if pos < len(frame):
            frame[pos] ^= x
    run_both(cstrategy, CONFIG, [FRAMES[index], bytes(frame) + tail, FRAMES[index]])


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(junk=st.lists(st.binary(max_size=300), max_size=5))
def test_random_bytes_match_reference(cstrategy: CStrategy, junk: list[bytes]) -> None:
    run_both(cstrategy, CONFIG, junk)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    price=st.integers(0, 2**32 - 1),
    limit=st.integers(1, 2**32 - 1),
    tick=st.integers(1, 2**32 - 1),
    base=st.integers(0, 999_999),
    step=st.integers(0, 999_999),
    max_qty=st.integers(1, 999_999),
    max_pos=st.integers(0, 2**62),
    max_notional=st.integers(0, 2**62),
)
def test_arithmetic_extremes_match_reference(
    cstrategy: CStrategy,
    price: int,
    limit: int,
    tick: int,
    base: int,
    step: int,
    max_qty: int,
    max_pos: int,
    max_notional: int,
) -> None:
    """The contract's bounds promise no 64-bit overflow; check the C arithmetic at the edges."""
    inst = InstrumentConfig(7, "EDGE", limit, base, step, tick, max_qty, max_pos, max_notional)
    config = ThresholdConfig(True, 2**32 - 1, 1, 26477, 26400, "S", (inst,))
    add = struct.pack(">cHH6sQcI8sI", b"A", 7, 0, b"\0" * 6, 1, b"S", 100, b"EDGE    ", price)
    frames = list(feed_frames([add, add], max_blocks=1)) * 2
    run_both(cstrategy, config, frames)


def test_config_blob_validation_in_c(cstrategy: CStrategy) -> None:
    """The kernel re-validates the blob: the cases Python can never build, built by hand."""
    good = config_blob(CONFIG, new_secret())
    assert cstrategy.load_raw(good) == 0
    assert cstrategy.load_raw(good[:47]) == -1  # short
    assert cstrategy.load_raw(b"XXXX" + good[4:]) == -2  # magic
    assert cstrategy.load_raw(good[:4] + b"\x02\x00" + good[6:]) == -3  # version
    assert cstrategy.load_raw(good + b"\0") == -7  # length disagrees with the count
    zero_tick = bytearray(good)
    zero_tick[48 + 22 : 48 + 26] = b"\0\0\0\0"
    assert cstrategy.load_raw(bytes(zero_tick)) == -4
    dup = bytearray(good)
    dup[48 + 46 : 48 + 48] = dup[48:50]  # second instrument gets the first one's locate
    assert cstrategy.load_raw(bytes(dup)) == -6
    too_many = bytearray(good)
    too_many[46:48] = (65).to_bytes(2, "little")
    assert cstrategy.load_raw(bytes(too_many)) == -5
    # A refused blob leaves the running config alone.
    run_both(cstrategy, CONFIG, FRAMES[:50])


@pytest.mark.parametrize("session", [" ", "          ", "  x"])
def test_an_order_session_of_spaces_is_loaded(cstrategy: CStrategy, session: str) -> None:
    """``order_session`` is 1 to 10 characters in 0x20..0x7E (docs/threshold.md section
    1), a space included, so ``" "`` is valid and its orders carry ten spaces. Before,
    the kernel stripped the padding, found nothing left and refused the blob
    (BAD_VALUE), so a config every other backend ran could not boot the guest."""
    config = ThresholdConfig(True, 1000, 1, 26477, 26400, session, CONFIG.instruments)
    run_both(cstrategy, config, FRAMES)
    assert cstrategy.counters()[3] > 0  # orders were sent, with the session's bytes


@pytest.mark.parametrize("urn", [0, 7, 4_294_967_295 - 3])
def test_user_ref_num_and_cl_ord_id(cstrategy: CStrategy, urn: int) -> None:
    config = ThresholdConfig(True, 4, urn, 26477, 26400, "X", CONFIG.instruments)
    run_both(cstrategy, config, FRAMES)
    assert cstrategy.counters()[3] == 4 and cstrategy.counters()[7] > 0  # max_orders refusals


def test_disarmed_refuses_everything(cstrategy: CStrategy) -> None:
    config = ThresholdConfig(False, 100, 1, 26477, 26400, "X", CONFIG.instruments)
    run_both(cstrategy, config, FRAMES)
    assert cstrategy.counters()[3] == 0 and cstrategy.counters()[6] > 0
