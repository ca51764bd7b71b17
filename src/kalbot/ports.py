"""The seams between the core and the edge: small Protocols the adapters implement.

Inner packages depend only on these and on ``kalbot.domain``. Each area may extend the
Protocols it owns; keep each one narrow and named for what the core needs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable

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
