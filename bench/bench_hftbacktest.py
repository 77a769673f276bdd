"""Backtest side by side with hftbacktest 2.4.4: the same order flow, strategy and latencies.

    uv run --no-sync python bench/bench_hftbacktest.py [--messages 2000000] [--symbols 200]
        [--seed 1] [--workloads a,a0,b,c] [--compiled NAME] [--repeat 1] [--no-cold]
        [--no-python-strategy]
    uv run --no-sync python bench/bench_hftbacktest.py --memory
        [--memory-sizes 1000000,2000000,5000000,10000000,20000000] [--memory-dir DIR]
    uv run --no-sync python bench/bench_hftbacktest.py --memory-trace [--messages 1000000]

The day is ``tickwire.itch.generator.generate_day(messages, symbols, seed)``, built once in
memory, and converted once (neither is timed) into hftbacktest's L3 event arrays
(``hftbacktest.event_dtype``), one array per symbol, every row both an exchange and a local
event (``EXCH_EVENT | LOCAL_EVENT``) with ``local_ts = exch_ts + feed latency``:

* Add (A, F): ``ADD_ORDER_EVENT`` with the ITCH order reference as the order id;
* Executed (E, C): ``FILL_EVENT`` for the resting order, then ``MODIFY_ORDER_EVENT`` to the
  shares left, or ``CANCEL_ORDER_EVENT`` when none are (hftbacktest's L3 books change on
  the modify/cancel, its queue model fills on the fill: the Databento MBO convention);
* Cancel (X): ``MODIFY_ORDER_EVENT`` to the shares left; Delete (D): ``CANCEL_ORDER_EVENT``;
* Replace (U): ``CANCEL_ORDER_EVENT`` of the old reference and ``ADD_ORDER_EVENT`` of the new
  one (a replace loses priority, in both models);
* non-displayed Trade (P): ``TRADE_EVENT`` (hftbacktest's L3 exchange never fills on it;
  tickwire's venue does when it prints through a resting order of ours);
* System events, directory and trading actions: nothing (hftbacktest has no market
  hours; the strategy below quotes only between System Events Q and M instead).

Prices stay Price(4) integers: ``tick_size(1.0)``, so a price tick is a Price(4) unit and
both sides compare exact integers.

The strategy is the same in both: join the best bid and offer with ``quote_size`` shares,
skew one tick per ``skew_shares`` of inventory, stop a side at ``max_inventory``, move a
quote at most once per ``requote_ns``. In tickwire it is the shipped ``MarketMaker`` on one
symbol with ``improve_spread_ticks`` out of reach (so it joins, never improves); in
hftbacktest it is a numba function written to the same rules (``join_bbo_hbt``), which moves
a quote by cancel and new order (its L3 exchange has no modify) and acts when the BBO of
its asset changed (``wait_next_feed``). Latencies are constant in both: feed
``--feed-latency`` (hftbacktest: in the data's local timestamps), order entry
``--order-latency`` and answers ``--ack-latency`` (hftbacktest: ``constant_order_latency``).

Workloads (the issue's):

* ``a``: the busiest symbol alone (its messages and the system events);
* ``b``: the whole day, the strategy on the busiest symbol (hftbacktest: every symbol an
  asset, the strategy on one of them);
* ``a0``: workload a with a strategy that subscribes to the symbol, declares BBO changes and
  does nothing when called (``BboFloor``): what calling a plain-Python strategy on each BBO
  change costs before it does anything (hftbacktest runs its join strategy, as in a, so the
  ratio says how far that floor alone is from hftbacktest's whole run);
* ``c``: the whole day, no strategy (tickwire: ``Idle``, a strategy that does nothing and,
  where the engine has ``Consumes``, declares that it consumes no market event;
  hftbacktest: ``elapse`` to the end of the data).

Rows per workload: tickwire's reference backtest; tickwire's compiled core (``--compiled``,
run as the CLI's ``--backend NAME`` does, through ``BacktestConfig(book_backend=NAME)`` or
``run_backtest(..., backend=NAME)`` when that keyword exists); hftbacktest warm (in this
process, its JIT compile paid on a small slice before timing) and cold (a fresh Python
process: import, JIT compile and run, measured from outside with ``os.wait4``). Each shows
wall and CPU seconds (``time.process_time``: steadier than wall on a shared machine), the
workload's ITCH messages per CPU second, the equivalent hftbacktest events per CPU second
(the converted rows of the same flow over the same time), and hftbacktest warm's CPU time
over the row's: above 1.0x the row is faster than hftbacktest. Where a strategy runs, a last
row (unless ``--no-python-strategy``) runs hftbacktest warm with the same strategy as plain
Python (the ``@njit`` function's ``py_func``: the code interpreted, calling the compiled
backtest), the footing tickwire's plain-Python strategies stand on; tickwire's rows note
their ratio to it.

``--memory`` writes generated days of increasing length once to a directory (a temporary
one unless ``--memory-dir``) and runs each backtest (reference and compiled) on each, in a
fresh process streaming the file (the reference through ``iter_binaryfile``, the compiled
core given the path), with the strategy on the day's
busiest symbol, and builds its report (from the records the run kept on disk); it prints
the peak RSS (``ru_maxrss``) over the process's RSS before the run, and the CPU time of
the run and the report. ``--memory-trace`` runs the reference under ``tracemalloc`` on two day lengths and
prints the allocation sites that grew with the day.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tickwire.engine.backtest import BacktestConfig, BacktestResult, run_backtest
from tickwire.engine.backtest.report import build_report
from tickwire.engine.backtest.runner import BACKENDS
from tickwire.engine.cli_backtest import DEFAULT_RISK
from tickwire.engine.risk import RiskLimits, parse_risk_limits
from tickwire.engine.strategy import Consumes, Context, MarketMaker, Strategy
from tickwire.itch import (
    AddOrder,
    AddOrderMPID,
    Message,
    OrderCancel,
    OrderDelete,
    OrderExecuted,
    OrderExecutedWithPrice,
    OrderReplace,
    SystemEvent,
    Trade,
    encode,
)
from tickwire.itch.generator import generate_day

HERE = Path(__file__).resolve()

# hftbacktest's event layout and flags (hftbacktest.types, version 2.4.4); written out so
# the conversion does not import hftbacktest (and numba) in processes that do not run it.
EVENT_DTYPE = np.dtype(
    [
        ("ev", "u8"),
        ("exch_ts", "i8"),
        ("local_ts", "i8"),
        ("px", "f8"),
        ("qty", "f8"),
        ("order_id", "u8"),
        ("ival", "i8"),
        ("fval", "f8"),
    ],
    align=True,
)
TRADE_EVENT = 2
ADD_ORDER_EVENT = 10
CANCEL_ORDER_EVENT = 11
MODIFY_ORDER_EVENT = 12
FILL_EVENT = 13
EXCH_EVENT = 1 << 31
LOCAL_EVENT = 1 << 30
BUY_EVENT = 1 << 29
SELL_EVENT = 1 << 28
_BOTH = EXCH_EVENT | LOCAL_EVENT

#: One asset's events (rows of EVENT_DTYPE).
Events = np.ndarray[Any, np.dtype[np.void]]

#: MarketMaker's rules with ``improve_spread_ticks`` out of reach: it joins the BBO.
JOIN_CONFIG: dict[str, Any] = {
    "quote_size": 100,
    "max_inventory": 500,
    "skew_shares": 200,
    "tick": 100,
    "improve_spread_ticks": 1_000_000_000,
    "requote_ns": 1_000_000,
}


# -- the day and its conversion ---------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Day:
    """A generated day, its busiest symbol and market hours."""

    messages: list[Message]
    busiest_locate: int
    busiest_symbol: str
    market_open: int  # System Event Q
    market_close: int  # System Event M

    def symbol_messages(self) -> list[Message]:
        """The busiest symbol's messages and the system events (workload a)."""
        keep = (0, self.busiest_locate)
        return [m for m in self.messages if m.stock_locate in keep]


