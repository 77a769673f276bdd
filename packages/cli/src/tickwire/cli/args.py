"""Validated argparse types shared by every tickwire command line.

Option values are checked while parsing (a port outside 1..65535, a probability outside
0..1, a path that names no file, ...), so a mistake is a usage error (exit 2, one line)
reported before anything is opened, sent or written.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gzip
import ipaddress
import math
import os
import stat
import tomllib
import zlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

__all__ = [
    "check_outputs",
    "config_file",
    "existing_file",
    "input_clash",
    "input_named",
    "int_range",
    "ipv4",
    "is_iso_date",
    "iso_date",
    "missing_folder",
    "multicast_ipv4",
    "name_max",
    "non_negative_float",
    "non_negative_int",
    "not_a_regular_file",
    "output_clash",
    "output_file",
    "output_folder",
    "output_folder_of",
    "output_named",
    "positive_float",
    "positive_int",
    "probability",
    "reading_inputs",
    "require_regular_file",
    "secret_file",
    "stock_symbol",
    "stock_symbols",
    "tcp_udp_port",
    "tcp_udp_port_or_any",
    "unwritable_folder",
    "vlan_tci",
]


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


def multicast_ipv4(text: str) -> str:
    """An argparse type: an IPv4 multicast group (RFC 5771: first octet 224 to 239), dotted quad. Why: a
    unicast address given as a group failed when the socket joined it, as "Invalid
    argument" naming nothing."""
    value = ipv4(text)
    if not ipaddress.IPv4Address(value).is_multicast:
        raise argparse.ArgumentTypeError(
            f"{text} is not a multicast group (first octet 224 to 239)"
        )
    return value


def is_iso_date(text: str) -> bool:
    """Whether ``text`` is a calendar date written ``YYYY-MM-DD`` (``date.fromisoformat``
    alone also reads ``20200102`` since Python 3.11)."""
    try:
        return dt.date.fromisoformat(text).isoformat() == text
    except ValueError:
        return False


def iso_date(text: str) -> str:
    """An argparse type: a date, ``YYYY-MM-DD`` (:func:`is_iso_date`)."""
    if not is_iso_date(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)")
    return text


#: The ITCH 5.0 stock field's size (OUCH's symbol field too): a symbol has at most this
#: many characters, padded with spaces on the right on the wire.
STOCK_FIELD_BYTES = 8


def stock_symbol(text: str) -> str:
    """An argparse type: a stock symbol, as ITCH and OUCH carry it: 1 to 8 printable
    ASCII characters with no space inside (``AAPL``, ``BRK.B``); blanks around it are
    dropped (the wire's right padding). Why: an empty, blank or too long symbol matches
    no message, and the commands ran to the end with empty outputs, exit 0."""
    value = text.strip()
    if not value:
        raise argparse.ArgumentTypeError(f"symbol {text!r} is empty")
    if len(value) > STOCK_FIELD_BYTES:
        raise argparse.ArgumentTypeError(
            f"symbol {value!r} is longer than the {STOCK_FIELD_BYTES} bytes of the ITCH stock field"
        )
    if not (value.isascii() and value.isprintable()) or " " in value:
        raise argparse.ArgumentTypeError(
            f"symbol {value!r} must be printable ASCII with no space inside"
        )
    return value


def stock_symbols(text: str) -> list[str]:
    """An argparse type: comma-separated stock symbols (``AAPL,MSFT``), each a
    :func:`stock_symbol` (so an empty one, ``AAPL,,MSFT`` or ``AAPL,``, is refused)."""
    parts = text.split(",")
    symbols = []
    for part in parts:
        try:
            symbols.append(stock_symbol(part))
        except argparse.ArgumentTypeError as exc:
            if len(parts) == 1:
                raise
            raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None
    return symbols


#: The regular files the running command reads, ``(device, inode) -> path as given``:
#: noted by :func:`existing_file` while :func:`~tickwire.cli.run_cli` parses, asked by
#: :func:`~tickwire.cli.atomic_path`; None outside a command.
_INPUTS: ContextVar[dict[tuple[int, int], str] | None] = ContextVar(
    "tickwire_cli_inputs", default=None
)


