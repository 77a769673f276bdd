"""Decode SoupBinTCP (and the OUCH it carries) from a capture.

``python -m tickwire.ouch decode CAPTURE --json`` prints one JSON object per
SoupBinTCP packet, in capture order, both directions, after TCP reassembly.
Each names the packet, its direction and the SoupBinTCP fields; data packets
carry the OUCH message decoded (``--ouch 4.2`` / ``5.0``, or ``auto`` to detect
per connection), field names in snake_case, prices as int.

Bytes the capture missed
------------------------
When a direction of a connection loses bytes the capture never had (a dropped
segment: :func:`tickwire.net.tcp.reassemble` gives the hole up once the peer
acknowledged past it, too much waits behind it, or the capture ends), a ``gap``
record says how many bytes are missing (and how many bytes of a packet cut by
the hole were dropped), and the framing resynchronises. SoupBinTCP has no
sync marker, so the rule is: the stream resumes at the first offset of the
bytes after the hole from which at least one complete packet, and then up to
64 in a row, parse (a length of 1..65535, a packet type that side sends, its
fields valid, and a data packet's OUCH message decodes) and the run lines up
with the end of those bytes (the last packet may run on into the next
segment). Bytes skipped to get there are reported in a ``resync`` record; a
chunk with no such offset is skipped whole and the search goes on in the next
one. Every packet after that is decoded as usual. A direction whose bytes end
inside a packet gets a ``cut`` record at the end; one with a length that is not
SoupBinTCP (0, or over the limit) gets an ``error`` record after the packets
framed before it, and its later bytes are not read. A packet framed whole whose
SoupBinTCP or OUCH does not decode keeps its record (an ``error`` with ``raw_hex``, or
an ``ouch_error``) and is counted in ``undecoded``. The totals are in
:class:`DecodeStats`; the command line ends with one ``error:`` line of them and exits 1
when anything was lost or not decoded (a capture of random bytes on the port printed
nothing and exited 0; records of OUCH it could not decode exited 0), and when the
capture has no SoupBinTCP stream at all (no TCP bytes: a capture of the UDP feed printed
nothing and exited 0, like a quiet session).

Which side is the server: ``--port`` says; else the connection's handshake (the
destination of its SYN), when the capture has it; else the first packet of a type
only one side sends. Without the handshake rule a client sending a server-only type
(an End of Session) swapped the directions of its whole connection.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tickwire.cli import (
    add_json_option,
    existing_file,
    json_output,
    json_to_stdout,
    printable,
    run_cli,
    tcp_udp_port,
)
from tickwire.net.errors import BadPcap
from tickwire.net.pcap import read_pcap
from tickwire.net.tcp import ReassemblyStats, TcpSegment, reassemble, tcp_segments
from tickwire.soupbintcp.packets import (
    CLIENT_PACKET_TYPES,
    SERVER_PACKET_TYPES,
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
from ._errors import CaptureError, OuchError
from ._wire import Message

__all__ = ["DecodeStats", "UndecodedCapture", "decode_capture", "main", "message_to_dict"]

VersionChoice = Literal["auto", "4.2", "5.0"]
# the type bytes each side sends, from SoupBinTCP's packet table
_CLIENT_TYPES: frozenset[int] = frozenset(t[0] for t in CLIENT_PACKET_TYPES)
_SERVER_TYPES: frozenset[int] = frozenset(t[0] for t in SERVER_PACKET_TYPES)
_CLIENT_ONLY = _CLIENT_TYPES - _SERVER_TYPES
_SERVER_ONLY = _SERVER_TYPES - _CLIENT_TYPES
#: Packets checked in a row before a resynchronisation point is accepted.
_RESYNC_CHAIN = 64

Key = tuple[str, int, str, int]


@dataclass(slots=True)
class DecodeStats:
    """What :func:`decode_capture` could not decode because the capture missed it."""

    #: SoupBinTCP packets decoded.
    packets: int = 0
    #: Holes in a direction's byte stream (``gap`` records).
    gaps: int = 0
    #: Bytes of the TCP streams missing from the capture.
    lost_bytes: int = 0
    #: Bytes that were there but could not be framed: the start of a packet a hole cut,
    #: bytes after a hole skipped to resynchronise, a packet the capture ends inside
    #: (a ``cut`` record), and a direction's bytes from a header that is not SoupBinTCP
    #: on (its ``error`` record).
    skipped_bytes: int = 0
    #: Packets framed whole that did not decode: a SoupBinTCP packet that does not parse
    #: (an ``error`` record with ``raw_hex``) or a data packet whose OUCH message does not
    #: (``ouch_error``).
    undecoded: int = 0
    #: The TCP reassembly's own counts (segments, retransmitted bytes, ...).
    tcp: ReassemblyStats = field(default_factory=ReassemblyStats)

    def text(self) -> str:
        """One line for stderr: what was lost or not decoded, then the packets decoded."""
        parts = []
        if self.lost or not self.failed:
            parts.append(
                f"{self.gaps} gap(s) in the capture: {self.lost_bytes:,} bytes missing, "
                f"{self.skipped_bytes:,} bytes not decoded (cut by a gap or the capture's "
                "end, skipped to resynchronise, or after a header that is not SoupBinTCP)"
            )
        if self.undecoded:
            parts.append(
                f"{self.undecoded:,} records not decoded (SoupBinTCP packets or OUCH "
                "messages that do not parse: their ERROR and ouch_error records)"
            )
        if self.no_stream:
            parts.append(
                f"no SoupBinTCP stream found ({self.tcp.segments:,} TCP segments, "
                "no byte of a TCP stream)"
            )
        return "; ".join([*parts, f"{self.packets:,} packets decoded"])

    @property
    def lost(self) -> bool:
        """Whether any byte of the streams went undecoded."""
        return bool(self.gaps or self.skipped_bytes)

    @property
    def no_stream(self) -> bool:
        """Whether the capture had no TCP stream bytes at all: nothing to decode."""
        return not (self.tcp.delivered or self.tcp.gaps or self.packets or self.undecoded)

    @property
    def failed(self) -> bool:
        """Whether the command exits 1: bytes lost or not decoded, records not decoded,
        or no SoupBinTCP stream in the capture."""
        return self.lost or bool(self.undecoded) or self.no_stream


class UndecodedCapture(OuchError):
    """``decode`` read a capture with something it could not decode (bytes lost or not
    framed, records not decoded, or no SoupBinTCP stream at all): raised after the
    records, so one ``error:`` line (:meth:`DecodeStats.text`) and exit 1 end the run."""


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


def _segments(source: str | Path | bytes) -> Iterator[TcpSegment]:
    """The TCP segments of a capture; a capture that cannot be read is a CaptureError."""
    try:
        yield from tcp_segments(read_pcap(source))
    except BadPcap as exc:
        if isinstance(exc, CaptureError):
            raise
        raise CaptureError(exc.reason, offset=exc.offset) from None


def _noting_handshakes(
    segments: Iterator[TcpSegment], servers: dict[frozenset[tuple[str, int]], tuple[str, int]]
) -> Iterator[TcpSegment]:
    """Pass ``segments`` on, noting in ``servers`` the destination of each connection's
    SYN (without ACK): the server, whatever packet types either side sends later."""
    for seg in segments:
        if seg.flags & TcpSegment.SYN and not seg.flags & TcpSegment.ACK:
            servers[frozenset({(seg.src, seg.sport), (seg.dst, seg.dport)})] = (seg.dst, seg.dport)
        yield seg


def decode_capture(
    source: str | Path | bytes,
    *,
    version: VersionChoice = "auto",
    server_port: int | None = None,
    show_passwords: bool = False,
    stats: DecodeStats | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield one dict per SoupBinTCP packet of a capture, and a ``gap`` (and ``resync``)
    record where the capture lost bytes (see the module docstring); ``stats`` counts."""
    st = stats if stats is not None else DecodeStats()
    # per connection (unordered endpoint pair): which endpoint is the server
    servers: dict[frozenset[tuple[str, int]], tuple[str, int]] = {}
    segments = _segments(source)
    if server_port is None:
        segments = _noting_handshakes(segments, servers)
    framers: dict[Key, PacketFramer] = {}
    broken: set[Key] = set()
    resync: dict[Key, int] = {}  # directions looking for a packet boundary: bytes skipped
    versions: dict[frozenset[tuple[str, int]], str] = {}
    last: dict[Key, int] = {}  # each direction's last timestamp
    for chunk in reassemble(segments, stats=st.tcp):
        key = (chunk.src, chunk.sport, chunk.dst, chunk.dport)
        last[key] = chunk.timestamp_ns
        conn = frozenset({(chunk.src, chunk.sport), (chunk.dst, chunk.dport)})
        data = chunk.data
        if chunk.lost:
            cut = framers.pop(key).buffered if key in framers else 0
            st.gaps += 1
            st.lost_bytes += chunk.lost
            st.skipped_bytes += cut
            yield {
                "timestamp_ns": chunk.timestamp_ns,
                "src": _endpoint(chunk.src, chunk.sport),
                "dst": _endpoint(chunk.dst, chunk.dport),
                "gap": {"lost_bytes": chunk.lost, "cut_bytes": cut},
            }
            if key not in broken:
                resync[key] = resync.get(key, 0)
        if key in broken:
            st.skipped_bytes += len(data)
            continue
        if key in resync:
            if not data:
                continue
            side = servers.get(conn)
            from_server = None if side is None else side == (chunk.src, chunk.sport)
            if from_server is None and server_port is not None:
                from_server = chunk.sport == server_port
            start = _boundary(data, from_server, versions.get(conn, version))  # type: ignore[arg-type]
            if start is None:
                st.skipped_bytes += len(data)
                resync[key] += len(data)
                continue
            st.skipped_bytes += start
            skipped = resync.pop(key) + start
            if skipped:
                yield {
                    "timestamp_ns": chunk.timestamp_ns,
                    "src": _endpoint(chunk.src, chunk.sport),
                    "dst": _endpoint(chunk.dst, chunk.dport),
                    "resync": {"skipped_bytes": skipped},
                }
            data = data[start:]
        framer = framers.setdefault(key, PacketFramer())
        framing: PacketError | None = None
        try:
            bodies: Sequence[bytes] = framer.feed(data)
        except PacketError as exc:  # the packets before the bad length, then the error
            bodies, framing = exc.bodies, exc
            broken.add(key)
            st.skipped_bytes += framer.buffered
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
                st.undecoded += 1
                rec["error"] = str(exc)
                rec["raw_hex"] = body.hex()
                yield rec
                continue
            st.packets += 1
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
                    st.undecoded += 1
                    rec["ouch_error"] = err
            yield rec
        if framing is not None:
            yield {"timestamp_ns": chunk.timestamp_ns, "error": f"not SoupBinTCP: {framing}"}
    for key, framer in framers.items():  # the capture ended inside a packet
        if key not in broken and framer.buffered:
            st.skipped_bytes += framer.buffered
            yield {
                "timestamp_ns": last[key],
                "src": _endpoint(key[0], key[1]),
                "dst": _endpoint(key[2], key[3]),
                "cut": {"bytes": framer.buffered},
            }


