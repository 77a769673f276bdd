"""The ``backtest`` and ``export`` subcommands of ``python -m tickwire.engine``.

    python -m tickwire.engine backtest [DATA] [--strategy module:Class] [--config FILE]
        [--json OUT] [--out DIR] [--feed-latency SPEC] [--order-latency SPEC] ...
    python -m tickwire.engine export [DATA] --symbol AAPL [--symbol MSFT] [--levels 10]
        [--out DIR] [--bbo csv|parquet|none] [--date YYYY-MM-DD]

With no DATA both generate the sample day (``tickwire.itch.generator.generate_day``;
200,000 messages, 200 symbols, seed 1 unless told otherwise). DATA is a BinaryFILE
(gzip transparent) or a MoldUDP64 pcap/pcapng capture (detected by its magic), read in
sequence order with A/B copies and retransmissions dropped and gaps counted (a summary
line beside ``data:``, and ``capture`` in the JSON report); ``--keep-duplicates`` applies
every packet in capture order instead. One session is read: ``--session NAME`` or the
capture's only one (a second is a usage error naming both); lost messages (bad packets,
cut frames, gaps) end the command with one ``error:`` line and exit 1 once its outputs
are written (``docs/cli.md``, "Captures").
The module also runs on its own: ``python -m tickwire.engine.cli_backtest backtest ...``.

Exit status: 0 on success, 1 when the data cannot be read or decoded, 2 on a usage or
configuration error.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from tickwire.cli import (
    Progress,
    add_json_option,
    atomic_path,
    config_file,
    existing_file,
    int_range,
    iso_date,
    json_to_stdout,
    one_line,
    output_file,
    output_folder,
    output_folder_of,
    positive_int,
    run_cli,
    stock_symbol,
    stock_symbols,
    toml_loads,
    write_json,
)
from tickwire.cli import UsageError as _CliUsageError
from tickwire.engine.backtest.report import OUT_FILES
from tickwire.engine.lobster import MAX_LEVELS
from tickwire.threshold.schema import ConfigError, MapOf, Raw, Str, from_table, setting

if TYPE_CHECKING:
    from tickwire.engine.sources import CaptureFeedStats
    from tickwire.itch.fastpath import FrameStats


__all__ = [
    "DEFAULT_RISK",
    "ConfigFile",
    "PreparedBacktest",
    "UserRefNumsTooFew",
    "add_parser",
    "backtest_file",
    "check_tables",
    "execute_backtest",
    "main",
    "prepare_backtest",
    "read_config",
    "run",
    "write_backtest",
]

DEFAULT_STRATEGY = "tickwire.engine.strategy.market_maker:MarketMaker"

#: Risk limits used when the config file has no ``[risk]`` table: generous for the
#: example strategies, but every check is on.
DEFAULT_RISK: dict[str, Any] = {
    "max_order_qty": 5_000,
    "max_order_notional": 10_000_000_000,  # $1,000,000 per order
    "credit_limit": 2_000_000_000_000,  # $200,000,000 executed + open
    "max_position": 5_000,
    "daily_loss_limit": 500_000_000,  # $50,000
    "price_collar_bps": 500,  # 5% around the mid
    "duplicate_window_ns": 100_000,  # 100 us
    "throttle_orders": 200,
    "throttle_window_ns": 1_000_000_000,  # 200 orders per second
    "max_open_orders": 100,
}


class UsageError(_CliUsageError):
    """A bad command line or config file: the engine's CLIs print it and exit 2."""


class UserRefNumsTooFew(UsageError):
    """``backtest.first_user_ref_num`` left too few 4-byte UserRefNums for a run's orders
    (found during the run: how many orders a run sends is known only by running it). A
    usage error of its own type so that a sweep ends on it, exit 2, as ``backtest`` does,
    instead of making it one failed run of many (:func:`tickwire.engine.backtest.sweep.run_task`)."""


