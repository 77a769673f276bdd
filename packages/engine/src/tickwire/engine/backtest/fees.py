"""Exchange fees and rebates by liquidity flag: a NASDAQ-style per-share schedule.

NASDAQ charges the side that *removes* liquidity (OUCH liquidity flag ``R``: our order
executed on arrival against displayed orders) and pays a rebate to the side that *added*
it (flag ``A``: our resting order was executed by someone else's). The ``[fees]`` table of
a backtest config gives both as Price(4) units per share (``30`` is $0.0030 a share), a
positive number a fee we pay and a negative one a rebate we receive::

    [fees]
    remove_per_share = 30    # $0.0030 per share taken
    add_per_share = -20      # a $0.0020 per share rebate for liquidity added

A fill of ``q`` shares costs ``q * per_share`` in the report's ``..._e4`` money units
(Price(4) x shares), so fees stay exact integers that reconcile with the fills. The
default schedule is all zeros: no fees, and a report identical to one made without
the table. A flag the schedule does not know costs nothing and is counted
(``fees.unknown_flag_fills`` in the report), never silently charged as one of the two.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tickwire.threshold.config import ConfigError

__all__ = ["MAX_PER_SHARE", "FeeSchedule"]

#: The largest fee or rebate accepted, in Price(4) units per share ($1.00 a share): a
#: bound that catches a schedule written in dollars times 10,000 twice.
MAX_PER_SHARE = 10_000


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """Per-share fee (positive) or rebate (negative) in Price(4) units, by liquidity flag."""

    remove_per_share: int = 0  # flag R: we took displayed liquidity
    add_per_share: int = 0  # flag A: our resting order was executed

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> FeeSchedule:
        """Build from the ``[fees]`` TOML table; a :class:`ConfigError` names the key."""
        known = sorted(cls.__dataclass_fields__)
        for key, value in data.items():
            if key not in known:
                raise ConfigError(f"fees.{key}", f"unknown key (known: {', '.join(known)})")
            if not isinstance(value, int) or isinstance(value, bool):
                raise ConfigError(
                    f"fees.{key}",
                    f"must be an integer (Price(4) units per share), got "
                    f"{type(value).__name__} {value!r}",
                )
            if not -MAX_PER_SHARE <= value <= MAX_PER_SHARE:
                raise ConfigError(
                    f"fees.{key}",
                    f"must be between {-MAX_PER_SHARE} and {MAX_PER_SHARE}, got {value}",
                )
        return cls(**dict(data))

    @property
    def is_free(self) -> bool:
        """True for the default schedule (nothing charged, nothing paid)."""
        return self.remove_per_share == 0 and self.add_per_share == 0

    def fee(self, liquidity_flag: str, quantity: int) -> int | None:
        """What a fill of ``quantity`` shares with ``liquidity_flag`` costs (negative: a
        rebate), in Price(4) x shares units; None for a flag the schedule does not know."""
        if liquidity_flag == "R":
            return quantity * self.remove_per_share
        if liquidity_flag == "A":
            return quantity * self.add_per_share
        return None

    def as_dict(self) -> dict[str, int]:
        """The schedule as the report's ``config.fees`` shows it."""
        return {"remove_per_share": self.remove_per_share, "add_per_share": self.add_per_share}