def busiest(messages: Iterable[Message]) -> tuple[int, str, int, int]:
    """(locate, symbol, market open, market close) of a day, in one pass."""
    counts: Counter[int] = Counter()
    symbols: dict[int, str] = {}
    opened, closed = 0, 2**62
    for m in messages:
        counts[m.stock_locate] += 1
        stock = getattr(m, "stock", None)
        if stock is not None and m.stock_locate not in symbols:
            symbols[m.stock_locate] = str(stock).strip()
        if isinstance(m, SystemEvent):
            if m.event_code == "Q":
                opened = m.timestamp
            elif m.event_code == "M":
                closed = m.timestamp
    del counts[0]
    locate = counts.most_common(1)[0][0]
    return locate, symbols[locate], opened, closed


def make_day(messages: int, symbols: int, seed: int) -> Day:
    day = list(generate_day(messages, symbols, seed))
    return Day(day, *busiest(day))


def to_events(messages: Iterable[Message], feed_latency: int) -> dict[int, Events]:
    """hftbacktest L3 event arrays per stock locate (see the module docs)."""
    rows: dict[int, list[tuple[int, int, int, float, float, int, int, float]]] = {}
    orders: dict[int, tuple[int, int, int]] = {}  # ref -> (side flag, price, shares)
    last_ts = 0
    for m in messages:
        ts = max(m.timestamp, last_ts)  # hftbacktest needs exchange time in order
        last_ts = ts
        local = ts + feed_latency
        out = rows.setdefault(m.stock_locate, [])
        if isinstance(m, AddOrder | AddOrderMPID):
            side = BUY_EVENT if m.buy_sell_indicator == "B" else SELL_EVENT
            orders[m.order_reference_number] = (side, m.price, m.shares)
            out.append(
                (
                    _BOTH | ADD_ORDER_EVENT | side,
                    ts,
                    local,
                    m.price,
                    m.shares,
                    m.order_reference_number,
                    0,
                    0.0,
                )
            )
        elif isinstance(m, OrderExecuted | OrderExecutedWithPrice):
            ref = m.order_reference_number
            side, price, _ = orders[ref]
            px = m.execution_price if isinstance(m, OrderExecutedWithPrice) else price
            out.append((_BOTH | FILL_EVENT | side, ts, local, px, m.executed_shares, ref, 0, 0.0))
            _reduce(out, orders, ref, m.executed_shares, ts, local)
        elif isinstance(m, OrderCancel):
            _reduce(out, orders, m.order_reference_number, m.cancelled_shares, ts, local)
        elif isinstance(m, OrderDelete):
            side, price, _ = orders.pop(m.order_reference_number)
            out.append(
                (
                    _BOTH | CANCEL_ORDER_EVENT | side,
                    ts,
                    local,
                    price,
                    0,
                    m.order_reference_number,
                    0,
                    0.0,
                )
            )
        elif isinstance(m, OrderReplace):
            old = m.original_order_reference_number
            side, price, _ = orders.pop(old)
            out.append((_BOTH | CANCEL_ORDER_EVENT | side, ts, local, price, 0, old, 0, 0.0))
            new = m.new_order_reference_number
            orders[new] = (side, m.price, m.shares)
            out.append((_BOTH | ADD_ORDER_EVENT | side, ts, local, m.price, m.shares, new, 0, 0.0))
        elif isinstance(m, Trade):
            side = BUY_EVENT if m.buy_sell_indicator == "B" else SELL_EVENT
            out.append((_BOTH | TRADE_EVENT | side, ts, local, m.price, m.shares, 0, 0, 0.0))
    return {locate: np.array(r, dtype=EVENT_DTYPE) for locate, r in sorted(rows.items()) if r}


