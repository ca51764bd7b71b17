"""LiveDataRecorder: every cycle, one bulk write of the markets seen to ``market_snapshots``,
plus coverage per market and the results of markets once they are determined."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from kalbot.domain.market import Market
from kalbot.domain.snapshot import Snapshot
from kalbot.ports import MarketData
from kalbot.recorder.records import CoverageRow, MarketResultRow

log = logging.getLogger("kalbot.recorder")


class RecorderStore(Protocol):
    async def add_snapshots(self, snapshots: Sequence[Snapshot]) -> int: ...

    async def upsert_coverage(self, rows: Sequence[CoverageRow]) -> None: ...

    async def coverage(self, tickers: Sequence[str] | None = None) -> list[CoverageRow]: ...

    async def add_market_results(self, rows: Sequence[MarketResultRow]) -> None: ...


def _f(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def snapshot_of(m: Market, now: datetime) -> Snapshot:
    """One ``market_snapshots`` row for a market (the spec's columns; extras in metadata)."""
    q = m.quote
    meta: dict[str, Any] = {
        "event_ticker": m.event_ticker,
        "series_ticker": m.series_ticker,
        "status": m.status.value,
        "yes_bid_size": str(q.yes_bid_size),
        "yes_ask_size": str(q.yes_ask_size),
        "volume": str(m.volume),
        "strike_type": m.strike_type or None,
        "floor_strike": _s(m.floor_strike),
        "cap_strike": _s(m.cap_strike),
        "subtitle": m.subtitle or None,
    }
    if m.result is not None:
        meta["result"] = m.result.value
    return Snapshot(
        timestamp=now,
        ticker=m.ticker,
        title=m.title,
        last_price=_f(m.last_price),
        yes_bid=_f(q.yes_bid),
        yes_ask=_f(q.yes_ask),
        no_bid=_f(q.no_bid),
        no_ask=_f(q.no_ask),
        volume_24h=int(m.volume_24h),
        open_interest=int(m.open_interest),
        close_time=m.close_time.isoformat().replace("+00:00", "Z"),
        category=m.category or None,
        metadata={k: v for k, v in meta.items() if v is not None},
    )


class LiveDataRecorder:
    """Records what the bot sees. ``record`` is called by the engine each cycle, or by
    ``kalbot record`` on its own; it only writes, it never trades."""

    def __init__(
        self,
        store: RecorderStore,
        market_data: MarketData | None = None,
        interval: timedelta = timedelta(seconds=60),
        max_result_lookups: int = 50,
        max_result_attempts: int = 240,
    ) -> None:
        self.store = store
        self.market_data = market_data
        self.interval = interval
        self.max_result_lookups = max_result_lookups
        self.max_result_attempts = max_result_attempts
        self._coverage: dict[str, CoverageRow] | None = None
        self._pending: dict[str, tuple[Market, int]] = {}
        self._last: dict[str, Market] = {}

    async def record(self, markets: Sequence[Market], now: datetime) -> int:
        """Write one snapshot per market in one bulk write; returns rows written."""
        if self._coverage is None:
            self._coverage = {c.ticker: c for c in await self.store.coverage()}
        rows = [snapshot_of(m, now) for m in markets]
        rows += await self._results(markets, now)
        written = await self.store.add_snapshots(rows) if rows else 0
        changed = []
        gap_limit = 2 * self.interval.total_seconds()
        for m in markets:
            c = self._coverage.get(m.ticker)
            if c is None:
                c = self._coverage[m.ticker] = CoverageRow(m.ticker, now, now, 1, 0, 0.0)
            else:
                gap = (now - c.last_ts).total_seconds()
                if gap > gap_limit:
                    c.num_gaps += 1
                c.max_gap_seconds = max(c.max_gap_seconds, gap)
                c.last_ts = now
                c.num_snapshots += 1
            changed.append(c)
        await self.store.upsert_coverage(changed)
        return written

    async def _results(self, markets: Sequence[Market], now: datetime) -> list[Snapshot]:
        """Markets that left the open set: look up their result; write it once known."""
        current = {m.ticker: m for m in markets}
        for t, seen in self._last.items():
            if t not in current and t not in self._pending:
                self._pending[t] = (seen, 0)
        self._last = current
        if self.market_data is None or not self._pending:
            return []
        snaps: list[Snapshot] = []
        results: list[MarketResultRow] = []
        m: Market | None
        for t in list(self._pending)[: self.max_result_lookups]:
            last, attempts = self._pending[t]
            try:
                m = await self.market_data.market(t)
            except Exception as e:
                log.warning("result lookup for %s failed: %s", t, e)
                m = None
            if m is not None and m.result is not None:
                results.append(MarketResultRow(t, m.event_ticker, m.category, m.result.value, now))
                snaps.append(snapshot_of(m, now))
                del self._pending[t]
            elif attempts + 1 >= self.max_result_attempts:
                del self._pending[t]
            else:
                self._pending[t] = (last, attempts + 1)
        await self.store.add_market_results(results)
        return snaps
