"""Fit the heuristic model on resolved markets (weighted logistic regression, Newton-Raphson).

Every snapshot of a resolved market is one sample (its mid and hours to close, labelled with
the result). Each market gets total weight 1, spread over its snapshots, so a market recorded
every second does not outvote one recorded hourly. A tiny ridge keeps the Newton step defined
when the data cannot separate the coefficients (e.g. one horizon only).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from kalbot.analysis.heuristic import EPS, HeuristicParams, features, sigmoid


@dataclass(frozen=True, slots=True)
class Sample:
    ticker: str
    mid: float
    hours_to_close: float
    outcome: int  # 1 = resolved YES, 0 = NO


class NotEnoughData(ValueError):
    pass


def _solve3(m: list[list[float]], v: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting for the 3x3 Newton system."""
    a = [[*row, v[i]] for i, row in enumerate(m)]
    n = 3
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        if abs(a[pivot][col]) < 1e-15:
            raise NotEnoughData("singular system: the samples cannot identify the parameters")
        a[col], a[pivot] = a[pivot], a[col]
        for r in range(col + 1, n):
            f = a[r][col] / a[col][col]
            for k in range(col, n + 1):
                a[r][k] -= f * a[col][k]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        x[r] = (a[r][n] - sum(a[r][k] * x[k] for k in range(r + 1, n))) / a[r][r]
    return x


Row = tuple[tuple[float, float, float], int, float]


def _log_loss(rows: list[Row], beta: list[float]) -> float:
    total = weight = 0.0
    for f, y, w in rows:
        p = min(max(sigmoid(sum(b * x for b, x in zip(beta, f, strict=True))), EPS), 1 - EPS)
        total -= w * (y * math.log(p) + (1 - y) * math.log(1 - p))
        weight += w
    return total / weight


def fit(
    samples: Iterable[Sample],
    *,
    ridge: float = 1e-6,
    max_iter: int = 50,
    min_markets: int = 10,
    fitted_at: str = "",
) -> HeuristicParams:
    """Maximum-likelihood (a, b, c) for the recalibration model."""
    by_market: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        if 0 < s.mid < 1 and s.outcome in (0, 1):
            by_market[s.ticker].append(s)
    if len(by_market) < min_markets:
        raise NotEnoughData(f"{len(by_market)} resolved markets; at least {min_markets} needed")
    rows = [
        (features(s.mid, s.hours_to_close), s.outcome, 1.0 / len(group))
        for group in by_market.values()
        for s in group
    ]
    beta = [0.0, 1.0, 0.0]
    for _ in range(max_iter):
        grad = [0.0, 0.0, 0.0]
        hess = [[ridge if i == j else 0.0 for j in range(3)] for i in range(3)]
        for f, y, w in rows:
            p = sigmoid(sum(b * x for b, x in zip(beta, f, strict=True)))
            resid = w * (y - p)
            curv = w * p * (1 - p)
            for i in range(3):
                grad[i] += resid * f[i]
                for j in range(3):
                    hess[i][j] += curv * f[i] * f[j]
        grad = [g - ridge * (b - b0) for g, b, b0 in zip(grad, beta, (0.0, 1.0, 0.0), strict=True)]
        step = _solve3(hess, grad)
        beta = [b + d for b, d in zip(beta, step, strict=True)]
        if max(abs(d) for d in step) < 1e-9:
            break
    return HeuristicParams(
        a=beta[0],
        b=beta[1],
        c=beta[2],
        source="fitted on resolved markets by `kalbot analyst fit`",
        fitted_at=fitted_at,
        n_markets=len(by_market),
        n_samples=len(rows),
        log_loss=_log_loss(rows, beta),
        baseline_log_loss=_log_loss(rows, [0.0, 1.0, 0.0]),
    )
