"""The SoupBinTCP server under abuse: password guessing, a second login of the session,
and peers that make it remember every way they closed."""

from __future__ import annotations

import asyncio
import logging

import pytest
from tickwire.soupbintcp import (
    Accepted,
    ClientSession,
    Closed,
    Event,
    Message,
    Rejected,
    ServerConnection,
    SoupServer,
)
from tickwire.soupbintcp.aio import SoupServerRunner, run
from tickwire.soupbintcp.session import SourceThrottle, count_reason

USERS = {"USER01": "Secret123"}


def attempt(
    server: SoupServer, password: str, now: float, source: str = "198.18.0.7"
) -> tuple[ClientSession, ServerConnection, list[Event]]:
    """One TCP connection from ``source`` sending one Login Request; the client's events."""
    client = ClientSession("USER01", password)
    client.connect(now)
    conn = server.connection(now, peer=f"{source}:40000", source=source)
    conn.receive_data(client.data_to_send(), now)
    return client, conn, client.receive_data(conn.data_to_send(), now)


def test_password_guessing_is_throttled_per_source_address() -> None:
    """3,400 wrong passwords in a second from one address: five are checked."""
    server = SoupServer(USERS)  # 5 failures, then one per 5 s
    for i in range(3400):
        _, conn, events = attempt(server, f"guess{i}", i / 3400)
        assert events[0] == Rejected("A") and conn.closed
    st = server.stats
    assert (st.bad_logins, st.login_throttled) == (5, 3395)
    # While throttled, even the right password is refused, unchecked: guessing on
    # learns nothing.
    assert attempt(server, "Secret123", 1.0)[2][0] == Rejected("A")
    assert attempt(server, "Secret123", 1.0, source="198.18.0.8")[2][0] == Accepted("SESSION001", 1)
    # One more checked attempt every 1 / failed_login_rate seconds.
    assert attempt(server, "guess", 6.0)[2][0] == Rejected("A")
    assert attempt(server, "guess", 6.0)[2][0] == Rejected("A")
    assert (st.bad_logins, st.login_throttled) == (6, 3397)


def test_a_throttled_source_gets_its_attempts_back_over_time() -> None:
    server = SoupServer(USERS, failed_login_burst=2, failed_login_rate=1.0)
    for _ in range(2):
        assert attempt(server, "wrong", 0.0)[2][0] == Rejected("A")
    assert server.stats.bad_logins == 2
    assert attempt(server, "Secret123", 0.5)[2][0] == Rejected("A")
    assert server.stats.login_throttled == 1
    assert attempt(server, "Secret123", 1.0)[2][0] == Accepted("SESSION001", 1)


def test_the_failed_login_table_is_bounded() -> None:
    throttle = SourceThrottle(burst=1, rate=0.001, max_sources=3)
    for ip in ("198.18.0.1", "198.18.0.2", "198.18.0.3"):
        throttle.failed(ip, 0.0)
    assert throttle.blocked("198.18.0.1", 0.0)
    throttle.failed("198.18.0.1", 1.0)  # failing again makes it the most recent
    throttle.failed("198.18.0.4", 1.0)  # forgets .2, the least recent failure
    assert len(throttle) == 3 and throttle.forgotten == 1
    assert not throttle.blocked("198.18.0.2", 1.0) and throttle.blocked("198.18.0.1", 1.0)
    with pytest.raises(ValueError, match="burst"):
        SourceThrottle(burst=0)


def test_a_second_login_of_the_session_is_refused_and_the_first_carries_on() -> None:
    server = SoupServer(USERS)
    first, conn1, events = attempt(server, "Secret123", 0.0, source="198.18.0.1")
    assert events == [Accepted("SESSION001", 1)] and server.active is conn1
    _, conn2, events = attempt(server, "Secret123", 1.0, source="198.18.0.2")
    assert events[0] == Rejected("S") and conn2.closed and not conn2.logged_in
    assert server.stats.duplicate_logins == 1 and server.stats.logins == 1
    # The first connection still works, and the second sees none of its answers.
    server.publish(b"answer")
    conn1.pump(1.0)
    conn2.pump(1.0)
    assert Message(b"answer", 1) in first.receive_data(conn1.data_to_send(), 1.0)
    assert conn2.data_to_send() == b""
    # Once the first is gone, the session can be logged in again.
    conn1.connection_lost()
    assert server.active is None
    third, conn3, events = attempt(server, "Secret123", 2.0, source="198.18.0.2")
    assert events == [Accepted("SESSION001", 1), Message(b"answer", 1)]
    assert server.active is conn3
    # A logout releases the session as well.
    third.logout(3.0)
    conn3.receive_data(third.data_to_send(), 3.0)
    assert conn3.closed and server.active is None
    assert attempt(server, "Secret123", 3.0)[2][0] == Accepted("SESSION001", 1)


