"""Combine several analysts' probabilities in log-odds (a weighted mean of logits)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal

from kalbot.analysis.heuristic import logit, sigmoid


def combine_log_odds(
    probabilities: Sequence[Decimal], weights: Sequence[Decimal] | None = None
) -> Decimal:
    """``sigmoid(sum(w_i * logit(p_i)) / sum(w_i))``, to 4 decimals."""
    if not probabilities:
        raise ValueError("no probabilities to combine")
    ws = [Decimal(1)] * len(probabilities) if weights is None else list(weights)
    if len(ws) != len(probabilities) or any(w < 0 for w in ws) or sum(ws) <= 0:
        raise ValueError("weights must be non-negative, one per probability, not all zero")
    total = sum(float(w) * logit(float(p)) for p, w in zip(probabilities, ws, strict=True))
    x = total / float(sum(ws))
    if not math.isfinite(x):
        raise ValueError("combined log-odds are not finite")
    return Decimal(str(round(sigmoid(x), 4)))
