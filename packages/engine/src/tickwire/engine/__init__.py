"""tickwire.engine: the project's correctness oracle.

* :mod:`tickwire.engine.book`: full-depth (L3) ITCH order books per instrument (BBO,
  depth, L2, queue ahead, invariants), fed from a BinaryFILE, a MoldUDP64 capture or
  live messages (:mod:`tickwire.engine.sources`);
* strategies, pre-trade risk, backtests, the live engine and the simulated exchange.

The threshold strategy (its configuration, the reference engine, the backend interface,
the Cython backend and the differential harness) is the tickwire-threshold distribution,
:mod:`tickwire.threshold`. Its names are still importable from here for one minor version
(tickwire-engine 0.3.x), with a ``DeprecationWarning``.
"""

from __future__ import annotations

import warnings
from typing import Any

from tickwire.engine import compiled

compiled.install()  # before anything imports the order path: never a stale compiled one

from tickwire.engine.book import (  # noqa: E402
    BBO,
    BookInvariantError,
    BookManager,
    BookStats,
    Level,
    LevelView,
    Order,
    OrderBook,
    TapePrint,
)
from tickwire.engine.sources import (  # noqa: E402
    apply_receiver_events,
    is_capture,
    iter_binaryfile,
    iter_capture,
    rebuild,
)

__all__ = [
    "BBO",
    "BookInvariantError",
    "BookManager",
    "BookStats",
    "Level",
    "LevelView",
    "Order",
    "OrderBook",
    "TapePrint",
    "apply_receiver_events",
    "is_capture",
    "iter_binaryfile",
    "iter_capture",
    "rebuild",
]
__version__ = "0.3.0"

#: Names that moved to :mod:`tickwire.threshold` (deprecated here; gone in 0.4.0).
_MOVED_TO_THRESHOLD = frozenset(
    {
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
    }
)


def __getattr__(name: str) -> Any:
    """``tickwire.engine.ThresholdConfig`` and the like: the moved names, with a warning."""
    if name in _MOVED_TO_THRESHOLD:
        import tickwire.threshold

        warnings.warn(
            f"tickwire.engine.{name} is deprecated: import it from tickwire.threshold",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(tickwire.threshold, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