#: The files the running command has written or is writing (through
#: :func:`~tickwire.cli.atomic_path`), ``real path -> path as given``; None outside a
#: command.
_OUTPUTS: ContextVar[dict[str, str] | None] = ContextVar("tickwire_cli_outputs", default=None)

#: The output files named on the running command's line (:func:`output_file`), in the
#: order parsed; :func:`check_outputs` refuses a clash once parsing has ended. None
#: outside a command.
_NAMED_OUTPUTS: ContextVar[list[str] | None] = ContextVar(
    "tickwire_cli_named_outputs", default=None
)

#: The output folders named on the running command's line (:func:`output_folder`, their
#: defaults too), which the command makes, with the names of the files it writes there
#: (:func:`output_folder_of`): a named output file may be in one, but not one of those.
_NAMED_FOLDERS: ContextVar[list[tuple[str, tuple[str, ...]]] | None] = ContextVar(
    "tickwire_cli_named_folders", default=None
)


@contextlib.contextmanager
def reading_inputs() -> Iterator[None]:
    """Note the inputs :func:`existing_file` accepts and the outputs
    :func:`~tickwire.cli.atomic_path` writes inside the block (:func:`run_cli` runs each
    command in one), so no output of the command can replace one of its inputs, nor
    another of its outputs."""
    token = _INPUTS.set({})
    out_token = _OUTPUTS.set({})
    named_token = _NAMED_OUTPUTS.set([])
    folders_token = _NAMED_FOLDERS.set([])
    try:
        yield
    finally:
        _NAMED_FOLDERS.reset(folders_token)
        _NAMED_OUTPUTS.reset(named_token)
        _OUTPUTS.reset(out_token)
        _INPUTS.reset(token)


def output_named(path: str | os.PathLike[str]) -> str | None:
    """Note ``path`` as an output of the running command; the path an earlier output
    was given as when it is the same file (symbolic links resolved), else None (a new
    output, or no command running)."""
    outputs = _OUTPUTS.get()
    if outputs is None:
        return None
    key = os.path.realpath(path)
    earlier = outputs.get(key)
    if earlier is None:
        outputs[key] = str(path)
    return earlier


def input_named(st: os.stat_result) -> str | None:
    """The path the running command was given for the input file ``st`` is (same device
    and inode), or None: not an input, or no command running."""
    inputs = _INPUTS.get()
    return None if inputs is None else inputs.get((st.st_dev, st.st_ino))


#: The standard streams, by descriptor, as :func:`input_clash` names them.
_STREAMS = ((0, "standard input"), (1, "standard output"), (2, "standard error"))


