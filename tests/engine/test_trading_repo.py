"""The engine over the real repository on SQLite and PostgreSQL: the TradingStore contract."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from engine.factories import NOW, D, market
from engine.fakes import FakeBroker, FakeMarketData, FixedAnalyst
from kalbot.adapters.store.repository import Repository
from kalbot.domain.clock import ManualClock
from kalbot.domain.errors import Duplicate
from kalbot.domain.fees import taker_fee
from kalbot.domain.market import MarketResult, Quote
from kalbot.domain.orders import Action
from kalbot.domain.prices import Side
from kalbot.engine import EngineConfig, TradingEngine
from kalbot.engine.records import FillRecord, PositionChange
from kalbot.recorder import LiveDataRecorder
from kalbot.risk import RiskConfig, RiskManager
from kalbot.screener import ScreenConfig, Screener
from kalbot.strategy import StandardStrategy


def engine_for(
    repo: Repository, md: FakeMarketData, broker: FakeBroker, clock: ManualClock
) -> TradingEngine:
    return TradingEngine(
        market_data=md,
        broker=broker,
        analyst=FixedAnalyst({"Y": "0.70", "N": "0.30"}),
        strategy=StandardStrategy(),
        screener=Screener.from_config(ScreenConfig()),
        risk=RiskManager(RiskConfig(sizing="fixed", fixed_contracts=10)),
        store=repo,
        clock=clock,
        config=EngineConfig(mode="test"),
        recorder=LiveDataRecorder(repo, md, interval=timedelta(minutes=1)),
    )


async def test_cycle_opens_settles_records_and_survives_restart(repo: Repository) -> None:
    clock = ManualClock(NOW)
    md = FakeMarketData([market("Y", "0.40", "0.42"), market("N", "0.60", "0.62")])
    broker = FakeBroker(md, clock)
    eng = engine_for(repo, md, broker, clock)
    s = await eng.run_cycle()
    assert s.fills == 2 and s.open_positions == 2
    opened = {p.ticker: p for p in await repo.open_positions()}
    assert opened["Y"].side is Side.YES and opened["Y"].entry_price == D("0.42")
    assert opened["N"].side is Side.NO and opened["N"].entry_price == D("0.40")

    # Restart: a new engine on the same database sees both positions and trades nothing new.
    clock.advance(timedelta(minutes=1))
    eng2 = engine_for(repo, md, broker, clock)
    s2 = await eng2.run_cycle()
    assert s2.cycle_id == 2 and s2.orders == 0 and s2.open_positions == 2
    assert len(broker.placed) == 2

    clock.advance(timedelta(minutes=1))
    for t, res in (("Y", MarketResult.YES), ("N", MarketResult.YES)):
        md.settle(t, res)
        broker.settle(t, res)
    await eng2.run_cycle()
    hist = {t: (await repo.position_history(t))[0] for t in ("Y", "N")}
    assert hist["Y"].close_reason == "settled_yes" and hist["Y"].exit_price == 1
    assert hist["Y"].pnl == 10 * D("0.58") - taker_fee(D(10), D("0.42"))
    assert hist["N"].close_reason == "settled_yes" and hist["N"].exit_price == 0
    assert hist["N"].pnl == -(10 * D("0.40")) - taker_fee(D(10), D("0.40"))

    counts = await repo.table_counts(
        [
            "orders",
            "fills",
            "decision_log",
            "cycles",
            "market_snapshots",
            "recorder_coverage",
            "market_results",
            "risk_events",
        ]
    )
    assert counts["orders"] == 2 and counts["fills"] == 2 and counts["cycles"] == 3
    assert counts["market_snapshots"] >= 4 and counts["recorder_coverage"] == 2
    assert counts["market_results"] == 2 and counts["risk_events"] >= 1
    perf = await repo.performance_log(NOW.date())
    assert perf is not None and perf.num_trades == 2 and perf.win_rate == D("0.5")
    why = await repo.recent_decisions("Y")
    assert {r.stage for r in why} >= {"risk", "execution", "fill", "settlement"}


async def test_a_replayed_fill_is_a_duplicate_and_changes_nothing(repo: Repository) -> None:
    from kalbot.engine.records import OpenPosition

    pos = OpenPosition(0, "T", Side.NO, D(5), D("1.50"), D("0.07"), NOW, "test")
    fill = FillRecord(
        "fill-1", "o1", "c1", "T", Side.NO, Action.BUY, D(5), D("0.30"), D("0.07"), True, NOW
    )
    pid = await repo.apply_fill(fill, PositionChange("open", pos))
    assert pid is not None
    with pytest.raises(Duplicate):
        await repo.apply_fill(fill, PositionChange("open", replace(pos)))
    assert len(await repo.open_positions()) == 1
    st = await repo.load_engine_state(NOW, timedelta(days=1))
    [p] = st.open_positions
    assert p.cost == D("1.50") and p.entry_fees == D("0.07") and p.quantity == 5
    assert st.last_fill_ts == NOW


async def test_partial_close_splits_the_row_in_the_database(repo: Repository) -> None:
    clock = ManualClock(NOW)
    md = FakeMarketData([market("Y", "0.40", "0.42")])
    broker = FakeBroker(md, clock)
    eng = engine_for(repo, md, broker, clock)
    await eng.run_cycle()
    md.set(replace(md.markets["Y"], quote=Quote(D("0.60"), D("0.62"), D(100), D(100))))
    broker.fill_ratio = Decimal("0.4")
    clock.advance(timedelta(minutes=1))
    await eng.run_cycle()
    rows = await repo.position_history("Y")
    assert sorted((r.status.value, r.quantity) for r in rows) == [("closed", 4), ("open", 6)]
    closed = next(r for r in rows if r.status.value == "closed")
    assert closed.close_reason == "profit_target"
    expect = (
        4 * (D("0.60") - D("0.42"))
        - taker_fee(D(10), D("0.42")) * 4 / 10
        - taker_fee(D(4), D("0.60"))
    )
    assert closed.pnl is not None and abs(closed.pnl - expect) < D("0.000001")
