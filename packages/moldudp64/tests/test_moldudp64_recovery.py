"""Gap recovery under any loss, duplication and reordering, in a simulated network.

A deterministic discrete-event simulation with virtual time connects the sans-I/O publisher
(sending each packet on two lines, A and B), the sans-I/O re-request server and the sans-I/O
receiver. Every transmission on every link (both feed lines, requests, answers) takes its
fate from a hypothesis-drawn list: delivered after some delay (so packets reorder), lost, or
duplicated. Once the list runs out the network delivers cleanly, so the network is eventually
reliable, which is what any recovery protocol needs to finish. Hostile packets are injected
at drawn times on top: single packets of stray sessions, ends of session below what was
already delivered, heartbeats and data claiming absurd sequence numbers. The property: the
receiver delivers exactly the published messages, in order, each once, reports the end of
session, its requests never exceed the cap (``request_rate``, ``request_burst``), and the
copies it drops never differ from what it delivered (no false :class:`Conflict`).
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st
from tickwire.moldudp64 import DownstreamPacket
from tickwire.moldudp64.events import (
    Conflict,
    EndOfSession,
    Event,
    Messages,
    SendRequest,
    SessionChanged,
)
from tickwire.moldudp64.publisher import (
    MessageStore,
    Publisher,
    PublisherConfig,
    RequestServer,
    ServerConfig,
)
from tickwire.moldudp64.receiver import Receiver, ReceiverConfig

LATENCY = 0.0002


@dataclass(frozen=True)
class Fate:
    lost: bool = False
    copies: int = 1
    delay: float = 0.0


fates = st.lists(
    st.one_of(
        st.builds(Fate, lost=st.just(True)),
        st.builds(Fate, copies=st.just(2), delay=st.floats(0, 0.01)),
        st.builds(Fate, delay=st.floats(0, 0.02)),
        st.just(Fate()),
    ),
    max_size=400,
)


@dataclass(frozen=True)
class Hostile:
    """A packet nobody published, reaching the receiver at ``at``."""

    at: float
    kind: str  # stray | stale_eos | absurd_heartbeat | absurd_data
    value: int

    def packet(self, index: int, rx: Receiver) -> bytes | None:
        """Its bytes, made when it is sent (a stale end of session depends on the receiver)."""
        if self.kind == "stray":  # each a single packet of its own session
            name, seq = f"STRAY{index}", 1 + self.value % 1000
            if self.value % 2:
                return DownstreamPacket(name, seq, (b"stray",)).build()
            return DownstreamPacket.heartbeat(name, seq).build()
        session = rx.session
        if session is None:
            return None
        if self.kind == "stale_eos":
            if rx.next_sequence <= 1:
                return None  # nothing delivered: nothing is below it
            seq = 1 + self.value % (rx.next_sequence - 1)
            return DownstreamPacket.end_of_session_packet(session, seq).build()
        # Absurd, and far from each other: single packets, none confirms another.
        seq = 2**40 + index * 2**30 + self.value % 2**20
        if self.kind == "absurd_heartbeat":
            return DownstreamPacket.heartbeat(session, seq).build()
        return DownstreamPacket(session, seq, (b"evil",)).build()


hostiles = st.lists(
    st.builds(
        Hostile,
        at=st.floats(0, 3),
        kind=st.sampled_from(["stray", "stale_eos", "absurd_heartbeat", "absurd_data"]),
        value=st.integers(0, 2**62),
    ),
    max_size=8,
)


def assert_request_cap(events: list[tuple[float, Event]], config: ReceiverConfig) -> None:
    """The requests fit the receiver's token bucket: the absolute cap on requests."""
    rate, burst = config.request_rate, config.request_burst
    tokens, last = burst, float("-inf")
    for at, ev in events:
        if isinstance(ev, SendRequest):
            tokens = min(burst, tokens + (at - last) * rate) - 1
            last = at
            assert tokens >= -1e-9, f"request at {at} over {rate}/s with burst {burst}"


@dataclass
class Net:
    fates: list[Fate]
    queue: list[tuple[float, int, str, bytes, str]] = field(default_factory=list)
    sent: int = 0
    lost: int = 0

    def send(self, now: float, src: str, dst: str, data: bytes) -> None:
        fate = self.fates[self.sent] if self.sent < len(self.fates) else Fate()
        self.sent += 1
        if fate.lost:
            self.lost += 1
            return
        for i in range(fate.copies):
            at = now + LATENCY + fate.delay + i * 0.001
            heapq.heappush(self.queue, (at, self.sent * 4 + i, dst, data, src))


