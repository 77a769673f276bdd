"""``python -m tickwire.fpga``: export the design.

python -m tickwire.fpga verilog OUT.v     write the core's Verilog (top: tickwire_threshold)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tickwire.fpga", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    verilog = sub.add_parser("verilog", help="write the core's Verilog")
    verilog.add_argument("out", help="the .v file to write")
    bld = sub.add_parser("build", help="synthesise, place and route for an ECP5")
    bld.add_argument("--device", default="um5g-45k", help="nextpnr-ecp5 device (um5g-45k)")
    bld.add_argument("--package", default="CABGA381")
    bld.add_argument("--speed", type=int, default=8)
    bld.add_argument("--freq", type=float, default=156.25, help="target clock, MHz")
    bld.add_argument("--seed", type=int, default=1)
    bld.add_argument("--out", default="build/fpga", help="working directory")
    ctl = sub.add_parser("control", help="a control-plane session on a simulated core")
    ctl.add_argument("--config", required=True, help="the threshold config (TOML)")
    ctl.add_argument("--simulator", choices=("python", "verilator"), default="python")
    ctl.add_argument("script", nargs="?", help="commands, one per line (default: stdin)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m tickwire.fpga`` and ``tickwire-fpga``."""
    args = _parser().parse_args(argv)
    if args.command == "verilog":
        from .verilog import TOP, write

        path = write(args.out)
        print(f"wrote {path} (top module {TOP})")
        return 0
    if args.command == "build":
        return _build(args)
    return _control(args.config, args.simulator, args.script)


def _build(args: argparse.Namespace) -> int:
    from .build import BuildError, build

    try:
        report = build(
            args.out,
            device=args.device,
            package=args.package,
            speed=args.speed,
            freq_mhz=args.freq,
            seed=args.seed,
        )
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(report.summary())
    return 0 if report.met else 1


def _control(config_path: str, simulator: str, script: str | None) -> int:
    from tickwire.threshold.cli import UsageError, load_config_argument

    from .session import Session, SessionError
    from .sim import CoreSim
    from .vsim import VerilatorSim, VsimUnavailable

    try:
        config = load_config_argument(config_path)
    except (UsageError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        sim = CoreSim() if simulator == "python" else VerilatorSim()
    except VsimUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        session = Session(config, sim)
        if script is None:
            session.run(sys.stdin)
        else:
            with open(script) as lines:
                session.run(lines)
    except (SessionError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if isinstance(sim, VerilatorSim):
            sim.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
