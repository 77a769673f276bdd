"""A backtest on an engine installed without the ``plot`` extra: the report, and why no PNG.

matplotlib is made unimportable the way a missing install is (``sys.modules["matplotlib"] =
None`` makes ``import matplotlib`` raise ``ModuleNotFoundError``) in a subprocess, so the
real import path of ``tickwire.engine.backtest.report`` runs; nothing of ours is replaced.
The wheel test (``tests/test_dist_wheels.py``) runs the same command where matplotlib is
really absent.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

RUN_WITHOUT_MATPLOTLIB = textwrap.dedent(
    """
    import sys
    sys.modules["matplotlib"] = None  # as if the plot extra were not installed
    from tickwire.engine.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)
SMALL_DAY = ["--messages", "5000", "--symbols", "10"]


def test_engine_backtest_without_matplotlib_reports_and_says_why_no_png(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-c", RUN_WITHOUT_MATPLOTLIB, "backtest", *SMALL_DAY, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    # The report is printed and written as usual...
    assert "pnl " in proc.stdout and "fills " in proc.stdout
    assert {"report.json", "orders.csv", "fills.csv", "pnl.csv", "positions.csv"} <= {
        p.name for p in out.iterdir()
    }
    # ... without the PNG, and the summary says so and why, with the way to get it.
    assert not (out / "pnl.png").exists()
    skipped = [line for line in proc.stdout.splitlines() if "pnl.png skipped" in line]
    assert len(skipped) == 1, proc.stdout
    assert "matplotlib" in skipped[0] and "tickwire-engine[plot]" in skipped[0]
    report = json.loads((out / "report.json").read_text())
    assert report["runtime"]["plot"].startswith("skipped: matplotlib")


def test_engine_backtest_plot_outcome_is_in_the_report(tmp_path: Path) -> None:
    """With matplotlib (the dev environment has the extra) the report says the PNG was
    written; with ``--no-plot`` that it was not asked for."""
    from tickwire.engine.cli import main

    for extra, expected in (([], "pnl.png"), (["--no-plot"], "not requested")):
        out = tmp_path / ("plain" if not extra else "noplot")
        assert main(["backtest", *SMALL_DAY, "--quiet", "--out", str(out), *extra]) == 0
        assert json.loads((out / "report.json").read_text())["runtime"]["plot"] == expected
        assert (out / "pnl.png").exists() == (not extra)
