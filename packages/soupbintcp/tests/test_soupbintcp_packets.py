"""SoupBinTCP packets: hypothesis round trips through the framer, the data-packet
fast path against the construct layout, version differences, typed errors."""

from __future__ import annotations

import construct as cs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tickwire.soupbintcp.fields import PaddedText
from tickwire.soupbintcp.packets import (
    CLIENT_PACKET_TYPES,
    PACKET,
    PACKET_TYPES,
    SERVER_PACKET_TYPES,
    ClientHeartbeat,
    Debug,
    EndOfSession,
    LoginAccepted,
    LoginRejected,
    LoginRequest,
    LogoutRequest,
    Packet,
    PacketError,
    PacketFramer,
    Sender,
    SequencedData,
    ServerHeartbeat,
    SoupVersion,
    UnsequencedData,
    build_packet,
    parse_client_packet,
    parse_server_packet,
)

ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def text(n: int) -> st.SearchStrategy[str]:
    return st.text(ALNUM, max_size=n)


server_packets = st.one_of(
    st.builds(Debug, st.text(ALNUM + " .:", max_size=50)),
    st.builds(LoginAccepted, text(10), st.integers(0, 10**20 - 1)),
    st.builds(LoginRejected, st.sampled_from("AS")),
    st.builds(SequencedData, st.binary(max_size=300)),
    st.builds(UnsequencedData, st.binary(max_size=300)),
    st.just(ServerHeartbeat()),
    st.just(EndOfSession()),
)
client_packets = st.one_of(
    st.builds(Debug, st.text(ALNUM, max_size=50)),
    st.builds(
        LoginRequest,
        text(6),
        text(10),
        text(10),
        st.integers(0, 10**20 - 1),
        st.none() | st.integers(0, 99999),
    ),
    st.builds(UnsequencedData, st.binary(max_size=300)),
    st.just(ClientHeartbeat()),
    st.just(LogoutRequest()),
)


@settings(max_examples=150, deadline=None)
@given(packets=st.lists(server_packets, max_size=8), cut=st.integers(1, 7))
def test_soupbintcp_server_packets_round_trip(packets: list[Packet], cut: int) -> None:
    wire = b"".join(build_packet(p) for p in packets)
    framer = PacketFramer()
    bodies = []
    for i in range(0, len(wire), cut):  # arbitrary TCP segmentation
        bodies += framer.feed(wire[i : i + cut])
    assert framer.buffered == 0
    assert [parse_server_packet(b, SoupVersion.V4_0) for b in bodies] == packets


@settings(max_examples=150, deadline=None)
@given(packet=client_packets)
def test_soupbintcp_client_packets_round_trip(packet: Packet) -> None:
    wire = build_packet(packet)
    assert int.from_bytes(wire[:2], "big") == len(wire) - 2
    assert wire[2:3] == packet.packet_type.encode()
    [body] = PacketFramer().feed(wire)
    assert parse_client_packet(body) == packet
    if isinstance(packet, LoginRequest):
        assert len(wire) == (54 if packet.heartbeat_timeout is not None else 49)


@settings(max_examples=100, deadline=None)
@given(kind=st.sampled_from("SU"), message=st.binary(max_size=500))
def test_soupbintcp_data_fast_path_matches_construct(kind: str, message: bytes) -> None:
    fast = build_packet(SequencedData(message) if kind == "S" else UnsequencedData(message))
    ref = PACKET.build({"packet_type": kind.encode(), "payload": {"message": message}})
    assert fast == ref


def test_soupbintcp_login_layout() -> None:
    wire = build_packet(LoginRequest("ab", "pw", "SESS", 12, 15000))
    assert (
        wire
        == b"\x00\x34L" + b"ab    " + b"pw        " + b"      SESS" + b"12".rjust(20) + b"15000"
    )
    wire = build_packet(LoginAccepted("SESS", 7))
    assert wire == b"\x00\x1fA" + b"      SESS" + b"7".rjust(20)


def test_soupbintcp_version_differences() -> None:
    with pytest.raises(PacketError, match=r"3\.0"):
        parse_server_packet(b"Ux", SoupVersion.V3_0)
    assert parse_server_packet(b"Ux", SoupVersion.V4_0) == UnsequencedData(b"x")
    with pytest.raises(PacketError, match="not sent by a client"):
        parse_client_packet(b"H")
    with pytest.raises(PacketError, match="not sent by a server"):
        parse_server_packet(build_packet(LoginRequest("u", "p", "", 1))[2:])


