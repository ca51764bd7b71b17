"""The built-in strategies: HighConfidence (rules), Standard (analyst + edge), Momentum."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from kalbot.domain.decisions import Decision, DecisionResult
from kalbot.domain.market import Market
from kalbot.domain.prices import ONE, ZERO, Side
from kalbot.strategy.base import (
    StrategyContext,
    best_side,
    edge_after_fees,
    open_side,
    side_probability,
    skip,
)

_HALF = Decimal("0.5")


def _close(reason: str, confidence: Decimal, probability_yes: Decimal | None) -> DecisionResult:
    return DecisionResult(Decision.CLOSE, confidence, reason, probability_yes=probability_yes)


def _analysis_prob(ctx: StrategyContext) -> tuple[Decimal, Decimal] | DecisionResult:
    """The analyst's (P(YES), confidence), or the SKIP that explains why there is none."""
    a = ctx.analysis
    if a is None:
        return skip("no_analysis")
    if a.error is not None or a.probability_yes is None:
        # The analyst's own reason code (e.g. ai_budget_exhausted) is the most useful "why".
        return skip(str(a.error) if a.error else "analysis_failed")
    return a.probability_yes, a.confidence


@dataclass(slots=True)
class HighConfidenceStrategy:
    """Rules only: near expiry, price far from 50¢, and the analyst agrees with the favourite.

    Buys the favourite when the market is within ``max_days_to_expiry`` of closing, the
    favourite's ask is at least ``min_price`` (far from 50¢), the analyst's probability for that
    side is at least ``min_confidence`` and its confidence too, and the edge after fees is > 0.
    """

    min_confidence: Decimal = Decimal("0.80")
    max_days_to_expiry: Decimal = Decimal(7)
    min_price: Decimal = Decimal("0.75")
    max_price: Decimal = Decimal("0.97")
    name: str = "high_confidence"
    needs_analysis: bool = True

    def can_handle(self, market: Market) -> bool:
        return not market.is_combo

    def decide(self, ctx: StrategyContext) -> DecisionResult:
        got = _analysis_prob(ctx)
        if isinstance(got, DecisionResult):
            return got
        p_yes, conf = got
        if ctx.position is not None:
            held_p = side_probability(p_yes, ctx.position.side)
            if held_p < _HALF:
                return _close("analyst_disagrees_with_position", conf, p_yes)
            return skip("holding")
        days_left = Decimal((ctx.market.close_time - ctx.now).total_seconds()) / Decimal(86400)
        if days_left > self.max_days_to_expiry:
            return skip("too_far_from_expiry")
        mid = ctx.market.quote.mid
        if mid is None:
            return skip("no_quote")
        fav = Side.YES if mid >= _HALF else Side.NO
        ask = ctx.market.quote.ask(fav)
        if ask is None:
            return skip("no_quote")
        if ask < self.min_price or ask > self.max_price:
            return skip("price_not_far_from_half")
        p_fav = side_probability(p_yes, fav)
        if p_fav < self.min_confidence or conf < self.min_confidence:
            return skip("analyst_not_confident")
        if edge_after_fees(p_fav, ask) <= ZERO:
            return skip("no_edge_after_fees")
        return open_side(fav, min(conf, p_fav), "high_confidence_favourite", ask, p_yes)


@dataclass(slots=True)
class StandardStrategy:
    """The analyst's probability against the price the bot would pay, after Kalshi's fee.

    Opens the side whose edge after fees is at least ``min_edge`` (and the analyst's confidence
    at least ``min_confidence``); closes a held position the analyst now disagrees with.
    """

    min_edge: Decimal = Decimal("0.03")
    min_confidence: Decimal = Decimal("0.50")
    name: str = "standard"
    needs_analysis: bool = True

    def can_handle(self, market: Market) -> bool:
        return not market.is_combo

    def decide(self, ctx: StrategyContext) -> DecisionResult:
        got = _analysis_prob(ctx)
        if isinstance(got, DecisionResult):
            return got
        p_yes, conf = got
        a = ctx.analysis
        if ctx.position is not None:
            side = ctx.position.side
            bid = ctx.market.quote.bid(side)
            if a is not None and a.decision is Decision.CLOSE:
                return _close("analyst_close", conf, p_yes)
            # The edge has flipped when selling now beats the analyst's value of holding.
            if bid is not None and side_probability(p_yes, side) + self.min_edge < bid:
                return _close("edge_reversed", conf, p_yes)
            return skip("holding")
        if conf < self.min_confidence:
            return skip("analyst_not_confident")
        pick = best_side(ctx.market, p_yes, self.min_edge)
        if pick is None:
            return skip("no_edge_after_fees")
        side, ask, _edge = pick
        return open_side(side, conf, "analyst_edge", ask, p_yes)


@dataclass(slots=True)
class MomentumStrategy:
    """Short-lookback momentum on the YES mid, the classic tutorial rule.

    When the mid moved by at least ``threshold`` over the last ``lookback`` points, buy the side
    the move favours. Its probability is a naive extrapolation (mid + ``carry`` × move, clamped),
    which the risk manager sizes like any other estimate.
    """

    lookback: int = 5
    threshold: Decimal = Decimal("0.04")
    carry: Decimal = Decimal("0.5")
    min_edge: Decimal = Decimal("0.01")
    name: str = "momentum"
    needs_analysis: bool = False

    def can_handle(self, market: Market) -> bool:
        return not market.is_combo

    def decide(self, ctx: StrategyContext) -> DecisionResult:
        # The move needs the last lookback + 1 points, each with both sides quoted; only the
        # first and last mids enter it, so only those two are computed (this runs per market).
        n = self.lookback + 1
        points = ctx.history[-n:]
        if len(points) < n:
            return skip("not_enough_history")
        for p in points:
            if p.yes_bid is None or p.yes_ask is None:
                return skip("not_enough_history")
        first, last = points[0], points[-1]
        mids = ((first.yes_bid + first.yes_ask) / 2, (last.yes_bid + last.yes_ask) / 2)  # type: ignore[operator]
        move = mids[-1] - mids[0]
        if ctx.position is not None:
            signed = move if ctx.position.side is Side.YES else -move
            against = signed < -self.threshold
            if against:
                return _close("momentum_reversed", min(ONE, abs(move) * 10), None)
            return skip("holding")
        if abs(move) < self.threshold:
            return skip("no_momentum")
        p_yes = min(max(mids[-1] + self.carry * move, Decimal("0.01")), Decimal("0.99"))
        pick = best_side(ctx.market, p_yes, self.min_edge)
        if pick is None:
            return skip("no_edge_after_fees")
        side, ask, _ = pick
        if (side is Side.YES) != (move > 0):
            return skip("no_edge_after_fees")
        return open_side(side, min(ONE, abs(move) * 10), "momentum", ask, p_yes)
