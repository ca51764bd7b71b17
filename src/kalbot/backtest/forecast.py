"""Forecast quality: how good were the analyst's probabilities, against the market's own?

Scored on resolved markets only. The market's implied probability is the YES mid at decision
time, so both forecasters are judged on the same markets at the same moments.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

LOG_LOSS_EPSILON = 1e-6


@dataclass(frozen=True, slots=True)
class Forecast:
    """One scored forecast: the analyst's and the market's P(YES), and what happened."""

    ticker: str
    category: str
    probability: float
    market_probability: float
    outcome: bool  # True if the market resolved YES


@dataclass(frozen=True, slots=True)
class CalibrationBin:
    lower: float
    upper: float
    count: int
    mean_forecast: float
    observed_frequency: float


@dataclass(frozen=True, slots=True)
class ForecastScore:
    count: int
    brier: float
    log_loss: float
    market_brier: float
    market_log_loss: float
    calibration: tuple[CalibrationBin, ...]

    @property
    def brier_skill(self) -> float:
        """1 - brier/market_brier: above 0 means the analyst beat the market's own prices."""
        return 1.0 - self.brier / self.market_brier if self.market_brier else 0.0


def _check(p: float) -> float:
    if not 0.0 <= p <= 1.0 or math.isnan(p):
        raise ValueError(f"probability out of [0, 1]: {p}")
    return p


def brier_score(probabilities: Sequence[float], outcomes: Sequence[bool]) -> float:
    if len(probabilities) != len(outcomes):
        raise ValueError("one outcome per probability")
    if not probabilities:
        return 0.0
    return sum(
        (_check(p) - (1.0 if o else 0.0)) ** 2 for p, o in zip(probabilities, outcomes, strict=True)
    ) / len(probabilities)


def log_loss(probabilities: Sequence[float], outcomes: Sequence[bool]) -> float:
    """Mean negative log-likelihood; probabilities are clipped to [eps, 1-eps]."""
    if len(probabilities) != len(outcomes):
        raise ValueError("one outcome per probability")
    if not probabilities:
        return 0.0
    total = 0.0
    for p, o in zip(probabilities, outcomes, strict=True):
        q = min(max(_check(p), LOG_LOSS_EPSILON), 1.0 - LOG_LOSS_EPSILON)
        total -= math.log(q if o else 1.0 - q)
    return total / len(probabilities)


def calibration_table(
    probabilities: Sequence[float], outcomes: Sequence[bool], bins: int = 10
) -> tuple[CalibrationBin, ...]:
    """Deciles by default: [0, .1), [.1, .2), ... [.9, 1.0]. Empty bins are kept (count 0)."""
    counts = [0] * bins
    sums = [0.0] * bins
    hits = [0] * bins
    for p, o in zip(probabilities, outcomes, strict=True):
        i = min(int(_check(p) * bins), bins - 1)
        counts[i] += 1
        sums[i] += p
        hits[i] += 1 if o else 0
    return tuple(
        CalibrationBin(
            lower=i / bins,
            upper=(i + 1) / bins,
            count=counts[i],
            mean_forecast=sums[i] / counts[i] if counts[i] else 0.0,
            observed_frequency=hits[i] / counts[i] if counts[i] else 0.0,
        )
        for i in range(bins)
    )


def score(forecasts: Sequence[Forecast], bins: int = 10) -> ForecastScore:
    probs = [f.probability for f in forecasts]
    market = [f.market_probability for f in forecasts]
    outcomes = [f.outcome for f in forecasts]
    return ForecastScore(
        count=len(forecasts),
        brier=brier_score(probs, outcomes),
        log_loss=log_loss(probs, outcomes),
        market_brier=brier_score(market, outcomes),
        market_log_loss=log_loss(market, outcomes),
        calibration=calibration_table(probs, outcomes, bins),
    )


def score_by_category(forecasts: Iterable[Forecast], bins: int = 10) -> dict[str, ForecastScore]:
    groups: dict[str, list[Forecast]] = defaultdict(list)
    for f in forecasts:
        groups[f.category or "uncategorized"].append(f)
    return {cat: score(fs, bins) for cat, fs in sorted(groups.items())}
