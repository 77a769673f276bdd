"""``python -m tickwire.itch`` (also installed as ``tickwire-itch``).

Commands::

    stats FILE [--lenient] [--json [PATH]]   message counts by type, skipped frames, fixups
    dump FILE [--type A,F] [--symbol AAPL] [--limit N] [--lenient] [--json [PATH]]
    generate --messages N --symbols K --seed S OUT   (OUT ending in .gz is gzipped)
    convert FILE --parquet OUTDIR [--compression C] [--no-series] [--json [PATH]]
                                           one Parquet file per message type

FILE may be gzipped. The conventions of every tickwire command line (``docs/cli.md``,
:mod:`tickwire.cli`): exit status 0 on success, 1 when the file cannot be read or
decoded (strict mode), 2 on usage errors (a missing, empty or directory FILE included),
130 when interrupted; an error is one line on stderr, never a traceback; ``--json``
writes JSON to stdout (in place of the text) or to PATH; ``OUT`` is written whole or not
at all.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from typing import Any, TextIO

from tickwire.cli import (
    Progress,
    UsageError,
    add_json_option,
    atomic_path,
    existing_file,
    int_range,
    json_output,
    json_to_stdout,
    output_file,
    output_folder,
    positive_int,
    reading,
    run_cli,
    stock_symbol,
    write_json,
)
from tickwire.itch.messages import MESSAGE_CLASSES, Message, decode
from tickwire.itch.reader import BinaryFileReader, read

__all__ = ["main", "message_to_dict"]

#: Messages between progress updates (a counter test in the hot loop is cheap).
_PROGRESS_EVERY = 1 << 14


def _size_of(path: str) -> int | None:
    """Bytes to read for a progress total, or None when unknown (gzip, pipes)."""
    try:
        with open(path, "rb") as f:
            if f.read(2) == b"\x1f\x8b":
                return None
        return os.path.getsize(path)
    except OSError:
        return None


def _with_progress(reader: BinaryFileReader, it: Iterator[Any], path: str) -> Iterator[Any]:
    """Pass items through, advancing a progress bar (stderr, tty only) by bytes read."""
    with Progress(_size_of(path), os.path.basename(path)) as bar:
        seen = 0
        n = 0
        for item in it:
            yield item
            n += 1
            if n == _PROGRESS_EVERY:
                n = 0
                now = reader.stats.bytes_read
                bar.update(now - seen)
                seen = now
        bar.update(reader.stats.bytes_read - seen)


def message_to_dict(msg: Message) -> dict[str, Any]:
    """A JSON-ready dict: ``type`` (the letter), ``name`` (the class), then every field
    under its spec name in snake_case; enum values as plain strings, prices as int."""
    out: dict[str, Any] = {"type": msg.message_type, "name": type(msg).__name__}
    for f in dataclasses.fields(msg):
        value = getattr(msg, f.name)
        out[f.name] = str(value) if isinstance(value, str) else value
    return out


def _format_timestamp(ns: int) -> str:
    seconds, nanos = divmod(ns, 1_000_000_000)
    hours, rem = divmod(seconds, 3600)
    minutes, secs = divmod(rem, 60)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{nanos:09d}"


def _format_human(msg: Message) -> str:
    parts = [msg.message_type, type(msg).__name__, _format_timestamp(msg.timestamp)]
    for f in dataclasses.fields(msg):
        if f.name == "timestamp":
            continue
        value = getattr(msg, f.name)
        parts.append(f"{f.name}={str(value)!r}" if isinstance(value, str) else f"{f.name}={value}")
    return " ".join(parts)


def _cmd_stats(args: argparse.Namespace, out: TextIO) -> int:
    with read(args.file, lenient=args.lenient) as reader:
        for _ in _with_progress(reader, reader.iter_raw(), args.file):
            pass
    summary: dict[str, Any] = {"file": args.file, **reader.stats.as_dict()}
    if args.json is not None:
        write_json(args.json, summary, stdout=out)
    if json_to_stdout(args.json):
        return 0
    out.write(f"{args.file}: {summary['messages']} messages, {summary['bytes_read']} bytes\n")
    for letter, count in sorted(summary["by_type"].items(), key=lambda kv: -kv[1]):
        out.write(f"  {letter}  {MESSAGE_CLASSES[letter].__name__:<32} {count:>12}\n")
    out.write(
        f"skipped (unknown types): {summary['skipped']}  "
        f"length fixups: {summary['length_fixups']}  errors: {summary['errors']}\n"
    )
    return 0


@contextlib.contextmanager
def _messages(
    path: str, *, lenient: bool, session: str | None = None
) -> Iterator[Iterator[Message]]:
    """The messages of ``path``: a pcap/pcapng MoldUDP64 capture (gzipped too, as
    ``convert`` reads it) in sequence order through the capture reader plugin (of
    ``session``, or of the capture's one session), else a BinaryFILE (gzip allowed) with a
    progress bar (``session`` is a usage error there)."""
    from tickwire.itch import convert

    if convert.is_capture(path):
        try:
            capture = convert.capture_messages(path, session=session)
        except ImportError as exc:  # the capture reader (tickwire-moldudp64) is missing
            raise UsageError(str(exc)) from None
        read_all = False

        def messages() -> Iterator[Message]:
            nonlocal read_all
            with reading(path):  # an error reading the capture names it, as a BinaryFILE's
                for raw in capture:
                    yield decode(raw)
            read_all = True  # not when --limit stopped early: the counts are partial

        yield messages()
        if read_all:
            _check_whole(path, convert.capture_faults(capture), "the messages are written")
        return
    _check_session(path, session)
    with read(path, lenient=lenient) as reader:
        yield _with_progress(reader, iter(reader), path)


def _check_session(path: str, session: str | None) -> None:
    """``--session`` names a session of a MoldUDP64 capture: for a BinaryFILE it would be
    ignored without a word, so it is a usage error (as in every command that reads
    captures)."""
    if session is not None:
        raise UsageError(f"--session: for a MoldUDP64 capture, not {path}, an ITCH BinaryFILE")


def _check_whole(path: str, faults: str | None, what: str) -> None:
    """Lost capture messages, once the output is written: one error line, exit 1 (the
    rule of every command that reads captures, ``docs/cli.md``, "Captures")."""
    if faults is not None:
        raise ValueError(f"{path}: {faults}; {what} all the same")


def _cmd_dump(args: argparse.Namespace, out: TextIO) -> int:
    types: set[str] | None = None
    if args.type:
        types = {t for part in args.type for t in part.split(",") if t}
        unknown = types - set(MESSAGE_CLASSES)
        if unknown:
            raise UsageError(f"--type: unknown message type(s): {', '.join(sorted(unknown))}")
    symbol = args.symbol
    # Messages about an order (E, C, X, D, U) carry no symbol, only the stock locate:
    # learn the symbol's locate codes from the messages that do name it.
    locates: set[int] = set()
    written = 0
    text = None if json_to_stdout(args.json) else out
    with (
        json_output(args.json, out) if args.json is not None else nullcontext(None) as as_json,
        _messages(args.file, lenient=args.lenient, session=args.session) as messages,
    ):
        for msg in messages:
            if symbol is not None:
                stock = getattr(msg, "stock", None)
                if stock == symbol:
                    locates.add(msg.stock_locate)
                elif stock is not None or msg.stock_locate not in locates:
                    continue
            if types is not None and msg.message_type not in types:
                continue
            if as_json is not None:
                as_json.write(json.dumps(message_to_dict(msg)) + "\n")
            if text is not None:
                text.write(_format_human(msg) + "\n")
            written += 1
            if args.limit is not None and written >= args.limit:
                break
    return 0


def _cmd_generate(args: argparse.Namespace, out: TextIO) -> int:
    # Imported here: the generator is only needed by this command.
    from tickwire.itch.generator import generate_day
    from tickwire.itch.writer import BinaryFileWriter

    try:  # checks the sizes at once, before the output file is created
        messages = generate_day(args.messages, args.symbols, args.seed)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    with (
        atomic_path(args.out) as tmp,
        BinaryFileWriter(tmp) as writer,
        Progress(args.messages, os.path.basename(args.out), unit="msg") as bar,
    ):
        n = 0
        for msg in messages:
            writer.write(msg)
            n += 1
            if n == _PROGRESS_EVERY:
                bar.update(n)
                n = 0
        bar.update(n)
    sys.stderr.write(f"wrote {writer.count} messages to {args.out}\n")
    return 0


def _cmd_convert(args: argparse.Namespace, out: TextIO) -> int:
    # Imported here: pyarrow (the [arrow] extra) is only needed by this command.
    from tickwire.itch import convert

    if not convert.is_capture(args.file):
        _check_session(args.file, args.session)
    bar = Progress(None, os.path.basename(args.file))
    try:
        summary = convert.convert(
            args.file,
            args.parquet,
            implementation=args.implementation,
            compression=args.compression,
            series=not args.no_series,
            progress=bar.set,
            session=args.session,
        )
    except ImportError as exc:  # pyarrow, or the capture reader, not installed
        raise UsageError(str(exc)) from None
    finally:
        bar.close()
    if args.json is not None:
        write_json(args.json, summary.as_dict(), stdout=out)
    if not json_to_stdout(args.json):
        convert.print_summary(summary, out)
    _check_whole(args.file, summary.capture_faults, "the tables are written")
    return 0


#: ``--session`` of the commands that read captures (the engine's and pcap2itch's words).
SESSION_HELP = (
    "a MoldUDP64 capture: read only this session (default: the capture's one session; a "
    "packet of a second is refused, exit 2, naming both)"
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tickwire-itch", description="NASDAQ TotalView-ITCH 5.0 tools."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("stats", help="count messages by type")
    p.add_argument("file", type=existing_file, help="BinaryFILE (gzip allowed)")
    p.add_argument("--lenient", action="store_true", help="report bad frames and go on")
    add_json_option(p, "the counts, one object")
    p.set_defaults(func=_cmd_stats)

    p = sub.add_parser("dump", help="print messages")
    p.add_argument("file", type=existing_file, help="BinaryFILE (gzip allowed)")
    p.add_argument("--type", action="append", help="message type letters, e.g. A,F (repeatable)")
    p.add_argument(
        "--symbol",
        type=stock_symbol,
        help="only messages about this symbol (by stock and locate)",
    )
    p.add_argument("--limit", type=positive_int, help="stop after N messages")
    p.add_argument("--lenient", action="store_true", help="report bad frames and go on")
    p.add_argument("--session", metavar="NAME", help=SESSION_HELP)
    add_json_option(p, "the messages, one object per line")
    p.set_defaults(func=_cmd_dump)

    from tickwire.itch.generator import MAX_MESSAGES, MAX_SEED, MAX_SYMBOLS

    p = sub.add_parser("generate", help="write a deterministic synthetic trading day")
    p.add_argument(
        "--messages",
        type=int_range(1, MAX_MESSAGES, what="messages"),
        required=True,
        help=f"messages in the day, 1 to {MAX_MESSAGES:,}",
    )
    p.add_argument(
        "--symbols",
        type=int_range(1, MAX_SYMBOLS, what="symbols"),
        required=True,
        help=f"instruments traded, 1 to {MAX_SYMBOLS} (2-byte stock locates)",
    )
    p.add_argument(
        "--seed",
        type=int_range(0, MAX_SEED, what="seed"),
        default=0,
        help="random seed, 0 to 2**64-1 (the same seed, the same day)",
    )
    p.add_argument(
        "out",
        type=output_file,
        help="output BinaryFILE (.gz to compress), written whole or not at all",
    )
    p.set_defaults(func=_cmd_generate)

    p = sub.add_parser(
        "convert",
        help="write a day as Parquet, one file per message type (needs tickwire-itch[arrow])",
    )
    p.add_argument(
        "file", type=existing_file, help="BinaryFILE (gzip allowed) or MoldUDP64 pcap/pcapng"
    )
    p.add_argument(
        "--parquet", required=True, metavar="OUTDIR", type=output_folder, help="output directory"
    )
    p.add_argument(
        "--compression",
        choices=("snappy", "zstd", "gzip", "none"),
        default="snappy",
        help="Parquet compression",
    )
    p.add_argument(
        "--implementation",
        choices=("auto", "cython", "pure"),
        default="auto",
        help="column builder (auto: the compiled one when built)",
    )
    p.add_argument(
        "--no-series", action="store_true", help="skip series plugins (the engine's BBO, trades)"
    )
    p.add_argument("--session", metavar="NAME", help=SESSION_HELP)
    add_json_option(p, "the summary, one object")
    p.set_defaults(func=_cmd_convert)
    return parser


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Run the CLI; returns the exit status (0 success, 1 undecodable input, 2 usage,
    130 interrupted), with one ``error:`` line on stderr and never a traceback."""
    stream = out if out is not None else sys.stdout
    return run_cli(
        build_parser(), argv, lambda args: int(args.func(args, stream)), dist="tickwire-itch"
    )
