from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.factories import NOW, market
from kalbot.domain.market import Market, MarketStatus
from kalbot.screener import ScreenConfig, Screener
from kalbot.screener.filters import default_filters


def screener(**kw: object) -> Screener:
    return Screener.from_config(ScreenConfig(**kw))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("m", "reason"),
    [
        (market(status=MarketStatus.CLOSED), "not_open"),
        (market(is_combo=True), "combo_market"),
        (market(close_in=timedelta(minutes=30)), "closes_too_soon"),
        (market(close_in=timedelta(days=60)), "closes_too_late"),
        (market(volume_24h=5), "low_volume"),
        (market(open_interest=1), "low_open_interest"),
        (market(bid=None), "one_sided_book"),
        (market(ask=None), "one_sided_book"),
        (market(bid="0.30", ask="0.50"), "spread_too_wide"),
        (market(bid="0.01", ask="0.02"), "price_out_of_range"),
        (market(bid="0.97", ask="0.99"), "price_out_of_range"),
    ],
)
def test_each_filter_rejects_with_its_reason_code(m: object, reason: str) -> None:
    s = screener()
    assert s.reason(m, NOW) == reason  # type: ignore[arg-type]


def test_a_liquid_open_market_passes() -> None:
    assert screener().reason(market(), NOW) is None


def test_category_allow_and_deny_lists_and_ticker_deny_list() -> None:
    s = screener(categories_allow=frozenset({"Politics"}))
    assert s.reason(market(category="Economics"), NOW) == "category_not_allowed"
    assert s.reason(market(category="politics"), NOW) is None
    s = screener(categories_deny=frozenset({"economics"}))
    assert s.reason(market(category="Economics"), NOW) == "category_denied"
    s = screener(tickers_deny=frozenset({"KXTEST-1"}))
    assert s.reason(market(), NOW) == "ticker_denied"


def test_screen_counts_every_rejection_by_reason() -> None:
    ms = [
        market("A"),
        market("B", volume_24h=0),
        market("C", volume_24h=0),
        market("D", bid=None),
    ]
    out = screener(max_spread=Decimal("0.05")).screen(ms, NOW)
    assert [m.ticker for m in out.passed] == ["A"]
    assert out.counts == {"low_volume": 2, "one_sided_book": 1}
    assert out.rejected == {"B": "low_volume", "C": "low_volume", "D": "one_sided_book"}


cents = st.one_of(
    st.none(), st.integers(min_value=0, max_value=100).map(lambda c: f"{c / 100:.2f}")
)


@settings(max_examples=300, deadline=None)
@given(
    bid=cents,
    ask=cents,
    hours=st.integers(min_value=-5, max_value=24 * 45),
    vol=st.integers(min_value=0, max_value=300),
    oi=st.integers(min_value=0, max_value=100),
    status=st.sampled_from(list(MarketStatus)),
    combo=st.booleans(),
    category=st.sampled_from(["Economics", "Politics", "sports"]),
    ticker=st.sampled_from(["KXTEST-1", "KXOTHER-2"]),
)
def test_property_the_fused_screen_agrees_with_the_filter_list(
    bid: str | None, ask: str | None, hours: int, vol: int, oi: int, status: MarketStatus,
    combo: bool, category: str, ticker: str,
) -> None:  # fmt: skip
    m: Market = market(
        ticker, bid, ask, close_in=timedelta(hours=hours), status=status, volume_24h=vol,
        open_interest=oi, category=category, is_combo=combo,
    )  # fmt: skip
    for cfg in (
        ScreenConfig(),
        ScreenConfig(
            categories_allow=frozenset({"Politics", "Sports"}),
            categories_deny=frozenset({"sports"}),
            tickers_deny=frozenset({"KXOTHER-2"}),
        ),
    ):
        fused = Screener.from_config(cfg)
        listed = Screener(default_filters(cfg))
        now: datetime = NOW
        assert fused.reason(m, now) == listed.reason(m, now)
