"""The replay seams the backtest plugs into the one engine loop.

- ``RecordedMarketData`` wraps the venue's ``MarketData`` (the simulated exchange listing the
  replayed markets with their recorded volume and open interest) and refuses a step of
  snapshots stamped after the replay clock.
- ``ReplayedAnalyst`` answers with the analysis recorded at the time (``market_analyses``): the
  newest one at or before the replay clock, never a later one.
- ``BacktestStore`` is the engine's in-memory ``TradingStore`` with bounded memory: cycle
  summaries and decision rows are folded into counters instead of kept.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import AsyncIterator, Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from operator import attrgetter
from typing import Generic, TypeVar

from kalbot.domain.context import MarketContext
from kalbot.domain.decisions import Analysis, Decision
from kalbot.domain.market import Market, OrderBook
from kalbot.engine.records import CycleSummary, DayStats, DecisionRecord, PositionChange
from kalbot.engine.store import MemoryTradingStore
from kalbot.ports import Clock, MarketData

_OUTCOME = attrgetter("stage", "outcome", "reason_code")


class LookAheadError(AssertionError):
    """Something at replay time ``t`` was handed data stamped after ``t`` (a bug, never data)."""


class RecordedMarketData:
    """``MarketData`` over the replay venue, guarding against look-ahead.

    The venue (the simulated exchange fed by ``ReplayDriver(recorded_liquidity=True)``) shows
    each replayed market with its recorded volume and open interest, so markets pass through
    untouched. The runner calls ``observe_step`` with each step's time as it applies it; a
    step stamped after the replay clock is refused (``LookAheadError``), so nothing can leak
    forward.
    """

    def __init__(self, venue: MarketData, clock: Clock) -> None:
        self.venue = venue
        self.clock = clock

    async def open_markets(self) -> AsyncIterator[Market]:
        async for m in self.venue.open_markets():
            yield m

    async def open_market_list(self) -> list[Market]:
        """``open_markets`` as one list, through the venue's own batch read when it has one."""
        lister = getattr(self.venue, "open_market_list", None)
        if lister is None:
            return [m async for m in self.venue.open_markets()]
        return list(await lister())

    def observe_step(self, when: datetime) -> None:
        """The replay applied a step of snapshots stamped ``when`` to the venue."""
        if when > self.clock.now():
            raise LookAheadError(f"snapshots at {when} are in the future")

    async def market(self, ticker: str) -> Market:
        return await self.venue.market(ticker)

    async def orderbook(self, ticker: str) -> OrderBook:
        return await self.venue.orderbook(ticker)


@dataclass(frozen=True, slots=True)
class RecordedAnalysis:
    """One ``market_analyses`` row as the backtest replays it."""

    timestamp: datetime
    analysis: Analysis


@dataclass(frozen=True, slots=True)
class UsedForecast:
    """An analysis the strategy was shown, with the market's own mid at that moment."""

    ticker: str
    category: str
    at: datetime
    analysed_at: datetime
    probability: Decimal
    market_mid: Decimal


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class AsOf(Generic[K, V]):
    """Stamped values by key; ``latest(key, now)`` is the newest stamped at or before ``now``
    (among equal stamps, the last given), never a later one."""

    def __init__(self, items: Iterable[tuple[K, datetime, V]]) -> None:
        by: dict[K, list[tuple[datetime, V]]] = {}
        for key, at, value in items:
            by.setdefault(key, []).append((at, value))
        self._times: dict[K, list[datetime]] = {}
        self._values: dict[K, list[tuple[datetime, V]]] = {}
        for key, stamped in by.items():
            stamped.sort(key=lambda sv: sv[0])  # stable: equal stamps keep their order
            self._times[key] = [at for at, _ in stamped]
            self._values[key] = stamped

    def __len__(self) -> int:
        return sum(len(v) for v in self._values.values())

    def latest(self, key: K, now: datetime) -> tuple[datetime, V] | None:
        """(stamp, value) of the newest value of ``key`` stamped ``<= now``, or None."""
        times = self._times.get(key)
        if times is None:
            return None
        i = bisect.bisect_right(times, now)
        return self._values[key][i - 1] if i else None


