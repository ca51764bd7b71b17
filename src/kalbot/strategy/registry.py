"""Strategies by name, or a user's own class by import path (``package.module:Class``)."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from kalbot.strategy.base import Strategy
from kalbot.strategy.builtin import HighConfidenceStrategy, MomentumStrategy, StandardStrategy

BUILTIN: dict[str, Callable[[], Strategy]] = {
    "high_confidence": HighConfidenceStrategy,
    "standard": StandardStrategy,
    "momentum": MomentumStrategy,
}


class StrategyLoadError(ValueError):
    """The named strategy does not exist or is not a strategy."""


def load_strategy(name: str) -> Strategy:
    """A built-in by name (``standard``, ``high_confidence``, ``momentum``) or ``pkg.mod:Class``."""
    key = name.strip().lower().replace("-", "_")
    if key in BUILTIN:
        return BUILTIN[key]()
    if ":" not in name and "." not in name:
        raise StrategyLoadError(
            f"unknown strategy {name!r}; built-ins: {', '.join(sorted(BUILTIN))}, "
            "or give an import path like 'mypkg.mystrategies:MyStrategy'"
        )
    module_name, _, attr = name.partition(":") if ":" in name else name.rpartition(".")
    try:
        module = importlib.import_module(module_name)
        cls = getattr(module, attr)
    except (ImportError, AttributeError) as e:
        raise StrategyLoadError(f"cannot load strategy {name!r}: {e}") from e
    obj = cls()
    if not isinstance(obj, Strategy):
        raise StrategyLoadError(f"{name!r} lacks name/needs_analysis/can_handle/decide")
    return obj
