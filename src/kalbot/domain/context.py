"""What an analyst or a strategy is shown about one market."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from kalbot.domain.market import Market
from kalbot.domain.prices import Side
from kalbot.domain.values import value


@value
class PricePoint:
    ts: datetime
    yes_bid: Decimal | None
    yes_ask: Decimal | None
    last_price: Decimal | None


@dataclass(frozen=True, slots=True)
class HeldPosition:
    """The bot's open position in a market (side's own prices)."""

    side: Side
    quantity: Decimal
    entry_price: Decimal
    entry_time: datetime


@dataclass(frozen=True, slots=True)
class MarketContext:
    market: Market
    now: datetime
    history: tuple[PricePoint, ...] = ()
    position: HeldPosition | None = None
    news: str = ""
    extra: dict[str, str] = field(default_factory=dict)
