"""Running an analyst over the past (``kalbot backtest --analyst ...``) instead of replaying
the analyses recorded at the time.

- ``AnalystChoice`` parses the option: ``recorded`` (the default, free, no look-ahead),
  ``heuristic`` (free, offline), ``configured`` (the settings' provider or ensemble), or a
  provider name with an optional model, ``openai`` / ``anthropic:claude-x``.
- ``PastAIStore`` is the analyst's ``AIStore`` during such a run. Its cache (``latest_analysis``)
  answers only from this run's own analyses, all stamped at replay times, so a model's view is
  never reused from the future, nor from the live bot's table. Budget reservations and spend go
  to the real store exactly as live (``reserve_ai_budget``; ``record_analysis`` settles the
  reservation and adds the cost to ``ai_cost_tracking``), stamped at the wall-clock time the
  money is spent and under the provider ``backtest:<provider>``, so live trading never reuses a
  backtest's view and a later ``recorded`` replay never mistakes it for a recorded one.
- A paid analysis an earlier backtest made for the same model, prompt, market and replay time
  (``EarlierAnalysis``, loaded by ``kalbot.backtest_app.load_earlier_paid``) answers the cache
  as this run's own would, so running a stopped backtest again never pays twice.
- ``PastAnalyst`` wraps the analyst: it keeps each forecast shown to the strategy (for the
  forecast score), counts errors, and once the budget is refused answers SKIP without calling.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from kalbot.analysis.budget import BUDGET_EXHAUSTED
from kalbot.analysis.memory import InMemoryAIStore
from kalbot.backtest.replay import AsOf, LookAheadError, UsedForecast
from kalbot.domain.ai import StoredAnalysis
from kalbot.domain.clock import iso_utc
from kalbot.domain.context import MarketContext
from kalbot.domain.decisions import Analysis, Decision
from kalbot.ports import AIStore, Analyst, Clock

if TYPE_CHECKING:
    from kalbot.backtest.results import BacktestReport

RECORDED = "recorded"
HEURISTIC = "heuristic"
CONFIGURED = "configured"
BACKTEST_PROVIDER_PREFIX = "backtest:"
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class AnalystChoice:
    """What ``--analyst`` asked for. ``provider`` None with ``kind == "model"``: the configured
    one (or ensemble); ``model`` None: the provider's configured model."""

    kind: str  # recorded | heuristic | model
    provider: str | None = None
    model: str | None = None

    @property
    def label(self) -> str:
        if self.kind != "model":
            return self.kind
        if self.provider is None:
            return CONFIGURED
        return self.provider if self.model is None else f"{self.provider}:{self.model}"


def parse_analyst(value: str, providers: Iterable[str]) -> AnalystChoice:
    """``recorded | heuristic | configured | PROVIDER[:MODEL]``; ValueError otherwise."""
    v = value.strip()
    if v == RECORDED:
        return AnalystChoice(RECORDED)
    if v == HEURISTIC:
        return AnalystChoice(HEURISTIC)
    if v == CONFIGURED:
        return AnalystChoice("model")
    name, _, model = v.partition(":")
    known = tuple(providers)
    if name not in known:
        raise ValueError(
            f"unknown analyst {value!r}: use recorded, heuristic, configured or one of "
            f"{', '.join(known)} (optionally PROVIDER:MODEL)"
        )
    if ":" in v and not model.strip():
        raise ValueError(f"--analyst {value!r}: empty model name after ':'")
    return AnalystChoice("model", name, model.strip() or None)


class BudgetExhausted(RuntimeError):
    """The AI budget refused a call during a backtest: the run stops here (never a fallback)."""

    def __init__(
        self,
        at: datetime,
        snapshots: int,
        calls: int,
        cost: Decimal,
        report: BacktestReport | None = None,
    ) -> None:
        super().__init__(
            f"AI budget exhausted at replay time {iso_utc(at)}: stopped after {snapshots:,} "
            f"snapshots, {calls} paid calls costing ${cost} (recorded in ai_cost_tracking); "
            "the report above covers only the part replayed and is not comparable with a full "
            "run. Raise the budget (`kalbot ai budget`, KALBOT_AI__DAILY_BUDGET), shorten the "
            "range, or use --analyst recorded|heuristic, which cost nothing"
        )
        self.at = at
        self.snapshots = snapshots
        self.calls = calls
        self.cost = cost
        self.report = report  # the part that ran, marked ``meta["stopped"]``


