"""The ``live`` subcommand of ``python -m tickwire.engine``.

    python -m tickwire.engine live --feed 127.0.0.1:26477 --rerequest 127.0.0.1:26478
        --ouch 127.0.0.1:26400 [--user TW] [--password-file FILE]
        [--strategy module:Class] [--config FILE]
        [--control /tmp/tw.sock] [--dashboard] [--xdp-mirror IFACE] [--json [PATH|-]]
        [--feed-session NAME]

    python -m tickwire.engine live --control /tmp/tw.sock --command kill|arm|status|stop

The simulated exchange to trade against is tickwire-exchange (``python -m
tickwire.exchange``, also ``python -m tickwire.engine exchange``). The live engine runs
until SIGINT, SIGTERM, ``--command stop`` or the feed's end of session, then cancels its
open orders, logs out and prints the session report, one JSON line on stdout; ``--json
PATH`` also writes it (indented) to PATH, whole or not at all (``--report PATH`` before
0.3, still read with a warning until 0.4). ``--xdp-mirror IFACE`` also
feeds the receiver from the ring buffer of the tickwire XDP program attached to IFACE
(needs tickwire-xdp and root), so the frames it turned into orders are not gaps.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from typing import Any

from tickwire.cli import (
    add_json_option,
    config_file,
    int_range,
    json_to_stdout,
    multicast_ipv4,
    one_line,
    output_file,
    printable,
    secret_file,
)
from tickwire.engine.cli_backtest import UsageError as _UsageError
from tickwire.engine.cli_backtest import load_strategy, read_config
from tickwire.engine.credentials import (
    DEFAULT_USER,
    PASSWORD_ENV,
    CredentialError,
    read_password,
    user_name,
)

__all__ = ["add_parser", "listen_address", "parse_address"]

DEFAULT_STRATEGY = "tickwire.engine.strategy.taker:ThresholdTaker"


def parse_address(text: str, *, listen: bool = False) -> tuple[str, int]:
    """``HOST:PORT`` (or just ``PORT``, on 127.0.0.1) to a tuple.

    The port must be 1..65535: an address connected or sent to cannot be port 0. Only
    an address listened on (``listen``, e.g. ``live --feed``) may say 0, any free port.
    """
    host, _, port = text.rpartition(":")
    try:
        p = int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not HOST:PORT: {text!r}") from None
    low = 0 if listen else 1
    if not low <= p < 65536:
        raise argparse.ArgumentTypeError(f"port out of range {low}..65535: {text!r}")
    return (host or "127.0.0.1", p)


def listen_address(text: str) -> tuple[str, int]:
    """:func:`parse_address` for an address listened on (port 0: any free port)."""
    return parse_address(text, listen=True)


def _password(args: argparse.Namespace) -> str:
    """The OUCH password: ``--password-file``, else $TICKWIRE_OUCH_PASSWORD, else the demo's."""
    try:
        return read_password(args.password_file)
    except CredentialError as exc:
        raise _UsageError(str(exc)) from None


