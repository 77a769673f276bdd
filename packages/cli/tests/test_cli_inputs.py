"""The input rule of :mod:`tickwire.cli.args`: a command's input is a regular file
(symbolic links followed), refused otherwise before it is opened, in one wording
(:func:`tickwire.cli.not_a_regular_file`); a password file may also be a pipe. The
commands themselves: ``tests/test_cli_conventions.py`` and ``tests/test_cli_bad_input.py``.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from tickwire.cli import config_file, existing_file, secret_file


def _refused(parse: object, path: str) -> str:
    assert callable(parse)
    with pytest.raises(argparse.ArgumentTypeError) as info:
        parse(path)
    return str(info.value)


def test_every_kind_of_file_that_is_not_regular_is_named(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # no writer: opening it would block
    sock_path = tmp_path / "sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(sock_path))
        link = tmp_path / "link"
        link.symlink_to(fifo)  # followed: a link to a FIFO is a FIFO
        cases = {
            str(fifo): "a pipe",
            str(link): "a pipe",
            "/dev/null": "a character device",
            str(sock_path): "a socket",
        }
        for path, kind in cases.items():
            for parse in (existing_file, config_file):
                why = _refused(parse, path)
                assert why == f"{path}: is not a regular file ({kind}): save it to a file first"


def test_a_pipe_is_refused_but_for_a_password(tmp_path: Path) -> None:
    """A data file or a config is opened more than once (the format sniff, then the
    reader; ``live`` read its config twice), so a pipe lost its first bytes. A password
    file is read once, whole, and a pipe keeps the secret off the disk
    (``--password-file <(pass show ouch)``)."""
    read_end, write_end = os.pipe()
    try:
        path = f"/dev/fd/{read_end}"
        assert "(a pipe)" in _refused(existing_file, path)
        assert "(a pipe)" in _refused(config_file, path)
        assert secret_file(path) == path
        fifo = tmp_path / "pw"
        os.mkfifo(fifo)
        assert secret_file(str(fifo)) == str(fifo)  # not opened: does not block
        assert "(a character device)" in _refused(secret_file, "/dev/null")
    finally:
        os.close(read_end)
        os.close(write_end)


def test_a_file_of_no_size_with_bytes_is_not_called_empty(tmp_path: Path) -> None:
    """``/proc/self/status`` (procfs gives its files the size 0) was "empty file". It is
    refused all the same, saying why (its bytes are made anew at each open, and a
    command opens its input more than once); a config, read once, is read."""
    why = _refused(existing_file, "/proc/self/status")
    assert why.startswith("/proc/self/status: its file system gives it no size (a /proc")
    assert "empty" not in why
    assert config_file("/proc/self/status") == "/proc/self/status"
    empty = tmp_path / "empty.itch"
    empty.write_bytes(b"")
    assert _refused(existing_file, str(empty)) == f"{empty}: empty file"
    assert config_file(str(empty)) == str(empty)  # every key at its default


def test_dev_stdin_redirected_from_a_file_is_that_file(tmp_path: Path) -> None:
    """``CMD /dev/stdin < day.itch``: the link leads to the regular file, which can be
    opened again from its start: accepted."""
    day = tmp_path / "day.itch"
    day.write_bytes(b"x" * 10)
    code = "from tickwire.cli import existing_file; print(existing_file('/dev/stdin'))"
    with day.open("rb") as stdin:
        done = subprocess.run(
            [sys.executable, "-c", code], stdin=stdin, capture_output=True, text=True, timeout=60
        )
    assert done.returncode == 0 and done.stdout == "/dev/stdin\n", done.stderr


def test_a_gzip_of_nothing_is_an_empty_file(tmp_path: Path) -> None:
    """A gzip that holds no byte (what ``curl URL | gzip > day.itch.gz`` leaves when the
    download fails: 20 bytes) is an empty input like a file of 0 bytes: a usage error,
    saying so. It was read as a day of 0 messages: ``engine book``/``backtest``, ``itch
    stats``/``convert`` exited 0 with empty books, reports and tables. A gzip of one byte
    and a damaged gzip (the reader's error, exit 1) are not refused here."""
    import gzip

    nothing = tmp_path / "day.itch.gz"
    nothing.write_bytes(gzip.compress(b""))
    assert _refused(existing_file, str(nothing)) == f"{nothing}: empty file (a gzip of nothing)"
    members = tmp_path / "two.itch.gz"  # two members, both empty: still nothing
    members.write_bytes(gzip.compress(b"") * 2)
    assert "a gzip of nothing" in _refused(existing_file, str(members))
    one = tmp_path / "one.itch.gz"
    one.write_bytes(gzip.compress(b"") + gzip.compress(b"x"))
    assert existing_file(str(one)) == str(one)
    cut = tmp_path / "cut.itch.gz"
    cut.write_bytes(gzip.compress(b"x" * 1000)[:15])
    assert existing_file(str(cut)) == str(cut)
    assert config_file(str(nothing)) == str(nothing)  # a config is never gzip: as it was


def test_toml_loads_says_a_document_nested_too_deeply_is_not_valid_toml() -> None:
    """``tomllib`` recurses into arrays and inline tables, so a document nested a few
    thousand deep raised ``RecursionError`` (a traceback out of every config reader);
    :func:`tickwire.cli.toml_loads` raises its ``TOMLDecodeError`` instead, which every
    reader already turns into one line naming the file."""
    import tomllib

    from tickwire.cli import toml_loads

    assert toml_loads("a = [[1], {b = 2}]\n") == {"a": [[1], {"b": 2}]}
    for deep in ("a = " + "[" * 5000 + "]" * 5000, "a = " + "{b=" * 3000 + "1" + "}" * 3000):
        with pytest.raises(tomllib.TOMLDecodeError, match="nested too deeply"):
            toml_loads(deep + "\n")
    with pytest.raises(tomllib.TOMLDecodeError):
        toml_loads("a = = 1\n")  # the others as they were
