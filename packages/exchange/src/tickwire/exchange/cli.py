"""The simulated exchange's command line: ``python -m tickwire.exchange`` (``tickwire-exchange``).

    python -m tickwire.exchange --feed 127.0.0.1:26477 [--ouch-port 26400]
        [--ouch42-port 26401] [--rerequest-port 26478] [--user TW] [--password-file FILE]
        [--preload FILE] [--flow FILE | --generate N --symbols S --day-seed K] [--rate R]
        [--session NAME]
        [--loss 0.05] [--reorder 0.01] [--delay 0.001] [--drop-ouch-every N]
        [--open] [--duration SECONDS] [--json [STATS.json]]

The same command is ``python -m tickwire.engine exchange ...``: tickwire-engine's command
line finds it through the ``tickwire.engine.commands`` entry-point group, where this
distribution registers :func:`add_engine_command` (the engine does not import
tickwire.exchange, which depends on it; without tickwire-exchange installed it says what
to install).

The exchange prints one JSON line with its ports on stdout when it is ready, then
publishes the seed and the flow and runs until SIGINT, SIGTERM or ``--duration`` after
the flow; it then ends the feed's session, waits half a second for late re-requests,
and prints (and writes to ``--json``) its statistics.

A ``--preload`` or ``--flow`` capture follows the rules of every command that reads
captures (``docs/cli.md``, "Captures"): one MoldUDP64 session, ``--session NAME`` or the
capture's only one (a second is exit 2, naming both); and lost messages (packets that do
not parse, frames cut short, sequence gaps) or copies that differ make the exit status 1
with one ``error:`` line after the statistics: the exchange ran, and published, without
them. A ``--flow`` stopped before its end says nothing of what the rest lost.

``--preload`` was ``--seed`` before 0.2 (still read, with a warning, until 0.3: ``--seed``
is a random seed in every other command). Exit status: 0 on success, 1 when
``--preload`` or ``--flow`` cannot be read or decoded (the line names the option and the
file: ``--flow day.itch: truncated frame ...``) or lost messages, 2
on a usage error (checked before any port opens), 130 on Ctrl-C before the ports are up.
OUCH passwords come from ``--password-file`` or $TICKWIRE_OUCH_PASSWORD, never argv
(:mod:`tickwire.engine.credentials`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tickwire.cli import (
    add_json_option,
    atomic_open,
    existing_file,
    named,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    probability,
    run_cli,
    secret_file,
    tcp_udp_port_or_any,
)
from tickwire.engine.cli_backtest import UsageError
from tickwire.engine.cli_live import parse_address
from tickwire.engine.credentials import (
    DEFAULT_USER,
    PASSWORD_ENV,
    CredentialError,
    read_password,
    user_name,
)
from tickwire.engine.sources import SESSION_HELP, CaptureFeedStats
from tickwire.moldudp64.cli import session as session_name

if TYPE_CHECKING:
    from tickwire.exchange.accounts import Account42, Account50
    from tickwire.soupbintcp.aio import SoupServerRunner

__all__ = ["add_arguments", "add_engine_command", "build_parser", "main", "run"]

HELP = "run the simulated exchange (OUCH in, ITCH out)"


def add_arguments(ex: argparse.ArgumentParser) -> None:
    """The exchange's options, on ``ex`` (its own parser or the engine's subcommand)."""
    ex.add_argument("--feed", type=parse_address, required=True, help="HOST:PORT the feed goes to")
    ex.add_argument("--host", default="127.0.0.1", help="address the ports listen on")
    ex.add_argument(
        "--ouch-port", type=tcp_udp_port_or_any, default=26400, help="OUCH 5.0 port (0: any)"
    )
    ex.add_argument(
        "--ouch42-port",
        type=tcp_udp_port_or_any,
        default=None,
        help="OUCH 4.2 port (off by default)",
    )
    ex.add_argument(
        "--rerequest-port",
        type=tcp_udp_port_or_any,
        default=26478,
        help="MoldUDP64 re-request port",
    )
    ex.add_argument("--user", type=user_name, action="append",
                    help=f"an OUCH user name, repeatable (default {DEFAULT_USER})")  # fmt: skip
    ex.add_argument("--password-file", type=secret_file, default=None, metavar="FILE",
                    help=f"the users' password (first line); else ${PASSWORD_ENV}")  # fmt: skip
    ex.add_argument(
        "--preload",
        type=existing_file,
        default=None,
        metavar="FILE",
        help="ITCH BinaryFILE or capture to fill the books with before trading",
    )
    # Before 0.2 this was --seed, which every other command uses for a random seed.
    ex.add_argument("--seed", dest="preload_deprecated", type=existing_file, help=argparse.SUPPRESS)
    ex.add_argument(
        "--flow",
        type=existing_file,
        default=None,
        help="ITCH BinaryFILE or capture replayed at --rate",
    )
    ex.add_argument("--session", type=session_name, default=None, help=SESSION_HELP)
    ex.add_argument(
        "--generate", type=non_negative_int, default=0, help="generated background flow messages"
    )
    ex.add_argument("--symbols", type=positive_int, default=20, help="generated flow symbols")
    ex.add_argument("--day-seed", type=int, default=1, help="random seed of the generated flow")
    ex.add_argument(
        "--rate", type=positive_float, default=10_000.0, help="flow messages per second"
    )
    ex.add_argument("--loss", type=probability, default=0.0, help="feed packet loss probability")
    ex.add_argument("--reorder", type=probability, default=0.0, help="feed reorder probability")
    ex.add_argument("--delay", type=non_negative_float, default=0.0, help="feed delay in seconds")
    ex.add_argument(
        "--drop-ouch-every",
        type=non_negative_int,
        default=0,
        help="drop OUCH after every N orders",
    )
    ex.add_argument("--fault-seed", type=int, default=7, help="random seed of the feed faults")
    ex.add_argument("--open", action="store_true", help="publish O, S, Q before any flow")
    ex.add_argument(
        "--duration",
        type=non_negative_float,
        default=None,
        help="seconds to run after the flow (default: until a signal)",
    )
    add_json_option(ex, "the statistics on exit")


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m tickwire.exchange``."""
    parser = argparse.ArgumentParser(prog="tickwire-exchange", description=HELP)
    add_arguments(parser)
    return parser


