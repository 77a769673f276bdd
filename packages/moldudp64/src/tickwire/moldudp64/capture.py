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
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, TypeVar

from tickwire.net.errors import BadFrame as NetBadFrame
from tickwire.net.errors import BadPcap as NetBadPcap
from tickwire.net.errors import CutPcap as NetCutPcap
from tickwire.net.errors import Fragment
from tickwire.net.frames import LINKTYPE_ETHERNET, UdpFrame, linktype_name, parse_udp_frame
from tickwire.net.pcap import PcapRecord, read_pcap

from .codec import HEADER_SIZE, SESSION_LENGTH, DownstreamPacket, encode_session, parse_downstream
from .errors import BadFrame, BadPcap, MoldError, SessionChoiceError

__all__ = ["CaptureStats", "MoldCapture", "MoldFrame", "faults_text", "read_moldudp64"]

#: How many session names :attr:`CaptureStats.sessions` keeps (a hostile capture may
#: carry a new name in every packet; the rest are still filtered and counted).
MAX_SESSION_NAMES = 64
#: How many errors :attr:`CaptureStats.errors` keeps (every one is counted).
MAX_ERRORS = 20


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
    #: Frames that are IPv4 fragments of the feed's UDP datagrams (which are the feed's:
    #: :class:`MoldCapture`): not reassembled, so what they carry is lost. Fragments of
    #: other datagrams are other traffic (``not_udp``).
    fragments: int = 0
    #: Packets of sessions other than the one asked for (``session=``): not in ``packets``.
    other_session: int = 0
    #: Where the file ends inside a record, when it does (the reader's phrase, e.g. "file
    #: ends inside a 1518-byte record (at byte 127)"): the records before it are read,
    #: the cut one is lost (:class:`MoldCapture`, not ``strict``).
    truncated: str | None = None
    #: Packets per session name seen (the first :data:`MAX_SESSION_NAMES` names), the
    #: filtered sessions included, in the order first seen.
    sessions: dict[str, int] = field(default_factory=dict)
    #: The first :data:`MAX_ERRORS` errors of every kind, in the order read (bad packets,
    #: cut frames, fragments: ``"frame N: ..."``).
    errors: list[str] = field(default_factory=list)
    #: The first error of each kind, by the name of its count (``bad_packets``, ``cut``,
    #: ``fragments``): what :func:`faults_text` quotes after that count.
    first_errors: dict[str, str] = field(default_factory=dict)

    def error(self, kind: str, text: str) -> None:
        """Keep ``text``, an error of ``kind`` (the name of the count it is counted in),
        in :attr:`errors` (the first :data:`MAX_ERRORS`) and, the first of its kind, in
        :attr:`first_errors`. Why: :func:`faults_text` quoted ``errors[0]`` after the
        bad packets' count, but ``errors`` mixes the kinds, so a capture whose first
        fault was a cut frame said ``1 bad MoldUDP64 packets (frame 1: 60 of its 1518
        bytes captured (snap length))``, and one with 20 cut frames first quoted no bad
        packet at all. Test: ``tests/test_moldudp64_capture.py::
        test_each_fault_count_quotes_an_error_of_its_own_kind``."""
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(text)
        self.first_errors.setdefault(kind, text)


