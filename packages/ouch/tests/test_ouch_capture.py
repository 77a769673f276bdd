"""Captures: a real loopback OUCH 4.2 session written as pcap, read back by our
decode tool and by Wireshark's soupbintcp/ouch dissectors."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _ouch_tshark import assert_not_malformed, needs_tshark, tshark
from tickwire.net.tcp import TcpCaptureWriter
from tickwire.ouch.client import OuchClient, serve_ouch
from tickwire.ouch.decode import decode_capture
from tickwire.soupbintcp.aio import run


def record_session(path: Path, version: str = "4.2") -> int:
    """Run a real client/server session over loopback and write it as a pcap."""

    async def main() -> int:
        server = await serve_ouch(
            {"USER01": "Secret123"},
            version=version,
            heartbeat_interval=0.05,
        )
        chunks: list[tuple[str, bytes]] = []
        c = OuchClient(
            "127.0.0.1", server.port, "USER01", "Secret123", version=version,
            heartbeat_interval=0.05, tap=lambda d, b: chunks.append((d, b)),
        )  # fmt: skip
        await c.connect()
        b: Any = c.book
        orders = [("B", 100, "AAPL", 1_500_000), ("S", 250, "MSFT", 3_201_234), ("B", 7, "QQQ", 45)]
        keys = []
        for side, shares, stock, price in orders:
            msg = b.enter(side, shares, stock, price)
            keys.append(msg.order_token if version == "4.2" else msg.user_ref_num)
            c.send(msg)
            await c.next_update()
        await asyncio.sleep(0.12)  # let a few heartbeats through
        for req in (
            b.replace(keys[0], 300, 1_499_900),
            b.cancel(keys[1], 50),
            b.modify(keys[2], "B", 5),  # a buy stays a buy (modify_refusal)
        ):
            c.send(req)
            await c.next_update()
        await c.close()
        await server.close()
        with TcpCaptureWriter(path, server=("127.0.0.1", server.port), mss=40) as w:
            for direction, data in chunks:
                (w.client_sent if direction == "out" else w.server_sent)(data)
        return server.port

    return run(main())


def our_view(path: Path) -> dict[str, list[str]]:
    recs = list(decode_capture(path))
    assert all("error" not in r and "ouch_error" not in r for r in recs)
    out: dict[str, list[str]] = {
        k: [] for k in ("soup", "ouch", "token", "shares", "price", "repl")
    }
    for r in recs:
        out["soup"].append(r["packet_type"])
        o = r.get("ouch")
        if o:
            out["ouch"].append(o["message_type"])
            for key, field in (("token", "order_token"), ("shares", "shares"), ("price", "price"),
                               ("repl", "replacement_order_token")):  # fmt: skip
                if field in o:
                    out[key].append(str(o[field]))
    return out


KEYS = ("soup", "ouch", "token", "shares", "price", "repl")


def tshark_view(path: Path, port: int) -> dict[str, list[str]]:
    """The same lists as :func:`our_view`, as Wireshark's dissectors read them."""
    fields = ["soupbintcp.packet_type", "ouch.packet_type", "ouch.order_token", "ouch.shares",
              "ouch.price", "ouch.replacement_order_token"]  # fmt: skip
    args = ["-T", "fields", "-E", "occurrence=a", "-E", "aggregator=|", "-E", "separator=/t"]
    for f in fields:
        args += ["-e", f]
    theirs: dict[str, list[str]] = {k: [] for k in KEYS}
    for line in tshark(path, port, *args).splitlines():
        cols = line.split("\t")
        for key, col in zip(theirs, cols, strict=False):
            theirs[key] += [v.strip("'") for v in col.split("|") if v]
    assert_not_malformed(path, port)
    return theirs


