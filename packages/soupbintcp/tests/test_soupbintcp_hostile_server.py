"""A hostile SoupBinTCP server against the client: sequence numbers the client could never
ask for again, a Login Accepted for another session or at sequence 0, a resume that skips
messages, and a Debug flood. The sans-I/O core is driven with bytes; the adapter over
loopback (bounded: one connection, a few seconds at most)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import struct

import pytest
from tickwire.soupbintcp import (
    MAX_SEQUENCE,
    Accepted,
    ClientSession,
    Closed,
    LoggedIn,
    LoginAccepted,
    LoginRequest,
    Message,
    SessionError,
    SessionState,
    SoupServer,
    StreamDiverged,
    build_packet,
    parse_client_packet,
)
from tickwire.soupbintcp.aio import SoupClient, SoupServerRunner, run
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


def _relogin(client: ClientSession, now: float) -> None:
    client.connection_lost()
    client.connect(now)
    client.data_to_send()


def _delivered(events: list[object]) -> list[tuple[bytes, int | None]]:
    return [(e.data, e.sequence_number) for e in events if isinstance(e, Message)]


def test_an_earlier_resume_with_equal_replays_delivers_nothing_twice() -> None:
    """(a) An honest server that resumes earlier replays what was delivered, byte for
    byte: dropped, nothing emitted, nothing unchecked."""
    client = logged_in("S1", seq=1)
    stream = data_packet("S", b"a") + data_packet("S", b"b") + data_packet("S", b"c")
    assert len(_delivered(client.receive_data(stream, 1.0))) == 3
    _relogin(client, 2.0)
    events = client.receive_data(accepted("S1", 1) + stream + data_packet("S", b"d"), 3.0)
    assert events == [Accepted("S1", 1), Message(b"d", 4)]
    assert client.streams_diverged == 0 and client.unchecked_replays == 0
    assert client.next_sequence == 5


def test_a_reset_stream_is_delivered_not_dropped_as_a_replay(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """(b) A server restarted with the same session and an empty stream accepts the login
    at 1 and numbers its new messages 1, 2, ...: the first differs from the 1 delivered,
    so the client says so (StreamDiverged, one warning) and delivers all of them. Before,
    1..3 were dropped as replays, silently."""
    client = logged_in("S1", seq=1)
    old = data_packet("S", b"a") + data_packet("S", b"b") + data_packet("S", b"c")
    client.receive_data(old, 1.0)
    _relogin(client, 2.0)
    new = b"".join(data_packet("S", m) for m in (b"w", b"x", b"y", b"z"))
    with caplog.at_level(logging.WARNING, logger="tickwire.soupbintcp"):
        events = client.receive_data(accepted("S1", 1) + new, 3.0)
    assert events[:2] == [Accepted("S1", 1), StreamDiverged("S1", 1)]
    assert _delivered(events) == [(b"w", 1), (b"x", 2), (b"y", 3), (b"z", 4)]
    assert client.streams_diverged == 1 and client.next_sequence == 5
    warned = [r.getMessage() for r in caplog.records if "differs" in r.getMessage()]
    assert len(warned) == 1 and "message 1 " in warned[0], warned
    # a second restart: checked against what this stream delivered, the same rule
    _relogin(client, 4.0)
    events = client.receive_data(accepted("S1", 1) + new[:4] + data_packet("S", b"X"), 5.0)
    assert StreamDiverged("S1", 2) in events and _delivered(events) == [(b"X", 2)]
    assert client.streams_diverged == 2 and client.next_sequence == 3


def test_a_reset_stream_that_already_holds_messages_is_checked_from_its_start() -> None:
    """A restarted server whose new stream holds 2 messages when the client (5 delivered)
    logs in at 6 accepts at 3, the end of its stream: its 1 and 2 were not sent. The first
    message, 3, differs: the client closes and logs in again at 1 (the oldest digest it
    holds), finds the divergence at 1 and delivers the new stream's 1, 2, 3. Before, 3 was
    dropped as a replay; without the check from the start, 1 and 2 were lost."""
    client = logged_in("S1", seq=1)
    client.receive_data(b"".join(data_packet("S", m) for m in (b"a", b"b", b"c", b"d", b"e")), 1)
    _relogin(client, 2.0)
    new = [data_packet("S", m) for m in (b"x", b"y", b"z")]
    events = client.receive_data(accepted("S1", 3) + new[2], 3.0)
    assert events[0] == Accepted("S1", 3)
    assert isinstance(events[-1], Closed) and events[-1].reason.startswith("stream diverged")
    assert _delivered(events) == [] and client.next_sequence == 6
    client.connection_lost()
    client.connect(4.0)
    assert login_request(client).requested_sequence_number == 1
    events = client.receive_data(accepted("S1", 1) + b"".join(new), 5.0)
    assert events[1] == StreamDiverged("S1", 1)
    assert _delivered(events) == [(b"x", 1), (b"y", 2), (b"z", 3)]
    assert client.streams_diverged == 1 and client.next_sequence == 4
    _relogin(client, 6.0)  # and the next login asks for what comes next again
    assert client._requested == ("S1", 4)


def test_a_replay_older_than_the_window_is_dropped_unchecked() -> None:
    """(c) With a window of 2, a replay of message 1 after 3 were delivered has no digest
    left: dropped as before, counted unchecked; 2 and 3 are checked (equal: dropped)."""
    client = logged_in("S1", seq=1, replay_window=2)
    stream = data_packet("S", b"a") + data_packet("S", b"b") + data_packet("S", b"c")
    client.receive_data(stream, 1.0)
    _relogin(client, 2.0)
    replay = data_packet("S", b"A") + data_packet("S", b"b") + data_packet("S", b"c")
    events = client.receive_data(accepted("S1", 1) + replay, 3.0)
    assert events == [Accepted("S1", 1)]
    assert client.unchecked_replays == 1 and client.streams_diverged == 0


def test_a_replay_window_of_0_checks_nothing() -> None:
    """(d) Window 0: the old behaviour, every replay dropped (counted unchecked), even a
    reset stream's."""
    client = logged_in("S1", seq=1, replay_window=0)
    client.receive_data(data_packet("S", b"a") + data_packet("S", b"b"), 1.0)
    _relogin(client, 2.0)
    new = data_packet("S", b"x") + data_packet("S", b"y") + data_packet("S", b"z")
    events = client.receive_data(accepted("S1", 1) + new, 3.0)
    assert events == [Accepted("S1", 1), Message(b"z", 3)]
    assert client.unchecked_replays == 2 and client.streams_diverged == 0
    with pytest.raises(ValueError, match="replay_window"):
        ClientSession("USER01", "pw", replay_window=-1)


