"""The map value layouts of ``bpf/tickwire_xdp.h``, mirrored with ctypes.

Each class here is the twin of one C struct; the tests compare field names, offsets and
sizes with the BTF that clang writes into the object, so the two cannot drift apart
silently. Fields are host byte order (the program converts wire values itself).
"""

from __future__ import annotations

import ctypes

from tickwire.threshold.config import InstrumentConfig, ThresholdConfig

__all__ = [
    "MAX_INSTRUMENTS",
    "MIRROR_ALL",
    "MIRROR_MAX",
    "MIRROR_NONE",
    "MIRROR_ORDERS",
    "ORDER_FRAME_LEN",
    "Config",
    "Instrument",
    "MirrorRecord",
    "State",
    "Stats",
    "Watched",
    "config_struct",
    "instrument_struct",
]

MAX_INSTRUMENTS = 64
MAX_FRAME = 0x8000
MIRROR_MAX = 2048
ORDER_FRAME_LEN = 111
MIRROR_ORDERS = 0
MIRROR_ALL = 1
MIRROR_NONE = 2
MIRROR_MODES = {"orders": MIRROR_ORDERS, "all": MIRROR_ALL, "none": MIRROR_NONE}


class Config(ctypes.Structure):
    """``struct tw_config``: the global configuration (array map, one entry)."""

    _fields_ = [
        ("armed", ctypes.c_uint32),
        ("mirror", ctypes.c_uint32),
        ("max_orders", ctypes.c_uint64),
        ("first_user_ref_num", ctypes.c_uint64),
        ("feed_port", ctypes.c_uint16),
        ("order_port", ctypes.c_uint16),
        ("order_session", ctypes.c_uint8 * 10),
        ("_pad", ctypes.c_uint8 * 2),
    ]


class Instrument(ctypes.Structure):
    """``struct tw_instrument``: one watched instrument (hash map by stock locate)."""

    _fields_ = [
        ("slot", ctypes.c_uint32),
        ("symbol", ctypes.c_uint8 * 8),
        ("_pad", ctypes.c_uint32),
        ("limit_price", ctypes.c_uint64),
        ("base_qty", ctypes.c_uint64),
        ("step_qty", ctypes.c_uint64),
        ("tick", ctypes.c_uint64),
        ("max_order_qty", ctypes.c_uint64),
        ("max_position", ctypes.c_uint64),
        ("max_notional", ctypes.c_uint64),
    ]


class Watched(ctypes.Structure):
    """``struct tw_watched``: one bit per stock locate in the instruments hash."""

    _fields_ = [("bits", ctypes.c_uint64 * (65536 // 64))]

    def add(self, locate: int) -> None:
        self.bits[locate >> 6] |= 1 << (locate & 63)

    def discard(self, locate: int) -> None:
        self.bits[locate >> 6] &= ~(1 << (locate & 63)) & (2**64 - 1)

    def __contains__(self, locate: object) -> bool:
        return isinstance(locate, int) and bool(self.bits[locate >> 6] >> (locate & 63) & 1)


class State(ctypes.Structure):
    """``struct tw_state``: orders sent and position/notional per slot, under a spin lock."""

    _fields_ = [
        ("lock", ctypes.c_uint32),
        ("_pad", ctypes.c_uint32),
        ("orders", ctypes.c_uint64),
        ("position", ctypes.c_uint64 * MAX_INSTRUMENTS),
        ("notional", ctypes.c_uint64 * MAX_INSTRUMENTS),
    ]


class Stats(ctypes.Structure):
    """``struct tw_stats``: the counters (per-CPU array; userspace sums the CPUs)."""

    _fields_ = [
        ("frames", ctypes.c_uint64),
        ("messages_scanned", ctypes.c_uint64),
        ("triggers", ctypes.c_uint64),
        ("orders", ctypes.c_uint64),
        ("suppressed", ctypes.c_uint64),
        ("parse_errors", ctypes.c_uint64),
        ("refused_killed", ctypes.c_uint64),
        ("refused_max_orders", ctypes.c_uint64),
        ("refused_position", ctypes.c_uint64),
        ("refused_notional", ctypes.c_uint64),
        ("mirrored", ctypes.c_uint64),
        ("mirror_dropped", ctypes.c_uint64),
        ("tx_errors", ctypes.c_uint64),
    ]


class MirrorRecord(ctypes.Structure):
    """``struct tw_mirror_record``: one frame copied to the ring buffer."""

    _fields_ = [
        ("frame_len", ctypes.c_uint32),
        ("copied_len", ctypes.c_uint32),
        ("ordered", ctypes.c_uint32),
        ("_pad", ctypes.c_uint32),
        ("data", ctypes.c_uint8 * MIRROR_MAX),
    ]


STRUCTS: dict[str, type[ctypes.Structure]] = {
    "tw_config": Config,
    "tw_instrument": Instrument,
    "tw_state": State,
    "tw_watched": Watched,
    "tw_stats": Stats,
    "tw_mirror_record": MirrorRecord,
}


def _padded(text: str, width: int) -> bytes:
    return text.encode("ascii").ljust(width, b" ")


def config_struct(config: ThresholdConfig, *, mirror: int = MIRROR_ORDERS) -> Config:
    """The ``tw_config`` value for a validated configuration."""
    c = Config()
    c.armed = 1 if config.armed else 0
    c.mirror = mirror
    c.max_orders = config.max_orders
    c.first_user_ref_num = config.first_user_ref_num
    c.feed_port = config.feed_port
    c.order_port = config.order_port
    ctypes.memmove(c.order_session, _padded(config.order_session, 10), 10)
    return c


def instrument_struct(inst: InstrumentConfig, slot: int) -> Instrument:
    """The ``tw_instrument`` value for one validated instrument in state slot ``slot``."""
    if not 0 <= slot < MAX_INSTRUMENTS:
        raise ValueError(f"slot must be 0..{MAX_INSTRUMENTS - 1}, got {slot}")
    v = Instrument()
    v.slot = slot
    ctypes.memmove(v.symbol, _padded(inst.symbol, 8), 8)
    v.limit_price = inst.limit_price
    v.base_qty = inst.base_qty
    v.step_qty = inst.step_qty
    v.tick = inst.tick
    v.max_order_qty = inst.max_order_qty
    v.max_position = inst.max_position
    v.max_notional = inst.max_notional
    return v


def instrument_config(locate: int, v: Instrument) -> InstrumentConfig:
    """Back from a map value to the validated config type (raises ConfigError if bad)."""
    return InstrumentConfig(
        locate=locate,
        symbol=bytes(v.symbol).decode("ascii", "replace").rstrip(" "),
        limit_price=v.limit_price,
        base_qty=v.base_qty,
        step_qty=v.step_qty,
        tick=v.tick,
        max_order_qty=v.max_order_qty,
        max_position=v.max_position,
        max_notional=v.max_notional,
    )
