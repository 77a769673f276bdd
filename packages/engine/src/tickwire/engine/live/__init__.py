"""The live engine (``python -m tickwire.engine live``) and its terminal dashboard."""

from tickwire.engine.live.engine import (
    ControlError,
    ControlUnanswered,
    FeedConfig,
    LiveConfig,
    LiveEngine,
    MirrorError,
    OrdersLeftOpen,
    percentiles,
    send_command,
)

__all__ = [
    "ControlError",
    "ControlUnanswered",
    "FeedConfig",
    "LiveConfig",
    "LiveEngine",
    "MirrorError",
    "OrdersLeftOpen",
    "percentiles",
    "send_command",
]
