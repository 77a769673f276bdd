"""The asyncio adapters over loopback (bounded): a rejected login is final, a silent peer
is closed by its heartbeat timeout."""

from __future__ import annotations

import asyncio

import pytest
from tickwire.soupbintcp import ClientSession, SoupServer
from tickwire.soupbintcp.aio import LoginRejectedError, SoupClient, SoupServerRunner, run

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
