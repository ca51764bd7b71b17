from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from engine.factories import NOW, D, analysis, market
from kalbot.domain.context import HeldPosition, PricePoint
from kalbot.domain.decisions import Decision
from kalbot.domain.market import Market
from kalbot.domain.prices import Side
from kalbot.strategy import (
    HighConfidenceStrategy,
    MomentumStrategy,
    PortfolioView,
    StandardStrategy,
    StrategyContext,
    StrategyLoadError,
    edge_after_fees,
    load_strategy,
)
from kalbot.strategy.base import fee_per_contract

PORT = PortfolioView(cash=D(1000), equity=D(1000), open_positions=0, exposure=D(0))


def ctx(m: Market, **kw: object) -> StrategyContext:
    return StrategyContext(market=m, now=NOW, history=(), position=None, portfolio=PORT, **kw)  # type: ignore[arg-type]


def test_edge_after_fees_uses_kalshi_taker_fee() -> None:
    # 0.07 * 0.5 * 0.5 = 0.0175 per contract, exactly representable on a 100 lot.
    assert fee_per_contract(D("0.50")) == D("0.0175")
    assert edge_after_fees(D("0.60"), D("0.50")) == D("0.0825")


def test_standard_buys_yes_when_analyst_probability_beats_yes_ask_after_fees() -> None:
    r = StandardStrategy().decide(
        ctx(market(bid="0.40", ask="0.42"), analysis=analysis(p_yes="0.60"))
    )
    assert r.decision is Decision.OPEN_YES
    assert r.limit_price == D("0.42")
    assert r.probability_yes == D("0.60")


def test_standard_buys_no_at_the_no_ask_when_analyst_says_yes_is_overpriced() -> None:
    # YES bid 0.60 -> NO ask 0.40. P(YES)=0.35 -> P(NO)=0.65: edge 0.65-0.40-fee.
    r = StandardStrategy().decide(
        ctx(market(bid="0.60", ask="0.62"), analysis=analysis(p_yes="0.35"))
    )
    assert r.decision is Decision.OPEN_NO
    assert r.limit_price == D("0.40")


def test_standard_skips_when_edge_is_eaten_by_fees() -> None:
    # P=0.44 vs ask 0.42: raw edge 0.02 < fee 0.0171 + min_edge 0.03.
    r = StandardStrategy().decide(ctx(market(), analysis=analysis(p_yes="0.44")))
    assert r.decision is Decision.SKIP
    assert r.reason == "no_edge_after_fees"


def test_standard_skips_without_analysis_or_with_a_failed_one() -> None:
    assert StandardStrategy().decide(ctx(market())).reason == "no_analysis"
    bad = analysis(p_yes=None, decision=Decision.SKIP, error="invalid json")
    r = StandardStrategy().decide(ctx(market(), analysis=bad))
    assert r.decision is Decision.SKIP and r.reason == "invalid json"
    unexplained = analysis(p_yes=None, decision=Decision.SKIP)
    r = StandardStrategy().decide(ctx(market(), analysis=unexplained))
    assert r.reason == "analysis_failed"


@pytest.mark.parametrize("side", [Side.YES, Side.NO])
def test_standard_closes_a_position_the_analyst_now_disagrees_with(side: Side) -> None:
    pos = HeldPosition(side=side, quantity=D(10), entry_price=D("0.40"), entry_time=NOW)
    m = market(bid="0.50", ask="0.52")  # side bids: YES 0.50, NO 0.48
    against = "0.30" if side is Side.YES else "0.70"
    c = StrategyContext(m, NOW, (), pos, PORT, analysis(p_yes=against, decision=Decision.SKIP))
    assert StandardStrategy().decide(c).decision is Decision.CLOSE
    agree = "0.70" if side is Side.YES else "0.30"
    c = StrategyContext(m, NOW, (), pos, PORT, analysis(p_yes=agree, decision=Decision.SKIP))
    assert StandardStrategy().decide(c).reason == "holding"


@pytest.mark.parametrize(
    ("bid", "ask", "p_yes", "expected"),
    [
        ("0.85", "0.87", "0.93", Decision.OPEN_YES),  # YES favourite
        ("0.13", "0.15", "0.07", Decision.OPEN_NO),  # NO favourite: NO ask = 0.87
    ],
)
def test_high_confidence_buys_the_favourite_near_expiry(
    bid: str, ask: str, p_yes: str, expected: Decision
) -> None:
    m = market(bid=bid, ask=ask, close_in=timedelta(days=2))
    r = HighConfidenceStrategy().decide(ctx(m, analysis=analysis(p_yes=p_yes, confidence="0.9")))
    assert r.decision is expected
    assert r.limit_price == D("0.87")


def test_high_confidence_skips_far_from_expiry_near_half_or_when_analyst_unsure() -> None:
    s = HighConfidenceStrategy()
    far = market(bid="0.85", ask="0.87", close_in=timedelta(days=10))
    assert s.decide(ctx(far, analysis=analysis(p_yes="0.95", confidence="0.9"))).reason == (
        "too_far_from_expiry"
    )
    half = market(bid="0.50", ask="0.52", close_in=timedelta(days=1))
    assert s.decide(ctx(half, analysis=analysis(p_yes="0.95", confidence="0.9"))).reason == (
        "price_not_far_from_half"
    )
    fav = market(bid="0.85", ask="0.87", close_in=timedelta(days=1))
    assert s.decide(ctx(fav, analysis=analysis(p_yes="0.70", confidence="0.9"))).reason == (
        "analyst_not_confident"
    )
    assert s.max_days_to_expiry == 7 and s.min_confidence == Decimal("0.80")


def _history(mids: list[str]) -> tuple[PricePoint, ...]:
    return tuple(
        PricePoint(NOW - timedelta(minutes=len(mids) - i), D(m) - D("0.01"), D(m) + D("0.01"), None)
        for i, m in enumerate(mids)
    )


@pytest.mark.parametrize(
    ("mids", "bid", "ask", "expected"),
    [
        (["0.40", "0.41", "0.43", "0.45", "0.47", "0.50"], "0.49", "0.51", Decision.OPEN_YES),
        (["0.60", "0.58", "0.56", "0.54", "0.52", "0.50"], "0.49", "0.51", Decision.OPEN_NO),
        (["0.50", "0.50", "0.51", "0.50", "0.50", "0.50"], "0.49", "0.51", Decision.SKIP),
    ],
)
def test_momentum_follows_the_move_on_either_side(
    mids: list[str], bid: str, ask: str, expected: Decision
) -> None:
    c = StrategyContext(market(bid=bid, ask=ask), NOW, _history(mids), None, PORT)
    assert MomentumStrategy().decide(c).decision is expected


def test_momentum_needs_history() -> None:
    c = StrategyContext(market(), NOW, _history(["0.4"]), None, PORT)
    assert MomentumStrategy().decide(c).reason == "not_enough_history"


def test_load_strategy_by_name_and_import_path() -> None:
    assert isinstance(load_strategy("standard"), StandardStrategy)
    assert isinstance(load_strategy("high-confidence"), HighConfidenceStrategy)
    assert isinstance(load_strategy("kalbot.strategy.builtin:MomentumStrategy"), MomentumStrategy)
    with pytest.raises(StrategyLoadError, match="unknown strategy"):
        load_strategy("nope")
    with pytest.raises(StrategyLoadError, match="cannot load"):
        load_strategy("kalbot.strategy.builtin:Nope")
