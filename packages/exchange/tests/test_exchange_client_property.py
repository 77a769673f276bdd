"""The OUCH client's order state agrees with the simulated exchange, whatever happens.

Property (OUCH 5.0 and 4.2): a real :class:`~tickwire.ouch.orders.OrderBook50` /
``OrderBook42`` (its :class:`~tickwire.ouch.tracker.OrderTracker`, what the live path
trusts) sends random requests through a real ``Account50`` / ``Account42`` in front of a
real ``MatchingEngine`` (sans-I/O, the ``Venue`` of ``_exchange_venue.py``), interleaved
with other parties' orders trading against ours, halts and resumes, System Events ``M``,
``E`` and ``Q`` and the clock moving (Day, IOC, GTX, GTT of 1-3 s: Enters, Replaces
that keep GTT, turn a GTT into Day and a Day into GTT, ticks of 1-4 s that cross their
deadlines, so the exchange cancels them ``T`` unsolicited, crossing Cancels and Replaces
in flight, its expiry timer now and then late, so what is due expires as the next request
is handled; 4.2 Time In Force in seconds).
Every answer, solicited or not, is encoded and fed to the client. Requests reach the
exchange and answers the client either at once (every step) or only on drawn ``deliver``
and ``read`` steps, so requests and answers cross in flight. After every step:

* the client never distrusts the honest exchange (``tracker.distrusted == 0``: the order
  manager trips its kill switch on one, docs/robustness.md) and never hears of a key it
  did not track;
* with nothing in flight, every order the client tracks is as the exchange records it:
  live or not, rejected or not, shares open and shares executed over its replace chain
  (a key the exchange never recorded, a replacement it ignored, is over, nothing open);
* with nothing in flight nothing is left pending (``client.pending() == []``): a request
  still pending then is one the exchange ignored, which the client would resend for ever.
* a request the exchange answers was still in ``pending()`` when it arrived (one the
  client stopped counting in flight is one the exchange ignores: else a reconnect would
  not resend it).

A request the client book refuses (``OuchError``: a key it holds no chain under, a
replaced or unknown order) is sent raw to the exchange, which must ignore it (not a
replacement in flight: the book knows it by its original's key until the Order Replaced).
Run locally with ``TW_PROPERTY_EXAMPLES=5000`` and several ``--hypothesis-seed``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from tickwire.exchange.accounts import Account42, Account50
from tickwire.ouch import OuchError, v42, v50
from tickwire.ouch import encode as ouch_encode
from tickwire.ouch.orders import OrderBook42, OrderBook50
from tickwire.ouch.tracker import OrderState

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
from _exchange_venue import Venue, property_settings  # noqa: E402

PX = 1_400_000
_NS = 1_000_000_000
PRICES = [PX - 200, PX - 100, PX, PX + 100, PX + 200, 0, v50.MAX_PRICE, v50.MAX_PRICE + 1]
VALID_PRICES = PRICES[:5]
QTYS = [0, 1, 30, 50, 100, 150, 999_999, 1_000_000]
VALID_QTYS = [1, 30, 50, 100, 150]
SIDES = ["B", "S", "T", "E"]

# Mostly valid values (so orders rest, trade and get replaced), the edges now and then.
_price = st.one_of(
    st.sampled_from(VALID_PRICES), st.sampled_from(VALID_PRICES), st.sampled_from(PRICES)
)
_qty = st.one_of(st.sampled_from(VALID_QTYS), st.sampled_from(VALID_QTYS), st.sampled_from(QTYS))
# the latest key sent (most often), the one before, ... (too far: unknown)
_which = st.one_of(st.just(0), st.integers(0, 2), st.integers(0, 8))
# 5.0: a GTT of 1-3 s (ExpireTime) instead of the drawn Time In Force, or 0: not GTT
# (4.2 ignores it): Enters and Replaces of GTT orders, a GTT replaced by a Day order and
# a Day order by a GTT, whose deadlines the ``tick`` steps (1-4 s) cross.
_gtt = st.sampled_from([0, 0, 0, 1, 2, 3])
# Display: visible mostly, hidden (never on the feed, its fills Trades P) and attributable
# (Add Order with MPID) now and then; a Replace may hide, show or attribute its order.
_display = st.sampled_from(["Y", "Y", "N", "A"])
_enter = st.tuples(
    st.just("enter"), st.sampled_from(SIDES), _qty, _price, st.integers(0, 5), _gtt, _display
)
_replace = st.tuples(st.just("replace"), _which, _qty, _price, st.integers(0, 5), _gtt, _display)
_cancel = st.tuples(st.just("cancel"), _which, st.sampled_from([0, 0, 1, 30, 100, 200]))
_modify = st.tuples(
    st.just("modify"), _which, st.sampled_from(SIDES), st.sampled_from([0, 1, 30, 50, 100, 200])
)
_other = st.tuples(
    st.just("other"),
    st.sampled_from(["B", "S"]),
    st.sampled_from([1, 30, 50, 100, 250]),
    st.sampled_from(VALID_PRICES),
    st.booleans(),  # IOC, or it rests (and our later orders may trade with it)
)
_step = st.one_of(
    _enter,
    _enter,
    _replace,
    _replace,
    _cancel,
    _modify,
    _other,
    _other,
    st.tuples(st.just("state"), st.sampled_from(["H", "T", "T", "M", "E", "Q", "Q", "Q"])),
    # the clock moves 1-4 s; the server's expiry timer fires then, or (True) late: what
    # is due expires only before the next request or other party's order is handled
    st.tuples(st.just("tick"), st.integers(1, 4), st.sampled_from([False, False, True])),
    st.tuples(st.just("deliver"), st.integers(1, 3)),  # requests reach the exchange
    st.tuples(st.just("read"), st.integers(1, 4)),  # answers reach the client
)
_steps = st.lists(_step, min_size=10, max_size=40)

#: 5.0 Time In Force by draw: Day, IOC, GTX (and Day again).
_TIF50 = [v50.TimeInForce.DAY, v50.TimeInForce.IOC, v50.TimeInForce.GTX, v50.TimeInForce.DAY]


def _tif50(tif: int, gtt: int) -> dict[str, Any]:
    """The 5.0 Time In Force keywords drawn: GTT with an ExpireTime of ``gtt`` seconds, or
    (``gtt`` 0) ``_TIF50``'s and no appendage."""
    if gtt:
        exp = v50.TagValue(v50.OptionTag.EXPIRE_TIME, gtt)
        return {"time_in_force": v50.TimeInForce.GTT, "appendages": (exp,)}
    return {"time_in_force": _TIF50[tif % 4]}


