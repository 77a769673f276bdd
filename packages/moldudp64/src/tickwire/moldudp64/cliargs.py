"""Validated argument types and the one error boundary of tickwire's command lines.

``python -m tickwire.moldudp64``, ``tickwire.engine``, ``tickwire.xdp`` and
``tickwire.baremetal`` all build on this module (moldudp64 is the lowest package they all
depend on), so every command line refuses bad input the same way.

The exit-status convention (``docs/robustness.md``, section 5):

* **2, usage**: a bad command line or configuration. Option values are checked by the
  argparse types below while parsing (a port outside 1..65535, a probability outside 0..1,
  a session name longer than 10 characters, a path that names no file, ...), so a
  mistake is reported before anything is opened, sent or written. Errors a command finds
  later in its arguments or config files are :class:`UsageError` (or one of the
  ``usage_errors`` classes given to :func:`run_cli`, e.g. a config validator's error).
* **1, data**: the input cannot be read or decoded (truncated, corrupt, unknown link
  type, ...), or an I/O operation failed: ``OSError``, ``EOFError`` (a truncated gzip
  member), ``ValueError`` (every codec's typed error is one: ``MoldError``, ITCH's
  ``DecodeError``), ``zlib.error`` and ``struct.error``, plus the ``data_errors`` given.
* **130**: interrupted (Ctrl-C), quietly. A closed stdout (``... | head``) ends the
  command quietly with the status it would have had (0).

Either way stderr gets one line, ``PROG: error: what went wrong``, and never a traceback.
Anything else is a bug in tickwire and keeps its traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import ipaddress
import math
import os
import struct
import sys
import zlib
from collections.abc import Callable, Sequence

from .codec import SESSION_LENGTH

__all__ = [
    "DATA_ERRORS",
    "UsageError",
    "existing_file",
    "int_range",
    "ipv4",
    "iso_date",
    "non_negative_float",
    "non_negative_int",
    "one_line",
    "positive_float",
    "positive_int",
    "probability",
    "run_cli",
    "session",
    "tcp_udp_port",
    "tcp_udp_port_or_any",
    "vlan_tci",
]

#: The errors every command treats as unreadable data (exit 1).
DATA_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    EOFError,
    ValueError,
    zlib.error,
    struct.error,
)


class UsageError(Exception):
    """A bad argument or config value found after parsing: ``run_cli`` exits 2."""


# ----------------------------------------------------------------- argument types
def int_range(lo: int, hi: int | None = None, *, what: str = "") -> Callable[[str], int]:
    """An argparse type: a decimal integer in ``lo..hi`` (no upper bound when None)."""

    def parse(text: str) -> int:
        try:
            value = int(text, 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < lo or (hi is not None and value > hi):
            bound = f"at least {lo}" if hi is None else f"in {lo}..{hi}"
            raise argparse.ArgumentTypeError(f"{what or 'value'} {value} is not {bound}")
        return value

    parse.__name__ = what or "integer"  # argparse names the type in some messages
    return parse


#: A TCP or UDP port to connect or send to: 1..65535.
tcp_udp_port = int_range(1, 65535, what="port")
#: A port to listen on: 0 (any free port) to 65535.
tcp_udp_port_or_any = int_range(0, 65535, what="port")
#: A count or size that must be at least 1.
positive_int = int_range(1, what="count")
#: A count that may be 0.
non_negative_int = int_range(0, what="count")


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def probability(text: str) -> float:
    """An argparse type: a probability, 0 to 1."""
    value = _float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"probability {value} is not in 0..1")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a finite number above 0 (a rate, an interval)."""
    value = _float(text)
    if value <= 0.0:
        raise argparse.ArgumentTypeError(f"{value} is not above 0")
    return value


def non_negative_float(text: str) -> float:
    """An argparse type: a finite number, 0 or more (a delay, a scale)."""
    value = _float(text)
    if value < 0.0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


def session(text: str) -> str:
    """An argparse type: a MoldUDP64 session name, 1 to 10 printable ASCII characters."""
    if not 1 <= len(text) <= SESSION_LENGTH or not all(" " <= ch <= "~" for ch in text):
        raise argparse.ArgumentTypeError(
            f"session {text!r} is not 1 to {SESSION_LENGTH} printable ASCII characters"
        )
    return text


def vlan_tci(text: str) -> int:
    """An argparse type: an 802.1Q tag control information word (PCP, DEI, VLAN ID),
    0..65535, decimal or ``0x`` hex; a plain VLAN ID is 0..4095 of it."""
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if not 0 <= value <= 0xFFFF:
        raise argparse.ArgumentTypeError(f"802.1Q TCI {value} is not in 0..65535")
    return value


def ipv4(text: str) -> str:
    """An argparse type: a dotted-quad IPv4 address (no name resolution)."""
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an IPv4 address") from None


def iso_date(text: str) -> str:
    """An argparse type: a date, ``YYYY-MM-DD``."""
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None
    return text


def existing_file(text: str) -> str:
    """An argparse type: a path to read, which must exist and not be a directory or an
    empty regular file (a pipe or ``/dev/stdin`` is fine). Exit 2, like argparse's
    ``FileType``, before any output is created."""
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


# ----------------------------------------------------------------- error boundary
def one_line(exc: BaseException) -> str:
    """The message of ``exc`` on one line (an ``OSError`` as ``FILE: reason``)."""
    if isinstance(exc, OSError) and exc.strerror:
        where = exc.filename if exc.filename is not None else ""
        text = f"{where}: {exc.strerror}" if where else exc.strerror
    else:
        text = str(exc) or type(exc).__name__
    if isinstance(exc, EOFError | zlib.error | gzip.BadGzipFile):
        text = f"corrupt or truncated gzip data: {text}"
    return " ".join(text.split())


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail too."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # pragma: no cover - stdout replaced by a non-file
        pass


def run_cli(
    parser: argparse.ArgumentParser,
    argv: Sequence[str] | None,
    command: Callable[[argparse.Namespace], int],
    *,
    usage_errors: tuple[type[BaseException], ...] = (),
    data_errors: tuple[type[BaseException], ...] = (),
) -> int:
    """Parse ``argv`` and run ``command(args)`` inside the exit-status convention above.

    Returns the exit status (it never raises ``SystemExit``, so tests call ``main(argv)``
    directly): argparse's own errors and ``--help`` give their status (2, 0); an exception
    of ``usage_errors`` or :class:`UsageError` prints ``PROG: error: ...`` and gives 2, one
    of ``data_errors`` or :data:`DATA_ERRORS` the same line and 1 (usage is checked first:
    config errors are often ``ValueError`` too). ``KeyboardInterrupt`` gives 130 and a
    broken stdout pipe the command's normal 0, both without a message.
    """
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse printed usage and the error (or the help)
        if exc.code is None:
            return 0
        return exc.code if isinstance(exc.code, int) else 2
    try:
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
        print(f"{parser.prog}: error: {one_line(exc)}", file=sys.stderr)
        return status
