"""tickwire.xdp: the threshold strategy in the kernel's XDP hook.

The C program (``bpf/tickwire_xdp.c``, shipped as package data) is compiled with clang
on first use and cached; :class:`XdpProgram` loads it through libbpf (ctypes), installs a
:class:`tickwire.engine.config.ThresholdConfig`, attaches it to an interface, pins its
maps and reads its statistics. :class:`XdpBackend` runs it frame by frame with
BPF_PROG_TEST_RUN for the differential harness (``--backend xdp``).
"""

from __future__ import annotations

from .backend import XdpBackend
from .build import BuildError
from .libbpf import LibbpfError
from .program import (
    PIN_ROOT,
    XDP_ABORTED,
    XDP_DROP,
    XDP_PASS,
    XDP_TX,
    FrameSizeError,
    MirroredFrame,
    MirrorReader,
    RawStats,
    TestRun,
    XdpError,
    XdpProgram,
    pin_dir,
)

__all__ = [
    "PIN_ROOT",
    "XDP_ABORTED",
    "XDP_DROP",
    "XDP_PASS",
    "XDP_TX",
    "BuildError",
    "FrameSizeError",
    "LibbpfError",
    "MirrorReader",
    "MirroredFrame",
    "RawStats",
    "TestRun",
    "XdpBackend",
    "XdpError",
    "XdpProgram",
    "pin_dir",
]