def faults_text(
    stats: CaptureStats,
    *,
    gaps: int = 0,
    missing: int = 0,
    conflicts: int = 0,
    first_conflict: str | None = None,
    after_end: int = 0,
    first_after_end: str | None = None,
) -> str | None:
    """What a capture's reading lost, as one phrase, or None when nothing was lost.

    The one rule of every command that reads a capture's messages (``docs/cli.md``):
    MoldUDP64 packets that do not parse (``bad_packets``), frames the capture cut short
    (``cut``), a file that ends inside a record (``truncated``: a capture copied while
    it was written, or cut by a full disk), IPv4 fragments of UDP datagrams
    (``fragments``: not reassembled) and
    sequence numbers never found (``gaps``, ``missing``: sequenced reading only) are lost
    messages, so the output built from them is not whole. Copies of
    messages that differ from the copy read (``conflicts``, sequenced reading only; the
    first at ``first_conflict``, "SESSION SEQUENCE") are a fault too: one of the
    copies lies, and the one read may be it. Frames of other traffic, other ports or other
    sessions, and A/B copies that agree, are not faults.

    A capture with not one MoldUDP64 packet (``stats`` counts the whole capture: no
    packet, none refused as bad or cut, none of another session) is a fault too: another
    stream's capture, the wrong port, or a capture header and no frame. Why: read as
    nothing, it gave empty books, tables and reports with exit 0, a quiet day (the rule
    of ``docs/cli.md``: an input with nothing of what the command decodes is exit 1; a
    capture of another link type is refused for the same reason). A session's
    heartbeats are packets: a quiet session is not this. Test:
    ``tests/test_capture_rules.py::test_a_capture_without_one_moldudp64_packet_is_a_fault``.

    Messages of a session after its confirmed end of session (``after_end``, sequenced
    reading only; the first at ``first_after_end``, "SESSION SEQUENCE") are lost too: the
    end of session is final (MoldUDP64), so the receiver does not read them, and the
    capture holds messages its output lacks. Why: they were dropped with exit 0, in no
    count (the receiver counted them, the capture's summary did not read the count). Test:
    ``test_moldudp64_sequenced.py::test_data_after_a_confirmed_end_of_session_is_a_fault``.
    """
    parts = []
    if not (
        stats.packets
        or stats.bad_packets
        or stats.cut
        or stats.fragments
        or stats.other_session
        or stats.truncated
    ):
        parts.append(_no_packet_text(stats))
    if stats.truncated:
        parts.append(f"the {stats.truncated}, its last record lost")
    first = stats.first_errors
    if stats.bad_packets:
        parts.append(f"{stats.bad_packets:,} bad MoldUDP64 packets{_first(first, 'bad_packets')}")
    if stats.cut:
        parts.append(
            f"{stats.cut:,} frames cut short by the capture's snap length{_first(first, 'cut')}"
        )
    if stats.fragments:
        parts.append(
            f"{stats.fragments:,} IPv4 fragments of UDP datagrams (not reassembled: their "
            "messages are lost)"
        )
    if gaps:
        parts.append(f"{gaps:,} sequence gaps ({missing:,} messages missing)")
    if conflicts:
        where = f", the first at {first_conflict}" if first_conflict else ""
        parts.append(f"{conflicts:,} messages whose copies differ (one copy lies{where})")
    if after_end:
        where = f"; the first at {first_after_end}" if first_after_end else ""
        parts.append(
            f"{after_end:,} messages after the end of session (not read: an end of session"
            f" is final{where})"
        )
    return ", ".join(parts) if parts else None


def _first(first_errors: dict[str, str], kind: str) -> str:
    """`` (the first error of kind)`` for :func:`faults_text`, or ``""`` when none is kept."""
    text = first_errors.get(kind)
    return f" ({text})" if text is not None else ""


