"""Exchange fees and rebates by liquidity flag: a NASDAQ-style per-share schedule.

NASDAQ charges the side that *removes* liquidity (OUCH liquidity flag ``R``: our order
executed on arrival against displayed orders) and pays a rebate to the side that *added*
it (flag ``A``: our resting order was executed by someone else's). A resting hidden order
(Display ``N``) that is executed adds liquidity too, with its own flag ``J``
("Non-displayed adding liquidity", OUCH 5.0 Appendix E) and its own price. The ``[fees]``
table of a backtest config gives the three as Price(4) units per share (``30`` is
$0.0030 a share), a positive number a fee we pay and a negative one a rebate we receive::

    [fees]
    remove_per_share = 30         # $0.0030 per share taken
    add_per_share = -20           # a $0.0020 per share rebate for liquidity added
    add_hidden_per_share = 0      # hidden liquidity added: no rebate

``add_hidden_per_share`` defaults to 0, as every key does, and not to ``add_per_share``:
NASDAQ's rebate is paid for *displayed* liquidity and a non-displayed add earns a smaller
one or none, so inheriting the displayed rebate would overstate a hidden strategy's PnL by
a payment the user never configured; 0 charges and pays nothing the table does not say.
Both venues and the simulated exchange flag a hidden order's passive fills ``J``
(:func:`tickwire.engine.backtest.venue.liquidity_flag`); both ``A`` and ``J`` are maker
fills (:data:`MAKER_FLAGS`: the report's passive shares and fills, the HTML report's
passive markers), ``R`` the taker's (:data:`TAKER_FLAGS`).

A fill of ``q`` shares costs ``q * per_share`` in the report's ``..._e4`` money units
(Price(4) x shares), so fees stay exact integers that reconcile with the fills. The
default schedule is all zeros: no fees, and a report identical to one made without
the table. A flag the schedule does not know costs nothing and is counted
(``fees.unknown_flag_fills`` in the report), never silently charged as one of the two.

:class:`FeeLedger` applies a schedule fill by fill and keeps the totals. It is the one
place fees are charged: the backtest charges each simulated fill at exchange time, the
backtest report replays the result's fills through one to get its ``fees`` table, and
the live engine (``[fees]`` of ``live --config``, ``LiveConfig.fees``) charges each
execution the venue reports, for its session report and dashboard. Both therefore show
the same fees for the same fills (tested: ``test_engine_fees_shared.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from tickwire.ouch.v50 import LiquidityFlag
from tickwire.threshold.schema import Int, check_fields, from_table, setting

__all__ = ["MAKER_FLAGS", "MAX_PER_SHARE", "TAKER_FLAGS", "FeeLedger", "FeeSchedule"]

_ADDED = LiquidityFlag.ADDED.value
_ADDED_HIDDEN = LiquidityFlag.ADDED_HIDDEN.value
_REMOVED = LiquidityFlag.REMOVED.value

#: The liquidity flags of a maker (passive) fill, our resting order executed: ``A``
#: displayed, ``J`` hidden. The backtest report's and statistics' passive counts and the
#: HTML report's passive markers read this one set.
MAKER_FLAGS = frozenset({_ADDED, _ADDED_HIDDEN})
#: The liquidity flags of a taker (aggressive) fill: ``R``, our order executed on arrival.
TAKER_FLAGS = frozenset({_REMOVED})

#: The largest fee or rebate accepted, in Price(4) units per share ($1.00 a share): a
#: bound that catches a schedule written in dollars times 10,000 twice.
MAX_PER_SHARE = 10_000


_PER_SHARE = Int(-MAX_PER_SHARE, MAX_PER_SHARE)


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """Per-share fee (positive) or rebate (negative) in Price(4) units, by liquidity flag
    (``[fees]`` of the config file; the keys are declared with
    :mod:`tickwire.threshold.schema`)."""

    remove_per_share: int = setting(
        _PER_SHARE, 0, doc="flag R (we took displayed liquidity), Price(4) per share"
    )
    add_per_share: int = setting(
        _PER_SHARE, 0, doc="flag A (our resting order executed); negative: a rebate"
    )
    add_hidden_per_share: int = setting(
        _PER_SHARE,
        0,
        doc="flag J (our resting hidden order, Display N, executed); negative: a rebate",
    )

    def __post_init__(self) -> None:
        check_fields(self)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> FeeSchedule:
        """Build from the ``[fees]`` TOML table; a :class:`ConfigError` names the key."""
        return from_table(cls, data, "fees")

    @property
    def is_free(self) -> bool:
        """True for the default schedule (nothing charged, nothing paid)."""
        return self.remove_per_share == self.add_per_share == self.add_hidden_per_share == 0

    def fee(self, liquidity_flag: str, quantity: int) -> int | None:
        """What a fill of ``quantity`` shares with ``liquidity_flag`` costs (negative: a
        rebate), in Price(4) x shares units; None for a flag the schedule does not know."""
        if liquidity_flag == _REMOVED:
            return quantity * self.remove_per_share
        if liquidity_flag == _ADDED:
            return quantity * self.add_per_share
        if liquidity_flag == _ADDED_HIDDEN:
            return quantity * self.add_hidden_per_share
        return None

    def as_dict(self) -> dict[str, int]:
        """The schedule as the report's ``config.fees`` shows it."""
        return {
            "remove_per_share": self.remove_per_share,
            "add_per_share": self.add_per_share,
            "add_hidden_per_share": self.add_hidden_per_share,
        }


