"""Typed errors of the OUCH codecs."""

from __future__ import annotations

from tickwire.net.errors import BadPcap


class OuchError(ValueError):
    """Base class of every error raised by :mod:`tickwire.ouch`."""


class DecodeError(OuchError):
    """Bytes that are not a valid OUCH message.

    ``offset`` is the byte offset inside the message where decoding failed,
    ``message_type`` the type letter (``None`` when even that was missing) and
    ``reason`` a short human readable explanation.
    """

    def __init__(self, reason: str, *, offset: int = 0, message_type: str | None = None) -> None:
        self.reason = reason
        self.offset = offset
        self.message_type = message_type
        where = (
            f" (type {message_type!r}, offset {offset})" if message_type else f" (offset {offset})"
        )
        super().__init__(f"{reason}{where}")


class EncodeError(OuchError):
    """A message object whose field values do not fit the wire layout."""


class CaptureError(OuchError, BadPcap):
    """A capture file that cannot be read (also a :class:`tickwire.net.errors.BadPcap`,
    which the reader of tickwire-net raises)."""
