"""The live engine (``python -m tickwire.engine live``) and its terminal dashboard."""

from tickwire.engine.live.engine import (
    LiveConfig,
    LiveEngine,
    MirrorError,
    percentiles,
    send_command,
)

__all__ = ["LiveConfig", "LiveEngine", "MirrorError", "percentiles", "send_command"]
