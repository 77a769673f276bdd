"""Decode SoupBinTCP (and the OUCH it carries) from a capture.

``python -m tickwire.ouch decode CAPTURE --json`` prints one JSON object per
SoupBinTCP packet, in capture order, both directions, after TCP reassembly.
Each names the packet, its direction and the SoupBinTCP fields; data packets
carry the OUCH message decoded (``--ouch 4.2`` / ``5.0``, or ``auto`` to detect
per connection), field names in snake_case, prices as int.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from tickwire.soupbintcp.packets import (
    LoginRequest,
    Packet,
    PacketError,
    PacketFramer,
    SequencedData,
    UnsequencedData,
    parse_client_packet,
    parse_server_packet,
)

from . import v42, v50
from ._cli import existing_file, port, run_cli
from ._errors import OuchError
from ._wire import Message
from .pcap import parse_tcp, read_frames, reassemble

__all__ = ["decode_capture", "main", "message_to_dict"]

VersionChoice = Literal["auto", "4.2", "5.0"]
_CLIENT_ONLY = {ord("L"), ord("R"), ord("O")}
_SERVER_ONLY = {ord("A"), ord("J"), ord("S"), ord("H"), ord("Z")}


def message_to_dict(msg: Message) -> dict[str, Any]:
    """An OUCH message as a JSON-ready dict (type, name, fields, appendages)."""
    out: dict[str, Any] = {"message_type": msg.message_type, "name": type(msg).__name__}
    for f in dataclasses.fields(msg):  # type: ignore[arg-type]
        v = getattr(msg, f.name)
        if f.name == "appendages":
            v = [
                {
                    "tag": t.tag,
                    "name": t.name,
                    "value": t.value.hex() if isinstance(t.value, bytes) else t.value,
                }
                for t in v
            ]
        out[f.name] = v
    return out


def _packet_to_dict(packet: Packet, show_passwords: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"packet_type": packet.packet_type, "packet": type(packet).__name__}
    for f in dataclasses.fields(packet):  # type: ignore[arg-type]
        v = getattr(packet, f.name)
        if isinstance(packet, LoginRequest) and f.name == "password" and not show_passwords:
            v = "<redacted>"
        if isinstance(v, bytes):
            f_name = "message_hex" if f.name == "message" else f.name
            out[f_name] = v.hex()
            continue
        out[f.name] = v
    return out


def _decode_ouch(
    data: bytes, inbound: bool, version: VersionChoice
) -> tuple[str | None, Message | None, str | None]:
    """Returns (version, message, error)."""
    order = ["4.2", "5.0"] if version == "auto" else [version]
    errors = []
    for ver in order:
        mod = v42 if ver == "4.2" else v50
        try:
            msg = mod.decode_inbound(data) if inbound else mod.decode_outbound(data)
        except OuchError as exc:
            errors.append(f"{ver}: {exc}")
            continue
        return ver, msg, None
    return None, None, "; ".join(errors)


def decode_capture(
    source: str | Path | bytes,
    *,
    version: VersionChoice = "auto",
    server_port: int | None = None,
    show_passwords: bool = False,
) -> Iterator[dict[str, Any]]:
    """Yield one dict per SoupBinTCP packet of a capture."""
    segments = (s for s in (parse_tcp(f) for f in read_frames(source)) if s is not None)
    framers: dict[tuple[str, int, str, int], PacketFramer] = {}
    broken: set[tuple[str, int, str, int]] = set()
    # per connection (unordered endpoint pair): which endpoint is the server
    servers: dict[frozenset[tuple[str, int]], tuple[str, int]] = {}
    versions: dict[frozenset[tuple[str, int]], str] = {}
    for chunk in reassemble(segments):
        key = (chunk.src, chunk.sport, chunk.dst, chunk.dport)
        if key in broken:
            continue
        conn = frozenset({(chunk.src, chunk.sport), (chunk.dst, chunk.dport)})
        framer = framers.setdefault(key, PacketFramer())
        try:
            bodies = framer.feed(chunk.data)
        except PacketError as exc:
            broken.add(key)
            yield {"timestamp_ns": chunk.timestamp_ns, "error": f"not SoupBinTCP: {exc}"}
            continue
        for body in bodies:
            src = (chunk.src, chunk.sport)
            if conn not in servers:
                if server_port is not None:
                    servers[conn] = src if chunk.sport == server_port else (chunk.dst, chunk.dport)
                elif body[0] in _CLIENT_ONLY:
                    servers[conn] = (chunk.dst, chunk.dport)
                elif body[0] in _SERVER_ONLY:
                    servers[conn] = src
            from_server = servers.get(conn) == src
            rec: dict[str, Any] = {
                "timestamp_ns": chunk.timestamp_ns,
                "src": _endpoint(chunk.src, chunk.sport),
                "dst": _endpoint(chunk.dst, chunk.dport),
                "direction": "server_to_client" if from_server else "client_to_server",
            }
            try:
                packet = parse_server_packet(body) if from_server else parse_client_packet(body)
            except PacketError as exc:
                rec["error"] = str(exc)
                rec["raw_hex"] = body.hex()
                yield rec
                continue
            rec.update(_packet_to_dict(packet, show_passwords))
            if isinstance(packet, SequencedData | UnsequencedData):
                inbound = not from_server
                ver, msg, err = _decode_ouch(packet.message, inbound, versions.get(conn, version))  # type: ignore[arg-type]
                if msg is not None and ver is not None:
                    if (
                        version == "auto"
                        and conn not in versions
                        and _unambiguous(packet.message, inbound, ver)
                    ):
                        versions[conn] = ver
                    rec["ouch_version"] = ver
                    rec["ouch"] = message_to_dict(msg)
                else:
                    rec["ouch_error"] = err
            yield rec


def _endpoint(addr: str, port: int) -> str:
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


def _unambiguous(data: bytes, inbound: bool, ver: str) -> bool:
    """Whether ``data`` decodes under ``ver`` only (then the connection's version is known)."""
    other = v50 if ver == "4.2" else v42
    try:
        other.decode_inbound(data) if inbound else other.decode_outbound(data)
    except OuchError:
        return True
    return False


def main(argv: list[str] | None = None) -> int:
    """Run ``decode``; returns the exit status (0, 1 for an unreadable capture, 2 for a
    usage error, 130 interrupted), with one ``error:`` line and never a traceback."""
    parser = argparse.ArgumentParser(
        prog="python -m tickwire.ouch", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    dec = sub.add_parser("decode", help="decode SoupBinTCP/OUCH from a pcap or pcapng capture")
    dec.add_argument("capture", type=existing_file)
    dec.add_argument("--json", action="store_true", help="one JSON object per line (default: text)")
    dec.add_argument("--ouch", choices=["auto", "4.2", "5.0"], default="auto", help="OUCH version")
    dec.add_argument("--port", type=port, default=None, help="the server's TCP port (else inferred)")
    dec.add_argument("--show-passwords", action="store_true", help="do not redact login passwords")
    return run_cli(parser, argv, _decode)


def _decode(args: argparse.Namespace) -> int:
    for rec in decode_capture(
        args.capture,
        version=args.ouch,
        server_port=args.port,
        show_passwords=args.show_passwords,
    ):
        if args.json:
            print(json.dumps(rec))
        else:
            print(_text(rec))
    return 0


def _text(rec: dict[str, Any]) -> str:
    if "packet" not in rec:
        return f"{rec.get('timestamp_ns')} ERROR {rec.get('error')}"
    head = f"{rec['timestamp_ns']} {rec['src']} -> {rec['dst']} {rec['packet']}"
    if "ouch" in rec:
        o = rec["ouch"]
        fields = " ".join(f"{k}={v}" for k, v in o.items() if k not in ("message_type", "name"))
        return f"{head} OUCH {rec['ouch_version']} {o['name']} {fields}"
    fields = " ".join(
        f"{k}={v}" for k, v in rec.items()
        if k not in ("timestamp_ns", "src", "dst", "direction", "packet", "packet_type")
    )  # fmt: skip
    return f"{head} {fields}".rstrip()
