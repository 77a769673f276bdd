"""SoupBinTCP sans-I/O session cores under simulated time and broken links:
drops mid-stream in both directions, heartbeat timeouts, bad logins, garbage."""

from __future__ import annotations

import pytest
from tickwire.soupbintcp import (
    Accepted,
    ClientSession,
    ClientState,
    Closed,
    Event,
    LoginAccepted,
    Message,
    Rejected,
    SequencedData,
    ServerConnection,
    SessionEnded,
    SoupServer,
    SoupVersion,
    build_packet,
)

USERS = {"USER01": "Secret123"}


def shuttle(
    client: ClientSession, conn: ServerConnection, now: float
) -> tuple[list[Event], list[Event]]:
    """Move bytes both ways until both sides are quiet; returns (client, server) events."""
    c_events: list[Event] = []
    s_events: list[Event] = []
    for _ in range(100):
        up = client.data_to_send()
        if up:
            s_events += conn.receive_data(up, now)
        s_events += conn.pump(now)
        down = conn.data_to_send()
        if down:
            c_events += client.receive_data(down, now)
        if not up and not down:
            return c_events, s_events
    raise AssertionError("link never went quiet")


def messages(events: list[Event]) -> list[tuple[int | None, bytes]]:
    return [(e.sequence_number, e.data) for e in events if isinstance(e, Message)]


def test_soupbintcp_session_login_and_stream() -> None:
    server = SoupServer(USERS)
    for i in range(3):
        server.publish(b"m%d" % i)
    client = ClientSession("user01", "SECRET123")  # case-insensitive per the spec
    client.connect(0.0)
    conn = server.connection(0.0)
    c_ev, _ = shuttle(client, conn, 0.0)
    assert c_ev[0] == Accepted("SESSION001", 1)
    assert messages(c_ev) == [(1, b"m0"), (2, b"m1"), (3, b"m2")]
    assert client.state is ClientState.LOGGED_IN and client.next_sequence == 4
    client.send_message(b"order", 0.1)
    _, s_ev = shuttle(client, conn, 0.1)
    assert s_ev == [Message(b"order", None)]
    assert server.stats.logins == 1


@pytest.mark.parametrize("version", list(SoupVersion))
def test_soupbintcp_session_drop_mid_stream_server_to_client(version: SoupVersion) -> None:
    """Cut the link in the middle of a packet; the re-login resumes exactly."""
    server = SoupServer(USERS, version=version)
    client = ClientSession("USER01", "Secret123", version=version)
    sent = [b"msg-%04d" % i for i in range(200)]
    for m in sent[:120]:
        server.publish(m)
    client.connect(0.0)
    conn = server.connection(0.0)
    got: list[tuple[int | None, bytes]] = []
    conn.receive_data(client.data_to_send(), 0.0)
    down = conn.data_to_send()
    cut = len(down) // 2 + 3  # mid-packet
    got += messages(client.receive_data(down[:cut], 0.0))
    assert 0 < len(got) < 120
    client.connection_lost()
    conn.connection_lost()
    for m in sent[120:150]:
        server.publish(m)  # published while the client is away
    client.connect(1.0)
    assert client.session == "SESSION001"  # resumes the same session by name
    conn2 = server.connection(1.0)
    c_ev, _ = shuttle(client, conn2, 1.0)
    assert c_ev[0] == Accepted("SESSION001", len(got) + 1)
    got += messages(c_ev)
    for m in sent[150:]:
        server.publish(m)
    got += messages(shuttle(client, conn2, 1.5)[0])
    assert got == [(i + 1, m) for i, m in enumerate(sent)]


def test_soupbintcp_session_client_drops_replayed_duplicates() -> None:
    """A server that resumes earlier than asked still yields no duplicate."""
    client = ClientSession("USER01", "Secret123", session="SESSION001", next_sequence=6)
    client.connect(0.0)
    # a server that accepts at 1 although 6 was asked for, and replays from 1
    down = build_packet(LoginAccepted("SESSION001", 1))
    down += b"".join(build_packet(SequencedData(b"%d" % i)) for i in range(10))
    got = messages(client.receive_data(down, 0.0))
    assert got == [(i + 1, b"%d" % i) for i in range(5, 10)]


def test_soupbintcp_session_client_heartbeats_and_timeout() -> None:
    server = SoupServer(USERS, timeout=15.0)
    client = ClientSession("USER01", "Secret123", heartbeat_interval=1.0, timeout=5.0)
    client.connect(0.0)
    conn = server.connection(0.0)
    shuttle(client, conn, 0.0)
    assert client.timer(0.5) == []
    assert client.data_to_send() == b""
    assert client.timer(1.0) == []
    assert client.data_to_send() == b"\x00\x01R"  # client heartbeat after 1 s of silence
    assert conn.timer(1.0) == []
    assert conn.data_to_send() == b"\x00\x01H"  # and the server's
    # the server goes silent (dead peer): the client gives up after its timeout
    assert client.next_deadline() is not None
    assert client.timer(4.9) == []
    assert client.timer(5.0) == [Closed("heartbeat timeout: nothing from the server")]
    assert client.state is ClientState.CLOSED


def test_soupbintcp_session_server_closes_dead_client() -> None:
    # SoupBinTCP 4.1: the client states its own heartbeat timeout (ms) at login
    server = SoupServer(USERS, timeout=15.0)
    client = ClientSession("USER01", "Secret123", timeout=3.0, version=SoupVersion.V4_1)
    client.connect(0.0)
    conn = server.connection(0.0)
    shuttle(client, conn, 0.0)
    assert conn.timeout == 3.0
    assert conn.timer(2.9) == []
    assert conn.timer(3.0) == [Closed("heartbeat timeout: nothing from the client")]
    assert server.stats.timeouts == 1
    # 4.0 has no such field: the server's own timeout applies
    client40 = ClientSession("USER01", "Secret123", version=SoupVersion.V4_0)
    client40.connect(10.0)
    conn40 = server.connection(10.0)
    shuttle(client40, conn40, 10.0)
    assert conn40.timer(24.9) == []
    assert isinstance(conn40.timer(25.0)[0], Closed)


