"""A dependency-free progress bar on stderr, shown only when stderr is a terminal.

Pipelines and CI logs get nothing (no carriage-return noise in captured output); a person
at a terminal decoding a multi-GB file sees how far along it is. Redraws are rate
limited so the bar costs nothing measurable in a hot loop that calls :meth:`update`
once per chunk.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO

__all__ = ["Progress"]

_MIN_REDRAW_SECONDS = 0.1
_BAR_WIDTH = 30


class Progress:
    """``with Progress(total, "decoding") as bar: bar.update(n)``.

    ``total`` may be None when unknown (a counter and a rate are shown instead of a bar).
    ``stream`` defaults to ``sys.stderr``; ``enabled`` defaults to "stream is a tty".
    """

    def __init__(
        self,
        total: int | None,
        desc: str = "",
        *,
        stream: TextIO | None = None,
        enabled: bool | None = None,
        unit: str = "B",
    ) -> None:
        self.total = total
        self.desc = desc
        self.unit = unit
        self.done = 0
        self._stream = stream if stream is not None else sys.stderr
        if enabled is None:
            isatty = getattr(self._stream, "isatty", None)
            enabled = bool(isatty and isatty())
        self.enabled = enabled
        self._start = time.monotonic()
        self._last = 0.0
        self._drawn = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def update(self, n: int = 1) -> None:
        """Record ``n`` more units done; redraw at most every 0.1 s."""
        self.done += n
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last >= _MIN_REDRAW_SECONDS:
            self._last = now
            self._draw(now)

    def render(self, now: float | None = None) -> str:
        """The bar as text (without the leading carriage return)."""
        elapsed = max((now if now is not None else time.monotonic()) - self._start, 1e-9)
        rate = self.done / elapsed
        prefix = f"{self.desc}: " if self.desc else ""
        if self.total:
            frac = min(self.done / self.total, 1.0)
            filled = int(frac * _BAR_WIDTH)
            bar = "#" * filled + "-" * (_BAR_WIDTH - filled)
            return (
                f"{prefix}[{bar}] {frac * 100:5.1f}% "
                f"{_human(self.done)}/{_human(self.total)}{self.unit} "
                f"{_human(rate)}{self.unit}/s"
            )
        return f"{prefix}{_human(self.done)}{self.unit} {_human(rate)}{self.unit}/s"

    def _draw(self, now: float) -> None:
        self._stream.write("\r" + self.render(now))
        self._stream.flush()
        self._drawn = True

    def close(self) -> None:
        """Draw the final state and end the line (only if anything was drawn)."""
        if self.enabled and (self._drawn or self.done):
            self._draw(time.monotonic())
            self._stream.write("\n")
            self._stream.flush()


def _human(n: float) -> str:
    for suffix in ("", "k", "M", "G"):
        if abs(n) < 1000:
            return f"{n:.0f}{suffix}" if suffix == "" else f"{n:.1f}{suffix}"
        n /= 1000
    return f"{n:.1f}T"
