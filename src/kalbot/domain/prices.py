"""Exact prices and counts.

Kalshi quotes every price as the price of the YES leg in dollars (``"0.4200"``); the NO leg's
price is ``1 - yes``. Counts are fixed-point strings with two decimals (``"10.00"``). Everything
here is ``Decimal``; floats never enter a price.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation
from enum import StrEnum

ZERO = Decimal(0)
ONE = Decimal(1)
CENT = Decimal("0.01")


class PriceError(ValueError):
    """A price or count that is missing or malformed where one is required."""

    def __init__(self, field: str, value: object, ticker: str | None = None, why: str = "") -> None:
        where = f" for {ticker}" if ticker else ""
        detail = f": {why}" if why else ""
        super().__init__(f"bad {field}{where}: {value!r}{detail}")
        self.field = field
        self.value = value
        self.ticker = ticker


class Side(StrEnum):
    YES = "yes"
    NO = "no"

    @property
    def other(self) -> Side:
        return Side.NO if self is Side.YES else Side.YES


def parse_dollars(value: object, field: str, ticker: str | None = None) -> Decimal:
    """Parse a ``*_dollars`` string (or Decimal/int) into a Decimal in [0, 1] for prices.

    Raises PriceError naming the field and ticker for anything missing or malformed.
    """
    d = parse_decimal(value, field, ticker)
    if d < ZERO:
        raise PriceError(field, value, ticker, "negative")
    return d


def parse_decimal(value: object, field: str, ticker: str | None = None) -> Decimal:
    if value is None or isinstance(value, bool):
        raise PriceError(field, value, ticker, "missing")
    if isinstance(value, float):
        raise PriceError(field, value, ticker, "floats are not accepted; use a decimal string")
    try:
        d = Decimal(value) if isinstance(value, int | Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise PriceError(field, value, ticker, "not a decimal number") from None
    if not d.is_finite():
        raise PriceError(field, value, ticker, "not finite")
    return d


def parse_price(value: object, field: str, ticker: str | None = None) -> Decimal:
    """A YES/NO contract price in dollars: must lie in [0, 1]."""
    d = parse_dollars(value, field, ticker)
    if d > ONE:
        raise PriceError(field, value, ticker, "price above $1.00")
    return d


def cents_to_dollars(value: object, field: str, ticker: str | None = None) -> Decimal:
    """Legacy integer-cent fields (old recordings): 42 -> Decimal('0.42')."""
    return parse_decimal(value, field, ticker) / 100


def other_side_price(price: Decimal) -> Decimal:
    """The price of the opposite leg: a YES bid at p is a NO ask at 1 - p."""
    return ONE - price


def side_price(yes_price: Decimal, side: Side) -> Decimal:
    """The price in the side's own price space, from a YES-leg price."""
    return yes_price if side is Side.YES else ONE - yes_price


def yes_price_of(price: Decimal, side: Side) -> Decimal:
    """The YES-leg price for a price quoted in ``side``'s own space."""
    return price if side is Side.YES else ONE - price


@dataclass(frozen=True, slots=True)
class PriceRange:
    """One band of a market's price grid: valid prices are start + k*step within [start, end]."""

    start: Decimal
    end: Decimal
    step: Decimal


LINEAR_CENT: tuple[PriceRange, ...] = (PriceRange(ZERO, ONE, CENT),)


class Rounding(StrEnum):
    DOWN = "down"
    UP = "up"
    NEAREST = "nearest"


def snap_to_tick(
    price: Decimal, ranges: tuple[PriceRange, ...] = LINEAR_CENT, rounding: Rounding = Rounding.DOWN
) -> Decimal:
    """Snap a YES-leg price to the step of the band that contains it.

    ``DOWN`` is the safe choice for a buyer's limit (never pay more), ``UP`` for a seller's.
    """
    if not ranges:
        ranges = LINEAR_CENT
    band = next((r for r in ranges if r.start <= price <= r.end), None)
    if band is None:
        band = ranges[0] if price < ranges[0].start else ranges[-1]
        price = min(max(price, band.start), band.end)
    steps = (price - band.start) / band.step
    if rounding is Rounding.DOWN:
        k = steps.to_integral_value(rounding=ROUND_FLOOR)
    elif rounding is Rounding.UP:
        k = steps.to_integral_value(rounding=ROUND_CEILING)
    else:
        k = steps.to_integral_value()
    snapped = band.start + k * band.step
    return min(max(snapped, band.start), band.end)


def is_on_tick(price: Decimal, ranges: tuple[PriceRange, ...] = LINEAR_CENT) -> bool:
    for r in ranges or LINEAR_CENT:
        if r.start <= price <= r.end and (price - r.start) % r.step == 0:
            return True
    return False


def format_dollars(value: Decimal, places: int = 4) -> str:
    """Wire format for a ``*_dollars`` field: ``Decimal('0.42') -> '0.4200'``."""
    return f"{value:.{places}f}"


def format_count(value: Decimal) -> str:
    """Wire format for a ``*_fp`` field: ``Decimal(10) -> '10.00'``."""
    return f"{value:.2f}"