def add_parser(subparsers: Any) -> None:
    """Register ``backtest`` and ``export`` on an argparse subparsers object."""
    bt = subparsers.add_parser(
        "backtest",
        help="run a strategy on a day of order flow against a simulated venue",
        description="Replay ITCH order flow through the books into a strategy with a simulated "
        "venue (L3 queue model, latency models) and write JSON/CSV/PNG reports.",
    )
    bt.add_argument(
        "data",
        nargs="?",
        type=existing_file,
        help="BinaryFILE or MoldUDP64 capture (default: generate the sample day)",
    )
    bt.add_argument("--strategy", default=None, help=f"module:Class (default {DEFAULT_STRATEGY})")
    bt.add_argument(
        "--config",
        type=config_file,
        help="TOML file with [strategy], [risk], [backtest] and [fees] tables",
    )
    add_json_option(bt, "the report")
    bt.add_argument(
        "--out", default="backtest-out", type=output_folder_of(*OUT_FILES), help="output directory"
    )
    bt.add_argument("--feed-latency", help="e.g. constant:20000, lognormal:20000,0.5 (ns)")
    bt.add_argument("--order-latency", help="order entry latency spec (ns)")
    bt.add_argument("--ack-latency", help="venue-to-strategy answer latency spec (ns)")
    bt.add_argument("--seed", type=int, help="random seed of the latency draws (default: 1)")
    bt.add_argument(
        "--backend",
        choices=("reference", "cython", "compiled"),
        help="reference: the Python backtest (the oracle); cython: the same with the "
        "strategy's book compiled; compiled: the whole backtest in the compiled replay "
        "core, same report (default: reference)",
    )
    _add_generator_args(bt)
    bt.add_argument("--no-plot", action="store_true", help="skip the PNG")
    bt.add_argument(
        "--html",
        metavar="PATH",
        type=output_file,
        help="also write a self-contained HTML report (charts and tables; the html extra), "
        "whole or not at all",
    )
    bt.add_argument(
        "--html-symbol",
        metavar="SYM",
        type=stock_symbol,
        help="symbol of the HTML report's price chart with fills (default: the most-filled)",
    )
    bt.add_argument("--quiet", action="store_true", help="no progress bar or terminal summary")
    bt.set_defaults(func=run, backtest_command=_cmd_backtest)

    ex = subparsers.add_parser(
        "export",
        help="write LOBSTER message/orderbook files and a BBO series for chosen symbols",
    )
    ex.add_argument(
        "data",
        nargs="?",
        type=existing_file,
        help="BinaryFILE or MoldUDP64 capture (default: generate the sample day)",
    )
    ex.add_argument(
        "--symbol",
        action="append",
        required=True,
        type=stock_symbols,
        help="symbol to export (repeatable, or comma-separated)",
    )
    ex.add_argument(
        "--levels",
        type=int_range(1, MAX_LEVELS, what="levels"),
        default=10,
        help="order book levels",
    )
    ex.add_argument("--out", default="lobster-out", type=output_folder, help="output directory")
    ex.add_argument(
        "--bbo", default="csv", choices=["csv", "parquet", "none"], help="BBO series format"
    )
    ex.add_argument(
        "--date", type=iso_date, help="trading date for LOBSTER's full file names (YYYY-MM-DD)"
    )
    _add_generator_args(ex)
    ex.set_defaults(func=run, backtest_command=_cmd_export)


def _add_generator_args(p: argparse.ArgumentParser) -> None:
    from tickwire.engine.sources import add_capture_options

    add_capture_options(p)
    # Defaults applied in _messages: None says "not given", so DATA with one of them is
    # refused (it was ignored without a word).
    for flag, kind, default, what in _SAMPLE_DAY:
        p.add_argument(flag, type=kind, default=None, help=f"{what} (default: {default})")


#: The sample day's options: (flag, type, default, help). Only without DATA.
_SAMPLE_DAY: tuple[tuple[str, Any, int, str], ...] = (
    ("--messages", positive_int, 200_000, "sample day size"),
    ("--symbols", positive_int, 200, "sample day symbols"),
    ("--day-seed", int, 1, "random seed of the sample day"),
)


