"""The register map of the FPGA threshold core: one table, used by the design and the host.

The core has a simple memory-mapped bus of 32-bit words (``bus_addr`` is a *word* address,
:data:`ADDR_WIDTH` bits; a write is one cycle of ``bus_w_en``; a read is one cycle of
``bus_r_en`` and ``bus_r_data`` holds the word from the next cycle on). :data:`REGISTERS`
is the only place an address is written down: the hardware (:mod:`tickwire.fpga.core`)
decodes from it, the simulation driver and the control plane
(:mod:`tickwire.fpga.control`) encode from it, and ``docs/fpga.md`` lists it.

How configuration takes effect
------------------------------
Configuration registers (``CFG``) are *staged*: a write changes only the staged copy.
Writing ``CONTROL.APPLY`` marks the staged copy pending; the core commits it at the next
frame boundary (at once when no frame is being scanned, else when the next frame's first
beat reaches the scanner), so every frame is processed with one whole configuration and a
change takes effect from the next frame, as in the XDP backend. The staged instrument
(``INST_*``) is committed to slot ``INST_SLOT`` with the same APPLY when
``INST_SLOT.COMMIT`` (bit 31) is set; the bit clears itself once committed. A slot whose
locate is 0 is empty (locates are 1..65535).

``CONTROL.RESET`` starts a run: every statistic, position and notional is zeroed, the order
numbering restarts (sequence 1, UserRefNum = ``FIRST_USER_REF_NUM`` as applied), taking
``STATUS.BUSY`` cycles (64); issue it while no frame is in flight.

Statistics (``STAT``) are 64-bit counters read as two words, low word first; they are
read while traffic is quiet (a read during traffic may tear between the two words).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "ADDR_WIDTH",
    "CONTROL_APPLY",
    "CONTROL_RESET",
    "CORE_ID",
    "INST_SLOTS",
    "INST_STATS_BASE",
    "INST_STATS_STRIDE",
    "REGISTERS",
    "SLOT_COMMIT",
    "STATUS_APPLY_PENDING",
    "STATUS_BUSY",
    "STATUS_TRAFFIC",
    "Register",
    "addr",
    "reg",
]

ADDR_WIDTH = 11
"""Bits of the word address (2048 words)."""

CORE_ID = 0x54574650
"""Value of the ID register: ``TWFP``."""

INST_SLOTS = 64
"""Instrument slots (the contract allows up to 64 instruments)."""

INST_STATS_BASE = 0x400
INST_STATS_STRIDE = 4

CONTROL_APPLY = 1 << 0
CONTROL_RESET = 1 << 1
STATUS_BUSY = 1 << 0
STATUS_APPLY_PENDING = 1 << 1
STATUS_TRAFFIC = 1 << 2
SLOT_COMMIT = 1 << 31

Access = Literal["RO", "WO", "CFG", "STAT"]


@dataclass(frozen=True, slots=True)
class Register:
    """One register (or one register per instrument slot when ``slots > 1``).

    ``words`` is 1 for a 32-bit register and 2 for a 64-bit one (low word at ``address``);
    ``bits`` is how many low bits are implemented (the rest read as 0 and are ignored on
    write). Slot ``i`` of a per-slot register is at ``address + i * stride``.
    """

    name: str
    address: int
    access: Access
    bits: int
    doc: str
    words: int = 1
    slots: int = 1
    stride: int = 0


REGISTERS: tuple[Register, ...] = (
    Register("ID", 0x000, "RO", 32, "reads 0x54574650 ('TWFP')"),
    Register(
        "STATUS",
        0x001,
        "RO",
        3,
        "bit 0 BUSY (RESET running), bit 1 APPLY_PENDING, bit 2 TRAFFIC (a frame or an order "
        "in flight)",
    ),
    Register(
        "CONTROL",
        0x002,
        "WO",
        2,
        "bit 0 APPLY (commit staged config at the next frame boundary), bit 1 RESET (start a run)",
    ),
    Register("ARMED", 0x003, "CFG", 1, "the kill switch: 0 refuses every trigger as killed"),
    Register("MAX_ORDERS", 0x004, "CFG", 32, "orders allowed over the run"),
    Register("FIRST_USER_REF_NUM", 0x005, "CFG", 32, "UserRefNum of the first order (at RESET)"),
    Register("FEED_PORT", 0x006, "CFG", 16, "UDP destination port of the feed"),
    Register("ORDER_PORT", 0x007, "CFG", 16, "UDP destination port of the order frames"),
    Register(
        "ORDER_SESSION",
        0x008,
        "CFG",
        32,
        "MoldUDP64 session bytes 0-3 (big-endian)",
        slots=3,
        stride=1,
    ),
    Register("INST_SLOT", 0x00B, "CFG", 32, "slot 0..63 of the staged instrument; bit 31 COMMIT"),
    Register("INST_LOCATE", 0x010, "CFG", 16, "stock locate (0 empties the slot)"),
    Register("INST_SYMBOL", 0x011, "CFG", 32, "symbol bytes 0-3, then 4-7", slots=2, stride=1),
    Register("INST_LIMIT_PRICE", 0x013, "CFG", 32, "limit price, Price(4)"),
    Register("INST_BASE_QTY", 0x014, "CFG", 20, "base quantity"),
    Register("INST_STEP_QTY", 0x015, "CFG", 20, "extra shares per tick of improvement"),
    Register(
        "INST_RECIP", 0x016, "CFG", 34, "m = ceil(2**INST_SHIFT / tick), the reciprocal", words=2
    ),
    Register("INST_SHIFT", 0x018, "CFG", 7, "32 + ceil(log2(tick))"),
    Register("INST_MAX_ORDER_QTY", 0x019, "CFG", 20, "largest order quantity"),
    Register("INST_MAX_POSITION", 0x01A, "CFG", 63, "position limit, shares", words=2),
    Register("INST_MAX_NOTIONAL", 0x01C, "CFG", 63, "notional limit, Price(4) x shares", words=2),
    Register("INST_TICK", 0x01E, "CFG", 32, "tick, for read-back only (the core uses INST_RECIP)"),
    Register("FRAMES", 0x040, "STAT", 64, "frames received", words=2),
    Register("MESSAGES_SCANNED", 0x042, "STAT", 64, "MoldUDP64 blocks scanned", words=2),
    Register("TRIGGERS", 0x044, "STAT", 64, "trigger messages", words=2),
    Register("ORDERS", 0x046, "STAT", 64, "orders sent", words=2),
    Register("SUPPRESSED", 0x048, "STAT", 64, "triggers after this frame's order", words=2),
    Register("PARSE_ERRORS", 0x04A, "STAT", 64, "frames with a parse error", words=2),
    Register("REFUSED_KILLED", 0x04C, "STAT", 64, "triggers refused: disarmed", words=2),
    Register("REFUSED_MAX_ORDERS", 0x04E, "STAT", 64, "triggers refused: max orders", words=2),
    Register("REFUSED_POSITION", 0x050, "STAT", 64, "triggers refused: position", words=2),
    Register("REFUSED_NOTIONAL", 0x052, "STAT", 64, "triggers refused: notional", words=2),
    Register(
        "TX_OVERFLOW",
        0x054,
        "STAT",
        64,
        "orders lost to a full TX FIFO (short triggering frames back to back)",
        words=2,
    ),
    Register(
        "INST_SHARES",
        INST_STATS_BASE,
        "STAT",
        64,
        "shares ordered for slot i (the position)",
        words=2,
        slots=INST_SLOTS,
        stride=INST_STATS_STRIDE,
    ),
    Register(
        "INST_NOTIONAL",
        INST_STATS_BASE + 2,
        "STAT",
        64,
        "notional ordered for slot i",
        words=2,
        slots=INST_SLOTS,
        stride=INST_STATS_STRIDE,
    ),
)

_BY_NAME = {r.name: r for r in REGISTERS}


def reg(name: str) -> Register:
    """The register called ``name``."""
    return _BY_NAME[name]


def addr(name: str, slot: int = 0) -> int:
    """The word address of ``name`` (of its slot ``slot`` for a per-slot register)."""
    r = _BY_NAME[name]
    if not 0 <= slot < r.slots:
        raise IndexError(f"{name} has {r.slots} slot(s), not {slot}")
    return r.address + slot * r.stride


def _check() -> None:
    """Every word of the map belongs to exactly one register and fits the address space."""
    seen: dict[int, str] = {}
    for r in REGISTERS:
        for s in range(r.slots):
            for w in range(r.words):
                a = r.address + s * r.stride + w
                if a in seen or not 0 <= a < 1 << ADDR_WIDTH:
                    raise AssertionError(f"{r.name} overlaps {seen.get(a)} at {a:#x}")
                seen[a] = r.name


_check()
