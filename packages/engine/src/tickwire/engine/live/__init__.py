"""The live engine (``python -m tickwire.engine live``) and its terminal dashboard."""

from tickwire.engine.live.engine import (
    ControlError,
    LiveConfig,
    LiveEngine,
    MirrorError,
    percentiles,
    send_command,
)

__all__ = ["ControlError", "LiveConfig", "LiveEngine", "MirrorError", "percentiles", "send_command"]
