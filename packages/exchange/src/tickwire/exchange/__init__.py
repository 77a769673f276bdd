"""The simulated exchange: price-time matching, OUCH 5.0/4.2 in, ITCH 5.0 over MoldUDP64 out.

``python -m tickwire.engine exchange`` runs it (see :mod:`tickwire.engine.cli_live`).
"""

from tickwire.exchange.accounts import Account42, Account50, OrderRecord
from tickwire.exchange.matching import Fill, MatchingEngine, MatchingError, Resting
from tickwire.exchange.seed import FlowReplayer
from tickwire.exchange.server import Exchange, ExchangeConfig, Faults, FaultyPublisher

__all__ = [
    "Account42",
    "Account50",
    "Exchange",
    "ExchangeConfig",
    "Faults",
    "FaultyPublisher",
    "Fill",
    "FlowReplayer",
    "MatchingEngine",
    "MatchingError",
    "OrderRecord",
    "Resting",
]
