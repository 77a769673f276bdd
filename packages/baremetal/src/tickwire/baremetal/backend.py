"""The ``baremetal`` backend: the threshold strategy in the kernel, under QEMU.

Registered under the ``tickwire.backends`` entry point, so
``python -m tickwire.threshold run --backend baremetal ...`` and the differential
harness (``tests/test_threshold_harness.py``) run it like any other backend.

One boot serves many cases: the first :meth:`configure` boots the kernel (config via
fw_cfg); later calls reload the config over a control packet, which resets statistics,
positions, sequence numbers and the latency histogram in the guest without rebooting.
Frames travel in ack mode, so every order frame maps back to the input frame that caused
it; :meth:`feed_many` keeps up to 64 frames in flight for speed.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable

from tickwire.threshold.backends import BackendUnavailable
from tickwire.threshold.config import ThresholdConfig
from tickwire.threshold.stats import ThresholdStats

from .build import BuildError
from .qemu import ACCEL_ENV, Guest, default_accel, qemu_binary
from .stats import GuestReport

__all__ = ["ACCEL_ENV", "BaremetalBackend", "default_accel"]


class BaremetalBackend:
    """The threshold strategy on the bare-metal kernel (the Backend protocol)."""

    name = "baremetal"

    def __init__(self, *, accel: str | None = None) -> None:
        self.accel = accel or default_accel()
        self.guest: Guest | None = None
        self.last_report: GuestReport | None = None

    def configure(self, config: ThresholdConfig) -> None:
        """Boot on first use (raises BackendUnavailable without qemu, nasm or gcc);
        afterwards reload the config in the running kernel."""
        if self.guest is not None and self.guest.running:
            self.guest.reconfigure(config)
            return
        missing = [t for t in ("nasm", "gcc", "ld") if shutil.which(t) is None]
        if qemu_binary() is None:
            missing.append("qemu-system-x86_64")
        if missing:
            raise BackendUnavailable(
                f"missing {', '.join(missing)} (scripts/setup.sh installs them)"
            )
        guest = Guest(config, accel=self.accel)
        try:
            guest.start()
        except BuildError as exc:
            raise BackendUnavailable(f"cannot build the kernel: {exc}") from exc
        self.guest = guest

    def _running(self) -> Guest:
        if self.guest is None:
            raise RuntimeError("configure() the backend before feeding frames")
        return self.guest

    def feed(self, frame: bytes) -> list[bytes]:
        """One frame in; the order frames it caused (zero or one)."""
        return self._running().process([frame])[0]

    def feed_many(self, frames: Iterable[bytes]) -> list[list[bytes]]:
        """Many frames, pipelined; the order frames of each, in input order."""
        return self._running().process(frames)

    def stats(self) -> ThresholdStats:
        """The kernel's statistics (read from its serial report)."""
        self.last_report = self._running().report()
        return self.last_report.threshold_stats()

    def close(self) -> None:
        """End the run: the kernel exits through isa-debug-exit; QEMU is always reaped."""
        if self.guest is not None:
            self.guest.close()
            self.guest = None
