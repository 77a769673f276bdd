"""Arbitrary bytes never crash a session core: a closed connection only."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from tickwire.soupbintcp import ClientSession, Closed, SoupServer
from tickwire.soupbintcp.packets import LoginAccepted, build_packet


@settings(max_examples=300, deadline=None)
@given(chunks=st.lists(st.binary(max_size=60), max_size=6), login=st.booleans())
def test_soupbintcp_fuzz_server_connection_survives_garbage(
    chunks: list[bytes], login: bool
) -> None:
    server = SoupServer({"USER01": "pw"})
    conn = server.connection(0.0)
    if login:
        c = ClientSession("USER01", "pw")
        c.connect(0.0)
        conn.receive_data(c.data_to_send(), 0.0)
        conn.data_to_send()
    for i, chunk in enumerate(chunks):
        events = conn.receive_data(chunk, float(i))
        conn.timer(float(i))
        if any(isinstance(e, Closed) for e in events):
            assert conn.closed
    server.publish(b"still fine")
    conn.pump(10.0)


@settings(max_examples=300, deadline=None)
@given(chunks=st.lists(st.binary(max_size=60), max_size=6))
def test_soupbintcp_fuzz_client_session_survives_garbage(chunks: list[bytes]) -> None:
    client = ClientSession("USER01", "pw")
    client.connect(0.0)
    client.receive_data(build_packet(LoginAccepted("S", 1)), 0.0)
    for i, chunk in enumerate(chunks):
        client.receive_data(chunk, float(i))
        client.timer(float(i))
