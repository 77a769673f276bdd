"""tickwire.ouch: NASDAQ OUCH 4.2 and 5.0 codecs (and, in :mod:`tickwire.soupbintcp`,
the SoupBinTCP session layer that carries them).

``tickwire.ouch.v50`` and ``tickwire.ouch.v42`` hold one frozen dataclass per
message; ``encode(msg)`` and ``decode_inbound`` / ``decode_outbound`` convert.
Every error is an :class:`OuchError` (a ``ValueError``).
"""

from ._errors import DecodeError, EncodeError, OuchError
from ._wire import Message, encode

__all__ = ["DecodeError", "EncodeError", "Message", "OuchError", "encode"]
