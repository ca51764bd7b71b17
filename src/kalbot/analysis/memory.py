"""An in-memory ``AIStore`` for backtests, tests and one-off runs (one process only).

It follows the same rules as the database mixin (``kalbot.adapters.store.ai_repo``): the
reservation check and the settlement are atomic under one lock, and costs are per UTC day.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from kalbot.analysis.budget import fits, utc_day
from kalbot.domain.ai import StoredAnalysis
from kalbot.domain.decisions import Analysis


@dataclass(slots=True)
class _Reservation:
    day: date
    provider: str
    model: str
    amount: Decimal
    expires_at: datetime


class InMemoryAIStore:
    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._ids = itertools.count(1)
        self.rows: list[tuple[datetime, Analysis]] = []
        self.costs: dict[tuple[date, str], tuple[Decimal, int]] = {}
        self.reservations: dict[str, _Reservation] = {}
        # The newest row with a probability, per (ticker, provider) and per ticker (provider
        # None): ``latest_analysis`` is a dictionary look-up instead of a scan of every row.
        self._latest: dict[tuple[str, str | None], StoredAnalysis] = {}

    def _spend(self, day: date, now: datetime) -> tuple[Decimal, Decimal]:
        spent = sum((c for (d, _), (c, _) in self.costs.items() if d == day), Decimal(0))
        reserved = sum(
            (r.amount for r in self.reservations.values() if r.day == day and r.expires_at > now),
            Decimal(0),
        )
        return spent, reserved

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
        async with self._lock:
            spent, reserved = self._spend(day, now)
            if not fits(spent, reserved, amount, budget):
                return None
            rid = f"mem-{next(self._ids)}"
            self.reservations[rid] = _Reservation(day, provider, model, amount, expires_at)
            return rid

    async def release_ai_budget(self, reservation_id: str) -> None:
        async with self._lock:
            self.reservations.pop(reservation_id, None)

    async def record_analysis(
        self, analysis: Analysis, *, timestamp: datetime, reservation_id: str | None = None
    ) -> int:
        async with self._lock:
            reservation = (
                self.reservations.pop(reservation_id, None) if reservation_id is not None else None
            )
            day = reservation.day if reservation is not None else utc_day(timestamp)
            self._add(analysis, timestamp, day)
            return len(self.rows)

    def _add(self, analysis: Analysis, timestamp: datetime, day: date) -> None:
        made = 0 if analysis.metadata.get("call_made") is False else 1
        if made or analysis.cost:
            total, calls = self.costs.get((day, analysis.provider), (Decimal(0), 0))
            self.costs[(day, analysis.provider)] = (total + analysis.cost, calls + made)
        self.rows.append((timestamp, analysis))
        if analysis.probability_yes is not None:
            stored = StoredAnalysis(analysis, timestamp)
            self._latest[(analysis.ticker, analysis.provider)] = stored
            self._latest[(analysis.ticker, None)] = stored

    async def record_analyses(self, items: Sequence[tuple[Analysis, datetime]]) -> list[int]:
        """Record several free analyses (no reservation) at once, in order; their row ids."""
        async with self._lock:
            ids = []
            for analysis, timestamp in items:
                self._add(analysis, timestamp, utc_day(timestamp))
                ids.append(len(self.rows))
            return ids

    async def ai_spend(self, day: date, now: datetime) -> tuple[Decimal, Decimal]:
        async with self._lock:
            return self._spend(day, now)

    async def latest_analysis(
        self, ticker: str, provider: str | None = None
    ) -> StoredAnalysis | None:
        return self._latest.get((ticker, provider))

    async def latest_analyses(
        self, tickers: Iterable[str], provider: str | None = None, since: datetime | None = None
    ) -> dict[str, StoredAnalysis]:
        """``latest_analysis`` for many tickers; those without one (or none newer than
        ``since``) are absent."""
        out = {}
        for ticker in tickers:
            stored = self._latest.get((ticker, provider))
            if stored is not None and (since is None or stored.timestamp > since):
                out[ticker] = stored
        return out