@pytest.mark.tshark
@needs_tshark
def test_ouch_tshark_reads_what_we_write(tmp_path: Path) -> None:
    """A real loopback session, written by TcpCaptureWriter (small segments)."""
    path = tmp_path / "ouch42.pcap"
    port = record_session(path)
    ours = our_view(path)
    assert tshark_view(path, port) == ours
    # the session really exercised what the dissectors must agree on
    assert ours["ouch"] == ["O", "A", "O", "A", "O", "A", "U", "U", "X", "C", "M", "M"]
    assert {"L", "A", "U", "S", "O", "R", "H"} <= set(ours["soup"])
    assert ours["price"][:2] == ["1500000", "1500000"]


@pytest.mark.tshark
@needs_tshark
def test_ouch_tshark_live_loopback_capture(tmp_path: Path) -> None:
    """tshark captures a live session on lo (pcapng); both readers agree on it."""
    path = tmp_path / "live.pcapng"

    async def main() -> int:
        server = await serve_ouch({"USER01": "Secret123"}, version="4.2")
        cap = subprocess.Popen(
            ["tshark", "-i", "lo", "-f", f"tcp port {server.port}", "-w", str(path),
             "-a", "duration:60"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            # wait (bounded) until the capture provably sees traffic on the port
            for _ in range(300):
                await asyncio.sleep(0.1)
                if cap.poll() is not None:  # dumpcap could not capture on lo here
                    pytest.skip(f"tshark cannot capture on lo (exit {cap.returncode})")
                _, w = await asyncio.open_connection("127.0.0.1", server.port)
                w.close()
                if path.exists() and path.stat().st_size > 400:
                    break
            else:
                pytest.fail("tshark did not capture traffic on lo within 30 s")
            c = OuchClient("127.0.0.1", server.port, "USER01", "Secret123", version="4.2")
            await c.connect()
            b: Any = c.book
            for i in range(5):
                c.send(b.enter("B", 100 + i, "AAPL", 1_500_000 + i))
                await c.next_update()
            c.send(b.cancel("TW000000000002"))
            await c.next_update()
            await c.close()
            await asyncio.sleep(0.5)
        finally:
            cap.send_signal(signal.SIGINT)
            try:
                cap.wait(10)
            except subprocess.TimeoutExpired:
                cap.kill()
                cap.wait()
            await server.close()
        return server.port

    port = run(main())
    ours = our_view(path)
    assert tshark_view(path, port) == ours
    assert ours["ouch"] == ["O", "A"] * 5 + ["X", "C"]
    assert ours["shares"][:4] == ["100", "100", "101", "101"]


def test_ouch_decode_tool_json(tmp_path: Path) -> None:
    path = tmp_path / "ouch50.pcap"
    record_session(path, version="5.0")
    res = subprocess.run(
        [sys.executable, "-m", "tickwire.ouch", "decode", str(path), "--json"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    recs = [json.loads(line) for line in res.stdout.splitlines()]
    login = recs[0]
    assert login["packet"] == "LoginRequest" and login["direction"] == "client_to_server"
    assert login["password"] == "<redacted>" and "Secret123" not in res.stdout
    enter = next(r for r in recs if r.get("ouch", {}).get("name") == "EnterOrder")
    assert enter["ouch_version"] == "5.0"
    assert enter["ouch"]["user_ref_num"] == 1 and enter["ouch"]["price"] == 1_500_000
    assert enter["ouch"]["symbol"] == "AAPL" and enter["ouch"]["cl_ord_id"] == "TW000000000001"
    accepted = [r for r in recs if r.get("ouch", {}).get("name") == "OrderAccepted"]
    assert [a["direction"] for a in accepted] == ["server_to_client"] * 3
    assert [a["ouch"]["user_ref_num"] for a in accepted] == [1, 2, 3]
    # text mode works too
    text = subprocess.run(
        [sys.executable, "-m", "tickwire.ouch", "decode", str(path)],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    assert "OUCH 5.0 EnterOrder" in text


def test_ouch_decode_tool_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"not a capture at all")
    res = subprocess.run(
        [sys.executable, "-m", "tickwire.ouch", "decode", str(bad), "--json"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert res.returncode == 1 and "not a pcap" in res.stderr
