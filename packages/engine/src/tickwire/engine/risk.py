"""In-process pre-trade risk: every order passes these checks before it leaves.

The :class:`RiskEngine` sits between a strategy's order manager and the venue (live or
simulated). It keeps its own, minimal view of the state the limits need (open orders,
positions, cash, reference prices, recent send times) so that it can be reasoned about
and tested on its own: the order manager tells it what was sent, what filled and what
finished; it answers :meth:`RiskEngine.check` with ``None`` (the order may leave) or a
:class:`RiskRefusal` carrying a :class:`RiskReason` code.

Checks, in the order they are evaluated (the first failing one is reported):

==================  ================================================================
reason              refuses a new order (or a replace) when
==================  ================================================================
``invalid``         quantity < 1 or > 999,999 (OUCH 5.0), or price < 1
``kill_switch``     the kill switch is engaged (cancels are always allowed)
``restricted``      the symbol is on the restricted list
``max_order_qty``   quantity > ``max_order_qty``
``max_notional``    quantity x price > ``max_order_notional``
``price_collar``    |price - reference| x 10,000 > ``price_collar_bps`` x reference,
                    or no reference price is known yet for the symbol
``max_position``    the worst-case position if every open order on that side filled,
                    plus this one, would exceed ``max_position`` (per symbol override
                    in ``position_limits``) in absolute value
``credit_limit``    executed notional (both sides) + open orders' notional + this
                    order's notional > ``credit_limit``
``daily_loss``      realised + unrealised PnL (marked at the reference price)
                    <= -``daily_loss_limit``
``max_open_orders`` the number of live orders >= ``max_open_orders``
``duplicate``       an order with the same symbol, side, quantity and price was sent
                    within the last ``duplicate_window_ns``
``throttle``        ``throttle_orders`` orders were already sent within the last
                    ``throttle_window_ns`` (a sliding window)
==================  ================================================================

A replace is checked as the order it would become: the old order's open quantity is
taken out of the exposure figures first. Refused orders do not count towards the
throttle, the duplicate window or any exposure. Every refusal is counted by reason
(:attr:`RiskEngine.refusals`).

Money is integer: prices in Price(4) units, notional and PnL in Price(4) x shares
(1 unit = $0.0001), like the rest of the engine. No floats.
"""

from __future__ import annotations

import tomllib
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

__all__ = [
    "MAX_OUCH_QUANTITY",
    "Ledger",
    "RiskConfigError",
    "RiskEngine",
    "RiskLimits",
    "RiskReason",
    "RiskRefusal",
    "load_risk_limits",
    "parse_risk_limits",
]

#: OUCH 5.0: "Must be greater than zero and less than 1,000,000".
MAX_OUCH_QUANTITY = 999_999


class RiskReason(StrEnum):
    """Why the risk engine refused an order (a stable code, used in reports)."""

    INVALID = "invalid"
    KILL_SWITCH = "kill_switch"
    RESTRICTED = "restricted"
    MAX_ORDER_QTY = "max_order_qty"
    MAX_NOTIONAL = "max_notional"
    PRICE_COLLAR = "price_collar"
    MAX_POSITION = "max_position"
    CREDIT_LIMIT = "credit_limit"
    DAILY_LOSS = "daily_loss"
    MAX_OPEN_ORDERS = "max_open_orders"
    DUPLICATE = "duplicate"
    THROTTLE = "throttle"


@dataclass(frozen=True, slots=True)
class RiskRefusal:
    """A refused order: the reason code and a human-readable detail."""

    reason: RiskReason
    detail: str