def _reduce(
    out: list[tuple[int, int, int, float, float, int, int, float]],
    orders: dict[int, tuple[int, int, int]],
    ref: int,
    shares: int,
    ts: int,
    local: int,
) -> None:
    """The book side of an execution or a partial cancel: modify to the rest, or cancel."""
    side, price, left = orders[ref]
    left -= shares
    if left > 0:
        orders[ref] = (side, price, left)
        out.append((_BOTH | MODIFY_ORDER_EVENT | side, ts, local, price, left, ref, 0, 0.0))
    else:
        del orders[ref]
        out.append((_BOTH | CANCEL_ORDER_EVENT | side, ts, local, price, 0, ref, 0, 0.0))


# -- tickwire ---------------------------------------------------------------------------------
class JoinBBO(MarketMaker):
    """The shipped MarketMaker, configured by :data:`JOIN_CONFIG` to join the BBO. It reads
    the BBO of its symbol only, so it declares that: the compiled core then stays out of
    Python for every other message (the reference honours the same declaration)."""

    consumes = Consumes(book="bbo", trades=False, states=False)


class Idle(Strategy):
    """No strategy: does nothing and is called for no market event."""

    consumes = Consumes(book="none", trades=False, states=False)


class BboFloor(Strategy):
    """Subscribes to one symbol, is called on each of its BBO changes, and does nothing."""

    consumes = Consumes(book="bbo", trades=False, states=False)

    def __init__(self, symbol: str) -> None:
        super().__init__()
        self.symbol = symbol

    async def on_start(self, ctx: Context) -> None:
        await super().on_start(ctx)
        ctx.subscribe([self.symbol])


def join_strategy(symbol: str) -> Strategy:
    return JoinBBO({**JOIN_CONFIG, "symbols": [symbol], "max_symbols": 1})


def backtest_backends() -> tuple[str, ...]:
    """What ``run_backtest(backend=...)`` accepts: the reference and the compiled core."""
    return tuple(BACKENDS)


def default_compiled() -> str:
    """The compiled core's name where the engine has one, else the compiled book."""
    names = [n for n in backtest_backends() if n != "reference"]
    return names[-1] if names else "cython"


