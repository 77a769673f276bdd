"""MoldUDP64 packets out of pcap and pcapng captures.

The capture is read by :func:`tickwire.net.pcap.read_pcap` and each frame parsed by
:func:`tickwire.net.frames.parse_udp_frame`; this module adds what is MoldUDP64's own:
which frames are packets of the feed, and the count of every frame it skips
(:class:`CaptureStats`). Errors of the reader come out as this package's
:class:`~tickwire.moldudp64.errors.BadPcap` and :class:`~tickwire.moldudp64.errors.BadFrame`
(which are also tickwire.net's), so ``except MoldError`` still catches them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

from tickwire.net.errors import BadFrame as NetBadFrame
from tickwire.net.errors import BadPcap as NetBadPcap
from tickwire.net.frames import LINKTYPE_ETHERNET, UdpFrame, linktype_name, parse_udp_frame
from tickwire.net.pcap import read_pcap

from .codec import DownstreamPacket, parse_downstream
from .errors import BadFrame, BadPcap, MoldError

__all__ = ["CaptureStats", "MoldCapture", "MoldFrame", "read_moldudp64"]


@dataclass(slots=True)
class CaptureStats:
    """What :class:`MoldCapture` saw: every frame is counted in exactly one bucket."""

    frames: int = 0
    packets: int = 0
    messages: int = 0
    not_udp: int = 0
    other_port: int = 0
    bad_packets: int = 0
    #: Frames the capture cut short (captured below their length on the wire: the
    #: capture's snap length) that are no whole MoldUDP64 packet: counted here, not as
    #: ``not_udp`` or ``bad_packets``, so the summary says what to change.
    cut: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class MoldFrame:
    """A MoldUDP64 packet found in a capture, with its frame and timestamp."""

    timestamp_ns: int
    udp: UdpFrame
    packet: DownstreamPacket


class MoldCapture:
    """Iterate the MoldUDP64 packets of a capture, counting everything it skips.

    Frames that are not Ethernet/IPv4/UDP (``not_udp``), that are for another UDP port than
    ``port`` (when given, either direction) or whose payload is not a valid MoldUDP64 packet
    (``bad_packets``; the first errors are kept in ``stats.errors``) are skipped and counted,
    unless ``strict`` asks for an exception instead.

    A record of another link type than Ethernet raises :class:`BadPcap` naming the link type,
    strict or not: such a capture (a ``-i any`` capture is Linux cooked, a loopback capture
    BSD loopback) cannot be read for MoldUDP64 at all, and skipping every frame would turn
    it into an empty feed that looks like a quiet day.
    """

    def __init__(
        self,
        source: str | os.PathLike[str] | IO[bytes] | bytes,
        *,
        port: int | None = None,
        strict: bool = False,
    ) -> None:
        self._source = source
        self._port = port
        self._strict = strict
        self.stats = CaptureStats()

    def __iter__(self) -> Iterator[MoldFrame]:
        # One try around the whole loop (free per frame): the reader's and the frame
        # parser's errors leave as this package's, which are also tickwire.net's.
        try:
            st = self.stats
            for rec in read_pcap(self._source):
                st.frames += 1
                if rec.linktype != LINKTYPE_ETHERNET:
                    raise BadPcap(
                        f"frame {st.frames}: link type {linktype_name(rec.linktype)} is not "
                        "Ethernet; MoldUDP64 is read from Ethernet captures only"
                    )
                try:
                    udp = parse_udp_frame(rec.frame)
                except NetBadFrame:
                    if self._strict:
                        raise
                    if rec.original_length > len(rec.frame):
                        self._cut(rec.original_length, len(rec.frame))
                    else:
                        st.not_udp += 1
                    continue
                if self._port is not None and self._port not in (udp.dst_port, udp.src_port):
                    st.other_port += 1
                    continue
                try:
                    pkt = parse_downstream(udp.payload)
                except MoldError as exc:
                    if self._strict:
                        raise
                    if rec.original_length > len(rec.frame):
                        self._cut(rec.original_length, len(rec.frame))
                        continue
                    st.bad_packets += 1
                    if len(st.errors) < 20:
                        st.errors.append(f"frame {st.frames}: {exc}")
                    continue
                st.packets += 1
                st.messages += len(pkt.messages)
                yield MoldFrame(rec.timestamp_ns, udp, pkt)
        except NetBadPcap as exc:
            if isinstance(exc, MoldError):
                raise
            raise BadPcap(exc.reason, offset=exc.offset) from None
        except NetBadFrame as exc:
            if isinstance(exc, MoldError):
                raise
            raise BadFrame(exc.reason, offset=exc.offset) from None

    def _cut(self, wire: int, captured: int) -> None:
        st = self.stats
        st.cut += 1
        if len(st.errors) < 20:
            st.errors.append(
                f"frame {st.frames}: {captured} of its {wire} bytes captured (snap length)"
            )


def read_moldudp64(
    source: str | os.PathLike[str] | IO[bytes] | bytes, *, port: int | None = None
) -> Iterator[MoldFrame]:
    """The MoldUDP64 packets of a capture (see :class:`MoldCapture` for the skipping rules)."""
    return iter(MoldCapture(source, port=port))
