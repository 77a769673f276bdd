"""The asyncio adapters over loopback (bounded): "A" (not authorized) is final, "S"
(session not available) is retried for a bounded time, so a reconnect waits out the
half-open connection a drop left the server holding, and a silent peer is closed by its
heartbeat timeout."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from tickwire.soupbintcp import ClientSession, SoupServer, StreamDiverged
from tickwire.soupbintcp.aio import LoginRejectedError, SoupClient, SoupServerRunner, run
from tickwire.soupbintcp.packets import LoginAccepted, build_packet, data_packet

USERS = {"USER01": "Secret123"}


def test_soupbintcp_aio_bad_login_rejected() -> None:
    async def main() -> None:
        core = SoupServer(USERS)
        runner = SoupServerRunner(core)
        port = await runner.start()
        try:
            client = SoupClient(ClientSession("USER01", "nope"), "127.0.0.1", port)
            with pytest.raises(LoginRejectedError) as info:
                await client.connect()
            assert info.value.reason == "A"
            await asyncio.sleep(0.05)
            assert core.stats.bad_logins == 1 and not client.logged_in
            assert client.connections == 1  # a rejection is final: no reconnect loop
        finally:
            await runner.close()

    run(main())


def test_soupbintcp_aio_heartbeat_timeout_closes_dead_peer() -> None:
    async def main() -> None:
        core = SoupServer(USERS, heartbeat_interval=0.05)
        runner = SoupServerRunner(core)
        port = await runner.start()
        try:
            # a peer that logs in and then says nothing more (no heartbeats)
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            login = ClientSession("USER01", "Secret123", timeout=0.3)  # 4.1: 300 ms
            login.connect(0.0)
            writer.write(login.data_to_send())
            await writer.drain()
            data = await asyncio.wait_for(reader.read(1000), 2.0)
            assert data[2:3] == b"A"
            rest = await asyncio.wait_for(reader.read(), 3.0)  # EOF once the server gives up
            assert b"\x00\x01H" in rest  # it heartbeated meanwhile
            assert core.stats.timeouts == 1
            assert "heartbeat timeout: nothing from the client" in runner.closed_reasons
            writer.close()
        finally:
            await runner.close()

    run(main())


class _Relay:
    """A TCP relay on loopback between a client and the server. :meth:`cut` drops the
    client's side only and leaves the server's side open and silent: the half-open
    connection a network drop leaves the server holding."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.pairs: list[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.pairs.append((writer, up_writer))
        self.tasks += [
            asyncio.create_task(self._pipe(reader, up_writer)),
            asyncio.create_task(self._pipe(up_reader, writer)),
        ]

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            if writer.is_closing():
                return
            writer.write(data)

    def cut(self) -> None:
        for task in self.tasks:
            task.cancel()
        self.tasks.clear()
        for down, _up in self.pairs:
            down.transport.abort()  # the client sees the drop; the server sees nothing

    async def close(self) -> None:
        self.cut()
        for _down, up in self.pairs:
            up.transport.abort()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


def _live_client(port: int, **kw: Any) -> SoupClient:
    # SoupBinTCP 4.1: the Login Request asks the server for a 0.5 s heartbeat timeout
    core = ClientSession("USER01", "Secret123", timeout=0.5, heartbeat_interval=0.1)
    return SoupClient(core, "127.0.0.1", port, reconnect_delay=0.02, max_backoff=0.1, **kw)


def test_soupbintcp_aio_reconnect_waits_out_a_half_open_session() -> None:
    # The server still holds the dropped connection, so the re-login gets "S" (Session
    # not available) until the server's heartbeat timeout frees the session. The client
    # took that "S" for final and gave up; it retries with backoff and gets back in.
    async def main() -> None:
        core = SoupServer(USERS, heartbeat_interval=0.1)
        runner = SoupServerRunner(core)
        relay = _Relay(await runner.start())
        client = _live_client(await relay.start(), busy_retry_for=5.0)
        try:
            await client.connect()
            runner.publish(b"one")
            assert (await client.receive(2.0)).data == b"one"
            relay.cut()
            await client.wait_disconnected()
            runner.publish(b"two")  # into the half-open connection: lost on the wire
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            await client.wait_logged_in(timeout=5.0)
            assert loop.time() - t0 >= 0.3, "not before the server timed the old one out"
            got = await client.receive(2.0)
            assert (got.data, got.sequence_number) == (b"two", 2)  # resumed, nothing lost
            assert client.busy_retries >= 1 and core.stats.duplicate_logins >= 1
            assert core.stats.timeouts == 1 and core.stats.logins == 2
        finally:
            await client.close()
            await relay.close()
            await runner.close()

    run(main())


