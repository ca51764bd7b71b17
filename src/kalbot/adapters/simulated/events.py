"""What the exchange tells its listeners (the server turns these into WebSocket messages).

Listeners are called synchronously, in order, after each state change; they must not call
back into the exchange. Events are only built when someone listens, so a backtest pays nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from kalbot.adapters.simulated.records import (
    FillRecord,
    OrderView,
    PositionView,
    SettlementRecord,
    TradeRecord,
)
from kalbot.domain.market import MarketResult, MarketStatus
from kalbot.domain.prices import Side


class LifecycleType(StrEnum):
    """``market_lifecycle_v2`` event types (REFERENCE §6)."""

    CREATED = "created"
    ACTIVATED = "activated"
    DEACTIVATED = "deactivated"
    CLOSE_DATE_UPDATED = "close_date_updated"
    DETERMINED = "determined"
    SETTLED = "settled"


@dataclass(frozen=True, slots=True)
class BookDelta:
    """A level of one leg's bids changed by ``delta`` contracts. ``price`` is that leg's own.

    ``account_id``/``client_order_id`` name the order whose action caused it (Kalshi sends the
    client_order_id only to that order's owner).
    """

    ticker: str
    side: Side
    price: Decimal
    delta: Decimal
    ts: datetime
    account_id: str | None = None
    client_order_id: str | None = None


@dataclass(frozen=True, slots=True)
class TradeEvent:
    trade: TradeRecord


@dataclass(frozen=True, slots=True)
class FillEvent:
    fill: FillRecord


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """An order was created, filled, amended, decreased, canceled or expired."""

    order: OrderView


@dataclass(frozen=True, slots=True)
class PositionEvent:
    account_id: str
    position: PositionView


@dataclass(frozen=True, slots=True)
class MarketEvent:
    ticker: str
    event_type: LifecycleType
    status: MarketStatus
    ts: datetime
    result: MarketResult | None = None
    close_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class SettlementEvent:
    settlement: SettlementRecord


@dataclass(frozen=True, slots=True)
class BalanceEvent:
    account_id: str
    balance: Decimal


EngineEvent = (
    BookDelta
    | TradeEvent
    | FillEvent
    | OrderEvent
    | PositionEvent
    | MarketEvent
    | SettlementEvent
    | BalanceEvent
)
Listener = Callable[[EngineEvent], None]
