"""``tickwire.cli.run_cli``: exit statuses, the one error line, ``--version`` and help
with defaults on every parser of a tree, and the quiet end of a closed pipe."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tickwire.cli import (
    HelpFormatter,
    UsageError,
    add_version,
    input_of,
    invoked_as,
    named,
    one_line,
    parser_of,
    run_cli,
    walk,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tickwire-demo", description="demo")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run it")
    run.add_argument("--count", type=int, default=3, help="how many")
    run.add_argument("--name", default="x")  # no help: the default is shown all the same
    run.add_argument("--flag", action="store_true", help="a flag")
    return parser


def _main(raise_: BaseException | None = None):  # type: ignore[no-untyped-def]
    def command(args: argparse.Namespace) -> int:
        if raise_ is not None:
            raise raise_
        return 0

    def main(argv: list[str]) -> int:
        return run_cli(_parser(), argv, command, dist="tickwire-cli")

    return main


@pytest.mark.parametrize(
    ("exc", "status", "line"),
    [
        (UsageError("bad --count"), 2, "tickwire-demo run: error: bad --count"),
        (FileNotFoundError(2, "No such file or directory", "x.itch"), 1,
         "tickwire-demo run: error: x.itch: No such file or directory"),
        (ValueError("truncated\nmessage"), 1, "tickwire-demo run: error: truncated message"),
        (EOFError("eof"), 1, "tickwire-demo run: error: corrupt or truncated gzip data: eof"),
    ],
)  # fmt: skip
def test_errors_are_one_line_with_the_one_prefix(
    capsys: pytest.CaptureFixture[str], exc: BaseException, status: int, line: str
) -> None:
    assert _main(exc)(["run"]) == status
    assert capsys.readouterr().err == line + "\n"


def test_an_error_line_shows_control_characters_escaped(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A message carrying a file's name or a feed's symbol with control characters (a
    strategy's ``ValueError`` naming the symbol, a day named ``b ESC [2J.itch``) is the
    one error line with each of them escaped, printable text (``é``) as written: the
    line wrote ``ESC [ 2 J`` (clear the screen) and the 8-bit CSI raw to the terminal."""
    assert _main(ValueError("no price for \x1b[2J\x9bé,X"))(["run"]) == 1
    assert capsys.readouterr().err == ("tickwire-demo run: error: no price for \\x1b[2J\\x9bé,X\n")
    bad = tmp_path / "b\x1b]0;owned\x07.itch"

    def cut_short() -> object:
        yield 1
        raise ValueError("truncated frame")

    with pytest.raises(ValueError) as info:
        list(named(str(bad), cut_short()))
    assert one_line(info.value) == f"{tmp_path}/b\\x1b]0;owned\\x07.itch: truncated frame"


def test_interrupt_is_130_quietly(capsys: pytest.CaptureFixture[str]) -> None:
    assert _main(KeyboardInterrupt())(["run"]) == 130
    assert capsys.readouterr().err == ""


def test_a_bug_keeps_its_traceback() -> None:
    with pytest.raises(ZeroDivisionError):
        _main(ZeroDivisionError())(["run"])


def test_usage_errors_are_checked_before_data_errors(capsys: pytest.CaptureFixture[str]) -> None:
    class ConfigError(ValueError):
        pass

    def command(args: argparse.Namespace) -> int:
        raise ConfigError("max_orders: must be an integer")

    assert run_cli(_parser(), ["run"], command, usage_errors=(ConfigError,)) == 2


def test_every_parser_gets_version_and_the_help_formatter(
    capsys: pytest.CaptureFixture[str],
) -> None:
    parser = parser_of(_main())
    for _, p in walk(parser):
        assert "--version" in p._option_string_actions
        assert p.formatter_class is HelpFormatter
    assert _main()(["run", "--version"]) == 0
    assert capsys.readouterr().out.startswith("tickwire-demo run (tickwire-cli ")


