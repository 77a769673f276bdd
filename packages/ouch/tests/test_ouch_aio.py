"""The OUCH order-entry client and host over loopback (bounded)."""

from __future__ import annotations

import asyncio
import logging

import pytest
from tickwire.ouch import v42, v50
from tickwire.ouch.client import LOGGED_UNDECODABLE, OuchClient, serve_ouch
from tickwire.ouch.orders import OrderBook50
from tickwire.soupbintcp.aio import run

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


def test_serve_ouch_expires_a_gtt_order_unsolicited() -> None:
    """``serve_ouch`` arms a timer for the host's next deadline: a GTT order of 1 s is
    canceled (reason T) a second after its Accepted, with nothing else sent, a Day order
    stays; a 4.2 order of Time In Force 1 s alike. The host never expired an order."""

    async def main() -> None:
        for version in ("5.0", "4.2"):
            server = await serve_ouch(USERS, version=version)  # type: ignore[arg-type]
            try:
                async with OuchClient(
                    "127.0.0.1",
                    server.port,
                    "USER01",
                    "Secret123",
                    version=version,  # type: ignore[arg-type]
                ) as c:
                    if isinstance(c.book, OrderBook50):
                        gtt = (v50.TagValue(v50.OptionTag.EXPIRE_TIME, 1),)
                        c.send(c.book.enter("B", 100, "AAPL", 1_500_000))
                        c.send(c.book.enter("B", 200, "AAPL", 1_500_000, time_in_force="6", appendages=gtt))  # fmt: skip
                        expired_key: object = 2
                    else:
                        c.send(c.book.enter("B", 100, "AAPL", 1_500_000))
                        c.send(c.book.enter("B", 200, "AAPL", 1_500_000, time_in_force=1))
                        expired_key = "TW000000000002"
                    await c.next_update()
                    await c.next_update()
                    canceled = await c.next_update(timeout=3.0)
                    assert isinstance(canceled, v50.OrderCanceled | v42.OrderCanceled)
                    assert canceled.reason == "T"
                    key = getattr(canceled, "user_ref_num", getattr(canceled, "order_token", None))
                    assert key == expired_key and len(server.host.live) == 1
                    assert server.expiry is not None and server.expiry.handle is None
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


def test_updates_nobody_reads_are_bounded() -> None:
    """30 orders accepted, no update read: the book has all 30, ``updates`` the last 5
    (``keep_updates``), oldest first, and 25 counted as dropped. On the old code the queue
    kept every answer of the session."""

    async def main() -> None:
        server = await serve_ouch(USERS)
        try:
            c = OuchClient("127.0.0.1", server.port, "USER01", "Secret123", keep_updates=5)
            await c.connect()
            for _ in range(30):
                c.send(c.book.enter("B", 100, "AAPL", 1_000_000))
            for _ in range(200):
                if c.updates_dropped + c.updates.qsize() == 30:
                    break
                await asyncio.sleep(0.01)
            assert c.updates.qsize() == 5 and c.updates_dropped == 25
            refs = [(await c.next_update()).user_ref_num for _ in range(5)]  # type: ignore[union-attr]
            assert refs == [26, 27, 28, 29, 30]
            assert sum(o.state == "live" for o in c.book.orders.values()) == 30
            await c.close()
            with pytest.raises(ValueError, match="keep_updates"):
                OuchClient("127.0.0.1", server.port, "USER01", "Secret123", keep_updates=0)
        finally:
            await server.close()

    run(main())