def _messages(
    args: argparse.Namespace,
    progress: Any,
    *,
    run_source: bool = False,
    frames: FrameStats | None = None,
) -> tuple[Any, int | None, str, CaptureFeedStats | None]:
    """The message stream, its expected length (None if unknown), a description and,
    for a capture, the stats its reading fills (see :func:`_capture_summary`);
    ``run_source``: a BinaryFILE as its path (see :func:`_open_data`); ``frames``: the
    framing counts of a BinaryFILE read here (its messages of unknown types skipped)."""
    given = [flag for flag, *_ in _SAMPLE_DAY if getattr(args, _dest(flag)) is not None]
    if args.data:
        if given:
            raise UsageError(
                f"{', '.join(given)}: describe the sample day, which DATA replaces "
                f"({args.data}): leave {'them' if len(given) > 1 else 'it'} out"
            )
        return _open_data(
            Path(args.data),
            args.keep_duplicates,
            run_source=run_source,
            session=args.session,
            frames=frames,
        )
    from tickwire.engine.sources import check_capture_options
    from tickwire.itch.generator import generate_day

    check_capture_options(
        None, capture=False, session=args.session, keep_duplicates=args.keep_duplicates
    )

    messages, symbols, seed = (
        getattr(args, _dest(flag)) if getattr(args, _dest(flag)) is not None else default
        for flag, _, default, _ in _SAMPLE_DAY
    )
    try:
        stream = generate_day(messages, symbols, seed)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return (
        stream,
        messages,
        f"generated day ({messages} messages, {symbols} symbols, seed {seed})",
        None,
    )


def _dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def _open_data(
    path: Path,
    keep_duplicates: bool,
    *,
    run_source: bool = False,
    session: str | None = None,
    frames: FrameStats | None = None,
) -> tuple[Any, int | None, str, CaptureFeedStats | None]:
    """:func:`_messages` for a file: a BinaryFILE or a capture (detected by its magic).

    ``run_source`` (a backtest's data): a BinaryFILE is returned as its path, a
    :data:`~tickwire.engine.backtest.runner.Source` that ``run_backtest`` reads itself:
    the reference decodes it, the compiled core streams its bytes with no Python object
    per message (decoded messages would be encoded back to bytes for it). A capture is
    always decoded messages (sequenced here, with its stats; one session: ``session``
    or its only one)."""
    from tickwire.engine.sources import (
        CaptureFeedStats,
        check_capture_options,
        is_capture,
        iter_binaryfile,
        iter_capture,
    )

    if not path.exists():
        raise UsageError(f"{path}: no such file")
    capture = is_capture(path)
    check_capture_options(path, capture=capture, session=session, keep_duplicates=keep_duplicates)
    if capture:
        stats = CaptureFeedStats()
        stream = iter_capture(path, stats=stats, keep_duplicates=keep_duplicates, session=session)
        return stream, None, str(path), stats
    return (path if run_source else iter_binaryfile(path, stats=frames)), None, str(path), None


def _capture_summary(stats: CaptureFeedStats | None) -> dict[str, Any]:
    """``{"capture": counts}`` for a capture (what was dropped or missing); empty for
    other data."""
    return {} if stats is None else {"capture": stats.as_dict()}


#: A table whose keys its own schema checks (``RiskLimits``, ``BacktestConfig``, ...).
_TABLE = MapOf(Str(), Raw(), valid="a table")


@dataclass(frozen=True, slots=True)
class ConfigFile:
    """The tables of a ``backtest``, ``sweep`` or ``live`` config file, all optional
    (declared with :mod:`tickwire.threshold.schema`: another table, or a key outside a
    table, is an error naming it); each table's keys are checked by its own schema."""

    strategy: Mapping[str, Any] = setting(
        _TABLE, factory=dict, doc="`class` (`module:Class`) and the strategy's own keys"
    )
    risk: Mapping[str, Any] = setting(
        _TABLE, factory=dict, doc="`RiskLimits`; without it `DEFAULT_RISK` (backtest)"
    )
    backtest: Mapping[str, Any] = setting(_TABLE, factory=dict, doc="`BacktestConfig`")
    fees: Mapping[str, Any] = setting(_TABLE, factory=dict, doc="`FeeSchedule`")
    feed: Mapping[str, Any] = setting(
        _TABLE, factory=dict, doc="`FeedConfig`: live only, see docs/live.md"
    )


def check_tables(cfg: Mapping[str, Any], source: str | None) -> None:
    """Refuse a parsed config file whose top level is not :class:`ConfigFile`'s tables,
    with a :class:`UsageError` line naming ``source`` and the key."""
    try:
        from_table(ConfigFile, cfg)
    except ConfigError as exc:
        raise UsageError(f"{source}: {exc}" if source else str(exc)) from None


