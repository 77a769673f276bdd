"""Latency percentiles, once, for every report of the project.

The definition is the **nearest rank** (the one the backtest report has always used): with
``n`` values sorted ascending, the ``q``-quantile is the value of rank ``ceil(q * n)``
(1-based, at least 1). It is always a value that was measured, never an interpolation, and
``P100`` is the maximum. :func:`percentiles` reports P50, P99, P99.9, the maximum and the
tail ratio P99.9 / P50 under one set of keys, so backtest, live, replay and bare-metal
latencies can be compared side by side:

``count``, ``p50``, ``p99``, ``p99_9``, ``max``, ``tail_ratio``

With no values every key but ``count`` is ``None``; the tail ratio is ``None`` when P50 is
not positive.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypedDict, TypeVar

__all__ = [
    "QUANTILES",
    "Percentiles",
    "log_bucket",
    "log_bucket_bounds",
    "nearest_rank",
    "percentiles",
]

#: The quantiles :func:`percentiles` reports, by key.
QUANTILES = {"p50": 0.50, "p99": 0.99, "p99_9": 0.999}

_N = TypeVar("_N", int, float)


class Percentiles(TypedDict):
    """What :func:`percentiles` returns."""

    count: int
    p50: float | None
    p99: float | None
    p99_9: float | None
    max: float | None
    tail_ratio: float | None


def nearest_rank(q: float, n: int) -> int:
    """The 1-based rank of the ``q``-quantile (0 < q <= 1) of ``n`` values: ``ceil(q * n)``.

    ``q * n`` is rounded to 9 decimals first, so a float product such as
    ``0.999 * 1000 = 998.9999999999999`` still names rank 999.
    """
    if not 0 < q <= 1:
        raise ValueError(f"quantile must be in (0, 1], got {q}")
    if n <= 0:
        raise ValueError(f"no rank in {n} values")
    return max(1, math.ceil(round(q * n, 9)))


def percentiles(values: Sequence[_N], *, ordered: bool = False) -> Percentiles:
    """Nearest-rank P50, P99, P99.9, max and the tail ratio (P99.9 / P50) of ``values``.

    ``ordered=True``: ``values`` are already in ascending order and are read only at the
    ranks and at ``[-1]`` (so a view over values kept on disk, such as a backtest's
    spilled latency samples, is given without being loaded or copied).

    >>> p = percentiles(range(1, 1001))
    >>> p["p50"], p["p99"], p["p99_9"], p["max"], p["tail_ratio"]
    (500, 990, 999, 1000, 1.998)
    """
    n = len(values)
    if n == 0:
        return Percentiles(count=0, p50=None, p99=None, p99_9=None, max=None, tail_ratio=None)
    ranked = values if ordered else sorted(values)
    p50, p99, p999 = (ranked[nearest_rank(q, n) - 1] for q in QUANTILES.values())
    return Percentiles(
        count=n,
        p50=p50,
        p99=p99,
        p99_9=p999,
        max=ranked[-1],
        tail_ratio=round(p999 / p50, 3) if p50 > 0 else None,
    )


def log_bucket(value: int) -> int:
    """The log-linear histogram bucket of ``value`` >= 0: one bucket a value below 16,
    then 16 buckets per power of two (each at most 1/16, 6.25 %, of its values wide).

    The one scheme of the project's histograms: the bare-metal kernel's cycle histogram
    (``hist_index`` in its C, decoded by ``tickwire.baremetal.stats.bucket_index``, which
    clamps to the kernel's 32 bits) and ``tickwire.moldudp64.replay.Lateness`` (send-time
    errors in constant memory).

    >>> [log_bucket(v) for v in (0, 15, 16, 17, 31, 32, 34)]
    [0, 15, 16, 17, 31, 32, 33]
    """
    if value < 16:
        return value
    msb = value.bit_length() - 1
    return 16 + (msb - 4) * 16 + ((value >> (msb - 4)) & 0xF)


def log_bucket_bounds(index: int) -> tuple[int, int]:
    """``[low, high)``: the values of :func:`log_bucket` bucket ``index`` >= 0.

    >>> log_bucket_bounds(15), log_bucket_bounds(32), log_bucket_bounds(33)
    ((15, 16), (32, 34), (34, 36))
    """
    if index < 16:
        return index, index + 1
    msb = (index - 16) // 16 + 4
    width = 1 << (msb - 4)
    low = (1 << msb) | (((index - 16) % 16) << (msb - 4))
    return low, low + width
