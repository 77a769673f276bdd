"""``python -m tickwire.engine``: replay books, run the threshold strategy.

    python -m tickwire.engine book FILE [--json] [--backend reference|cython] [--keep-duplicates]
    python -m tickwire.engine threshold --backend NAME --config FILE CAPTURE \\
        --out ORDERS.pcap --json STATS.json
    python -m tickwire.engine backends
    python -m tickwire.engine backtest|export ...   (see tickwire.engine.cli_backtest)

Exit status: 0 on success, 1 when the input cannot be read or decoded, 2 on a usage or
configuration error. A progress bar goes to stderr when stderr is a terminal.

A capture is read in sequence order, each message once (A/B copies and retransmissions
dropped, gaps counted; ``tickwire.moldudp64.sequenced``), and a one-line summary of what
was dropped or missing is printed (``book --json``: under ``capture``);
``--keep-duplicates`` applies every packet in capture order instead.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from tickwire.engine.backends import (
    BackendNotFound,
    BackendUnavailable,
    available_backends,
    load_backend,
)
from tickwire.engine.cbook import BOOK_BACKENDS, CythonBookManager, make_book_manager
from tickwire.engine.config import ConfigError, load_config
from tickwire.engine.risk import RiskConfigError
from tickwire.engine.sources import (
    KEEP_DUPLICATES_HELP,
    CaptureFeedStats,
    is_capture,
    iter_binaryfile,
    iter_capture,
)
from tickwire.itch import DecodeError
from tickwire.itch.progress import Progress
from tickwire.moldudp64 import MoldError
from tickwire.moldudp64.cliargs import existing_file, run_cli
from tickwire.moldudp64.pcap import LINKTYPE_ETHERNET, PcapWriter, linktype_name, read_pcap

__all__ = ["main"]


def _cmd_book(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        manager = make_book_manager(args.backend)
    except BackendUnavailable as exc:
        print(f"tickwire.engine: {exc}", file=sys.stderr)
        return 2
    size = path.stat().st_size
    capture = is_capture(path)
    feed_stats = CaptureFeedStats()
    with Progress(None if capture else size, f"book {path.name}") as bar:
        if capture:
            manager.feed(
                iter_capture(
                    path,
                    on_frame=bar.update,
                    stats=feed_stats,
                    keep_duplicates=args.keep_duplicates,
                )
            )
        elif isinstance(manager, CythonBookManager):
            # ITCH decoded straight from the file's bytes into the compiled books.
            manager.feed_file(path)
            bar.update(size)
        else:
            manager.feed(iter_binaryfile(path, on_bytes=bar.update))
    summary = manager.summary()
    if capture:
        summary["capture"] = feed_stats.as_dict()
    if args.json:
        json.dump(summary, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    print(f"{manager.stats.messages} messages, {manager.unknown_references} unknown references")
    if capture:
        print(feed_stats.text())
    print(
        f"{'locate':>6} {'symbol':<8} {'bid':>12} {'bid size':>9} {'ask':>12} {'ask size':>9} "
        f"{'orders':>7} {'levels':>7}"
    )
    instruments = summary["instruments"]
    assert isinstance(instruments, dict)
    for locate, row in instruments.items():

        def px(p: int | None) -> str:
            return "-" if p is None else f"{p // 10000}.{p % 10000:04d}"

        print(
            f"{locate:>6} {row['symbol']:<8} {px(row['bid_price']):>12} {row['bid_size']:>9} "
            f"{px(row['ask_price']):>12} {row['ask_size']:>9} {row['orders']:>7} {row['levels']:>7}"
        )
    return 0


def _cmd_threshold(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"tickwire.engine: {args.config}: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"tickwire.engine: {exc}", file=sys.stderr)
        return 2
    try:
        backend = load_backend(args.backend)
    except BackendNotFound as exc:
        print(f"tickwire.engine: {exc}", file=sys.stderr)
        return 2
    try:
        backend.configure(config)
        capture = Path(args.capture)
        with (
            PcapWriter(args.out) as writer,
            Progress(capture.stat().st_size, f"threshold {args.backend}") as bar,
        ):
            for n, record in enumerate(read_pcap(capture), 1):
                if record.linktype != LINKTYPE_ETHERNET:
                    raise MoldError(
                        f"{capture}: link type {linktype_name(record.linktype)} is not "
                        "Ethernet; the strategy takes Ethernet frames"
                    )
                try:
                    orders = backend.feed(record.frame)
                except ValueError as exc:  # a frame this backend cannot take (e.g. too long)
                    raise MoldError(
                        f"{capture}: frame {n} ({len(record.frame)} bytes): {exc}"
                    ) from exc
                for order in orders:
                    writer.write(order, timestamp_ns=record.timestamp_ns)
                bar.update(len(record.frame) + 16)
        text = backend.stats().to_json()
    except BackendUnavailable as exc:
        print(f"tickwire.engine: backend {args.backend!r} unavailable: {exc}", file=sys.stderr)
        return 2
    finally:
        backend.close()
    if args.json == "-":
        sys.stdout.write(text)
    else:
        tmp = f"{args.json}.part"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, args.json)
    return 0


def _cmd_backends(args: argparse.Namespace) -> int:
    for name in available_backends():
        print(name)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tickwire.engine",
        description="tickwire reference engine: order books and the threshold strategy.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    book = sub.add_parser("book", help="replay a BinaryFILE or a MoldUDP64 capture into books")
    book.add_argument(
        "file", type=existing_file, help="ITCH 5.0 BinaryFILE (gzip ok) or pcap/pcapng capture"
    )
    book.add_argument("--json", action="store_true", help="print one JSON object")
    book.add_argument(
        "--backend",
        choices=BOOK_BACKENDS,
        default="reference",
        help="book implementation: the reference engine or the compiled cython book",
    )
    book.add_argument("--keep-duplicates", action="store_true", help=KEEP_DUPLICATES_HELP)
    book.set_defaults(func=_cmd_book)
    th = sub.add_parser("threshold", help="run a threshold backend over a capture")
    th.add_argument("--backend", required=True, help="registered backend name, e.g. reference")
    th.add_argument("--config", required=True, help="TOML configuration (docs/threshold.md)")
    th.add_argument("capture", type=existing_file, help="input pcap/pcapng of Ethernet frames")
    th.add_argument("--out", required=True, help="pcap the order frames are written to")
    th.add_argument("--json", required=True, help="statistics JSON file ('-' for stdout)")
    th.set_defaults(func=_cmd_threshold)
    be = sub.add_parser("backends", help="list the registered backends")
    be.set_defaults(func=_cmd_backends)
    # `backtest` and `export` live in their own module, which registers them here.
    from tickwire.engine import cli_backtest

    cli_backtest.add_parser(sub)
    __import__("tickwire.engine.cli_live", fromlist=["*"]).add_parser(sub)  # exchange, live
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status, never a traceback for bad input.

    One error boundary (:func:`tickwire.moldudp64.cliargs.run_cli`) for every subcommand:
    config and usage errors exit 2, unreadable data (``DecodeError``, ``MoldError``, a
    truncated gzip, ``OSError``) exits 1, each with one ``PROG: error: ...`` line.
    """
    return run_cli(
        build_parser(),
        argv,
        lambda args: int(args.func(args)),
        usage_errors=(ConfigError, RiskConfigError, BackendNotFound, BackendUnavailable),
        data_errors=(DecodeError, MoldError),
    )
