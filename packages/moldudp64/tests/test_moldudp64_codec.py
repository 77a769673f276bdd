"""MoldUDP64 codec: the struct fast path agrees with the construct layouts, errors are typed."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tickwire.moldudp64 import (
    BadSession,
    CountMismatch,
    DownstreamPacket,
    MoldError,
    RequestPacket,
    SequenceOverflow,
    TrailingBytes,
    TruncatedPacket,
    parse_downstream,
    parse_request,
)
from tickwire.moldudp64.capture import read_moldudp64
from tickwire.moldudp64.codec import (
    REQUEST,
    build_downstream_construct,
    encode_session,
    parse_downstream_construct,
)
from tickwire.moldudp64.events import BadPacket
from tickwire.moldudp64.receiver import Receiver, ReceiverConfig

sessions = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=10
)
sequences = st.integers(min_value=0, max_value=(1 << 64) - 1)
messages = st.lists(st.binary(max_size=80), max_size=30).map(tuple)


@st.composite
def packets(draw: st.DrawFn) -> DownstreamPacket:
    kind = draw(st.sampled_from(["data", "heartbeat", "eos"]))
    session = draw(sessions)
    seq = draw(sequences)
    if kind == "heartbeat":
        return DownstreamPacket.heartbeat(session, seq)
    if kind == "eos":
        return DownstreamPacket.end_of_session_packet(session, seq)
    msgs = draw(messages)
    # a valid packet's messages end at sequence number 2^64 - 1 at the latest
    return DownstreamPacket(session, min(seq, (1 << 64) - len(msgs)), msgs)


@settings(max_examples=300, deadline=None)
@given(packets())
def test_fast_build_and_parse_agree_with_construct(pkt: DownstreamPacket) -> None:
    wire = pkt.build()
    assert wire == build_downstream_construct(pkt)
    assert parse_downstream(wire) == pkt
    assert parse_downstream_construct(wire) == pkt
    assert len(wire) == 20 + sum(2 + len(m) for m in pkt.messages)


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    """Valid packets, then truncated, extended, or with the count rewritten."""
    wire = bytearray(draw(packets()).build())
    how = draw(st.sampled_from(["cut", "append", "count", "sequence", "none"]))
    if how == "sequence":  # near 2^64: its messages may run past 2^64 - 1
        wire[10:18] = ((1 << 64) - draw(st.integers(1, 40))).to_bytes(8, "big")
    elif how == "cut":
        del wire[draw(st.integers(0, len(wire))) :]
    elif how == "append":
        wire += draw(st.binary(min_size=1, max_size=40))
    elif how == "count":
        wire[18:20] = draw(st.integers(0, 0xFFFF)).to_bytes(2, "big")
    return bytes(wire)


@settings(max_examples=500, deadline=None)
@given(damaged())
def test_fast_parse_fails_exactly_when_construct_does(wire: bytes) -> None:
    try:
        expected: DownstreamPacket | None = parse_downstream_construct(wire)
    except MoldError:
        expected = None
    if expected is None:
        with pytest.raises(MoldError):
            parse_downstream(wire)
    else:
        assert parse_downstream(wire) == expected


@settings(max_examples=300, deadline=None)
@given(sessions, st.integers(2, 0xFFFE), st.data())  # one message fits at 2^64 - 1
def test_a_header_running_past_2_64_is_refused(
    session: str, count: int, data: st.DataObject
) -> None:
    """A packet whose ``count`` messages from ``sequence`` would run past sequence number
    2^64 - 1 (sequence + count > 2^64) is refused by the codec, both parsers, with the
    receiver's error and words (``SequenceOverflow``), whatever its blocks; at 2^64
    exactly it is whole. ``parse_downstream`` parsed it and only the receiver refused it
    later: a capture's readers took sequence numbers no packet can carry."""
    top = 1 << 64
    seq = data.draw(st.integers(top - count + 1, top - 1), label="sequence")
    blocks = b"\x00\x01x" * count
    wire = encode_session(session) + seq.to_bytes(8, "big") + count.to_bytes(2, "big") + blocks
    with pytest.raises(SequenceOverflow) as info:
        parse_downstream(wire)
    assert str(info.value) == f"{count} messages from sequence {seq} run past 2^64 - 1 (at byte 10)"
    with pytest.raises(MoldError):
        parse_downstream_construct(wire)
    last = (top - count).to_bytes(8, "big")
    whole = encode_session(session) + last + count.to_bytes(2, "big") + blocks
    assert parse_downstream(whole).next_sequence == top
    rx = Receiver(ReceiverConfig(session=session, start_sequence=seq))
    (event,) = [e for e in rx.receive(wire, ("198.18.0.1", 1), 0.0) if isinstance(e, BadPacket)]
    assert str(event.error) == str(info.value)  # the receiver's words: the same


