"""Seeding the exchange's books and background flow from ITCH messages.

A :class:`FlowReplayer` replays any ITCH 5.0 message stream (a BinaryFILE read with
``tickwire.itch.read`` or ``tickwire.itch.generator.generate_day``) as orders of other
participants: Stock Directory lists the symbol (keeping its locate), System Events and
Trading Actions are republished, Add Orders are submitted (they may trade against resting
orders, ours included; an Add Order with MPID keeps its attribution: the exchange's
feed republishes it as ``F`` with the same MPID, where it said ``A``), and executions, cancels, deletes and replaces act on the order the
seed's reference number now maps to. The exchange republishes everything under its own
order reference numbers, so the feed it sends is consistent however the seed's flow and
the participants' orders interleave.
"""

from __future__ import annotations

from tickwire.exchange.matching import MatchingEngine, MatchingError
from tickwire.itch import (
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
)

__all__ = ["FlowReplayer"]


class FlowReplayer:
    """Replays seed ITCH messages into a :class:`MatchingEngine` (see the module docs)."""

    def __init__(self, engine: MatchingEngine) -> None:
        self.engine = engine
        self.refs: dict[int, int] = {}  # seed order reference -> exchange reference
        self.locates: dict[int, str] = {}  # seed locate -> symbol
        self.replayed = 0
        self.skipped = 0

    def apply(self, msg: Message) -> None:
        """Replay one seed message."""
        eng = self.engine
        self.replayed += 1
        try:
            ref: int | None
            if isinstance(msg, AddOrder | AddOrderMPID):
                sym = self.locates.get(msg.stock_locate, msg.stock)
                if sym not in eng.books:
                    eng.add_instrument(sym)
                # an F keeps its MPID (test: test_seed_flow_keeps_its_attribution)
                mpid = msg.attribution.strip() if isinstance(msg, AddOrderMPID) else ""
                new, _, resting = eng.submit(
                    sym, msg.buy_sell_indicator, msg.shares, msg.price, attribution=mpid
                )
                if resting:
                    self.refs[msg.order_reference_number] = new
            elif isinstance(msg, OrderExecuted | OrderExecutedWithPrice):
                ref = self.refs.get(msg.order_reference_number)
                if ref is None or not eng.execute(ref, msg.executed_shares):
                    self.skipped += 1
                self._forget_if_gone(msg.order_reference_number)
            elif isinstance(msg, OrderCancel):
                ref = self.refs.get(msg.order_reference_number)
                o = None if ref is None else eng.orders.get(ref)
                if o is None:
                    self.skipped += 1
                else:
                    eng.cancel(o.ref, max(0, o.shares - msg.cancelled_shares))
                self._forget_if_gone(msg.order_reference_number)
            elif isinstance(msg, OrderDelete):
                ref = self.refs.pop(msg.order_reference_number, None)
                if ref is None or not eng.cancel(ref):
                    self.skipped += 1
            elif isinstance(msg, OrderReplace):
                ref = self.refs.pop(msg.original_order_reference_number, None)
                result = None if ref is None else eng.replace(ref, msg.shares, msg.price)
                if result is None:
                    self.skipped += 1
                elif result[2]:
                    self.refs[msg.new_order_reference_number] = result[0]
            elif isinstance(msg, StockDirectory):
                self.locates[msg.stock_locate] = msg.stock
                if msg.stock not in eng.books:
                    locate = msg.stock_locate if msg.stock_locate not in eng.by_locate else None
                    eng.add_instrument(msg.stock, locate)
            elif isinstance(msg, StockTradingAction):
                if msg.stock in eng.books:
                    eng.set_trading_state(msg.stock, str(msg.trading_state))
            elif isinstance(msg, SystemEvent):
                eng.system(str(msg.event_code))
            else:
                self.skipped += 1  # trades of non-displayed orders, NOII, ...: not book changes
        except MatchingError:
            self.skipped += 1

    def _forget_if_gone(self, seed_ref: int) -> None:
        ref = self.refs.get(seed_ref)
        if ref is not None and ref not in self.engine.orders:
            del self.refs[seed_ref]