def read_config(path: str | None) -> dict[str, Any]:
    """The TOML config file at ``path`` as a dict (empty when there is none), its tables
    checked (:class:`ConfigFile`; each table's keys are checked where it is used)."""
    if not path:
        return {}
    try:
        cfg = toml_loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--config {path}: {one_line(exc)}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML: {exc}") from None
    check_tables(cfg, path)
    return cfg


def load_strategy(
    spec: str | None, table: Mapping[str, Any], default: str, source: str | None = None
) -> Any:
    """The strategy named by ``--strategy``, else by the ``[strategy]`` table's ``class``,
    else ``default``, built with the table's other keys; ``source`` (the config file)
    leads the line of a bad key (``mm.toml: strategy.quote_size: ...``).

    Every way to run a strategy (``backtest``, ``sweep``, ``live``) resolves it here, so a
    bad spec is one :class:`UsageError` line naming where it was given: ``--strategy: ...``
    or ``mm.toml: strategy.class: ...`` (an empty one too: it is not "the default").

    The class's constructor is given the table: a ``ValueError`` or ``TypeError`` it
    raises is the table's error (its message names the key), and any other exception, a
    ``SystemExit`` too, is one line naming the strategy and the error
    (``strategy mod:Cls: cannot be built: KeyError: 'k'``): a :class:`UsageError` all
    the same, since the run has not begun (a configuration error, exit 2). Why: a
    ``RuntimeError`` there was a traceback of the engine, and ``sys.exit(0)`` ended
    ``backtest`` with exit 0 and no report. A ``KeyboardInterrupt`` (Ctrl-C) goes through.
    Test: ``packages/engine/tests/test_engine_cli_bad_input.py``
    (``test_a_strategy_constructor_that_fails_is_one_line``)."""
    strategy_cfg = dict(table)
    in_file = "class" in strategy_cfg
    from_file = strategy_cfg.pop("class", None)
    if spec is not None:
        cls = load_strategy_class(spec)
    elif in_file:
        where = f"{source}: strategy.class" if source else "strategy.class"
        cls = load_strategy_class(from_file, where=where)
    else:
        cls = load_strategy_class(default)
    file = f"{source}: " if source else ""
    try:
        return cls(strategy_cfg)
    except (ValueError, TypeError) as exc:  # a ConfigError names the key
        raise UsageError(f"{file}{exc}") from None
    except (Exception, SystemExit) as exc:  # the class's own code failed
        name = f"{cls.__module__}:{cls.__qualname__}"
        what = f"SystemExit({exc.code!r})" if isinstance(exc, SystemExit) else type(exc).__name__
        text = "" if isinstance(exc, SystemExit) else f": {one_line(exc)}"
        raise UsageError(f"{file}strategy {name}: cannot be built: {what}{text}") from None