def input_clash(path: str | os.PathLike[str]) -> str | None:
    """Why ``path`` cannot be an output of the running command, or None: it is one of
    its inputs (the same device and inode, so through a symbolic link too), or the
    regular file one of its standard streams is (``--json /dev/stdout > out.json``,
    ``--json out.json > out.json``; checked in library calls too).

    Why the streams: an output is written to a temporary file and renamed over its
    name, so the stream's file lost it (the text written to stdout went to a file no
    name reaches any more), and a name reached through a link, ``/dev/stdout`` ->
    ``/proc/self/fd/1``, had the link replaced: run as root, ``/dev/stdout`` itself
    became a file of JSON for every process after. A stream that is not a regular file
    (a terminal, a pipe, ``/dev/null``) is written in place, as any device is. Test:
    ``packages/cli/tests/test_cli_output.py``."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if stat.S_ISREG(st.st_mode):
        for fd, stream in _STREAMS:
            try:
                fst = os.fstat(fd)
            except OSError:  # closed
                continue
            if (fst.st_dev, fst.st_ino) == (st.st_dev, st.st_ino):
                return (
                    f"{path}: is also this command's {stream}; an output is written whole "
                    "to its own file: name the file itself, not the stream"
                )
    source = input_named(st)
    if source is None:
        return None
    same = "" if os.path.abspath(source) == os.path.abspath(path) else f" ({source})"
    return (
        f"{path}: is also this command's input{same}; an output never replaces an input: "
        "name another file"
    )


def output_clash(path: str | os.PathLike[str], earlier: str) -> str:
    """Why ``path`` cannot be an output: another output, given as ``earlier``, is the
    same file."""
    same = "" if os.path.abspath(earlier) == os.path.abspath(path) else f" ({earlier})"
    return f"{path}: is also another output of this command{same}; each output needs its own file"


def _special(path: str) -> bool:
    """A target that exists and is not a regular file or a folder (``/dev/null``, a FIFO):
    written in place, never replaced, so it clashes with nothing."""
    return os.path.exists(path) and not os.path.isfile(path) and not os.path.isdir(path)


def missing_folder(path: str) -> str | None:
    """Why ``path`` cannot be written: its folder does not exist and is not one the
    running command makes (an :func:`output_folder` of its line, or a folder above one:
    they are made with their parents), or the command cannot write in it (or, for a
    folder it makes, in the nearest folder that exists): read-only, or not its
    permission; or its name is longer than the folder's file system takes; or None.

    Why the permission: ``engine backtest DAY --html ro/report.html`` ran the whole
    backtest and wrote ``--out``'s files, then failed at the HTML ("Read-only file
    system"). Test: ``packages/cli/tests/test_cli_output.py``."""
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        want = os.path.abspath(folder)
        for made, _ in _NAMED_FOLDERS.get() or ():
            made = os.path.abspath(made)
            if made == want or made.startswith(want.rstrip(os.sep) + os.sep):
                break
        else:
            return f"{path}: no such folder {folder}"
        folder = _nearest_folder(folder)
    why = unwritable_folder(folder)
    if why is not None:
        return f"{path}: cannot write in {folder}: {why}"
    size, limit = len(os.fsencode(os.path.basename(path))), name_max(folder)
    if size > limit:
        return f"{path}: file name too long ({size} bytes; at most {limit} in {folder})"
    return None


def _nearest_folder(path: str) -> str:
    """``path`` if it is a folder, else the nearest folder above it (where the folders
    down to it are made)."""
    while not os.path.isdir(path):
        path = os.path.dirname(path) or "."
    return path


def name_max(folder: str) -> int:
    """The longest file name, in bytes, the file system of the existing ``folder`` takes
    (``NAME_MAX``; 255 when it cannot tell)."""
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


def unwritable_folder(folder: str) -> str | None:
    """Why the command cannot make files in the existing ``folder`` (``read-only file
    system``, ``permission denied``), or None."""
    if os.access(folder, os.W_OK | os.X_OK):
        return None
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return "read-only file system"
    except OSError:
        pass
    return "permission denied"


def output_file(text: str) -> str:
    """An argparse type: a file the command writes, whole or not at all
    (:func:`~tickwire.cli.atomic_path`).

    The rule: every reason the write would be refused is found before the command runs.
    While parsing: a folder, and ``-`` (the Unix spelling of stdout, which only
    ``--json`` reads so: ``moldudp64 itch2pcap DAY - | tcpdump -r -`` wrote a file named
    ``-`` and nothing to the pipe). Once parsing has ended (:func:`check_outputs`, which
    :func:`~tickwire.cli.run_cli` calls; the inputs and the output folders may come
    later on the line): a folder that does not exist and that the command does not make
    (``backtest --out run1 --json run1/summary.json`` is fine: ``run1`` is its
    :func:`output_folder`), an input of the command, or the same file as another output.
    Why: ``engine backtest DAY --html DAY`` ran the whole backtest and then refused to
    replace its input; ``--html X --json X`` wrote one and refused the other.
    ``atomic_path`` checks the same again when it writes (for paths not named on the
    command line). Test: ``packages/cli/tests/test_cli_output.py``.
    """
    if text == "-":  # ``itch2pcap DAY - | tcpdump -r -`` wrote a file named "-"
        raise argparse.ArgumentTypeError(
            "'-' is no file name here (only --json takes '-', for stdout): name a file"
        )
    if os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text}: is a directory, not a file")
    named = _NAMED_OUTPUTS.get()
    if named is not None and not _special(text):
        named.append(text)
    return text


