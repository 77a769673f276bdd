"""Commands of other distributions in ``python -m tickwire.engine`` (entry-point group
``tickwire.engine.commands``) and the deprecated ``tickwire.engine.exchange`` path.

tickwire-exchange depends on the engine, so the engine never imports it: its ``exchange``
command arrives by entry point and the old import path is a shim that imports it only
when used. The "not installed" tests run the engine in an interpreter where
tickwire-exchange really is absent: ``python -S`` on a copy of the venv's site-packages
(symlinks) without its dist-info and with every other editable package's source folder.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from tickwire.cli import run_cli
from tickwire.engine.cli_plugins import KNOWN, add_parsers

#: Without site: sys.path is PYTHONPATH (set by the fixture) and the standard library.
PYTHON = [sys.executable, "-S"]
EXCHANGE_ARGS = ["--feed", "127.0.0.1:9", "--ouch-port", "0", "--rerequest-port", "0"]


@pytest.fixture(scope="module")
def without_exchange(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a ``python -S`` with everything installed but tickwire-exchange."""
    site = Path(sysconfig.get_paths()["purelib"])
    fake = tmp_path_factory.mktemp("site-packages")
    path = [str(fake)]
    for entry in site.iterdir():
        if "tickwire_exchange" in entry.name:
            continue
        if entry.name.startswith("__editable__") and entry.suffix == ".pth":
            path += [x for x in entry.read_text().split() if not x.startswith("import")]
        else:
            (fake / entry.name).symlink_to(entry)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    probe = (
        "import importlib.util as u, sys; sys.exit(u.find_spec('tickwire.exchange') is not None)"
    )
    assert subprocess.run([*PYTHON, "-c", probe], env=env, timeout=60).returncode == 0
    probe = "import tickwire.engine.cli, sortedcontainers, construct"
    assert subprocess.run([*PYTHON, "-c", probe], env=env, timeout=60).returncode == 0
    return env


def test_without_tickwire_exchange_the_exchange_command_says_what_to_install(
    without_exchange: dict[str, str],
) -> None:
    engine = [*PYTHON, "-m", "tickwire.engine"]
    for argv in ([], [*EXCHANGE_ARGS, "--duration", "0"], ["--help"]):
        done = subprocess.run(
            [*engine, "exchange", *argv],
            capture_output=True, text=True, timeout=120, env=without_exchange,
        )  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert done.stderr == (
            "tickwire-engine exchange: error: the exchange command needs tickwire-exchange: "
            "pip install tickwire-exchange\n"
        )
        assert done.stdout == ""
    done = subprocess.run(
        [*engine, "--help"], capture_output=True, text=True, timeout=120, env=without_exchange
    )
    assert done.returncode == 0
    assert "exchange run the simulated exchange (OUCH in, ITCH out) (needs tickwire-exchange)" in (
        " ".join(done.stdout.split())  # argparse wraps the help to the terminal's width
    )
    # the engine's own commands are unaffected
    done = subprocess.run(
        [*engine, "backends"], capture_output=True, text=True, timeout=120, env=without_exchange
    )
    assert done.returncode == 0 and "reference" in done.stdout.split()


def test_without_tickwire_exchange_the_old_import_path_says_what_to_install(
    without_exchange: dict[str, str],
) -> None:
    code = (
        "import sys, warnings\n"
        "warnings.simplefilter('ignore')\n"
        "try:\n"
        "    from tickwire.engine.exchange import Exchange\n"
        "except ModuleNotFoundError as exc:\n"
        "    print(exc)\n"
        "import tickwire.engine.cli, tickwire.engine.live, tickwire.engine.backtest\n"
        "print(sorted(m for m in sys.modules if m.startswith('tickwire.exchange')))\n"
    )
    done = subprocess.run(
        [*PYTHON, "-c", code], capture_output=True, text=True, timeout=120, env=without_exchange
    )
    assert done.returncode == 0, done.stderr
    first, second = done.stdout.splitlines()
    assert first == (
        "tickwire.engine.exchange moved to tickwire.exchange, in the tickwire-exchange "
        "distribution: pip install tickwire-exchange"
    )
    assert second == "[]"


def test_the_old_import_path_warns_and_gives_the_same_objects() -> None:
    code = (
        "import warnings, sys\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    from tickwire.engine.exchange import MatchingEngine, Exchange\n"
        "    from tickwire.engine.exchange.accounts import Account50\n"
        "    import tickwire.engine.exchange.server as old_server\n"
            "    import tickwire.engine.exchange.matching\n"
        "import tickwire.exchange as new\n"
        "import tickwire.exchange.server as new_server\n"
        "assert MatchingEngine is new.MatchingEngine and Exchange is new.Exchange\n"
        "assert Account50 is new.Account50 and old_server is new_server\n"
        "assert sys.modules['tickwire.engine.exchange.matching'] is sys.modules['tickwire.exchange.matching']\n"
        "kinds = {w.category.__name__ for w in caught}\n"
        "assert kinds == {'DeprecationWarning'}, kinds\n"
        "print(caught[0].message)\n"
    )  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        "tickwire.engine.exchange moved to tickwire.exchange (the tickwire-exchange "
        "distribution); the old path goes away in tickwire-engine 0.4"
    )


def _engine_like(commands: dict[str, object]) -> argparse.ArgumentParser:
    """A parser with one built-in command (``book``) and the given plugin commands."""
    parser = argparse.ArgumentParser(prog="engine")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("book").set_defaults(func=lambda args: 0)
    add_parsers(sub, commands)  # type: ignore[arg-type]
    return parser


def test_a_plugin_that_fails_to_load_is_one_line_and_a_builtin_name_wins(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def hijack(sub: object) -> None:  # pragma: no cover - must never be called
        raise AssertionError("a plugin replaced a built-in command")

    parser = _engine_like(
        {"exchange": ImportError("No module named 'sortedcontainers'"), "book": hijack}
    )
    status = run_cli(parser, ["exchange", "--feed", "x"], lambda a: int(a.func(a)))
    assert status == 2
    assert capsys.readouterr().err == (
        "engine exchange: error: exchange: tickwire-exchange failed to load: "
        "No module named 'sortedcontainers'\n"
    )
    assert run_cli(parser, ["book"], lambda a: int(a.func(a))) == 0
    assert KNOWN["exchange"][0] == "tickwire-exchange"