class RiskConfigError(ValueError):
    """An invalid risk configuration; the message starts with the offending key."""

    def __init__(self, key: str, reason: str) -> None:
        self.key = key
        self.reason = reason
        super().__init__(f"{key}: {reason}")


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """The configured limits; ``None`` disables a check.

    Validated on construction (raises :class:`RiskConfigError`).
    """

    armed: bool = True
    max_order_qty: int | None = None
    max_order_notional: int | None = None
    credit_limit: int | None = None
    max_position: int | None = None
    position_limits: Mapping[str, int] = field(default_factory=dict)
    daily_loss_limit: int | None = None
    price_collar_bps: int | None = None
    restricted: frozenset[str] = frozenset()
    duplicate_window_ns: int | None = None
    throttle_orders: int | None = None
    throttle_window_ns: int | None = None
    max_open_orders: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.armed, bool):
            raise RiskConfigError("armed", f"must be a boolean, got {self.armed!r}")
        for name in (
            "max_order_qty",
            "max_order_notional",
            "credit_limit",
            "max_position",
            "daily_loss_limit",
            "price_collar_bps",
            "duplicate_window_ns",
            "throttle_orders",
            "throttle_window_ns",
            "max_open_orders",
        ):
            _check_limit(name, getattr(self, name))
        for symbol, limit in self.position_limits.items():
            _check_symbol(f"position_limits.{symbol}", symbol)
            _check_limit(f"position_limits.{symbol}", limit)
        for i, symbol in enumerate(sorted(self.restricted)):
            _check_symbol(f"restricted[{i}]", symbol)
        if (self.throttle_orders is None) != (self.throttle_window_ns is None):
            raise RiskConfigError(
                "throttle_orders",
                "throttle_orders and throttle_window_ns must be set together",
            )
        if self.throttle_window_ns == 0:
            raise RiskConfigError("throttle_window_ns", "must be >= 1, got 0")

    def position_limit(self, symbol: str) -> int | None:
        """The max absolute position for ``symbol`` (its override, else the default)."""
        return self.position_limits.get(symbol, self.max_position)


