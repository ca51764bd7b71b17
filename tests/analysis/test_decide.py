from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.helpers import NOW, D, market
from kalbot.analysis.decide import DecisionRule, decide, edge, fee_per_contract
from kalbot.domain.context import HeldPosition
from kalbot.domain.decisions import Decision
from kalbot.domain.fees import taker_fee
from kalbot.domain.prices import Side

RULE = DecisionRule(min_edge=D("0.03"), fee_reference_contracts=D(10))


def held(side: Side) -> HeldPosition:
    return HeldPosition(side=side, quantity=D(10), entry_price=D("0.40"), entry_time=NOW)


def test_fee_per_contract_uses_kalshis_taker_fee_over_the_reference_lot() -> None:
    m = market()
    # 0.07 * 10 * 0.42 * 0.58 = 0.17052 -> 0.18 for ten contracts.
    assert taker_fee(D(10), D("0.42")) == D("0.18")
    assert fee_per_contract(D("0.42"), m, D(10)) == D("0.018")


def test_yes_is_opened_when_the_edge_over_the_yes_ask_after_fee_clears_the_minimum() -> None:
    m = market("0.40", "0.42")
    r = decide(D("0.50"), D("0.8"), m, None, RULE)
    assert r.decision is Decision.OPEN_YES
    assert r.limit_price == D("0.42")
    # 0.50 - 0.42 - 0.018 = 0.062
    assert edge(D("0.50"), D("0.42"), m, RULE) == D("0.062")


def test_no_is_opened_at_the_no_ask_in_nos_own_price_space() -> None:
    m = market("0.40", "0.42")  # NO ask = 1 - 0.40 = 0.60
    r = decide(D("0.30"), D("0.8"), m, None, RULE)
    assert r.decision is Decision.OPEN_NO
    assert r.limit_price == D("0.60")
    # P(NO) = 0.70; 0.70 - 0.60 - ceil(0.07*10*0.6*0.4=0.168 -> 0.17)/10
    assert edge(D("0.70"), D("0.60"), m, RULE) == D("0.083")


def test_an_edge_that_the_fee_eats_is_skipped() -> None:
    m = market("0.40", "0.42")
    # Raw edge 0.04 on YES, minus the 0.018 fee = 0.022 < 0.03.
    r = decide(D("0.46"), D("0.9"), m, None, RULE)
    assert r.decision is Decision.SKIP and r.reason == "edge_below_min"
    # The same estimate clears a lower bar.
    r2 = decide(D("0.46"), D("0.9"), m, None, replace(RULE, min_edge=D("0.02")))
    assert r2.decision is Decision.OPEN_YES


def test_a_one_sided_book_only_trades_the_side_that_has_an_ask() -> None:
    no_yes_ask = market("0.40", None)
    assert decide(D("0.90"), D(1), no_yes_ask, None, RULE).reason == "edge_below_min"
    assert decide(D("0.10"), D(1), no_yes_ask, None, RULE).decision is Decision.OPEN_NO
    empty = market(None, None)
    assert decide(D("0.90"), D(1), empty, None, RULE).reason == "no_ask"


def test_low_confidence_is_skipped_when_a_minimum_is_set() -> None:
    r = decide(D("0.60"), D("0.2"), market(), None, replace(RULE, min_confidence=D("0.5")))
    assert r.decision is Decision.SKIP and r.reason == "confidence_below_min"


def test_a_held_yes_position_is_closed_when_the_estimate_falls_below_its_bid() -> None:
    m = market("0.40", "0.42")  # YES bid 0.40; exit value 0.40 - 0.024 = 0.376
    assert decide(D("0.30"), D("0.7"), m, held(Side.YES), RULE).decision is Decision.CLOSE
    assert decide(D("0.30"), D("0.7"), m, held(Side.YES), RULE).limit_price == D("0.40")
    kept = decide(D("0.39"), D("0.7"), m, held(Side.YES), RULE)
    assert kept.decision is Decision.SKIP and kept.reason == "position_held_agrees"


def test_a_held_no_position_is_closed_when_the_estimate_of_no_falls_below_the_no_bid() -> None:
    m = market("0.40", "0.42")  # NO bid = 1 - 0.42 = 0.58; exit 0.58 - 0.025 = 0.555
    r = decide(D("0.50"), D("0.7"), m, held(Side.NO), RULE)  # P(NO) = 0.50 < 0.555
    assert r.decision is Decision.CLOSE and r.limit_price == D("0.58")
    kept = decide(D("0.40"), D("0.7"), m, held(Side.NO), RULE)  # P(NO) = 0.60
    assert kept.decision is Decision.SKIP


def test_a_held_position_with_no_bid_to_sell_into_is_kept() -> None:
    m = market("0.40", None)  # NO bid needs a YES ask
    assert decide(D("0.99"), D(1), m, held(Side.NO), RULE).reason == "position_held_no_bid"


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 100).map(lambda i: D(i) / 100),
    st.integers(1, 98),
    st.integers(1, 10),
)
def test_open_decisions_always_carry_at_least_the_minimum_edge(
    p: Decimal, bid_cents: int, spread_cents: int
) -> None:
    ask_cents = min(bid_cents + spread_cents, 99)
    m = market(str(D(bid_cents) / 100), str(D(ask_cents) / 100))
    r = decide(p, D(1), m, None, RULE)
    if r.decision is Decision.OPEN_YES:
        assert r.limit_price is not None and edge(p, r.limit_price, m, RULE) >= RULE.min_edge
    elif r.decision is Decision.OPEN_NO:
        assert r.limit_price is not None
        assert edge(1 - p, r.limit_price, m, RULE) >= RULE.min_edge
    else:
        assert r.decision is Decision.SKIP
    # Symmetry: mirroring the book and the estimate mirrors the side.
    mirrored = market(str(1 - D(ask_cents) / 100), str(1 - D(bid_cents) / 100))
    r2 = decide(1 - p, D(1), mirrored, None, RULE)
    flip = {
        Decision.OPEN_YES: Decision.OPEN_NO,
        Decision.OPEN_NO: Decision.OPEN_YES,
        Decision.SKIP: Decision.SKIP,
    }
    assert r2.decision is flip[r.decision]
