"""Multicast over a private network namespace (created and removed by the test).

The namespace has only its loopback interface, addressed 198.18.0.1/32 and routed for
multicast, so nothing can leave it. The asyncio publisher sends to a multicast group; the
asyncio receiver joins the group on that interface and recovers through the unicast
re-request server.
"""

from __future__ import annotations

import os
import shutil
import textwrap

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
    import asyncio, json, random
    from tickwire.moldudp64.aio import Line, MoldPublisher, MoldReceiver, run
    from tickwire.moldudp64.events import EndOfSession, Messages
    from tickwire.moldudp64.publisher import PublisherConfig
    from tickwire.moldudp64.receiver import ReceiverConfig

    # A multicast group cannot be in 198.18.0.0/15: an organization-local one (RFC
    # 2365), joined on lo inside this test's own namespace; nothing leaves it.
    GROUP, PORT, IFACE = "239.192.0.1", 30555, "198.18.0.1"

    class Lossy(MoldPublisher):
        rng = random.Random(3)
        def _send(self, data, addr):
            if addr == self.target and self.rng.random() < 0.05:
                return
            super()._send(data, addr)

    async def main():
        pub = await Lossy.create(
            PublisherConfig("MCAST", heartbeat_interval=0.05),
            (GROUP, PORT),
            request_bind=(IFACE, 0),
            multicast_interface=IFACE,
        )
        rx = await MoldReceiver.create(
            Line(port=PORT, group=GROUP, interface=IFACE),
            config=ReceiverConfig(request_server=pub.request_address, start_sequence=1),
        )
        sent = [b"msg %d" % i for i in range(3000)]
        got = []

        async def consume():
            async for ev in rx.events():
                if isinstance(ev, Messages):
                    got.extend(ev.messages)
                elif isinstance(ev, EndOfSession):
                    return

        task = asyncio.create_task(consume())
        for i in range(0, len(sent), 100):
            pub.publish_many(sent[i : i + 100])
            await asyncio.sleep(0.001)
        await pub.end_session()
        await asyncio.wait_for(task, 20)
        answered = pub.server.stats.answered
        await rx.close()
        await pub.close()
        return {"ok": got == sent, "got": len(got), "answered": answered}

    print(json.dumps(run(main())))
    """
)


def test_multicast_with_recovery_in_a_namespace() -> None:
    try:
        result = run_in_multicast_netns("twmold", SCRIPT, timeout=60)
    except NamespaceUnavailable as exc:
        pytest.skip(str(exc))
    assert result["ok"], result
    assert result["answered"] > 0  # the 5% loss was recovered by unicast re-requests
