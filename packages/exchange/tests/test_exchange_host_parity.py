"""The OUCH conformance hosts answer as the simulated exchange answers, whatever happens.

Property (OUCH 5.0 and 4.2): a :class:`~tickwire.ouch.orders.OuchHost50` (``OuchHost42``),
what users point their own OUCH clients at to test, and the simulated exchange's
``Account50`` (``Account42``: the reference for what NASDAQ does) in front of a real
``MatchingEngine`` (the ``Venue`` of ``_exchange_venue.py``: the market open, one symbol)
get the same random flows: Enters (every side, quantity and price edge: 0, 1, MAX,
MAX+1; every Time In Force, bad ones included; 5.0 GTT with and without an ExpireTime of
0, 1, 2 or 86,400 s, 4.2 Times In Force in seconds), Replaces of live, dead, unknown and
retransmitted keys (to IOC and GTT too), Cancels of every size (0, part, at or above
what is open), Modifies, 5.0 Account Queries, and clock steps crossing the deadlines,
after which each side's expiry timer fires (or, late, what is due expires as the next
request is handled). Every answer, solicited or not, must be the same message with the
same fields, timestamps included (both sides are given the same clocks: the timestamps
of the day, and a deadline clock that only runs forward); order reference numbers, which
each side numbers by itself, are compared renumbered by first appearance, as
``tests/_exchange_venue_twins.py``'s ``plain`` does.

What the flows leave out, on purpose:

* other parties, executions, halts, System Events, symbols: ``OuchHost50``'s docstring,
  "this host has no symbols and no market state to check", and the module's "not a
  matching engine: nothing executes". So our own orders never trade either: every buy is
  priced below every sell (``BUY_PRICES`` < ``SELL_PRICES``), a Replace keeps its order's
  side and band, and a Modify changes a side only among the sell sides (``modify_refusal``).

Enters draw every Capacity and Cross Type (4.2: a Firm too), which no Replace carries:
every Order Replaced of a chain repeats the first Enter's on both sides. A Cross Type but
``N`` (a byte not in the table too) is Rejected 0x14 (4.2 ``Z``) on both, after every
other check: neither runs a cross (both took any and rested it). The exchange
said Capacity ``P`` (4.2 ``A``, Firm empty) and Cross Type ``N`` whatever the original
said, which the flows hid by entering only those; fixed with
``test_exchange_hostile.py::test_ouch42_a_replace_keeps_the_originals_firm_capacity_and_cross_type``
and ``tests/test_exchange_venue_replace_parity.py::test_a_replace_keeps_the_originals_capacity_and_cross_type_on_both``.

Run locally with ``TW_PROPERTY_EXAMPLES=5000`` and several ``--hypothesis-seed``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hypothesis import event, given
from hypothesis import strategies as st
from tickwire.exchange.accounts import Account42, Account50
from tickwire.ouch import v42, v50
from tickwire.ouch.orders import OuchHost42, OuchHost50

_HERE = Path(__file__).parent
for _dir in (str(_HERE), str(_HERE.parents[2] / "tests")):
    if _dir not in sys.path:
        sys.path.insert(0, _dir)
from _exchange_venue import Venue, property_settings  # noqa: E402
from _exchange_venue_twins import plain  # noqa: E402

_NS = 1_000_000_000
MAXQ, MAXP = v50.MAX_QUANTITY, v50.MAX_PRICE
#: Our buys are priced below our sells, so no order of ours ever trades with another.
BUY_PRICES = [1, 1_000_000, 1_400_000]
SELL_PRICES = [1_500_000, MAXP]
BAD_PRICES = [0, MAXP + 1]
QTYS = [0, 1, 100, 300, MAXQ, MAXQ + 1]
SIDES = ["B", "S", "T", "E", "X"]  # X: no side at all

# Mostly valid values (so orders rest, get replaced, expire), the edges now and then.
_side = st.one_of(st.sampled_from(SIDES[:4]), st.sampled_from(SIDES[:4]), st.sampled_from(SIDES))
_qty = st.one_of(st.sampled_from([1, 100, 300]), st.sampled_from([100, 300]), st.sampled_from(QTYS))
_band = st.sampled_from(["own", "own", "own", "bad"])  # a price of the side's band, or bad
_price_pick = st.integers(0, 3)
# which earlier key: the latest (most often), an older one, or one never sent
_which = st.one_of(st.just(-1), st.just(-1), st.integers(-4, -1), st.just(None))
# a new key, or a retransmission of one already used (an Enter, a replacement)
_fresh = st.sampled_from([True, True, True, False])
# every 5.0 byte (Day and GTT twice), and two bad ones
_TIF50 = ["0", "0", "3", "5", "6", "6", "E", "Q", "9"]
# ExpireTime appendage: none, or its seconds (0 and 86,400 are refused); then hostile
# appendages: an ExpireTime twice (the first counts: a valid one, or 0, first), after
# another tag, or another tag alone (GTT without an ExpireTime)
_MIN_QTY = v50.TagValue(v50.OptionTag.MIN_QTY, 5)
_EXPIRE: list[int | tuple[int | v50.TagValue, ...] | None] = [
    1, 2, 1, 2, None, 0, 86_400, (1, 2), (0, 1), (_MIN_QTY, 1), (_MIN_QTY,),
]  # fmt: skip
_TIF42 = [v42.TIF_IOC, v42.TIF_MARKET_HOURS, v42.TIF_SYSTEM_HOURS, 1, 2, 3, 86_400]
_tif = st.integers(0, 8)
_expire = st.integers(0, 10)

# what no Replace carries: an Enter's Capacity, Cross Type and (4.2) Firm, every value;
# the Cross Type ``N`` three times in four (the only one taken), every other one and a
# byte not in the table now and then (Rejected 0x14, 4.2 ``Z``: ``v50.cross_type_reason``)
_CROSS_TYPES = ["N"] * 24 + [str(c) for c in v50.CrossType if c != "N"] + ["X"]
_carried = st.tuples(
    st.sampled_from([str(c) for c in v50.Capacity]),
    st.sampled_from(_CROSS_TYPES),
    st.sampled_from(["", "TW", "ABCD"]),
)
_enter = st.tuples(
    st.just("enter"), _fresh, _side, _qty, _band, _price_pick, _tif, _expire, _carried
)
_replace = st.tuples(st.just("replace"), _which, _fresh, _qty, _band, _price_pick, _tif, _expire)
_cancel = st.tuples(st.just("cancel"), _which, st.sampled_from([0, 0, 1, 100, 299, 300, MAXQ]))
_modify = st.tuples(st.just("modify"), _which, _side, st.sampled_from([0, 1, 100, 300, 301]))
_step = st.one_of(
    _enter,
    _enter,
    _replace,
    _replace,
    _cancel,
    _modify,
    st.tuples(st.just("query")),
    # the clocks move 0-3 s; both timers fire then, or (True) late: what is due expires
    # before the next request is handled
    st.tuples(st.just("tick"), st.integers(0, 3), st.sampled_from([False, False, True])),
)
_steps = st.lists(_step, min_size=10, max_size=50)

# CI-sized (a few seconds each); ``TW_PROPERTY_EXAMPLES`` sets it (module docs).
_SETTINGS = property_settings(500)


class _Pair:
    """The exchange's account and a host, the same clocks, the same requests."""

    def __init__(self, version: int) -> None:
        self.version = version
        self.stamp = 86_390 * _NS  # the timestamps of the day (they pass midnight)
        self.mono = 5 * _NS  # the deadline clock: only runs forward
        account = Account50 if version == 50 else Account42
        self.venue = Venue(account, clock=lambda: self.stamp, deadline_clock=lambda: self.mono)
        self.host: OuchHost50 | OuchHost42 = (
            OuchHost50(deadline_clock=lambda: self.mono)
            if version == 50
            else OuchHost42(deadline_clock=lambda: self.mono)
        )
        self.acct_refs: dict[int, int] = {}
        self.host_refs: dict[int, int] = {}
        self.keys: list[Any] = []  # every key sent, in order (Enters and replacements)
        self.next = 1

    # -- both sides ------------------------------------------------------------------
    def compare(self, exchange: list[Any], host: list[Any], what: object) -> None:
        assert [m.timestamp for m in exchange] == [m.timestamp for m in host], what
        assert plain(exchange, self.acct_refs) == plain(host, self.host_refs), what
        for m in exchange:  # what the flows reach: ``--hypothesis-show-statistics``
            event(f"{type(m).__name__} {getattr(m, 'reason', '')}".strip())

    def send(self, msg: Any) -> None:
        self.stamp = (self.stamp + 1_000) % (86_400 * _NS)
        self.venue.sent.clear()
        answer = self.venue.acct.handle(msg)
        exchange = self.venue.sent + answer  # expired first (sent unsolicited), then it
        self.venue.sent.clear()
        self.compare(exchange, self.host.handle(msg, self.stamp), msg)

    def tick(self, seconds: int, late: bool) -> None:
        self.stamp = (self.stamp + seconds * _NS + 1_000) % (86_400 * _NS)
        self.mono += seconds * _NS
        if late:
            return
        self.venue.sent.clear()
        self.venue.acct.expire()
        exchange = list(self.venue.sent)
        self.venue.sent.clear()
        self.compare(exchange, self.host.expire(self.stamp), ("tick", seconds))

    # -- drawing keys ----------------------------------------------------------------
    def key(self, which: int | None) -> Any:
        if which is None or not self.keys:
            return 99_999 if self.version == 50 else "UNKNOWN"
        return self.keys[max(which, -len(self.keys))]

    def new_key(self, fresh: bool) -> Any:
        if not fresh and self.keys:
            return self.keys[-1]  # a retransmission (or a token already used)
        n, self.next = self.next, self.next + 1
        key = n if self.version == 50 else f"K{n}"
        self.keys.append(key)
        return key

    def price(self, side: str, band: str, pick: int) -> int:
        prices = BAD_PRICES if band == "bad" else BUY_PRICES if side == "B" else SELL_PRICES
        return prices[pick % len(prices)]

    # -- requests --------------------------------------------------------------------
    def step(self, step: tuple[Any, ...]) -> None:
        kind = step[0]
        if kind == "tick":
            self.tick(step[1], step[2])
        elif kind == "query":
            if self.version == 50:
                self.send(v50.AccountQueryRequest())
        elif kind == "enter":
            _, fresh, side, qty, band, pick, tif, expire, carried = step
            key = self.new_key(fresh)
            price = self.price(side, band, pick)
            self.send(self.enter(key, side, qty, price, tif, expire, carried))
        elif kind == "replace":
            _, which, fresh, qty, band, pick, tif, expire = step
            orig = self.key(which)
            # the price band of the side the order has (the exchange's record of it)
            rec = self.venue.acct.records.get(orig)
            side = "B" if rec is None else rec.side
            key = self.new_key(fresh)
            self.send(self.replace(orig, key, qty, self.price(side, band, pick), tif, expire))
        elif kind == "cancel":
            key = self.key(step[1])
            if self.version == 50:
                self.send(v50.CancelOrder(key, step[2]))
            else:
                self.send(v42.CancelOrder(key, step[2]))
        elif kind == "modify":
            _, which, side, qty = step
            key = self.key(which)  # any side: only S, T, E change among themselves
            if self.version == 50:
                self.send(v50.ModifyOrder(key, side, qty))
            else:
                self.send(v42.ModifyOrder(key, side, qty))

    def enter(
        self, key: Any, side: str, qty: int, price: int, tif: int, expire: int,
        carried: tuple[str, str, str],
    ) -> Any:  # fmt: skip
        capacity, cross_type, firm = carried
        if self.version == 50:
            tif50, app = _tif50(tif, expire)
            return v50.EnterOrder(
                key, side, qty, "AAPL", price, tif50, "Y", capacity, "N", cross_type,
                f"C{key}", app,
            )  # fmt: skip
        return v42.EnterOrder(
            key, side, qty, "AAPL", price, _TIF42[tif % len(_TIF42)], firm, "Y", capacity, "N",
            0, cross_type, " ",
        )  # fmt: skip

    def replace(self, orig: Any, key: Any, qty: int, price: int, tif: int, expire: int) -> Any:
        if self.version == 50:
            tif50, app = _tif50(tif, expire)
            return v50.ReplaceOrder(orig, key, qty, price, tif50, "Y", "N", f"C{key}", app)
        return v42.ReplaceOrder(orig, key, qty, price, _TIF42[tif % len(_TIF42)], "Y", "N", 0)


def _tif50(tif: int, expire: int) -> tuple[str, tuple[v50.TagValue, ...]]:
    """The 5.0 Time In Force byte and appendages drawn (an ExpireTime with any byte)."""
    seconds = _EXPIRE[expire % len(_EXPIRE)]
    items = () if seconds is None else seconds if isinstance(seconds, tuple) else (seconds,)
    app = tuple(
        x if isinstance(x, v50.TagValue) else v50.TagValue(v50.OptionTag.EXPIRE_TIME, x)
        for x in items
    )
    return _TIF50[tif % len(_TIF50)], app


@_SETTINGS
@given(_steps)
def test_ouch50_host_answers_as_the_exchange(steps: list[tuple[Any, ...]]) -> None:
    pair = _Pair(50)
    for step in steps:
        pair.step(step)
    pair.tick(100_000, False)  # whatever is left to expire, expires alike


@_SETTINGS
@given(_steps)
def test_ouch42_host_answers_as_the_exchange(steps: list[tuple[Any, ...]]) -> None:
    pair = _Pair(42)
    for step in steps:
        pair.step(step)
    pair.tick(100_000, False)
