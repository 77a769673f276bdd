"""The compiled simulation: the exported Verilog under Verilator, for long runs and benchmarks.

:class:`VerilatorSim` has the interface of :class:`tickwire.fpga.sim.CoreSim` (the bus of
:mod:`tickwire.fpga.control`, :meth:`~VerilatorSim.stream`, ``latencies``), so the
backend, the control plane and the tests drive either one. The model is built once per
design: :func:`build` exports the Verilog, runs ``verilator --cc --exe --build`` with
``verilator/main.cpp`` (the cycle loop and a binary stdin/stdout protocol, described in
that file) and caches the program under ``~/.cache/tickwire/fpga/<key>/``, where the key
hashes the design's sources, the harness, the Amaranth version and ``verilator
--version``.

Both simulations run the same cycles: inputs set, settle, outputs sampled, one rising
edge; ``tests/test_fpga_vsim.py`` checks that they agree on every frame of a generated
day, cycle counts of every order included.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import shutil
import struct
import subprocess
import tempfile
import time
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import IO

from . import regs
from .sim import Latency

__all__ = ["VerilatorSim", "VsimUnavailable", "build", "cache_dir"]

_HERE = Path(__file__).resolve().parent
_PROGRAM = Path("obj_dir", "vsim")
_SOURCES = ("core.py", "regs.py", "recip.py", "verilog.py", "verilator/main.cpp")
_TMP = ".tmp"  # in the name of a builder's folder
_ASIDE = ".old"  # in the name of a folder being removed
_LOCK = ".builder.lock"  # held by the builder while it builds
_STALE_AFTER = 60.0
"""Seconds before a build folder whose lock no one holds may be removed as stale."""
_STALE_UNLOCKED_AFTER = 3600.0
"""Seconds before a build folder without a lock file may be removed as stale."""


class VsimUnavailable(RuntimeError):
    """Verilator (or a C++ compiler) is missing, or the model did not build."""


def cache_dir() -> Path:
    """Where built models are kept (``TICKWIRE_CACHE`` overrides ``~/.cache/tickwire``)."""
    root = os.environ.get("TICKWIRE_CACHE") or Path.home() / ".cache" / "tickwire"
    return Path(root) / "fpga"


def _key(verilator: str) -> str:
    h = hashlib.sha256()
    for name in _SOURCES:
        h.update((_HERE / name).read_bytes())
    h.update(version("amaranth").encode())
    h.update(subprocess.run([verilator, "--version"], capture_output=True, check=True).stdout)
    return h.hexdigest()[:16]


def build() -> Path:
    """The simulation program for the current design (built on first use).

    Safe when several processes (pytest-xdist workers, CI's interpreters sharing
    ``~/.cache/tickwire``, two users) build the same model from a cold cache at once:
    each builds in its own fresh folder beside the cache entry and renames the finished
    folder to the entry in one step (:func:`_install`). A folder only ever becomes the
    entry whole, so a program found there is complete; the entry is never removed or
    replaced while in use; the loser of the rename uses the winner's model, identical by
    construction (the key is the hash of everything the model is made from) and removes
    its own. A builder killed mid-build leaves its folder: the next build removes it
    (:func:`_remove_stale`). ``tests/test_fpga_vsim_build.py`` races two builds and kills
    one.
    """
    verilator = shutil.which("verilator")
    if verilator is None or shutil.which("g++") is None:
        raise VsimUnavailable("verilator and g++ are needed (scripts/setup.sh installs them)")
    out = cache_dir() / _key(verilator)
    program = out / _PROGRAM
    if program.exists():
        return program
    from .verilog import TOP, write

    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(out.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f"{out.name}{_TMP}", dir=out.parent))
    lock = (tmp / _LOCK).open("w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        write(tmp / f"{TOP}.v")
        cmd = [
            verilator,
            "--cc",
            "--exe",
            "--build",
            "-j",
            "2",
            "-Wno-fatal",
            "-Wno-lint",
            "-Wno-style",
            "--top-module",
            TOP,
            f"{TOP}.v",
            str(_HERE / "verilator" / "main.cpp"),
            "-o",
            "vsim",
        ]
        proc = subprocess.run(
            cmd, cwd=tmp, env=_compile_env(), capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            raise VsimUnavailable(f"verilator build failed: {(proc.stdout + proc.stderr)[-2000:]}")
        _install(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        lock.close()
    return program


def _compile_env() -> dict[str, str]:
    """The environment of the Verilator build: ``OBJCACHE=ccache`` when ccache is on
    ``PATH`` and ``OBJCACHE`` is not set (Verilator's makefile runs each C++ compile
    through it).

    Why: the C++ Verilator makes from one design is the same in every build folder, so
    every build after the first (a cache cleared by a test, each interpreter of CI's
    ``.ci/run``, another user's cache) is a ccache hit: a whole build took 37 s of CPU
    cold and 7 s with every compile a hit (``docs/CONTRIBUTING.md``, "Python
    versions"). Without ccache the build is the same, only slower. ``OBJCACHE=`` (empty)
    turns it off.
    """
    env = dict(os.environ)
    if "OBJCACHE" not in env and shutil.which("ccache") is not None:
        env["OBJCACHE"] = "ccache"
    return env


def _remove_stale(cache: Path) -> None:
    """Remove the build folders that builders killed mid-build left in ``cache``.

    A builder holds an exclusive ``flock`` on the ``.builder.lock`` file in its folder
    for as long as it builds; the kernel releases it when the process ends, however it
    ends (a kill, an ``os._exit``), so a folder whose lock can be taken belongs to no
    running builder, on this machine or another sharing the folder through the same
    kernel. Its pid is not used: pids are reused, and containers sharing a cache have
    their own. A folder younger than :data:`_STALE_AFTER` seconds is left alone (a
    builder takes its lock just after creating its folder); one without a lock file
    (an aside of ``_install`` or of this function, or the folder of a builder of a
    version before the lock) until :data:`_STALE_UNLOCKED_AFTER`, far longer than a
    build. The folder is renamed aside before it is removed, so no other cleaner sees it
    half-deleted. ``tests/test_fpga_vsim_build.py`` kills a builder mid-compile.
    """
    now = time.time()
    for folder in cache.iterdir():
        if _TMP not in folder.name and _ASIDE not in folder.name:
            continue
        try:
            age = now - folder.stat().st_mtime
        except FileNotFoundError:
            continue  # removed meanwhile
        if age < _STALE_AFTER:
            continue
        try:
            with (folder / _LOCK).open("r") as held:
                try:
                    fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a running builder's
        except FileNotFoundError:
            if age < _STALE_UNLOCKED_AFTER:
                continue
        except NotADirectoryError:
            continue
        aside = Path(tempfile.mkdtemp(prefix=f"stale{_ASIDE}", dir=cache))
        with contextlib.suppress(FileNotFoundError):
            folder.rename(aside / "entry")
        shutil.rmtree(aside, ignore_errors=True)


def _install(tmp: Path, out: Path) -> None:
    """Rename the built folder ``tmp`` to the cache entry ``out``, atomically.

    ``rename(2)`` of a folder onto a non-empty one fails (ENOTEMPTY or EEXIST) and never
    mixes the two, so at most one builder's folder becomes the entry. On that failure a
    complete entry (its program present) is the winner's: keep it (the caller removes
    ``tmp``). An entry without a program was not made by a rename of this function (a
    hand-damaged cache): it is moved aside in one rename, so a concurrent builder never
    sees it half-deleted, then removed, and the rename is tried once more.
    """
    for _ in range(2):
        try:
            tmp.rename(out)
            return
        except OSError as e:
            if e.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
        if (out / _PROGRAM).exists():
            return
        aside = Path(tempfile.mkdtemp(prefix=f"{out.name}{_ASIDE}", dir=out.parent))
        with contextlib.suppress(FileNotFoundError):
            out.rename(aside / "entry")
        shutil.rmtree(aside, ignore_errors=True)
    if not (out / _PROGRAM).exists():
        raise VsimUnavailable(f"could not install the built model at {out}")


class VerilatorSim:
    """One compiled-simulation process driven through RX, TX and the register bus."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([str(build())], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.frames_since_reset = 0
        self.latencies: list[Latency] = []

    def _io(self) -> tuple[IO[bytes], IO[bytes]]:
        if self.proc.stdin is None or self.proc.stdout is None:  # pragma: no cover
            raise RuntimeError("the simulation process has no pipes")
        return self.proc.stdin, self.proc.stdout

    def _read(self, fmt: str) -> tuple[int, ...]:
        _, out = self._io()
        size = struct.calcsize(fmt)
        raw = out.read(size)
        if len(raw) != size:
            raise RuntimeError(f"the simulation process stopped (exit {self.proc.poll()})")
        return struct.unpack(fmt, raw)

    @property
    def cycle(self) -> int:
        """Cycles simulated so far."""
        inp, _ = self._io()
        inp.write(b"C")
        inp.flush()
        return self._read("<Q")[0]

    # -- the bus (tickwire.fpga.control.Bus) --------------------------------------------
    def write_many(self, writes: Sequence[tuple[int, int]]) -> None:
        """One bus write a cycle."""
        inp, _ = self._io()
        inp.write(b"".join(struct.pack("<cHI", b"W", a, v & 0xFFFFFFFF) for a, v in writes))
        inp.flush()
        for address, value in writes:
            if address == regs.addr("CONTROL") and value & regs.CONTROL_RESET:
                self.frames_since_reset = 0
                self.latencies.clear()

    def read_many(self, addresses: Sequence[int]) -> list[int]:
        """One bus read a cycle."""
        inp, _ = self._io()
        inp.write(b"".join(struct.pack("<cH", b"R", a) for a in addresses))
        inp.flush()
        return [self._read("<I")[0] for _ in addresses]

    def settle(self) -> None:
        """Run until no APPLY is pending and no RESET is running."""
        while self.read_many([regs.addr("STATUS")])[0] & (
            regs.STATUS_BUSY | regs.STATUS_APPLY_PENDING
        ):
            pass

    # -- frames -------------------------------------------------------------------------
    def stream(self, frames: Sequence[bytes], gap: int = 0) -> list[list[bytes]]:
        """Send ``frames`` (``gap`` idle cycles after each); the order frames of each."""
        inp, out = self._io()
        parts = [struct.pack("<cII", b"S", gap, len(frames))]
        parts += [struct.pack("<I", len(f)) + bytes(f) for f in frames]
        inp.write(b"".join(parts))
        inp.flush()
        first = self.frames_since_reset
        rx_cycles = list(self._read(f"<{len(frames)}Q")) if frames else []
        (npush,) = self._read("<I")
        pushes = [self._read("<IQ")[0] for _ in range(npush)]
        (norders,) = self._read("<I")
        outputs: list[list[bytes]] = [[] for _ in frames]
        for k in range(norders):
            tx_first, length = self._read("<QI")
            data = out.read(length)
            index = (pushes[k] - first) % (1 << 32)
            outputs[index].append(data)
            self.latencies.append(Latency(index, rx_cycles[index], tx_first))
        if norders != npush:
            raise AssertionError(f"{npush} orders queued but {norders} sent")
        self.frames_since_reset += len(frames)
        return outputs

    def close(self) -> None:
        """End the simulation process."""
        if self.proc.poll() is None:
            inp, _ = self._io()
            try:
                inp.write(b"Q")
                inp.close()
            except BrokenPipeError:  # pragma: no cover
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover
                self.proc.kill()
                self.proc.wait()