#: 4.2 Time In Force by draw: IOC, market hours, system hours, seconds.
_TIF42 = [v42.TIF_IOC, v42.TIF_MARKET_HOURS, v42.TIF_SYSTEM_HOURS, 1, 2, 5]

# CI-sized (about 2 s each); ``TW_PROPERTY_EXAMPLES`` sets it (module docs).
_SETTINGS = property_settings(600)


class _Run:
    """One session: the exchange, the client, the clock."""

    def __init__(self, version: int) -> None:
        self.version = version
        self.now = [1]
        account = Account50 if version == 50 else Account42
        self.v = Venue(account, clock=lambda: self.now[0])
        self.client: Any = OrderBook50() if version == 50 else OrderBook42()
        self.keys: list[Any] = []  # every key the client ever sent, in order
        self.inbound: list[tuple[object, bool]] = []  # (request, raw) on the way in
        self.outbound: list[object] = []  # answers on the way out, in sequence

    def feed(self, out: list[object]) -> None:
        """Queue the unsolicited answers (already in ``v.sent``), then ``out``."""
        msgs, self.v.sent[:] = list(self.v.sent), []
        for m in msgs + list(out):
            ouch_encode(m)  # type: ignore[arg-type]  # what the server would send
            self.outbound.append(m)

    def deliver(self, n: int) -> None:
        """The exchange handles the next ``n`` requests in flight."""
        while n and self.inbound:
            n -= 1
            req, raw = self.inbound.pop(0)
            if raw:  # a request the client book refused: the exchange must ignore it too
                self.v.acct.expire()  # (what ``handle`` does first: the timer was late)
                before = self.v.state()
                out = self.v.acct.handle(req)  # type: ignore[arg-type]
                assert out == [] and self.v.state() == before, (req, out)
                self.feed([])
            else:
                kept = any(p is req for p in self.client.pending())
                out = self.v.acct.handle(req)  # type: ignore[arg-type]
                # a request the client stopped counting in flight is one the exchange
                # ignores (else a reconnect now would not resend what the exchange wants)
                assert kept or out == [], ("answered, not pending", req, out)
                self.feed(out)

    def read(self, n: int) -> None:
        """The client reads the next ``n`` answers."""
        t = self.client.tracker
        while n and self.outbound:
            n -= 1
            m, before = self.outbound.pop(0), t.distrusted
            self.client.on_message(m)
            assert t.distrusted == before, ("distrusted", m, self.client.orders)

    def flush(self) -> None:
        while self.inbound or self.outbound:
            self.deliver(len(self.inbound))
            self.read(len(self.outbound))

    def key(self, which: int) -> Any:
        return self.keys[-1 - which] if which < len(self.keys) else self.unknown()

    def unknown(self) -> Any:
        return 0xFFFF if self.version == 50 else "ZZUNKNOWN00001"

    def handle(self, req: object) -> None:
        self.inbound.append((req, False))

    def raw(self, key: Any, req: object) -> None:
        """``req`` names ``key``, which the client book holds no chain under: sent raw, the
        exchange must ignore it, unless ``key`` is a replacement in flight (the book knows
        a chain by its current key only until the Order Replaced: not sent)."""
        o = self.client.tracker.orders.get(key)
        if o is None or not o.is_open:
            self.inbound.append((req, True))

    def step(self, s: tuple[Any, ...]) -> None:
        kind = s[0]
        c, v = self.client, self.v
        if kind == "enter":
            _, side, qty, price, tif, *gtt = s
            shown = {"display": gtt[1]} if gtt[1:] else {}
            if self.version == 50:
                tif50 = _tif50(tif, gtt[0] if gtt else 0)
                req = c.enter(side, qty, "AAPL", price, **tif50, **shown)
                self.keys.append(req.user_ref_num)
            else:
                req = c.enter(side, qty, "AAPL", price, time_in_force=_TIF42[tif], **shown)
                self.keys.append(req.order_token)
            self.handle(req)
        elif kind == "replace":
            _, which, qty, price, tif, *gtt = s
            key = self.key(which)
            shown = {"display": gtt[1]} if gtt[1:] else {}
            try:
                if tif == 5 and not (gtt and gtt[0]):  # nothing but shares and price: the
                    req = c.replace(key, qty, price)  # order's terms kept (the book's rule)
                elif self.version == 50:
                    tif50 = _tif50(tif, gtt[0] if gtt else 0)
                    req = c.replace(key, qty, price, **tif50, **shown)
                else:
                    req = c.replace(key, qty, price, time_in_force=_TIF42[tif], **shown)
                self.keys.append(
                    req.user_ref_num if self.version == 50 else req.replacement_order_token
                )
            except OuchError:
                assert key not in c.orders
                if self.version == 50:
                    nxt = c.next_user_ref_num
                    c.next_user_ref_num += 1  # used by nobody: the exchange ignores it
                    self.raw(
                        key, v50.ReplaceOrder(key, nxt, qty or 1, price or PX, "0", "Y", "N", "")
                    )
                else:
                    tok = c.new_token()
                    self.raw(
                        key, v42.ReplaceOrder(key, tok, qty or 1, price or PX, 99998, "Y", "N", 0)
                    )
                return
            self.handle(req)
        elif kind == "cancel":
            _, which, qty = s
            key = self.key(which)
            try:
                req = c.cancel(key, qty)
            except OuchError:
                assert key not in c.orders
                raw = v50.CancelOrder(key, qty) if self.version == 50 else v42.CancelOrder(key, qty)
                self.raw(key, raw)
                return
            self.handle(req)
        elif kind == "modify":
            _, which, side, qty = s
            key = self.key(which)
            try:
                req = c.modify(key, side, qty)
            except OuchError:
                assert key not in c.orders
                if self.version == 50:
                    self.raw(key, v50.ModifyOrder(key, side, qty))
                else:
                    self.raw(key, v42.ModifyOrder(key, side, qty))
                return
            self.handle(req)
        elif kind == "other":
            _, side, qty, price, ioc = s
            v.acct.expire()  # what is due first, as the server does (``_expire_due``)
            v.engine.submit("AAPL", side, qty, price, ioc=ioc)
            self.feed([])
        elif kind == "state":
            code = s[1]
            v.acct.expire()  # (as the server does before any flow message)
            if code in "HT":
                v.engine.set_trading_state("AAPL", code)
            else:
                v.engine.system(code)
            self.feed([])
        elif kind == "tick":
            self.now[0] += s[1] * _NS
            if not s[2:] or not s[2]:  # else the timer is late: ``handle`` expires first
                v.acct.expire()
            self.feed([])
        elif kind == "deliver":
            self.deliver(s[1])
        elif kind == "read":
            self.read(s[1])
        elif kind == "flush":  # everything in flight arrives (the regression tests')
            self.flush()

    def check(self) -> None:
        c, recs = self.client, self.v.acct.records
        t = c.tracker
        assert t.distrusted == 0, [(k, o.history) for k, o in t.orders.items() if o.history]
        assert t.unknown == 0
        if self.inbound or self.outbound:
            return  # in flight: the views agree once it has arrived
        for key, o in t.orders.items():
            rec = recs.get(key)
            if rec is None:  # never recorded: a replace the exchange ignored
                seen = (o.state.value, o.quantity)
                assert o.state is not OrderState.LIVE and o.state is not OrderState.PENDING, (
                    key,
                    seen,
                )
                assert o.quantity == 0, (key, seen)
                continue
            client = (o.state.value, o.quantity, o.executed)
            exchange = (rec.state, rec.open, rec.executed)
            assert (o.state is OrderState.LIVE) == (rec.state == "live"), (key, client, exchange)
            assert (o.state is OrderState.REJECTED) == (rec.state == "rejected"), (
                key,
                client,
                exchange,
            )
            assert o.quantity == rec.open, (key, client, exchange)
            assert o.executed == rec.executed, (key, client, exchange)
        assert c.pending() == []
        self.v.equal()


def _run(version: int, steps: list[tuple[Any, ...]], at_once: bool) -> None:
    """``at_once``: every request is answered and read before the next step; else they
    travel only on the ``deliver`` and ``read`` steps (requests and answers cross)."""
    r = _Run(version)
    for s in steps:
        r.step(s)
        if at_once:
            r.flush()
        r.check()
    r.flush()
    r.check()


@_SETTINGS
@given(_steps, st.booleans())
def test_ouch50_the_client_agrees_with_the_exchange(
    steps: list[tuple[Any, ...]], at_once: bool
) -> None:
    _run(50, steps, at_once)


@_SETTINGS
@given(_steps, st.booleans())
def test_ouch42_the_client_agrees_with_the_exchange(
    steps: list[tuple[Any, ...]], at_once: bool
) -> None:
    _run(42, steps, at_once)


# --- the disagreements the property found, each a sequence of its own -----------------
def _session(version: int, steps: list[tuple[Any, ...]]) -> _Run:
    """Run ``steps`` (requests and answers travel only on ``deliver``/``read``/``flush``),
    then everything in flight, checking the property after each; the run, to look at.
    Time In Force 2: 5.0 GTX, 4.2 system hours (both rest)."""
    r = _Run(version)
    for s in steps:
        r.step(s)
        r.check()
    r.flush()
    r.check()
    return r


