"""Fixtures of the tickwire-fpga tests.

``fpga`` is one simulated core per test module (building the simulator costs about a
second); every test configures it again, which is also how "one simulator serves many
runs" gets tested. The repository's ``tests/`` directory goes on ``sys.path`` so the
differential harness's frame descriptions and hypothesis strategies (``harness``) are
shared rather than copied.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_TESTS = str(Path(__file__).resolve().parents[3] / "tests")
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

from tickwire.fpga.backend import FpgaBackend  # noqa: E402


@pytest.fixture(scope="module")
def fpga() -> Iterator[FpgaBackend]:
    backend = FpgaBackend()
    try:
        yield backend
    finally:
        backend.close()
