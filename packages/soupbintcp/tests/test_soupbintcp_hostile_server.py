"""A hostile SoupBinTCP server against the client: sequence numbers the client could never
ask for again, a Login Accepted for another session or at sequence 0, a resume that skips
messages, and a Debug flood. The sans-I/O core is driven with bytes; the adapter over
loopback (bounded: one connection, a few seconds at most)."""

from __future__ import annotations

import asyncio
import logging
import struct

import pytest
from tickwire.soupbintcp import (
    MAX_SEQUENCE,
    Accepted,
    ClientSession,
    Closed,
    LoginAccepted,
    LoginRequest,
    Message,
    SessionError,
    SessionState,
    build_packet,
    parse_client_packet,
)
from tickwire.soupbintcp.aio import SoupClient, run
from tickwire.soupbintcp.packets import data_packet


def accepted(session: str, seq: int) -> bytes:
    return build_packet(LoginAccepted(session, seq))


def login_request(client: ClientSession) -> LoginRequest:
    data = client.data_to_send()
    packet = parse_client_packet(data[2:])
    assert isinstance(packet, LoginRequest)
    return packet


def logged_in(session: str = "S1", seq: int = 1, **kw: object) -> ClientSession:
    client = ClientSession("USER01", "pw", **kw)  # type: ignore[arg-type]
    client.connect(0.0)
    client.data_to_send()
    events = client.receive_data(accepted(session, seq), 0.5)
    assert isinstance(events[0], Accepted)
    return client


# ------------------------------------------------------------ sequence numbers that overflow
def test_a_message_numbered_max_sequence_is_a_protocol_error_and_connect_works_again() -> None:
    client = ClientSession("USER01", "pw")
    client.connect(0.0)
    client.data_to_send()
    events = client.receive_data(accepted("S1", MAX_SEQUENCE) + data_packet("S", b"m"), 1.0)
    assert isinstance(events[-1], Closed) and events[-1].reason.startswith("protocol error")
    assert not any(isinstance(e, Message) for e in events)  # it could not be resumed after
    assert client.state is SessionState.CLOSED
    assert client.next_sequence == MAX_SEQUENCE  # the next login asks for it again
    client.connection_lost()
    client.connect(2.0)  # raised PacketError, then "already connected" for ever
    request = login_request(client)
    assert request.requested_session == "S1"
    assert request.requested_sequence_number == MAX_SEQUENCE


def test_the_message_before_max_sequence_is_delivered() -> None:
    client = logged_in(seq=MAX_SEQUENCE - 1)
    events = client.receive_data(data_packet("S", b"m"), 1.0)
    assert events == [Message(b"m", MAX_SEQUENCE - 1)]
    assert client.next_sequence == MAX_SEQUENCE


def test_a_connect_that_cannot_build_the_login_changes_nothing() -> None:
    client = logged_in()
    client.connection_lost()
    client.next_sequence = MAX_SEQUENCE + 1  # set by hand: no Login Request can carry it
    with pytest.raises(SessionError, match="Login Request"):
        client.connect(1.0)
    assert client.state is SessionState.CLOSED and client.data_to_send() == b""
    client.next_sequence = 7
    client.connect(2.0)
    assert login_request(client).requested_sequence_number == 7


def test_next_sequence_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="next_sequence"):
        ClientSession("USER01", "pw", next_sequence=MAX_SEQUENCE + 1)
    with pytest.raises(ValueError, match="next_sequence"):
        ClientSession("USER01", "pw", next_sequence=-1)


# ------------------------------------------------------------ Login Accepted out of line
def test_login_accepted_for_another_session_is_a_protocol_error() -> None:
    client = logged_in("S1")
    client.receive_data(data_packet("S", b"a") + data_packet("S", b"b"), 1.0)
    client.connection_lost()
    client.connect(2.0)
    assert login_request(client).requested_session == "S1"
    events = client.receive_data(accepted("OTHER", 50) + data_packet("S", b"x"), 3.0)
    assert len(events) == 1 and isinstance(events[0], Closed)
    assert "OTHER" in events[0].reason and events[0].reason.startswith("protocol error")
    assert (client.session, client.next_sequence) == ("S1", 3)
    assert client.state is SessionState.CLOSED and client.skipped_messages == 0
    client.connection_lost()
    client.connect(4.0)  # and asks for S1 at 3 again
    request = login_request(client)
    assert (request.requested_session, request.requested_sequence_number) == ("S1", 3)


