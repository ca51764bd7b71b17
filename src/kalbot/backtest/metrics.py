"""Performance metrics of a run: equity-curve statistics and trade statistics.

Returns are per period of the equity series (the backtest samples equity once per UTC day), so
``periods_per_year`` is 365: prediction markets trade every day. The risk-free rate is zero.
Money stays ``Decimal``; ratios and statistics are floats.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

PERIODS_PER_YEAR = 365


@dataclass(frozen=True, slots=True)
class Drawdown:
    depth: float  # fraction of the peak, 0.25 = 25%
    peak_time: datetime | None
    trough_time: datetime | None
    recovery_time: datetime | None  # None if never recovered


@dataclass(frozen=True, slots=True)
class EquityMetrics:
    start_equity: Decimal
    final_equity: Decimal
    total_return: float
    annualized_return: float
    volatility: float  # annualised standard deviation of period returns
    sharpe: float
    sortino: float
    calmar: float
    max_drawdown: Drawdown


@dataclass(frozen=True, slots=True)
class TradeMetrics:
    trades: int
    wins: int
    losses: int
    win_rate: float
    profit_factor: float  # gross profit / gross loss; inf with no losses, 0 with no profits
    expectancy: Decimal  # mean P&L per trade
    average_win: Decimal
    average_loss: Decimal
    best_trade: Decimal
    worst_trade: Decimal
    total_pnl: Decimal
    fees: Decimal
    average_holding: timedelta


def period_returns(equity: Sequence[Decimal]) -> list[float]:
    out: list[float] = []
    for prev, cur in itertools.pairwise(equity):
        if prev <= 0:
            raise ValueError("equity must stay positive to compute returns")
        out.append(float(cur / prev) - 1.0)
    return out


def max_drawdown(points: Sequence[tuple[datetime, Decimal]]) -> Drawdown:
    """The deepest fall from a running peak, with when it started, bottomed and recovered."""
    if not points:
        return Drawdown(0.0, None, None, None)
    peak_t, peak = points[0]
    depth = 0.0
    dd_peak: datetime | None = None
    dd_trough: datetime | None = None
    recovery: datetime | None = None
    for t, eq in points:
        if eq >= peak:
            if depth > 0 and dd_peak == peak_t and recovery is None:
                recovery = t
            peak_t, peak = t, eq
            continue
        d = float((peak - eq) / peak) if peak > 0 else 0.0
        if d > depth:
            depth, dd_peak, dd_trough, recovery = d, peak_t, t, None
    return Drawdown(depth, dd_peak, dd_trough, recovery)


def _std(xs: Sequence[float]) -> float:
    if len(xs) < 2:
        return 0.0
    m = sum(xs) / len(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def _ratio(numerator: float, denominator: float) -> float:
    if denominator == 0:
        return 0.0 if numerator == 0 else math.copysign(math.inf, numerator)
    return numerator / denominator


def equity_metrics(
    points: Sequence[tuple[datetime, Decimal]], periods_per_year: int = PERIODS_PER_YEAR
) -> EquityMetrics:
    """Statistics of an equity curve sampled once per period (time-ordered)."""
    if not points:
        raise ValueError("an equity curve needs at least one point")
    equity = [e for _, e in points]
    start, final = equity[0], equity[-1]
    total = float(final / start) - 1.0 if start > 0 else 0.0
    days = (points[-1][0] - points[0][0]).total_seconds() / 86400
    if days > 0 and final > 0 and start > 0:
        annualized = (float(final / start)) ** (365.0 / days) - 1.0
    else:
        annualized = 0.0
    rets = period_returns(equity)
    mean = sum(rets) / len(rets) if rets else 0.0
    std = _std(rets)
    downside = math.sqrt(sum(min(r, 0.0) ** 2 for r in rets) / len(rets)) if rets else 0.0
    scale = math.sqrt(periods_per_year)
    dd = max_drawdown(points)
    return EquityMetrics(
        start_equity=start,
        final_equity=final,
        total_return=total,
        annualized_return=annualized,
        volatility=std * scale,
        sharpe=_ratio(mean, std) * scale if std else 0.0,
        sortino=_ratio(mean, downside) * scale if downside else 0.0,
        calmar=_ratio(annualized, dd.depth) if dd.depth else 0.0,
        max_drawdown=dd,
    )


def trade_metrics(
    pnls: Sequence[Decimal], holdings: Sequence[timedelta], fees: Sequence[Decimal]
) -> TradeMetrics:
    """Statistics of closed trades; ``pnls`` are after fees, ``fees`` what each trade paid."""
    if not (len(pnls) == len(holdings) == len(fees)):
        raise ValueError("pnls, holdings and fees must have one entry per trade")
    zero = Decimal(0)
    wins = [p for p in pnls if p > 0]
    losses = [p for p in pnls if p < 0]
    gross_win = sum(wins, zero)
    gross_loss = -sum(losses, zero)
    n = len(pnls)
    no_loss = math.inf if gross_win > 0 else 0.0
    pf = float(gross_win / gross_loss) if gross_loss > 0 else no_loss
    total_hold = sum(holdings, timedelta())
    return TradeMetrics(
        trades=n,
        wins=len(wins),
        losses=len(losses),
        win_rate=len(wins) / n if n else 0.0,
        profit_factor=pf,
        expectancy=sum(pnls, zero) / n if n else zero,
        average_win=gross_win / len(wins) if wins else zero,
        average_loss=-gross_loss / len(losses) if losses else zero,
        best_trade=max(pnls) if pnls else zero,
        worst_trade=min(pnls) if pnls else zero,
        total_pnl=sum(pnls, zero),
        fees=sum(fees, zero),
        average_holding=total_hold / n if n else timedelta(),
    )