@pytest.mark.parametrize(
    "body",
    [b"", b"?", b"Hx", b"A" + b"x" * 30, b"L" + b"x" * 10, b"L" + b" " * 26 + b"x" * 20, b"J"],
)
def test_soupbintcp_malformed_raise_packet_error(body: bytes) -> None:
    with pytest.raises(PacketError):
        try:
            parse_server_packet(body)
        except PacketError:
            parse_client_packet(body)
            raise


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"A" + b"\xff" * 30, "malformed LoginAccepted: session: non-ASCII text"),
        (b"A" + b"x" * 5, "malformed LoginAccepted: session: stream read less than"),
        (b"J", "malformed LoginRejected: reject_reason_code: stream read less than"),
        (b"L" + b"x" * 10, "malformed LoginRequest: a 10-byte payload fits none of its layouts"),
    ],
)
def test_soupbintcp_malformed_is_one_line_naming_the_field(body: bytes, reason: str) -> None:
    """It was construct's two lines, ``Error in path (parsing) -> payload -> session`` then
    the reason (``no subconstruct matched`` for a login of the wrong size), which split a
    log line and ``ouch decode``'s text record in two."""
    with pytest.raises(PacketError) as caught:
        try:
            parse_server_packet(body)
        except PacketError:
            parse_client_packet(body)
    assert str(caught.value).startswith(reason) and "\n" not in str(caught.value)


def test_soupbintcp_build_errors() -> None:
    with pytest.raises(PacketError):
        build_packet(LoginRequest("toolongname", "pw", "", 1))
    with pytest.raises(PacketError):
        build_packet(LoginAccepted("S", -1))
    with pytest.raises(PacketError):
        build_packet(SequencedData(b"x" * 70000))


def test_soupbintcp_table_drives_classes_sides_and_lengths() -> None:
    """Everything about a packet type comes from its row of PACKET_TYPES."""
    assert [t.code for t in PACKET_TYPES] == [t.cls.packet_type.encode() for t in PACKET_TYPES]
    assert {bytes([c]) for c in b"+LURO"} == CLIENT_PACKET_TYPES
    assert {bytes([c]) for c in b"+AJSUHZ"} == SERVER_PACKET_TYPES
    lengths = {t.code: t.lengths for t in PACKET_TYPES}
    assert lengths[b"L"] == {47, 52} and lengths[b"A"] == {31} and lengths[b"J"] == {2}
    assert lengths[b"H"] == lengths[b"R"] == {1} and lengths[b"S"] is None
    assert LoginRequest.sender is Sender.CLIENT and LoginRequest.from_server is False
    assert UnsequencedData.spec.server_sends(SoupVersion.V4_0)
    assert not UnsequencedData.spec.server_sends(SoupVersion.V3_0)
    assert len(build_packet(LoginRequest("u", "p", "", 1))) == 2 + 47
    assert len(build_packet(LoginRequest("u", "p", "", 1, 500))) == 2 + 52
    assert len(build_packet(LoginAccepted("S", 1))) == 2 + 31


@pytest.mark.parametrize("cls", [ServerHeartbeat, EndOfSession, ClientHeartbeat, LogoutRequest])
def test_soupbintcp_empty_fast_path_matches_construct(cls: type[Packet]) -> None:
    ref = PACKET.build({"packet_type": cls.packet_type.encode(), "payload": {}})
    assert build_packet(cls()) == ref


padded = st.text("AB z9", max_size=6)


@settings(max_examples=100, deadline=None)
@given(
    username=padded.filter(lambda t: not t.endswith(" ")),
    session=padded.filter(lambda t: not t.startswith(" ")),
)
def test_soupbintcp_padded_text_round_trips_exactly(username: str, session: str) -> None:
    """Decoding removes only the padding: a leading space of a left-justified Username
    (and a trailing one of the right-justified Session) is kept. The old adapter stripped
    both sides, so ``" AB"`` came back as ``"AB"``."""
    req = LoginRequest(username, "pw", session, 1)
    assert parse_client_packet(build_packet(req)[2:]) == req
    acc = LoginAccepted(session, 3)
    assert parse_server_packet(build_packet(acc)[2:]) == acc


def test_soupbintcp_padded_text_errors() -> None:
    with pytest.raises(ValueError, match="justify"):
        PaddedText(4, justify="centre")  # type: ignore[arg-type]
    for bad in ("toolong", "é", b"ab", 3):
        with pytest.raises(cs.ValidationError):
            PaddedText(4).build(bad)
    with pytest.raises(cs.ValidationError, match="non-ASCII"):
        PaddedText(2).parse(b"\xff ")
    assert PaddedText(4, justify="right").build("ab") == b"  ab"
