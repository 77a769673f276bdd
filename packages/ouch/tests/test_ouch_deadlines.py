"""Deadlines: the live orders due, earliest deadline first, ties in the order set."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from tickwire.ouch.deadlines import Deadlines


def test_due_takes_the_live_orders_due_earliest_first_ties_in_the_order_set() -> None:
    d: Deadlines[str] = Deadlines()
    live = {"a", "b", "c", "d"}
    d.set("a", 30)
    d.set("b", 10)
    d.set("c", 30)
    d.set("d", 20)
    live.discard("d")  # ended otherwise (filled, canceled): passed over
    assert d.next(live.__contains__) == 10
    assert d.due(29, live.__contains__) == ["b"]
    assert d.due(30, live.__contains__) == ["a", "c"]
    assert d.next(live.__contains__) is None and d.due(10**9, live.__contains__) == []
    assert len(d) == 0


def test_a_later_set_replaces_the_deadline() -> None:
    d: Deadlines[int] = Deadlines()
    d.set(1, 10)
    d.set(1, 50)
    assert d.due(49, lambda k: True) == [] and d.due(50, lambda k: True) == [1]


# (op, key, time): set key at time, end key, or take what is due at time
_OPS = st.lists(
    st.tuples(
        st.sampled_from(["set", "end", "discard", "due"]), st.integers(0, 5), st.integers(0, 40)
    ),
    max_size=40,
)


@settings(max_examples=300)
@given(_OPS)
def test_deadlines_agree_with_a_list_of_every_deadline(ops: list[tuple[str, int, int]]) -> None:
    """Against the obvious model: every (deadline, set order, key) kept in a list."""
    d: Deadlines[int] = Deadlines()
    live: set[int] = set()
    model: dict[int, tuple[int, int]] = {}  # key -> (deadline, set order)
    n = 0
    for op, key, t in ops:
        if op == "set":
            n += 1
            live.add(key)
            model[key] = (t, n)
            d.set(key, t)
        elif op in ("end", "discard"):  # ended; its owner tells the deadlines, or not
            live.discard(key)
            model.pop(key, None)
            if op == "discard":
                d.discard(key)
        else:
            want = sorted((at, i, k) for k, (at, i) in model.items() if at <= t and k in live)
            assert d.due(t, live.__contains__) == [k for _, _, k in want]
            for _, _, k in want:
                del model[k]
        earliest = min((at for k, (at, _) in model.items() if k in live), default=None)
        assert d.next(live.__contains__) == earliest


def test_discarded_deadlines_are_not_kept_and_a_loop_is_asked_to_wake_once() -> None:
    """Orders set and discarded (ended) leave the heap bounded by the orders live (it is
    compacted in place: the same list, which hot loops hold); ``wake_at`` asks for the
    earliest live deadline only when no wake asked for before comes at or before it, and
    asks again once that wake has come. The old class kept every deadline until it came."""
    d: Deadlines[int] = Deadlines()
    heap = d.heap
    live = {0}
    d.set(0, 1_000)
    assert d.wake_at(0, live.__contains__) == 1_000
    for key in range(1, 10_001):
        live.add(key)
        d.set(key, 5_000 + key)
        assert d.wake_at(key % 500, live.__contains__) is None  # 1,000 comes first
        live.discard(key)
        d.discard(key)
    assert d.heap is heap and len(heap) < 100 and len(d) == 1
    live.add(1)
    d.set(1, 900)  # earlier than the wake asked for: asked
    assert d.wake_at(600, live.__contains__) == 900
    assert d.due(900, live.__contains__) == [1] and d.wake_at(900, live.__contains__) is None
    live.discard(1)
    assert d.due(1_000, live.__contains__) == [0]
    assert d.wake_at(1_000, live.__contains__) is None  # nothing live left
    live.add(2)
    d.set(2, 3_000)
    assert d.wake_at(1_000, live.__contains__) == 3_000


def test_the_timer_runs_once_per_deadline_and_only_on_a_loop() -> None:
    """Armed again for the same deadline it keeps its timer (an owner arms after every
    answer); a new deadline replaces it; off a loop it only notes the deadline; when it
    fires it is spent, then calls back (which arms it again even for the same time)."""
    import asyncio

    from tickwire.ouch.deadlines import DeadlineTimer

    now = [0]
    calls: list[int] = []
    off = DeadlineTimer(lambda: now[0], lambda: calls.append(1))
    off.arm(5)
    assert off.at == 5 and off.handle is None

    async def run() -> None:
        t = DeadlineTimer(lambda: now[0], lambda: calls.append(t.at or 0))
        t.arm(2_000_000_000)
        first = t.handle
        t.arm(2_000_000_000)
        assert t.handle is first is not None
        t.arm(1_000_000)
        assert t.handle is not first and first.cancelled() and t.at == 1_000_000
        await asyncio.sleep(0.05)
        assert t.handle is None and calls == [1_000_000]
        t.arm(1_000_000)  # a hair early: the same deadline again
        assert t.handle is not None
        t.arm(None)
        assert t.handle is None and t.at is None

    asyncio.run(run())