def _boundary(data: bytes, from_server: bool | None, version: VersionChoice) -> int | None:
    """The first offset of ``data`` (the bytes after a hole) where SoupBinTCP framing can
    resume: from there, at least one complete packet and then up to ``_RESYNC_CHAIN`` of
    them parse (data packets carrying an OUCH message of ``version`` that decodes), and
    the run lines up with the end of ``data`` (its last packet may run on past it).
    ``from_server`` None: either side's packets."""
    sides = (True, False) if from_server is None else (from_server,)
    types = frozenset().union(*(_SERVER_TYPES if s else _CLIENT_TYPES for s in sides))

    def valid(body: bytes) -> bool:
        for server in sides:
            try:
                packet = parse_server_packet(body) if server else parse_client_packet(body)
            except PacketError:
                continue
            if (
                isinstance(packet, SequencedData | UnsequencedData)
                and _decode_ouch(packet.message, not server, version)[1] is None
            ):
                continue
            return True
        return False

    n = len(data)
    for first in range(n - 2):
        pos, complete = first, 0
        while complete < _RESYNC_CHAIN:
            if n - pos < 3:  # the next length's first bytes, or nothing, are left
                return first
            length = (data[pos] << 8) | data[pos + 1]
            if length == 0 or data[pos + 2] not in types:
                break
            end = pos + 2 + length
            if end > n:  # a packet running on into the next segment
                if complete:
                    return first
                break
            if not valid(data[pos + 2 : end]):
                break
            complete += 1
            pos = end
        else:
            return first
    return None


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
        prog="tickwire-ouch",
        description="Decode SoupBinTCP (and the OUCH it carries) from a capture.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    dec = sub.add_parser(
        "decode",
        help="decode SoupBinTCP/OUCH from a pcap or pcapng capture",
        description="Decode SoupBinTCP/OUCH from a capture, one record per packet. Bytes the "
        "capture missed give a 'gap' record, the framing resynchronises after it, and the "
        "exit status is 1 (one error line with the counts); so it is for records that do "
        "not decode and a capture with no SoupBinTCP stream; 0 when everything decoded.",
    )
    dec.add_argument("capture", type=existing_file, help="pcap or pcapng capture")
    add_json_option(dec, "the packets, one object per line")
    dec.add_argument("--ouch", choices=["auto", "4.2", "5.0"], default="auto", help="OUCH version")
    dec.add_argument(
        "--port", type=tcp_udp_port, default=None, help="the server's TCP port (else inferred)"
    )
    dec.add_argument("--show-passwords", action="store_true", help="do not redact login passwords")
    return run_cli(parser, argv, _decode, dist="tickwire-ouch")


