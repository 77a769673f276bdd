"""The reciprocal that replaces the division by ``tick`` is exact over the config's ranges."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tickwire.fpga.recip import RECIP_BITS, divide, reciprocal

D_MAX = 2**32 - 1


def _edges() -> list[int]:
    out = {1, 2, 3, 7, 100, 499, D_MAX, D_MAX - 1}
    for k in range(1, 32):
        out.update({2**k - 1, 2**k, 2**k + 1})
    return sorted(t for t in out if 1 <= t <= D_MAX)


@pytest.mark.parametrize("tick", _edges())
def test_exact_on_every_power_of_two_edge(tick: int) -> None:
    m, shift = reciprocal(tick)
    assert m < 2**RECIP_BITS and 32 <= shift <= 64
    for d in {0, 1, tick - 1, tick, tick + 1, D_MAX, D_MAX - 1, D_MAX - D_MAX % tick - 1}:
        if 0 <= d <= D_MAX:
            assert divide(d, tick) == d // tick, (d, tick)


@settings(max_examples=2000, deadline=None)
@given(d=st.integers(0, D_MAX), tick=st.integers(1, D_MAX))
def test_exact_on_random_values(d: int, tick: int) -> None:
    assert divide(d, tick) == d // tick


@settings(max_examples=300, deadline=None)
@given(q=st.integers(0, D_MAX), tick=st.integers(1, D_MAX))
def test_exact_just_below_and_at_every_multiple(q: int, tick: int) -> None:
    """The worst case is d = a*tick + tick - 1 (largest remainder): check it and a*tick."""
    a = q % (D_MAX // tick + 1)
    for d in (a * tick, a * tick + tick - 1):
        if d <= D_MAX:
            assert divide(d, tick) == d // tick


@pytest.mark.parametrize("bad", [0, -1, 2**32])
def test_rejects_ticks_outside_the_config_range(bad: int) -> None:
    with pytest.raises(ValueError, match="tick must be"):
        reciprocal(bad)
