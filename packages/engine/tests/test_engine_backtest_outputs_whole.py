"""A backtest that cannot write its outputs leaves the earlier run's folder whole.

The failure is a real full disk: the output folder is on a 256 KiB tmpfs, mounted in a
mount namespace of its own (``unshare --mount``: nothing outside sees it, and it goes
away with the process), holding an earlier run's files; the new run's orders.csv (about
220 KB) does not fit beside them: "No space left on device". Before, the half-written
orders.csv replaced the earlier run's, beside that run's report.json and tables.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tickwire.engine.cli import main
from tickwire.itch.cli import main as itch_main

SMALL_DAY = ["--messages", "5000", "--symbols", "10", "--quiet"]
DIGESTS = textwrap.dedent(
    """
    import hashlib, json, pathlib, sys
    folder = pathlib.Path(sys.argv[1])
    print(json.dumps({p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                      for p in sorted(folder.iterdir())}))
    """
)


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None,
    reason="needs root and unshare (a tmpfs in a mount namespace of its own)",
)
def test_a_backtest_that_cannot_write_leaves_the_earlier_run_whole(tmp_path: Path) -> None:
    earlier = tmp_path / "earlier"
    assert main(["backtest", *SMALL_DAY, "--no-plot", "--out", str(earlier)]) == 0
    day = tmp_path / "day.itch"
    assert itch_main(["generate", "--messages", "40000", "--symbols", "10", str(day)]) == 0
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    py, out = sys.executable, mnt / "out"
    script = (
        f"mount -t tmpfs -o size=256k tmpfs {mnt} && cp -r {earlier} {out}"
        f" && {py} -c '{DIGESTS}' {out}"
        f" && {{ {py} -m tickwire.engine backtest {day} --quiet --no-plot --out {out};"
        f" echo rc=$?; }} && {py} -c '{DIGESTS}' {out}"
    )
    proc = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
    )
    before, rc, after = proc.stdout.splitlines()
    assert rc == "rc=1", proc.stderr
    assert "No space left on device" in proc.stderr and "Traceback" not in proc.stderr
    assert json.loads(after) == json.loads(before)  # the earlier run, whole; nothing staged


def test_a_second_run_replaces_the_first_whole(tmp_path: Path) -> None:
    """Into a folder of an earlier run with a PNG, a ``--no-plot`` run leaves only its own
    files: the earlier pnl.png would pass for this run's."""
    out = tmp_path / "out"
    assert main(["backtest", *SMALL_DAY, "--out", str(out)]) == 0
    assert (out / "pnl.png").exists()
    assert main(["backtest", *SMALL_DAY, "--seed", "7", "--no-plot", "--out", str(out)]) == 0
    assert not (out / "pnl.png").exists()
    report = json.loads((out / "report.json").read_text())
    assert report["runtime"]["plot"] == "not requested" and report["data"]
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []
