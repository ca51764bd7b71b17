"""Cost of the hard AI budget: analyses through the guard vs the same rows written unguarded.

    .venv/bin/python benchmarks/bench_analyst.py [--analyses 400] [--skip-postgres]

Baseline (same run, same database): what a bot without a budget writes per analysis - the
``market_analyses`` row and the ``ai_cost_tracking`` upsert (``add_market_analysis`` +
``add_ai_cost``). Ours: the full ``LLMAnalyst.analyze`` path against a zero-latency fake model -
cache lookup, worst-case reservation under the day lock, reply parsing, decision, and the
row + cost + settlement transaction. Sequential and with 20 concurrent tasks. The ratio is
ours/baseline in analyses per second; the goal (>= 0.33) says the guard may cost at most about
three times the bare writes, which is negligible next to a model call of ~1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from tempfile import TemporaryDirectory

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ratio, report

from kalbot.adapters.llm.fake import FakeCompletionClient
from kalbot.adapters.store.repository import Repository
from kalbot.analysis.budget import BudgetGuard
from kalbot.analysis.costs import CostTable, TokenPrice
from kalbot.analysis.service import AnalystConfig, LLMAnalyst
from kalbot.domain.clock import ManualClock
from kalbot.domain.context import MarketContext
from kalbot.domain.decisions import Decision
from kalbot.domain.market import Market, MarketStatus, Quote

ADMIN = os.environ.get("KALBOT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
GOAL = 0.33
REPLY = '{"probability_yes": 0.6, "confidence": 0.7, "decision": "OPEN_YES", "rationale": "x"}'


def ctx(i: int) -> MarketContext:
    m = Market(
        ticker=f"BENCH-{i}",
        event_ticker="BENCH",
        title="Benchmark market",
        status=MarketStatus.ACTIVE,
        quote=Quote(Decimal("0.40"), Decimal("0.42")),
        close_time=NOW + timedelta(days=1),
    )
    return MarketContext(market=m, now=NOW)


async def baseline(repo: Repository, n: int, concurrency: int) -> float:
    async def one(i: int) -> None:
        await repo.add_market_analysis(
            ticker=f"BASE-{i}",
            ai_provider="fake",
            cost=Decimal("0.0042"),
            timestamp=NOW,
            decision=Decision.OPEN_YES,
            confidence=Decimal("0.7"),
            analysis_text="x",
            metadata={"model": "fake-model", "input_tokens": 100, "output_tokens": 50},
        )
        await repo.add_ai_cost(NOW.date(), "fake", Decimal("0.0042"))

    return await _run(one, n, concurrency)


async def guarded(repo: Repository, n: int, concurrency: int) -> float:
    clock = ManualClock(NOW)
    costs = CostTable({"fake-model": TokenPrice(Decimal("2"), Decimal("10"))})
    guard = BudgetGuard(repo, clock, lambda: Decimal(1_000_000))
    client = FakeCompletionClient([REPLY])
    analyst = LLMAnalyst(client, costs, guard, repo, clock, AnalystConfig())
    tag = uuid.uuid4().hex[:6]

    async def one(i: int) -> None:
        a = await analyst.analyze(ctx(hash((tag, i))))
        if a.error is not None:
            raise RuntimeError(f"benchmark analysis failed: {a.error}")

    return await _run(one, n, concurrency)


async def _run(one: object, n: int, concurrency: int) -> float:
    assert callable(one)
    queue = list(range(n))

    async def worker() -> None:
        while queue:
            await one(queue.pop())

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start


async def bench(name: str, url: str, n: int) -> list[bool]:
    repo = Repository(url)
    await repo.initialize()
    oks = []
    try:
        for conc in (1, 20):
            base_s = await baseline(repo, n, conc)
            ours_s = await guarded(repo, n, conc)
            b = report(f"{name} unguarded writes, {conc} task(s)", n, base_s, "analyses")
            o = report(f"{name} guarded analyses, {conc} task(s)", n, ours_s, "analyses")
            oks.append(ratio(f"{name} guarded/unguarded, {conc} task(s)", o, b, GOAL))
    finally:
        await repo.close()
    return oks


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--analyses", type=int, default=400)
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    oks: list[bool] = []
    with TemporaryDirectory() as tmp:
        oks += await bench("sqlite", f"sqlite+aiosqlite:///{tmp}/bench.db", args.analyses)
    if not args.skip_postgres:
        import asyncpg

        db = f"kalbot_bench_{uuid.uuid4().hex[:10]}"
        admin = await asyncpg.connect(ADMIN, timeout=5)
        await admin.execute(f'CREATE DATABASE "{db}"')
        try:
            base = ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
            oks += await bench("postgresql", f"{base}/{db}", args.analyses)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            await admin.close()
    return 0 if all(oks) else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
