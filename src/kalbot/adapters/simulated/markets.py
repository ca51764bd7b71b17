"""Market definitions the exchange lists, and their lifecycle state."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from kalbot.adapters.simulated.fill_models import FillModel
from kalbot.adapters.simulated.units import fee_money
from kalbot.domain.fees import FeeType
from kalbot.domain.market import MarketResult, MarketStatus, Quote
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
    # shared by every market on the same fee schedule (see ``fee_cache_for``)
    fee_cache: dict[tuple[int, int, bool], int] = field(default_factory=dict)
    fill_model: FillModel | None = None  # set: fills come from recorded quotes, not the book
    tape_quote: Quote | None = None
    tape_last_yes: Decimal | None = None

    def fee(self, units: int, own_ticks: int, is_taker: bool) -> int:
        """This market's fee for one fill, in micro-dollars (memoised domain fee function)."""
        key = (units, own_ticks, is_taker)
        fee = self.fee_cache.get(key)
        if fee is None:
            if len(self.fee_cache) > 1 << 16:
                self.fee_cache.clear()
            fee = self.fee_cache[key] = fee_money(
                units, own_ticks, is_taker, self.spec.fee_type, self.spec.fee_multiplier
            )
        return fee

    @property
    def ticker(self) -> str:
        return self.spec.ticker


_FEE_CACHES: dict[tuple[FeeType, Decimal], dict[tuple[int, int, bool], int]] = {}


def fee_cache_for(spec: MarketSpec) -> dict[tuple[int, int, bool], int]:
    """One fee memo per fee schedule, shared by its markets (a fee depends only on it)."""
    return _FEE_CACHES.setdefault((spec.fee_type, spec.fee_multiplier), {})
