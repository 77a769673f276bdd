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

The core's offsets come from the generated ``tickwire_layout.h``; its order frames are
also checked against the one builder when this module is imported
(:func:`check_order_writer`: untagged, VLAN-tagged and QinQ, UserRefNum at the top of its
range, a price at the limit), as ``tickwire.itch`` checks its fast codecs against its
table: a drift fails the import with ``AssertionError`` instead of sending other bytes.
"""

from __future__ import annotations

import importlib
import os
from typing import Any, Final

from tickwire.threshold.backends import BackendUnavailable, run_frames
from tickwire.threshold.config import InstrumentConfig, ThresholdConfig
from tickwire.threshold.reference import ThresholdEngine
from tickwire.threshold.scan import A_LOCATE, A_PRICE, A_SIDE, min_add_lengths
from tickwire.threshold.stats import REFUSAL_REASONS, InstrumentStats, ThresholdStats
from tickwire.threshold.testing import add_order, feed_frame

__all__ = ["AVAILABLE", "UNAVAILABLE_REASON", "CythonBackend", "check_order_writer"]


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


def check_order_writer() -> None:
    """Raise ``AssertionError`` unless the compiled core's order frames are the reference's.

    The reference builds its frames with :func:`tickwire.threshold.order.build_order_frame`
    (the project codecs); the core writes them at the generated header's offsets. Four
    triggers (untagged, one tag and QinQ, below and at the limit, UserRefNum reaching
    2**32 - 1) through both, compared byte for byte. Run at import when the extension is
    built.
    """
    inst = InstrumentConfig(4242, "ZVZZT.A", 4_000_000, 7, 3, 100, 999_999, 2**62, 2**62)
    config = ThresholdConfig(True, 6, 2**32 - 6, 26477, 26400, "PROBE 01", (inst,))
    frames = [
        feed_frame([add_order(4242, "S", price)], vlan_tags=tags)
        for tags in ((), ((0x8100, 0xE08D),), ((0x88A8, 0xE08D), (0x8100, 0x0123)))
        for price in (3_512_345, 4_000_000)
    ]
    got, _ = run_frames(CythonBackend(), config, frames)
    want, _ = run_frames(ThresholdEngine(), config, frames)
    for n, (a, b) in enumerate(zip(got, want, strict=True), 1):
        if a != b:
            raise AssertionError(
                f"tickwire.threshold._cthreshold writes another order frame than "
                f"build_order_frame (probe {n}): {[f.hex() for f in a]} != {[f.hex() for f in b]}"
            )


if _ext is not None:
    check_order_writer()
