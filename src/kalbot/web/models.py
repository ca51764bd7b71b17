"""The JSON API's response shapes (and what the pages render).

Money, prices and probabilities are ``Decimal`` and serialise as strings ("12.34"), so a client
never sees a float rounding error. A value the database does not have is ``null`` — never 0.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# Where the daily AI budget in force comes from: the settings, or `kalbot ai budget --set`.
BudgetSource = Literal["config", "override"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class CycleInfo(_Model):
    """The trading loop's most recent cycle, when the engine has recorded one."""

    time: datetime
    age_seconds: float
    summary: str
    details: dict[str, Any] = {}


class ReasonCount(_Model):
    reason: str
    count: int


class Status(_Model):
    """Everything the overview shows."""

    as_of: datetime
    mode: Literal["PAPER", "LIVE"]
    environment: str
    mode_source: Literal["engine", "settings"]
    risk_state: str | None
    risk_reason: str | None = None
    cash: Decimal | None
    portfolio_value: Decimal | None
    portfolio_value_as_of: str | None = None
    open_positions: int
    open_exposure: Decimal
    open_market_value: Decimal | None
    unrealised_pnl: Decimal | None
    unmarked_positions: int
    pnl_today: Decimal
    pnl_week: Decimal
    pnl_all_time: Decimal
    trades_today: int
    ai_spend_today: Decimal
    ai_calls_today: int
    ai_reserved_today: Decimal
    ai_budget: Decimal
    ai_budget_source: BudgetSource
    ai_budget_set_at: str | None = None
    ai_budget_remaining: Decimal
    last_cycle: CycleInfo | None
    refusals_today: list[ReasonCount]
    missing_tables: list[str]


class PositionRow(_Model):
    id: int
    ticker: str
    side: Literal["yes", "no"]
    quantity: int
    entry_price: Decimal
    entry_time: str
    exit_price: Decimal | None
    exit_time: str | None
    pnl: Decimal | None
    status: Literal["open", "closed"]
    reason: str | None
    close_reason: str | None
    cost_basis: Decimal
    mark: Decimal | None = None
    mark_time: str | None = None
    market_value: Decimal | None = None
    unrealised_pnl: Decimal | None = None


class PositionPage(_Model):
    items: list[PositionRow]
    total: int
    page: int
    page_size: int
    pages: int


class AnalysisRow(_Model):
    id: int
    ticker: str
    timestamp: str
    provider: str
    model: str | None
    probability_yes: Decimal | None
    decision: str | None
    confidence: Decimal | None
    cost: Decimal
    error: str | None
    rationale: str | None


class AnalysisPage(_Model):
    items: list[AnalysisRow]
    total: int
    page: int
    page_size: int
    pages: int


class PerformanceDay(_Model):
    date: str
    total_pnl: Decimal
    num_trades: int
    win_rate: Decimal | None
    portfolio_value: Decimal
    daily_return: Decimal | None
    max_drawdown: Decimal | None
    drawdown: Decimal  # from the equity peak to date, as a fraction (0.05 = 5 % below the peak)


class DailyPnl(_Model):
    date: str
    pnl: Decimal
    trades: int


class Performance(_Model):
    days: list[PerformanceDay]
    daily_pnl: list[DailyPnl]  # realised, from closed positions by exit day
    closed_trades: int
    wins: int
    losses: int
    win_rate: Decimal | None
    realised_pnl: Decimal
    peak_value: Decimal | None
    current_value: Decimal | None
    max_drawdown: Decimal | None


class ProviderCost(_Model):
    provider: str
    cost: Decimal
    calls: int


class CostDay(_Model):
    date: str
    provider: str
    total_cost: Decimal
    num_calls: int


class Costs(_Model):
    date: date
    budget: Decimal = Field(description="The daily budget in force: the override if one is set.")
    budget_source: BudgetSource
    budget_set_at: str | None = Field(
        None, description="When the override was set (ISO 8601 UTC); null for the config."
    )
    configured_budget: Decimal = Field(
        description="The settings' budget (ai.daily_budget), in force when no override is set."
    )
    spend_today: Decimal
    spend_from_analyses: Decimal
    spend_from_tracking: Decimal
    reserved_today: Decimal
    remaining: Decimal
    calls_today: int
    by_provider_today: list[ProviderCost]
    days: list[CostDay]


class RefusalRow(_Model):
    time: str
    ticker: str | None
    reason: str
    detail: str | None


class Refusals(_Model):
    date: date
    available: bool
    counts: list[ReasonCount]
    recent: list[RefusalRow]


class MarketRow(_Model):
    ticker: str
    title: str | None
    category: str | None
    last_time: str
    yes_bid: Decimal | None
    yes_ask: Decimal | None
    last_price: Decimal | None
    snapshots: int
    open_position: bool


class PricePoint(_Model):
    time: str
    yes_bid: Decimal | None
    yes_ask: Decimal | None
    last_price: Decimal | None


class TradeMark(_Model):
    """A trade on the price chart; ``yes_price`` places it on the YES-price axis."""

    time: str
    kind: Literal["entry", "exit"]
    side: Literal["yes", "no"]
    price: Decimal  # in the side's own price space
    yes_price: Decimal
    quantity: int
    position_id: int


class MarketDetail(_Model):
    ticker: str
    title: str | None
    category: str | None
    points: list[PricePoint]
    trades: list[TradeMark]
    result: str | None = None


class BacktestRun(_Model):
    name: str
    modified: datetime
    files: list[str]
    metrics: dict[str, Any]
    report: str | None


class HealthCheck(_Model):
    name: str
    ok: bool
    detail: str


class Health(_Model):
    healthy: bool
    checks: list[HealthCheck]
