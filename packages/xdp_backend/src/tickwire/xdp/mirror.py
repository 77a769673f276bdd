"""The XDP mirror as a second source of the feed for a userspace MoldUDP64 receiver.

A frame the program turns into an order never reaches the kernel stack, so the engine's
feed socket would see a gap there. The program copies such frames (mirror mode
``orders``; ``all`` copies every feed frame) into its ``tw_mirror`` ring buffer first.
:class:`MirrorFeed` hands the UDP payload of each copy to a
:class:`~tickwire.moldudp64.aio.MoldReceiver` with
:meth:`~tickwire.moldudp64.aio.MoldReceiver.receive_datagram`, so the receiver merges the
two sources by sequence number (a packet that arrives both ways is delivered once).

Order matters as well as completeness: the program passes frame N-1 to the socket, copies
frame N to the ring buffer, passes N+1; userspace sees two queues and must not deliver N+1
(a gap) or N before N-1. So a copy is held while it is ahead of the receiver and handed
over as soon as the receiver has caught up to it, or before the first socket datagram with
a later sequence number (``MoldReceiver.before_datagram``), or after ``hold`` seconds at
the latest (the packet before it was then lost on the wire, and the receiver's own gap
recovery takes over). ``hold`` defaults to the receiver's ``request_delay``, the
reordering allowance it already grants; a copy held that long delays nothing that could
have been delivered, since its messages wait behind the missing packet anyway.

Example (the program attached with ``python -m tickwire.xdp attach eth1 --config FILE``)::

    rx = await MoldReceiver.create(Line(port=26477), config=ReceiverConfig(...))
    mirror = MirrorFeed.open("eth1")
    mirror.start(rx)
    ...
    mirror.close()
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import asdict, dataclass
from typing import NamedTuple

from tickwire.moldudp64.aio import MoldReceiver
from tickwire.moldudp64.codec import HEADER_SIZE, encode_session
from tickwire.moldudp64.events import Address
from tickwire.net import BadFrame, parse_udp_frame
from tickwire.threshold.cheader import WIRE

from . import layout
from .program import XdpError, XdpProgram

__all__ = ["MirrorFeed", "MirrorStats"]


@dataclass(slots=True)
class MirrorStats:
    """What became of the frames taken from the ring buffer."""

    #: Handed to the receiver.
    frames: int = 0
    #: Of those, frames the program turned into orders (the socket never saw them).
    ordered: int = 0
    #: Skipped: longer than the 2048 bytes the mirror copies, so their payload is cut.
    cut: int = 0
    #: Skipped: not for the feed's UDP port (or destination address).
    ignored: int = 0
    #: Skipped: not an Ethernet/IPv4/UDP frame that parses.
    bad: int = 0
    #: Discarded when the feed was opened: copied before this consumer existed, possibly
    #: of an earlier session, which would be taken for the current one.
    stale: int = 0


class _Copy(NamedTuple):
    payload: bytes
    source: Address
    session: bytes | None  # None: too short for a MoldUDP64 header
    sequence: int
    ordered: bool


_SESSION = WIRE["MOLD"].span("session")
_SEQUENCE = WIRE["MOLD"].span("sequence")


def _place(packet: bytes) -> tuple[bytes, int] | None:
    """The raw session and the sequence number of a MoldUDP64 packet (None: too short)."""
    if len(packet) < HEADER_SIZE:
        return None
    return packet[_SESSION], int.from_bytes(packet[_SEQUENCE], "big")


class MirrorFeed:
    """Hands the frames in an XDP program's ring buffer to a MoldUDP64 receiver.

    Frames are taken for the program's ``feed_port`` (:attr:`port`) and, when ``address``
    is given, for that IPv4 destination only (a unicast address or a multicast group), for
    a feed whose port other lines share. ``hold`` bounds how long a copy waits for the
    packets before it (default: the receiver's ``request_delay``). The ring buffer has one
    consumer position: run one feed per program. Frames already in it when the feed is
    created are discarded (``stats.stale``).
    """

    def __init__(
        self,
        program: XdpProgram,
        *,
        address: str | None = None,
        hold: float | None = None,
        close_program: bool = False,
    ) -> None:
        config = program.read_config()
        if config.mirror == layout.MIRROR_NONE:
            raise XdpError(
                "the program copies no frame to its ring buffer (mirror mode none): "
                "attach it with --mirror orders or --mirror all"
            )
        self.program = program
        #: The feed's UDP destination port: the only one the program copies frames of.
        self.port: int = config.feed_port
        self.address = address
        self.hold = hold
        self.stats = MirrorStats()
        self._close_program = close_program
        self._reader = program.mirror_reader()
        try:
            self.stats.stale = len(self._reader.consume())
            self._dropped_at_open = program.counters()["mirror_dropped"]
        except BaseException:
            self._reader.close()
            raise
        self._dropped = 0
        self._held: deque[_Copy] = deque()
        self._receiver: MoldReceiver | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._fd: int | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._session_name: str | None = None
        self._session_raw = b""
        self._closed = False

    @classmethod
    def open(
        cls,
        iface: str,
        *,
        address: str | None = None,
        hold: float | None = None,
    ) -> MirrorFeed:
        """The mirror of the program attached to ``iface`` by ``python -m tickwire.xdp
        attach`` (its pins under ``/sys/fs/bpf/tickwire/IFACE/``).

        Raises :class:`~tickwire.xdp.XdpError` saying what to do when nothing is attached
        there, when the process is not root, or when the program mirrors nothing.
        """
        program = XdpProgram.open_pinned(iface)
        try:
            return cls(program, address=address, hold=hold, close_program=True)
        except BaseException:
            program.close()
            raise

    # -- running ---------------------------------------------------------------------------
    def start(self, receiver: MoldReceiver) -> None:
        """Hand every frame mirrored from now on to ``receiver`` (in the running loop)."""
        if self._receiver is not None:
            raise XdpError("the mirror feed is already started")
        loop = asyncio.get_running_loop()
        fd = self._reader.fileno()
        loop.add_reader(fd, self._on_ready)
        self._loop, self._fd, self._receiver = loop, fd, receiver
        if self.hold is None:
            self.hold = receiver.receiver.config.request_delay
        receiver.before_datagram = self._before_datagram
        self._on_ready()  # what was mirrored between open and start

    def drain(self) -> int:
        """Take every frame from the ring buffer now and hand over those the receiver is
        ready for (the rest are held, see the module docs); returns the frames handed."""
        before = self.stats.frames
        self._on_ready()
        return self.stats.frames - before

    def _take(self) -> None:
        """Move the ring buffer's frames to the held queue, skipping what is not the feed."""
        st = self.stats
        for frame in self._reader.consume():
            if len(frame.data) < frame.frame_len:
                st.cut += 1
                continue
            try:
                udp = parse_udp_frame(frame.data)
            except BadFrame:
                st.bad += 1
                continue
            if udp.dst_port != self.port or (
                self.address is not None and udp.dst_ip != self.address
            ):
                st.ignored += 1
                continue
            payload = udp.payload
            session, sequence = _place(payload) or (None, 0)
            self._held.append(
                _Copy(payload, (udp.src_ip, udp.src_port), session, sequence, frame.ordered)
            )

    def _current_session(self) -> bytes | None:
        assert self._receiver is not None
        name = self._receiver.receiver.session
        if name is None:
            return None
        if name != self._session_name:
            self._session_name, self._session_raw = name, encode_session(name)
        return self._session_raw

    def _due(self, copy: _Copy) -> bool:
        """The receiver is ready for ``copy``: nothing before it can still be on its way."""
        if copy.session is None:
            return True  # not MoldUDP64: the receiver counts it as a bad packet
        current = self._current_session()
        if current is None:
            return False  # the socket may hold the packet that starts the session
        if copy.session != current:
            return True  # another session: the receiver's session rules decide
        assert self._receiver is not None
        return copy.sequence <= self._receiver.receiver.next_sequence

    def _hand(self, copy: _Copy) -> None:
        assert self._receiver is not None
        self.stats.frames += 1
        if copy.ordered:
            self.stats.ordered += 1
        self._receiver.receive_datagram(copy.payload, copy.source)

    def _on_ready(self) -> None:
        if self._receiver is None:
            return
        self._take()
        held = self._held
        while held and self._due(held[0]):
            self._hand(held.popleft())
        if held:
            self._arm()

    def _before_datagram(self, data: bytes) -> None:
        """A socket datagram is about to be processed: the copies of packets before it go
        first (the program saw those frames before this one)."""
        self._take()
        held = self._held
        if not held:
            return
        # A datagram too short to say where it belongs orders nothing.
        place = _place(data)
        while held and (
            self._due(held[0])
            or (place is not None and (held[0].session != place[0] or held[0].sequence < place[1]))
        ):
            self._hand(held.popleft())
        if held:
            # Those left come after this datagram, which may be what they wait for.
            assert self._loop is not None
            self._loop.call_soon(self._on_ready)
            self._arm()

    def _arm(self) -> None:
        if self._timer is None and self._loop is not None:
            self._timer = self._loop.call_later(self.hold or 0.0, self._flush)

    def _flush(self) -> None:
        """The hold is over: the packets before what is still held did not come (lost on
        the wire); the receiver's gap recovery takes it from here."""
        self._timer = None
        if self._receiver is None:
            return
        self._take()
        while self._held:
            self._hand(self._held.popleft())

    # -- state -----------------------------------------------------------------------------
    @property
    def dropped(self) -> int:
        """Frames the program could not copy since this feed was opened (its ring buffer was
        full): gaps the receiver recovers from the re-request server."""
        if not self._closed:
            self._dropped = self.program.counters()["mirror_dropped"] - self._dropped_at_open
        return self._dropped

    def snapshot(self) -> dict[str, int]:
        """The statistics, ``dropped`` and the copies held right now, JSON-ready."""
        return {**asdict(self.stats), "dropped": self.dropped, "held": len(self._held)}

    def close(self) -> None:
        """Hand over what is held, stop, and release the ring buffer (and the pinned
        program when :meth:`open` opened it). Idempotent; the statistics stay readable."""
        if self._closed:
            return
        if self._receiver is not None:
            self._flush()
            if self._receiver.before_datagram == self._before_datagram:
                self._receiver.before_datagram = None
            self._receiver = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._loop is not None and self._fd is not None:
            self._loop.remove_reader(self._fd)
            self._fd = None
        _ = self.dropped  # the last value, for reports written after closing
        self._closed = True
        self._reader.close()
        if self._close_program:
            self.program.close()

    def __enter__(self) -> MirrorFeed:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
