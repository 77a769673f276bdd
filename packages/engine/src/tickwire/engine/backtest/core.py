"""The compiled replay core: the whole backtest loop over ITCH bytes, in C where it can be.

``run_backtest(..., backend="compiled")`` (``--backend compiled``) runs the reference
runner's loop (:mod:`tickwire.engine.backtest.runner`, the oracle) in
``tickwire.engine._cbook.ReplayCore``, with the same objects wherever something beyond the
books and the venue can happen, so the report is the reference's to the last fill, cent
and latency sample. The rule, per ITCH message of the stream:

1. the events due before it (order arrivals, venue answers and timers from the core's C
   heap; deliveries to the strategy from a ring of message bytes) run in the reference's
   order: at equal times a scheduled event before a delivery, a delivery only when
   strictly earlier than the message;
2. the venue's book (compiled) applies it; the venue's queue model sees it first, as its
   bytes, only when it can act on it: a system event, a message of a locate where one of
   our orders rests, one naming a feed order we took shares from;
3. its bytes join the ring at exchange time + a feed latency draw (a constant is added in
   C; a random model is drawn from the reference's own seeded model, in the same order).

A delivery is applied to the strategy's compiled book; it becomes a decoded message and
goes through :meth:`StrategyContext.market
<tickwire.engine.strategy.context.StrategyContext.market>` (the reference's feed rule and
callbacks) only when the strategy consumes it: its symbol is subscribed and its
:class:`~tickwire.engine.strategy.api.Consumes` declaration takes it (with ``book="bbo"``
a book message that leaves the BBO as it was stays in C, with ``book="depth"`` one that
leaves the watched levels as they were), or it is a directory or a trading-state
message. An unsubscribed symbol never reaches Python.

The venue is compiled too (``_cbook.CVenue``, built by
:func:`~tickwire.engine.backtest.venue.compiled_venue`; the runner picks it when it runs
this core): the rules of :class:`~tickwire.engine.backtest.venue.SimulatedVenue` (the
oracle, untouched) in Cython, for market data (each message read from its bytes, no
decoded message) and for order entry (Enter, Replace, Cancel: validation and reject
codes, arrival against the displayed levels, resting, Day expiry), with typed resting
orders (``_cbook.CSimOrder``) and an order's FIFO place (the shares and the references
ahead at its price) read from the compiled book's level and FIFO list, no
:class:`~tickwire.engine.book.OrderInfo` per feed order. It makes the same
:class:`~tickwire.engine.backtest.venue.Fill` objects in the same list and sends the same
OUCH answers through the runner's ``respond``, in the same order; ``_live``,
``_by_locate``, ``_consumed``, ``fills``, ``live_orders()`` and ``queue_ahead()`` read as
the reference's. Held by the differential tests of
``test_engine_backtest_core.py`` and ``test_engine_backtest_cvenue.py`` (both venues after
every message of random ITCH and raw OUCH flows) and by ``test_engine_backtest_queue.py``,
whose hand-built flows run on both venues.

The event queue is in C as well (issue #16): the runner's heap of scheduled events (an
OUCH message on its way to the venue, a venue answer on its way to the strategy, a timer)
is ``ReplayCore``'s binary heap of typed entries keyed as the runner's tuples, (time,
kind, seq): at equal times a GTT deadline at the venue, then an arrival, then an answer,
then a timer, then the order of scheduling (``_cbook.heap_less``). For the run, the core
takes the runner's scheduling over (``ReplayCore._take_heap``: the events ``on_start``
scheduled move in, the order manager's ``send``, the venue's ``respond`` and ``wake`` and
the context's timers become the core's)
and gives it back after the drain, before ``on_stop``. Its ``send`` and ``respond`` are the
runner's ``_send`` and ``_respond``: a constant order or ack latency is added in C, a
random one is drawn from the runner's seeded model, in the reference's order; the
tick-to-venue and order-to-ack samples are the reference's. The pin bookkeeping that
decides when an order's row is written to the orders table (the runner's ``_pin`` and
``_forget_finished``; ``test_engine_backtest_spill.py``) runs in C on the runner's own
dicts. What stays Python is what must: the order manager's ``on_message``, the
strategy's callbacks, risk and the runner's accounting of fills (``_record_fills``) and
order updates. The reference runner's ``heapq`` stays the oracle, unchanged. Held by the
differential tests above, and by
``test_engine_backtest_core_simultaneous_events_keep_the_reference_order``, whose timers
fall due with an arrival or an answer (a heap that ran a timer before an answer of the
same time fails it; the random flows did not catch that).

Every latency model, fee schedule, risk limit and strategy of the reference runs here.
The compiled extension must be built (``tickwire.engine.cbook.AVAILABLE``); without it
:class:`~tickwire.threshold.backends.BackendUnavailable` says why.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import TYPE_CHECKING, Any

from tickwire.engine import cbook
from tickwire.engine.backtest.latency import ConstantLatency
from tickwire.engine.strategy.api import (
    BookUpdate,
    Strategy,
    TradeEvent,
    declared_consumes,
    is_base_callback,
)
from tickwire.engine.strategy.context import _book_update as book_update
from tickwire.itch import Message, encode
from tickwire.threshold.backends import BackendUnavailable

if TYPE_CHECKING:
    from tickwire.engine.backtest.runner import BacktestResult, Source, _Runner

__all__ = ["CHUNK_SIZE", "check_core", "chunks", "run_core"]

#: Bytes read from a file per step of the core.
CHUNK_SIZE = 1 << 20
#: Messages encoded per chunk when the core is given decoded messages.
_BATCH = 8192


def check_core(strategy: Strategy) -> None:
    """Refuse, before anything runs, what the core cannot run: the extension not built
    (:class:`BackendUnavailable`) or a bad ``consumes`` declaration."""
    if not cbook.AVAILABLE:
        raise BackendUnavailable(f"compiled replay core not available: {cbook.UNAVAILABLE_REASON}")
    declared_consumes(strategy)


def _framed(messages: Iterable[Message]) -> Iterator[bytes]:
    """Decoded messages as BinaryFILE chunks (2-byte length, then the message)."""
    it = iter(messages)
    while True:
        parts = []
        for msg in islice(it, _BATCH):
            body = encode(msg)
            parts.append(len(body).to_bytes(2, "big"))
            parts.append(body)
        if not parts:
            return
        yield b"".join(parts)


def chunks(source: Source, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """BinaryFILE bytes of ``source`` in chunks: read from a path (gzip transparent),
    the bytes given, or encoded from decoded messages."""
    if isinstance(source, bytes | bytearray | memoryview):
        yield bytes(source)
        return
    if isinstance(source, str | os.PathLike):
        yield from cbook.file_chunks(source, chunk_size)
    else:
        yield from _framed(source)


def _const(model: object) -> int:
    """A constant latency's ns, for the core to add in C; -1: draw from ``model``."""
    return model.ns if isinstance(model, ConstantLatency) else -1


