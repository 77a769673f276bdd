"""Shared fixtures and strategies for the tickwire-moldudp64 tests."""

from __future__ import annotations

from pathlib import Path

import pytest

#: The real test data ship in the repository: data/ (data/PROVENANCE.md).
DATA = Path(__file__).resolve().parents[3] / "data"
PCAP_DIR = DATA / "pcap" / "nasdaq-itch50"
ITCH_FILE = DATA / "itch" / "ex20101224.TEST_ITCH_50"


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
