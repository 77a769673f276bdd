"""Backtest reports: one JSON document, CSV tables, a PNG plot and a terminal summary.

Money is reported in Price(4) x shares units (``..._e4``: divide by 10,000 for dollars)
so that every figure is an exact integer and reconciles with the fills; the terminal
summary shows dollars. Everything in the report except the ``runtime`` object is
deterministic: the same data, strategy, config and seed give the same report.

The PNG needs matplotlib, which only the ``plot`` extra installs. Without it
:func:`write_outputs` writes everything else, records ``runtime.plot = "skipped: <why>"``
(``"pnl.png"`` when written, ``"not requested"`` for ``plot=False``) and the terminal
summary says the PNG was skipped, why, and how to get it: a backtest on a plain
``pip install tickwire-engine`` succeeds instead of dying at its last step.
:func:`write_plot` itself raises :class:`PlotUnavailable` (an ``ImportError``).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from tickwire.cli.output import staged_folder
from tickwire.engine.backtest.fees import MAKER_FLAGS, TAKER_FLAGS, FeeLedger
from tickwire.engine.backtest.frames import SCHEMA, iter_rows, write_parquet
from tickwire.engine.backtest.runner import BacktestResult
from tickwire.engine.backtest.spill import percentiles_of
from tickwire.engine.backtest.stats import statistics, symbol_statistics_all
from tickwire.engine.book import fault_phrases
from tickwire.net.stats import percentiles

__all__ = [
    "OUT_FILES",
    "PlotUnavailable",
    "build_report",
    "percentiles",
    "summary_text",
    "write_outputs",
    "write_plot",
]

#: The files a backtest may write into its output folder (:func:`write_outputs`), which
#: no other output of the command may name (``tickwire.cli.output_folder_of``; a test
#: holds this list to the files a run writes).
OUT_FILES = (
    "report.json",
    *(
        f"{table}.{kind}"
        for table in ("orders", "fills", "pnl", "positions")
        for kind in ("csv", "parquet")
    ),
    "log.txt",
    "pnl.png",
)

#: The strategy's first log lines kept in report.json (all of them go to log.txt).
LOG_IN_REPORT = 1000
#: How to get the PNG, for the messages that say it is missing.
PLOT_HINT = "pip install 'tickwire-engine[plot]'"


class PlotUnavailable(ImportError):
    """matplotlib (the ``plot`` extra) cannot be imported, so no PNG can be drawn."""


def build_report(result: BacktestResult) -> dict[str, Any]:
    """The JSON report (see ``docs/backtest.md`` for every field).

    It streams the result's records (a pass over the fills, one over the orders, one over
    the PnL series; the latency percentiles read at their ranks), so a run's records on
    disk are never loaded whole."""
    symbols: dict[str, dict[str, int]] = {}
    by_cause: dict[str, int] = {}
    count = shares = notional = passive = aggressive = 0
    for f in result.fills:
        s = symbols.get(f.symbol)
        if s is None:
            s = symbols[f.symbol] = {"fills": 0, "bought": 0, "sold": 0, "notional_e4": 0}
        s["fills"] += 1
        s["bought" if f.side == "B" else "sold"] += f.quantity
        s["notional_e4"] += f.quantity * f.price
        by_cause[f.cause] = by_cause.get(f.cause, 0) + f.quantity
        count += 1
        shares += f.quantity
        notional += f.quantity * f.price
        if f.liquidity_flag in MAKER_FLAGS:  # A, and J: a hidden order's
            passive += f.quantity
        elif f.liquidity_flag in TAKER_FLAGS:
            aggressive += f.quantity
    per_symbol = symbol_statistics_all(result, symbols)
    total_pnl = 0
    for sym, s in symbols.items():
        pos = result.positions.get(sym, 0)
        cash = result.cash.get(sym, 0)
        mark = result.marks.get(sym)
        gross = cash + (pos * mark if mark is not None else 0)
        fees = result.fees.get(sym, 0)
        s.update(
            {
                "position": pos,
                "cash_e4": cash,
                "mark": mark if mark is not None else 0,
                "realised_e4": result.realised.get(sym, 0),
                "pnl_e4": gross - fees,  # net of fees
                "gross_pnl_e4": gross,
                "fees_e4": fees,
            }
        )
        s.update(per_symbol[sym])
        total_pnl += gross
    total_fees = sum(result.fees.values())
    orders_by_state: dict[str, int] = {}
    for o in result.orders:
        orders_by_state[o["state"]] = orders_by_state.get(o["state"], 0) + 1
    n_orders = sum(orders_by_state.values())
    points = len(result.pnl_series)
    last = result.pnl_series[-1] if points else None
    return {
        "config": result.config,
        "messages": result.messages,
        # messages of a type ITCH 5.0 does not define, skipped by the reader (not in messages)
        "unknown_types": result.unknown_types,
        "strategy_events": result.strategy_events,
        # what the venue's book made of the data (tickwire.engine.book's fault rules)
        "book_faults": result.book_faults,
        "orders": {
            "sent": n_orders - orders_by_state.get("refused", 0),
            "by_state": dict(sorted(orders_by_state.items())),
            "refused_by_risk": result.refusals,
            # venue answers naming a UserRefNum never sent: nothing to apply them to, and
            # an execution among them is a position risk cannot see
            "unknown_answers": result.unknown_answers,
            # executions among them: each trips the kill switch (docs/robustness.md)
            "unknown_executions": result.unknown_executions,
            "rejected_by_venue": dict(sorted(result.rejects.items())),
            "venue_messages": dict(sorted(result.updates.items())),
        },
        "fills": {
            "count": count,
            "shares": shares,
            "notional_e4": notional,
            "shares_by_cause": dict(sorted(by_cause.items())),
            "passive_shares": passive,
            "aggressive_shares": aggressive,
        },
        "pnl": {
            "total_e4": total_pnl - total_fees,  # net of fees
            "realised_e4": sum(result.realised.values()),
            "unrealised_e4": total_pnl - sum(result.realised.values()),
            "gross_e4": total_pnl,  # before fees
            "fees_e4": total_fees,  # fees paid less rebates received
            "net_e4": total_pnl - total_fees,
            "gross_position": sum(abs(p) for p in result.positions.values()),
            "series_points": points,
            "max_drawdown_e4": _max_drawdown(p.pnl for p in result.pnl_series),
            "final_series_pnl_e4": last.pnl if last is not None else 0,
        },
        # the fills replayed through the schedule: the one fee implementation, which the
        # run itself charged fill by fill (and the live engine charges executions with)
        "fees": FeeLedger.replay(result.fee_schedule, result.fills).as_dict(),
        "statistics": statistics(result),
        "symbols": dict(sorted(symbols.items())),
        "latency_ns": {
            "tick_to_venue": percentiles_of(result.tick_to_venue_ns),
            "order_to_ack": percentiles_of(result.order_to_ack_ns),
        },
        "runtime": {
            "wall_seconds": round(result.wall_seconds, 3),
            "messages_per_second": round(result.messages / result.wall_seconds)
            if result.wall_seconds > 0
            else None,
            "strategy_callback_ns": percentiles_of(result.callback_ns),
            "book_backend": result.book_backend,
        },
        # the first lines here; every line in log.txt (write_outputs)
        "log": result.log[:LOG_IN_REPORT],
        "log_lines": len(result.log),
    }


def _max_drawdown(series: Iterable[int]) -> int:
    peak = 0
    worst = 0
    for v in series:
        peak = max(peak, v)
        worst = max(worst, peak - v)
    return worst


def write_log(result: BacktestResult, out_dir: Path) -> Path | None:
    """log.txt in ``out_dir``: every ``ctx.log`` line of the run, streamed (None, and no
    file, when the strategy logged nothing)."""
    if not len(result.log):
        return None
    p = out_dir / "log.txt"
    with p.open("w") as f:
        for line in result.log:
            f.write(line + "\n")
    return p


def write_csv(result: BacktestResult, out_dir: Path) -> list[Path]:
    """orders.csv, fills.csv, pnl.csv and positions.csv in ``out_dir``: the tables of
    :mod:`tickwire.engine.backtest.frames` (:data:`~tickwire.engine.backtest.frames.SCHEMA`,
    one definition for the CSVs, the frames and Parquet), a null written empty."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, rows in iter_rows(result).items():  # streamed: the records may be on disk
        p = out_dir / f"{name}.csv"
        with p.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow([column for column, _ in SCHEMA[name]])
            w.writerows(rows)
        paths.append(p)
    return paths


