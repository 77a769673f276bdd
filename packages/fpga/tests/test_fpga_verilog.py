"""The Verilog export: regenerated from the design and clean under verilator -Wall."""

from __future__ import annotations

import shutil
from pathlib import Path

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
