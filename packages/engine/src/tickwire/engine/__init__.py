"""tickwire.engine: the project's correctness oracle.

* :mod:`tickwire.engine.book`: full-depth (L3) ITCH order books per instrument (BBO,
  depth, L2, queue ahead, invariants), fed from a BinaryFILE, a MoldUDP64 capture or
  live messages (:mod:`tickwire.engine.sources`);
* :mod:`tickwire.engine.threshold`: the reference threshold strategy (raw Ethernet frames
  in, order frames and statistics out), specified in ``docs/threshold.md``;
* :mod:`tickwire.engine.backends`: the backend interface every implementation of that
  strategy plugs into, loaded by name from the ``tickwire.backends`` entry points.
"""

from tickwire.engine.backends import (
    Backend,
    BackendNotFound,
    BackendUnavailable,
    available_backends,
    load_backend,
    run_frames,
)
from tickwire.engine.book import (
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
from tickwire.engine.config import (
    ConfigError,
    InstrumentConfig,
    ThresholdConfig,
    load_config,
    parse_config,
)
from tickwire.engine.sources import (
    apply_receiver_events,
    is_capture,
    iter_binaryfile,
    iter_capture,
    rebuild,
)
from tickwire.engine.threshold import (
    InstrumentStats,
    ReferenceBackend,
    ThresholdEngine,
    ThresholdStats,
    build_order_frame,
)

__all__ = [
    "BBO",
    "Backend",
    "BackendNotFound",
    "BackendUnavailable",
    "BookInvariantError",
    "BookManager",
    "BookStats",
    "ConfigError",
    "InstrumentConfig",
    "InstrumentStats",
    "Level",
    "LevelView",
    "Order",
    "OrderBook",
    "ReferenceBackend",
    "TapePrint",
    "ThresholdConfig",
    "ThresholdEngine",
    "ThresholdStats",
    "apply_receiver_events",
    "available_backends",
    "build_order_frame",
    "is_capture",
    "iter_binaryfile",
    "iter_capture",
    "load_backend",
    "load_config",
    "parse_config",
    "rebuild",
    "run_frames",
]
__version__ = "0.2.0"