def _no_packet_text(stats: CaptureStats) -> str:
    """The phrase of :func:`faults_text` for a capture with not one MoldUDP64 packet."""
    if not stats.frames:
        return "not one MoldUDP64 packet: the capture holds no frame"
    kinds = [
        f"{n:,} {what}"
        for n, what in ((stats.not_udp, "not UDP"), (stats.other_port, "of other UDP ports"))
        if n
    ]
    why = f" ({', '.join(kinds)})" if kinds else ""
    return f"not one MoldUDP64 packet in its {stats.frames:,} frames{why}"


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
    unless ``strict`` asks for an exception instead. IPv4 fragments of the feed's UDP
    datagrams are counted as lost (``fragments``), those of other datagrams as other
    traffic, decided at the end of the capture (:class:`_Fragments` says which are which).

    Sessions: ``session`` keeps the packets of that session only (the others counted in
    ``other_session``; not one packet of it, when the capture has others, raises
    :class:`SessionChoiceError` at the end). Without it, ``one_session`` requires one
    session: the first packet of a second raises :class:`SessionChoiceError` naming both
    (an A/B capture of two feeds, or a stray packet, must not be merged into one feed
    without a word); otherwise every session is read.

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
        session: str | None = None,
        one_session: bool = False,
    ) -> None:
        self._source = source
        self._port = port
        self._strict = strict
        self._session = session
        self._one_session = one_session
        self.stats = CaptureStats()

    def _records(self) -> Iterator[PcapRecord]:
        """The capture's records; a file that ends inside one (``CutPcap``) ends them
        there, said in ``stats.truncated`` (a fault: :func:`faults_text`), unless
        ``strict``. Why: the records before the cut are whole, and every other loss of a
        capture keeps what was read and says what was lost (exit 1); this one gave no
        output at all. Test:
        ``tests/test_capture_rules.py::test_a_capture_cut_inside_a_record_keeps_what_came_before``."""
        try:
            yield from read_pcap(self._source)
        except NetCutPcap as exc:
            if self._strict:
                raise
            self.stats.truncated = str(exc)

    def __iter__(self) -> Iterator[MoldFrame]:
        # One try around the whole loop (free per frame): the reader's and the frame
        # parser's errors leave as this package's, which are also tickwire.net's.
        frags = _Fragments(self._port, self._session)
        try:
            st = self.stats
            want = self._session
            first: tuple[str, int] | None = None  # one_session: the session and its frame
            names = st.sessions
            last_fed: tuple[str, str, int] | None = None
            for rec in self._records():
                st.frames += 1
                if rec.linktype != LINKTYPE_ETHERNET:
                    raise BadPcap(
                        f"frame {st.frames}: link type {linktype_name(rec.linktype)} is not "
                        "Ethernet; MoldUDP64 is read from Ethernet captures only"
                    )
                try:
                    udp = parse_udp_frame(rec.frame)
                except NetBadFrame as exc:
                    if self._strict:
                        raise
                    if rec.original_length > len(rec.frame):
                        self._cut(rec.original_length, len(rec.frame))
                    elif isinstance(exc, Fragment):
                        frags.add(exc, st.frames)
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
                    st.error("bad_packets", f"frame {st.frames}: {exc}")
                    continue
                name = pkt.session
                if name in names:
                    names[name] += 1
                elif len(names) < MAX_SESSION_NAMES:
                    names[name] = 1
                if want is not None:
                    if name != want:
                        st.other_session += 1
                        continue
                elif self._one_session:
                    if first is None:
                        first = (name, st.frames)
                    elif name != first[0]:
                        raise SessionChoiceError(
                            f"frame {st.frames:,} is a packet of MoldUDP64 session {name!r} "
                            f"and frame {first[1]:,} one of session {first[0]!r}: "
                            "sessions are not merged into one feed; choose one with "
                            "--session NAME"
                        )
                st.packets += 1
                st.messages += len(pkt.messages)
                fed = (udp.src_ip, udp.dst_ip, udp.dst_port)
                if fed != last_fed:  # a feed's packets share these: said once a run
                    frags.feed(fed)
                    last_fed = fed
                yield MoldFrame(rec.timestamp_ns, udp, pkt)
            if want is not None and not st.packets and st.other_session:
                raise SessionChoiceError(
                    f"session {want!r}: not one packet of it in the capture (its "
                    f"sessions: {', '.join(repr(n) for n in names)})"
                )
        except NetBadPcap as exc:
            if isinstance(exc, MoldError):
                raise
            raise BadPcap(exc.reason, offset=exc.offset) from None
        except NetBadFrame as exc:
            if isinstance(exc, MoldError):
                raise
            raise BadFrame(exc.reason, offset=exc.offset) from None
        finally:  # also when the reader stops early: the fragments of what it read
            frags.settle(self.stats)

    def _cut(self, wire: int, captured: int) -> None:
        st = self.stats
        st.cut += 1
        st.error("cut", f"frame {st.frames}: {captured} of its {wire} bytes captured (snap length)")


_K = TypeVar("_K")

#: How many fragmented datagrams :class:`_Fragments` remembers (the latest), to match a
#: later fragment with its first; and how many address pairs it keeps of the feed's
#: packets and of fragments whose first it did not see.
MAX_FRAGMENTED = 4096