def test_a_blank_session_takes_whichever_the_server_names() -> None:
    client = logged_in("ANY")
    assert client.session == "ANY" and client.state is SessionState.LOGGED_IN


def test_login_accepted_at_sequence_zero_is_a_protocol_error() -> None:
    client = ClientSession("USER01", "pw")
    client.connect(0.0)
    client.data_to_send()
    events = client.receive_data(
        accepted("S1", 0) + data_packet("S", b"first") + data_packet("S", b"second"), 1.0
    )
    assert len(events) == 1 and isinstance(events[0], Closed)
    assert events[0].reason == "protocol error: Login Accepted at sequence number 0"
    assert client.next_sequence == 1 and client.session == ""


def test_a_resume_after_the_sequence_asked_for_is_surfaced() -> None:
    client = logged_in("S1")
    client.receive_data(data_packet("S", b"a") + data_packet("S", b"b"), 1.0)
    client.connection_lost()
    client.connect(2.0)
    client.data_to_send()
    events = client.receive_data(accepted("S1", 50) + data_packet("S", b"x"), 3.0)
    assert events == [Accepted("S1", 50, skipped=47), Message(b"x", 50)]
    assert client.skipped_messages == 47 and client.next_sequence == 51


def test_an_ordinary_or_earlier_resume_skips_nothing() -> None:
    client = logged_in("S1", seq=1)
    client.receive_data(data_packet("S", b"a"), 1.0)
    client.connection_lost()
    client.connect(2.0)
    client.data_to_send()
    events = client.receive_data(accepted("S1", 1) + data_packet("S", b"a"), 3.0)
    assert events == [Accepted("S1", 1, skipped=0)]  # the replay of 1 is dropped
    assert client.skipped_messages == 0


def test_asking_for_the_most_recent_message_skips_nothing() -> None:
    client = logged_in("S1", seq=40, next_sequence=0)  # 0: from the most recent on
    assert client.skipped_messages == 0 and client.next_sequence == 40


# ------------------------------------------------------------ the adapter: a Debug flood
def test_soup_client_events_stay_bounded_under_a_debug_flood() -> None:
    count, size = 300, 1000

    async def main() -> None:
        done = asyncio.Event()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read(100)  # the Login Request
            writer.write(accepted("S1", 1))
            debug = struct.pack(">H", size + 1) + b"+" + b"x" * size
            for _ in range(count):
                writer.write(debug)
            writer.write(data_packet("S", b"end"))
            await writer.drain()
            await done.wait()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = SoupClient(
            ClientSession("USER01", "pw"), "127.0.0.1", port, reconnect=False, keep_events=10
        )
        try:
            await client.connect()
            assert (await client.receive(timeout=5.0)).data == b"end"
            assert len(client.events) == 10
            assert client.events_dropped == count + 1 - 10  # the Accepted and the Debugs
        finally:
            done.set()
            await client.close()
            server.close()
            await server.wait_closed()

    run(main())


def test_soup_client_keep_events_must_be_positive() -> None:
    with pytest.raises(ValueError, match="keep_events"):
        SoupClient(ClientSession("USER01", "pw"), "127.0.0.1", 1, keep_events=0)


def test_a_session_name_in_the_resume_warning_is_escaped(caplog: pytest.LogCaptureFixture) -> None:
    """The server's session (ten ASCII bytes, control characters included) is logged as a
    Python literal: on the old code ESC [ 2 J went to stderr raw."""
    evil = "\x1b[2J\x1b[H"
    client = logged_in(evil)
    client.receive_data(data_packet("S", b"a"), 1.0)
    client.connection_lost()
    client.connect(2.0)
    client.data_to_send()
    with caplog.at_level(logging.WARNING, logger="tickwire.soupbintcp"):
        client.receive_data(accepted(evil, 10), 3.0)
    (line,) = [r.getMessage() for r in caplog.records if "will not be replayed" in r.getMessage()]
    assert repr(evil) in line and "\x1b" not in line
