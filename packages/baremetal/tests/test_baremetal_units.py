"""Host-side pieces without QEMU: layouts, the report parser, the histogram, the traffic
generator, the build cache and the backend's registration."""

from __future__ import annotations

import dataclasses
import itertools
import random

import pytest
from _baremetal_helpers import BASE_CONFIG
from hypothesis import given, settings
from hypothesis import strategies as st
from tickwire.baremetal import build
from tickwire.baremetal.backend import ACCEL_ENV, BaremetalBackend, default_accel
from tickwire.baremetal.layout import (
    ACK_KIND_DONE,
    CONFIG,
    CONTROL,
    Command,
    build_ack,
    build_control,
    config_blob,
    new_secret,
    parse_ack,
)
from tickwire.baremetal.stats import (
    BUCKETS,
    CycleHistogram,
    ReportError,
    bucket_bounds,
    bucket_index,
    parse_report,
)
from tickwire.baremetal.traffic import FAULT_KINDS, feed_frames, generated_messages, inject_faults
from tickwire.net.stats import QUANTILES, percentiles
from tickwire.threshold.backends import available_backends, load_backend
from tickwire.threshold.config import InstrumentConfig


def test_config_blob_layout() -> None:
    secret = new_secret()
    blob = config_blob(BASE_CONFIG, secret, ack_frames=True)
    assert len(blob) == 48 + 46 * len(BASE_CONFIG.instruments)
    parsed = CONFIG.parse(blob)
    assert parsed.flags == 3 and parsed.secret == secret
    assert parsed.order_session == b"TWORDERS01" and parsed.feed_port == 26477
    inst = parsed.instruments[0]
    assert (inst.locate, inst.symbol, inst.limit_price, inst.max_notional) == (
        13,
        b"AAPL    ",
        1_500_000,
        500_000_000_000,
    )
    assert blob[48 + 2 : 48 + 10] == b"AAPL    "  # space-padded as the order needs it
    with pytest.raises(ValueError, match="16 bytes"):
        config_blob(BASE_CONFIG, b"short")


@settings(max_examples=50, deadline=None)
@given(
    locates=st.lists(st.integers(1, 65535), unique=True, max_size=64),
    session=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=10),
    armed=st.booleans(),
)
def test_config_blob_round_trips(locates: list[int], session: str, armed: bool) -> None:
    insts = tuple(InstrumentConfig(loc, f"S{loc}", loc, 1, 2, 3, 4, 2**62, loc) for loc in locates)
    cfg = dataclasses.replace(BASE_CONFIG, armed=armed, order_session=session, instruments=insts)
    parsed = CONFIG.parse(config_blob(cfg, bytes(16)))
    assert parsed.flags & 1 == armed
    assert parsed.order_session == session.encode().ljust(10)
    assert [i.locate for i in parsed.instruments] == locates
    assert [i.symbol for i in parsed.instruments] == [
        f"S{loc}".encode().ljust(8) for loc in locates
    ]


def test_control_and_ack_frames() -> None:
    frame = build_control(bytes(range(16)), 7, Command.LIMITS, b"xyz")
    assert frame[12:14] == b"\x88\xb5"
    parsed = CONTROL.parse(frame[14:])
    assert (parsed.seq, parsed.command, parsed.body) == (7, Command.LIMITS, b"xyz")
    # The kernel reads seq at byte 34 and the command at 38 of the frame.
    assert int.from_bytes(frame[34:38], "little") == 7 and frame[38] == Command.LIMITS
    ack = parse_ack(build_ack(ACK_KIND_DONE, 7, 2, 2**40))
    assert ack is not None and (ack.kind, ack.a, ack.b, ack.c) == (2, 7, 2, 2**40)
    assert parse_ack(b"\x00" * 60) is None
    assert parse_ack(frame) is None  # a control frame is not a reply


