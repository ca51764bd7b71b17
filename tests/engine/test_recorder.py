from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

from engine.factories import NOW, market
from engine.fakes import FakeMarketData
from kalbot.domain.market import MarketResult
from kalbot.domain.snapshot import Snapshot
from kalbot.recorder import CoverageRow, LiveDataRecorder, MarketResultRow, snapshot_of


class MemoryRecorderStore:
    def __init__(self) -> None:
        self.snapshots: list[Snapshot] = []
        self.writes = 0
        self.cov: dict[str, CoverageRow] = {}
        self.results: list[MarketResultRow] = []

    async def add_snapshots(self, snapshots: Sequence[Snapshot]) -> int:
        self.writes += 1
        self.snapshots.extend(snapshots)
        return len(snapshots)

    async def upsert_coverage(self, rows: Sequence[CoverageRow]) -> None:
        for r in rows:
            self.cov[r.ticker] = replace(r)

    async def coverage(self, tickers: Sequence[str] | None = None) -> list[CoverageRow]:
        return list(self.cov.values())

    async def add_market_results(self, rows: Sequence[MarketResultRow]) -> None:
        self.results.extend(rows)


def test_snapshot_has_the_spec_columns_both_sides_and_metadata() -> None:
    s = snapshot_of(market("A", "0.40", "0.43"), NOW)
    assert (s.yes_bid, s.yes_ask) == (0.40, 0.43)
    assert (s.no_bid, s.no_ask) == (0.57, 0.60)
    assert s.metadata["event_ticker"] == "KXTEST" and s.metadata["yes_ask_size"] == "1000"
    assert s.close_time is not None and s.close_time.endswith("Z")


async def test_one_bulk_write_per_cycle_coverage_gaps_and_results_once_known() -> None:
    md = FakeMarketData([market("A"), market("B")])
    store = MemoryRecorderStore()
    rec = LiveDataRecorder(store, md, interval=timedelta(minutes=1))
    await rec.record(list(md.markets.values()), NOW)
    await rec.record(list(md.markets.values()), NOW + timedelta(minutes=1))
    assert store.writes == 2 and len(store.snapshots) == 4
    # A gap of five intervals for A; B leaves the open set and settles NO.
    md.settle("B", MarketResult.NO)
    later = NOW + timedelta(minutes=6)
    await rec.record([md.markets["A"]], later)
    a = store.cov["A"]
    assert a.num_snapshots == 3 and a.num_gaps == 1 and a.max_gap_seconds == 300
    assert [(r.ticker, r.result) for r in store.results] == [("B", "no")]
    final = [s for s in store.snapshots if s.ticker == "B"][-1]
    assert final.metadata["result"] == "no"
    await rec.record([md.markets["A"]], later + timedelta(minutes=1))
    assert len(store.results) == 1  # recorded once
