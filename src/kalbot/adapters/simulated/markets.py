"""Market definitions the exchange lists, and their lifecycle state."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from kalbot.domain.fees import FeeType
from kalbot.domain.market import MarketResult, MarketStatus
from kalbot.domain.prices import LINEAR_CENT, ONE, PriceRange


@dataclass(frozen=True, slots=True)
class MarketSpec:
    """A market to list: identity, schedule, price grid and the series' fee terms.

    The market is ``initialized`` before ``open_time``, ``active`` from it until
    ``close_time``, then ``closed`` until settled (``finalized``).
    """

    ticker: str
    event_ticker: str
    close_time: datetime
    open_time: datetime | None = None
    series_ticker: str = ""
    title: str = ""
    subtitle: str = ""
    yes_subtitle: str = ""
    no_subtitle: str = ""
    category: str = ""
    price_ranges: tuple[PriceRange, ...] = LINEAR_CENT
    fee_type: FeeType = FeeType.QUADRATIC
    fee_multiplier: Decimal = ONE
    strike_type: str = ""
    floor_strike: Decimal | None = None
    cap_strike: Decimal | None = None
    rules_primary: str = ""
    rules_secondary: str = ""
    can_close_early: bool = False
    expected_result: MarketResult | None = None  # scenario knowledge; never shown to traders


@dataclass(slots=True)
class MarketState:
    """The mutable life of one listed market (exchange-internal)."""

    spec: MarketSpec
    status: MarketStatus
    close_time: datetime
    volume: int = 0  # hundredths of contracts
    open_interest: int = 0
    last_price: int | None = None  # YES ticks
    result: MarketResult | None = None
    settled_time: datetime | None = None
    trades_by_day: dict[str, int] = field(default_factory=dict)

    @property
    def ticker(self) -> str:
        return self.spec.ticker