def test_soupbintcp_aio_session_not_available_is_retried_for_a_bounded_time() -> None:
    async def main() -> None:
        core = SoupServer(USERS, heartbeat_interval=0.1)
        runner = SoupServerRunner(core)
        port = await runner.start()
        holder = _live_client(port)  # alive and heartbeating: never frees the session
        second = _live_client(port, busy_retry_for=0.4)
        try:
            await holder.connect()
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            with pytest.raises(LoginRejectedError) as info:
                await second.connect()
            assert info.value.reason == "S"
            assert 0.2 <= loop.time() - t0 < 2.0
            assert second.busy_retries >= 2 and second.connections == second.busy_retries + 1
            assert holder.logged_in and core.stats.duplicate_logins == second.connections
            await asyncio.sleep(0.1)
            assert second.connections == second.busy_retries + 1  # no reconnect loop after
        finally:
            await second.close()
            await holder.close()
            await runner.close()

    run(main())


def test_messages_nobody_receives_pause_the_reading() -> None:
    """30,000 messages for a client whose application does not call ``receive()`` for
    three of its heartbeat timeouts: the queue stops near ``max_queued`` (the reading
    paused, the server holding the rest), the client does not take its own pause for a
    dead server, and then every message comes, once, in order. On the old code the queue
    held all 30,000. The timeout is 2 s (the sleep three of them): with 0.5 s, a process
    descheduled for half a second while it drained the queue (CI runs three test workers
    on two cores) saw its timer before the server's next bytes and reconnected, and with
    1 s it did so once on a machine running three test workers beside other builds."""

    async def main() -> None:
        core = SoupServer(USERS, heartbeat_interval=0.1)
        for i in range(30_000):
            core.publish(b"message %08d" % i)
        runner = SoupServerRunner(core)
        port = await runner.start()
        try:
            session = ClientSession("USER01", "Secret123", heartbeat_interval=0.1, timeout=2.0)
            client = SoupClient(session, "127.0.0.1", port, max_queued=1_000)
            await client.connect()
            await asyncio.sleep(6.0)
            held = client.messages.qsize()
            assert client.pauses >= 1 and held < 10_000, held
            assert client.connections == 1 and client.logged_in  # no timeout, no reconnect
            for i in range(30_000):
                msg = await client.receive(timeout=2.0)
                assert (msg.sequence_number, msg.data) == (i + 1, b"message %08d" % i)
            assert client.connections == 1 and client.messages.empty()
            await client.close()
            with pytest.raises(ValueError, match="max_queued"):
                SoupClient(ClientSession("USER01", "x"), "127.0.0.1", port, max_queued=0)
        finally:
            await runner.close()

    run(main())


def test_the_servers_end_of_session_is_told_once_and_not_reconnected() -> None:
    """``on_session_end`` is called once when the server ends the session, after the
    messages before it; the client does not reconnect to an ended session. (The live
    engine trips its kill switch on it: there is no session left to send orders on.)"""

    async def main() -> None:
        core = SoupServer(USERS)
        runner = SoupServerRunner(core)
        port = await runner.start()
        got: list[object] = []
        try:
            client = SoupClient(
                ClientSession("USER01", "Secret123"),
                "127.0.0.1",
                port,
                on_message=lambda m: got.append(m.data),
                on_session_end=lambda c: got.append(("ended", c.core.ended)),
            )
            await client.connect()
            runner.publish(b"last")
            runner.end_session()
            for _ in range(200):  # bounded: 2 s
                await asyncio.sleep(0.01)
                if len(got) == 2:
                    break
            await asyncio.sleep(0.2)  # time enough for a reconnect, were one to start
            assert got == [b"last", ("ended", True)]
            assert client.connections == 1 and not client.logged_in
            await client.close()
        finally:
            await runner.close()

    run(main())


