"""Standard statistics of a backtest: Sharpe and Sortino ratios, drawdown, turnover,
fill ratio, queue position at fill, and the same per symbol.

Everything here is a pure function of a :class:`BacktestResult`, so it is as
deterministic as the run, and reads its records as streams (a pass over each; they may be
on disk, :mod:`tickwire.engine.backtest.spill`). The rules (the same text is in ``docs/backtest.md``):

* **Sharpe and Sortino** are computed on *per-minute PnL changes* in exchange time. The
  net PnL (after fees) at the end of each minute is the last PnL sample at or before
  it; the minutes run from the first sample's minute to the last sample's, clipped to
  the regular session 09:30-16:00 (pre-open and after-hours minutes are not trading
  minutes). With ``x`` the changes, ``Sharpe = mean(x) / stdev(x) * sqrt(252 * 390)``
  (population standard deviation; 252 trading days of 390 minutes a year, so the ratio
  is annualised as if every day were this one) and ``Sortino = mean(x) / downside(x) *
  sqrt(252 * 390)`` with ``downside(x) = sqrt(mean(min(x, 0)**2))``. PnL is not a
  return on capital, so these are ratios of money to money: comparable between runs of
  the same strategy, not with a fund's. ``None`` when there are fewer than two minutes
  or the deviation is zero (no risk taken, or no losing minute for Sortino).
* **Max drawdown** is the largest fall of the net PnL series from its running peak (the
  peak starts at 0, the PnL before the first fill); its **duration** is the longest time
  the series spent below a previous peak, from the peak's sample to the first sample
  back at or above it (or the last sample, if it never recovered), in ns.
* **Turnover** is the traded notional (bought plus sold, Price(4) x shares) and shares.
* **Fill ratio** is shares filled over shares ordered, over the orders the venue got
  (refused orders never left; a replacement counts its own quantity); ``orders_filled``
  is the share of those orders with at least one fill.
* **Queue position at fill** is, for each passive fill (flag ``A``, or ``J``: a hidden
  order's), the shares that
  were ahead of our order at its price when it joined the queue (the venue's FIFO place
  from the L3 book, :attr:`Fill.queue_ahead`), averaged over passive fills.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from typing import Any

from tickwire.engine.backtest.fees import MAKER_FLAGS, TAKER_FLAGS
from tickwire.engine.backtest.runner import BacktestResult, PnlPoint

__all__ = [
    "MINUTES_PER_YEAR",
    "SESSION_CLOSE_NS",
    "SESSION_OPEN_NS",
    "drawdown",
    "minute_changes",
    "sharpe_sortino",
    "statistics",
    "symbol_statistics",
    "symbol_statistics_all",
]

NS_PER_MINUTE = 60_000_000_000
SESSION_OPEN_NS = 34_200 * 1_000_000_000  # 09:30:00
SESSION_CLOSE_NS = 57_600 * 1_000_000_000  # 16:00:00
#: The annualisation: 252 trading days of 390 one-minute samples.
MINUTES_PER_YEAR = 252 * 390


def minute_changes(series: Sequence[PnlPoint]) -> list[int]:
    """Net PnL changes minute by minute over the session part of ``series`` (see the
    module docs); empty when the series has no session minute."""
    if not series:
        return []
    start = max(SESSION_OPEN_NS, series[0].timestamp // NS_PER_MINUTE * NS_PER_MINUTE)
    end = min(SESSION_CLOSE_NS, -(-series[-1].timestamp // NS_PER_MINUTE) * NS_PER_MINUTE)
    if end <= start:
        return []
    values: list[int] = []
    last = 0
    points = iter(series)
    point = next(points, None)
    for edge in range(start, end + 1, NS_PER_MINUTE):
        while point is not None and point.timestamp <= edge:
            last = point.pnl
            point = next(points, None)
        values.append(last)
    return [b - a for a, b in itertools.pairwise(values)]


def sharpe_sortino(changes: Sequence[int]) -> tuple[float | None, float | None]:
    """Annualised Sharpe and Sortino ratios of per-minute PnL ``changes``."""
    n = len(changes)
    if n < 2:
        return None, None
    mean = sum(changes) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in changes) / n)
    down = math.sqrt(sum(min(x, 0) ** 2 for x in changes) / n)
    scale = math.sqrt(MINUTES_PER_YEAR)
    sharpe = round(mean / sd * scale, 4) if sd > 0 else None
    sortino = round(mean / down * scale, 4) if down > 0 else None
    return sharpe, sortino


def drawdown(series: Sequence[PnlPoint]) -> tuple[int, int]:
    """(max drawdown, longest time under water in ns) of the net PnL series."""
    if not series:
        return 0, 0
    peak, peak_t = 0, series[0].timestamp
    worst = longest = 0
    for p in series:
        if p.pnl >= peak:
            longest = max(longest, p.timestamp - peak_t)
            peak, peak_t = p.pnl, p.timestamp
        else:
            worst = max(worst, peak - p.pnl)
    if series[-1].pnl < peak:  # never recovered: under water to the end
        longest = max(longest, series[-1].timestamp - peak_t)
    return worst, longest


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 6) if den else None


def statistics(result: BacktestResult) -> dict[str, Any]:
    """The report's ``statistics`` object (see the module docs for each rule)."""
    changes = minute_changes(result.pnl_series)
    sharpe, sortino = sharpe_sortino(changes)
    dd, dd_ns = drawdown(result.pnl_series)
    ordered = filled = sent = sent_filled = 0
    for o in result.orders:
        if o["state"] != "refused":
            sent += 1
            ordered += int(o["quantity"])
            filled += int(o["filled"])
            sent_filled += 1 if o["filled"] else 0
    turnover = turnover_shares = queue = passive = 0
    for f in result.fills:
        turnover += f.quantity * f.price
        turnover_shares += f.quantity
        if f.liquidity_flag in MAKER_FLAGS:
            queue += f.queue_ahead
            passive += 1
    return {
        "sampling": "per-minute net PnL changes, 09:30-16:00, annualised by sqrt(252*390)",
        "minutes": len(changes),
        "sharpe": sharpe,
        "sortino": sortino,
        "max_drawdown_e4": dd,
        "max_drawdown_duration_ns": dd_ns,
        "turnover_e4": turnover,
        "turnover_shares": turnover_shares,
        "fill_ratio": _ratio(filled, ordered),
        "orders_filled_ratio": _ratio(sent_filled, sent),
        "avg_queue_ahead_at_fill": round(queue / passive, 2) if passive else None,
    }


