"""The SoupBinTCP server against a hostile client: bytes trickled part-way through a
packet before and after login, Login Requests at sequence numbers the stream does not
hold, data after a Logout Request, and connections that log in and out in a loop. The
sans-I/O core is driven with bytes; the runner over loopback (one or a few connections,
a few seconds at most each)."""

from __future__ import annotations

import asyncio
import struct
import time

import pytest
from tickwire.soupbintcp import (
    ClientSession,
    Closed,
    LoggedIn,
    LoginAccepted,
    LoginRequest,
    ServerConnection,
    SoupServer,
    SoupVersion,
    build_packet,
    parse_server_packet,
)
from tickwire.soupbintcp.aio import SoupServerRunner, run
from tickwire.soupbintcp.packets import PacketFramer, data_packet

USERS = {"USER01": "Secret123"}
#: The first three bytes of a 1000-byte Unsequenced Data packet: a packet never finished.
STUCK = struct.pack(">H", 1000) + b"U"


def login_bytes(timeout: float = 5.0, seq: int = 1) -> bytes:
    """A SoupBinTCP 4.1 Login Request stating a heartbeat timeout of ``timeout`` s."""
    client = ClientSession("USER01", "Secret123", timeout=timeout, next_sequence=seq)
    client.connect(0.0)
    return client.data_to_send()


def logged_in(server: SoupServer, now: float = 0.0, **kw: object) -> ServerConnection:
    conn = server.connection(now, "198.18.0.7:40000", "198.18.0.7")
    events = conn.receive_data(login_bytes(**kw), now)  # type: ignore[arg-type]
    assert isinstance(events[0], LoggedIn), events
    conn.data_to_send()
    return conn


async def eof_within(reader: asyncio.StreamReader, seconds: float) -> float | None:
    """Read (and drop) until the server closes; the seconds it took, None if it did not
    within ``seconds``."""
    start = time.monotonic()
    while (left := seconds - (time.monotonic() - start)) > 0:
        try:
            data = await asyncio.wait_for(reader.read(1 << 16), left)
        except TimeoutError:
            return None
        except ConnectionResetError:
            return time.monotonic() - start
        if not data:
            return time.monotonic() - start
    return None


async def read_packet(reader: asyncio.StreamReader) -> bytes:
    """The next packet's body (its type and payload), within 2 s."""
    (length,) = struct.unpack(">H", await asyncio.wait_for(reader.readexactly(2), 2.0))
    return await asyncio.wait_for(reader.readexactly(length), 2.0)


# ------------------------------------------------------------ a packet trickled a byte at a time
def test_a_packet_trickled_after_login_does_not_keep_a_dead_client_alive() -> None:
    """Silence is counted in packets on the server too: the old server restarted the
    client's heartbeat timeout at every byte, so a client stuck part-way through a packet
    that sent a byte every half timeout was never timed out (and held the session: its
    re-login elsewhere was refused "S" all the while)."""
    server = SoupServer(USERS)
    conn = logged_in(server, timeout=5.0)  # the Login Request: the last whole packet, at 0
    assert conn.timeout == 5.0
    events: list[object] = []
    for i, t in enumerate((2.5, 5.0)):
        events += conn.receive_data(STUCK[i : i + 1], t) + conn.timer(t)
    assert events == [Closed("heartbeat timeout: nothing from the client")]
    assert conn.closed and server.active is None and server.stats.timeouts == 1


def test_a_packet_split_across_reads_restarts_the_clients_timeout_once_whole() -> None:
    server = SoupServer(USERS)
    conn = logged_in(server, timeout=5.0)
    packet = data_packet("U", b"slow")
    assert conn.receive_data(packet[:3], 4.0) == []
    assert conn.receive_data(packet[3:], 4.9) != []  # the Message, whole at 4.9
    assert conn.timer(9.8) == []  # 5 s from the whole packet, not from its first byte
    assert conn.timer(9.9) == [Closed("heartbeat timeout: nothing from the client")]


def test_a_login_request_trickled_a_byte_at_a_time_is_bounded() -> None:
    """Before login the bytes of a Login Request trickled at half the heartbeat timeout:
    closed at that timeout (no whole packet came), and in any case by ``login_timeout``
    from the connection's opening, however the bytes come."""
    server = SoupServer(USERS, timeout=4.0, login_timeout=10.0)
    conn = server.connection(0.0, "198.18.0.7:40000", "198.18.0.7")
    request = login_bytes()
    events: list[object] = []
    t = 0.0
    for i in range(len(request) - 1):  # all but its last byte
        t = 2.0 * (i + 1)
        events += conn.receive_data(request[i : i + 1], t) + conn.timer(t)
        if events:
            break
    assert events == [Closed("heartbeat timeout: nothing from the client")] and t == 4.0
    assert server.pending_total == 0 and server.stats.logins == 0
    # a peer that sends a whole packet now and then (heartbeats) is closed by the login
    # deadline all the same
    conn = server.connection(0.0, "198.18.0.7:40001", "198.18.0.7")
    events = []
    for i in range(1, 20):
        events += conn.receive_data(b"\x00\x01R", i * 1.0) + conn.timer(i * 1.0)
        if events:
            break
    assert events == [Closed("no login request in time")] and i == 10


