"""Order deadlines, earliest first: when an order's Time In Force runs out.

An OUCH 5.0 GTT order lives the seconds of its ExpireTime (:func:`tickwire.ouch.v50.lifetime`)
and an OUCH 4.2 order its Time In Force in seconds (:func:`tickwire.ouch.v42.lifetime`),
counted from its Order Accepted (a replacement: from its Order Replaced). Whoever answers
for orders keeps their deadlines here: the simulated exchange's accounts
(``tickwire.exchange.accounts``), this package's conformance hosts (``OuchHost50``,
``OuchHost42``) and the backtest venues (``tickwire.engine.backtest.venue``).

Rule: :meth:`Deadlines.set` gives an order (by its key) its deadline; :meth:`Deadlines.due`
takes every order whose deadline is at or before a time and that is still live, earliest
deadline first, ties in the order the deadlines were set (the orders' arrival);
:meth:`Deadlines.next` is the earliest deadline of a live order, when to look again. An
order that ends otherwise (filled, canceled, replaced) needs no call: its deadline is
passed over when reached. Times are whatever clock the owner measures deadlines on (the
exchange and the hosts: a clock that only runs forward; a backtest venue: the day's
replayed time). Why one class: the exchange, the hosts and the venue each kept a heap of
their own, three copies of one rule. Tests: ``test_ouch_deadlines.py``, and every expiry
test of its owners (``test_exchange_deadlines.py``, ``test_ouch_orders.py``,
``test_engine_backtest_queue.py``).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["Deadlines"]

K = TypeVar("K", bound=Hashable)


class Deadlines(Generic[K]):
    """The deadlines of orders keyed by ``K`` (a UserRefNum, an Order Token, ...)."""

    __slots__ = ("_at", "_set", "heap")

    def __init__(self) -> None:
        #: (deadline, set order, key), a heap: read it, never change it. Empty: nothing
        #: pending; else ``heap[0][0]`` is no later than the earliest live deadline (it
        #: may be an order's that ended meanwhile), a hot loop's cheap test before
        #: :meth:`due`.
        self.heap: list[tuple[int, int, K]] = []
        self._at: dict[K, int] = {}  # the deadline of each key not yet passed over
        self._set = 0

    def __len__(self) -> int:
        return len(self._at)

    def set(self, key: K, at: int) -> None:
        """Order ``key`` expires at ``at`` (a later ``set`` of ``key`` replaces it)."""
        self._set += 1
        self._at[key] = at
        heapq.heappush(self.heap, (at, self._set, key))

    def next(self, live: Callable[[K], bool]) -> int | None:
        """The earliest deadline of an order ``live`` says is live, or None: none."""
        heap = self.heap
        while heap:
            at, _, key = heap[0]
            current = self._at.get(key) == at
            if current and live(key):
                return at
            heapq.heappop(heap)  # replaced by a later set, or the order ended meanwhile
            if current:
                del self._at[key]
        return None

    def due(self, now: int, live: Callable[[K], bool]) -> list[K]:
        """Take the live orders whose deadline is at or before ``now``, in order."""
        keys: list[K] = []
        while (at := self.next(live)) is not None and at <= now:
            _, _, key = heapq.heappop(self.heap)
            del self._at[key]
            keys.append(key)
        return keys
