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
``invalid``         quantity or price not an ``int`` (``True``, ``100.0`` are refused),
                    quantity < 1 or > 999,999, price < 1 or > $199,999.99 (OUCH
                    5.0), side not B/S/T/E, a symbol that is not a wire symbol, a
                    Time In Force not one of OUCH 5.0's 0/3/5/6/E (GTT ``6`` needs
                    an ExpireTime of 1 to 86,399 seconds: ``expire_time``), an
                    ExpireTime with another Time In Force, or a replace that changes
                    symbol or side
``kill_switch``     the kill switch is engaged (cancels are always allowed)
``restricted``      the symbol is on the restricted list
``max_order_qty``   quantity > ``max_order_qty``
``max_notional``    quantity x price > ``max_order_notional``
``price_collar``    |price - reference| x 10,000 > ``price_collar_bps`` x reference,
                    or no reference price is known yet for the symbol
``max_position``    the worst-case position if every open order on that side filled
                    (a replace chain at its largest member), plus what this order
                    adds, would exceed ``max_position`` (per symbol override in
                    ``position_limits``) in absolute value
``credit_limit``    executed notional (both sides) + open orders' notional + this
                    order's notional > ``credit_limit``
``daily_loss``      realised + unrealised PnL (marked at the reference price)
                    <= -``daily_loss_limit``
``max_open_orders`` the number of live orders >= ``max_open_orders`` (an order and
                    its replace in flight count once)
``duplicate``       an order with the same symbol, side, quantity, price and Display
                    was sent within the last ``duplicate_window_ns`` (the same order
                    sent twice: a strategy's loop or retry; a hidden and a displayed
                    order at one price are two orders, sent so on purpose)
``throttle``        ``throttle_orders`` orders were already sent within the last
                    ``throttle_window_ns`` (a sliding window)
==================  ================================================================

