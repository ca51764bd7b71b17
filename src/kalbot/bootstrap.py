"""The one place that picks adapters: database, market data, broker, analyst, clock.

The loop (``kalbot.engine``) is the same in every mode; what differs is what is built here.
Other parts may add small builder functions; keep each mode's wiring in one function.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from kalbot.adapters.store.repository import Repository, create_repository
from kalbot.analysis.service import AnalystConfig, RecordedAnalyst
from kalbot.config import ConfigError, Settings
from kalbot.domain.clock import SystemClock
from kalbot.domain.market import Market, OrderBook
from kalbot.domain.snapshot import Snapshot
from kalbot.engine import EngineConfig, ExitRules, TradingEngine
from kalbot.ports import AIStore, Analyst, Broker, Clock, MarketData
from kalbot.recorder import LiveDataRecorder
from kalbot.risk import RiskConfig, RiskManager
from kalbot.screener import ScreenConfig, Screener
from kalbot.strategy import Strategy, load_strategy
from kalbot.strategy.builtin import StandardStrategy

if TYPE_CHECKING:
    from fastapi import FastAPI

    from kalbot.web.health import ExchangeProbe

Mode = Literal["paper", "live", "demo", "backtest"]


def screen_config(s: Settings) -> ScreenConfig:
    t = s.trading
    return ScreenConfig(
        min_volume_24h=t.min_volume_24h,
        min_open_interest=t.min_open_interest,
        max_spread=t.max_spread,
        min_hours_to_close=t.min_hours_to_close,
        max_days_to_close=t.max_days_to_close,
        min_price=t.min_price,
        max_price=t.max_price,
        categories_allow=frozenset(t.categories_allow),
        categories_deny=frozenset(t.categories_deny),
        tickers_deny=frozenset(t.tickers_deny),
    )


def risk_config(s: Settings) -> RiskConfig:
    r = s.risk
    return RiskConfig(
        kelly_fraction=r.kelly_fraction,
        sizing=r.sizing,
        fixed_contracts=r.fixed_contracts,
        proportional_fraction=r.proportional_fraction,
        max_position_dollars=r.max_position_dollars,
        max_position_share=r.max_position_share,
        max_open_positions=r.max_open_positions,
        max_total_exposure=r.max_total_exposure,
        max_event_exposure=r.max_event_exposure,
        max_category_exposure=r.max_category_exposure,
        min_cash_reserve=r.min_cash_reserve,
        max_daily_loss=r.max_daily_loss,
        max_drawdown=r.max_drawdown,
        max_stopouts=r.max_stopouts,
        stopout_window=timedelta(minutes=r.stopout_window_minutes),
        cooldown=timedelta(minutes=r.cooldown_minutes),
    )


def engine_config(
    s: Settings, mode: str, *, require_reconciled: bool = False, sqlite: bool = False
) -> EngineConfig:
    t = s.trading
    return EngineConfig(
        mode=mode,
        exits=ExitRules(
            profit_target=t.profit_target,
            stop_loss=t.stop_loss,
            max_hold=timedelta(hours=t.max_hold_hours),
            close_before_expiry=timedelta(minutes=t.close_before_expiry_minutes),
        ),
        ai_budget=s.ai.daily_budget,
        require_reconciled=require_reconciled,
        # SQLite has one writer; concurrent analyses would only queue on its lock.
        analysis_concurrency=1 if sqlite else 4,
    )


def build_strategy(s: Settings, name: str | None = None) -> Strategy:
    """The named strategy, with the settings' thresholds where a built-in takes them."""
    strategy = load_strategy(name or s.trading.strategy)
    if isinstance(strategy, StandardStrategy):
        strategy.min_edge = s.ai.min_edge
        strategy.min_confidence = max(s.ai.min_confidence, strategy.min_confidence)
    return strategy


def build_analyst(
    s: Settings,
    repo: AIStore,
    clock: Clock,
    provider: str | None = None,
    *,
    budget_clock: Clock | None = None,
) -> Analyst:
    """The configured analyst, recording into ``repo`` and spending under its daily budget.

    ``provider`` overrides ``ai.provider``; ``ai.ensemble`` (two or more names) builds an
    ensemble of those providers instead, combined in log-odds with ``ai.ensemble_weights``.
    ``budget_clock`` (default ``clock``) dates the budget: a backtest's analyst sees the replay
    clock while its spend counts against today's budget.
    """
    from kalbot.analysis.service import EnsembleAnalyst

    ai = s.ai
    if provider is None and len(ai.ensemble) > 1:
        members = [
            _single_analyst(
                s, repo, clock, name, primary=name == ai.provider, budget_clock=budget_clock
            )
            for name in ai.ensemble
        ]
        weights = list(ai.ensemble_weights) or None
        if weights is not None and len(weights) != len(members):
            raise ConfigError("ai.ensemble_weights needs one weight per ai.ensemble member")
        return EnsembleAnalyst(members, repo, clock, _analyst_config(s), weights)
    name = provider or ai.provider
    return _single_analyst(
        s, repo, clock, name, primary=name == ai.provider, budget_clock=budget_clock
    )