class _FillLike(Protocol):
    """What :meth:`FeeLedger.replay` reads of a fill (a backtest's ``Fill``)."""

    @property
    def symbol(self) -> str: ...

    @property
    def liquidity_flag(self) -> str: ...

    @property
    def quantity(self) -> int: ...


@dataclass(slots=True)
class FeeLedger:
    """What ``schedule`` charged, fill by fill, in Price(4) x shares units.

    ``by_symbol`` and :attr:`total` are net (fees paid less rebates received),
    ``removed`` (flag ``R``) and ``added`` (the maker flags ``A`` and ``J``) split them by
    liquidity flag, and ``unknown_flag_fills``
    counts the fills charged nothing because the schedule does not price their flag.
    """

    schedule: FeeSchedule = field(default_factory=FeeSchedule)
    by_symbol: dict[str, int] = field(default_factory=dict)
    removed: int = 0
    added: int = 0
    unknown_flag_fills: int = 0

    @property
    def total(self) -> int:
        """Every fee charged less every rebate paid."""
        return self.removed + self.added

    def charge(self, symbol: str, liquidity_flag: str, quantity: int) -> int:
        """Charge one fill; returns its fee (negative: a rebate; 0 for an unknown flag,
        which is counted in ``unknown_flag_fills``)."""
        fee = self.schedule.fee(liquidity_flag, quantity)
        if fee is None:
            self.unknown_flag_fills += 1
            return 0
        self.by_symbol[symbol] = self.by_symbol.get(symbol, 0) + fee
        if liquidity_flag == _REMOVED:
            self.removed += fee
        else:
            self.added += fee
        return fee

    @classmethod
    def replay(cls, schedule: FeeSchedule, fills: Iterable[_FillLike]) -> FeeLedger:
        """A ledger that charged ``fills`` in order."""
        ledger = cls(schedule)
        for f in fills:
            ledger.charge(f.symbol, f.liquidity_flag, f.quantity)
        return ledger

    def as_dict(self) -> dict[str, Any]:
        """The ``fees`` table of the backtest report and of the live session report."""
        return {
            "schedule": self.schedule.as_dict(),
            "total_e4": self.total,
            "removed_e4": self.removed,
            "added_e4": self.added,
            "unknown_flag_fills": self.unknown_flag_fills,
        }
