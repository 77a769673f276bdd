"""Deprecated: moved to :mod:`tickwire.threshold.reference` (tickwire-threshold).

The threshold strategy's contract is its own distribution since tickwire-engine 0.3.0, so
a backend installs it without the engine. This module re-exports the new one and warns
once on import; it goes away in tickwire-engine 0.4.0.
"""

from __future__ import annotations

import warnings
from typing import Any

from tickwire.threshold import order as _order
from tickwire.threshold import reference as _new
from tickwire.threshold import stats as _stats

# The reference module was split: the statistics and the order-frame builder have their
# own modules now; the old names stay reachable here.
from tickwire.threshold.order import *  # noqa: F403
from tickwire.threshold.reference import *  # noqa: F403
from tickwire.threshold.stats import *  # noqa: F403

warnings.warn(
    "tickwire.engine.threshold is deprecated: import tickwire.threshold.reference instead",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = [*_new.__all__, *_order.__all__, *_stats.__all__]


def __getattr__(name: str) -> Any:
    """Names outside ``__all__`` (e.g. helpers) still resolve, from the new module."""
    for module in (_new, _order, _stats):
        if hasattr(module, name):
            return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
