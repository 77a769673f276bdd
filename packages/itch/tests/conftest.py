"""Shared fixtures for the tickwire-itch tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from tickwire.itch import MESSAGE_LENGTHS

#: The real NASDAQ ITCH 5.0 sample (every length prefix is zero).
#: It ships in the repository: ``data/itch`` (``data/PROVENANCE.md``).
REAL_FILE = Path(__file__).resolve().parents[3] / "data" / "itch" / "ex20101224.TEST_ITCH_50"


@pytest.fixture(scope="session")
def real_file() -> Path:
    if not REAL_FILE.exists():  # pragma: no cover - the data ship with the checkout
        pytest.fail(f"real ITCH sample missing: {REAL_FILE}")
    return REAL_FILE


@pytest.fixture(scope="session")
def real_bytes(real_file: Path) -> bytes:
    return real_file.read_bytes()


@pytest.fixture(scope="session")
def real_raw_messages(real_bytes: bytes) -> list[bytes]:
    """The sample's messages, framed independently of the reader under test: each frame
    is 2 prefix bytes then as many bytes as the type letter's spec length."""
    out = []
    pos = 0
    while pos < len(real_bytes):
        length = MESSAGE_LENGTHS[chr(real_bytes[pos + 2])]
        out.append(real_bytes[pos + 2 : pos + 2 + length])
        pos += 2 + length
    assert pos == len(real_bytes)
    return out
