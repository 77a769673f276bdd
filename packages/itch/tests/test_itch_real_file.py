"""The real NASDAQ sample decodes completely and agrees with itchfeed, field by field."""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import tickwire.itch as itch

itch_parser = pytest.importorskip("itch.parser")  # itchfeed (dev dependency)

# Counted independently with a hex viewer-style frame walk (see conftest.real_raw_messages).
EXPECTED_BY_TYPE = {
    "P": 5000,
    "A": 4997,
    "D": 1745,
    "E": 198,
    "X": 45,
    "U": 12,
    "S": 6,
    "R": 3,
    "H": 3,
    "F": 3,
}

# Our spec-named fields that itchfeed names differently.
ITCHFEED_NAMES = {
    "luld_reference_price_tier": "luld_ref",
    "level_1": "level1_price",
    "level_2": "level2_price",
    "level_3": "level3_price",
    "ipo_quotation_release_time": "ipo_release_time",
    "ipo_quotation_release_qualifier": "ipo_release_qualifier",
    "auction_collar_extension": "auction_collar_extention",
    "original_order_reference_number": "order_reference_number",
    "price_variation_indicator": "variation_indicator",
}


def _same(ours: Any, theirs: Any) -> bool:
    if isinstance(theirs, bytes):  # itchfeed keeps Alpha fields as raw padded bytes
        text = theirs.decode("latin-1")
        # One-character codes are kept as they are (a space is a value, "not available");
        # longer Alpha fields lose their right padding.
        return isinstance(ours, str) and ours == (text if len(theirs) == 1 else text.rstrip(" "))
    return bool(ours == theirs) and type(ours) is int


def test_real_file_decodes_completely(real_file: Path) -> None:
    reader = itch.read(real_file)
    msgs = list(reader)
    assert len(msgs) == 12_012
    assert reader.stats.messages == 12_012
    assert reader.stats.by_type == dict(sorted(EXPECTED_BY_TYPE.items()))
    assert Counter(m.message_type for m in msgs) == EXPECTED_BY_TYPE
    # Every prefix in this file is zero: every frame needed the type's length.
    assert reader.stats.length_fixups == 12_012
    assert reader.stats.skipped == 0
    assert reader.stats.bytes_read == real_file.stat().st_size
    first, last = msgs[0], msgs[-1]
    assert isinstance(first, itch.SystemEvent) and first.event_code == "O"
    assert isinstance(last, itch.SystemEvent) and last.event_code == "C"
    # Timestamps never go backwards in a real feed.
    stamps = [m.timestamp for m in msgs]
    assert stamps == sorted(stamps)


def test_every_field_equals_itchfeed(real_raw_messages: list[bytes], real_file: Path) -> None:
    # itchfeed cannot read the zero prefixes, so give it the same messages re-framed.
    framed = b"".join(len(raw).to_bytes(2, "big") + raw for raw in real_raw_messages)

    theirs = list(itch_parser.MessageParser().parse_file(io.BytesIO(framed)))
    ours = list(itch.read(real_file))
    assert len(theirs) == len(ours) == len(real_raw_messages) == 12_012
    for index, (a, b, raw) in enumerate(zip(ours, theirs, real_raw_messages, strict=True)):
        assert a.message_type.encode() == b.message_type, index
        assert itch.encode(a) == raw, index
        assert itch.decode_construct(raw) == a, index
        for f in fields(a):
            value = getattr(b, ITCHFEED_NAMES.get(f.name, f.name))
            assert _same(getattr(a, f.name), value), (index, f.name, getattr(a, f.name), value)


def test_real_file_round_trips_through_the_writer(real_file: Path, tmp_path: Path) -> None:
    msgs = list(itch.read(real_file))
    out = tmp_path / "copy.itch"
    with itch.BinaryFileWriter(out) as writer:
        writer.write_all(msgs)
    # Same messages, now with correct prefixes: nothing to fix up.
    reader = itch.read(out)
    assert list(reader) == msgs
    assert reader.stats.length_fixups == 0
    assert out.stat().st_size == real_file.stat().st_size