@dataclass
class Feed:
    """One publisher (a session) with its re-request server and its script of messages."""

    publisher: Publisher
    server: RequestServer
    start: float
    script: list[tuple[float, bytes]]  # (time offset, message)
    pos: int = 0

    @classmethod
    def make(
        cls,
        session: str,
        messages: list[bytes],
        gaps: list[float],
        start: float,
        store: MessageStore | None = None,
        max_payload: int = 200,
    ) -> Feed:
        pub = Publisher(
            PublisherConfig(session, max_payload=max_payload, flush_interval=0.001), store
        )
        server = RequestServer(
            session,
            pub.store,
            ServerConfig(max_payload=max_payload, max_count=7, rate=1000, burst=5),
        )
        t = 0.0
        script = []
        for i, m in enumerate(messages):
            t += gaps[i % len(gaps)] if gaps else 0.0
            script.append((t, m))
        return cls(pub, server, start, script)

    def next_time(self) -> float:
        if self.pos < len(self.script):
            return min(self.start + self.script[self.pos][0], self.publisher.next_deadline())
        return max(self.start, self.publisher.next_deadline())


def simulate(
    feeds: list[Feed],
    fate_list: list[Fate],
    config: ReceiverConfig,
    rx_start: float = 0.0,
    limit: float = 2000.0,
    lines: tuple[str, ...] = ("lineA", "lineB"),
    joined: bool = False,
    hostile: Sequence[Hostile] = (),
) -> tuple[list[tuple[str, int, bytes]], list[Event], Net]:
    """Run until the receiver has seen the last feed's end of session; return what it got."""
    net = Net(fate_list)
    rx = Receiver(config)
    delivered: list[tuple[str, int, bytes]] = []
    events: list[Event] = []
    timed: list[tuple[float, Event]] = []
    attacks = sorted(enumerate(hostile), key=lambda h: h[1].at)
    last_session = feeds[-1].publisher.session
    now = 0.0

    def handle(evs: list[Event]) -> None:
        for ev in evs:
            events.append(ev)
            timed.append((now, ev))
            if isinstance(ev, Messages):
                for i, m in enumerate(ev.messages):
                    delivered.append((ev.session, ev.sequence + i, m))
            elif isinstance(ev, SendRequest):
                net.send(now, "rx", "server", ev.data)

    if joined:
        # The receiver was listening when the first session started: it saw its first two
        # heartbeats (one packet alone adopts no session). Otherwise losing every packet of
        # a short first session is indistinguishable from joining late, when that session
        # was already over.
        first = DownstreamPacket.heartbeat(feeds[0].publisher.session, 1).build()
        handle(rx.receive(first, "lineA", -1.0))
        handle(rx.receive(first, "lineA", 0.0))
    steps = 0
    while now < limit:
        steps += 1
        assert steps < 1_000_000, f"simulation stuck at t={now}: {rx.stats}"
        if rx.ended and rx.session == last_session:
            break
        times = [net.queue[0][0]] if net.queue else []
        for i, f in enumerate(feeds):
            # A feed runs from its start; the next one takes over once it has closed.
            if i == 0 or feeds[i - 1].publisher.closed:
                times.append(max(f.next_time(), f.start))
        d = rx.next_deadline()
        if d is not None:
            times.append(d)
        if attacks:
            times.append(attacks[0][1].at)
        now = max(now, min(times))
        while attacks and attacks[0][1].at <= now:
            index, h = attacks.pop(0)
            data = h.packet(index, rx)
            if data is not None:
                handle(rx.receive(data, "hostile", now))
        for i, f in enumerate(feeds):
            if not (i == 0 or feeds[i - 1].publisher.closed) or now < f.start:
                continue
            pub = f.publisher
            out: list[bytes] = []
            while f.pos < len(f.script) and f.start + f.script[f.pos][0] <= now:
                out += pub.publish(f.script[f.pos][1], now)
                f.pos += 1
            if f.pos == len(f.script) and not pub.closed:
                out += pub.close(now)
            if pub.next_deadline() <= now:
                out += pub.tick(now)
            for pkt in out:
                if now >= rx_start:
                    for line in lines:
                        net.send(now, "pub", line, pkt)
        while net.queue and net.queue[0][0] <= now:
            _, _, dst, data, src = heapq.heappop(net.queue)
            if dst == "server":
                for f in feeds:
                    for ans in f.server.handle(data, src, now):
                        net.send(now, "server", "rx", ans)
            elif now >= rx_start:
                handle(rx.receive(data, dst if src == "pub" else src, now))
        d = rx.next_deadline()
        if d is not None and d <= now:
            handle(rx.tick(now))
    else:
        raise AssertionError(f"no end of session after {limit} simulated seconds: {rx.stats}")
    assert_request_cap(timed, config)
    return delivered, events, net


def check_in_order_once(delivered: list[tuple[str, int, bytes]]) -> None:
    last: dict[str, int] = {}
    for session, seq, _ in delivered:
        if session in last:
            assert seq == last[session] + 1, f"{session}: {seq} after {last[session]}"
        last[session] = seq


messages_st = st.lists(st.binary(min_size=0, max_size=60), min_size=1, max_size=300)
gaps_st = st.lists(st.sampled_from([0.0, 0.0, 0.0005, 0.003, 0.05, 1.5]), max_size=20)


