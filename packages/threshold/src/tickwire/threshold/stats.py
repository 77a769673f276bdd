"""The threshold strategy's statistics: the one type every backend reports in.

:class:`ThresholdStats` is the object of ``docs/threshold.md`` section 6; ``to_json`` is
the canonical STATS.json text, so two backends agree exactly when their ``to_json`` texts
are equal. Out-of-process backends (XDP maps, the bare-metal guest's report) rebuild it
with :meth:`ThresholdStats.from_dict`. :data:`REFUSAL_REASONS` lists the four risk
refusals in contract order (the order of the JSON keys and of every C counter array).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tickwire.threshold.config import ThresholdConfig

__all__ = ["REFUSAL_REASONS", "InstrumentStats", "ThresholdStats"]

REFUSAL_REASONS = ("killed", "max_orders", "position", "notional")


@dataclass(slots=True)
class InstrumentStats:
    """What was ordered for one instrument: shares (the position) and notional."""

    shares: int = 0
    notional: int = 0


@dataclass(slots=True)
class ThresholdStats:
    """The strategy's statistics; ``to_json`` is the canonical STATS.json text."""

    frames: int = 0
    messages_scanned: int = 0
    triggers: int = 0
    orders: int = 0
    suppressed: int = 0
    parse_errors: int = 0
    refused: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REFUSAL_REASONS, 0))
    instruments: dict[int, InstrumentStats] = field(default_factory=dict)

    @classmethod
    def for_config(cls, config: ThresholdConfig) -> ThresholdStats:
        """Zeroed statistics with one entry per configured instrument."""
        return cls(instruments={i.locate: InstrumentStats() for i in config.instruments})

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of ``docs/threshold.md`` section 6 (keys in contract order)."""
        return {
            "frames": self.frames,
            "messages_scanned": self.messages_scanned,
            "triggers": self.triggers,
            "orders": self.orders,
            "suppressed": self.suppressed,
            "parse_errors": self.parse_errors,
            "refused": {r: self.refused[r] for r in REFUSAL_REASONS},
            "instruments": {
                str(locate): {"shares": s.shares, "notional": s.notional}
                for locate, s in sorted(self.instruments.items())
            },
        }

    def to_json(self) -> str:
        """Canonical serialisation: ``json.dumps(to_dict(), indent=2) + "\\n"``."""
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ThresholdStats:
        """Rebuild from the JSON object (how out-of-process backends report)."""
        return cls(
            frames=int(data["frames"]),
            messages_scanned=int(data["messages_scanned"]),
            triggers=int(data["triggers"]),
            orders=int(data["orders"]),
            suppressed=int(data["suppressed"]),
            parse_errors=int(data["parse_errors"]),
            refused={r: int(data["refused"][r]) for r in REFUSAL_REASONS},
            instruments={
                int(k): InstrumentStats(int(v["shares"]), int(v["notional"]))
                for k, v in data["instruments"].items()
            },
        )