def test_the_replay_ring_wraps_and_a_divergence_keeps_the_digests_before_it() -> None:
    """The digests live in a ring of ``replay_window``: after it wrapped, the last window
    of messages is still checked; a stream that diverges at 5 of 1..6 keeps 1..4's
    digests (checked equal) and forgets 5 and 6's."""
    client = logged_in("S1", seq=1, replay_window=4)
    msgs = [bytes([65 + i]) for i in range(6)]
    client.receive_data(b"".join(data_packet("S", m) for m in msgs), 1.0)
    _relogin(client, 2.0)
    # 1 and 2 are out of the window (unchecked), 3 and 4 equal, 5 differs
    other = [*msgs[:4], b"e", b"f", b"g"]
    events = client.receive_data(
        accepted("S1", 1) + b"".join(data_packet("S", m) for m in other), 3.0
    )
    assert events[1] == StreamDiverged("S1", 5)
    assert _delivered(events) == [(b"e", 5), (b"f", 6), (b"g", 7)]
    assert client.unchecked_replays == 2
    _relogin(client, 4.0)
    again = [msgs[2], msgs[3], b"e", b"f", b"g"]  # 3..7 of the new stream: replays
    events = client.receive_data(
        accepted("S1", 3) + b"".join(data_packet("S", m) for m in again), 5.0
    )
    assert events == [Accepted("S1", 3)]
    assert client.streams_diverged == 1 and client.unchecked_replays == 3


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


# ------------------------------------------------------------ a login nobody answers
def test_a_server_that_heartbeats_but_never_answers_the_login_is_timed_out() -> None:
    """Heartbeats keep a logged-in link alive, not an unanswered Login Request: the old
    client waited in ``login_sent`` for as long as they came."""
    client = ClientSession("USER01", "pw", timeout=5.0)
    client.connect(0.0)
    client.data_to_send()
    heartbeat = b"\x00\x01H"
    for t in (1.0, 2.0, 3.0, 4.0, 4.9):
        assert client.receive_data(heartbeat, t) == []
        assert client.timer(t) == []
    assert client.next_deadline() == 5.0
    events = client.receive_data(heartbeat, 5.0) + client.timer(5.0)
    assert events == [Closed("login timeout: no answer to the Login Request in 5 s")]
    assert client.state is SessionState.CLOSED and client.next_deadline() is None
    client.connection_lost()
    client.connect(6.0)  # the next connection asks again, and has its own 5 s
    assert login_request(client).requested_sequence_number == 1
    assert client.timer(10.9) == []


