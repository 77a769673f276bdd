"""``tickwire``: one command with each installed package's command line as a subcommand.

    tickwire itch stats DAY.itch.gz       is   tickwire-itch stats DAY.itch.gz
    tickwire --help                       lists the commands, installed or not
    tickwire --version                    the version of each installed tickwire package

The commands are found through the entry-point group :data:`GROUP`: a distribution
registers its ``main(argv) -> int`` under the command's name::

    [project.entry-points."tickwire.commands"]
    itch = "tickwire.itch.cli:main"

``tickwire NAME ARGS...`` loads that entry point and runs ``main(ARGS)`` with the program
name ``tickwire NAME`` (in usage lines and error prefixes), so every option, exit status
and error is the package's own. A command of this project (:data:`KNOWN`) whose
distribution is not installed, or an entry point that fails to load, is one line,
``tickwire: error: ...``, naming what to install, and exit 2. Each package keeps its own
``python -m tickwire.NAME`` and ``tickwire-NAME`` script.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from importlib.metadata import EntryPoint, distributions, entry_points

from tickwire.cli.boundary import dist_version, invoked_as, one_line

__all__ = ["GROUP", "KNOWN", "commands", "main"]

#: The entry-point group of the subcommands.
GROUP = "tickwire.commands"

#: This project's commands: name -> (distribution, one-line summary).
KNOWN: Mapping[str, tuple[str, str]] = {
    "itch": ("tickwire-itch", "ITCH 5.0 files: stats, dump, generate, convert to Parquet"),
    "moldudp64": ("tickwire-moldudp64", "MoldUDP64: BinaryFILE <-> pcap, replay a feed"),
    "ouch": ("tickwire-ouch", "decode SoupBinTCP and OUCH from a capture"),
    "threshold": ("tickwire-threshold", "run a threshold backend over a capture"),
    "engine": ("tickwire-engine", "books, backtests, sweeps, LOBSTER export, live trading"),
    "exchange": ("tickwire-exchange", "the simulated exchange (OUCH in, ITCH out)"),
    "xdp": ("tickwire-xdp", "the XDP threshold program: attach, arm, set, stats"),
    "baremetal": ("tickwire-baremetal", "the bare-metal kernel: build, boot, traffic"),
    "fpga": ("tickwire-fpga", "the FPGA core: Verilog, build, control session"),
}

_SELF = "tickwire-cli"


def commands() -> dict[str, EntryPoint]:
    """The installed commands: name -> entry point."""
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def _summary(name: str, ep: EntryPoint | None) -> str:
    if name in KNOWN:
        dist, text = KNOWN[name]
        return text if ep is not None else f"{text} (not installed: pip install {dist})"
    meta = ep.dist.metadata["Summary"] if ep is not None and ep.dist is not None else ""
    return (meta or "").split(". ")[0]


def _help(found: Mapping[str, EntryPoint]) -> str:
    names = sorted(set(KNOWN) | set(found), key=lambda n: (n not in KNOWN, n))
    width = max(len(n) for n in names)
    lines = [
        "usage: tickwire [-h] [--version] COMMAND [ARGS...]",
        "",
        "The tickwire command line: each installed package's commands.",
        "`tickwire COMMAND --help` shows a command's own options.",
        "",
        "commands:",
        *(f"  {n:<{width}}  {_summary(n, found.get(n))}" for n in names),
        "",
        "options:",
        "  -h, --help  show this help message and exit",
        "  --version   show the version of each installed tickwire package and exit",
    ]
    return "\n".join(lines) + "\n"


def _versions(found: Mapping[str, EntryPoint]) -> str:
    """Every installed ``tickwire-*`` distribution (with or without a command) and the
    distribution of every command, one ``NAME VERSION`` a line."""
    dists = {_SELF} | {ep.dist.name for ep in found.values() if ep.dist is not None}
    dists |= {
        name
        for d in distributions()
        if (name := d.metadata["Name"] or "").lower().startswith("tickwire-")
    }
    return "".join(f"{d} {dist_version(d)}\n" for d in sorted(dists))


def _error(text: str) -> int:
    print(f"tickwire: error: {text}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``tickwire [COMMAND ARGS...]``; returns the exit status (the command's own,
    or 2 for an unknown or missing command)."""
    args = list(sys.argv[1:] if argv is None else argv)
    found = commands()
    if not args:
        sys.stderr.write(_help(found))
        return _error("a command is required")
    name, rest = args[0], args[1:]
    if name in ("-h", "--help"):
        sys.stdout.write(_help(found))
        return 0
    if name == "--version":
        sys.stdout.write(_versions(found))
        return 0
    if name.startswith("-"):
        return _error(f"unrecognized option {name!r} (options go after the command)")
    ep = found.get(name)
    if ep is None:
        if name in KNOWN:
            dist = KNOWN[name][0]
            return _error(f"the {name} command needs {dist}: pip install {dist}")
        return _error(f"unknown command {name!r} (tickwire --help lists them)")
    try:
        command: Callable[[list[str]], int] = ep.load()
    except Exception as exc:  # a broken install: this command only
        dist = ep.dist.name if ep.dist is not None else KNOWN.get(name, (name, ""))[0]
        return _error(f"{name}: {dist} failed to load: {one_line(exc)}")
    with invoked_as(f"tickwire {name}"):
        return int(command(rest))