@dataclass(frozen=True, slots=True)
class EarlierAnalysis:
    """A paid analysis an earlier backtest made (a ``backtest:<provider>`` row), with the replay
    time it was made for; ``analysis.provider`` is the plain provider name."""

    replay_time: datetime
    analysis: Analysis


EARLIER_RUN = "earlier_backtest"  # metadata mark of an analysis reused from an earlier run


class PastAIStore:
    """``AIStore`` of an analyst run over the past (see the module docstring).

    ``ledger`` is the real store (the repository) that holds the budget and the spend, or
    None for a free analyst, which then touches no database at all.

    ``earlier``: paid analyses earlier backtests made with the same model and prompt (a run
    the budget stopped, run again). The cache answers with the newest one made for a replay
    time at or before ``replay_clock``'s, when it is newer than this run's own, so the analyst
    reuses it exactly as it reuses its own (within ``reanalyze_after`` and the price move)
    instead of paying again for the same question. Never one from a later replay time.
    """

    def __init__(
        self,
        ledger: AIStore | None,
        wall_clock: Clock,
        *,
        replay_clock: Clock | None = None,
        earlier: Iterable[EarlierAnalysis] = (),
    ) -> None:
        self.ledger = ledger
        self.wall_clock = wall_clock
        self.replay_clock = replay_clock
        self._earlier = AsOf(
            ((e.analysis.ticker, e.analysis.provider), e.replay_time, e.analysis) for e in earlier
        )
        self.memory = InMemoryAIStore()
        self.calls = 0
        self.cost = ZERO
        self.errors: Counter[str] = Counter()
        self.exhausted_at: datetime | None = None

    def budget_refused(self) -> bool:
        """Whether the budget has refused a call (the run stops at the next snapshot)."""
        return self.exhausted_at is not None

    # -- budget: the real store, as live -----------------------------------------------
    async def reserve_ai_budget(
        self,
        *,
        day: date,
        provider: str,
        model: str,
        amount: Decimal,
        budget: Decimal,
        now: datetime,
        expires_at: datetime,
    ) -> str | None:
        if self.ledger is None:
            raise RuntimeError("a free analyst run has no budget to reserve")
        return await self.ledger.reserve_ai_budget(
            day=day, provider=provider, model=model, amount=amount, budget=budget,
            now=now, expires_at=expires_at,
        )  # fmt: skip

    async def release_ai_budget(self, reservation_id: str) -> None:
        if self.ledger is not None:
            await self.ledger.release_ai_budget(reservation_id)

    async def ai_spend(self, day: date, now: datetime) -> tuple[Decimal, Decimal]:
        if self.ledger is None:
            return ZERO, ZERO
        return await self.ledger.ai_spend(day, now)

    # -- analyses: this run's, in memory; paid ones also settled in the real store --------
    def _count(self, analysis: Analysis, timestamp: datetime, reservation_id: str | None) -> None:
        if reservation_id is not None or analysis.cost:
            self.calls += 1  # a paid call (its reservation settled, or a cost booked)
        self.cost += analysis.cost
        if analysis.error:
            self.errors[analysis.error] += 1
            if analysis.error == BUDGET_EXHAUSTED and self.exhausted_at is None:
                self.exhausted_at = timestamp

    def _ledger_copy(self, analysis: Analysis, timestamp: datetime) -> Analysis:
        meta = dict(analysis.metadata) | {
            "backtest": True,
            "replay_time": iso_utc(timestamp),
        }
        return replace(
            analysis, provider=BACKTEST_PROVIDER_PREFIX + analysis.provider, metadata=meta
        )

    async def record_analysis(
        self, analysis: Analysis, *, timestamp: datetime, reservation_id: str | None = None
    ) -> int:
        # Counted first: a call whose row cannot be written was still made (and billed).
        self._count(analysis, timestamp, reservation_id)
        if self.ledger is not None:
            # Stamped when the money is spent (the budget day), not at the replay time.
            await self.ledger.record_analysis(
                self._ledger_copy(analysis, timestamp),
                timestamp=self.wall_clock.now(),
                reservation_id=reservation_id,
            )
        return await self.memory.record_analysis(analysis, timestamp=timestamp)

    async def record_analyses(self, items: Sequence[tuple[Analysis, datetime]]) -> list[int]:
        ids = []
        for analysis, timestamp in items:
            ids.append(await self.record_analysis(analysis, timestamp=timestamp))
        return ids

    async def latest_analysis(
        self, ticker: str, provider: str | None = None
    ) -> StoredAnalysis | None:
        mine = await self.memory.latest_analysis(ticker, provider)
        if self.replay_clock is None or provider is None:
            return mine
        found = self._earlier.latest((ticker, provider), self.replay_clock.now())
        if found is None:
            return mine
        at, analysis = found
        if mine is not None and mine.timestamp >= at:
            return mine
        marked = dict(analysis.metadata) | {EARLIER_RUN: str(analysis.cost)}
        return StoredAnalysis(replace(analysis, metadata=marked), at)

    async def latest_analyses(
        self, tickers: Iterable[str], provider: str | None = None, since: datetime | None = None
    ) -> dict[str, StoredAnalysis]:
        return await self.memory.latest_analyses(tickers, provider, since)


