"""Strategies: the asyncio API, the OUCH 5.0 order manager, the live runner and two
example strategies (the backtest lives in :mod:`tickwire.engine.backtest`)."""

from tickwire.engine.strategy.api import (
    BookUpdate,
    Consumes,
    Context,
    InstrumentState,
    OrderUpdate,
    Strategy,
    StrategyError,
    TimerEvent,
    TradeEvent,
)
from tickwire.engine.strategy.context import StrategyContext
from tickwire.engine.strategy.live import LiveRunner
from tickwire.engine.strategy.market_maker import MarketMaker
from tickwire.engine.strategy.orders import Order, OrderManager, OrderState, UserRefNumsExhausted
from tickwire.engine.strategy.taker import ThresholdTaker

__all__ = [
    "BookUpdate",
    "Consumes",
    "Context",
    "InstrumentState",
    "LiveRunner",
    "MarketMaker",
    "Order",
    "OrderManager",
    "OrderState",
    "OrderUpdate",
    "Strategy",
    "StrategyContext",
    "StrategyError",
    "ThresholdTaker",
    "TimerEvent",
    "TradeEvent",
    "UserRefNumsExhausted",
]