One more code is not a check of this engine but shares its counters: the order
manager refuses an order with ``user_ref_num_exhausted`` when no 4-byte UserRefNum is
left for it (:meth:`RiskEngine.refuse`), so a long live session keeps running, and
cancelling, instead of failing on its next order. And ``awaiting_account`` refuses every
order while :meth:`RiskEngine.hold` holds them (the live engine, inheriting a previous
run's orders; :meth:`RiskEngine.adopt` counts those unchecked).

Symbols are compared as they go on the wire: OUCH pads the 8-byte field with spaces,
so ``"AAPL "`` *is* ``AAPL`` (for its limits and the restricted list) and is recorded
as ``AAPL``; a string that no wire field can carry (empty, longer than 8, a space inside
or in front, non-printable) is ``invalid``.

Every order is counted until the venue says it is gone, whatever is in flight: a
cancel frees nothing until it is confirmed, and a replace is counted together with
the order it replaces, at the worse of the two, until the venue accepts or rejects it
(see :class:`RiskEngine`). A replace is checked as the chain it would make, and only
what it *adds* to the worst case can breach ``max_position`` or ``credit_limit``.
Refused orders do not count towards the throttle, the duplicate window or any
exposure. Every refusal is counted by reason (:attr:`RiskEngine.refusals`).

The windows (``duplicate``, ``throttle``) run on the monotonic time the caller
passes as ``now_ns``: never time since midnight, which wraps and would hold a full
throttle for a day.

Money is integer: prices in Price(4) units, notional and PnL in Price(4) x shares
(1 unit = $0.0001), like the rest of the engine. No floats.
"""

from __future__ import annotations

import tomllib
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from tickwire.cli import toml_loads
from tickwire.ouch import v50
from tickwire.threshold.schema import (
    Bool,
    ConfigError,
    Int,
    ListOf,
    MapOf,
    Text,
    check_fields,
    from_table,
    setting,
)

__all__ = [
    "MAX_OUCH_PRICE",
    "MAX_OUCH_QUANTITY",
    "Ledger",
    "RiskConfigError",
    "RiskEngine",
    "RiskLimits",
    "RiskReason",
    "RiskRefusal",
    "load_risk_limits",
    "parse_risk_limits",
    "symbol_key",
    "wire_symbol",
]

#: OUCH 5.0: "Must be greater than zero and less than 1,000,000". Re-exported under this
#: name for compatibility; the one table is :data:`tickwire.ouch.v50.MAX_QUANTITY`.
MAX_OUCH_QUANTITY = v50.MAX_QUANTITY
#: OUCH 5.0: the largest price, $199,999.9900 in Price(4); one table:
#: :data:`tickwire.ouch.v50.MAX_PRICE`.
MAX_OUCH_PRICE = v50.MAX_PRICE


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
    #: Not a check of this engine: the order manager has no UserRefNum left (4 bytes),
    #: so the order cannot be sent; it refuses it with this code (:meth:`RiskEngine.refuse`).
    USER_REF_NUM_EXHAUSTED = "user_ref_num_exhausted"
    #: Orders are held (:meth:`RiskEngine.hold`): the live engine is still inheriting
    #: what a previous run left on its OUCH session (``tickwire.engine.live``).
    AWAITING_ACCOUNT = "awaiting_account"


@dataclass(frozen=True, slots=True)
class RiskRefusal:
    """A refused order: the reason code and a human-readable detail."""

    reason: RiskReason
    detail: str


class RiskConfigError(ConfigError):
    """An invalid risk configuration; the message starts with the offending key
    (a :class:`tickwire.threshold.schema.ConfigError`, the one configuration error)."""


#: Every limit is below 2^62, so sums of notionals stay exact in a signed 64-bit integer.
_LIMIT = Int(0, 2**62 - 1)
_SYMBOL = Text(8, 0x21)


def _limit(doc: str, lo: int = 0) -> Any:
    return setting(Int(lo, 2**62 - 1) if lo else _LIMIT, None, optional=True, doc=doc)


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """The configured limits (``[risk]`` of a config file); ``None`` disables a check.

    Validated on construction (raises :class:`RiskConfigError`); the keys, their kinds
    and bounds are declared with :mod:`tickwire.threshold.schema`.
    """

    armed: bool = setting(Bool(), True, doc="`false` starts with the kill switch engaged")
    max_order_qty: int | None = _limit("shares per order")
    max_order_notional: int | None = _limit("quantity x price per order, Price(4) x shares")
    credit_limit: int | None = _limit(
        "executed notional + open orders' notional + this order's, Price(4) x shares"
    )
    max_position: int | None = _limit(
        "worst-case absolute position per symbol, shares (override: `position_limits`)"
    )
    position_limits: Mapping[str, int] = setting(
        MapOf(_SYMBOL, _LIMIT),
        factory=dict,
        doc="`[risk.position_limits]` `SYMBOL = shares`: `max_position` for one symbol",
    )
    daily_loss_limit: int | None = _limit("refuses at realised + unrealised PnL <= -limit")
    price_collar_bps: int | None = _limit("basis points around the reference price")
    restricted: frozenset[str] = setting(
        ListOf(_SYMBOL, frozenset), frozenset(), doc="symbols never traded"
    )
    duplicate_window_ns: int | None = _limit(
        "same symbol, side, quantity, price, Display within it"
    )
    throttle_orders: int | None = _limit("orders per `throttle_window_ns`; set both or neither")
    throttle_window_ns: int | None = _limit("the throttle's sliding window, ns", lo=1)
    max_open_orders: int | None = _limit("live orders (an order and its replace count once)")

    def __post_init__(self) -> None:
        check_fields(self, error=RiskConfigError)
        if (self.throttle_orders is None) != (self.throttle_window_ns is None):
            raise RiskConfigError(
                "throttle_orders",
                "throttle_orders and throttle_window_ns must be set together",
            )

    def position_limit(self, symbol: str) -> int | None:
        """The max absolute position for ``symbol`` (its override, else the default)."""
        return self.position_limits.get(symbol, self.max_position)


def parse_risk_limits(data: Mapping[str, Any], prefix: str = "risk") -> RiskLimits:
    """Build :class:`RiskLimits` from a parsed TOML table, with strict validation.

    Unknown keys are errors: a typo such as ``max_positon`` must never silently drop a
    limit. Error messages start with ``prefix.key``.
    """
    return from_table(RiskLimits, data, prefix, error=RiskConfigError)


def load_risk_limits(path: str | Path) -> RiskLimits:
    """Load the ``[risk]`` table of a TOML file (the whole file if it has none)."""
    try:
        data = toml_loads(Path(path).read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise RiskConfigError(str(path), f"not valid TOML: {exc}") from None
    return parse_risk_limits(data.get("risk", data))


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

    def position(self, symbol: str) -> int:
        """Signed position in ``symbol`` as it goes on the wire (:func:`wire_symbol`:
        ``"AAPL "`` is ``AAPL``, the key the ledger books fills under); 0 if none."""
        # symbol_key's cache hit in place: a strategy asks on every event (ctx.position).
        key = _WIRE_FORMS.get(symbol) if type(symbol) is str else None
        return self.positions.get(symbol_key(symbol) if key is None else key, 0)

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

    def total_unrealised(self) -> int:
        """:meth:`unrealised` summed over every symbol, in one loop: risk asks on every
        order (``daily_loss``) and the backtest on every PnL point. Test:
        ``test_engine_risk_ledger_totals_are_the_sums_per_symbol``."""
        marks = self.marks
        costs = self._avg_cost
        total = 0
        for symbol, pos in self.positions.items():
            if pos != 0 and symbol in marks:
                total += pos * marks[symbol] - costs[symbol][0]
        return total

    def total_pnl(self) -> int:
        """Realised plus unrealised PnL over every symbol."""
        return sum(self.realised.values()) + self.total_unrealised()


@dataclass(slots=True)
class _Open:
    """One order as risk counts it: what the venue may still execute of it."""

    symbol: str
    side: str
    remaining: int
    price: int
    chain: int  # the reference of the first order of its replace chain


class RiskEngine:
    """Stateful pre-trade checks (see the module docstring for every rule).

    **Open orders and replace chains.** Every order the engine let through is counted,
    at its open size, until the venue says it is gone: a fill moves shares from the
    order to the position (:meth:`fill`), a confirmed cancel removes them
    (:meth:`reduce`), a reject or a dead order removes the order (:meth:`order_done`).
    A cancel in flight therefore frees nothing. A replace in flight does not free the
    original either: until the venue answers, the original may still execute in full
    (the replace may be rejected, or silently ignored if the original is gone first),
    or the replacement may become live at its new size. So the original and its
    replacement form a *chain*, and the chain counts the worst of its members:

    * shares: ``max(remaining of each member)`` in the worst-case position;
    * money: ``max(remaining x price of each member)`` in the credit used;
    * orders: one, for ``max_open_orders``.

    Then the venue's answer settles it: Order Replaced (:meth:`replaced`) leaves only the
    replacement, at the size the venue reports; Rejected (:meth:`order_done` of the
    replacement) leaves only the original. An execution of the original while the
    replace is in flight comes out of the original only (conservative: under OUCH 5.0
    the venue takes it out of the replacement too, and says so in Order Replaced).

    An order is refused for an exposure limit only if it adds exposure: a replace that
    does not raise its chain's worst case (a replace down) is never refused for
    ``max_position`` or ``credit_limit``.

    **Time.** ``now_ns`` feeds the throttle and duplicate windows only, and must never
    go backwards: pass a monotonic clock (``time.monotonic_ns`` live, the simulation's
    event time in a backtest), never time since midnight, which wraps. A ``now_ns``
    below the last one seen raises :class:`ValueError`.
    """

    def __init__(self, limits: RiskLimits, ledger: Ledger | None = None) -> None:
        self.limits = limits
        self.ledger = ledger if ledger is not None else Ledger()
        self.armed = limits.armed
        #: Why new orders are held (None: they are not): :meth:`hold`.
        self.held: str | None = None
        self.refusals: Counter[str] = Counter()
        self.accepted = 0
        self._open: dict[int, _Open] = {}
        self._chains: dict[int, list[int]] = {}  # chain id -> member refs, oldest first
        self._last_now: int | None = None
        self._sent_times: deque[int] = deque()
        # The duplicate window: (time, key) sent, key = (symbol, side, quantity, price,
        # display); see :meth:`_limits`.
        self._recent: deque[tuple[int, tuple[str, str, int, int, str]]] = deque()
        # (a dict, not a Counter: Counter's missing key and del are Python-level calls)
        self._recent_keys: dict[tuple[str, str, int, int, str], int] = {}

    # -- the kill switch --------------------------------------------------------------
    def kill(self) -> None:
        """Engage the kill switch: no new orders or replaces; cancels still allowed."""
        self.armed = False

    def arm(self) -> None:
        """Release the kill switch."""
        self.armed = True

    def hold(self, why: str) -> None:
        """Refuse every new order and replace, reason ``awaiting_account`` with ``why`` as
        the detail, until :meth:`release` (cancels are never checked). Unlike the kill
        switch, the hold is not the operator's: the live engine holds orders while it
        inherits a previous run's orders and position, and releases them itself."""
        self.held = why

    def release(self) -> None:
        """End :meth:`hold`."""
        self.held = None

    # -- state the checks need ----------------------------------------------------------
    def set_reference(self, symbol: str, price: int) -> None:
        """The reference price for the collar and unrealised PnL (e.g. the book's mid).

        :meth:`Ledger.mark`, written in place: the strategy context calls it on every
        change of a mid (66,160 times in the s18 workload a)."""
        self.ledger.marks[symbol] = price

    def open_orders(self) -> int:
        """Orders the venue may hold (an order and its replace in flight count once)."""
        return len(self._chains)

    def _chain_exposure(self, chain: int) -> tuple[int, int]:
        """(shares, notional) the worst member of ``chain`` may still execute."""
        shares = notional = 0
        for ref in self._chains[chain]:
            o = self._open[ref]
            shares = max(shares, o.remaining)
            notional = max(notional, o.remaining * o.price)
        return shares, notional

    def _exposure(self, symbol: str, buy: bool, chain: int | None) -> tuple[int, int, int, int]:
        """(worst-case position on one side of ``symbol``, open notional of every chain,
        and the shares and notional of ``chain``: 0, 0 if it is not open).

        Every check walks every open chain, so the walk is inlined: a chain of one
        order (no replace in flight, the usual case) is that order's remaining shares
        and notional; a longer chain is its worst member's (:meth:`_chain_exposure`).
        A replace needs its chain's worst case too: it is the walk's value for that
        chain (no second walk over the chain's members).
        """
        pos = self.ledger.positions.get(symbol, 0)
        notional = 0
        chain_shares = chain_money = 0
        open_orders = self._open
        for c, refs in self._chains.items():
            head = open_orders[refs[0]]
            if len(refs) == 1:
                shares = head.remaining
                money = shares * head.price
            else:
                shares, money = self._chain_exposure(c)
            notional += money
            if c == chain:
                chain_shares, chain_money = shares, money
            if head.symbol == symbol and (head.side == "B") == buy:
                pos += shares if buy else -shares
        return pos, notional, chain_shares, chain_money

    def _tick(self, now_ns: int) -> None:
        if isinstance(now_ns, bool) or not isinstance(now_ns, int):
            raise TypeError(f"now_ns must be an integer (monotonic ns), got {now_ns!r}")
        if self._last_now is not None and now_ns < self._last_now:
            raise ValueError(
                f"risk clock went backwards ({now_ns} < {self._last_now} ns): "
                "pass a monotonic clock, not time since midnight"
            )
        self._last_now = now_ns

    def check(
        self,
        symbol: str,
        side: str,
        quantity: int,
        price: int,
        now_ns: int,
        *,
        replaces: int | None = None,
        time_in_force: str = "0",
        appendages: tuple[v50.TagValue, ...] = (),
        display: str = "Y",
    ) -> RiskRefusal | None:
        """``None`` when the order may leave, else why not. Changes no exposure state
        (it only notes ``now_ns``).

        ``symbol`` is compared as it goes on the wire (:func:`wire_symbol`);
        ``quantity`` and ``price`` must be ``int`` (not ``bool``, not ``float``).
        ``replaces`` is the order reference (UserRefNum) of the order a replace takes
        the place of: the replacement joins that order's chain (see the class docs).
        ``time_in_force`` is the OUCH 5.0 byte the order goes with (default Day), and
        ``appendages`` its Optional Appendages (a GTT order's ExpireTime; see
        :func:`_invalid`). ``display`` is its OUCH 5.0 Display (default ``Y``; the order
        manager checks it): part of what makes an order the same as one sent before
        (``duplicate``, :meth:`_limits`). ``now_ns`` is monotonic time (see the class docs).
        """
        return self._check(
            symbol, side, quantity, price, now_ns, replaces, time_in_force, appendages, display
        )[0]

    def _check(
        self,
        symbol: str,
        side: str,
        quantity: int,
        price: int,
        now_ns: int,
        replaces: int | None,
        time_in_force: str = "0",
        appendages: tuple[v50.TagValue, ...] = (),
        display: str = "Y",
    ) -> tuple[RiskRefusal | None, str, _Open | None]:
        """:meth:`check`, and what :meth:`submit` records when it passes: the symbol's wire
        form and the open order a replace joins (None: a new chain), found once, not again
        by :meth:`submit` (on workload a of ``bench/bench_hftbacktest.py``, risk's calls
        replayed take 0.105 s instead of 0.121 s with the rest of this change).

        The clock and the order's form are tested in one expression for the usual order;
        anything else takes the full path (:meth:`_tick`, :func:`_invalid`) for its error
        or refusal. Tests: ``test_engine_risk_refuses_non_integers``,
        ``test_engine_risk_refuses_what_is_not_a_wire_symbol``,
        ``test_engine_risk_padded_symbol_is_the_wire_symbol``,
        ``test_engine_risk_clock_must_not_go_backwards``."""
        last = self._last_now
        if type(now_ns) is not int or (last is not None and now_ns < last):
            self._tick(now_ns)  # raises, or accepts an int subclass (not bool)
        self._last_now = now_ns
        # The usual order in one test: exact ints in range, a side, and a symbol already
        # seen valid (_WIRE_FORMS holds valid ones only, as their wire form). Whatever
        # fails it gets _invalid's full rules and words (which accept what it accepts).
        if (
            type(quantity) is int
            and type(price) is int
            and 0 < quantity <= MAX_OUCH_QUANTITY
            and 0 < price <= MAX_OUCH_PRICE
            and side in _SIDES
            and time_in_force in _SENDABLE_TIME_IN_FORCE
            and not appendages
            and type(symbol) is str
            and (wire := _WIRE_FORMS.get(symbol)) is not None
        ):
            symbol = wire
        else:
            invalid = _invalid(symbol, side, quantity, price, time_in_force, appendages)
            if invalid is not None:
                return RiskRefusal(RiskReason.INVALID, invalid), symbol, None
            symbol = symbol.rstrip(" ")
        old = self._open.get(replaces) if replaces is not None else None
        if old is not None and (old.symbol != symbol or (old.side == "B") != (side == "B")):
            return (
                RiskRefusal(
                    RiskReason.INVALID,
                    f"a replace keeps the symbol and side of order {replaces} "
                    f"({old.symbol} {old.side}), got {symbol} {side}",
                ),
                symbol,
                old,
            )
        return self._limits(symbol, side, quantity, price, now_ns, old, display), symbol, old

    def _limits(
        self,
        symbol: str,
        side: str,
        quantity: int,
        price: int,
        now_ns: int,
        old: _Open | None,
        display: str = "Y",
    ) -> RiskRefusal | None:
        """The checks after ``invalid``, in their order, for a well-formed order (``symbol``
        in its wire form, ``old`` the open order a replace joins, or None).

        ``duplicate`` is the same order sent again within the window: the same symbol,
        side, quantity, price *and Display*. It guards against a strategy sending one
        order twice (a loop, a retry), which sends it with the same Display too; an order
        differing only in Display (a hidden order under a displayed one at one price) is
        another order, sent so on purpose, and rests in another queue. Test:
        ``test_engine_risk.py::test_engine_risk_duplicate_window_keys_display``."""
        lim = self.limits
        if not self.armed:
            return RiskRefusal(RiskReason.KILL_SWITCH, "kill switch engaged")
        if self.held is not None:
            return RiskRefusal(RiskReason.AWAITING_ACCOUNT, self.held)
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
        max_pos = lim.position_limit(symbol)
        if max_pos is not None or lim.credit_limit is not None:
            buy = side == "B"
            worst, used, shares, money = self._exposure(
                symbol, buy, old.chain if old is not None else None
            )
            # What this order adds: all of it, or for a replace what it raises its
            # chain's worst case by (a replace down adds nothing).
            add_shares, add_notional = quantity, notional
            if old is not None:
                add_shares = max(0, quantity - shares)
                add_notional = max(0, notional - money)
            worst += add_shares if buy else -add_shares
            if max_pos is not None and add_shares and abs(worst) > max_pos:
                return RiskRefusal(
                    RiskReason.MAX_POSITION, f"worst-case position {worst} beyond {max_pos}"
                )
            if lim.credit_limit is not None and add_notional:
                used += self.ledger.executed_notional
                if used + add_notional > lim.credit_limit:
                    return RiskRefusal(
                        RiskReason.CREDIT_LIMIT,
                        f"credit {used} + {add_notional} > {lim.credit_limit}",
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
            and len(self._chains) >= lim.max_open_orders
        ):
            return RiskRefusal(
                RiskReason.MAX_OPEN_ORDERS,
                f"{len(self._chains)} open orders (max {lim.max_open_orders})",
            )
        if lim.duplicate_window_ns is not None or lim.throttle_window_ns is not None:
            self._expire(now_ns)  # both windows at once
        if (
            lim.duplicate_window_ns is not None
            and (symbol, side, quantity, price, display) in self._recent_keys
        ):
            return RiskRefusal(
                RiskReason.DUPLICATE,
                f"same order sent within {lim.duplicate_window_ns} ns",
            )
        if lim.throttle_orders is not None and len(self._sent_times) >= lim.throttle_orders:
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
            keys = self._recent_keys
            while recent and recent[0][0] <= horizon:
                _, key = recent.popleft()
                if keys[key] > 1:
                    keys[key] -= 1
                else:
                    del keys[key]  # a key per order of the day would stay otherwise

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
        time_in_force: str = "0",
        appendages: tuple[v50.TagValue, ...] = (),
        display: str = "Y",
    ) -> RiskRefusal | None:
        """Check, and on success record the order as sent; count a refusal by reason.

        A replace (``replaces`` set) does not end the original: both are counted as one
        chain until :meth:`replaced` or :meth:`order_done` says which one is left.
        """
        refusal, symbol, old = self._check(
            symbol, side, quantity, price, now_ns, replaces, time_in_force, appendages, display
        )
        if refusal is None and ref in self._open:
            refusal = RiskRefusal(RiskReason.INVALID, f"order reference {ref} is already open")
        if refusal is not None:
            self.refusals[refusal.reason.value] += 1
            return refusal
        self.accepted += 1
        self._count(ref, symbol, side, quantity, price, old)
        lim = self.limits
        # The rate windows' history, kept only for a window that is set (and pruned to
        # it by _expire): without one, a time per order of the day would stay.
        if lim.throttle_window_ns is not None:  # (set with throttle_orders)
            self._sent_times.append(now_ns)
        if lim.duplicate_window_ns is not None:
            key = (symbol, side, quantity, price, display)
            self._recent.append((now_ns, key))
            keys = self._recent_keys
            keys[key] = keys.get(key, 0) + 1
        return None

    def _count(
        self, ref: int, symbol: str, side: str, quantity: int, price: int, old: _Open | None
    ) -> None:
        """Count order ``ref`` of ``symbol`` (its wire form) open, in the chain of ``old``
        (the open order it replaces) if there is one."""
        chain = ref if old is None else old.chain
        self._open[ref] = _Open(symbol, side, quantity, price, chain)
        self._chains.setdefault(chain, []).append(ref)

    def adopt(
        self,
        ref: int,
        symbol: str,
        side: str,
        quantity: int,
        price: int,
        *,
        replaces: int | None = None,
    ) -> None:
        """Count an order the venue holds that this engine did not send (a previous run's,
        inherited by the live engine) as open, unchecked: it is there whatever the limits
        say, and what it may still execute is exposure like any other. Then the venue's
        answers settle it (:meth:`fill`, :meth:`reduce`, :meth:`replaced`...) as for an
        order :meth:`submit` let through."""
        if ref not in self._open:
            old = self._open.get(replaces) if replaces is not None else None
            self._count(ref, symbol.rstrip(" "), side, quantity, price, old)

    def refuse(self, reason: RiskReason, detail: str) -> RiskRefusal:
        """Count a refusal decided outside the checks (the order manager's
        ``user_ref_num_exhausted``) with the others in :attr:`refusals`; returns it."""
        self.refusals[reason.value] += 1
        return RiskRefusal(reason, detail)

    def fill(self, ref: int, symbol: str, side: str, quantity: int, price: int) -> None:
        """An execution of ``quantity`` at ``price`` of order ``ref``: always booked in the
        ledger; the order's open exposure shrinks if it is still tracked."""
        self.ledger.fill(symbol.rstrip(" "), side, quantity, price)
        self.reduce(ref, quantity)

    def replaced(self, orig_ref: int, ref: int, quantity: int) -> None:
        """The venue replaced order ``orig_ref`` by ``ref``, which has ``quantity`` shares
        open (0: it is dead): the original leaves its chain, the replacement stays at the
        venue's size."""
        self.order_done(orig_ref)
        self.set_remaining(ref, quantity)

    def set_remaining(self, ref: int, quantity: int) -> None:
        """The venue says order ``ref`` has ``quantity`` shares open (e.g. after a replace)."""
        o = self._open.get(ref)
        if o is None:
            return
        if quantity <= 0:
            self.order_done(ref)
            return
        o.remaining = quantity

    def reduce(self, ref: int, quantity: int) -> None:
        """``quantity`` shares of order ``ref`` left the book (executed or cancelled)."""
        o = self._open.get(ref)
        if o is None:
            return
        o.remaining -= min(quantity, o.remaining)
        if o.remaining == 0:
            self.order_done(ref)

    def order_done(self, ref: int) -> None:
        """Order ``ref`` is gone at the venue (cancelled, replaced, dead or rejected).

        Only that order leaves its chain: a rejected replacement leaves the original
        counted, a finished original leaves its replacement in flight counted until the
        venue (or the order manager, which knows the venue will ignore it) says so.
        """
        o = self._open.pop(ref, None)
        if o is None:
            return
        refs = self._chains[o.chain]
        refs.remove(ref)
        if not refs:
            del self._chains[o.chain]


