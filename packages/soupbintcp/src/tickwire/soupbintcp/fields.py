"""Field types of the NASDAQ session and order-entry layouts, as construct adapters.

:class:`PaddedText` is the one space-padded ASCII field of tickwire's TCP protocols: the
SoupBinTCP login fields here, and every OUCH alpha field (``tickwire.ouch``, which runs over
this package). Decoding removes exactly the padding that encoding adds (on the side the
field is padded), so every value round-trips: ``" AB"`` in a left-justified field stays
``" AB"``.

:class:`AsciiNumber` is SoupBinTCP's numeric field: ASCII digits, right-justified.

(ITCH's ``Alpha`` and the MoldUDP64 session field are the same idea in codecs that do not
depend on this package, nor on each other; they keep their own.)
"""

from __future__ import annotations

from typing import Any, Literal

import construct as cs

__all__ = ["AsciiNumber", "PaddedText", "ascii_bytes"]


def ascii_bytes(obj: object, path: Any = None) -> bytes:
    """``obj``, a ``str`` of ASCII characters, encoded; else ``construct.ValidationError``."""
    if not isinstance(obj, str):
        raise cs.ValidationError(f"{obj!r} is not a str", path=path)
    try:
        return obj.encode("ascii")
    except UnicodeEncodeError as exc:
        raise cs.ValidationError(f"{obj!r} is not ASCII", path=path) from exc


class PaddedText(cs.Adapter):  # type: ignore[misc]
    """``size`` bytes of ASCII text padded with spaces, a ``str`` without the padding.

    ``justify="left"`` (the default; OUCH alpha fields, SoupBinTCP Username and Password)
    pads on the right; ``justify="right"`` (SoupBinTCP Session) pads on the left. A value
    longer than ``size``, not a ``str`` or not ASCII raises ``construct.ValidationError``
    on build; non-ASCII bytes raise it on parse.
    """

    def __init__(self, size: int, *, justify: Literal["left", "right"] = "left") -> None:
        if justify not in ("left", "right"):
            raise ValueError(f"justify must be 'left' or 'right', not {justify!r}")
        super().__init__(cs.Bytes(size))
        self.size = size
        self.justify = justify

    def _decode(self, obj: bytes, context: Any, path: Any) -> str:
        try:
            text = obj.decode("ascii")
        except UnicodeDecodeError as exc:
            raise cs.ValidationError(f"non-ASCII text: {obj!r}", path=path) from exc
        return text.rstrip(" ") if self.justify == "left" else text.lstrip(" ")

    def _encode(self, obj: str, context: Any, path: Any) -> bytes:
        raw = ascii_bytes(obj, path)
        if len(raw) > self.size:
            raise cs.ValidationError(f"{obj!r} longer than {self.size}", path=path)
        return raw.ljust(self.size, b" ") if self.justify == "left" else raw.rjust(self.size, b" ")


class AsciiNumber(cs.Adapter):  # type: ignore[misc]
    """A non-negative ``int`` as ``size`` ASCII digits, right-justified, padded with spaces."""

    def __init__(self, size: int) -> None:
        super().__init__(cs.Bytes(size))
        self.size = size

    def _decode(self, obj: bytes, context: Any, path: Any) -> int:
        text = obj.strip(b" ")
        if not text.isdigit():
            raise cs.ValidationError(f"not an ASCII number: {obj!r}", path=path)
        return int(text)

    def _encode(self, obj: int, context: Any, path: Any) -> bytes:
        if not isinstance(obj, int) or isinstance(obj, bool) or obj < 0:
            raise cs.ValidationError(f"{obj!r} is not a non-negative int", path=path)
        raw = str(obj).encode("ascii")
        if len(raw) > self.size:
            raise cs.ValidationError(f"{obj} does not fit {self.size} digits", path=path)
        return raw.rjust(self.size, b" ")
