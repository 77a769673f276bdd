"""Fixtures of the tickwire-fpga tests.

``fpga`` is one simulated core per test module (building the simulator costs about a
second); every test configures it again, which is also how "one simulator serves many
runs" gets tested. Frame descriptions and hypothesis strategies come from the
differential harness, ``tickwire.threshold.harness``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tickwire.fpga.backend import FpgaBackend
from tickwire.threshold.config import InstrumentConfig, ThresholdConfig


@pytest.fixture(scope="module")
def fpga() -> Iterator[FpgaBackend]:
    backend = FpgaBackend()
    try:
        yield backend
    finally:
        backend.close()


@pytest.fixture
def aapl_config() -> ThresholdConfig:
    """Armed, one instrument (locate 13, AAPL, limit $150.0000) with room for many orders."""
    return ThresholdConfig(
        True,
        10,
        1,
        26477,
        26400,
        "TWORDERS01",
        (InstrumentConfig(13, "AAPL", 1_500_000, 100, 100, 100, 1000, 10**9, 10**15),),
    )
