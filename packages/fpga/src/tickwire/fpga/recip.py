"""Division by ``tick`` as a multiply and a shift, with the reciprocal computed by the host.

The quantity formula of ``docs/threshold.md`` section 4 needs ``d // tick`` where
``d = limit_price - price`` and both ``d`` and ``tick`` are below 2**32. A divider in
the decision pipeline would cost 32 cycles (iterative) or 32 pipeline stages; instead the
control plane writes, per instrument, ``m = ceil(2**s / tick)`` with ``s = 32 + l`` and
``l = ceil(log2(tick))``, and the core computes ``(d * m) >> s``: one 32 x 34 multiply.

Why it is exact for every ``d < 2**32`` and every ``tick`` in 1 .. 2**32 - 1 (the
config's ranges): write ``m * tick = 2**s + e`` with ``0 <= e < tick``. Then
``d * m / 2**s = d / tick + d * e / (tick * 2**s)`` and the error term is below
``2**32 * tick / (tick * 2**(32 + l)) = 2**-l <= 1 / tick`` (as ``tick <= 2**l``).
Writing ``d = a * tick + r`` with ``r <= tick - 1``, ``d / tick + error`` is below
``a + (tick - 1) / tick + 1 / tick = a + 1``, so its floor is ``a = d // tick``.
``m <= 2**33`` (as ``tick > 2**(l - 1)``), so it fits in 34 bits, and ``s`` in 32 .. 64.
``tests/test_fpga_recip.py`` checks the identity on every power-of-two edge and on
hypothesis samples over the whole ranges.
"""

from __future__ import annotations

__all__ = ["RECIP_BITS", "divide", "reciprocal"]

RECIP_BITS = 34


def reciprocal(tick: int) -> tuple[int, int]:
    """``(m, s)`` such that ``(d * m) >> s == d // tick`` for every ``0 <= d < 2**32``."""
    if not 1 <= tick < 1 << 32:
        raise ValueError(f"tick must be in 1 .. 2**32 - 1, got {tick}")
    shift = 32 + (tick - 1).bit_length()
    m = -(-(1 << shift) // tick)
    return m, shift


def divide(d: int, tick: int) -> int:
    """``d // tick`` the way the core computes it (for tests and documentation)."""
    m, shift = reciprocal(tick)
    return (d * m) >> shift
