"""``backtest --backend cython``: the strategy's market view on the compiled L3 book gives
the same backtest, to the last fill and cent, as on the reference book."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tickwire.engine import cbook
from tickwire.engine.backtest import BacktestConfig, run_backtest
from tickwire.engine.backtest.report import build_report
from tickwire.engine.cli_backtest import DEFAULT_RISK, main
from tickwire.engine.risk import parse_risk_limits
from tickwire.engine.strategy import MarketMaker, ThresholdTaker
from tickwire.itch.generator import generate_day

DAY = (40_000, 40, 3)  # messages, symbols, seed


def _report(strategy: Any, book_backend: str) -> dict[str, Any]:
    result = run_backtest(
        strategy,
        generate_day(*DAY),
        limits=parse_risk_limits(DEFAULT_RISK),
        config=BacktestConfig(book_backend=book_backend),
    )
    return build_report(result)


@pytest.mark.skipif(not cbook.AVAILABLE, reason=f"{cbook.UNAVAILABLE_REASON}")
@pytest.mark.parametrize("strategy", [MarketMaker, ThresholdTaker])
def test_engine_backtest_cython_books_give_the_reference_backtest(strategy: type) -> None:
    reference = _report(strategy(), "reference")
    compiled = _report(strategy(), "cython")
    assert (reference["runtime"]["book_backend"], compiled["runtime"]["book_backend"]) == (
        "reference",
        "cython",
    )
    del reference["runtime"], compiled["runtime"]
    assert reference["fills"]["count"] > 0  # the strategies really traded on both
    assert compiled == reference


@pytest.mark.skipif(not cbook.AVAILABLE, reason=f"{cbook.UNAVAILABLE_REASON}")
def test_engine_backtest_cli_backend_cython(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    js = tmp_path / "r.json"
    args = ["backtest", "--messages", "20000", "--symbols", "20", "--no-plot", "--json", str(js)]
    assert main([*args, "--out", str(tmp_path / "o"), "--backend", "cython"]) == 0
    assert "cython books" in capsys.readouterr().out
    assert json.loads(js.read_text())["runtime"]["book_backend"] == "cython"


def test_engine_backtest_book_backend_is_validated() -> None:
    with pytest.raises(
        ValueError,
        match=r"backtest\.book_backend: must be one of reference, cython, compiled, got .rust.",
    ):
        BacktestConfig.from_mapping({"book_backend": "rust"})


def test_engine_backtest_cython_unavailable_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the extension is not built, `--backend cython` says so and exits 2, never a
    traceback and never a silent fall back to the reference."""
    monkeypatch.setattr(cbook, "_ext", None)
    monkeypatch.setattr(cbook, "UNAVAILABLE_REASON", "extension not built (test)")
    rc = main(
        [
            "backtest",
            "--messages",
            "2000",
            "--symbols",
            "5",
            "--out",
            str(tmp_path),
            "--no-plot",
            "--backend",
            "cython",
        ]
    )
    assert rc == 2
    assert "extension not built (test)" in capsys.readouterr().err
