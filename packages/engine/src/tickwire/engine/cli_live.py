"""The ``exchange`` and ``live`` subcommands of ``python -m tickwire.engine``.

    python -m tickwire.engine exchange --feed 127.0.0.1:26477 [--ouch-port 26400]
        [--ouch42-port 26401] [--rerequest-port 26478] [--user TW] [--password-file FILE]
        [--seed FILE] [--flow FILE | --generate N --symbols S --day-seed K] [--rate R]
        [--loss 0.05] [--reorder 0.01] [--delay 0.001] [--drop-ouch-every N]
        [--duration SECONDS] [--json STATS.json]

    python -m tickwire.engine live --feed 127.0.0.1:26477 --rerequest 127.0.0.1:26478
        --ouch 127.0.0.1:26400 [--user TW] [--password-file FILE]
        [--strategy module:Class] [--config FILE]
        [--control /tmp/tw.sock] [--report REPORT.json] [--dashboard] [--xdp-mirror IFACE]
        [--feed-session NAME]

    python -m tickwire.engine live --control /tmp/tw.sock --command kill|arm|status|stop

The exchange prints one JSON line with its ports on stdout when it is ready. The live
engine runs until SIGINT, SIGTERM, ``--command stop`` or the feed's end of session, then
cancels its open orders, logs out and writes the report. ``--xdp-mirror IFACE`` also
feeds the receiver from the ring buffer of the tickwire XDP program attached to IFACE
(needs tickwire-xdp and root), so the frames it turned into orders are not gaps.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from tickwire.engine.cli_backtest import UsageError as _UsageError
from tickwire.engine.cli_backtest import load_strategy, read_config
from tickwire.engine.credentials import (
    DEFAULT_USER,
    PASSWORD_ENV,
    CredentialError,
    read_password,
    user_name,
)
from tickwire.moldudp64.cliargs import (
    existing_file,
    int_range,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    probability,
    tcp_udp_port_or_any,
)

__all__ = ["add_parser", "parse_address"]

DEFAULT_STRATEGY = "tickwire.engine.strategy.taker:ThresholdTaker"


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (or just ``PORT``, on 127.0.0.1) to a tuple."""
    host, _, port = text.rpartition(":")
    try:
        p = int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not HOST:PORT: {text!r}") from None
    if not 0 <= p < 65536:
        raise argparse.ArgumentTypeError(f"port out of range: {text!r}")
    return (host or "127.0.0.1", p)


def _password(args: argparse.Namespace) -> str:
    """The OUCH password: ``--password-file``, else $TICKWIRE_OUCH_PASSWORD, else the demo's."""
    try:
        return read_password(args.password_file)
    except CredentialError as exc:
        raise _UsageError(str(exc)) from None


def add_parser(sub: Any) -> None:
    """Register ``exchange`` and ``live`` on the engine's subparsers."""
    ex = sub.add_parser("exchange", help="run the simulated exchange (OUCH in, ITCH out)")
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
    ex.add_argument("--password-file", default=None, metavar="FILE",
                    help=f"the users' password (first line); else ${PASSWORD_ENV}")  # fmt: skip
    ex.add_argument(
        "--seed",
        type=existing_file,
        default=None,
        help="ITCH BinaryFILE or capture to seed the books",
    )
    ex.add_argument(
        "--flow",
        type=existing_file,
        default=None,
        help="ITCH BinaryFILE or capture replayed at --rate",
    )
    ex.add_argument(
        "--generate", type=non_negative_int, default=0, help="generated background flow messages"
    )
    ex.add_argument("--symbols", type=positive_int, default=20, help="generated flow symbols")
    ex.add_argument("--day-seed", type=int, default=1, help="generated flow seed")
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
    ex.add_argument("--fault-seed", type=int, default=7)
    ex.add_argument("--open", action="store_true", help="publish O, S, Q before any flow")
    ex.add_argument(
        "--duration",
        type=non_negative_float,
        default=None,
        help="seconds to run after the flow (default: until a signal)",
    )
    ex.add_argument("--json", default=None, help="write exchange statistics here on exit")
    ex.set_defaults(func=_cmd_exchange)

    lv = sub.add_parser("live", help="trade live: MoldUDP64 feed in, OUCH 5.0 out")
    lv.add_argument(
        "--feed", type=parse_address, default=None, help="HOST:PORT to receive the feed on"
    )
    lv.add_argument("--group", default=None, help="multicast group of the feed")
    lv.add_argument("--rerequest", type=parse_address, default=None, help="re-request server")
    lv.add_argument("--ouch", type=parse_address, default=None, help="the exchange's OUCH 5.0 port")
    lv.add_argument("--user", type=user_name, default=DEFAULT_USER, help="OUCH user name")
    lv.add_argument("--password-file", default=None, metavar="FILE",
                    help=f"the OUCH password (first line); else ${PASSWORD_ENV}")  # fmt: skip
    lv.add_argument("--strategy", default=None, help=f"module:Class (default {DEFAULT_STRATEGY})")
    lv.add_argument("--config", default=None, help="TOML with [strategy] and [risk] tables")
    lv.add_argument("--control", default=None, help="unix socket for kill/arm/status/stop")
    lv.add_argument("--command", choices=["kill", "arm", "status", "stop"], default=None,
                    help="send a command to a running engine's --control socket and exit")  # fmt: skip
    lv.add_argument("--report", default=None, help="session report (JSON) path")
    lv.add_argument("--dashboard", action="store_true", help="show the terminal dashboard")
    lv.add_argument(
        "--first-user-ref-num", type=int_range(1, 2**32 - 1, what="UserRefNum"), default=1
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
    lv.set_defaults(func=_cmd_live)


# ---------------------------------------------------------------------- exchange
def _cmd_exchange(args: argparse.Namespace) -> int:
    from tickwire.moldudp64.aio import run

    try:
        return run(_exchange(args))
    except _UsageError as exc:
        print(f"exchange: {exc}", file=sys.stderr)
        return 2


async def _exchange(args: argparse.Namespace) -> int:
    import signal

    from tickwire.engine.exchange import Exchange, ExchangeConfig, Faults

    seed = _itch_file(args.seed) if args.seed else None  # bad paths fail before any port opens
    flow: Any = _itch_file(args.flow) if args.flow else None
    if flow is None and args.generate:
        from tickwire.itch.generator import generate_day

        try:  # checks the sizes at once, before any port opens
            flow = generate_day(args.generate, args.symbols, args.day_seed)
        except ValueError as exc:
            raise _UsageError(f"--generate: {exc}") from None
    faults = Faults(args.loss, args.reorder, args.delay, args.drop_ouch_every, args.fault_seed)
    password = _password(args)
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
        "ouch_closed": list(ex.ouch50.closed_reasons) if ex.ouch50 else [],
        "ouch_closed_counts": dict(ex.ouch50.closed_counts) if ex.ouch50 else {},
        "ouch50": {
            "entered": len(ex.account50.entered),
            "positions": ex.account50.ledger.positions,
            "cash": ex.account50.ledger.cash,
        },
    }
    await ex.close()
    if args.json:
        Path(args.json).write_text(json.dumps(stats, indent=2) + "\n")
    print(json.dumps(stats), flush=True)
    return 0


