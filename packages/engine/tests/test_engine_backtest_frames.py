"""Backtest results as frames (``BacktestResult.to_frames``) and as Parquet next to the
CSVs: the same tables, the same rows as the CSV files."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from tickwire.engine.backtest import BacktestResult, run_backtest
from tickwire.engine.backtest.frames import SCHEMA
from tickwire.engine.backtest.report import write_outputs
from tickwire.engine.risk import parse_risk_limits
from tickwire.engine.strategy import MarketMaker
from tickwire.itch.generator import generate_day

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


@pytest.fixture(scope="module")
def result() -> BacktestResult:
    limits = {"max_position": 400, "max_order_qty": 500}
    res = run_backtest(MarketMaker(), generate_day(20_000, 20, 3), limits=parse_risk_limits(limits))
    assert res.fills and res.orders and res.pnl_series
    return res


def csv_rows(path: Path, table: str) -> list[tuple[Any, ...]]:
    """A CSV's rows typed as SCHEMA says ("" is null, integers parsed)."""
    types = dict(SCHEMA[table])
    with path.open() as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == [c for c, _ in SCHEMA[table]]
        return [
            tuple(
                None
                if v == "" and types[c] != "string"
                else (v if types[c] == "string" else int(v))
                for c, v in row.items()
            )
            for row in reader
        ]


def test_parquet_next_to_the_csvs_holds_the_same_rows(
    result: BacktestResult, tmp_path: Path
) -> None:
    report = write_outputs(result, tmp_path, plot=False)
    assert report["runtime"]["parquet"] == ", ".join(f"{t}.parquet" for t in SCHEMA)
    for table in SCHEMA:
        parquet = pq.read_table(tmp_path / f"{table}.parquet")
        assert parquet.column_names == [c for c, _ in SCHEMA[table]]
        got = [tuple(r.values()) for r in parquet.to_pylist()]
        assert got == csv_rows(tmp_path / f"{table}.csv", table), table
        assert parquet.num_rows > 0
    assert json.loads((tmp_path / "report.json").read_text())["runtime"]["parquet"]


def test_to_frames(result: BacktestResult) -> None:
    pd = pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    frames = result.to_frames()
    assert set(frames) == {"orders", "fills", "pnl", "positions"}
    assert isinstance(frames["fills"], pd.DataFrame)
    assert len(frames["fills"]) == len(result.fills)
    assert frames["fills"]["price"].tolist() == [f.price for f in result.fills]
    assert frames["pnl"]["pnl_e4"].iloc[-1] == result.pnl_series[-1].pnl
    polars = result.to_frames("polars")
    assert isinstance(polars["orders"], pl.DataFrame)
    assert polars["orders"].height == len(result.orders)
    assert polars["positions"]["symbol"].to_list() == sorted(
        set(result.positions) | set(result.cash)
    )
    arrow = result.to_frames("arrow")
    assert arrow["pnl"].num_rows == len(result.pnl_series)
    with pytest.raises(ValueError, match="library must be"):
        result.to_frames("excel")  # type: ignore[arg-type]


def test_empty_result_gives_empty_typed_tables() -> None:
    tables = BacktestResult().to_frames("arrow")
    for name, cols in SCHEMA.items():
        assert tables[name].num_rows == 0
        assert [(f.name, str(f.type)) for f in tables[name].schema] == [
            (c, "string" if t == "string" else t) for c, t in cols
        ]
