"""From a probability to a decision: edge after Kalshi's taker fee, against a minimum edge.

Each side is judged in its own price space: buying YES at the YES ask ``a`` wins ``p`` of the
time; buying NO at the NO ask ``1 - yes_bid`` wins ``1 - p`` of the time. The fee is the one
fee function (``kalbot.domain.fees.taker_fee``) spread over a reference lot, because Kalshi
rounds each fill's fee up to the cent and the per-contract cost depends on the lot size.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from kalbot.domain.context import HeldPosition
from kalbot.domain.decisions import Decision, DecisionResult
from kalbot.domain.fees import taker_fee
from kalbot.domain.market import Market
from kalbot.domain.prices import ONE, ZERO, Side


@dataclass(frozen=True, slots=True)
class DecisionRule:
    """The thresholds from settings (``ai.min_edge``, ``ai.min_confidence``, ...)."""

    min_edge: Decimal = Decimal("0.03")
    min_confidence: Decimal = ZERO
    fee_reference_contracts: Decimal = Decimal(10)


def fee_per_contract(price: Decimal, market: Market, contracts: Decimal) -> Decimal:
    """Taker fee per contract when buying or selling ``contracts`` at ``price``."""
    return taker_fee(contracts, price, market.fee_multiplier) / contracts


def edge(probability_win: Decimal, price: Decimal, market: Market, rule: DecisionRule) -> Decimal:
    """Expected profit per contract bought at ``price`` (own side's space) after the fee."""
    return probability_win - price - fee_per_contract(price, market, rule.fee_reference_contracts)


def _tradeable(price: Decimal | None) -> bool:
    return price is not None and ZERO < price < ONE


def decide(
    probability_yes: Decimal,
    confidence: Decimal,
    market: Market,
    position: HeldPosition | None,
    rule: DecisionRule,
) -> DecisionResult:
    """The decision for one market. A held position the estimate now disagrees with -> CLOSE.

    "Disagrees" means selling the held side at its bid now, after the fee, is worth more
    than the estimate's expected value of holding it to settlement.
    """
    if not ZERO <= probability_yes <= ONE:
        raise ValueError(f"probability_yes {probability_yes} outside [0, 1]")
    q = market.quote
    if position is not None:
        side = position.side
        p_side = probability_yes if side is Side.YES else ONE - probability_yes
        bid = q.bid(side)
        if not _tradeable(bid):
            return DecisionResult(
                Decision.SKIP, confidence, "position_held_no_bid", probability_yes=probability_yes
            )
        assert bid is not None
        exit_value = bid - fee_per_contract(bid, market, rule.fee_reference_contracts)
        if exit_value > p_side:
            return DecisionResult(
                Decision.CLOSE,
                confidence,
                "analyst_disagrees",
                limit_price=bid,
                probability_yes=probability_yes,
            )
        return DecisionResult(
            Decision.SKIP, confidence, "position_held_agrees", probability_yes=probability_yes
        )

    if confidence < rule.min_confidence:
        return DecisionResult(
            Decision.SKIP, confidence, "confidence_below_min", probability_yes=probability_yes
        )
    best: tuple[Decimal, Side, Decimal] | None = None
    for side in (Side.YES, Side.NO):
        ask = q.ask(side)
        if not _tradeable(ask):
            continue
        assert ask is not None
        p_side = probability_yes if side is Side.YES else ONE - probability_yes
        e = edge(p_side, ask, market, rule)
        if best is None or e > best[0]:
            best = (e, side, ask)
    if best is None:
        return DecisionResult(Decision.SKIP, confidence, "no_ask", probability_yes=probability_yes)
    e, side, ask = best
    if e < rule.min_edge:
        return DecisionResult(
            Decision.SKIP, confidence, "edge_below_min", probability_yes=probability_yes
        )
    return DecisionResult(
        Decision.OPEN_YES if side is Side.YES else Decision.OPEN_NO,
        confidence,
        f"edge_{e:.4f}",
        limit_price=ask,
        probability_yes=probability_yes,
    )