def run_core(
    runner: _Runner, source: Source, progress: Callable[[int], None] | None
) -> BacktestResult:
    """Run ``runner`` (built with ``compiled=True``) over ``source`` in the core."""
    ext: Any = cbook._ext
    wall0 = time.perf_counter()
    runner.start()  # on_start, then the callbacks as it left them
    feed = runner.feed_lat
    const = _const(feed)
    core = ext.ReplayCore(
        runner,
        runner.vbooks,
        runner.sbooks,
        const,
        feed.sample,
        max(1, runner.cfg.pnl_sample_every),
        progress,
        # A callback the strategy did not override is the base class's no-op: the core
        # counts its events (strategy_events) instead of calling it. Asked of the bound
        # callbacks the runner calls (the strategy's own may be bound per instance).
        not is_base_callback(runner._callbacks[BookUpdate], "on_book"),
        not is_base_callback(runner._callbacks[TradeEvent], "on_trade"),
        # A BBO change of a book="bbo" symbol goes from C to on_book (ReplayCore._bbo_call).
        on_book=runner._callbacks[BookUpdate],
        book_update=book_update,
        # A constant order or ack latency is added in C (else the runner's seeded model).
        order_const=_const(runner.order_lat),
        ack_const=_const(runner.ack_lat),
    )
    # A file's reading and framing errors name it; the strategy's, raised in core.feed
    # too, do not (cbook.feed_chunks).
    name = source if isinstance(source, str | os.PathLike) else None
    for _ in cbook.feed_chunks(core.feed, chunks(source), name=name):
        pass
    core.drain()
    runner.result.strategy_events += core.counted_events
    runner.core_counts = {
        "python_deliveries": core.python_deliveries,
        "c_deliveries": core.c_deliveries,
        "python_venue": core.python_venue,
        "route_updates": core.route_updates,
    }
    return runner.end(core.messages, wall0)
