"""Aggregates: P&L over spans, performance series, AI spend against the budget.

Sums are taken in Python over exact Decimals of each stored value, not with SQL ``SUM`` over
floats, so $0.10 + $0.20 is $0.30 here, as it is on the exchange statement.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kalbot.adapters.store.tables import ai_cost_tracking, market_analyses, performance_logs
from kalbot.adapters.store.tables import positions as positions_t
from kalbot.web.db import Catalog, dec, dec0
from kalbot.web.models import (
    BudgetSource,
    CostDay,
    Costs,
    DailyPnl,
    Performance,
    PerformanceDay,
    ProviderCost,
)
from kalbot.web.timeutil import DayRange, day_range, utc_today

RATE_PLACES = Decimal("0.0001")
MICRO = Decimal("0.000001")


def _tidy(d: Decimal) -> Decimal:
    """Whole cents as cents (10.00), anything finer without trailing zeros (0.0163)."""
    return d.quantize(Decimal("0.01")) if d == d.quantize(Decimal("0.01")) else d.normalize()


def _tracked(value: object) -> Decimal:
    """An ``ai_cost_tracking`` total: the row is a running REAL sum that carries float noise
    (0.0123 + 0.004 = 0.016300000000000002), so it is read to the nearest micro-dollar, the
    unit the analyst's budget counts in."""
    return _tidy(dec0(value).quantize(MICRO))


@dataclass(frozen=True, slots=True)
class BudgetInForce:
    """The daily AI budget the analyst enforces now, and where it comes from."""

    amount: Decimal
    source: BudgetSource
    set_at: str | None  # when the override was stored (`kalbot ai budget --set`)
    configured: Decimal  # the settings' budget, in force again after `--clear`


async def budget_in_force(
    conn: AsyncConnection, catalog: Catalog, configured: Decimal
) -> BudgetInForce:
    """The override in ``ai_budget_limit`` (revision 0002) when one is set, else the settings'.

    The analyst's budget check reads the same row before every paid call, so this is the
    number spend is actually held to, not merely the one in the config file.
    """
    t = catalog.table("ai_budget_limit")
    if t is None or not {"daily_budget_micro", "updated_at"} <= set(t.c.keys()):
        return BudgetInForce(configured, "config", None, configured)
    row = (await conn.execute(select(t.c.daily_budget_micro, t.c.updated_at).limit(1))).first()
    if row is None:
        return BudgetInForce(configured, "config", None, configured)
    amount = _tidy(Decimal(int(row.daily_budget_micro)) * MICRO)
    set_at = str(row.updated_at) if row.updated_at is not None else None
    return BudgetInForce(amount, "override", set_at, configured)


async def realised_pnl(conn: AsyncConnection, span: DayRange | None) -> tuple[Decimal, int]:
    """Realised P&L and number of positions closed in ``span`` (all time when None)."""
    c = positions_t.c
    stmt = select(c.pnl).where(c.status == "closed")
    if span is not None:
        stmt = stmt.where(and_(c.exit_time >= span.start, c.exit_time < span.end))
    values = (await conn.execute(stmt)).scalars().all()
    return sum((dec0(v) for v in values), Decimal(0)), len(values)


def _drawdowns(values: list[Decimal]) -> list[Decimal]:
    peak: Decimal | None = None
    out: list[Decimal] = []
    for v in values:
        peak = v if peak is None or v > peak else peak
        out.append(Decimal(0) if peak <= 0 else ((peak - v) / peak).quantize(RATE_PLACES))
    return out


async def performance(conn: AsyncConnection, today: date, days: int) -> Performance:
    since = (today - timedelta(days=days - 1)).isoformat()
    p = performance_logs.c
    logs = (
        await conn.execute(select(performance_logs).where(p.date >= since).order_by(p.date))
    ).all()
    values = [dec0(r.portfolio_value) for r in logs]
    dds = _drawdowns(values)
    series = [
        PerformanceDay(
            date=str(r.date),
            total_pnl=dec0(r.total_pnl),
            num_trades=int(r.num_trades),
            win_rate=dec(r.win_rate),
            portfolio_value=v,
            daily_return=dec(r.daily_return),
            max_drawdown=dec(r.max_drawdown),
            drawdown=dd,
        )
        for r, v, dd in zip(logs, values, dds, strict=True)
    ]
    c = positions_t.c
    closed = (
        await conn.execute(
            select(c.exit_time, c.pnl).where(c.status == "closed").order_by(c.exit_time)
        )
    ).all()
    by_day: dict[str, list[Decimal]] = defaultdict(list)
    pnls: list[Decimal] = []
    for r in closed:
        pnl = dec0(r.pnl)
        pnls.append(pnl)
        day = str(r.exit_time or "")[:10]
        if day >= since:
            by_day[day].append(pnl)
    wins = sum(1 for v in pnls if v > 0)
    losses = sum(1 for v in pnls if v < 0)
    return Performance(
        days=series,
        daily_pnl=[
            DailyPnl(date=d, pnl=sum(v, Decimal(0)), trades=len(v))
            for d, v in sorted(by_day.items())
        ],
        closed_trades=len(pnls),
        wins=wins,
        losses=losses,
        win_rate=(Decimal(wins) / len(pnls)).quantize(RATE_PLACES) if pnls else None,
        realised_pnl=sum(pnls, Decimal(0)),
        peak_value=max(values) if values else None,
        current_value=values[-1] if values else None,
        max_drawdown=max(dds) if dds else None,
    )


