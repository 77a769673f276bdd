"""The loaded XDP program and its maps: load, configure, attach, pin, test-run, read stats.

:class:`XdpProgram` owns one BPF object (or the pinned maps and program of an attached
one) and is the only place that talks to libbpf; the CLI and the backend are thin layers
over it. Every map access goes through libbpf's ``bpf_map_*`` calls with the ctypes
layouts of :mod:`tickwire.xdp.layout`.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import socket
import stat
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tickwire.threshold.config import InstrumentConfig, ThresholdConfig
from tickwire.threshold.stats import REFUSAL_REASONS, InstrumentStats, ThresholdStats

from . import layout
from .build import object_path
from .libbpf import (
    BPF_ANY,
    BPF_F_LOCK,
    RING_BUFFER_SAMPLE_FN,
    XDP_FLAGS_DRV_MODE,
    XDP_FLAGS_SKB_MODE,
    XDP_FLAGS_UPDATE_IF_NOEXIST,
    LibbpfError,
    TestRunOpts,
    XdpAttachOpts,
    XdpMd,
    capture_log,
    check,
    check_ptr,
    lib,
)

__all__ = [
    "BPFFS",
    "MAP_NAMES",
    "PASS_PROGRAM_NAME",
    "PIN_ROOT",
    "PROGRAM_NAME",
    "XDP_ABORTED",
    "XDP_DROP",
    "XDP_PASS",
    "XDP_TX",
    "FrameSizeError",
    "MirrorReader",
    "MirroredFrame",
    "PinStatus",
    "RawStats",
    "TestRun",
    "XdpError",
    "XdpProgram",
    "ensure_bpffs",
    "pin_dir",
    "pin_status",
]

XDP_ABORTED = 0
XDP_DROP = 1
XDP_PASS = 2
XDP_TX = 3
XDP_FLAGS_REPLACE = 1 << 4

PROGRAM_NAME = "tickwire_threshold"
#: A program that passes everything, for the peer of a veth (see the C source).
PASS_PROGRAM_NAME = "tickwire_pass"
MAP_NAMES = ("tw_config", "tw_instruments", "tw_watched", "tw_state", "tw_stats", "tw_mirror")
#: Where the BPF filesystem is mounted (by systemd, bpftool or iproute2; by
#: :func:`ensure_bpffs` on a machine where nothing did).
BPFFS = Path("/sys/fs/bpf")
PIN_ROOT = BPFFS / "tickwire"
#: A symlink in each pin directory recording where the program was attached:
#: ``netns:INODE:ifindex:N`` (bpffs holds only pins, directories and symlinks).
_OWNER = "owner"

#: BPF_PROG_TEST_RUN copies the frame into one page after XDP_PACKET_HEADROOM (256) and
#: before the skb_shared_info (320 on x86-64): the longest frame it accepts.
TEST_RUN_MIN_FRAME = 14
TEST_RUN_MAX_FRAME = 4096 - 256 - 320
BPF_F_TEST_XDP_LIVE_FRAMES = 1 << 1  # linux/bpf.h
LIVE_FRAMES_MAX_BATCH = 256  # the kernel's TEST_XDP_MAX_BATCH

AttachMode = Literal["native", "generic"]
_MODE_FLAGS: dict[str, int] = {"native": XDP_FLAGS_DRV_MODE, "generic": XDP_FLAGS_SKB_MODE}


class XdpError(RuntimeError):
    """A control-plane operation failed (see the message; errno-level detail in __cause__)."""


class FrameSizeError(ValueError):
    """BPF_PROG_TEST_RUN cannot take a frame of this length (shorter than 14 or one page)."""


@dataclass(frozen=True, slots=True)
class TestRun:
    """One BPF_PROG_TEST_RUN: the XDP verdict, the frame after the program, time per run."""

    __test__ = False  # not a pytest test class

    retval: int
    data: bytes
    duration_ns: int


@dataclass(frozen=True, slots=True)
class RawStats:
    """Every counter of the program, summed over CPUs, plus the per-instrument state."""

    frames: int
    messages_scanned: int
    triggers: int
    orders: int
    suppressed: int
    parse_errors: int
    refused: dict[str, int]
    mirrored: int
    mirror_dropped: int
    tx_errors: int
    instruments: dict[int, InstrumentStats]

    def threshold_stats(self) -> ThresholdStats:
        """The contract's statistics (docs/threshold.md section 6)."""
        return ThresholdStats(
            frames=self.frames,
            messages_scanned=self.messages_scanned,
            triggers=self.triggers,
            orders=self.orders,
            suppressed=self.suppressed,
            parse_errors=self.parse_errors,
            refused=dict(self.refused),
            instruments={
                k: InstrumentStats(v.shares, v.notional)
                for k, v in sorted(self.instruments.items())
            },
        )


