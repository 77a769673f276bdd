"""The ``cython`` backend of the threshold strategy: the compiled core behind the Backend API.

:class:`CythonBackend` is what ``threshold --backend cython`` loads (entry point
``tickwire.backends: cython``). It hands the validated configuration to the compiled
``tickwire.threshold._cthreshold.ThresholdCore`` and turns its counters back into
:class:`~tickwire.threshold.stats.ThresholdStats`, so the differential harness compares it
with the reference byte for byte (frames and STATS.json).

When the extension is not built (no compiler at install time, ``TICKWIRE_NO_EXT=1``) or
``TICKWIRE_PURE=1`` is set, :data:`AVAILABLE` is False and :meth:`CythonBackend.configure`
raises :class:`~tickwire.threshold.backends.BackendUnavailable` with the reason: a user who
asks for the compiled backend is told it is not there rather than silently given the
reference engine (which stays available as ``--backend reference``).
"""

from __future__ import annotations

import importlib
import os
from typing import Any, Final

from tickwire.threshold.backends import BackendUnavailable
from tickwire.threshold.config import ThresholdConfig
from tickwire.threshold.scan import A_LOCATE, A_PRICE, A_SIDE, min_add_lengths
from tickwire.threshold.stats import REFUSAL_REASONS, InstrumentStats, ThresholdStats

__all__ = ["AVAILABLE", "UNAVAILABLE_REASON", "CythonBackend"]


def _load() -> tuple[Any, str | None]:
    if os.environ.get("TICKWIRE_PURE", "") not in ("", "0"):
        return None, "TICKWIRE_PURE is set"
    try:
        return importlib.import_module("tickwire.threshold._cthreshold"), None
    except ImportError as exc:
        return None, f"extension tickwire.threshold._cthreshold not built ({exc})"


_ext, UNAVAILABLE_REASON = _load()
#: True when the compiled threshold core can be used.
AVAILABLE: Final[bool] = _ext is not None


def _pad(text: str, width: int) -> bytes:
    # Config validation guarantees printable ASCII of at most ``width`` characters.
    return text.encode("ascii").ljust(width, b" ")


class CythonBackend:
    """The compiled threshold strategy (one instance = one run per ``configure``)."""

    name = "cython"

    def __init__(self) -> None:
        self._core: Any = None
        self._config: ThresholdConfig | None = None

    def configure(self, config: ThresholdConfig) -> None:
        """Start a run with ``config``: all counters, positions and sequences reset."""
        if _ext is None:
            raise BackendUnavailable(f"cython backend not available: {UNAVAILABLE_REASON}")
        len_a, len_f = min_add_lengths()
        self._core = _ext.ThresholdCore(
            config.armed,
            config.max_orders,
            config.first_user_ref_num,
            config.feed_port,
            config.order_port,
            _pad(config.order_session, 10),
            [
                (
                    i.locate,
                    _pad(i.symbol, 8),
                    i.limit_price,
                    i.base_qty,
                    i.step_qty,
                    i.tick,
                    i.max_order_qty,
                    i.max_position,
                    i.max_notional,
                )
                for i in config.instruments
            ],
            A_LOCATE,
            A_SIDE,
            A_PRICE,
            len_a,
            len_f,
        )
        self._config = config

    def feed(self, frame: bytes) -> list[bytes]:
        """Process one input frame; return the order frames it caused (zero or one)."""
        core = self._core
        if core is None:
            raise RuntimeError("configure() the backend before feeding frames")
        out: list[bytes] = core.feed(frame if type(frame) is bytes else bytes(frame))
        return out

    def stats(self) -> ThresholdStats:
        """A snapshot of the statistics so far."""
        core, config = self._core, self._config
        if core is None or config is None:
            return ThresholdStats()
        refused = dict(
            zip(
                REFUSAL_REASONS,
                (
                    core.refused_killed,
                    core.refused_max_orders,
                    core.refused_position,
                    core.refused_notional,
                ),
                strict=True,
            )
        )
        instruments = {
            inst.locate: InstrumentStats(*core.position(i))
            for i, inst in enumerate(config.instruments)
        }
        return ThresholdStats(
            frames=core.frames,
            messages_scanned=core.messages_scanned,
            triggers=core.triggers,
            orders=core.orders,
            suppressed=core.suppressed,
            parse_errors=core.parse_errors,
            refused=refused,
            instruments=instruments,
        )

    def close(self) -> None:
        """Nothing to release: the compiled core lives in-process (stats stay readable)."""