def check_outputs() -> None:
    """Refuse (:class:`argparse.ArgumentTypeError`, a usage error) an output named on the
    command line (:func:`output_file`) in a folder that does not exist and that the
    command does not make, that is an input of the command or the same file as another
    output, also one of the files an :func:`output_folder_of` gets (``backtest --out run1
    --html run1/fills.csv``: the HTML replaced the fills table, exit 0), or such a file
    that is an input; and an output folder (:func:`output_folder`) the command could not
    make or write in (``engine backtest --out ro/run1`` ran the whole backtest, then
    failed making the folder: "Read-only file system"); :func:`~tickwire.cli.run_cli`
    calls it when parsing has ended."""
    seen: dict[str, str] = {}
    for folder, names in _NAMED_FOLDERS.get() or ():  # the files an --out folder gets
        for name in names:
            made = os.path.join(folder, name)
            clash = input_clash(made)
            if clash is not None:
                raise argparse.ArgumentTypeError(clash)
            seen.setdefault(os.path.realpath(made), made)
    for path in _NAMED_OUTPUTS.get() or ():
        clash = missing_folder(path) or input_clash(path)
        if clash is not None:
            raise argparse.ArgumentTypeError(clash)
        key = os.path.realpath(path)
        if key in seen:
            raise argparse.ArgumentTypeError(output_clash(path, seen[key]))
        seen[key] = path
    for folder, _ in _NAMED_FOLDERS.get() or ():  # made, or written in: writable?
        where = _nearest_folder(folder)
        why = unwritable_folder(where)
        if why is not None:  # backtest --out ro/run1 ran the whole day first
            raise argparse.ArgumentTypeError(f"{folder}: cannot write in {where}: {why}")


def output_folder(text: str) -> str:
    """An argparse type: a folder to write a command's files into (``--out``), made by the
    command when missing. A path that exists and is not a folder is a usage error, found
    while parsing, and so is one below a file (``--out day.itch/run1``). Why: ``backtest
    --out FILE`` ran the whole backtest and then failed at writing its report, "File
    exists"; ``--out FILE/run1`` the same, "Not a directory", and ``--out LINK`` to nothing,
    "File exists" (hostile-input round 4)."""
    if os.path.lexists(text) and not os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text}: {_not_a_folder(text)}")
    above = os.path.dirname(text)
    while above and not os.path.lexists(above):
        above = os.path.dirname(above)
    if above and not os.path.isdir(above):  # --out day.itch/run1 ran the whole backtest
        raise argparse.ArgumentTypeError(f"{text}: {above} {_not_a_folder(above)}")
    folders = _NAMED_FOLDERS.get()
    if folders is not None:
        folders.append((text, ()))
    return text


def _not_a_folder(path: str) -> str:
    """What the existing name ``path``, not a folder, is: a file, or a symbolic link to
    nothing (``--out`` a dangling link ran the whole backtest, then "File exists")."""
    if os.path.islink(path) and not os.path.exists(path):
        return f"is a symbolic link to nothing ({os.readlink(path)}), not a folder"
    return "is a file, not a folder"


def output_folder_of(*names: str) -> Callable[[str], str]:
    """An argparse type: an :func:`output_folder` the command writes the files ``names``
    into, so that :func:`check_outputs` refuses, before the command runs, an output file
    named on the line that is one of them, and one of them that is an input. Why:
    ``engine backtest DAY --out run1 --html run1/fills.csv`` wrote the fills table and
    then the HTML over it, exit 0 (hostile-input round 4). Test:
    ``packages/cli/tests/test_cli_output.py``."""

    def parse(text: str) -> str:
        output_folder(text)
        folders = _NAMED_FOLDERS.get()
        if folders is not None:
            folders[-1] = (text, names)
        return text

    parse.__name__ = "output_folder"  # argparse names the type in some messages
    return parse


