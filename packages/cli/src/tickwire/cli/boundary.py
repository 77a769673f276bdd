"""The one error boundary of tickwire's command lines, and what every parser gets.

Every ``main(argv)`` of a tickwire package ends in :func:`run_cli`, which:

1. **prepares the parser tree**: every parser and subparser gets ``--version`` (the
   distribution's version, read with ``importlib.metadata``; :func:`add_version`, which
   keeps a ``--version`` a plugin subcommand gave itself) and :class:`HelpFormatter`
   (defaults shown, descriptions kept as written). Run under the ``tickwire`` command
   (:mod:`tickwire.cli.main`), the program name becomes ``tickwire NAME``.
2. **parses**; argparse's own errors exit 2 with its usage and ``PROG: error: ...``.
3. **runs the command** and turns what it raises into the exit-status convention:

   * **2, usage**: :class:`UsageError` (or ``argparse.ArgumentTypeError``, or one of the
     ``usage_errors`` given: a config validator's error), found after parsing;
   * **1, failure**: the input cannot be read or decoded, or an I/O operation failed:
     :data:`DATA_ERRORS` (``OSError``, ``EOFError`` of a truncated gzip member,
     ``ValueError``, which every codec's typed error is, ``zlib.error``,
     ``struct.error``) and the ``data_errors`` given; usage is checked first, since
     config errors are often ``ValueError`` too;
   * **130**: interrupted (Ctrl-C), quietly; **143**: terminated (SIGTERM: ``kill``,
     ``timeout``, a service manager), quietly. SIGTERM is turned into an exception
     (:class:`Terminated`) while the command runs, so its ``with`` blocks end as for
     Ctrl-C: an output file's temporary copy is removed (a killed ``itch generate``
     left a hidden 500 MB ``.part`` file). A command with its own SIGTERM handling (the
     live engine's and the exchange's event loops) replaces it while it runs;
   * **0**: stdout closed by its reader (``dump ... | head``): the command ends quietly
     with the status it would have had, and stdout is pointed at ``/dev/null`` so the
     interpreter's final flush does not fail too.

   Either way stderr gets one line, ``PROG: error: what went wrong`` (``PROG`` names the
   subcommand that ran, as argparse's own errors do), never a traceback. An error raised
   while an input file was read (:func:`reading`, :func:`named`) names the file:
   ``PROG: error: day.itch: truncated frame ...``.
   Anything else is a bug in tickwire and keeps its traceback.
4. **notes the command's inputs and outputs** (:func:`~tickwire.cli.args.reading_inputs`):
   the files :func:`~tickwire.cli.args.existing_file` accepted, which no output of the
   command may replace, and the files :func:`~tickwire.cli.atomic_path` writes, which no
   other output may name (it refuses both, exit 2). Outputs named on the command line
   (:func:`~tickwire.cli.args.output_file`) are checked the same way when parsing ends,
   before the command runs (:func:`~tickwire.cli.args.check_outputs`), so a clash never
   costs a run.

``main`` returns the status and never raises ``SystemExit``, so tests call ``main(argv)``
directly. Test: ``packages/cli/tests/test_cli_boundary.py`` and, over every registered
command, ``tests/test_cli_conventions.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import os
import signal
import struct
import sys
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextvars import ContextVar
from importlib.metadata import PackageNotFoundError, version
from typing import Any, TypeVar

from tickwire.cli.args import check_outputs, reading_inputs

__all__ = [
    "DATA_ERRORS",
    "HelpFormatter",
    "UsageError",
    "add_version",
    "dist_version",
    "input_of",
    "invoked_as",
    "name_input",
    "named",
    "one_line",
    "parser_of",
    "reading",
    "run_cli",
    "walk",
]

#: The errors every command treats as unreadable data or a failed operation (exit 1).
DATA_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    EOFError,
    ValueError,
    zlib.error,
    struct.error,
)

#: The program name the ``tickwire`` command runs a package's ``main`` under
#: (``tickwire itch``); None when the package's own script or ``python -m`` runs it.
_PROG: ContextVar[str | None] = ContextVar("tickwire_cli_prog", default=None)
#: Set by :func:`parser_of`: ``run_cli`` hands the prepared parser over instead of running.
_CAPTURE: ContextVar[list[argparse.ArgumentParser] | None] = ContextVar(
    "tickwire_cli_capture", default=None
)


#: Where :func:`run_cli` finds the program name of the subcommand that ran.
_PROG_DEST = "_tickwire_prog"


class UsageError(Exception):
    """A bad argument or config value found after parsing: :func:`run_cli` exits 2."""


class Terminated(BaseException):
    """SIGTERM arrived while :func:`run_cli` ran the command (it exits 143)."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated


