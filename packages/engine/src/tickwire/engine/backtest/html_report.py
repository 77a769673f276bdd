"""The backtest report as one self-contained HTML file (``backtest --html report.html``).

The page is made with plotly (the ``html`` extra) and carries plotly.js inlined
(``include_plotlyjs=True``), so it opens from a file with no network at view time: the
file is the whole report. Top to bottom:

1. the headline figures (net PnL, gross, fees, fills, Sharpe, Sortino, drawdown) as text;
2. the equity curve (net PnL in dollars over exchange time, realised beside it) and the
   drawdown curve (net PnL minus its running peak, the peak starting at 0), one x axis;
3. one symbol's price (its mark: the venue book's mid at each fill and PnL sample, see
   :attr:`BacktestResult.mark_series`) with our buys and sells on it, aggressive and
   passive apart; the symbol is ``symbol`` or else the one with the most fills;
4. histograms of the tick-to-venue and order-to-ack latencies (microseconds);
5. the tables: statistics, fees, orders by state, and every symbol's breakdown.

Everything but the runtime comes from the deterministic report, so two runs give the
same page apart from the runtime line. :func:`write_html` raises
:class:`HtmlUnavailable` (an ``ImportError``) when plotly cannot be imported and
:class:`UnknownSymbol` (a ``ValueError``) for a chart symbol the run never traded or
marked; it writes nothing then.
"""

from __future__ import annotations

import html
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tickwire.engine.backtest.fees import MAKER_FLAGS, TAKER_FLAGS
from tickwire.engine.backtest.runner import BacktestResult

__all__ = ["HTML_HINT", "HtmlUnavailable", "UnknownSymbol", "chart_symbol", "write_html"]

#: How to get the HTML report, for the messages that say it is missing.
HTML_HINT = "pip install 'tickwire-engine[html]'"

# Exchange time is ns since midnight; plotly's date axis needs a day: a fixed one whose
# date the axis formats never show.
_DAY = datetime(2000, 1, 1)


class HtmlUnavailable(ImportError):
    """plotly (the ``html`` extra) cannot be imported, so no HTML report can be made."""


class UnknownSymbol(ValueError):
    """The chart symbol asked for has no fills and no marks in this run."""


def require_plotly() -> None:
    """Raise :class:`HtmlUnavailable` unless plotly imports (check before a long run)."""
    try:
        import plotly  # noqa: F401
    except ImportError as exc:
        raise HtmlUnavailable(f"plotly cannot be imported ({exc}); {HTML_HINT}") from exc


def chart_symbol(result: BacktestResult, symbol: str | None = None) -> str | None:
    """The symbol whose price chart the page shows: ``symbol`` (trailing blanks of the
    wire form ignored) or, by default, the one with the most fills (ties: the first
    name); None when nothing traded. Raises :class:`UnknownSymbol` for a ``symbol`` with
    no fills and no marks."""
    traded = sorted({f.symbol for f in result.fills} | set(result.mark_series))
    if symbol is not None:
        for s in traded:
            if s.rstrip() == symbol.rstrip():
                return s
        names = ", ".join(s.rstrip() for s in traded[:10]) or "none"
        more = f" and {len(traded) - 10} more" if len(traded) > 10 else ""
        raise UnknownSymbol(
            f"--html-symbol {symbol}: no fills or marks for it in this run (traded: {names}{more})"
        )
    if not result.fills:
        return None
    counts: dict[str, int] = {}
    for f in result.fills:
        counts[f.symbol] = counts.get(f.symbol, 0) + 1
    return min(counts, key=lambda s: (-counts[s], s))


