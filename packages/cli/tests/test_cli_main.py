"""The ``tickwire`` command: subcommands by entry point, versions, a missing package."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import EntryPoint

import pytest
from tickwire.cli import main as cli_main
from tickwire.cli.main import KNOWN, commands, main


def test_every_known_command_is_registered_here() -> None:
    assert set(KNOWN) <= set(commands())


def test_help_lists_the_commands_with_a_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name, (_, summary) in KNOWN.items():
        assert f"  {name}" in out and summary in out


def test_version_lists_each_installed_package(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = {line.split()[0] for line in lines}
    assert {"tickwire-cli", "tickwire-itch", "tickwire-net", "tickwire-engine"} <= names


def test_a_subcommand_runs_the_packages_main_under_its_name(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["itch", "stats", "/nonexistent.itch"]) == 2
    assert "tickwire itch stats: error: argument file: /nonexistent.itch: no such file" in (
        capsys.readouterr().err
    )


def test_a_command_whose_package_is_missing_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(
        cli_main, "commands", lambda: {k: v for k, v in commands().items() if k != "xdp"}
    )
    assert main(["xdp", "stats", "lo"]) == 2
    assert capsys.readouterr().err == (
        "tickwire: error: the xdp command needs tickwire-xdp: pip install tickwire-xdp\n"
    )
    assert main(["--help"]) == 0
    assert "(not installed: pip install tickwire-xdp)" in capsys.readouterr().out


def test_a_broken_entry_point_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = EntryPoint("itch", "tickwire.nothing_here:main", "tickwire.commands")
    monkeypatch.setattr(cli_main, "commands", lambda: {"itch": broken})
    assert main(["itch", "stats"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tickwire: error: itch: tickwire-itch failed to load: ") and (
        err.count("\n") == 1
    )


@pytest.mark.parametrize(
    ("argv", "needle"), [([], "a command is required"), (["nope"], "unknown command 'nope'")]
)
def test_no_or_an_unknown_command_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    assert main(argv) == 2
    assert needle in capsys.readouterr().err


def test_the_console_script_and_python_m() -> None:
    for cmd in (["tickwire"], [sys.executable, "-m", "tickwire.cli"]):
        exe = cmd if cmd[0] != "tickwire" else [str(_script("tickwire"))]
        done = subprocess.run([*exe, "--version"], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and "tickwire-cli " in done.stdout


def _script(name: str) -> object:
    from pathlib import Path

    return Path(sys.executable).parent / name
