"""The kernel's statistics report (serial text) and its cycle histogram.

The kernel prints, on request and at exit::

    STATS seq=3 why=request accel=kvm frames=10 messages_scanned=... ctl_rejected=0 ...
    INST locate=13 shares=200 notional=3000000
    HIST count=2 sum=4100 min=1900 max=2200
    B i=136 n=1
    B i=137 n=1
    END seq=3

:func:`parse_report` turns those lines into a :class:`GuestReport`;
:class:`CycleHistogram` decodes the log-linear bucket indices exactly as
``kernel/kmain.c`` (``hist_index``) computes them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from tickwire.net.stats import log_bucket, log_bucket_bounds, nearest_rank
from tickwire.threshold.stats import REFUSAL_REASONS, InstrumentStats, ThresholdStats

__all__ = [
    "CycleHistogram",
    "GuestReport",
    "ReportError",
    "bucket_bounds",
    "bucket_index",
    "parse_report",
]

BUCKETS = 464


class ReportError(ValueError):
    """The serial report is incomplete or not in the kernel's format."""


def bucket_index(cycles: int) -> int:
    """The histogram bucket of a cycle count (the kernel's ``hist_index``): the project's
    log-linear scheme (:func:`tickwire.net.stats.log_bucket`) on the kernel's 32 bits."""
    return log_bucket(min(max(cycles, 0), 0xFFFFFFFF))


def bucket_bounds(index: int) -> tuple[int, int]:
    """``[low, high)`` cycle range of a bucket."""
    if not 0 <= index < BUCKETS:
        raise ValueError(f"bucket index {index} out of range 0..{BUCKETS - 1}")
    return log_bucket_bounds(index)


@dataclass(slots=True)
class CycleHistogram:
    """rdtsc cycles from descriptor-done to the TX tail write, one sample per order sent."""

    count: int = 0
    total: int = 0
    minimum: int = 0
    maximum: int = 0
    buckets: dict[int, int] = field(default_factory=dict)

    def percentile(self, p: float) -> int:
        """The ``p``-th percentile (0 < p <= 100), as the upper bound of its bucket
        clamped to the observed maximum (so the error is under one bucket width, 6.25 %)."""
        if not 0 < p <= 100:
            raise ValueError(f"percentile must be in (0, 100], got {p}")
        if self.count == 0:
            raise ValueError("empty histogram")
        rank = nearest_rank(p / 100, self.count)  # the project's definition (tickwire.net)
        seen = 0
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            if seen >= rank:
                low, high = bucket_bounds(index)
                return max(min(high - 1, self.maximum), self.minimum, low)
        return self.maximum

    @property
    def mean(self) -> float:
        """Mean cycles per sample."""
        return self.total / self.count if self.count else 0.0


@dataclass(slots=True)
class GuestReport:
    """One STATS ... END block from the kernel."""

    seq: int
    why: str
    accel: str
    counters: dict[str, int]
    instruments: dict[int, InstrumentStats]
    histogram: CycleHistogram

    def threshold_stats(self) -> ThresholdStats:
        """The contract's statistics (docs/threshold.md section 6)."""
        c = self.counters
        return ThresholdStats(
            frames=c["frames"],
            messages_scanned=c["messages_scanned"],
            triggers=c["triggers"],
            orders=c["orders"],
            suppressed=c["suppressed"],
            parse_errors=c["parse_errors"],
            refused={r: c[r] for r in REFUSAL_REASONS},
            instruments={
                k: InstrumentStats(v.shares, v.notional) for k, v in self.instruments.items()
            },
        )


def _fields(line: str, tag: str) -> dict[str, str]:
    parts = line.split()
    if not parts or parts[0] != tag:
        raise ReportError(f"expected a {tag} line, got {line!r}")
    out: dict[str, str] = {}
    for part in parts[1:]:
        key, sep, value = part.partition("=")
        if not sep:
            raise ReportError(f"malformed field {part!r} in {line!r}")
        out[key] = value
    return out


def _int(fields: dict[str, str], key: str, line: str) -> int:
    try:
        return int(fields[key])
    except (KeyError, ValueError) as exc:
        raise ReportError(f"missing or bad {key!r} in {line!r}") from exc


def parse_report(lines: Iterable[str]) -> GuestReport:
    """Parse one report, from its STATS line to its END line inclusive."""
    it = iter(lines)
    try:
        head = next(it)
    except StopIteration:
        raise ReportError("empty report") from None
    top = _fields(head, "STATS")
    seq = _int(top, "seq", head)
    counters = {k: int(v) for k, v in top.items() if k not in ("why", "accel") and v.isdigit()}
    for key in (
        "frames",
        "messages_scanned",
        "triggers",
        "orders",
        "suppressed",
        "parse_errors",
        *REFUSAL_REASONS,
    ):
        _int(top, key, head)
    instruments: dict[int, InstrumentStats] = {}
    hist = CycleHistogram()
    ended = False
    for line in it:
        tag = line.split(" ", 1)[0]
        if tag == "INST":
            f = _fields(line, "INST")
            instruments[_int(f, "locate", line)] = InstrumentStats(
                _int(f, "shares", line), _int(f, "notional", line)
            )
        elif tag == "HIST":
            f = _fields(line, "HIST")
            hist.count = _int(f, "count", line)
            hist.total = _int(f, "sum", line)
            hist.minimum = _int(f, "min", line)
            hist.maximum = _int(f, "max", line)
        elif tag == "B":
            f = _fields(line, "B")
            hist.buckets[_int(f, "i", line)] = _int(f, "n", line)
        elif tag == "END":
            f = _fields(line, "END")
            if _int(f, "seq", line) != seq:
                raise ReportError(f"END seq does not match STATS seq {seq}: {line!r}")
            ended = True
            break
        else:
            raise ReportError(f"unexpected line in a report: {line!r}")
    if not ended:
        raise ReportError(f"report {seq} has no END line")
    if sum(hist.buckets.values()) != hist.count:
        raise ReportError(f"report {seq}: histogram buckets do not add up to count {hist.count}")
    return GuestReport(seq, top.get("why", ""), top.get("accel", ""), counters, instruments, hist)
