"""Markets, contexts and analysts for the analyst's tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from kalbot.adapters.llm.fake import FakeCompletionClient
from kalbot.analysis.budget import BudgetGuard
from kalbot.analysis.costs import CostTable, TokenPrice, max_input_tokens
from kalbot.analysis.decide import DecisionRule
from kalbot.analysis.prompt import build_request
from kalbot.analysis.service import AnalystConfig, LLMAnalyst
from kalbot.domain.clock import ManualClock
from kalbot.domain.context import HeldPosition, MarketContext
from kalbot.domain.market import Market, MarketStatus, Quote
from kalbot.domain.prices import Side
from kalbot.ports import AIStore, CompletionClient

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
D = Decimal


def market(
    yes_bid: str | None = "0.40",
    yes_ask: str | None = "0.42",
    *,
    ticker: str = "KXTEST-26NOV30-T1",
    close_in: timedelta = timedelta(days=2),
    now: datetime = NOW,
) -> Market:
    return Market(
        ticker=ticker,
        event_ticker="KXTEST-26NOV30",
        title="Will the test pass?",
        status=MarketStatus.ACTIVE,
        quote=Quote(
            yes_bid=None if yes_bid is None else D(yes_bid),
            yes_ask=None if yes_ask is None else D(yes_ask),
            yes_bid_size=D(100),
            yes_ask_size=D(100),
        ),
        close_time=now + close_in,
        category="Science",
        rules_primary="Resolves YES if the test passes.",
        volume=D(5000),
        volume_24h=D(700),
        open_interest=D(1200),
    )


def context(
    m: Market | None = None,
    *,
    held: Side | None = None,
    now: datetime = NOW,
) -> MarketContext:
    m = m or market()
    position = (
        None
        if held is None
        else HeldPosition(side=held, quantity=D(10), entry_price=D("0.30"), entry_time=now)
    )
    return MarketContext(market=m, now=now, position=position)


def with_quote(m: Market, yes_bid: str, yes_ask: str) -> Market:
    return replace(m, quote=replace(m.quote, yes_bid=D(yes_bid), yes_ask=D(yes_ask)))


PRICES = CostTable(
    {"fake-model": TokenPrice(D("2.00"), D("10.00"))},
    as_of="2026-11-01",
)


def llm_analyst(
    client: CompletionClient,
    store: AIStore,
    clock: ManualClock,
    budget: Decimal | list[Decimal] = D(10),
    *,
    costs: CostTable = PRICES,
    min_edge: str = "0.03",
    reanalyze_after: timedelta = timedelta(0),
) -> LLMAnalyst:
    box = budget if isinstance(budget, list) else [budget]
    guard = BudgetGuard(store, clock, lambda: box[0])
    config = AnalystConfig(rule=DecisionRule(min_edge=D(min_edge)), reanalyze_after=reanalyze_after)
    return LLMAnalyst(client, costs, guard, store, clock, config)


def reply(p: str = "0.70", c: str = "0.8", decision: str = "OPEN_YES", why: str = "because") -> str:
    return (
        f'{{"probability_yes": {p}, "confidence": {c}, "decision": "{decision}", '
        f'"rationale": "{why}"}}'
    )


def worst_case_fake(delay_seconds: float = 0.0) -> tuple[FakeCompletionClient, Decimal]:
    """A fake whose reported usage equals the reservation, so N reservations = N calls."""
    request = build_request(context())
    client = FakeCompletionClient(
        [reply()],
        input_tokens=max_input_tokens(request),
        output_tokens=600,
        max_tokens=600,
        delay_seconds=delay_seconds,
    )
    return client, PRICES.worst_case("fake-model", request, 600)
