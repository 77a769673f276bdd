"""The live engine on a multicast feed with hostile packets on its group, in a private
network namespace (created and removed by the test).

The namespace has only its loopback interface, addressed 198.18.0.1/32 and routed for
multicast, so nothing can leave it (as ``test_moldudp64_multicast.py``). The simulated
exchange publishes its feed to the group twice, as lines A and B (every packet again from
another socket), and a third socket sends packets of another session to the same group:
one before the feed's first packet, one mid-session, each an Add Order that would change
a book. The engine, with no session pinned, must apply every feed message exactly once
and none of the stray ones: its books equal the exchange's and it saw exactly what the
exchange published.

The second run forges: just before one of the feed's packets goes out on lines A and B,
the third socket sends a packet of the feed's own session with the same sequence numbers
and made-up messages (Add Orders). The engine applies it (nothing can tell yet), and the
real copies, which differ, must trip the kill switch: no order is sent after that.
"""

from __future__ import annotations

import os
import shutil
import textwrap
from typing import Any

import pytest
from tickwire.moldudp64.testing import NamespaceUnavailable, run_in_multicast_netns

pytestmark = [
    pytest.mark.network,
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("ip") is None, reason="needs root and iproute2"
    ),
]

SCRIPT = textwrap.dedent(
    """
    import asyncio, json, socket
    from tickwire.engine.live import LiveConfig, LiveEngine
    from tickwire.engine.risk import RiskLimits
    from tickwire.engine.strategy.taker import ThresholdTaker
    from tickwire.exchange import Exchange, ExchangeConfig
    from tickwire.itch import AddOrder, encode
    from tickwire.itch.generator import generate_day
    from tickwire.moldudp64 import DownstreamPacket
    from tickwire.moldudp64.aio import run

    # A multicast group cannot be in 198.18.0.0/15: an organization-local one (RFC
    # 2365), joined on lo inside this test's own namespace; nothing leaves it.
    GROUP, PORT, IFACE = "239.192.0.1", 30556, "198.18.0.1"

    def sender():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(IFACE))
        return s

    def stray(seq, ref):
        # a bid far through every ask of locate 1: any book that takes it differs
        add = AddOrder(1, 0, 1, ref, "B", 5_000, "STRAY", 99_990_000)
        return DownstreamPacket("STRAY00001", seq, (encode(add),)).build()

    FORGE = MODE == "forge"  # MODE: set by the test, on the script's first line
    forged = []  # (sequence, count) of the packet forged

    def forge(data):
        # the real packet's session and sequence numbers, made-up Add Orders
        seq = int.from_bytes(data[10:18], "big")
        count = int.from_bytes(data[18:20], "big")
        adds = [AddOrder(1, 0, 1, 900_000_100 + i, "B", 5_000, "STRAY", 99_990_000)
                for i in range(count)]
        forged.append((seq, count))
        return DownstreamPacket(data[:10].decode(), seq, tuple(map(encode, adds))).build()

    async def main():
        ex = await Exchange.start(ExchangeConfig(feed_target=(GROUP, PORT), host=IFACE))
        line_b, hostile = sender(), sender()
        send_a = ex.feed._send

        def both_lines(data, addr):
            # data packets (count 1 .. 0xFFFE) only come once eng exists
            if (FORGE and not forged and addr == ex.feed.target
                    and 0 < int.from_bytes(data[18:20], "big") < 0xFFFF
                    and eng.runner.messages_seen >= 1_000):
                hostile.sendto(forge(data), addr)  # first: it is the one applied
            send_a(data, addr)
            if addr == ex.feed.target:
                line_b.sendto(data, addr)

        ex.feed._send = both_lines
        cfg = LiveConfig(
            feed=(IFACE, PORT),
            group=GROUP,
            ouch=(IFACE, ex.ouch50_port),
            rerequest=ex.rerequest_address,
            limits=RiskLimits(max_position=5_000),
        )
        eng = LiveEngine(ThresholdTaker({"max_symbols": 4, "max_position": 3_000}), cfg)
        kill, at_trip = eng.kill, []

        def noted_kill():
            at_trip.append(eng.runner.manager.sent)
            return kill()

        eng.kill = noted_kill
        await eng.start()
        task = asyncio.create_task(eng.run())
        hostile.sendto(stray(1, 900_000_001), (GROUP, PORT))  # before the feed's first
        await asyncio.sleep(0.05)
        flow = asyncio.create_task(ex.run_flow(generate_day(4_000, 6, 3), rate=20_000))
        for _ in range(2_000):
            if eng.runner.messages_seen >= 1_500:
                break
            await asyncio.sleep(0.005)
        hostile.sendto(stray(2, 900_000_002), (GROUP, PORT))  # mid-session
        await flow
        await asyncio.sleep(0.3)
        await ex.feed.end_session()
        report = await asyncio.wait_for(task, 30)
        books = eng.runner.books.books
        equal = len(books) == len(ex.engine.books) and all(
            book.l2() == ex.engine.by_locate[locate].l2() for locate, book in books.items()
        )
        stray_refs = [r for r in eng.runner.books.orders if r >= 900_000_000]
        out = {
            "equal": equal,
            "seen": eng.runner.messages_seen,
            "published": ex.published,
            "feed": report["feed"],
            "stray_refs": stray_refs,
            "forged": forged,
            "kill_trips": report["kill_trips"],
            "sent_at_first_trip": at_trip[0],
            "sent": report["orders"]["sent"],
        }
        await ex.close()
        return out

    print(json.dumps(run(main()), default=str))
    """
)


def _run(mode: str) -> dict[str, Any]:
    try:
        result = run_in_multicast_netns("twlive", f"MODE = {mode!r}\n{SCRIPT}", timeout=120)
    except NamespaceUnavailable as exc:
        pytest.skip(str(exc))
    assert isinstance(result, dict)
    return result


def test_live_multicast_ab_lines_and_stray_session_packets() -> None:
    result = _run("stray")
    feed = result["feed"]
    assert result["stray_refs"] == [], result
    assert result["equal"], result
    assert result["seen"] == result["published"] > 0, result  # each message once
    assert feed["session"] == "TWFEED0001" and feed["end_of_session"], feed
    assert feed["duplicates"] >= result["published"] // 2  # line B's copies, dropped
    assert feed["refused"]["candidate_packets"] + feed["refused"]["other_session_packets"] >= 2
    # A/B copies and retransmissions agree: no false alarm, the switch trips at the end only
    assert feed["conflicts"] == 0 and result["kill_trips"] == 1, result


def test_live_multicast_forged_packet_first() -> None:
    """A forged packet of the feed's session ahead of lines A and B: applied (its Add
    Orders are in the books: nothing could tell), then the two real copies differ from
    it; the kill switch trips there, and no order is sent after (on the old code the
    engine traded on with the forged orders in its books, and nothing was said)."""
    result = _run("forge")
    feed = result["feed"]
    [(_seq, count)] = result["forged"]
    assert len(result["stray_refs"]) == count, result  # the forgery was applied
    assert feed["conflicts"] == 2 * count, result  # lines A and B both differ
    assert result["kill_trips"] == 2, result  # the conflict's, then the shutdown's
    assert result["sent"] == result["sent_at_first_trip"], result  # no order after it
    assert result["seen"] == result["published"] > 0, result  # each sequence number once