def _analyst_config(s: Settings) -> AnalystConfig:
    from kalbot.analysis.decide import DecisionRule
    from kalbot.analysis.service import AnalystConfig

    ai = s.ai
    return AnalystConfig(
        rule=DecisionRule(
            min_edge=ai.min_edge,
            min_confidence=ai.min_confidence,
            fee_reference_contracts=ai.fee_reference_contracts,
        ),
        show_market_price=ai.show_market_price,
        reanalyze_after=timedelta(seconds=ai.reanalyze_after_seconds),
        reanalyze_price_move=ai.reanalyze_price_move,
    )


def _single_analyst(
    s: Settings,
    repo: AIStore,
    clock: Clock,
    name: str,
    *,
    primary: bool,
    budget_clock: Clock | None = None,
) -> RecordedAnalyst:
    from kalbot.analysis.heuristic import load_params
    from kalbot.analysis.service import HeuristicAnalyst, LLMAnalyst

    ai = s.ai
    cfg = _analyst_config(s)
    if name == "heuristic":
        path = Path(ai.heuristic_params_path)
        # Read on every analysis: a `kalbot analyst fit` is picked up without a restart.
        return HeuristicAnalyst(repo, clock, cfg, lambda: load_params(path))
    # Imported only for a paid provider: the SDKs take seconds to import.
    from kalbot.adapters.llm.factory import ProviderConfigError, build_client
    from kalbot.analysis.budget import BudgetGuard
    from kalbot.analysis.costs import CostTable, TokenPrice

    guard = BudgetGuard(
        repo,
        budget_clock or clock,
        lambda: ai.daily_budget,
        reservation_ttl=timedelta(seconds=ai.reservation_ttl_seconds),
    )
    costs = CostTable(
        {m: TokenPrice(p.input_per_mtok, p.output_per_mtok) for m, p in ai.prices.items()},
        ai.prices_as_of,
    )
    try:
        client = build_client(ai, name, primary=primary)
    except ProviderConfigError as e:
        raise ConfigError(str(e)) from None
    return LLMAnalyst(client, costs, guard, repo, clock, cfg)


class PaperMirror:
    """Paper trading on real data: Kalshi's quotes mirrored into an in-process simulated
    exchange, whose ``SimulatedBroker`` fills our orders against them through a fill model.

    ``MarketData`` for the engine; the broker trades on ``exchange``. Kalshi's results settle
    the mirrored markets. The simulated account lives in memory: a restart starts it afresh
    (cash and holdings), while the database keeps its positions and settles them as usual.
    """

    def __init__(self, source: MarketData, exchange: Any, fill_model: str = "conservative") -> None:
        self.source = source
        self.exchange = exchange
        self.fill_model = fill_model

    def _mirror(self, m: Market) -> None:
        from kalbot.adapters.simulated.fill_models import get_fill_model
        from kalbot.adapters.simulated.markets import MarketSpec

        ex = self.exchange
        if m.ticker not in self._listed():
            spec = MarketSpec(
                ticker=m.ticker,
                event_ticker=m.event_ticker,
                close_time=m.close_time,
                open_time=m.open_time,
                series_ticker=m.series_ticker,
                title=m.title,
                category=m.category,
                price_ranges=m.price_ranges,
                fee_type=m.fee_type,
                fee_multiplier=m.fee_multiplier,
            )
            ex.add_quoted_market(spec, get_fill_model(self.fill_model))
        ex.update_quote(m.ticker, m.quote, m.last_price)

    def _listed(self) -> set[str]:
        return set(self.exchange.tickers())

    async def open_markets(self) -> AsyncIterator[Market]:
        async for m in self.source.open_markets():
            if not m.is_combo:
                self._mirror(m)
            yield m

    async def market(self, ticker: str) -> Market:
        from kalbot.domain.market import MarketResult, MarketStatus

        m = await self.source.market(ticker)
        if (
            m.result in (MarketResult.YES, MarketResult.NO)
            and ticker in self._listed()
            and self.exchange.market_status(ticker) is not MarketStatus.FINALIZED
        ):
            self.exchange.settle(ticker, m.result)
        return m

    async def orderbook(self, ticker: str) -> OrderBook:
        return await self.source.orderbook(ticker)


def paper_venue(
    s: Settings, clock: Clock
) -> tuple[MarketData, Broker, str, Callable[[], Awaitable[None]]]:
    """Kalshi's market data (no key needed) with orders filled by the simulated exchange."""
    from kalbot.adapters.kalshi.client import KalshiClient
    from kalbot.adapters.kalshi.market_data import KalshiMarketData
    from kalbot.adapters.simulated.broker import SimulatedBroker
    from kalbot.adapters.simulated.exchange import Exchange

    client = KalshiClient.from_settings(s.kalshi)
    exchange = Exchange(clock)
    exchange.open_account("paper", s.trading.paper_balance)
    mirror = PaperMirror(KalshiMarketData(client), exchange)
    where = f"{client.endpoints.rest_url} (paper: simulated fills)"
    return mirror, SimulatedBroker(exchange, "paper"), where, client.aclose


