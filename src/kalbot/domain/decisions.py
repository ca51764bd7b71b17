"""Decisions, analyses and refusal reasons: the vocabulary of 'why it did or did not trade'."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from kalbot.domain.values import value


class Decision(StrEnum):
    OPEN_YES = "OPEN_YES"
    OPEN_NO = "OPEN_NO"
    CLOSE = "CLOSE"
    SKIP = "SKIP"


class RiskState(StrEnum):
    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"  # exits only
    HALTED = "HALTED"


@dataclass(frozen=True, slots=True)
class Analysis:
    """One analyst's view of one market, with what it cost."""

    ticker: str
    probability_yes: Decimal | None  # None when the call failed (then decision is SKIP)
    decision: Decision
    confidence: Decimal
    rationale: str
    provider: str
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    cost: Decimal = Decimal(0)
    latency_ms: int = 0
    error: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@value
class DecisionResult:
    decision: Decision
    confidence: Decimal
    reason: str
    quantity: Decimal | None = None
    limit_price: Decimal | None = None  # in the chosen side's own price space
    probability_yes: Decimal | None = None
