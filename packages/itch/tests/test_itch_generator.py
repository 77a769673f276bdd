"""The day generator: determinism, shape, message mix and order-reference consistency.

Consistency is checked by replaying the stream through a deliberately naive model of the
book (a dict of live orders), written independently of the generator's own bookkeeping.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable

import pytest
from tickwire.itch import fastpath, generator
from tickwire.itch.generator import generate_day, preamble_length
from tickwire.itch.messages import (
    AddOrder,
    AddOrderMPID,
    Message,
    OrderCancel,
    OrderDelete,
    OrderExecuted,
    OrderExecutedWithPrice,
    OrderReplace,
    StockDirectory,
    StockTradingAction,
    SystemEvent,
    Trade,
    decode,
    encode,
)

DAY_OPEN = 34_200 * 10**9
DAY_CLOSE = 57_600 * 10**9


@pytest.fixture(scope="module")
def day() -> list[Message]:
    return list(generate_day(120_000, 800, seed=7))


def test_exact_count_and_determinism() -> None:
    a = list(generate_day(30_000, 300, seed=1))
    b = list(generate_day(30_000, 300, seed=1))
    c = list(generate_day(30_000, 300, seed=2))
    assert len(a) == 30_000
    assert a == b
    assert [encode(m) for m in a] == [encode(m) for m in b]
    assert a != c


def test_no_global_random_state_used() -> None:
    import random

    random.seed(123)
    before = random.getstate()
    list(generate_day(5_000, 50, seed=3))
    assert random.getstate() == before


def test_too_few_messages_is_an_error() -> None:
    with pytest.raises(ValueError, match="preamble"):
        list(generate_day(preamble_length(100) + 2, 100, seed=1))
    with pytest.raises(ValueError):
        generate_day(1000, 0, seed=1)
    # The smallest legal day is the preamble and the close, no order flow.
    assert len(list(generate_day(preamble_length(3) + 3, 3, seed=1))) == preamble_length(3) + 3


def test_preamble_and_close(day: list[Message]) -> None:
    k = 800
    assert isinstance(day[0], SystemEvent) and day[0].event_code == "O"
    assert isinstance(day[1], SystemEvent) and day[1].event_code == "S"
    directory = day[2 : 2 + k]
    actions = day[2 + k : 2 + 2 * k]
    assert all(isinstance(m, StockDirectory) for m in directory)
    assert [m.stock_locate for m in directory] == list(range(1, k + 1))
    tickers = [m.stock for m in directory]
    assert len(set(tickers)) == k
    assert tickers == sorted(tickers)
    assert all(t.isalpha() and t.isupper() and 1 <= len(t) <= 5 for t in tickers)
    assert "AAPL" in tickers and "MSFT" in tickers
    assert all(isinstance(m, StockTradingAction) and m.trading_state == "T" for m in actions)
    assert [m.stock for m in actions] == tickers
    q = day[2 + 2 * k]
    assert isinstance(q, SystemEvent) and q.event_code == "Q" and q.timestamp == DAY_OPEN
    assert [m.event_code for m in day[-3:] if isinstance(m, SystemEvent)] == ["M", "E", "C"]


def test_mix_proportions(day: list[Message]) -> None:
    flow = day[preamble_length(800) : -3]
    n = len(flow)
    counts = Counter(m.message_type for m in flow)
    share = {t: counts[t] / n for t in counts}
    assert abs(share["A"] + share.get("F", 0) - 0.44) < 0.02
    assert abs(share["D"] - 0.43) < 0.02
    assert abs(share["U"] - 0.09) < 0.01
    assert abs(share["E"] + share.get("C", 0) - 0.02) < 0.006
    assert 0.003 < share["X"] < 0.02
    assert 0.003 < share["P"] < 0.015
    # Both variants of adds and executions appear.
    assert 0.02 < share["F"] / (share["A"] + share["F"]) < 0.2
    assert 0.05 < share["C"] / (share["E"] + share["C"]) < 0.3
    assert set(counts) == set("AFDUECXP")


def replay(stream: Iterable[Message]) -> dict[str, int]:
    """A naive book: checks every reference and share count; returns some statistics."""
    locates: dict[int, str] = {}
    live: dict[int, list[int | str]] = {}  # ref -> [locate, side, shares, price]
    by_locate: dict[int, dict[int, list[int | str]]] = {}  # the same, per locate

    def uncrossed(locate: int, side: str, price: int) -> bool:
        """Whether a ``side`` order at ``price`` stays off the other side of the book."""
        other = [int(o[3]) for o in by_locate.get(locate, {}).values() if o[1] != side]
        if not other:
            return True
        return price < min(other) if side == "B" else price > max(other)

    seen_refs: set[int] = set()
    last_ts = -1
    max_live = 0
    lifetimes: list[int] = []
    born: dict[int, int] = {}
    matches: list[int] = []
    for i, m in enumerate(stream):
        assert m.timestamp >= last_ts, f"message {i}: time went backwards"
        last_ts = m.timestamp
        if isinstance(m, StockDirectory):
            locates[m.stock_locate] = m.stock
        elif isinstance(m, AddOrder | AddOrderMPID):
            assert DAY_OPEN <= m.timestamp < DAY_CLOSE
            assert m.order_reference_number not in seen_refs, "reference reused"
            assert locates[m.stock_locate] == m.stock
            assert m.shares > 0 and m.price > 0 and m.price % 100 == 0
            assert m.buy_sell_indicator in ("B", "S")
            seen_refs.add(m.order_reference_number)
            assert uncrossed(m.stock_locate, m.buy_sell_indicator, m.price), f"message {i} crosses"
            order = [m.stock_locate, m.buy_sell_indicator, m.shares, m.price]
            live[m.order_reference_number] = order
            by_locate.setdefault(m.stock_locate, {})[m.order_reference_number] = order
            born[m.order_reference_number] = i
        elif isinstance(m, OrderExecuted | OrderExecutedWithPrice | OrderCancel):
            order = live[m.order_reference_number]  # KeyError: not live
            assert order[0] == m.stock_locate
            amount = m.cancelled_shares if isinstance(m, OrderCancel) else m.executed_shares
            assert 0 < amount <= int(order[2])
            order[2] = int(order[2]) - amount
            if isinstance(m, OrderCancel):
                assert order[2] > 0, "a cancel must be partial (a delete removes the rest)"
            if not isinstance(m, OrderCancel):
                matches.append(m.match_number)
            if isinstance(m, OrderExecutedWithPrice):
                # A resting order never fills at a price worse than its limit.
                limit = int(order[3])
                assert m.execution_price <= limit if order[1] == "B" else m.execution_price >= limit
            if order[2] == 0:
                del live[m.order_reference_number]
                del by_locate[m.stock_locate][m.order_reference_number]
                lifetimes.append(i - born.pop(m.order_reference_number))
        elif isinstance(m, OrderDelete):
            order = live.pop(m.order_reference_number)
            del by_locate[m.stock_locate][m.order_reference_number]
            assert order[0] == m.stock_locate
            lifetimes.append(i - born.pop(m.order_reference_number))
        elif isinstance(m, OrderReplace):
            order = live.pop(m.original_order_reference_number)
            del by_locate[m.stock_locate][m.original_order_reference_number]
            assert order[0] == m.stock_locate
            assert uncrossed(m.stock_locate, str(order[1]), m.price), f"message {i} crosses"
            assert m.new_order_reference_number not in seen_refs
            assert m.shares > 0 and m.price > 0 and m.price % 100 == 0
            seen_refs.add(m.new_order_reference_number)
            replaced = [order[0], order[1], m.shares, m.price]
            live[m.new_order_reference_number] = replaced
            by_locate[m.stock_locate][m.new_order_reference_number] = replaced
            lifetimes.append(i - born.pop(m.original_order_reference_number))
            born[m.new_order_reference_number] = i
        elif isinstance(m, Trade):
            assert m.order_reference_number == 0
            assert locates[m.stock_locate] == m.stock
            matches.append(m.match_number)
        max_live = max(max_live, len(live))
    assert matches == sorted(matches) and len(set(matches)) == len(matches)
    lifetimes.sort()
    return {
        "max_live": max_live,
        "median_life": lifetimes[len(lifetimes) // 2],
        "p99_life": lifetimes[len(lifetimes) * 99 // 100],
    }


def test_every_reference_is_consistent(day: list[Message]) -> None:
    """References, share counts and match numbers hold; the book never crosses or locks."""
    stats = replay(day)
    # Most orders die young, some rest for a long time.
    assert stats["median_life"] < 2_000
    assert stats["p99_life"] > 20 * stats["median_life"]


def test_prices_stay_realistic(day: list[Message]) -> None:
    prices = [m.price for m in day if isinstance(m, AddOrder | AddOrderMPID)]
    assert min(prices) >= 100 * 50  # a few ticks under $1 at the very least
    assert max(prices) < 1_000 * 10_000
    # Levels cluster a few ticks around each symbol's reference price.
    by_stock: dict[int, list[int]] = {}
    for m in day:
        if isinstance(m, AddOrder | AddOrderMPID):
            by_stock.setdefault(m.stock_locate, []).append(m.price)
    busiest = max(by_stock.values(), key=len)
    distinct = len(set(busiest))
    assert 5 < distinct < 200


def test_live_orders_are_bounded_independent_of_length(monkeypatch: pytest.MonkeyPatch) -> None:
    """Memory is constant in the number of messages: the live book never exceeds the cap
    (forced small here so the cap is really hit), and the mix holds at the cap."""
    monkeypatch.setattr(generator, "_live_cap", lambda symbols: 60)
    day = list(generate_day(60_000, 20, seed=11))
    stats = replay(day)
    assert stats["max_live"] == 60
    counts = Counter(m.message_type for m in day)
    assert abs((counts["A"] + counts["F"]) / len(day) - 0.44) < 0.02
    assert abs(counts["D"] / len(day) - 0.43) < 0.02


def test_every_message_survives_the_wire(day: list[Message]) -> None:
    """Generated values fit their wire fields and decode back to the very same objects,
    on the pure and (when built) the compiled path."""
    sample = list(itertools.islice(day, 0, None, 7))
    for m in sample:
        raw = encode(m)
        back = decode(raw)
        assert back == m
        assert fastpath.decode(raw) == m
        assert fastpath.encode(m) == raw
