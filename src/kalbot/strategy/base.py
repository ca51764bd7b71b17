"""The strategy interface and the read-only context a strategy decides from."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import NamedTuple, Protocol, runtime_checkable

from kalbot.domain.context import HeldPosition, PricePoint
from kalbot.domain.decisions import Analysis, Decision, DecisionResult
from kalbot.domain.fees import taker_fee
from kalbot.domain.market import Market
from kalbot.domain.prices import ONE, ZERO, Side

_FEE_LOT = Decimal(100)


class PortfolioView(NamedTuple):
    """What a strategy may know about the whole book (values, not live objects)."""

    cash: Decimal
    equity: Decimal
    open_positions: int
    exposure: Decimal


class StrategyContext(NamedTuple):
    """Everything a strategy sees for one market in one cycle. Immutable: strategies cannot
    change it (a NamedTuple rather than a frozen dataclass: it is built per market per cycle,
    and a frozen dataclass's __init__ costs several times more).

    ``analysis`` is the analyst's view when the strategy asked for one (``needs_analysis``) and
    the analyst answered; ``now`` comes from the engine's injected clock.
    """

    market: Market
    now: datetime
    history: tuple[PricePoint, ...]
    position: HeldPosition | None
    portfolio: PortfolioView
    analysis: Analysis | None = None


@runtime_checkable
class Strategy(Protocol):
    """``decide(context) -> DecisionResult``; must be pure and deterministic for a given context."""

    name: str
    needs_analysis: bool

    def can_handle(self, market: Market) -> bool: ...

    def decide(self, ctx: StrategyContext) -> DecisionResult: ...


@lru_cache(maxsize=8192)
def fee_per_contract(price: Decimal) -> Decimal:
    """Kalshi's taker fee per contract at ``price``, through the one fee function (a 100 lot).

    Cached: prices sit on a grid of at most a few thousand ticks, and this runs per market.
    """
    return taker_fee(_FEE_LOT, price) / _FEE_LOT


def edge_after_fees(probability: Decimal, price: Decimal) -> Decimal:
    """Expected profit per contract of buying a side at ``price`` that wins with ``probability``."""
    return probability - price - fee_per_contract(price)


def side_probability(probability_yes: Decimal, side: Side) -> Decimal:
    return probability_yes if side is Side.YES else ONE - probability_yes


_SKIPS: dict[str, DecisionResult] = {}


def skip(reason: str) -> DecisionResult:
    """A SKIP with its reason. Most markets are skipped every cycle, so each reason's result
    (immutable) is built once and shared."""
    result = _SKIPS.get(reason)
    if result is None:
        result = _SKIPS[reason] = DecisionResult(Decision.SKIP, ZERO, reason)
    return result


def open_side(
    side: Side, confidence: Decimal, reason: str, price: Decimal, probability_yes: Decimal | None
) -> DecisionResult:
    decision = Decision.OPEN_YES if side is Side.YES else Decision.OPEN_NO
    return DecisionResult(
        decision, confidence, reason, limit_price=price, probability_yes=probability_yes
    )


def best_side(
    market: Market, probability_yes: Decimal, min_edge: Decimal
) -> tuple[Side, Decimal, Decimal] | None:
    """The side with the larger edge after fees at its ask, if that edge reaches ``min_edge``.

    Returns (side, ask in the side's own price space, edge). Runs for every screened market
    each cycle, so it reads the quote once instead of going through the per-side helpers.
    """
    q = market.quote
    best: tuple[Side, Decimal, Decimal] | None = None
    yes_ask = q.yes_ask
    if yes_ask is not None and ZERO < yes_ask < ONE:
        edge = probability_yes - yes_ask - fee_per_contract(yes_ask)
        if edge >= min_edge:
            best = (Side.YES, yes_ask, edge)
    if q.yes_bid is not None and ZERO < q.yes_bid < ONE:
        no_ask = ONE - q.yes_bid
        edge = (ONE - probability_yes) - no_ask - fee_per_contract(no_ask)
        if edge >= min_edge and (best is None or edge > best[2]):
            best = (Side.NO, no_ask, edge)
    return best
