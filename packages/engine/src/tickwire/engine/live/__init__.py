"""The live engine (``python -m tickwire.engine live``) and its terminal dashboard."""

from tickwire.engine.live.engine import LiveConfig, LiveEngine, percentiles, send_command

__all__ = ["LiveConfig", "LiveEngine", "percentiles", "send_command"]
