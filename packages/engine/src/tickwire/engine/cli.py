"""``python -m tickwire.engine``: replay books, run the threshold strategy.

    python -m tickwire.engine book FILE [--json] [--backend reference|cython] [--keep-duplicates]
        [--session NAME]
    python -m tickwire.engine threshold --backend NAME --config FILE CAPTURE \\
        --orders ORDERS.pcap --json STATS.json
    python -m tickwire.engine backends
    python -m tickwire.engine backtest|export ...   (see tickwire.engine.cli_backtest)
    python -m tickwire.engine sweep ...             (see tickwire.engine.cli_sweep)
    python -m tickwire.engine live ...              (see tickwire.engine.cli_live)
    python -m tickwire.engine exchange ...          (tickwire-exchange; tickwire.engine.cli_plugins)

Exit status: 0 on success, 1 when the input cannot be read or decoded, 2 on a usage or
configuration error. A progress bar goes to stderr when stderr is a terminal.

A capture is read in sequence order, each message once (A/B copies and retransmissions
dropped, gaps counted; ``tickwire.moldudp64.sequenced``), and a one-line summary of what
was dropped or missing is printed (``book --json``: under ``capture``);
``--keep-duplicates`` applies every packet in capture order instead. One session is
read: ``--session NAME``, or the capture's only one (a second is a usage error naming
both); lost messages (bad packets, cut frames, gaps) end the command with one ``error:``
line and exit 1 once its output is written (``docs/cli.md``, "Captures"). Messages of a
type ITCH 5.0 does not define are skipped, as the specification has receivers do, and
counted (``unknown_types``; exit 0: ``docs/cli.md``).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from tickwire.cli import (
    Progress,
    UsageError,
    add_json_option,
    existing_file,
    json_to_stdout,
    printable,
    run_cli,
    write_json,
)
from tickwire.engine.book import BookManager, faults_text
from tickwire.engine.cbook import BOOK_BACKENDS, CythonBookManager, make_book_manager
from tickwire.engine.live import OrdersLeftOpen
from tickwire.engine.risk import RiskConfigError
from tickwire.engine.sources import (
    CaptureFeedStats,
    add_capture_options,
    check_capture_options,
    is_capture,
    iter_binaryfile,
    iter_capture,
)
from tickwire.engine.strategy.api import StrategyError
from tickwire.itch import DecodeError
from tickwire.itch.fastpath import FrameStats
from tickwire.moldudp64 import MoldError
from tickwire.threshold.backends import BackendNotFound, BackendUnavailable
from tickwire.threshold.cli import add_run_arguments, backends_command, run_command
from tickwire.threshold.config import ConfigError

__all__ = ["main"]


def _cmd_book(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        manager = make_book_manager(args.backend)
    except BackendUnavailable as exc:
        raise UsageError(str(exc)) from None
    size = path.stat().st_size
    capture = is_capture(path)
    check_capture_options(
        path, capture=capture, session=args.session, keep_duplicates=args.keep_duplicates
    )
    feed_stats = CaptureFeedStats()
    # Messages of unknown types: skipped by the reader that frames the feed, counted by it.
    with Progress(None if capture else size, f"book {path.name}") as bar:
        if capture:
            manager.feed(
                iter_capture(
                    path,
                    on_frame=bar.update,
                    stats=feed_stats,
                    keep_duplicates=args.keep_duplicates,
                    session=args.session,
                )
            )
            unknown_types = feed_stats.unknown_types
        elif isinstance(manager, CythonBookManager):
            # ITCH decoded straight from the file's bytes into the compiled books.
            manager.feed_file(path)
            bar.update(size)
            unknown_types = manager.skipped
        else:
            frames = FrameStats()
            manager.feed(iter_binaryfile(path, stats=frames, on_bytes=bar.update))
            unknown_types = frames.skipped
    summary = manager.summary(unknown_types=unknown_types)
    if capture:
        summary["capture"] = feed_stats.as_dict()
    if args.json is not None:
        write_json(args.json, summary, indent=2)
    if not json_to_stdout(args.json):
        _print_books(manager, summary, feed_stats if capture else None, unknown_types)
    if capture:
        feed_stats.check_whole(path, "the books are built")
    return 0


def _print_books(
    manager: BookManager | CythonBookManager,
    summary: dict[str, object],
    feed_stats: CaptureFeedStats | None,
    unknown_types: int,
) -> None:
    """``book``'s text: the faults, the capture line, a row per instrument."""
    print(faults_text(manager.stats, manager.unknown_references, unknown_types))
    if feed_stats is not None:
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
            f"{locate:>6} {printable(str(row['symbol'])):<8} {px(row['bid_price']):>12} {row['bid_size']:>9} "
            f"{px(row['ask_price']):>12} {row['ask_size']:>9} {row['orders']:>7} {row['levels']:>7}"
        )


def _cmd_threshold(args: argparse.Namespace) -> int:
    return run_command(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tickwire-engine",
        description="tickwire reference engine: order books and the threshold strategy.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    book = sub.add_parser("book", help="replay a BinaryFILE or a MoldUDP64 capture into books")
    book.add_argument(
        "file", type=existing_file, help="ITCH 5.0 BinaryFILE (gzip ok) or pcap/pcapng capture"
    )
    add_json_option(book, "the books' summary, one object")
    book.add_argument(
        "--backend",
        choices=BOOK_BACKENDS,
        default="reference",
        help="book implementation: the reference engine or the compiled cython book",
    )
    add_capture_options(book)
    book.set_defaults(func=_cmd_book)
    th = sub.add_parser("threshold", help="run a threshold backend over a capture")
    add_run_arguments(th)
    th.set_defaults(func=_cmd_threshold)
    be = sub.add_parser("backends", help="list the registered backends")
    be.set_defaults(func=backends_command)
    # `backtest` and `export` live in their own module, which registers them here.
    from tickwire.engine import cli_backtest

    cli_backtest.add_parser(sub)
    __import__("tickwire.engine.cli_sweep", fromlist=["*"]).add_parser(sub)  # sweep
    __import__("tickwire.engine.cli_live", fromlist=["*"]).add_parser(sub)  # live
    # Commands of other distributions (exchange: tickwire-exchange), by entry point.
    __import__("tickwire.engine.cli_plugins", fromlist=["*"]).add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status, never a traceback for bad input.

    One error boundary (:func:`tickwire.cli.run_cli`) for every subcommand:
    config and usage errors exit 2, unreadable data (``DecodeError``, ``MoldError``, a
    truncated gzip, ``OSError``) and a run the strategy failed (``StrategyError``) exit 1,
    each with one ``PROG: error: ...`` line.
    """
    return run_cli(
        build_parser(),
        argv,
        lambda args: int(args.func(args)),
        usage_errors=(ConfigError, RiskConfigError, BackendNotFound, BackendUnavailable),
        # StrategyError: the strategy failed the run (sys.exit in a callback, ...);
        # OrdersLeftOpen: a live session stopped with orders open or requests unanswered
        data_errors=(DecodeError, MoldError, StrategyError, OrdersLeftOpen),
        dist="tickwire-engine",
    )