def existing_file(text: str) -> str:
    """An argparse type: a path to read, which must be a regular file (symbolic links
    followed; :func:`not_a_regular_file`) that is not empty.

    The rule: a missing input is a usage error (exit 2, like argparse's ``FileType``),
    found while parsing, so no output file has been created yet when it is reported; so is
    an input that is not a regular file (a pipe, ``/dev/stdin`` on a pipe, a FIFO, a
    device, a socket), refused without opening it, and an empty one (a gzip that holds
    no byte too: :func:`_gzip_of_nothing`).
    Under :func:`run_cli` the file is noted as an input (:func:`reading_inputs`), so
    an output named like it is refused instead of replacing it.
    """
    return _existing(text, empty_ok=False)


def config_file(text: str) -> str:
    """An argparse type: a file of settings to read (``--config``, ``--grid``):
    :func:`existing_file`'s rules, noted as an input the same way, except that an empty
    file is fine (every key at its default; the loader says if one is required).
    Why noted: ``threshold run CAP --config C --orders C`` replaced the config."""
    return _existing(text, empty_ok=True)


class _NestedTooDeeply(tomllib.TOMLDecodeError):
    """A TOML document nested deeper than ``tomllib`` recurses."""

    def __init__(self, msg: str) -> None:
        ValueError.__init__(self, msg)  # TOMLDecodeError's arguments differ by version


def toml_loads(text: str) -> dict[str, Any]:
    """``tomllib.loads(text)``, one more of its failures raised as its
    ``TOMLDecodeError``: arrays or inline tables nested too deeply for its recursion.
    Every config reader (``--config``, ``--grid``, risk limits, threshold configs) reads
    TOML through it, and already turns ``TOMLDecodeError`` into one line naming the
    file, exit 2. Why: ``tomllib`` recurses into each level, and a document nested a few
    thousand deep raised ``RecursionError``, a traceback out of every reader. Tests:
    ``packages/cli/tests/test_cli_inputs.py``, ``tests/test_cli_bad_input.py``
    (``deep.toml``)."""
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise _NestedTooDeeply(
            "arrays or inline tables nested too deeply (Python's recursion limit)"
        ) from None


def secret_file(text: str) -> str:
    """An argparse type: a file holding a secret (``--password-file``): as
    :func:`config_file`, except that a pipe is fine too (``--password-file <(pass show
    ouch)``, so the secret is never on disk): it is read once, whole, where a data file or
    a config is opened more than once."""
    return _existing(text, empty_ok=True, stream_ok=True)


