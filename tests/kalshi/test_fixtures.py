"""Every recorded response in the shared fixtures parses to the numbers a reader sees."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

from kalbot.adapters.kalshi import convert
from kalbot.adapters.kalshi import wire as w
from kalbot.adapters.kalshi.ws_events import TickerEvent, parse_message
from kalbot.domain.market import MarketResult, MarketStatus
from kalbot.domain.prices import PriceRange, Side
from kalshi.helpers import FIXTURES, load_fixture

D = Decimal


def test_every_fixture_file_is_covered_by_a_test() -> None:
    files = sorted(str(p.relative_to(FIXTURES)) for p in FIXTURES.rglob("*.json"))
    assert files == [
        "anytroops_market-lens/kalshi_candles.json",
        "anytroops_market-lens/kalshi_market.json",
        "codetilldawn2_kalshi-trading-bot/API_GetEvents.json",
        "codetilldawn2_kalshi-trading-bot/DataFeed_Ticker.json",
        "guzus_dr-manhattan/kalshi_markets.json",
    ]


def test_legacy_cent_event_with_nested_markets_parses_to_dollars() -> None:
    page = w.EventsPageW.model_validate(
        load_fixture("codetilldawn2_kalshi-trading-bot/API_GetEvents.json")
    )
    [event] = page.events
    assert event.event_ticker == "KXJAN6PARDON-25MAY01"
    assert event.series_ticker == "KXJAN6PARDON"
    assert event.category == "Politics"
    assert event.markets is not None and len(event.markets) == 6
    markets = {m.ticker: convert.market(m, category=event.category) for m in event.markets}
    m = markets["KXJAN6PARDON-25MAY01-1000"]
    assert m.status is MarketStatus.ACTIVE
    assert m.quote.yes_bid == D("0.55") and m.quote.yes_ask == D("0.57")
    assert m.quote.no_bid == D("0.43") and m.quote.no_ask == D("0.45")
    assert m.last_price == D("0.57")
    assert m.volume == D(61202) and m.volume_24h == D(3752) and m.open_interest == D(42216)
    assert m.floor_strike == D(1000) and m.strike_type == "greater_or_equal"
    assert m.close_time == datetime(2025, 5, 1, 14, 0, tzinfo=UTC)
    assert m.series_ticker == "KXJAN6PARDON" and m.category == "Politics"
    assert m.result is None and not m.is_combo
    assert m.rules_primary.startswith("If President Trump pardons at least 1000")
    assert m.price_ranges == (PriceRange(D(0), D(1), D("0.01")),)
    summary = {t: (x.quote.yes_bid, x.quote.yes_ask, x.last_price) for t, x in markets.items()}
    assert summary["KXJAN6PARDON-25MAY01-50"] == (D("0.88"), D("0.92"), D("0.88"))
    assert summary["KXJAN6PARDON-25MAY01-1"] == (D("0.96"), D("0.97"), D("0.96"))


def test_current_fixed_point_markets_parse_with_grid_and_combo_flag() -> None:
    raw = load_fixture("guzus_dr-manhattan/kalshi_markets.json")
    markets = [convert.market(w.MarketW.model_validate(x)) for x in raw]
    assert len(markets) == 5
    for m in markets:
        assert m.status is MarketStatus.ACTIVE
        assert m.is_combo  # multivariate sports parlays: the bot will not trade these
        assert m.price_ranges == (PriceRange(D(0), D(1), D("0.001")),)
        # "0.0000" bid / "0.0000" ask with empty sizes: an empty book, not prices of zero
        assert m.quote.yes_bid is None and m.quote.yes_ask is None
        assert m.last_price is None and m.volume == 0 and m.open_interest == 0
    first = markets[0]
    assert first.ticker == "KXMVESPORTSMULTIGAMEEXTENDED-S202695384F34707-B07014EEB10"
    assert first.close_time == datetime(2026, 6, 24, 17, 35, tzinfo=UTC)
    assert first.strike_type == "custom"
    assert convert.snap_price(first, D("0.12345")) == D("0.123")


def test_current_single_market_is_a_settled_no() -> None:
    m = convert.market(
        w.MarketW.model_validate(load_fixture("anytroops_market-lens/kalshi_market.json"))
    )
    assert m.status is MarketStatus.FINALIZED
    assert m.result is MarketResult.NO
    assert m.settlement_value == 0  # "settlement_value_dollars": "0.0000"
    assert m.quote.yes_bid is None and m.quote.yes_ask is None  # "0.0000" / "1.0000": empty
    assert m.expiration_time == datetime(2026, 7, 13, 1, 45, tzinfo=UTC)
    assert m.is_combo


def test_candles_parse_including_a_candle_without_trades() -> None:
    resp = w.CandlesResponseW.model_validate(
        load_fixture("anytroops_market-lens/kalshi_candles.json")
    )
    assert resp.ticker == "KXFED-26JUN-T5.25"
    c0, c1, c2 = resp.candlesticks
    assert c0.end_period_ts == 1754539200
    assert c0.price is not None and c0.price.close_dollars is None  # "price": {} - no trade
    assert c0.yes_ask is not None and c0.yes_ask.low_dollars == "0.0300"
    assert c1.price is not None and D(c1.price.mean_dollars or "x") == D("0.05")
    assert D(c1.volume_fp or "x") == 10 and D(c1.open_interest_fp or "x") == 10
    assert c1.yes_ask is not None and D(c1.yes_ask.high_dollars or "x") == D("0.37")
    assert c2.price is not None and c2.price.previous_dollars == "0.0500"


def test_legacy_websocket_ticker_feed_parses_every_message_in_dollars() -> None:
    raw = load_fixture("codetilldawn2_kalshi-trading-bot/DataFeed_Ticker.json")
    events = [parse_message(json.dumps(x)) for x in raw]
    assert len(events) == 302
    assert all(isinstance(e, TickerEvent) for e in events)
    first = events[0]
    assert isinstance(first, TickerEvent)
    assert first.ticker == "KXGREENLAND-29"
    assert first.price == D("0.25") and first.yes_bid == D("0.24") and first.yes_ask == D("0.25")
    assert first.volume == D(196) and first.open_interest == D(32)
    assert first.ts == datetime.fromtimestamp(1737064763, UTC)
    second = events[1]
    assert isinstance(second, TickerEvent)
    # 0 bid / 0 ask in the legacy feed: nothing on the book
    assert second.yes_bid is None and second.yes_ask is None
    assert second.quote().no_ask is None


def test_side_helpers_on_parsed_market_agree_with_the_json() -> None:
    page = w.EventsPageW.model_validate(
        load_fixture("codetilldawn2_kalshi-trading-bot/API_GetEvents.json")
    )
    assert page.events[0].markets is not None
    m = convert.market(page.events[0].markets[1])  # -500: yes 75/78, no 22/25
    assert m.quote.ask(Side.YES) == D("0.78") and m.quote.bid(Side.YES) == D("0.75")
    assert m.quote.ask(Side.NO) == D("0.25") and m.quote.bid(Side.NO) == D("0.22")
