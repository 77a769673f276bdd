"""Shared fixtures for the tickwire-net tests."""

from __future__ import annotations

from pathlib import Path

import pytest

#: The real test data ship in the repository: data/ (data/PROVENANCE.md).
DATA = Path(__file__).resolve().parents[3] / "data"
PCAP_DIR = DATA / "pcap" / "nasdaq-itch50"


@pytest.fixture(scope="session")
def real_captures() -> list[Path]:
    files = sorted(PCAP_DIR.glob("*.pcap"))
    if not files:
        pytest.fail(f"real captures not found in {PCAP_DIR}")
    return files