def test_an_answered_login_is_timed_by_the_heartbeats_alone() -> None:
    client = ClientSession("USER01", "pw", timeout=5.0)
    client.connect(0.0)
    client.data_to_send()
    client.receive_data(accepted("S1", 1), 4.0)
    for t in (6.0, 8.0, 10.0):  # the server heartbeats, the login is long answered
        assert client.receive_data(b"\x00\x01H", t) == []
        assert client.timer(t) == []
    assert client.state is SessionState.LOGGED_IN


def test_soup_client_closes_a_connection_whose_login_went_unanswered() -> None:
    """``connect`` timed out and left the connection open, the core waiting for the
    answer: the next ``connect`` raised "already connected" inside ``connection_made``
    and timed out too, a second connection leaked."""

    async def main() -> None:
        peers: list[asyncio.StreamReader] = []
        done = asyncio.Event()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            peers.append(reader)
            await reader.read(100)  # the Login Request
            if len(peers) > 1:  # the second connection is answered
                writer.write(accepted("S1", 1))
            while not done.is_set() and not writer.is_closing() and not reader.at_eof():
                writer.write(b"\x00\x01H")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(done.wait(), 0.1)
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = SoupClient(ClientSession("USER01", "pw"), "127.0.0.1", port, reconnect=False)
        try:
            with pytest.raises(TimeoutError, match="no answer to the Login Request in 1 s"):
                await client.connect(timeout=1.0)
            assert await asyncio.wait_for(peers[0].read(), 3.0) == b""  # closed: EOF
            accepted_ = await client.connect(timeout=3.0)
            assert accepted_.session == "S1" and len(peers) == 2
        finally:
            done.set()
            await client.close()
            server.close()
            await server.wait_closed()

    run(main())


def test_a_packet_trickled_a_byte_at_a_time_does_not_keep_a_dead_link_alive() -> None:
    """Silence is counted in packets: the old client restarted its timeout at every byte,
    so a server stuck part-way through a packet, a byte now and then, was never timed
    out (a 65,535-byte packet at a byte every 14 s: ten days)."""
    client = logged_in(timeout=5.0)  # Login Accepted at 0.5
    stuck = struct.pack(">H", 1000) + b"S"
    events: list[object] = []
    for i, t in enumerate((1.0, 2.0, 3.0, 4.0, 5.0, 5.4, 5.6)):
        events += client.receive_data(stuck[i : i + 1] or b"x", t) + client.timer(t)
    assert events == [Closed("heartbeat timeout: nothing from the server")]
    assert client.state is SessionState.CLOSED


def test_a_packet_split_across_reads_restarts_the_timeout_once_whole() -> None:
    client = logged_in(timeout=5.0)
    packet = data_packet("S", b"slow")
    assert client.receive_data(packet[:3], 4.0) == []
    assert client.receive_data(packet[3:], 5.4) == [Message(b"slow", 1)]
    assert client.timer(10.3) == []  # 5 s from the whole packet, not from its first byte
    assert client.timer(10.4) == [Closed("heartbeat timeout: nothing from the server")]


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_a_reconnect_while_the_application_holds_the_reading_logs_in_and_pauses(
    loop: str,
) -> None:
    """The link drops while the queue is full (the reading paused). The old client paused
    the new connection in ``connection_made``, before its login was answered: on
    asyncio's loop every attempt timed out unanswered; on uvloop the pause was not
    honoured there at all and the client read the rest of the stream into the queue.
    Now the login is read, then the reading pauses: the queue stays near its bound and
    every message comes once, in order."""
    count, bound = 100_000, 2_000

    async def main() -> None:
        core = SoupServer({"USER01": "pw"}, heartbeat_interval=0.1)
        for i in range(count):
            core.publish(b"message %06d" % i)
        runner = SoupServerRunner(core)
        port = await runner.start()
        session = ClientSession("USER01", "pw", heartbeat_interval=0.1, timeout=2.0)
        client = SoupClient(session, "127.0.0.1", port, max_queued=bound, reconnect_delay=0.05)
        try:
            await client.connect()
            for _ in range(200):  # bounded: 2 s
                if client.pauses:
                    break
                await asyncio.sleep(0.01)
            assert client.pauses == 1
            client.drop()
            await client.wait_disconnected()
            await client.wait_logged_in(timeout=4.0)  # read while paused: not timed out
            await asyncio.sleep(0.5)  # time to read the whole stream, were it read
            held = client.messages.qsize()
            assert held < count // 4, held  # a read or two past the bound, not the stream
            assert client.connections == 2
            for i in range(count):
                msg = await client.receive(timeout=2.0)
                assert (msg.sequence_number, msg.data) == (i + 1, b"message %06d" % i)
            assert client.connections == 2 and client.messages.empty()
        finally:
            await client.close()
            await runner.close()

    if loop == "uvloop":
        run(main())
    else:
        asyncio.run(main())


