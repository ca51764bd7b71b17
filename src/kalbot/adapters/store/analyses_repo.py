"""Market analyses and AI spend: ``market_analyses`` and ``ai_cost_tracking``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.sql.dml import Insert

from kalbot.adapters.store.base import RepositoryBase
from kalbot.adapters.store.convert import day_text, from_real, stamp, to_real, to_text_time
from kalbot.adapters.store.dialect import upsert
from kalbot.adapters.store.tables import ai_cost_tracking, market_analyses
from kalbot.domain.decisions import Decision
from kalbot.domain.errors import InvalidRecord
from kalbot.domain.prices import ONE, ZERO
from kalbot.domain.records import ProviderCost


def _money(value: Decimal, field: str) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite() or value < ZERO:
        raise InvalidRecord(f"{field} must be a non-negative Decimal, got {value!r}")
    return value


def cost_upsert(dialect: str, day: date, provider: str, cost: Decimal, calls: int = 1) -> Insert:
    """The statement that adds ``cost`` and ``calls`` to a day's row for ``provider`` atomically.

    Exposed so a mixin can run it inside its own transaction (e.g. together with the analysis
    row it pays for).
    """
    if not provider:
        raise InvalidRecord("provider is required")
    if isinstance(calls, bool) or not isinstance(calls, int) or calls < 0:
        raise InvalidRecord(f"calls must be a non-negative whole number, got {calls!r}")
    values = {
        "date": day_text(day),
        "provider": provider,
        "total_cost": to_real(_money(cost, "cost")),
        "num_calls": calls,
    }
    t = ai_cost_tracking.c
    return upsert(
        dialect,
        ai_cost_tracking,
        values,
        ["date", "provider"],
        lambda ex: {
            "total_cost": t.total_cost + ex.total_cost,
            "num_calls": t.num_calls + ex.num_calls,
        },
    )


def analysis_values(
    dialect: str,
    *,
    ticker: str,
    ai_provider: str,
    cost: Decimal,
    timestamp: datetime,
    decision: Decision | str | None,
    confidence: Decimal | None,
    analysis_text: str | None,
    metadata: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """A validated ``market_analyses`` row (for ``insert(market_analyses).values(...)``)."""
    if not ticker:
        raise InvalidRecord("ticker is required")
    if not ai_provider:
        raise InvalidRecord("ai_provider is required")
    if decision is not None:
        try:
            decision = Decision(decision)
        except ValueError:
            allowed = ", ".join(d.value for d in Decision)
            raise InvalidRecord(f"decision must be one of {allowed}, got {decision!r}") from None
    if confidence is not None and (
        not isinstance(confidence, Decimal) or not ZERO <= confidence <= ONE
    ):
        raise InvalidRecord(f"confidence must be a Decimal in [0, 1], got {confidence!r}")
    try:
        meta = json.dumps(dict(metadata), default=str) if metadata else None
    except (TypeError, ValueError) as e:
        raise InvalidRecord(f"metadata is not JSON-serialisable: {e}") from None
    return {
        "ticker": ticker,
        "analysis_text": analysis_text,
        "ai_provider": ai_provider,
        "cost": to_real(_money(cost, "cost")),
        "timestamp": to_text_time(timestamp),
        "decision": decision.value if isinstance(decision, Decision) else None,
        "confidence": to_real(confidence),
        "metadata": meta,
        "created_at": stamp(dialect, timestamp),
    }


def _day_range(day: date) -> tuple[str, str]:
    # ISO text sorts in time order, so a day is the half-open range [day, next day): this uses
    # the timestamp index, unlike DATE(timestamp) = ..., and works the same on both databases.
    return day_text(day), day_text(day + timedelta(days=1))


class AnalysesMixin(RepositoryBase):
    """The ``market_analyses`` and ``ai_cost_tracking`` tables."""

    async def add_market_analysis(
        self,
        *,
        ticker: str,
        ai_provider: str,
        cost: Decimal,
        timestamp: datetime,
        decision: Decision | str | None = None,
        confidence: Decimal | None = None,
        analysis_text: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> int:
        """Store one analysis; returns its id. Bad values raise InvalidRecord, nothing stored."""
        values = analysis_values(
            self.dialect,
            ticker=ticker,
            ai_provider=ai_provider,
            cost=cost,
            timestamp=timestamp,
            decision=decision,
            confidence=confidence,
            analysis_text=analysis_text,
            metadata=metadata,
        )
        async with self.transaction(f"adding an analysis of {ticker}") as conn:
            result = await conn.execute(
                insert(market_analyses).values(**values).returning(market_analyses.c.id)
            )
            return int(result.scalar_one())

    async def ai_cost_for_day(self, day: date) -> Decimal:
        """Total cost of the analyses made on the UTC ``day`` (from ``market_analyses``)."""
        start, end = _day_range(day)
        ts = market_analyses.c.timestamp
        query = select(func.sum(market_analyses.c.cost)).where(ts >= start, ts < end)
        async with self.connection(f"summing AI cost for {start}") as conn:
            total = (await conn.execute(query)).scalar_one()
        return from_real(total) or ZERO

    async def ai_cost_by_provider(self, day: date) -> dict[str, ProviderCost]:
        """The day's ``ai_cost_tracking`` rows, by provider."""
        t = ai_cost_tracking.c
        query = select(t.provider, t.total_cost, t.num_calls).where(t.date == day_text(day))
        async with self.connection(f"reading AI cost per provider for {day}") as conn:
            rows = (await conn.execute(query)).all()
        return {
            r.provider: ProviderCost(
                day=day,
                provider=r.provider,
                total_cost=from_real(r.total_cost) or ZERO,
                num_calls=int(r.num_calls),
            )
            for r in rows
        }

    async def add_ai_cost(
        self, day: date, provider: str, cost: Decimal, calls: int = 1
    ) -> ProviderCost:
        """Add ``cost`` and ``calls`` to the day's row for ``provider`` in one atomic upsert
        (concurrent callers never lose an update); returns the row after the addition."""
        statement = cost_upsert(self.dialect, day, provider, cost, calls)
        t = ai_cost_tracking.c
        async with self.transaction(f"adding AI cost for {provider}") as conn:
            result = await conn.execute(statement.returning(t.total_cost, t.num_calls))
            row = result.one()
        return ProviderCost(
            day=day,
            provider=provider,
            total_cost=from_real(row.total_cost) or ZERO,
            num_calls=int(row.num_calls),
        )
