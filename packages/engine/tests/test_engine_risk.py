"""Pre-trade risk: a table of cases per check, config validation, the ledger, and a
hypothesis property that no order leaving the engine breaks any configured limit."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tickwire.engine.risk import (
    _WIRE_FORMS,
    _WIRE_FORMS_MAX,
    Ledger,
    RiskConfigError,
    RiskEngine,
    RiskLimits,
    RiskReason,
    load_risk_limits,
    parse_risk_limits,
    wire_symbol,
)
from tickwire.engine.strategy import OrderManager
from tickwire.ouch import v50

SYM = "AAPL"
REF = 1_000_000  # $100.0000


def engine(**limits: Any) -> RiskEngine:
    r = RiskEngine(RiskLimits(**limits))
    r.set_reference(SYM, REF)
    r.set_reference("MSFT", REF)
    return r


# (limits, setup actions, order (symbol, side, qty, price, now), expected reason or None)
CASES: list[
    tuple[str, dict[str, Any], list[tuple[Any, ...]], tuple[Any, ...], RiskReason | None]
] = [
    ("plain order passes", {}, [], (SYM, "B", 100, REF, 0), None),
    ("zero quantity", {}, [], (SYM, "B", 0, REF, 0), RiskReason.INVALID),
    ("quantity over OUCH max", {}, [], (SYM, "B", 1_000_000, REF, 0), RiskReason.INVALID),
    ("zero price", {}, [], (SYM, "B", 1, 0, 0), RiskReason.INVALID),
    ("kill switch", {"armed": False}, [], (SYM, "B", 100, REF, 0), RiskReason.KILL_SWITCH),
    ("kill engaged later", {}, [("kill",)], (SYM, "S", 100, REF, 0), RiskReason.KILL_SWITCH),
    ("re-armed", {}, [("kill",), ("arm",)], (SYM, "S", 100, REF, 0), None),
    (
        "restricted",
        {"restricted": frozenset({SYM})},
        [],
        (SYM, "B", 1, REF, 0),
        RiskReason.RESTRICTED,
    ),
    ("not restricted", {"restricted": frozenset({"MSFT"})}, [], (SYM, "B", 1, REF, 0), None),
    ("max qty at limit", {"max_order_qty": 100}, [], (SYM, "B", 100, REF, 0), None),
    ("max qty over", {"max_order_qty": 100}, [], (SYM, "B", 101, REF, 0), RiskReason.MAX_ORDER_QTY),
    ("notional at limit", {"max_order_notional": 100 * REF}, [], (SYM, "B", 100, REF, 0), None),
    (
        "notional over",
        {"max_order_notional": 100 * REF},
        [],
        (SYM, "B", 100, REF + 1, 0),
        RiskReason.MAX_NOTIONAL,
    ),
    ("collar inside", {"price_collar_bps": 100}, [], (SYM, "B", 1, REF + 10_000, 0), None),
    (
        "collar outside",
        {"price_collar_bps": 100},
        [],
        (SYM, "B", 1, REF + 10_001, 0),
        RiskReason.PRICE_COLLAR,
    ),
    (
        "collar below",
        {"price_collar_bps": 100},
        [],
        (SYM, "S", 1, REF - 10_001, 0),
        RiskReason.PRICE_COLLAR,
    ),
    (
        "collar no reference",
        {"price_collar_bps": 100},
        [],
        ("ZZZZ", "B", 1, REF, 0),
        RiskReason.PRICE_COLLAR,
    ),
    (
        "position fits",
        {"max_position": 300},
        [("send", 1, SYM, "B", 200, REF)],
        (SYM, "B", 100, REF, 0),
        None,
    ),
    (
        "position with open orders",
        {"max_position": 300},
        [("send", 1, SYM, "B", 200, REF)],
        (SYM, "B", 101, REF, 0),
        RiskReason.MAX_POSITION,
    ),
    (
        "position other side ok",
        {"max_position": 300},
        [("send", 1, SYM, "B", 300, REF)],
        (SYM, "S", 300, REF, 0),
        None,
    ),
    (
        "position after fill",
        {"max_position": 300},
        [("send", 1, SYM, "S", 300, REF), ("fill", 1, SYM, "S", 300, REF)],
        (SYM, "S", 1, REF, 0),
        RiskReason.MAX_POSITION,
    ),
    (
        "position override",
        {"max_position": 300, "position_limits": {SYM: 50}},
        [],
        (SYM, "B", 51, REF, 0),
        RiskReason.MAX_POSITION,
    ),
    (
        "position other symbol",
        {"max_position": 300, "position_limits": {SYM: 50}},
        [],
        ("MSFT", "B", 51, REF, 0),
        None,
    ),
    (
        "credit fits",
        {"credit_limit": 300 * REF},
        [("send", 1, SYM, "B", 200, REF)],
        (SYM, "S", 100, REF, 0),
        None,
    ),
    (
        "credit over with open",
        {"credit_limit": 300 * REF},
        [("send", 1, SYM, "B", 200, REF)],
        (SYM, "S", 101, REF, 0),
        RiskReason.CREDIT_LIMIT,
    ),
    (
        "credit counts executions",
        {"credit_limit": 300 * REF},
        [
            ("send", 1, SYM, "B", 200, REF),
            ("fill", 1, SYM, "B", 200, REF),
            ("send", 2, SYM, "S", 100, REF),
        ],
        (SYM, "S", 1, REF, 0),
        RiskReason.CREDIT_LIMIT,
    ),
    (
        "daily loss not hit",
        {"daily_loss_limit": 100 * 10_000},
        [
            ("send", 1, SYM, "B", 100, REF),
            ("fill", 1, SYM, "B", 100, REF),
            ("mark", SYM, REF - 9_999),
        ],
        (SYM, "S", 1, REF, 0),
        None,
    ),
    (
        "daily loss hit (unrealised)",
        {"daily_loss_limit": 100 * 10_000},
        [
            ("send", 1, SYM, "B", 100, REF),
            ("fill", 1, SYM, "B", 100, REF),
            ("mark", SYM, REF - 10_000),
        ],
        (SYM, "S", 1, REF, 0),
        RiskReason.DAILY_LOSS,
    ),
    (
        "daily loss hit (realised)",
        {"daily_loss_limit": 100 * 10_000},
        [
            ("send", 1, SYM, "B", 100, REF),
            ("fill", 1, SYM, "B", 100, REF),
            ("send", 2, SYM, "S", 100, REF - 10_000),
            ("fill", 2, SYM, "S", 100, REF - 10_000),
            ("mark", SYM, REF),
        ],
        (SYM, "B", 1, REF, 0),
        RiskReason.DAILY_LOSS,
    ),
    (
        "open orders below max",
        {"max_open_orders": 2},
        [("send", 1, SYM, "B", 1, REF)],
        (SYM, "B", 2, REF, 0),
        None,
    ),
    (
        "open orders at max",
        {"max_open_orders": 2},
        [("send", 1, SYM, "B", 1, REF), ("send", 2, SYM, "B", 2, REF)],
        (SYM, "B", 3, REF, 0),
        RiskReason.MAX_OPEN_ORDERS,
    ),
    (
        "open orders freed by cancel",
        {"max_open_orders": 2},
        [("send", 1, SYM, "B", 1, REF), ("send", 2, SYM, "B", 2, REF), ("done", 1)],
        (SYM, "B", 3, REF, 0),
        None,
    ),
    (
        "duplicate inside window",
        {"duplicate_window_ns": 1_000},
        [("send_at", 1, SYM, "B", 100, REF, 0)],
        (SYM, "B", 100, REF, 999),
        RiskReason.DUPLICATE,
    ),
    (
        "duplicate after window",
        {"duplicate_window_ns": 1_000},
        [("send_at", 1, SYM, "B", 100, REF, 0)],
        (SYM, "B", 100, REF, 1_000),
        None,
    ),
    (
        "not a duplicate (price)",
        {"duplicate_window_ns": 1_000},
        [("send_at", 1, SYM, "B", 100, REF, 0)],
        (SYM, "B", 100, REF + 1, 10),
        None,
    ),
    (
        "throttle full",
        {"throttle_orders": 2, "throttle_window_ns": 1_000},
        [("send_at", 1, SYM, "B", 1, REF, 0), ("send_at", 2, SYM, "B", 2, REF, 500)],
        (SYM, "B", 3, REF, 999),
        RiskReason.THROTTLE,
    ),
    (
        "throttle slides",
        {"throttle_orders": 2, "throttle_window_ns": 1_000},
        [("send_at", 1, SYM, "B", 1, REF, 0), ("send_at", 2, SYM, "B", 2, REF, 500)],
        (SYM, "B", 3, REF, 1_000),
        None,
    ),
]


def _apply(r: RiskEngine, action: tuple[Any, ...]) -> None:
    kind = action[0]
    if kind == "kill":
        r.kill()
    elif kind == "arm":
        r.arm()
    elif kind == "send":
        _, ref, sym, side, qty, price = action
        assert r.submit(ref, sym, side, qty, price, 0) is None
    elif kind == "send_at":
        _, ref, sym, side, qty, price, now = action
        assert r.submit(ref, sym, side, qty, price, now) is None
    elif kind == "fill":
        _, ref, sym, side, qty, price = action
        r.fill(ref, sym, side, qty, price)
    elif kind == "mark":
        r.set_reference(action[1], action[2])
    elif kind == "done":
        r.order_done(action[1])
    else:  # pragma: no cover
        raise AssertionError(kind)


@pytest.mark.parametrize(
    ("limits", "setup", "order", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_engine_risk_check_table(
    limits: dict[str, Any],
    setup: list[tuple[Any, ...]],
    order: tuple[Any, ...],
    expected: RiskReason | None,
) -> None:
    r = engine(**limits)
    for action in setup:
        _apply(r, action)
    sym, side, qty, price, now = order
    refusal = r.submit(99, sym, side, qty, price, now)
    if expected is None:
        assert refusal is None
        assert r.refusals == {}
    else:
        assert refusal is not None and refusal.reason is expected
        assert r.refusals == {expected.value: 1}  # each refusal is counted by reason
        assert refusal.detail


def test_engine_risk_replace_is_checked_as_the_new_order() -> None:
    r = engine(max_position=300, max_open_orders=1, credit_limit=300 * REF)
    assert r.submit(1, SYM, "B", 300, REF, 0) is None
    # Replacing the only order with another 300 does not double count it.
    assert r.check(SYM, "B", 300, REF, 0, replaces=1) is None
    assert r.check(SYM, "B", 301, REF, 0, replaces=1) is not None
    assert r.submit(2, SYM, "B", 250, REF, 0, replaces=1) is None
    assert r.open_orders() == 1


def test_engine_risk_duplicate_window_keys_display() -> None:
    """``duplicate`` guards against one order sent twice (a loop, a retry), which goes
    with the same Display: an order differing only in Display (a displayed order at the
    price of a hidden one sent just before, on purpose) is another order and leaves;
    the same hidden order again is refused, in the engine and through the order manager
    (its ``display=``). Before: the key was (symbol, side, quantity, price) and the
    displayed order was refused as a duplicate of the hidden one."""
    sent: list[object] = []
    m = OrderManager(sent.append, engine(duplicate_window_ns=1_000), lambda: 7)
    hidden = m.submit(SYM, "B", 100, REF, display="N")
    shown = m.submit(SYM, "B", 100, REF)
    again = m.submit(SYM, "B", 100, REF, display="N")
    assert [o.refused for o in (hidden, shown, again)] == [False, False, True]
    assert [getattr(msg, "display", None) for msg in sent] == ["N", "Y"]

    r = engine(duplicate_window_ns=1_000)
    assert r.submit(1, SYM, "B", 100, REF, 0, display="N") is None
    assert r.check(SYM, "B", 100, REF, 10) is None  # displayed (default Y)
    assert r.submit(2, SYM, "B", 100, REF, 10, display="Y") is None
    assert r.submit(3, SYM, "B", 100, REF, 20, display="A") is None  # attributable
    for ref, display in ((4, "N"), (5, "Y"), (6, "A")):
        refusal = r.submit(ref, SYM, "B", 100, REF, 30, display=display)
        assert refusal is not None and refusal.reason is RiskReason.DUPLICATE
    assert r.refusals == {"duplicate": 3}
    # A replace is keyed by the Display it goes with (kept, or given).
    assert r.check(SYM, "B", 100, REF, 40, replaces=1, display="N") is not None
    assert r.check(SYM, "B", 100, REF + 1, 40, replaces=1, display="N") is None


def test_engine_risk_refused_orders_do_not_count() -> None:
    r = engine(throttle_orders=1, throttle_window_ns=1_000, max_order_qty=10)
    assert r.submit(1, SYM, "B", 11, REF, 0) is not None  # max qty: not sent
    assert r.submit(2, SYM, "B", 10, REF, 0) is None  # the throttle still has room
    assert r.submit(3, SYM, "B", 10, REF + 1, 1) is not None
    assert r.refusals == {"max_order_qty": 1, "throttle": 1}


# -- configuration ----------------------------------------------------------------------


def test_engine_risk_config_parses(tmp_path: Path) -> None:
    path = tmp_path / "risk.toml"
    path.write_text(
        "[risk]\narmed = true\nmax_order_qty = 1000\nthrottle_orders = 5\nthrottle_window_ns = 1000\n"
        'restricted = ["GME"]\n[risk.position_limits]\nAAPL = 200\n'
    )
    lim = load_risk_limits(path)
    assert lim.max_order_qty == 1000
    assert lim.restricted == frozenset({"GME"})
    assert lim.position_limit("AAPL") == 200
    assert lim.position_limit("MSFT") is None


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"max_positon": 5}, "risk.max_positon: unknown key"),
        (
            {"max_order_qty": -1},
            "risk.max_order_qty: must be between 0 and 4611686018427387903, got -1",
        ),
        ({"max_order_qty": "100"}, "risk.max_order_qty: must be an integer"),
        ({"max_order_qty": True}, "risk.max_order_qty: must be an integer"),
        ({"armed": 1}, "risk.armed: must be a boolean"),
        ({"throttle_orders": 5}, "risk.throttle_orders: throttle_orders and throttle_window_ns"),
        (
            {"throttle_orders": 5, "throttle_window_ns": 0},
            "risk.throttle_window_ns: must be between 1 and",
        ),
        ({"restricted": "GME"}, "risk.restricted: must be a list"),
        ({"restricted": ["TOOLONGNAME"]}, "risk.restricted[0]: must be 1 to 8 characters, got 11"),
        ({"position_limits": {"AAPL": -3}}, "risk.position_limits.AAPL: must be between 0 and"),
    ],
)
def test_engine_risk_config_errors_name_the_key(table: dict[str, Any], message: str) -> None:
    with pytest.raises(RiskConfigError) as info:
        parse_risk_limits(table)
    assert str(info.value).startswith(message)


def test_engine_risk_config_bad_toml(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[risk\n")
    with pytest.raises(RiskConfigError, match="not valid TOML"):
        load_risk_limits(path)


# -- the ledger --------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from("BS"), st.integers(1, 500), st.integers(9_000, 11_000)),
        max_size=40,
    ),
    st.integers(9_000, 11_000),
)
def test_engine_risk_ledger_reconciles(trades: list[tuple[str, int, int]], mark: int) -> None:
    """cash + position x mark == realised + unrealised, exactly, after any fills."""
    led = Ledger()
    cash = pos = 0
    for side, qty, price in trades:
        led.fill(SYM, side, qty, price)
        signed = qty if side == "B" else -qty
        cash -= signed * price
        pos += signed
    led.mark(SYM, mark)
    assert led.positions.get(SYM, 0) == pos
    assert led.cash.get(SYM, 0) == cash
    assert led.pnl(SYM) == cash + pos * mark
    assert led.total_pnl() == cash + pos * mark


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["AAPL", "MSFT", "GME"]),
            st.sampled_from(["B", "S"]),
            st.integers(1, 500),
            st.integers(9_000, 11_000),
        ),
        max_size=40,
    ),
    st.dictionaries(st.sampled_from(["AAPL", "MSFT", "GME"]), st.integers(9_000, 11_000)),
)
def test_engine_risk_ledger_totals_are_the_sums_per_symbol(
    trades: list[tuple[str, str, int, int]], marks: dict[str, int]
) -> None:
    """total_unrealised and total_pnl (one loop, for risk's every order) equal the sums of
    unrealised and pnl per symbol, over several symbols, marked or not, flat or not."""
    led = Ledger()
    for symbol, side, qty, price in trades:
        led.fill(symbol, side, qty, price)
    for symbol, mark in marks.items():
        led.mark(symbol, mark)
    symbols = set(led.positions) | set(led.marks)
    assert led.total_unrealised() == sum(led.unrealised(s) for s in symbols)
    assert led.total_pnl() == sum(led.pnl(s) for s in symbols)


def test_engine_risk_ledger_round_trip() -> None:
    led = Ledger()
    led.fill(SYM, "B", 100, 10_000)
    led.fill(SYM, "B", 100, 12_000)
    led.fill(SYM, "S", 100, 13_000)  # average cost 11,000: realised 2,000 x 100
    assert led.realised[SYM] == 200_000
    led.fill(SYM, "S", 200, 10_000)  # close 100 at -1,000 each, open short 100 at 10,000
    assert led.realised[SYM] == 100_000
    assert led.positions[SYM] == -100
    led.mark(SYM, 9_000)
    assert led.unrealised(SYM) == 100_000


# -- the property: nothing that leaves breaks a limit --------------------------------------

LIMITS = RiskLimits(
    max_order_qty=250,
    max_order_notional=240 * 10_000,
    credit_limit=1_000 * 10_000,
    max_position=800,
    position_limits={"MSFT": 300},
    daily_loss_limit=50_000,
    price_collar_bps=500,
    restricted=frozenset({"GME"}),
    duplicate_window_ns=50,
    throttle_orders=4,
    throttle_window_ns=100,
    max_open_orders=3,
)
#: Only the exposure limits, loose enough that fills pile up against them.
EXPOSURE = RiskLimits(
    credit_limit=2_000 * 10_000, max_position=600, max_open_orders=8, max_order_qty=250
)

_order = st.tuples(
    st.just("order"),
    st.sampled_from(["AAPL", "AAPL", "MSFT", "GME"]),
    st.sampled_from("BS"),
    st.integers(1, 300),
    st.integers(9_400, 10_600),
    st.integers(0, 30),
)
actions = st.lists(
    st.one_of(
        _order,
        _order,
        _order,
        st.tuples(
            st.just("fill"), st.integers(0, 50), st.integers(1, 450), st.integers(8_500, 11_500)
        ),
        st.tuples(st.just("cancel"), st.integers(0, 50)),
        st.tuples(st.just("mark"), st.sampled_from(["AAPL", "MSFT"]), st.integers(9_000, 11_000)),
        st.tuples(st.just("kill"), st.sampled_from([True, True, True, False])),
    ),
    min_size=10,
    max_size=80,
)


def _long_script(rng: random.Random, n: int) -> list[tuple[Any, ...]]:
    """A long random day of actions: long enough that every limit is reached."""
    out: list[tuple[Any, ...]] = []
    for _ in range(n):
        u = rng.random()
        if u < 0.5:
            sym = rng.choice(["AAPL", "AAPL", "MSFT", "GME"])
            # Round lots at the reference price half the time, so duplicates happen.
            qty = rng.choice([100, 200]) if rng.random() < 0.5 else rng.randint(1, 300)
            price = 10_000 if rng.random() < 0.5 else rng.randint(9_400, 10_600)
            out.append(("order", sym, rng.choice("BS"), qty, price, rng.randint(0, 30)))
        elif u < 0.8:
            out.append(
                ("fill", rng.randint(0, 50), rng.randint(1, 450), rng.randint(8_500, 11_500))
            )
        elif u < 0.9:
            out.append(("cancel", rng.randint(0, 50)))
        elif u < 0.97:
            out.append(("mark", rng.choice(["AAPL", "MSFT"]), rng.randint(9_000, 11_000)))
        else:
            out.append(("kill", rng.random() < 0.6))
    return out


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([LIMITS, EXPOSURE]), actions)
def test_engine_risk_no_order_leaving_breaks_a_limit(
    lim: RiskLimits, script: list[tuple[Any, ...]]
) -> None:
    """Replay random orders, fills, cancels, marks and kill switches; for every order the
    engine lets through, recompute every configured limit from an independent model."""
    _check_script(lim, script)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([LIMITS, EXPOSURE]), st.integers(0, 2**32 - 1))
def test_engine_risk_no_order_leaving_breaks_a_limit_long_days(lim: RiskLimits, seed: int) -> None:
    """The same property over long seeded scripts (400 actions), which push every limit."""
    _check_script(lim, _long_script(random.Random(seed), 400))


def _check_script(lim: RiskLimits, script: list[tuple[Any, ...]]) -> None:
    r = RiskEngine(lim)
    now = 0
    ref = 0
    armed = True
    # The independent model.
    open_orders: dict[int, list[Any]] = {}  # ref -> [symbol, side, remaining, price]
    pos: dict[str, int] = {}
    cash: dict[str, int] = {}
    marks: dict[str, int] = {}
    executed = 0
    sent: list[tuple[int, str, str, int, int]] = []  # (time, symbol, side, qty, price)
    for sym in ("AAPL", "MSFT", "GME"):
        r.set_reference(sym, 10_000)
        marks[sym] = 10_000
    for action in script:
        kind = action[0]
        if kind == "order":
            _, sym, side, qty, price, dt = action
            now += dt
            ref += 1
            if r.submit(ref, sym, side, qty, price, now) is not None:
                continue
            assert armed
            assert sym not in lim.restricted
            if lim.max_order_qty is not None:
                assert qty <= lim.max_order_qty
            if lim.max_order_notional is not None:
                assert qty * price <= lim.max_order_notional
            if lim.price_collar_bps is not None:
                ref_px = marks[sym]
                assert abs(price - ref_px) * 10_000 <= lim.price_collar_bps * ref_px
            worst = pos.get(sym, 0) + sum(
                (o[2] if o[1] == "B" else -o[2])
                for o in open_orders.values()
                if o[0] == sym and o[1] == side
            )
            worst += qty if side == "B" else -qty
            max_pos = lim.position_limit(sym)
            if max_pos is not None:
                assert abs(worst) <= max_pos
            credit = executed + sum(o[2] * o[3] for o in open_orders.values()) + qty * price
            if lim.credit_limit is not None:
                assert credit <= lim.credit_limit
            pnl = sum(cash.get(s, 0) + p * marks.get(s, 0) for s, p in pos.items())
            if lim.daily_loss_limit is not None:
                assert pnl > -lim.daily_loss_limit
            if lim.max_open_orders is not None:
                assert len(open_orders) < lim.max_open_orders
            if lim.duplicate_window_ns is not None:
                window = lim.duplicate_window_ns
                assert not any(
                    t > now - window and (s, sd, q, p) == (sym, side, qty, price)
                    for t, s, sd, q, p in sent
                )
            if lim.throttle_orders is not None and lim.throttle_window_ns is not None:
                recent = sum(1 for t, *_ in sent if t > now - lim.throttle_window_ns)
                assert recent < lim.throttle_orders
            sent.append((now, sym, side, qty, price))
            open_orders[ref] = [sym, side, qty, price]
        elif kind == "fill":
            _, pick, qty, price = action
            if not open_orders:
                continue
            oref = sorted(open_orders)[pick % len(open_orders)]
            o = open_orders[oref]
            q = min(qty, o[2])
            r.fill(oref, o[0], o[1], q, price)
            signed = q if o[1] == "B" else -q
            pos[o[0]] = pos.get(o[0], 0) + signed
            cash[o[0]] = cash.get(o[0], 0) - signed * price
            executed += q * price
            o[2] -= q
            if o[2] == 0:
                del open_orders[oref]
        elif kind == "cancel":
            if not open_orders:
                continue
            oref = sorted(open_orders)[action[1] % len(open_orders)]
            r.order_done(oref)
            del open_orders[oref]
        elif kind == "mark":
            r.set_reference(action[1], action[2])
            marks[action[1]] = action[2]
        else:
            armed = action[1]
            if armed:
                r.arm()
            else:
                r.kill()
        assert r.open_orders() == len(open_orders)


# -- hostile input: wire symbols, integers, the clock ---------------------------------------


@pytest.mark.parametrize("symbol", ["AAPL ", "AAPL    ", "AAPL   "])
def test_engine_risk_padded_symbol_is_the_wire_symbol(symbol: str) -> None:
    """OUCH space-pads the symbol: ``"AAPL "`` goes out as AAPL, so AAPL's limit and the
    restricted list apply to it, and its exposure and fills are booked as AAPL."""
    r = engine(position_limits={SYM: 100}, restricted=frozenset({"MSFT"}))
    assert r.submit(1, SYM, "B", 60, REF, 0) is None
    refusal = r.submit(2, symbol, "B", 60, REF, 0)
    assert refusal is not None and refusal.reason is RiskReason.MAX_POSITION
    restricted = r.submit(3, "MSFT" + symbol[4:], "B", 1, REF, 0)
    assert restricted is not None and restricted.reason is RiskReason.RESTRICTED
    assert r.submit(4, symbol, "S", 10, REF, 0) is None
    r.fill(4, symbol, "S", 10, REF)
    assert r.ledger.positions == {SYM: -10}


@pytest.mark.parametrize(
    "symbol", ["", " ", " AAPL", "AA PL", "TOOLONGSYM", "AAPL\x00", "AAPL\t", "AAPLé", 5]
)
def test_engine_risk_refuses_what_is_not_a_wire_symbol(symbol: Any) -> None:
    r = engine()
    refusal = r.submit(1, symbol, "B", 1, REF, 0)
    assert refusal is not None and refusal.reason is RiskReason.INVALID
    assert "not a wire symbol" in refusal.detail
    assert r.open_orders() == 0


def test_engine_risk_wire_symbol_is_printable_ascii_without_inner_space() -> None:
    """wire_symbol checks characters with str methods (risk asks on every order); it
    accepts exactly 0x21-0x7E inside a symbol, for every code point of the BMP in every
    position (alone, inside, before the padding, after a leading space)."""
    for code in range(0x10000):
        c = chr(code)
        ok = 0x21 <= code <= 0x7E
        assert wire_symbol(c) == (c if ok else None), hex(code)
        assert wire_symbol("A" + c + "B") == ("A" + c + "B" if ok else None)
        assert wire_symbol("AB" + c + "  ") == ("AB" + c if ok else "AB" if c == " " else None)
        assert wire_symbol(" " + c) is None


def test_engine_risk_wire_symbol_remembers_a_bounded_number_of_symbols() -> None:
    """wire_symbol remembers the wire form of the symbols it saw (a strategy asks about
    the same few on every event): asked again, and past its bound, it answers the same;
    a str subclass and an invalid symbol are checked every time, never remembered."""

    class Sym(str):
        pass

    names = [f"S{i:06d}" for i in range(_WIRE_FORMS_MAX + 100)]
    for _ in range(2):
        for name in names:
            assert wire_symbol(name + "  ") == name
            assert wire_symbol(name + " X") is None
        assert len(_WIRE_FORMS) <= _WIRE_FORMS_MAX
    padded = Sym("Z~9Q  ")
    assert wire_symbol(padded) == "Z~9Q" and padded not in _WIRE_FORMS
    assert not any(v is None or " " in v for v in _WIRE_FORMS.values())


@pytest.mark.parametrize(
    ("quantity", "price", "detail"),
    [
        (True, REF, "quantity must be an integer, got bool True"),
        (100.0, REF, "quantity must be an integer, got float 100.0"),
        ("100", REF, "quantity must be an integer, got str '100'"),
        (100, 438300.5, "price must be an integer, got float 438300.5"),
        (100, True, "price must be an integer, got bool True"),
        (100, 2_000_000_000, "price 2000000000 out of range"),
    ],
)
def test_engine_risk_refuses_non_integers(quantity: Any, price: Any, detail: str) -> None:
    r = engine()
    refusal = r.submit(1, SYM, "B", quantity, price, 0)
    assert refusal is not None and refusal.reason is RiskReason.INVALID
    assert refusal.detail.startswith(detail)
    assert r.refusals == {"invalid": 1} and r.open_orders() == 0


def test_engine_risk_refuses_unknown_sides() -> None:
    r = engine()
    for side in ("b", "X", "", 1):
        refusal = r.submit(1, SYM, side, 1, REF, 0)
        assert refusal is not None and refusal.reason is RiskReason.INVALID
    assert r.submit(1, SYM, "T", 1, REF, 0) is None  # sell short is a sell


def test_engine_risk_refuses_a_time_in_force_not_in_ouch50s_table() -> None:
    """A Time In Force that is not OUCH 5.0's (another byte, empty, an ``int``) is
    ``invalid``, its detail naming it; GTT too, saying it needs an ExpireTime; Day, IOC,
    GTX and After Hours pass. The old risk took no Time In Force at all."""
    r = engine()
    for tif in ("Q", "ZZ", "", 5, None, "6", v50.TimeInForce.GTT):
        refusal = r.submit(1, SYM, "B", 1, REF, 0, time_in_force=tif)
        assert refusal is not None and refusal.reason is RiskReason.INVALID, tif
        assert refusal.detail.startswith("Time In Force"), refusal.detail
        assert repr(str(tif) if isinstance(tif, str) else tif) in refusal.detail
        if tif == "6":
            assert "ExpireTime" in refusal.detail
    assert r.refusals == {"invalid": 7} and r.open_orders() == 0
    for ref, tif in enumerate(("0", "3", "5", "E", v50.TimeInForce.IOC), start=1):
        assert r.submit(ref, SYM, "B", ref, REF, 0, time_in_force=tif) is None, tif
    assert r.check(SYM, "B", 1, REF, 0, time_in_force="Q") is not None


def test_engine_risk_checks_a_gtt_orders_expire_time() -> None:
    """GTT passes with an ExpireTime appendage of 1 to 86,399 seconds (by
    ``v50.time_in_force_error``); without one, with 0 or 86,400, a non-int, or an
    ExpireTime with another Time In Force it is ``invalid``, one reason naming what is
    wrong. The old risk refused every GTT (it took no appendage)."""

    def expire(value: object) -> tuple[v50.TagValue, ...]:
        return (v50.TagValue(v50.OptionTag.EXPIRE_TIME, value),)  # type: ignore[arg-type]

    r = engine()
    for ref, seconds in enumerate((1, 30, 86_399), start=1):
        assert (
            r.submit(ref, SYM, "B", 1, REF, 0, time_in_force="6", appendages=expire(seconds))
            is None
        )
    cases: list[tuple[str, tuple[v50.TagValue, ...], str]] = [
        ("6", (), "needs an ExpireTime appendage"),
        ("6", expire(0), "1 to 86399 seconds, not 0"),
        ("6", expire(86_400), "1 to 86399 seconds, not 86400"),
        ("6", expire(True), "expire_time must be an integer"),
        ("6", expire(1.5), "expire_time must be an integer"),
        ("0", expire(30), "goes with Time In Force '6' (GTT) only, not '0'"),
        ("5", expire(30), "goes with Time In Force '6' (GTT) only, not '5'"),
    ]
    for tif, appendages, why in cases:
        refusal = r.submit(9, SYM, "B", 1, REF, 0, time_in_force=tif, appendages=appendages)
        assert refusal is not None and refusal.reason is RiskReason.INVALID, (tif, appendages)
        assert why in refusal.detail, refusal.detail
        assert "\n" not in refusal.detail
    assert r.refusals == {"invalid": len(cases)} and r.open_orders() == 3


def test_engine_risk_clock_must_not_go_backwards() -> None:
    """Rate windows need monotonic time; time since midnight wrapping is an error, not
    a day of refusals."""
    r = engine(throttle_orders=1, throttle_window_ns=2_000_000_000)
    before_midnight = 86_398 * 1_000_000_000
    assert r.submit(1, SYM, "B", 1, REF, before_midnight) is None
    with pytest.raises(ValueError, match="risk clock went backwards"):
        r.submit(2, SYM, "B", 2, REF, 1_000_000_000)
    assert r.submit(3, SYM, "B", 3, REF, before_midnight + 2_000_000_000) is None


def test_engine_risk_replace_keeps_symbol_and_side() -> None:
    r = engine()
    assert r.submit(1, SYM, "B", 10, REF, 0) is None
    for sym, side in (("MSFT", "B"), (SYM, "S")):
        refusal = r.submit(2, sym, side, 10, REF, 0, replaces=1)
        assert refusal is not None and refusal.reason is RiskReason.INVALID


def test_engine_risk_replace_chain_counts_the_worse_member() -> None:
    """Original and replacement in flight count as one order at the worse of the two;
    the venue's answer leaves one of them."""
    r = engine(max_position=100, credit_limit=100 * REF, max_open_orders=2)
    assert r.submit(1, SYM, "B", 100, REF, 0) is None
    assert r.submit(2, SYM, "B", 10, REF, 0, replaces=1) is None  # down: adds nothing
    assert r.open_orders() == 1
    refusal = r.check(SYM, "B", 1, REF, 0)
    assert refusal is not None and refusal.reason is RiskReason.MAX_POSITION
    r.order_done(2)  # the replace was rejected: the original is all there is
    assert r.check(SYM, "S", 100, REF, 0) is not None  # credit: 100 still open
    assert r.submit(3, SYM, "B", 10, REF, 0, replaces=1) is None
    r.fill(1, SYM, "B", 30, REF)  # the original trades while the replace is in flight
    r.replaced(1, 3, 10)  # the venue says the replacement has 10 open
    assert r.open_orders() == 1
    assert r.check(SYM, "B", 60, REF, 0) is None
    assert r.check(SYM, "B", 61, REF, 0) is not None