def test_a_subcommand_of_another_distribution_keeps_its_own_version(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A plugin subcommand (the engine's ``exchange``) given ``add_version`` with its own
    distribution keeps it; ``run_cli`` gives the rest of the tree the command's."""
    parser = _parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    add_version(sub.add_parser("plugin"), "tickwire-itch")
    assert run_cli(parser, ["plugin", "--version"], lambda a: 0, dist="tickwire-cli") == 0
    assert capsys.readouterr().out.startswith("tickwire-demo plugin (tickwire-itch ")
    assert run_cli(_parser(), ["run", "--version"], lambda a: 0, dist="tickwire-cli") == 0
    assert capsys.readouterr().out.startswith("tickwire-demo run (tickwire-cli ")


def test_help_shows_the_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    assert _main()(["run", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "how many (default: 3)" in text
    assert "(default: x)" in text  # --name has no help text of its own
    assert "a flag (default" not in text  # a flag's False is no default worth showing


def test_under_the_tickwire_command_the_program_is_named_as_typed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with invoked_as("tickwire demo"):
        assert _main(UsageError("no"))(["run"]) == 2
    assert capsys.readouterr().err == "tickwire demo run: error: no\n"
    assert _main(UsageError("no"))(["run"]) == 2
    assert capsys.readouterr().err == "tickwire-demo run: error: no\n"


def test_argparse_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert _main()(["run", "--count", "x"]) == 2
    assert "tickwire-demo run: error: argument --count" in capsys.readouterr().err


def test_one_line_of_an_oserror_names_the_file() -> None:
    assert one_line(PermissionError(13, "Permission denied", "/x")) == "/x: Permission denied"


def test_an_error_reading_an_input_names_it_and_only_reading_is_named(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``named(path, items)``: an error raised producing the items is the same exception
    (its type kept, for a library's callers), marked with the file, and its one line
    starts with the file (after the option given: ``--flow day.itch: ...``); an error of
    the consumer's, between two items, is not marked; a usage error is not either (its
    own line, exit 2); an ``OSError`` that names its file already is not named twice."""

    def cut_short() -> object:
        yield 1
        raise ValueError("truncated frame (at byte offset 7)")

    with pytest.raises(ValueError) as info:
        list(named("day.itch", cut_short()))
    assert input_of(info.value) == "day.itch"
    assert one_line(info.value) == "day.itch: truncated frame (at byte offset 7)"
    with pytest.raises(ValueError) as info:
        list(named("day.itch", cut_short(), option="--flow"))
    assert one_line(info.value) == "--flow day.itch: truncated frame (at byte offset 7)"

    def consumer() -> None:
        for _ in named("day.itch", iter([1, 2])):
            raise ValueError("a strategy's")

    with pytest.raises(ValueError) as info:
        consumer()
    assert input_of(info.value) is None
    assert one_line(info.value) == "a strategy's"

    def refused() -> object:
        raise UsageError("--session: two sessions")
        yield

    with pytest.raises(UsageError) as info:
        list(named("day.pcap", refused()))
    assert one_line(info.value) == "--session: two sessions"

    def unreadable() -> object:
        raise PermissionError(13, "Permission denied", "day.itch")
        yield

    with pytest.raises(OSError) as info:
        list(named("day.itch", unreadable()))
    assert one_line(info.value) == "day.itch: Permission denied"

    def bad_input(args: argparse.Namespace) -> int:
        list(named("day.itch", cut_short()))
        return 0

    assert run_cli(_parser(), ["run"], bad_input) == 1
    assert capsys.readouterr().err == (
        "tickwire-demo run: error: day.itch: truncated frame (at byte offset 7)\n"
    )


def test_a_closed_pipe_ends_quietly_with_0(tmp_path: Path) -> None:
    """``... | head``: the reader goes away; the command exits 0 with nothing on stderr
    (the mechanism ``itch dump`` had, now every command's)."""
    script = tmp_path / "spew.py"
    script.write_text(
        textwrap.dedent(
            """
            import argparse, sys
            from tickwire.cli import run_cli

            def command(args):
                for i in range(10_000_000):
                    print(i)
                return 0

            sys.exit(run_cli(argparse.ArgumentParser(prog="spew"), [], command))
            """
        )
    )
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        f"{sys.executable} {script} | head -1; echo status ${{PIPESTATUS[0]}}",
        shell=True,
        executable="/bin/bash",
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.stdout == "0\nstatus 0\n"
    assert done.stderr == ""


def test_sigterm_ends_a_command_like_ctrl_c_and_its_output_goes(tmp_path: Path) -> None:
    """SIGTERM (kill, timeout, a service manager) while a command writes its output: the
    command's ``with`` blocks end, the temporary copy is removed, exit 143. The process
    died at once and left the hidden ``.part`` file (500 MB for a killed itch generate)."""
    import signal
    import time

    script = (
        "import argparse, sys, time\n"
        "from tickwire.cli import atomic_path, run_cli\n"
        "def command(args):\n"
        "    with atomic_path(args.out) as tmp:\n"
        "        tmp.write_bytes(b'half')\n"
        "        print('writing', flush=True)\n"
        "        time.sleep(60)\n"
        "    return 0\n"
        "p = argparse.ArgumentParser(prog='slow')\n"
        "p.add_argument('out')\n"
        "sys.exit(run_cli(p, sys.argv[1:], command))\n"
    )
    out = tmp_path / "out.bin"
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(out)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "writing\n"
        assert [p.name for p in tmp_path.iterdir() if ".part-" in p.name]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 143
    finally:
        if proc.poll() is None:
            proc.kill()
            time.sleep(0.1)
    assert list(tmp_path.iterdir()) == []
