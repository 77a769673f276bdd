"""Arbitrary bytes never crash an OUCH decoder: typed errors only."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from tickwire.ouch import DecodeError, v42, v50

DECODERS = [v50.decode_inbound, v50.decode_outbound, v42.decode_inbound, v42.decode_outbound]
TYPE_BYTES = st.sampled_from(b"OUXMQSACDEBJPITRGF")


@settings(max_examples=400, deadline=None)
@given(first=TYPE_BYTES, rest=st.binary(max_size=90))
def test_ouch_fuzz_decoders_raise_only_decode_error(first: int, rest: bytes) -> None:
    data = bytes([first]) + rest
    for decode in DECODERS:
        try:
            msg = decode(data)
        except DecodeError:
            continue
        assert v50.encode(msg) == data  # whatever decodes re-encodes to the same bytes
