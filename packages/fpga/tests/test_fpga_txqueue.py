"""The TX FIFO under runs of triggering frames: runs the model of
:mod:`tickwire.fpga.txqueue` says lose nothing lose nothing on the simulated core, and
the line's bound docs/fpga.md states is the model's.

The simulated TX sends a beat every cycle (no preamble, no gap), so on it the queue
grows only when triggering frames come back to back with no idle cycle: a 13-beat
frame against a 14-beat order (15 with a tag). The same model, with a line's framing,
gives the bound docs/fpga.md states for a real wire.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tickwire.fpga.backend import FpgaBackend
from tickwire.fpga.txqueue import MIN_TRIGGER_FRAME_LENS, run_losses, wire_first_loss
from tickwire.fpga.wire import ORDER_FRAME_BEATS
from tickwire.threshold import ThresholdEngine
from tickwire.threshold.config import InstrumentConfig, ThresholdConfig
from tickwire.threshold.testing import add_order, feed_frame

DOC = Path(__file__).resolve().parents[3] / "docs" / "fpga.md"

# One instrument that can be sent an order for every frame: the contract bounds no run.
CONFIG = ThresholdConfig(
    True,
    2**32 - 2,
    1,
    26477,
    26400,
    "TWORDERS01",
    (InstrumentConfig(13, "AAPL", 1_500_000, 1, 0, 100, 1, 2**62, 2**62),),
)


def _trigger(tags: int) -> bytes:
    frame = feed_frame([add_order(13, "S", 1_500_000)], vlan_tags=((0x8100, 141),) * tags)
    assert len(frame) == MIN_TRIGGER_FRAME_LENS[tags]
    return frame


def _sim_losses(frames: int, tags: int, gap: int) -> list[int]:
    """The model on the simulated TX: a frame every ``13 + gap`` cycles, an order's
    first beat the cycle after its push, its entry freed at its last beat."""
    beats = ORDER_FRAME_BEATS[tags]
    in_beats = -(-MIN_TRIGGER_FRAME_LENS[tags] // 8)
    return run_losses(frames, in_beats + gap, beats, start=1, hold=beats - 1)


def _lossless(backend: FpgaBackend, tags: int, frames: int, gap: int) -> None:
    """Run ``frames`` minimum triggering frames ``gap`` idle cycles apart, a run the model
    says loses nothing: every output and the statistics are the reference's."""
    assert _sim_losses(frames, tags, gap) == []
    run = [_trigger(tags)] * frames
    engine = ThresholdEngine(CONFIG)
    want = [engine.feed(f) for f in run]
    backend.configure(CONFIG)
    assert backend.sim is not None
    assert backend.sim.stream(run, gap=gap) == want
    assert backend.stats().to_json() == engine.stats().to_json()


@pytest.mark.parametrize("tags", [0, 1])
def test_a_run_one_frame_short_of_the_simulated_bound_loses_nothing(
    fpga: FpgaBackend, tags: int
) -> None:
    """Back to back with no idle cycle: the model's first loss is the 99th order
    untagged, the 54th with a tag (docs/fpga.md); one frame fewer loses none."""
    first = _sim_losses(200, tags, 0)[0]
    assert first == (98, 53)[tags]
    _lossless(fpga, tags, first, 0)


def test_one_frame_more_loses_the_order_the_model_names() -> None:
    """The 99th frame's order is the one lost: the simulator, whose debug output marked
    it queued, finds 99 orders queued and 98 sent, and stops with an ``AssertionError``,
    as docs/fpga.md says. A test that fails once that is fixed, to be rewritten then to
    compare the orders that left and read ``TX_OVERFLOW``. Its own backend: a simulation
    stopped by an exception is not used again (the shared ``fpga`` fixture's would hang)."""
    first = _sim_losses(200, 0, 0)[0]
    backend = FpgaBackend()
    try:
        backend.configure(CONFIG)
        assert backend.sim is not None
        with pytest.raises(AssertionError, match=f"^{first + 1} orders queued but {first} sent$"):
            backend.sim.stream([_trigger(0)] * (first + 1), gap=0)
    finally:
        backend.close()


def test_one_idle_cycle_between_frames_loses_nothing(fpga: FpgaBackend) -> None:
    """14 cycles a frame against a 14-beat order: the queue never grows."""
    _lossless(fpga, 0, 200, 1)


def test_the_bound_on_a_line_is_the_one_docs_fpga_md_states() -> None:
    """A 10GbE line: the first order lost in a run of minimum triggering frames, by
    number of tags, as docs/fpga.md states it (order 89, 91, 94 of the run)."""
    firsts = [wire_first_loss(k) for k in range(3)]
    assert firsts == [88, 90, 93]
    text = " ".join(DOC.read_text().split())
    stated = re.search(r"the order of frame (\d+), (\d+) or (\d+) of the run", text)
    assert stated is not None
    assert [int(n) - 1 for n in stated.groups()] == firsts
    # An order frame never outgrown: frames as long as it lose nothing.
    assert wire_first_loss(0, frame_len=111) is None
