"""Order state for OUCH order entry (sans-I/O), client and host side.

Client side, :class:`OrderBook50` (OUCH 5.0, keyed by UserRefNum) and
:class:`OrderBook42` (OUCH 4.2, keyed by Order Token) build the inbound
messages, track every order from the outbound messages, and keep the requests
not yet acknowledged (not one the venue will ignore: a Cancel or Modify of an order
over or beyond its shares open, a Replace of an order over, :meth:`_ClientBook._drop_moot`).
After a reconnect those are resent unchanged: OUCH makes
inbound messages benignly repeatable (a UserRefNum at or below the last one
processed, or a token already used, is ignored by the host), so a resent order
is recognised, never doubled. UserRefNums are strictly increasing, as the
spec requires.

Host side, :class:`OuchHost50` and :class:`OuchHost42` answer inbound
messages the way an OUCH port does for the order lifecycle (accept, replace,
cancel, modify by :func:`modify_refusal`, account query; duplicates ignored; IOC orders
canceled at once, GTT and 4.2 Time In Force in seconds expired on a deadline clock), as
the simulated exchange's accounts answer an account alone in an open market. They are
conformance hosts for tests, examples and benchmarks, not a matching engine: nothing executes.

The client books' order state is the one :class:`~tickwire.ouch.tracker.OrderTracker`:
the books add the request side (UserRefNums or tokens, validation, the requests not yet
acknowledged) and their :attr:`~OrderBook50.orders` view, one entry per replace chain
under its current key.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Callable
from typing import Any, Generic, Literal, TypeVar

from . import v42, v50
from ._errors import OuchError
from .deadlines import Deadlines
from .tracker import SELL_SIDES, Event, OrderTracker, TrackedOrder, acknowledges_cancel

__all__ = [
    "Order",
    "OrderBook42",
    "OrderBook50",
    "OuchHost42",
    "OuchHost50",
    "acknowledges_cancel",
    "modify_refusal",
]

K = TypeVar("K", int, str)


#: One order chain as a client book sees it (the tracker's record: ``quantity`` is the
#: shares open, ``executed`` the shares executed over the chain).
Order = TrackedOrder


class _ClientBook(Generic[K]):
    """What both client books share: the tracker, the chain view, the pending requests."""

    def __init__(self) -> None:
        self.tracker: OrderTracker[K] = OrderTracker(keep_history=True)
        self.orders: dict[K, TrackedOrder[K]] = {}  # one entry per chain, current key
        self._pending: dict[K, Any] = {}  # key -> unacknowledged Enter or Replace
        # key -> the Enter or Replace that set the order's terms, while it may be open
        # (what :meth:`replace` keeps: :meth:`_kept`)
        self._terms: dict[K, Any] = {}
        # key -> the Enter Order of its chain (its Capacity, Cross Type and Firm, which a
        # Replace does not carry), while :attr:`_terms` holds the key
        self._entered: dict[K, Any] = {}
        self._pending_other: list[tuple[str, K, Any]] = []  # (cancel|modify, key, request)

    def _chain(self, key: K, what: str) -> TrackedOrder[K]:
        order = self.orders.get(key)
        if order is None:
            raise OuchError(f"no order with {what} {key!r}")
        return order

    def _sent(self, order: TrackedOrder[K], request: object) -> None:
        self.tracker.sent(order)
        if order.replaces is None:
            self.orders[order.key] = order
        if order.is_open:  # a replace of an order over is ignored: nothing to resend
            self._pending[order.key] = request
            self._terms[order.key] = request
            if order.replaces is None:
                self._entered[order.key] = request
            elif order.replaces in self._entered:
                self._entered[order.key] = self._entered[order.replaces]

    def _forget_terms(self, key: K) -> None:
        self._terms.pop(key, None)
        self._entered.pop(key, None)

    def _answered(self, key: K, msg: Any) -> Any:
        """The terms order ``key`` holds after its Order Accepted (Replaced) ``msg``, or
        why ``msg`` is distrusted (a ``str``). Each book states it for its version."""
        raise NotImplementedError

    @staticmethod
    def _kept(terms: Any, field: str, given: Any, default: Any) -> Any:
        """A Replace's ``field``: as ``given``, else as ``terms`` (the Enter or last
        Replace of the order, with the Time In Force and Display the venue accepted:
        :attr:`_terms`, :func:`_answered50`, :func:`_with_display`) said it (``default``
        when there are none).

        Rule: what a Replace Order does not say is kept from the order it replaces, as the
        engine's order manager keeps it: its Time In Force, Display, Intermarket Sweep
        Eligibility, 4.2's Minimum Quantity and 5.0's appendages, but for an ExpireTime
        (OptionTag 15) once the Replace gives another Time In Force (it goes with GTT
        only: :func:`tickwire.ouch.v50.replace_keeps_expire_time`). Why: the defaults were Day (4.2: market hours), visible, no appendages, so
        a replace of a price alone made a GTT or hidden order a visible Day order (a GTT
        without its ExpireTime: refused, and its original canceled). Test:
        ``test_ouch_orders.py::test_a_replace_keeps_what_it_does_not_say``."""
        if given is not None:
            return given
        return default if terms is None else getattr(terms, field)

    def _other_sent(self, kind: str, key: K, request: object) -> None:
        """Keep a Cancel or Modify of ``key`` pending (then drop it if already moot)."""
        self._pending_other.append((kind, key, request))
        if kind == "modify":
            self.tracker.modify_sent(key)
        else:
            self.tracker.cancel_sent(key)
        self._drop_moot(key)

    def _drop_moot(self, key: K) -> None:
        """Forget the Cancels and Modifies of order ``key`` the venue will ignore.

        Rule: the venue answers nothing to a Cancel of an order not open or to a size at
        or above its shares open, nor to a Modify of an order not live or to more shares
        than open (OUCH 5.0 sections 2.3, 2.4: "ignored"; 4.2 the same). The shares open
        this book knows are never fewer than the venue's (executions only reduce them,
        and the venue's answers arrive in the order it acted), so a request moot by this
        book's record is moot at the venue: it is not kept pending (nor its Modify in
        flight in the tracker, nor its Cancel), when sent or once an answer makes it so. Why: such a
        request stayed in :meth:`pending` for ever, resent after every reconnect, and a
        Modify so kept let a later Rejected of the live order pass as its refusal. Test:
        ``packages/exchange/tests/test_exchange_client_property.py::test_requests_the_exchange_ignores_are_not_kept_pending``.
        """
        o = self.tracker.orders.get(key)
        if o is None:
            return
        keep: list[tuple[str, K, Any]] = []
        for p in self._pending_other:
            kind, k, req = p
            if k == key and (not o.is_open or _moot(kind, req, o.quantity)):
                if kind == "modify" and o.modifying:
                    o.modifying -= 1
                elif kind == "cancel" and o.cancelling:
                    o.cancelling -= 1
                continue
            keep.append(p)
        self._pending_other = keep

    def _drop_other(self, kind: str, key: K) -> None:
        """Forget the oldest cancel or modify of ``key`` not yet acknowledged."""
        for i, pending in enumerate(self._pending_other):
            if pending[:2] == (kind, key):
                del self._pending_other[i]
                return

    def _apply(self, msg: object) -> TrackedOrder[K] | None:
        """Apply an outbound message; returns the order it concerned (if any)."""
        change = self.tracker.on_message(msg)
        if change is None:
            return None
        answer = change.answer
        key, event = answer.key, answer.event
        if isinstance(msg, _TERMS_ANSWERS) and not change.ignored and key in self._terms:
            # Rule: an Order Accepted (Replaced) the tracker applied is checked against what
            # was sent, as the engine's order manager checks it: the fields OUCH echoes as
            # entered (:func:`tickwire.ouch.v50.not_as_entered`: Capacity, Intermarket
            # Sweep Eligibility, Cross Type, Firm) and the Time In Force, "equal to or
            # shorter in scope" (:meth:`OrderBook50._answered`, :meth:`OrderBook42._answered`).
            # One another or wider than sent is counted in ``tracker.distrusted`` (once per
            # answer; not when the tracker distrusted it already) and the order keeps the
            # terms sent; narrower terms become the order's. Why: the books took such an
            # answer silently (a wider Time In Force was left out of the terms and not
            # counted). Tests:
            # ``test_ouch_orders.py::test_the_books_distrust_an_answer_not_as_entered``,
            # ``test_ouch_orders.py::test_the_books_count_a_wider_time_in_force``.
            terms = self._answered(key, msg)
            if isinstance(terms, str):
                self.tracker.distrust(change, terms)
            elif not change.distrust:
                self._terms[key] = _with_display(terms, msg.display)
        elif isinstance(msg, _DISPLAY_UPDATES) and not change.distrust and key in self._terms:
            # (a Priority Update priced worse than the limit, or of no live order, is not)
            self._terms[key] = _with_display(self._terms[key], msg.display)
        if change.order is not None and not change.order.is_open:
            self._forget_terms(key)  # over: nothing to replace
        for ended in change.cascaded:
            self._forget_terms(ended.key)
        if event is Event.REPLACED or event is Event.REPLACED_DEAD:
            if answer.orig is not None:
                self.orders.pop(answer.orig, None)
                self._forget_terms(answer.orig)
            self._pending.pop(key, None)
            if change.order is not None:
                self.orders[key] = change.order
        elif change.refused == "modify":  # a Rejected of a live order: its Modify refused
            self._drop_other("modify", key)
        elif event in (Event.ACCEPTED, Event.ACCEPTED_DEAD, Event.REJECTED):
            self._pending.pop(key, None)
        elif event is Event.MODIFIED or (
            event is Event.CANCELED and acknowledges_cancel(answer.reason)
        ):
            # Rule: an Order Modified answers the oldest Modify of the order in flight, an
            # Order Canceled of reason U (:func:`acknowledges_cancel`) its oldest Cancel:
            # that one only is acknowledged (the venue answers in the order it acts; one
            # it ignored was moot and is gone already, :meth:`_drop_moot`). Why: every
            # Cancel (Modify) of the order was dropped, so a second one still in flight
            # was not resent after a reconnect. Test:
            # ``test_exchange_client_property.py::test_a_second_cancel_or_modify_in_flight_stays_pending_until_answered``.
            self._drop_other("cancel" if event is Event.CANCELED else "modify", key)
        elif event is Event.CANCEL_REJECTED and not change.ignored:
            # Rule: a Cancel Reject answers the oldest Cancel of the order in flight, which
            # ends there (OUCH 5.0: sent once for a UserRefNum, and "duplicate cancel
            # requests for the same UserRefNum will be ignored"); the order stays as it
            # was. Why: the Cancel stayed pending, resent after every reconnect and
            # ignored. Test: ``test_ouch_orders.py::test_a_cancel_reject_ends_the_cancel_it_answers``.
            # (One with no Cancel in flight the tracker distrusts: ``_cancel_rejected``.)
            self._drop_other("cancel", key)
        for gone in change.cascaded:  # a replace the venue will ignore: nothing to resend
            self._pending.pop(gone.key, None)
        if self._pending_other:
            for o in (change.order, change.previous):
                if o is not None:
                    self._drop_moot(o.key)
        return change.order


#: The answers whose terms a client book checks against the Enter or Replace sent.
_TERMS_ANSWERS = (v50.OrderAccepted, v50.OrderReplaced, v42.OrderAccepted, v42.OrderReplaced)
#: The other answers naming the Display the venue now holds ("the new display").
_DISPLAY_UPDATES = (v50.OrderPriorityUpdate, v42.OrderPriorityUpdate)


def _with_display(terms: Any, display: str) -> Any:
    """``terms`` (an order's Enter or last Replace, :attr:`_ClientBook._terms`) with the
    Display the venue named, what a later replace that gives none re-sends.

    Rule: the Display of an Order Accepted or Replaced the book trusts ("the accepted
    display on the order", which may differ from the entered, OUCH 5.0 section 3; 4.2
    alike), then of an Order Priority Update ("the new display for the order") not
    distrusted, is the order's: :func:`tickwire.ouch.v50.held_display` (``Y``, ``N``,
    ``A``; a conformant ``Z`` leaves the Display in :attr:`_ClientBook._terms`). Why:
    ``replace`` re-sent the Display the book had sent, not the one the venue accepted, so
    a visible order accepted hidden was made visible again by a replace of its price
    alone. Test: ``test_ouch_orders.py::test_a_replace_keeps_the_display_the_venue_accepted``."""
    held = v50.held_display(display, terms.display)
    return terms if held == terms.display else dataclasses.replace(terms, display=held)


def _not_as_entered(request: Any, entered: Any, answer: Any, firm: str) -> str | None:
    """Why ``answer`` does not echo the fields of the order as entered (the chain's Enter
    ``entered``: Capacity, Cross Type, ``firm``; the Enter's or Replace's ``request``:
    Intermarket Sweep Eligibility, Minimum Quantity), or None:
    :func:`tickwire.ouch.v50.not_as_entered`, the order manager's rule, for both versions."""
    if entered is None:
        return None
    sent_min = v50.answer_min_qty(request)  # a 5.0 request with no MinQty: 0, none
    return v50.not_as_entered(
        answer, entered.capacity, request.intermarket_sweep_eligibility, entered.cross_type,
        firm, sent_min if isinstance(sent_min, int) else 0,
    )  # fmt: skip


