from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kalbot.domain.fees import FeeType, fill_fee, maker_fee, taker_fee
from kalbot.domain.orders import Action, BookSide, OrderIntent, TimeInForce, to_v2
from kalbot.domain.pnl import kelly_fraction, realized_pnl
from kalbot.domain.prices import (
    PriceError,
    PriceRange,
    Rounding,
    Side,
    is_on_tick,
    parse_price,
    side_price,
    snap_to_tick,
    yes_price_of,
)

cents = st.integers(min_value=1, max_value=99).map(lambda c: Decimal(c) / 100)
counts = st.integers(min_value=1, max_value=10_000).map(Decimal)


def test_taker_fee_matches_kalshis_published_examples() -> None:
    assert taker_fee(Decimal(1), Decimal("0.50")) == Decimal("0.02")
    assert taker_fee(Decimal(100), Decimal("0.50")) == Decimal("1.75")
    assert taker_fee(Decimal(10), Decimal("0.30")) == Decimal("0.15")  # 0.147 rounds up


def test_maker_fee_only_where_the_series_has_them() -> None:
    assert maker_fee(Decimal(100), Decimal("0.5")) == 0
    assert maker_fee(Decimal(100), Decimal("0.5"), FeeType.QUADRATIC_WITH_MAKER_FEES) == Decimal(
        "0.44"
    )


@given(counts, cents)
def test_fee_is_the_same_for_a_price_and_its_complement(c: Decimal, p: Decimal) -> None:
    assert taker_fee(c, p) == taker_fee(c, 1 - p)
    fee = fill_fee(c, p, is_taker=True)
    assert fee >= Decimal("0.07") * c * p * (1 - p)
    assert fee - Decimal("0.07") * c * p * (1 - p) < Decimal("0.01")
    assert fee == fee.quantize(Decimal("0.01"))


@given(st.decimals(min_value=0, max_value=1, places=4))
def test_price_strings_round_trip(p: Decimal) -> None:
    assert parse_price(f"{p:.4f}", "yes_bid_dollars", "T") == p


@pytest.mark.parametrize("bad", [None, "", "abc", "1.5", "-0.1", 0.5, "NaN"])
def test_malformed_prices_are_errors_naming_field_and_ticker(bad: object) -> None:
    with pytest.raises(PriceError) as info:
        parse_price(bad, "yes_ask_dollars", "KXBTC-1")
    assert "yes_ask_dollars" in str(info.value) and "KXBTC-1" in str(info.value)


@given(st.decimals(min_value=0, max_value=1, places=6))
def test_snapping_lands_on_the_grid_and_in_the_right_direction(p: Decimal) -> None:
    tapered = (
        PriceRange(Decimal(0), Decimal("0.1"), Decimal("0.001")),
        PriceRange(Decimal("0.1"), Decimal("0.9"), Decimal("0.01")),
        PriceRange(Decimal("0.9"), Decimal(1), Decimal("0.001")),
    )
    down = snap_to_tick(p, tapered, Rounding.DOWN)
    up = snap_to_tick(p, tapered, Rounding.UP)
    assert is_on_tick(down, tapered) and is_on_tick(up, tapered)
    assert down <= p <= up


@given(cents)
def test_yes_no_conversion_is_an_involution(p: Decimal) -> None:
    for side in Side:
        assert yes_price_of(side_price(p, side), side) == p
    assert side_price(p, Side.NO) == 1 - p


def test_buy_no_becomes_an_ask_at_the_complementary_yes_price() -> None:
    order = to_v2(
        OrderIntent("T", Side.NO, Action.BUY, Decimal(10), Decimal("0.30"), "cid", TimeInForce.IOC)
    )
    assert order.book_side is BookSide.ASK and order.price == Decimal("0.70")


@given(st.decimals(min_value="0.001", max_value="0.999", places=3), st.sampled_from(list(Side)))
def test_snapped_v2_price_never_pays_more_than_the_intent(p: Decimal, side: Side) -> None:
    order = to_v2(OrderIntent("T", side, Action.BUY, Decimal(1), p, "c"))
    assert side_price(order.price, side) <= p


def test_pnl_is_in_the_sides_own_price_space() -> None:
    # NO bought at 0.30, settled NO (pays 1.00): +0.70 per contract less fees
    assert realized_pnl(Decimal(10), Decimal("0.30"), Decimal(1), Decimal("0.15")) == Decimal(
        "6.85"
    )
    assert kelly_fraction(Decimal("0.6"), Decimal("0.5")) == Decimal("0.2")
    assert kelly_fraction(Decimal("0.4"), Decimal("0.5")) == 0
