"""End of session: one packet cannot end the session.

An End of Session is believed when a second, independent packet claims the same end (the
publisher repeats it every heartbeat interval; a byte-identical copy within
``copy_window``, the B line, is not independent), and data delivered at or beyond its
sequence number proves it stale. Before this rule one forged End of Session at the
delivered position ended a pinned session at once, and the real messages that followed
were delivered after the EndOfSession event, with ``ended`` true.
"""

from __future__ import annotations

from tickwire.moldudp64 import DownstreamPacket
from tickwire.moldudp64.events import (
    EndOfSession,
    Event,
    FeedResumed,
    Messages,
    SendRequest,
    StaleFeed,
)
from tickwire.moldudp64.publisher import Publisher, PublisherConfig
from tickwire.moldudp64.receiver import Receiver, ReceiverConfig

SRV = ("198.18.0.9", 9000)


def pkt(seq: int, n: int, session: str = "FEED") -> bytes:
    return DownstreamPacket(session, seq, tuple(b"m%d" % (seq + i) for i in range(n))).build()


def eos(seq: int, session: str = "FEED") -> bytes:
    return DownstreamPacket.end_of_session_packet(session, seq).build()


def ends(events: list[Event]) -> list[Event]:
    return [e for e in events if isinstance(e, EndOfSession)]


def pinned(**kw: object) -> Receiver:
    return Receiver(ReceiverConfig(session="FEED", start_sequence=1, **kw))  # type: ignore[arg-type]


def test_one_forged_end_of_session_at_the_delivered_position_does_not_end_the_session() -> None:
    rx = pinned()
    rx.receive(pkt(1, 10), "exchange", 0.0)
    assert ends(rx.receive(eos(11), "anyone", 0.1)) == [] and not rx.ended
    ev = rx.receive(pkt(11, 2), "exchange", 0.2)  # the real messages go on: it was stale
    assert [e for e in ev if isinstance(e, Messages)] == [Messages("FEED", 11, [b"m11", b"m12"])]
    assert ends(ev) == [] and not rx.ended and rx.next_sequence == 13
    assert rx.stats.stale_end_of_session == 1
    # The real end, repeated by the publisher a heartbeat interval later, ends it.
    assert ends(rx.receive(eos(13), "exchange", 0.3)) == []
    assert ends(rx.receive(eos(13), "exchange", 1.3)) == [EndOfSession("FEED", 13)]
    assert rx.ended and rx.stats.stale_end_of_session == 1


def test_a_copy_on_the_other_line_does_not_confirm_an_end() -> None:
    rx = pinned(copy_window=0.25)
    rx.receive(pkt(1, 10), "A", 0.0)
    assert ends(rx.receive(eos(11), "A", 0.1) + rx.receive(eos(11), "B", 0.1001)) == []
    assert not rx.ended
    # An independent packet (the publisher's repeat, after the copy window) confirms it.
    assert ends(rx.receive(eos(11), "A", 1.1)) == [EndOfSession("FEED", 11)]


def test_an_end_ahead_of_delivery_is_confirmed_then_waits_for_the_tail() -> None:
    rx = pinned(request_server=SRV, request_delay=0.0)
    rx.receive(pkt(1, 2), "A", 0.0)
    ev = rx.receive(eos(6), "A", 1.0) + rx.receive(eos(6), "A", 2.0)
    assert ends(ev) == [] and [e for e in ev if isinstance(e, SendRequest)]
    ev = rx.receive(pkt(3, 3), SRV, 2.1)
    assert ends(ev) == [EndOfSession("FEED", 6)] and ev[-1] == EndOfSession("FEED", 6)


def test_an_end_data_overtook_is_stale_even_if_repeated_later() -> None:
    rx = pinned()
    rx.receive(pkt(1, 2), "A", 0.0)
    rx.receive(eos(4), "X", 0.1)
    rx.receive(pkt(3, 5), "A", 0.2)  # 3..7: past the claimed end
    assert rx.stats.stale_end_of_session == 1
    assert ends(rx.receive(eos(4), "X", 1.1)) == [] and not rx.ended  # below: stale
    assert rx.stats.stale_end_of_session == 2


def test_nothing_is_delivered_after_end_of_session() -> None:
    """Should two independent forged ends confirm one, data beyond it is refused: no
    message is ever delivered after the EndOfSession event."""
    rx = pinned()
    rx.receive(pkt(1, 10), "A", 0.0)
    rx.receive(eos(11), "X", 0.1)
    assert ends(rx.receive(eos(11), "X", 1.1)) == [EndOfSession("FEED", 11)]
    ev = rx.receive(pkt(11, 2), "A", 1.2)
    assert [e for e in ev if isinstance(e, Messages)] == [] and rx.next_sequence == 11
    assert rx.stats.after_end_of_session == 1 and rx.ended