def test_a_replace_of_an_order_over_ends_at_once_and_is_not_resent() -> None:
    """A Replace of an order the client knows is over (its Enter rejected: 0 shares) is
    ignored by the exchange (OUCH 5.0 section 2.2, case 1, 4.2 the same): the client
    ends the replacement at once and keeps nothing to resend. So too a Replace sent while
    the Enter was in flight, once the Rejected is read. Before: the replacement stayed
    pending for ever, ``pending()`` resending it."""
    for version in (50, 42):
        r = _session(version, [("enter", "B", 0, PX, 2), ("flush",),
                               ("replace", 0, 100, PX, 2)])  # fmt: skip
        new = r.client.tracker.orders[r.keys[-1]]
        assert (new.state, new.quantity, r.client.pending()) == (OrderState.DEAD, 0, [])
        r = _session(version, [("enter", "B", 0, PX, 2), ("replace", 0, 100, PX, 2)])
        assert r.client.tracker.orders[r.keys[-1]].state is OrderState.DEAD


def test_a_second_replace_in_flight_of_one_original_ends_when_the_first_replaces_it() -> None:
    """Two Replaces of one original sent before either is answered: the exchange takes the
    first and ignores the second (the original is gone, section 2.2 case 1). Before: the
    second replacement stayed pending for ever."""
    for version in (50, 42):
        r = _session(version, [("enter", "B", 100, PX, 2), ("flush",),
                               ("replace", 0, 50, PX, 2), ("replace", 1, 40, PX, 2)])  # fmt: skip
        first, second = (r.client.tracker.orders[k] for k in r.keys[-2:])
        assert (first.state, first.quantity) == (OrderState.LIVE, 50)
        assert (second.state, second.quantity) == (OrderState.DEAD, 0)


