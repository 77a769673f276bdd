"""``tickwire.cli.output``: ``--json [PATH|-]`` and outputs written whole or not at all."""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from tickwire.cli import (
    UsageError,
    add_json_option,
    atomic_open,
    atomic_path,
    existing_file,
    json_output,
    one_line,
    output_file,
    output_folder,
    output_folder_of,
    run_cli,
    write_json,
)


def _parse(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("file", nargs="?")
    p.add_argument("--lenient", action="store_true")
    add_json_option(p, "the counts")
    return p.parse_args(argv)


def test_json_option_values() -> None:
    assert _parse("f").json is None
    assert _parse("f", "--json").json == "-"
    assert _parse("f", "--json", "-").json == "-"
    assert _parse("f", "--json", "out.json").json == "out.json"
    assert _parse("f", "--json=out.json").json == "out.json"
    assert _parse("f", "--json", "--lenient").json == "-"  # an option is not its value


def test_write_json_to_stdout_and_to_a_file(tmp_path: Path) -> None:
    out = io.StringIO()
    write_json("-", {"a": 1}, stdout=out)
    assert json.loads(out.getvalue()) == {"a": 1}
    target = tmp_path / "s.json"
    write_json(str(target), {"a": 2}, indent=2)
    assert json.loads(target.read_text()) == {"a": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]


def test_a_failed_write_leaves_no_file_and_keeps_an_old_one(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError), json_output(str(target)) as f:
        f.write("{half")
        raise RuntimeError("the input ended")
    assert list(tmp_path.iterdir()) == []
    target.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_open(target) as f:
        f.write("new, half")
        raise RuntimeError("boom")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_the_temporary_name_keeps_the_suffix_and_the_mode_is_a_plain_files(
    tmp_path: Path,
) -> None:
    target = tmp_path / "day.itch.gz"
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.endswith("day.itch.gz")
        assert tmp.name.startswith(".")
        tmp.write_bytes(gzip.compress(b"x"))
    assert gzip.decompress(target.read_bytes()) == b"x"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask


def test_a_device_is_written_in_place_and_a_directory_refused(tmp_path: Path) -> None:
    with atomic_path("/dev/null") as p:
        assert str(p) == "/dev/null"
    with pytest.raises(IsADirectoryError), atomic_path(tmp_path):
        pass


def test_a_missing_folder_is_an_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError), atomic_path(tmp_path / "no" / "x.json"):
        pass


def test_a_missing_folder_is_named_not_the_temporary_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as caught, atomic_path(tmp_path / "no" / "x.json"):
        pass
    assert caught.value.filename == str(tmp_path / "no" / "x.json")
    assert (
        one_line(caught.value) == f"{tmp_path / 'no' / 'x.json'}: no such folder {tmp_path / 'no'}"
    )


def _convert(argv: list[str]) -> int:
    """A command like every converter: an input (existing_file), an output written with
    atomic_path, and --json PATH."""
    p = argparse.ArgumentParser(prog="conv")
    p.add_argument("input", type=existing_file)
    p.add_argument("output")
    add_json_option(p, "the summary")

    def command(args: argparse.Namespace) -> int:
        data = Path(args.input).read_bytes()
        with atomic_path(args.output) as tmp:
            tmp.write_bytes(data.upper())
        if args.json is not None:
            write_json(args.json, {"bytes": len(data)})
        return 0

    return run_cli(p, argv, command)


