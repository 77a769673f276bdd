"""Deprecated: the progress bar is :class:`tickwire.cli.Progress` (rich, on stderr,
only on a terminal). This module re-exports it for one minor version (to be removed in
tickwire-itch 0.4); its hand-written bar left text behind on a shorter redraw
(``7.5MB/ss``) and showed no time left.
"""

from __future__ import annotations

import warnings

from tickwire.cli.progress import Progress

__all__ = ["Progress"]

warnings.warn(
    "tickwire.itch.progress is deprecated: use tickwire.cli.Progress",
    DeprecationWarning,
    stacklevel=2,
)
