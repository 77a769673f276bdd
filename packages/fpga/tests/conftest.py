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


@pytest.fixture(scope="module")
def fpga() -> Iterator[FpgaBackend]:
    backend = FpgaBackend()
    try:
        yield backend
    finally:
        backend.close()