def test_reason_counters_hold_a_bounded_number_of_kinds() -> None:
    counts: dict[str, int] = {}
    for i in range(1000):
        count_reason(counts, f"protocol error: packet length {i} outside 1..1024")
        count_reason(counts, f"kind {chr(0x4E00 + i)}: detail")
    assert counts["protocol error"] == 1000
    assert len(counts) == 64 and sum(counts.values()) == 2000 and counts["other"] > 900


def test_closed_reasons_stay_bounded_however_many_peers_close() -> None:
    """Hundreds of peers sending garbage (each a different length): the runner keeps the
    last ``keep_reasons`` reasons and one count per kind; failed logins over TCP are
    throttled per address (all of these come from 127.0.0.1)."""

    async def main() -> None:
        core = SoupServer(USERS, max_packet_length=64)
        runner = SoupServerRunner(core, keep_reasons=10)
        port = await runner.start()
        try:
            for i in range(300):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write((100 + i).to_bytes(2, "big") + b"U")
                await writer.drain()
                assert await asyncio.wait_for(reader.read(), 2.0) == b""
                writer.close()
            for _ in range(8):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                client = ClientSession("USER01", "wrong")
                client.connect(0.0)
                writer.write(client.data_to_send())
                await writer.drain()
                assert (await asyncio.wait_for(reader.read(), 2.0))[2:4] == b"JA"
                writer.close()
            await asyncio.sleep(0.05)
        finally:
            await runner.close()
        assert len(runner.closed_reasons) == 10
        assert runner.closed_counts == {"protocol error": 300, "login rejected": 8}
        assert core.stats.by_reason == {"packet length N outside N..N": 300}
        assert (core.stats.bad_logins, core.stats.login_throttled) == (5, 3)

    run(main())


def test_closed_event_reasons_name_the_refusal() -> None:
    server = SoupServer(USERS, failed_login_burst=1)
    attempt(server, "Secret123", 0.0, source="198.18.0.1")
    _, conn, _ = attempt(server, "Secret123", 0.0, source="198.18.0.2")
    client = ClientSession("USER01", "x")
    client.connect(0.0)
    c2 = server.connection(0.0, source="198.18.0.3")
    assert c2.receive_data(client.data_to_send(), 0.0) == [Closed("login rejected: not authorized")]
    client = ClientSession("USER01", "x")
    client.connect(0.0)
    c3 = server.connection(0.0, source="198.18.0.3")
    assert c3.receive_data(client.data_to_send(), 0.0) == [
        Closed("login rejected: too many failed logins from this address")
    ]
    assert conn.closed


def test_connections_awaiting_login_are_capped_per_address() -> None:
    """One address holds at most ``max_pending_per_source`` connections that have not
    logged in; the next is closed as it opens, others' are not, and a login or a close
    frees a place. On the old code every one was held until its login timeout."""
    server = SoupServer(USERS, max_pending_per_source=3)
    held = [server.connection(0.0, f"198.18.0.7:{40000 + i}", "198.18.0.7") for i in range(3)]
    extra = server.connection(0.0, "198.18.0.7:40003", "198.18.0.7")
    assert extra.closed and extra.refused is not None and extra.next_deadline() is None
    assert server.stats.pending_refused == 1
    assert not server.connection(0.0, "198.18.0.8:40000", "198.18.0.8").closed
    held[0].connection_lost()  # a close frees a place
    again = server.connection(1.0, "198.18.0.7:40004", "198.18.0.7")
    assert not again.closed
    client = ClientSession("USER01", "Secret123")  # and so does a login
    client.connect(1.0)
    again.receive_data(client.data_to_send(), 1.0)
    assert again.logged_in
    assert not server.connection(1.0, "198.18.0.7:40005", "198.18.0.7").closed
    assert server.connection(1.0, "198.18.0.7:40006", "198.18.0.7").closed
    assert server.pending == {"198.18.0.7": 3, "198.18.0.8": 1}
    with pytest.raises(ValueError, match="max_pending_per_source"):
        SoupServer(USERS, max_pending_per_source=0)