@settings(max_examples=200, deadline=None)
@given(sessions, st.integers(2, 40), st.data())  # one message fits at 2^64 - 1
def test_a_packet_running_past_2_64_is_not_built(
    session: str, count: int, data: st.DataObject
) -> None:
    """``DownstreamPacket.build`` refuses a packet whose ``count`` messages from
    ``sequence`` would run past sequence number 2^64 - 1 with the one-line reason every
    reader gives (``SequenceOverflow``, a ``ValueError``: ``check_sequence_range``); at
    2^64 exactly it builds, as do a heartbeat and an end of session at 2^64 - 1. Before,
    it built packets the codec and the receiver refuse."""
    top = 1 << 64
    seq = data.draw(st.integers(top - count + 1, top - 1), label="sequence")
    msgs = tuple(b"x" for _ in range(count))
    with pytest.raises(ValueError) as info:
        DownstreamPacket(session, seq, msgs).build()
    assert isinstance(info.value, SequenceOverflow)
    assert str(info.value) == f"{count} messages from sequence {seq} run past 2^64 - 1 (at byte 10)"
    assert "\n" not in str(info.value)
    whole = DownstreamPacket(session, top - count, msgs)
    assert parse_downstream(whole.build()) == whole
    for edge in (DownstreamPacket.heartbeat, DownstreamPacket.end_of_session_packet):
        assert parse_downstream(edge(session, top - 1).build()) == edge(session, top - 1)


def test_heartbeat_and_end_of_session() -> None:
    hb = DownstreamPacket.heartbeat("SESSION001", 42)
    assert hb.is_heartbeat and hb.count == 0 and hb.next_sequence == 42
    assert hb.build() == b"SESSION001" + (42).to_bytes(8, "big") + b"\x00\x00"
    eos = DownstreamPacket.end_of_session_packet("SESSION001", 42)
    assert eos.end_of_session and not eos.is_heartbeat and eos.count == 0xFFFF
    assert eos.build()[-2:] == b"\xff\xff"
    assert parse_downstream(eos.build()) == eos


def test_session_padding_and_layout() -> None:
    wire = DownstreamPacket("AB", 7, (b"hello", b"")).build()
    assert wire == b"AB        " + (7).to_bytes(8, "big") + b"\x00\x02\x00\x05hello\x00\x00"
    assert parse_downstream(wire).session == "AB"


def _header(count: int, session: bytes = b"S         ", seq: int = 1) -> bytes:
    return session + seq.to_bytes(8, "big") + count.to_bytes(2, "big")


@pytest.mark.parametrize(
    ("wire", "error", "words"),
    [
        (b"short", TruncatedPacket, "header"),
        (_header(1) + b"\x00", TruncatedPacket, "length runs past"),
        (_header(1) + b"\x00\x05abc", TruncatedPacket, "runs 2 bytes past"),
        (_header(3) + b"\x00\x01a\x00\x01b", CountMismatch, "holds 2"),
        (_header(1) + b"\x00\x01a\x00\x01b", CountMismatch, "2 message blocks follow"),
        (_header(1) + b"\x00\x01ab", TrailingBytes, "1 bytes follow"),
        (_header(0) + b"x", TrailingBytes, "follow"),
        (_header(0xFFFF) + b"\x00", TrailingBytes, "end-of-session"),
        (_header(0, session=b"\xff" * 10), BadSession, "ASCII"),
    ],
)
def test_bad_packets_raise_typed_errors(wire: bytes, error: type[MoldError], words: str) -> None:
    with pytest.raises(error, match=words) as info:
        parse_downstream(wire)
    assert isinstance(info.value, ValueError)


def test_build_rejects_what_cannot_be_encoded() -> None:
    with pytest.raises(BadSession):
        DownstreamPacket("ELEVENCHARS", 1).build()
    with pytest.raises(BadSession):
        DownstreamPacket("é", 1).build()
    with pytest.raises(MoldError):
        DownstreamPacket("S", -1).build()
    with pytest.raises(MoldError):
        DownstreamPacket("S", 1, (b"x" * 70000,)).build()
    with pytest.raises(MoldError):
        DownstreamPacket("S", 1, (b"x",), end_of_session=True).build()
    with pytest.raises(MoldError):
        RequestPacket("S", 1, 0x10000).build()


@settings(max_examples=200, deadline=None)
@given(sessions, sequences, st.integers(0, 0xFFFF))
def test_request_round_trip_matches_construct(session: str, seq: int, count: int) -> None:
    req = RequestPacket(session, seq, count)
    wire = req.build()
    assert wire == REQUEST.build(
        {"session": session.encode().ljust(10), "sequence": seq, "count": count}
    )
    assert parse_request(wire) == req


def test_bad_requests() -> None:
    with pytest.raises(TruncatedPacket):
        parse_request(b"x" * 19)
    with pytest.raises(TrailingBytes):
        parse_request(b"x" * 21)


def test_real_captures_decode(real_captures: list) -> None:  # type: ignore[type-arg]
    seen = {}
    for path in real_captures:
        for mf in read_moldudp64(path):
            assert mf.packet.session == "000010059B"
            assert mf.udp.dst_port == 26477
            seen[(path.name, mf.packet.sequence)] = mf.packet
            # What we parse we rebuild byte for byte.
            assert mf.packet.build() == mf.udp.payload
    multi = seen[("Multiple.Packets.pcap", 19009117)]
    assert len(multi.messages) == 38
    assert [m[:1] for m in multi.messages].count(b"A") >= 30
    assert seen[("OrderDeleteMessage.pcap", 14757722)].messages[0][:1] == b"D"
    assert len(seen[("OrderDeleteMessage.pcap", 14757722)].messages[0]) == 19