@settings(max_examples=150, deadline=None)
@given(
    messages=messages_st,
    gaps=gaps_st,
    fate_list=fates,
    b_line=st.booleans(),
    hostile=hostiles,
)
def test_any_loss_pattern_delivers_everything_once_in_order(
    messages: list[bytes],
    gaps: list[float],
    fate_list: list[Fate],
    b_line: bool,
    hostile: list[Hostile],
) -> None:
    feed = Feed.make("SESSIONA", messages, gaps, start=0.0)
    delivered, events, _ = simulate(
        [feed],
        fate_list,
        ReceiverConfig(request_server="server", start_sequence=1),
        lines=("lineA", "lineB") if b_line else ("lineA",),
        hostile=hostile,
    )
    check_in_order_once(delivered)
    assert [m for _, _, m in delivered] == messages
    assert [s for _, s, _ in delivered] == list(range(1, len(messages) + 1))
    ends = [e for e in events if isinstance(e, EndOfSession)]
    assert ends == [EndOfSession("SESSIONA", len(messages) + 1)]
    # Copies (line B, retransmissions, network duplicates) agree: never a false alarm.
    assert not [e for e in events if isinstance(e, Conflict)]


@settings(max_examples=60, deadline=None)
@given(first=messages_st, second=messages_st, gaps=gaps_st, fate_list=fates, hostile=hostiles)
def test_session_change(
    first: list[bytes],
    second: list[bytes],
    gaps: list[float],
    fate_list: list[Fate],
    hostile: list[Hostile],
) -> None:
    """Session 1 ends, a new publisher starts session 2: both delivered whole, in order."""
    feeds = [Feed.make("SESSION1", first, gaps, 0.0), Feed.make("SESSION2", second, gaps, 0.0)]
    # A grace longer than the lossy stretch of the network can last: session 1 is finished
    # (its end of session, repeated every second, gets through) before session 2 starts.
    cfg = ReceiverConfig(request_server="server", start_sequence=1, session_grace=900.0)
    delivered, events, _ = simulate(feeds, fate_list, cfg, joined=True, hostile=hostile)
    check_in_order_once(delivered)
    assert [m for s, _, m in delivered if s == "SESSION1"] == first
    assert [m for s, _, m in delivered if s == "SESSION2"] == second
    assert [s for s, _, _ in delivered] == ["SESSION1"] * len(first) + ["SESSION2"] * len(second)
    changes = [e for e in events if isinstance(e, SessionChanged)]
    assert changes == [
        SessionChanged(None, "SESSION1", 1),
        SessionChanged("SESSION1", "SESSION2", 1, 0),
    ]


@settings(max_examples=60, deadline=None)
@given(
    first=messages_st,
    second=messages_st,
    gaps=gaps_st,
    fate_list=fates,
    pause=st.sampled_from([0.0, 0.5, 4.0]),
)
def test_publisher_restart_same_session(
    first: list[bytes], second: list[bytes], gaps: list[float], fate_list: list[Fate], pause: float
) -> None:
    """The publisher crashes (no end of session) and restarts on its stored session."""
    delivered, _, _ = _restart_same_session(first, second, gaps, fate_list, pause)
    check_in_order_once(delivered)
    assert [m for _, _, m in delivered] == first + second


def _restart_same_session(
    first: list[bytes], second: list[bytes], gaps: list[float], fate_list: list[Fate], pause: float
) -> tuple[list[tuple[str, int, bytes]], list[Event], Net]:
    """A publisher that crashes (no end of session) and restarts on its store, same session."""
    store = MessageStore()
    one = Feed.make("SESSION1", first, gaps, start=0.0, store=store)
    # Crash: the first publisher never closes; its script ends and it goes silent.
    crash_at = (one.script[-1][0] if one.script else 0.0) + 0.01

    class Crashing(Publisher):
        def close(self, now: float) -> list[bytes]:
            out = self.flush(now)
            self._closed = True  # stop heartbeats without sending end of session
            return out

        def tick(self, now: float) -> list[bytes]:
            return [] if self._closed else super().tick(now)

        def next_deadline(self) -> float:
            return float("inf") if self._closed else super().next_deadline()

    one.publisher.__class__ = Crashing
    two = Feed.make("SESSION1", second, gaps, start=crash_at + pause, store=store)
    return simulate(
        [one, two], fate_list, ReceiverConfig(request_server="server", start_sequence=1)
    )


@settings(max_examples=50, deadline=None)
@given(
    messages=messages_st,
    fate_list=fates,
    join_at=st.floats(0.0, 0.5),
    from_start=st.booleans(),
    hostile=hostiles,
)
def test_late_join(
    messages: list[bytes],
    fate_list: list[Fate],
    join_at: float,
    from_start: bool,
    hostile: list[Hostile],
) -> None:
    feed = Feed.make("LATE", messages, [0.002], start=0.0)
    cfg = ReceiverConfig(request_server="server", start_sequence=1 if from_start else None)
    delivered, events, _ = simulate([feed], fate_list, cfg, rx_start=join_at, hostile=hostile)
    check_in_order_once(delivered)
    got = [m for _, _, m in delivered]
    if from_start:
        assert got == messages
    else:
        # Everything from the first sequence seen on, nothing before it.
        first = delivered[0][1] if delivered else len(messages) + 1
        assert got == messages[first - 1 :]
    assert isinstance(events[-1], EndOfSession)
