"""The control plane: layouts against BTF, live config changes, the mirror, pins, errors."""

from __future__ import annotations

import ctypes
import dataclasses
import errno
import json
import os
import stat
import subprocess
import threading
import time
from collections.abc import Callable

import pytest
from tickwire.threshold.config import InstrumentConfig, ThresholdConfig
from tickwire.threshold.testing import add_order, feed_frame
from tickwire.xdp import XDP_PASS, XDP_TX, XdpError, XdpProgram, layout, pin_dir, pin_status
from tickwire.xdp.build import object_path
from tickwire.xdp.libbpf import LibbpfError
from tickwire.xdp.netns import VethPair, in_netns
from tickwire.xdp.program import MAP_NAMES

CONFIG = ThresholdConfig(
    armed=True,
    max_orders=100,
    first_user_ref_num=1,
    feed_port=26477,
    order_port=26400,
    order_session="TWORDERS01",
    instruments=(InstrumentConfig(13, "AAPL", 1_500_000, 100, 100, 100, 1000, 5000, 10**12),),
)
TRIGGER = feed_frame([add_order(13, "S", 1_490_000)])
QUIET = feed_frame([add_order(13, "B", 1_490_000)])


def _btf_structs() -> dict[str, dict[str, object]]:
    out = subprocess.run(
        ["bpftool", "-j", "btf", "dump", "file", str(object_path())],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {t["name"]: t for t in json.loads(out)["types"] if t["kind"] == "STRUCT"}


@pytest.mark.parametrize("name", sorted(layout.STRUCTS))
def test_ctypes_layouts_match_the_btf(name: str) -> None:
    btf = _btf_structs()[name]
    py = layout.STRUCTS[name]
    assert btf["size"] == ctypes.sizeof(py)
    members = btf["members"]
    assert isinstance(members, list)
    assert [m["name"] for m in members] == [f[0] for f in py._fields_]
    for m in members:
        assert m["bits_offset"] // 8 == getattr(py, m["name"]).offset, m["name"]


def test_configure_installs_and_reads_back(program: XdpProgram) -> None:
    program.configure(CONFIG)
    cfg = program.read_config()
    assert (cfg.armed, cfg.max_orders, cfg.feed_port, cfg.order_port) == (1, 100, 26477, 26400)
    assert bytes(cfg.order_session) == b"TWORDERS01"
    assert program.instruments() == {13: (0, CONFIG.instruments[0])}


def test_the_kill_switch_acts_on_the_next_frame(program: XdpProgram) -> None:
    program.configure(CONFIG)
    assert program.test_run(TRIGGER).retval == XDP_TX
    program.set_armed(False)
    run = program.test_run(TRIGGER)
    assert run.retval == XDP_PASS
    assert run.data == TRIGGER  # passed untouched
    program.set_armed(True)
    assert program.test_run(TRIGGER).retval == XDP_TX
    raw = program.raw_stats()
    assert (raw.orders, raw.refused["killed"], raw.triggers) == (2, 1, 3)


def test_set_instrument_changes_limits_at_once_and_adds(program: XdpProgram) -> None:
    program.configure(CONFIG)
    assert program.test_run(TRIGGER).retval == XDP_TX
    lower = dataclasses.replace(CONFIG.instruments[0], limit_price=1_000_000)
    assert program.set_instrument(lower) == 0  # keeps its slot, and its position
    assert program.test_run(TRIGGER).retval == XDP_PASS
    assert program.raw_stats().instruments[13].shares == 1000
    new = InstrumentConfig(14, "MSFT", 4_000_000, 10, 0, 1, 50, 50, 10**12)
    assert program.set_instrument(new) == 1
    run = program.test_run(feed_frame([add_order(14, "S", 3_000_000)]))
    assert run.retval == XDP_TX
    assert run.data[74:82] == b"MSFT    "
    assert program.raw_stats().instruments[14].shares == 10  # base_qty, no step


def test_mirror_copies_order_frames_before_rewriting(program: XdpProgram) -> None:
    program.configure(CONFIG, mirror=layout.MIRROR_ORDERS)
    reader = program.mirror_reader()
    try:
        reader.consume()
        assert program.test_run(QUIET).retval == XDP_PASS
        assert program.test_run(TRIGGER).retval == XDP_TX
        (copy,) = reader.consume()
        assert copy.data == TRIGGER and copy.frame_len == len(TRIGGER) and copy.ordered
        program.set_mirror(layout.MIRROR_ALL)
        program.test_run(QUIET)
        program.test_run(TRIGGER)
        assert [(c.data, c.ordered) for c in reader.consume()] == [(QUIET, False), (TRIGGER, True)]
        program.set_mirror(layout.MIRROR_NONE)
        program.test_run(TRIGGER)
        assert reader.consume() == []
        assert program.raw_stats().mirrored == 3
    finally:
        reader.close()


def test_test_run_repeat_reports_a_duration(program: XdpProgram) -> None:
    program.configure(CONFIG)
    run = program.test_run(QUIET, repeat=1000)
    assert run.retval == XDP_PASS
    assert 0 < run.duration_ns < 100_000
    assert program.raw_stats().frames == 1000


@pytest.fixture
def pinned(pin: Callable[[ThresholdConfig], str]) -> str:
    return pin(CONFIG)


def test_pins_are_root_only_and_reopen(program: XdpProgram, pinned: str) -> None:
    base = pin_dir(pinned)
    assert stat.S_IMODE(base.stat().st_mode) == 0o700
    assert stat.S_IMODE(base.parent.stat().st_mode) == 0o700
    names = sorted(p.name for p in base.iterdir())
    assert names == sorted([*MAP_NAMES, "prog", "owner"])  # owner: where it was attached
    for p in base.iterdir():
        if p.name != "owner":
            assert stat.S_IMODE(p.stat().st_mode) == 0o600
    with XdpProgram.open_pinned(pinned) as other:
        other.set_armed(False)  # through the pins, seen by the loaded program
    assert program.test_run(TRIGGER).retval == XDP_PASS
    with XdpProgram.open_pinned(pinned) as other:
        assert other.raw_stats().refused["killed"] == 1
    # Attached nowhere (no such interface), the pins are stale: pinning again replaces them.
    assert pin_status(pinned).state == "stale"
    assert program.pin(pinned) == base


def test_errors_are_typed(program: XdpProgram) -> None:
    with pytest.raises(XdpError, match="nothing attached"):
        XdpProgram.open_pinned("twxnosuch0")
    with pytest.raises(XdpError, match="no interface"):
        program.attach("twxnosuch0", "generic")
    with pytest.raises(XdpError, match="mode"):
        program.attach("lo", "offload")  # type: ignore[arg-type]
    with pytest.raises(XdpError, match="invalid interface"):
        pin_dir("../etc")


def test_two_cpus_share_the_limits_exactly(program: XdpProgram, veth: VethPair) -> None:
    """Decisions on two CPUs at once never overspend a limit or reuse a sequence number.

    The decision state is one value under a bpf_spin_lock (docs/xdp.md): orders sent,
    position and notional per instrument, and with "orders sent" the order's MoldUDP64
    sequence number and UserRefNum. Two threads, each pinned to its own CPU, run the
    program back to back inside the kernel on fresh copies of triggering frames
    (:meth:`XdpProgram.run_live`, in the test's own namespace: the orders leave through
    its veth, the refused frames enter its stack), until both the AAPL position and
    max_orders bind. Without the lock, the two CPUs' read-modify-writes of the state
    lose updates: the shared count of orders falls behind the per-CPU counters.
    """
    cpus = sorted(os.sched_getaffinity(0))[:2]
    config = dataclasses.replace(
        CONFIG,
        max_orders=30_000,
        first_user_ref_num=7,
        instruments=(
            InstrumentConfig(13, "AAPL", 1_500_000, 100, 0, 1, 100, 1_000_000, 10**15),
            InstrumentConfig(14, "MSFT", 4_000_000, 7, 0, 1, 7, 10**12, 10**15),
        ),
    )
    program.configure(config, mirror=layout.MIRROR_NONE)
    frames = {
        symbol: feed_frame(
            [add_order(locate, "S", 1_490_000)],
            src_mac=veth.mac_peer,
            dst_mac=veth.mac_xdp,
            src_ip=veth.ip_peer,
            dst_ip=veth.ip_xdp,
        )
        for symbol, locate in (("AAPL", 13), ("MSFT", 14))
    }
    with in_netns(veth.ns_xdp):  # can this kernel run frames live at all?
        try:
            program.run_live(frames["MSFT"], repeat=1, iface=veth.if_xdp)
        except LibbpfError as exc:
            if exc.errno != errno.EPERM:
                raise
            pytest.skip(
                "this kernel refuses BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES "
                f"(EPERM, as root: {exc}); the test needs live frames on two CPUs"
            )
    program.configure(config, mirror=layout.MIRROR_NONE)  # the probe's order undone
    per_thread = 20_000  # per symbol
    spans: list[tuple[float, float]] = [(0.0, 0.0)] * len(cpus)
    start = threading.Barrier(len(cpus))

    def run(k: int) -> None:
        os.sched_setaffinity(threading.get_native_id(), {cpus[k]})
        with in_netns(veth.ns_xdp):
            start.wait()
            t0 = time.monotonic()
            for _ in range(per_thread // 250):
                for frame in frames.values():
                    program.run_live(frame, repeat=250, iface=veth.if_xdp)
            spans[k] = (t0, time.monotonic())

    threads = [threading.Thread(target=run, args=(k,)) for k in range(len(cpus))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    if len(cpus) > 1:  # the two really ran at the same time for most of the run
        overlap = min(e for _, e in spans) - max(s for s, _ in spans)
        assert overlap > 0.5 * min(e - s for s, e in spans)

    raw = program.raw_stats()
    state = program.read_state()
    # The kernel reuses a run's page for a later run without copying the frame in again,
    # so a run may find an order frame (for the order port: passed, not a trigger).
    assert raw.frames == 2 * per_thread * len(cpus)
    assert raw.triggers > 30_000
    assert state.orders == raw.orders == 30_000  # shared count == per-CPU counts == limit
    assert raw.instruments[13].shares == 1_000_000  # the AAPL cap, exactly
    assert raw.instruments[14].shares == 7 * (30_000 - 10_000)
    assert raw.refused["position"] > 0 and raw.refused["max_orders"] > 0
    assert raw.refused["position"] + raw.refused["max_orders"] == raw.triggers - 30_000