def add_parser(sub: Any) -> None:
    """Register ``live`` on the engine's subparsers."""
    lv = sub.add_parser("live", help="trade live: MoldUDP64 feed in, OUCH 5.0 out")
    lv.add_argument(
        "--feed",
        type=listen_address,
        default=None,
        help="HOST:PORT to receive the feed on (port 0: any free port)",
    )
    lv.add_argument(
        "--group", type=multicast_ipv4, default=None, help="multicast group of the feed"
    )
    lv.add_argument("--rerequest", type=parse_address, default=None, help="re-request server")
    lv.add_argument("--ouch", type=parse_address, default=None, help="the exchange's OUCH 5.0 port")
    lv.add_argument("--user", type=user_name, default=DEFAULT_USER, help="OUCH user name")
    lv.add_argument("--password-file", type=secret_file, default=None, metavar="FILE",
                    help=f"the OUCH password (first line); else ${PASSWORD_ENV}")  # fmt: skip
    lv.add_argument("--strategy", default=None, help=f"module:Class (default {DEFAULT_STRATEGY})")
    lv.add_argument(
        "--config",
        type=config_file,
        default=None,
        help="TOML with [strategy], [risk], [fees] and [feed] tables",
    )
    lv.add_argument("--control", default=None, help="unix socket for kill/arm/status/stop")
    lv.add_argument("--command", choices=["kill", "arm", "status", "stop"], default=None,
                    help="send a command to a running engine's --control socket and exit")  # fmt: skip
    # Before 0.3 the report file was --report, where every other command says --json.
    lv.add_argument(
        "--report",
        dest="report_deprecated",
        metavar="PATH",
        type=output_file,
        help=argparse.SUPPRESS,
    )
    lv.add_argument("--dashboard", action="store_true", help="show the terminal dashboard")
    lv.add_argument(
        "--first-user-ref-num",
        type=int_range(1, 2**32 - 1, what="UserRefNum"),
        default=1,
        help="the first order's UserRefNum (on an OUCH session with history: at least; "
        "the engine goes on above the exchange's last, docs/live.md)",
    )
    lv.add_argument(
        "--xdp-mirror",
        metavar="IFACE",
        default=None,
        help="also take the feed from the ring buffer of the tickwire XDP program on IFACE",
    )
    lv.add_argument(
        "--feed-session",
        metavar="NAME",
        default=None,
        help="pin the feed's MoldUDP64 session: packets of any other are refused "
        "(default: [feed] session in --config, else the first session two packets confirm)",
    )
    add_json_option(lv, "the session report")
    lv.set_defaults(func=_cmd_live)


def _report_path(args: argparse.Namespace) -> str | None:
    """The file the session report is written to: ``--json PATH`` (None for no value or
    ``-``: stdout only, where it goes anyway), or the deprecated ``--report PATH`` with a
    warning on stderr."""
    old = args.report_deprecated
    if old is not None:
        if args.json is not None:
            raise _UsageError("--report is the old name of --json: give --json only")
        print("warning: --report PATH is deprecated: use --json PATH", file=sys.stderr)
        return str(old)
    if args.json is None or json_to_stdout(args.json):
        return None
    return str(args.json)


# -------------------------------------------------------------------------- live
def _cmd_live(args: argparse.Namespace) -> int:
    from tickwire.engine.live import ControlUnanswered, MirrorError
    from tickwire.moldudp64.aio import run

    try:
        if args.command:
            if not args.control:
                raise _UsageError("--command needs --control PATH")
            from tickwire.engine.live import send_command

            print(json.dumps(run(send_command(args.control, args.command))))
            return 0
        return run(_live(args))
    except MirrorError as exc:
        raise _UsageError(f"--xdp-mirror {args.xdp_mirror}: {exc}") from None
    except ControlUnanswered:  # an engine reached but busy or stopping: exit 1, not usage
        raise
    except OSError as exc:  # a socket or file named on the command line: a usage error
        raise _UsageError(one_line(exc)) from None


