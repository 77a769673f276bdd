"""Output files and ``--json`` the same way in every command.

The rules:

* ``--json [PATH|-]`` (:func:`add_json_option`) has one meaning everywhere: the
  command's output also as JSON, on stdout (no value, or ``-``; the text output is then
  left out, so stdout is JSON only) or in the file ``PATH`` (the text output goes to
  stdout as without the option). A value that could be read as the command's next
  argument is taken as the path, so write ``--json`` last or as ``--json=PATH``.
* An output file is never left empty or half-written: it is written to a temporary file
  beside it (same folder, so the rename is atomic, and a name ending in the target's, so
  a writer that picks gzip by the ``.gz`` suffix still sees it) and renamed over the
  target only when the command succeeds; when it fails, the temporary file is removed
  and an existing target is untouched (:func:`atomic_path`, :func:`atomic_open`). A
  target that exists and is not a regular file (``/dev/null``, a FIFO) is written in
  place. A target in a folder that does not exist is an error naming the target (not
  the temporary file).
* An output never replaces an input of the same command: a target that is a file the
  command reads (given to :func:`~tickwire.cli.args.existing_file`, the same file by
  device and inode, so through a symbolic link too) is a usage error (exit 2) before
  anything is written. Why: ``threshold run CAP --orders CAP`` replaced the capture with
  the orders, ``engine backtest DAY --html DAY`` the day with the HTML report.

* A folder of outputs (``backtest --out``, ``sweep --out``) is written whole or not at
  all as well: the run's files are written to a hidden folder inside it and moved in
  only when every one was written; the files the command owns there that this run did
  not write are removed (an earlier run's, which would pass for this one's), and the
  run's marker file (``report.json``) is removed first and moved in last. When the run
  fails (a full disk, a file size limit, an error), the staged files are removed and the
  folder is as it was (:func:`staged_folder`).

Inputs are validated while parsing (:func:`tickwire.cli.args.existing_file`), so a
missing input never creates an output at all. Test: ``packages/cli/tests/test_cli_output.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import logging
import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import IO, Any, TextIO

from tickwire.cli.args import input_clash, name_max, output_clash, output_file, output_named
from tickwire.cli.boundary import UsageError, printable

__all__ = [
    "JSON_HELP",
    "add_json_option",
    "atomic_open",
    "atomic_path",
    "json_output",
    "json_to_stdout",
    "log_first",
    "printable",
    "remove_stages",
    "staged_folder",
    "write_json",
]

#: What ``--json`` means, appended to each command's own help for it.
JSON_HELP = "no value or '-': stdout, in place of the text; PATH: that file, written whole"


def add_json_option(
    parser: argparse.ArgumentParser | Any, what: str, *, required: bool = False
) -> None:
    """Add ``--json [PATH|-]`` to ``parser``: ``what`` says what is written (``args.json``
    is None when not given, ``-`` for stdout, else the path)."""
    parser.add_argument(
        "--json",
        nargs="?",
        const="-",
        default=None,
        required=required,
        metavar="PATH",
        type=_json_target,
        help=f"{what} as JSON ({JSON_HELP})",
    )


def _json_target(text: str) -> str:
    """``--json``'s value: ``-`` (stdout) or an :func:`~tickwire.cli.args.output_file`."""
    return text if text == "-" else output_file(text)


