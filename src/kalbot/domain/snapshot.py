"""One row of ``market_snapshots`` as a value (the spec's columns)."""

from __future__ import annotations

from dataclasses import field
from datetime import datetime
from typing import Any

from kalbot.domain.values import value


@value
class Snapshot:
    timestamp: datetime
    ticker: str
    title: str | None
    last_price: float | None
    yes_bid: float | None
    yes_ask: float | None
    no_bid: float | None
    no_ask: float | None
    volume_24h: int | None
    open_interest: int | None
    close_time: str | None
    category: str | None
    metadata: dict[str, Any] = field(default_factory=dict)