@pytest.mark.parametrize("when", ["after login", "before login"])
def test_a_trickling_client_is_dropped_over_tcp(when: str) -> None:
    """Over loopback, the real runner: a client that sends a byte of an unfinished packet
    every 0.4 s (the heartbeat timeout 1 s; the login deadline 1.5 s). The server closes
    it within a second or so of its last whole packet (bound: 4 s, for a loaded machine);
    the old server kept the logged-in one for as long as the bytes came (20 bytes, 8 s
    here)."""

    async def main() -> None:
        core = SoupServer(USERS, timeout=1.0, login_timeout=1.5, heartbeat_interval=0.2)
        runner = SoupServerRunner(core)
        port = await runner.start()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            if when == "after login":
                writer.write(login_bytes(timeout=1.0))
                head = await asyncio.wait_for(reader.readexactly(3), 2.0)
                assert head[2:3] == b"A"  # Login Accepted
                trickle = STUCK + b"x" * 17
            else:
                trickle = login_bytes(timeout=1.0)[:20]
            start = time.monotonic()
            closer = asyncio.ensure_future(eof_within(reader, 10.0))
            for byte in trickle:
                if closer.done():
                    break
                try:
                    writer.write(bytes([byte]))
                except (ConnectionError, RuntimeError):
                    break
                await asyncio.sleep(0.4)
            took = await closer
            assert took is not None, f"{when}: still open after {time.monotonic() - start:.1f} s"
            assert took < 4.0, took
            assert core.stats.timeouts == 1 and core.active is None and core.pending_total == 0
            writer.close()
        finally:
            await runner.close()

    run(main())


# ------------------------------------------------------------ what a Login Request asks for
@pytest.mark.parametrize(
    ("requested", "start"),
    [(0, 4), (1, 1), (3, 3), (4, 4), (5, 4), (10**20 - 1, 4)],
)
def test_a_login_at_any_sequence_number_starts_within_the_stream(
    requested: int, start: int
) -> None:
    """Three messages published: 0 (the most recent onwards: the next one) and anything
    past the end start at the end (4), and only what is held is replayed."""
    server = SoupServer(USERS)
    for m in (b"a", b"b", b"c"):
        server.publish(m)
    conn = server.connection(0.0)
    events = conn.receive_data(login_bytes(seq=requested), 0.0)
    assert events == [LoggedIn("USER01", "SESSION001", start)]
    framer = PacketFramer(1024)
    bodies = framer.feed(conn.data_to_send())
    assert parse_server_packet(bodies[0]) == LoginAccepted("SESSION001", start)
    assert [b[1:] for b in bodies[1:]] == [b"abc"[i : i + 1] for i in range(start - 1, 3)]


@pytest.mark.parametrize("field", [b"        -00000000001", b"                    ", b"1e5 " * 5])
def test_a_login_request_whose_sequence_number_is_not_digits_is_a_protocol_error(
    field: bytes,
) -> None:
    server = SoupServer(USERS)
    good = login_bytes()
    bad = good[:33] + field + good[53:]  # Requested Sequence Number: bytes 33 to 52
    assert len(bad) == len(good)
    conn = server.connection(0.0)
    events = conn.receive_data(bad, 0.0)
    assert len(events) == 1 and isinstance(events[0], Closed)
    assert events[0].reason.startswith("protocol error"), events
    assert conn.data_to_send() == b"" and server.stats.logins == 0 and server.pending_total == 0


# ------------------------------------------------------------ after a Logout Request
def test_nothing_after_a_logout_request_is_read() -> None:
    """A Logout Request closes the connection: the data and the second Login Request in
    the same read after it are not handled, nor anything that comes later."""
    server = SoupServer(USERS)
    conn = logged_in(server)
    after = data_packet("U", b"order") + build_packet(
        LoginRequest("USER01", "Secret123", "", 1, 5000)
    )
    events = conn.receive_data(b"\x00\x01O" + after, 1.0)
    assert events == [Closed("logout")] and conn.closed and server.active is None
    assert conn.receive_data(after, 1.1) == [] and conn.timer(100.0) == []
    assert server.stats.logins == 1 and conn.data_to_send() == b""


