"""``python -m tickwire.moldudp64``: convert between BinaryFILEs and captures, replay feeds.

Commands:

* ``itch2pcap IN OUT``: pack the ITCH messages of a BinaryFILE into MoldUDP64 packets and
  write them as an Ethernet/IPv4/UDP pcap (timestamps from the ITCH messages).
* ``pcap2itch IN OUT``: the ITCH messages carried by the MoldUDP64 packets of a capture, in
  sequence order, each once (duplicates from A/B lines or retransmissions dropped, gaps
  counted: :mod:`tickwire.moldudp64.sequenced`), as a BinaryFILE; ``--keep-duplicates``
  writes every packet's messages in capture order instead. A JSON summary goes to stderr.
  A capture of more than one session is refused (exit 2) unless ``--session`` picks one;
  lost messages (bad packets, cut frames, gaps) and copies that differ from the copy read
  are one ``error:`` line and exit 1, the output written all the same (``docs/cli.md``,
  "Captures").
* ``replay SOURCE --to HOST:PORT``: send the MoldUDP64 packets of a capture (or of a
  BinaryFILE packed on the fly) to that one address, with the recorded timing scaled by
  ``--speed``, or at ``--rate`` packets/s; ``--max`` bounds the count, ``--loop`` repeats.
  A send the kernel refused and a frame of the capture with no whole packet to send (cut
  by the snap length, or not parsing) are counted apart from the packets sent and end the
  run with one ``error:`` line, exit 1, after the report.

These commands need the ``itch`` extra (tickwire-itch) for BinaryFILE reading and writing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar

from tickwire.cli import (
    Progress,
    UsageError,
    add_json_option,
    atomic_path,
    existing_file,
    int_range,
    ipv4,
    iso_date,
    json_to_stdout,
    non_negative_float,
    output_file,
    positive_float,
    positive_int,
    reading,
    run_cli,
    tcp_udp_port,
    vlan_tci,
    write_json,
)
from tickwire.net import PcapWriter, build_udp_frame, is_capture

from .capture import CaptureStats, MoldCapture, faults_text
from .codec import HEADER_SIZE, SESSION_LENGTH, encode_session
from .errors import IncompleteCapture, IncompleteReplay
from .publisher import DEFAULT_MAX_PAYLOAD, pack_messages
from .replay import capture_payloads, open_sender, parse_address, replay
from .sequenced import SequencedCapture

__all__ = ["main", "pack_binaryfile", "session"]

DEFAULT_PORT = 26477


def _itch() -> None:
    """Exit with a clear message when the ``itch`` extra is not installed."""
    try:
        import tickwire.itch  # noqa: F401
    except ImportError:  # pragma: no cover - depends on the installation
        raise UsageError(
            "this command needs tickwire-itch: pip install 'tickwire-moldudp64[itch]'"
        ) from None


#: The smallest ``--max-payload`` that fits any ITCH 5.0 message (the longest, NOII, is
#: 50 bytes) with the MoldUDP64 header and its block length; the largest is what one
#: UDP datagram over IPv4 carries.
_MAX_PAYLOAD_RANGE = (HEADER_SIZE + 2 + 50, 65_507)
_max_payload = int_range(*_MAX_PAYLOAD_RANGE, what="--max-payload")


def session(text: str) -> str:
    """An argparse type: a MoldUDP64 session name, 1 to 10 printable ASCII characters."""
    if not 1 <= len(text) <= SESSION_LENGTH or not all(" " <= ch <= "~" for ch in text):
        raise argparse.ArgumentTypeError(
            f"session {text!r} is not 1 to {SESSION_LENGTH} printable ASCII characters"
        )
    return text


def _address(text: str) -> tuple[str, int]:
    """``--to``: a literal ``IPv4:PORT`` (see :func:`tickwire.moldudp64.replay.parse_address`)."""
    try:
        return parse_address(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"refusing {text!r}: {exc}") from None


def _epoch_ns(date: str) -> int:
    day = dt.datetime.strptime(date, "%Y-%m-%d").replace(tzinfo=dt.UTC)
    return int(day.timestamp()) * 1_000_000_000


def pack_binaryfile(
    source: str,
    *,
    session: str,
    max_payload: int = DEFAULT_MAX_PAYLOAD,
    flush_ns: int = 1_000_000,
    day_ns: int = 0,
    first_sequence: int = 1,
    end_of_session: bool = True,
) -> Iterator[tuple[int, bytes]]:
    """``(timestamp_ns, MoldUDP64 packet)`` for the ITCH messages of a BinaryFILE.

    A packet is closed when the next message would overflow ``max_payload`` or is more than
    ``flush_ns`` later (ITCH timestamp) than the packet's first message, like a publisher
    with that flush interval. The packet's timestamp is ``day_ns`` plus its last message's.
    """
    from tickwire.itch import iter_raw

    sess = encode_session(session)
    seq = first_sequence
    batch: list[bytes] = []
    size = HEADER_SIZE
    first_ts = last_ts = 0
    for _, msg in iter_raw(source):
        ts = int.from_bytes(msg[5:11], "big") if len(msg) >= 11 else last_ts
        ts = max(ts, last_ts)
        if batch and (size + 2 + len(msg) > max_payload or ts - first_ts > flush_ns):
            (pkt,) = pack_messages(sess, seq, batch, max_payload)
            yield day_ns + last_ts, pkt
            seq += len(batch)
            batch = []
            size = HEADER_SIZE
        if not batch:
            first_ts = ts
        batch.append(msg)
        size += 2 + len(msg)
        last_ts = ts
    if batch:
        (pkt,) = pack_messages(sess, seq, batch, max_payload)
        yield day_ns + last_ts, pkt
        seq += len(batch)
    if end_of_session:
        yield day_ns + last_ts, sess + seq.to_bytes(8, "big") + b"\xff\xff"


def cmd_itch2pcap(args: argparse.Namespace) -> int:
    _itch()
    frames = 0
    with (
        atomic_path(args.output) as tmp,
        PcapWriter(tmp) as out,
        Progress(None, "itch2pcap", unit="pkt") as bar,
    ):
        for ts, pkt in pack_binaryfile(
            args.input,
            session=args.session,
            max_payload=args.max_payload,
            flush_ns=int(args.flush_us * 1000),
            day_ns=_epoch_ns(args.date),
            end_of_session=not args.no_end_of_session,
        ):
            frame = build_udp_frame(
                pkt,
                src_ip=args.src_ip,
                dst_ip=args.dst_ip,
                src_port=args.src_port,
                dst_port=args.dst_port,
                vlan_tci=args.vlan,
            )
            out.write(frame, timestamp_ns=ts)
            frames += 1
            bar.update(1)
    print(f"wrote {frames} packets to {args.output}", file=sys.stderr)
    return 0


_T = TypeVar("_T")


def _read(name: str, items: Iterable[_T]) -> Iterator[_T]:
    """``items``, an error raised reading them marked with the input ``name``
    (:func:`tickwire.cli.reading`; a generator, so the consumer's writes are not marked).
    Why: ``pcap2itch``'s and ``replay``'s errors for a capture they cannot read named no
    file, where the engine's commands do. Test:
    ``tests/test_capture_rules.py::test_two_captures_concatenated_are_one_line_naming_where``."""
    with reading(name):
        yield from items


def cmd_pcap2itch(args: argparse.Namespace) -> int:
    _itch()
    from tickwire.itch import BinaryFileWriter

    one = args.session is None  # a capture of two sessions is refused, not merged
    with (
        atomic_path(args.output) as tmp,
        BinaryFileWriter(tmp) as out,
        Progress(None, "pcap2itch", unit="pkt") as bar,
    ):
        if args.keep_duplicates:
            cap = MoldCapture(args.input, port=args.port, session=args.session, one_session=one)
            for mf in _read(args.input, cap):
                bar.update(1)
                for m in mf.packet.messages:
                    out.write(m)
            st = cap.stats
            summary: dict[str, object] = {
                "frames": st.frames,
                "packets": st.packets,
                "not_udp": st.not_udp,
                "other_port": st.other_port,
                "bad_packets": st.bad_packets,
                "cut_frames": st.cut,
                "fragments": st.fragments,
                "other_session_packets": st.other_session,
            }
            faults = faults_text(st)
        else:
            seq = SequencedCapture(
                args.input, port=args.port, session=args.session, one_session=one
            )
            for ev in _read(args.input, seq):
                bar.update(1)
                for m in ev.messages:
                    out.write(m)
            summary = seq.stats.as_dict()
            faults = seq.stats.faults()
        summary["messages_written"] = out.count
    print(json.dumps(summary), file=sys.stderr)
    if faults is not None:  # written, and said not to be whole: one line, exit 1
        raise IncompleteCapture(f"{args.input}: {faults}; {args.output} is written all the same")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    address = args.to
    lost = CaptureStats()  # frames of the capture with no packet to send, every pass
    capture = is_capture(args.source)
    if capture:

        def packets() -> Iterator[tuple[int, bytes]]:
            return _read(args.source, capture_payloads(args.source, port=args.port, lost=lost))

    else:
        _itch()

        def packets() -> Iterator[tuple[int, bytes]]:
            return pack_binaryfile(args.source, session=args.session, max_payload=args.max_payload)

    with (
        open_sender(address, ttl=args.ttl) as sock,
        Progress(args.max, "replay", unit="pkt") as bar,
    ):
        report = replay(
            packets,
            sock,
            speed=args.speed,
            rate=args.rate,
            max_packets=args.max,
            loop=args.loop,
            on_packet=bar.update,
        )
    report.add_skipped(lost, capture=capture)
    if args.json is not None:
        write_json(args.json, report.as_dict())
    if not json_to_stdout(args.json):
        print(report.text())
    faults = report.faults()
    if faults is not None:  # the report says it all; one line, exit 1 (docs/cli.md)
        raise IncompleteReplay(f"{args.source}: {faults}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tickwire-moldudp64",
        description="Convert between BinaryFILEs and MoldUDP64 captures, replay feeds.",
    )
    sub = p.add_subparsers(dest="command", required=True)

    a = sub.add_parser("itch2pcap", help="BinaryFILE -> MoldUDP64 pcap")
    a.add_argument("input", type=existing_file, help="ITCH BinaryFILE (gzip allowed)")
    a.add_argument("output", type=output_file, help="pcap to write, whole or not at all")
    a.add_argument("--session", type=session, default="TICKWIRE01", help="MoldUDP64 session")
    a.add_argument(
        "--max-payload", type=_max_payload, default=DEFAULT_MAX_PAYLOAD, help="UDP payload bytes"
    )
    a.add_argument(
        "--flush-us", type=non_negative_float, default=1000.0, help="packet flush interval"
    )
    a.add_argument(
        "--date", type=iso_date, default="2020-01-02", help="day the ITCH timestamps belong to"
    )
    # test addresses in 198.18.0.0/15 (RFC 2544), never a real feed's
    a.add_argument("--src-ip", type=ipv4, default="198.18.0.1", help="IPv4 source")
    a.add_argument("--dst-ip", type=ipv4, default="198.18.0.2", help="IPv4 destination")
    a.add_argument("--src-port", type=tcp_udp_port, default=DEFAULT_PORT, help="UDP source port")
    a.add_argument(
        "--dst-port", type=tcp_udp_port, default=DEFAULT_PORT, help="UDP destination port"
    )
    a.add_argument("--vlan", type=vlan_tci, default=None, help="802.1Q TCI to tag frames with")
    a.add_argument(
        "--no-end-of-session", action="store_true", help="no end-of-session packet at the end"
    )
    a.set_defaults(func=cmd_itch2pcap)

    b = sub.add_parser("pcap2itch", help="MoldUDP64 pcap/pcapng -> BinaryFILE")
    b.add_argument("input", type=existing_file, help="pcap or pcapng capture (gzip allowed)")
    b.add_argument(
        "output",
        type=output_file,
        help="BinaryFILE to write (.gz to compress), whole or not at all",
    )
    b.add_argument("--port", type=tcp_udp_port, default=None, help="only this UDP port")
    b.add_argument(
        "--session",
        type=session,
        default=None,
        help="only this session (default: the capture's one session; a packet of a second "
        "is refused, exit 2, naming both)",
    )
    b.add_argument(
        "--keep-duplicates",
        action="store_true",
        help="every message of every packet in capture order (no sequencing: A/B copies and "
        "retransmissions all written)",
    )
    b.set_defaults(func=cmd_pcap2itch)

    r = sub.add_parser("replay", help="send a capture or BinaryFILE to one UDP address")
    r.add_argument("source", type=existing_file, help="pcap/pcapng capture or ITCH BinaryFILE")
    r.add_argument("--to", type=_address, required=True, help="HOST:PORT, a literal IPv4 address")
    timing = r.add_mutually_exclusive_group()  # --rate replaced --speed without a word
    timing.add_argument(
        "--speed", type=non_negative_float, default=1.0, help="timing scale (0: flat out)"
    )
    timing.add_argument(
        "--rate", type=positive_float, default=None, help="fixed packets per second"
    )
    r.add_argument("--max", type=positive_int, default=None, help="stop after this many packets")
    r.add_argument("--loop", action="store_true", help="start over at the end")
    r.add_argument("--port", type=tcp_udp_port, default=None, help="only packets for this UDP port")
    r.add_argument("--session", type=session, default="TICKWIRE01", help="session for a BinaryFILE")
    r.add_argument(
        "--max-payload",
        type=_max_payload,
        default=DEFAULT_MAX_PAYLOAD,
        help="UDP payload bytes for a BinaryFILE",
    )
    r.add_argument("--ttl", type=int_range(0, 255, what="TTL"), default=1, help="multicast TTL")
    add_json_option(r, "the report")
    r.set_defaults(func=cmd_replay)
    return p


def _run(args: argparse.Namespace) -> int:
    if getattr(args, "loop", False) and args.max is None and not os.isatty(0):
        raise UsageError("replay: --loop without --max only from a terminal (it never ends)")
    result: int = args.func(args)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (:func:`tickwire.cli.run_cli`:
    0 success, 1 unreadable input, 2 a usage error, 130 interrupted), never a traceback
    for bad input."""
    return run_cli(build_parser(), argv, _run, dist="tickwire-moldudp64")
