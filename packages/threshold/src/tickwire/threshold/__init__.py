"""tickwire.threshold: the threshold strategy's contract, shared by every backend.

Everything a backend of the threshold strategy (``docs/threshold.md``) needs, and nothing
of the engine's books, risk or backtests:

* :mod:`tickwire.threshold.config`: the one TOML configuration (strict validation);
* :mod:`tickwire.threshold.schema`: the schema mechanism that configuration, and every
  other tickwire configuration (the engine's risk, backtest and fees tables), is declared
  and checked with, with one error format;
* :mod:`tickwire.threshold.scan`: the input-frame scanner (Ethernet/IPv4/UDP/MoldUDP64);
* :mod:`tickwire.threshold.reference`: the reference engine, the oracle every backend
  must reproduce byte for byte;
* :mod:`tickwire.threshold.stats`: the statistics type (STATS.json) and refusal reasons;
* :mod:`tickwire.threshold.order`: the one order-frame builder (OUCH 5.0 Enter Order in
  a MoldUDP64 packet);
* :mod:`tickwire.threshold.backends`: the backend interface and loading backends by name
  from the ``tickwire.backends`` entry points;
* :mod:`tickwire.threshold.cbackend`: the compiled (Cython) backend;
* :mod:`tickwire.threshold.testing`: input-frame builders for tests of any backend.
"""

from tickwire.threshold.backends import (
    Backend,
    BackendNotFound,
    BackendUnavailable,
    available_backends,
    load_backend,
    run_frames,
)
from tickwire.threshold.config import (
    ConfigError,
    InstrumentConfig,
    ThresholdConfig,
    load_config,
    parse_config,
)
from tickwire.threshold.order import build_order_frame
from tickwire.threshold.reference import ReferenceBackend, ThresholdEngine
from tickwire.threshold.stats import REFUSAL_REASONS, InstrumentStats, ThresholdStats

__all__ = [
    "REFUSAL_REASONS",
    "Backend",
    "BackendNotFound",
    "BackendUnavailable",
    "ConfigError",
    "InstrumentConfig",
    "InstrumentStats",
    "ReferenceBackend",
    "ThresholdConfig",
    "ThresholdEngine",
    "ThresholdStats",
    "available_backends",
    "build_order_frame",
    "load_backend",
    "load_config",
    "parse_config",
    "run_frames",
]
__version__ = "0.1.0"
