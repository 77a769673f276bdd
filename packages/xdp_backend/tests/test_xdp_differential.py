"""The xdp backend against the reference engine, frame by frame and byte for byte.

The cross-backend harness (tests/test_threshold_harness.py) holds every backend to the
reference on structured frames; these tests add what matters for code that runs in the
kernel: arbitrary bytes, valid frames with one byte or the length changed anywhere, and
the edges of every limit, written out one by one.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tickwire.itch import OrderDelete, encode
from tickwire.net import parse_udp_frame
from tickwire.threshold.backends import load_backend, run_frames
from tickwire.threshold.config import InstrumentConfig, ThresholdConfig
from tickwire.threshold.reference import ThresholdEngine
from tickwire.threshold.testing import add_order, feed_frame, tag_frames
from tickwire.xdp import FrameSizeError, XdpBackend
from tickwire.xdp.program import TEST_RUN_MAX_FRAME

FEED_PORT = 26477
FILLER = encode(OrderDelete(13, 0, 0, 42))
U32 = 2**32 - 1

_SETTINGS = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _config(**changes: object) -> ThresholdConfig:
    base = ThresholdConfig(
        armed=True,
        max_orders=1000,
        first_user_ref_num=1,
        feed_port=FEED_PORT,
        order_port=26400,
        order_session="TWORDERS01",
        instruments=(
            InstrumentConfig(13, "AAPL", 1_500_000, 100, 100, 100, 1000, 5000, 500_000_000_000),
            InstrumentConfig(14, "MSFT", 4_000_000, 10, 0, 1, 999_999, 2**62, 2**62),
        ),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def xdp() -> XdpBackend:
    backend = XdpBackend()
    backend.configure(_config())
    return backend


def _compare(backend: XdpBackend, config: ThresholdConfig, frames: list[bytes]) -> None:
    want_out, want_stats = run_frames(ThresholdEngine(), config, frames)
    got_out, got_stats = run_frames(backend, config, frames)
    assert got_out == want_out
    assert got_stats.to_json() == want_stats.to_json()
    for out in got_out:
        for order in out:  # every order frame is a well-formed Ethernet/IPv4/UDP frame
            parse_udp_frame(order, verify=True)


def test_registered_as_xdp() -> None:
    backend = load_backend("xdp")
    assert isinstance(backend, XdpBackend)
    backend.close()


# -- valid frames, then damaged -------------------------------------------------------------

_blocks = st.lists(
    st.one_of(
        st.builds(
            add_order,
            st.sampled_from([13, 14, 99]),
            st.sampled_from(["S", "B"]),
            st.one_of(st.integers(0, 5_000_000), st.integers(0, U32)),
            mpid=st.one_of(st.none(), st.just("ABCD")),
        ),
        st.just(FILLER),
        st.just(b""),
        st.binary(max_size=50),
    ),
    max_size=70,
)


_tags = st.tuples(st.sampled_from([0x8100, 0x88A8]), st.integers(0, 0xFFFF))


@st.composite
def damaged_frames(draw: st.DrawFn) -> bytes:
    frame = feed_frame(
        draw(_blocks),
        vlan_tags=tuple(draw(st.lists(_tags, max_size=3))),  # none, one, QinQ, three
        options=draw(st.sampled_from([b"", b"\x01" * 4, b"\x01" * 40])),
        dst_port=draw(st.sampled_from([FEED_PORT, FEED_PORT, FEED_PORT, 26400])),
    )
    damage = draw(st.sampled_from(["none", "byte", "cut", "grow"]))
    if damage == "byte":
        i = draw(st.integers(0, len(frame) - 1))
        frame = frame[:i] + bytes([draw(st.integers(0, 255))]) + frame[i + 1 :]
    elif damage == "cut":
        frame = frame[: draw(st.integers(0, len(frame)))]
    elif damage == "grow":
        frame += draw(st.binary(min_size=1, max_size=64))
    return frame[:TEST_RUN_MAX_FRAME]


@_SETTINGS
@given(frames=st.lists(damaged_frames(), min_size=1, max_size=8))
def test_damaged_frames_match_reference(xdp: XdpBackend, frames: list[bytes]) -> None:
    _compare(xdp, _config(), frames)


@_SETTINGS
@given(frames=st.lists(st.binary(max_size=300), min_size=1, max_size=8))
def test_arbitrary_bytes_match_reference(xdp: XdpBackend, frames: list[bytes]) -> None:
    _compare(xdp, _config(), frames)


@_SETTINGS
@given(
    max_orders=st.integers(0, 4),
    first=st.sampled_from([0, 1, 999_999_999_999 % U32, U32 - 3]),
    armed=st.booleans(),
    max_position=st.integers(0, 3000),
    max_notional=st.integers(0, 3_000_000_000),
    prices=st.lists(st.integers(1, 1_600_000), min_size=1, max_size=12),
)
def test_limits_match_reference(
    xdp: XdpBackend,
    max_orders: int,
    first: int,
    armed: bool,
    max_position: int,
    max_notional: int,
    prices: list[int],
) -> None:
    inst = InstrumentConfig(13, "AAPL", 1_500_000, 100, 37, 7, 1000, max_position, max_notional)
    config = _config(
        armed=armed, max_orders=max_orders, first_user_ref_num=first, instruments=(inst,)
    )
    frames = [feed_frame([FILLER, add_order(13, "S", p), add_order(13, "S", p)]) for p in prices]
    _compare(xdp, config, frames)


# -- edges, one by one ------------------------------------------------------------------------


def test_the_64_block_limit(xdp: XdpBackend) -> None:
    trig = add_order(13, "S", 1_490_000)
    frames = [
        feed_frame([FILLER] * 63 + [trig]),  # the 64th block triggers
        feed_frame([FILLER] * 64 + [trig]),  # the 65th is never looked at
        feed_frame([FILLER] * 64, cut=20 + 64 * (2 + len(FILLER)) + 1),  # defect after 64: none
        feed_frame([FILLER] * 63 + [b"A" * 10]),  # a short A as the 64th block: parse error
    ]
    _compare(xdp, _config(), frames)
    assert xdp.stats().orders == 1
    assert xdp.stats().parse_errors == 1


def test_blocks_at_the_end_of_the_payload(xdp: XdpBackend) -> None:
    # The block loop checks memory for a length field and a whole Add Order at once, and
    # takes a slower path when that check fails (the last blocks of a frame); with padding
    # or a cut UDP length the memory goes on past the contract's end E.
    trig = add_order(13, "S", 1_490_000)
    short_a = b"A" + bytes(9)
    frames = []
    for tail in ([], [FILLER], [b""], [short_a], [b"X"], [FILLER, b""]):
        for padding in (0, 1, 37, 40, 80):
            frames.append(feed_frame([trig, *tail], padding=padding))
            frames.append(feed_frame([*tail, trig], padding=padding))
    whole = 20 + 2 + len(trig)
    for cut in range(whole - 3, whole + 1):  # the Add Order cut short at E, memory behind it
        frames.append(feed_frame([trig], cut=cut, trailing=b"", padding=64))
        frames.append(feed_frame([trig], snap=14 + 20 + 8 + cut))
    _compare(xdp, _config(), frames)
    assert 0 < xdp.stats().orders < len(frames)
    assert xdp.stats().parse_errors > 0


def test_vlan_options_fragments_and_ports(xdp: XdpBackend) -> None:
    trig = [add_order(13, "S", 1_490_000)]
    frames = [
        feed_frame(trig, vlan_tci=0xE00D),
        feed_frame(trig, options=b"\x01" * 40),  # IHL 15
        feed_frame(trig, flags_fragment=0x2000),  # first fragment: ignored
        feed_frame(trig, flags_fragment=0x0001),  # later fragment: ignored
        feed_frame(trig, dst_port=26400),
        feed_frame(trig, padding=20),
        feed_frame(trig, snap=60),
        feed_frame(trig, end_of_session=True),
        feed_frame([]),
        b"\x00" * 13,  # a runt: counted, nothing else
    ]
    _compare(xdp, _config(), frames)
    assert xdp.stats().orders == 3
    assert xdp.stats().frames == len(frames)


def test_order_frame_is_exactly_the_reference(xdp: XdpBackend) -> None:
    frame = feed_frame([add_order(14, "S", 3_999_999, mpid="ABCD")], vlan_tci=5)
    config = _config(first_user_ref_num=U32, max_orders=1)
    xdp.configure(config)
    (order,) = xdp.feed(frame)
    assert len(order) == 115
    assert [order] == ThresholdEngine(config).feed(frame)
    assert order[99:113] == b"TW004294967295"


@pytest.mark.parametrize("outer", [0x88A8, 0x8100])
def test_qinq_feed_frames_match_the_reference(xdp: XdpBackend, outer: int) -> None:
    """QinQ (docs/threshold.md section 2 rule 1): read, and the order carries both tags
    back in place (119 bytes); a third tag, or a frame cut inside the second, is ignored.
    Before, the program passed every QinQ frame (XDP_PASS, no order)."""
    frames = tag_frames([add_order(13, "S", 1_490_000)], outer)
    _compare(xdp, _config(), frames)
    xdp.configure(_config())
    (order,) = xdp.feed(frames[0])
    assert len(order) == 119 and order[12:22] == frames[0][12:20] + b"\x08\x00"
    assert xdp.stats().orders == 1


def test_frames_too_long_for_test_run_are_refused(xdp: XdpBackend) -> None:
    xdp.configure(_config())
    with pytest.raises(FrameSizeError):
        xdp.feed(bytes(TEST_RUN_MAX_FRAME + 1))


def test_threshold_command_line_with_backend_xdp(tmp_path: Path) -> None:
    """``python -m tickwire.threshold run --backend xdp`` writes what the reference does."""
    capture = (
        Path(__file__).resolve().parents[3]
        / "data"
        / "pcap"
        / "nasdaq-itch50"
        / "Multiple.Packets.pcap"
    )
    config = tmp_path / "threshold.toml"
    inst = InstrumentConfig(6514, "META", 3_600_000, 10, 1, 100, 500, 1000, 10**12)
    config.write_text(_config(instruments=(inst,)).to_toml())
    outputs = {}
    for name in ("reference", "xdp"):
        orders, stats = tmp_path / f"{name}.pcap", tmp_path / f"{name}.json"
        cmd = [sys.executable, "-m", "tickwire.threshold", "run", "--backend", name]
        cmd += [
            "--config",
            str(config),
            str(capture),
            "--orders",
            str(orders),
            "--json",
            str(stats),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        outputs[name] = (orders.read_bytes(), stats.read_text())
    assert outputs["xdp"] == outputs["reference"]
    assert '"orders": 1' in outputs["xdp"][1]
