"""The ``xdp`` backend of the threshold strategy: frames through the kernel program.

Each frame is run through the loaded (not attached) XDP program with
BPF_PROG_TEST_RUN, repeat 1: the kernel's verifier-checked, JIT-compiled code decides,
exactly as it would on a NIC, and the frame it leaves behind on XDP_TX is the order
frame. Statistics come from the program's maps. Registered under the entry-point group
``tickwire.backends`` as ``xdp``.

One thing is done in userspace, and only because the kernel interface forces it:
BPF_PROG_TEST_RUN refuses frames shorter than an Ethernet header (14 bytes), and no
driver hands XDP such a runt, so the backend counts them in ``frames`` itself, which is
all the contract does with them (docs/threshold.md section 2, rule 1).
"""

from __future__ import annotations

import atexit
import os
import threading

from tickwire.threshold.backends import BackendUnavailable
from tickwire.threshold.config import ThresholdConfig
from tickwire.threshold.stats import ThresholdStats

from . import layout
from .build import BuildError
from .libbpf import LibbpfError
from .program import TEST_RUN_MIN_FRAME, XDP_PASS, XDP_TX, XdpError, XdpProgram

__all__ = ["XdpBackend"]

# Loading the object costs the verifier a second or two (it walks all 64 iterations of
# the block loop), so closed backends hand their program to the next one; configure()
# resets every map, so a reused program carries nothing over.
_pool: list[XdpProgram] = []
_pool_lock = threading.Lock()


def _take_program() -> XdpProgram:
    with _pool_lock:
        if _pool:
            return _pool.pop()
    return XdpProgram.load()


def _release_program(prog: XdpProgram) -> None:
    with _pool_lock:
        _pool.append(prog)


@atexit.register
def _close_pool() -> None:
    with _pool_lock:
        while _pool:
            _pool.pop().close()


class XdpBackend:
    """The threshold strategy run by the XDP program through BPF_PROG_TEST_RUN."""

    name = "xdp"

    def __init__(self) -> None:
        self._prog: XdpProgram | None = None
        self._runts = 0

    def configure(self, config: ThresholdConfig) -> None:
        """Load the program if needed (BackendUnavailable when it cannot run here), reset."""
        if self._prog is None:
            if os.geteuid() != 0:
                raise BackendUnavailable("the xdp backend needs root (CAP_BPF and CAP_NET_ADMIN)")
            try:
                self._prog = _take_program()
            except (BuildError, LibbpfError, OSError) as exc:
                raise BackendUnavailable(f"cannot load the XDP program: {exc}") from exc
        # The mirror ring buffer is for live use; nobody drains it here.
        self._prog.configure(config, mirror=layout.MIRROR_NONE)
        self._runts = 0

    def _program(self) -> XdpProgram:
        if self._prog is None:
            raise RuntimeError("configure() the backend before using it")
        return self._prog

    def feed(self, frame: bytes) -> list[bytes]:
        """Run one frame through the program; the order frame on XDP_TX, else nothing."""
        prog = self._program()
        if len(frame) < TEST_RUN_MIN_FRAME:
            self._runts += 1
            return []
        run = prog.test_run(bytes(frame))
        if run.retval == XDP_TX:
            return [run.data]
        if run.retval == XDP_PASS:
            return []
        raise XdpError(f"the XDP program returned verdict {run.retval} (see tx_errors)")

    def stats(self) -> ThresholdStats:
        """The contract's statistics, read from the program's maps."""
        stats = self._program().raw_stats().threshold_stats()
        stats.frames += self._runts
        return stats

    def close(self) -> None:
        """Hand the program back to the pool (it is closed at interpreter exit)."""
        if self._prog is not None:
            _release_program(self._prog)
            self._prog = None
