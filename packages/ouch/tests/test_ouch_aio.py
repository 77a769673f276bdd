"""The asyncio adapters and the OUCH order-entry client over loopback (bounded)."""

from __future__ import annotations

import asyncio

import pytest
from tickwire.ouch import v42, v50
from tickwire.ouch.client import OuchClient, serve_ouch
from tickwire.ouch.orders import OrderBook50
from tickwire.soupbintcp import ClientSession, SoupServer
from tickwire.soupbintcp.aio import LoginRejectedError, SoupClient, SoupServerRunner, run

USERS = {"USER01": "Secret123"}


def test_ouch_aio_enter_replace_cancel_modify_v50() -> None:
    async def main() -> None:
        server = await serve_ouch(USERS)
        try:
            async with OuchClient("127.0.0.1", server.port, "USER01", "Secret123") as c:
                book = c.book
                assert isinstance(book, OrderBook50)
                enter = book.enter("B", 500, "AAPL", 1_500_000)
                c.send(enter)
                acc = await c.next_update()
                assert isinstance(acc, v50.OrderAccepted) and acc.user_ref_num == enter.user_ref_num
                rep = book.replace(1, 400, 1_490_000)
                c.send(rep)
                assert isinstance(await c.next_update(), v50.OrderReplaced)
                c.send(book.modify(2, "B", 300))
                assert isinstance(await c.next_update(), v50.OrderModified)
                c.send(book.cancel(2, 0))
                canceled = await c.next_update()
                assert isinstance(canceled, v50.OrderCanceled) and canceled.quantity == 300
                order = book.orders[2]
                assert order.state == "dead" and order.quantity == 0 and 1 not in book.orders
                assert book.next_user_ref_num == 3  # strictly increasing
        finally:
            await server.close()

    run(main())


def test_ouch_aio_v42_tokens() -> None:
    async def main() -> None:
        server = await serve_ouch(USERS, version="4.2")
        try:
            async with OuchClient(
                "127.0.0.1", server.port, "USER01", "Secret123", version="4.2"
            ) as c:
                enter = c.book.enter("S", 100, "MSFT", 3_000_000)
                c.send(enter)
                acc = await c.next_update()
                assert isinstance(acc, v42.OrderAccepted)
                assert acc.order_token == enter.order_token == "TW000000000001"
                c.send(enter)  # a duplicate token is ignored by the host
                c.send(c.book.cancel(acc.order_token, 40))
                canceled = await c.next_update()
                assert isinstance(canceled, v42.OrderCanceled) and canceled.decrement_shares == 60
                assert server.host.ignored == 1
        finally:
            await server.close()

    run(main())


@pytest.mark.parametrize("loop", ["default", "asyncio"])
def test_ouch_aio_reconnect_loses_and_duplicates_nothing(loop: str) -> None:
    """Drop the TCP connection mid-stream, twice; every order accepted exactly once.
    ("default" is uvloop when installed; "asyncio" is the standard loop.)"""

    async def main() -> None:
        server = await serve_ouch(USERS)
        try:
            c = OuchClient("127.0.0.1", server.port, "USER01", "Secret123")
            await c.connect()
            accepted: list[int] = []
            for round_ in range(3):
                for _ in range(50):
                    c.send(c.book.enter("B", 100, "AAPL", 1_000_000))
                if round_ < 2:
                    c.soup.drop()  # mid-stream: Accepted messages are still in flight
                    await c.soup.wait_disconnected()
                    # orders entered while disconnected go out with the resend
                    c.book.enter("B", 100, "AAPL", 1_000_000)
                    await c.soup.wait_logged_in()
            while len(accepted) < 152:
                msg = await c.next_update(timeout=5.0)
                assert isinstance(msg, v50.OrderAccepted)
                accepted.append(msg.user_ref_num)
            await asyncio.sleep(0.1)
            assert c.updates.empty()
            assert accepted == list(range(1, 153))
            assert sorted(server.host.live) == list(range(1, 153))
            assert c.soup.connections == 3
            assert c.book.pending() == []
            await c.close()
        finally:
            await server.close()

    if loop == "asyncio":
        asyncio.run(main())
    else:
        run(main())


def test_ouch_aio_bad_login_rejected() -> None:
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


def test_ouch_aio_heartbeat_timeout_closes_dead_peer() -> None:
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


def test_ouch_aio_malformed_packets_do_not_affect_other_sessions() -> None:
    async def main() -> None:
        server = await serve_ouch(USERS)
        try:
            good = OuchClient("127.0.0.1", server.port, "USER01", "Secret123", reconnect=False)
            await good.connect()
            for garbage in (b"\x00\x00", b"\x00\x01Q", b"\xff\xff" + b"x" * 100, b"\x00\x02Sx"):
                reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
                writer.write(garbage)
                await writer.drain()
                assert await asyncio.wait_for(reader.read(), 2.0) == b""  # closed by the server
                writer.close()
                good.send(good.book.enter("B", 1, "AAPL", 10_000))
                assert isinstance(await good.next_update(), v50.OrderAccepted)
            # a logged-in client sending undecodable OUCH is logged, not fatal
            good.soup.send(b"Zjunk")
            good.send(good.book.enter("B", 1, "AAPL", 10_000))
            assert isinstance(await good.next_update(), v50.OrderAccepted)
            assert server.runner.core.stats.protocol_errors == 4
            assert good.soup.connections == 1
            await good.close()
        finally:
            await server.close()

    run(main())