def load_strategy_class(spec: object, *, where: str = "--strategy") -> type:
    """Import ``module:Class`` (an absolute module name) and check that it is a
    :class:`~tickwire.engine.strategy.api.Strategy` subclass.

    Anything else is a :class:`UsageError` line led by ``where`` (the option or the
    config key the spec came from): a spec that is no string or has no ``:``, a relative
    module, a module that cannot be imported (``ImportError``, a ``SyntaxError`` with its
    file and line, or any exception its code raises, named by its type); a
    ``KeyboardInterrupt`` or ``SystemExit`` while importing goes through."""
    from tickwire.engine.strategy.api import Strategy

    if not isinstance(spec, str):
        raise UsageError(
            f'{where}: must be a string "module:Class", got {type(spec).__name__} {spec!r}'
        )
    module_name, _, cls_name = spec.partition(":")
    if not module_name or not cls_name:
        raise UsageError(f"{where}: must be module:Class, got {spec!r}")
    if module_name.startswith("."):
        raise UsageError(
            f"{where}: {spec!r}: relative module names are not allowed "
            "(give the module's full name, e.g. mypackage.strategies:MyStrategy)"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(f"{where}: cannot import {module_name}: {one_line(exc)}") from None
    except SyntaxError as exc:  # its file and line: the module's code, not the spec
        place = f" ({exc.filename}, line {exc.lineno})" if exc.filename else ""
        raise UsageError(
            f"{where}: cannot import {module_name}: SyntaxError: {exc.msg}{place}"
        ) from None
    except Exception as exc:  # the module's own code failed while it was imported
        raise UsageError(
            f"{where}: cannot import {module_name}: {type(exc).__name__}: {one_line(exc)}"
        ) from None
    try:
        cls = getattr(module, cls_name, None)
    except Exception as exc:  # a module __getattr__ that raises something else
        raise UsageError(f"{where}: {spec}: {type(exc).__name__}: {one_line(exc)}") from None
    if not isinstance(cls, type) or not issubclass(cls, Strategy):
        raise UsageError(f"{where}: {spec} is not a tickwire Strategy subclass")
    return cls


class PreparedBacktest(NamedTuple):
    """What a config file's tables build: everything a run needs but its data."""

    strategy: Any  # a tickwire.engine.strategy.Strategy
    limits: Any  # tickwire.engine.risk.RiskLimits
    config: Any  # tickwire.engine.backtest.BacktestConfig
    fees: Any  # tickwire.engine.backtest.fees.FeeSchedule
    #: The config file they came from (None: no file), named in an error found in the run.
    source: str | None = None


def prepare_backtest(
    cfg: Mapping[str, Any],
    *,
    source: str | None,
    strategy: str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> PreparedBacktest:
    """The strategy, risk limits, :class:`BacktestConfig` and fee schedule of a config
    file's tables.

    ``cfg`` is the parsed file (:func:`read_config`), ``source`` names it in errors,
    ``strategy`` is ``--strategy`` and ``overrides`` are ``[backtest]`` keys given on the
    command line (None values are ignored). Every problem is a one-line
    :class:`UsageError` naming the key. ``backtest`` and ``sweep`` both build their runs
    here, so a sweep's run is the backtest the same config would give.
    """
    from tickwire.engine.backtest import BacktestConfig
    from tickwire.engine.backtest.fees import FeeSchedule
    from tickwire.engine.risk import parse_risk_limits

    # [feed] is the live engine's (its feed session): a file both use is accepted here.
    check_tables(cfg, source)
    built = load_strategy(strategy, cfg.get("strategy", {}), DEFAULT_STRATEGY, source)
    try:
        limits = parse_risk_limits(cfg.get("risk", DEFAULT_RISK))
        bt = dict(cfg.get("backtest", {}))
        bt.update({k: v for k, v in (overrides or {}).items() if v is not None})
        config = BacktestConfig.from_mapping(bt)
        fees = FeeSchedule.from_mapping(cfg.get("fees", {}))
    except (ValueError, TypeError) as exc:  # a ConfigError names the key; we name the file
        raise UsageError(f"{source}: {exc}" if source else str(exc)) from None
    return PreparedBacktest(built, limits, config, fees, source)


def execute_backtest(
    prepared: PreparedBacktest,
    stream: Any,
    *,
    total: int | None = None,
    show: bool = False,
) -> Any:
    """``run_backtest`` of ``prepared`` over ``stream`` with a progress bar (``show``) and
    its usage errors as :class:`UsageError`; returns the :class:`BacktestResult`."""
    from tickwire.engine.backtest import run_backtest
    from tickwire.engine.strategy.orders import UserRefNumsExhausted
    from tickwire.threshold.backends import BackendUnavailable

    try:
        with Progress(total, "backtest", unit="msg", enabled=None if show else False) as bar:
            return run_backtest(
                prepared.strategy,
                stream,
                limits=prepared.limits,
                config=prepared.config,
                progress=bar.update,
                total=total,
                fees=prepared.fees,
            )
    except BackendUnavailable as exc:  # --backend cython where the extension is not built
        raise UsageError(str(exc)) from None
    except UserRefNumsExhausted as exc:  # more orders than UserRefNums remain
        file = f"{prepared.source}: " if prepared.source else ""  # as every config error
        raise UserRefNumsTooFew(
            f"{file}backtest.first_user_ref_num: {prepared.config.first_user_ref_num} leaves "
            f"too few 4-byte UserRefNums for this run ({exc}); start lower"
        ) from None


def write_backtest(
    result: Any, out: Path, desc: str, feed_stats: CaptureFeedStats | None, *, plot: bool
) -> dict[str, Any]:
    """Write the backtest's outputs to ``out`` (report.json with ``data`` and, for a
    capture, ``capture``; the CSVs; ``plot``: pnl.png) and return the report.

    For a capture, the messages of unknown types its reader skipped
    (``feed_stats.unknown_types``) are the result's ``unknown_types`` first: the backtest
    was given decoded messages, which have none, so the report counts them as for a
    BinaryFILE."""
    from tickwire.engine.backtest.report import write_outputs

    if feed_stats is not None:
        result.unknown_types += feed_stats.unknown_types
    extra = {"data": desc, **_capture_summary(feed_stats)}
    return write_outputs(result, out, plot=plot, extra=extra)


def backtest_file(
    cfg: Mapping[str, Any],
    data: Path,
    out: Path,
    *,
    source: str | None = None,
    strategy: str | None = None,
    keep_duplicates: bool = False,
    session: str | None = None,
    plot: bool = True,
) -> dict[str, Any]:
    """``python -m tickwire.engine backtest DATA --config FILE --out OUT --quiet`` as a
    function of the parsed config ``cfg``: writes the same outputs and returns the report
    (lost capture messages are not raised here: ``report["capture"]`` counts them, and
    :func:`tickwire.engine.sources.CaptureFeedStats.check_whole` is the caller's rule).
    A sweep's worker runs this for each (day, parameter set)."""
    prepared = prepare_backtest(cfg, source=source, strategy=strategy)
    stream, total, desc, feed_stats = _open_data(
        data, keep_duplicates, run_source=True, session=session
    )
    with execute_backtest(prepared, stream, total=total) as result:  # its records: removed
        return write_backtest(result, out, desc, feed_stats, plot=plot)


def _cmd_backtest(args: argparse.Namespace) -> int:

    if args.html_symbol is not None and not args.html:
        raise UsageError("--html-symbol needs --html PATH")
    if args.html:
        from tickwire.engine.backtest.html_report import HtmlUnavailable, require_plotly

        try:  # before the run, not after it
            require_plotly()
        except HtmlUnavailable as exc:
            raise UsageError(f"--html: {exc}") from None
        if Path(args.html).is_dir():
            raise UsageError(f"--html {args.html}: is a directory (give the file to write)")
    cfg = read_config(args.config)
    prepared = prepare_backtest(
        cfg,
        source=args.config,
        strategy=args.strategy,
        overrides={
            "feed_latency": args.feed_latency,
            "order_latency": args.order_latency,
            "ack_latency": args.ack_latency,
            "seed": args.seed,
            "book_backend": args.backend,
        },
    )
    stream, total, desc, feed_stats = _messages(args, None, run_source=True)
    show = not args.quiet
    with execute_backtest(prepared, stream, total=total, show=show) as result:
        return _backtest_outputs(args, result, desc, feed_stats, show)


def _backtest_outputs(
    args: argparse.Namespace,
    result: Any,
    desc: str,
    feed_stats: CaptureFeedStats | None,
    show: bool,
) -> int:
    """``backtest``'s outputs from ``result`` (whose records on disk the caller removes)."""
    from tickwire.engine.backtest.report import build_report, summary_text

    out = Path(args.out)
    report = write_backtest(result, out, desc, feed_stats, plot=not args.no_plot)
    capture = _capture_summary(feed_stats)
    if args.html:
        from tickwire.engine.backtest.html_report import UnknownSymbol, write_html

        try:
            with atomic_path(args.html) as tmp:
                write_html(result, report, tmp, args.html_symbol)
            report["runtime"]["html"] = str(Path(args.html))
        except UnknownSymbol as exc:  # the other outputs are written; no HTML
            raise UsageError(str(exc)) from None
        (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    if args.json is not None:
        write_json(args.json, build_report(result) | {"data": desc} | capture, indent=2)
    if show and not json_to_stdout(args.json):
        print(f"data: {desc}")
        if feed_stats is not None:
            print(feed_stats.text())
        print(summary_text(report))
        written = ", ".join(sorted(p.name for p in out.iterdir() if p.is_file()))
        print(f"  outputs   {out}/ ({written})")
        if args.html:
            print(f"  html      {args.html}")
    if feed_stats is not None:
        feed_stats.check_whole(desc, "the report is written")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from tickwire.engine.book import fault_phrases, unknown_types_phrase
    from tickwire.engine.lobster import MANIFEST_NAME, ExportError, export
    from tickwire.itch.fastpath import FrameStats

    symbols = [s for item in args.symbol for s in item]  # each checked by stock_symbols
    frames = FrameStats()
    stream, _, desc, feed_stats = _messages(args, None, frames=frames)
    try:
        res = export(
            stream,
            symbols,
            args.out,
            levels=args.levels,
            bbo_format=None if args.bbo == "none" else args.bbo,
            date=args.date,
        )
    except ExportError as exc:
        raise UsageError(str(exc)) from None
    print(f"data: {desc}")
    if feed_stats is not None:
        print(feed_stats.text())
    unknown = feed_stats.unknown_types if feed_stats is not None else frames.skipped
    skipped = unknown_types_phrase(unknown)
    if skipped is not None:  # skipped by the spec's rule, never unsaid (docs/cli.md)
        print(f"  {skipped}")
    book_faults = fault_phrases(res.book_faults)
    if book_faults:  # messages the files lack or clamp: backtest's words (lobster.py)
        print(f"  book      {', '.join(book_faults)}")
    for sym, n in sorted(res.rows.items()):
        back = res.time_reversals.get(sym)
        also = f", {back:,} of them earlier than the row before" if back else ""
        late = res.past_midnight.get(sym)
        if late:  # no row: LOBSTER's time is seconds after midnight of one day
            also += f"; {late:,} stamped at or past 24:00:00 not written"
        print(f"  {sym}: {n:,} LOBSTER rows{also}")
    if args.bbo != "none":
        print(f"  BBO series: {res.bbo_rows:,} rows")
    for p in res.files:
        print(f"  wrote {p}")
    if res.manifest_error is not None:  # nothing removed: said, never silently
        manifest = Path(args.out) / MANIFEST_NAME
        print(
            f"warning: {manifest}: {res.manifest_error}; no file of an earlier export removed",
            file=sys.stderr,
        )
    if res.changed:  # listed by an earlier export, changed since: the user's, kept
        names = [p.name for p in res.changed]
        more = f", and {len(names) - 6:,} more" if len(names) > 6 else ""
        files = "file" if len(names) == 1 else "files"
        print(
            f"warning: kept {len(names):,} {files} an earlier export wrote in {args.out},"
            f" changed since: {', '.join(names[:6])}{more}",
            file=sys.stderr,
        )
    if res.removed:  # an earlier export's files, which would pass for this one's
        names = [p.name for p in res.removed]
        more = f", and {len(names) - 6:,} more" if len(names) > 6 else ""
        print(
            f"  removed {len(names):,} files of an earlier export from {args.out}: "
            f"{', '.join(names[:6])}{more}"
        )
    faults = feed_stats.faults() if feed_stats is not None else None
    if res.missing_symbols:  # the found ones are written; the command failed all the same
        also = f" (and {desc}: {faults})" if faults is not None else ""
        missing = []
        for sym in res.missing_symbols:  # with the data's near misses, never taken for it
            near = res.near_misses.get(sym)
            verb = "is" if near and len(near) == 1 else "are"
            missing.append(f"{sym} ({', '.join(near)} {verb} in the data)" if near else sym)
        raise ValueError(f"not found in the data: {', '.join(missing)}{also}")
    if feed_stats is not None:
        feed_stats.check_whole(desc, "the files are written")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the parsed ``backtest`` or ``export`` command; returns the exit status.

    ``add_parser`` sets ``func=run`` on both subcommands; a :class:`UsageError` (exit 2)
    or unreadable data (exit 1) is left to the host's error boundary,
    :func:`tickwire.cli.run_cli`, which prints it as one line.
    """
    return int(args.backtest_command(args))


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry point (``python -m tickwire.engine.cli_backtest``)."""
    parser = argparse.ArgumentParser(prog="python -m tickwire.engine.cli_backtest")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub)
    from tickwire.engine.strategy.api import StrategyError

    return run_cli(parser, argv, run, dist="tickwire-engine", data_errors=(StrategyError,))


if __name__ == "__main__":
    sys.exit(main())
