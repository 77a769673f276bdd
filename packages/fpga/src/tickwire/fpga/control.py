"""The control plane of the FPGA core: register writes and reads for config and statistics.

Everything here speaks to a :class:`Bus` (32-bit word writes and reads at the addresses of
:mod:`tickwire.fpga.regs`), so the same code drives the simulated core
(:class:`tickwire.fpga.sim.CoreSim`) and would drive a real one behind any bridge.

A run is started by :func:`load_config`: every global register, every configured
instrument in slots 0.. in config order (the others emptied), one APPLY per instrument
(each commits atomically at a frame boundary), then RESET. Run-time changes
(:func:`set_armed`, :func:`set_instrument`) are the same writes and an APPLY, so they take
effect from the next frame and leave counters and positions alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from tickwire.threshold import REFUSAL_REASONS, InstrumentStats, ThresholdStats
from tickwire.threshold.config import InstrumentConfig, ThresholdConfig

from . import regs
from .recip import reciprocal

__all__ = [
    "Bus",
    "config_slots",
    "config_writes",
    "instrument_writes",
    "load_config",
    "read_stats",
    "set_armed",
    "set_instrument",
]


class Bus(Protocol):
    """Word access to the core's registers."""

    def write_many(self, writes: Sequence[tuple[int, int]]) -> None: ...

    def read_many(self, addresses: Sequence[int]) -> list[int]: ...

    def settle(self) -> None:
        """Wait until an APPLY or RESET has taken effect."""


def _u64(name: str, value: int) -> list[tuple[int, int]]:
    a = regs.addr(name)
    return [(a, value & 0xFFFFFFFF), (a + 1, value >> 32)]


def _words(text: str, n: int) -> list[int]:
    raw = text.encode("ascii").ljust(4 * n, b" ")
    return [int.from_bytes(raw[4 * i : 4 * i + 4], "big") for i in range(n)]


def config_writes(config: ThresholdConfig) -> list[tuple[int, int]]:
    """The global registers of ``config`` (staged; an APPLY commits them)."""
    session = _words(config.order_session.ljust(10), 3)
    session[2] &= 0xFFFF0000
    return [
        (regs.addr("ARMED"), int(config.armed)),
        (regs.addr("MAX_ORDERS"), config.max_orders),
        (regs.addr("FIRST_USER_REF_NUM"), config.first_user_ref_num),
        (regs.addr("FEED_PORT"), config.feed_port),
        (regs.addr("ORDER_PORT"), config.order_port),
        *[(regs.addr("ORDER_SESSION", i), w) for i, w in enumerate(session)],
    ]


def instrument_writes(slot: int, inst: InstrumentConfig | None) -> list[tuple[int, int]]:
    """Stage ``inst`` for ``slot`` (None empties the slot) and mark it for the next APPLY."""
    if not 0 <= slot < regs.INST_SLOTS:
        raise ValueError(f"slot must be in 0..{regs.INST_SLOTS - 1}, got {slot}")
    if inst is None:
        return [(regs.addr("INST_LOCATE"), 0), (regs.addr("INST_SLOT"), slot | regs.SLOT_COMMIT)]
    m, shift = reciprocal(inst.tick)
    symbol = _words(inst.symbol, 2)
    return [
        (regs.addr("INST_LOCATE"), inst.locate),
        (regs.addr("INST_SYMBOL", 0), symbol[0]),
        (regs.addr("INST_SYMBOL", 1), symbol[1]),
        (regs.addr("INST_LIMIT_PRICE"), inst.limit_price),
        (regs.addr("INST_BASE_QTY"), inst.base_qty),
        (regs.addr("INST_STEP_QTY"), inst.step_qty),
        *_u64("INST_RECIP", m),
        (regs.addr("INST_SHIFT"), shift),
        (regs.addr("INST_MAX_ORDER_QTY"), inst.max_order_qty),
        *_u64("INST_MAX_POSITION", inst.max_position),
        *_u64("INST_MAX_NOTIONAL", inst.max_notional),
        (regs.addr("INST_TICK"), inst.tick),
        (regs.addr("INST_SLOT"), slot | regs.SLOT_COMMIT),
    ]


_APPLY = [(regs.addr("CONTROL"), regs.CONTROL_APPLY)]
_RESET = [(regs.addr("CONTROL"), regs.CONTROL_RESET)]


def load_config(bus: Bus, config: ThresholdConfig, *, slots_in_use: int = regs.INST_SLOTS) -> None:
    """Start a run with ``config``: registers, instruments, APPLY, RESET.

    Slots from ``len(config.instruments)`` to ``slots_in_use`` are emptied (pass how
    many the previous config used to skip clearing slots known to be empty).
    """
    if len(config.instruments) > regs.INST_SLOTS:
        raise ValueError(f"at most {regs.INST_SLOTS} instruments, got {len(config.instruments)}")
    bus.write_many(config_writes(config) + _APPLY)
    bus.settle()
    for slot in range(max(slots_in_use, len(config.instruments))):
        inst = config.instruments[slot] if slot < len(config.instruments) else None
        bus.write_many(instrument_writes(slot, inst) + _APPLY)
        bus.settle()
    bus.write_many(_RESET)
    bus.settle()


def set_armed(bus: Bus, armed: bool) -> None:
    """Arm or disarm: effective from the next frame."""
    bus.write_many([(regs.addr("ARMED"), int(armed)), *_APPLY])
    bus.settle()


def set_instrument(bus: Bus, slot: int, inst: InstrumentConfig | None) -> None:
    """Replace (or empty) one slot: effective from the next frame; its position is kept."""
    bus.write_many(instrument_writes(slot, inst) + _APPLY)
    bus.settle()


_COUNTERS = {
    "frames": "FRAMES",
    "messages_scanned": "MESSAGES_SCANNED",
    "triggers": "TRIGGERS",
    "orders": "ORDERS",
    "suppressed": "SUPPRESSED",
    "parse_errors": "PARSE_ERRORS",
}
_REFUSED = {r: f"REFUSED_{r.upper()}" for r in REFUSAL_REASONS}


def config_slots(config: ThresholdConfig) -> list[tuple[int, int]]:
    """``(slot, locate)`` of every instrument of ``config`` as :func:`load_config` puts them."""
    return [(slot, inst.locate) for slot, inst in enumerate(config.instruments)]


def read_stats(bus: Bus, slots: Sequence[tuple[int, int]]) -> ThresholdStats:
    """The contract's statistics: the counters, and shares and notional of each
    ``(slot, locate)`` in ``slots`` (keyed by locate)."""
    names = [*_COUNTERS.values(), *_REFUSED.values()]
    addresses = [a for n in names for a in (regs.addr(n), regs.addr(n) + 1)]
    for slot, _ in slots:
        base = regs.addr("INST_SHARES", slot)
        addresses += [base, base + 1, base + 2, base + 3]
    words = bus.read_many(addresses)
    values = [words[i] | words[i + 1] << 32 for i in range(0, len(words), 2)]
    by_name = dict(zip(names, values, strict=False))
    inst_values = values[len(names) :]
    return ThresholdStats(
        frames=by_name["FRAMES"],
        messages_scanned=by_name["MESSAGES_SCANNED"],
        triggers=by_name["TRIGGERS"],
        orders=by_name["ORDERS"],
        suppressed=by_name["SUPPRESSED"],
        parse_errors=by_name["PARSE_ERRORS"],
        refused={r: by_name[reg] for r, reg in _REFUSED.items()},
        instruments={
            locate: InstrumentStats(inst_values[2 * i], inst_values[2 * i + 1])
            for i, (_, locate) in enumerate(slots)
        },
    )
