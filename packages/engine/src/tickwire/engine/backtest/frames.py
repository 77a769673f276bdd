"""Backtest results as tables: Arrow, pandas or polars frames, and Parquet files.

The four tables are the CSVs of :func:`tickwire.engine.backtest.report.write_csv`, same
names, same columns in the same order, same rows (a test reads both and compares them):

* ``orders``: one row per UserRefNum sent (``replaces`` null when it replaced nothing);
* ``fills``: one row per execution of ours, at exchange time, with ``fee_e4``, what the
  fee schedule charged it (negative: a rebate; 0 without a schedule or for a liquidity
  flag the schedule does not price);
* ``pnl``: the PnL series (``..._e4``: Price(4) x shares, divide by 10,000 for dollars);
  ``pnl_e4`` is net of fees and ``fees_e4`` the fees charged so far;
* ``positions``: per symbol, the end position, cash, mark (null when never marked),
  realised PnL (before fees) and ``fees_e4``, the symbol's fees.

Everything stays an integer (prices in Price(4), times in nanoseconds since midnight),
as in the CSVs. :data:`SCHEMA` is the one definition of the columns and their Arrow
types; the rows come straight from the :class:`~tickwire.engine.backtest.runner.BacktestResult`.
pyarrow is needed (the ``parquet`` extra), plus pandas or polars for their frames.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator, Mapping
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

if TYPE_CHECKING:  # pragma: no cover - typing only
    import pyarrow
    from tickwire.engine.backtest.runner import BacktestResult

__all__ = [
    "PARQUET_HINT",
    "SCHEMA",
    "iter_rows",
    "result_rows",
    "to_arrow",
    "to_frames",
    "write_parquet",
]

#: How to get Parquet and frames, for the messages that say they are missing.
PARQUET_HINT: Final = "pip install 'tickwire-engine[parquet]'"

#: Table -> its columns and their Arrow types (names of ``pyarrow`` type factories).
SCHEMA: Final[Mapping[str, tuple[tuple[str, str], ...]]] = {
    "orders": (
        ("user_ref_num", "uint32"),
        ("sent_ns", "int64"),
        ("symbol", "string"),
        ("side", "string"),
        ("price", "int64"),
        ("quantity", "int64"),
        ("time_in_force", "string"),
        ("display", "string"),
        ("state", "string"),
        ("filled", "int64"),
        ("replaces", "uint32"),
        ("reason", "string"),
    ),
    "fills": (
        ("timestamp", "int64"),
        ("user_ref_num", "uint32"),
        ("symbol", "string"),
        ("side", "string"),
        ("quantity", "int64"),
        ("price", "int64"),
        ("liquidity_flag", "string"),
        ("match_number", "uint64"),
        ("cause", "string"),
        ("fee_e4", "int64"),
    ),
    "pnl": (
        ("timestamp", "int64"),
        ("gross_position", "int64"),
        ("realised_e4", "int64"),
        ("unrealised_e4", "int64"),
        ("pnl_e4", "int64"),
        ("fills", "int64"),
        ("fees_e4", "int64"),
    ),
    "positions": (
        ("symbol", "string"),
        ("position", "int64"),
        ("cash_e4", "int64"),
        ("mark", "int64"),
        ("realised_e4", "int64"),
        ("fees_e4", "int64"),
    ),
}


def iter_rows(result: BacktestResult) -> dict[str, Iterator[tuple[Any, ...]]]:
    """Each table's rows, as tuples in :data:`SCHEMA`'s column order (None for null),
    streamed from the result's records (which may be on disk)."""
    order_cols = [name for name, _ in SCHEMA["orders"]]
    orders = (
        tuple(
            (o.get(c) if o.get(c) != "" else None) if c == "replaces" else o.get(c)
            for c in order_cols
        )
        for o in result.orders
    )
    fee = result.fee_schedule.fee
    fills = (
        (
            f.timestamp,
            f.user_ref_num,
            f.symbol,
            f.side,
            f.quantity,
            f.price,
            f.liquidity_flag,
            f.match_number,
            f.cause,
            fee(f.liquidity_flag, f.quantity) or 0,
        )
        for f in result.fills
    )
    pnl = (
        (p.timestamp, p.position, p.realised, p.unrealised, p.pnl, p.fills, p.fees)
        for p in result.pnl_series
    )
    positions = iter(
        [
            (
                sym,
                result.positions.get(sym, 0),
                result.cash.get(sym, 0),
                result.marks.get(sym),
                result.realised.get(sym, 0),
                result.fees.get(sym, 0),
            )
            for sym in sorted(set(result.positions) | set(result.cash))
        ]
    )
    return {"orders": orders, "fills": fills, "pnl": pnl, "positions": positions}


