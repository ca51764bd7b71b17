"""Rows of the spec's tables as values: what the repository returns and accepts.

Money is ``Decimal`` here; the tables store REAL, and the store converts at its boundary only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from kalbot.domain.prices import Side


class PositionStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class PositionRecord:
    """One row of ``positions``. Prices are in the held side's own price space."""

    id: int
    ticker: str
    side: Side
    quantity: int
    entry_price: Decimal
    entry_time: datetime
    status: PositionStatus
    reason: str | None = None
    exit_price: Decimal | None = None
    exit_time: datetime | None = None
    pnl: Decimal | None = None
    close_reason: str | None = None


@dataclass(frozen=True, slots=True)
class DailyPnl:
    """One day of realised P&L (the spec's "Calculate daily PnL" query)."""

    day: date
    total_pnl: Decimal
    num_trades: int
    avg_pnl: Decimal


@dataclass(frozen=True, slots=True)
class MarketPerformance:
    """One market's closed trades (the spec's "Find best performing markets" query)."""

    ticker: str
    num_trades: int
    total_pnl: Decimal
    avg_pnl: Decimal
    win_rate: Decimal  # percent of trades with pnl > 0, 0..100


@dataclass(frozen=True, slots=True)
class PerformanceLog:
    """One row of ``performance_logs``: a day's results."""

    day: date
    total_pnl: Decimal
    num_trades: int
    portfolio_value: Decimal
    win_rate: Decimal | None = None
    daily_return: Decimal | None = None
    max_drawdown: Decimal | None = None


@dataclass(frozen=True, slots=True)
class ProviderCost:
    """One row of ``ai_cost_tracking``: a provider's spend and calls on one day."""

    day: date
    provider: str
    total_cost: Decimal
    num_calls: int
