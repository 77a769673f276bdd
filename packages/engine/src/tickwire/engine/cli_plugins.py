"""Subcommands of ``python -m tickwire.engine`` that other distributions provide.

A distribution that builds on the engine (and so cannot be imported by it: that would be
a cycle between distributions) adds a subcommand through the entry-point group
:data:`GROUP`. The entry point's name is the command; its object is a callable that takes
the engine's subparsers (``argparse``'s ``add_subparsers()`` action) and registers that
one command with ``sub.add_parser(name, ...)`` and ``set_defaults(func=...)``, where
``func(args)`` returns the exit status. tickwire-exchange registers ``exchange``::

    [project.entry-points."tickwire.engine.commands"]
    exchange = "tickwire.exchange.cli:add_engine_command"

Rules:

* a built-in command wins: an entry point with the name of one is skipped;
* a plugin command's ``--version`` names its own distribution (the entry point's, e.g.
  ``tickwire-engine exchange --version`` prints tickwire-exchange's version), not the
  engine's: it gets :func:`tickwire.cli.add_version` before the engine's ``run_cli``
  gives the rest of the tree the engine's (test: ``tests/test_cli_conventions.py``);
* a command of :data:`KNOWN` whose distribution is not installed is still listed in
  ``--help``; running it prints one line saying what to install and exits 2 (whatever
  options follow it, so ``exchange --feed ...`` gets that line, not an argparse error);
* an entry point that fails to load (a broken install) is the same kind of one-line
  exit 2, naming the error; the engine's other commands are unaffected.

The plugin module is imported at every start of the engine's command line (to build
``--help``), so it should keep its heavy imports inside its command.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from typing import Any

from tickwire.cli import UsageError, add_version, one_line

__all__ = ["GROUP", "KNOWN", "add_parsers", "installed"]

#: The entry-point group the engine's command line reads.
GROUP = "tickwire.engine.commands"

#: Commands of this project's own distributions: name -> (distribution, help).
KNOWN: Mapping[str, tuple[str, str]] = {
    "exchange": ("tickwire-exchange", "run the simulated exchange (OUCH in, ITCH out)"),
}


def installed() -> dict[str, Callable[[Any], None] | BaseException]:
    """The commands of :data:`GROUP` installed now: name -> its registering callable, or
    the exception its entry point raised when loading."""
    found: dict[str, Callable[[Any], None] | BaseException] = {}
    for ep in entry_points(group=GROUP):
        try:
            found[ep.name] = ep.load()
        except Exception as exc:  # a broken install: reported when the command is run
            found[ep.name] = exc
    return found


def add_parsers(
    sub: Any, commands: Mapping[str, Callable[[Any], None] | BaseException] | None = None
) -> None:
    """Register the plugin commands (``commands``, default :func:`installed`) on the
    engine's subparsers ``sub``, and a stand-in for each command of :data:`KNOWN` that is
    missing (see the module docs)."""
    commands = installed() if commands is None else commands
    builtin = set(sub.choices)
    for name, register in sorted(commands.items()):
        if name in builtin:
            continue
        if isinstance(register, BaseException):
            dist = KNOWN.get(name, (f"the distribution providing {name!r}", ""))[0]
            _stand_in(sub, name, f"{name}: {dist} failed to load: {one_line(register)}")
        else:
            register(sub)
            provider = _distribution(name)
            if provider is not None and name in sub.choices:
                add_version(sub.choices[name], provider)
    for name, (dist, help_text) in KNOWN.items():
        if name not in sub.choices:
            _stand_in(
                sub,
                name,
                f"the {name} command needs {dist}: pip install {dist}",
                help_text=f"{help_text} (needs {dist})",
            )


def _distribution(name: str) -> str | None:
    """The distribution whose entry point of :data:`GROUP` registers ``name`` (else the
    one :data:`KNOWN` names for it; None for neither)."""
    for ep in entry_points(group=GROUP, name=name):
        if ep.dist is not None:
            return str(ep.dist.name)
    return KNOWN[name][0] if name in KNOWN else None


def _stand_in(sub: Any, name: str, message: str, help_text: str | None = None) -> None:
    """A command that cannot run: it takes any arguments (no option prefix, so argparse
    refuses none of them) and fails with ``message`` (exit 2)."""
    parser = sub.add_parser(name, help=help_text or message, add_help=False, prefix_chars="\0")
    parser.add_argument("args", nargs="*", help=argparse.SUPPRESS)

    def fail(args: argparse.Namespace) -> int:
        raise UsageError(message)

    parser.set_defaults(func=fail)