def _decode(args: argparse.Namespace) -> int:
    stats = DecodeStats()
    text = None if json_to_stdout(args.json) else sys.stdout
    with json_output(args.json) if args.json is not None else nullcontext(None) as as_json:
        for rec in decode_capture(
            args.capture,
            version=args.ouch,
            server_port=args.port,
            show_passwords=args.show_passwords,
            stats=stats,
        ):
            if as_json is not None:
                as_json.write(json.dumps(rec) + "\n")
            if text is not None:
                text.write(_text(rec) + "\n")
    if stats.failed:  # after the records: one line, exit 1 (docs/cli.md)
        raise UndecodedCapture(f"{args.capture}: {stats.text()}")
    return 0


def _text(rec: dict[str, Any]) -> str:
    """One record as a line of text; every field value is shown with its control
    characters escaped (:func:`tickwire.cli.printable`): Debug texts, usernames, symbols
    and ClOrdIDs are a peer's bytes, and ``ESC [ 2 J`` in one cleared the terminal
    (``test_ouch_decode_cli.py::test_text_output_shows_control_characters_escaped``)."""
    if "gap" in rec:
        gap = rec["gap"]
        return (
            f"{rec['timestamp_ns']} {rec['src']} -> {rec['dst']} GAP {gap['lost_bytes']} bytes "
            f"missing from the capture ({gap['cut_bytes']} bytes of a cut packet dropped)"
        )
    if "cut" in rec:
        return (
            f"{rec['timestamp_ns']} {rec['src']} -> {rec['dst']} CUT {rec['cut']['bytes']} "
            "bytes of a packet the capture ends inside"
        )
    if "resync" in rec:
        return (
            f"{rec['timestamp_ns']} {rec['src']} -> {rec['dst']} RESYNC "
            f"{rec['resync']['skipped_bytes']} bytes skipped to the next packet boundary"
        )
    if "packet" not in rec:
        return f"{rec.get('timestamp_ns')} ERROR {printable(str(rec.get('error')))}"
    head = f"{rec['timestamp_ns']} {rec['src']} -> {rec['dst']} {rec['packet']}"
    if "ouch" in rec:
        o = rec["ouch"]
        fields = " ".join(
            f"{k}={printable(str(v))}" for k, v in o.items() if k not in ("message_type", "name")
        )
        return f"{head} OUCH {rec['ouch_version']} {o['name']} {fields}"
    fields = " ".join(
        f"{k}={printable(str(v))}" for k, v in rec.items()
        if k not in ("timestamp_ns", "src", "dst", "direction", "packet", "packet_type")
    )  # fmt: skip
    return f"{head} {fields}".rstrip()