def test_soup_client_leaves_a_server_that_goes_silent_after_login_and_logs_in_again() -> None:
    """A server that accepts the login, then sends nothing: the adapter's timer closes the
    connection after the client's timeout (1 s) and the client logs in again."""

    async def main() -> None:
        logins: list[float] = []
        loop = asyncio.get_running_loop()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read(100)  # the Login Request
            logins.append(loop.time())
            writer.write(accepted("S1", 1))
            with contextlib.suppress(ConnectionError):
                await reader.read()  # silent, until the client closes
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = SoupClient(ClientSession("USER01", "pw", timeout=1.0), "127.0.0.1", port)
        try:
            await client.connect()
            for _ in range(400):  # bounded: 4 s
                if len(logins) >= 2:
                    break
                await asyncio.sleep(0.01)
            assert len(logins) >= 2, logins
            assert logins[1] - logins[0] >= 0.99  # not before the timeout
            reasons = [e.reason for e in client.events if isinstance(e, Closed)]
            assert reasons[0] == "heartbeat timeout: nothing from the server"
        finally:
            await client.close()
            server.close()
            await server.wait_closed()

    run(main())


def test_a_reconnect_that_fails_backs_off_and_is_told() -> None:
    """A server that, after the first login, closes every connection at once (a gateway
    restarting): the reconnect tries wait 0.05, 0.1, 0.2 s (doubling, at most
    ``max_backoff``), and when they are used up ``on_reconnect_failed`` is told. The old
    loop tried every 0.05 s and told nobody."""

    async def main() -> None:
        opened: list[float] = []
        loop = asyncio.get_running_loop()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            opened.append(loop.time())
            if len(opened) == 1:
                await reader.read(100)  # the Login Request
                writer.write(accepted("S1", 1))
                with contextlib.suppress(ConnectionError):
                    await reader.read()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        told: list[str] = []
        client = SoupClient(
            ClientSession("USER01", "pw"),
            "127.0.0.1",
            port,
            reconnect_delay=0.05,
            max_backoff=0.2,
            max_reconnect_attempts=4,
            on_reconnect_failed=lambda c, reason: told.append(reason),
        )
        try:
            await client.connect()
            client.drop()
            for _ in range(300):  # bounded: 3 s
                if told:
                    break
                await asyncio.sleep(0.01)
            assert told == ["could not reconnect after 4 attempts"]
            assert len(opened) == 1 + 4
            gaps = [b - a for a, b in itertools.pairwise(opened[1:])]  # between the tries
            waits = (0.1, 0.2, 0.2)  # doubled from 0.05, at most 0.2 (loop clock: 5 %)
            assert all(g >= w * 0.95 for g, w in zip(gaps, waits, strict=True)), gaps
        finally:
            await client.close()
            server.close()
            await server.wait_closed()

    run(main())


def test_a_rejected_re_login_is_told() -> None:
    async def main() -> None:
        logins = 0

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal logins
            logins += 1
            await reader.read(100)  # the Login Request
            writer.write(accepted("S1", 1) if logins == 1 else b"\x00\x02JA")
            with contextlib.suppress(ConnectionError):
                await reader.read()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        told: list[str] = []
        client = SoupClient(
            ClientSession("USER01", "pw"),
            "127.0.0.1",
            port,
            on_reconnect_failed=lambda c, reason: told.append(reason),
        )
        try:
            await client.connect()
            client.drop()
            for _ in range(300):  # bounded: 3 s
                if told:
                    break
                await asyncio.sleep(0.01)
            assert told == ["re-login rejected ('A')"] and logins == 2
        finally:
            await client.close()
            server.close()
            await server.wait_closed()

    run(main())


def test_a_session_padded_on_the_wrong_side_is_asked_for_without_its_padding() -> None:
    """A Login Accepted whose Session is padded on the right ("S1" then 8 spaces; the spec
    pads on the left): the client keeps "S1", so its next login asks for the session
    the server named. The old client kept the spaces and asked for "S1        ", which a
    server reading the field as the spec says (left padding removed) refused "S"."""
    client = ClientSession("USER01", "pw")
    client.connect(0.0)
    client.data_to_send()
    body = b"A" + b"S1".ljust(10) + b"1".rjust(20)
    events = client.receive_data(struct.pack(">H", len(body)) + body, 0.5)
    assert events == [Accepted("S1", 1)] and client.session == "S1"
    client.connection_lost()
    client.connect(1.0)
    wire = client.data_to_send()
    assert wire[3 + 6 + 10 : 3 + 6 + 10 + 10] == b"        S1"  # Requested Session
    server = SoupServer({"USER01": "pw"}, session="S1")
    conn = server.connection(1.0)
    assert isinstance(conn.receive_data(wire, 1.0)[0], LoggedIn)
