"""Backtests: replay ITCH order flow through the books into a strategy, against a
simulated venue with an L3 queue model and latency models. See ``docs/backtest.md``."""

from tickwire.engine.backtest.latency import (
    ConstantLatency,
    LatencyModel,
    LatencySpecError,
    LogNormalLatency,
    NormalLatency,
    UniformLatency,
    parse_latency,
)
from tickwire.engine.backtest.runner import (
    BACKENDS,
    BacktestConfig,
    BacktestResult,
    PnlPoint,
    run_backtest,
)
from tickwire.engine.backtest.venue import Fill, SimOrder, SimulatedVenue

__all__ = [
    "BACKENDS",
    "BacktestConfig",
    "BacktestResult",
    "ConstantLatency",
    "Fill",
    "LatencyModel",
    "LatencySpecError",
    "LogNormalLatency",
    "NormalLatency",
    "PnlPoint",
    "SimOrder",
    "SimulatedVenue",
    "UniformLatency",
    "parse_latency",
    "run_backtest",
]