def test_soupbintcp_session_login_timeout() -> None:
    server = SoupServer(USERS, login_timeout=2.0)
    conn = server.connection(0.0)
    assert conn.timer(1.9) == []
    assert conn.timer(2.0) == [Closed("no login request in time")]


@pytest.mark.parametrize(
    ("user", "password", "session", "code"),
    [
        ("USER01", "wrong", "", "A"),
        ("NOBODY", "Secret123", "", "A"),
        ("USER01", "Secret123", "OTHERSESS", "S"),
    ],
)
def test_soupbintcp_session_bad_login_rejected(
    user: str, password: str, session: str, code: str
) -> None:
    server = SoupServer(USERS)
    client = ClientSession(user, password, session=session)
    client.connect(0.0)
    conn = server.connection(0.0)
    c_ev, _s_ev = shuttle(client, conn, 0.0)
    assert c_ev == [Rejected(code), Closed("login rejected")]
    assert conn.closed and not conn.logged_in
    assert server.stats.bad_logins == 1 and server.stats.logins == 0
    assert "Secret123" not in repr(client) and "Secret123" not in repr(server)


def test_soupbintcp_session_password_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    server = SoupServer(USERS)
    for pw in ("Secret123", "Wrong-pw"):
        client = ClientSession("USER01", pw)
        client.connect(0.0)
        shuttle(client, server.connection(0.0), 0.0)
    assert "USER01" in caplog.text
    assert "Secret123".lower() not in caplog.text.lower() and "wrong-pw" not in caplog.text.lower()


@pytest.mark.parametrize(
    ("garbage", "reason"),
    [
        (b"\x00\x00", "length 0"),
        (b"\xff\xff" + b"x" * 10, "packet length"),
        (b"\x00\x01Q", "unknown packet type"),
        (b"\x00\x01S", "not sent by a client"),
        (b"\x00\x05Uabcd", "before login"),
        (b"\x00\x03Lab", "malformed"),
        (b"\x00\x02Rx", "unexpected bytes"),
    ],
)
def test_soupbintcp_session_garbage_closes_only_that_connection(
    garbage: bytes, reason: str
) -> None:
    server = SoupServer(USERS)
    good = ClientSession("USER01", "Secret123")
    good.connect(0.0)
    good_conn = server.connection(0.0)
    shuttle(good, good_conn, 0.0)
    bad_conn = server.connection(0.0)
    events = bad_conn.receive_data(garbage, 0.1)
    assert len(events) == 1 and isinstance(events[0], Closed)
    assert reason in events[0].reason
    assert bad_conn.closed and server.stats.protocol_errors == 1
    # the other session is untouched
    server.publish(b"after")
    assert messages(shuttle(good, good_conn, 0.2)[0]) == [(1, b"after")]


def test_soupbintcp_session_rate_and_size_limits() -> None:
    server = SoupServer(USERS, max_rate=10.0, burst=5, max_packet_length=64)
    client = ClientSession("USER01", "Secret123")
    client.connect(0.0)
    conn = server.connection(0.0)
    shuttle(client, conn, 0.0)  # the login used one token
    for _ in range(4):
        client.send_message(b"x", 0.0)
    assert len(conn.receive_data(client.data_to_send(), 0.0)) == 4
    client.send_message(b"x", 0.0)
    assert conn.receive_data(client.data_to_send(), 0.0) == [Closed("packet rate limit exceeded")]
    assert server.stats.rate_limited == 1
    conn2 = server.connection(0.0)
    events = conn2.receive_data(b"\x00\x41U" + b"x" * 64, 0.0)
    assert isinstance(events[0], Closed) and "packet length 65" in events[0].reason


def test_soupbintcp_session_end_of_session() -> None:
    server = SoupServer(USERS)
    client = ClientSession("USER01", "Secret123")
    client.connect(0.0)
    conn = server.connection(0.0)
    shuttle(client, conn, 0.0)
    server.publish(b"last")
    server.end_session()
    c_ev, _ = shuttle(client, conn, 0.1)
    assert messages(c_ev) == [(1, b"last")]
    assert SessionEnded() in c_ev and client.ended and conn.closed
    # the ended session cannot be joined again
    client.connect(1.0)
    c_ev, _ = shuttle(client, server.connection(1.0), 1.0)
    assert c_ev[0] == Rejected("S")


def test_soupbintcp_session_logout() -> None:
    server = SoupServer(USERS)
    client = ClientSession("USER01", "Secret123")
    client.connect(0.0)
    conn = server.connection(0.0)
    shuttle(client, conn, 0.0)
    assert client.logout(0.1) == [Closed("logout")]
    assert conn.receive_data(client.data_to_send(), 0.1) == [Closed("logout")]


def test_soupbintcp_session_v30_server_sends_no_unsequenced() -> None:
    server = SoupServer(USERS, version=SoupVersion.V3_0)
    client = ClientSession("USER01", "Secret123", version=SoupVersion.V3_0)
    client.connect(0.0)
    conn = server.connection(0.0)
    shuttle(client, conn, 0.0)
    with pytest.raises(RuntimeError):
        conn.send_unsequenced(b"x", 0.0)
    events = client.receive_data(b"\x00\x02Ux", 0.0)
    assert isinstance(events[0], Closed)