def test_many_logins_and_logouts_leave_nothing_behind_over_tcp() -> None:
    """200 connections that log in, send an order and log out, one after another: each
    logs in (the session is free again at each logout), every order is handled, and the
    server holds no connection, no pending count and no active session afterwards."""
    rounds = 200

    async def main() -> None:
        core = SoupServer(USERS, version=SoupVersion.V4_1)
        got: list[bytes] = []
        runner = SoupServerRunner(core, lambda conn, data: got.append(data))
        port = await runner.start()
        deadline = time.monotonic() + 20.0
        try:
            for i in range(rounds):
                assert time.monotonic() < deadline, f"round {i}: out of time"
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(login_bytes() + data_packet("U", b"%d" % i) + b"\x00\x01O")
                head = await asyncio.wait_for(reader.readexactly(3), 2.0)
                assert head[2:3] == b"A", (i, head)
                assert await eof_within(reader, 2.0) is not None, i
                writer.close()
            for _ in range(100):
                if not runner.connections:
                    break
                await asyncio.sleep(0.01)
            assert got == [b"%d" % i for i in range(rounds)]
            assert core.stats.logins == rounds and core.stats.duplicate_logins == 0
            assert not runner.connections and core.active is None and core.pending_total == 0
            assert core.pending == {} and runner.closed_counts == {"logout": rounds}
        finally:
            await runner.close()

    run(main())


# ------------------------------------------------------------ a client that never reads
def test_a_client_that_never_reads_holds_bounded_memory_and_stalls_no_other_port() -> None:
    """Two sessions on one loop (the exchange's two OUCH ports): a client of the first
    logs in and never reads while 60,000 messages are published to it; the server holds
    a batch and the socket buffers for it (write flow control,
    ``test_soupbintcp_slow_reader.py``), and the second port's client gets each of its
    messages at once all the while."""

    async def main() -> None:
        stuck_core, other_core = SoupServer(USERS), SoupServer(USERS)
        stuck, other = SoupServerRunner(stuck_core), SoupServerRunner(other_core)
        stuck_port, other_port = await stuck.start(), await other.start()
        try:
            _r, w = await asyncio.open_connection("127.0.0.1", stuck_port, limit=4096)
            w.write(login_bytes(timeout=5.0))
            reader, writer = await asyncio.open_connection("127.0.0.1", other_port)
            writer.write(login_bytes(timeout=5.0))
            assert (await read_packet(reader))[:1] == b"A"
            (proto,) = stuck.connections
            most, slowest = 0, 0.0
            for i in range(60):
                for _ in range(1000):
                    stuck.publish(b"x" * 100)
                start = time.monotonic()
                other.publish(b"%05d" % i)
                assert await read_packet(reader) == b"S%05d" % i
                w.write(b"\x00\x01R")  # a heartbeat: alive, but never reading
                slowest = max(slowest, time.monotonic() - start)
                assert proto.transport is not None
                most = max(most, proto.transport.get_write_buffer_size())
            assert most < 1_000_000, most  # 60,000 * 103 bytes = 6.2 MB were published
            assert slowest < 3.0, slowest  # at once; a loaded CI machine may deschedule us
            assert stuck_core.active is not None  # kept: it heartbeats (see the module)
            w.close()
            writer.close()
        finally:
            await stuck.close()
            await other.close()

    run(main())


# ------------------------------------------------------------ the Requested Session's padding
@pytest.mark.parametrize("field", [b"        S1", b"S1        ", b"    S1    ", b" " * 10])
def test_a_requested_session_padded_on_the_right_logs_in(field: bytes) -> None:
    """The Requested Session "S1" padded on the left (the spec), the right or both sides,
    or all spaces (any session), logs in to session "S1"; the old server removed only the
    left padding and refused "S1" and 8 spaces with "S", though the client reads a Login
    Accepted padded either side as "S1"."""
    server = SoupServer(USERS, session="S1")
    good = login_bytes()
    wire = good[:19] + field + good[29:]  # Requested Session: bytes 19 to 28
    assert len(wire) == len(good)
    conn = server.connection(0.0)
    events = conn.receive_data(wire, 0.0)
    assert events == [LoggedIn("USER01", "S1", 1)], events
    assert parse_server_packet(PacketFramer(1024).feed(conn.data_to_send())[0]) == (
        LoginAccepted("S1", 1)
    )


@pytest.mark.parametrize("field", [b"        S2", b"S2        ", b"      S1S2", b"S 1       "])
def test_a_requested_session_that_is_another_is_still_refused(field: bytes) -> None:
    """Stripping the padding names no other session: "S2" (either side) and "S1S2" are
    refused "S", and a space inside ("S 1") is not padding."""
    server = SoupServer(USERS, session="S1")
    good = login_bytes()
    conn = server.connection(0.0)
    events = conn.receive_data(good[:19] + field + good[29:], 0.0)
    assert len(events) == 1 and isinstance(events[0], Closed), events
    assert conn.data_to_send().endswith(b"JS") and server.stats.logins == 0