def _check_limit(key: str, value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise RiskConfigError(key, f"must be an integer, got {value!r}")
    if value < 0:
        raise RiskConfigError(key, f"must be >= 0, got {value}")
    if value >= 2**62:
        raise RiskConfigError(key, f"must be < 2**62, got {value}")


def _check_symbol(key: str, symbol: object) -> None:
    if (
        not isinstance(symbol, str)
        or not 1 <= len(symbol) <= 8
        or not all(0x21 <= ord(c) <= 0x7E for c in symbol)
    ):
        raise RiskConfigError(
            key, f"must be a symbol of 1 to 8 printable characters, got {symbol!r}"
        )


_INT_KEYS = (
    "max_order_qty",
    "max_order_notional",
    "credit_limit",
    "max_position",
    "daily_loss_limit",
    "price_collar_bps",
    "duplicate_window_ns",
    "throttle_orders",
    "throttle_window_ns",
    "max_open_orders",
)


def parse_risk_limits(data: Mapping[str, Any], prefix: str = "risk") -> RiskLimits:
    """Build :class:`RiskLimits` from a parsed TOML table, with strict validation.

    Unknown keys are errors: a typo such as ``max_positon`` must never silently drop a
    limit. Error messages start with ``prefix.key``.
    """
    known = {"armed", "position_limits", "restricted", *_INT_KEYS}
    for key in data:
        if key not in known:
            raise RiskConfigError(
                f"{prefix}.{key}", f"unknown key (known: {', '.join(sorted(known))})"
            )
    kwargs: dict[str, Any] = {}
    if "armed" in data:
        if not isinstance(data["armed"], bool):
            raise RiskConfigError(f"{prefix}.armed", f"must be a boolean, got {data['armed']!r}")
        kwargs["armed"] = data["armed"]
    for key in _INT_KEYS:
        if key in data:
            try:
                _check_limit(key, data[key])
            except RiskConfigError as exc:
                raise RiskConfigError(f"{prefix}.{key}", exc.reason) from None
            kwargs[key] = data[key]
    if "position_limits" in data:
        table = data["position_limits"]
        if not isinstance(table, Mapping):
            raise RiskConfigError(f"{prefix}.position_limits", "must be a table of symbol = shares")
        limits: dict[str, int] = {}
        for symbol, value in table.items():
            try:
                _check_symbol(symbol, symbol)
                _check_limit(symbol, value)
            except RiskConfigError as exc:
                raise RiskConfigError(f"{prefix}.position_limits.{symbol}", exc.reason) from None
            limits[symbol] = value
        kwargs["position_limits"] = limits
    if "restricted" in data:
        items = data["restricted"]
        if not isinstance(items, list):
            raise RiskConfigError(f"{prefix}.restricted", "must be a list of symbols")
        for i, symbol in enumerate(items):
            try:
                _check_symbol(str(i), symbol)
            except RiskConfigError as exc:
                raise RiskConfigError(f"{prefix}.restricted[{i}]", exc.reason) from None
        kwargs["restricted"] = frozenset(items)
    try:
        return RiskLimits(**kwargs)
    except RiskConfigError as exc:
        if exc.key.startswith(prefix + "."):
            raise
        raise RiskConfigError(f"{prefix}.{exc.key}", exc.reason) from None


def load_risk_limits(path: str | Path) -> RiskLimits:
    """Load the ``[risk]`` table of a TOML file (the whole file if it has none)."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise RiskConfigError(str(path), f"not valid TOML: {exc}") from None
    table = data.get("risk", data)
    if not isinstance(table, dict):
        raise RiskConfigError("risk", "must be a table")
    return parse_risk_limits(table)


class Ledger:
    """Positions, cash and PnL from fills, with average-cost realised PnL.

    Integer money: ``cash`` and PnL are Price(4) x shares. ``realised`` is computed with
    the average cost of the open position; ``cash + position x mark`` always equals
    ``realised + unrealised`` (tested), which is how the backtest's PnL reconciles
    with its fills.
    """

    __slots__ = ("_avg_cost", "cash", "executed_notional", "marks", "positions", "realised")

    def __init__(self) -> None:
        self.positions: dict[str, int] = {}
        self.cash: dict[str, int] = {}
        self.realised: dict[str, int] = {}
        self._avg_cost: dict[str, tuple[int, int]] = {}  # symbol -> (cost numerator, shares)
        self.marks: dict[str, int] = {}
        self.executed_notional = 0

    def fill(self, symbol: str, side: str, quantity: int, price: int) -> None:
        """Book a fill: ``side`` "B" buys, anything else ("S", "T", "E") sells."""
        signed = quantity if side == "B" else -quantity
        pos = self.positions.get(symbol, 0)
        self.cash[symbol] = self.cash.get(symbol, 0) - signed * price
        self.executed_notional += quantity * price
        cost, _ = self._avg_cost.get(symbol, (0, 0))
        # ``cost`` is the total entry cost of the open position (signed like it).
        new_pos = pos + signed
        if pos == 0 or (pos > 0) == (signed > 0):
            cost += signed * price
        else:
            closing = min(abs(signed), abs(pos))
            # Realise against the average entry price of the part being closed.
            entry = cost * closing // abs(pos) if pos > 0 else -((-cost) * closing // abs(pos))
            sign = 1 if pos > 0 else -1
            exit_value = sign * closing * price
            self.realised[symbol] = self.realised.get(symbol, 0) + exit_value - entry
            cost -= entry
            if abs(signed) > abs(pos):  # flipped: the rest opens a new position
                cost = new_pos * price
        if new_pos == 0:
            cost = 0
        self._avg_cost[symbol] = (cost, new_pos)
        self.positions[symbol] = new_pos

    def mark(self, symbol: str, price: int) -> None:
        """Set the price unrealised PnL is measured at."""
        self.marks[symbol] = price

    def unrealised(self, symbol: str) -> int:
        """Open position x mark - its entry cost (0 when flat or unmarked)."""
        pos = self.positions.get(symbol, 0)
        if pos == 0 or symbol not in self.marks:
            return 0
        cost, _ = self._avg_cost[symbol]
        return pos * self.marks[symbol] - cost

    def pnl(self, symbol: str) -> int:
        """Total PnL of one symbol: ``cash + position x mark`` (equals realised + unrealised)."""
        return self.realised.get(symbol, 0) + self.unrealised(symbol)

    def total_pnl(self) -> int:
        """Realised plus unrealised PnL over every symbol."""
        return sum(self.realised.values()) + sum(self.unrealised(s) for s in self.positions)


@dataclass(slots=True)
class _Open:
    symbol: str
    side: str
    remaining: int
    price: int


class RiskEngine:
    """Stateful pre-trade checks (see the module docstring for every rule)."""

    def __init__(self, limits: RiskLimits, ledger: Ledger | None = None) -> None:
        self.limits = limits
        self.ledger = ledger if ledger is not None else Ledger()
        self.armed = limits.armed
        self.refusals: Counter[str] = Counter()
        self.accepted = 0
        self._open: dict[int, _Open] = {}
        self._open_notional = 0
        self._sent_times: deque[int] = deque()
        self._recent: deque[tuple[int, tuple[str, str, int, int]]] = deque()
        self._recent_keys: Counter[tuple[str, str, int, int]] = Counter()

    # -- the kill switch --------------------------------------------------------------
    def kill(self) -> None:
        """Engage the kill switch: no new orders or replaces; cancels still allowed."""
        self.armed = False

    def arm(self) -> None:
        """Release the kill switch."""
        self.armed = True

    # -- state the checks need ----------------------------------------------------------
    def set_reference(self, symbol: str, price: int) -> None:
        """The reference price for the collar and unrealised PnL (e.g. the book's mid)."""
        self.ledger.mark(symbol, price)

    def open_orders(self) -> int:
        """Live orders the engine knows about."""
        return len(self._open)

    def _worst_position(self, symbol: str, side: str, exclude: int | None) -> int:
        pos = self.ledger.positions.get(symbol, 0)
        for ref, o in self._open.items():
            if ref == exclude or o.symbol != symbol:
                continue
            if (o.side == "B") == (side == "B"):
                pos += o.remaining if o.side == "B" else -o.remaining
        return pos

    def check(
        self,
        symbol: str,
        side: str,
        quantity: int,
        price: int,
        now_ns: int,
        *,
        replaces: int | None = None,
    ) -> RiskRefusal | None:
        """``None`` when the order may leave, else why not. Does not change state.

        ``replaces`` is the order reference (UserRefNum) of the order a replace takes
        the place of; its open quantity leaves the exposure figures first.
        """
        lim = self.limits
        if not 1 <= quantity <= MAX_OUCH_QUANTITY or price < 1:
            return RiskRefusal(
                RiskReason.INVALID, f"quantity {quantity} / price {price} out of range"
            )
        if not self.armed:
            return RiskRefusal(RiskReason.KILL_SWITCH, "kill switch engaged")
        if symbol in lim.restricted:
            return RiskRefusal(RiskReason.RESTRICTED, f"{symbol} is restricted")
        if lim.max_order_qty is not None and quantity > lim.max_order_qty:
            return RiskRefusal(
                RiskReason.MAX_ORDER_QTY, f"quantity {quantity} > {lim.max_order_qty}"
            )
        notional = quantity * price
        if lim.max_order_notional is not None and notional > lim.max_order_notional:
            return RiskRefusal(
                RiskReason.MAX_NOTIONAL, f"notional {notional} > {lim.max_order_notional}"
            )
        if lim.price_collar_bps is not None:
            ref = self.ledger.marks.get(symbol)
            if ref is None:
                return RiskRefusal(RiskReason.PRICE_COLLAR, f"no reference price for {symbol}")
            if abs(price - ref) * 10_000 > lim.price_collar_bps * ref:
                return RiskRefusal(
                    RiskReason.PRICE_COLLAR,
                    f"price {price} outside {lim.price_collar_bps} bps of {ref}",
                )
        old = self._open.get(replaces) if replaces is not None else None
        max_pos = lim.position_limit(symbol)
        if max_pos is not None:
            worst = self._worst_position(symbol, side, replaces)
            worst += quantity if side == "B" else -quantity
            if abs(worst) > max_pos:
                return RiskRefusal(
                    RiskReason.MAX_POSITION, f"worst-case position {worst} beyond {max_pos}"
                )
        if lim.credit_limit is not None:
            used = self.ledger.executed_notional + self._open_notional
            if old is not None:
                used -= old.remaining * old.price
            if used + notional > lim.credit_limit:
                return RiskRefusal(
                    RiskReason.CREDIT_LIMIT, f"credit {used} + {notional} > {lim.credit_limit}"
                )
        if lim.daily_loss_limit is not None:
            pnl = self.ledger.total_pnl()
            if pnl <= -lim.daily_loss_limit:
                return RiskRefusal(
                    RiskReason.DAILY_LOSS, f"PnL {pnl} at or below -{lim.daily_loss_limit}"
                )
        if (
            lim.max_open_orders is not None
            and old is None
            and len(self._open) >= lim.max_open_orders
        ):
            return RiskRefusal(
                RiskReason.MAX_OPEN_ORDERS,
                f"{len(self._open)} open orders (max {lim.max_open_orders})",
            )
        if lim.duplicate_window_ns is not None:
            self._expire(now_ns)
            if self._recent_keys[(symbol, side, quantity, price)] > 0:
                return RiskRefusal(
                    RiskReason.DUPLICATE,
                    f"same order sent within {lim.duplicate_window_ns} ns",
                )
        if lim.throttle_orders is not None and lim.throttle_window_ns is not None:
            self._expire(now_ns)
            if len(self._sent_times) >= lim.throttle_orders:
                return RiskRefusal(
                    RiskReason.THROTTLE,
                    f"{lim.throttle_orders} orders in {lim.throttle_window_ns} ns",
                )
        return None

    def _expire(self, now_ns: int) -> None:
        lim = self.limits
        if lim.throttle_window_ns is not None:
            horizon = now_ns - lim.throttle_window_ns
            times = self._sent_times
            while times and times[0] <= horizon:
                times.popleft()
        if lim.duplicate_window_ns is not None:
            horizon = now_ns - lim.duplicate_window_ns
            recent = self._recent
            while recent and recent[0][0] <= horizon:
                _, key = recent.popleft()
                self._recent_keys[key] -= 1

    def submit(
        self,
        ref: int,
        symbol: str,
        side: str,
        quantity: int,
        price: int,
        now_ns: int,
        *,
        replaces: int | None = None,
    ) -> RiskRefusal | None:
        """Check, and on success record the order as sent; count a refusal by reason."""
        refusal = self.check(symbol, side, quantity, price, now_ns, replaces=replaces)
        if refusal is not None:
            self.refusals[refusal.reason.value] += 1
            return refusal
        self.accepted += 1
        if replaces is not None:
            self.order_done(replaces)
        self._open[ref] = _Open(symbol, side, quantity, price)
        self._open_notional += quantity * price
        self._sent_times.append(now_ns)
        key = (symbol, side, quantity, price)
        self._recent.append((now_ns, key))
        self._recent_keys[key] += 1
        return None

    def fill(self, ref: int, symbol: str, side: str, quantity: int, price: int) -> None:
        """An execution of ``quantity`` at ``price`` of order ``ref``: always booked in the
        ledger; the order's open exposure shrinks if it is still tracked."""
        self.ledger.fill(symbol, side, quantity, price)
        self.reduce(ref, quantity)

    def set_remaining(self, ref: int, quantity: int) -> None:
        """The venue says order ``ref`` has ``quantity`` shares open (e.g. after a replace)."""
        o = self._open.get(ref)
        if o is None:
            return
        if quantity <= 0:
            self.order_done(ref)
            return
        self._open_notional += (quantity - o.remaining) * o.price
        o.remaining = quantity

    def reduce(self, ref: int, quantity: int) -> None:
        """``quantity`` shares of order ``ref`` were cancelled."""
        o = self._open.get(ref)
        if o is None:
            return
        take = min(quantity, o.remaining)
        o.remaining -= take
        self._open_notional -= take * o.price
        if o.remaining == 0:
            del self._open[ref]

    def order_done(self, ref: int) -> None:
        """Order ``ref`` is no longer live (cancelled, replaced, dead or rejected)."""
        o = self._open.pop(ref, None)
        if o is not None:
            self._open_notional -= o.remaining * o.price
