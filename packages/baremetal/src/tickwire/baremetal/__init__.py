"""tickwire.baremetal: the threshold strategy on an x86 kernel with an e1000 driver, under QEMU.

* :mod:`tickwire.baremetal.build` builds the multiboot kernel (nasm, gcc, ld), cached.
* :class:`Guest` boots it under QEMU (KVM or TCG) on a loopback UDP link and talks to it.
* :class:`BaremetalBackend` is the ``baremetal`` backend of ``tickwire.threshold``.
* :mod:`tickwire.baremetal.traffic` generates feed traffic, faults and timed bursts.
* :mod:`tickwire.baremetal.layout` holds the config, control and reply layouts.
"""

from __future__ import annotations

from .backend import BaremetalBackend, default_accel
from .build import BuildError, build_kernel
from .layout import Command, CommandResult, config_blob
from .qemu import Guest, GuestError, kvm_usable, qemu_binary
from .stats import CycleHistogram, GuestReport, ReportError

__all__ = [
    "BaremetalBackend",
    "BuildError",
    "Command",
    "CommandResult",
    "CycleHistogram",
    "Guest",
    "GuestError",
    "GuestReport",
    "ReportError",
    "build_kernel",
    "config_blob",
    "default_accel",
    "kvm_usable",
    "qemu_binary",
]