@dataclass(frozen=True, slots=True)
class MirroredFrame:
    """A frame the program copied to the ring buffer before acting on it."""

    frame_len: int
    data: bytes  # the first ``len(data)`` bytes of the frame (all of it up to 2048)
    ordered: bool  # the frame was turned into an order (the stack never saw it)


def pin_dir(iface: str) -> Path:
    """Where the maps and program of the program attached to ``iface`` are pinned."""
    if not iface or "/" in iface or iface in (".", ".."):
        raise XdpError(f"invalid interface name {iface!r}")
    return PIN_ROOT / iface


def _ifindex(iface: str) -> int:
    try:
        return socket.if_nametoindex(iface)
    except OSError as exc:
        raise XdpError(f"no interface {iface!r} in this network namespace") from exc


def _bpffs_mounted(root: Path) -> bool:
    """Whether a BPF filesystem is mounted at ``root`` in this mount namespace."""
    with open("/proc/self/mounts") as mounts:
        for line in mounts:
            fields = line.split()
            if len(fields) >= 3 and fields[1] == str(root) and fields[2] == "bpf":
                return True
    return False


def _root_mount_id(mountinfo: str) -> str:
    with open(mountinfo) as lines:
        for line in lines:
            fields = line.split()
            if len(fields) > 4 and fields[4] == "/":
                return fields[0]
    return ""


def _in_init_mount_namespace() -> bool:
    """Whether this process shares PID 1's mount namespace (the system's; a container's
    own in a container). Compared by namespace inode, or, where PID 1's namespace links
    are not readable, by the id of the root mount (a new mount namespace copies every
    mount under new ids). True when neither can be read."""
    with contextlib.suppress(OSError):
        return os.stat("/proc/self/ns/mnt").st_ino == os.stat("/proc/1/ns/mnt").st_ino
    try:
        return _root_mount_id("/proc/self/mountinfo") == _root_mount_id("/proc/1/mountinfo")
    except OSError:
        return True


def ensure_bpffs(root: Path = BPFFS) -> bool:
    """Make sure the BPF filesystem is mounted at ``root``; True when this call mounted it.

    Pins live on a BPF filesystem, which a fresh VM may not have mounted (systemd mounts
    it, a minimal init does not). As bpftool and iproute2 do, a root process mounts it
    itself (``mount -t bpf bpf /sys/fs/bpf``, mode 0700, through mount(2)); any other
    process gets an :class:`XdpError` saying exactly what to run. The check reads
    ``/proc/self/mounts``, so it is per mount namespace, like the pins themselves.

    It mounts only in PID 1's mount namespace. In another one (``ip netns exec`` makes one
    and remounts /sys, hiding the system's bpffs) a bpffs mounted here would vanish with
    the namespace, and the pins with it, leaving an attached program no command can reach:
    that is an error saying to use ``nsenter --net``, which switches the network namespace
    only.
    """
    if _bpffs_mounted(root):
        return False
    how = f"mount -t bpf bpf {root}"
    if os.geteuid() != 0:
        raise XdpError(
            f"the BPF filesystem is not mounted at {root}, so nothing can be pinned: run "
            f"`sudo {how}` (or run this command as root, which mounts it)"
        )
    if not _in_init_mount_namespace():
        raise XdpError(
            f"the BPF filesystem is not mounted at {root} in this mount namespace, which is "
            "not the system's (as under `ip netns exec`, which remounts /sys): pins made here "
            "would vanish with it; enter only the network namespace (`nsenter "
            f"--net=/run/netns/NAME ...`), or run `{how}` if this namespace outlives the program"
        )
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
    if libc.mount(b"bpf", str(root).encode(), b"bpf", 0, b"mode=0700") != 0:
        err = ctypes.get_errno()
        raise XdpError(
            f"cannot mount the BPF filesystem at {root} ({os.strerror(err)}): run `{how}`"
        )
    return True


