"""Replay MoldUDP64 packets to one UDP address with recorded (scaled) or fixed-rate timing.

:func:`replay` takes ``(timestamp_ns, payload)`` pairs (from a capture or packed on the fly
from a BinaryFILE by the CLI) and sends each payload with a socket *connected* to the one
destination given, so it cannot send anywhere else. Pacing sleeps until just before each
packet's due time and spins the rest, and the report gives the achieved rate and the
distribution of send-time errors.

What was not sent is counted apart, never as sent: a send the kernel refused
(``send_errors``; on a connected UDP socket an ICMP port unreachable fails the next send)
and, from a capture, a frame that holds no whole MoldUDP64 packet to send (``skipped_frames``:
cut short by the capture's snap length, or a packet that does not parse). The command line
ends such a run with one ``error:`` line and exit 1 (:meth:`ReplayReport.faults`).
"""

from __future__ import annotations

import itertools
import socket
import time
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from tickwire.net.stats import QUANTILES, log_bucket, log_bucket_bounds, nearest_rank, percentiles

from .capture import MAX_ERRORS, CaptureStats, MoldCapture, faults_text
from .codec import END_OF_SESSION_COUNT, HEADER_SIZE

__all__ = ["Lateness", "ReplayReport", "capture_payloads", "open_sender", "parse_address", "replay"]

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


def capture_payloads(
    path: str, *, port: int | None = None, lost: CaptureStats | None = None
) -> Iterator[tuple[int, bytes]]:
    """``(timestamp_ns, MoldUDP64 payload)`` of every MoldUDP64 packet in a capture.

    ``lost`` adds up, over every call, the frames read, the packets found, and the
    frames that held a packet this could not send: ``cut`` (the capture's snap length), ``bad_packets`` (with their ``errors``)
    and ``fragments`` (IPv4 fragments, not reassembled), as :class:`~tickwire.moldudp64.capture.MoldCapture` counts them; other
    traffic is not counted there."""
    cap = MoldCapture(path, port=port)
    try:
        for mf in cap:
            yield mf.timestamp_ns, mf.udp.payload
    finally:
        if lost is not None:
            st = cap.stats
            lost.cut += st.cut
            lost.bad_packets += st.bad_packets
            lost.fragments += st.fragments
            lost.truncated = lost.truncated or st.truncated  # the file's, once
            # and the whole capture's counts, for "not one MoldUDP64 packet"
            lost.frames += st.frames
            lost.packets += st.packets
            lost.not_udp += st.not_udp
            lost.other_port += st.other_port
            lost.errors += st.errors[: max(0, MAX_ERRORS - len(lost.errors))]
            for kind, text in st.first_errors.items():  # the first capture's, of each kind
                lost.first_errors.setdefault(kind, text)


@dataclass
class ReplayReport:
    packets: int = 0
    messages: int = 0
    bytes: int = 0
    #: Sends the kernel refused (not in ``packets``); the first one's reason.
    send_errors: int = 0
    first_send_error: str | None = None
    #: Frames of the capture with no whole MoldUDP64 packet to send (cut short by the
    #: snap length, or not parsing), and what they were (:meth:`add_skipped`, from what
    #: :func:`capture_payloads` counted).
    skipped_frames: int = 0
    skipped_reason: str | None = None
    #: A capture with not one MoldUDP64 packet to send, said (:meth:`add_skipped`).
    nothing_to_send: str | None = None
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
            lines.append(f"send errors: {self.send_errors} (not sent; {self.first_send_error})")
        if self.skipped_frames:
            lines.append(f"skipped: {self.skipped_frames} frames, not sent ({self.skipped_reason})")
        return "\n".join(lines)

    def faults(self) -> str | None:
        """What the replay did not send, one phrase, or None when every packet went:
        the command's ``error:`` line (exit 1)."""
        parts = []
        if self.send_errors:
            tried = self.packets + self.send_errors
            parts.append(
                f"{self.send_errors:,} of {tried:,} packets not sent to {self.destination} "
                f"(the first: {self.first_send_error})"
            )
        if self.skipped_frames:
            parts.append(f"{self.skipped_reason}: not sent")
        if self.nothing_to_send:
            parts.append(self.nothing_to_send)
        return "; ".join(parts) if parts else None

    def add_skipped(self, lost: CaptureStats, *, capture: bool = True) -> None:
        """Count the frames :func:`capture_payloads` could not send (``lost``); for a
        ``capture``, one with not one MoldUDP64 packet is said too (``nothing_to_send``,
        exit 1: it said ``sent 0 packets`` and exited 0; test:
        ``test_moldudp64_cli.py::test_replay_of_a_capture_without_one_moldudp64_packet_exits_1``)."""
        # (a file that ends inside a record: that record, the last, not sent)
        self.skipped_frames = lost.cut + lost.bad_packets + lost.fragments + bool(lost.truncated)
        if capture and not (lost.packets or self.skipped_frames):
            self.nothing_to_send = faults_text(lost)  # the rule of every capture reader
        # (each count quotes the first error of its own kind: faults_text)
        self.skipped_reason = faults_text(lost) if self.skipped_frames else None


#: Send-time errors kept exactly, one float each; beyond this many the percentiles come
#: from :class:`Lateness`' histogram.
EXACT_TIMING = 100_000


