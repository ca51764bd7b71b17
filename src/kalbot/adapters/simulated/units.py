"""The engine's integer units, so matching never touches Decimal.

Prices are integer *ticks* of $0.0001 on the YES leg (``0.42`` -> ``4200``); counts are integer
hundredths of a contract (``"10.00"`` -> ``1000``); money is integer micro-dollars, which is
exactly ``ticks * hundredths``. Conversion back to Decimal happens only at the public surface.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from kalbot.adapters.simulated.errors import EngineError, ErrorCode
from kalbot.domain.fees import FeeType, fill_fee

PRICE_SCALE = 10_000  # ticks per dollar of price
COUNT_SCALE = 100  # hundredths per contract
MONEY_SCALE = PRICE_SCALE * COUNT_SCALE  # micro-dollars per dollar
ONE_TICKS = PRICE_SCALE  # the $1.00 a winning contract pays, in ticks
HALF_TICKS = PRICE_SCALE // 2

_D_PRICE = Decimal(PRICE_SCALE)
_D_COUNT = Decimal(COUNT_SCALE)
_D_MONEY = Decimal(MONEY_SCALE)


def price_to_ticks(price: Decimal, field: str = "price") -> int:
    """A YES-leg price strictly inside (0, 1) with at most four decimals, as ticks."""
    if not isinstance(price, Decimal) or not price.is_finite():
        raise EngineError(ErrorCode.INVALID_PRICE, f"{field} must be a finite Decimal: {price!r}")
    scaled = price * _D_PRICE
    ticks = int(scaled)
    if ticks != scaled:
        raise EngineError(ErrorCode.INVALID_PRICE, f"{field} {price} is finer than $0.0001")
    if not 0 < ticks < PRICE_SCALE:
        raise EngineError(ErrorCode.INVALID_PRICE, f"{field} {price} outside (0, 1)")
    return ticks


def count_to_units(count: Decimal, field: str = "count") -> int:
    """A positive contract count with at most two decimals, in hundredths."""
    if not isinstance(count, Decimal) or not count.is_finite():
        raise EngineError(ErrorCode.INVALID_ORDER_SIZE, f"{field} must be a Decimal: {count!r}")
    scaled = count * _D_COUNT
    units = int(scaled)
    if units != scaled:
        raise EngineError(ErrorCode.INVALID_ORDER_SIZE, f"{field} {count} is finer than 0.01")
    if units <= 0:
        raise EngineError(ErrorCode.INVALID_ORDER_SIZE, f"{field} {count} must be positive")
    return units


def dollars_to_money(amount: Decimal) -> int:
    scaled = amount * _D_MONEY
    money = int(scaled)
    if money != scaled:
        raise EngineError(ErrorCode.INVALID_ORDER, f"amount {amount} is finer than $0.000001")
    return money


def ticks_to_price(ticks: int) -> Decimal:
    return Decimal(ticks) / _D_PRICE


def units_to_count(units: int) -> Decimal:
    return Decimal(units) / _D_COUNT


def money_to_dollars(money: int) -> Decimal:
    return Decimal(money) / _D_MONEY


@lru_cache(maxsize=1 << 16)
def fee_money(
    units: int, own_ticks: int, is_taker: bool, fee_type: FeeType, multiplier: Decimal
) -> int:
    """The fee for one fill, in micro-dollars, from the one domain fee function."""
    fee = fill_fee(
        units_to_count(units),
        ticks_to_price(own_ticks),
        is_taker=is_taker,
        fee_type=fee_type,
        multiplier=multiplier,
    )
    return int(fee * _D_MONEY)


def worst_fee_ticks(own_limit_ticks: int) -> int:
    """The fill price in [0, limit] with the largest P(1-P): what a fee reservation must assume."""
    return own_limit_ticks if own_limit_ticks < HALF_TICKS else HALF_TICKS
