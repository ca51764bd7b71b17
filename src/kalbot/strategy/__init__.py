"""Strategies: pure, deterministic decisions from a read-only context and an injected clock."""

from kalbot.strategy.base import PortfolioView, Strategy, StrategyContext, edge_after_fees
from kalbot.strategy.builtin import HighConfidenceStrategy, MomentumStrategy, StandardStrategy
from kalbot.strategy.registry import StrategyLoadError, load_strategy

__all__ = [
    "HighConfidenceStrategy",
    "MomentumStrategy",
    "PortfolioView",
    "StandardStrategy",
    "Strategy",
    "StrategyContext",
    "StrategyLoadError",
    "edge_after_fees",
    "load_strategy",
]
