"""The analysts: one recording, budgeting, failure-isolating shell around each way of estimating.

``RecordedAnalyst.analyze`` never raises for a market's sake and never trades on bad input:
every failure (no price, budget exhausted, refusal, timeout, SDK exception, invalid reply)
becomes a ``SKIP`` whose reason code is in ``Analysis.error`` and ``metadata["error"]``, and
every call that reaches a model - or is refused the budget - is stored in ``market_analyses``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from kalbot.analysis.budget import BUDGET_EXHAUSTED, BudgetGuard, Reservation
from kalbot.analysis.cache import is_reusable
from kalbot.analysis.costs import CostTable, UnknownModelPrice
from kalbot.analysis.decide import DecisionRule, decide
from kalbot.analysis.ensemble import combine_log_odds
from kalbot.analysis.heuristic import MODEL_NAME, HeuristicParams, NoMidPrice, estimate
from kalbot.analysis.parsing import ParsedReply, ReplyError, parse_reply
from kalbot.analysis.prompt import PROMPT_VERSION, build_request
from kalbot.domain.ai import LLMError, StoredAnalysis
from kalbot.domain.context import MarketContext
from kalbot.domain.decisions import Analysis, Decision
from kalbot.ports import AIStore, Clock, CompletionClient

log = logging.getLogger(__name__)
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class AnalystConfig:
    rule: DecisionRule = field(default_factory=DecisionRule)
    show_market_price: bool = False
    reanalyze_after: timedelta = timedelta(hours=1)
    reanalyze_price_move: Decimal = Decimal("0.03")


@dataclass(slots=True)
class _Estimate:
    probability_yes: Decimal
    confidence: Decimal
    rationale: str
    model: str
    model_decision: Decision | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost: Decimal = ZERO
    metadata: dict[str, Any] = field(default_factory=dict)


# Failures raised before any model was called: they are recorded, but not counted as calls.
NO_CALL_CODES = frozenset({BUDGET_EXHAUSTED, UnknownModelPrice.code, "analyst_misconfigured"})
# Failures after which the provider may still bill a call whose usage we never saw.
BILLED_UNKNOWN = frozenset({"llm_timeout"})


class _Failed(Exception):
    def __init__(
        self,
        code: str,
        detail: str,
        *,
        model: str = "",
        input_tokens: int = 0,
        output_tokens: int = 0,
        cost: Decimal = ZERO,
    ) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.model = model
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens
        self.cost = cost


class RecordedAnalyst:
    """Base: caching, budget, decision, recording. Subclasses supply ``_estimate``."""

    provider: str = ""
    model: str = ""

    def __init__(self, store: AIStore, clock: Clock, config: AnalystConfig) -> None:
        self._store = store
        self._clock = clock
        self._config = config

    # -- what subclasses provide ---------------------------------------------------------
    def _worst_case(self, context: MarketContext) -> Decimal | None:
        """The most one call can cost (None: free, no reservation needed)."""
        return None

    async def _estimate(self, context: MarketContext) -> _Estimate:
        raise NotImplementedError

    # -- the shell ----------------------------------------------------------------------
    async def analyze(self, context: MarketContext) -> Analysis:
        """Analyse one market; always returns an Analysis, SKIP on any failure."""
        cfg = self._config
        mid = context.market.quote.mid
        try:
            stored = await self._store.latest_analysis(context.market.ticker, self.provider)
        except Exception as e:  # a cache miss must not stop the analysis
            log.warning("cache lookup failed for %s: %s", context.market.ticker, e)
            stored = None
        if stored is not None and is_reusable(
            stored,
            now=self._clock.now(),
            current_mid=mid,
            max_age=cfg.reanalyze_after,
            max_move=cfg.reanalyze_price_move,
        ):
            return self._from_cache(stored.analysis, context, stored.timestamp.isoformat())
        return await self._analyze_fresh(context)

    def _from_cache(self, cached: Analysis, context: MarketContext, when: str) -> Analysis:
        assert cached.probability_yes is not None
        result = decide(
            cached.probability_yes,
            cached.confidence,
            context.market,
            context.position,
            self._config.rule,
        )
        metadata = dict(cached.metadata) | {
            "cached": True,
            "cached_from": when,
            "reason": result.reason,
        }
        return replace(
            cached,
            decision=result.decision,
            cost=ZERO,
            input_tokens=0,
            output_tokens=0,
            latency_ms=0,
            metadata=metadata,
        )

    async def _analyze_fresh(self, context: MarketContext) -> Analysis:
        analysis, now, reservation = await self._fresh_unrecorded(context)
        return await self._record(analysis, now, reservation)

    async def _fresh_unrecorded(
        self, context: MarketContext
    ) -> tuple[Analysis, datetime, Reservation | None]:
        """A fresh analysis (or its SKIP), not yet recorded: (analysis, when, reservation)."""
        now = self._clock.now()
        market = context.market
        base_meta: dict[str, Any] = {
            "prompt_version": PROMPT_VERSION,
            "mid": None if market.quote.mid is None else str(market.quote.mid),
            "yes_bid": None if market.quote.yes_bid is None else str(market.quote.yes_bid),
            "yes_ask": None if market.quote.yes_ask is None else str(market.quote.yes_ask),
            "show_market_price": self._config.show_market_price,
            "position": None if context.position is None else context.position.side.value,
        }
        reservation: Reservation | None = None
        started = time.perf_counter()
        try:
            try:
                worst = self._worst_case(context)
            except UnknownModelPrice as e:
                raise _Failed(UnknownModelPrice.code, str(e), model=self.model) from e
            if worst is not None:
                base_meta["reserved"] = str(worst)
                reservation = await self._reserve(worst)
                if reservation is None:
                    raise _Failed(BUDGET_EXHAUSTED, f"worst case ${worst} does not fit today")
            est = await self._estimate(context)
        except _Failed as failed:
            if failed.code in BILLED_UNKNOWN and reservation is not None and not failed.cost:
                # The request reached the provider, which may finish and bill it: book the
                # reserved worst case rather than guess zero, so the hard budget stays hard.
                failed.cost = reservation.amount
                base_meta["cost_estimated"] = True
            analysis = self._failure(context, failed, base_meta, started)
        except Exception as e:  # isolate anything a provider or model can throw
            log.exception("analysis of %s failed", market.ticker)
            wrapped = _Failed("analyst_exception", f"{type(e).__name__}: {e}", model=self.model)
            analysis = self._failure(context, wrapped, base_meta, started)
        else:
            analysis = self._success(context, est, base_meta, started)
        return analysis, now, reservation

    async def _reserve(self, worst: Decimal) -> Reservation | None:
        raise _Failed("analyst_misconfigured", "a paid analyst needs a budget guard")

    def _latency(self, started: float) -> int:
        return int((time.perf_counter() - started) * 1000)

    def _failure(
        self, context: MarketContext, f: _Failed, meta: dict[str, Any], started: float
    ) -> Analysis:
        model = f.model or self.model
        meta = meta | {
            "model": model,
            "call_made": f.code not in NO_CALL_CODES,
            "error": f.code,
            "error_detail": f.detail[:500],
            "input_tokens": f.input_tokens,
            "output_tokens": f.output_tokens,
            "reason": f.code,
            "probability_yes": None,
        }
        return Analysis(
            ticker=context.market.ticker,
            probability_yes=None,
            decision=Decision.SKIP,
            confidence=ZERO,
            rationale=f"SKIP: {f.code}",
            provider=self.provider,
            model=model,
            input_tokens=f.input_tokens,
            output_tokens=f.output_tokens,
            cost=f.cost,
            latency_ms=self._latency(started),
            error=f.code,
            metadata=meta,
        )

    def _success(
        self, context: MarketContext, est: _Estimate, meta: dict[str, Any], started: float
    ) -> Analysis:
        result = decide(
            est.probability_yes, est.confidence, context.market, context.position, self._config.rule
        )
        decision, reason = result.decision, result.reason
        if est.model_decision is Decision.SKIP and decision is not Decision.CLOSE:
            decision, reason = Decision.SKIP, "model_abstained"
        meta = (
            meta
            | est.metadata
            | {
                "model": est.model,
                "call_made": True,
                "input_tokens": est.input_tokens,
                "output_tokens": est.output_tokens,
                "probability_yes": str(est.probability_yes),
                "model_decision": None if est.model_decision is None else est.model_decision.value,
                "reason": reason,
                "limit_price": None if result.limit_price is None else str(result.limit_price),
                "error": None,
            }
        )
        return Analysis(
            ticker=context.market.ticker,
            probability_yes=est.probability_yes,
            decision=decision,
            confidence=est.confidence,
            rationale=est.rationale,
            provider=self.provider,
            model=est.model,
            input_tokens=est.input_tokens,
            output_tokens=est.output_tokens,
            cost=est.cost,
            latency_ms=self._latency(started),
            metadata=meta,
        )

    async def _record(
        self, analysis: Analysis, now: datetime, reservation: Reservation | None
    ) -> Analysis:
        analysis.metadata["latency_ms"] = analysis.latency_ms
        try:
            rid = None if reservation is None else reservation.id
            await self._store.record_analysis(analysis, timestamp=now, reservation_id=rid)
        except Exception as e:
            # Unrecorded means untradeable; the reservation (if any) lapses at its expiry, so
            # the unrecorded spend still counts against the budget until then.
            log.error("could not record the analysis of %s: %s", analysis.ticker, e)
            return _not_recorded(analysis)
        return analysis


def _not_recorded(analysis: Analysis) -> Analysis:
    return replace(
        analysis,
        decision=Decision.SKIP,
        error="analysis_not_recorded",
        metadata=analysis.metadata | {"error": "analysis_not_recorded"},
    )


class HeuristicAnalyst(RecordedAnalyst):
    """The default: recalibrated mid (``kalbot.analysis.heuristic``). Free, offline."""

    provider = "heuristic"
    model = MODEL_NAME

    def __init__(
        self,
        store: AIStore,
        clock: Clock,
        config: AnalystConfig,
        params: Callable[[], HeuristicParams] = HeuristicParams,
    ) -> None:
        super().__init__(store, clock, config)
        self._params = params
        # Set for the length of one ``analyze_many``: the parameters are read once per cycle
        # (in production from a file) instead of once per market.
        self._cycle_params: HeuristicParams | None = None

    async def analyze_many(self, contexts: Sequence[MarketContext]) -> list[Analysis | Exception]:
        """``analyze`` for a whole cycle's markets, with the same results, batched for the store.

        The heuristic is free (no reservation), so the cache is read with one query for all
        tickers (``latest_analyses``) and the fresh analyses are written in one transaction
        (``record_analyses``) when the store offers them; otherwise market by market. A
        market whose analysis raised gets its exception in its place, as ``analyze`` would
        have raised it.
        """
        try:
            self._cycle_params = self._params()
        except Exception:  # left to each market's analysis, which records the failure
            self._cycle_params = None
        try:
            return await self._analyze_many(contexts)
        finally:
            self._cycle_params = None

    async def _analyze_many(self, contexts: Sequence[MarketContext]) -> list[Analysis | Exception]:
        cfg = self._config
        cached = await self._cached_many(contexts)
        out: list[Analysis | Exception] = []
        fresh: list[tuple[int, Analysis, datetime]] = []
        for context in contexts:
            try:
                stored = (
                    cached.get(context.market.ticker)
                    if cached is not None
                    else await self._latest(context.market.ticker)
                )
                if stored is not None and is_reusable(
                    stored,
                    now=self._clock.now(),
                    current_mid=context.market.quote.mid,
                    max_age=cfg.reanalyze_after,
                    max_move=cfg.reanalyze_price_move,
                ):
                    when = stored.timestamp.isoformat()
                    out.append(self._from_cache(stored.analysis, context, when))
                    continue
                analysis, now, _ = await self._fresh_unrecorded(context)
            except Exception as e:  # as ``analyze`` raising for this market alone
                log.exception("analyst failed for %s", context.market.ticker)
                out.append(e)
                continue
            analysis.metadata["latency_ms"] = analysis.latency_ms
            fresh.append((len(out), analysis, now))
            out.append(analysis)
        await self._record_many(fresh, out)
        return out

    async def _latest(self, ticker: str) -> StoredAnalysis | None:
        try:
            return await self._store.latest_analysis(ticker, self.provider)
        except Exception as e:  # a cache miss must not stop the analysis
            log.warning("cache lookup failed for %s: %s", ticker, e)
            return None

    async def _cached_many(
        self, contexts: Sequence[MarketContext]
    ) -> dict[str, StoredAnalysis] | None:
        """Stored analyses by ticker in one read; None when the store cannot batch."""
        batch = getattr(self._store, "latest_analyses", None)
        if batch is None:
            return None
        max_age = self._config.reanalyze_after
        if max_age <= timedelta(0) or not contexts:
            return {}  # nothing is ever reused: no need to read
        # Anything older than max_age is never reused; a second's margin keeps the text
        # comparison of stored timestamps on the safe side (it only reads a few more rows).
        since = self._clock.now() - max_age - timedelta(seconds=1)
        try:
            found: dict[str, StoredAnalysis] = await batch(
                [c.market.ticker for c in contexts], self.provider, since
            )
        except Exception as e:  # a cache miss must not stop the analyses
            log.warning("cache lookup failed for %d markets: %s", len(contexts), e)
            return {}
        return found

    async def _record_many(
        self, fresh: list[tuple[int, Analysis, datetime]], out: list[Analysis | Exception]
    ) -> None:
        if not fresh:
            return
        batch = getattr(self._store, "record_analyses", None)
        if batch is None:
            for i, analysis, now in fresh:
                out[i] = await self._record(analysis, now, None)
            return
        try:
            await batch([(analysis, now) for _, analysis, now in fresh])
        except Exception as e:
            log.error("could not record %d analyses: %s", len(fresh), e)
            for i, analysis, _ in fresh:
                out[i] = _not_recorded(analysis)

    async def _estimate(self, context: MarketContext) -> _Estimate:
        params = self._cycle_params or self._params()
        try:
            p = estimate(params, context.market, context.now)
        except NoMidPrice as e:
            raise _Failed(NoMidPrice.code, str(e), model=self.model) from e
        spread = context.market.quote.spread or ZERO
        # A wide book says the mid itself is uncertain.
        confidence = max(ZERO, min(Decimal(1), Decimal(1) - 5 * spread))
        return _Estimate(
            probability_yes=p,
            confidence=confidence.quantize(Decimal("0.0001")),
            rationale=(
                f"Recalibrated mid {context.market.quote.mid} -> {p} "
                f"(a={params.a:.4f}, b={params.b:.4f}, c={params.c:.4f})"
            ),
            model=self.model,
            metadata={"params_source": params.source, "params_fitted_at": params.fitted_at},
        )


class LLMAnalyst(RecordedAnalyst):
    """A language model behind a ``CompletionClient``, under the daily budget."""

    def __init__(
        self,
        client: CompletionClient,
        costs: CostTable,
        guard: BudgetGuard,
        store: AIStore,
        clock: Clock,
        config: AnalystConfig,
    ) -> None:
        super().__init__(store, clock, config)
        self._client = client
        self._costs = costs
        self._guard = guard
        self.provider = client.provider
        self.model = client.model

    def _worst_case(self, context: MarketContext) -> Decimal | None:
        request = build_request(context, show_market_price=self._config.show_market_price)
        return self._costs.worst_case(self.model, request, self._client.max_output_tokens)

    async def _reserve(self, worst: Decimal) -> Reservation | None:
        return await self._guard.reserve(self.provider, self.model, worst)

    def _cost(self, model: str, input_tokens: int, output_tokens: int) -> Decimal:
        try:
            return self._costs.cost(model, input_tokens, output_tokens)
        except UnknownModelPrice:
            # The reply named a model we have no price for: charge the configured model's.
            return self._costs.cost(self.model, input_tokens, output_tokens)

    async def _estimate(self, context: MarketContext) -> _Estimate:
        request = build_request(context, show_market_price=self._config.show_market_price)
        try:
            reply = await self._client.complete(request)
        except LLMError as e:
            model = e.model or self.model
            cost = self._cost(model, e.input_tokens, e.output_tokens)
            raise _Failed(
                e.code,
                str(e),
                model=model,
                input_tokens=e.input_tokens,
                output_tokens=e.output_tokens,
                cost=cost,
            ) from e
        cost = self._cost(reply.model or self.model, reply.input_tokens, reply.output_tokens)
        try:
            parsed: ParsedReply = parse_reply(reply.text)
        except ReplyError as e:
            raise _Failed(
                e.code,
                f"{e.detail}; reply starts {reply.text[:120]!r}",
                model=reply.model or self.model,
                input_tokens=reply.input_tokens,
                output_tokens=reply.output_tokens,
                cost=cost,
            ) from e
        return _Estimate(
            probability_yes=parsed.probability_yes,
            confidence=parsed.confidence,
            rationale=parsed.rationale,
            model=reply.model or self.model,
            model_decision=parsed.decision,
            input_tokens=reply.input_tokens,
            output_tokens=reply.output_tokens,
            cost=cost,
            metadata={
                "finish_reason": reply.finish_reason,
                "response_id": reply.response_id,
                "prices_as_of": self._costs.as_of,
            },
        )


class EnsembleAnalyst(RecordedAnalyst):
    """Several analysts at once; their probabilities combined in log-odds.

    Each member records its own call (and its own cost); the ensemble's row carries cost 0
    so the day's spend is never counted twice.
    """

    provider = "ensemble"

    def __init__(
        self,
        members: Sequence[RecordedAnalyst],
        store: AIStore,
        clock: Clock,
        config: AnalystConfig,
        weights: Sequence[Decimal] | None = None,
    ) -> None:
        super().__init__(store, clock, config)
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self._members = list(members)
        self._weights = list(weights) if weights is not None else [Decimal(1)] * len(members)
        self.model = "+".join(f"{m.provider}:{m.model}" for m in members)

    async def _estimate(self, context: MarketContext) -> _Estimate:
        results = await asyncio.gather(*(m.analyze(context) for m in self._members))
        usable = [
            (a, w)
            for a, w in zip(results, self._weights, strict=True)
            if a.probability_yes is not None
        ]
        members = [
            {
                "provider": a.provider,
                "model": a.model,
                "probability_yes": None if a.probability_yes is None else str(a.probability_yes),
                "error": a.error,
                "cost": str(a.cost),
            }
            for a in results
        ]
        if not usable:
            raise _Failed("ensemble_no_member", "every member failed", model=self.model)
        p = combine_log_odds(
            [a.probability_yes for a, _ in usable if a.probability_yes is not None],
            [w for _, w in usable],
        )
        confidence = sum((a.confidence * w for a, w in usable), ZERO) / sum(
            (w for _, w in usable), ZERO
        )
        return _Estimate(
            probability_yes=p,
            confidence=confidence.quantize(Decimal("0.0001")),
            rationale=" | ".join(f"{a.provider}: {a.rationale}" for a, _ in usable)[:2000],
            model=self.model,
            metadata={
                "members": members,
                "members_cost": str(sum((a.cost for a in results), ZERO)),
            },
        )
