"""``python -m tickwire.fpga`` (``tickwire-fpga``): export, build and control the core.

python -m tickwire.fpga verilog OUT.v     write the core's Verilog (top: tickwire_threshold)
python -m tickwire.fpga build [--out DIR]  synthesise, place and route for an ECP5
python -m tickwire.fpga control --config FILE [SCRIPT]   a control-plane session
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from tickwire.cli import UsageError, atomic_path, existing_file, output_file, run_cli

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tickwire-fpga", description="The FPGA threshold core: export, build, control."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    verilog = sub.add_parser("verilog", help="write the core's Verilog")
    verilog.add_argument("out", type=output_file, help="the .v file to write, whole or not at all")
    bld = sub.add_parser("build", help="synthesise, place and route for an ECP5")
    bld.add_argument("--device", default="um5g-45k", help="nextpnr-ecp5 device")
    bld.add_argument("--package", default="CABGA381", help="the device's package")
    bld.add_argument("--speed", type=int, default=8, help="the device's speed grade")
    bld.add_argument("--freq", type=float, default=156.25, help="target clock, MHz")
    bld.add_argument("--seed", type=int, default=1, help="random seed of placement and routing")
    bld.add_argument("--out", default="build/fpga", help="working directory")
    bld.add_argument(
        "--registered-ports",
        action="store_true",
        help="a register on every port of the core, so every path is timed",
    )
    ctl = sub.add_parser("control", help="a control-plane session on a simulated core")
    ctl.add_argument(
        "--config", type=existing_file, required=True, help="the threshold config (TOML)"
    )
    ctl.add_argument(
        "--simulator", choices=("python", "verilator"), default="python", help="the core model"
    )
    ctl.add_argument(
        "script", nargs="?", type=existing_file, help="commands, one per line (default: stdin)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m tickwire.fpga`` and ``tickwire-fpga``; the exit status
    (:func:`tickwire.cli.run_cli`: 1 a failed build or session line, 2 a usage error)."""
    from tickwire.threshold.config import ConfigError

    from .build import BuildError

    return run_cli(
        _parser(), argv, _run, usage_errors=(ConfigError,), data_errors=(BuildError,),
        dist="tickwire-fpga",
    )  # fmt: skip


def _run(args: argparse.Namespace) -> int:
    if args.command == "verilog":
        from .verilog import TOP, write

        with atomic_path(args.out) as tmp:
            write(tmp)
        print(f"wrote {args.out} (top module {TOP})")
        return 0
    if args.command == "build":
        return _build(args)
    return _control(args.config, args.simulator, args.script)


def _build(args: argparse.Namespace) -> int:
    from .build import build

    report = build(
        args.out,
        device=args.device,
        package=args.package,
        speed=args.speed,
        freq_mhz=args.freq,
        seed=args.seed,
        registered_ports=args.registered_ports,
    )
    print(report.summary())
    return 0 if report.met else 1


def _control(config_path: str, simulator: str, script: str | None) -> int:
    from tickwire.threshold.cli import load_config_argument

    from .session import Session, SessionError  # a line that fails: a ValueError, exit 1
    from .sim import CoreSim
    from .vsim import VerilatorSim, VsimUnavailable

    config = load_config_argument(config_path)  # a bad file: one usage line, exit 2
    try:
        sim = CoreSim() if simulator == "python" else VerilatorSim()
    except VsimUnavailable as exc:
        raise UsageError(str(exc)) from None
    try:
        session = Session(config, sim)
        try:
            if script is None:
                session.run(sys.stdin, check_first=not sys.stdin.isatty())  # typed: as entered
            else:
                with open(script, encoding="utf-8") as lines:
                    session.run(lines)
        except UnicodeDecodeError as exc:  # it names neither the file nor the line
            where = script if script is not None else "stdin"
            raise SessionError(f"{where}: not UTF-8 text ({exc.reason})") from None
    finally:
        sim.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