@given(st.integers(0, 2**32 - 1))
def test_histogram_buckets_contain_their_values(cycles: int) -> None:
    i = bucket_index(cycles)
    low, high = bucket_bounds(i)
    assert 0 <= i < BUCKETS and low <= cycles < high
    assert high - low <= max(1, low // 16)  # under 6.25 % wide


def test_histogram_buckets_tile_the_range() -> None:
    edges = [bucket_bounds(i) for i in range(BUCKETS)]
    assert edges[0][0] == 0 and edges[-1][1] == 2**32
    assert all(a[1] == b[0] for a, b in itertools.pairwise(edges))
    with pytest.raises(ValueError):
        bucket_bounds(BUCKETS)


def test_percentiles() -> None:
    values = [random.Random(1).randint(1000, 5000) for _ in range(1000)]
    h = CycleHistogram(
        count=len(values), total=sum(values), minimum=min(values), maximum=max(values)
    )
    for v in values:
        h.buckets[bucket_index(v)] = h.buckets.get(bucket_index(v), 0) + 1
    exact = percentiles(values)  # the project's nearest rank
    for key, q in QUANTILES.items():
        want = exact[key]  # type: ignore[literal-required]
        assert want is not None and abs(h.percentile(q * 100) - want) <= want / 16 + 1
    with pytest.raises(ValueError):
        h.percentile(0)
    with pytest.raises(ValueError):
        CycleHistogram().percentile(50)


REPORT = [
    "STATS seq=4 why=request accel=tcg frames=9 messages_scanned=8 triggers=3 orders=1 suppressed=1"
    " parse_errors=2 killed=0 max_orders=0 position=1 notional=0 armed=1 ctl_ok=1 ctl_rejected=0",
    "INST locate=13 shares=100 notional=1500000",
    "HIST count=1 sum=2000 min=2000 max=2000",
    f"B i={bucket_index(2000)} n=1",
    "END seq=4",
]


def test_report_parses() -> None:
    r = parse_report(REPORT)
    s = r.threshold_stats()
    assert (r.seq, r.accel, s.frames, s.parse_errors, s.refused["position"]) == (4, "tcg", 9, 2, 1)
    assert s.instruments[13].notional == 1_500_000 and r.histogram.percentile(50) == 2000


@pytest.mark.parametrize(
    "lines",
    [
        [],
        REPORT[:-1],  # no END
        [*REPORT[:-1], "END seq=5"],  # mismatched END
        [REPORT[0].replace(" frames=9", ""), *REPORT[1:]],  # a counter missing
        [REPORT[0], "BOGUS x=1", *REPORT[1:]],
        [REPORT[0], "INST locate=13 shares=x notional=1", *REPORT[2:]],
        [*REPORT[:3], *REPORT[4:]],  # buckets do not add up
    ],
)
def test_bad_reports_raise(lines: list[str]) -> None:
    with pytest.raises(ReportError):
        parse_report(lines)


def test_fault_injection_is_deterministic_and_labelled() -> None:
    frames = list(feed_frames(generated_messages(1500, 10, 2)))
    a = list(inject_faults(frames, rate=0.5, seed=3))
    assert a == list(inject_faults(frames, rate=0.5, seed=3))
    assert [f for k, f in a if k == "valid"] == frames
    assert {k for k, _ in a} <= {"valid", *FAULT_KINDS}
    with pytest.raises(ValueError, match="unknown fault kind"):
        list(inject_faults(frames, rate=0.5, seed=3, kinds=["nope"]))
    with pytest.raises(ValueError, match="rate"):
        list(inject_faults(frames, rate=2, seed=3))


def test_feed_frames_respect_the_packet_budget() -> None:
    from tickwire.moldudp64.codec import parse_downstream
    from tickwire.net import parse_udp_frame

    msgs = list(generated_messages(3000, 10, 4))
    frames = list(feed_frames(msgs))
    packets = [parse_downstream(parse_udp_frame(f).payload) for f in frames]
    assert [m for p in packets for m in p.messages] == msgs
    assert all(
        p.count <= 38 and len(parse_udp_frame(f).payload) <= 1400
        for p, f in zip(packets, frames, strict=True)
    )
    assert [p.sequence for p in packets][:2] == [1, 1 + packets[0].count]


def test_build_is_cached(tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKWIRE_BAREMETAL_CACHE", str(tmp_path))
    image = build.build_kernel()
    assert image.read_bytes()[:4] == b"\x7fELF" and image.read_bytes()[4] == 1  # ELF32
    mtime = image.stat().st_mtime_ns
    assert build.build_kernel() == image and image.stat().st_mtime_ns == mtime
    # The multiboot header sits in the first 8 KiB of the file, 4-byte aligned.
    data = image.read_bytes()[:8192]
    off = data.find((0x1BADB002).to_bytes(4, "little"))
    assert off >= 0 and off % 4 == 0


def test_build_reports_missing_tools(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pytest.TempPathFactory
) -> None:
    monkeypatch.setenv("TICKWIRE_BAREMETAL_CACHE", str(tmp_path))
    with pytest.raises(build.BuildError, match="not found"):
        build.build_kernel(cc="no-such-compiler-tickwire")


def test_backend_is_registered_and_accel_override(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "baremetal" in available_backends()
    assert isinstance(load_backend("baremetal"), BaremetalBackend)
    monkeypatch.setenv(ACCEL_ENV, "kvm")
    assert default_accel() == "kvm"
    monkeypatch.setenv(ACCEL_ENV, "")
    assert default_accel() in ("tcg", "auto")
    with pytest.raises(RuntimeError, match="configure"):
        BaremetalBackend().feed(b"")


def test_faults_hit_the_moldudp64_header_of_a_vlan_frame() -> None:
    """The injector finds the MoldUDP64 packet with tickwire.net's parsers; it took byte 42
    of an 802.1Q frame (4 bytes into the session name) for the packet's start."""
    import random

    from tickwire.baremetal.traffic import _fault
    from tickwire.moldudp64 import DownstreamPacket
    from tickwire.net import build_udp_frame, parse_udp_frame

    pkt = DownstreamPacket("S", 1, (b"x" * 40,)).build()
    frame = build_udp_frame(
        pkt, src_ip="198.18.0.1", dst_ip="198.18.0.2", src_port=1, dst_port=2, vlan_tci=141
    )
    bad = _fault("bad_count", frame, random.Random(3))
    payload = parse_udp_frame(bad).payload
    assert payload[:18] == pkt[:18]  # session and sequence number untouched
    assert int.from_bytes(payload[18:20], "big") > 1  # the message count was raised
