"""The SoupBinTCP session state machine: one table for the client and the server.

Everything that decides whether a packet may be sent or received lives in
:data:`TRANSITIONS` (in the manner of h11's ``_state.py``). A core of a given
:class:`Role` in a :class:`SessionState` looks up a trigger, a packet type it
sends or receives (``(Direction.SENT, LoginRequest)``) or
:attr:`Action.CLOSE`, and gets the next state; a trigger not in the table is
illegal there (:func:`next_state` raises :class:`TransitionError`). The cores
(:mod:`tickwire.soupbintcp.session`) keep only what the table cannot say:
counters, timers, sequence numbers and the login check. They answer an illegal
*received* packet by closing the connection (a protocol error, counted) and an
illegal *local* call (sending data before login) with ``SessionError``.

For example, a client that receives data before Login Accepted, or a
second Login Accepted, and a server that receives anything but a heartbeat or
a Debug packet before the Login Request, or a second Login Request, close the
connection. The server's answer to a Login Request (accept or reject) is what
moves it on, so the login check itself stays in the core. A core reads packets
only in the states where the table lists a received trigger (:func:`reads`):
bytes that arrive after a close are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum

from .packets import (
    ClientHeartbeat,
    Debug,
    EndOfSession,
    LoginAccepted,
    LoginRejected,
    LoginRequest,
    LogoutRequest,
    Packet,
    SequencedData,
    ServerHeartbeat,
    UnsequencedData,
)

__all__ = [
    "RECEIVED",
    "SENT",
    "TRANSITIONS",
    "Action",
    "Direction",
    "Role",
    "SessionState",
    "StateMachine",
    "TransitionError",
    "Trigger",
    "allowed",
    "describe",
    "next_state",
    "reads",
]


class Role(Enum):
    CLIENT = "client"
    SERVER = "server"


class SessionState(Enum):
    """The state of one side of a connection (the client's survives reconnects)."""

    #: client: never connected
    IDLE = "idle"
    #: client: Login Request sent, no answer yet
    LOGIN_SENT = "login_sent"
    #: server: connected, the Login Request not answered yet
    AWAITING_LOGIN = "awaiting_login"
    LOGGED_IN = "logged_in"
    #: the connection is closed (the client may connect again)
    CLOSED = "closed"


class Direction(Enum):
    SENT = "sent"
    RECEIVED = "received"


class Action(Enum):
    """Triggers that are not packets."""

    #: the core closes the connection: a timeout, a protocol error, a limit, a logout
    #: without a Logout Request, or the transport reporting it lost
    CLOSE = "close"


Trigger = tuple[Direction, type[Packet]] | Action

_S, _R = Direction.SENT, Direction.RECEIVED
_CLOSE: dict[Trigger, SessionState] = {Action.CLOSE: SessionState.CLOSED}


def _same(state: SessionState, *triggers: Trigger) -> dict[Trigger, SessionState]:
    return dict.fromkeys(triggers, state)


#: (role, state, trigger) -> next state; what is not here is illegal.
TRANSITIONS: Mapping[Role, Mapping[SessionState, Mapping[Trigger, SessionState]]] = {
    Role.CLIENT: {
        SessionState.IDLE: {(_S, LoginRequest): SessionState.LOGIN_SENT, **_CLOSE},
        SessionState.LOGIN_SENT: {
            (_R, LoginAccepted): SessionState.LOGGED_IN,
            (_R, LoginRejected): SessionState.CLOSED,
            (_R, EndOfSession): SessionState.CLOSED,
            **_same(SessionState.LOGIN_SENT, (_R, ServerHeartbeat), (_R, Debug)),
            **_CLOSE,
        },
        SessionState.LOGGED_IN: {
            **_same(
                SessionState.LOGGED_IN,
                (_R, SequencedData),
                (_R, UnsequencedData),
                (_R, ServerHeartbeat),
                (_R, Debug),
                (_S, UnsequencedData),
                (_S, ClientHeartbeat),
            ),
            (_R, EndOfSession): SessionState.CLOSED,
            (_S, LogoutRequest): SessionState.CLOSED,
            **_CLOSE,
        },
        SessionState.CLOSED: {(_S, LoginRequest): SessionState.LOGIN_SENT, **_CLOSE},
    },
    Role.SERVER: {
        SessionState.AWAITING_LOGIN: {
            **_same(
                SessionState.AWAITING_LOGIN, (_R, LoginRequest), (_R, ClientHeartbeat), (_R, Debug)
            ),
            (_S, LoginAccepted): SessionState.LOGGED_IN,
            (_S, LoginRejected): SessionState.CLOSED,
            **_CLOSE,
        },
        SessionState.LOGGED_IN: {
            **_same(
                SessionState.LOGGED_IN,
                (_R, UnsequencedData),
                (_R, ClientHeartbeat),
                (_R, Debug),
                (_S, SequencedData),
                (_S, UnsequencedData),
                (_S, ServerHeartbeat),
            ),
            (_R, LogoutRequest): SessionState.CLOSED,
            (_S, EndOfSession): SessionState.CLOSED,
            **_CLOSE,
        },
        SessionState.CLOSED: dict(_CLOSE),
    },
}


class TransitionError(Exception):
    """A trigger the table does not allow for this role in this state."""

    def __init__(self, role: Role, state: SessionState, trigger: Trigger) -> None:
        self.role, self.state, self.trigger = role, state, trigger
        super().__init__(f"{role.value}: {describe(trigger)} is not allowed while {state.value}")


def describe(trigger: Trigger) -> str:
    """``"sent Login Request"``, ``"received Sequenced Data"`` or ``"close"``."""
    if isinstance(trigger, Action):
        return trigger.value
    direction, cls = trigger
    return f"{direction.value} {cls.spec.name}"


def next_state(role: Role, state: SessionState, trigger: Trigger) -> SessionState:
    """The state ``trigger`` leads to; raises :class:`TransitionError` when it is illegal."""
    target = TRANSITIONS[role].get(state, {}).get(trigger)
    if target is None:
        raise TransitionError(role, state, trigger)
    return target


def allowed(role: Role, state: SessionState, trigger: Trigger) -> bool:
    return trigger in TRANSITIONS[role].get(state, {})


def _by_packet(
    direction: Direction,
) -> dict[Role, dict[SessionState, dict[type[Packet], SessionState]]]:
    return {
        role: {
            state: {
                t[1]: target
                for t, target in row.items()
                if isinstance(t, tuple) and t[0] is direction
            }
            for state, row in states.items()
        }
        for role, states in TRANSITIONS.items()
    }


#: The table's packet triggers keyed by packet class, one dict per (role, state), for the
#: cores' hot path (a class hashes in C; a core keeps the dicts of its current state).
RECEIVED = _by_packet(Direction.RECEIVED)
SENT = _by_packet(Direction.SENT)


def reads(role: Role, state: SessionState) -> bool:
    """Whether a core in ``state`` reads packets (some received trigger is legal there)."""
    return bool(RECEIVED[role].get(state))


class StateMachine:
    """The table as the cores use it: ``state`` and the packets legal in it.

    Every change of state goes through :meth:`_go`, which also keeps the state's rows
    of :data:`RECEIVED` and :data:`SENT` at hand, so a packet costs one dict lookup.
    """

    role: Role
    state: SessionState
    _received: dict[type[Packet], SessionState]
    _sent: dict[type[Packet], SessionState]

    def _go(self, state: SessionState) -> None:
        self.state = state
        self._received = RECEIVED[self.role][state]
        self._sent = SENT[self.role][state]

    @property
    def reading(self) -> bool:
        """Whether the core reads packets now (the table lists a received packet)."""
        return bool(self._received)

    def can_send(self, cls: type[Packet]) -> bool:
        """Whether the table lets this core send a ``cls`` packet now."""
        return cls in self._sent

    def _sent_packet(self, cls: type[Packet]) -> None:
        target = self._sent.get(cls)
        if target is None:
            raise TransitionError(self.role, self.state, (Direction.SENT, cls))
        if target is not self.state:
            self._go(target)

    def _closing(self) -> None:
        self._go(next_state(self.role, self.state, Action.CLOSE))
