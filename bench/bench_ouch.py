"""OUCH 4.2 / 5.0 and SoupBinTCP speed: tickwire-ouch against its peers in one run.

No OUCH codec is published on PyPI to compare with, so the peers are:

* ``construct``  the declarative reference layout of the same messages (what a
                 construct-only codec costs); tickwire's ``struct`` fast path is
                 checked against it by the hypothesis tests;
* ``floor``      for round trips, a bare asyncio TCP ping-pong of the same bytes over
                 the same loopback (no SoupBinTCP, no OUCH): the transport's floor.

Measured: encodes and decodes per second of Enter Order and Order Accepted in both
versions, and enter-to-accepted round trips per second through the OUCH client,
SoupBinTCP client and server cores and the OUCH host over loopback (one order in
flight at a time, so this is latency-bound), on asyncio's loop and on uvloop's when it is
installed (the floor is measured on the same loop). Best of ``--repeat``.

    uv run --no-sync python bench/bench_ouch.py [--n 200000] [--trips 5000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import time
from collections.abc import Callable

from tickwire.ouch import v42, v50
from tickwire.ouch.client import OuchClient, serve_ouch
from tickwire.soupbintcp.aio import new_event_loop


def best_rate(fn: Callable[[], None], n: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return n / best


def codec_rows(n: int, repeat: int) -> list[tuple[str, float, float]]:
    msgs: list[tuple[str, object, Callable[[bytes], object]]] = [
        (
            "5.0 EnterOrder",
            v50.EnterOrder(
                1, "B", 100, "AAPL", 1_500_000, "3", "Y", "P", "N", "N", "TW000000000001"
            ),
            v50.decode_inbound,
        ),
        (
            "5.0 OrderAccepted",
            v50.OrderAccepted(
                1, 1, "B", 100, "AAPL", 1_500_000, "3", "Y", 9, "P", "N", "N", "L", "TW000000000001"
            ),
            v50.decode_outbound,
        ),
        (
            "4.2 EnterOrder",
            v42.EnterOrder(
                "TW000000000001", "B", 100, "AAPL", 1_500_000, 0, "FIRM", "Y", "P", "N", 0, "N", "R"
            ),
            v42.decode_inbound,
        ),
        (
            "4.2 OrderAccepted",
            v42.OrderAccepted(
                1,
                "TW000000000001",
                "B",
                100,
                "AAPL",
                1_500_000,
                0,
                "FIRM",
                "Y",
                9,
                "P",
                "N",
                0,
                "N",
                "L",
                " ",
            ),
            v42.decode_outbound,
        ),
    ]
    rows = []
    m = max(1, n // 20)  # construct is far slower: fewer iterations, same rate unit
    for name, msg, decode in msgs:
        codec = type(msg)._codec  # type: ignore[attr-defined]
        wire = v50.encode(msg)  # type: ignore[arg-type]
        assert decode(wire) == msg == codec.parse_reference(wire)

        def enc_fast(msg: object = msg) -> None:
            for _ in range(n):
                v50.encode(msg)  # type: ignore[arg-type]

        def dec_fast(wire: bytes = wire, decode: Callable[[bytes], object] = decode) -> None:
            for _ in range(n):
                decode(wire)

        def enc_ref(msg: object = msg, codec: object = codec) -> None:
            for _ in range(m):
                codec.build_reference(msg)  # type: ignore[attr-defined]

        def dec_ref(wire: bytes = wire, codec: object = codec) -> None:
            for _ in range(m):
                codec.parse_reference(wire)  # type: ignore[attr-defined]

        rows.append(
            (f"{name} encode", best_rate(enc_fast, n, repeat), best_rate(enc_ref, m, repeat))
        )
        rows.append(
            (f"{name} decode", best_rate(dec_fast, n, repeat), best_rate(dec_ref, m, repeat))
        )
    return rows


async def ouch_round_trips(version: str, trips: int) -> float:
    server = await serve_ouch({"BENCH1": "pw"}, version=version)  # type: ignore[arg-type]
    client = OuchClient("127.0.0.1", server.port, "BENCH1", "pw", version=version)  # type: ignore[arg-type]
    await client.connect()
    book = client.book
    for _ in range(200):  # warm up
        client.send(book.enter("B", 100, "AAPL", 1_500_000))
        await client.next_update()
    t = time.perf_counter()
    for _ in range(trips):
        client.send(book.enter("B", 100, "AAPL", 1_500_000))
        await client.next_update()
    dt = time.perf_counter() - t
    await client.close()
    await server.close()
    return trips / dt


async def floor_round_trips(trips: int) -> float:
    """Bare loopback ping-pong: 50 bytes up (an Unsequenced Enter Order), 69 down."""
    up, down = b"x" * 50, b"y" * 69

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                await reader.readexactly(len(up))
            except asyncio.IncompleteReadError:
                break
            writer.write(down)
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    t = time.perf_counter()
    for _ in range(trips):
        writer.write(up)
        await reader.readexactly(len(down))
    dt = time.perf_counter() - t
    writer.close()
    server.close()
    await server.wait_closed()
    return trips / dt


def loop_factories() -> list[tuple[str, Callable[[], asyncio.AbstractEventLoop]]]:
    out: list[tuple[str, Callable[[], asyncio.AbstractEventLoop]]] = [
        ("asyncio", asyncio.new_event_loop)
    ]
    loop = new_event_loop()  # uvloop's when it is installed
    if type(loop).__module__.startswith("uvloop"):
        out.append(("uvloop", new_event_loop))
    loop.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--trips", type=int, default=5_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(f"python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs")
    print(f"{'codec':28} {'tickwire/s':>12} {'construct/s':>12} {'ratio':>7}")
    for name, fast, ref in codec_rows(args.n, args.repeat):
        print(f"{name:28} {fast:12,.0f} {ref:12,.0f} {fast / ref:6.1f}x")
    print(f"{'round trips (loopback)':28} {'per second':>12} {'floor/s':>12} {'of floor':>8}")
    for loop_name, factory in loop_factories():
        loop = factory()
        floor = max(
            loop.run_until_complete(floor_round_trips(args.trips)) for _ in range(args.repeat)
        )
        for version in ("5.0", "4.2"):
            rate = max(
                loop.run_until_complete(ouch_round_trips(version, args.trips))
                for _ in range(args.repeat)
            )
            label = f"OUCH {version} enter->acc {loop_name}"
            print(f"{label:28} {rate:12,.0f} {floor:12,.0f} {rate / floor:7.0%}")
        loop.close()


if __name__ == "__main__":
    main()