class _Fragments:
    """The IPv4 fragments of UDP datagrams in a capture, and which of them are the feed's.

    The rule: a fragment is the feed's (counted in ``fragments``, lost: fragments are not
    reassembled) when its datagram's UDP destination port is one of the feed's: ``port``
    when given (either direction, as the port filter), otherwise a destination port of
    the packets read (of the session read) anywhere in the capture. Only the first
    fragment (offset 0) carries the UDP header; a later one is matched with it by
    (source, destination, IP identification) among the last :data:`MAX_FRAGMENTED`
    datagrams. A later fragment whose first was not seen (lost by the capture, or too
    long before) is the feed's when its (source, destination) addresses are those of a
    packet read. When no packet of the feed was read at all (no ``port``, every packet
    fragmented), the feed's datagrams are those whose first fragment starts like a
    MoldUDP64 packet (10 printable ASCII bytes of session, ``session``'s when given), and
    their ports and addresses stand in for the packets'. Every other fragment is other
    traffic (``not_udp``). It errs towards lost: a fragment that may be the feed's
    counts, and past :data:`MAX_FRAGMENTED` address pairs every such fragment counts.

    Why: every fragment counted as lost, so one unrelated fragmented datagram (a big DNS
    answer or NFS read to another port) made a whole feed capture exit 1; counting none
    loses a fragmented feed packet without a word. The capture is decided at its end,
    since the feed's port may show only after its first fragmented datagram. Tests:
    ``tests/test_capture_rules.py::test_a_fragmented_feed_datagram_is_a_lost_packet``,
    ``::test_an_unrelated_fragmented_datagram_is_other_traffic``,
    ``::test_the_feeds_own_fragments_are_lost_wherever_they_are``.
    """

    __slots__ = (
        "by_port",
        "datagrams",
        "learn",
        "mold_pairs",
        "mold_ports",
        "orphans",
        "pairs",
        "pairs_full",
        "ports",
        "seen",
        "session",
    )

    def __init__(self, port: int | None, session: str | None) -> None:
        self.seen = 0
        #: UDP destination port (of the first fragments) -> [fragments, first frame].
        self.by_port: dict[int, list[int]] = {}
        #: (source, destination, identification) -> UDP destination port, the latest.
        self.datagrams: OrderedDict[tuple[str, str, int], int] = OrderedDict()
        #: Later fragments whose first was not seen, by (source, destination); past
        #: MAX_FRAGMENTED pairs, under None (always counted).
        self.orphans: dict[tuple[str, str] | None, list[int]] = {}
        #: The feed's destination ports (``port``, or learnt from the packets read) and
        #: address pairs.
        self.learn = port is None
        self.ports: set[int] = set() if port is None else {port}
        self.pairs: set[tuple[str, str]] = set()
        self.pairs_full = False
        #: Without ``port``, the ports and addresses of first fragments that start like a
        #: MoldUDP64 packet (of ``session`` when given): the feed's when no packet was read.
        self.session = None if session is None else encode_session(session)
        self.mold_ports: set[int] = set()
        self.mold_pairs: set[tuple[str, str]] = set()

    def add(self, frag: Fragment, frame: int) -> None:
        self.seen += 1
        key = (frag.src_ip, frag.dst_ip, frag.ident)
        if not frag.first:
            port = self.datagrams.get(key)
        elif not self.learn and frag.src_port in self.ports:
            port = frag.src_port  # ``port`` given: either direction, as its filter reads
        else:
            port = frag.dst_port
        if port is None:  # no UDP header of its datagram seen
            pair: tuple[str, str] | None = (frag.src_ip, frag.dst_ip)
            if pair not in self.orphans and len(self.orphans) >= MAX_FRAGMENTED:
                pair = None
            _count(self.orphans, pair, frame)
            return
        if frag.first:
            self.datagrams[key] = port
            if len(self.datagrams) > MAX_FRAGMENTED:
                self.datagrams.popitem(last=False)  # the oldest
            if self.learn and self._moldudp64(frag.head):
                self.mold_ports.add(port)
                if len(self.mold_pairs) < MAX_FRAGMENTED:
                    self.mold_pairs.add((frag.src_ip, frag.dst_ip))
        _count(self.by_port, port, frame)

    def _moldudp64(self, head: bytes) -> bool:
        """``head`` (a first fragment's UDP payload) starts like a MoldUDP64 header: 10
        bytes of printable ASCII, the session asked for when one was."""
        if len(head) < HEADER_SIZE:
            return False
        if self.session is not None:
            return head[:SESSION_LENGTH] == self.session
        return all(0x20 <= b <= 0x7E for b in head[:SESSION_LENGTH])

    def feed(self, fed: tuple[str, str, int]) -> None:
        """A packet of the feed was read from (source, destination, destination port): its
        port and addresses are the feed's."""
        pair = fed[:2]
        if pair not in self.pairs:
            if len(self.pairs) < MAX_FRAGMENTED:
                self.pairs.add(pair)
            else:
                self.pairs_full = True
        if self.learn:
            self.ports.add(fed[2])

    def settle(self, st: CaptureStats) -> None:
        """Count the fragments in ``st``: the feed's in ``fragments``, the rest ``not_udp``."""
        if not self.seen:
            return
        # no packet of the feed read (every one fragmented?): its datagrams are those
        # that start like its packets
        ports = self.ports or self.mold_ports
        pairs = self.pairs or self.mold_pairs
        lost = [v for p, v in self.by_port.items() if p in ports]
        lost += [
            v
            for pair, v in self.orphans.items()
            if pair is None or self.pairs_full or pair in pairs
        ]
        n = sum(v[0] for v in lost)
        st.fragments += n
        st.not_udp += self.seen - n
        if lost:
            first = min(v[1] for v in lost)
            st.error("fragments", f"frame {first}: an IPv4 fragment (not reassembled)")


def _count(buckets: dict[_K, list[int]], key: _K, frame: int) -> None:
    """One more fragment in ``buckets[key]``: [fragments, first frame]."""
    v = buckets.get(key)
    if v is None:
        buckets[key] = [1, frame]
    else:
        v[0] += 1


def read_moldudp64(
    source: str | os.PathLike[str] | IO[bytes] | bytes, *, port: int | None = None
) -> Iterator[MoldFrame]:
    """The MoldUDP64 packets of a capture (see :class:`MoldCapture` for the skipping rules)."""
    return iter(MoldCapture(source, port=port))
