"""The one OUCH order tracker (sans-I/O): order state from the venue's answers, for
OUCH 4.2 (keyed by Order Token) and OUCH 5.0 (keyed by UserRefNum).

Every client-side view of orders in tickwire builds on :class:`OrderTracker`: the
order books :class:`~tickwire.ouch.orders.OrderBook50` and
:class:`~tickwire.ouch.orders.OrderBook42` (which add the requests and their resend),
and the engine's ``OrderManager`` (which adds pre-trade risk and strategy callbacks).

The algorithm, in two tables:

1. :data:`ANSWERS` turns each outbound message that concerns an order, of either
   version, into one :class:`Answer` (its :class:`Event`, the key, the shares, the
   price, ...): ``OrderAccepted`` is ``ACCEPTED`` (``ACCEPTED_DEAD`` when its order
   state is ``D``), ``OrderExecuted`` and 4.2's ``ExecutedWithReferencePrice`` are
   ``EXECUTED``, ``OrderCanceled`` and ``AiqCanceled`` are ``CANCELED`` (by the shares
   decremented), ``OrderReplaced`` is ``REPLACED`` (or ``REPLACED_DEAD``), ``Rejected``
   is ``REJECTED``, ``OrderModified`` ``MODIFIED`` and 5.0's ``OrderPriorityUpdate``
   ``PRIORITY``, ``CancelReject`` ``CANCEL_REJECTED``; a cancel pending, a
   restatement, a broken trade or a trade correction is a ``NOTICE`` (kept in the
   order's history, nothing else changes). Any other message (account query, system
   event) concerns no order.
2. :meth:`OrderTracker.apply` updates the order's shares and then its state:
   :data:`TRANSITIONS` gives the state an event leads to (accepted: live, rejected:
   rejected, ...), and an order with no shares left open after an accept, a replace, an
   execution or a cancel is ``DEAD``. An event not in the table leaves the state as is,
   and so does one that :data:`REFUSES_IN` says refuses a request in flight (a Rejected
   heard by a live order: its Modify or Replace was refused, the order is intact).

The tracker never takes more from the venue than was sent. :data:`EXPECTED_IN` gives
the states in which an order may hear each event (an Accepted only while it is
pending, so never twice and never for an order already dead; a Modified or a Priority
Update only while it is live; a Rejected only while it is pending or live, never for an
order already dead or rejected); heard in any other state, the answer changes nothing, as
does an Accepted or Replaced live with 0 shares. An Accepted, Replaced or Modified that
grants more shares open than the order had (requested, for an Accepted or a
replacement), or names another side or symbol, is applied with the order's own side and
symbol and at most its shares; a price worse than the limit sent (an Accepted's,
Replaced's or Priority Update's; :func:`worse_price`, for which a price of 0 is no price
and never a better one) is not taken. The Display they name is the order's
(:attr:`TrackedOrder.display`). The client books add their own checks of an Accepted's
terms (:meth:`OrderTracker.distrust`). A Replaced of an original that is
no longer open (a replace of an order that is gone is ignored by the venue, OUCH 5.0
section 2.2), or naming a replacement that is not pending or was not sent to replace
that original (sent for another, or as an Enter), changes nothing; so does a
Rejected naming a live order with no Modify or Replace of it in flight, and a Cancel
Reject naming an order with no Cancel of it in flight (:meth:`OrderTracker.cancel_sent`,
:meth:`OrderTracker._cancel_rejected`). Each of
these is *distrusted*: :attr:`Change.distrust` says why, and
:attr:`OrderTracker.distrusted` counts them (the engine's order manager trips its kill
switch on one).

The chain rules of a Replace (the same in 4.2 and 5.0):

* a replacement is tracked from the moment it is sent (:meth:`OrderTracker.sent` with
  ``replaces``), ``PENDING``, and its original keeps trading until the venue answers;
* ``REPLACED`` ends the original (``DEAD``, nothing open) and makes the replacement live
  with the venue's shares; shares executed over the chain carry over
  (:attr:`TrackedOrder.executed`). A replacement the tracker never saw sent is adopted
  from the answer when its original is tracked (a replace sent by another client of
  the session), at most one entry per chain (:meth:`OrderTracker._adopt`);
* a rejected replacement leaves its original intact (OUCH 5.0 section 2.2, case 3);
* an original that ends (executed or cancelled to nothing, its Enter rejected or
  accepted dead) while its replacement is in flight ends that replacement too: the venue
  silently ignores a replace of an order that is gone (section 2.2, case 1).
  :attr:`Change.cascaded` lists it. So does an Order Replaced for every other
  replacement of the same original still in flight (the venue takes one), and a
  replacement sent of an original already over is over at once
  (:meth:`OrderTracker._ignored_replace`);
* the replacement has the original's side as the venue last said it (a Modify among the
  sell sides may have moved it while the Replace was in flight).

An answer naming a key never tracked changes nothing and is counted in
:attr:`OrderTracker.unknown`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, NamedTuple, TypeVar

from . import v42, v50

__all__ = [
    "ANSWERS",
    "EXPECTED_IN",
    "REFUSES_IN",
    "TRANSITIONS",
    "Answer",
    "Change",
    "Event",
    "OrderState",
    "OrderTracker",
    "TrackedOrder",
    "acknowledges_cancel",
    "answer_for",
    "worse_price",
]

K = TypeVar("K", int, str)


class OrderState(StrEnum):
    """The life cycle of one order key (UserRefNum or Order Token)."""

    PENDING = "pending"  # sent, not answered yet
    LIVE = "live"  # accepted (or replaced in) and open
    DEAD = "dead"  # nothing open: filled, cancelled, replaced away, or accepted dead
    REJECTED = "rejected"  # the venue rejected the Enter or Replace


class Event(StrEnum):
    """What one outbound message says about an order."""

    ACCEPTED = "accepted"
    ACCEPTED_DEAD = "accepted_dead"
    EXECUTED = "executed"
    CANCELED = "canceled"
    REPLACED = "replaced"
    REPLACED_DEAD = "replaced_dead"
    REJECTED = "rejected"
    MODIFIED = "modified"
    PRIORITY = "priority"
    CANCEL_REJECTED = "cancel_rejected"  # a Cancel refused: the order as it was
    NOTICE = "notice"  # about the order, no change to its state or shares


#: The state an event leads its order to (an event not listed keeps the state; any order
#: with nothing open after an accept, replace, execution or cancel is DEAD).
TRANSITIONS: dict[Event, OrderState] = {
    Event.ACCEPTED: OrderState.LIVE,
    Event.ACCEPTED_DEAD: OrderState.DEAD,
    Event.REPLACED: OrderState.LIVE,
    Event.REPLACED_DEAD: OrderState.DEAD,
    Event.REJECTED: OrderState.REJECTED,
}

_OPEN = frozenset({OrderState.PENDING, OrderState.LIVE})

#: The states in which an order may hear an event (an event not listed: any state).
#: Heard in another state, the answer is distrusted and changes nothing (module docs).
#: For REPLACED and REPLACED_DEAD this is the replacement's state (a replacement never
#: sent is adopted); the original must be open (:data:`_REPLACED_ORIGINAL_IN`).
EXPECTED_IN: dict[Event, frozenset[OrderState]] = {
    Event.ACCEPTED: frozenset({OrderState.PENDING}),
    Event.ACCEPTED_DEAD: frozenset({OrderState.PENDING}),
    Event.REPLACED: frozenset({OrderState.PENDING}),
    Event.REPLACED_DEAD: frozenset({OrderState.PENDING}),
    Event.MODIFIED: frozenset({OrderState.LIVE}),
    # "sent whenever priority of the order has been changed" (OUCH 5.0 section 3.11, 4.2
    # alike): only an order resting at the venue has priority. Test:
    # ``test_ouch_tracker_a_priority_update_worse_than_the_limit_is_distrusted``.
    Event.PRIORITY: frozenset({OrderState.LIVE}),
    # "The number of shares being decremented from the order" (OUCH 5.0 Order Canceled,
    # AIQ Canceled; 4.2 the same): an order over has none left to decrement. Test:
    # ``test_ouch_tracker_a_cancel_no_order_explains_is_distrusted``.
    Event.CANCELED: _OPEN,
    # An Enter's or Replace's (pending) or a Modify's (live: :data:`REFUSES_IN`): a dead
    # or rejected order has no request a Rejected could answer. Test:
    # ``test_ouch_tracker_a_rejected_dead_or_rejected_order_changes_nothing``.
    Event.REJECTED: _OPEN,
}

#: The states in which an event refuses a request on the order still in flight rather
#: than leading the order to its :data:`TRANSITIONS` state. A Rejected answers an Enter
#: or a Replace, naming the order pending: the Enter's, or the replacement (a refused
#: Replace names its new key, OUCH 5.0 and 4.2). Heard by a live order, it can only refuse
#: a request on that order: a Modify (which names the order itself), or its Replace in
#: flight (should a venue name the original). The order stays as it was, live with its
#: shares (a refused replace leaves the original intact, OUCH 5.0 section 2.2, case 3; a
#: replacement in flight stays so until its own answer). With no such request in flight
#: nothing explains it: distrusted, it changes nothing. Rule, reason and test:
#: :meth:`OrderTracker._refuses`.
REFUSES_IN: dict[Event, frozenset[OrderState]] = {
    Event.REJECTED: frozenset({OrderState.LIVE}),
}

#: The states in which a replaced original may be (a replace of an order that is gone
#: is ignored by the venue: no Order Replaced follows).
_REPLACED_ORIGINAL_IN = _OPEN

#: Events after which an order with no shares open is DEAD.
#: The sell sides (5.0 ``v50.Side`` S, T, E; 4.2 the same letters): a Modify may move an
#: order among them (:func:`tickwire.ouch.orders.modify_refusal`).
SELL_SIDES = frozenset("STE")

#: (MODIFIED: a Modify to 0 cancels the rest, OUCH 5.0 section 2.4.)
_ENDS_WHEN_EMPTY = frozenset(
    {Event.ACCEPTED, Event.REPLACED, Event.EXECUTED, Event.CANCELED, Event.MODIFIED}
)


# The members the per-answer code compares, bound to module names. Reason: in CPython 3.11
# a member read off its enum class (``Event.EXECUTED``) costs about 110 ns, as
# ``EnumType`` defines ``__getattr__`` and so every attribute lookup on the class goes
# through Python; a module global costs about 10 ns. An answer made several such reads
# (and the engine order manager's ``Order.is_open``, asked about 200,000 times by a
# backtest of one busy symbol, two): with the manager's, some 7% of that run's CPU time
# (workload a of ``bench/bench_hftbacktest.py``, 0.93 -> 0.86 s). Only ``Event.REJECTED``
# is bound (``_REJECTED``), not ``OrderState.REJECTED``. The tables above keep the
# spelled-out names; the guard is every test of this module and of its users.
_PENDING, _LIVE, _DEAD = OrderState.PENDING, OrderState.LIVE, OrderState.DEAD
_ACCEPTED, _ACCEPTED_DEAD = Event.ACCEPTED, Event.ACCEPTED_DEAD
_REPLACED, _REPLACED_DEAD = Event.REPLACED, Event.REPLACED_DEAD
_EXECUTED, _CANCELED, _REJECTED = Event.EXECUTED, Event.CANCELED, Event.REJECTED
_MODIFIED, _PRIORITY, _NOTICE = Event.MODIFIED, Event.PRIORITY, Event.NOTICE
_CANCEL_REJECTED = Event.CANCEL_REJECTED


def acknowledges_cancel(reason: str) -> bool:
    """Whether an Order Canceled of ``reason`` answers a Cancel Order in flight (the
    oldest of its order's).

    Rule: only ``U`` (:data:`~tickwire.ouch.v50.CANCELED_USER_REQUESTED`, "user requested
    cancel") does; another reason is the venue's own doing (an IOC's rest ``I``, a
    timeout ``T``, a Replace's invalid details or a system cancel ``Z``, a supervisory
    ``S`` ...), partial or whole, and answers no request: the Cancel in flight still waits
    for its own answer (resent after a reconnect; an order that ends has none to wait
    for). The one statement of it: this tracker (:attr:`TrackedOrder.cancelling`), the
    client books (``tickwire.ouch.orders._ClientBook._apply``, which re-export it as
    ``tickwire.ouch.orders.acknowledges_cancel``) and the live engine
    (``tickwire.engine.live.engine._Runner.acknowledge``) ask it. Why: the
    live engine took any Order Canceled for the answer of the oldest cancel in flight, so
    a reduce overtaken by an unsolicited partial cancel was forgotten and never resent.
    Tests:
    ``test_exchange_client_property.py::test_a_second_cancel_or_modify_in_flight_stays_pending_until_answered``,
    ``test_engine_live.py::test_only_a_user_requested_cancel_answers_a_cancel_in_flight``.
    """
    return reason == v50.CANCELED_USER_REQUESTED


def worse_price(side: str, price: int, limit: int) -> bool:
    """Whether ``price`` is worse than ``limit`` for an order of ``side``: higher for a
    buy (``B``), lower for a sell (``S``, ``T``, ``E``; 4.2 the same letters); and any
    price out of OUCH's limit prices, 1 to :data:`~tickwire.ouch.v50.MAX_PRICE`, but
    ``limit`` itself.

    The one statement of "better than or equal to": the tracker asks it of an Order
    Accepted's and Order Replaced's price (:func:`_price`) and an Order Priority Update's
    (:func:`_worse_price_why`, against :attr:`TrackedOrder.limit`), the engine's order
    manager of an execution's (``tickwire.engine.strategy.orders``: a limit order executes
    at its price or better).

    Rule for the range: OUCH 5.0 section 1.2 (4.2's Price(4) alike) makes prices unsigned,
    a limit at most $199,999.9900, and a price above it (``7FFFFFFF``, or $200,000.00 and
    up) the flag of "a market order for a cross"; 0 is no price at all (an Enter of it is
    refused, 0x1D Invalid Price: :func:`~tickwire.ouch.v50.order_fields_reason`), not a
    market order. So a price of 0, or a market flag, named for an order sent at a limit is
    no price of that order, least of all a better one, though the arithmetic says 0 is
    below any buy's limit (and a flag above any sell's); it is worse. A price equal to
    ``limit`` is never worse (a market order for a cross sent at a flag is echoed with
    it). Why: a Priority Update or an Accepted priced 0 for a buy was taken as a better
    price, and the book showed the order resting at $0. Test:
    ``test_ouch_tracker.py::test_ouch_tracker_a_price_of_0_is_no_better_price``."""
    if not 0 < price <= v50.MAX_PRICE and price != limit:
        return True
    return price > limit if side == "B" else price < limit


def _worse_price_why(side: str, price: int, limit: int) -> str:
    """Why ``price`` named by an answer is distrusted for an order of ``side`` sent at
    ``limit`` (:func:`worse_price`), or ``""``: it is not worse."""
    if worse_price(side, price, limit):
        return f"price {price} for a {side!r} order sent at {limit} (worse)"
    return ""


def _price(o: TrackedOrder[Any], price: int) -> int:
    """The price order ``o`` (as sent, not yet answered) takes from an Order Accepted or
    Order Replaced naming ``price``: ``price`` unless it is worse than ``o``'s.

    Rule: OUCH 5.0 section 3 (Order Accepted, Order Replaced; 4.2 alike): "the accepted
    price could potentially be different than the entered price if the order was
    re-priced ... The accepted price will always be better than or equal to the entered
    price" (:func:`worse_price`). A better price is the venue's word and becomes the
    order's; a worse one is more than was sent, so :meth:`OrderTracker._check_granted`
    distrusts it and the order keeps its own, as for another side or symbol. Why: any
    price was taken silently, so a buy sent at $1.00 was shown resting at $1.10. Test:
    ``test_ouch_tracker.py::test_ouch_tracker_a_price_worse_than_sent_is_distrusted``."""
    return o.price if worse_price(o.side, price, o.price) else price


class Answer(NamedTuple, Generic[K]):
    """One outbound message, as the tracker reads it (version-independent; a tuple, as
    one is made per message)."""

    event: Event
    key: K
    quantity: int = 0  # accepted/replaced/modified: shares open; executed/canceled: shares
    price: int = 0
    orig: K | None = None  # REPLACED: the key it replaced
    order_reference_number: int | None = None
    side: str = ""
    symbol: str = ""
    reason: str = ""
    liquidity_flag: str = ""
    display: str = ""  # accepted/replaced/priority: the Display the venue names
    match_number: int | None = None  # executed: the trade's Match Number


# The Answers of an Accepted and a Replaced (one per order sent) are built from all their
# fields in order, past the NamedTuple's ``__new__``, which binds each argument by name
# first: a Replaced's Answer 360 -> 160 ns (``timeit``). ``reason`` and ``liquidity_flag``
# are empty, ``display`` last.
_tuple_new = tuple.__new__


def _accepted(key: Any, m: Any, qty: int, side: str, symbol: str) -> Answer[Any]:
    event = _ACCEPTED if m.order_state == "L" else _ACCEPTED_DEAD
    orn = m.order_reference_number
    fields = (event, key, qty, m.price, None, orn, side, symbol, "", "", m.display, None)
    return _tuple_new(Answer, fields)


def _replaced(key: Any, orig: Any, m: Any, qty: int, side: str, symbol: str) -> Answer[Any]:
    event = _REPLACED if m.order_state == "L" else _REPLACED_DEAD
    orn = m.order_reference_number
    fields = (event, key, qty, m.price, orig, orn, side, symbol, "", "", m.display, None)
    return _tuple_new(Answer, fields)


#: Outbound message class -> its :class:`Answer` (OUCH 5.0 and 4.2).
ANSWERS: dict[type, Callable[[Any], Answer[Any]]] = {
    # OUCH 5.0, keyed by UserRefNum
    v50.OrderAccepted: lambda m: _accepted(m.user_ref_num, m, m.quantity, m.side, m.symbol),
    v50.OrderReplaced: lambda m: _replaced(
        m.user_ref_num, m.orig_user_ref_num, m, m.quantity, m.side, m.symbol
    ),
    v50.OrderExecuted: lambda m: Answer(
        _EXECUTED,
        m.user_ref_num,
        m.quantity,
        m.price,
        liquidity_flag=m.liquidity_flag,
        match_number=m.match_number,
    ),
    v50.OrderCanceled: lambda m: Answer(_CANCELED, m.user_ref_num, m.quantity, reason=m.reason),
    v50.AiqCanceled: lambda m: Answer(
        _CANCELED, m.user_ref_num, m.decrement_shares, reason=m.reason
    ),
    v50.Rejected: lambda m: Answer(_REJECTED, m.user_ref_num, reason=str(m.reason)),
    v50.OrderModified: lambda m: Answer(_MODIFIED, m.user_ref_num, m.quantity, side=m.side),
    v50.CancelReject: lambda m: Answer(_CANCEL_REJECTED, m.user_ref_num),
    v50.OrderPriorityUpdate: lambda m: Answer(
        _PRIORITY,
        m.user_ref_num,
        price=m.price,
        order_reference_number=m.order_reference_number,
        display=m.display,
    ),
    # OUCH 4.2, keyed by Order Token
    v42.OrderAccepted: lambda m: _accepted(
        m.order_token, m, m.shares, m.buy_sell_indicator, m.stock
    ),
    v42.OrderReplaced: lambda m: _replaced(
        m.replacement_order_token,
        m.previous_order_token,
        m,
        m.shares,
        m.buy_sell_indicator,
        m.stock,
    ),
    v42.OrderExecuted: lambda m: Answer(
        _EXECUTED,
        m.order_token,
        m.executed_shares,
        m.execution_price,
        liquidity_flag=m.liquidity_flag,
        match_number=m.match_number,
    ),
    v42.ExecutedWithReferencePrice: lambda m: Answer(
        _EXECUTED,
        m.order_token,
        m.executed_shares,
        m.execution_price,
        liquidity_flag=m.liquidity_flag,
        match_number=m.match_number,
    ),
    v42.OrderCanceled: lambda m: Answer(
        _CANCELED, m.order_token, m.decrement_shares, reason=m.reason
    ),
    v42.AiqCanceled: lambda m: Answer(
        _CANCELED, m.order_token, m.decrement_shares, reason=m.reason
    ),
    v42.Rejected: lambda m: Answer(_REJECTED, m.order_token, reason=m.reason),
    v42.CancelReject: lambda m: Answer(_CANCEL_REJECTED, m.order_token),
    v42.OrderPriorityUpdate: lambda m: Answer(
        _PRIORITY,
        m.order_token,
        price=m.price,
        order_reference_number=m.order_reference_number,
        display=m.display,
    ),
    v42.OrderModified: lambda m: Answer(
        _MODIFIED, m.order_token, m.shares, side=m.buy_sell_indicator
    ),
}


def _notice(key_field: str) -> Callable[[Any], Answer[Any]]:
    return lambda m: Answer(_NOTICE, getattr(m, key_field))


#: Messages about one order that change neither its state nor its shares: a cancel
#: pending, a restatement, a broken trade or a trade correction (reported to
#: the order's history; the executed total stays as the executions said).
for _cls, _key in (
    (v50.CancelPending, "user_ref_num"),
    (v50.OrderRestated, "user_ref_num"),
    (v50.BrokenTrade, "user_ref_num"),
    (v42.CancelPending, "order_token"),
    (v42.BrokenTrade, "order_token"),
    (v42.TradeCorrection, "order_token"),
):
    ANSWERS[_cls] = _notice(_key)


def answer_for(msg: object) -> Answer[Any] | None:
    """The :class:`Answer` of an outbound message, or None if it concerns no order."""
    parse = ANSWERS.get(type(msg))
    return None if parse is None else parse(msg)


@dataclass(slots=True, eq=False)
class TrackedOrder(Generic[K]):
    """One order key (UserRefNum or Order Token) as the venue's answers left it."""

    key: K
    symbol: str
    side: str
    price: int
    quantity: int  # shares open: as requested while pending, then as the venue says
    state: OrderState = OrderState.PENDING
    filled: int = 0  # executed on this key
    chain_filled: int = 0  # executed over the replace chain before this key
    order_reference_number: int | None = None
    replaces: K | None = None
    replaced_by: K | None = None  # a replacement sent and not rejected
    reason: str = ""
    adopted: bool = False  # a replacement never sent, tracked from the venue's Replaced
    modifying: int = 0  # Modify requests sent (OrderTracker.modify_sent), not answered
    cancelling: int = 0  # Cancel requests sent (OrderTracker.cancel_sent), not answered
    #: The limit price sent (the Enter's or Replace's), set when the venue answers it (an
    #: Accepted or Replaced may name a better ``price``, :func:`_price`): no later answer
    #: may price the order worse (an Order Priority Update, :meth:`OrderTracker.apply`).
    limit: int = 0
    #: The Display the venue accepted (OUCH 5.0 and 4.2: the Order Accepted's or Order
    #: Replaced's Display field, then an Order Priority Update's "new display"), which may
    #: differ from the one entered ("the accepted display on the order": Y visible, N
    #: hidden, A attributable, Z conformant; 4.2 has its own letters); ``""`` until the
    #: venue answered. Rule: an answer applied sets it (one changing nothing, distrusted for
    #: the order's state, does not), so a user asking the book about a live order sees
    #: what the exchange holds, not what was sent. Why: neither the client books nor the
    #: order manager kept it. Test:
    #: ``test_ouch_orders.py::test_the_books_keep_the_display_the_venue_accepted``.
    display: str = ""
    # The outbound messages about it (along its replace chain, oldest first), if the
    # tracker keeps them: one list shared by every member of the chain.
    history: list[object] | None = None
    #: The Match Numbers of the executions applied to this key (None: none yet), by which
    #: a repeated execution is told (:meth:`OrderTracker._repeated`).
    matches: set[int] | None = None

    @property
    def executed(self) -> int:
        """Shares executed over the whole replace chain up to and including this key."""
        return self.chain_filled + self.filled

    @property
    def is_open(self) -> bool:
        """Pending or live: may still trade."""
        return self.state is _PENDING or self.state is _LIVE


