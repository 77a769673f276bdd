"""One peer's burst must not hold the event loop: the others are served between slices.

The simulated exchange serves its OUCH 5.0 and 4.2 ports (two servers) on one event loop,
without the packet rate limit (a benchmark floods it). A read hands the protocol up to
256 KiB at once, about 5,000 OUCH orders, and every one was handled in that one callback
(about 100 ms), so a peer flooding one port delayed every other port's orders by as much,
read after read. Real sockets on loopback, the real runner and cores.
"""

from __future__ import annotations

import asyncio
import socket

from tickwire.soupbintcp import ClientSession, SoupServer
from tickwire.soupbintcp.aio import SoupServerRunner, run
from tickwire.soupbintcp.packets import data_packet

USERS = {"USER01": "Secret123"}
BURST = 2_000  # messages of 30 bytes: 66 KB, one read of the server's socket


def _login(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    login = ClientSession("USER01", "Secret123")
    login.connect(0.0)
    sock.sendall(login.data_to_send())
    return sock


def test_a_burst_on_one_port_does_not_hold_another_ports_messages() -> None:
    async def main() -> list[tuple[str, bytes]]:
        seen: list[tuple[str, bytes]] = []
        runners = [
            SoupServerRunner(
                SoupServer(USERS, max_rate=1e6, burst=1_000_000),
                lambda conn, data, name=name: seen.append((name, data)),
            )
            for name in ("flood", "other")
        ]
        ports = [await r.start() for r in runners]
        flood, other = (_login(p) for p in ports)
        try:
            await asyncio.sleep(0.1)  # both logged in
            assert all(r.core.active is not None for r in runners)
            burst = b"".join(data_packet("U", b"%029d" % i) for i in range(BURST))
            flood.sendall(burst)  # in the server's socket buffer before the loop runs
            other.sendall(data_packet("U", b"one order"))
            for _ in range(100):
                await asyncio.sleep(0.01)
                if len(seen) == BURST + 1:
                    break
            return seen
        finally:
            flood.close()
            other.close()
            for r in runners:
                await r.close()

    seen = run(main())
    assert len(seen) == BURST + 1
    assert [d for n, d in seen if n == "flood"] == [b"%029d" % i for i in range(BURST)]
    # the other port's order waited for one slice of the burst, not the whole read
    waited = seen.index(("other", b"one order"))
    assert waited <= 1_000, waited
