"""Kalshi's trading fees (REFERENCE §7), the one fee function paper, backtest and live share."""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal
from enum import StrEnum

from kalbot.domain.prices import CENT, ONE

TAKER_COEFFICIENT = Decimal("0.07")
MAKER_COEFFICIENT = Decimal("0.0175")


class FeeType(StrEnum):
    QUADRATIC = "quadratic"
    QUADRATIC_WITH_MAKER_FEES = "quadratic_with_maker_fees"
    QUADRATIC_WITH_COMBO_MAKER_FEES = "quadratic_with_combo_maker_fees"
    FLAT = "flat"


def round_up_to_cent(amount: Decimal) -> Decimal:
    return (amount / CENT).to_integral_value(rounding=ROUND_CEILING) * CENT


def quadratic_fee(count: Decimal, price: Decimal, coefficient: Decimal) -> Decimal:
    """``ceil_to_cent(coefficient * C * P * (1 - P))``. P may be either leg: P(1-P) is symmetric."""
    if count <= 0:
        return Decimal("0.00")
    return round_up_to_cent(coefficient * count * price * (ONE - price))


def taker_fee(count: Decimal, price: Decimal, multiplier: Decimal = ONE) -> Decimal:
    return quadratic_fee(count, price, TAKER_COEFFICIENT * multiplier)


def maker_fee(
    count: Decimal, price: Decimal, fee_type: FeeType = FeeType.QUADRATIC, multiplier: Decimal = ONE
) -> Decimal:
    if fee_type is FeeType.QUADRATIC_WITH_MAKER_FEES:
        return quadratic_fee(count, price, MAKER_COEFFICIENT * multiplier)
    if fee_type is FeeType.QUADRATIC_WITH_COMBO_MAKER_FEES:
        return quadratic_fee(count, price, TAKER_COEFFICIENT * Decimal("0.5") * multiplier)
    return Decimal("0.00")


def fill_fee(
    count: Decimal,
    price: Decimal,
    *,
    is_taker: bool,
    fee_type: FeeType = FeeType.QUADRATIC,
    multiplier: Decimal = ONE,
) -> Decimal:
    """The fee for one fill of ``count`` contracts at ``price`` (dollars, either leg)."""
    if is_taker:
        return taker_fee(count, price, multiplier)
    return maker_fee(count, price, fee_type, multiplier)