def write_plot(result: BacktestResult, path: Path, title: str = "tickwire backtest") -> Path:
    """PnL (dollars) and gross position over the day as a PNG.

    Raises :class:`PlotUnavailable` when matplotlib (the ``plot`` extra) cannot be imported.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise PlotUnavailable(f"matplotlib cannot be imported ({exc}); {PLOT_HINT}") from exc

    hours = [p.timestamp / 3.6e12 for p in result.pnl_series]
    fig, (ax1, ax2) = plt.subplots(2, 1, sharex=True, figsize=(10, 6), dpi=100)
    ax1.plot(hours, [p.pnl / 1e4 for p in result.pnl_series], label="total PnL", color="tab:blue")
    ax1.plot(
        hours,
        [p.realised / 1e4 for p in result.pnl_series],
        label="realised",
        color="tab:green",
        linewidth=0.8,
    )
    ax1.axhline(0, color="grey", linewidth=0.5)
    ax1.set_ylabel("PnL ($)")
    ax1.legend(loc="upper left")
    ax1.set_title(title)
    ax1.grid(alpha=0.3)
    ax2.step(hours, [p.position for p in result.pnl_series], where="post", color="tab:orange")
    ax2.set_ylabel("gross position (shares)")
    ax2.set_xlabel("time (hours since midnight, exchange time)")
    ax2.grid(alpha=0.3)
    # The order flow is 09:30-16:00; keep the pre-open and after-hours tails short.
    if hours:
        ax2.set_xlim(min(9.0, hours[-1]), max(16.5, min(hours[-1], 16.5)))
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def write_outputs(
    result: BacktestResult,
    out_dir: Path,
    *,
    plot: bool = True,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write report.json, the CSVs, log.txt (the strategy's log lines, if any), the same
    tables as Parquet (when pyarrow is installed; ``runtime.parquet`` names the files or
    says why they were skipped) and (``plot``) pnl.png; return the report, with ``extra``
    (e.g. ``data``) added at its end.

    ``runtime.plot`` in the report says what became of the PNG: ``"pnl.png"``,
    ``"not requested"``, or ``"skipped: <reason>"`` when matplotlib is not installed (the
    rest is written all the same).

    The folder holds one run's files, whole (:func:`tickwire.cli.staged_folder`): they
    are written to a hidden folder inside it and moved in once all are written, report.json
    last; an earlier run's files of :data:`OUT_FILES` that this run does not write
    (pnl.png, log.txt, Parquet tables) are removed; a run that fails while writing leaves
    the folder as it was. Why: ``--no-plot`` into the folder of an earlier run left that
    run's pnl.png beside this run's report, and a full disk left a half-written
    orders.csv beside the earlier run's report.json.
    """
    report = build_report(result)
    with staged_folder(out_dir, OUT_FILES, last="report.json") as stage:
        write_csv(result, stage)
        write_log(result, stage)
        plot_outcome = "not requested"
        if plot:
            try:
                write_plot(
                    result,
                    stage / "pnl.png",
                    title=f"tickwire backtest: {result.config.get('strategy', '')}",
                )
                plot_outcome = "pnl.png"
            except PlotUnavailable as exc:
                plot_outcome = f"skipped: {exc}"
        report["runtime"]["plot"] = plot_outcome
        try:  # the same tables as Parquet, next to the CSVs
            names = [p.name for p in write_parquet(result, stage)]
            report["runtime"]["parquet"] = ", ".join(names)
        except ImportError as exc:
            report["runtime"]["parquet"] = f"skipped: {exc}"
        report.update(extra or {})
        (stage / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def _skipped(report: dict[str, Any]) -> str:
    """`` (N of unknown types skipped)`` after the data line's messages, when any were."""
    n = report.get("unknown_types", 0)
    return f" ({n:,} of unknown types skipped)" if n else ""


def _usd(e4: int) -> str:
    sign = "-" if e4 < 0 else ""
    return f"{sign}${abs(e4) / 1e4:,.2f}"


def _lat(p: dict[str, Any]) -> str:
    if not p["count"]:
        return "n/a"
    return f"P50 {p['p50'] / 1e3:.1f} us  P99 {p['p99'] / 1e3:.1f} us  P99.9 {p['p99_9'] / 1e3:.1f} us  tail x{p['tail_ratio']}"


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:,.2f}"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:.1f}%"


