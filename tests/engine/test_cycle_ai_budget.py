"""The cycle summary shows the AI budget in force: one set with ``kalbot ai budget --set``
(stored in the database) wins over the configured one, as it does when reserving."""

from __future__ import annotations

import logging
import sqlite3
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from engine.factories import NOW, D, market
from engine.fakes import FakeBroker, FakeMarketData, FixedAnalyst
from kalbot.adapters.store.repository import Repository
from kalbot.domain.clock import ManualClock
from kalbot.engine import EngineConfig, TradingEngine
from kalbot.engine.loop import SpendSource
from kalbot.risk import RiskConfig, RiskManager
from kalbot.screener import ScreenConfig, Screener
from kalbot.strategy import StandardStrategy


def engine(repo: Repository, spend: SpendSource) -> TradingEngine:
    clock = ManualClock(NOW)
    md = FakeMarketData([market("KXA-1", "0.40", "0.42")])
    return TradingEngine(
        market_data=md, broker=FakeBroker(md, clock), analyst=FixedAnalyst({"KXA-1": "0.5"}),
        strategy=StandardStrategy(), screener=Screener.from_config(ScreenConfig()),
        risk=RiskManager(RiskConfig(sizing="fixed")), store=repo, clock=clock,
        config=EngineConfig(ai_budget=D(10)), spend=spend,
    )  # fmt: skip


async def test_an_override_set_in_the_database_is_the_budget_shown_and_stored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "bot.db"
    repo = Repository(f"sqlite+aiosqlite:///{db}")
    await repo.initialize()
    try:
        eng = engine(repo, repo)
        caplog.set_level(logging.INFO, logger="kalbot.engine")
        assert (await eng.run_cycle()).ai_budget == D(10)  # none set: the configured one
        await repo.set_ai_budget(D("2.5"), NOW)  # another process: `kalbot ai budget --set`
        s = await eng.run_cycle()
        assert s.ai_budget == D("2.5") and "AI $0.00/$2.50" in s.line()
        assert "AI $0.00/$2.50" in caplog.text
        await repo.set_ai_budget(D(0), NOW)  # zero is a budget (no AI), not "unset"
        assert (await eng.run_cycle()).ai_budget == D(0)
        await repo.set_ai_budget(None, NOW)  # cleared: the configured one again
        assert (await eng.run_cycle()).ai_budget == D(10)
    finally:
        await repo.close()
    with sqlite3.connect(db) as conn:
        stored = conn.execute("SELECT id, ai_budget FROM cycles ORDER BY id").fetchall()
    assert [(i, Decimal(str(b))) for i, b in stored] == [
        (1, D(10)), (2, D("2.5")), (3, D(0)), (4, D(10))
    ]  # fmt: skip


class BrokenBudget:
    """A store whose spend reads work but whose budget read fails (e.g. a lost connection)."""

    async def ai_spend(self, day: date, now: datetime) -> tuple[Decimal, Decimal]:
        return D("0.25"), D(0)

    async def ai_budget_override(self) -> Decimal | None:
        raise ConnectionError("database went away")


async def test_a_failed_budget_lookup_never_stops_the_cycle(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    repo = Repository(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    await repo.initialize()
    try:
        s = await engine(repo, BrokenBudget()).run_cycle()
    finally:
        await repo.close()
    assert s.ai_spend_today == D("0.25") and s.ai_budget == D(10) and s.errors == 0
    assert "AI budget lookup failed" in caplog.text