def _netns_inode() -> int:
    """The inode of this thread's network namespace (what ``ip netns identify`` compares)."""
    return os.stat("/proc/thread-self/ns/net").st_ino


def _netns_alive(inode: int) -> bool:
    """Whether a network namespace with this inode still exists: a named one (a bind mount
    in /run/netns) or one a thread is in. (One held only by an open file descriptor is
    not seen.)"""
    candidates = [*Path("/run/netns").glob("*"), *Path("/proc").glob("[0-9]*/task/*/ns/net")]
    for path in candidates:
        with contextlib.suppress(OSError):
            if path.stat().st_ino == inode:
                return True
    return False


def _fd_prog_id(fd: int) -> int:
    """The kernel's id of the program behind ``fd`` (from /proc/self/fdinfo)."""
    with open(f"/proc/self/fdinfo/{fd}") as info:
        for line in info:
            if line.startswith("prog_id:"):
                return int(line.split()[1])
    raise XdpError(f"fd {fd} is not a BPF program")


def _attached_prog_ids(ifindex: int) -> set[int]:
    """The ids of the XDP programs attached to ``ifindex`` (native and generic)."""
    ids = set()
    for flag in _MODE_FLAGS.values():
        prog_id = ctypes.c_uint32()
        if lib().bpf_xdp_query_id(ifindex, flag, ctypes.byref(prog_id)) >= 0 and prog_id.value:
            ids.add(prog_id.value)
    return ids


@dataclass(frozen=True, slots=True)
class PinStatus:
    """What the pins of an interface stand for (see :func:`pin_status`).

    ``state`` is ``"none"`` (no pins), ``"live"`` (the pinned program is attached to the
    interface of that name in this network namespace), ``"elsewhere"`` (pinned by an
    attachment in another network namespace that still exists) or ``"stale"`` (left by
    an interface that is gone or was recreated, or by an interrupted attach); ``reason``
    says which, in one line.
    """

    state: Literal["none", "live", "elsewhere", "stale"]
    reason: str


def pin_status(iface: str) -> PinStatus:
    """Tell a live attachment from pins left behind, for ``attach`` and ``detach``.

    The pin directory is named after the interface, but interfaces come and go (a veth is
    deleted with its namespace, a NIC is renamed) while pins stay until removed. So the
    directory also records where the program was attached (the ``owner`` symlink: network
    namespace inode and ifindex), and the pins are live only when the pinned program's
    id is among the XDP programs now attached to ``iface``. Pinned from another network
    namespace: live there ("elsewhere") while that namespace exists, else stale. Needs
    root (the pins are root-only).
    """
    base = pin_dir(iface)
    try:
        if not base.is_dir():
            return PinStatus(
                "none", f"nothing attached to {iface!r} by tickwire ({base} does not exist)"
            )
        owner = os.readlink(base / _OWNER) if (base / _OWNER).is_symlink() else ""
    except PermissionError as exc:
        raise XdpError(f"the pins of {iface} under {base} are root-only: run as root") from exc
    fd = lib().bpf_obj_get(str(base / "prog").encode())
    if fd < 0:
        err = -fd if fd < -1 else ctypes.get_errno()
        if err != errno.ENOENT:
            raise XdpError(f"cannot open {base / 'prog'} ({os.strerror(err)}): run as root")
        return PinStatus("stale", f"{base} holds no program (an interrupted attach)")
    try:
        prog_id = _fd_prog_id(fd)
    finally:
        os.close(fd)
    fields = owner.split(":")
    if len(fields) == 4 and fields[0] == "netns" and int(fields[1]) != _netns_inode():
        if _netns_alive(int(fields[1])):
            return PinStatus(
                "elsewhere",
                f"program {prog_id} was attached to {iface} in another network namespace "
                f"(inode {fields[1]}), which still exists",
            )
        return PinStatus("stale", f"{iface}'s network namespace is gone (program {prog_id})")
    try:
        ifindex = socket.if_nametoindex(iface)
    except OSError:
        return PinStatus("stale", f"{iface} no longer exists (program {prog_id})")
    if prog_id in _attached_prog_ids(ifindex):
        return PinStatus("live", f"program {prog_id} is attached to {iface}")
    return PinStatus(
        "stale", f"program {prog_id} is not attached to {iface} (the interface was recreated)"
    )


