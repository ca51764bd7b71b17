"""Decisions at time t see only data stamped <= t: future quotes and a future analysis are
planted in the database, and the trade happens exactly when they become the present.

A model run over the past (``--analyst``) is held to the same rule from the other side: every
prompt it is sent is checked for planted future prices in
``test_past_analyst.test_the_model_is_shown_only_data_stamped_at_or_before_the_replay_time``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal

import pytest

from backtest import golden
from backtest.golden import END, T0
from kalbot.adapters.store.repository import Repository
from kalbot.backtest.replay import (
    LookAheadError,
    RecordedAnalysis,
    RecordedMarketData,
    ReplayedAnalyst,
)
from kalbot.backtest_app import BacktestSpec, run_backtest
from kalbot.domain.clock import ManualClock
from kalbot.domain.context import MarketContext
from kalbot.domain.decisions import Analysis, Decision
from kalbot.domain.market import Market, MarketStatus, Quote
from kalbot.domain.snapshot import Snapshot


async def test_planted_future_quotes_and_analysis_are_not_seen(sqlite_url: str) -> None:
    quotes = golden.flat(0.88, 0.90)  # no edge at 0.90 for p = 0.90 ...
    for h in range(4, 9):
        quotes[h] = (0.48, 0.50, 100, 100)  # ... a big one from T0+4h
    # The analysis is recorded at T0+4h too: before then the strategy has none.
    g = golden.GoldenMarket("GLD-G", "yes", "0.90", quotes, analysis_at=4)
    repo = Repository(sqlite_url)
    await repo.initialize()
    try:
        await golden.load(repo, [g])
        rep = await run_backtest(golden.settings(), repo, BacktestSpec(T0, END, Decimal(1000)))
    finally:
        await repo.close()
    (trade,) = rep.trades
    assert trade.entry_time == T0 + timedelta(hours=4)
    assert trade.entry_price == Decimal("0.50")
    assert rep.meta["analyses_missing"] >= 4  # T0..T0+3h asked and got no analysis


def _market(ticker: str = "M") -> Market:
    return Market(
        ticker, "E", "t", MarketStatus.ACTIVE, Quote(Decimal("0.4"), Decimal("0.5")),
        T0 + timedelta(days=1),
    )  # fmt: skip


async def test_replayed_analyst_never_returns_a_later_analysis() -> None:
    clock = ManualClock(T0)

    def rec(hours: int, p: str) -> RecordedAnalysis:
        a = Analysis("M", Decimal(p), Decision.SKIP, Decimal("0.9"), "", "x", "y")
        return RecordedAnalysis(T0 + timedelta(hours=hours), a)

    analyst = ReplayedAnalyst([rec(2, "0.7"), rec(0, "0.6"), rec(5, "0.9")], clock)
    ctx = MarketContext(_market(), T0)
    assert (await analyst.analyze(ctx)).probability_yes == Decimal("0.6")
    clock.set(T0 + timedelta(hours=4, minutes=59))
    assert (await analyst.analyze(ctx)).probability_yes == Decimal("0.7")
    clock.set(T0 + timedelta(hours=5))
    assert (await analyst.analyze(ctx)).probability_yes == Decimal("0.9")
    none = await analyst.analyze(MarketContext(_market("OTHER"), T0))
    assert none.probability_yes is None and none.error == "no_recorded_analysis"
    assert all(u.analysed_at <= u.at for u in analyst.used.values())
    # one forecast per recorded analysis shown, with the mid at that moment
    assert {u.probability for u in analyst.used.values()} == {
        Decimal("0.6"),
        Decimal("0.7"),
        Decimal("0.9"),
    }
    assert {u.market_mid for u in analyst.used.values()} == {Decimal("0.45")}


async def test_market_data_refuses_a_step_from_the_future_and_passes_markets_through() -> None:
    clock = ManualClock(T0)
    shown = [_market("M"), _market("N")]

    class Venue:  # as ReplayDriver(recorded_liquidity=True) shows them: nothing to dress
        async def open_markets(self):  # type: ignore[no-untyped-def]
            for m in shown:
                yield m

        async def open_market_list(self) -> list[Market]:
            return shown

        async def market(self, ticker: str) -> Market:
            return next(m for m in shown if m.ticker == ticker)

        async def orderbook(self, ticker: str):  # type: ignore[no-untyped-def]
            raise NotImplementedError

    data = RecordedMarketData(Venue(), clock)
    step = T0 + timedelta(hours=1)
    with pytest.raises(LookAheadError):
        data.observe_step(step)
    clock.set(step)
    data.observe_step(step)
    listed = await data.open_market_list()
    assert listed == shown and all(a is b for a, b in zip(listed, shown, strict=True))
    assert listed is not shown  # the caller's own list
    assert [m async for m in data.open_markets()] == shown
    assert await data.market("N") is shown[1]


async def test_snapshots_out_of_time_order_are_refused(sqlite_url: str) -> None:
    snaps = golden.snapshots([golden.GoldenMarket("M", None, "0.5", golden.flat(0.4, 0.5))])
    early, late = snaps[0], snaps[3]
    assert early.timestamp < late.timestamp

    async def stream() -> AsyncIterator[Snapshot]:
        for s in (early, late, early):
            yield s

    repo = Repository(sqlite_url)
    await repo.initialize()
    try:
        with pytest.raises(ValueError, match="time order"):
            await run_backtest(
                golden.settings(), repo, BacktestSpec(T0, END, Decimal(1000)), snapshots=stream()
            )
    finally:
        await repo.close()