def symbol_statistics(result: BacktestResult, symbol: str) -> dict[str, Any]:
    """Per-symbol additions to the report's ``symbols`` entries."""
    return symbol_statistics_all(result, [symbol])[symbol]


def symbol_statistics_all(
    result: BacktestResult, symbols: Iterable[str] | None = None
) -> dict[str, dict[str, Any]]:
    """:func:`symbol_statistics` of each of ``symbols`` (default: every symbol filled),
    in one pass over the fills and one over the orders."""
    # symbol -> [passive shares, aggressive shares, passive fills, queue ahead summed]
    fills: dict[str, list[int]] = {}
    for f in result.fills:
        acc = fills.get(f.symbol)
        if acc is None:
            acc = fills[f.symbol] = [0, 0, 0, 0]
        if f.liquidity_flag in MAKER_FLAGS:  # A, and J: a hidden order's
            acc[0] += f.quantity
            acc[2] += 1
            acc[3] += f.queue_ahead
        elif f.liquidity_flag in TAKER_FLAGS:
            acc[1] += f.quantity
    # orders and fills both carry the wire form; compare trimmed
    orders: dict[str, list[int]] = {}  # trimmed symbol -> [ordered, filled]
    for o in result.orders:
        if o["state"] != "refused":
            acc = orders.get(str(o["symbol"]).rstrip())
            if acc is None:
                acc = orders[str(o["symbol"]).rstrip()] = [0, 0]
            acc[0] += int(o["quantity"])
            acc[1] += int(o["filled"])
    out = {}
    for symbol in fills if symbols is None else symbols:
        p_shares, a_shares, p_fills, queue = fills.get(symbol, (0, 0, 0, 0))
        ordered, filled = orders.get(symbol.rstrip(), (0, 0))
        out[symbol] = {
            "passive_shares": p_shares,
            "aggressive_shares": a_shares,
            "fill_ratio": _ratio(filled, ordered),
            "avg_queue_ahead_at_fill": round(queue / p_fills, 2) if p_fills else None,
        }
    return out
