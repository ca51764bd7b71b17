"""Wiring of a backtest (the composition root of ``kalbot backtest``, beside bootstrap.py).

The replay venue is the simulated exchange fed by ``ReplayDriver`` (quote-driven markets with
the chosen fill model, settled at each market's result); the engine is the one ``TradingEngine``
with the configured screener, strategy and risk manager, built by ``kalbot.bootstrap``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import text

from kalbot.adapters.simulated.broker import ExchangeMarketData, SimulatedBroker
from kalbot.adapters.simulated.exchange import Exchange
from kalbot.adapters.simulated.fill_models import get_fill_model
from kalbot.adapters.simulated.scenarios.replay import PreparedBatch, ReplayDriver
from kalbot.adapters.store.repository import Repository
from kalbot.analysis.prompt import PROMPT_VERSION
from kalbot.backtest.analysts import (
    BACKTEST_PROVIDER_PREFIX,
    HEURISTIC,
    RECORDED,
    AnalystChoice,
    BudgetExhausted,
    EarlierAnalysis,
    PastAIStore,
    PastAnalyst,
)
from kalbot.backtest.replay import (
    BacktestStore,
    RecordedAnalysis,
    RecordedMarketData,
    ReplayedAnalyst,
)
from kalbot.backtest.results import BacktestReport, build_report
from kalbot.backtest.runner import replay
from kalbot.backtest.steps import steps_by_time
from kalbot.backtest_feed import ReaderProcess, can_read_ahead, reader_query
from kalbot.bootstrap import (
    build_analyst,
    build_strategy,
    engine_config,
    risk_config,
    screen_config,
)
from kalbot.config import ConfigError, Settings
from kalbot.domain.clock import ManualClock, SystemClock, iso_utc, parse_iso
from kalbot.domain.decisions import Analysis, Decision
from kalbot.domain.market import MarketResult
from kalbot.domain.snapshot import Snapshot
from kalbot.engine import TradingEngine
from kalbot.ports import Analyst, Clock
from kalbot.risk import RiskManager
from kalbot.screener import Screener

log = logging.getLogger("kalbot.backtest")

ACCOUNT = "backtest"
# Analyses older than this before the start still count as "the latest view" at the start.
ANALYSIS_LOOKBACK = timedelta(days=7)


REPLAY_RECORDED = AnalystChoice(RECORDED)


@dataclass(frozen=True, slots=True)
class BacktestSpec:
    start: datetime
    end: datetime
    capital: Decimal = Decimal(10000)
    strategy: str | None = None
    fill_model: str = "conservative"
    tickers: Sequence[str] | None = None
    category: str | None = None
    analyst: AnalystChoice = REPLAY_RECORDED
    # Read and convert the snapshots in a worker process (``kalbot.backtest_feed``): None
    # does when it can (a second CPU, a database another process can open).
    read_ahead: bool | None = None
    # A paid model reuses what earlier backtests paid it for (same model, prompt, market and
    # replay time) instead of paying again; False pays again.
    reuse_paid: bool = True


def _dec(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _row_analysis(
    ticker: object,
    decision: object,
    confidence: object,
    meta_text: object,
    provider: object,
    cost: object,
) -> Analysis:
    """A ``market_analyses`` row as the ``Analysis`` it recorded (bad fields: SKIP, never a
    guessed probability)."""
    try:
        meta = json.loads(str(meta_text)) if meta_text else {}
    except ValueError:
        meta = {}
    if not isinstance(meta, dict):
        meta = {}
    p = _dec(meta.get("probability_yes"))
    if p is not None and not 0 <= p <= 1:
        p = None
    try:
        d = Decision(str(decision)) if decision else Decision.SKIP
    except ValueError:
        d = Decision.SKIP
    return Analysis(
        ticker=str(ticker),
        probability_yes=p,
        decision=d if p is not None else Decision.SKIP,
        confidence=_dec(confidence) or Decimal(0),
        rationale=str(meta.get("reason") or ""),
        provider=str(provider),
        model=str(meta.get("model") or ""),
        cost=_dec(cost) or Decimal(0),
        metadata=meta,
    )  # fmt: skip


async def load_analyses(repo: Repository, start: datetime, end: datetime) -> list[RecordedAnalysis]:
    """``market_analyses`` rows stamped in [start - lookback, end), oldest first."""
    sql = text(
        "SELECT ticker, timestamp, decision, confidence, metadata, ai_provider, cost, id "
        "FROM market_analyses WHERE timestamp >= :lo AND timestamp < :hi "
        # A model run over the past by an earlier backtest was not recorded at the time.
        "AND ai_provider NOT LIKE :backtest ORDER BY timestamp, id"
    )
    out: list[RecordedAnalysis] = []
    async with repo.connection("reading recorded analyses") as conn:
        rows = (
            await conn.execute(
                sql,
                {
                    "lo": iso_utc(start - ANALYSIS_LOOKBACK),
                    "hi": iso_utc(end),
                    "backtest": BACKTEST_PROVIDER_PREFIX + "%",
                },
            )
        ).all()
    for ticker, ts, decision, confidence, meta_text, provider, cost, _ in rows:
        a = _row_analysis(ticker, decision, confidence, meta_text, provider, cost)
        a = replace(a, metadata={**a.metadata, "replayed": True})
        out.append(RecordedAnalysis(parse_iso(str(ts)), a))
    return out


async def load_earlier_paid(
    repo: Repository, start: datetime, end: datetime, models: Mapping[str, str]
) -> list[EarlierAnalysis]:
    """The paid analyses earlier backtests made (``backtest:<provider>`` rows) that a run over
    [start, end) with ``models`` (provider -> model) may reuse instead of paying again: same
    provider, model and prompt version, a probability, made for a replay time in
    [start - lookback, end). Oldest replay time first."""
    if not models:
        return []
    sql = text(
        "SELECT ticker, decision, confidence, metadata, ai_provider, cost, id "
        "FROM market_analyses WHERE ai_provider LIKE :backtest ORDER BY id"
    )
    async with repo.connection("reading earlier backtests' paid analyses") as conn:
        rows = (await conn.execute(sql, {"backtest": BACKTEST_PROVIDER_PREFIX + "%"})).all()
    lo = start - ANALYSIS_LOOKBACK
    out: list[EarlierAnalysis] = []
    for ticker, decision, confidence, meta_text, provider, cost, _ in rows:
        name = str(provider).removeprefix(BACKTEST_PROVIDER_PREFIX)
        a = _row_analysis(ticker, decision, confidence, meta_text, name, cost)
        meta = a.metadata
        if (
            a.probability_yes is None
            or meta.get("error")
            or models.get(name) != a.model
            or meta.get("prompt_version") != PROMPT_VERSION
        ):
            continue
        try:
            when = parse_iso(str(meta.get("replay_time")))
        except ValueError:
            continue
        if lo <= when < end:
            out.append(EarlierAnalysis(when, a))
    out.sort(key=lambda e: e.replay_time)
    return out


async def load_results(repo: Repository) -> dict[str, MarketResult]:
    """Known market results (``market_results``); YES/NO/VOID settle a replayed market (a void
    refunds holders at cost); scalar results are not replayed."""
    async with repo.connection("reading market results") as conn:
        rows = (await conn.execute(text("SELECT ticker, result FROM market_results"))).all()
    return {str(t): MarketResult(r) for t, r in rows if r in ("yes", "no", "void")}


def _model_settings(settings: Settings, choice: AnalystChoice) -> tuple[Settings, str | None]:
    """(settings, provider override) that make ``build_analyst`` build ``choice``."""
    if choice.kind == HEURISTIC:
        return settings, HEURISTIC
    if choice.provider is None or choice.model is None:
        return settings, choice.provider
    ai = settings.ai.model_copy(
        update={"provider": choice.provider, "model": choice.model, "ensemble": ()}
    )
    return settings.model_copy(update={"ai": ai}), None


def _provider_names(settings: Settings, choice: AnalystChoice) -> list[str]:
    """The providers ``choice`` runs (several for the configured ensemble)."""
    if choice.kind == RECORDED:
        return []
    s, provider = _model_settings(settings, choice)
    if provider is not None:
        return [provider]
    if len(s.ai.ensemble) > 1:
        return list(s.ai.ensemble)
    return [s.ai.provider]


def paid_models(settings: Settings, choice: AnalystChoice) -> list[str]:
    """``provider:model`` of every paid model ``choice`` would call (empty: it is free).

    Checks, before any work, that each can be called and paid for: ``ConfigError`` (one line)
    for an unknown provider, no API key, no model, or a model without a price in ``ai.prices``
    (a call that cannot be costed is never made, so the whole run would skip).
    """
    ai = _model_settings(settings, choice)[0].ai
    paid = [n for n in _provider_names(settings, choice) if n != HEURISTIC]
    if not paid:
        return []
    from kalbot.adapters.llm.factory import ProviderConfigError, build_client
    from kalbot.analysis.costs import CostTable, TokenPrice, UnknownModelPrice

    costs = CostTable(
        {m: TokenPrice(p.input_per_mtok, p.output_per_mtok) for m, p in ai.prices.items()}
    )
    out = []
    for name in paid:
        try:
            client = build_client(ai, name, primary=name == ai.provider)
        except ProviderConfigError as e:
            raise ConfigError(f"--analyst {choice.label}: {e}") from None
        try:
            costs.price(client.model)
        except UnknownModelPrice:
            raise ConfigError(
                f"--analyst {choice.label}: no price for model {client.model!r} in ai.prices "
                "(a call that cannot be costed is never made)"
            ) from None
        out.append(f"{name}:{client.model}")
    return out


async def past_analyst(
    settings: Settings,
    repo: Repository,
    spec: BacktestSpec,
    clock: Clock,
    wall_clock: Clock | None = None,
) -> PastAnalyst:
    """The analyst ``spec.analyst`` names, run over the past on the replay ``clock``.

    A paid model reserves and records its spend in ``repo`` under today's budget
    (``wall_clock``), and unless ``spec.reuse_paid`` is off it reuses the paid analyses of
    earlier backtests (``load_earlier_paid``); a free one (the heuristic) touches no database.
    """
    choice = spec.analyst
    paid = paid_models(settings, choice)
    wall = wall_clock or SystemClock()
    earlier: list[EarlierAnalysis] = []
    if paid and spec.reuse_paid:
        models = dict(m.split(":", 1) for m in paid)  # "provider:model"
        earlier = await load_earlier_paid(repo, spec.start, spec.end, models)
    store = PastAIStore(repo if paid else None, wall, replay_clock=clock, earlier=earlier)
    s, provider = _model_settings(settings, choice)
    inner = build_analyst(s, store, clock, provider, budget_clock=wall)
    # What ran, by name: "openai:gpt-4.1-mini", "heuristic + openai:gpt-4.1-mini", ...
    named = iter(paid)
    label = " + ".join(
        n if n == HEURISTIC else next(named) for n in _provider_names(settings, choice)
    )
    return PastAnalyst(inner, store, clock, label)


async def run_backtest(
    settings: Settings,
    repo: Repository,
    spec: BacktestSpec,
    *,
    analyst: Analyst | None = None,
    snapshots: AsyncIterator[Snapshot] | None = None,
    progress: Callable[[int, datetime], None] | None = None,
    wall_clock: Clock | None = None,
) -> BacktestReport:
    """Replay ``spec``'s range through the engine; ``NoData`` when it holds nothing.

    ``spec.analyst`` says whose analyses: the recorded ones (default), or an analyst run over
    the past (``BudgetExhausted`` when a paid one runs out of budget; ``ConfigError`` before
    any work when it cannot be called). ``analyst`` (tests) plugs one in directly.
    """
    reader: ReaderProcess | None = None
    if snapshots is None and spec.read_ahead is not False and can_read_ahead(repo.url):
        # Started first: it imports and opens the database while this process sets up.
        query = reader_query(
            repo.url, spec.start, spec.end, spec.tickers, spec.category, recorded_liquidity=True
        )
        try:
            reader = await ReaderProcess.start(query)
        except OSError as e:  # no interpreter to start (an embedded Python), no processes left
            if spec.read_ahead:
                raise ConfigError(f"--read-ahead: cannot start the reader process: {e}") from e
            log.warning("reading in this process: cannot start the reader process (%s)", e)
    elif snapshots is None and spec.read_ahead:
        raise ConfigError(
            "--read-ahead needs a second CPU and a database another process can open "
            "(not an in-memory SQLite)"
        )
    try:
        return await _run(settings, repo, spec, analyst, snapshots, progress, wall_clock, reader)
    finally:
        if reader is not None:
            await reader.close()


async def _run(
    settings: Settings,
    repo: Repository,
    spec: BacktestSpec,
    analyst: Analyst | None,
    snapshots: AsyncIterator[Snapshot] | None,
    progress: Callable[[int, datetime], None] | None,
    wall_clock: Clock | None,
    reader: ReaderProcess | None,
) -> BacktestReport:
    clock = ManualClock(spec.start)
    past: PastAnalyst | None = None
    if analyst is None and spec.analyst.kind != RECORDED:
        past = await past_analyst(settings, repo, spec, clock, wall_clock)
        analyst = past
    ex = Exchange(clock)
    ex.open_account(ACCOUNT, spec.capital)
    results = await load_results(repo)
    feed = ReplayDriver(
        ex,
        fill_model=get_fill_model(spec.fill_model),
        results=results,
        recorded_liquidity=True,  # shown by the venue: ``data`` passes markets through
    )
    broker = SimulatedBroker(ex, ACCOUNT)
    data = RecordedMarketData(ExchangeMarketData(ex), clock)
    replayed: ReplayedAnalyst | None = None
    if analyst is None:
        replayed = ReplayedAnalyst(await load_analyses(repo, spec.start, spec.end), clock)
        analyst = replayed
    strategy = build_strategy(settings, spec.strategy)
    store = BacktestStore()
    engine = TradingEngine(
        market_data=data,
        broker=broker,
        analyst=analyst,
        strategy=strategy,
        screener=Screener.from_config(screen_config(settings)),
        risk=RiskManager(risk_config(settings)),
        store=store,
        clock=clock,
        config=engine_config(settings, "backtest"),
    )
    steps: AsyncIterator[PreparedBatch]
    if reader is not None:
        steps = reader.steps()
    else:
        stream = snapshots or repo.stream_snapshots(
            spec.start, spec.end, spec.tickers, spec.category
        )
        steps = steps_by_time(stream, feed.converter.prepare)
    stopped: Callable[[], bool] | None = None
    if past is not None and past.store.ledger is not None:
        stopped = past.store.budget_refused  # a paid analyst: its first refused call ends it
    outcome = await replay(
        steps, start=spec.start, end=spec.end, capital=spec.capital, clock=clock, feed=feed,
        data=data, engine=engine, broker=broker, store=store, analyst=replayed, progress=progress,
        stopped=stopped,
    )  # fmt: skip
    meta: dict[str, Any] = {
        "start": spec.start,
        "end": spec.end,
        "capital": spec.capital,
        "strategy": strategy.name,
        "fill_model": spec.fill_model,
        "analyst": RECORDED if replayed is not None else spec.analyst.label,
        "analyses": "recorded (market_analyses)"
        if replayed is not None
        else "model run over the past",
        "recorded_analyses": len(replayed) if replayed is not None else 0,
        "analyses_missing": replayed.missing if replayed is not None else 0,
        "skipped_markets": dict(sorted(feed.stats.skipped.items())),
        "settled_markets": feed.stats.settled,
    }
    if past is not None:
        for ticker in sorted({u.ticker for u in past.used.values()}):
            m = await data.market(ticker)
            if m.result in (MarketResult.YES, MarketResult.NO):
                outcome.results[ticker] = m.result
        meta.update(_past_meta(past))
        at = past.store.exhausted_at
        if at is not None and past.store.ledger is not None:
            meta["stopped"] = (
                f"PARTIAL RUN: the AI budget refused a call at replay time {iso_utc(at)}; "
                f"stopped after {outcome.snapshots:,} snapshots (open positions marked at "
                "the bid there)"
            )
            report = build_report(outcome, store, past, meta)
            raise BudgetExhausted(at, outcome.snapshots, past.store.calls, past.store.cost, report)
    return build_report(outcome, store, replayed if replayed is not None else past, meta)


def _past_meta(past: PastAnalyst) -> dict[str, Any]:
    paid = past.store.ledger is not None
    note = (
        f"{past.label} run over the past: its context is built from the replay (data stamped "
        "at or before each replay time), but the model may know outcomes after its training "
        "cutoff, so read its results as optimistic"
        if paid
        else f"{past.label} run over the past: free, offline, no budget used"
    )
    return {
        "analyses": note,
        "analyst": past.label,
        "analyst_run_over_past": True,
        "analyst_paid": paid,
        "ai_calls": past.store.calls,
        "ai_cost": past.store.cost,
        "ai_reused": past.reused,
        "ai_reused_cost": past.reused_cost,
        "ai_cost_booked_as": (
            f"ai_cost_tracking, provider {BACKTEST_PROVIDER_PREFIX}<provider>, today (UTC)"
            if paid
            else "nothing (free)"
        ),
        "ai_errors": dict(sorted(past.store.errors.items())),
        "analyses_missing": past.missing,
    }