@pytest.mark.parametrize("through", ["same path", "symbolic link", "--json"])
def test_an_output_never_replaces_an_input_of_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], through: str
) -> None:
    """The rule (module docs): an output naming a file the command reads is a usage error,
    and the input is left as it was. On the old code the input was replaced (exit 0)."""
    day = tmp_path / "day.itch"
    day.write_bytes(b"the day")
    source, out = str(day), str(tmp_path / "out.bin")
    if through == "same path":
        out = str(day)
    elif through == "symbolic link":
        (tmp_path / "link.itch").symlink_to(day)
        source, out = str(tmp_path / "link.itch"), str(day)
    argv = [source, out] if through != "--json" else [source, out, "--json", str(day)]
    assert _convert(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(
        f"conv: error: {day}: is also this command's input"
    )
    assert day.read_bytes() == b"the day"
    assert not [p for p in tmp_path.iterdir() if ".part-" in p.name]
    # Outside a command (a library call) nothing is noted: the caller decides.
    with atomic_path(day) as tmp:
        tmp.write_bytes(b"new")
    assert day.read_bytes() == b"new"


def test_outputs_that_are_not_inputs_are_written(tmp_path: Path) -> None:
    (tmp_path / "in").write_bytes(b"abc")
    assert (
        _convert([str(tmp_path / "in"), str(tmp_path / "out"), "--json", str(tmp_path / "s")]) == 0
    )
    assert (tmp_path / "out").read_bytes() == b"ABC"
    assert json.loads((tmp_path / "s").read_text()) == {"bytes": 3}


@pytest.mark.parametrize("through", ["same path", "symbolic link"])
def test_two_outputs_of_a_command_never_name_one_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], through: str
) -> None:
    """``conv IN OUT --json OUT``: the second output is a usage error (exit 2) and the
    first stays whole. On the old code the JSON replaced the output, exit 0."""
    (tmp_path / "in").write_bytes(b"abc")
    out = tmp_path / "out"
    second = str(out)
    if through == "symbolic link":
        (tmp_path / "link").symlink_to(out)
        second = str(tmp_path / "link")
    assert _convert([str(tmp_path / "in"), str(out), "--json", second]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(
        f"conv: error: {second}: is also another output of this command"
    )
    assert out.read_bytes() == b"ABC"
    assert not [p for p in tmp_path.iterdir() if ".part-" in p.name]


def test_an_output_folder_that_is_a_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--out FILE`` is refused while parsing (exit 2), before the command runs: the
    backtest ran a whole day and then failed at writing its report ("File exists"); and
    ``--out FILE/run1`` ("Not a directory" after the run, hostile-input round 4)."""
    (tmp_path / "f").write_text("x")
    p = argparse.ArgumentParser(prog="bt")
    p.add_argument("--out", type=output_folder)
    with pytest.raises(SystemExit) as caught:
        p.parse_args(["--out", str(tmp_path / "f")])
    assert caught.value.code == 2
    assert p.parse_args(["--out", str(tmp_path)]).out == str(tmp_path)  # an existing folder
    with pytest.raises(SystemExit) as caught:  # below a file: "Not a directory" after the run
        p.parse_args(["--out", str(tmp_path / "f" / "run1" / "sub")])
    assert caught.value.code == 2
    assert f"{tmp_path / 'f'} is a file, not a folder" in capsys.readouterr().err
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")  # "File exists" after the run
    for out in (tmp_path / "dangling", tmp_path / "dangling" / "run1"):
        with pytest.raises(SystemExit) as caught:
            p.parse_args(["--out", str(out)])
        assert caught.value.code == 2
        assert "is a symbolic link to nothing" in capsys.readouterr().err
    assert p.parse_args(["--out", str(tmp_path / "new")]).out == str(tmp_path / "new")


def _report(argv: list[str], ran: list[bool]) -> int:
    """A command like ``backtest --html PATH DAY``: its outputs are named with
    :func:`output_file`, before or after the input on the line."""
    p = argparse.ArgumentParser(prog="bt")
    p.add_argument("--html", type=output_file)
    p.add_argument("day", type=existing_file)
    add_json_option(p, "the report")

    def command(args: argparse.Namespace) -> int:
        ran.append(True)  # the long run the refusal must come before
        with atomic_path(args.html) as tmp:
            tmp.write_text("<html>")
        return 0

    return run_cli(p, argv, command)


@pytest.mark.parametrize("clash", ["the input", "the input by a link", "another output"])
def test_a_named_output_that_clashes_is_refused_before_the_command_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], clash: str
) -> None:
    """``bt --html DAY DAY`` (the output named before the input) and ``bt --html X --json
    X DAY`` are usage errors found when parsing ends: the command never runs. On the old
    code the whole run happened first and the refusal came at the write."""
    day = tmp_path / "day.itch"
    day.write_bytes(b"the day")
    html = str(day)
    if clash == "the input by a link":
        (tmp_path / "link").symlink_to(day)
        html = str(tmp_path / "link")
    argv = ["--html", html, str(day)]
    if clash == "another output":
        html = str(tmp_path / "r.html")
        argv = ["--html", html, "--json", html, str(day)]
    ran: list[bool] = []
    assert _report(argv, ran) == 2
    assert ran == []
    err = capsys.readouterr().err
    what = "this command's input" if clash != "another output" else "another output"
    assert err.count("\n") == 1 and err.startswith(f"bt: error: {html}: is also {what}"), err
    assert day.read_bytes() == b"the day"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["day.itch", *(["link"] if clash == "the input by a link" else [])]
    )
    # No clash: the command runs and writes; /dev/null is never a clash.
    assert _report(["--html", str(tmp_path / "r.html"), str(day), "--json", "-"], ran) == 0
    assert ran == [True] and (tmp_path / "r.html").read_text() == "<html>"
    assert _report(["--html", os.devnull, "--json", os.devnull, str(day)], ran) == 0


def test_a_named_output_in_a_missing_folder_is_refused_unless_the_command_makes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A folder is refused while parsing; a missing folder once parsing has ended, before
    the command runs, unless it is (or is above) an ``--out`` folder the command makes:
    ``backtest --out run1 --json run1/summary.json`` worked before the check and works."""
    p = argparse.ArgumentParser(prog="bt")
    p.add_argument("--html", type=output_file)
    p.add_argument("--out", type=output_folder, default=str(tmp_path / "default-out"))
    with pytest.raises(SystemExit) as caught:
        p.parse_args(["--html", str(tmp_path)])
    assert caught.value.code == 2
    assert "is a directory, not a file" in capsys.readouterr().err
    ran: list[str] = []

    def command(args: argparse.Namespace) -> int:
        ran.append(args.html)
        return 0

    missing = tmp_path / "no" / "r.html"
    assert run_cli(p, ["--html", str(missing)], command) == 2
    err = capsys.readouterr().err
    assert err == f"bt: error: {missing}: no such folder {tmp_path / 'no'}\n" and ran == []
    made = [
        ["--out", str(tmp_path / "run1"), "--html", str(tmp_path / "run1" / "r.html")],
        ["--html", str(tmp_path / "a" / "r.html"), "--out", str(tmp_path / "a" / "b")],
        ["--html", str(tmp_path / "default-out" / "r.html")],  # the default --out
        ["--html", "r.html"],  # the working folder
    ]
    for argv in made:
        assert run_cli(p, argv, command) == 0, capsys.readouterr().err
    assert ran == [argv[argv.index("--html") + 1] for argv in made]


@pytest.mark.parametrize("spelling", ["a link to /proc/self/fd/1", "/proc/self/fd/1"])
def test_an_output_that_is_the_commands_standard_output_file_is_refused(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], spelling: str
) -> None:
    """``--html /dev/stdout > out.html`` (stdout a regular file; capfd makes fd 1 one):
    a usage error before the run, the link kept. On the old code the command ran and
    the temporary file was renamed over the name: the link (``/dev/stdout`` itself, run as
    root) became a file and nothing reached stdout."""
    day = tmp_path / "day.itch"
    day.write_bytes(b"the day")
    html = "/proc/self/fd/1"
    if spelling.startswith("a link"):
        (tmp_path / "stdout").symlink_to("/proc/self/fd/1")
        html = str(tmp_path / "stdout")
    ran: list[bool] = []
    assert _report(["--html", html, str(day)], ran) == 2
    assert ran == []
    err = capfd.readouterr().err
    assert err == (
        f"bt: error: {html}: is also this command's standard output; an output is written "
        "whole to its own file: name the file itself, not the stream\n"
    )
    if "link" in spelling:
        assert os.readlink(tmp_path / "stdout") == "/proc/self/fd/1"
    # In a library call too (no command running): the stream is never replaced.
    with pytest.raises(UsageError, match="standard output"), atomic_path(html):
        pass


