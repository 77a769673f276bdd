"""OUCH 5.0 reject reasons: ``tickwire.ouch.v50.RejectReason`` is Appendix D, and a
Rejected message carries any code (a venue's newer codes still decode)."""

from __future__ import annotations

from tickwire.ouch import v50


def test_the_table_is_appendix_d() -> None:
    codes = [int(r) for r in v50.RejectReason]
    assert codes == list(range(0x01, 0x2B))  # 0x0001 Quote Unavailable .. 0x002A, no gaps
    spot = {
        0x02: "DESTINATION_CLOSED",
        0x07: "HALTED",
        0x09: "INVALID_SIDE",
        0x0A: "PROCESSING_ERROR",
        0x13: "INVALID_QUANTITY",
        0x17: "INVALID_SYMBOL",
        0x1D: "INVALID_PRICE",
        0x2A: "RISK_DUPLICATE_MESSAGE_RATE_RESTRICTION",
    }
    assert {code: v50.RejectReason(code).name for code in spot} == spot


def test_a_rejected_message_round_trips_known_and_unknown_codes() -> None:
    known = v50.Rejected(1, 7, v50.RejectReason.INVALID_SYMBOL, "C1")
    wire = v50.encode(known)
    assert wire[13:15] == b"\x00\x17"  # Reason: offset 13, 2 bytes, big-endian
    back = v50.decode_outbound(wire)
    assert back == known and v50.RejectReason(back.reason) is v50.RejectReason.INVALID_SYMBOL
    newer = v50.decode_outbound(v50.encode(v50.Rejected(1, 8, 0x99, "C2")))
    assert isinstance(newer, v50.Rejected) and newer.reason == 0x99
