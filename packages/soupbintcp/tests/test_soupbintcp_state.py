"""The transition table against the real cores: every (role, state, received packet type)
exhaustively, and hypothesis over random packet sequences and local calls. A core never
accepts a packet the table forbids, never refuses one it allows, and only ever moves
along the table."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tickwire.soupbintcp import (
    ClientSession,
    Closed,
    Event,
    Rejected,
    ServerConnection,
    SoupServer,
)
from tickwire.soupbintcp.packets import (
    PACKET_TYPES,
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
    build_packet,
)
from tickwire.soupbintcp.state import (
    TRANSITIONS,
    Action,
    Direction,
    Role,
    SessionState,
    TransitionError,
    allowed,
    next_state,
    reads,
)

USERS = {"USER01": "pw"}

#: One instance of every packet type.
SAMPLES: dict[type[Packet], Packet] = {
    Debug: Debug("hello"),
    LoginAccepted: LoginAccepted("SESSION001", 1),
    LoginRejected: LoginRejected("A"),
    SequencedData: SequencedData(b"seq"),
    UnsequencedData: UnsequencedData(b"unseq"),
    ServerHeartbeat: ServerHeartbeat(),
    EndOfSession: EndOfSession(),
    LoginRequest: LoginRequest("USER01", "pw", "", 1, 15000),
    ClientHeartbeat: ClientHeartbeat(),
    LogoutRequest: LogoutRequest(),
}
Core = ClientSession | ServerConnection


def test_soupbintcp_state_samples_cover_the_packet_table() -> None:
    assert set(SAMPLES) == {t.cls for t in PACKET_TYPES}


def client_in(state: SessionState) -> ClientSession:
    c = ClientSession("USER01", "pw")
    if state is SessionState.IDLE:
        return c
    c.connect(0.0)
    if state is SessionState.LOGGED_IN:
        c.receive_data(build_packet(LoginAccepted("SESSION001", 1)), 0.0)
    elif state is SessionState.CLOSED:
        c.connection_lost()
    assert c.state is state
    return c


def server_in(state: SessionState) -> ServerConnection:
    conn = SoupServer(USERS).connection(0.0)
    if state is SessionState.LOGGED_IN:
        conn.receive_data(build_packet(SAMPLES[LoginRequest]), 0.0)
    elif state is SessionState.CLOSED:
        conn.connection_lost()
    assert conn.state is state
    return conn


MAKERS: dict[Role, Callable[[SessionState], Core]] = {
    Role.CLIENT: client_in,
    Role.SERVER: server_in,
}


def after_sends(role: Role, state: SessionState) -> set[SessionState]:
    """``state`` and the states the core's own answers (sent packets, a close) lead to."""
    out = {state}
    for trigger, target in TRANSITIONS[role].get(state, {}).items():
        if trigger is Action.CLOSE or trigger[0] is Direction.SENT:
            out.add(target)
    return out


def check_received(core: Core, role: Role, packet: Packet, now: float) -> list[Event]:
    """Feed one packet and check the core did what the table says."""
    before = core.state
    events = core.receive_data(build_packet(packet), now)
    trigger = (Direction.RECEIVED, type(packet))
    if not reads(role, before):
        assert events == [] and core.state is before, "a core that does not read read"
    elif allowed(role, before, trigger):
        target = next_state(role, before, trigger)
        assert not any(
            isinstance(e, Closed) and e.reason.startswith("protocol error") for e in events
        ), f"{role.value} refused {type(packet).__name__} while {before.value}: {events}"
        assert core.state in after_sends(role, target), (before, packet, core.state)
    else:
        assert core.state is SessionState.CLOSED, f"{role.value} accepted {packet!r} in {before}"
        assert isinstance(events[-1], Closed) and events[-1].reason.startswith("protocol error")
    return events


@pytest.mark.parametrize(
    ("role", "state"),
    [(role, state) for role, states in TRANSITIONS.items() for state in states],
    ids=lambda v: v.value,
)
@pytest.mark.parametrize("packet_type", list(SAMPLES), ids=lambda c: c.__name__)
def test_soupbintcp_state_every_received_packet_follows_the_table(
    role: Role, state: SessionState, packet_type: type[Packet]
) -> None:
    core = MAKERS[role](state)
    check_received(core, role, SAMPLES[packet_type], 1.0)


def test_soupbintcp_state_table_is_closed_and_total() -> None:
    """Every target is a state of the role; every state can close; the client can always
    reconnect after a close; an unknown trigger raises with the role and state named."""
    for states in TRANSITIONS.values():
        for row in states.values():
            assert row[Action.CLOSE] is SessionState.CLOSED
            assert set(row.values()) <= set(states)
    assert allowed(Role.CLIENT, SessionState.CLOSED, (Direction.SENT, LoginRequest))
    with pytest.raises(TransitionError, match=r"client: received Login Accepted .* logged_in"):
        next_state(Role.CLIENT, SessionState.LOGGED_IN, (Direction.RECEIVED, LoginAccepted))


def test_soupbintcp_state_login_rejected_after_login_is_a_protocol_error() -> None:
    """A Login Rejected mid-session answers no request: before the table the client took it
    for a rejected login (final: the adapter stopped reconnecting for good)."""
    client = client_in(SessionState.LOGGED_IN)
    events = client.receive_data(build_packet(LoginRejected("A")), 1.0)
    assert not any(isinstance(e, Rejected) for e in events)
    assert isinstance(events[-1], Closed) and events[-1].reason.startswith("protocol error")