def test_an_output_in_a_folder_the_command_cannot_write_is_refused_before_the_run(
    tmp_path: Path,
) -> None:
    """``engine backtest DAY --html ro/report.html`` ran the whole backtest, then failed
    at the HTML ("Read-only file system", exit 1): now a usage error before the run, for a
    file in the folder, for one in a folder the command would make there, and for that
    folder alone (``backtest --out ro/run1`` ran the whole day first too). Run as root
    (who writes anywhere a mode forbids), the folder is a read-only bind mount in a mount
    namespace of its own; otherwise its mode is 0555."""
    ro = tmp_path / "ro"
    ro.mkdir()
    ran = tmp_path / "ran"
    code = (
        "import argparse, sys\n"
        "from tickwire.cli import atomic_path, output_file, output_folder, run_cli\n"
        "p = argparse.ArgumentParser(prog='bt')\n"
        "p.add_argument('--html', type=output_file)\n"
        "p.add_argument('--out', type=output_folder)\n"
        "def command(args):\n"
        "    open(sys.argv[1], 'a').close()  # the run the refusal must come before\n"
        "    if args.html:\n"
        "        with atomic_path(args.html) as tmp:\n"
        "            tmp.write_text('<html>')\n"
        "    return 0\n"
        "sys.exit(run_cli(p, sys.argv[2:], command))\n"
    )
    if os.geteuid() == 0:
        mount = f'mount --bind {ro} {ro} && mount -o remount,bind,ro {ro} {ro} && exec "$@"'
        prefix = ["unshare", "-m", "--propagation", "private", "sh", "-c", mount, "sh"]
        why = "read-only file system"
    else:
        ro.chmod(0o555)
        prefix = []
        why = "permission denied"
    cases = [
        (["--html", str(ro / "r.html")], ro),
        (["--out", str(ro / "run1"), "--html", str(ro / "run1" / "r.html")], ro),
        (["--out", str(ro / "run1")], ro),  # the folder alone: made only after the run
        (["--out", str(ro)], ro),
    ]
    try:
        for argv, folder in cases:
            done = subprocess.run(
                [*prefix, sys.executable, "-c", code, str(ran), *argv],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert done.returncode == 2, done.stderr
            assert done.stderr == (f"bt: error: {argv[-1]}: cannot write in {folder}: {why}\n"), (
                done.stderr
            )
            assert not ran.exists()
    finally:
        ro.chmod(0o755)


@pytest.mark.parametrize("name", ["a" * 250 + ".json", "é" * 125 + ".gz"])
def test_a_long_legal_name_is_written_whole(tmp_path: Path, name: str) -> None:
    """A name of 241 to 255 bytes is legal, but the temporary file's 15 more bytes were
    not: the write failed at the end of the run, "File name too long". The temporary
    name is cut from the front and still ends in the target's suffix."""
    target = tmp_path / name
    with atomic_path(target) as tmp:
        assert len(os.fsencode(tmp.name)) <= 255 and tmp.name.endswith(name[-8:])
        tmp.write_bytes(b"whole")
    assert target.read_bytes() == b"whole"
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_a_name_too_long_is_refused_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A name over the file system's 255 bytes was found at the write, after the run."""
    day = tmp_path / "day.itch"
    day.write_bytes(b"the day")
    html = str(tmp_path / ("b" * 300 + ".html"))
    ran: list[bool] = []
    assert _report(["--html", html, str(day)], ran) == 2
    assert ran == []
    assert capsys.readouterr().err == (
        f"bt: error: {html}: file name too long (305 bytes; at most 255 in {tmp_path})\n"
    )


def test_a_dash_output_is_refused_not_a_file_named_dash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``itch2pcap DAY - | tcpdump -r -`` wrote a file named ``-`` and nothing to the pipe;
    only ``--json`` takes ``-`` (stdout)."""
    monkeypatch.chdir(tmp_path)
    day = tmp_path / "day.itch"
    day.write_bytes(b"the day")
    ran: list[bool] = []
    assert _report(["--html", "-", str(day)], ran) == 2
    assert ran == []
    assert "argument --html: '-' is no file name here" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["day.itch"]
    assert _report(["--html", "r.html", str(day), "--json", "-"], ran) == 0  # --json - is stdout


def test_a_named_output_that_is_a_file_of_an_out_folder_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``output_folder_of(NAMES)``: an output named on the line that is one of the files the
    command writes into its ``--out`` folder, or one of those files that is an input, is a
    usage error before the command runs (``backtest --out run1 --html run1/fills.csv``
    wrote the HTML over the fills table, exit 0)."""
    p = argparse.ArgumentParser(prog="bt")
    p.add_argument("--html", type=output_file)
    p.add_argument("--day", type=existing_file)
    p.add_argument("--out", type=output_folder_of("fills.csv"), default=str(tmp_path / "d"))
    ran: list[bool] = []

    def command(args: argparse.Namespace) -> int:
        ran.append(True)
        return 0

    for argv in (
        ["--out", str(tmp_path / "o"), "--html", str(tmp_path / "o" / "fills.csv")],
        ["--html", str(tmp_path / "d" / "fills.csv")],  # the default --out
    ):
        assert run_cli(p, argv, command) == 2
        assert "is also another output of this command" in capsys.readouterr().err
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "fills.csv").write_text("my day")
    assert (
        run_cli(
            p, ["--day", str(tmp_path / "o" / "fills.csv"), "--out", str(tmp_path / "o")], command
        )
        == 2
    )
    assert "is also this command's input" in capsys.readouterr().err
    assert ran == [] and (tmp_path / "o" / "fills.csv").read_text() == "my day"
    assert (
        run_cli(
            p, ["--out", str(tmp_path / "o"), "--html", str(tmp_path / "o" / "r.html")], command
        )
        == 0
    )


