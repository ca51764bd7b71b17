from __future__ import annotations

import asyncio
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.helpers import (
    NOW,
    D,
    context,
    llm_analyst,
    market,
    reply,
    with_quote,
    worst_case_fake,
)
from kalbot.adapters.llm.fake import FakeCompletionClient
from kalbot.analysis.budget import BUDGET_EXHAUSTED
from kalbot.analysis.costs import CostTable
from kalbot.analysis.heuristic import HeuristicParams
from kalbot.analysis.memory import InMemoryAIStore
from kalbot.analysis.prompt import PROMPT_VERSION
from kalbot.analysis.service import AnalystConfig, EnsembleAnalyst, HeuristicAnalyst
from kalbot.domain.ai import LLMRateLimited, LLMRefusal, LLMTimeout, StoredAnalysis
from kalbot.domain.clock import ManualClock
from kalbot.domain.decisions import Analysis, Decision
from kalbot.domain.prices import Side


async def test_a_model_reply_becomes_a_recorded_decision_with_exact_cost() -> None:
    store, clock = InMemoryAIStore(), ManualClock(NOW)
    client = FakeCompletionClient([reply("0.60")], input_tokens=1000, output_tokens=200)
    a = await llm_analyst(client, store, clock).analyze(context(market("0.40", "0.42")))
    assert a.decision is Decision.OPEN_YES and a.probability_yes == D("0.60")
    assert a.cost == D("0.004")  # 1000 * 2/1e6 + 200 * 10/1e6
    assert a.metadata["prompt_version"] == PROMPT_VERSION
    assert a.metadata["model"] == "fake-model" and a.metadata["input_tokens"] == 1000
    assert store.rows[-1][1] is a
    assert store.costs[(NOW.date(), "fake")] == (D("0.004"), 1)
    assert not store.reservations  # settled


async def test_the_decision_is_the_rules_not_the_models_opinion() -> None:
    store, clock = InMemoryAIStore(), ManualClock(NOW)
    # The model says OPEN_YES but its probability is below the NO-side break-even.
    client = FakeCompletionClient([reply("0.20", decision="OPEN_YES")])
    a = await llm_analyst(client, store, clock).analyze(context(market("0.40", "0.42")))
    assert a.decision is Decision.OPEN_NO
    assert a.metadata["model_decision"] == "OPEN_YES"


async def test_a_model_that_abstains_is_skipped_but_a_held_position_can_still_close() -> None:
    store, clock = InMemoryAIStore(), ManualClock(NOW)
    client = FakeCompletionClient([reply("0.10", decision="SKIP")])
    analyst = llm_analyst(client, store, clock)
    assert (await analyst.analyze(context())).metadata["reason"] == "model_abstained"
    closed = await analyst.analyze(context(held=Side.YES))
    assert closed.decision is Decision.CLOSE


async def test_provider_errors_are_skips_with_the_reason_and_billed_usage_recorded() -> None:
    store, clock = InMemoryAIStore(), ManualClock(NOW)
    client = FakeCompletionClient(
        [
            LLMRateLimited("429"),
            LLMTimeout("slow"),
            LLMRefusal("no", model="fake-model", input_tokens=500, output_tokens=10),
        ]
    )
    analyst = llm_analyst(client, store, clock)
    results = [await analyst.analyze(context()) for _ in range(3)]
    assert [r.error for r in results] == ["llm_rate_limited", "llm_timeout", "llm_refusal"]
    assert all(r.decision is Decision.SKIP and r.probability_yes is None for r in results)
    assert results[0].cost == 0  # a 429 is not billed
    # A timeout may be billed after all: the reserved worst case is booked.
    assert results[1].cost == D(results[1].metadata["reserved"]) > 0
    assert results[1].metadata["cost_estimated"] is True
    assert results[2].cost == D("0.0011")  # the refusal was billed
    assert len(store.rows) == 3 and not store.reservations


async def test_an_unexpected_exception_in_a_client_is_isolated() -> None:
    class Broken(FakeCompletionClient):
        async def complete(self, request):  # type: ignore[no-untyped-def]
            raise KeyError("surprise")

    store, clock = InMemoryAIStore(), ManualClock(NOW)
    a = await llm_analyst(Broken(), store, clock).analyze(context())
    assert a.decision is Decision.SKIP and a.error == "analyst_exception"
    assert "KeyError" in a.metadata["error_detail"] and len(store.rows) == 1


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.one_of(
        st.text(max_size=200),
        st.builds(lambda s, n: s[:n], st.just(reply("0.9")), st.integers(0, 60)),
        st.builds(reply, st.sampled_from(["1.5", "-0.2", "2", '"0.9"', "null", "1e9"])),
    )
)
def test_garbage_replies_always_give_a_stored_skip(text: str) -> None:
    async def run() -> tuple[Analysis, InMemoryAIStore]:
        store, clock = InMemoryAIStore(), ManualClock(NOW)
        client = FakeCompletionClient([text])
        return await llm_analyst(client, store, clock).analyze(context()), store

    a, store = asyncio.run(run())
    assert len(store.rows) == 1 and store.rows[0][1] is a
    if a.probability_yes is None:
        assert a.decision is Decision.SKIP and a.error and a.error.startswith("reply_")
        assert a.metadata["error"] == a.error
    else:  # the text happened to be a valid reply
        assert 0 <= a.probability_yes <= 1


