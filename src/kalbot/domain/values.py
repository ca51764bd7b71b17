"""``value``: the decorator of the hot, immutable domain values (markets, quotes, decision rows).

A ``@dataclass(frozen=True)`` builds each instance with one ``object.__setattr__`` call per
field (the price of refusing assignment at run time): a 27-field ``Market`` costs about ten
times what a plain slots dataclass does, and a backtest builds one per changed market per
cycle, plus a ``DecisionRecord`` for nearly every market. ``value`` makes a plain slots
dataclass (positional and keyword construction, ``==``, ``hash`` and ``repr`` by fields, as
a frozen one), and declares it frozen to the type checker (``frozen_default``): mypy (strict,
in CI) refuses any assignment to a field, so immutability is enforced where code is written,
not per construction. ``tests/domain/test_values.py`` keeps the run-time behaviour in line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar, dataclass_transform

T = TypeVar("T")


@dataclass_transform(frozen_default=True)
def value(cls: type[T]) -> type[T]:
    """A slots dataclass, hashable by its fields, read-only to the type checker."""
    return dataclass(slots=True, unsafe_hash=True)(cls)
