"""Where books get their messages: a BinaryFILE, a MoldUDP64 capture, or live messages.

All decoding is the codecs' job: ``tickwire.itch.fastpath.decode_binaryfile`` (the
fastest ITCH path, Cython when built) for BinaryFILEs, ``tickwire.moldudp64.capture``
for captures and ``tickwire.itch.decode`` for the message blocks inside them.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from tickwire.cli import UsageError, printable, reading, require_regular_file
from tickwire.engine.book import BookManager
from tickwire.itch import MESSAGE_LENGTHS, DecodeError, Message, decode
from tickwire.itch.fastpath import FrameStats, decode_binaryfile
from tickwire.moldudp64.capture import CaptureStats, MoldCapture, faults_text
from tickwire.moldudp64.cli import session as session_name
from tickwire.moldudp64.errors import IncompleteCapture
from tickwire.moldudp64.events import Event, Messages
from tickwire.moldudp64.sequenced import SequencedCapture
from tickwire.net import pcap

__all__ = [
    "KEEP_DUPLICATES_HELP",
    "SESSION_HELP",
    "CaptureFeedStats",
    "add_capture_options",
    "apply_receiver_events",
    "check_capture_options",
    "is_capture",
    "iter_binaryfile",
    "iter_capture",
    "rebuild",
]

Source = str | os.PathLike[str]

#: The type bytes ITCH 5.0 defines: a block of another type is an unknown type.
_ITCH_TYPES = frozenset(ord(t) for t in MESSAGE_LENGTHS)

#: The ``--keep-duplicates`` help of every engine command that reads captures.
KEEP_DUPLICATES_HELP = (
    "read a capture's packets in capture order, every copy applied (default: sequence "
    "order, A/B copies and retransmissions dropped, gaps counted)"
)
#: The ``--session`` help of every engine command that reads captures.
SESSION_HELP = (
    "read only this MoldUDP64 session of a capture (default: the capture's one session; "
    "a packet of a second is refused, exit 2, naming both)"
)


def add_capture_options(parser: argparse.ArgumentParser) -> None:
    """``--keep-duplicates`` and ``--session``: how every engine command that reads a
    capture reads it (``book``, ``backtest``, ``export``, ``sweep``; the same as
    ``pcap2itch``'s). :func:`check_capture_options` refuses them for a BinaryFILE."""
    parser.add_argument("--keep-duplicates", action="store_true", help=KEEP_DUPLICATES_HELP)
    parser.add_argument("--session", type=session_name, default=None, help=SESSION_HELP)


def check_capture_options(
    data: Source | None, *, capture: bool, session: str | None, keep_duplicates: bool
) -> None:
    """A :class:`UsageError` when a capture's options are given for a BinaryFILE or, with
    ``data`` None, the generated sample day (they would be ignored without a word)."""
    given = [
        flag
        for flag, on in (("--session", session is not None), ("--keep-duplicates", keep_duplicates))
        if on
    ]
    if given and not capture:
        what = "the generated sample day" if data is None else f"{data}, an ITCH BinaryFILE"
        raise UsageError(f"{' and '.join(given)}: for a MoldUDP64 capture, not {what}")


class _CountingReader:
    """A binary file wrapper that reports bytes read (for the progress bar)."""

    def __init__(self, f: IO[bytes], on_bytes: Callable[[int], None]) -> None:
        self._f = f
        self._on_bytes = on_bytes

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(n)
        self._on_bytes(len(data))
        return data

    def close(self) -> None:
        self._f.close()


def iter_binaryfile(
    path: Source,
    *,
    stats: FrameStats | None = None,
    on_bytes: Callable[[int], None] | None = None,
) -> Iterator[Message]:
    """Every message of a BinaryFILE (gzip transparent), in file order.

    An error reading or decoding it is marked with ``path``
    (:func:`tickwire.cli.reading`: the same exception, a ``DecodeError`` still one), so
    a command's error line names the file: ``day.itch: truncated frame ...``. Why: every
    engine command said ``truncated frame ...`` and nothing of which file. Test:
    ``tests/test_cli_bad_input.py::test_an_unreadable_itch_file_is_named_in_the_error``."""
    with reading(path):
        if on_bytes is None:
            yield from decode_binaryfile(path, stats=stats)
            return
        with open(path, "rb") as f:
            yield from decode_binaryfile(_CountingReader(f, on_bytes), stats=stats)  # type: ignore[arg-type]


@dataclass(slots=True)
class CaptureFeedStats:
    """What :func:`iter_capture` read, dropped and could not find.

    ``skipped_frames`` carry no MoldUDP64 packet; ``skipped_messages`` are blocks that are
    not a decodable ITCH message (unknown type, short block), ``unknown_types`` those of
    them whose type ITCH 5.0 does not define (skipped by the spec's rule for new types,
    the count every command reports as ``unknown_types``), ``short_messages`` those of a
    type it defines but shorter than that type's message (a message cut: lost). When
    sequenced (the
    default), ``duplicates`` are later copies dropped (A/B lines, retransmissions),
    ``missing`` the sequence numbers never found in ``gaps`` holes, and ``before_start``
    copies numbered before a session's first packet in the capture
    (:mod:`tickwire.moldudp64.sequenced`). ``sessions`` names the MoldUDP64 sessions the
    capture carried; one is read (:func:`iter_capture`), and ``other_session`` counts the
    packets of the others when ``session`` chose one. ``bad_packets`` and ``cut_frames``
    (of the skipped frames), ``short_messages`` and ``gaps`` are lost messages, and
    ``conflicts`` (copies that
    differ from the copy read) messages that cannot be trusted, and ``after_end`` messages
    after a confirmed end of session (not read: the end is final): :meth:`faults`.
    """

    frames: int = 0
    packets: int = 0
    skipped_frames: int = 0
    #: Of the skipped frames, those the capture cut short (its snap length).
    cut_frames: int = 0
    #: Of the skipped frames, those whose payload is not a valid MoldUDP64 packet.
    bad_packets: int = 0
    #: Of the skipped frames, IPv4 fragments of UDP datagrams (not reassembled): lost.
    fragments: int = 0
    #: Packets of sessions other than the one chosen (not in ``packets``).
    other_session: int = 0
    #: The first bad packet's error.
    first_error: str | None = None
    #: Where the file ends inside a record, if it does (its last record lost).
    truncated: str | None = None
    skipped_messages: int = 0
    #: Of the skipped messages, those of a type ITCH 5.0 does not define.
    unknown_types: int = 0
    #: Of the skipped messages, those of a type it defines, cut short: lost messages.
    short_messages: int = 0
    sequenced: bool = True
    messages: int = 0
    duplicates: int = 0
    missing: int = 0
    gaps: int = 0
    before_start: int = 0
    #: Copies of messages that differ from the copy read (one of them lies): a fault.
    conflicts: int = 0
    #: The first of them, "SESSION SEQUENCE".
    first_conflict: str | None = None
    #: Messages after their session's confirmed end of session, not read: a fault (the
    #: end is final; :attr:`tickwire.moldudp64.sequenced.SequenceStats.after_end`).
    after_end: int = 0
    #: The first of them, "SESSION SEQUENCE".
    first_after_end: str | None = None
    sessions: list[str] = dataclasses.field(default_factory=list)
    #: The session asked for (``--session``), None for the capture's one session.
    session: str | None = None

    def as_dict(self) -> dict[str, int | bool | list[str] | str | None]:
        """The counts as a JSON-ready dict."""
        return dataclasses.asdict(self)

    def faults(self) -> str | None:
        """What the reading lost, one phrase (bad packets, cut frames, gaps, copies that
        differ), or None when the messages are whole
        (:func:`tickwire.moldudp64.capture.faults_text`, the rule of every command that
        reads captures)."""
        cap = CaptureStats(
            frames=self.frames,
            packets=self.packets,
            # the skipped frames that are neither bad nor cut (no --port here: not UDP)
            not_udp=self.skipped_frames - self.bad_packets - self.cut_frames - self.fragments,
            bad_packets=self.bad_packets,
            cut=self.cut_frames,
            fragments=self.fragments,
            other_session=self.other_session,
            truncated=self.truncated,
        )
        if self.first_error is not None:
            cap.error("bad_packets", self.first_error)
        text = faults_text(
            cap,
            gaps=self.gaps,
            missing=self.missing,
            conflicts=self.conflicts,
            first_conflict=self.first_conflict,
            after_end=self.after_end,
            first_after_end=self.first_after_end,
        )
        if not self.short_messages:
            return text
        # A BinaryFILE message cut short is an error of its reader (exit 1); in a capture
        # it is a message lost the same way (test_engine_unknown_types.py).
        short = f"{self.short_messages:,} ITCH messages shorter than their type"
        return short if text is None else f"{text}, {short}"

    def check_whole(self, data: Source, what: str) -> None:
        """Raise :class:`~tickwire.moldudp64.errors.IncompleteCapture` (exit 1, one line)
        when :meth:`faults` found lost messages or copies that differ; ``what`` names the
        output built from what was read. The commands call it once their outputs are
        written."""
        faults = self.faults()
        if faults is not None:
            raise IncompleteCapture(f"{data}: {faults}; {what} all the same")

    def text(self) -> str:
        """One line for the command lines' stderr summary."""
        if self.sequenced:
            line = (
                f"capture: {self.messages:,} messages in sequence order, "
                f"{self.duplicates:,} duplicates dropped, {self.gaps:,} gaps "
                f"({self.missing:,} messages missing)"
            )
            if self.before_start:
                line += f", {self.before_start:,} copies before the start dropped"
            if self.conflicts:
                line += f", {self.conflicts:,} copies that differ"
            if self.after_end:
                line += f", {self.after_end:,} messages after the end of session dropped"
        else:
            line = (
                f"capture: {self.messages:,} messages of {self.packets:,} packets in capture "
                "order (--keep-duplicates: copies not dropped, gaps not counted)"
            )
        if self.skipped_frames:
            line += f", {self.skipped_frames:,} frames without a MoldUDP64 packet"
            lost = [
                f"{n:,} {what}"
                for n, what in (
                    (self.bad_packets, "bad"),
                    (self.cut_frames, "cut short by the capture's snap length"),
                    (self.fragments, "IPv4 fragments, not reassembled"),
                )
                if n
            ]
            if lost:
                line += f" ({', '.join(lost)})"
        if self.skipped_messages:
            line += f", {self.skipped_messages:,} blocks not ITCH"
        if self.other_session:
            # session names are a capture's bytes: control characters escaped
            others = [printable(s) for s in self.sessions if s != self.session]
            line += (
                f", session {printable(self.session or '')} read, {self.other_session:,} "
                f"packets of {', '.join(others)} skipped"
            )
        elif len(self.sessions) > 1:
            line += f", {len(self.sessions)} MoldUDP64 sessions, all read: " + ", ".join(
                printable(s) for s in self.sessions
            )
        return line


def iter_capture(
    path: Source | IO[bytes] | bytes,
    *,
    port: int | None = None,
    stats: CaptureFeedStats | None = None,
    on_frame: Callable[[int], None] | None = None,
    keep_duplicates: bool = False,
    session: str | None = None,
    all_sessions: bool = False,
) -> Iterator[Message]:
    """The ITCH messages carried by the MoldUDP64 packets of a pcap/pcapng capture.

    By default in sequence order, each message once, as the publisher sent it: the
    packets go through :class:`tickwire.moldudp64.sequenced.SequencedCapture` (the live
    receiver's rules), so an A/B capture (every packet twice), retransmissions and
    reordering give the same messages as one clean line; duplicates dropped and gaps
    are counted in ``stats``. ``keep_duplicates`` reads every packet in capture order
    instead (every copy applied). ``port`` keeps only one UDP port.

    One session is read: ``session``, or the capture's one session. A packet of a second
    session with no ``session`` given raises
    :class:`~tickwire.moldudp64.errors.SessionChoiceError` (a usage error naming both):
    two feeds, or a feed and a stray packet, merged into one set of books would be
    plausible and wrong, and guessing which one is meant (the one with more packets)
    would be wrong for a stray burst or two halves of a restart. ``all_sessions`` reads
    every session, each sequenced on its own (the capture line names them).

    Blocks the ITCH codec rejects (unknown types must be skipped by length, per the spec)
    are counted in ``stats.skipped_messages``. ``on_frame`` is called with 1 per packet
    read. Lost messages (bad packets, cut frames, gaps) and copies that differ are counted,
    not raised: :meth:`CaptureFeedStats.check_whole` is the commands' rule. An error that
    is raised (a capture that cannot be read at all) is marked with ``path`` when it is
    one (:func:`tickwire.cli.reading`), as :func:`iter_binaryfile`'s are.
    """
    with reading(path if isinstance(path, str | os.PathLike) else None):
        st = stats if stats is not None else CaptureFeedStats()
        st.sequenced = not keep_duplicates
        st.session = session
        one = session is None and not all_sessions
        if keep_duplicates:
            capture = MoldCapture(path, port=port, session=session, one_session=one)
            blocks: Iterator[Sequence[bytes]] = (mold.packet.messages for mold in capture)
            cstats = capture.stats
        else:
            sequenced = SequencedCapture(path, port=port, session=session, one_session=one)
            blocks = (ev.messages for ev in sequenced)
            cstats = sequenced.stats.capture
        for run in blocks:
            if on_frame is not None:
                on_frame(1)
            st.messages += len(run)
            for block in run:
                try:
                    yield decode(block)
                except DecodeError:
                    st.skipped_messages += 1
                    if block and block[0] not in _ITCH_TYPES:
                        st.unknown_types += 1
                    elif block:
                        st.short_messages += 1
        st.frames = cstats.frames
        st.packets = cstats.packets
        st.other_session = cstats.other_session
        st.skipped_frames = cstats.frames - cstats.packets - cstats.other_session
        st.cut_frames = cstats.cut
        st.truncated = cstats.truncated
        st.fragments = cstats.fragments
        st.bad_packets = cstats.bad_packets
        st.first_error = cstats.first_errors.get("bad_packets")  # not a cut frame's
        if not keep_duplicates:
            seq = sequenced.stats
            st.duplicates = seq.duplicates
            st.missing = seq.missing
            st.gaps = seq.gaps
            st.before_start = seq.before_start
            st.conflicts = seq.conflicts
            st.first_conflict = seq.first_conflict
            st.after_end = seq.after_end
            st.first_after_end = seq.first_after_end
        st.sessions = sorted(cstats.sessions)


def apply_receiver_events(manager: BookManager, events: Iterable[Event]) -> int:
    """Apply the in-order messages of live MoldUDP64 receiver events to books.

    ``events`` come from ``tickwire.moldudp64.receiver.Receiver.receive``/``tick`` (the
    sans-I/O receiver with gap recovery), so books see every message exactly once and
    in sequence order, whatever the network did. Other events are ignored here (the
    caller sends the requests). Returns the number of blocks the ITCH codec rejected.
    """
    rejected = 0
    for event in events:
        if isinstance(event, Messages):
            for raw in event.messages:
                try:
                    msg = decode(raw)
                except DecodeError:
                    rejected += 1
                    continue
                manager.apply(msg)
    return rejected


def is_capture(path: str | os.PathLike[str]) -> bool:
    """True when the file at ``path`` is a pcap or pcapng capture, gzipped or not, by its
    magic (:func:`tickwire.net.pcap.is_capture`); a path that is not a regular file (a
    pipe, a FIFO, a device) is refused unopened, ``ValueError``
    (:func:`tickwire.cli.args.require_regular_file`, the rule of the command lines'
    inputs). Why: the sniff read a FIFO's first bytes and the reader that followed lost
    them (or it blocked at a FIFO with no writer). ``tickwire.net`` depends on nothing,
    so the check is here, where the rule and the sniff meet. Test:
    ``tests/test_capture_sniffing.py``."""
    require_regular_file(path)
    return pcap.is_capture(path)


def rebuild(
    source: Source | Iterable[Message],
    *,
    books: BookManager | None = None,
    on_bytes: Callable[[int], None] | None = None,
    keep_duplicates: bool = False,
    session: str | None = None,
) -> BookManager:
    """Replay a BinaryFILE, a capture (detected by its magic; in sequence order unless
    ``keep_duplicates``, one session: ``session`` or its only one; see
    :func:`iter_capture`) or messages into books. A path that is not a regular file is
    refused unopened, ``ValueError`` (:func:`is_capture`)."""
    manager = books if books is not None else BookManager()
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if is_capture(path):
            manager.feed(
                iter_capture(
                    path, on_frame=on_bytes, keep_duplicates=keep_duplicates, session=session
                )
            )
        else:
            manager.feed(iter_binaryfile(path, on_bytes=on_bytes))
    else:
        manager.feed(source)
    return manager