async def latest_portfolio_value(conn: AsyncConnection) -> tuple[Decimal, str] | None:
    p = performance_logs.c
    r = (
        await conn.execute(select(p.portfolio_value, p.date).order_by(p.date.desc()).limit(1))
    ).first()
    return None if r is None else (dec0(r.portfolio_value), str(r.date))


async def _reserved(
    conn: AsyncConnection, catalog: Catalog, span: DayRange, now: datetime
) -> Decimal:
    """Budget held by AI calls in flight (the analyst's unexpired reservations, revision 0002)."""
    t = catalog.table("ai_budget_reservations")
    if t is None or not {"amount_micro", "day", "expires_at_us"} <= set(t.c.keys()):
        return Decimal(0)
    now_us = int(now.timestamp() * 1_000_000)
    stmt = select(t.c.amount_micro).where(
        and_(t.c.day >= span.start, t.c.day < span.end, t.c.expires_at_us > now_us)
    )
    micros = sum(int(v) for v in (await conn.execute(stmt)).scalars())
    return Decimal(micros) * MICRO


async def costs(
    conn: AsyncConnection, catalog: Catalog, now: datetime, budget: BudgetInForce, days: int
) -> Costs:
    """Today's AI spend against the budget, per provider, and the daily history.

    Spend is read from both places it is recorded (each analysis row's cost, and the daily
    per-provider tracking rows) and the larger is shown: the dashboard must never report less
    than was spent.
    """
    today = utc_today(now)
    span = day_range(today)
    a = market_analyses.c
    by_analyses: dict[str, tuple[Decimal, int]] = {}
    rows = (
        await conn.execute(
            select(a.ai_provider, a.cost).where(
                and_(a.timestamp >= span.start, a.timestamp < span.end)
            )
        )
    ).all()
    for r in rows:
        cost, n = by_analyses.get(r.ai_provider, (Decimal(0), 0))
        by_analyses[r.ai_provider] = (cost + dec0(r.cost), n + 1)
    t = ai_cost_tracking.c
    since = (today - timedelta(days=days - 1)).isoformat()
    tracked = (
        await conn.execute(
            select(t.date, t.provider, t.total_cost, t.num_calls)
            .where(and_(t.date >= since, t.date < span.end))
            .order_by(t.date.desc(), t.provider)
        )
    ).all()
    by_tracking: dict[str, tuple[Decimal, int]] = {}
    for r in tracked:
        if span.start <= str(r.date) < span.end:
            cost, n = by_tracking.get(r.provider, (Decimal(0), 0))
            by_tracking[r.provider] = (cost + _tracked(r.total_cost), n + int(r.num_calls))
    from_analyses = sum((v[0] for v in by_analyses.values()), Decimal(0))
    from_tracking = sum((v[0] for v in by_tracking.values()), Decimal(0))
    providers = []
    for name in sorted(set(by_analyses) | set(by_tracking)):
        ca, na = by_analyses.get(name, (Decimal(0), 0))
        ct, nt = by_tracking.get(name, (Decimal(0), 0))
        providers.append(ProviderCost(provider=name, cost=max(ca, ct), calls=max(na, nt)))
    return _costs(
        today,
        budget,
        from_analyses=from_analyses,
        from_tracking=from_tracking,
        reserved=await _reserved(conn, catalog, span, now),
        providers=providers,
        days=[
            CostDay(
                date=str(r.date),
                provider=r.provider,
                total_cost=_tracked(r.total_cost),
                num_calls=int(r.num_calls),
            )
            for r in tracked
        ],
    )


def _costs(
    today: date,
    budget: BudgetInForce,
    *,
    from_analyses: Decimal,
    from_tracking: Decimal,
    reserved: Decimal,
    providers: list[ProviderCost],
    days: list[CostDay],
) -> Costs:
    """The one place spend, reservations and the budget in force become what is left."""
    spend = max(from_analyses, from_tracking)
    return Costs(
        date=today,
        budget=budget.amount,
        budget_source=budget.source,
        budget_set_at=budget.set_at,
        configured_budget=budget.configured,
        spend_today=spend,
        spend_from_analyses=from_analyses,
        spend_from_tracking=from_tracking,
        reserved_today=reserved,
        remaining=max(Decimal(0), budget.amount - spend - reserved),
        calls_today=sum(p.calls for p in providers),
        by_provider_today=providers,
        days=days,
    )


def empty_performance() -> Performance:
    return Performance(
        days=[],
        daily_pnl=[],
        closed_trades=0,
        wins=0,
        losses=0,
        win_rate=None,
        realised_pnl=Decimal(0),
        peak_value=None,
        current_value=None,
        max_drawdown=None,
    )


def empty_costs(today: date, budget: BudgetInForce) -> Costs:
    zero = Decimal(0)
    return _costs(
        today,
        budget,
        from_analyses=zero,
        from_tracking=zero,
        reserved=zero,
        providers=[],
        days=[],
    )