def core_status(name: str) -> str:
    """What ``name`` runs: the whole compiled core, or only the strategy's book."""
    if name != "reference" and name in backtest_backends():
        return "compiled core"
    return "the reference loop with this strategy book"


def binaryfile(messages: Iterable[Message]) -> bytes:
    """``messages`` as BinaryFILE bytes (each message after its 2-byte length)."""
    parts = []
    for msg in messages:
        body = encode(msg)
        parts.append(len(body).to_bytes(2, "big"))
        parts.append(body)
    return b"".join(parts)


def run_tickwire(
    strategy: Strategy,
    messages: Iterable[Message] | bytes | str,
    backend: str,
    limits: RiskLimits,
    total: int | None = None,
) -> BacktestResult:
    """A backtest as the CLI runs it with ``--backend backend`` (no wall-clock sampling).

    ``messages`` may be BinaryFILE bytes or a path only for the compiled core (which reads
    bytes); the reference is given decoded messages."""
    if backend != "reference" and backend in backtest_backends():
        return run_backtest(
            strategy,
            messages,
            limits=limits,
            total=total,
            measure=False,
            backend=backend,
        )
    if not isinstance(messages, Iterable) or isinstance(messages, bytes | str):
        raise TypeError("the reference backtest is given decoded messages")
    config = BacktestConfig(book_backend=backend)
    return run_backtest(
        strategy, messages, limits=limits, config=config, total=total, measure=False
    )


# -- hftbacktest ------------------------------------------------------------------------------
@functools.cache
def hbt_functions() -> tuple[Callable[..., Any], Callable[..., Any]]:
    """The numba strategy and the no-strategy drain (once per process: each is compiled
    on its first call)."""
    from numba import njit

    @njit  # type: ignore[misc]
    def join_bbo_hbt(
        hbt: Any,
        asset: int,
        qty: float,
        tick: int,
        max_inv: float,
        skew_shares: float,
        improve_ticks: int,
        requote_ns: int,
        market_open: int,
        market_close: int,
    ) -> tuple[int, int, int]:
        # MarketMaker's on_book and _quote (tickwire.engine.strategy.market_maker), per wake-up
        # where the asset's BBO (prices and sizes) changed.
        ids = np.zeros(2, np.uint64)  # current bid, ask order id (0: none)
        last = np.full(2, -(10**18), np.int64)  # last change per side
        next_id = 1
        prev_bid, prev_ask, prev_bq, prev_aq = 0, 0, -1.0, -1.0
        wakes = 0
        calls = 0
        submitted = 0
        while True:
            if hbt.wait_next_feed(False, 3_600_000_000_000) == 1:
                break
            wakes += 1
            depth = hbt.depth(asset)
            bid = depth.best_bid_tick
            ask = depth.best_ask_tick
            bq = depth.best_bid_qty
            aq = depth.best_ask_qty
            if bid == prev_bid and ask == prev_ask and bq == prev_bq and aq == prev_aq:
                continue
            prev_bid, prev_ask, prev_bq, prev_aq = bid, ask, bq, aq
            calls += 1
            now = hbt.current_timestamp
            if now < market_open or now >= market_close:
                continue
            if bid <= 0 or ask >= 2**62 or ask <= bid:
                continue
            if ask - bid >= improve_ticks * tick:
                bid += tick
                ask -= tick
            pos = hbt.position(asset)
            skew = int(pos / skew_shares) * tick
            bid -= skew
            ask -= skew
            if bid >= ask or bid <= 0:
                continue
            orders = hbt.orders(asset)
            for side in range(2):
                price = bid if side == 0 else ask
                wanted = pos < max_inv if side == 0 else pos > -max_inv
                oid = ids[side]
                live = False
                if oid != 0 and oid in orders:
                    cur = orders.get(oid)
                    if cur.status == 1 or cur.req != 0:  # NEW, or a request in flight
                        live = True
                        if not wanted:
                            if cur.req == 0:
                                hbt.cancel(asset, oid, False)
                            continue
                        if cur.req != 0:
                            continue  # an answer is still in flight
                        if cur.price_tick == price or now - last[side] < requote_ns:
                            continue
                        hbt.cancel(asset, oid, False)  # its L3 exchange has no modify
                if not wanted:
                    continue
                if not live and now - last[side] < requote_ns:
                    continue
                if side == 0:
                    hbt.submit_buy_order(asset, next_id, price, qty, 0, 0, False)  # GTC, LIMIT
                else:
                    hbt.submit_sell_order(asset, next_id, price, qty, 0, 0, False)
                ids[side] = next_id
                next_id += 1
                submitted += 1
                last[side] = now
            hbt.clear_inactive_orders(asset)
        return wakes, calls, submitted

    @njit  # type: ignore[misc]
    def drain_hbt(hbt: Any) -> int:
        steps = 0
        while hbt.elapse(60_000_000_000) == 0:
            steps += 1
        return steps

    return join_bbo_hbt, drain_hbt


