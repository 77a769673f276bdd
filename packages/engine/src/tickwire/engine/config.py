"""Deprecated: moved to :mod:`tickwire.threshold.config` (tickwire-threshold).

The threshold strategy's contract is its own distribution since tickwire-engine 0.3.0, so
a backend installs it without the engine. This module re-exports the new one and warns
once on import; it goes away in tickwire-engine 0.4.0.
"""

from __future__ import annotations

import warnings
from typing import Any

from tickwire.threshold import config as _new
from tickwire.threshold.config import *  # noqa: F403

warnings.warn(
    "tickwire.engine.config is deprecated: import tickwire.threshold.config instead",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = list(_new.__all__)


def __getattr__(name: str) -> Any:
    """Names outside ``__all__`` (e.g. helpers) still resolve, from the new module."""
    return getattr(_new, name)