#: The kinds of file an input cannot be, by the test of their file type.
_NOT_REGULAR = (
    (stat.S_ISFIFO, "a pipe"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def not_a_regular_file(path: str | os.PathLike[str], st: os.stat_result) -> str | None:
    """Why the input ``path``, whose :func:`os.stat` (symbolic links followed) is ``st``,
    cannot be read: it is not a regular file (nor a folder, which has its own message); or
    None. The one wording of the rule, for :func:`existing_file`, the files of a
    folder a command reads (``engine sweep --data DIR``) and the library's entry points
    (:func:`require_regular_file`).

    Why: a command opens its input more than once (the format is sniffed from the first
    bytes, then the reader opens the file again; a sweep's workers open each day), and a
    pipe gives its bytes once: ``engine book <(cat day.itch)`` lost the first bytes and
    failed mid-file, ``cat day.itch.gz | engine backtest /dev/stdin`` read an empty day and
    wrote its report with exit 0, ``engine book /dev/null`` too, and a FIFO with no writer
    blocked forever at the open. So the path is refused before it is opened. Test:
    ``tests/test_cli_conventions.py``."""
    for test, kind in _NOT_REGULAR:
        if test(st.st_mode):
            return f"{path}: is not a regular file ({kind}): save it to a file first"
    return None


def require_regular_file(path: str | os.PathLike[str]) -> None:
    """Raise ``ValueError`` with :func:`not_a_regular_file`'s line when the input ``path``
    (symbolic links followed) is a pipe, a FIFO, a device or a socket; the library's
    entry points that read a file by its path more than once (a sniff of its format, then
    the reader) call it first, as the command lines' :func:`existing_file` does while
    parsing. A missing file is the ``FileNotFoundError`` of :func:`os.stat`, and a folder
    is left to the open that follows (``IsADirectoryError``).

    Why: called from Python, ``tickwire.engine.is_capture`` and
    ``tickwire.engine.sources.rebuild`` read a FIFO's first bytes to sniff them and lost
    them to the reader (or blocked forever at the open of a FIFO with no writer), and
    ``rebuild("/dev/null")`` was an empty BinaryFILE: books of nothing, no error. Test:
    ``tests/test_capture_sniffing.py`` (``test_a_sniff_refuses_what_is_not_a_regular_file``)."""
    why = not_a_regular_file(path, os.stat(path))
    if why is not None:
        raise ValueError(why)


def _existing(text: str, *, empty_ok: bool, stream_ok: bool = False) -> str:
    try:
        st = os.stat(text)
    except FileNotFoundError:
        raise argparse.ArgumentTypeError(f"{text}: no such file") from None
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"{text}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise argparse.ArgumentTypeError(f"{text}: is a directory, not a file")
    regular = stat.S_ISREG(st.st_mode)
    why = None if stream_ok and stat.S_ISFIFO(st.st_mode) else not_a_regular_file(text, st)
    if why is not None:
        raise argparse.ArgumentTypeError(why)
    if not empty_ok and regular and st.st_size == 0:
        raise argparse.ArgumentTypeError(_empty_or_unsized(text))
    if not empty_ok and regular and _gzip_of_nothing(text):
        raise argparse.ArgumentTypeError(f"{text}: empty file (a gzip of nothing)")
    inputs = _INPUTS.get()
    if inputs is not None and regular:
        inputs.setdefault((st.st_dev, st.st_ino), text)
    return text


def _gzip_of_nothing(path: str) -> bool:
    """Whether the regular file ``path`` is gzip (its magic) that holds no byte: an empty
    input, as a file of 0 bytes is. Why: ``curl URL | gzip > day.itch.gz`` leaves such a
    20-byte file when the download fails, and every reader (they unwrap gzip by its
    magic) read it as a day of 0 messages, exit 0. A gzip that cannot be read is left to
    the reader (its error, exit 1); at most one block is decompressed. Test:
    ``packages/cli/tests/test_cli_inputs.py::test_a_gzip_of_nothing_is_an_empty_file``."""
    try:
        with open(path, "rb") as f:
            if f.read(2) != b"\x1f\x8b":
                return False
            f.seek(0)
            with gzip.GzipFile(fileobj=f, mode="rb") as z:
                return z.read(1) == b""
    except (OSError, EOFError, zlib.error):  # gzip.BadGzipFile is an OSError
        return False


def _empty_or_unsized(path: str) -> str:
    """Why the regular file ``path`` of size 0 is refused: it is empty, or it holds bytes
    its file system does not count (``/proc/self/status``: procfs and sysfs make a file's
    bytes as it is read, and give it the size 0). Such a file is refused too, not read: a
    command opens its input more than once (:func:`not_a_regular_file`) and each open
    makes the bytes anew, so the format sniffed and the bytes read could differ. Opening a
    regular file never blocks."""
    try:
        with open(path, "rb") as f:
            held = f.read(1)
    except OSError as exc:
        return f"{path}: {exc.strerror or exc}"
    if held:
        return (
            f"{path}: its file system gives it no size (a /proc or /sys file, made as it "
            "is read): save it to a file first"
        )
    return f"{path}: empty file"