def _itch_file(name: str) -> Any:
    from tickwire.engine.sources import is_capture, iter_binaryfile, iter_capture

    path = Path(name)
    if not path.exists():
        raise _UsageError(f"{path}: no such file")
    return iter_capture(path) if is_capture(path) else iter_binaryfile(path)


# -------------------------------------------------------------------------- live
def _cmd_live(args: argparse.Namespace) -> int:
    from tickwire.engine.live import MirrorError
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
        print(f"live: --xdp-mirror {args.xdp_mirror}: {exc}", file=sys.stderr)
        return 2
    except (_UsageError, OSError) as exc:
        print(f"live: {exc}", file=sys.stderr)
        return 2


def _load(args: argparse.Namespace) -> tuple[Any, Any]:
    from tickwire.engine.risk import RiskLimits, parse_risk_limits

    cfg = read_config(args.config)
    strategy = load_strategy(args.strategy, cfg.get("strategy", {}), DEFAULT_STRATEGY)
    try:
        limits = parse_risk_limits(cfg["risk"]) if "risk" in cfg else RiskLimits()
    except (ValueError, TypeError) as exc:
        raise _UsageError(str(exc)) from None
    return strategy, limits


def _feed_session(args: argparse.Namespace) -> str | None:
    """The feed session to pin: ``--feed-session``, else ``session`` of the config's
    ``[feed]`` table, else None (see docs/robustness.md section 2)."""
    from tickwire.moldudp64.codec import encode_session
    from tickwire.moldudp64.errors import BadSession

    feed = read_config(args.config).get("feed", {})
    unknown = set(feed) - {"session"}
    if unknown:
        raise _UsageError(f"{args.config}: [feed]: unknown keys {sorted(unknown)} (known: session)")
    name = args.feed_session if args.feed_session is not None else feed.get("session")
    if name is None:
        return None
    if not isinstance(name, str):
        raise _UsageError(f"feed session must be a string, got {name!r}")
    try:
        encode_session(name)
    except BadSession as exc:
        raise _UsageError(f"feed session: {exc}") from None
    return name


async def _live(args: argparse.Namespace) -> int:
    from tickwire.engine.live import LiveConfig, LiveEngine

    if args.feed is None or args.ouch is None:
        raise _UsageError("--feed and --ouch are required (or --command with --control)")
    if args.dashboard:
        # Refuse before connecting, not with a traceback in the middle of a session.
        try:
            import rich  # noqa: F401
        except ImportError:
            raise _UsageError(
                "--dashboard needs rich: pip install 'tickwire-engine[dashboard]'"
            ) from None
    strategy, limits = _load(args)
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
        report=args.report,
        xdp_mirror=args.xdp_mirror,
        feed_session=_feed_session(args),
    )
    engine = LiveEngine(strategy, cfg)
    await engine.start()
    engine.install_signal_handlers()
    if args.dashboard:
        from tickwire.engine.live.dashboard import run_dashboard

        board = asyncio.create_task(run_dashboard(engine))
        report = await engine.run()
        await board
    else:
        report = await engine.run()
    print(json.dumps(report), flush=True)
    return 0