#: Valid wire symbols seen (a plain ``str``) -> their wire form: a strategy asks about
#: its few symbols on every event (``ctx.position``, ``ctx.is_trading``, each order).
#: Bounded: past the bound a symbol is checked every time, as before.
_WIRE_FORMS: dict[str, str] = {}
_WIRE_FORMS_MAX = 4096


def wire_symbol(symbol: object) -> str | None:
    """``symbol`` as it goes on the wire, without the right padding, or None if it is not
    a valid wire symbol (1 to 8 printable ASCII characters, no space inside, padded with
    spaces on the right: ``"AAPL "`` and ``"AAPL"`` are both ``AAPL``)."""
    if type(symbol) is str:
        known = _WIRE_FORMS.get(symbol)
        if known is not None:
            return known
    elif not isinstance(symbol, str):
        return None
    text = symbol.rstrip(" ")
    # Printable ASCII is 0x20-0x7E; the space is its only character not allowed inside.
    # (str methods, not a generator over the characters: risk asks on every order.)
    if not 1 <= len(text) <= 8 or not (text.isascii() and text.isprintable()) or " " in text:
        return None
    if type(symbol) is str and len(_WIRE_FORMS) < _WIRE_FORMS_MAX:
        _WIRE_FORMS[symbol] = text
    return text