def test_a_server_that_restarts_its_stream_is_told_once_and_heard() -> None:
    """A tiny server on loopback sends 1..3, drops the link, then, restarted with the same
    session and an empty stream, accepts the re-login (at 4) at 1 and numbers its new
    messages 1, 2, 3, 4. ``on_stream_diverged`` is called once (sequence 1) and all four
    are delivered. Before, 1..3 were dropped as replays, silently."""

    async def main() -> None:
        logins: list[int] = []

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            size = int.from_bytes(await reader.readexactly(2), "big")
            request = await reader.readexactly(size)
            logins.append(int(request[1 + 6 + 10 + 10 :][:20]))  # the sequence asked for
            writer.write(build_packet(LoginAccepted("S1", 1)))
            first = len(logins) == 1
            for m in (b"a", b"b", b"c") if first else (b"w", b"x", b"y", b"z"):
                writer.write(data_packet("S", m))
            await writer.drain()
            if first:
                writer.transport.abort()  # the restart: the stream starts again at 1
                return
            await reader.read()  # until the client closes
            writer.close()  # (an unclosed writer warns when collected later)

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        got: list[tuple[bytes, int | None]] = []
        told: list[StreamDiverged] = []
        client = SoupClient(
            ClientSession("USER01", "pw"),
            "127.0.0.1",
            port,
            on_message=lambda m: got.append((m.data, m.sequence_number)),
            on_stream_diverged=lambda c, ev: told.append(ev),
        )
        try:
            await client.connect()
            for _ in range(300):  # bounded: 3 s
                await asyncio.sleep(0.01)
                if len(got) == 7:
                    break
        finally:
            await client.close()
            server.close()
            await server.wait_closed()
        assert logins == [1, 4]
        old, new = [(b"a", 1), (b"b", 2), (b"c", 3)], [(b"w", 1), (b"x", 2), (b"y", 3), (b"z", 4)]
        assert got == old + new  # the new stream's 1..4 after the old stream's 1..3
        assert told == [StreamDiverged("S1", 1)] and client.streams_diverged == 1

    run(main())


def test_a_relogin_lost_before_the_reconnect_loop_resumes_is_reconnected() -> None:
    """The link drops; the re-login is accepted and lost at once, inside ``on_reconnect``
    (the resend's write failing), before the reconnect loop's ``connect()`` returns. The
    client logs in again and gets what was published meanwhile. Before, ``_lost`` saw the
    finishing reconnect task, started none, and the loop returned: the client stayed
    disconnected with ``reconnect=True``."""

    async def main() -> None:
        core = SoupServer(USERS, heartbeat_interval=0.1)
        runner = SoupServerRunner(core)
        port = await runner.start()
        relogins: list[int] = []

        def on_reconnect(client: SoupClient) -> None:
            relogins.append(client.connections)
            if client.connections == 2:
                client.drop()  # the link fails as the resend is written

        client = _live_client(port, on_reconnect=on_reconnect)
        try:
            await client.connect()
            runner.publish(b"one")
            assert (await client.receive(2.0)).data == b"one"
            client.drop()
            await client.wait_disconnected()
            runner.publish(b"two")
            for _ in range(200):  # bounded: 2 s
                await asyncio.sleep(0.01)
                if client.logged_in and client.connections == 3:
                    break
            assert relogins[:1] == [2] and client.connections == 3, relogins
            assert client.logged_in
            got = await client.receive(2.0)
            assert (got.data, got.sequence_number) == (b"two", 2)  # resumed, nothing lost
        finally:
            await client.close()
            await runner.close()

    run(main())


def test_close_without_logout_stops_a_reconnect_under_way() -> None:
    """The server drops the link and the client's reconnect loop is under way when the
    application ends it with ``close(logout=False)`` (a killed process): the loop stops,
    no login follows. A connected client closed so sends no Logout Request: the server
    sees the connection lost, not a logout. Before, ``reconnect = False`` and ``drop()``
    (what the live tests' crash did) left the running loop to log in again and hold the
    session."""

    async def main() -> None:
        core = SoupServer(USERS, heartbeat_interval=0.1)
        runner = SoupServerRunner(core)
        port = await runner.start()
        session = ClientSession("USER01", "Secret123", heartbeat_interval=0.1, timeout=0.5)
        client = SoupClient(session, "127.0.0.1", port, reconnect_delay=0.1)
        other = _live_client(port)
        try:
            await client.connect()
            for conn in list(runner.connections):
                assert conn.transport is not None
                conn.transport.abort()  # the server drops the link: a reconnect begins
            await client.wait_disconnected()
            await client.close(logout=False)
            await asyncio.sleep(0.4)  # time for the loop's next login, were it running
            assert client.connections == 1 and not client.logged_in
            assert core.stats.logins == 1
            await other.connect()  # logged in, then killed: no Logout Request
            await other.close(logout=False)
            await asyncio.sleep(0.1)
            assert core.stats.logins == 2 and not other.logged_in
            assert "logout" not in runner.closed_reasons, list(runner.closed_reasons)
            await asyncio.sleep(0.3)
            assert other.connections == 1  # no reconnect after the abort
        finally:
            await client.close()
            await other.close()
            await runner.close()

    run(main())
