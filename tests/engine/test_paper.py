"""Paper trading on (faked) Kalshi data: quotes mirrored into the in-process simulated exchange."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from engine.factories import NOW, D, market
from engine.fakes import FakeMarketData, FixedAnalyst
from kalbot.adapters.simulated.broker import SimulatedBroker
from kalbot.adapters.simulated.exchange import Exchange
from kalbot.bootstrap import PaperMirror
from kalbot.domain.clock import ManualClock
from kalbot.domain.fees import taker_fee
from kalbot.domain.market import MarketResult
from kalbot.domain.prices import Side
from kalbot.engine import EngineConfig, MemoryTradingStore, TradingEngine
from kalbot.risk import RiskConfig, RiskManager
from kalbot.screener import ScreenConfig, Screener
from kalbot.strategy import StandardStrategy


@pytest.mark.parametrize(
    ("side", "bid", "ask", "p_yes", "entry"),
    [(Side.YES, "0.40", "0.42", "0.70", "0.42"), (Side.NO, "0.60", "0.62", "0.30", "0.40")],
)
async def test_paper_fills_at_the_mirrored_quote_and_settles_with_kalshis_result(
    side: Side, bid: str, ask: str, p_yes: str, entry: str
) -> None:
    clock = ManualClock(NOW)
    source = FakeMarketData([market("M", bid, ask)])
    ex = Exchange(clock)
    ex.open_account("paper", Decimal(10000))
    store = MemoryTradingStore()
    eng = TradingEngine(
        market_data=PaperMirror(source, ex),
        broker=SimulatedBroker(ex, "paper"),
        analyst=FixedAnalyst({"M": p_yes}),
        strategy=StandardStrategy(),
        screener=Screener.from_config(ScreenConfig()),
        risk=RiskManager(RiskConfig(sizing="fixed", fixed_contracts=10)),
        store=store,
        clock=clock,
        config=EngineConfig(mode="paper"),
    )
    s = await eng.run_cycle()
    assert s.fills >= 1 and s.open_positions == 1
    [row] = store.open_rows()
    assert row["side"] == side.value and row["quantity"] == 10 and row["entry_price"] == D(entry)
    win = MarketResult.YES if side is Side.YES else MarketResult.NO
    clock.advance(timedelta(hours=1))
    source.settle("M", win)
    await eng.run_cycle()
    [closed] = store.closed_rows()
    fee = taker_fee(D(10), D(entry))
    assert closed["close_reason"] == f"settled_{win.value}"
    assert closed["pnl"] == 10 * (1 - D(entry)) - fee
    # The simulated account agrees to the cent: paid entry + fee, received $1 x 10.
    assert ex.balance("paper") == Decimal(10000) + closed["pnl"]  # type: ignore[operator]
