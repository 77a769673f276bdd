"""The simulated exchange on its own: matching, replay of a real ITCH file, and both OUCH
front ends (5.0 and 4.2) over SoupBinTCP with login, with the stock OUCH clients."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
from tickwire.engine.book import BookManager
from tickwire.exchange import Exchange, ExchangeConfig, MatchingEngine
from tickwire.itch import read
from tickwire.moldudp64 import RequestPacket
from tickwire.moldudp64.aio import run
from tickwire.moldudp64.publisher import ServerConfig
from tickwire.ouch import v42, v50
from tickwire.ouch.client import OuchClient
from tickwire.soupbintcp.aio import LoginRejectedError

# The real test data ship in the repository: data/ (data/PROVENANCE.md).
DATA = Path(__file__).resolve().parents[3] / "data" / "itch" / "ex20101224.TEST_ITCH_50"


def _engine() -> tuple[MatchingEngine, BookManager, list[object]]:
    books = BookManager()
    fills: list[object] = []
    eng = MatchingEngine(books.apply, fills.append, lambda: 1)
    return eng, books, fills


def _equal(eng: MatchingEngine, books: BookManager) -> None:
    assert len(books.books) == len(eng.books)
    for locate, book in books.books.items():
        assert book.l2() == eng.by_locate[locate].l2(), book.symbol


def test_replaying_a_real_itch_file_the_feed_rebuilds_equal_books() -> None:
    from tickwire.exchange import FlowReplayer

    eng, books, _ = _engine()
    flow = FlowReplayer(eng)
    for msg in read(DATA, lenient=True):
        flow.apply(msg)
    assert flow.replayed == 12_012
    assert sum(len(b.bids) + len(b.asks) for b in eng.books.values()) > 0
    _equal(eng, books)
    assert not books.invariant_violations()


def test_replace_and_cancel_publish_itch_and_keep_books_equal() -> None:
    eng, books, fills = _engine()
    eng.system("Q")
    eng.add_instrument("MSFT")
    a, _, _ = eng.submit("MSFT", "B", 300, 2_000_000, owner="me", tag=1)
    b, _, _ = eng.submit("MSFT", "S", 200, 2_010_000)
    res = eng.replace(a, 400, 2_005_000)  # does not cross: Order Replace
    assert res is not None and res[2] == 400
    assert eng.cancel(res[0], 100) == 300  # partial: Order Cancel
    crossing = eng.replace(b, 200, 2_005_000)  # crosses: delete + new order that trades
    assert crossing is not None and crossing[1] == 100 and crossing[2] == 100
    assert len(fills) == 2
    _equal(eng, books)
    assert books.stats.by_type.get("U") == 1 and books.stats.by_type.get("E") == 1
    assert eng.cancel(12345) == 0


async def _ouch_both() -> tuple[list[object], list[object], Exchange]:
    ex = await Exchange.start(ExchangeConfig(feed_target=("127.0.0.1", 9), ouch42_port=0))
    ex.open_market()
    ex.engine.add_instrument("AAPL")
    ex.engine.submit("AAPL", "S", 500, 1_500_000)  # someone else's offer
    c5 = OuchClient("127.0.0.1", ex.ouch50_port, "TW", "SECRET", version="5.0")
    assert ex.ouch42_port is not None
    c4 = OuchClient("127.0.0.1", ex.ouch42_port, "TW", "SECRET", version="4.2")
    await c5.connect()
    await c4.connect()
    got5: list[object] = []
    got4: list[object] = []
    c5.send(c5.book50.enter("B", 200, "AAPL", 1_500_000, time_in_force=v50.TimeInForce.IOC))
    got5 += [await c5.next_update(), await c5.next_update()]
    c5.send(c5.book50.enter("B", 100, "NOPE", 1_500_000))
    got5.append(await c5.next_update())
    c4.send(c4.book42.enter("B", 100, "AAPL", 1_490_000))  # rests
    got4.append(await c4.next_update())
    ex.engine.submit("AAPL", "S", 100, 1_480_000)  # hits the 4.2 bid: it gets an Executed
    got4.append(await c4.next_update())
    c4.send(c4.book42.enter("B", 100, "AAPL", 1_400_000))
    got4.append(await c4.next_update())
    token = got4[-1].order_token  # type: ignore[attr-defined]
    c4.send(c4.book42.replace(token, 300, 1_410_000))
    got4.append(await c4.next_update())
    token = got4[-1].replacement_order_token  # type: ignore[attr-defined]
    c4.send(c4.book42.cancel(token))
    got4.append(await c4.next_update())
    await c5.close()
    await c4.close()
    await ex.close()
    return got5, got4, ex


def test_ouch50_and_ouch42_ports_accept_execute_reject_cancel() -> None:
    got5, got4, ex = run(_ouch_both())
    acc, exe, rej = got5
    assert isinstance(acc, v50.OrderAccepted) and acc.order_reference_number > 0
    assert isinstance(exe, v50.OrderExecuted) and (exe.quantity, exe.price) == (200, 1_500_000)
    assert exe.liquidity_flag == "R"
    assert isinstance(rej, v50.Rejected) and rej.reason == 0x17  # invalid symbol
    a4, e4, a4b, r4, c4 = got4
    assert isinstance(a4, v42.OrderAccepted)
    assert isinstance(e4, v42.OrderExecuted) and e4.liquidity_flag == "A"
    assert e4.execution_price == 1_490_000  # the resting order's price
    assert isinstance(a4b, v42.OrderAccepted)
    assert isinstance(r4, v42.OrderReplaced) and (r4.shares, r4.price) == (300, 1_410_000)
    assert r4.previous_order_token == a4b.order_token
    assert isinstance(c4, v42.OrderCanceled) and c4.decrement_shares == 300
    assert ex.account50.ledger.positions == {"AAPL": 200}
    assert ex.account42.ledger.positions == {"AAPL": 100}


async def _time_in_force_seconds() -> tuple[list[object], Exchange, float]:
    ex = await Exchange.start(ExchangeConfig(feed_target=("127.0.0.1", 9), ouch42_port=0))
    try:
        ex.open_market()
        ex.engine.add_instrument("AAPL")
        assert ex.ouch42_port is not None
        c4 = OuchClient("127.0.0.1", ex.ouch42_port, "TW", "SECRET", version="4.2")
        await c4.connect()
        loop = asyncio.get_running_loop()
        c4.send(c4.book42.enter("B", 100, "AAPL", 1_400_000, time_in_force=1))
        got: list[object] = [await asyncio.wait_for(c4.next_update(), 5)]
        start = loop.time()
        got.append(await asyncio.wait_for(c4.next_update(), 5))  # nothing else is sent
        waited = loop.time() - start
        await c4.close()
    finally:
        await ex.close()
    return got, ex, waited


def test_ouch42_a_time_in_force_in_seconds_expires_unsolicited() -> None:
    """A 4.2 order of Time In Force 1 (second), with nothing else happening: the
    exchange's timer cancels it a second after its acceptance, Order Canceled reason
    ``T``, the book empty. It rested for ever, the client waiting in vain."""
    got, ex, waited = run(_time_in_force_seconds())
    acc, canceled = got
    assert isinstance(acc, v42.OrderAccepted) and acc.time_in_force == 1
    assert isinstance(canceled, v42.OrderCanceled)
    assert (canceled.order_token, canceled.decrement_shares, canceled.reason) == (
        acc.order_token,
        100,
        "T",
    )
    assert 0.5 < waited < 3.0
    assert canceled.timestamp - acc.timestamp >= 1_000_000_000
    assert list(ex.engine.resting_orders()) == []


async def _bad_login() -> None:
    ex = await Exchange.start(ExchangeConfig(feed_target=("127.0.0.1", 9)))
    try:
        client = OuchClient("127.0.0.1", ex.ouch50_port, "TW", "WRONG", reconnect=False)
        with pytest.raises(LoginRejectedError):
            await asyncio.wait_for(client.connect(), 5)
    finally:
        await ex.close()


def test_login_is_checked() -> None:
    run(_bad_login())


def test_undecodable_ouch_is_counted_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    """An unknown message type and an Enter Order cut short get no answer (as at NASDAQ),
    but are counted and logged with the peer and the reason; the connection goes on and
    the next order is answered. They were dropped without a trace."""

    async def main() -> tuple[Exchange, object]:
        ex = await Exchange.start(ExchangeConfig(feed_target=("127.0.0.1", 9)))
        ex.open_market()
        ex.engine.add_instrument("AAPL")
        c5 = OuchClient("127.0.0.1", ex.ouch50_port, "TW", "SECRET", version="5.0")
        await c5.connect()
        enter = c5.book50.enter("B", 100, "AAPL", 1_000_000)
        c5.soup.send(b"Z" + bytes(20))  # no such type
        c5.soup.send(v50.encode(enter)[:-3])  # cut short
        c5.send(enter)
        answer = await c5.next_update()
        await c5.close()
        await ex.close()
        return ex, answer

    with caplog.at_level("WARNING", logger="tickwire.exchange"):
        ex, answer = run(main())
    assert isinstance(answer, v50.OrderAccepted)
    assert ex.undecodable == 2
    lines = [r.getMessage() for r in caplog.records if r.name == "tickwire.exchange"]
    assert len(lines) == 2 and all("not decoded, not answered" in line for line in lines)
    assert "OUCH 5.0 from ('127.0.0.1', " in lines[0] and "(TW)" in lines[0]
    assert "EnterOrder is 47 bytes or more, got 44" in lines[1]


async def _deadlines_across_midnight() -> tuple[float, list[object], list[object]]:
    s = 1_000_000_000
    wall, mono = [86_399 * s + 9 * s // 10], [5_000 * s]  # 23:59:59.9 local; any
    config = ExchangeConfig(feed_target=("127.0.0.1", 9), ouch42_port=0)
    ex = Exchange(config, clock=lambda: wall[0], deadline_clock=lambda: mono[0])
    sent: list[object] = []
    ex.account42.send = sent.append
    ex.open_market()
    ex.engine.add_instrument("AAPL")
    enter = v42.EnterOrder("A", "B", 100, "AAPL", 1_400_000, 10, "TW", "Y", "P", "N", 0, "N", " ")  # fmt: skip
    ex._expire_due()  # as _on_ouch42 does, then answers
    [acc] = ex.account42.handle(enter)
    ex._arm_expiry()
    try:
        wall[0], mono[0] = s // 2, mono[0] + 6 * s // 10  # midnight passed
        ex._expiry.fire()  # the timer a hair early: nothing due, it re-arms
        loop = asyncio.get_running_loop()
        assert ex._expiry.handle is not None
        delay = ex._expiry.handle.when() - loop.time()
        before = list(sent)
        wall[0], mono[0] = 9 * s + 9 * s // 10, mono[0] + 94 * s // 10  # 10 s on
        ex._expire_due()  # before the next OUCH message or flow message
        return delay, before, [acc, *sent]
    finally:
        ex._expiry.cancel()


def test_the_timer_and_expire_due_measure_deadlines_on_the_deadline_clock() -> None:
    """A 4.2 order of 10 s accepted at 23:59:59.9 local: after midnight the exchange's
    timer, re-armed, waits the 9.4 s left (not a day), and 10 s after its acceptance
    ``_expire_due`` cancels it ``T``, stamped 00:00:09.9. Before, both compared its
    deadline (86,409.9 s on the wall clock of the day) with the wall clock, back at 0:
    the timer slept a day and the order never expired."""
    delay, before, got = run(_deadlines_across_midnight())
    assert 9.3 < delay < 9.5
    assert before == []
    acc, *canceled = got
    assert isinstance(acc, v42.OrderAccepted)
    assert canceled == [v42.OrderCanceled(9_900_000_000, "A", 100, "T")]


def test_a_dropped_ouch_connection_loses_the_requests_read_with_the_order() -> None:
    """``Faults(drop_ouch_every=1)``: three Enter Orders arrive in one read; the exchange
    processes the first, answers it and aborts the connection, and the two behind it are
    lost with the link (requests in flight, as the fault says), one drop counted. Before,
    the runner handed on the whole read after the abort: all three were entered, and each
    aborted the dead connection again (three drops counted for one)."""
    from tickwire.exchange import Faults
    from tickwire.soupbintcp.aio import SoupClient
    from tickwire.soupbintcp.session import ClientSession

    async def main() -> Exchange:
        ex = await Exchange.start(
            ExchangeConfig(feed_target=("127.0.0.1", 9), faults=Faults(drop_ouch_every=1))
        )
        ex.open_market()
        ex.engine.add_instrument("AAPL")
        client = SoupClient(
            ClientSession("TW", "SECRET"), "127.0.0.1", ex.ouch50_port, reconnect=False
        )
        await client.connect()
        now = asyncio.get_running_loop().time()
        for ref in (1, 2, 3):  # queued, then written at once: one read at the exchange
            enter = v50.EnterOrder(ref, "B", 100, "AAPL", 1_000_000, "0", "Y", "A", "N", "N", "")
            client.core.send_message(v50.encode(enter), now)
        client._flush()
        for _ in range(200):  # the drop (bounded: 2 s)
            await asyncio.sleep(0.01)
            if not client.logged_in:
                break
        await client.close()
        await ex.close()
        return ex

    ex = run(main())
    assert ex.account50.entered == [1], "the requests behind the dropping one were lost"
    assert ex.ouch_drops == 1 and ex.ouch_lost == 2


def test_the_rerequest_server_runs_the_configured_limits() -> None:
    """``ExchangeConfig.rerequest`` is the feed's re-request server's config: with a burst
    of 1 request per address, the second of two requests from one address is refused
    (``rate_limited``) and the first answered with at most ``max_count`` messages; with
    none, the server is the publisher's own, of the moldudp64 defaults in the feed's
    packet size. Before, ``Exchange.start`` replaced the publisher's server by one of the
    default config: no limit could be set."""
    limits = ServerConfig(max_count=2, rate=0.001, burst=1)

    async def main(rerequest: ServerConfig | None) -> Exchange:
        ex = await Exchange.start(ExchangeConfig(feed_target=("127.0.0.1", 9), rerequest=rerequest))
        try:
            ex.open_market()  # System Event messages: sequence 1 onwards
            loop = asyncio.get_running_loop()
            for _ in range(2):
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                    u.sendto(RequestPacket("TWFEED0001", 1, 3).build(), ex.rerequest_address)
            assert ex.feed is not None
            end = loop.time() + 5
            while ex.feed.server.stats.requests < 2 and loop.time() < end:
                await asyncio.sleep(0.01)
        finally:
            await ex.close()
        return ex

    ex = run(main(limits))
    assert ex.feed is not None and ex.feed.server.config is limits
    got = ex.feed.server.stats
    assert (got.requests, got.answered, got.rate_limited, got.messages_sent) == (2, 1, 1, 2)
    default = run(main(None))
    assert default.feed is not None
    assert default.feed.server.config == ServerConfig(
        max_payload=default.feed.publisher.config.max_payload
    )
    stats = default.feed.server.stats
    assert (stats.requests, stats.answered, stats.messages_sent) == (2, 2, 6)