@dataclass
class TradingApp:
    """A wired engine and what must be closed after it."""

    engine: TradingEngine
    repo: Repository
    mode: str
    venue: str
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def aclose(self) -> None:
        for close in reversed(self.closers):
            with contextlib.suppress(Exception):  # closing must not mask the run's outcome
                await close()
        await self.repo.close()


def kalshi_venue(s: Settings) -> tuple[MarketData, Broker, str, Callable[[], Awaitable[None]]]:
    """Market data and orders through the Kalshi client (Kalshi itself or a simulator URL)."""
    from kalbot.adapters.kalshi.broker import KalshiBroker
    from kalbot.adapters.kalshi.client import KalshiClient
    from kalbot.adapters.kalshi.market_data import KalshiMarketData

    client = KalshiClient.from_settings(s.kalshi)
    return KalshiMarketData(client), KalshiBroker(client), client.endpoints.rest_url, client.aclose


async def build_trading_app(
    s: Settings,
    *,
    mode: Mode,
    strategy: str | None = None,
    clock: Clock | None = None,
    venue: tuple[MarketData, Broker, str, Callable[[], Awaitable[None]]] | None = None,
    repo: Repository | None = None,
    record: bool = True,
) -> TradingApp:
    """Wire the engine for ``mode``.

    live: Kalshi (demo unless production is named) with the configured key; requires
    ``trading.live_trading_enabled`` and refuses to start on a reconciliation mismatch.
    paper: Kalshi's market data with orders filled by the in-process simulated exchange
    (``PaperMirror``), or — when ``kalshi.base_url`` names a simulator (``kalbot sim serve``,
    the demo) — that simulator as the venue. Never Kalshi's real order book.
    """
    if mode == "live" and not s.trading.live_trading_enabled:
        raise ConfigError("live trading needs LIVE_TRADING_ENABLED=true as well as --live")
    clock = clock or SystemClock()
    if venue is None:
        # Paper against Kalshi itself fills in-process; against a simulator URL the simulator
        # is the venue (it is not Kalshi's order book).
        venue = (
            paper_venue(s, clock) if mode == "paper" and not s.kalshi.base_url else kalshi_venue(s)
        )
    repo = repo or create_repository(s)
    await repo.initialize()
    md, broker, where, close = venue
    recorder = LiveDataRecorder(repo, md, interval=timedelta(seconds=s.trading.interval_seconds))
    engine = TradingEngine(
        market_data=md,
        broker=broker,
        analyst=build_analyst(s, repo, clock),
        strategy=build_strategy(s, strategy),
        screener=Screener.from_config(screen_config(s)),
        risk=RiskManager(risk_config(s)),
        store=repo,
        clock=clock,
        config=engine_config(s, mode, require_reconciled=mode == "live", sqlite=repo.is_sqlite),
        recorder=recorder if record else None,
        spend=repo,
    )
    return TradingApp(engine, repo, mode, where, [close])


async def replay_snapshots(
    s: Settings, *, start: datetime, end: datetime, url: str | None = None
) -> list[Snapshot]:
    """The ``market_snapshots`` rows in [start, end) of the configured database (or ``url``),
    oldest first: what ``kalbot sim serve --scenario replay`` serves."""
    db = s.database if url is None else s.database.model_copy(update={"url": url})
    repo = create_repository(db)
    await repo.initialize(upgrade=False)
    try:
        return [snap async for snap in repo.stream_snapshots(start, end)]
    finally:
        await repo.close()


# ---- dashboard (kalbot.web) ---------------------------------------------------------------------


def exchange_probe(s: Settings) -> ExchangeProbe | None:
    """The dashboard's /health question to the configured exchange (Kalshi, its demo, or a
    local stand-in): one quick attempt without retries, so a health check answers in seconds.
    None when ``web.exchange_check`` is off."""
    if not s.web.exchange_check:
        return None
    from kalbot.adapters.kalshi.client import KalshiClient

    kalshi = s.kalshi.model_copy(
        update={"max_retries": 0, "timeout_seconds": min(s.kalshi.timeout_seconds, 5.0)}
    )

    async def probe() -> str:
        async with KalshiClient.from_settings(kalshi) as client:
            status = await client.exchange_status()
        exchange = "active" if status.exchange_active else "inactive"
        trading = "open" if status.trading_active else "closed"
        return f"exchange {exchange}, trading {trading}"

    return probe


def dashboard_app(s: Settings, host: str | None = None) -> FastAPI:
    """The read-only dashboard over the configured database, with its own read-only engine.
    Raises ``kalbot.web.security.TokenRequired`` for a non-loopback ``host`` without a token."""
    from kalbot.web.app import build_app

    return build_app(s, probe=exchange_probe(s), host=host)
