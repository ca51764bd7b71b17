"""The batched heuristic path (one cache read, one write transaction per cycle) gives the same
analyses and the same stored rows as analysing market by market; the new store methods on
SQLite, PostgreSQL and in memory."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from analysis.helpers import NOW, D, context, market, with_quote
from kalbot.adapters.store.repository import Repository
from kalbot.analysis.heuristic import HeuristicParams
from kalbot.analysis.memory import InMemoryAIStore
from kalbot.analysis.service import AnalystConfig, HeuristicAnalyst
from kalbot.domain.ai import StoredAnalysis
from kalbot.domain.clock import ManualClock
from kalbot.domain.context import MarketContext
from kalbot.domain.decisions import Analysis, Decision
from kalbot.domain.prices import Side
from kalbot.ports import AIStore


async def _repo(url: str) -> Repository:
    r = Repository(url)
    await r.initialize()
    return r


def _contexts(now: datetime, moved: bool = False) -> list[MarketContext]:
    """YES-cheap, NO-cheap, held YES, held NO, one-sided (no mid) and a wide book."""
    quotes = [("0.20", "0.22"), ("0.80", "0.82"), ("0.45", "0.47"), ("0.55", "0.57")]
    out = []
    for i, (bid, ask) in enumerate(quotes):
        m = market(bid, ask, ticker=f"KXB-{i}", now=now)
        if moved and i % 2 == 0:  # these two moved more than the 3c reuse threshold
            m = with_quote(m, str(D(bid) + D("0.05")), str(D(ask) + D("0.05")))
        held = Side.YES if i == 2 else Side.NO if i == 3 else None
        out.append(context(m, held=held, now=now))
    out.append(context(market(None, "0.50", ticker="KXB-ONESIDED", now=now), now=now))
    out.append(context(market("0.10", "0.90", ticker="KXB-WIDE", now=now), now=now))
    return out


def _analyst(store: AIStore, clock: ManualClock) -> HeuristicAnalyst:
    return HeuristicAnalyst(store, clock, AnalystConfig(), lambda: HeuristicParams(b=1.3))


def _comparable(a: Analysis | Exception) -> Any:
    """An analysis without its measured latency (wall time differs run to run)."""
    assert isinstance(a, Analysis)
    meta = {k: v for k, v in a.metadata.items() if k != "latency_ms"}
    return (
        a.ticker,
        a.probability_yes,
        a.decision,
        a.confidence,
        a.rationale,
        a.provider,
        a.model,
        a.cost,
        a.error,
        sorted(meta.items(), key=lambda kv: kv[0]),
    )


async def _two_cycles(store: AIStore, batched: bool) -> list[list[Analysis | Exception]]:
    """A first cycle (all fresh), then 30 minutes later with some markets moved (cache)."""
    clock = ManualClock(NOW)
    analyst = _analyst(store, clock)
    out = []
    for now, moved in ((NOW, False), (NOW + timedelta(minutes=30), True)):
        clock.set(now)
        contexts = _contexts(now, moved)
        if batched:
            out.append(await analyst.analyze_many(contexts))
        else:
            out.append([await analyst.analyze(c) for c in contexts])
    return out


async def _rows(r: Repository) -> list[tuple[Any, ...]]:
    async with r.connection("t") as conn:
        rows = (await conn.execute(text("SELECT * FROM market_analyses ORDER BY id"))).mappings()
        out = []
        for row in rows:
            meta = json.loads(row["metadata"])
            meta.pop("latency_ms")
            out.append(
                (
                    row["ticker"],
                    row["timestamp"],
                    row["decision"],
                    row["confidence"],
                    row["cost"],
                    row["analysis_text"],
                    sorted(meta.items()),
                )
            )
        costs = (
            await conn.execute(
                text(
                    "SELECT date, provider, total_cost, num_calls "
                    "FROM ai_cost_tracking ORDER BY date, provider"
                )
            )
        ).all()
    return [*out, *[tuple(c) for c in costs]]


async def test_batched_cycles_equal_market_by_market_in_memory() -> None:
    one, many = InMemoryAIStore(), InMemoryAIStore()
    per_call = await _two_cycles(one, batched=False)
    batched = await _two_cycles(many, batched=True)
    assert [[_comparable(a) for a in c] for c in batched] == [
        [_comparable(a) for a in c] for c in per_call
    ]
    second = batched[1]
    cached = {a.ticker for a in second if isinstance(a, Analysis) and a.metadata.get("cached")}
    # Unmoved markets are reused; moved ones and the failed (no-mid) one are analysed again.
    assert cached == {"KXB-1", "KXB-3", "KXB-WIDE"}
    assert len(one.rows) == len(many.rows) == 9 and one.costs == many.costs
    decisions = {a.decision for c in batched for a in c if isinstance(a, Analysis)}
    assert Decision.SKIP in decisions and len(decisions) > 1


async def test_batched_cycles_store_the_same_rows_in_the_database(db_url: str) -> None:
    one = await _repo(db_url)
    try:
        per_call = await _two_cycles(one, batched=False)
        rows_one = await _rows(one)
        async with one.transaction("t") as conn:  # the same database, emptied
            await conn.execute(text("DELETE FROM market_analyses"))
            await conn.execute(text("DELETE FROM ai_cost_tracking"))
        batched = await _two_cycles(one, batched=True)
        rows_many = await _rows(one)
    finally:
        await one.close()
    assert [[_comparable(a) for a in c] for c in batched] == [
        [_comparable(a) for a in c] for c in per_call
    ]
    assert rows_many == rows_one and len(rows_one) == 9 + 1


async def test_a_failed_batch_write_makes_every_fresh_analysis_untradeable() -> None:
    class Broken(InMemoryAIStore):
        async def record_analyses(self, items: Sequence[tuple[Analysis, datetime]]) -> list[int]:
            raise RuntimeError("disk full")

    out = await _analyst(Broken(), ManualClock(NOW)).analyze_many(_contexts(NOW))
    assert all(isinstance(a, Analysis) and a.decision is Decision.SKIP for a in out)
    assert {a.error for a in out if isinstance(a, Analysis)} == {"analysis_not_recorded"}


async def test_a_store_without_batch_methods_is_used_market_by_market() -> None:
    class Plain:
        def __init__(self) -> None:
            self.inner = InMemoryAIStore()
            self.latest_analysis = self.inner.latest_analysis
            self.record_analysis = self.inner.record_analysis

    plain = Plain()
    out = await _analyst(plain, ManualClock(NOW)).analyze_many(_contexts(NOW))  # type: ignore[arg-type]
    assert len(plain.inner.rows) == len(out) == 6


async def test_record_analyses_writes_rows_and_calls_in_one_go(repo: Repository) -> None:
    free = Analysis("KXB-1", D("0.3"), Decision.SKIP, D("0.8"), "r", "heuristic", "m")
    refused = Analysis(
        "KXB-2", None, Decision.SKIP, D(0), "x", "heuristic", "m", metadata={"call_made": False}
    )
    ids = await repo.record_analyses([(free, NOW), (refused, NOW), (free, NOW + timedelta(1))])
    assert len(ids) == 3 and ids == sorted(ids) and len(set(ids)) == 3
    assert await repo.record_analyses([]) == []
    async with repo.connection("t") as conn:
        costs = (
            await conn.execute(
                text("SELECT date, num_calls, total_cost FROM ai_cost_tracking ORDER BY date")
            )
        ).all()
        n = (await conn.execute(text("SELECT count(*) FROM market_analyses"))).scalar()
    assert n == 3
    assert [(c[0], c[1], c[2]) for c in costs] == [("2026-11-25", 1, 0), ("2026-11-26", 1, 0)]
    got = await repo.latest_analysis("KXB-1", "heuristic")
    assert got is not None and got.timestamp == NOW + timedelta(1)


async def test_record_analyses_refuses_a_paid_analysis_and_writes_nothing(
    repo: Repository,
) -> None:
    free = Analysis("KXB-1", D("0.3"), Decision.SKIP, D("0.8"), "r", "heuristic", "m")
    paid = Analysis("KXB-2", D("0.3"), Decision.SKIP, D("0.8"), "r", "llm", "m", cost=D("0.01"))
    with pytest.raises(ValueError, match="free analyses only"):
        await repo.record_analyses([(free, NOW), (paid, NOW)])
    async with repo.connection("t") as conn:
        assert (await conn.execute(text("SELECT count(*) FROM market_analyses"))).scalar() == 0


async def test_latest_analyses_matches_latest_analysis_per_ticker(repo: Repository) -> None:
    def a(t: str, p: str | None, provider: str = "heuristic") -> Analysis:
        return Analysis(t, None if p is None else D(p), Decision.SKIP, D("0.5"), "", provider, "m")

    await repo.record_analysis(a("A", "0.2"), timestamp=NOW - timedelta(hours=3))
    await repo.record_analysis(a("A", "0.3"), timestamp=NOW - timedelta(minutes=10))
    await repo.record_analysis(a("A", None), timestamp=NOW)  # a failure: never the cache
    await repo.record_analysis(a("B", "0.6", "other"), timestamp=NOW)
    await repo.record_analysis(a("B", "0.7"), timestamp=NOW - timedelta(hours=2))
    await repo.record_analysis(a("C", None), timestamp=NOW)
    tickers = ["A", "B", "C", "D"]
    for provider in ("heuristic", "other", None):
        got = await repo.latest_analyses(tickers, provider)
        each = {t: await repo.latest_analysis(t, provider) for t in tickers}
        assert got == {t: s for t, s in each.items() if s is not None}
    recent = await repo.latest_analyses(tickers, "heuristic", since=NOW - timedelta(hours=1))
    assert set(recent) == {"A"} and recent["A"].analysis.probability_yes == D("0.3")
    assert await repo.latest_analyses([], "heuristic") == {}


def _scan(rows: list[tuple[datetime, Analysis]], t: str, p: str | None) -> StoredAnalysis | None:
    """The old linear scan, as the reference."""
    for ts, a in reversed(rows):
        if (p is None or a.provider == p) and a.ticker == t and a.probability_yes is not None:
            return StoredAnalysis(a, ts)
    return None


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["A", "B", "C"]),
            st.sampled_from(["heuristic", "llm"]),
            st.booleans(),
            st.integers(0, 100),
        ),
        max_size=25,
    )
)
async def test_in_memory_latest_equals_the_scan(ops: list[tuple[str, str, bool, int]]) -> None:
    store = InMemoryAIStore()
    for t, provider, has_p, minutes in ops:
        p = D("0.4") if has_p else None
        an = Analysis(t, p, Decision.SKIP, D("0.5"), str(minutes), provider, "m")
        await store.record_analysis(an, timestamp=NOW + timedelta(minutes=minutes))
    for t in ("A", "B", "C", "Z"):
        for wanted in ("heuristic", "llm", None):
            assert await store.latest_analysis(t, wanted) == _scan(store.rows, t, wanted)
        many = await store.latest_analyses([t], "heuristic")
        assert many.get(t) == _scan(store.rows, t, "heuristic")


async def test_parameters_are_read_once_per_cycle_and_a_bad_file_fails_each_market() -> None:
    reads = []

    def params() -> HeuristicParams:
        reads.append(1)
        return HeuristicParams(b=1.3)

    analyst = HeuristicAnalyst(InMemoryAIStore(), ManualClock(NOW), AnalystConfig(), params)
    out = await analyst.analyze_many(_contexts(NOW))
    assert len(reads) == 1 and sum(isinstance(a, Analysis) for a in out) == 6

    def broken() -> HeuristicParams:
        raise ValueError("corrupt parameters file")

    store = InMemoryAIStore()
    bad = HeuristicAnalyst(store, ManualClock(NOW), AnalystConfig(), broken)
    batched = await bad.analyze_many(_contexts(NOW))
    single = [await bad.analyze(c) for c in _contexts(NOW)]
    assert [_comparable(a) for a in batched] == [_comparable(a) for a in single]
    errors = {a.error for a in batched if isinstance(a, Analysis)}
    assert errors == {"analyst_exception"}