@dataclass(slots=True)
class Change(Generic[K]):
    """What one answer did (see :meth:`OrderTracker.apply`)."""

    answer: Answer[K]
    order: TrackedOrder[K] | None  # the order the answer names (None: unknown key)
    previous: TrackedOrder[K] | None = None  # REPLACED: the original, now dead
    cascaded: tuple[TrackedOrder[K], ...] = ()  # replacements ended with their original
    adopted: bool = False  # REPLACED: the replacement was not tracked before (never sent)
    distrust: str = ""  # why the answer is more than the order explains ("": it is not)
    ignored: bool = False  # distrusted for the state it found: it changed nothing
    # REJECTED of a live order: the request it refused ("modify" or "replace"); the order
    # is as it was (REFUSES_IN)
    refused: str = ""


class OrderTracker(Generic[K]):
    """Order state of one OUCH session's orders (see the module docs).

    ``keep_history`` keeps each order's outbound messages (carried along a replace
    chain: one list, shared by the chain's members) in :attr:`TrackedOrder.history`.
    """

    def __init__(self, *, keep_history: bool = False) -> None:
        self.orders: dict[K, TrackedOrder[K]] = {}
        self.keep_history = keep_history
        self.unknown = 0  # answers naming a key never tracked
        # original key -> replacements sent before its latest one (``replaced_by``), still
        # unanswered: the venue takes one Replace of an order and ignores the rest once the
        # original is gone (:meth:`_end_replacement`)
        self._superseded: dict[K, list[K]] = {}
        self.distrusted = 0  # answers more than their order explains (module docs)

    def sent(self, order: TrackedOrder[K]) -> TrackedOrder[K]:
        """Track ``order``, just sent (an Enter, or a Replace of ``order.replaces``)."""
        self.orders[order.key] = order
        if self.keep_history and order.history is None:
            order.history = []
        if order.replaces is not None:
            orig = self.orders.get(order.replaces)
            if orig is not None:
                order.chain_filled = orig.executed
                if not orig.is_open:
                    self._ignored_replace(order)
                    return order
                prev = orig.replaced_by
                if prev is not None and prev != order.key:
                    self._superseded.setdefault(orig.key, []).append(prev)
                orig.replaced_by = order.key
        return order

    def _ignored_replace(self, order: TrackedOrder[K]) -> None:
        """Rule: a Replace sent of an original this tracker knows is over (dead or
        rejected) is ignored by the venue (OUCH 5.0 section 2.2, case 1, 4.2 the same: no
        answer comes), so its replacement is over at once: ``DEAD``, nothing open, reason
        "original order no longer live", as a replacement whose original ends in flight
        (:meth:`_end_replacement`). Why: it stayed ``PENDING`` for ever (the client book
        resent it after every reconnect and counted it in flight) while the exchange
        never recorded it. Test:
        ``packages/exchange/tests/test_exchange_client_property.py::test_a_replace_of_an_order_over_ends_at_once_and_is_not_resent``."""
        order.state = _DEAD
        order.quantity = 0
        order.reason = "original order no longer live"

    def modify_sent(self, key: K) -> None:
        """A Modify of order ``key`` was sent: until it is answered (Order Modified, or a
        Rejected refusing it) the order may hear that Rejected (:data:`REFUSES_IN`)."""
        o = self.orders.get(key)
        if o is not None:
            o.modifying += 1

    def cancel_sent(self, key: K) -> None:
        """A Cancel Order of order ``key`` was sent: until it is answered (an Order
        Canceled that :func:`acknowledges_cancel`, or a Cancel Reject) the order may hear
        that Cancel Reject (:meth:`_cancel_rejected`)."""
        o = self.orders.get(key)
        if o is not None:
            o.cancelling += 1

    def on_message(self, msg: object) -> Change[K] | None:
        """Apply one outbound message; None if it concerns no order."""
        parse = ANSWERS.get(type(msg))
        if parse is None:
            return None
        change: Change[K] = self.apply(parse(msg))
        if self.keep_history and change.order is not None:
            if change.order.history is None:
                change.order.history = []
            change.order.history.append(msg)
        return change

    def apply(self, a: Answer[K]) -> Change[K]:
        """Apply one answer: shares first, then the state (:data:`TRANSITIONS`)."""
        event = a.event
        if event is _REPLACED or event is _REPLACED_DEAD:
            return self._replaced(a)
        o = self.orders.get(a.key)
        if o is None:
            self.unknown += 1
            return Change(a, None)
        change = Change(a, o)
        expected = EXPECTED_IN.get(event)
        if expected is not None and o.state not in expected:
            why = f"{event.value} of an order {o.state.value}"
            return self._distrust(change, why, ignored=True)
        refuses = REFUSES_IN.get(event)
        if refuses is not None and o.state in refuses:
            return self._refuses(o, change)
        if event is _CANCEL_REJECTED:
            return self._cancel_rejected(o, change)
        if o.replaces is not None and (event is _ACCEPTED or event is _ACCEPTED_DEAD):
            # Rule: a replacement is answered by an Order Replaced, "one and only one of
            # these two for each replacement" (OUCH 5.0 section 3.3; 4.2 the same), never
            # an Order Accepted. Why: the Accepted made it live beside its original, two
            # live orders of one chain. Test:
            # ``test_ouch_tracker_a_replacement_accepted_as_an_enter_changes_nothing``.
            return self._distrust(change, f"{event.value} of a replacement", ignored=True)
        if event is _ACCEPTED and a.quantity == 0:
            # Rule: an Order Accepted of Order State L ("Order Live") names the "total
            # number of shares accepted" (OUCH 5.0 section 3.2; 4.2 alike); one "accepted
            # and automatically canceled" is D. Live with 0 contradicts itself (no Enter
            # asks for 0 shares, and a live order has some): neither reading is the
            # venue's for certain, so it is distrusted and changes nothing, the order
            # pending with the shares sent (counted, cancellable); so is a Replaced live
            # with 0 shares "left exposed" (:meth:`_replaced`). Why: it was taken for dead,
            # and the order manager freed the exposure of an order the venue said was
            # live. Test: ``test_ouch_tracker_an_accepted_live_with_no_shares_changes_nothing``.
            return self._distrust(change, "accepted live with 0 shares", ignored=True)
        if event is _EXECUTED:
            if why := self._repeated(o, a):
                return self._distrust(change, why, ignored=True)
            if a.quantity > o.quantity:
                self._distrust(change, f"{a.quantity} shares executed, {o.quantity} open")
            o.filled += a.quantity
            o.quantity = max(0, o.quantity - a.quantity)
        elif event is _CANCELED:
            if o.cancelling and acknowledges_cancel(a.reason):
                o.cancelling -= 1  # the oldest Cancel in flight is answered
            if not 0 < a.quantity <= o.quantity:
                self._distrust(change, f"{a.quantity} shares canceled, {o.quantity} open")
            o.quantity = max(0, o.quantity - a.quantity)
        elif event is _ACCEPTED or event is _ACCEPTED_DEAD:
            self._check_granted(o, a, change)
            o.limit = o.price
            o.quantity, o.price = min(o.quantity, a.quantity), _price(o, a.price)
            o.order_reference_number = a.order_reference_number
            o.display = a.display
        elif event is _REJECTED:
            o.quantity = 0
            o.reason = a.reason
            if o.replaces is not None:
                orig = self.orders.get(o.replaces)
                if orig is not None and orig.replaced_by == o.key:
                    orig.replaced_by = None  # the original stays intact
        elif event is _MODIFIED:
            asked = o.modifying > 0
            if o.modifying:
                o.modifying -= 1
            if asked and a.side in SELL_SIDES and o.side in SELL_SIDES:
                # Rule: a Modify may move a sell among the sell sides (OUCH 5.0 section
                # 2.4, ``tickwire.ouch.orders.modify_refusal``): the Modified answering a
                # Modify in flight names the new side, taken, not distrusted (any other
                # side is). Why: the simulated exchange grants it and the tracker
                # distrusted the answer. Test:
                # ``packages/exchange/tests/test_exchange_modify.py``.
                o.side = a.side
            self._check_granted(o, a, change)
            o.quantity = min(o.quantity, a.quantity)
        elif event is _PRIORITY:
            # Rule: an Order Priority Update (OUCH 5.0 section 3.11, 4.2 alike) may change
            # what it carries, "the limit price of the order", its Display and its Order
            # Reference Number ("a new order reference number will be assigned"), and
            # nothing else (no shares, side or symbol: its Answer has none). The price
            # moves within the limit sent (:attr:`TrackedOrder.limit`: a re-priced order may
            # go back to it) and, worse than it, is distrusted and not taken, by the
            # Accepted's rule (:func:`worse_price`). Why: any price was taken silently, a
            # buy sent at 100 shown at 110 and no kill switch tripped. Test:
            # ``test_ouch_tracker_a_priority_update_worse_than_the_limit_is_distrusted``.
            why = _worse_price_why(o.side, a.price, o.limit)
            if why:
                self._distrust(change, why)
            else:
                o.price = a.price
            o.order_reference_number = a.order_reference_number
            o.display = a.display
        self._transition(o, event, change)
        return change

    @staticmethod
    def _repeated(o: TrackedOrder[K], a: Answer[K]) -> str:
        """Why the execution ``a`` of ``o`` is no trade to book ("" when it is one).

        Rule: an Order Executed (4.2's Executed, Executed with Reference Price) of 0
        shares, or repeating a Match Number this order key already executed, is
        distrusted and changes nothing: not booked, nothing told. OUCH 5.0 section 3.6
        (4.2 alike): the Match Number is "assigned by the exchange to identify the trade.
        Both the buy and the sell executions participating in the trade will share the
        same match number", so one order hears one execution per match, and an execution
        is of some shares. Why: both were applied as trades, armed: the same execution
        sent twice was booked twice (200 shares for a 100-share trade), and one of 0
        shares told the strategy ``executed``. Tests:
        ``test_ouch_tracker.py::test_ouch_tracker_a_repeated_or_empty_execution_changes_nothing``,
        ``test_engine_strategy_orders.py::test_a_repeated_or_empty_execution_trips_the_kill_switch``,
        ``test_engine_live.py::test_an_execution_sent_twice_is_booked_once_and_trips_the_kill_switch``."""
        if a.quantity <= 0:
            return "an execution of 0 shares"
        match = a.match_number
        if match is None:
            return ""
        if o.matches is None:
            o.matches = {match}
        elif match in o.matches:
            return f"match {match} executed twice"
        else:
            o.matches.add(match)
        return ""

    def _refuses(self, o: TrackedOrder[K], change: Change[K]) -> Change[K]:
        """A Rejected heard by the live order ``o`` (:data:`REFUSES_IN`).

        Rule: it refuses the Modify of ``o`` in flight, else its Replace in flight, and
        ``o`` stays live with its shares (:attr:`Change.refused` says which); with neither
        in flight it is distrusted and changes nothing. Reason: OUCH's Rejected answers
        an Enter, a Replace or a Modify, and only the last two can name an order already
        live; the old tracker took any Rejected for the end of its order, so a Rejected
        naming a live order made it rejected with nothing open, and the order manager
        freed its exposure in risk while the venue still held it. Tests:
        ``test_ouch_tracker.py::test_ouch_tracker_a_rejected_live_order_stays_live``,
        ``test_engine_strategy_orders.py::test_a_rejected_live_order_stays_counted``.
        """
        if o.modifying:
            o.modifying -= 1
            change.refused = "modify"
        elif o.replaced_by is not None:
            change.refused = "replace"
        else:
            why = (
                f"{change.answer.event.value} of an order {o.state.value} with no request in flight"
            )
            return self._distrust(change, why, ignored=True)
        return change

    def _cancel_rejected(self, o: TrackedOrder[K], change: Change[K]) -> Change[K]:
        """A Cancel Reject naming ``o``.

        Rule: it answers the oldest Cancel of ``o`` in flight (:meth:`cancel_sent`), which
        ends there, and ``o`` stays as it was (state and shares); with no Cancel of ``o``
        in flight it answers no request: distrusted, it changes nothing, by the rule of a
        Rejected naming a live order with no Modify or Replace in flight
        (:meth:`_refuses`). Reason: OUCH 5.0 section 3.10: a Cancel Reject "is sent in
        response to a partial cancel request" (4.2 alike) and "only once for a given
        UserRefNum"; it was a notice, counted nowhere, so a venue refusing a cancel
        nobody sent (or twice) went unremarked while the engine's order manager trips
        its kill switch on every other answer that no request explains. Tests:
        ``test_ouch_tracker.py::test_ouch_tracker_a_cancel_reject_with_no_cancel_in_flight_is_distrusted``,
        ``test_engine_strategy_orders.py::test_a_cancel_reject_of_no_cancel_sent_trips_the_kill_switch``.
        """
        if o.cancelling:
            o.cancelling -= 1
            return change
        why = f"cancel reject of an order {o.state.value} with no Cancel in flight"
        return self._distrust(change, why, ignored=True)

    def distrust(self, change: Change[K], why: str) -> Change[K]:
        """Count the answer of ``change`` (applied) as distrusted for ``why``, a reason its
        caller found beyond this tracker's (the client books' terms: the fields OUCH echoes
        as entered, the Time In Force, :meth:`tickwire.ouch.orders._ClientBook._apply`),
        unless it is already; one answer counts once in :attr:`distrusted`."""
        if change.distrust:
            return change
        return self._distrust(change, why)

    def _distrust(self, change: Change[K], why: str, *, ignored: bool = False) -> Change[K]:
        self.distrusted += 1
        change.distrust = why
        change.ignored = ignored
        return change

    def _check_granted(self, o: TrackedOrder[K], a: Answer[K], change: Change[K]) -> None:
        """Distrust an answer granting ``o`` more shares than it has, or naming another side
        or symbol (the order keeps its own: the tracker takes no more than was sent)."""
        if a.quantity > o.quantity:
            self._distrust(change, f"{a.quantity} shares open granted, {o.quantity} sent")
        elif a.side and a.side != o.side:
            self._distrust(change, f"side {a.side!r} for an order of side {o.side!r}")
        elif a.symbol and a.symbol.rstrip(" ") != o.symbol.rstrip(" "):
            self._distrust(
                change, f"symbol {a.symbol.rstrip()!r} for an order of {o.symbol.rstrip()!r}"
            )
        elif a.event is not _MODIFIED and (why := _worse_price_why(o.side, a.price, o.price)):
            self._distrust(change, why)

    def _transition(self, o: TrackedOrder[K], event: Event, change: Change[K]) -> None:
        state = TRANSITIONS.get(event)
        if state is not None:
            o.state = state
        if o.quantity == 0 and event in _ENDS_WHEN_EMPTY:
            o.state = _DEAD
        if (o.replaced_by is not None or self._superseded) and not o.is_open:
            # over (filled, cancelled, modified to nothing, or its Enter rejected or
            # accepted dead): a Replace of it in flight is ignored by the venue
            self._end_replacement(o, change)

    def _end_replacement(
        self, o: TrackedOrder[K], change: Change[K], keep: K | None = None
    ) -> None:
        """``o`` ended with a replacement in flight: the venue will ignore that replace.

        Rule: every replacement of ``o`` still pending ends (``DEAD``, nothing open), its
        latest (:attr:`TrackedOrder.replaced_by`) and any sent before it and not answered
        (``keep``: the one the venue's Order Replaced named, which lives on). Why: a second
        Replace sent of the same original while the first was in flight is ignored by the
        venue once the first replaced it (section 2.2, case 1), and it stayed ``PENDING``
        for ever; so did one of an original whose Enter was rejected or accepted dead.
        Tests (``packages/exchange/tests/test_exchange_client_property.py``):
        ``test_a_second_replace_in_flight_of_one_original_ends_when_the_first_replaces_it``,
        ``test_a_replace_of_an_order_over_ends_at_once_and_is_not_resent``.
        """
        keys = self._superseded.pop(o.key, [])
        if o.replaced_by is not None:
            keys.append(o.replaced_by)
        for k in keys:
            new = self.orders.get(k)
            if k != keep and new is not None and new.state is _PENDING:
                new.state = _DEAD
                new.quantity = 0
                new.reason = "original order no longer live"
                change.cascaded += (new,)

    def _share_history(self, old: TrackedOrder[K], new: TrackedOrder[K]) -> None:
        """Rule: a replace chain shares one history list; the replacement's own messages
        (heard while it was in flight) are appended to the original's, and every member
        of the chain then holds that one list. Reason: copying the old history into a new
        list at every replace made a chain of N server-driven replaces cost O(N**2)
        (20,000 took 7.2 s); appending costs what is appended. Test:
        ``test_ouch_tracker.py::test_ouch_tracker_replace_chain_shares_one_history``."""
        chain = old.history if old.history is not None else []
        if new.history:
            chain.extend(new.history)
        old.history = new.history = chain

    def _adopt(self, a: Answer[K], old: TrackedOrder[K]) -> TrackedOrder[K]:
        """Track the replacement ``a`` names, never sent, of the tracked order ``old``.

        Rule: a replacement never sent is tracked only as the successor of a tracked
        order, and an adopted order replaced in turn by another never sent hands its entry
        over (it is dead; the one it replaced, if this tracker sent it, stays); a Replaced
        naming neither an original nor a replacement tracked creates nothing and is
        counted in :attr:`unknown`. So what never-sent replacements keep is at most one
        entry per order sent, whatever the venue says. Reason: every such Replaced made an
        entry the live engine (which forgets nothing) kept: 200,000 from a hostile venue
        took 51 MB. Test:
        ``test_ouch_tracker.py::test_ouch_tracker_replacements_never_sent_stay_bounded``.
        """
        new = self.orders[a.key] = TrackedOrder(
            a.key, a.symbol, a.side, a.price, a.quantity, replaces=a.orig, adopted=True
        )
        if old.adopted and old.replaced_by is None and self.orders.get(old.key) is old:
            del self.orders[old.key]
        return new

    def _replaced(self, a: Answer[K]) -> Change[K]:
        old = self.orders.get(a.orig) if a.orig is not None else None
        new = self.orders.get(a.key)
        if old is not None and old.state not in _REPLACED_ORIGINAL_IN:
            why = f"{a.event.value} of an original {old.state.value}"
            return self._distrust(Change(a, new, old), why, ignored=True)
        if new is not None and new.state not in EXPECTED_IN[a.event]:
            why = f"{a.event.value} by an order {new.state.value}"
            return self._distrust(Change(a, new, old), why, ignored=True)
        if new is not None and new.replaces != a.orig:
            # Rule: an Order Replaced echoes the Replace it answers, its original and its
            # replacement (OUCH 5.0 section 3.3; 4.2 the same): one naming as replacement
            # an order sent to replace another, or sent as an Enter, answers no Replace
            # sent, so it is distrusted and changes nothing (the original it names stays
            # as it was, live and cancellable; the order named stays pending). Why: it
            # was applied, the original ended and its exposure freed though no Replace of
            # it was sent: the engine's kill switch cancelled every order but that one,
            # which the venue may still hold. Tests:
            # ``test_ouch_tracker.py::test_ouch_tracker_a_replaced_naming_another_orders_replacement_changes_nothing``,
            # ``test_engine_strategy_orders.py::test_a_replacement_answered_for_another_order_trips_the_kill_switch``.
            sent = "as an Enter" if new.replaces is None else f"to replace {new.replaces!r}"
            why = f"{a.event.value} of {a.orig!r} by an order sent {sent}"
            return self._distrust(Change(a, new, old), why, ignored=True)
        if a.event is _REPLACED and a.quantity == 0:
            # live with no shares: see the Accepted's rule (:meth:`apply`)
            return self._distrust(Change(a, new, old), "replaced live with 0 shares", ignored=True)
        adopted = new is None
        if new is None:
            if old is None:  # nothing tracked on either side: nothing to adopt (bounded)
                self.unknown += 1
                return Change(a, None)
            new = self._adopt(a, old)
        change = Change(a, new, old, adopted=adopted)
        if old is not None:
            old.state = _DEAD
            old.quantity = 0
            if old.replaced_by != a.key or old.key in self._superseded:
                self._end_replacement(old, change, keep=a.key)  # other Replaces of it
        if not adopted:
            if old is not None and new.side != old.side:
                # Rule: the replacement has its original's side as the venue last said
                # it; a Modify granted among the sell sides after the Replace was sent
                # (its Order Modified heard before this answer) moved it. Why: the
                # replacement kept the side of the moment it was sent and the honest
                # Order Replaced naming the new side was distrusted. Test:
                # ``test_exchange_client_property.py::test_a_replacement_takes_the_side_a_modify_gave_its_original``.
                new.side = old.side
            self._check_granted(new, a, change)
        if old is not None:
            # Executions of the original that crossed the replace in flight arrived
            # before this answer: the chain's executed total is now exact.
            new.chain_filled = old.executed
            if self.keep_history and new.history is not old.history:
                self._share_history(old, new)
        new.limit = new.price
        new.quantity, new.price = min(new.quantity, a.quantity), _price(new, a.price)
        new.order_reference_number = a.order_reference_number
        new.display = a.display
        self._transition(new, a.event, change)
        return change
