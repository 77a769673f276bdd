"""The compiled module's one BinaryFILE loop (``_cbook.pyx``: ``frames_open``,
``frames_next``, ``frames_close``), through both of its callers: the compiled book's
``feed_binaryfile`` and the replay core's ``feed`` (a compiled backtest).

Both must frame as :func:`tickwire.itch.read` does: an unknown type skipped by its
prefix, a known type's prefix that disagrees replaced by its type's length, an unknown
type with a zero prefix and a cut last frame a :class:`tickwire.itch.DecodeError`, and a
chunk's incomplete last frame left for the next chunk.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tickwire.engine import cbook
from tickwire.engine.backtest import BacktestConfig, run_backtest
from tickwire.engine.backtest.report import build_report
from tickwire.engine.cli_backtest import DEFAULT_RISK
from tickwire.engine.risk import parse_risk_limits
from tickwire.engine.strategy import ThresholdTaker
from tickwire.itch import DecodeError, encode, read
from tickwire.itch.generator import generate_day

DATA = Path(__file__).resolve().parents[3] / "data" / "itch" / "ex20101224.TEST_ITCH_50"

UNKNOWN = b"\x00\x03zab"  # a type no table knows, skipped by its prefix
UNFRAMEABLE = b"\x00\x00z" + bytes(10)  # an unknown type with a zero prefix


def _frames(messages: list[bytes], *, fixups: int = 0, unknown_every: int = 0) -> bytes:
    """BinaryFILE bytes of ``messages``; the first ``fixups`` frames get a zero prefix
    (framed by their type's length) and an unknown frame goes before every
    ``unknown_every``-th message."""
    out = bytearray()
    for i, m in enumerate(messages):
        if unknown_every and i % unknown_every == 0:
            out += UNKNOWN
        out += (0 if i < fixups else len(m)).to_bytes(2, "big") + m
    return bytes(out)


def _day() -> list[bytes]:
    return [encode(m) for m in generate_day(2_000, 10, 3)]


def test_engine_cbook_feed_binaryfile_counts_skips_and_fixups_across_chunks() -> None:
    msgs = _day()
    data = _frames(msgs, fixups=5, unknown_every=100)
    whole = cbook.CythonBookManager()
    assert whole.feed_binaryfile(data) == len(data)
    assert (whole.skipped, whole.length_fixups) == (20, 5)
    chunked = cbook.CythonBookManager()
    rest = b""
    for i in range(0, len(data), 333):  # cuts inside frames, prefixes and type bytes
        buf = rest + data[i : i + 333]
        rest = buf[chunked.feed_binaryfile(bytearray(buf), False) :]
    assert chunked.feed_binaryfile(rest, True) == len(rest)
    assert (chunked.skipped, chunked.length_fixups) == (20, 5)
    assert chunked.summary() == whole.summary()
    assert chunked.stats == whole.stats


def test_engine_cbook_feed_binaryfile_errors() -> None:
    data = _frames(_day()[:50])
    with pytest.raises(DecodeError, match="truncated frame at end of stream: only 2 bytes"):
        cbook.CythonBookManager().feed_binaryfile(data + b"\x00\x10")
    assert cbook.CythonBookManager().feed_binaryfile(data + b"\x00\x10", False) == len(data)
    with pytest.raises(DecodeError, match="zero length prefix") as info:
        cbook.CythonBookManager().feed_binaryfile(data + UNFRAMEABLE)
    assert info.value.offset == len(data)


def _outcome(data: bytes, backend: str) -> dict[str, Any]:
    result = run_backtest(
        ThresholdTaker(),
        data,
        limits=parse_risk_limits(DEFAULT_RISK),
        config=BacktestConfig(),
        backend=backend,
    )
    report = build_report(result)
    del report["runtime"]
    return {"report": report, "fills": result.fills, "orders": result.orders}


def test_engine_cbook_replay_core_frames_as_the_reference() -> None:
    """Unknown frames and disagreeing prefixes in the replay core's input change nothing
    against the reference backtest on the same bytes; a zero-prefix unknown type and a
    cut last frame are the same DecodeError on both."""
    if cbook.UNAVAILABLE_REASON is not None:
        pytest.fail(f"compiled book not built: {cbook.UNAVAILABLE_REASON}")
    raw = DATA.read_bytes()
    msgs = [encode(m) for m in read(raw)]
    data = _frames(msgs, fixups=50, unknown_every=97)
    want = _outcome(data, "reference")
    assert want["fills"]  # the strategy trades on this file
    assert _outcome(data, "compiled") == want
    for bad, match in ((data + UNFRAMEABLE, "zero length prefix"), (data[:-3], "truncated")):
        for backend in ("reference", "compiled"):
            with pytest.raises(DecodeError, match=match):
                _outcome(bad, backend)