def test_connections_awaiting_login_are_capped_in_all() -> None:
    """Many addresses, each under its own cap, hold at most ``max_pending`` connections
    awaiting login together; the next is closed as it opens, and a close or a login frees
    a place. On the old code 30 addresses of 16 each took 480 descriptors."""
    server = SoupServer(USERS, max_pending_per_source=2, max_pending=6)
    held = [
        server.connection(0.0, f"198.18.0.{a}:4000{i}", f"198.18.0.{a}")
        for a in range(1, 4)
        for i in range(2)
    ]
    assert not any(c.closed for c in held) and server.pending_total == 6
    extra = server.connection(0.0, "198.18.0.9:40000", "198.18.0.9")
    assert extra.closed and extra.refused is not None and "all addresses" in extra.refused
    held[0].connection_lost()
    assert not server.connection(1.0, "198.18.0.9:40001", "198.18.0.9").closed
    client = ClientSession("USER01", "Secret123")
    client.connect(1.0)
    held[1].receive_data(client.data_to_send(), 1.0)
    assert held[1].logged_in and server.pending_total == 5
    assert server.stats.pending_refused == 1
    with pytest.raises(ValueError, match="max_pending"):
        SoupServer(USERS, max_pending_per_source=8, max_pending=4)


def test_connections_awaiting_login_are_capped_per_address_over_tcp() -> None:
    """Over loopback: connections beyond the cap are closed at once (the peer reads EOF)
    and counted; the client logs in while the others are still held."""

    async def main() -> None:
        core = SoupServer(USERS, max_pending_per_source=4, login_timeout=30.0)
        runner = SoupServerRunner(core)
        port = await runner.start()
        try:
            held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(4)]
            await asyncio.sleep(0.05)
            extra = [await asyncio.open_connection("127.0.0.1", port) for _ in range(20)]
            for reader, _writer in extra:
                assert await asyncio.wait_for(reader.read(), 2.0) == b""
            assert core.stats.pending_refused == 20
            assert runner.closed_counts == {"connection refused": 20}
            for _reader, writer in extra + held[:1]:
                writer.close()
            await asyncio.sleep(0.05)
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            client = ClientSession("USER01", "Secret123")
            client.connect(0.0)
            writer.write(client.data_to_send())
            assert (await asyncio.wait_for(reader.read(3), 2.0))[2:3] == b"A"  # accepted
            writer.close()
            for _reader, w in held[1:]:
                w.close()
        finally:
            await runner.close()

    run(main())


def test_protocol_error_warnings_are_rate_limited_per_address(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """300 connections from one address each sending a bad packet within a second: all
    counted, five warnings (the failed-login pace), the rest at DEBUG; another address
    still gets its warning. On the old code: 300 warning lines, one a connection."""
    server = SoupServer(USERS)
    with caplog.at_level(logging.WARNING, logger="tickwire.soupbintcp"):
        for i in range(300):
            conn = server.connection(i / 300, f"198.18.0.7:{40000 + i}", "198.18.0.7")
            conn.receive_data(b"\x00\x01Z", i / 300)
            assert conn.closed
        other = server.connection(1.0, "198.18.0.8:40000", "198.18.0.8")
        other.receive_data(b"\x00\x01Z", 1.0)
        later = server.connection(6.0, "198.18.0.7:50000", "198.18.0.7")
        later.receive_data(b"\x00\x01Z", 6.0)
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 5 + 1 + 1  # five, the other address, one more 5 s later
    assert sum("198.18.0.8" in w for w in warned) == 1
    assert server.stats.protocol_errors == 302
    assert server.stats.warnings_suppressed == 295


def test_refused_second_login_warnings_are_rate_limited_per_address(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Someone with the password retrying a session already logged in: every refusal
    counted, warnings at the failed-login pace per address (the rest at DEBUG). On the
    old code: a warning line per attempt, without end."""
    server = SoupServer(USERS)
    attempt(server, "Secret123", 0.0, source="198.18.0.1")
    with caplog.at_level(logging.WARNING, logger="tickwire.soupbintcp"):
        for i in range(100):
            _, conn, events = attempt(server, "Secret123", i / 100, source="198.18.0.9")
            assert events[0] == Rejected("S") and conn.closed
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 5 and all("refused a second login" in w for w in warned)
    assert server.stats.duplicate_logins == 100 and server.stats.warnings_suppressed == 95
