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
passed over when reached; an owner that keeps nothing else of an ended order (the
backtest venues) calls :meth:`Deadlines.discard` so its deadline is forgotten at once,
and one woken by a loop asks it for the earliest live deadline only
(:meth:`Deadlines.wake_at`): what either keeps is bounded by the orders live. Times are whatever clock the owner measures deadlines on (the
exchange and the hosts: a clock that only runs forward; a backtest venue: the day's
replayed time). Why one class: the exchange, the hosts and the venue each kept a heap of
their own, three copies of one rule. Tests: ``test_ouch_deadlines.py``, and every expiry
test of its owners (``test_exchange_deadlines.py``, ``test_ouch_orders.py``,
``test_engine_backtest_queue.py``).

:class:`DeadlineTimer` is the one asyncio timer for the next of them, which the simulated
exchange's server and :func:`tickwire.ouch.client.serve_ouch` each arm after every answer.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["DeadlineTimer", "Deadlines"]

K = TypeVar("K", bound=Hashable)


class Deadlines(Generic[K]):
    """The deadlines of orders keyed by ``K`` (a UserRefNum, an Order Token, ...)."""

    __slots__ = ("_at", "_set", "_woken", "heap")

    def __init__(self) -> None:
        #: (deadline, set order, key), a heap: read it, never change it (this class
        #: compacts it in place: the same list). Empty: nothing pending; else
        #: ``heap[0][0]`` is no later than the earliest live deadline (it may be an
        #: order's that ended meanwhile), a hot loop's cheap test before :meth:`due`.
        self.heap: list[tuple[int, int, K]] = []
        self._at: dict[K, int] = {}  # the deadline of each key not yet passed over
        self._set = 0
        # the times :meth:`wake_at` had the owner ask its loop for, not yet passed (a heap)
        self._woken: list[int] = []

    def __len__(self) -> int:
        return len(self._at)

    def set(self, key: K, at: int) -> None:
        """Order ``key`` expires at ``at`` (a later ``set`` of ``key`` replaces it)."""
        self._set += 1
        self._at[key] = at
        heapq.heappush(self.heap, (at, self._set, key))

    def discard(self, key: K) -> None:
        """Order ``key`` ended (filled, canceled, replaced): forget its deadline now.

        Rule: an owner that keeps nothing else of an ended order (a backtest venue) calls
        this when the order ends; the heap is compacted, in place, once more than half
        of it is deadlines forgotten or replaced (amortized O(1) a call), so what is kept
        is bounded by the orders live, not by every order of the day. Why: an order's
        deadline stayed until it came (up to a day), so a strategy entering and
        cancelling GTT orders all day grew the venue by every one of them. Test:
        ``test_engine_backtest_queue.py::test_gtt_orders_canceled_before_their_deadline_cost_nothing_after``.
        """
        if self._at.pop(key, None) is not None and len(self.heap) > 2 * len(self._at) + 64:
            at = self._at
            self.heap[:] = [e for e in self.heap if at.get(e[2]) == e[0]]
            heapq.heapify(self.heap)

    def wake_at(self, now: int, live: Callable[[K], bool]) -> int | None:
        """The time an owner woken by a loop (a backtest venue's ``wake``) must ask to
        be woken at, now at ``now``, or None: none.

        Rule: the earliest deadline of an order ``live`` says is live (:meth:`next`),
        unless a wake asked for before (by this method) and still to come (after
        ``now``) is at or before it: the loop wakes the owner then, and the owner asks
        again (after its :meth:`due`). So each deadline is met exactly, and an owner asks
        for at most one wake per earliest deadline, not one per order. Why: a venue asked
        for a wake at every GTT order's deadline as it rested, and its loop kept each
        until its time, a day of them for orders long canceled. Test:
        ``test_engine_backtest_queue.py::test_gtt_orders_canceled_before_their_deadline_cost_nothing_after``.
        """
        woken = self._woken
        while woken and woken[0] <= now:  # come: the loop has woken the owner then
            heapq.heappop(woken)
        at = self.next(live)
        if at is None or (woken and woken[0] <= at):
            return None
        heapq.heappush(woken, at)
        return at

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


class DeadlineTimer:
    """One asyncio timer for the earliest order deadline, on ``clock`` (the owner's
    deadline clock, ns), calling ``callback`` when it comes (:meth:`fire`).

    Rule: :meth:`arm` with the owner's next deadline (``Deadlines.next``, or None)
    starts the timer for it, unless it is already running for that same time, so an
    owner may arm after every answer; :attr:`at` keeps the deadline last armed for
    (nothing is due before it: a hot path's one comparison), also off a running loop,
    where nothing is started (driven sans-I/O, the owner expires what is due itself).
    The timer may fire a hair before :attr:`at` by ``clock``; the owner then expires
    nothing and arms again. Why one class: the exchange's server and ``serve_ouch`` each
    kept a timer of their own, the second restarting it after every message. Tests:
    ``test_exchange_server.py::test_the_timer_and_expire_due_measure_deadlines_on_the_deadline_clock``,
    ``test_ouch_aio.py::test_serve_ouch_expires_a_gtt_order_unsolicited``.
    """

    __slots__ = ("_callback", "_clock", "at", "handle")

    def __init__(self, clock: Callable[[], int], callback: Callable[[], None]) -> None:
        self._clock = clock
        self._callback = callback
        #: The deadline (on ``clock``) last armed for, or None: none.
        self.at: int | None = None
        #: The running timer, or None (fired, cancelled, or not on a loop).
        self.handle: asyncio.TimerHandle | None = None

    def arm(self, at: int | None) -> None:
        """Run the timer for deadline ``at`` (None: no timer)."""
        if at == self.at and (at is None or self.handle is not None):
            return
        self.cancel()
        self.at = at
        if at is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self.handle = loop.call_later(max(0.0, (at - self._clock()) / 1e9), self.fire)

    def cancel(self) -> None:
        """Stop the timer, if running."""
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None

    def fire(self) -> None:
        """What the loop calls when the timer comes: the timer is spent, then
        ``callback`` (which arms it again for what is left)."""
        self.handle = None
        self._callback()