def test_soupbintcp_state_local_calls_follow_the_table() -> None:
    """What a core sends is checked by the same table: data before login is refused."""
    from tickwire.soupbintcp import SessionError

    client = client_in(SessionState.LOGIN_SENT)
    with pytest.raises(SessionError):
        client.send_message(b"x", 0.0)
    with pytest.raises(SessionError):
        client.connect(0.0)
    conn = server_in(SessionState.AWAITING_LOGIN)
    with pytest.raises(SessionError):
        conn.send_unsequenced(b"x", 0.0)
    assert conn.pump(0.0) == [] and conn.data_to_send() == b""


# ------------------------------------------------------------------ hypothesis
client_steps = st.lists(
    st.one_of(
        st.sampled_from(list(SAMPLES.values())),
        st.sampled_from(["connect", "send", "timer", "logout", "lost"]),
    ),
    max_size=25,
)


@settings(max_examples=200, deadline=None)
@given(steps=client_steps)
def test_soupbintcp_state_client_random_sequences(steps: list[Packet | str]) -> None:
    client = ClientSession("USER01", "pw", timeout=100.0)
    for i, step in enumerate(steps):
        now = float(i)
        before = client.state
        if isinstance(step, Packet):
            check_received(client, Role.CLIENT, step, now)
            continue
        if step == "connect":
            if allowed(Role.CLIENT, before, (Direction.SENT, LoginRequest)):
                client.connect(now)
                assert client.state is SessionState.LOGIN_SENT
            else:
                with pytest.raises(RuntimeError):
                    client.connect(now)
        elif step == "send":
            if allowed(Role.CLIENT, before, (Direction.SENT, UnsequencedData)):
                client.send_message(b"order", now)
            else:
                with pytest.raises(RuntimeError):
                    client.send_message(b"order", now)
        elif step == "timer":
            client.timer(now)
        elif step == "logout":
            client.logout(now)
            assert client.state is SessionState.CLOSED
        else:
            client.connection_lost()
            assert client.state is SessionState.CLOSED
        assert client.state in after_sends(Role.CLIENT, before)
        client.data_to_send()


server_steps = st.lists(
    st.one_of(
        st.sampled_from(list(SAMPLES.values())),
        st.just(LoginRequest("NOBODY", "pw", "", 1)),
        st.just(LoginRequest("USER01", "pw", "OTHER", 1)),
        st.sampled_from(["publish", "unsequenced", "timer", "lost", "end"]),
    ),
    max_size=25,
)


@settings(max_examples=200, deadline=None)
@given(steps=server_steps)
def test_soupbintcp_state_server_random_sequences(steps: list[Packet | str]) -> None:
    server = SoupServer(USERS, timeout=100.0, login_timeout=100.0, failed_login_burst=100)
    conn = server.connection(0.0)
    for i, step in enumerate(steps):
        now = float(i)
        before = conn.state
        if isinstance(step, Packet):
            check_received(conn, Role.SERVER, step, now)
        elif step == "publish" and not server.ended:
            server.publish(b"m")
            conn.pump(now)
        elif step == "unsequenced":
            if allowed(Role.SERVER, before, (Direction.SENT, UnsequencedData)):
                conn.send_unsequenced(b"u", now)
            else:
                with pytest.raises(RuntimeError):
                    conn.send_unsequenced(b"u", now)
        elif step == "timer":
            conn.timer(now)
        elif step == "end":
            server.end_session()
            conn.pump(now)
        elif step == "lost":
            conn.connection_lost()
            assert conn.closed
        assert conn.state in after_sends(Role.SERVER, before) | {
            s for t in after_sends(Role.SERVER, before) for s in after_sends(Role.SERVER, t)
        }
        assert conn.logged_in == (conn.state is SessionState.LOGGED_IN)
        assert (server.active is conn) == conn.logged_in
        conn.data_to_send()


def test_soupbintcp_state_packets_before_a_bad_length_are_handled_then_it_closes() -> None:
    """A good packet and a broken header in one read: the packet is handled, then the
    protocol error closes. The framer raised before returning anything, so the client
    lost a Sequenced Data (an execution) read together with garbage, and the server a
    client's packet."""
    from tickwire.soupbintcp import Message
    from tickwire.soupbintcp.packets import PacketError, PacketFramer

    good = build_packet(SequencedData(b"executed"))
    with pytest.raises(PacketError, match="packet length 0") as caught:
        PacketFramer().feed(good + good + b"\x00\x00")
    assert caught.value.bodies == (good[2:], good[2:])

    client = client_in(SessionState.LOGGED_IN)
    events = client.receive_data(good + b"\x00\x00", 1.0)
    assert events[0] == Message(b"executed", 1)
    assert isinstance(events[-1], Closed) and "packet length 0" in events[-1].reason
    assert client.state is SessionState.CLOSED and client.next_sequence == 2

    server = server_in(SessionState.LOGGED_IN)
    events = server.receive_data(build_packet(UnsequencedData(b"order")) + b"\x00\x00", 1.0)
    assert events[0] == Message(b"order")
    assert isinstance(events[-1], Closed) and "packet length 0" in events[-1].reason