def add_engine_command(sub: Any) -> None:
    """Register ``exchange`` on the engine's subparsers (the ``tickwire.engine.commands``
    entry point). Usage errors print ``exchange: ...`` and exit 2, as they always did
    there; everything else goes through the engine's error boundary."""
    ex = sub.add_parser("exchange", help=HELP, description=HELP)
    add_arguments(ex)
    ex.set_defaults(func=_engine_command)


def _engine_command(args: argparse.Namespace) -> int:
    return run(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status, never a traceback for bad input
    (one ``python -m tickwire.exchange: error: ...`` line, see the module docs)."""
    from tickwire.itch import DecodeError
    from tickwire.moldudp64 import MoldError

    return run_cli(
        build_parser(), argv, run, data_errors=(DecodeError, MoldError), dist="tickwire-exchange"
    )


def run(args: argparse.Namespace) -> int:
    """Run the exchange the parsed ``args`` describe until it stops; the exit status.

    Raises :class:`~tickwire.engine.cli_backtest.UsageError` for a bad file, password or
    ``--generate`` size, before any port opens.
    """
    from tickwire.moldudp64.aio import run as run_loop

    return run_loop(_exchange(args))


async def _exchange(args: argparse.Namespace) -> int:
    import signal

    from tickwire.exchange import Exchange, ExchangeConfig, Faults

    if args.preload_deprecated is not None:
        if args.preload is not None:
            raise UsageError("--seed is the old name of --preload: give --preload only")
        print("warning: --seed FILE is deprecated: use --preload FILE", file=sys.stderr)
        args.preload = args.preload_deprecated
    # Checked before any port opens; a capture's losses are counted as it is read.
    inputs = [name for name in (args.preload, args.flow) if name]
    _check_session(inputs, args.session)
    seed, seed_stats = (
        _itch_file("--preload", args.preload, args.session) if args.preload else (None, None)
    )
    flow, flow_stats = _itch_file("--flow", args.flow, args.session) if args.flow else (None, None)
    flow_read = False  # the --flow read to its end: what it lost is known
    if flow is None and args.generate:
        from tickwire.itch.generator import generate_day

        try:  # checks the sizes at once, before any port opens
            flow = generate_day(args.generate, args.symbols, args.day_seed)
        except ValueError as exc:
            raise UsageError(f"--generate: {exc}") from None
    faults = Faults(args.loss, args.reorder, args.delay, args.drop_ouch_every, args.fault_seed)
    try:
        password = read_password(args.password_file)
    except CredentialError as exc:
        raise UsageError(str(exc)) from None
    users = {name: password for name in args.user or [DEFAULT_USER]}
    cfg = ExchangeConfig(
        feed_target=args.feed,
        host=args.host,
        ouch50_port=args.ouch_port,
        ouch42_port=args.ouch42_port,
        rerequest_port=args.rerequest_port,
        users=users,
        faults=faults,
    )
    ex = await Exchange.start(cfg)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    ready = {
        "ouch50": ex.ouch50_port,
        "ouch42": ex.ouch42_port,
        "rerequest": list(ex.rerequest_address),
        "feed": list(args.feed),
    }
    print(json.dumps(ready), flush=True)
    if args.open:
        ex.open_market()
    if seed is not None:
        try:
            ex.replay(seed)
        except BaseException:  # an unreadable --seed: close the ports, then report it
            await ex.close()
            raise
    if flow is not None:
        task = asyncio.create_task(ex.run_flow(flow, rate=args.rate))
        waiter = asyncio.create_task(stop.wait())
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        failure = task.exception() if task.done() and not task.cancelled() else None
        flow_read = task.done() and failure is None
        task.cancel()
        if failure is not None:  # an unreadable --flow: exit 1 with its error, not 0
            await ex.close()
            raise failure
    if not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), args.duration)
    assert ex.feed is not None
    await ex.feed.end_session()
    await asyncio.sleep(0.5)  # late re-requests, the end of session repeated
    stats = {
        "published": ex.published,
        "executions": ex.engine.executions,
        "dropped_packets": ex.feed.dropped,
        "ouch_drops": ex.ouch_drops,
        # requests read behind a dropped one, lost with the link (--drop-ouch-every)
        "ouch_lost": ex.ouch_lost,
        "ouch_undecodable": ex.undecodable,
        "ouch_unsent": ex.ouch_unsent,
        "ouch_closed": list(ex.ouch50.closed_reasons) if ex.ouch50 else [],
        "ouch_closed_counts": dict(ex.ouch50.closed_counts) if ex.ouch50 else {},
        "ouch50": _port_stats(ex.account50, ex.ouch50),
        "ouch42": _port_stats(ex.account42, ex.ouch42) if ex.ouch42 else None,
        "rerequest": dataclasses.asdict(ex.feed.server.stats),
    }
    await ex.close()
    if args.json is not None and args.json != "-":
        with atomic_open(args.json) as f:
            f.write(json.dumps(stats, indent=2) + "\n")
    print(json.dumps(stats), flush=True)  # stdout is JSON lines whatever --json says
    # The rule of every command that reads captures: the output (the run) whole or said
    # not to be, one error line, exit 1 (tickwire.engine.sources.CaptureFeedStats).
    if seed_stats is not None:
        seed_stats.check_whole(args.preload, "the books were preloaded")
    if flow_read and flow_stats is not None:
        flow_stats.check_whole(args.flow, "the flow was published")
    return 0


def _check_session(inputs: list[str], session: str | None) -> None:
    """``--session`` names a session of a capture: with no capture among ``--preload`` and
    ``--flow`` it would be ignored, so it is a usage error (as in every command)."""
    from tickwire.engine.sources import is_capture

    if session is not None and not any(Path(p).exists() and is_capture(p) for p in inputs):
        raise UsageError("--session: for a MoldUDP64 capture given as --preload or --flow")


def _port_stats(
    account: Account50 | Account42, runner: SoupServerRunner | None
) -> dict[str, object]:
    """An OUCH port's statistics: its account, and its SoupBinTCP server's refusals.

    Rule: every refusal a peer causes is counted where the operator sees it: ``ignored``
    (repeated UserRefNums or tokens, cancels and replaces of orders gone, messages the
    account does not take) and ``server`` (the SoupBinTCP server's counts: logins,
    ``bad_logins``, ``login_throttled``, ``duplicate_logins``, ``protocol_errors``,
    ``rate_limited``, ``timeouts``, ``pending_refused``, ``by_reason``); ``rerequest``
    beside them holds the re-request server's. Why: they were counted and never shown
    (throttled logins and every refused re-request are logged at DEBUG only), so a
    password guesser or a re-request flood left no trace in the statistics. Test:
    ``test_exchange_cli.py::test_the_statistics_count_what_a_hostile_client_was_refused``.
    """
    return {
        "entered": len(account.entered),
        "ignored": account.ignored,
        "positions": account.ledger.positions,
        "cash": account.ledger.cash,
        "server": dataclasses.asdict(runner.core.stats) if runner is not None else None,
    }


def _itch_file(
    option: str, name: str, session: str | None
) -> tuple[Iterator[Any], CaptureFeedStats | None]:
    """The messages of a BinaryFILE or capture, and for a capture the stats its reading
    fills (None for a BinaryFILE: a capture's rules, ``check_whole``, are not its).

    An error reading them (a truncated or corrupt file) names ``option`` and the file
    (:func:`tickwire.cli.named`, the rule of every command that reads ITCH files):
    ``--flow day.itch: truncated frame ...``. Only reading is named: an error of what the
    exchange does with a message (a send) is raised where it happens, as it was. A usage
    error (a second session) keeps its own line and exit 2. Why: with ``--preload`` and
    ``--flow`` both given, the line said ``truncated frame at end of stream ...`` and
    nothing of which file. Test: ``test_exchange_cli.py``,
    ``test_an_unreadable_preload_or_flow_is_named_in_the_error``."""
    from tickwire.engine.sources import is_capture, iter_binaryfile, iter_capture

    path = Path(name)
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    if is_capture(path):
        stats = CaptureFeedStats()
        messages = iter_capture(path, stats=stats, session=session)
        return named(name, messages, option=option), stats
    return named(name, iter_binaryfile(path), option=option), None