def test_undecodable_inbound_is_counted_and_logged_a_few_times(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A logged-in client sends 100 messages no decoder reads: all counted, 20 logged.
    On the old code: 100 warning lines and no count."""

    async def main() -> int:
        server = await serve_ouch(USERS)
        try:
            c = OuchClient("127.0.0.1", server.port, "USER01", "Secret123")
            await c.connect()
            for _ in range(100):
                c.soup.send(b"\x01garbage")
            c.send(c.book.enter("B", 100, "AAPL", 1_000_000))  # answered after them
            await c.next_update()
            await c.close()
            return server.undecodable
        finally:
            await server.close()

    with caplog.at_level(logging.WARNING, logger="tickwire.ouch"):
        undecodable = run(main())
    lines = [r.getMessage() for r in caplog.records if "undecodable inbound" in r.getMessage()]
    assert undecodable == 100
    assert len(lines) == LOGGED_UNDECODABLE
    assert lines[-1].endswith("(later ones are counted only)")


def test_undecodable_outbound_is_counted_and_logged_a_few_times(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A host whose sequenced stream holds 100 messages no OUCH decoder reads, then an
    answer: all 100 counted, 20 logged, the answer applied. On the old code: 100 error
    lines and no count."""
    from tickwire.soupbintcp import SoupServer
    from tickwire.soupbintcp.aio import SoupServerRunner

    async def main() -> OuchClient:
        core = SoupServer(USERS)
        for _ in range(100):
            core.publish(b"\x01garbage")
        runner = SoupServerRunner(core)
        port = await runner.start()
        try:
            c = OuchClient("127.0.0.1", port, "USER01", "Secret123")
            await c.connect()
            for _ in range(200):
                if c.undecodable == 100:
                    break
                await asyncio.sleep(0.01)
            await c.close()
            return c
        finally:
            await runner.close()

    with caplog.at_level(logging.ERROR, logger="tickwire.ouch"):
        c = run(main())
    lines = [r.getMessage() for r in caplog.records if "undecodable OUCH" in r.getMessage()]
    assert c.undecodable == 100 and len(lines) == LOGGED_UNDECODABLE
    assert lines[-1].endswith("(later ones are counted only)")


def test_a_reconnect_that_fails_is_told_to_the_ouch_client() -> None:
    """The host goes away for good after an order: the OuchClient's reconnect tries
    (4, 0.05 s doubling to at most 0.2 s) are used up and ``on_reconnect_failed`` is
    called with the OuchClient and the reason; an order sent meanwhile stays pending.
    The old OuchClient took no such callback: only ``client.soup`` could be told."""

    async def main() -> None:
        server = await serve_ouch(USERS)
        told: list[tuple[OuchClient, str]] = []
        c = OuchClient(
            "127.0.0.1",
            server.port,
            "USER01",
            "Secret123",
            reconnect_delay=0.05,
            max_backoff=0.2,
            max_reconnect_attempts=4,
            on_reconnect_failed=lambda client, reason: told.append((client, reason)),
        )
        try:
            await c.connect()
            c.send(c.book.enter("B", 100, "AAPL", 1_000_000))
            assert isinstance(await c.next_update(), v50.OrderAccepted)
            await server.close()  # the host is gone: every try is refused
            for _ in range(500):  # bounded: 5 s (the tries take about 0.55 s)
                if told:
                    break
                await asyncio.sleep(0.01)
            assert told == [(c, "could not reconnect after 4 attempts")]
            assert not c.send(c.book.enter("S", 100, "AAPL", 1_000_000))
            assert len(c.book.pending()) == 1 and c.resent == 0
        finally:
            await c.close()

    run(main())


def test_a_reconnect_is_told_to_the_ouch_client_after_the_resend() -> None:
    """A dropped link logs in again: ``on_reconnect`` is called with the OuchClient once,
    after the order sent while down was resent (so it sees ``resent`` 1), and the order
    is accepted once."""

    async def main() -> None:
        server = await serve_ouch(USERS)
        seen: list[tuple[OuchClient, int]] = []
        try:
            c = OuchClient(
                "127.0.0.1",
                server.port,
                "USER01",
                "Secret123",
                on_reconnect=lambda client: seen.append((client, client.resent)),
            )
            async with c:
                c.soup.drop()
                await asyncio.wait_for(c.soup.wait_disconnected(), 5.0)
                assert not c.send(c.book.enter("B", 100, "AAPL", 1_000_000))  # pending
                accepted = await c.next_update()
                assert isinstance(accepted, v50.OrderAccepted) and accepted.user_ref_num == 1
                assert seen == [(c, 1)]
        finally:
            await server.close()

    run(main())