def _frame_buffer(frame: bytes) -> ctypes.Array[ctypes.c_char]:
    """``frame`` as BPF_PROG_TEST_RUN input, refused when the kernel would refuse it."""
    if not TEST_RUN_MIN_FRAME <= len(frame) <= TEST_RUN_MAX_FRAME:
        raise FrameSizeError(
            f"BPF_PROG_TEST_RUN takes frames of {TEST_RUN_MIN_FRAME} to "
            f"{TEST_RUN_MAX_FRAME} bytes, got {len(frame)}"
        )
    return ctypes.create_string_buffer(bytes(frame), len(frame))


def _test_run_opts(data_in: ctypes.Array[ctypes.c_char], repeat: int) -> TestRunOpts:
    """The options every test run shares: the input frame and the repeat count."""
    opts = TestRunOpts()
    opts.sz = ctypes.sizeof(TestRunOpts)
    opts.data_in = ctypes.cast(data_in, ctypes.c_void_p)
    opts.data_size_in = len(data_in)
    opts.repeat = repeat
    return opts


class _Map:
    """One map by file descriptor."""

    def __init__(self, name: str, fd: int) -> None:
        self.name = name
        self.fd = fd

    def lookup(self, key: ctypes._CData, value: ctypes._CData, flags: int = 0) -> bool:
        lb = lib()
        ret = lb.bpf_map_lookup_elem_flags(self.fd, ctypes.byref(key), ctypes.byref(value), flags)
        if ret < 0 and (-ret if ret < -1 else ctypes.get_errno()) == errno.ENOENT:
            return False
        check(f"bpf_map_lookup_elem({self.name})", ret)
        return True

    def update(self, key: ctypes._CData, value: ctypes._CData, flags: int = BPF_ANY) -> None:
        ret = lib().bpf_map_update_elem(self.fd, ctypes.byref(key), ctypes.byref(value), flags)
        check(f"bpf_map_update_elem({self.name})", ret)

    def delete(self, key: ctypes._CData) -> None:
        ret = lib().bpf_map_delete_elem(self.fd, ctypes.byref(key))
        if ret < 0 and (-ret if ret < -1 else ctypes.get_errno()) == errno.ENOENT:
            return
        check(f"bpf_map_delete_elem({self.name})", ret)

    def u32_keys(self) -> list[int]:
        lb = lib()
        keys: list[int] = []
        cur = ctypes.c_uint32()
        nxt = ctypes.c_uint32()
        ret = lb.bpf_map_get_next_key(self.fd, None, ctypes.byref(nxt))
        while ret >= 0:
            keys.append(nxt.value)
            cur.value = nxt.value
            ret = lb.bpf_map_get_next_key(self.fd, ctypes.byref(cur), ctypes.byref(nxt))
        return keys


