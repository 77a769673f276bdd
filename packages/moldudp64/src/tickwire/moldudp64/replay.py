"""Replay MoldUDP64 packets to one UDP address with recorded (scaled) or fixed-rate timing.

:func:`replay` takes ``(timestamp_ns, payload)`` pairs (from a capture or packed on the fly
from a BinaryFILE by the CLI) and sends each payload with a socket *connected* to the one
destination given, so it cannot send anywhere else. Pacing sleeps until just before each
packet's due time and spins the rest, and the report gives the achieved rate and the
distribution of send-time errors.
"""

from __future__ import annotations

import itertools
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from tickwire.net.stats import percentiles

from .capture import MoldCapture
from .codec import END_OF_SESSION_COUNT, HEADER_SIZE

__all__ = ["ReplayReport", "capture_payloads", "open_sender", "parse_address", "replay"]

_SPIN = 0.0005  # sleep until this close to a due time, then spin


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` with a literal IPv4 address (no name resolution, nothing implicit)."""
    host, sep, port_s = text.rpartition(":")
    if not sep:
        raise ValueError(f"{text!r} is not HOST:PORT")
    try:
        socket.inet_pton(socket.AF_INET, host)
    except OSError:
        raise ValueError(f"{host!r} is not a literal IPv4 address") from None
    try:
        port = int(port_s, 10)
    except ValueError:
        raise ValueError(f"port {port_s!r} is not an integer") from None
    if not 0 < port < 65536:
        raise ValueError(f"port {port} is out of range")
    return host, port


def open_sender(address: tuple[str, int], *, ttl: int = 1) -> socket.socket:
    """A UDP socket connected to ``address``: it can only send there."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    if 224 <= socket.inet_aton(address[0])[0] <= 239:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl)
    sock.connect(address)
    return sock


def capture_payloads(path: str, *, port: int | None = None) -> Iterator[tuple[int, bytes]]:
    """``(timestamp_ns, MoldUDP64 payload)`` of every MoldUDP64 packet in a capture."""
    for mf in MoldCapture(path, port=port):
        yield mf.timestamp_ns, mf.udp.payload


@dataclass
class ReplayReport:
    packets: int = 0
    messages: int = 0
    bytes: int = 0
    send_errors: int = 0
    elapsed_s: float = 0.0
    packets_per_s: float = 0.0
    messages_per_s: float = 0.0
    #: Send-time error (actual minus due time) percentiles, in microseconds.
    timing_error_us: dict[str, float] = field(default_factory=dict)
    destination: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        t = self.timing_error_us
        lines = [
            f"sent {self.packets} packets ({self.messages} messages, {self.bytes} bytes) to "
            f"{self.destination} in {self.elapsed_s:.3f} s",
            f"rate {self.packets_per_s:,.0f} packets/s, {self.messages_per_s:,.0f} messages/s",
        ]
        if t:
            lines.append("timing error (us): " + ", ".join(f"{k} {v:.1f}" for k, v in t.items()))
        if self.send_errors:
            lines.append(f"send errors: {self.send_errors}")
        return "\n".join(lines)


def _timing_error(values: list[float]) -> dict[str, float]:
    """The project's percentiles (:func:`tickwire.net.stats.percentiles`, nearest rank) of
    the send-time errors: ``p50``, ``p99``, ``p99_9`` and ``max`` (empty with no packets)."""
    p = percentiles(values)
    picked = {"p50": p["p50"], "p99": p["p99"], "p99_9": p["p99_9"], "max": p["max"]}
    return {k: float(v) for k, v in picked.items() if v is not None}


def replay(
    packets: Callable[[], Iterable[tuple[int, bytes]]],
    sock: socket.socket,
    *,
    speed: float = 1.0,
    rate: float | None = None,
    max_packets: int | None = None,
    loop: bool = False,
    preload: int = 500_000,
    on_packet: Callable[[int], None] | None = None,
    clock: Callable[[], float] = time.perf_counter,
    sleep: Callable[[float], None] = time.sleep,
) -> ReplayReport:
    """Send the payloads ``packets()`` yields through the connected ``sock``.

    Timing: with ``rate`` packets are due every ``1/rate`` s; else with ``speed > 0`` they keep
    the recorded gaps divided by ``speed``; ``speed == 0`` sends as fast as possible.
    ``loop`` starts over (calling ``packets()`` again) at the end, until ``max_packets``.
    The first ``preload`` packets of each pass are read before the pass starts.
    """
    if rate is not None and rate <= 0:
        raise ValueError("rate must be positive")
    if speed < 0:
        raise ValueError("speed must be >= 0")
    rep = ReplayReport()
    peer = sock.getpeername()
    rep.destination = f"{peer[0]}:{peer[1]}"
    errors: list[float] = []
    send = sock.send
    start = clock()
    offset_ns = 0  # recorded time of the current pass's start, relative to the first pass
    first_ts: int | None = None
    pass_end = 0
    done = False
    while not done:
        pass_first: int | None = None
        sent_this_pass = 0
        source = iter(packets())
        # Read ahead so that parsing the source does not delay the sends it precedes.
        ahead = list(itertools.islice(source, preload))
        for ts, payload in itertools.chain(ahead, source):
            if max_packets is not None and rep.packets >= max_packets:
                done = True
                break
            if pass_first is None:
                pass_first = ts
                if first_ts is None:
                    # The clock starts with the first packet, not with opening the source.
                    first_ts = ts
                    start = clock()
            rel_ns = offset_ns + ts - pass_first
            pass_end = max(pass_end, rel_ns)
            if rate is not None:
                due = start + rep.packets / rate
            elif speed > 0:
                due = start + rel_ns / 1e9 / speed
            else:
                due = None
            if due is not None:
                now = clock()
                if due - now > _SPIN:
                    sleep(due - now - _SPIN)
                now = clock()
                while now < due:
                    now = clock()
            try:
                send(payload)
            except OSError:
                rep.send_errors += 1
            if due is not None:
                errors.append((clock() - due) * 1e6)
            rep.packets += 1
            rep.bytes += len(payload)
            if len(payload) >= HEADER_SIZE:
                count = (payload[18] << 8) | payload[19]
                if count != END_OF_SESSION_COUNT:
                    rep.messages += count
            sent_this_pass += 1
            if on_packet is not None:
                on_packet(1)
        if not loop or sent_this_pass == 0:
            break
        # The next pass follows the last packet of this one by one average gap.
        gap = pass_end - (offset_ns if sent_this_pass else 0)
        offset_ns = pass_end + (gap // max(1, sent_this_pass - 1) if sent_this_pass > 1 else 0)
        pass_end = offset_ns
    rep.elapsed_s = clock() - start
    if rep.elapsed_s > 0:
        rep.packets_per_s = rep.packets / rep.elapsed_s
        rep.messages_per_s = rep.messages / rep.elapsed_s
    rep.timing_error_us = _timing_error(errors)
    return rep
