"""Every registered command line keeps the conventions of ``docs/cli.md`` (issue #18,
section 3), checked by walking each command of the ``tickwire.commands`` entry points
and each of its subcommands (``tickwire.cli.parser_of`` hands over the parser a ``main``
would run):

* ``--version`` works on every command and subcommand and names the distribution (a
  plugin subcommand's own: ``engine exchange`` is tickwire-exchange's);
* an option that writes JSON is ``--json [PATH|-]`` (the live report was ``--report``);
* help shows every option's default, and no reST markup;
* a missing input file is one ``PROG: error:`` line, exit 2, and no output file; so is
  one that is not a regular file (a pipe, a FIFO, ``/dev/null``), refused unopened;
* every output file named on the line is an ``output_file`` (checked before the run);
* the commands that stream to stdout end quietly with 0 when its reader goes away.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from tickwire.cli import config_file, existing_file, output_file, parser_of, walk
from tickwire.cli.main import KNOWN
from tickwire.cli.output import add_json_option

pytestmark = pytest.mark.timeout(120, method="thread")

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "itch" / "ex20101224.TEST_ITCH_50"
COMMANDS = {ep.name: ep for ep in entry_points(group="tickwire.commands")}
#: Subcommands of the engine other distributions register (tickwire.engine.cli_plugins).
ENGINE_PLUGINS = {ep.name: ep for ep in entry_points(group="tickwire.engine.commands")}
REST = ("``", ":class:", ":func:", ":mod:", ":meth:", ":data:", ":attr:")


def _all_parsers() -> list[tuple[str, tuple[str, ...], argparse.ArgumentParser, Any]]:
    found = []
    for name, ep in sorted(COMMANDS.items()):
        main = ep.load()
        for path, parser in walk(parser_of(main)):
            found.append((name, path, parser, main))
    return found


PARSERS = _all_parsers()
IDS = [" ".join((name, *path)) for name, path, _, _ in PARSERS]


def test_every_project_command_is_registered() -> None:
    assert set(KNOWN) <= set(COMMANDS)
    assert len(PARSERS) > 30  # the commands and their subcommands


def _shown(action: argparse.Action) -> bool:
    return action.default not in (None, False, argparse.SUPPRESS) and (
        bool(action.option_strings) or action.nargs in ("?", "*")
    )


@pytest.mark.parametrize(("name", "path", "parser", "main"), PARSERS, ids=IDS)
def test_version_help_defaults_and_no_rest(
    capsys: pytest.CaptureFixture[str],
    name: str,
    path: tuple[str, ...],
    parser: argparse.ArgumentParser,
    main: Callable[[list[str]], int],
) -> None:
    if "-" not in parser.prefix_chars:  # a stand-in for a command not installed
        return
    assert main([*path, "--version"]) == 0
    out = capsys.readouterr().out
    plugin = ENGINE_PLUGINS.get(path[0]) if name == "engine" and path else None
    dist = (plugin or COMMANDS[name]).dist
    assert dist is not None and f"({dist.name} {dist.version})" in out, out

    text = parser.format_help()
    flat = " ".join(text.split())
    for marker in REST:
        assert marker not in text, f"reST {marker!r} in the help of {' '.join(path)}:\n{text}"
    for action in parser._actions:
        if _shown(action) and action.help is not argparse.SUPPRESS:
            assert f"(default: {action.default})" in flat, (
                f"{name} {' '.join(path)} {action.option_strings or action.dest}: "
                f"default {action.default!r} not shown:\n{text}"
            )


#: For every subcommand that reads an input file: an argv with ``MISSING`` as that input
#: and ``OUT`` as what it would write. (The test below fails on a subcommand not listed.)
MISSING_INPUT: dict[tuple[str, ...], list[str]] = {
    ("itch", "stats"): ["MISSING", "--json", "OUT"],
    ("itch", "dump"): ["MISSING", "--json", "OUT"],
    ("itch", "convert"): ["MISSING", "--parquet", "OUT"],
    ("moldudp64", "itch2pcap"): ["MISSING", "OUT"],
    ("moldudp64", "pcap2itch"): ["MISSING", "OUT"],
    ("moldudp64", "replay"): ["MISSING", "--to", "127.0.0.1:9", "--json", "OUT"],
    ("ouch", "decode"): ["MISSING", "--json", "OUT"],
    ("threshold", "run"): ["--backend", "reference", "--config", "CONFIG", "MISSING",
                           "--orders", "OUT", "--json", "OUT2"],
    ("engine", "book"): ["MISSING", "--json", "OUT"],
    ("engine", "threshold"): ["--backend", "reference", "--config", "CONFIG", "MISSING",
                              "--orders", "OUT", "--json", "OUT2"],
    ("engine", "backtest"): ["MISSING", "--out", "OUT", "--json", "OUT2"],
    ("engine", "export"): ["MISSING", "--symbol", "A", "--out", "OUT"],
    ("engine", "sweep"): ["--data", "MISSING", "--grid", "CONFIG", "--out", "OUT"],
    ("engine", "live"): ["--feed", "127.0.0.1:9", "--ouch", "127.0.0.1:9", "--config", "MISSING"],
    ("engine", "exchange"): ["--feed", "127.0.0.1:9", "--flow", "MISSING", "--json", "OUT"],
    ("exchange",): ["--feed", "127.0.0.1:9", "--flow", "MISSING", "--json", "OUT"],
    ("xdp", "attach"): ["lo", "--config", "MISSING"],
    ("baremetal", "boot"): ["--config", "MISSING"],
    ("baremetal", "traffic"): ["--capture", "MISSING"],
    ("fpga", "control"): ["--config", "MISSING"],
}  # fmt: skip


def _reads_a_file(parser: argparse.ArgumentParser) -> bool:
    return any(a.type in (existing_file, config_file) for a in parser._actions) or any(
        "--data" in a.option_strings
        for a in parser._actions  # engine sweep's days
    )


def test_every_command_that_reads_a_file_is_in_the_table() -> None:
    readers = {(name, *path) for name, path, p, _ in PARSERS if _reads_a_file(p)}
    assert readers == set(MISSING_INPUT), readers ^ set(MISSING_INPUT)


def _config(tmp_path: Path, command: tuple[str, ...]) -> Path:
    """The CONFIG of ``command``'s line: a sweep's grid, else a threshold config."""
    config = tmp_path / "c.toml"
    grid = command == ("engine", "sweep")
    config.write_text('[grid]\n"strategy.quote_size" = [100]\n' if grid else "armed = true\n")
    return config


@pytest.mark.parametrize("command", sorted(MISSING_INPUT), ids=" ".join)
def test_a_missing_input_is_one_line_exit_2_and_no_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: tuple[str, ...]
) -> None:
    config = _config(tmp_path, command)
    subst = {
        "MISSING": str(tmp_path / "missing.itch"),
        "OUT": str(tmp_path / "out"),
        "OUT2": str(tmp_path / "out2"),
        "CONFIG": str(config),
    }
    argv = [*command[1:], *(subst.get(a, a) for a in MISSING_INPUT[command])]
    status = COMMANDS[command[0]].load()(argv)
    err = capsys.readouterr().err
    assert status == 2, err
    lines = [line for line in err.splitlines() if ": error: " in line]
    prog = f"tickwire-{command[0]} {' '.join(command[1:])}".rstrip()
    assert len(lines) == 1 and lines[0].startswith(f"{prog}: error: "), err
    assert "missing.itch: no such file" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.toml"]  # nothing written


#: The inputs that are not regular files, as made for one run (see below), and the kind
#: the error line names.
NOT_REGULAR = {"pipe": "a pipe", "fifo": "a pipe", "dev_null": "a character device"}


@pytest.mark.parametrize("kind", sorted(NOT_REGULAR))
@pytest.mark.parametrize("command", sorted(MISSING_INPUT), ids=" ".join)
def test_an_input_that_is_not_a_regular_file_is_one_line_exit_2_and_no_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: tuple[str, ...], kind: str
) -> None:
    """A pipe (``<(cat day.itch.gz)``, ``cat day | CMD /dev/stdin``), a FIFO and a device
    are refused while parsing, unopened. A command opens its input more than once (the
    format sniff, then the reader), so a pipe lost its first bytes: ``engine book
    <(cat day.itch)`` failed mid-file, ``engine backtest <(cat day.itch.gz)`` and ``engine
    book /dev/null`` wrote a day of 0 messages with exit 0, and a FIFO with no writer
    blocked forever (here, the test's timeout)."""
    config = _config(tmp_path, command)
    out = tmp_path / "out"
    out.mkdir()  # the command's outputs would be here; the inputs are not
    read_end = None
    if kind == "pipe":  # a pipe holding a whole day, as a shell's <(cat SAMPLE) gives it
        read_end, write_end = os.pipe()
        os.write(write_end, SAMPLE.read_bytes()[:30_000])
        os.close(write_end)
        path = f"/dev/fd/{read_end}"
    elif kind == "fifo":  # no writer: opening it blocks
        path = str(tmp_path / "fifo.itch")
        os.mkfifo(path)
    else:
        path = "/dev/null"
    subst = {"MISSING": path, "OUT": str(out / "o"), "OUT2": str(out / "o2"), "CONFIG": str(config)}
    argv = [*command[1:], *(subst.get(a, a) for a in MISSING_INPUT[command])]
    try:
        status = COMMANDS[command[0]].load()(argv)
    finally:
        if read_end is not None:
            os.close(read_end)
    err = capsys.readouterr().err
    assert status == 2, err
    lines = [line for line in err.splitlines() if ": error: " in line]
    prog = f"tickwire-{command[0]} {' '.join(command[1:])}".rstrip()
    assert len(lines) == 1 and lines[0].startswith(f"{prog}: error: "), err
    assert (
        f"{path}: is not a regular file ({NOT_REGULAR[kind]}): save it to a file first"
        in (lines[0])
    )
    assert list(out.iterdir()) == []  # nothing written


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tickwire.itch.cli import main

    path = tmp_path_factory.mktemp("day") / "day.itch"
    assert main(["generate", "--messages", "50000", "--symbols", "20", str(path)]) == 0
    return path


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SoupBinTCP session of 20,000 server heartbeats: 20,000 decoded records."""
    from tickwire.net.tcp import TcpCaptureWriter

    path = tmp_path_factory.mktemp("session") / "session.pcap"
    with TcpCaptureWriter(path) as w:
        w.server_sent(b"\x00\x01H" * 20_000)
    return path


@pytest.mark.parametrize(
    "argv",
    [
        ["-m", "tickwire.itch", "dump", "DAY"],
        ["-m", "tickwire.itch", "dump", "DAY", "--json"],
        ["-m", "tickwire.cli", "itch", "dump", "DAY"],
        ["-m", "tickwire.ouch", "decode", "SESSION"],
        ["-m", "tickwire.ouch", "decode", "SESSION", "--json"],
    ],
    ids=" ".join,
)
def test_streaming_into_a_closed_pipe_ends_quietly_with_0(
    day: Path, session: Path, argv: list[str]
) -> None:
    files = {"DAY": str(day), "SESSION": str(session)}
    cmd = " ".join([sys.executable, *(files.get(a, a) for a in argv)])
    done = subprocess.run(
        f"{cmd} | head -1 >/dev/null; echo ${{PIPESTATUS[0]}}",
        shell=True,
        executable="/bin/bash",
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert done.stdout == "0\n" and done.stderr == "", done


def test_out_is_always_a_folder_and_seed_always_a_random_seed() -> None:
    """One meaning per option name (docs/cli.md): ``--out`` names a folder (the threshold
    run's orders pcap was ``--out``: now ``--orders``) and ``--seed`` a random seed (the
    exchange's book file was ``--seed``: now ``--preload``). The old spellings are hidden
    deprecated aliases."""
    for name, path, parser, _ in PARSERS:
        for action in parser._actions:
            if action.help is argparse.SUPPRESS:
                continue
            where = f"{name} {' '.join(path)} {action.option_strings}"
            if "--out" in action.option_strings:
                assert "directory" in (action.help or ""), where
            if "--seed" in action.option_strings:
                assert "random seed" in (action.help or ""), where


def test_json_output_is_always_the_json_option() -> None:
    """``--json [PATH|-]`` is the one option that writes JSON (docs/cli.md): no other
    visible option's help offers a JSON file or report (``engine live --report PATH`` did;
    it is now a hidden deprecated alias of ``--json``)."""
    for name, path, parser, _ in PARSERS:
        for action in parser._actions:
            if action.help is argparse.SUPPRESS or "--json" in action.option_strings:
                continue
            if action.option_strings and "JSON" in (action.help or ""):
                where = f"{name} {' '.join(path)} {action.option_strings}: {action.help}"
                raise AssertionError(f"JSON output not through --json: {where}")


def _json_type() -> Any:
    probe = argparse.ArgumentParser()
    add_json_option(probe, "x")
    return next(a.type for a in probe._actions if "--json" in a.option_strings)


def test_every_output_file_is_checked_before_the_run() -> None:
    """An argument that names a file the command writes (its help says "whole or not at
    all", or it is ``--json``) is typed :func:`tickwire.cli.output_file`, so a clash with
    an input or another output, a folder or a missing folder is refused before the run
    (``engine backtest DAY --html DAY`` refused only after a whole backtest)."""
    json_type = _json_type()
    for name, path, parser, _ in PARSERS:
        for action in parser._actions:
            where = f"{name} {' '.join(path)} {action.option_strings or action.dest}"
            if "--json" in action.option_strings:
                assert action.type is json_type, where
            elif "whole or not at all" in (action.help or "") or action.dest in (
                "out_deprecated",
                "report_deprecated",
            ):
                assert action.type is output_file, where