class XdpProgram:
    """A loaded (or reopened, pinned) tickwire XDP program and its maps.

    Use :meth:`load` for a fresh program (test runs, attaching) and :meth:`open_pinned`
    to control one attached by another process. Close it (or use ``with``) to release
    the file descriptors; an attached program stays attached until :meth:`detach`.
    """

    def __init__(
        self, obj: int | None, prog_fd: int, maps: dict[str, int], owned_fds: list[int]
    ) -> None:
        self._obj = obj
        self.prog_fd = prog_fd
        self._maps = {name: _Map(name, fd) for name, fd in maps.items()}
        self._owned_fds = owned_fds
        self._ncpus = check("libbpf_num_possible_cpus", lib().libbpf_num_possible_cpus())

    # -- life cycle --------------------------------------------------------------------
    @classmethod
    def load(
        cls, path: str | os.PathLike[str] | None = None, *, program: str = PROGRAM_NAME
    ) -> XdpProgram:
        """Open and load the object (built and cached on first use when ``path`` is None).

        Only ``program`` is loaded (the verifier never sees the others).
        """
        lb = lib()
        obj_file = os.fspath(path) if path is not None else str(object_path())
        with capture_log() as log:
            obj = check_ptr(
                "bpf_object__open_file", lb.bpf_object__open_file(obj_file.encode(), None), log
            )
            try:
                prog = lb.bpf_object__next_program(obj, None)
                while prog:
                    keep = lb.bpf_program__name(prog) == program.encode()
                    check("bpf_program__set_autoload", lb.bpf_program__set_autoload(prog, keep))
                    prog = lb.bpf_object__next_program(obj, prog)
                check("bpf_object__load", lb.bpf_object__load(obj), log)
            except LibbpfError:
                lb.bpf_object__close(obj)
                raise
        try:
            prog = check_ptr(
                f"find_program {program}",
                lb.bpf_object__find_program_by_name(obj, program.encode()),
            )
            maps = {}
            for name in MAP_NAMES:
                m = check_ptr(
                    f"find_map {name}", lb.bpf_object__find_map_by_name(obj, name.encode())
                )
                maps[name] = check(f"bpf_map__fd({name})", lb.bpf_map__fd(m))
            prog_fd = check("bpf_program__fd", lb.bpf_program__fd(prog))
        except LibbpfError:
            lb.bpf_object__close(obj)
            raise
        return cls(obj, prog_fd, maps, [])

    @classmethod
    def open_pinned(cls, iface: str) -> XdpProgram:
        """Reopen the maps and program pinned for ``iface`` by :meth:`pin`.

        Raises :class:`XdpError` saying what to do when nothing is pinned there or when
        the process may not open the pins (they are root-only).
        """
        base = pin_dir(iface)
        needs_root = (
            f"the pins of {iface} under {base} are root-only and the bpf() calls need "
            "CAP_BPF: run as root"
        )
        try:
            attached = base.is_dir()
        except PermissionError as exc:
            raise XdpError(needs_root) from exc
        if not attached and not _bpffs_mounted(BPFFS):
            raise XdpError(
                f"nothing attached to {iface!r} by tickwire: the BPF filesystem is not "
                f"mounted at {BPFFS} in this mount namespace, so nothing is pinned; attach "
                f"a program first with `python -m tickwire.xdp attach {iface} --config FILE`"
            )
        if not attached:
            raise XdpError(
                f"nothing attached to {iface!r} by tickwire ({base} does not exist): attach "
                f"a program first with `python -m tickwire.xdp attach {iface} --config FILE`"
            )
        lb = lib()
        fds: list[int] = []
        try:
            for name in (*MAP_NAMES, "prog"):
                fds.append(
                    check(f"bpf_obj_get({base / name})", lb.bpf_obj_get(str(base / name).encode()))
                )
        except LibbpfError as exc:
            for fd in fds:
                os.close(fd)
            if exc.errno in (errno.EPERM, errno.EACCES):
                raise XdpError(needs_root) from exc
            raise XdpError(f"cannot open the pinned objects in {base}: {exc}") from exc
        maps = dict(zip(MAP_NAMES, fds[: len(MAP_NAMES)], strict=True))
        return cls(None, fds[-1], maps, fds)

    def close(self) -> None:
        """Release the object and file descriptors (idempotent)."""
        if self._obj is not None:
            lib().bpf_object__close(self._obj)
            self._obj = None
        for fd in self._owned_fds:
            os.close(fd)
        self._owned_fds = []
        self.prog_fd = -1

    def __enter__(self) -> XdpProgram:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- configuration -----------------------------------------------------------------
    def configure(self, config: ThresholdConfig, *, mirror: int = layout.MIRROR_ORDERS) -> None:
        """Start a run: install ``config``, zero the state and every counter.

        The instruments are written before the global config so a live program never
        sees the new flags with the old instruments' slots.
        """
        zero = ctypes.c_uint32(0)
        instruments = self._maps["tw_instruments"]
        # The filter bitmap is cleared before the hash entries go and set after the new
        # ones are in, so a running program never skips a locate the hash has.
        self._maps["tw_watched"].update(zero, layout.Watched())
        for key in instruments.u32_keys():
            instruments.delete(ctypes.c_uint32(key))
        self._maps["tw_state"].update(zero, layout.State(), BPF_F_LOCK)
        self._zero_stats()
        watched = layout.Watched()
        for slot, inst in enumerate(config.instruments):
            instruments.update(ctypes.c_uint32(inst.locate), layout.instrument_struct(inst, slot))
            watched.add(inst.locate)
        self._maps["tw_watched"].update(zero, watched)
        self._maps["tw_config"].update(zero, layout.config_struct(config, mirror=mirror))

    def _zero_stats(self) -> None:
        size = (ctypes.sizeof(layout.Stats) + 7) // 8 * 8
        buf = (ctypes.c_uint8 * (size * self._ncpus))()
        self._maps["tw_stats"].update(ctypes.c_uint32(0), buf)

    def read_config(self) -> layout.Config:
        """The global config as the program sees it."""
        value = layout.Config()
        self._maps["tw_config"].lookup(ctypes.c_uint32(0), value)
        return value

    def set_armed(self, armed: bool) -> None:
        """The kill switch: the program reads it on every frame, so it acts at once."""
        value = self.read_config()
        value.armed = 1 if armed else 0
        self._maps["tw_config"].update(ctypes.c_uint32(0), value)

    def set_mirror(self, mirror: int) -> None:
        """Which frames are copied to the ring buffer (``layout.MIRROR_*``)."""
        if mirror not in layout.MIRROR_MODES.values():
            raise ValueError(f"unknown mirror mode {mirror}")
        value = self.read_config()
        value.mirror = mirror
        self._maps["tw_config"].update(ctypes.c_uint32(0), value)

    def instruments(self) -> dict[int, tuple[int, InstrumentConfig]]:
        """The watched instruments: locate -> (state slot, its limits)."""
        out: dict[int, tuple[int, InstrumentConfig]] = {}
        table = self._maps["tw_instruments"]
        for locate in sorted(table.u32_keys()):
            value = layout.Instrument()
            if table.lookup(ctypes.c_uint32(locate), value):
                out[locate] = (value.slot, layout.instrument_config(locate, value))
        return out

    def set_instrument(self, inst: InstrumentConfig) -> int:
        """Add an instrument or change its limits; returns its state slot.

        A changed instrument keeps its slot (and so its position and notional); a new
        one takes a slot no instrument of this run has used, whose state is still zero.
        """
        current = self.instruments()
        if inst.locate in current:
            slot = current[inst.locate][0]
        else:
            if len(current) >= layout.MAX_INSTRUMENTS:
                raise XdpError(f"at most {layout.MAX_INSTRUMENTS} instruments")
            state = self.read_state()
            used = {s for s, _ in current.values()}
            free = [
                s
                for s in range(layout.MAX_INSTRUMENTS)
                if s not in used and state.position[s] == 0 and state.notional[s] == 0
            ]
            if not free:
                raise XdpError("no unused instrument slot left in this run; reconfigure")
            slot = free[0]
        self._maps["tw_instruments"].update(
            ctypes.c_uint32(inst.locate), layout.instrument_struct(inst, slot)
        )
        watched = self.read_watched()
        if inst.locate not in watched:  # after the hash entry: see configure()
            watched.add(inst.locate)
            self._maps["tw_watched"].update(ctypes.c_uint32(0), watched)
        return slot

    def read_watched(self) -> layout.Watched:
        """The filter bitmap of watched locates."""
        value = layout.Watched()
        self._maps["tw_watched"].lookup(ctypes.c_uint32(0), value)
        return value

    def read_state(self) -> layout.State:
        """The shared state, read under the program's spin lock (a consistent snapshot)."""
        value = layout.State()
        self._maps["tw_state"].lookup(ctypes.c_uint32(0), value, BPF_F_LOCK)
        return value

    def counters(self) -> dict[str, int]:
        """The fields of ``tw_stats`` summed over CPUs: one map read, cheap enough to poll
        from a trading loop (:meth:`raw_stats` adds the per-instrument state)."""
        size = (ctypes.sizeof(layout.Stats) + 7) // 8 * 8
        buf = (ctypes.c_uint8 * (size * self._ncpus))()
        self._maps["tw_stats"].lookup(ctypes.c_uint32(0), buf)
        totals = dict.fromkeys((field[0] for field in layout.Stats._fields_), 0)
        for cpu in range(self._ncpus):
            per = layout.Stats.from_buffer(buf, cpu * size)
            for name in totals:
                totals[name] += getattr(per, name)
        return totals

    def raw_stats(self) -> RawStats:
        """Every counter summed over CPUs, and shares/notional per watched instrument."""
        totals = self.counters()
        state = self.read_state()
        instruments = {
            locate: InstrumentStats(state.position[slot], state.notional[slot])
            for locate, (slot, _) in self.instruments().items()
        }
        return RawStats(
            frames=totals["frames"],
            messages_scanned=totals["messages_scanned"],
            triggers=totals["triggers"],
            orders=totals["orders"],
            suppressed=totals["suppressed"],
            parse_errors=totals["parse_errors"],
            refused={r: totals[f"refused_{r}"] for r in REFUSAL_REASONS},
            mirrored=totals["mirrored"],
            mirror_dropped=totals["mirror_dropped"],
            tx_errors=totals["tx_errors"],
            instruments=instruments,
        )

    # -- running -----------------------------------------------------------------------
    def test_run(self, frame: bytes, *, repeat: int = 1) -> TestRun:
        """Run the program once (or ``repeat`` times) on ``frame`` with BPF_PROG_TEST_RUN.

        With ``repeat`` > 1 the kernel runs the program on the same buffer again and
        again, so runs after the first see what the first left (an order frame, if it
        made one): use it to time paths that do not rewrite the frame.
        """
        data_in = _frame_buffer(frame)
        data_out = ctypes.create_string_buffer(4096)
        opts = _test_run_opts(data_in, repeat)
        opts.data_out = ctypes.cast(data_out, ctypes.c_void_p)
        opts.data_size_out = len(data_out)
        self._prog_test_run(opts)
        return TestRun(opts.retval, data_out.raw[: opts.data_size_out], opts.duration)

    def run_live(self, frame: bytes, *, repeat: int, iface: str) -> float:
        """Run the program ``repeat`` times in a row on ``frame`` as if ``iface`` (in this
        thread's network namespace) had received it, and return the kernel's mean ns per
        run (BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES).

        Unlike :meth:`test_run`, what the program does with each frame really happens:
        XDP_TX frames leave through ``iface``, XDP_PASS frames enter its network stack, so
        use a namespace of your own (``tickwire.xdp.netns``). The runs follow each other
        inside the kernel in batches, as on a busy receive queue: it is for what the
        program's shared state sees from several CPUs at once. Not for per-frame outcomes:
        the kernel copies ``frame`` into a page once and recycles pages without copying it
        again, so a run may find what an earlier run left (an order frame, say); batches
        of one call each keep most runs, not all, on a fresh copy.
        """
        data_in = _frame_buffer(frame)
        ctx = XdpMd(data_end=len(frame), ingress_ifindex=_ifindex(iface))
        total_ns = 0
        done = 0
        while done < repeat:
            # One batch per call: each call starts from a pool of freshly copied pages.
            n = min(repeat - done, LIVE_FRAMES_MAX_BATCH)
            opts = _test_run_opts(data_in, n)
            opts.ctx_in = ctypes.cast(ctypes.pointer(ctx), ctypes.c_void_p)
            opts.ctx_size_in = ctypes.sizeof(ctx)
            opts.batch_size = n
            opts.flags = BPF_F_TEST_XDP_LIVE_FRAMES
            self._prog_test_run(opts)
            total_ns += opts.duration * n
            done += n
        return total_ns / max(repeat, 1)

    def _prog_test_run(self, opts: TestRunOpts) -> None:
        check(
            "bpf_prog_test_run_opts", lib().bpf_prog_test_run_opts(self.prog_fd, ctypes.byref(opts))
        )

    def mirror_reader(self) -> MirrorReader:
        """A reader of the frames copied to the ring buffer."""
        return MirrorReader(self._maps["tw_mirror"].fd)

    # -- attaching and pinning -----------------------------------------------------------
    def attach(self, iface: str, mode: AttachMode = "native") -> None:
        """Attach to ``iface`` (in this network namespace); refuses to replace a program."""
        if mode not in _MODE_FLAGS:
            raise XdpError(f"mode must be 'native' or 'generic', got {mode!r}")
        flags = _MODE_FLAGS[mode] | XDP_FLAGS_UPDATE_IF_NOEXIST
        try:
            check(
                "bpf_xdp_attach", lib().bpf_xdp_attach(_ifindex(iface), self.prog_fd, flags, None)
            )
        except LibbpfError as exc:
            hint = " (another XDP program is attached)" if exc.errno == errno.EBUSY else ""
            raise XdpError(f"cannot attach to {iface} in {mode} mode: {exc}{hint}") from exc

    def detach(self, iface: str) -> str:
        """Detach this program from ``iface`` (whichever mode); returns the mode it had."""
        ifindex = _ifindex(iface)
        opts = XdpAttachOpts(sz=ctypes.sizeof(XdpAttachOpts), old_prog_fd=self.prog_fd)
        errors = []
        for mode, flag in _MODE_FLAGS.items():
            # REPLACE with old_prog_fd: only ever removes *this* program.
            ret = lib().bpf_xdp_detach(ifindex, flag | XDP_FLAGS_REPLACE, ctypes.byref(opts))
            if ret >= 0:
                return mode
            errors.append(f"{mode}: {os.strerror(-ret if ret < -1 else ctypes.get_errno())}")
        raise XdpError(f"tickwire's program is not attached to {iface} ({'; '.join(errors)})")

    def pin(self, iface: str) -> Path:
        """Pin the maps and program under /sys/fs/bpf/tickwire/IFACE/, root-only (0700/0600).

        Mounts the BPF filesystem first when it is missing (:func:`ensure_bpffs`). Pins
        already there are replaced when :func:`pin_status` finds them stale (their
        interface is gone or was recreated); a live attachment, here or in another network
        namespace, is refused. The ``owner`` symlink records this network namespace and
        the interface's ifindex (0 when there is none) for the next :func:`pin_status`.
        """
        ensure_bpffs()
        base = pin_dir(iface)
        status = pin_status(iface)
        if status.state in ("live", "elsewhere"):
            raise XdpError(
                f"{status.reason}: detach it first (`python -m tickwire.xdp detach {iface}`)"
            )
        if status.state == "stale":
            self.unpin(iface)
        for d in (base.parent, base):
            d.mkdir(mode=0o700, exist_ok=True)
            os.chmod(d, 0o700)
        lb = lib()
        fds = {**{name: m.fd for name, m in self._maps.items()}, "prog": self.prog_fd}
        for name, fd in fds.items():
            target = base / name
            check(f"bpf_obj_pin({target})", lb.bpf_obj_pin(fd, str(target).encode()))
            os.chmod(target, stat.S_IRUSR | stat.S_IWUSR)
        try:
            ifindex = socket.if_nametoindex(iface)
        except OSError:
            ifindex = 0
        os.symlink(f"netns:{_netns_inode()}:ifindex:{ifindex}", base / _OWNER)
        return base

    @staticmethod
    def unpin(iface: str) -> None:
        """Remove the pins of ``iface`` (the maps live on while the program is attached)."""
        base = pin_dir(iface)
        for name in (*MAP_NAMES, "prog", _OWNER):
            (base / name).unlink(missing_ok=True)
        if base.is_dir():
            base.rmdir()
        with contextlib.suppress(OSError):  # only when no other interface has pins
            base.parent.rmdir()