def result_rows(result: BacktestResult) -> dict[str, list[tuple[Any, ...]]]:
    """Each table's rows, as tuples in :data:`SCHEMA`'s column order (None for null)."""
    return {name: list(rows) for name, rows in iter_rows(result).items()}


def _pyarrow() -> Any:
    try:
        return importlib.import_module("pyarrow")
    except ImportError:
        raise ImportError(f"pyarrow is not installed: {PARQUET_HINT}") from None


def _schema(pa: Any, name: str) -> Any:
    return pa.schema([(c, getattr(pa, t)()) for c, t in SCHEMA[name]])


def _table(pa: Any, schema: Any, rows: Iterable[tuple[Any, ...]]) -> Any:
    values = list(zip(*rows, strict=True)) or [() for _ in schema]
    return pa.Table.from_arrays(
        [pa.array(list(v), type=f.type) for v, f in zip(values, schema, strict=True)],
        schema=schema,
    )


def to_arrow(result: BacktestResult) -> dict[str, pyarrow.Table]:
    """The four tables as Arrow tables (see the module docstring)."""
    pa = _pyarrow()
    return {name: _table(pa, _schema(pa, name), rows) for name, rows in iter_rows(result).items()}


def to_frames(
    result: BacktestResult, library: Literal["pandas", "polars", "arrow"] = "pandas"
) -> dict[str, Any]:
    """The four tables as pandas DataFrames (default), polars DataFrames or Arrow tables."""
    tables = to_arrow(result)
    if library == "arrow":
        return dict(tables)
    if library == "pandas":
        try:
            importlib.import_module("pandas")
        except ImportError:
            raise ImportError("pandas is not installed: pip install pandas") from None
        return {name: t.to_pandas() for name, t in tables.items()}
    if library == "polars":
        try:
            pl = importlib.import_module("polars")
        except ImportError:
            raise ImportError("polars is not installed: pip install polars") from None
        return {name: pl.from_arrow(t) for name, t in tables.items()}
    raise ValueError(f"library must be pandas, polars or arrow, not {library!r}")


#: Rows per Parquet row group written (the tables are streamed, a group at a time).
PARQUET_ROWS = 1 << 16


def write_parquet(result: BacktestResult, out_dir: Path) -> list[Path]:
    """orders.parquet, fills.parquet, pnl.parquet and positions.parquet in ``out_dir``
    (next to the CSVs), streamed :data:`PARQUET_ROWS` rows at a time; ImportError naming
    the extra when pyarrow is missing."""
    pa = _pyarrow()
    pq = importlib.import_module("pyarrow.parquet")
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, rows in iter_rows(result).items():
        path = out_dir / f"{name}.parquet"
        schema = _schema(pa, name)
        with pq.ParquetWriter(path, schema) as writer:
            first = True
            while True:
                group = list(islice(rows, PARQUET_ROWS))
                if group or first:  # an empty table still gets its schema
                    writer.write_table(_table(pa, schema, group))
                first = False
                if len(group) < PARQUET_ROWS:
                    break
        paths.append(path)
    return paths