def hbt_run(
    arrays: list[Events],
    strategy_asset: int | None,
    order_latency: int,
    ack_latency: int,
    market: tuple[int, int],
    python_strategy: bool = False,
) -> dict[str, float]:
    """One hftbacktest run over ``arrays`` (one asset each); the strategy on asset
    ``strategy_asset`` (None: no strategy). Returns the counters and the fills.

    ``python_strategy``: the strategy runs as plain Python (its ``@njit`` function's
    ``py_func``: the same code, interpreted, calling the compiled backtest)."""
    from hftbacktest import BacktestAsset, HashMapMarketDepthBacktest

    join_bbo_hbt, drain_hbt = hbt_functions()
    if python_strategy:
        join_bbo_hbt = getattr(join_bbo_hbt, "py_func")  # noqa: B009 - numba's attribute
    assets = [
        BacktestAsset()
        .data(arr)
        .linear_asset(1.0)
        .constant_order_latency(order_latency, ack_latency)
        .l3_fifo_queue_model()
        .no_partial_fill_exchange()
        .trading_value_fee_model(0.0, 0.0)
        .tick_size(1.0)
        .lot_size(1.0)
        for arr in arrays
    ]
    hbt = HashMapMarketDepthBacktest(assets)
    out: dict[str, float] = {}
    if strategy_asset is None:
        out["steps"] = drain_hbt(hbt)
    else:
        c = JOIN_CONFIG
        wakes, calls, submitted = join_bbo_hbt(
            hbt,
            strategy_asset,
            float(c["quote_size"]),
            c["tick"],
            float(c["max_inventory"]),
            float(c["skew_shares"]),
            c["improve_spread_ticks"],
            c["requote_ns"],
            market[0],
            market[1],
        )
        sv = hbt.state_values(strategy_asset)
        out.update(
            wakes=wakes,
            calls=calls,
            orders=submitted,
            fills=sv.num_trades,
            position=sv.position,
        )
    hbt.close()
    return out


