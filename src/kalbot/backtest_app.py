"""Wiring of a backtest (the composition root of ``kalbot backtest``, beside bootstrap.py).

The replay venue is the simulated exchange fed by ``ReplayDriver`` (quote-driven markets with
the chosen fill model, settled at each market's result); the engine is the one ``TradingEngine``
with the configured screener, strategy and risk manager, built by ``kalbot.bootstrap``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import text

from kalbot.adapters.simulated.broker import ExchangeMarketData, SimulatedBroker
from kalbot.adapters.simulated.exchange import Exchange
from kalbot.adapters.simulated.fill_models import get_fill_model
from kalbot.adapters.simulated.scenarios.replay import ReplayDriver
from kalbot.adapters.store.repository import Repository
from kalbot.backtest.replay import (
    BacktestStore,
    RecordedAnalysis,
    RecordedMarketData,
    ReplayedAnalyst,
)
from kalbot.backtest.results import BacktestReport, build_report
from kalbot.backtest.runner import replay
from kalbot.bootstrap import build_strategy, engine_config, risk_config, screen_config
from kalbot.config import Settings
from kalbot.domain.clock import ManualClock, iso_utc, parse_iso
from kalbot.domain.decisions import Analysis, Decision
from kalbot.domain.market import MarketResult
from kalbot.domain.snapshot import Snapshot
from kalbot.engine import TradingEngine
from kalbot.ports import Analyst
from kalbot.risk import RiskManager
from kalbot.screener import Screener

ACCOUNT = "backtest"
# Analyses older than this before the start still count as "the latest view" at the start.
ANALYSIS_LOOKBACK = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class BacktestSpec:
    start: datetime
    end: datetime
    capital: Decimal = Decimal(10000)
    strategy: str | None = None
    fill_model: str = "conservative"
    tickers: Sequence[str] | None = None
    category: str | None = None


def _dec(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


async def load_analyses(repo: Repository, start: datetime, end: datetime) -> list[RecordedAnalysis]:
    """``market_analyses`` rows stamped in [start - lookback, end), oldest first."""
    sql = text(
        "SELECT ticker, timestamp, decision, confidence, metadata, ai_provider, cost, id "
        "FROM market_analyses WHERE timestamp >= :lo AND timestamp < :hi ORDER BY timestamp, id"
    )
    out: list[RecordedAnalysis] = []
    async with repo.connection("reading recorded analyses") as conn:
        rows = (
            await conn.execute(sql, {"lo": iso_utc(start - ANALYSIS_LOOKBACK), "hi": iso_utc(end)})
        ).all()
    for ticker, ts, decision, confidence, meta_text, provider, cost, _ in rows:
        try:
            meta = json.loads(meta_text) if meta_text else {}
        except ValueError:
            meta = {}
        if not isinstance(meta, dict):
            meta = {}
        p = _dec(meta.get("probability_yes"))
        if p is not None and not 0 <= p <= 1:
            p = None
        try:
            d = Decision(decision) if decision else Decision.SKIP
        except ValueError:
            d = Decision.SKIP
        analysis = Analysis(
            ticker=str(ticker),
            probability_yes=p,
            decision=d if p is not None else Decision.SKIP,
            confidence=_dec(confidence) or Decimal(0),
            rationale=str(meta.get("reason") or ""),
            provider=str(provider),
            model=str(meta.get("model") or ""),
            cost=_dec(cost) or Decimal(0),
            metadata={**meta, "replayed": True},
        )
        out.append(RecordedAnalysis(parse_iso(str(ts)), analysis))
    return out


async def load_results(repo: Repository) -> dict[str, MarketResult]:
    """Known market results (``market_results``); YES/NO/VOID settle a replayed market (a void
    refunds holders at cost); scalar results are not replayed."""
    async with repo.connection("reading market results") as conn:
        rows = (await conn.execute(text("SELECT ticker, result FROM market_results"))).all()
    return {str(t): MarketResult(r) for t, r in rows if r in ("yes", "no", "void")}


async def run_backtest(
    settings: Settings,
    repo: Repository,
    spec: BacktestSpec,
    *,
    analyst: Analyst | None = None,
    snapshots: AsyncIterator[Snapshot] | None = None,
    progress: Callable[[int, datetime], None] | None = None,
) -> BacktestReport:
    """Replay ``spec``'s range through the engine; ``NoData`` when it holds nothing.

    ``analyst=None`` replays the recorded analyses; pass a live analyst to run a model over
    the past (the report's meta says which).
    """
    clock = ManualClock(spec.start)
    ex = Exchange(clock)
    ex.open_account(ACCOUNT, spec.capital)
    feed = ReplayDriver(
        ex, fill_model=get_fill_model(spec.fill_model), results=await load_results(repo)
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
    stream = snapshots or repo.stream_snapshots(spec.start, spec.end, spec.tickers, spec.category)
    outcome = await replay(
        stream, start=spec.start, end=spec.end, capital=spec.capital, clock=clock, feed=feed,
        data=data, engine=engine, broker=broker, store=store, analyst=replayed, progress=progress,
    )  # fmt: skip
    meta: dict[str, Any] = {
        "start": spec.start,
        "end": spec.end,
        "capital": spec.capital,
        "strategy": strategy.name,
        "fill_model": spec.fill_model,
        "analyses": "recorded (market_analyses)"
        if replayed is not None
        else "model run over the past",
        "recorded_analyses": len(replayed) if replayed is not None else 0,
        "analyses_missing": replayed.missing if replayed is not None else 0,
        "skipped_markets": dict(sorted(feed.stats.skipped.items())),
        "settled_markets": feed.stats.settled,
    }
    return build_report(outcome, store, replayed, meta)