@contextlib.contextmanager
def _terminate_as_exception() -> Iterator[None]:
    """SIGTERM raises :class:`Terminated` inside the block (main thread only; the
    handler before it is put back after)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


_T = TypeVar("_T")
_E = TypeVar("_E", bound=BaseException)

#: The attribute :func:`name_input` sets on an error raised reading an input file.
_INPUT_ATTR = "tickwire_input"


def name_input(exc: _E, name: str | os.PathLike[str] | None, *, option: str | None = None) -> _E:
    """Mark ``exc`` as raised while the input file ``name`` was read (``option``: the
    option that gave it, ``--flow day.itch``) and return it; :func:`one_line` then puts
    the name first: ``day.itch: truncated frame at end of stream ...``. ``name`` None
    marks nothing. The mark is an attribute, not a new exception: the error keeps its
    type and fields (a ``DecodeError``'s ``offset``), so a caller of the library that
    catches ``DecodeError`` still does. An outer mark replaces an inner one (the command
    line's ``--flow day.itch`` over the reader's ``day.itch``). A usage error
    (:class:`UsageError`: a capture's second session) is not marked: it keeps its own
    line and exit 2.

    Why: an error decoding one of a command's inputs said ``truncated frame at end of
    stream ...`` and nothing of which file; with several days, or a folder of them,
    there was no telling which was bad. Test:
    ``tests/test_cli_bad_input.py::test_an_unreadable_itch_file_is_named_in_the_error``
    (every command that reads ITCH files) and ``test_cli_boundary.py``."""
    if name is None or isinstance(exc, UsageError):
        return exc
    label = f"{option} {os.fspath(name)}" if option else os.fspath(name)
    with contextlib.suppress(AttributeError, TypeError):  # an exception with no __dict__
        setattr(exc, _INPUT_ATTR, label)
    return exc


def input_of(exc: BaseException) -> str | None:
    """The input file :func:`name_input` marked ``exc`` as raised reading, or None."""
    label = getattr(exc, _INPUT_ATTR, None)
    return label if isinstance(label, str) else None


@contextlib.contextmanager
def reading(name: str | os.PathLike[str] | None, *, option: str | None = None) -> Iterator[None]:
    """Every error raised in the block is marked as raised reading ``name``
    (:func:`name_input`; None: nothing is marked). Put around the reading only, where the
    path is known: an error of what is done with the data (a strategy's, a write to an
    output) must not be said to be the input's. In a generator the block holds only
    what the generator itself runs, never its consumer's code."""
    try:
        yield
    except Exception as exc:
        name_input(exc, name, option=option)
        raise


def named(
    name: str | os.PathLike[str] | None, items: Iterable[_T], *, option: str | None = None
) -> Iterator[_T]:
    """``items`` (read from the file ``name``), an error raised producing them marked as
    reading ``name`` (:func:`reading`); an error of the consumer's, between items, is
    not. For an iterator opened elsewhere (a capture reader, a builder of batches)."""
    with reading(name, option=option):
        yield from items


def printable(text: str) -> str:
    """``text`` with every character that is not printable written as its Python escape
    (``\\x1b``, ``\\x9b``, ``\\n``); printable text is unchanged.

    For strings from the network or a capture shown on a terminal: an ITCH symbol is
    eight bytes of anything (read as Latin-1), a MoldUDP64 session ten ASCII bytes, so
    ``ESC [ 2 J`` (or the 8-bit CSI ``\\x9b``) in one cleared, retitled or rewrote the
    operator's terminal through the live dashboard and ``engine book``. Tests:
    ``test_engine_live_dashboard.py::test_render_escapes_control_characters_from_the_feed``,
    ``test_engine_cli.py::test_book_prints_a_symbol_with_control_characters_escaped``.
    :func:`one_line` applies it, so every CLI's error line and a sweep's error rows show
    a control character of a file name or of the feed escaped, never raw
    (``test_cli_boundary.py::test_an_error_line_shows_control_characters_escaped``).
    """
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def one_line(exc: BaseException) -> str:
    """The message of ``exc`` on one line (an ``OSError`` as ``FILE: reason``), after the
    input file it was raised reading, if marked so (:func:`name_input`) and not named
    already, every character that is not printable escaped (:func:`printable`): a file
    name or a feed's symbol in a message wrote ``ESC [ 2 J`` raw to the terminal through
    the error line (``test_cli_boundary.py::test_an_error_line_shows_control_characters_escaped``)."""
    if isinstance(exc, OSError) and exc.strerror:
        where = exc.filename if exc.filename is not None else ""
        text = f"{where}: {exc.strerror}" if where else exc.strerror
    else:
        text = str(exc) or type(exc).__name__
    if isinstance(exc, EOFError | zlib.error | gzip.BadGzipFile):
        text = f"corrupt or truncated gzip data: {text}"
    text = " ".join(text.split())
    label = input_of(exc)
    if label is not None:
        label = " ".join(label.split())
        if not text.startswith(f"{label}:"):  # an OSError names its file already
            text = f"{label}: {text}"
    return printable(text)


def dist_version(dist: str) -> str:
    """The installed version of the distribution ``dist`` ("unknown" if not installed)."""
    try:
        return version(dist)
    except PackageNotFoundError:
        return "unknown"


def add_version(parser: argparse.ArgumentParser, dist: str) -> None:
    """Give ``parser`` and every subcommand parser below it that has none a ``--version``
    printing ``PROG (DIST VERSION)``, the installed version of the distribution ``dist``.

    :func:`run_cli` calls it on the whole tree with the command's distribution; a
    subcommand another distribution registers (a plugin: ``tickwire.engine.cli_plugins``)
    calls it on its own parser first, so its ``--version`` names that distribution. A
    stand-in parser without ``-`` among its prefix characters gets none.
    """
    text = f"%(prog)s ({dist} {dist_version(dist)})"
    for _, p in walk(parser):
        if "-" in p.prefix_chars and "--version" not in p._option_string_actions:
            p.add_argument("--version", action="version", version=text)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Help with each option's default shown, ``(default: X)``, and descriptions and
    epilogs kept as written (their lists and examples stay on their lines).

    A default is not shown when there is none to show: None, a flag's False, or a help
    text that already places ``%(default)s`` itself.
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if (
            "%(default)" in text
            or action.default is None
            or action.default is False
            or action.default is argparse.SUPPRESS
            or isinstance(action, argparse._VersionAction | argparse._HelpAction)
        ):
            return action.help
        if not action.option_strings and action.nargs not in ("?", "*"):
            return action.help
        return f"{text} (default: %(default)s)".lstrip()


def walk(
    parser: argparse.ArgumentParser,
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """``(path, parser)`` for ``parser`` and every subcommand parser below it, depth first
    (``path`` is the subcommand names from the root: ``()``, ``("stats",)``, ...)."""

    def visit(
        path: tuple[str, ...], p: argparse.ArgumentParser
    ) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
        yield path, p
        seen: set[int] = set()
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    if id(sub) not in seen:  # an alias names a parser already visited
                        seen.add(id(sub))
                        yield from visit((*path, name), sub)

    yield from visit((), parser)


def _prepare(parser: argparse.ArgumentParser, dist: str | None) -> None:
    """Give every parser of the tree ``--version``, :class:`HelpFormatter` and, under the
    ``tickwire`` command, its program name."""
    prog = _PROG.get()
    root = parser.prog
    if dist:
        add_version(parser, dist)
    for _, p in walk(parser):
        if prog is not None and p.prog.startswith(root):
            p.prog = prog + p.prog[len(root) :]
        # The deepest parser's default wins: the error line names the subcommand run.
        p.set_defaults(**{_PROG_DEST: p.prog})
        p.formatter_class = HelpFormatter
        for action in p._actions:
            # An option with a default and no help would hide the default: give it one.
            if (
                action.help is None
                and action.option_strings
                and action.default not in (None, False, argparse.SUPPRESS)
            ):
                action.help = "(default: %(default)s)"


@contextlib.contextmanager
def invoked_as(prog: str) -> Iterator[None]:
    """Run a package's ``main`` as ``prog`` (the ``tickwire`` command: ``tickwire itch``)."""
    token = _PROG.set(prog)
    try:
        yield
    finally:
        _PROG.reset(token)


def parser_of(main: Callable[..., Any]) -> argparse.ArgumentParser:
    """The prepared parser a command's ``main`` runs (nothing is parsed or run): what the
    convention test walks."""
    found: list[argparse.ArgumentParser] = []
    token = _CAPTURE.set(found)
    try:
        main([])
    finally:
        _CAPTURE.reset(token)
    if not found:
        raise TypeError(f"{main!r} does not end in tickwire.cli.run_cli")
    return found[0]


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail too."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout replaced by a non-file (a test's capture)
        pass


def run_cli(
    parser: argparse.ArgumentParser,
    argv: Sequence[str] | None,
    command: Callable[[argparse.Namespace], int],
    *,
    dist: str | None = None,
    usage_errors: tuple[type[BaseException], ...] = (),
    data_errors: tuple[type[BaseException], ...] = (),
) -> int:
    """Parse ``argv`` and run ``command(args)`` inside the convention above; returns the
    exit status. ``dist`` is the distribution whose version ``--version`` prints."""
    _prepare(parser, dist)
    capture = _CAPTURE.get()
    if capture is not None:
        capture.append(parser)
        return 0
    with reading_inputs(), _terminate_as_exception():  # inputs noted; SIGTERM cleans up
        try:
            return _parse_and_run(parser, argv, command, usage_errors, data_errors)
        except Terminated:
            return 143


def _parse_and_run(
    parser: argparse.ArgumentParser,
    argv: Sequence[str] | None,
    command: Callable[[argparse.Namespace], int],
    usage_errors: tuple[type[BaseException], ...],
    data_errors: tuple[type[BaseException], ...],
) -> int:
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse printed usage and the error (or the help)
        if exc.code is None:
            return 0
        return exc.code if isinstance(exc.code, int) else 2
    try:
        check_outputs()  # outputs against inputs and each other, before anything runs
        return int(command(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        _quiet_stdout()
        return 0
    except Exception as exc:
        if isinstance(exc, (UsageError, argparse.ArgumentTypeError, *usage_errors)):
            status = 2
        elif isinstance(exc, (*DATA_ERRORS, *data_errors)):
            status = 1
        else:
            raise
        prog = getattr(args, _PROG_DEST, parser.prog)
        print(f"{prog}: error: {one_line(exc)}", file=sys.stderr)
        return status