def _answered50(
    request: v50.EnterOrder | v50.ReplaceOrder, answer: v50.OrderAccepted | v50.OrderReplaced
) -> v50.EnterOrder | v50.ReplaceOrder | str:
    """``request`` (an order's kept terms, :attr:`_ClientBook._terms`) with the Time In
    Force and ExpireTime its ``answer`` gave the order, or why the answer is distrusted.

    Rule: :func:`tickwire.ouch.v50.answered_terms`, the one the engine's order manager
    asks: narrower terms the venue accepted (a GTX order accepted as Day, a GTT with a
    shorter ExpireTime) are the order's, and what a later :meth:`OrderBook50.replace` keeps;
    terms it distrusts (wider than sent, out of range) leave the request as sent, and the
    reason is returned, for ``tracker.distrusted`` to count. The
    ExpireTime appendage is set in place (dropped when the answer's Time In Force has none),
    the other appendages kept. Why: the book kept the terms it sent and the order manager
    the accepted ones, so the two layers replaced one order differently (a GTX accepted as
    Day replaced as GTX). Test:
    ``test_ouch_orders.py::test_a_replace_keeps_the_terms_the_venue_accepted``."""
    gtt = request.time_in_force == v50.TimeInForce.GTT
    sent = (request.time_in_force, v50.expire_time(request.appendages) if gtt else None)
    terms = v50.answered_terms(*sent, answer.time_in_force, answer.appendages)
    if isinstance(terms, str):
        return terms
    if terms == sent:
        return request
    tag = v50.OptionTag.EXPIRE_TIME
    kept = tuple(a for a in request.appendages if a.tag != tag)
    if terms.expire_time is not None:
        kept += (v50.TagValue(tag, terms.expire_time),)
    return dataclasses.replace(request, time_in_force=terms.time_in_force, appendages=kept)