_Many = Callable[[Sequence[MarketContext]], Awaitable[list[Analysis | Exception]]]


class PastAnalyst:
    """The engine's analyst for a model run over the past; see the module docstring."""

    def __init__(self, inner: Analyst, store: PastAIStore, clock: Clock, label: str) -> None:
        self.inner = inner
        self.store = store
        self.clock = clock
        self.label = label
        self.provider = getattr(inner, "provider", label)
        self.used: dict[tuple[str, datetime], UsedForecast] = {}
        self.missing = 0
        # Analyses an earlier backtest paid for, shown again here instead of paying twice.
        self.reused = 0
        self.reused_cost = ZERO
        self._reused: set[tuple[str, str]] = set()
        many = getattr(inner, "analyze_many", None)
        # Offered only when the inner analyst batches (the free heuristic): the engine
        # looks for the attribute.
        self.analyze_many: _Many | None = self._many if many is not None else None
        self._inner_many: Any = many

    def _check(self, context: MarketContext) -> None:
        if context.now > self.clock.now():  # a tripwire: the engine builds it at the clock
            raise LookAheadError(f"context of {context.market.ticker} is in the future")

    def _refused(self, context: MarketContext) -> Analysis:
        return Analysis(
            context.market.ticker, None, Decision.SKIP, ZERO, "SKIP: ai_budget_exhausted",
            self.provider, "", error=BUDGET_EXHAUSTED,
            metadata={"error": BUDGET_EXHAUSTED, "call_made": False},
        )  # fmt: skip

    def _keep(self, context: MarketContext, a: Analysis) -> None:
        paid_then = a.metadata.get(EARLIER_RUN)
        if isinstance(paid_then, str):
            reuse = (context.market.ticker, str(a.metadata.get("cached_from")))
            if reuse not in self._reused:
                self._reused.add(reuse)
                self.reused += 1
                self.reused_cost += Decimal(paid_then)
        p, mid = a.probability_yes, context.market.quote.mid
        if p is None:
            self.missing += 1
            return
        if mid is None:
            return
        # One forecast per analysis made (a cached reuse is the same forecast).
        made = a.metadata.get("cached_from")
        at = self.clock.now()
        when = datetime.fromisoformat(made) if isinstance(made, str) else at
        key = (context.market.ticker, when)
        if key not in self.used:
            self.used[key] = UsedForecast(
                context.market.ticker, context.market.category, at, when, p, mid
            )

    async def analyze(self, context: MarketContext) -> Analysis:
        self._check(context)
        if self.store.exhausted_at is not None:
            return self._refused(context)
        a = await self.inner.analyze(context)
        self._keep(context, a)
        return a

    async def _many(self, contexts: Sequence[MarketContext]) -> list[Analysis | Exception]:
        for c in contexts:
            self._check(c)
        out: list[Analysis | Exception] = await self._inner_many(contexts)
        for c, a in zip(contexts, out, strict=True):
            if isinstance(a, Analysis):
                self._keep(c, a)
        return out
