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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m tickwire.fpga`` and ``tickwire-fpga``."""
    args = _parser().parse_args(argv)
    if args.command == "verilog":
        from .verilog import TOP, write

        path = write(args.out)
        print(f"wrote {path} (top module {TOP})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
