"""A MoldUDP64 capture's ITCH messages as Arrow tables (needs ``tickwire-moldudp64[itch]``
and pyarrow: ``tickwire-itch[arrow]``).

tickwire-itch builds the tables (:mod:`tickwire.itch.columnar`) but cannot read captures:
it depends on no other tickwire package. This module is the capture side. It reads the
capture through :class:`~tickwire.moldudp64.sequenced.SequencedCapture`, the one
mechanism every capture-reading command uses (``docs/robustness.md`` section 5): each
session in sequence order, each message once, A/B copies dropped, holes given up after
the window and counted. The messages' bytes go to
:func:`tickwire.itch.columnar.messages_to_arrow` as they are, so the tables are exactly
those of a BinaryFILE holding the same messages.

:func:`open_capture` is also registered as the ``moldudp64`` entry point of the
``tickwire.itch.captures`` group, which is how ``python -m tickwire.itch convert`` reads a
pcap or pcapng file when this package is installed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any

from tickwire.moldudp64.sequenced import SequencedCapture

if TYPE_CHECKING:  # pragma: no cover - typing only
    import pyarrow

__all__ = ["CaptureMessages", "capture_to_arrow", "open_capture"]

CaptureSource = str | os.PathLike[str] | IO[bytes] | bytes


class CaptureMessages:
    """The ITCH messages of a capture in sequence order (iterate once), and
    :meth:`summary`, the capture's counts, complete after the iteration."""

    def __init__(
        self,
        source: CaptureSource,
        *,
        port: int | None = None,
        session: str | None = None,
        one_session: bool = False,
    ) -> None:
        self._capture = SequencedCapture(
            source, port=port, session=session, one_session=one_session
        )

    def __iter__(self) -> Iterator[bytes]:
        for event in self._capture:
            yield from event.messages

    def summary(self) -> dict[str, Any]:
        """Delivered, duplicate, missing and gap counts (``SequenceStats.as_dict``)."""
        return self._capture.stats.as_dict()

    def faults(self) -> str | None:
        """What the reading lost (bad packets, cut frames, gaps) or cannot vouch for (copies
        that differ), one phrase, or None (:meth:`SequenceStats.faults`; complete after the
        iteration)."""
        return self._capture.stats.faults()


def open_capture(source: CaptureSource, *, session: str | None = None) -> CaptureMessages:
    """The ``tickwire.itch.captures`` entry point: every port, ``session`` (``itch dump``
    and ``convert --session``), else the capture's one session (a packet of a second
    raises :class:`~tickwire.moldudp64.errors.SessionChoiceError`, as does a session with
    no packet; the rule of every command that reads captures, ``docs/cli.md``)."""
    return CaptureMessages(source, session=session, one_session=session is None)


def capture_to_arrow(
    source: CaptureSource,
    *,
    port: int | None = None,
    session: str | None = None,
    implementation: str = "auto",
) -> dict[str, pyarrow.Table]:
    """One Arrow table per ITCH message type of a MoldUDP64 capture (pcap or pcapng), in
    sequence order; ``port`` / ``session`` keep one UDP port or session. The schema is
    :func:`tickwire.itch.columnar.schema`'s."""
    from tickwire.itch import columnar

    impl: Any = implementation
    return columnar.messages_to_arrow(
        CaptureMessages(source, port=port, session=session), implementation=impl
    )
