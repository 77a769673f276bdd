"""The ``fpga`` backend: the threshold core in a cycle-accurate simulation.

Registered under the ``tickwire.backends`` entry point, so
``python -m tickwire.engine threshold --backend fpga ...`` and the differential harness
(``tests/test_engine_harness.py``) run the hardware design like any other backend.

One simulator serves many runs: :meth:`FpgaBackend.configure` loads the config through
the register bus (:func:`tickwire.fpga.control.load_config`: registers, instrument slots,
APPLY, RESET), exactly as a host would drive the real core; :meth:`FpgaBackend.feed`
streams one frame and waits until its order (if any) has left the TX port;
:meth:`FpgaBackend.feed_many` streams frames back to back, one beat every cycle.
"""

from __future__ import annotations

from collections.abc import Sequence

from tickwire.engine.config import ThresholdConfig
from tickwire.engine.threshold import ThresholdStats

from . import control, regs
from .sim import CoreSim

__all__ = ["FpgaBackend"]


class FpgaBackend:
    """The threshold strategy on the simulated FPGA core (the Backend protocol)."""

    name = "fpga"

    def __init__(self) -> None:
        self.sim: CoreSim | None = None
        self._config: ThresholdConfig | None = None
        self._slots_in_use = regs.INST_SLOTS

    def configure(self, config: ThresholdConfig) -> None:
        """Load ``config`` over the register bus; counters, positions and numbering reset."""
        if self.sim is None:
            self.sim = CoreSim()
        control.load_config(self.sim, config, slots_in_use=self._slots_in_use)
        self._slots_in_use = len(config.instruments)
        self._config = config

    def _running(self) -> tuple[CoreSim, ThresholdConfig]:
        if self.sim is None or self._config is None:
            raise RuntimeError("configure() the backend before feeding frames")
        return self.sim, self._config

    def feed(self, frame: bytes) -> list[bytes]:
        """Stream one frame; the order frames it caused (zero or one)."""
        sim, _ = self._running()
        return sim.stream([bytes(frame)])[0]

    def feed_many(self, frames: Sequence[bytes]) -> list[list[bytes]]:
        """Stream ``frames`` back to back (no idle cycle); the order frames of each."""
        sim, _ = self._running()
        return sim.stream([bytes(f) for f in frames])

    def stats(self) -> ThresholdStats:
        """The statistics, read from the core's counters."""
        sim, config = self._running()
        return control.read_stats(sim, config)

    def close(self) -> None:
        """Drop the simulator."""
        self.sim = None
        self._config = None
        self._slots_in_use = regs.INST_SLOTS