# -- one workload -----------------------------------------------------------------------------
@dataclass(slots=True)
class Row:
    name: str
    wall: float
    cpu: float
    note: str = ""


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """(best wall, best CPU, last result) of ``repeat`` calls."""
    wall = cpu = float("inf")
    result: Any = None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        wall = min(wall, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    return wall, cpu, result


def cold_child(args: argparse.Namespace, workload: str, data_dir: Path) -> tuple[float, float]:
    """hftbacktest in a fresh process: (wall, CPU of the child) from outside."""
    cmd = [
        sys.executable,
        str(HERE),
        "--hbt-child",
        workload,
        "--hbt-data",
        str(data_dir),
        "--order-latency",
        str(args.order_latency),
        "--ack-latency",
        str(args.ack_latency),
    ]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    out = proc.stdout.read().decode() if proc.stdout else ""
    if status != 0:
        raise SystemExit(f"hftbacktest cold run ({workload}) failed with status {status}: {out}")
    return wall, usage.ru_utime + usage.ru_stime


def hbt_child(args: argparse.Namespace) -> None:
    """The cold run's process: load the saved arrays, import, compile and run."""
    data = Path(args.hbt_data)
    meta = json.loads((data / "meta.json").read_text())
    files = meta["workloads"][args.hbt_child]
    arrays = [np.load(data / f) for f in files["arrays"]]
    result = hbt_run(
        arrays,
        files["strategy_asset"],
        args.order_latency,
        args.ack_latency,
        (meta["market_open"], meta["market_close"]),
    )
    print(json.dumps(result))


HEADER = (
    f"{'':<34}{'wall s':>8}{'CPU s':>8}{'msg/s':>12}{'events/s':>12}"
    f"{'x warm':>8}{'x cold':>8}  notes"
)


def bench_workload(
    args: argparse.Namespace,
    key: str,
    w: dict[str, Any],
    data_dir: Path,
    market: tuple[int, int],
    limits: RiskLimits,
    compiled: str,
    status: str,
) -> None:
    """The rows of one workload: tickwire reference and compiled, hftbacktest warm and cold.
    ``x warm``/``x cold``: hftbacktest's CPU time over the row's (above 1 is faster)."""
    msgs: list[Message] = w["messages"]
    arrays = [np.load(data_dir / f) for f in w["arrays"]]
    asset: int | None = w["strategy_asset"]
    print(f"\n{w['title']}: {len(msgs):,} messages, {w['events']:,} events")
    print(HEADER)
    rows: list[Row] = []
    # The compiled core reads BinaryFILE bytes (decoded in C, in the timed part); the
    # reference is given the decoded messages (decoding not timed).
    raw = binaryfile(msgs) if status == "compiled core" else None
    for label, backend in (("tickwire reference", "reference"), (f"tickwire {compiled}", compiled)):

        def one(backend: str = backend) -> BacktestResult:
            source = raw if backend != "reference" and raw is not None else msgs
            return run_tickwire(w["strategy"](), source, backend, limits, len(msgs))

        wall, cpu, res = timed(one, args.repeat)
        position = sum(abs(p) for p in res.positions.values())
        note = (
            f"fills {len(res.fills)}, orders {len(res.orders)}, position {position}, "
            f"callbacks {res.strategy_events:,}"
        )
        if backend != "reference":
            note += f"; {status}"
        rows.append(Row(label, wall, cpu, note))
    # warm: the JIT compile paid on a small slice first
    warm_slice = [arr[: min(len(arr), 2000)] for arr in arrays]
    hbt_run(warm_slice, asset, args.order_latency, args.ack_latency, market)
    wall, cpu, res = timed(
        lambda: hbt_run(arrays, asset, args.order_latency, args.ack_latency, market), args.repeat
    )
    counters = ", ".join(f"{k} {int(v):,}" for k, v in res.items())
    warm = Row("hftbacktest warm", wall, cpu, counters)
    plain = None
    if asset is not None and not args.no_python_strategy:
        wall, cpu, res = timed(
            lambda: hbt_run(
                arrays, asset, args.order_latency, args.ack_latency, market, python_strategy=True
            ),
            args.repeat,
        )
        counters = ", ".join(f"{k} {int(v):,}" for k, v in res.items())
        plain = Row("hftbacktest, plain-Python strategy", wall, cpu, counters)
    cold = None
    if not args.no_cold:
        cw, cc = cold_child(args, key, data_dir)
        cold = Row("hftbacktest cold (fresh process)", cw, cc, "import + JIT compile + run")
    for r in [*rows, warm, *([cold] if cold else []), *([plain] if plain else [])]:
        ours = r in rows
        x_warm = f"{warm.cpu / r.cpu:7.2f}x" if ours else f"{'':8}"
        x_cold = f"{cold.cpu / r.cpu:7.2f}x" if ours and cold else f"{'':8}"
        if ours and plain is not None:
            r.note += f"; {plain.cpu / r.cpu:.2f}x hftbacktest plain-Python"
        print(
            f"{r.name:<34}{r.wall:8.2f}{r.cpu:8.2f}{len(msgs) / r.cpu:12,.0f}"
            f"{w['events'] / r.cpu:12,.0f}{x_warm}{x_cold}  {r.note}",
            flush=True,
        )


def main_bench(args: argparse.Namespace) -> None:
    limits = parse_risk_limits(DEFAULT_RISK)
    t0 = time.process_time()
    day = make_day(args.messages, args.symbols, args.seed)
    events = to_events(day.messages, args.feed_latency)
    prep = time.process_time() - t0
    locates = list(events)
    busiest_index = locates.index(day.busiest_locate)
    compiled = args.compiled or default_compiled()
    status = core_status(compiled)
    n_all = len(day.messages)
    sym_msgs = day.symbol_messages()
    ev_sym = len(events[day.busiest_locate])
    ev_all = sum(len(a) for a in events.values())
    print(
        f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs; "
        f"generate_day({args.messages:,}, {args.symbols}, {args.seed}); busiest symbol "
        f"{day.busiest_symbol} (locate {day.busiest_locate}): {len(sym_msgs):,} messages, "
        f"{ev_sym:,} events; whole day {n_all:,} messages, {ev_all:,} events in "
        f"{len(events)} assets; latencies feed {args.feed_latency} ns, order "
        f"{args.order_latency} ns, ack {args.ack_latency} ns; generation and conversion "
        f"{prep:.1f} s CPU (not timed)"
    )
    print(f"compiled: --backend {compiled} ({status}); best of {args.repeat}")
    tmp = tempfile.TemporaryDirectory(prefix="hbench-")
    data_dir = Path(tmp.name)
    names = [f"{loc}.npy" for loc in locates]
    for name, arr in zip(names, events.values(), strict=True):
        np.save(data_dir / name, arr)
    market = (day.market_open, day.market_close)
    workloads: dict[str, dict[str, Any]] = {
        "a": {
            "title": f"a. busiest symbol alone ({day.busiest_symbol})",
            "messages": sym_msgs,
            "events": ev_sym,
            "strategy": lambda: join_strategy(day.busiest_symbol),
            "arrays": [f"{day.busiest_locate}.npy"],
            "strategy_asset": 0,
        },
        "a0": {
            "title": f"a0. busiest symbol alone ({day.busiest_symbol}), a strategy that "
            "does nothing on each BBO change (hftbacktest: its join strategy, as in a)",
            "messages": sym_msgs,
            "events": ev_sym,
            "strategy": lambda: BboFloor(day.busiest_symbol),
            "arrays": [f"{day.busiest_locate}.npy"],
            "strategy_asset": 0,
        },
        "b": {
            "title": f"b. whole day, strategy on {day.busiest_symbol}",
            "messages": day.messages,
            "events": ev_all,
            "strategy": lambda: join_strategy(day.busiest_symbol),
            "arrays": names,
            "strategy_asset": busiest_index,
        },
        "c": {
            "title": "c. whole day, no strategy",
            "messages": day.messages,
            "events": ev_all,
            "strategy": Idle,
            "arrays": names,
            "strategy_asset": None,
        },
    }
    (data_dir / "meta.json").write_text(
        json.dumps(
            {
                "market_open": day.market_open,
                "market_close": day.market_close,
                "workloads": {
                    k: {"arrays": w["arrays"], "strategy_asset": w["strategy_asset"]}
                    for k, w in workloads.items()
                },
            }
        )
    )
    for key in args.workloads.split(","):
        bench_workload(args, key, workloads[key], data_dir, market, limits, compiled, status)
    tmp.cleanup()


# -- memory -----------------------------------------------------------------------------------
def rss_kib() -> int:
    """This process's resident set now (KiB), from /proc."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def memory_child(args: argparse.Namespace) -> None:
    """Run one backtest streaming ``--memory-file``; print RSS before and peak (KiB)."""
    import resource

    from tickwire.engine.sources import iter_binaryfile

    limits = parse_risk_limits(DEFAULT_RISK)
    before = rss_kib()
    t0 = time.process_time()
    strategy = Strategy() if args.memory_strategy == "idle" else join_strategy(args.memory_symbol)
    compiled = (
        args.memory_child != "reference" and core_status(args.memory_child) == "compiled core"
    )
    res = run_tickwire(
        strategy,
        args.memory_file if compiled else iter_binaryfile(args.memory_file),
        args.memory_child,
        limits,
    )
    with res:  # the report too: it is computed from the records the run kept on disk
        report = build_report(res)
    cpu = time.process_time() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "before": before,
                "peak": peak,
                "cpu": cpu,
                "messages": report["messages"],
                "fills": report["fills"]["count"],
                "orders": report["orders"]["sent"],
            }
        )
    )


def write_day(path: Path, messages: int, symbols: int, seed: int) -> tuple[str, int]:
    """Write a generated day to ``path`` (once); return its busiest symbol and size."""
    from tickwire.itch.writer import BinaryFileWriter

    meta = path.with_suffix(".json")
    if path.exists() and meta.exists():
        m = json.loads(meta.read_text())
        return m["symbol"], m["messages"]
    counts: Counter[int] = Counter()
    symbol_of: dict[int, str] = {}
    with BinaryFileWriter(str(path)) as writer:
        for msg in generate_day(messages, symbols, seed):
            writer.write(msg)
            if msg.stock_locate:
                counts[msg.stock_locate] += 1
                stock = getattr(msg, "stock", None)
                if stock is not None:
                    symbol_of.setdefault(msg.stock_locate, str(stock).strip())
    symbol = symbol_of[counts.most_common(1)[0][0]]
    meta.write_text(json.dumps({"symbol": symbol, "messages": messages}))
    return symbol, messages


def main_memory(args: argparse.Namespace) -> None:
    sizes = [int(float(s)) for s in args.memory_sizes.split(",")]
    compiled = args.compiled or default_compiled()
    backends = (args.memory_backends or f"reference,{compiled}").split(",")
    keep = args.memory_dir is not None
    tmp = None if keep else tempfile.TemporaryDirectory(prefix="hbench-mem-")
    folder = Path(args.memory_dir if keep else tmp.name)  # type: ignore[union-attr]
    folder.mkdir(parents=True, exist_ok=True)
    print(
        f"python {platform.python_version()} on {platform.machine()}; peak RSS of one backtest "
        f"streaming a generated day from a file ({args.symbols} symbols, seed {args.seed}), "
        + (
            "the idle base Strategy (no orders)"
            if args.memory_strategy == "idle"
            else "JoinBBO on the day's busiest symbol"
        )
        + f"; compiled: --backend {compiled} ({core_status(compiled)})"
    )
    print(
        f"{'messages':>12}  {'backend':<12}{'RSS before MiB':>15}{'peak MiB':>10}{'growth MiB':>12}{'CPU s':>8}{'msg/s':>10}  fills"
    )
    for n in sizes:
        path = folder / f"day-{n}-{args.symbols}-{args.seed}.itch"
        t0 = time.perf_counter()
        symbol, _ = write_day(path, n, args.symbols, args.seed)
        made = time.perf_counter() - t0
        if made > 1:
            print(
                f"  (wrote {path.name}, {path.stat().st_size / 2**20:.0f} MiB, in {made:.0f} s)",
                flush=True,
            )
        for backend in backends:
            cmd = [
                sys.executable,
                str(HERE),
                "--memory-child",
                backend,
                "--memory-file",
                str(path),
                "--memory-symbol",
                symbol,
                "--memory-strategy",
                args.memory_strategy,
            ]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            before, peak = r["before"] / 1024, r["peak"] / 1024
            print(
                f"{n:>12,}  {backend:<12}{before:15.0f}{peak:10.0f}{peak - before:12.0f}"
                f"{r['cpu']:8.1f}{r['messages'] / r['cpu']:10,.0f}  {r['fills']}"
                f"  ({r['orders']} orders)",
                flush=True,
            )
    if tmp is not None:
        tmp.cleanup()


def main_trace(args: argparse.Namespace) -> None:
    """The reference under tracemalloc on a day and on a day twice as long: the sites whose
    live memory at the end grew with the day."""
    import tracemalloc

    limits = parse_risk_limits(DEFAULT_RISK)
    snaps = []
    for n in (args.messages, 2 * args.messages):
        _, symbol, _, _ = busiest(generate_day(n, args.symbols, args.seed))
        tracemalloc.start(1)
        result = run_tickwire(
            join_strategy(symbol), generate_day(n, args.symbols, args.seed), "reference", limits
        )
        snaps.append(tracemalloc.take_snapshot())
        tracemalloc.stop()
        print(f"{n:,} messages: {len(result.fills)} fills, {len(result.pnl_series)} PnL points")
        del result
    diff = snaps[1].compare_to(snaps[0], "lineno")
    print(
        f"live at the end, {2 * args.messages:,} vs {args.messages:,} messages (top 12 by growth):"
    )
    for stat in diff[:12]:
        print(
            f"  {stat.size_diff / 2**20:+8.2f} MiB  {stat.count_diff:+9,} blocks  {stat.traceback}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=2_000_000)
    ap.add_argument("--symbols", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workloads", default="a,b,c", help="comma-separated: a, a0, b, c")
    ap.add_argument("--compiled", help="tickwire's compiled backend (default: the engine's)")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--no-cold", action="store_true", help="skip hftbacktest's fresh-process runs")
    ap.add_argument(
        "--no-python-strategy",
        action="store_true",
        help="skip hftbacktest with its strategy as plain Python (py_func)",
    )
    ap.add_argument("--feed-latency", type=int, default=20_000)
    ap.add_argument("--order-latency", type=int, default=30_000)
    ap.add_argument("--ack-latency", type=int, default=30_000)
    ap.add_argument("--memory", action="store_true", help="peak RSS against day length")
    ap.add_argument("--memory-sizes", default="1000000,2000000,5000000,10000000,20000000")
    ap.add_argument("--memory-dir", help="keep the generated days here (default: a temp dir)")
    ap.add_argument("--memory-backends", help="comma-separated (default: reference and --compiled)")
    ap.add_argument(
        "--memory-strategy",
        choices=("join", "idle"),
        default="join",
        help="join: JoinBBO on the busiest symbol (default); idle: the base Strategy, no orders",
    )
    ap.add_argument("--memory-trace", action="store_true", help="tracemalloc growth sites")
    ap.add_argument("--memory-child", help=argparse.SUPPRESS)
    ap.add_argument("--memory-file", help=argparse.SUPPRESS)
    ap.add_argument("--memory-symbol", help=argparse.SUPPRESS)
    ap.add_argument("--hbt-child", help=argparse.SUPPRESS)
    ap.add_argument("--hbt-data", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.hbt_child:
        hbt_child(args)
    elif args.memory_child:
        memory_child(args)
    elif args.memory:
        main_memory(args)
    elif args.memory_trace:
        main_trace(args)
    else:
        main_bench(args)


if __name__ == "__main__":
    main()