class ReplayedAnalyst:
    """The analyst of a backtest that costs nothing: the analyses recorded at the time.

    For a market at replay time ``t`` it returns the newest recorded analysis stamped ``<= t``;
    without one it answers SKIP with ``error='no_recorded_analysis'`` (never a made-up view).
    Every analysis shown is kept once (per recorded row) in ``used`` for forecast scoring.
    """

    provider = "replay"

    def __init__(self, analyses: Iterable[RecordedAnalysis], clock: Clock) -> None:
        self.clock = clock
        self._recorded = AsOf((a.analysis.ticker, a.timestamp, a.analysis) for a in analyses)
        self.used: dict[tuple[str, datetime], UsedForecast] = {}
        self.missing = 0

    def __len__(self) -> int:
        return len(self._recorded)

    async def analyze(self, context: MarketContext) -> Analysis:
        now = self.clock.now()
        ticker = context.market.ticker
        found = self._recorded.latest(ticker, now)
        if found is None:
            self.missing += 1
            return Analysis(
                ticker, None, Decision.SKIP, Decimal(0), "no analysis recorded by then",
                "replay", "recorded", error="no_recorded_analysis",
            )  # fmt: skip
        at, analysis = found
        if at > now:  # ``AsOf`` guarantees this; kept as a tripwire
            raise LookAheadError(f"analysis of {ticker} at {at} after {now}")
        p = analysis.probability_yes
        mid = context.market.quote.mid
        key = (ticker, at)
        if p is not None and mid is not None and key not in self.used:
            self.used[key] = UsedForecast(ticker, context.market.category, now, at, p, mid)
        return analysis


class BacktestStore(MemoryTradingStore):
    """``MemoryTradingStore`` whose per-cycle rows are counted, not kept (memory stays flat).

    Keeps only the last cycle summary (the engine reads nothing older) and counts decision rows
    by (stage, outcome, reason_code): the run's refusals by reason come from here.
    """

    def __init__(self) -> None:
        super().__init__()
        self.outcomes: Counter[tuple[str, str, str]] = Counter()
        self.cycle_count = 0
        # ``day_stats`` scans every position; the engine asks twice per cycle, and positions
        # change only through ``_apply``: each answer is kept until the next change (the scan
        # per cycle grew with the run's trades, quadratic in its length).
        self._changes = 0
        self._day_stats: tuple[date, int, DayStats] | None = None

    def _apply(self, change: PositionChange) -> int | None:
        self._changes += 1
        return super()._apply(change)

    async def day_stats(self, day: date) -> DayStats:
        kept = self._day_stats
        if kept is not None and kept[0] == day and kept[1] == self._changes:
            return kept[2]
        stats = await super().day_stats(day)
        self._day_stats = (day, self._changes, stats)
        return stats

    async def add_decisions(self, rows: Sequence[DecisionRecord]) -> None:
        self.outcomes.update(map(_OUTCOME, rows))  # counted in C: a row per market per cycle

    async def add_cycle(self, summary: CycleSummary) -> None:
        self.cycle_count += 1
        self.cycles[:] = [summary]

    def decision_counts(self) -> dict[str, int]:
        """Every decision row of the run as ``stage:outcome:reason`` -> count, most frequent
        first: why markets were passed over (screened out, no edge, refused), not only trades."""
        out: Counter[str] = Counter()
        for (stage, outcome, reason), n in self.outcomes.items():
            out[f"{stage}:{outcome}:{reason}" if reason else f"{stage}:{outcome}"] += n
        return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))

    def refusals(self) -> dict[str, int]:
        """Trades refused or shrunk by the risk manager (and failed orders), by reason code."""
        out: Counter[str] = Counter()
        for (stage, outcome, reason), n in self.outcomes.items():
            if outcome in ("refused", "shrunk") or (stage == "execution" and outcome == "error"):
                out[f"{stage}:{outcome}:{reason}"] += n
        return dict(sorted(out.items()))