def _moot(kind: str, request: Any, open_shares: int) -> bool:
    """Whether the venue ignores a Cancel (``kind`` "cancel") or Modify of an order with
    ``open_shares`` open: a Cancel to a size at or above it, a Modify to more."""
    size = request.quantity if hasattr(request, "quantity") else request.shares
    return bool(size >= open_shares) if kind == "cancel" else bool(size > open_shares)


def _stamp(host: OuchHost50 | OuchHost42, now: int | None) -> int:
    """The timestamp of the answers: ``now``, or (deprecated) the host's ``clock()``."""
    if now is not None:
        return now
    if host.clock is None:
        raise TypeError(
            f"{type(host).__name__}.handle(msg, now): now, the time in ns since midnight, is needed"
        )
    return host.clock()


def _deprecated_clock(cls: str, clock: Callable[[], int] | None) -> Callable[[], int] | None:
    if clock is not None:
        warnings.warn(
            f"{cls}(clock=...) is deprecated: pass the time to handle(msg, now)",
            DeprecationWarning,
            stacklevel=3,
        )
    return clock


def modify_refusal(side: str, new_side: str, open_shares: int, quantity: int) -> v50.RejectReason | Literal[False] | None:  # fmt: skip
    """How a Modify of a live order is answered: ``False`` ignored, a ``RejectReason``
    refused (a Rejected), ``None`` granted (an Order Modified).

    Rule, OUCH 5.0 section 2.4 (4.2's Modify Order alike): "Increasing share amount is not
    allowed and requests to do so will be ignored": a ``quantity`` above the shares open
    is ignored (no answer). "Entering a zero here will cancel any remaining open shares":
    0 is granted and ends the order (the Order Modified's Quantity, the shares still
    outstanding, is 0; the tracker ends an order modified to nothing). The side may
    change only among the sell sides (S, T, E: the spec's S-E, S-T, E-T) or stay, else
    ``RejectReason.INVALID_SIDE``. A granted Modify keeps the order's priority, as a
    partial cancel does: the book side (buy or sell) does not change. A Modify of an
    order no longer live is ignored by the caller, as a superfluous cancel is. Why: the
    simulated exchange ignored every Modify, leaving the client's Modify in flight for
    ever, and this host granted any side change; the rule is shared so both answer alike.
    Tests: ``packages/exchange/tests/test_exchange_modify.py``.
    """
    if quantity > open_shares:
        return False
    if new_side != side and not (new_side in SELL_SIDES and side in SELL_SIDES):
        return v50.RejectReason.INVALID_SIDE
    return None


