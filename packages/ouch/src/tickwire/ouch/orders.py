"""Order state for OUCH order entry (sans-I/O), client and host side.

Client side, :class:`OrderBook50` (OUCH 5.0, keyed by UserRefNum) and
:class:`OrderBook42` (OUCH 4.2, keyed by Order Token) build the inbound
messages, track every order from the outbound messages, and keep the requests
not yet acknowledged. After a reconnect those are resent unchanged: OUCH makes
inbound messages benignly repeatable (a UserRefNum at or below the last one
processed, or a token already used, is ignored by the host), so a resent order
is recognised, never doubled. UserRefNums are strictly increasing, as the
spec requires.

Host side, :class:`OuchHost50` and :class:`OuchHost42` answer inbound
messages the way an OUCH port does for the order lifecycle (accept, replace,
cancel, modify, account query; duplicates ignored). They are conformance hosts
for tests, examples and benchmarks, not a matching engine: nothing executes.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from . import v42, v50
from ._errors import OuchError

__all__ = ["Order", "OrderBook42", "OrderBook50", "OuchHost42", "OuchHost50"]

K = TypeVar("K", int, str)


@dataclass
class Order(Generic[K]):
    """One order chain as the client sees it."""

    key: K  # UserRefNum (5.0) or Order Token (4.2) of the current order in the chain
    symbol: str
    side: str
    price: int
    quantity: int  # shares open on the book (as last reported)
    state: str = "pending"  # pending, live, dead, rejected
    executed: int = 0
    order_reference_number: int | None = None
    history: list[object] = field(default_factory=list)


def _ns_since_midnight() -> int:
    t = time.time_ns()
    return t % 86_400_000_000_000


# ================================================================ OUCH 5.0
class OrderBook50:
    """Client-side OUCH 5.0 order state keyed by UserRefNum."""

    def __init__(self, next_user_ref_num: int = 1) -> None:
        self.next_user_ref_num = next_user_ref_num
        self.orders: dict[int, Order[int]] = {}
        self._pending: dict[int, v50.InboundMessage] = {}  # UserRefNum -> unacknowledged request
        self._pending_other: list[v50.InboundMessage] = []  # cancels and modifies

    def _peek_user_ref_num(self) -> int:
        """The next UserRefNum; taken (incremented) only once its message validated."""
        urn = self.next_user_ref_num
        if urn > 0xFFFFFFFF:
            raise OuchError("UserRefNum space exhausted for the day")
        return urn

    def enter(
        self,
        side: str,
        quantity: int,
        symbol: str,
        price: int,
        *,
        time_in_force: str = v50.TimeInForce.DAY,
        display: str = v50.Display.VISIBLE,
        capacity: str = v50.Capacity.AGENCY,
        intermarket_sweep_eligibility: str = "N",
        cross_type: str = v50.CrossType.CONTINUOUS,
        cl_ord_id: str | None = None,
        appendages: tuple[v50.TagValue, ...] = (),
    ) -> v50.EnterOrder:
        urn = self._peek_user_ref_num()
        msg = v50.EnterOrder(
            urn,
            side,
            quantity,
            symbol,
            price,
            time_in_force,
            display,
            capacity,
            intermarket_sweep_eligibility,
            cross_type,
            v50.cl_ord_id_for(urn) if cl_ord_id is None else cl_ord_id,
            appendages,
        )
        v50.encode(msg)  # validate before any state changes
        self.next_user_ref_num = urn + 1
        self.orders[urn] = Order(urn, symbol, side, price, quantity)
        self._pending[urn] = msg
        return msg

    def replace(
        self,
        user_ref_num: int,
        quantity: int,
        price: int,
        *,
        time_in_force: str = v50.TimeInForce.DAY,
        display: str = v50.Display.VISIBLE,
        intermarket_sweep_eligibility: str = "N",
        cl_ord_id: str | None = None,
        appendages: tuple[v50.TagValue, ...] = (),
    ) -> v50.ReplaceOrder:
        if user_ref_num not in self.orders:
            raise OuchError(f"no order with UserRefNum {user_ref_num}")
        new = self._peek_user_ref_num()
        msg = v50.ReplaceOrder(
            user_ref_num,
            new,
            quantity,
            price,
            time_in_force,
            display,
            intermarket_sweep_eligibility,
            v50.cl_ord_id_for(new) if cl_ord_id is None else cl_ord_id,
            appendages,
        )
        v50.encode(msg)
        self.next_user_ref_num = new + 1
        self._pending[new] = msg
        return msg

    def cancel(self, user_ref_num: int, quantity: int = 0) -> v50.CancelOrder:
        if user_ref_num not in self.orders:
            raise OuchError(f"no order with UserRefNum {user_ref_num}")
        msg = v50.CancelOrder(user_ref_num, quantity)
        self._pending_other.append(msg)
        return msg

    def modify(self, user_ref_num: int, side: str, quantity: int) -> v50.ModifyOrder:
        if user_ref_num not in self.orders:
            raise OuchError(f"no order with UserRefNum {user_ref_num}")
        msg = v50.ModifyOrder(user_ref_num, side, quantity)
        self._pending_other.append(msg)
        return msg

    def pending(self) -> list[v50.InboundMessage]:
        """Requests not yet acknowledged, in the order they were made (resend these)."""
        reqs: list[v50.InboundMessage] = [self._pending[k] for k in sorted(self._pending)]
        return reqs + list(self._pending_other)

    def on_message(self, msg: v50.OutboundMessage) -> Order[int] | None:
        """Apply an outbound message; returns the order it concerned (if any)."""
        if isinstance(msg, v50.AccountQueryResponse):
            self.next_user_ref_num = max(self.next_user_ref_num, msg.next_user_ref_num)
            return None
        urn = getattr(msg, "user_ref_num", None)
        if urn is None:
            return None
        if isinstance(msg, v50.OrderReplaced):
            old = self.orders.pop(msg.orig_user_ref_num, None)
            self._pending.pop(msg.user_ref_num, None)
            order = Order(
                msg.user_ref_num, msg.symbol, msg.side, msg.price, msg.quantity,
                executed=old.executed if old else 0,
                history=old.history if old else [],
            )  # fmt: skip
            order.order_reference_number = msg.order_reference_number
            order.state = "live" if msg.order_state == "L" else "dead"
            self.orders[msg.user_ref_num] = order
            order.history.append(msg)
            return order
        found = self.orders.get(urn)
        if isinstance(msg, v50.Rejected):
            self._pending.pop(urn, None)
            if found is not None and found.state == "pending":
                found.state = "rejected"
        if found is None:
            return None
        order = found
        order.history.append(msg)
        if isinstance(msg, v50.OrderAccepted):
            self._pending.pop(urn, None)
            order.state = "live" if msg.order_state == "L" else "dead"
            order.quantity = msg.quantity
            order.price = msg.price
            order.order_reference_number = msg.order_reference_number
        elif isinstance(msg, v50.OrderExecuted):
            order.executed += msg.quantity
            order.quantity = max(0, order.quantity - msg.quantity)
            if order.quantity == 0:
                order.state = "dead"
        elif isinstance(msg, v50.OrderCanceled | v50.AiqCanceled):
            dec = msg.quantity if isinstance(msg, v50.OrderCanceled) else msg.decrement_shares
            order.quantity = max(0, order.quantity - dec)
            self._pending_other = [
                m for m in self._pending_other
                if not (isinstance(m, v50.CancelOrder) and m.user_ref_num == urn)
            ]  # fmt: skip
            if order.quantity == 0:
                order.state = "dead"
        elif isinstance(msg, v50.OrderModified):
            order.side = msg.side
            order.quantity = msg.quantity
            self._pending_other = [
                m for m in self._pending_other
                if not (isinstance(m, v50.ModifyOrder) and m.user_ref_num == urn)
            ]  # fmt: skip
        elif isinstance(msg, v50.OrderPriorityUpdate):
            order.price = msg.price
            order.order_reference_number = msg.order_reference_number
        return order


class OuchHost50:
    """The host side of an OUCH 5.0 port's order lifecycle (no matching).

    ``handle(inbound)`` returns the outbound messages to sequence. Enter and
    Replace with a UserRefNum at or below the last one processed are ignored
    as retransmissions (spec 1.2); superfluous cancels are ignored.
    """

    def __init__(self, clock: Callable[[], int] = _ns_since_midnight) -> None:
        self.clock = clock
        self.last_user_ref_num = 0
        self.next_order_reference_number = 1
        self.live: dict[int, v50.OrderAccepted | v50.OrderReplaced] = {}
        self.ignored = 0

    def handle(self, msg: v50.InboundMessage) -> list[v50.OutboundMessage]:
        ts = self.clock()
        if isinstance(msg, v50.EnterOrder):
            if msg.user_ref_num <= self.last_user_ref_num:
                self.ignored += 1
                return []
            self.last_user_ref_num = msg.user_ref_num
            if not 0 < msg.quantity < 1_000_000:
                reason = v50.RejectReason.INVALID_QUANTITY
                return [v50.Rejected(ts, msg.user_ref_num, reason, msg.cl_ord_id)]
            acc = v50.OrderAccepted(
                ts, msg.user_ref_num, msg.side, msg.quantity, msg.symbol, msg.price,
                msg.time_in_force, msg.display, self._orn(), msg.capacity,
                msg.intermarket_sweep_eligibility, msg.cross_type, "L", msg.cl_ord_id,
                msg.appendages,
            )  # fmt: skip
            self.live[msg.user_ref_num] = acc
            return [acc]
        if isinstance(msg, v50.ReplaceOrder):
            old = self.live.get(msg.orig_user_ref_num)
            if old is None or msg.user_ref_num <= self.last_user_ref_num:
                self.ignored += 1
                return []
            self.last_user_ref_num = msg.user_ref_num
            del self.live[msg.orig_user_ref_num]
            rep = v50.OrderReplaced(
                ts, msg.orig_user_ref_num, msg.user_ref_num, old.side, msg.quantity, old.symbol,
                msg.price, msg.time_in_force, msg.display, self._orn(), old.capacity,
                msg.intermarket_sweep_eligibility, old.cross_type, "L", msg.cl_ord_id,
                msg.appendages,
            )  # fmt: skip
            self.live[msg.user_ref_num] = rep
            return [rep]
        if isinstance(msg, v50.CancelOrder):
            order = self.live.get(msg.user_ref_num)
            if order is None or msg.quantity >= order.quantity:
                self.ignored += 1
                return []
            dec = order.quantity - msg.quantity
            if msg.quantity == 0:
                del self.live[msg.user_ref_num]
            else:
                self.live[msg.user_ref_num] = _with_quantity(order, msg.quantity)
            return [v50.OrderCanceled(ts, msg.user_ref_num, dec, "U")]
        if isinstance(msg, v50.ModifyOrder):
            order = self.live.get(msg.user_ref_num)
            if order is None or msg.quantity > order.quantity:
                self.ignored += 1
                return []
            self.live[msg.user_ref_num] = _with_quantity(order, msg.quantity)
            return [v50.OrderModified(ts, msg.user_ref_num, msg.side, msg.quantity)]
        if isinstance(msg, v50.AccountQueryRequest):
            return [v50.AccountQueryResponse(ts, self.last_user_ref_num + 1)]
        return []

    def _orn(self) -> int:
        n = self.next_order_reference_number
        self.next_order_reference_number += 1
        return n


def _with_quantity(
    order: v50.OrderAccepted | v50.OrderReplaced, quantity: int
) -> v50.OrderAccepted | v50.OrderReplaced:
    return dataclasses.replace(order, quantity=quantity)


# ================================================================ OUCH 4.2
class OrderBook42:
    """Client-side OUCH 4.2 order state keyed by Order Token.

    Tokens must be day-unique; by default they are ``prefix`` plus a counter.
    """

    def __init__(self, prefix: str = "TW", first: int = 1) -> None:
        self.prefix = prefix
        self.counter = first
        self.orders: dict[str, Order[str]] = {}
        self.used_tokens: set[str] = set()  # day-unique, even after a replace retires one
        self._pending: dict[str, v42.InboundMessage] = {}
        self._pending_other: list[v42.InboundMessage] = []

    def new_token(self) -> str:
        while True:
            token = f"{self.prefix}{self.counter:0{14 - len(self.prefix)}d}"
            self.counter += 1
            if token not in self.used_tokens:
                return token

    def enter(
        self,
        buy_sell_indicator: str,
        shares: int,
        stock: str,
        price: int,
        *,
        time_in_force: int = v42.TIF_MARKET_HOURS,
        firm: str = "",
        display: str = "Y",
        capacity: str = "A",
        intermarket_sweep_eligibility: str = "N",
        minimum_quantity: int = 0,
        cross_type: str = "N",
        customer_type: str = " ",
        order_token: str | None = None,
    ) -> v42.EnterOrder:
        token = self.new_token() if order_token is None else order_token
        if token in self.used_tokens:
            raise OuchError(f"order token {token!r} already used today")
        msg = v42.EnterOrder(
            token, buy_sell_indicator, shares, stock, price, time_in_force, firm, display,
            capacity, intermarket_sweep_eligibility, minimum_quantity, cross_type, customer_type,
        )  # fmt: skip
        v42.encode(msg)
        self.used_tokens.add(token)
        self.orders[token] = Order(token, stock, buy_sell_indicator, price, shares)
        self._pending[token] = msg
        return msg

    def replace(
        self,
        order_token: str,
        shares: int,
        price: int,
        *,
        time_in_force: int = v42.TIF_MARKET_HOURS,
        display: str = "Y",
        intermarket_sweep_eligibility: str = "N",
        minimum_quantity: int = 0,
    ) -> v42.ReplaceOrder:
        if order_token not in self.orders:
            raise OuchError(f"no order with token {order_token!r}")
        new = self.new_token()
        msg = v42.ReplaceOrder(
            order_token, new, shares, price, time_in_force, display,
            intermarket_sweep_eligibility, minimum_quantity,
        )  # fmt: skip
        v42.encode(msg)
        self.used_tokens.add(new)
        self._pending[new] = msg
        return msg

    def cancel(self, order_token: str, shares: int = 0) -> v42.CancelOrder:
        if order_token not in self.orders:
            raise OuchError(f"no order with token {order_token!r}")
        msg = v42.CancelOrder(order_token, shares)
        self._pending_other.append(msg)
        return msg

    def modify(self, order_token: str, buy_sell_indicator: str, shares: int) -> v42.ModifyOrder:
        if order_token not in self.orders:
            raise OuchError(f"no order with token {order_token!r}")
        msg = v42.ModifyOrder(order_token, buy_sell_indicator, shares)
        self._pending_other.append(msg)
        return msg

    def pending(self) -> list[v42.InboundMessage]:
        return list(self._pending.values()) + list(self._pending_other)

    def on_message(self, msg: v42.OutboundMessage) -> Order[str] | None:
        if isinstance(msg, v42.OrderReplaced):
            old = self.orders.pop(msg.previous_order_token, None)
            self._pending.pop(msg.replacement_order_token, None)
            order = Order(
                msg.replacement_order_token, msg.stock, msg.buy_sell_indicator, msg.price,
                msg.shares, executed=old.executed if old else 0, history=old.history if old else [],
            )  # fmt: skip
            order.state = "live" if msg.order_state == "L" else "dead"
            order.order_reference_number = msg.order_reference_number
            order.history.append(msg)
            self.orders[order.key] = order
            return order
        token = getattr(msg, "order_token", None)
        if token is None:
            return None
        found = self.orders.get(token)
        if isinstance(msg, v42.Rejected):
            self._pending.pop(token, None)
            if found is not None and found.state == "pending":
                found.state = "rejected"
        if found is None:
            return None
        order = found
        order.history.append(msg)
        if isinstance(msg, v42.OrderAccepted):
            self._pending.pop(token, None)
            order.state = "live" if msg.order_state == "L" else "dead"
            order.quantity = msg.shares
            order.price = msg.price
            order.order_reference_number = msg.order_reference_number
        elif isinstance(msg, v42.OrderExecuted | v42.ExecutedWithReferencePrice):
            order.executed += msg.executed_shares
            order.quantity = max(0, order.quantity - msg.executed_shares)
            if order.quantity == 0:
                order.state = "dead"
        elif isinstance(msg, v42.OrderCanceled | v42.AiqCanceled):
            order.quantity = max(0, order.quantity - msg.decrement_shares)
            self._pending_other = [
                m for m in self._pending_other
                if not (isinstance(m, v42.CancelOrder) and m.order_token == token)
            ]  # fmt: skip
            if order.quantity == 0:
                order.state = "dead"
        elif isinstance(msg, v42.OrderModified):
            order.side = msg.buy_sell_indicator
            order.quantity = msg.shares
            self._pending_other = [
                m for m in self._pending_other
                if not (isinstance(m, v42.ModifyOrder) and m.order_token == token)
            ]  # fmt: skip
        return order


class OuchHost42:
    """The host side of an OUCH 4.2 port's order lifecycle (no matching);
    a token already used is ignored (duplicate Enter Orders are benign)."""

    def __init__(self, clock: Callable[[], int] = _ns_since_midnight) -> None:
        self.clock = clock
        self.used_tokens: set[str] = set()
        self.next_order_reference_number = 1
        self.live: dict[str, v42.OrderAccepted | v42.OrderReplaced] = {}
        self.ignored = 0

    def handle(self, msg: v42.InboundMessage) -> list[v42.OutboundMessage]:
        ts = self.clock()
        if isinstance(msg, v42.EnterOrder):
            if msg.order_token in self.used_tokens:
                self.ignored += 1
                return []
            self.used_tokens.add(msg.order_token)
            if not 0 < msg.shares < 1_000_000:
                return [v42.Rejected(ts, msg.order_token, "Z")]
            acc = v42.OrderAccepted(
                ts, msg.order_token, msg.buy_sell_indicator, msg.shares, msg.stock, msg.price,
                msg.time_in_force, msg.firm, msg.display, self._orn(), msg.capacity,
                msg.intermarket_sweep_eligibility, msg.minimum_quantity, msg.cross_type, "L", " ",
            )  # fmt: skip
            self.live[msg.order_token] = acc
            return [acc]
        if isinstance(msg, v42.ReplaceOrder):
            old = self.live.get(msg.existing_order_token)
            if old is None or msg.replacement_order_token in self.used_tokens:
                self.ignored += 1
                return []
            self.used_tokens.add(msg.replacement_order_token)
            del self.live[msg.existing_order_token]
            rep = v42.OrderReplaced(
                ts, msg.replacement_order_token, old.buy_sell_indicator, msg.shares, old.stock,
                msg.price, msg.time_in_force, old.firm, msg.display, self._orn(), old.capacity,
                msg.intermarket_sweep_eligibility, msg.minimum_quantity, old.cross_type, "L",
                msg.existing_order_token, " ",
            )  # fmt: skip
            self.live[msg.replacement_order_token] = rep
            return [rep]
        if isinstance(msg, v42.CancelOrder):
            order = self.live.get(msg.order_token)
            if order is None or msg.shares >= order.shares:
                self.ignored += 1
                return []
            dec = order.shares - msg.shares
            if msg.shares == 0:
                del self.live[msg.order_token]
            else:
                self.live[msg.order_token] = dataclasses.replace(order, shares=msg.shares)
            return [v42.OrderCanceled(ts, msg.order_token, dec, "U")]
        if isinstance(msg, v42.ModifyOrder):
            order = self.live.get(msg.order_token)
            if order is None or msg.shares > order.shares:
                self.ignored += 1
                return []
            self.live[msg.order_token] = dataclasses.replace(order, shares=msg.shares)
            return [v42.OrderModified(ts, msg.order_token, msg.buy_sell_indicator, msg.shares)]
        return []

    def _orn(self) -> int:
        n = self.next_order_reference_number
        self.next_order_reference_number += 1
        return n
