"""The dashboard shows the AI budget in force: a `kalbot ai budget --set` override, else config."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from kalbot.adapters.store.repository import Repository

from .conftest import make_client
from .seed import NOW, seed

D = Decimal
SET_AT = NOW - timedelta(hours=2)
SPENT_TODAY = D("0.0413")  # the seed's spend today (see test_api), nothing reserved


async def _set_budget(url: str, amount: Decimal | None) -> Decimal | None:
    """Set or clear the override the way `kalbot ai budget` does; what the analyst reads back."""
    repo = Repository(url)
    await repo.initialize()
    try:
        await repo.set_ai_budget(amount, SET_AT)
        return await repo.ai_budget_override()
    finally:
        await repo.close()


def _gauges(client: TestClient) -> dict[str, float]:
    text_ = client.get("/metrics").text
    return {s.name: s.value for f in text_string_to_metric_families(text_) for s in f.samples}


def _visible(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
def seeded_fresh(db_url: str) -> str:
    """A seeded database of each dialect that this test alone may change."""
    asyncio.run(seed(db_url))
    return db_url


def test_an_override_is_the_budget_shown_everywhere_with_when_it_was_set(
    seeded_fresh: str, exports: Path
) -> None:
    in_force = asyncio.run(_set_budget(seeded_fresh, D("2.5")))
    assert in_force == D("2.5")
    with make_client(seeded_fresh, exports, ai_budget=D("10")) as c:
        costs = c.get("/api/v1/costs").json()
        assert D(costs["budget"]) == in_force and costs["budget_source"] == "override"
        assert costs["budget_set_at"] == "2026-11-25T13:00:00Z"
        assert D(costs["configured_budget"]) == D("10")
        assert D(costs["remaining"]) == D("2.5") - SPENT_TODAY == D("2.4587")

        s = c.get("/api/v1/status").json()
        assert D(s["ai_budget"]) == D("2.5") and s["ai_budget_source"] == "override"
        assert s["ai_budget_set_at"] == "2026-11-25T13:00:00Z"
        assert D(s["ai_budget_remaining"]) == D("2.4587")

        overview = _visible(c.get("/").text)
        assert "of $2.50" in overview and "of $10.00" not in overview
        assert "budget set in the database 2026-11-25 13:00:00 UTC" in overview
        analyses = _visible(c.get("/analyses").text)
        assert "of $2.50" in analyses
        assert "budget set in the database 2026-11-25 13:00:00 UTC (config: $10.00)" in analyses

        gauges = _gauges(c)
        assert gauges["kalbot_ai_budget_dollars"] == 2.5
        assert gauges["kalbot_ai_budget_override"] == 1.0


def test_clearing_the_override_brings_the_config_budget_back(
    seeded_fresh: str, exports: Path
) -> None:
    asyncio.run(_set_budget(seeded_fresh, D("2.5")))
    with make_client(seeded_fresh, exports, ai_budget=D("10")) as c:
        assert c.get("/api/v1/costs").json()["budget_source"] == "override"
        # The same running dashboard: the override is read on every request, never cached.
        assert asyncio.run(_set_budget(seeded_fresh, None)) is None
        costs = c.get("/api/v1/costs").json()
        assert (D(costs["budget"]), costs["budget_source"], costs["budget_set_at"]) == (
            D("10"),
            "config",
            None,
        )
        assert D(costs["remaining"]) == D("10") - SPENT_TODAY
        assert "budget from the config" in _visible(c.get("/").text)
        assert _gauges(c)["kalbot_ai_budget_override"] == 0.0


@pytest.mark.parametrize(
    ("amount", "shown", "remaining"),
    [(D("0"), D("0"), D("0")), (D("1.234567"), D("1.234567"), D("1.193267"))],
    ids=["zero-stops-paid-calls", "micro-dollars"],
)
def test_an_override_is_shown_exactly_as_stored(
    seeded_fresh: str, exports: Path, amount: Decimal, shown: Decimal, remaining: Decimal
) -> None:
    asyncio.run(_set_budget(seeded_fresh, amount))
    with make_client(seeded_fresh, exports) as c:
        costs = c.get("/api/v1/costs").json()
        assert (D(costs["budget"]), costs["budget_source"]) == (shown, "override")
        assert D(costs["remaining"]) == remaining
        assert c.get("/").status_code == 200


def test_a_database_from_before_the_override_table_shows_the_config_budget(
    seeded_fresh: str, exports: Path
) -> None:
    async def drop() -> None:
        repo = Repository(seeded_fresh)
        await repo.initialize()
        try:
            async with repo.engine.begin() as conn:
                await conn.execute(text("DROP TABLE ai_budget_limit"))
        finally:
            await repo.close()

    asyncio.run(drop())
    with make_client(seeded_fresh, exports, ai_budget=D("7")) as c:
        costs = c.get("/api/v1/costs").json()
        assert (D(costs["budget"]), costs["budget_source"]) == (D("7"), "config")
        assert c.get("/api/v1/status").json()["ai_budget_source"] == "config"