def _t(ns: int) -> datetime:
    return _DAY + timedelta(microseconds=ns // 1_000)


def _usd(e4: int | None) -> str:
    if e4 is None:
        return "n/a"
    sign = "-" if e4 < 0 else ""
    return f"{sign}${abs(e4) / 1e4:,.2f}"


def _num(x: float | None, fmt: str = "{:,.2f}") -> str:
    return "n/a" if x is None else fmt.format(x)


def _table(headers: list[str], rows: list[list[Any]], cls: str = "") -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _figures(result: BacktestResult, symbol: str | None) -> list[Any]:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    series = result.pnl_series
    times = [_t(p.timestamp) for p in series]
    peak = 0
    dd = []
    for p in series:
        peak = max(peak, p.pnl)
        dd.append((p.pnl - peak) / 1e4)
    equity = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        row_heights=[0.65, 0.35],
        vertical_spacing=0.06,
        subplot_titles=("Net PnL (after fees)", "Drawdown from the running peak"),
    )
    equity.add_trace(
        go.Scatter(
            x=times,
            y=[p.pnl / 1e4 for p in series],
            name="net PnL",
            mode="lines",
            line={"shape": "hv"},
        ),
        row=1,
        col=1,
    )
    equity.add_trace(
        go.Scatter(
            x=times,
            y=[p.realised / 1e4 for p in series],
            name="realised",
            mode="lines",
            line={"width": 1, "shape": "hv"},
        ),
        row=1,
        col=1,
    )
    equity.add_trace(
        go.Scatter(
            x=times, y=dd, name="drawdown", mode="lines", fill="tozeroy", line={"shape": "hv"}
        ),
        row=2,
        col=1,
    )
    equity.update_yaxes(title_text="$", row=1, col=1)
    equity.update_yaxes(title_text="$", row=2, col=1)
    equity.update_xaxes(tickformat="%H:%M", hoverformat="%H:%M:%S.%L")
    equity.update_layout(height=560, title="Equity and drawdown (exchange time)")
    figures = [equity]

    price = go.Figure()
    if symbol is not None:
        marks = result.mark_series.get(symbol, [])
        price.add_trace(
            go.Scatter(
                x=[_t(t) for t, _ in marks],
                y=[m / 1e4 for _, m in marks],
                name="mark (mid)",
                mode="lines",
                line={"shape": "hv", "color": "grey"},
            )
        )
        maker, taker = MAKER_FLAGS, TAKER_FLAGS  # passive: A, and J (a hidden order's)
        for side, flags, name, marker in (
            ("B", maker, "buy, passive", {"symbol": "triangle-up", "color": "green"}),
            ("B", taker, "buy, aggressive", {"symbol": "triangle-up-open", "color": "green"}),
            ("S", maker, "sell, passive", {"symbol": "triangle-down", "color": "red"}),
            ("S", taker, "sell, aggressive", {"symbol": "triangle-down-open", "color": "red"}),
        ):
            fills = [
                f
                for f in result.fills
                if f.symbol == symbol and f.side == side and f.liquidity_flag in flags
            ]
            if fills:
                price.add_trace(
                    go.Scatter(
                        x=[_t(f.timestamp) for f in fills],
                        y=[f.price / 1e4 for f in fills],
                        name=name,
                        mode="markers",
                        marker={**marker, "size": 8},
                        text=[f"{f.quantity} @ {f.price / 1e4:.4f} ({f.cause})" for f in fills],
                    )
                )
    title = f"Fills on {symbol.rstrip()}" if symbol is not None else "No fills"
    price.update_layout(height=420, title=title, yaxis_title="$")
    price.update_xaxes(tickformat="%H:%M", hoverformat="%H:%M:%S.%L")
    figures.append(price)

    lat = make_subplots(rows=1, cols=2, subplot_titles=("tick to venue", "order to ack"))
    lat.add_trace(
        go.Histogram(x=[v / 1e3 for v in result.tick_to_venue_ns], name="tick to venue"), 1, 1
    )
    lat.add_trace(
        go.Histogram(x=[v / 1e3 for v in result.order_to_ack_ns], name="order to ack"), 1, 2
    )
    lat.update_xaxes(title_text="microseconds")
    lat.update_yaxes(title_text="orders")
    lat.update_layout(height=360, title="Latency (simulated)", showlegend=False)
    figures.append(lat)
    return figures


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1200px; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.headline td:first-child { font-weight: 600; }
"""


def write_html(
    result: BacktestResult, report: dict[str, Any], path: Path, symbol: str | None = None
) -> Path:
    """Write the self-contained HTML report of ``result`` (whose JSON report is
    ``report``, from :func:`~tickwire.engine.backtest.report.build_report`) to ``path``;
    the price chart is ``symbol``'s (default: the most-filled). See the module docs."""
    require_plotly()
    chosen = chart_symbol(result, symbol)  # raises UnknownSymbol before anything is written
    import plotly.io as pio

    pnl, fl, st = report["pnl"], report["fills"], report["statistics"]
    fees = report.get("fees", {})
    headline = _table(
        ["figure", "value"],
        [
            ["total PnL (net)", _usd(pnl["total_e4"])],
            ["gross PnL", _usd(pnl.get("gross_e4", pnl["total_e4"]))],
            ["fees (less rebates)", _usd(pnl.get("fees_e4", 0))],
            ["realised / unrealised", f"{_usd(pnl['realised_e4'])} / {_usd(pnl['unrealised_e4'])}"],
            ["fills", f"{fl['count']:,}"],
            [
                "shares (passive / aggressive)",
                f"{fl['shares']:,} ({fl['passive_shares']:,} / {fl['aggressive_shares']:,})",
            ],
            ["orders sent", f"{report['orders']['sent']:,}"],
            [
                "Sharpe / Sortino (per-minute, annualised)",
                f"{_num(st['sharpe'])} / {_num(st['sortino'])}",
            ],
            [
                "max drawdown (duration)",
                f"{_usd(st['max_drawdown_e4'])} ({st['max_drawdown_duration_ns'] / 6e10:,.1f} min)",
            ],
            ["turnover", _usd(st["turnover_e4"])],
            [
                "fill ratio / orders filled",
                f"{_num(st['fill_ratio'], '{:.1%}')} / {_num(st['orders_filled_ratio'], '{:.1%}')}",
            ],
            ["avg queue ahead at fill (shares)", _num(st["avg_queue_ahead_at_fill"])],
            ["gross position at the end", f"{pnl['gross_position']:,} shares"],
        ],
        "headline",
    )
    stats_rows = [[k, json.dumps(v) if not isinstance(v, str) else v] for k, v in st.items()]
    fee_rows = [
        ["schedule", json.dumps(fees.get("schedule", {}))],
        ["total", _usd(fees.get("total_e4", 0))],
        ["to remove (flag R)", _usd(fees.get("removed_e4", 0))],
        ["to add (flag A)", _usd(fees.get("added_e4", 0))],
        ["fills with an unpriced flag", fees.get("unknown_flag_fills", 0)],
    ]
    order_rows = [[k, f"{v:,}"] for k, v in report["orders"]["by_state"].items()]
    sym_rows = [
        [
            sym.rstrip(),
            s["fills"],
            f"{s['bought']:,}",
            f"{s['sold']:,}",
            f"{s['position']:,}",
            _usd(s["pnl_e4"]),
            _usd(s.get("gross_pnl_e4", s["pnl_e4"])),
            _usd(s.get("fees_e4", 0)),
            _num(s.get("fill_ratio"), "{:.1%}"),
            _num(s.get("avg_queue_ahead_at_fill")),
        ]
        for sym, s in sorted(report["symbols"].items(), key=lambda kv: -kv[1]["fills"])
    ]
    parts = []
    config = {"displaylogo": False, "responsive": True}
    for i, fig in enumerate(_figures(result, chosen)):
        parts.append(
            pio.to_html(
                fig,
                include_plotlyjs=i == 0,  # inlined once: no network at view time
                full_html=False,
                config=config,
                div_id=f"figure-{i}",
            )
        )
    strategy = html.escape(str(report["config"].get("strategy", "")))
    data = html.escape(str(report.get("data", "")))
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>tickwire backtest: {strategy}</title>
<style>{_STYLE}</style></head>
<body>
<h1>tickwire backtest: {strategy}</h1>
<p>{data} &middot; {report["messages"]:,} ITCH messages &middot; latency feed
{html.escape(str(report["config"].get("feed_latency")))}, order
{html.escape(str(report["config"].get("order_latency")))}, ack
{html.escape(str(report["config"].get("ack_latency")))} (ns)</p>
{headline}
{parts[0]}
{parts[1]}
{parts[2]}
<h2>Statistics</h2>
<p>Sharpe and Sortino on per-minute changes of the net PnL, 09:30-16:00, annualised by
sqrt(252 &times; 390); money in dollars, <code>_e4</code> keys in Price(4) &times; shares.</p>
{_table(["statistic", "value"], stats_rows)}
<h2>Fees and rebates</h2>
{_table(["", "value"], fee_rows)}
<h2>Orders by state</h2>
{_table(["state", "orders"], order_rows)}
<h2>Symbols</h2>
{
        _table(
            [
                "symbol",
                "fills",
                "bought",
                "sold",
                "position",
                "net PnL",
                "gross PnL",
                "fees",
                "fill ratio",
                "queue ahead",
            ],
            sym_rows,
        )
    }
</body></html>
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)  # never a half-written report under the asked-for name
    return path