def summary_text(report: dict[str, Any]) -> str:
    """A readable multi-line summary for the terminal."""
    o, fl, pnl = report["orders"], report["fills"], report["pnl"]
    rt = report["runtime"]
    lines = [
        f"backtest  {report['config'].get('strategy', '')}",
        f"  data      {report['messages']:,} ITCH messages{_skipped(report)}, {report['strategy_events']:,} strategy events",
        f"  latency   feed {report['config'].get('feed_latency')}  order {report['config'].get('order_latency')}  ack {report['config'].get('ack_latency')} (ns)",
        f"  orders    {o['sent']:,} sent, states {o['by_state']}",
        f"  risk      refused {sum(o['refused_by_risk'].values()):,} {o['refused_by_risk'] or ''}",
        f"  venue     rejected {sum(o['rejected_by_venue'].values()):,} {o['rejected_by_venue'] or ''}",
        f"  fills     {fl['count']:,} fills, {fl['shares']:,} shares ({fl['passive_shares']:,} passive, {fl['aggressive_shares']:,} aggressive), notional {_usd(fl['notional_e4'])}",
        f"  pnl       total {_usd(pnl['total_e4'])}  realised {_usd(pnl['realised_e4'])}  unrealised {_usd(pnl['unrealised_e4'])}  max drawdown {_usd(pnl['max_drawdown_e4'])}",
        f"  position  {pnl['gross_position']:,} shares gross at the end",
        f"  tick->venue   {_lat(report['latency_ns']['tick_to_venue'])}",
        f"  order->ack    {_lat(report['latency_ns']['order_to_ack'])}",
        f"  runtime   {rt['wall_seconds']} s, {rt['messages_per_second'] or 0:,} msg/s, "
        f"{rt['book_backend']} books",
    ]
    st = report.get("statistics")
    if st is not None:
        lines.insert(
            8,
            f"  stats     Sharpe {_num(st['sharpe'])}  Sortino {_num(st['sortino'])} "
            f"(per-minute, annualised)  max drawdown {_usd(st['max_drawdown_e4'])} "
            f"over {st['max_drawdown_duration_ns'] / 6e10:,.1f} min",
        )
        lines.insert(
            9,
            f"  trading   turnover {_usd(st['turnover_e4'])}  fill ratio {_pct(st['fill_ratio'])}"
            f"  orders filled {_pct(st['orders_filled_ratio'])}  queue ahead at fill "
            f"{_num(st['avg_queue_ahead_at_fill'])} shares",
        )
    fees = report.get("fees")
    charged = fees is not None and any(fees["schedule"].values())
    if fees is not None and (charged or fees["unknown_flag_fills"]):
        lines.insert(
            8,
            f"  fees      gross {_usd(pnl['gross_e4'])}  fees {_usd(pnl['fees_e4'])} "
            f"(remove {_usd(fees['removed_e4'])}, add {_usd(fees['added_e4'])})  "
            f"net {_usd(pnl['net_e4'])}"
            + (
                f"  ({fees['unknown_flag_fills']:,} fills with an unpriced flag)"
                if fees["unknown_flag_fills"]
                else ""
            ),
        )
    if o.get("unknown_answers"):
        lines.insert(
            6, f"  venue     {o['unknown_answers']:,} answers for orders never sent (ignored)"
        )
    if o.get("unknown_executions"):
        lines.insert(
            6,
            f"  risk      {o['unknown_executions']:,} executions of orders never sent: "
            "kill switch tripped",
        )
    faults = fault_phrases(report.get("book_faults", {}))
    if faults:  # after "data": the other lines above are placed by index
        lines.insert(2, f"  book      {', '.join(faults)}")
    plot = str(rt.get("plot", ""))
    if plot.startswith("skipped: "):
        lines.append(f"  plot      pnl.png skipped: {plot.removeprefix('skipped: ')}")
    top = sorted(report["symbols"].items(), key=lambda kv: -abs(kv[1]["pnl_e4"]))[:5]
    if top:
        lines.append("  top symbols by |PnL|:")
        for sym, s in top:
            line = f"    {sym:<6} pnl {_usd(s['pnl_e4']):>12}  pos {s['position']:>7,}  fills {s['fills']:>5,}"
            if "fill_ratio" in s:
                if charged:
                    line += f"  fees {_usd(s.get('fees_e4', 0)):>9}"
                line += (
                    f"  fill ratio {_pct(s['fill_ratio']):>6}"
                    f"  queue {_num(s['avg_queue_ahead_at_fill']):>9}"
                )
            lines.append(line)
    return "\n".join(lines)