def json_to_stdout(value: str | None) -> bool:
    """Whether ``--json`` sends the JSON to stdout (then the text output is left out)."""
    return value == "-"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary path to write ``path``'s content to; renamed to ``path`` when the
    ``with`` block ends without an exception, removed when it raises (see the module
    docs). A target that exists and is not a regular file is yielded as is; one that is
    an input of the running command, or a file another of its outputs already named
    (``--orders X --json X``: the second would replace the first), raises
    :class:`~tickwire.cli.UsageError`."""
    target = Path(path)
    if target.exists() and not target.is_file():
        if target.is_dir():
            raise IsADirectoryError(21, "is a directory, not a file", str(target))
        yield target  # a device or a FIFO: nothing to replace
        return
    clash = input_clash(target)
    if clash is not None:
        raise UsageError(clash)
    earlier = output_named(target)
    if earlier is not None:
        raise UsageError(output_clash(target, earlier))
    tmp = target.with_name(_part_name(target.name, name_max(str(target.parent))))
    try:
        # Created here, with the mode a plain open() would give (0666 less the umask).
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except OSError as exc:  # name the target, not the temporary file
        if isinstance(exc, FileNotFoundError) and not target.parent.is_dir():
            raise FileNotFoundError(
                errno.ENOENT, f"no such folder {target.parent}", str(target)
            ) from None
        raise type(exc)(exc.errno, exc.strerror, str(target)) from None
    try:
        yield tmp
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    try:
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


#: The name of a folder :func:`staged_folder` writes in: ``.tickwire-XXXXXXXX.part``.
STAGE_PREFIX, STAGE_SUFFIX = ".tickwire-", ".part"


@contextlib.contextmanager
def staged_folder(
    folder: str | os.PathLike[str], names: Collection[str], *, last: str | None = None
) -> Iterator[Path]:
    """A hidden folder inside ``folder`` (made when missing) to write one run's files to,
    each named in ``names`` (the files the command owns in ``folder``).

    When the ``with`` block ends without an exception: ``last`` (the run's marker, e.g.
    ``report.json``) is removed from ``folder``, so are the files of ``names`` the run did
    not write, every staged file is moved in (``os.replace``: each whole) and ``last``
    after the others. When it raises: the staged files are removed and ``folder`` is left
    as it was. A staged file not in ``names`` is a ``ValueError`` (nothing moved in).

    Rule: a folder of outputs holds one whole run or the earlier one, never a mix. Why: a
    backtest that failed while writing (a full disk: "No space left on device") left a
    half-written ``orders.csv`` beside the earlier run's ``report.json`` and tables, which
    passed for this run's. Test: ``packages/cli/tests/test_cli_output.py``
    (``test_staged_folder_*``) and ``packages/engine/tests/test_engine_backtest_cli.py``
    (``test_a_backtest_that_cannot_write_leaves_the_earlier_run_whole``)."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=STAGE_PREFIX, suffix=STAGE_SUFFIX, dir=target))
    try:
        yield stage
        written = {p.name for p in stage.iterdir()}
        stray = sorted(written.difference(names))
        if stray:
            raise ValueError(f"{target}: not an output of this command: {', '.join(stray)}")
        if last is not None:
            (target / last).unlink(missing_ok=True)
        for name in sorted(set(names) - written):
            (target / name).unlink(missing_ok=True)
        for name in sorted(written - {last}):
            os.replace(stage / name, target / name)
        if last is not None and last in written:
            os.replace(stage / last, target / last)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def remove_stages(folder: str | os.PathLike[str]) -> None:
    """Remove the hidden folders :func:`staged_folder` made in ``folder``
    (``.tickwire-*.part``) and left there: the process writing them was killed (a
    sweep's worker process, ended with its cluster when the sweep was interrupted, or by
    the OOM killer), so nothing removed them. A missing ``folder`` is nothing to do.

    Call it only where no other process is writing in ``folder``. Test:
    ``test_engine_sweep.py::test_a_run_removes_the_stage_folder_a_killed_run_left``."""
    try:
        stages = [p for p in Path(folder).iterdir() if _is_stage(p.name)]
    except (FileNotFoundError, NotADirectoryError):
        return
    for stage in stages:
        shutil.rmtree(stage, ignore_errors=True)


def _is_stage(name: str) -> bool:
    return name.startswith(STAGE_PREFIX) and name.endswith(STAGE_SUFFIX)


def _part_name(name: str, limit: int) -> str:
    """The temporary file's name for the target ``name``: hidden, random, ending in
    ``name`` (its suffixes: a writer may pick gzip by ``.gz``), cut from the front to
    ``limit`` bytes. Why cut: the 15 bytes before the name made a legal name of 241 to
    255 bytes fail at the end of the run, "File name too long" (hostile-input round 4;
    test: ``test_cli_output.py``)."""
    prefix = f".{secrets.token_hex(4)}.part-"
    keep = name[-max(limit - len(prefix), 1) :]
    while len(os.fsencode(prefix + keep)) > limit and len(keep) > 1:
        keep = keep[1:]  # multi-byte characters: a byte count, not a character count
    return prefix + keep


@contextlib.contextmanager
def atomic_open(
    path: str | os.PathLike[str], mode: str = "w", encoding: str | None = "utf-8"
) -> Iterator[IO[Any]]:
    """``open(path, mode)`` through :func:`atomic_path` (``encoding`` for text modes)."""
    with atomic_path(path) as tmp, open(tmp, mode, encoding=None if "b" in mode else encoding) as f:
        yield f


@contextlib.contextmanager
def json_output(value: str, stdout: TextIO | None = None) -> Iterator[TextIO]:
    """The stream ``--json`` output goes to: ``stdout`` (default ``sys.stdout``) for
    ``-``, else the file ``value`` (atomic: complete when the block ends without an
    exception, absent otherwise)."""
    if value == "-":
        yield stdout if stdout is not None else sys.stdout
        return
    with atomic_open(value, "w") as f:
        yield f  # type: ignore[misc]


def write_json(
    value: str, obj: Any, *, indent: int | None = None, stdout: TextIO | None = None
) -> None:
    """Write ``obj`` as one JSON document (and a newline) where ``--json value`` says."""
    with json_output(value, stdout) as out:
        out.write(json.dumps(obj, indent=indent) + "\n")


#: How many of one kind of repeated bad input :func:`log_first` logs.
LOGGED_FIRST = 20


def log_first(
    logger: logging.Logger, level: int, n: int, msg: str, *args: object, limit: int = LOGGED_FIRST
) -> None:
    """Log the ``n``-th occurrence of something a peer can repeat at will (an undecodable
    message) only while ``n`` is at most ``limit``, the last of them saying that later
    ones are counted only; the caller counts every one. Why: a line per message, at a
    feed's rate, all day, filled the log and said nothing more than a count (the live
    engine, the OUCH client and host, the exchange: their tests of undecodable input)."""
    if n <= limit:
        logger.log(
            level, msg + ("%s"), *args, " (later ones are counted only)" if n == limit else ""
        )
