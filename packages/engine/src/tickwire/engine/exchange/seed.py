"""Deprecated alias of :mod:`tickwire.exchange.seed` (see :mod:`tickwire.engine.exchange`)."""

from typing import TYPE_CHECKING

from tickwire.engine.exchange import _alias

if TYPE_CHECKING:
    from tickwire.exchange.seed import *  # noqa: F403
else:
    _alias(__name__)
