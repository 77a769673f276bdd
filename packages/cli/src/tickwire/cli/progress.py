"""Progress bars (rich) on stderr, shown only when stderr is a terminal.

Pipelines and CI logs get nothing, so captured output has no carriage-return noise; a
person decoding a multi-GB file sees a bar with the total, the rate and the time left.
rich redraws the whole line, so a shorter redraw leaves nothing behind (the hand-written
bar this replaces left ``7.5MB/ss``). :meth:`Progress.update` costs one addition when the
bar is off and hands rich the count at most every 50 ms when it is on, so a hot loop may
call it per packet.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from rich.progress import Task
    from rich.text import Text

__all__ = ["Progress"]

_PUSH_SECONDS = 0.05


class Progress:
    """``with Progress(total, "decoding") as bar: bar.update(n)``.

    ``total`` may be None when unknown (a count and a rate, no bar or ETA). ``unit`` is
    ``"B"`` for bytes (shown as kB/MB/GB and a transfer rate) or a word for things
    counted (``"msg"``, ``"pkt"``, ``"runs"``). ``stream`` defaults to ``sys.stderr``;
    ``enabled`` defaults to "``stream`` is a terminal".
    """

    def __init__(
        self,
        total: int | None,
        desc: str = "",
        *,
        unit: str = "B",
        stream: TextIO | None = None,
        enabled: bool | None = None,
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
        self._bar: Any = None
        self._task: Any = None
        self._pushed = 0.0
        if enabled:
            self._start()

    def _start(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            MofNCompleteColumn,
            ProgressColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )
        from rich.progress import Progress as RichProgress

        unit = self.unit.strip()

        class Rate(ProgressColumn):
            def render(self, task: Task) -> Text:
                from rich.text import Text

                speed = task.finished_speed or task.speed
                return Text("" if speed is None else f"{speed:,.0f} {unit}/s")

        counted: list[Any] = (
            [DownloadColumn(), TransferSpeedColumn()]
            if unit == "B"
            else [MofNCompleteColumn(), TextColumn(unit), Rate()]
        )
        self._bar = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            *counted,
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(file=self._stream, force_terminal=True),
            transient=False,
        )
        self._task = self._bar.add_task(self.desc, total=self.total)
        self._bar.start()

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
        """Record ``n`` more units done."""
        self.done += n
        if self._bar is not None:
            now = time.monotonic()
            if now - self._pushed >= _PUSH_SECONDS:
                self._pushed = now
                self._bar.update(self._task, completed=self.done)

    def set(self, done: int, total: int | None = None) -> None:
        """Record that ``done`` units are done of ``total`` (None: the total as it was)."""
        self.done = done
        if total is not None:
            self.total = total
        if self._bar is not None:
            self._bar.update(self._task, completed=done, total=self.total)

    def print(self, line: str) -> None:
        """A line on the stream, above the bar when one is shown."""
        if self._bar is not None:
            self._bar.console.print(line, markup=False, highlight=False)
        else:
            print(line, file=self._stream)

    def close(self) -> None:
        """Draw the final count and end the bar's line (when a bar is shown)."""
        if self._bar is not None:
            total = self.total if self.total is not None else self.done
            self._bar.update(self._task, completed=self.done, total=total)
            self._bar.stop()
            self._bar = None