class _HostDeadlines(Generic[K]):
    """The order deadlines of a conformance host: a 5.0 GTT's ExpireTime, a 4.2 Time In
    Force in seconds (:func:`~tickwire.ouch.v50.lifetime`, :func:`~tickwire.ouch.v42.lifetime`).

    Rule: an order accepted (or replaced: the replacement's own Time In Force counts from
    the replace) with a lifetime is canceled that long after, earliest deadline first,
    ties in arrival order: Order Canceled, reason ``T``
    (:data:`~tickwire.ouch.v50.CANCELED_TIMEOUT`), stamped ``now``. Deadlines are
    measured on :attr:`deadline_clock` (ns, a clock that only runs forward; default
    ``time.monotonic_ns``), never on the timestamps of the day, as the simulated
    exchange's accounts measure theirs (their ``deadline_clock``). ``handle(msg, now)``
    expires what is due first (a request naming an order whose time is up finds it gone),
    :meth:`expire` and :meth:`next_expiry` let a caller (``serve_ouch``'s timer) expire
    unsolicited. Why: the hosts never expired an order, where the exchange does. Tests:
    ``test_ouch_orders.py::test_hosts_expire_a_gtt_or_4_2_time_in_force_in_seconds_on_the_deadline_clock``,
    ``packages/exchange/tests/test_exchange_host_parity.py``.
    """

    live: dict[K, Any]

    def _init_deadlines(self, deadline_clock: Callable[[], int]) -> None:
        #: The clock (ns, only runs forward) order deadlines are measured on.
        self.deadline_clock = deadline_clock
        self._deadlines: Deadlines[K] = Deadlines()

    def _expire_after(self, key: K, lifetime: int | None) -> None:
        """Give order ``key``, live from now, its deadline when it has a ``lifetime``."""
        if lifetime is not None:
            self._deadlines.set(key, self.deadline_clock() + lifetime)

    def next_expiry(self) -> int | None:
        """The time (ns, on :attr:`deadline_clock`) :meth:`expire` next has an order to
        cancel at, or None."""
        return self._deadlines.next(self.live.__contains__)

    def _expire_due(self, at: int | None) -> list[K]:
        """The live orders whose deadline is at or before ``at`` (default:
        :attr:`deadline_clock` now), in order; the caller takes them out of :attr:`live`."""
        return self._deadlines.due(
            self.deadline_clock() if at is None else at, self.live.__contains__
        )


# ================================================================ OUCH 5.0
class OrderBook50(_ClientBook[int]):
    """Client-side OUCH 5.0 order state keyed by UserRefNum."""

    def __init__(self, next_user_ref_num: int = 1) -> None:
        super().__init__()
        self.next_user_ref_num = next_user_ref_num

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
        self._sent(TrackedOrder(urn, symbol, side, price, quantity), msg)
        return msg

    def replace(
        self,
        user_ref_num: int,
        quantity: int,
        price: int,
        *,
        time_in_force: str | None = None,
        display: str | None = None,
        intermarket_sweep_eligibility: str | None = None,
        cl_ord_id: str | None = None,
        appendages: tuple[v50.TagValue, ...] | None = None,
    ) -> v50.ReplaceOrder:
        """Replace order ``user_ref_num``: ``quantity`` is the chain's total (executed +
        open), as on the wire. What is not given is kept from the order's Enter or last
        Replace (:meth:`_ClientBook._kept`): Time In Force, Display, Intermarket Sweep
        Eligibility and appendages (its ExpireTime dropped when another Time In Force is
        given); a new ClOrdID is made unless given."""
        old = self._chain(user_ref_num, "UserRefNum")
        new = self._peek_user_ref_num()
        kept = self._terms.get(user_ref_num)
        tif = self._kept(kept, "time_in_force", time_in_force, v50.TimeInForce.DAY)
        if appendages is None:
            appendages = () if kept is None else kept.appendages
            if kept is not None and not v50.replace_keeps_expire_time(kept.time_in_force, tif):
                appendages = tuple(a for a in appendages if a.tag != v50.OptionTag.EXPIRE_TIME)
        msg = v50.ReplaceOrder(
            user_ref_num,
            new,
            quantity,
            price,
            tif,
            self._kept(kept, "display", display, v50.Display.VISIBLE),
            self._kept(kept, "intermarket_sweep_eligibility", intermarket_sweep_eligibility, "N"),
            v50.cl_ord_id_for(new) if cl_ord_id is None else cl_ord_id,
            appendages,
        )
        v50.encode(msg)
        self.next_user_ref_num = new + 1
        # The wire carries the chain's total (executed + open); open is the rest.
        open_ = max(0, quantity - old.executed)
        self._sent(TrackedOrder(new, old.symbol, old.side, price, open_, replaces=old.key), msg)
        return msg

    def cancel(self, user_ref_num: int, quantity: int = 0) -> v50.CancelOrder:
        self._chain(user_ref_num, "UserRefNum")
        msg = v50.CancelOrder(user_ref_num, quantity)
        self._other_sent("cancel", user_ref_num, msg)
        return msg

    def modify(self, user_ref_num: int, side: str, quantity: int) -> v50.ModifyOrder:
        self._chain(user_ref_num, "UserRefNum")
        msg = v50.ModifyOrder(user_ref_num, side, quantity)
        self._other_sent("modify", user_ref_num, msg)
        return msg

    def _answered(
        self, key: int, msg: v50.OrderAccepted | v50.OrderReplaced
    ) -> v50.EnterOrder | v50.ReplaceOrder | str:
        """The 5.0 rule of :meth:`_ClientBook._apply`: as entered (the Firm appendage of
        the Enter), then :func:`_answered50`."""
        request, entered = self._terms[key], self._entered.get(key)
        firm = "" if entered is None else v50.firm_appendage(entered.appendages)
        why = _not_as_entered(request, entered, msg, firm)
        return why if why is not None else _answered50(request, msg)

    def pending(self) -> list[v50.InboundMessage]:
        """Requests not yet acknowledged, in the order they were made (resend these)."""
        reqs: list[v50.InboundMessage] = [self._pending[k] for k in sorted(self._pending)]
        return reqs + [req for _, _, req in self._pending_other]

    def on_message(self, msg: v50.OutboundMessage) -> Order[int] | None:
        """Apply an outbound message; returns the order it concerned (if any)."""
        if isinstance(msg, v50.AccountQueryResponse):
            self.next_user_ref_num = max(self.next_user_ref_num, msg.next_user_ref_num)
            return None
        return self._apply(msg)


