"""Performance: daily P&L, best markets, and the ``performance_logs`` table."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Integer, case, cast, func, literal, select

from kalbot.adapters.store.base import RepositoryBase
from kalbot.adapters.store.convert import day_text, from_real, from_real_required, to_real
from kalbot.adapters.store.dialect import upsert
from kalbot.adapters.store.tables import performance_logs, positions
from kalbot.domain.errors import InvalidRecord
from kalbot.domain.prices import ZERO
from kalbot.domain.records import DailyPnl, MarketPerformance, PerformanceLog, PositionStatus


class PerformanceMixin(RepositoryBase):
    """Aggregates over closed positions, and one ``performance_logs`` row per day."""

    async def daily_pnl(self, limit: int | None = None) -> list[DailyPnl]:
        """Realised P&L per UTC day of exit, newest first (the spec's "Calculate daily PnL")."""
        p = positions.c
        # exit_time is ISO text, so its first ten characters are the UTC date on both databases
        # (the spec's DATE(exit_time) is SQLite-only).
        day = func.substr(p.exit_time, 1, 10).label("trade_date")
        query = (
            select(
                day,
                func.sum(p.pnl).label("total_pnl"),
                func.count().label("num_trades"),
                func.avg(p.pnl).label("avg_pnl"),
            )
            .where(p.status == PositionStatus.CLOSED.value)
            .group_by(day)
            .order_by(day.desc())
        )
        if limit is not None:
            query = query.limit(limit)
        async with self.connection("computing daily P&L") as conn:
            rows = (await conn.execute(query)).all()
        return [
            DailyPnl(
                day=date.fromisoformat(r.trade_date),
                total_pnl=from_real(r.total_pnl) or ZERO,
                num_trades=int(r.num_trades),
                avg_pnl=from_real(r.avg_pnl) or ZERO,
            )
            for r in rows
            if r.trade_date is not None
        ]

    async def best_markets(self, min_trades: int = 3, limit: int = 10) -> list[MarketPerformance]:
        """Markets with at least ``min_trades`` closed trades, by total P&L, best first."""
        p = positions.c
        wins = func.sum(case((p.pnl > 0, 1), else_=0))
        n = func.count()
        total = func.sum(p.pnl)
        query = (
            select(
                p.ticker,
                n.label("num_trades"),
                total.label("total_pnl"),
                func.avg(p.pnl).label("avg_pnl"),
                (cast(wins, Integer) * literal(100.0) / n).label("win_rate"),
            )
            .where(p.status == PositionStatus.CLOSED.value)
            .group_by(p.ticker)
            .having(n >= min_trades)
            .order_by(total.desc(), p.ticker)
            .limit(limit)
        )
        async with self.connection("ranking markets by P&L") as conn:
            rows = (await conn.execute(query)).all()
        return [
            MarketPerformance(
                ticker=r.ticker,
                num_trades=int(r.num_trades),
                total_pnl=from_real(r.total_pnl) or ZERO,
                avg_pnl=from_real(r.avg_pnl) or ZERO,
                win_rate=from_real(r.win_rate) or ZERO,
            )
            for r in rows
        ]

    async def upsert_performance_log(self, log: PerformanceLog) -> None:
        """Write the day's ``performance_logs`` row, replacing an earlier one for that day."""
        if isinstance(log.num_trades, bool) or log.num_trades < 0:
            raise InvalidRecord(f"num_trades must be >= 0, got {log.num_trades!r}")
        values = {
            "date": day_text(log.day),
            "total_pnl": to_real(log.total_pnl),
            "num_trades": log.num_trades,
            "win_rate": to_real(log.win_rate),
            "portfolio_value": to_real(log.portfolio_value),
            "daily_return": to_real(log.daily_return),
            "max_drawdown": to_real(log.max_drawdown),
        }
        statement = upsert(
            self.dialect,
            performance_logs,
            values,
            ["date"],
            lambda ex: {k: getattr(ex, k) for k in values if k != "date"},
        )
        async with self.transaction(f"writing the performance log for {log.day}") as conn:
            await conn.execute(statement)

    async def performance_log(self, day: date) -> PerformanceLog | None:
        """The day's ``performance_logs`` row, or None."""
        t = performance_logs.c
        query = select(performance_logs).where(t.date == day_text(day))
        async with self.connection(f"reading the performance log for {day}") as conn:
            row = (await conn.execute(query)).mappings().one_or_none()
        if row is None:
            return None

        def opt(v: float | None) -> Decimal | None:
            return from_real(v)

        return PerformanceLog(
            day=date.fromisoformat(row["date"]),
            total_pnl=from_real_required(row["total_pnl"], "total_pnl"),
            num_trades=int(row["num_trades"]),
            portfolio_value=from_real_required(row["portfolio_value"], "portfolio_value"),
            win_rate=opt(row["win_rate"]),
            daily_return=opt(row["daily_return"]),
            max_drawdown=opt(row["max_drawdown"]),
        )
