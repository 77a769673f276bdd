"""Two processes building the Verilator model from a cold cache at once, and a builder
killed mid-build (issue #17).

Builder B starts first and is held after its Verilator compile (by a wrapper around the
real ``subprocess.run``: the compile itself runs) until builder A, started once B is
committed to building, has built, installed and simulated with its model. Then B
finishes. Before the fix B removed the entry A had installed (and was using) and put its
own in its place, with windows where the program was missing, and two installs at once
could collide; now the entry A installed stays (same file), B uses it, and both simulate
a frame that triggers an order equal to the reference's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("verilator") is None or shutil.which("g++") is None,
        reason="verilator and g++ needed (scripts/setup.sh)",
    ),
]

_CHILD = r"""
import json, os, subprocess, sys, time
from pathlib import Path

from tickwire.fpga import vsim
from tickwire.fpga.backend import FpgaBackend
from tickwire.threshold import ThresholdEngine
from tickwire.threshold.config import InstrumentConfig, ThresholdConfig
from tickwire.threshold.testing import add_order, feed_frame

sync = Path(sys.argv[1])
if sys.argv[2] == "held":
    real_run = subprocess.run

    def run(cmd, *args, **kwargs):
        if "--build" not in cmd:
            return real_run(cmd, *args, **kwargs)
        (sync / "b_compiling").touch()
        result = real_run(cmd, *args, **kwargs)
        deadline = time.monotonic() + 400
        while not (sync / "a_done").exists():
            if time.monotonic() > deadline:
                raise SystemExit("builder A never finished")
            time.sleep(0.05)
        return result

    vsim.subprocess.run = run

program = vsim.build()
config = ThresholdConfig(
    True, 10, 1, 26477, 26400, "TWORDERS01",
    (InstrumentConfig(13, "AAPL", 1_500_000, 100, 100, 100, 1000, 10**9, 10**15),),
)
frames = [feed_frame([add_order(13, "S", 1_499_900)]), feed_frame([add_order(13, "S", 1_600_000)])]
backend = FpgaBackend("verilator")
try:
    backend.configure(config)
    got = backend.feed_many(frames)
finally:
    backend.close()
engine = ThresholdEngine(config)
want = [engine.feed(f) for f in frames]
print(json.dumps({
    "program": str(program),
    "inode": os.stat(program).st_ino,
    "same": got == want,
    "orders": sum(map(len, got)),
    "compiled": (sync / "b_compiling").exists() if sys.argv[2] == "held" else None,
}))
"""


def _start(sync: Path, role: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(sync), role],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _result(proc: subprocess.Popen[str]) -> dict[str, object]:
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return result


def test_two_cold_builds_at_once_both_get_a_working_model(tmp_path: Path) -> None:
    cache, sync = tmp_path / "cache", tmp_path / "sync"
    sync.mkdir()
    env = {**os.environ, "TICKWIRE_CACHE": str(cache)}
    held = _start(sync, "held", env)
    try:
        deadline = time.monotonic() + 120
        while not (sync / "b_compiling").exists():
            assert held.poll() is None, held.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "builder B never started compiling"
            time.sleep(0.05)
        a = _result(_start(sync, "free", env))
        entry = Path(str(a["program"]))
        installed = os.stat(entry).st_ino
        (sync / "a_done").touch()
        b = _result(held)
    finally:
        if held.poll() is None:
            held.kill()
            held.wait()
    assert a["same"] and b["same"] and a["orders"] == b["orders"] == 1
    assert b["compiled"], "builder B took A's model without racing it"
    assert b["program"] == a["program"]
    # The entry A installed and ran is still the one in place: B did not replace it.
    assert os.stat(entry).st_ino == installed == b["inode"]
    # Nothing but the entry is left in the cache (B removed its own build folder).
    assert [p.name for p in (cache / "fpga").iterdir()] == [entry.parents[1].name]


_KILLED = r"""
import subprocess, sys, time
from pathlib import Path

from tickwire.fpga import vsim

sync = Path(sys.argv[1])
real_run = subprocess.run


def run(cmd, *args, **kwargs):
    if "--build" not in cmd:
        return real_run(cmd, *args, **kwargs)
    (sync / "compiling").write_text(kwargs["cwd"].name)
    time.sleep(600)  # killed here, mid-compile


vsim.subprocess.run = run
vsim.build()
"""


def test_a_killed_builder_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tickwire.fpga import vsim

    cache, sync = tmp_path / "cache", tmp_path / "sync"
    sync.mkdir()
    monkeypatch.setenv("TICKWIRE_CACHE", str(cache))
    env = {**os.environ, "TICKWIRE_CACHE": str(cache)}
    child = subprocess.Popen([sys.executable, "-c", _KILLED, str(sync)], env=env)
    try:
        deadline = time.monotonic() + 120
        while not (sync / "compiling").exists():
            assert child.poll() is None, "the builder ended before compiling"
            assert time.monotonic() < deadline, "the builder never started compiling"
            time.sleep(0.05)
        folder = cache / "fpga" / (sync / "compiling").read_text()
        old = time.time() - 7200  # far past every grace period
        os.utime(folder, (old, old))

        real_run = subprocess.run

        def failing_compile(cmd: list[str], *args: object, **kwargs: object) -> object:
            if "--build" not in cmd:
                return real_run(cmd, *args, **kwargs)  # type: ignore[call-overload]
            return subprocess.CompletedProcess(cmd, 1, "", "no compile in this test")

        monkeypatch.setattr(vsim.subprocess, "run", failing_compile)
        # A running builder's folder is kept, however old.
        with pytest.raises(vsim.VsimUnavailable):
            vsim.build()
        assert folder.is_dir() and (folder / "tickwire_threshold.v").exists()
        child.kill()
        child.wait()
        # An aside an install was killed before removing (no lock file), old; and a
        # folder a builder has just made (no lock file yet), new.
        aside = cache / "fpga" / "0123456789abcdef.oldx1y2"
        (aside / "entry").mkdir(parents=True)
        os.utime(aside, (old, old))
        fresh = cache / "fpga" / "0123456789abcdef.tmpx3y4"
        fresh.mkdir()
        # Its builder killed, the next build removes it (before the fix it stayed for ever).
        with pytest.raises(vsim.VsimUnavailable):
            vsim.build()
        assert not folder.exists() and not aside.exists()
        assert list((cache / "fpga").iterdir()) == [fresh]
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_the_build_compiles_through_ccache_when_there_is_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tickwire.fpga import vsim

    ccache = tmp_path / "ccache"
    ccache.write_text('#!/bin/sh\nexec "$@"\n')
    ccache.chmod(0o755)
    monkeypatch.delenv("OBJCACHE", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert vsim._compile_env()["OBJCACHE"] == "ccache"
    monkeypatch.setenv("OBJCACHE", "")  # set, even empty: left as it is (off)
    assert vsim._compile_env()["OBJCACHE"] == ""
    monkeypatch.delenv("OBJCACHE")
    ccache.unlink()
    assert "OBJCACHE" not in vsim._compile_env()
