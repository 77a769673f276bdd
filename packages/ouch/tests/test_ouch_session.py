"""OUCH order entry over the SoupBinTCP sans-I/O cores under simulated time: orders in
flight when the link drops are resent and the host recognises the repeats."""

from __future__ import annotations

from tickwire.ouch import v50
from tickwire.ouch.orders import OrderBook50, OuchHost50
from tickwire.soupbintcp import (
    ClientSession,
    ClientState,
    Event,
    Message,
    ServerConnection,
    SoupServer,
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


def test_ouch_session_drop_client_to_server_orders_not_lost_or_doubled() -> None:
    """Orders in flight when the link dies are resent; the host recognises repeats."""
    server = SoupServer(USERS)
    host = OuchHost50()
    book = OrderBook50()
    client = ClientSession("USER01", "Secret123")
    client.connect(0.0)
    conn = server.connection(0.0)
    shuttle(client, conn, 0.0)

    def host_side(events: list[Event]) -> None:
        for ev in events:
            if isinstance(ev, Message):
                for reply in host.handle(v50.decode_inbound(ev.data), 0):
                    server.publish(v50.encode(reply))

    accepted: list[int] = []

    def client_side(events: list[Event]) -> None:
        for ev in events:
            if isinstance(ev, Message):
                msg = v50.decode_outbound(ev.data)
                book.on_message(msg)
                if isinstance(msg, v50.OrderAccepted):
                    accepted.append(msg.user_ref_num)

    for i in range(10):
        client.send_message(v50.encode(book.enter("B", 100 + i, "AAPL", 1_000_000)), 0.1)
    up = client.data_to_send()
    per = len(up) // 10
    host_side(conn.receive_data(up[: 5 * per + 7], 0.1))  # 5 orders and a piece of the 6th
    conn.pump(0.1)
    down = conn.data_to_send()
    client_side(client.receive_data(down[: len(down) * 3 // 5], 0.1))  # 3 Accepted arrive
    assert accepted == [1, 2, 3]
    client.connection_lost()
    conn.connection_lost()
    resend = book.pending()  # what the client never saw acknowledged: orders 4..10
    assert [m.user_ref_num for m in resend] == list(range(4, 11))

    client.connect(2.0)
    conn2 = server.connection(2.0)
    up = client.data_to_send()
    conn2.receive_data(up, 2.0)
    down = conn2.data_to_send()  # Login Accepted (33 bytes), then the replay of Accepted 4, 5
    client_side(client.receive_data(down[:33], 2.0))
    assert client.state is ClientState.LOGGED_IN
    for msg in resend:  # resent at once, before the replay arrives
        client.send_message(v50.encode(msg), 2.0)
    client_side(client.receive_data(down[33:], 2.0))
    for _ in range(3):
        c_ev, s_ev = shuttle(client, conn2, 2.1)
        host_side(s_ev)
        client_side(c_ev)
    assert accepted == list(range(1, 11))  # each exactly once, in order
    assert host.ignored == 2  # the resent orders 4 and 5 were recognised
    assert sorted(host.live) == list(range(1, 11))
    assert all(o.state == "live" for o in book.orders.values())
    assert book.pending() == []
