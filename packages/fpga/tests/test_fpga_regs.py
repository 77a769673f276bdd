"""The register map: one table, documented in docs/fpga.md word for word."""

from __future__ import annotations

from pathlib import Path

import pytest
from tickwire.fpga import regs

DOC = Path(__file__).resolve().parents[3] / "docs" / "fpga.md"


def test_every_register_is_documented_at_its_address() -> None:
    text = DOC.read_text()
    for r in regs.REGISTERS:
        assert f"`{r.address:#05x}`" in text and f"`{r.name}`" in text, r.name


def test_addresses_are_unique_and_in_range() -> None:
    words = [
        r.address + s * r.stride + w
        for r in regs.REGISTERS
        for s in range(r.slots)
        for w in range(r.words)
    ]
    assert len(words) == len(set(words))
    assert all(0 <= a < 1 << regs.ADDR_WIDTH for a in words)


def test_per_slot_addresses() -> None:
    assert regs.addr("INST_SHARES", 63) == regs.INST_STATS_BASE + 63 * regs.INST_STATS_STRIDE
    with pytest.raises(IndexError):
        regs.addr("INST_SHARES", 64)
    with pytest.raises(IndexError):
        regs.addr("ARMED", 1)
