"""The one trading loop, position tracking, exits, settlement and the engine's storage port."""

from kalbot.engine.book import ExitRules, PositionBook
from kalbot.engine.loop import EngineConfig, TradingEngine
from kalbot.engine.records import CycleSummary, DecisionRecord, OpenPosition
from kalbot.engine.store import MemoryTradingStore, TradingStore

__all__ = [
    "CycleSummary",
    "DecisionRecord",
    "EngineConfig",
    "ExitRules",
    "MemoryTradingStore",
    "OpenPosition",
    "PositionBook",
    "TradingEngine",
    "TradingStore",
]
