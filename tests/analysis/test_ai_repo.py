"""The AIStore contract on SQLite and PostgreSQL, and the budget under real concurrency."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text

from analysis.helpers import NOW, D, context, llm_analyst, reply, worst_case_fake
from kalbot.adapters.llm.fake import FakeCompletionClient
from kalbot.adapters.store.repository import Repository
from kalbot.analysis.budget import BUDGET_EXHAUSTED
from kalbot.domain.clock import ManualClock
from kalbot.domain.decisions import Analysis, Decision
from kalbot.domain.errors import StoreError
from kalbot.domain.snapshot import Snapshot

SRC = Path(__file__).resolve().parents[2] / "src"


async def test_an_analysis_row_and_its_cost_are_written_together(repo: Repository) -> None:
    clock = ManualClock(NOW)
    client = FakeCompletionClient([reply("0.60")], input_tokens=1000, output_tokens=200)
    a = await llm_analyst(client, repo, clock).analyze(context())
    async with repo.connection("t") as conn:
        row = (await conn.execute(text("SELECT * FROM market_analyses"))).mappings().one()
        cost = (await conn.execute(text("SELECT * FROM ai_cost_tracking"))).mappings().one()
        left = (await conn.execute(text("SELECT count(*) FROM ai_budget_reservations"))).scalar()
    assert row["ai_provider"] == "fake" and row["decision"] == "OPEN_YES"
    assert row["cost"] == pytest.approx(0.004) and row["analysis_text"] == "because"
    meta = json.loads(row["metadata"])
    assert meta["model"] == "fake-model" and meta["input_tokens"] == 1000
    assert meta["output_tokens"] == 200 and meta["probability_yes"] == "0.60"
    assert meta["prompt_version"] and "latency_ms" in meta
    assert cost["date"] == "2026-11-25" and cost["num_calls"] == 1
    assert cost["total_cost"] == pytest.approx(0.004) and left == 0
    assert await repo.ai_spend(NOW.date(), NOW) == (D("0.004"), D(0))
    assert a.cost == D("0.004")


async def test_a_failed_cost_write_leaves_no_analysis_row(repo: Repository) -> None:
    # Break the second statement of the transaction: the first must be rolled back with it.
    async with repo.transaction("t") as conn:
        await conn.execute(text("ALTER TABLE ai_cost_tracking RENAME TO ai_cost_gone"))
    paid = Analysis("T", D("0.5"), Decision.SKIP, D("0.5"), "", "p", "m", cost=D("0.01"))
    with pytest.raises(StoreError):
        await repo.record_analysis(paid, timestamp=NOW)
    async with repo.connection("t") as conn:
        assert (await conn.execute(text("SELECT count(*) FROM market_analyses"))).scalar() == 0


async def test_reservations_count_until_settled_released_or_expired(repo: Repository) -> None:
    day = NOW.date()
    r1 = await repo.reserve_ai_budget(
        day=day,
        provider="p",
        model="m",
        amount=D("0.6"),
        budget=D("1"),
        now=NOW,
        expires_at=NOW + timedelta(minutes=5),
    )
    assert r1 is not None
    assert await repo.ai_spend(day, NOW) == (D(0), D("0.6"))
    kw = {"day": day, "provider": "p", "model": "m", "amount": D("0.5"), "budget": D("1")}
    assert await repo.reserve_ai_budget(**kw, now=NOW, expires_at=NOW) is None  # type: ignore[arg-type]
    await repo.release_ai_budget(r1)
    later = NOW + timedelta(minutes=1)
    r2 = await repo.reserve_ai_budget(**kw, now=later, expires_at=later + timedelta(minutes=1))  # type: ignore[arg-type]
    assert r2 is not None
    # A crashed caller's reservation lapses at its expiry.
    after = later + timedelta(minutes=2)
    assert await repo.ai_spend(day, after) == (D(0), D(0))
    assert await repo.reserve_ai_budget(**kw, now=after, expires_at=after) is not None  # type: ignore[arg-type]


async def test_fifty_concurrent_analyses_with_budget_for_ten_make_ten_calls(
    repo: Repository,
) -> None:
    clock = ManualClock(NOW)
    client, worst = worst_case_fake(delay_seconds=0.005)
    analyst = llm_analyst(client, repo, clock, budget=worst * 10 + worst / 2)
    results = await asyncio.gather(*(analyst.analyze(context()) for _ in range(50)))
    assert len(client.calls) == 10
    assert sum(r.error == BUDGET_EXHAUSTED for r in results) == 40
    spent, reserved = await repo.ai_spend(NOW.date(), NOW)
    assert spent == worst * 10 and reserved == 0
    costs = await repo.ai_costs(NOW.date(), NOW.date())
    # 50 rows, but only the 10 calls that were made count as calls.
    assert [(c.provider, c.num_calls) for c in costs] == [("fake", 10)]
    async with repo.connection("t") as conn:
        assert (await conn.execute(text("SELECT count(*) FROM market_analyses"))).scalar() == 50


async def test_budget_rollover_and_raise_are_read_from_the_database(repo: Repository) -> None:
    clock = ManualClock(NOW.replace(hour=23, minute=59, second=59))
    client, worst = worst_case_fake()
    budget = [worst]
    analyst = llm_analyst(client, repo, clock, budget=budget)
    assert (await analyst.analyze(context())).error is None
    assert (await analyst.analyze(context())).error == BUDGET_EXHAUSTED
    budget[0] = worst * 2
    assert (await analyst.analyze(context())).error is None
    assert (await analyst.analyze(context())).error == BUDGET_EXHAUSTED
    clock.advance(timedelta(seconds=1))
    assert (await analyst.analyze(context())).error is None
    costs = await repo.ai_costs(NOW.date(), NOW.date() + timedelta(days=1))
    assert [(c.day.isoformat(), c.total_cost) for c in costs] == [
        ("2026-11-26", worst),
        ("2026-11-25", worst * 2),
    ]


async def test_a_budget_set_in_the_database_wins_at_once_and_can_be_cleared(
    repo: Repository,
) -> None:
    clock = ManualClock(NOW)
    client, worst = worst_case_fake()
    analyst = llm_analyst(client, repo, clock, budget=worst)
    assert (await analyst.analyze(context())).error is None
    assert (await analyst.analyze(context())).error == BUDGET_EXHAUSTED
    await repo.set_ai_budget(worst * 3, NOW)  # e.g. `kalbot ai budget --set` from elsewhere
    assert await repo.ai_budget_override() == worst * 3
    assert await repo.ai_budget_override_set() == (worst * 3, NOW)
    assert (await analyst.analyze(context())).error is None
    assert (await analyst.analyze(context())).error is None
    assert (await analyst.analyze(context())).error == BUDGET_EXHAUSTED
    await repo.set_ai_budget(D(0), NOW)
    await repo.set_ai_budget(None, NOW)  # back to the settings' budget
    assert await repo.ai_budget_override() is None
    assert await repo.ai_budget_override_set() is None
    assert (await analyst.analyze(context())).error == BUDGET_EXHAUSTED
    assert len(client.calls) == 3


async def test_the_cache_reads_back_the_stored_analysis(repo: Repository) -> None:
    clock = ManualClock(NOW)
    client = FakeCompletionClient([reply("0.61")])
    analyst = llm_analyst(client, repo, clock, reanalyze_after=timedelta(hours=1))
    await analyst.analyze(context())
    clock.advance(timedelta(minutes=5))
    again = await analyst.analyze(context())
    assert len(client.calls) == 1 and again.metadata["cached"] is True
    assert again.probability_yes == D("0.61") and again.cost == 0
    stored = await repo.latest_analysis(context().market.ticker, "fake")
    assert stored is not None and stored.timestamp == NOW
    assert await repo.latest_analysis(context().market.ticker, "other") is None


async def test_resolved_observations_come_from_snapshot_metadata(repo: Repository) -> None:
    close = NOW + timedelta(hours=10)

    def snap(ticker: str, hours: int, meta: dict[str, str]) -> Snapshot:
        return Snapshot(
            timestamp=NOW + timedelta(hours=hours),
            ticker=ticker,
            title=None,
            last_price=None,
            yes_bid=0.30,
            yes_ask=0.34,
            no_bid=0.66,
            no_ask=0.70,
            volume_24h=10,
            open_interest=10,
            close_time=close.isoformat(),
            category="X",
            metadata=meta,
        )

    await repo.add_snapshots(
        [
            snap("A", 0, {}),
            snap("A", 1, {"result": "yes"}),
            snap("B", 0, {}),
            snap("C", 0, {"result": "void"}),
        ]
    )
    obs = await repo.resolved_observations()
    assert [(o.ticker, o.result_yes, o.yes_bid) for o in obs] == [
        ("A", True, D("0.3")),
        ("A", True, D("0.3")),
    ]


CHILD = textwrap.dedent(
    """
    import asyncio, pathlib, sys, time
    sys.path.insert(0, {tests!r})
    from analysis.helpers import NOW, context, llm_analyst, worst_case_fake
    from kalbot.adapters.store.repository import Repository
    from kalbot.domain.clock import ManualClock

    async def main() -> None:
        repo = Repository({url!r})
        await repo.initialize(upgrade=False)
        client, worst = worst_case_fake(delay_seconds=0.01)
        analyst = llm_analyst(client, repo, ManualClock(NOW), budget=worst * 10 + worst / 2)
        # Barrier: start only when every process is ready, so they really compete.
        barrier = pathlib.Path({barrier!r})
        (barrier / sys.argv[1]).touch()
        deadline = time.monotonic() + 90
        while len(list(barrier.iterdir())) < {n} and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await asyncio.gather(*(analyst.analyze(context()) for _ in range(15)))
        await repo.close()
        print(len(client.calls))

    asyncio.run(main())
    """
)


def test_several_processes_sharing_postgresql_never_overshoot_the_budget(
    postgres_url: str, tmp_path: Path
) -> None:
    async def prepare() -> None:
        r = Repository(postgres_url)
        await r.initialize()
        await r.close()

    asyncio.run(prepare())
    tests = str(Path(__file__).resolve().parents[1])
    n = 3
    script = CHILD.format(tests=tests, url=postgres_url, barrier=str(tmp_path), n=n)
    env = dict(os.environ, PYTHONPATH=str(SRC))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, f"p{i}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        for i in range(n)
    ]
    calls = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()[-2000:]
        calls.append(int(out.decode().split()[-1]))
    assert sum(calls) == 10, calls  # 45 analyses in 3 processes, budget for 10

    async def check() -> tuple[Decimal, int]:
        r = Repository(postgres_url)
        await r.initialize()
        try:
            spent, _ = await r.ai_spend(NOW.date(), NOW)
            async with r.connection("t") as conn:
                n = (await conn.execute(text("SELECT count(*) FROM market_analyses"))).scalar()
            return spent, int(n or 0)
        finally:
            await r.close()

    spent, rows = asyncio.run(check())
    _, worst = worst_case_fake()
    assert spent == worst * 10 and rows == 45
