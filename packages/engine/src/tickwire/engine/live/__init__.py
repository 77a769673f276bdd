"""The live engine (``python -m tickwire.engine live``) and its terminal dashboard."""

from tickwire.engine.live.engine import (
    ControlError,
    FeedConfig,
    LiveConfig,
    LiveEngine,
    MirrorError,
    percentiles,
    send_command,
)

__all__ = [
    "ControlError",
    "FeedConfig",
    "LiveConfig",
    "LiveEngine",
    "MirrorError",
    "percentiles",
    "send_command",
]
