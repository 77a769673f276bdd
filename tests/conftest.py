"""Shared fixtures of the cross-package tests.

``backend_name`` is parametrised over every backend registered under the
``tickwire.backends`` entry points, so a new backend (cython, xdp, baremetal) is held to
the reference by the differential harness without any change here.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# pytest runs in importlib mode: make tests/harness.py importable as `harness`.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from tickwire.engine.backends import (
    Backend,
    BackendUnavailable,
    available_backends,
    load_backend,
)
from tickwire.engine.config import ThresholdConfig


@pytest.fixture(params=available_backends())
def backend_name(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def backend(backend_name: str) -> Iterator[Backend]:
    """A loaded backend, skipped (with its reason) when it cannot run on this machine."""
    instance = load_backend(backend_name)
    probe = ThresholdConfig(
        armed=True,
        max_orders=0,
        first_user_ref_num=1,
        feed_port=26477,
        order_port=26400,
        order_session="PROBE",
    )
    try:
        instance.configure(probe)
    except BackendUnavailable as exc:
        instance.close()
        pytest.skip(f"backend {backend_name!r} unavailable: {exc}")
    try:
        yield instance
    finally:
        instance.close()
