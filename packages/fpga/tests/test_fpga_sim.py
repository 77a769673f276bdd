"""``CoreSim.close`` gives the compiled simulation to the next CoreSim of the process: reset,
it starts and runs as a new one would, register for register and cycle for cycle."""

from __future__ import annotations

import pytest
from tickwire.fpga import control, regs
from tickwire.fpga.sim import CoreSim
from tickwire.threshold.config import ThresholdConfig
from tickwire.threshold.testing import add_order, feed_frame

FRAMES = [
    feed_frame([add_order(13, "S", 1_499_900), add_order(13, "S", 1_499_800)]),
    feed_frame([add_order(13, "B", 1_400_000)], vlan_tci=7),
    feed_frame([add_order(13, "S", 1_450_000)]),
]
#: Every readable register word, per-slot ones for every slot (the instrument memories).
READABLE = [
    r.address + slot * r.stride + word
    for r in regs.REGISTERS
    if r.access != "WO"
    for slot in range(r.slots)
    for word in range(r.words)
]


def _state(sim: CoreSim) -> list[int]:
    return sim.read_many(READABLE)


def _run(sim: CoreSim, config: ThresholdConfig) -> tuple[object, ...]:
    control.load_config(sim, config)
    out = sim.stream(FRAMES)
    stats = control.read_stats(sim, control.config_slots(config))
    return out, sim.latencies, sim.cycle, stats.to_json(), _state(sim)


def test_a_closed_coresims_simulation_starts_as_a_new_one(aapl_config: ThresholdConfig) -> None:
    used, fresh = CoreSim(), CoreSim()
    first = _run(used, aapl_config)
    assert sum(map(len, first[0])) == 2  # orders sent: counters and positions moved
    before = _state(used)
    compiled = used.sim
    used.close()
    reused = CoreSim()
    try:
        assert reused.sim is compiled and fresh.sim is not compiled
        assert reused.cycle == 0 and reused.latencies == []
        assert _state(reused) == _state(fresh) != before
        assert _run(reused, aapl_config) == _run(fresh, aapl_config)
        assert _run(reused, aapl_config)[0] == first[0]
    finally:
        reused.close()
        fresh.close()


def test_a_closed_coresim_cannot_run() -> None:
    sim = CoreSim()
    sim.close()
    sim.close()  # twice: nothing
    with pytest.raises(RuntimeError, match="closed"):
        sim.read_many([regs.addr("ID")])


def test_a_coresim_whose_run_raised_is_not_reused() -> None:
    broken = CoreSim()
    with pytest.raises(TypeError):
        broken.write_many([(regs.addr("ARMED"), "1")])  # type: ignore[list-item]
    compiled = broken.sim
    broken.close()
    again = CoreSim()
    try:
        assert again.sim is not compiled
        assert again.read_many([regs.addr("ID")]) == [regs.CORE_ID]
    finally:
        again.close()
