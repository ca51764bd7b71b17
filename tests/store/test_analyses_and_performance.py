"""Contract: analyses, AI cost and performance on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from kalbot.adapters.store.repository import Repository
from kalbot.domain.decisions import Decision
from kalbot.domain.errors import InvalidRecord
from kalbot.domain.records import PerformanceLog

DAY = date(2024, 11, 15)
T0 = datetime(2024, 11, 15, 10, 25, tzinfo=UTC)


async def test_ai_cost_for_a_day_sums_only_that_days_analyses(repo: Repository) -> None:
    for minutes, cost in [(0, "0.05"), (60, "0.0125"), (13 * 60 + 34, "0.10")]:
        await repo.add_market_analysis(
            ticker="KXBTC",
            ai_provider="xai",
            cost=Decimal(cost),
            timestamp=T0 + timedelta(minutes=minutes),
            decision=Decision.OPEN_YES,
            confidence=Decimal("0.85"),
            analysis_text="momentum",
            metadata={"tokens": 1250},
        )
    # 10:25 + 13h34 = 23:59 the same day; the next two fall on the 14th and the 16th
    await repo.add_market_analysis(
        ticker="KXBTC",
        ai_provider="xai",
        cost=Decimal("1"),
        timestamp=datetime(2024, 11, 14, 23, 59, 59, tzinfo=UTC),
    )
    await repo.add_market_analysis(
        ticker="KXBTC",
        ai_provider="openai",
        cost=Decimal("2"),
        timestamp=datetime(2024, 11, 16, 0, 0, tzinfo=UTC),
        decision="SKIP",
    )
    assert await repo.ai_cost_for_day(DAY) == Decimal("0.1625")
    assert await repo.ai_cost_for_day(date(2024, 11, 16)) == Decimal("2")
    assert await repo.ai_cost_for_day(date(2020, 1, 1)) == Decimal("0")


@pytest.mark.parametrize(
    ("field", "value"),
    [("decision", "BUY"), ("confidence", Decimal("1.5")), ("cost", Decimal("-1")), ("cost", 0.05)],
)
async def test_a_bad_analysis_is_refused(repo: Repository, field: str, value: object) -> None:
    args: dict[str, object] = {
        "ticker": "KX",
        "ai_provider": "xai",
        "cost": Decimal("0.01"),
        "timestamp": T0,
    }
    args[field] = value
    with pytest.raises(InvalidRecord):
        await repo.add_market_analysis(**args)  # type: ignore[arg-type]
    assert await repo.ai_cost_for_day(DAY) == Decimal("0")


async def test_adding_to_a_days_cost_row_accumulates_per_provider(repo: Repository) -> None:
    await repo.add_ai_cost(DAY, "xai", Decimal("0.05"))
    row = await repo.add_ai_cost(DAY, "xai", Decimal("0.0125"), calls=2)
    assert (row.total_cost, row.num_calls) == (Decimal("0.0625"), 3)
    await repo.add_ai_cost(DAY, "openai", Decimal("0.10"))
    await repo.add_ai_cost(DAY + timedelta(days=1), "xai", Decimal("9"))
    costs = await repo.ai_cost_by_provider(DAY)
    assert {p: (c.total_cost, c.num_calls) for p, c in costs.items()} == {
        "xai": (Decimal("0.0625"), 3),
        "openai": (Decimal("0.1"), 1),
    }


async def test_concurrent_cost_additions_lose_no_update(repo: Repository) -> None:
    await asyncio.gather(*(repo.add_ai_cost(DAY, "xai", Decimal("0.01")) for _ in range(20)))
    row = (await repo.ai_cost_by_provider(DAY))["xai"]
    assert (row.total_cost, row.num_calls) == (Decimal("0.2"), 20)


async def _closed(
    repo: Repository, ticker: str, side: str, entry: str, exit_: str, when: datetime, qty: int = 10
) -> None:
    pos = await repo.add_position(
        ticker=ticker,
        side=side,
        quantity=qty,
        entry_price=Decimal(entry),
        entry_time=when - timedelta(hours=1),
    )
    await repo.close_position(
        pos.id, exit_price=Decimal(exit_), exit_time=when, close_reason="test"
    )


async def test_daily_pnl_groups_closed_positions_by_exit_day(repo: Repository) -> None:
    d1 = datetime(2024, 11, 15, 12, tzinfo=UTC)
    d2 = datetime(2024, 11, 16, 23, 30, tzinfo=UTC)
    await _closed(repo, "KXA", "yes", "0.40", "0.50", d1)  # +1.0
    await _closed(repo, "KXB", "no", "0.30", "0.20", d1)  # -1.0
    await _closed(repo, "KXA", "yes", "0.40", "0.70", d2)  # +3.0
    await repo.add_position(
        ticker="KXC", side="yes", quantity=1, entry_price=Decimal("0.5"), entry_time=d1
    )
    days = await repo.daily_pnl()
    assert [(d.day, d.total_pnl, d.num_trades, d.avg_pnl) for d in days] == [
        (date(2024, 11, 16), Decimal("3"), 1, Decimal("3")),
        (date(2024, 11, 15), Decimal("0"), 2, Decimal("0")),
    ]
    assert len(await repo.daily_pnl(limit=1)) == 1


async def test_best_markets_need_three_trades_and_rank_by_total_pnl(repo: Repository) -> None:
    when = datetime(2024, 11, 15, 12, tzinfo=UTC)
    for exit_ in ["0.50", "0.60", "0.30"]:  # +1, +2, -1 = +2 over three trades
        await _closed(repo, "KXA", "yes", "0.40", exit_, when)
    for exit_ in ["0.50", "0.50", "0.50", "0.10"]:  # NO side: +2, +2, +2, -2 = +4
        await _closed(repo, "KXB", "no", "0.30", exit_, when)
    for exit_ in ["0.99", "0.99"]:  # only two trades: excluded
        await _closed(repo, "KXC", "yes", "0.10", exit_, when)
    best = await repo.best_markets()
    assert [(m.ticker, m.num_trades, m.total_pnl) for m in best] == [
        ("KXB", 4, Decimal("4")),
        ("KXA", 3, Decimal("2")),
    ]
    assert best[0].win_rate == Decimal("75")
    assert best[1].win_rate == Decimal("66.66666667")
    assert best[0].avg_pnl == Decimal("1")


async def test_a_days_performance_log_is_replaced_not_duplicated(repo: Repository) -> None:
    first = PerformanceLog(
        day=DAY,
        total_pnl=Decimal("12.5"),
        num_trades=4,
        portfolio_value=Decimal("10234.56"),
        win_rate=Decimal("0.75"),
    )
    await repo.upsert_performance_log(first)
    assert await repo.performance_log(DAY) == first
    second = PerformanceLog(
        day=DAY,
        total_pnl=Decimal("-3.25"),
        num_trades=6,
        portfolio_value=Decimal("10218.81"),
        win_rate=None,
        daily_return=Decimal("-0.0015"),
        max_drawdown=Decimal("0.02"),
    )
    await repo.upsert_performance_log(second)
    assert await repo.performance_log(DAY) == second
    assert await repo.performance_log(DAY + timedelta(days=1)) is None
