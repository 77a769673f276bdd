"""percentiles(): the project's one definition (nearest rank), one set of keys."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tickwire.net.stats import QUANTILES, nearest_rank, percentiles


def test_nearest_rank_values_and_keys() -> None:
    p = percentiles(list(range(1, 1001)))
    assert p == {
        "count": 1000,
        "p50": 500,
        "p99": 990,
        "p99_9": 999,
        "max": 1000,
        "tail_ratio": round(999 / 500, 3),
    }
    assert percentiles([]) == {
        "count": 0,
        "p50": None,
        "p99": None,
        "p99_9": None,
        "max": None,
        "tail_ratio": None,
    }
    assert percentiles([0, 0, 5])["tail_ratio"] is None  # P50 of 0: no ratio
    assert percentiles([2.5, 1.5])["p50"] == 1.5  # floats too (replay's microseconds)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 10**9), min_size=1, max_size=3000))
def test_every_percentile_is_a_measured_value_of_nearest_rank(values: list[int]) -> None:
    """The smallest value with at least ``ceil(q * n)`` values at or below it."""
    p = percentiles(values)
    ordered = sorted(values)
    n = len(values)
    for key, q in QUANTILES.items():
        v = p[key]  # type: ignore[literal-required]
        assert v in values
        assert sum(x <= v for x in values) >= math.ceil(q * n - 1e-9)
        assert sum(x < v for x in values) < math.ceil(q * n - 1e-9)
    assert p["max"] == ordered[-1] and p["count"] == n


def test_nearest_rank_edges() -> None:
    assert nearest_rank(0.999, 1000) == 999  # 0.999 * 1000 is 998.9999999999999 in floats
    assert nearest_rank(0.5, 1) == nearest_rank(0.999, 1) == 1
    assert nearest_rank(1.0, 7) == 7
    for bad_q, n in ((0.0, 5), (1.5, 5), (0.5, 0)):
        with pytest.raises(ValueError):
            nearest_rank(bad_q, n)