def test_requests_the_exchange_ignores_are_not_kept_pending() -> None:
    """A Cancel of an order over or to a size at or above its shares open, a repeated
    Cancel, a Modify to more shares than open: the exchange answers none (OUCH 5.0
    sections 2.3, 2.4), so the client keeps none pending, whether moot when sent or made
    so by an answer read meanwhile (a fill crossing a Cancel). Before: each stayed in
    ``pending()`` for ever."""
    for version in (50, 42):
        _session(version, [("enter", "B", 0, PX, 2), ("flush",),
                           ("cancel", 0, 0), ("modify", 0, "B", 0)])  # fmt: skip
        _session(version, [("enter", "B", 100, PX, 2), ("flush",),
                           ("cancel", 0, 100), ("modify", 0, "B", 200),
                           ("cancel", 0, 0), ("cancel", 0, 0)])  # fmt: skip
        # a Cancel to 50 crossed by a fill of 60: ignored by the exchange
        _session(version, [("enter", "B", 100, PX, 2), ("flush",),
                           ("cancel", 0, 50), ("other", "S", 30, PX, True),
                           ("other", "S", 30, PX, True), ("deliver", 1)])  # fmt: skip


def test_a_replacement_takes_the_side_a_modify_gave_its_original() -> None:
    """A sell short (T) modified to S, then replaced, the Modify still in flight when the
    Replace is sent: the exchange's Order Replaced names side S, the original's side as
    the Modify left it. Before: the client's replacement kept T and distrusted that honest
    answer (the order manager's kill switch)."""
    for version in (50, 42):
        r = _session(version, [("enter", "T", 100, PX, 2), ("flush",), ("modify", 0, "S", 100),
                               ("replace", 0, 50, PX, 2)])  # fmt: skip
        assert r.client.tracker.orders[r.keys[-1]].side == "S"


def test_ouch42_a_replace_of_a_partly_executed_order_opens_the_total_less_executed() -> None:
    """OUCH 4.2 Replace: Shares is the chain's total, as in 5.0 (the client's rule): a buy
    of 100 with 30 executed replaced to 80 opens 50, and to 30 or less is replaced dead.
    Before: ``Account42`` opened 80 and the client distrusted the Order Replaced."""
    r = _session(42, [("enter", "B", 100, PX, 2), ("flush",), ("other", "S", 30, PX, True), ("flush",),
                      ("replace", 0, 80, PX, 2)])  # fmt: skip
    key = r.keys[-1]
    assert (r.v.acct.records[key].open, r.client.tracker.orders[key].quantity) == (50, 50)
    r = _session(42, [("enter", "B", 100, PX, 2), ("flush",), ("other", "S", 30, PX, True), ("flush",),
                      ("replace", 0, 30, PX, 2)])  # fmt: skip
    rec = r.v.acct.records[r.keys[-1]]
    assert (rec.state, rec.open, rec.executed) == ("done", 0, 30)
    assert r.client.tracker.orders[r.keys[-1]].state is OrderState.DEAD


def test_a_second_cancel_or_modify_in_flight_stays_pending_until_answered() -> None:
    """Two Cancels (two Modifies) of one order in flight: the first one's answer
    acknowledges it alone; the second stays in ``pending()`` (to resend after a reconnect)
    until its own answer (the harness checks a request the exchange answers was pending
    when it arrived). Before: the first answer dropped both."""
    for version in (50, 42):
        _session(version, [("enter", "B", 100, PX, 2), ("flush",), ("cancel", 0, 30),
                           ("cancel", 0, 0), ("deliver", 1), ("read", 1), ("deliver", 1)])  # fmt: skip
        _session(version, [("enter", "S", 100, PX, 2), ("flush",), ("modify", 0, "S", 50),
                           ("modify", 0, "T", 30), ("deliver", 1), ("read", 1), ("deliver", 1)])  # fmt: skip