def test_the_publishers_end_is_confirmed_by_its_own_repeat() -> None:
    pub = Publisher(PublisherConfig("FEED", heartbeat_interval=1.0))
    rx = pinned()
    got: list[Event] = []
    for p in pub.publish_many([b"a", b"b"], 0.0) + pub.flush(0.0) + pub.close(0.5):
        got += rx.receive(p, "A", 0.5)
    assert ends(got) == [] and not rx.ended
    t = 0.5
    while not rx.ended and t < 5.0:
        t += 0.1
        for p in pub.tick(t):
            got += rx.receive(p, "A", t)
    assert ends(got) == [EndOfSession("FEED", 3)] and t <= 1.6


def test_a_heartbeat_beyond_the_end_after_it_requests_nothing() -> None:
    """Once the session ended, a heartbeat or end of session claiming messages beyond its
    end is refused like data beyond it: it opened a gap after ``EndOfSession``, and the
    receiver reported it and requested it for ever (every answer refused), one packet
    of anyone's, a far claim too once a second packet confirmed the jump."""
    rx = pinned(request_server=SRV, request_delay=0.0)
    rx.receive(pkt(1, 5), "A", 0.0)
    rx.receive(eos(6), "A", 0.1)
    assert ends(rx.receive(eos(6), "A", 1.1)) == [EndOfSession("FEED", 6)]
    hb = DownstreamPacket.heartbeat("FEED", 50).build()
    got = rx.receive(hb, "X", 1.2) + rx.receive(eos(60), "X", 1.3)
    got += rx.receive(eos(300_000), "X", 1.4) + rx.receive(eos(300_001), "X", 1.5)
    for t in (2.0, 5.0, 30.0):
        got += rx.tick(t)
    assert [e for e in got if not isinstance(e, StaleFeed)] == []
    assert not rx.in_gap and rx.next_deadline() is None and rx.known_end == 6
    assert rx.stats.after_end_of_session == 4 and rx.ended
    assert rx.stats.requests_sent == 0
    ev = rx.receive(eos(6), "A", 31.0)  # the publisher's repeat: nothing more to say
    assert [e for e in ev if not isinstance(e, FeedResumed)] == []
    assert rx.stats.after_end_of_session == 4


def test_messages_held_beyond_an_end_prove_it_stale() -> None:
    """An end confirmed at a hole, with messages held beyond the hole: when everything
    before the end is delivered, the held messages prove it stale, as delivered ones do,
    and they are delivered once the hole fills. The end was reported with them held and
    the gap open: the receiver went on requesting it after ``EndOfSession``, and
    ``skip_gap`` (a capture reader's) delivered them after it. A heartbeat beyond a
    confirmed end claims no message: the end is reported and the gap it opened closed."""
    rx = pinned(request_server=SRV, request_delay=0.0)
    rx.receive(pkt(1, 2), "A", 0.0)  # 1 .. 2
    rx.receive(pkt(5, 3), "A", 0.1)  # 5 .. 7 held: 3 .. 4 missing
    rx.receive(eos(4), "X", 0.2)
    rx.receive(eos(4), "X", 1.2)  # confirmed at 4
    ev = rx.receive(pkt(3, 1), SRV, 1.3)  # 3: everything before the end delivered
    assert [e for e in ev if isinstance(e, Messages)] == [Messages("FEED", 3, [b"m3"])]
    assert ends(ev) == [] and not rx.ended and rx.stats.stale_end_of_session == 1
    assert rx.in_gap and rx.buffered == 3
    ev = rx.receive(pkt(4, 1), SRV, 1.4)
    assert [e for e in ev if isinstance(e, Messages)] == [
        Messages("FEED", 4, [b"m4", b"m5", b"m6", b"m7"])
    ]
    assert ends(rx.receive(eos(8), "A", 1.5) + rx.receive(eos(8), "A", 2.5)) == [
        EndOfSession("FEED", 8)
    ]

    rx = pinned(request_server=SRV, request_delay=0.0)
    rx.receive(pkt(1, 2), "A", 0.0)
    rx.receive(eos(4), "X", 0.2)
    rx.receive(eos(4), "X", 1.2)  # confirmed at 4
    rx.receive(DownstreamPacket.heartbeat("FEED", 11).build(), "X", 1.25)  # 3 .. 10 missing
    ev = rx.receive(pkt(3, 1), SRV, 1.3)
    assert ends(ev) == [EndOfSession("FEED", 4)] and ev[-1] == EndOfSession("FEED", 4)
    assert not rx.in_gap and rx.known_end == 4
    after = rx.skip_gap(2.0) + rx.tick(2.0) + rx.tick(10.0)
    assert [e for e in after if not isinstance(e, StaleFeed)] == []
    assert rx.next_deadline() is None and rx.next_sequence == 4