def _load(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """The strategy, risk limits and fee schedule of ``--config`` (the backtest's tables)."""
    from tickwire.engine.backtest.fees import FeeSchedule
    from tickwire.engine.risk import RiskLimits, parse_risk_limits

    cfg = read_config(args.config)
    strategy = load_strategy(args.strategy, cfg.get("strategy", {}), DEFAULT_STRATEGY, args.config)
    try:
        limits = parse_risk_limits(cfg["risk"]) if "risk" in cfg else RiskLimits()
        fees = FeeSchedule.from_mapping(cfg.get("fees", {}))
    except (ValueError, TypeError) as exc:  # a ConfigError names the key; we name the file
        raise _UsageError(f"{args.config}: {exc}") from None
    return strategy, limits, fees


def _feed_session(args: argparse.Namespace) -> str | None:
    """The feed session to pin: ``--feed-session``, else ``session`` of the config's
    ``[feed]`` table, else None (see docs/robustness.md section 2)."""
    from tickwire.engine.live import FeedConfig
    from tickwire.moldudp64.codec import encode_session
    from tickwire.moldudp64.errors import BadSession
    from tickwire.threshold.schema import ConfigError, from_table

    try:
        feed = from_table(FeedConfig, read_config(args.config).get("feed", {}), "feed")
    except ConfigError as exc:  # names the key; we name the file
        raise _UsageError(f"{args.config}: {exc}") from None
    name = args.feed_session if args.feed_session is not None else feed.session
    if name is None:
        return None
    try:  # --feed-session (the file's session is checked above)
        encode_session(name)
    except BadSession as exc:
        raise _UsageError(f"feed session: {exc}") from None
    return name


class _PrintableFormatter(logging.Formatter):
    """``strategy: LINE`` with the line's control characters escaped
    (:func:`tickwire.cli.printable`): a strategy's line often carries a feed symbol (eight
    bytes of anything), and ``ESC [ 2 J`` in it cleared the operator's terminal. Test:
    ``test_engine_live_cli.py::test_strategy_log_lines_on_stderr_are_escaped``."""

    def format(self, record: logging.LogRecord) -> str:
        return "strategy: " + printable(record.getMessage())


def _strategy_log_to_stderr() -> None:
    """The strategy's ``ctx.log`` lines on stderr as they come, ``strategy: LINE`` (the
    dashboard shows the last ones instead; a program that configured the logger keeps
    its own handlers)."""
    log = logging.getLogger("tickwire.engine.strategy")
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_PrintableFormatter())
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


def _dashboard_gone(board: asyncio.Task[None]) -> None:
    """The dashboard failed: say so at once, on stderr; the session goes on (risk and
    its limits do not depend on it) and its report is still printed at the end."""
    if not board.cancelled() and board.exception() is not None:
        print(f"live: the dashboard stopped: {board.exception()}", file=sys.stderr, flush=True)


async def _live(args: argparse.Namespace) -> int:
    from tickwire.engine.live import LiveConfig, LiveEngine

    if args.feed is None or args.ouch is None:
        raise _UsageError("--feed and --ouch are required (or --command with --control)")
    report_path = _report_path(args)
    if args.dashboard:
        # Refuse before connecting, not with a traceback in the middle of a session.
        try:
            import rich  # noqa: F401
        except ImportError:
            raise _UsageError(
                "--dashboard needs rich: pip install 'tickwire-engine[dashboard]'"
            ) from None
    strategy, limits, fees = _load(args)
    cfg = LiveConfig(
        feed=args.feed,
        ouch=args.ouch,
        rerequest=args.rerequest,
        group=args.group,
        username=args.user,
        password=_password(args),
        limits=limits,
        first_user_ref_num=args.first_user_ref_num,
        control=args.control,
        report=report_path,
        xdp_mirror=args.xdp_mirror,
        feed_session=_feed_session(args),
        fees=fees,
    )
    engine = LiveEngine(strategy, cfg)
    await engine.start()
    engine.install_signal_handlers()
    if args.dashboard:
        from tickwire.engine.live.dashboard import run_dashboard

        board = asyncio.create_task(run_dashboard(engine))
        board.add_done_callback(_dashboard_gone)
    else:
        _strategy_log_to_stderr()
    try:
        await engine.run()
    finally:
        if args.dashboard:
            engine.stop()  # a failed run ends the dashboard too
            await asyncio.gather(board, return_exceptions=True)  # said when it happened
        # The session's record, also when the strategy failed (the engine still shut
        # down and reported; its error follows as the command's one line, exit 1).
        if engine.report is not None:
            print(json.dumps(engine.report), flush=True)
    if engine.left_open is not None:  # said once by the engine at the stop: exit 1
        raise engine.left_open
    return 0
