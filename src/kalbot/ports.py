"""The seams between the core and the edge: small Protocols the adapters implement.

Inner packages depend only on these and on ``kalbot.domain``. Each area may extend the
Protocols it owns; keep each one narrow and named for what the core needs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable

from kalbot.domain.ai import Completion, CompletionRequest, StoredAnalysis
from kalbot.domain.context import MarketContext
from kalbot.domain.decisions import Analysis
from kalbot.domain.market import Market, OrderBook
from kalbot.domain.orders import Fill, OrderAck, OrderIntent
from kalbot.domain.snapshot import Snapshot


@runtime_checkable
class Clock(Protocol):
    def now(self) -> datetime: ...


class MarketData(Protocol):
    """Where markets come from: Kalshi, the local simulator, or a replay of snapshots."""

    def open_markets(self) -> AsyncIterator[Market]: ...

    async def market(self, ticker: str) -> Market: ...

    async def orderbook(self, ticker: str) -> OrderBook: ...


class Broker(Protocol):
    """Where orders go: the simulated exchange (paper, backtest) or Kalshi (live)."""

    async def place(self, intent: OrderIntent, market: Market) -> OrderAck: ...

    async def cancel(self, order_id: str) -> None: ...

    async def fills(self, since: datetime | None = None) -> Sequence[Fill]: ...

    async def positions(self) -> dict[str, Decimal]:
        """Net position per ticker: positive YES contracts, negative NO contracts."""
        ...

    async def balance(self) -> Decimal: ...


class Analyst(Protocol):
    """Estimates P(YES) for a market and turns it into a decision (see ``kalbot.analysis``)."""

    async def analyze(self, context: MarketContext) -> Analysis: ...


class SnapshotStore(Protocol):
    async def add_snapshots(self, snapshots: Sequence[Snapshot]) -> int: ...

    def stream_snapshots(
        self,
        start: datetime,
        end: datetime,
        tickers: Sequence[str] | None = None,
        category: str | None = None,
    ) -> AsyncIterator[Snapshot]: ...


class CompletionClient(Protocol):
    """One language-model endpoint (``kalbot.adapters.llm``): a prompt in, a raw reply out.

    Raises ``kalbot.domain.ai.LLMError`` subclasses for every failure.
    """

    @property
    def provider(self) -> str: ...

    @property
    def model(self) -> str: ...

    @property
    def max_output_tokens(self) -> int: ...

    async def complete(self, request: CompletionRequest) -> Completion: ...


class AIStore(Protocol):
    """The analyst's records: analyses, AI cost per day and provider, budget reservations.

    ``reserve_ai_budget`` and ``record_analysis`` are single database transactions serialised
    per UTC day, so concurrent callers (threads, tasks or processes) cannot overshoot.
    """

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
        """Reserve ``amount`` if spent + reserved + amount <= budget; the id, or None."""
        ...

    async def release_ai_budget(self, reservation_id: str) -> None: ...

    async def record_analysis(
        self, analysis: Analysis, *, timestamp: datetime, reservation_id: str | None = None
    ) -> int:
        """Store the row, add its cost to ai_cost_tracking and drop the reservation, atomically."""
        ...

    async def ai_spend(self, day: date, now: datetime) -> tuple[Decimal, Decimal]:
        """(settled spend, live reservations) for the UTC ``day``."""
        ...

    async def latest_analysis(
        self, ticker: str, provider: str | None = None
    ) -> StoredAnalysis | None:
        """The newest stored analysis of ``ticker`` (by ``provider``) with a probability."""
        ...