def symbol_key(symbol: str) -> str:
    """The key the engine files ``symbol`` under: its wire form (``"AAPL    "`` and
    ``"AAPL"`` are both ``AAPL``, as the feed's decoders and the ledger name it), or
    ``symbol`` itself when it is no wire symbol (so it finds nothing). Every lookup by a
    symbol a strategy gives goes through it: ``ctx.position``, ``ctx.book``,
    ``ctx.is_trading``, ``ctx.subscribe``."""
    if type(symbol) is str:
        known = _WIRE_FORMS.get(symbol)
        if known is not None:
            return known
    return wire_symbol(symbol) or symbol


#: The sides an order may have: OUCH 5.0's table (buy, sell, sell short, sell short exempt).
_SIDES = tuple(s.value for s in v50.Side)
#: The Time In Force values an order without appendages takes the fast path with: OUCH
#: 5.0's table but GTT, which needs an ExpireTime appendage (:func:`_invalid`).
_SENDABLE_TIME_IN_FORCE = tuple(t.value for t in v50.TimeInForce if t is not v50.TimeInForce.GTT)


def _invalid(
    symbol: object,
    side: object,
    quantity: object,
    price: object,
    time_in_force: object = "0",
    appendages: tuple[v50.TagValue, ...] = (),
) -> str | None:
    """Why an order is malformed, or None. Integers only: ``True`` would go out as one
    share and ``100.0`` or ``438300.5`` cannot be encoded (or would fill in a backtest).

    The Time In Force must be one of OUCH 5.0's table, a ``str`` (the ``int`` 5 is not
    ``"5"``), by the one rule of :func:`tickwire.ouch.v50.time_in_force_error` given the
    order's ``appendages``: GTT (``"6"``) only with an ExpireTime appendage of 1 to
    86,399 seconds (the order manager's ``expire_time``), which must be an ``int``
    (``True`` is not one second) and goes with GTT only (another Time In Force with one
    is refused, not sent with a deadline the venue would ignore). Why: it was never
    checked, so a backtest accepted an order of Time In Force ``"Q"``, ``""``, ``5`` or
    ``"6"`` and rested it all day (both backends), where the exchange would refuse it or
    treat it otherwise; GTT was then refused always, as no order could carry an
    ExpireTime. Tests:
    ``test_engine_risk.py::test_engine_risk_refuses_a_time_in_force_not_in_ouch50s_table``,
    ``test_engine_risk.py::test_engine_risk_checks_a_gtt_orders_expire_time``,
    ``test_engine_backtest_core.py::test_engine_backtest_core_an_order_of_a_bad_time_in_force_is_refused_as_there``."""
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        return f"quantity must be an integer, got {type(quantity).__name__} {quantity!r}"
    if isinstance(price, bool) or not isinstance(price, int):
        return f"price must be an integer, got {type(price).__name__} {price!r}"
    if not 1 <= quantity <= MAX_OUCH_QUANTITY:
        return f"quantity {quantity} out of range 1..{MAX_OUCH_QUANTITY}"
    if not 1 <= price <= MAX_OUCH_PRICE:
        return f"price {price} out of range 1..{MAX_OUCH_PRICE}"
    if side not in _SIDES:
        return f"side {side!r} is not one of B, S, T, E"
    if wire_symbol(symbol) is None:
        return (
            f"symbol {symbol!r} is not a wire symbol "
            "(1 to 8 printable ASCII characters, space padded on the right)"
        )
    for a in appendages:
        if a.tag == v50.OptionTag.EXPIRE_TIME and (
            isinstance(a.value, bool) or not isinstance(a.value, int)
        ):
            return (
                f"expire_time must be an integer number of seconds, "
                f"got {type(a.value).__name__} {a.value!r}"
            )
    bad_tif = v50.time_in_force_error(time_in_force, appendages)
    if bad_tif is not None:
        if time_in_force == v50.TimeInForce.GTT and v50.expire_time(appendages) is None:
            return f"{bad_tif}: give expire_time=SECONDS"
        return bad_tif
    if time_in_force != v50.TimeInForce.GTT and v50.expire_time(appendages) is not None:
        return (
            f"expire_time ({v50.expire_time(appendages)} s) goes with Time In Force '6' "
            f"(GTT) only, not {time_in_force!r}"
        )
    return None
