"""Cached exact parsing of Kalshi's fixed-point strings (``"0.4200"``, ``"10.00"``).

Kalshi sends the same few thousand price and count strings over and over; Decimals are
immutable, so parsed values are shared. Misses go through ``kalbot.domain.prices`` so every
error names the field and the ticker. The caches are bounded so a hostile feed cannot grow them.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from kalbot.domain.prices import ONE, ZERO, PriceError, parse_decimal, parse_price

_PRICES: dict[str, Decimal] = {}
_NUMBERS: dict[str, Decimal] = {}
CACHE_LIMIT = 50_000


def clear_caches() -> None:
    """Forget the shared values (benchmarks measure cold parsing with this)."""
    _PRICES.clear()
    _NUMBERS.clear()


def price(value: str, field: str, ticker: str) -> Decimal:
    """A dollar price in [0, 1] from its string."""
    d = _PRICES.get(value)
    if d is None:
        d = _plain(value, field, ticker)
        if not ZERO <= d <= ONE:
            d = parse_price(value, field, ticker)  # raises with the reason
        if len(_PRICES) < CACHE_LIMIT:
            _PRICES[value] = d
    return d


def number(value: str | int, field: str, ticker: str) -> Decimal:
    """Any fixed-point number (counts may be negative in deltas and positions)."""
    if type(value) is not str:
        return parse_decimal(value, field, ticker)
    d = _NUMBERS.get(value)
    if d is None:
        d = _plain(value, field, ticker)
        if len(_NUMBERS) < CACHE_LIMIT:
            _NUMBERS[value] = d
    return d


def _plain(value: str, field: str, ticker: str) -> Decimal:
    if type(value) is not str:
        return parse_decimal(value, field, ticker)  # raises for floats, None, bools
    try:
        d = Decimal(value)
    except InvalidOperation:
        return parse_decimal(value, field, ticker)  # raises: not a decimal number
    if not d.is_finite() or "_" in value or value != value.strip():
        # Decimal() also takes "1_000", " 1", "NaN"; Kalshi never sends those
        raise PriceError(field, value, ticker, "not a plain decimal number")
    return d
