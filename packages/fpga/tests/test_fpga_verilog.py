"""The Verilog export: regenerated from the design and clean under verilator -Wall."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from tickwire.fpga import verilog
from tickwire.fpga.__main__ import main

needs_verilator = pytest.mark.skipif(
    shutil.which("verilator") is None, reason="verilator not installed (scripts/setup.sh)"
)


@needs_verilator
def test_the_exported_verilog_lints_clean(tmp_path: Path) -> None:
    out = tmp_path / f"{verilog.TOP}.v"
    assert main(["verilog", str(out)]) == 0
    text = out.read_text()
    assert f"module {verilog.TOP}(" in text
    for port in ("rx_data", "rx_be", "rx_last", "tx_data", "bus_addr", "bus_r_data"):
        assert port in text
    verilog.lint(out)


@needs_verilator
def test_the_lint_fails_on_what_the_waivers_do_not_cover(tmp_path: Path) -> None:
    """A blocking assignment in a clocked block, in a file the waivers apply to."""
    bad = tmp_path / f"{verilog.TOP}.v"
    bad.write_text(
        f"module {verilog.TOP}(input clk, input d, output reg q, output reg r);\n"
        "  always @(posedge clk) begin q = d; r <= q; end\n"
        "endmodule\n"
    )
    with pytest.raises(verilog.LintError, match="BLKSEQ"):
        verilog.lint(bad)


@pytest.mark.parametrize(("registered", "answer_at"), [(False, 1), (True, 3)])
def test_registered_ports_put_a_cycle_on_each_port(registered: bool, answer_at: int) -> None:
    """``build --registered-ports`` places :class:`~tickwire.fpga.verilog.RegisteredPorts`:
    the core behind a register on every port, so a read of the ID register (the bus's
    inputs, then its data out) answers two cycles later than the core's own."""
    from amaranth.sim import Simulator
    from tickwire.fpga import regs
    from tickwire.fpga.core import ThresholdCore

    dut = verilog.RegisteredPorts() if registered else ThresholdCore()
    seen: list[int] = []

    async def bench(ctx: Any) -> None:
        ctx.set(dut.bus_addr, regs.addr("ID"))
        ctx.set(dut.bus_r_en, 1)
        for _ in range(5):
            await ctx.tick()
            ctx.set(dut.bus_r_en, 0)
            seen.append(int(ctx.get(dut.bus_r_data)))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert seen.index(regs.CORE_ID) + 1 == answer_at


@needs_verilator
def test_the_registered_ports_verilog_lints_clean(tmp_path: Path) -> None:
    out = verilog.write(tmp_path / f"{verilog.TOP}.v", registered_ports=True)
    assert "module \\tickwire_threshold.core (" in out.read_text()
    verilog.lint(out)
    assert _parser_flag(["build", "--registered-ports"]) and not _parser_flag(["build"])


def _parser_flag(argv: list[str]) -> bool:
    from tickwire.fpga.__main__ import _parser

    return bool(_parser().parse_args(argv).registered_ports)
