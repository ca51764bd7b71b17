"""P&L and sizing maths, always in the side's own price space."""

from __future__ import annotations

from decimal import Decimal

from kalbot.domain.prices import ONE, ZERO


def realized_pnl(
    quantity: Decimal, entry_price: Decimal, exit_price: Decimal, fees: Decimal = ZERO
) -> Decimal:
    """Buy ``quantity`` of a side at ``entry_price``, sell (or settle) at ``exit_price``.

    Both prices are the held side's own: a NO bought at 0.30 and settled NO exits at 1.00.
    """
    return quantity * (exit_price - entry_price) - fees


def settlement_price(held_yes: bool, result_yes: bool) -> Decimal:
    """What one held contract pays at settlement: $1.00 if its side won, else 0."""
    return ONE if held_yes == result_yes else ZERO


def kelly_fraction(
    probability: Decimal, price: Decimal, fee_per_contract: Decimal = ZERO
) -> Decimal:
    """Full-Kelly fraction of bankroll to stake buying a binary contract at ``price``.

    ``probability`` is the chance the bought side wins; the effective cost includes the fee.
    A contract costing c pays 1: f* = (p - c) / (1 - c). Returns 0 when there is no edge.
    """
    cost = price + fee_per_contract
    if cost <= ZERO or cost >= ONE:
        return ZERO
    f = (probability - cost) / (ONE - cost)
    return max(f, ZERO)
