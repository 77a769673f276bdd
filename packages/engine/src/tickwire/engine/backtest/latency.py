"""Latency models for the feed and for order entry, in integer nanoseconds.

A model is anything with ``sample() -> int`` (non-negative ns). Random models draw from
their own seeded ``random.Random``, so a backtest with a given seed is deterministic.
Specs are short strings, used by the CLI and the config file:

* ``"constant:20000"`` (or just ``"20000"``): always 20 us;
* ``"uniform:10000,50000"``: uniform integer in [10 us, 50 us];
* ``"normal:20000,3000"``: normal(mean, sd) clipped at 0;
* ``"lognormal:20000,0.5"``: median 20 us, sigma 0.5 of the log (a realistic long tail).

Every parameter is bounded when the model is made, and every draw is clipped into
``0..MAX_LATENCY_NS`` (one day): times, a parameter above a day, and a sigma that is not
a finite number are refused (:class:`LatencySpecError`, a configuration error naming the
key). Why: ``constant:10**23``, ``normal:20000,10**23``, ``lognormal:20000,99`` and
``lognormal:20000,inf`` were accepted and failed mid-run with an ``OverflowError`` the
backtest command blamed on ``backtest.first_user_ref_num``; ``lognormal:20000,nan``
with "cannot convert float NaN to integer", exit 1. A latency beyond a day means the
message never arrives in the day, so clipping a draw there changes no result; the draws
below it are the same numbers from the same seeds as before (the lognormal's is
``exp`` of the same normal variate). Test: ``test_engine_latency.py``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Protocol

__all__ = [
    "MAX_LATENCY_NS",
    "ConstantLatency",
    "LatencyModel",
    "LatencySpecError",
    "LogNormalLatency",
    "NormalLatency",
    "UniformLatency",
    "parse_latency",
]


#: The largest latency a model gives: one day in ns (longer never arrives in the day).
MAX_LATENCY_NS = 86_400 * 10**9
_LOG_MAX = math.log(MAX_LATENCY_NS)


class LatencySpecError(ValueError):
    """A latency spec string that cannot be parsed, or parameters out of range."""


def _check_ns(what: str, *values: int) -> None:
    """Refuse a parameter in ns above :data:`MAX_LATENCY_NS` (negatives are each model's)."""
    for value in values:
        if value > MAX_LATENCY_NS:
            raise LatencySpecError(
                f"{what} latency {value} ns is more than a day ({MAX_LATENCY_NS} ns)"
            )


class LatencyModel(Protocol):
    """Draws one latency in nanoseconds (>= 0)."""

    def sample(self) -> int: ...

    def describe(self) -> str: ...


@dataclass(slots=True)
class ConstantLatency:
    ns: int

    def __post_init__(self) -> None:
        if self.ns < 0:
            raise LatencySpecError(f"latency must be >= 0 ns, got {self.ns}")
        _check_ns("constant", self.ns)

    def sample(self) -> int:
        return self.ns

    def describe(self) -> str:
        return f"constant:{self.ns}"


@dataclass(slots=True)
class UniformLatency:
    low: int
    high: int
    seed: int = 0
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0 <= self.low <= self.high:
            raise LatencySpecError(
                f"uniform latency needs 0 <= low <= high, got {self.low},{self.high}"
            )
        _check_ns("uniform", self.high)
        self._rng = random.Random(self.seed)

    def sample(self) -> int:
        return self._rng.randint(self.low, self.high)

    def describe(self) -> str:
        return f"uniform:{self.low},{self.high}"


@dataclass(slots=True)
class NormalLatency:
    mean: int
    sd: int
    seed: int = 0
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.mean < 0 or self.sd < 0:
            raise LatencySpecError(f"normal latency needs mean, sd >= 0, got {self.mean},{self.sd}")
        _check_ns("normal", self.mean, self.sd)
        self._rng = random.Random(self.seed)

    def sample(self) -> int:
        return min(MAX_LATENCY_NS, max(0, round(self._rng.gauss(self.mean, self.sd))))

    def describe(self) -> str:
        return f"normal:{self.mean},{self.sd}"


@dataclass(slots=True)
class LogNormalLatency:
    median: int
    sigma: float
    seed: int = 0
    _rng: random.Random = field(init=False, repr=False)
    _mu: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.median <= 0 or not (math.isfinite(self.sigma) and self.sigma >= 0):
            raise LatencySpecError(
                "lognormal latency needs median > 0 and a finite sigma >= 0, "
                f"got {self.median},{self.sigma}"
            )
        _check_ns("lognormal", self.median)
        self._mu = math.log(self.median)
        self._rng = random.Random(self.seed)

    def sample(self) -> int:
        # random.lognormvariate is exp(normalvariate(mu, sigma)): the same draw, with the
        # exponent clipped first (exp overflows past about 709).
        x = self._rng.normalvariate(self._mu, self.sigma)
        return round(math.exp(x)) if x < _LOG_MAX else MAX_LATENCY_NS

    def describe(self) -> str:
        return f"lognormal:{self.median},{self.sigma}"


def parse_latency(spec: str | int, seed: int = 0) -> LatencyModel:
    """Build a model from a spec string (see the module docstring)."""
    if isinstance(spec, int) and not isinstance(spec, bool):
        return ConstantLatency(spec)
    if not isinstance(spec, str):
        raise LatencySpecError(f"latency spec must be a string or an int, got {spec!r}")
    kind, _, rest = spec.strip().partition(":")
    if not rest:
        kind, rest = "constant", kind
    try:
        args = [a.strip() for a in rest.split(",")]
        if kind == "constant" and len(args) == 1:
            return ConstantLatency(int(args[0]))
        if kind == "uniform" and len(args) == 2:
            return UniformLatency(int(args[0]), int(args[1]), seed)
        if kind == "normal" and len(args) == 2:
            return NormalLatency(int(args[0]), int(args[1]), seed)
        if kind == "lognormal" and len(args) == 2:
            return LogNormalLatency(int(args[0]), float(args[1]), seed)
    except ValueError as exc:
        if isinstance(exc, LatencySpecError):
            raise
        raise LatencySpecError(f"bad latency spec {spec!r}: {exc}") from None
    raise LatencySpecError(
        f"bad latency spec {spec!r}: expected constant:NS, uniform:LO,HI, normal:MEAN,SD "
        "or lognormal:MEDIAN,SIGMA (nanoseconds)"
    )
