from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from engine.factories import NOW, market
from kalbot.domain.market import MarketStatus
from kalbot.screener import ScreenConfig, Screener


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
