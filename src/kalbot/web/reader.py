"""The one read facade the pages, the JSON API, /health and /metrics all use."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Literal

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kalbot.adapters.store.tables import SPEC_TABLES
from kalbot.config import Settings
from kalbot.ports import Clock
from kalbot.web import engine_views, queries, summary
from kalbot.web.db import Catalog, DatabaseUnavailable
from kalbot.web.models import (
    AnalysisPage,
    AnalysisRow,
    Costs,
    MarketDetail,
    MarketRow,
    Performance,
    PositionPage,
    Refusals,
    Status,
)
from kalbot.web.timeutil import day_range, utc_today, week_range


@dataclass(frozen=True, slots=True)
class DashboardConfig:
    """What the dashboard needs from the settings (never a secret other than the token)."""

    ai_budget: Decimal  # the settings' budget; an override in the database takes precedence
    live_enabled: bool
    environment: str
    exports_dir: Path
    refresh_seconds: int
    page_size: int
    max_cycle_age_seconds: int

    @classmethod
    def from_settings(cls, settings: Settings) -> DashboardConfig:
        k = settings.kalshi
        env = f"{k.environment} ({k.base_url})" if k.base_url else k.environment
        return cls(
            ai_budget=settings.ai.daily_budget,
            live_enabled=settings.trading.live_trading_enabled,
            environment=env,
            exports_dir=settings.web.exports_dir,
            refresh_seconds=settings.web.refresh_seconds,
            page_size=settings.web.page_size,
            max_cycle_age_seconds=settings.web.max_cycle_age_seconds,
        )


@dataclass(frozen=True, slots=True)
class Banner:
    mode: Literal["PAPER", "LIVE"]
    mode_source: Literal["engine", "settings"]
    environment: str
    risk_state: str | None
    risk_reason: str | None
    last_cycle_age: float | None


class Reader:
    """Read-only queries over one database, at the injected clock's 'now'."""

    def __init__(self, engine: AsyncEngine, config: DashboardConfig, clock: Clock) -> None:
        self.engine = engine
        self.config = config
        self.clock = clock
        self.catalog = Catalog()

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        """A connection with a fresh table catalogue; errors become DatabaseUnavailable."""
        try:
            async with self.engine.connect() as conn:
                await self.catalog.refresh(conn)
                yield conn
        except SQLAlchemyError as e:
            cause = getattr(e, "orig", None) or e.__cause__ or e
            first = str(cause).strip().splitlines()[0][:200] if str(cause).strip() else ""
            raise DatabaseUnavailable(f"database error: {type(cause).__name__}: {first}") from e
        except OSError as e:
            raise DatabaseUnavailable(f"database unreachable: {e.strerror or e}") from e

    async def ping(self) -> None:
        async with self.connect() as conn:
            await conn.execute(text("SELECT 1"))

    @property
    def spec_ready(self) -> bool:
        """Whether the spec's tables exist (a database never upgraded has none: show it empty)."""
        return all(self.catalog.has(t) for t in SPEC_TABLES)

    def today(self) -> date:
        return utc_today(self.clock.now())

    async def status(self) -> Status:
        now = self.clock.now()
        today = utc_today(now)
        async with self.connect() as conn:
            budget = await summary.budget_in_force(conn, self.catalog, self.config.ai_budget)
            if self.spec_ready:
                open_rows = await queries.open_positions(conn)
                pnl_today, trades_today = await summary.realised_pnl(conn, day_range(today))
                pnl_week, _ = await summary.realised_pnl(conn, week_range(today))
                pnl_all, _ = await summary.realised_pnl(conn, None)
                costs = await summary.costs(conn, self.catalog, now, budget, 1)
                perf_value = await summary.latest_portfolio_value(conn)
            else:
                open_rows, perf_value = [], None
                pnl_today = pnl_week = pnl_all = Decimal(0)
                trades_today = 0
                costs = summary.empty_costs(today, budget)
            cycle = await engine_views.last_cycle(conn, self.catalog, now)
            risk = await engine_views.current_risk(conn, self.catalog)
            refusals = await engine_views.refusal_counts(conn, self.catalog, day_range(today))
            missing = [
                t for t in (*SPEC_TABLES, *engine_views.ENGINE_TABLES) if not self.catalog.has(t)
            ]
        marked = [p for p in open_rows if p.market_value is not None]
        banner = self._banner(cycle, risk)
        risk_state, risk_reason = banner.risk_state, banner.risk_reason
        mode_source, environment = banner.mode_source, banner.environment
        live = banner.mode == "LIVE"
        portfolio_value, portfolio_as_of = None, None
        if cycle is not None and cycle.equity is not None:
            portfolio_value, portfolio_as_of = cycle.equity, cycle.info.time.isoformat()
        if portfolio_value is None and perf_value is not None:
            portfolio_value, portfolio_as_of = perf_value
        return Status(
            as_of=now,
            mode="LIVE" if live else "PAPER",
            environment=environment,
            mode_source=mode_source,
            risk_state=risk_state,
            risk_reason=risk_reason,
            cash=cycle.cash if cycle is not None else None,
            portfolio_value=portfolio_value,
            portfolio_value_as_of=portfolio_as_of,
            open_positions=len(open_rows),
            open_exposure=sum((p.cost_basis for p in open_rows), Decimal(0)),
            open_market_value=(
                sum((p.market_value or Decimal(0) for p in marked), Decimal(0)) if marked else None
            ),
            unrealised_pnl=(
                sum((p.unrealised_pnl or Decimal(0) for p in marked), Decimal(0))
                if marked
                else None
            ),
            unmarked_positions=len(open_rows) - len(marked),
            pnl_today=pnl_today,
            pnl_week=pnl_week,
            pnl_all_time=pnl_all,
            trades_today=trades_today,
            ai_spend_today=costs.spend_today,
            ai_calls_today=costs.calls_today,
            ai_reserved_today=costs.reserved_today,
            ai_budget=costs.budget,
            ai_budget_source=costs.budget_source,
            ai_budget_set_at=costs.budget_set_at,
            ai_budget_remaining=costs.remaining,
            last_cycle=cycle.info if cycle is not None else None,
            refusals_today=refusals or [],
            missing_tables=missing,
        )

    def _banner(
        self, cycle: engine_views.LastCycle | None, risk: tuple[str, str | None] | None
    ) -> Banner:
        mode_source: Literal["engine", "settings"]
        if cycle is not None and cycle.mode is not None:
            mode_source = "engine"
            live = cycle.mode == "live"
        else:
            # Nothing has run yet: say LIVE whenever live trading is switched on, so the banner
            # errs towards alarm rather than false comfort.
            mode_source = "settings"
            live = self.config.live_enabled
        environment = self.config.environment
        if cycle is not None and cycle.mode == "demo":
            environment = "local simulated exchange (demo)"
        risk_state, risk_reason = risk if risk else (None, None)
        if risk_state is None and cycle is not None:
            risk_state = cycle.risk_state
        return Banner(
            mode="LIVE" if live else "PAPER",
            mode_source=mode_source,
            environment=environment,
            risk_state=risk_state,
            risk_reason=risk_reason,
            last_cycle_age=cycle.info.age_seconds if cycle is not None else None,
        )

    async def banner(self) -> Banner:
        """What every page's header shows: PAPER or LIVE, where, and the risk state."""
        async with self.connect() as conn:
            cycle = await engine_views.last_cycle(conn, self.catalog, self.clock.now())
            risk = await engine_views.current_risk(conn, self.catalog)
        return self._banner(cycle, risk)

    async def positions(self, f: queries.PositionFilter) -> PositionPage:
        async with self.connect() as conn:
            if not self.spec_ready:
                return PositionPage(items=[], total=0, page=f.page, page_size=f.page_size, pages=1)
            return await queries.position_page(conn, f)

    async def analyses(
        self,
        page: int,
        page_size: int,
        ticker: str | None = None,
        decision: str | None = None,
        provider: str | None = None,
    ) -> AnalysisPage:
        async with self.connect() as conn:
            if not self.spec_ready:
                return AnalysisPage(items=[], total=0, page=page, page_size=page_size, pages=1)
            return await queries.analysis_page(conn, page, page_size, ticker, decision, provider)

    async def analysis(self, analysis_id: int) -> AnalysisRow | None:
        async with self.connect() as conn:
            if not self.spec_ready:
                return None
            return await queries.analysis_by_id(conn, analysis_id)

    async def performance(self, days: int) -> Performance:
        async with self.connect() as conn:
            if not self.spec_ready:
                return summary.empty_performance()
            return await summary.performance(conn, self.today(), days)

    async def costs(self, days: int) -> Costs:
        async with self.connect() as conn:
            budget = await summary.budget_in_force(conn, self.catalog, self.config.ai_budget)
            if not self.spec_ready:
                return summary.empty_costs(self.today(), budget)
            return await summary.costs(conn, self.catalog, self.clock.now(), budget, days)

    async def refusals(self, day: date | None, limit: int) -> Refusals:
        day = day or self.today()
        span = day_range(day)
        async with self.connect() as conn:
            counts = await engine_views.refusal_counts(conn, self.catalog, span)
            recent = await engine_views.recent_refusals(conn, self.catalog, span, limit)
        return Refusals(date=day, available=counts is not None, counts=counts or [], recent=recent)

    async def markets(self, limit: int = 200) -> list[MarketRow]:
        async with self.connect() as conn:
            if not self.spec_ready:
                return []
            return await queries.market_list(conn, limit)

    async def market(self, ticker: str) -> MarketDetail | None:
        async with self.connect() as conn:
            if not self.spec_ready:
                return None
            return await queries.market_detail(conn, self.catalog, ticker)
