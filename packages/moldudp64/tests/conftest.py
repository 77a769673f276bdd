"""Shared fixtures and strategies for the tickwire-moldudp64 tests."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

#: The real test data ship in the repository: data/ (data/PROVENANCE.md).
DATA = Path(__file__).resolve().parents[3] / "data"
PCAP_DIR = DATA / "pcap" / "nasdaq-itch50"
ITCH_FILE = DATA / "itch" / "ex20101224.TEST_ITCH_50"

T = TypeVar("T")


def _thread_cpu(fn: Callable[[], T]) -> tuple[T, float]:
    """``fn()`` and the CPU seconds it took on this thread, with the collector off.

    The cost tests bound a linear pass's CPU, so nothing else may count: not another
    thread of the xdist worker (``process_time`` counted them all: CI once measured 0.53 s
    for a pass that takes 0.05 s here), nor a collection sized by the worker's heap."""
    gc.collect()
    gc.disable()
    try:
        start = time.thread_time()
        out = fn()
        return out, time.thread_time() - start
    finally:
        gc.enable()


@pytest.fixture
def thread_cpu() -> Callable[[Callable[[], T]], tuple[T, float]]:
    return _thread_cpu


@pytest.fixture(scope="session")
def real_captures() -> list[Path]:
    files = sorted(PCAP_DIR.glob("*.pcap"))
    if not files:
        pytest.fail(f"real captures not found in {PCAP_DIR}")
    return files


@pytest.fixture(scope="session")
def itch_file() -> Path:
    if not ITCH_FILE.exists():
        pytest.fail(f"real ITCH file not found: {ITCH_FILE}")
    return ITCH_FILE