class OuchHost50(_HostDeadlines[int]):
    """The host side of an OUCH 5.0 port's order lifecycle (no matching).

    ``handle(inbound, now)`` returns the outbound messages to sequence, stamped
    ``now`` (ns since midnight: sans-I/O, the caller owns the clock;
    :func:`~tickwire.ouch.client.serve_ouch` passes the wall clock). Enter and
    Replace with a UserRefNum at or below the last one processed are ignored
    as retransmissions (spec 1.2); superfluous cancels are ignored. It answers as the
    simulated exchange's ``Account50`` (the reference) answers an account alone in an
    open market: ``packages/exchange/tests/test_exchange_host_parity.py`` drives both.

    An Enter whose side, quantity or price OUCH refuses is Rejected with the reason of
    :func:`~tickwire.ouch.v50.order_fields_reason` (0x09 side, 0x13 quantity, 0x1D
    price, in that order), then one whose Time In Force
    :func:`~tickwire.ouch.v50.time_in_force_error` refuses with 0x0F Other, the
    simulated exchange's and the backtest venue's answers (this host has no symbols and
    no market state to check). Its UserRefNum is consumed, as there. Why: the host
    checked only the quantity and accepted any side, price or Time In Force byte. Test:
    ``test_ouch_orders.py::test_hosts_refuse_an_enter_of_a_bad_side_quantity_price_or_time_in_force``.

    After those, a Display not ``Y``, ``N``, ``A`` is 0x03 Invalid Display and an
    appendage no tickwire venue runs earns its own reason (a MinQty other than 0, 0x0D
    Invalid Min Quantity; a MaxFloor below the quantity, 0x04; a peg, 0x05; a
    post-only order, 0x0F; ...: :func:`~tickwire.ouch.v50.order_terms_reason`; a
    Replace: invalid details), as the exchange answers. Why: the host accepted and
    echoed a Display ``Q`` or NUL, and rested a reserve or post-only order as a plain
    one. Tests: ``test_ouch_orders.py::test_hosts_refuse_a_bad_display_or_a_min_qty``,
    ``test_ouch_orders.py::test_hosts_refuse_an_appendage_they_do_not_run``.

    An Enter whose Cross Type is not ``N`` (continuous market) is Rejected 0x14 Invalid
    Cross Order after all of those (:func:`~tickwire.ouch.v50.cross_type_reason`), its
    UserRefNum consumed: the exchange runs no crosses and answers so. A Replace carries
    no Cross Type (the chain keeps the Enter's), so nothing changes there. Why: the host
    accepted an order of any Cross Type, an on-close order as a continuous one. Test:
    ``test_ouch_orders.py::test_hosts_reject_an_enter_of_a_cross_type_other_than_continuous``.

    A Replace of a live order whose details those same rules refuse (the quantity, the
    new price, the Time In Force and its ExpireTime; the side is the original's) is
    OUCH 5.0 section 2.2 case 2: the original is canceled (Order Canceled, reason ``Z``)
    and the replacement's UserRefNum is not consumed, as the exchange answers. Nothing
    executes here, so no Replace replaces an order dead (the exchange's section 2.2 case
    for a total at or below the shares executed). Why: the host replaced whatever it was
    given. Test: ``test_ouch_orders.py::test_hosts_cancel_the_original_of_a_replace_of_invalid_details``.

    An IOC order (Enter, or Replace to IOC) never rests: nothing here can fill it, so its
    Order Accepted (Replaced) is followed by an Order Canceled of all its shares, reason
    ``I``, as the exchange answers with no liquidity. Why: the host rested it as a Day
    order. Test: ``test_ouch_orders.py::test_hosts_never_rest_an_ioc_order``.

    A GTT order expires after its ExpireTime: see :class:`_HostDeadlines` (the
    ``deadline_clock`` keyword, :meth:`expire`, :meth:`next_expiry`).
    """

    def __init__(
        self,
        clock: Callable[[], int] | None = None,
        *,
        deadline_clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        #: deprecated: read by :meth:`handle` only when it is given no ``now``
        self.clock = _deprecated_clock("OuchHost50", clock)
        self.last_user_ref_num = 0
        self.next_order_reference_number = 1
        self.live: dict[int, v50.OrderAccepted | v50.OrderReplaced] = {}
        self.ignored = 0
        self._init_deadlines(deadline_clock)

    def expire(self, now: int, at: int | None = None) -> list[v50.OutboundMessage]:
        """Cancel every live order whose deadline is at or before ``at`` on
        :attr:`deadline_clock` (default: that clock now): Order Canceled of its open
        shares, reason ``T``, stamped ``now`` (ns since midnight), earliest first."""
        out: list[v50.OutboundMessage] = []
        for key in self._expire_due(at):
            order = self.live.pop(key)
            out.append(v50.OrderCanceled(now, key, order.quantity, v50.CANCELED_TIMEOUT))
        return out

    def handle(self, msg: v50.InboundMessage, now: int | None = None) -> list[v50.OutboundMessage]:
        ts = _stamp(self, now)
        expired = self.expire(ts)
        return expired + self._handle(msg, ts)

    def _handle(self, msg: v50.InboundMessage, ts: int) -> list[v50.OutboundMessage]:
        if isinstance(msg, v50.EnterOrder):
            if msg.user_ref_num <= self.last_user_ref_num:
                self.ignored += 1
                return []
            self.last_user_ref_num = msg.user_ref_num
            reason = _fields_reason50(msg.side, msg.quantity, msg.price, msg)
            if reason is None:  # the Enter's Cross Type, last: no Replace carries one
                reason = v50.cross_type_reason(msg.cross_type)
            if reason is not None:
                return [v50.Rejected(ts, msg.user_ref_num, reason, msg.cl_ord_id)]
            acc = v50.OrderAccepted(
                ts, msg.user_ref_num, msg.side, msg.quantity, msg.symbol, msg.price,
                msg.time_in_force, msg.display, self._orn(), msg.capacity,
                msg.intermarket_sweep_eligibility, msg.cross_type, "L", msg.cl_ord_id,
                msg.appendages,
            )  # fmt: skip
            return [acc, *self._rest(acc)]
        if isinstance(msg, v50.ReplaceOrder):
            old = self.live.get(msg.orig_user_ref_num)
            if old is None or msg.user_ref_num <= self.last_user_ref_num:
                self.ignored += 1
                return []
            if _fields_reason50(old.side, msg.quantity, msg.price, msg) is not None:
                # invalid details (section 2.2 case 2): the original is canceled, the
                # replacement's UserRefNum not consumed
                del self.live[msg.orig_user_ref_num]
                return [v50.OrderCanceled(ts, msg.orig_user_ref_num, old.quantity, "Z")]
            self.last_user_ref_num = msg.user_ref_num
            del self.live[msg.orig_user_ref_num]
            rep = v50.OrderReplaced(
                ts, msg.orig_user_ref_num, msg.user_ref_num, old.side, msg.quantity, old.symbol,
                msg.price, msg.time_in_force, msg.display, self._orn(), old.capacity,
                msg.intermarket_sweep_eligibility, old.cross_type, "L", msg.cl_ord_id,
                msg.appendages,
            )  # fmt: skip
            return [rep, *self._rest(rep)]
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
            if order is None:
                self.ignored += 1
                return []
            refused = modify_refusal(order.side, msg.side, order.quantity, msg.quantity)
            if refused is False:
                self.ignored += 1
                return []
            if refused is not None:
                return [v50.Rejected(ts, msg.user_ref_num, refused, order.cl_ord_id)]
            if msg.quantity == 0:
                del self.live[msg.user_ref_num]
            else:
                order = dataclasses.replace(order, side=msg.side)
                self.live[msg.user_ref_num] = _with_quantity(order, msg.quantity)
            return [v50.OrderModified(ts, msg.user_ref_num, msg.side, msg.quantity)]
        if isinstance(msg, v50.AccountQueryRequest):
            return [v50.AccountQueryResponse(ts, v50.next_user_ref_num(self.last_user_ref_num))]
        return []

    def _rest(self, order: v50.OrderAccepted | v50.OrderReplaced) -> list[v50.OutboundMessage]:
        """Rest an order just accepted or replaced, or (IOC) cancel all of it, reason I."""
        if order.time_in_force == v50.TimeInForce.IOC:
            return [v50.OrderCanceled(order.timestamp, order.user_ref_num, order.quantity, "I")]
        self.live[order.user_ref_num] = order
        self._expire_after(order.user_ref_num, v50.lifetime(order.time_in_force, order.appendages))
        return []

    def _orn(self) -> int:
        n = self.next_order_reference_number
        self.next_order_reference_number += 1
        return n


def _fields_reason50(
    side: str, quantity: int, price: int, msg: v50.EnterOrder | v50.ReplaceOrder
) -> v50.RejectReason | None:
    """Why OUCH refuses an order of these fields: :func:`~tickwire.ouch.v50.order_fields_reason`,
    then a Time In Force :func:`~tickwire.ouch.v50.time_in_force_error` refuses, 0x0F Other,
    then :func:`~tickwire.ouch.v50.order_terms_reason` refuses a Display (0x03) or an
    appendage no venue runs (MinQty 0x0D, MaxFloor 0x04, pegs 0x05, ...): the simulated
    exchange's order of checks."""
    reason = v50.order_fields_reason(side, quantity, price)
    if reason is None and v50.time_in_force_error(msg.time_in_force, msg.appendages):
        reason = v50.RejectReason.OTHER
    if reason is None:
        reason = v50.order_terms_reason(msg.display, quantity, msg.appendages)
    return reason


def _with_quantity(
    order: v50.OrderAccepted | v50.OrderReplaced, quantity: int
) -> v50.OrderAccepted | v50.OrderReplaced:
    return dataclasses.replace(order, quantity=quantity)


# ================================================================ OUCH 4.2
class OrderBook42(_ClientBook[str]):
    """Client-side OUCH 4.2 order state keyed by Order Token.

    Tokens must be day-unique; by default they are ``prefix`` plus a counter.
    """

    def __init__(self, prefix: str = "TW", first: int = 1) -> None:
        super().__init__()
        self.prefix = prefix
        self.counter = first
        self.used_tokens: set[str] = set()  # day-unique, even after a replace retires one

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
        self._sent(TrackedOrder(token, stock, buy_sell_indicator, price, shares), msg)
        return msg

    def replace(
        self,
        order_token: str,
        shares: int,
        price: int,
        *,
        time_in_force: int | None = None,
        display: str | None = None,
        intermarket_sweep_eligibility: str | None = None,
        minimum_quantity: int | None = None,
    ) -> v42.ReplaceOrder:
        """Replace order ``order_token``: ``shares`` is the chain's total (executed +
        open). What is not given is kept from the order's Enter or last Replace
        (:meth:`_ClientBook._kept`): Time In Force, Display, Intermarket Sweep
        Eligibility, Minimum Quantity."""
        old = self._chain(order_token, "token")
        new = self.new_token()
        kept, k = self._terms.get(order_token), self._kept
        msg = v42.ReplaceOrder(
            order_token, new, shares, price,
            k(kept, "time_in_force", time_in_force, v42.TIF_MARKET_HOURS),
            k(kept, "display", display, "Y"),
            k(kept, "intermarket_sweep_eligibility", intermarket_sweep_eligibility, "N"),
            k(kept, "minimum_quantity", minimum_quantity, 0),
        )  # fmt: skip
        v42.encode(msg)
        self.used_tokens.add(new)
        open_ = max(0, shares - old.executed)  # the wire carries executed + open
        self._sent(TrackedOrder(new, old.symbol, old.side, price, open_, replaces=old.key), msg)
        return msg

    def cancel(self, order_token: str, shares: int = 0) -> v42.CancelOrder:
        self._chain(order_token, "token")
        msg = v42.CancelOrder(order_token, shares)
        self._other_sent("cancel", order_token, msg)
        return msg

    def modify(self, order_token: str, buy_sell_indicator: str, shares: int) -> v42.ModifyOrder:
        self._chain(order_token, "token")
        msg = v42.ModifyOrder(order_token, buy_sell_indicator, shares)
        self._other_sent("modify", order_token, msg)
        return msg

    def _answered(
        self, key: str, msg: v42.OrderAccepted | v42.OrderReplaced
    ) -> v42.EnterOrder | v42.ReplaceOrder | str:
        """The 4.2 rule of :meth:`_ClientBook._apply`, 5.0's where the fields match: as
        entered (:func:`tickwire.ouch.v50.not_as_entered`, the Enter's Firm field), then
        the Time In Force (:func:`tickwire.ouch.v42.answered_time_in_force`, 5.0's
        :func:`~tickwire.ouch.v50.wider_time_in_force` on the terms of the same scope): the
        one the venue accepted becomes the order's, what a later :meth:`replace` keeps.
        Test: ``test_ouch_orders.py::test_the_4_2_book_keeps_the_time_in_force_the_venue_accepted``."""
        request: v42.EnterOrder | v42.ReplaceOrder = self._terms[key]
        entered = self._entered.get(key)
        firm = "" if entered is None else entered.firm
        why = _not_as_entered(request, entered, msg, firm)
        if why is not None:
            return why
        tif = v42.answered_time_in_force(request.time_in_force, msg.time_in_force)
        if isinstance(tif, str):
            return tif
        if tif == request.time_in_force:
            return request
        return dataclasses.replace(request, time_in_force=tif)

    def pending(self) -> list[v42.InboundMessage]:
        """Requests not yet acknowledged, in the order they were made (resend these)."""
        return list(self._pending.values()) + [req for _, _, req in self._pending_other]

    def on_message(self, msg: v42.OutboundMessage) -> Order[str] | None:
        """Apply an outbound message; returns the order it concerned (if any)."""
        return self._apply(msg)


class OuchHost42(_HostDeadlines[str]):
    """The host side of an OUCH 4.2 port's order lifecycle (no matching);
    a token already used is ignored (duplicate Enter Orders are benign).
    ``handle(inbound, now)`` stamps its answers ``now``, as :class:`OuchHost50`, and
    answers as the simulated exchange's ``Account42`` (the reference) answers an account
    alone in an open market: ``packages/exchange/tests/test_exchange_host_parity.py``.

    An Enter whose side, quantity or price OUCH refuses is Rejected (its token used) by
    the one rule of :func:`~tickwire.ouch.v50.order_fields_reason` (4.2 has 5.0's sides
    and limits), the reason as its 4.2 letter: ``X`` invalid price, ``Z`` otherwise, as
    the simulated exchange's ``Account42`` answers. The Time In Force (seconds, or 0,
    99998, 99999) has no refusal here, nor at the exchange. Why: the host checked only
    the quantity. Test:
    ``test_ouch_orders.py::test_hosts_refuse_an_enter_of_a_bad_side_quantity_price_or_time_in_force``.
    Then a Display not ``Y``, ``N``, ``A`` or a Minimum Quantity other than 0 is
    Rejected ``Z`` (0x03, 0x0D: :func:`~tickwire.ouch.v50.order_terms_reason`; a
    Replace: invalid details), as the exchange answers. Test:
    ``test_ouch_orders.py::test_hosts_refuse_a_bad_display_or_a_min_qty``.
    After those, an Enter whose Cross Type is not ``N`` is Rejected ``Z`` (0x14 Invalid
    Cross Order, :func:`~tickwire.ouch.v50.cross_type_reason`; 4.2 names no letter of
    its own for it), its token used, as :class:`OuchHost50` and the exchange answer; a
    Replace carries no Cross Type. Test:
    ``test_ouch_orders.py::test_hosts_reject_an_enter_of_a_cross_type_other_than_continuous``.

    A Replace of a live order whose shares or price that rule refuses is section 2.2
    case 2 (4.2 the same): the original is canceled (Order Canceled, reason ``Z``) and
    the replacement's token is not used; an IOC order (Time In Force 0, Enter or Replace)
    is canceled whole at once, reason ``I``; an order whose Time In Force is N seconds
    (:func:`~tickwire.ouch.v42.lifetime`) is canceled N seconds after its Accepted
    (Replaced), reason ``T``, on :attr:`deadline_clock` (:class:`_HostDeadlines`), as
    :class:`OuchHost50` and the exchange. Why: the host replaced whatever it was given,
    rested IOC orders and never expired one. Tests:
    ``test_ouch_orders.py::test_hosts_cancel_the_original_of_a_replace_of_invalid_details``,
    ``test_ouch_orders.py::test_hosts_never_rest_an_ioc_order``,
    ``test_ouch_orders.py::test_hosts_expire_a_gtt_or_4_2_time_in_force_in_seconds_on_the_deadline_clock``."""

    def __init__(
        self,
        clock: Callable[[], int] | None = None,
        *,
        deadline_clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        #: deprecated: read by :meth:`handle` only when it is given no ``now``
        self.clock = _deprecated_clock("OuchHost42", clock)
        self.used_tokens: set[str] = set()
        self.next_order_reference_number = 1
        self.live: dict[str, v42.OrderAccepted | v42.OrderReplaced] = {}
        self.ignored = 0
        self._init_deadlines(deadline_clock)

    def expire(self, now: int, at: int | None = None) -> list[v42.OutboundMessage]:
        """As :meth:`OuchHost50.expire`: Order Canceled, reason ``T``, stamped ``now``."""
        out: list[v42.OutboundMessage] = []
        for key in self._expire_due(at):
            order = self.live.pop(key)
            out.append(v42.OrderCanceled(now, key, order.shares, v50.CANCELED_TIMEOUT))
        return out

    def handle(self, msg: v42.InboundMessage, now: int | None = None) -> list[v42.OutboundMessage]:
        ts = _stamp(self, now)
        expired = self.expire(ts)
        return expired + self._handle(msg, ts)

    def _handle(self, msg: v42.InboundMessage, ts: int) -> list[v42.OutboundMessage]:
        if isinstance(msg, v42.EnterOrder):
            if msg.order_token in self.used_tokens:
                self.ignored += 1
                return []
            self.used_tokens.add(msg.order_token)
            reason = v50.order_fields_reason(msg.buy_sell_indicator, msg.shares, msg.price)
            if reason is None:  # Display, Minimum Quantity (v50.order_terms_reason)
                reason = v50.order_terms_reason(
                    msg.display, msg.shares, v50.min_qty_appendages(msg.minimum_quantity)
                )
            if reason is None:  # the Enter's Cross Type, last: no Replace carries one
                reason = v50.cross_type_reason(msg.cross_type)
            if reason is not None:
                return [v42.Rejected(ts, msg.order_token, v42.reject_letter(reason))]
            acc = v42.OrderAccepted(
                ts, msg.order_token, msg.buy_sell_indicator, msg.shares, msg.stock, msg.price,
                msg.time_in_force, msg.firm, msg.display, self._orn(), msg.capacity,
                msg.intermarket_sweep_eligibility, msg.minimum_quantity, msg.cross_type, "L", " ",
            )  # fmt: skip
            return [acc, *self._rest(acc)]
        if isinstance(msg, v42.ReplaceOrder):
            old = self.live.get(msg.existing_order_token)
            if old is None or msg.replacement_order_token in self.used_tokens:
                self.ignored += 1
                return []
            side = old.buy_sell_indicator
            if (
                v50.order_fields_reason(side, msg.shares, msg.price) is not None
                or v50.order_terms_reason(
                    msg.display, msg.shares, v50.min_qty_appendages(msg.minimum_quantity)
                )
                is not None
            ):
                # invalid details (case 2): the original is canceled, the token not used
                del self.live[msg.existing_order_token]
                return [v42.OrderCanceled(ts, msg.existing_order_token, old.shares, "Z")]
            self.used_tokens.add(msg.replacement_order_token)
            del self.live[msg.existing_order_token]
            rep = v42.OrderReplaced(
                ts, msg.replacement_order_token, old.buy_sell_indicator, msg.shares, old.stock,
                msg.price, msg.time_in_force, old.firm, msg.display, self._orn(), old.capacity,
                msg.intermarket_sweep_eligibility, msg.minimum_quantity, old.cross_type, "L",
                msg.existing_order_token, " ",
            )  # fmt: skip
            return [rep, *self._rest(rep)]
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
            if order is None:
                self.ignored += 1
                return []
            side = msg.buy_sell_indicator
            refused = modify_refusal(order.buy_sell_indicator, side, order.shares, msg.shares)
            if refused is False:
                self.ignored += 1
                return []
            if refused is not None:
                return [v42.Rejected(ts, msg.order_token, v42.reject_letter(refused))]
            if msg.shares == 0:
                del self.live[msg.order_token]
            else:
                self.live[msg.order_token] = dataclasses.replace(
                    order, buy_sell_indicator=side, shares=msg.shares
                )
            return [v42.OrderModified(ts, msg.order_token, msg.buy_sell_indicator, msg.shares)]
        return []

    def _orn(self) -> int:
        n = self.next_order_reference_number
        self.next_order_reference_number += 1
        return n

    def _rest(self, order: v42.OrderAccepted | v42.OrderReplaced) -> list[v42.OutboundMessage]:
        """Rest an order just accepted or replaced, or (IOC) cancel all of it, reason I."""
        if isinstance(order, v42.OrderReplaced):
            key = order.replacement_order_token
        else:
            key = order.order_token
        if order.time_in_force == v42.TIF_IOC:
            return [v42.OrderCanceled(order.timestamp, key, order.shares, "I")]
        self.live[key] = order
        self._expire_after(key, v42.lifetime(order.time_in_force))
        return []
