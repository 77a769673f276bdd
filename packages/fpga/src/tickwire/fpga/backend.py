"""The ``fpga`` backend: the threshold core in a cycle-accurate simulation.

Registered under the ``tickwire.backends`` entry point, so
``python -m tickwire.threshold run --backend fpga ...`` and the differential harness
(``tests/test_threshold_harness.py``) run the hardware design like any other backend.

One simulator serves many runs: :meth:`FpgaBackend.configure` loads the config through
the register bus (:func:`tickwire.fpga.control.load_config`: registers, instrument slots,
APPLY, RESET), exactly as a host would drive the real core; :meth:`FpgaBackend.feed`
streams one frame and waits until its order (if any) has left the TX port;
:meth:`FpgaBackend.feed_many` streams frames back to back, one beat every cycle.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from tickwire.threshold import ThresholdStats
from tickwire.threshold.backends import BackendUnavailable
from tickwire.threshold.config import ThresholdConfig

from . import control, regs
from .sim import CoreSim
from .vsim import VerilatorSim, VsimUnavailable

__all__ = ["FpgaBackend", "FpgaVerilatorBackend"]

Simulator = Literal["python", "verilator"]


class FpgaBackend:
    """The threshold strategy on the simulated FPGA core (the Backend protocol).

    ``simulator`` is ``"python"`` (Amaranth's simulator, always available) or
    ``"verilator"`` (the exported Verilog compiled by Verilator: faster, needs verilator
    and g++; :class:`BackendUnavailable` from :meth:`configure` otherwise).
    """

    name = "fpga"

    def __init__(self, simulator: Simulator = "python") -> None:
        if simulator not in ("python", "verilator"):
            raise ValueError(f"simulator must be 'python' or 'verilator', not {simulator!r}")
        self.simulator = simulator
        self.sim: CoreSim | VerilatorSim | None = None
        self._config: ThresholdConfig | None = None
        self._slots_in_use = regs.INST_SLOTS

    def configure(self, config: ThresholdConfig) -> None:
        """Load ``config`` over the register bus; counters, positions and numbering reset."""
        if self.sim is None:
            if self.simulator == "python":
                self.sim = CoreSim()
            else:
                try:
                    self.sim = VerilatorSim()
                except VsimUnavailable as exc:
                    raise BackendUnavailable(str(exc)) from exc
        control.load_config(self.sim, config, slots_in_use=self._slots_in_use)
        self._slots_in_use = len(config.instruments)
        self._config = config

    def _running(self) -> tuple[CoreSim | VerilatorSim, ThresholdConfig]:
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
        return control.read_stats(sim, control.config_slots(config))

    def close(self) -> None:
        """End the simulation."""
        if self.sim is not None:
            self.sim.close()
        self.sim = None
        self._config = None
        self._slots_in_use = regs.INST_SLOTS


class FpgaVerilatorBackend(FpgaBackend):
    """The entry-point factory for ``--backend fpga-verilator`` (the compiled simulation)."""

    name = "fpga-verilator"

    def __init__(self) -> None:
        super().__init__("verilator")