def test_staged_folder_moves_a_whole_run_in_and_removes_the_earlier_runs_leftovers(
    tmp_path: Path,
) -> None:
    from tickwire.cli import staged_folder

    out = tmp_path / "out"
    out.mkdir()
    for name, text in (("a.csv", "old a"), ("b.png", "old b"), ("report.json", "old"), ("x", "x")):
        (out / name).write_text(text)
    names = ("a.csv", "b.png", "report.json")
    with staged_folder(out, names, last="report.json") as stage:
        (stage / "a.csv").write_text("new a")
        (stage / "report.json").write_text("new")
    # b.png was not written this run: an earlier run's, removed; x is not the command's
    assert {p.name: p.read_text() for p in out.iterdir()} == {
        "a.csv": "new a",
        "report.json": "new",
        "x": "x",
    }


def test_staged_folder_that_fails_leaves_the_folder_as_it_was(tmp_path: Path) -> None:
    from tickwire.cli import staged_folder

    out = tmp_path / "out"
    out.mkdir()
    (out / "a.csv").write_text("old a")
    (out / "report.json").write_text("old")
    with (
        pytest.raises(OSError, match="disk full"),
        staged_folder(out, ("a.csv", "report.json")) as stage,
    ):
        (stage / "a.csv").write_text("half of the new a")
        raise OSError("disk full")
    assert {p.name: p.read_text() for p in out.iterdir()} == {
        "a.csv": "old a",
        "report.json": "old",
    }
    with (
        pytest.raises(ValueError, match="not an output of this command: y"),
        staged_folder(out, ("a.csv",)) as stage,
    ):
        (stage / "a.csv").write_text("new a")
        (stage / "y").write_text("y")
    assert {p.name: p.read_text() for p in out.iterdir()} == {
        "a.csv": "old a",
        "report.json": "old",
    }