class Lateness:
    """Send-time errors (actual minus due time, microseconds) in constant memory.

    The first ``exact`` values (:data:`EXACT_TIMING`) are kept as they are (8 bytes
    each, an ``array``), and their percentiles are exact (the project's nearest rank,
    :func:`tickwire.net.stats.percentiles`). Every value also goes into a log-linear
    histogram of nanoseconds: 16 buckets per power of two (the project's one scheme,
    :func:`tickwire.net.stats.log_bucket`, the bare-metal kernel's too), at most 16 * 64
    buckets whatever the run. Beyond ``exact`` values the list is
    dropped and a percentile is its bucket's upper bound, clamped to the observed
    minimum and maximum: at most one bucket width (6.25 %) above the nearest-rank value,
    never below it; ``max`` stays exact. Why: ``replay`` kept one float per packet sent,
    so a day's capture or ``--loop`` grew without limit. Test:
    ``test_moldudp64_replay.py::test_replay_timing_memory_is_bounded``.
    """

    __slots__ = ("buckets", "count", "exact", "maximum", "minimum", "values")

    def __init__(self, exact: int | None = None) -> None:
        self.exact = EXACT_TIMING if exact is None else exact
        self.values: array[float] | None = array("d")
        self.buckets: dict[int, int] = {}
        self.count = 0
        self.minimum = 0
        self.maximum = 0

    def add(self, us: float) -> None:
        ns = max(0, round(us * 1000.0))
        if self.count == 0 or ns < self.minimum:
            self.minimum = ns
        if ns > self.maximum:
            self.maximum = ns
        self.count += 1
        b = log_bucket(ns)
        self.buckets[b] = self.buckets.get(b, 0) + 1
        if self.values is not None:
            if len(self.values) < self.exact:
                self.values.append(us)
            else:
                self.values = None

    def percentiles(self) -> dict[str, float]:
        """``p50``, ``p99``, ``p99_9`` and ``max`` in microseconds (empty with none)."""
        if self.values is not None:
            p = percentiles(self.values)
            picked = {"p50": p["p50"], "p99": p["p99"], "p99_9": p["p99_9"], "max": p["max"]}
            return {k: float(v) for k, v in picked.items() if v is not None}
        out: dict[str, float] = {}
        ranks = {k: nearest_rank(q, self.count) for k, q in QUANTILES.items()}
        seen = 0
        for b in sorted(self.buckets):
            seen += self.buckets[b]
            for k, rank in list(ranks.items()):
                if seen >= rank:
                    high = log_bucket_bounds(b)[1] - 1
                    out[k] = max(min(high, self.maximum), self.minimum) / 1000.0
                    del ranks[k]
        out["max"] = self.maximum / 1000.0
        return {k: out[k] for k in ("p50", "p99", "p99_9", "max")}


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
    ``loop`` starts over (calling ``packets()`` again) at the end, until ``max_packets``
    sends were tried (sent or failed: a send that fails is counted in ``send_errors``,
    not in ``packets``, ``messages`` or ``bytes``).
    The first ``preload`` packets of each pass are read before the pass starts.
    ``timing_error_us`` is exact over the first :data:`EXACT_TIMING` paced sends and
    within one histogram bucket (6.25 %, never below) beyond, in constant memory
    (:class:`Lateness`).

    ``max_packets`` N: the first N packets, and nothing of the source is read past the
    Nth (the read-ahead stops at it, and the source is closed when the pass ends), so
    what the source counts as it reads (:func:`capture_payloads`' ``lost``: frames cut
    by the snap length, bad packets) covers only the frames up to the Nth packet. Why:
    the read-ahead took the first 500,000 packets whatever N was, and ``replay CAP --max
    4`` of a capture whose fifth frame was cut sent 4 packets and failed, exit 1,
    reporting a frame it was never asked to send. Test:
    ``packages/moldudp64/tests/test_moldudp64_cli.py``
    (``test_replay_max_counts_only_the_frames_it_covers``).
    """
    if rate is not None and rate <= 0:
        raise ValueError("rate must be positive")
    if speed < 0:
        raise ValueError("speed must be >= 0")
    rep = ReplayReport()
    peer = sock.getpeername()
    rep.destination = f"{peer[0]}:{peer[1]}"
    errors = Lateness()
    tried = 0  # sends tried: sent (rep.packets) or failed (rep.send_errors)
    send = sock.send
    start = clock()
    offset_ns = 0  # recorded time of the current pass's start, relative to the first pass
    first_ts: int | None = None
    pass_end = 0
    while True:
        pass_first: int | None = None
        sent_this_pass = 0
        source = iter(packets())
        # Read ahead so that parsing the source does not delay the sends it precedes,
        # never past ``max_packets`` (see the docstring).
        left = None if max_packets is None else max_packets - tried
        ahead = list(itertools.islice(source, preload if left is None else min(preload, left)))
        pending: Iterator[tuple[int, bytes]] = itertools.chain(ahead, source)
        if left is not None:  # islice stops after ``left`` without reading one more
            pending = itertools.islice(pending, left)
        for ts, payload in pending:
            if pass_first is None:
                pass_first = ts
                if first_ts is None:
                    # The clock starts with the first packet, not with opening the source.
                    first_ts = ts
                    start = clock()
            rel_ns = offset_ns + ts - pass_first
            pass_end = max(pass_end, rel_ns)
            if rate is not None:
                due = start + tried / rate
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
            tried += 1
            try:
                send(payload)
            except OSError as exc:
                rep.send_errors += 1
                if rep.first_send_error is None:
                    rep.first_send_error = exc.strerror or str(exc)
            else:
                rep.packets += 1
                rep.bytes += len(payload)
                if len(payload) >= HEADER_SIZE:
                    count = (payload[18] << 8) | payload[19]
                    if count != END_OF_SESSION_COUNT:
                        rep.messages += count
            if due is not None:
                errors.add((clock() - due) * 1e6)
            sent_this_pass += 1
            if on_packet is not None:
                on_packet(1)
        close = getattr(source, "close", None)
        if close is not None:  # a generator: what it counted (capture_payloads) is final
            close()
        if max_packets is not None and tried >= max_packets:
            break
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
    rep.timing_error_us = errors.percentiles()
    return rep