async def test_fifty_concurrent_analyses_with_budget_for_ten_make_ten_calls() -> None:
    store, clock = InMemoryAIStore(), ManualClock(NOW)
    client, worst = worst_case_fake(delay_seconds=0.01)
    analyst = llm_analyst(client, store, clock, budget=worst * 10 + worst / 2)
    results = await asyncio.gather(*(analyst.analyze(context()) for _ in range(50)))
    assert len(client.calls) == 10
    assert sum(r.error == BUDGET_EXHAUSTED for r in results) == 40
    assert all(r.decision is Decision.SKIP for r in results if r.error == BUDGET_EXHAUSTED)
    assert store.costs[(NOW.date(), "fake")] == (worst * 10, 10)
    assert len(store.rows) == 50


async def test_raising_the_budget_takes_effect_on_the_next_call() -> None:
    store, clock = InMemoryAIStore(), ManualClock(NOW)
    client, worst = worst_case_fake()
    budget = [worst]
    analyst = llm_analyst(client, store, clock, budget=budget)
    assert (await analyst.analyze(context())).error is None
    assert (await analyst.analyze(context())).error == BUDGET_EXHAUSTED
    budget[0] = worst * 2
    assert (await analyst.analyze(context())).error is None
    assert len(client.calls) == 2


async def test_the_budget_rolls_over_at_midnight_utc() -> None:
    store = InMemoryAIStore()
    clock = ManualClock(NOW.replace(hour=23, minute=59))
    client, worst = worst_case_fake()
    analyst = llm_analyst(client, store, clock, budget=worst)
    assert (await analyst.analyze(context())).error is None
    clock.advance(timedelta(seconds=59))
    assert (await analyst.analyze(context())).error == BUDGET_EXHAUSTED
    clock.advance(timedelta(seconds=1))  # 00:00:00 UTC the next day
    assert (await analyst.analyze(context())).error is None
    days = sorted(d.isoformat() for d, _ in store.costs)
    assert days == ["2026-11-25", "2026-11-26"]


async def test_a_model_without_a_price_is_never_called() -> None:
    store, clock = InMemoryAIStore(), ManualClock(NOW)
    client = FakeCompletionClient([reply()])
    a = await llm_analyst(client, store, clock, costs=CostTable({})).analyze(context())
    assert a.error == "ai_price_unknown" and not client.calls


async def test_a_fresh_analysis_is_reused_until_it_ages_or_the_price_moves() -> None:
    store, clock = InMemoryAIStore(), ManualClock(NOW)
    client = FakeCompletionClient([reply("0.60")], input_tokens=1000, output_tokens=200)
    analyst = llm_analyst(client, store, clock, reanalyze_after=timedelta(hours=1))
    m = market("0.40", "0.42")
    first = await analyst.analyze(context(m))
    again = await analyst.analyze(context(with_quote(m, "0.41", "0.43")))
    assert len(client.calls) == 1 and again.cost == 0 and again.metadata["cached"] is True
    assert again.probability_yes == first.probability_yes
    # A move beyond the threshold forces a fresh call, judged against the new book.
    held = await analyst.analyze(context(with_quote(m, "0.70", "0.72"), held=Side.YES))
    assert len(client.calls) == 2 and held.decision is Decision.CLOSE  # moved 0.30 > 0.03
    clock.advance(timedelta(hours=1))
    await analyst.analyze(context(with_quote(m, "0.70", "0.72")))
    assert len(client.calls) == 3
    assert len(store.rows) == 3  # cache hits are not stored or charged


async def test_the_heuristic_analyst_is_free_and_recorded_like_any_provider() -> None:
    store, clock = InMemoryAIStore(), ManualClock(NOW)
    params = HeuristicParams(a=0.0, b=1.4, c=0.0)
    analyst = HeuristicAnalyst(store, clock, AnalystConfig(), lambda: params)
    a = await analyst.analyze(context(market("0.90", "0.91")))
    assert a.provider == "heuristic" and a.cost == 0 and a.probability_yes is not None
    assert a.decision is Decision.OPEN_YES
    assert store.costs[(NOW.date(), "heuristic")] == (D(0), 1)
    nomid = await analyst.analyze(context(market("0.40", None)))
    assert nomid.decision is Decision.SKIP and nomid.error == "no_mid_price"


async def test_an_ensemble_combines_members_in_log_odds_and_records_each_call() -> None:
    store, clock = InMemoryAIStore(), ManualClock(NOW)
    a1 = llm_analyst(FakeCompletionClient([reply("0.80")], provider="p1"), store, clock)
    a2 = llm_analyst(FakeCompletionClient([reply("0.20")], provider="p2"), store, clock)
    a3 = llm_analyst(FakeCompletionClient([LLMTimeout("x")], provider="p3"), store, clock)
    ens = EnsembleAnalyst([a1, a2, a3], store, clock, AnalystConfig())
    result = await ens.analyze(context())
    assert result.probability_yes == D("0.5") and result.cost == 0
    assert [m["provider"] for m in result.metadata["members"]] == ["p1", "p2", "p3"]
    assert {a.provider for _, a in store.rows} == {"p1", "p2", "p3", "ensemble"}
    assert D(result.metadata["members_cost"]) == sum(a.cost for _, a in store.rows)


async def test_an_analysis_that_cannot_be_stored_is_never_a_trade() -> None:
    class FailingStore(InMemoryAIStore):
        async def record_analysis(self, analysis, *, timestamp, reservation_id=None):  # type: ignore[no-untyped-def]
            raise ConnectionError("database down")

        async def latest_analysis(self, ticker, provider=None) -> StoredAnalysis | None:  # type: ignore[no-untyped-def]
            return None

    store, clock = FailingStore(), ManualClock(NOW)
    a = await llm_analyst(FakeCompletionClient([reply("0.9")]), store, clock).analyze(context())
    assert a.decision is Decision.SKIP and a.error == "analysis_not_recorded"
    assert len(store.reservations) == 1  # lapses at expiry; still counts until then
