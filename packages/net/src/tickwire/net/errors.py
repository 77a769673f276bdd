"""Typed errors of tickwire.net.

Every error raised for bad input is a :class:`NetError` (a ``ValueError``), so a command
line can catch ``ValueError`` at its edge and print one line. ``offset`` is the byte offset
in the frame (or the file) where the problem was found, when that is meaningful.
"""

from __future__ import annotations

__all__ = ["BadFrame", "BadPcap", "CutPcap", "Fragment", "NetError"]


class NetError(ValueError):
    """Base of every error raised by tickwire.net for bad input.

    The message is ``reason`` followed by ``(at byte N)`` when ``offset`` is known.
    """

    def __init__(self, reason: str, *, offset: int | None = None) -> None:
        self.reason = reason
        self.offset = offset
        super().__init__(reason if offset is None else f"{reason} (at byte {offset})")


class BadFrame(NetError):
    """A frame or header that cannot be parsed or built: truncated, inconsistent lengths,
    another protocol than the one asked for, a field that does not fit."""


class Fragment(BadFrame):
    """An IPv4 fragment of a UDP datagram: the datagram is not whole (fragments are not
    reassembled). ``first``: the fragment at offset 0, which carries the UDP header;
    ``src_port`` and ``dst_port`` are its ports (None for the other fragments).
    ``src_ip``, ``dst_ip`` (dotted quads) and ``ident`` (the IPv4 identification) name the
    datagram every fragment of it shares, so a reader matches a later fragment with its
    first one; ``head`` is the start of the UDP payload (the first fragment's first 20
    bytes at most, else empty), so a reader can tell what the datagram carries. A reader of one feed counts the fragments of its datagrams as lost, not as
    other traffic, and those of other datagrams as other traffic
    (``tickwire.moldudp64.capture.MoldCapture``)."""

    def __init__(
        self,
        reason: str,
        *,
        offset: int | None = None,
        first: bool = False,
        src_port: int | None = None,
        dst_port: int | None = None,
        src_ip: str = "",
        dst_ip: str = "",
        ident: int = 0,
        head: bytes = b"",
    ) -> None:
        super().__init__(reason, offset=offset)
        self.first = first
        self.src_port = src_port
        self.dst_port = dst_port
        self.src_ip = src_ip
        self.dst_ip = dst_ip
        self.ident = ident
        self.head = head


class BadPcap(NetError):
    """A capture file that is not a readable pcap or pcapng file, or a record of a link
    type the reader cannot take."""


class CutPcap(BadPcap):
    """A capture file that ends inside a record (or a record's header, or a pcapng block)
    after its header: the records before are whole. What a capture copied while it was
    still written, or cut by a full disk, looks like; a reader of a feed keeps what came
    before and counts the cut (``tickwire.moldudp64.capture.CaptureStats.cut_at``)."""
