"""The ``cython`` threshold backend against the reference engine, frame by frame.

The cross-backend harness (``tests/test_threshold_harness.py``) runs every registered
backend through its contract model; this is the package's own, smaller differential test
of the compiled core (same order frames, same STATS.json), over frames that reach every
rule: triggers and non-triggers, every refusal, suppression, the 64-block limit, short
A/F blocks, truncations, snap lengths, VLAN tags, IPv4 options, fragments, other ports.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tickwire.itch import OrderDelete, encode
from tickwire.threshold import InstrumentConfig, ThresholdConfig, ThresholdEngine, run_frames
from tickwire.threshold.backends import BackendUnavailable, load_backend
from tickwire.threshold.cbackend import AVAILABLE, UNAVAILABLE_REASON, CythonBackend
from tickwire.threshold.testing import add_order, feed_frame, tag_frames

pytestmark = pytest.mark.skipif(not AVAILABLE, reason=f"{UNAVAILABLE_REASON}")

FEED, ORDERS = 26477, 26400
LOCATES = (13, 14, 15)


@st.composite
def configs(draw: st.DrawFn) -> ThresholdConfig:
    locates = draw(st.lists(st.sampled_from(LOCATES), unique=True, min_size=1, max_size=3))
    instruments = tuple(
        InstrumentConfig(
            locate=loc,
            symbol=draw(st.sampled_from(["AAPL", "X", "ABCDEFGH"])),
            limit_price=draw(st.sampled_from([100_000, 1_500_000, 1_500_000, 2**32 - 1])),
            base_qty=draw(st.integers(0, 300)),
            step_qty=draw(st.integers(0, 300)),
            tick=draw(st.sampled_from([1, 100, 2**32 - 1])),
            max_order_qty=draw(st.sampled_from([1, 500, 999_999])),
            max_position=draw(st.sampled_from([0, 300, 5_000, 2**62, 2**62])),
            max_notional=draw(st.sampled_from([0, 10**8, 10**11, 2**62, 2**62])),
        )
        for loc in locates
    )
    return ThresholdConfig(
        armed=draw(st.sampled_from([True, True, True, False])),
        max_orders=draw(st.sampled_from([0, 1, 3, 1000, 1000])),
        first_user_ref_num=draw(st.sampled_from([0, 1, 999_999_999])),
        feed_port=FEED,
        order_port=ORDERS,
        order_session=draw(st.sampled_from(["TWORDERS01", "S", "A B"])),
        instruments=instruments,
    )


_block = st.one_of(
    st.builds(
        lambda loc, side, price, mpid: add_order(loc, side, price, mpid=mpid),
        st.sampled_from((*LOCATES, 99)),
        st.sampled_from(["S", "S", "B"]),
        st.sampled_from([0, 1, 99_999, 100_000, 1_499_901, 1_500_000, 1_500_001, 2**32 - 1]),
        st.sampled_from([None, None, "NSDQ"]),
    ),
    st.just(encode(OrderDelete(13, 0, 0, 42))),
    st.just(b""),
    st.sampled_from([b"A", b"F" + bytes(30), add_order(13, "S", 1)[:-1], b"Z12"]),
    st.builds(lambda b, extra: b + extra, st.just(add_order(13, "S", 5)), st.binary(max_size=4)),
)


@st.composite
def frames(draw: st.DrawFn) -> bytes:
    blocks = draw(st.lists(_block, max_size=70))
    kind = draw(st.sampled_from(["plain"] * 6 + ["cut", "snap", "vlan", "options", "port", "frag"]))
    kw: dict[str, object] = {}
    if kind == "cut":
        kw["cut"] = draw(st.integers(0, 200))
    elif kind == "snap":
        kw["snap"] = draw(st.integers(0, 300))
    elif kind == "vlan":  # one tag, QinQ (either outer TPID, either inner) or three
        tpids = st.sampled_from([0x8100, 0x8100, 0x88A8])
        tag = st.tuples(tpids, st.integers(0, 0xFFFF))
        kw["vlan_tags"] = tuple(draw(st.lists(tag, min_size=1, max_size=3)))
    elif kind == "options":
        kw["options"] = bytes(4 * draw(st.integers(1, 10)))
    elif kind == "port":
        kw["dst_port"] = ORDERS
    elif kind == "frag":
        kw["flags_fragment"] = draw(st.sampled_from([0x2000, 0x0001, 0x4000]))
    if draw(st.booleans()):
        kw["trailing"] = draw(st.binary(max_size=3))
    return feed_frame(blocks, **kw)  # type: ignore[arg-type]


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(config=configs(), specs=st.lists(frames(), max_size=12))
def test_cython_matches_reference(config: ThresholdConfig, specs: list[bytes]) -> None:
    want_out, want_stats = run_frames(ThresholdEngine(), config, specs)
    got_out, got_stats = run_frames(CythonBackend(), config, specs)
    assert got_out == want_out
    assert got_stats.to_json() == want_stats.to_json()


#: One armed instrument, AAPL at locate 13, limit $150.00: an ask at $149.98 triggers.
AAPL_ARMED = ThresholdConfig(
    armed=True,
    max_orders=10,
    first_user_ref_num=7,
    feed_port=FEED,
    order_port=ORDERS,
    order_session="TWORDERS01",
    instruments=(InstrumentConfig(13, "AAPL", 1_500_000, 100, 100, 100, 1000, 5000, 10**12),),
)


@pytest.mark.parametrize("outer", [0x88A8, 0x8100])
def test_qinq_feed_frames_match_the_reference(outer: int) -> None:
    """A QinQ feed frame triggers, and its order carries both tags back (docs/threshold.md
    sections 2 and 5); a third tag, or a frame cut inside the second, is ignored.
    Before, the compiled core ignored every QinQ frame."""
    config = AAPL_ARMED
    frames = tag_frames([add_order(13, "S", 1_499_800)], outer)
    want_out, want_stats = run_frames(ThresholdEngine(), config, frames)
    got_out, got_stats = run_frames(CythonBackend(), config, frames)
    assert len(want_out[0]) == 1 and want_out[0][0][12:20] == frames[0][12:20]
    assert got_out == want_out and got_stats.to_json() == want_stats.to_json()


def test_registered_as_cython_and_runs_a_trigger() -> None:
    backend = load_backend("cython")
    assert isinstance(backend, CythonBackend)
    config = AAPL_ARMED
    frame = feed_frame([add_order(13, "S", 1_499_800), add_order(13, "S", 1_499_900)])
    backend.configure(config)
    out = backend.feed(frame)
    assert out == ThresholdEngine(config).feed(frame)
    assert len(out) == 1 and b"TW000000000007" in out[0]
    s = backend.stats()
    assert (s.triggers, s.orders, s.suppressed, s.instruments[13].shares) == (2, 1, 1, 300)
    # configure resets every counter.
    backend.configure(config)
    assert backend.stats() == ThresholdEngine(config).stats()
    backend.close()


def test_feed_before_configure_raises() -> None:
    with pytest.raises(RuntimeError):
        CythonBackend().feed(b"")


def test_unavailable_is_a_typed_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from tickwire.threshold import cbackend

    monkeypatch.setattr(cbackend, "_ext", None)
    with pytest.raises(BackendUnavailable):
        CythonBackend().configure(ThresholdConfig(True, 0, 1, FEED, ORDERS, "S"))