_MIRROR_DATA = layout.MirrorRecord.data.offset
_MIRROR_HEADER = struct.Struct("=III")  # frame_len, copied_len, ordered


class MirrorReader:
    """Drains the ring buffer of mirrored frames (``ring_buffer__consume``)."""

    def __init__(self, map_fd: int) -> None:
        self._frames: list[MirroredFrame] = []
        self._cb = RING_BUFFER_SAMPLE_FN(self._sample)
        self._rb: int | None = check_ptr(
            "ring_buffer__new",
            lib().ring_buffer__new(map_fd, ctypes.cast(self._cb, ctypes.c_void_p), None, None),
        )

    def _sample(self, _ctx: int | None, data: int | None, size: int) -> int:
        if data is None or size < ctypes.sizeof(layout.MirrorRecord):
            return 0
        # The header, then only the bytes the program copied (not the whole 2 KiB slot).
        frame_len, copied, ordered = _MIRROR_HEADER.unpack_from(
            ctypes.string_at(data, _MIRROR_DATA)
        )
        copied = min(copied, layout.MIRROR_MAX)
        self._frames.append(
            MirroredFrame(frame_len, ctypes.string_at(data + _MIRROR_DATA, copied), bool(ordered))
        )
        return 0

    def fileno(self) -> int:
        """An epoll file descriptor that is readable while frames wait (for an event loop's
        ``add_reader``; ``ring_buffer__epoll_fd``). It belongs to the reader: do not close it."""
        if self._rb is None:
            raise XdpError("the mirror reader is closed")
        return check("ring_buffer__epoll_fd", lib().ring_buffer__epoll_fd(self._rb))

    def consume(self) -> list[MirroredFrame]:
        """Every frame waiting in the ring buffer, oldest first (does not block)."""
        if self._rb is None:
            raise XdpError("the mirror reader is closed")
        check("ring_buffer__consume", lib().ring_buffer__consume(self._rb))
        frames, self._frames = self._frames, []
        return frames

    def __iter__(self) -> Iterator[MirroredFrame]:
        return iter(self.consume())

    def close(self) -> None:
        if self._rb is not None:
            lib().ring_buffer__free(self._rb)
            self._rb = None
