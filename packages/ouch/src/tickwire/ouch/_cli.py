"""The argument types and the error boundary of ``python -m tickwire.itch``.

The same convention as every tickwire command line (``docs/robustness.md``, section 5;
the full set of types lives in ``tickwire.moldudp64.cliargs``, which this package cannot
depend on, so these few lines are its only copy): exit 2 for a usage error (argparse's
own, or :class:`UsageError`), 1 for data that cannot be read or decoded (``OSError``,
``EOFError`` from a truncated gzip member, ``ValueError`` such as ``DecodeError``,
``zlib.error``), 130 when interrupted, each with one ``PROG: error: ...`` line on stderr
and never a traceback. A closed stdout pipe (``dump ... | head``) is not an error.
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
import zlib
from collections.abc import Callable, Sequence

__all__ = ["UsageError", "existing_file", "port", "run_cli"]

_DATA_ERRORS = (OSError, EOFError, ValueError, zlib.error)  # OuchError is a ValueError


class UsageError(Exception):
    """A bad argument found after parsing: exit 2."""


def _int_at_least(lo: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text, 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < lo:
            raise argparse.ArgumentTypeError(f"{value} is not at least {lo}")
        return value

    return parse


_port_number = _int_at_least(1)


def port(text: str) -> int:
    """A TCP port: 1..65535."""
    value = _port_number(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"port {value} is not in 1..65535")
    return value


def existing_file(text: str) -> str:
    """A path to read: it must exist and not be a directory or an empty regular file."""
    try:
        st = os.stat(text)
    except FileNotFoundError:
        raise argparse.ArgumentTypeError(f"{text}: no such file") from None
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"{text}: {exc.strerror or exc}") from None
    if os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text}: is a directory, not a file")
    if st.st_size == 0 and os.path.isfile(text):
        raise argparse.ArgumentTypeError(f"{text}: empty file")
    return text


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        text = f"{exc.filename}: {exc.strerror}" if exc.filename is not None else exc.strerror
    else:
        text = str(exc) or type(exc).__name__
    if isinstance(exc, EOFError | zlib.error | gzip.BadGzipFile):
        text = f"corrupt or truncated gzip data: {text}"
    return " ".join(text.split())


def run_cli(
    parser: argparse.ArgumentParser,
    argv: Sequence[str] | None,
    command: Callable[[argparse.Namespace], int],
) -> int:
    """Parse ``argv``, run ``command(args)``; returns the exit status (never raises
    ``SystemExit``, so tests call ``main(argv)`` directly)."""
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        if exc.code is None:
            return 0
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return int(command(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Point stdout at /dev/null so the interpreter's final flush does not fail too.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except (UsageError, *_DATA_ERRORS) as exc:
        print(f"{parser.prog}: error: {_one_line(exc)}", file=sys.stderr)
        return 2 if isinstance(exc, UsageError) else 1
