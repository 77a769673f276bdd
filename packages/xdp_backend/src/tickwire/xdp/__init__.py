"""tickwire.xdp: the threshold strategy in the kernel's XDP hook.

The C program (``bpf/tickwire_xdp.c``, shipped as package data) is compiled with clang
on first use and cached; :class:`XdpProgram` loads it through libbpf (ctypes), installs a
:class:`tickwire.threshold.config.ThresholdConfig`, attaches it to an interface, pins its
maps and reads its statistics. :class:`XdpBackend` runs it frame by frame with
BPF_PROG_TEST_RUN for the differential harness (``--backend xdp``). :class:`MirrorFeed`
hands the frames it mirrored (those turned into orders never reach the stack) to a
userspace MoldUDP64 receiver.
"""

from __future__ import annotations

from .backend import XdpBackend
from .build import BuildError
from .libbpf import LibbpfError
from .mirror import MirrorFeed, MirrorStats
from .program import (
    BPFFS,
    PIN_ROOT,
    XDP_ABORTED,
    XDP_DROP,
    XDP_PASS,
    XDP_TX,
    FrameSizeError,
    MirroredFrame,
    MirrorReader,
    PinStatus,
    RawStats,
    TestRun,
    XdpError,
    XdpProgram,
    ensure_bpffs,
    pin_dir,
    pin_status,
)

__all__ = [
    "BPFFS",
    "PIN_ROOT",
    "XDP_ABORTED",
    "XDP_DROP",
    "XDP_PASS",
    "XDP_TX",
    "BuildError",
    "FrameSizeError",
    "LibbpfError",
    "MirrorFeed",
    "MirrorReader",
    "MirrorStats",
    "MirroredFrame",
    "PinStatus",
    "RawStats",
    "TestRun",
    "XdpBackend",
    "XdpError",
    "XdpProgram",
    "ensure_bpffs",
    "pin_dir",
    "pin_status",
]
