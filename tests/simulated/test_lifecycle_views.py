"""Market views: built field by field from the exchange's state, reused while it is unchanged.

``Lifecycle._market_view`` builds ``Market`` positionally (faster per market); the reference
below builds it by keyword, so a reordered ``Market`` field would show here. ``Lifecycle._view``
hands back the same immutable view until something it shows changes.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from kalbot.adapters.simulated.errors import EngineError
from kalbot.adapters.simulated.exchange import Exchange
from kalbot.adapters.simulated.fill_models import get_fill_model
from kalbot.adapters.simulated.markets import MarketState
from kalbot.adapters.simulated.units import ticks_to_price, units_to_count
from kalbot.domain.market import Market, MarketResult, MarketStatus, Quote
from kalbot.domain.orders import BookSide
from kalbot.domain.prices import PriceRange

from .helpers import START, TICKER, make_exchange, order, spec

D = Decimal


def _by_keyword(ex: Exchange, m: MarketState) -> Market:
    s = m.spec
    recorded = ex._recorded.get(s.ticker)
    return Market(
        ticker=s.ticker,
        event_ticker=s.event_ticker,
        title=s.title,
        status=m.status,
        quote=ex._quote(s.ticker),
        close_time=m.close_time,
        series_ticker=s.series_ticker,
        subtitle=s.subtitle,
        yes_subtitle=s.yes_subtitle,
        no_subtitle=s.no_subtitle,
        category=s.category,
        open_time=s.open_time,
        expiration_time=m.close_time,
        last_price=ticks_to_price(m.last_price) if m.last_price is not None else None,
        volume=units_to_count(m.volume),
        volume_24h=recorded[0] if recorded else units_to_count(m.volume),
        open_interest=recorded[1] if recorded else units_to_count(m.open_interest),
        result=m.result,
        floor_strike=s.floor_strike,
        cap_strike=s.cap_strike,
        strike_type=s.strike_type,
        rules_primary=s.rules_primary,
        rules_secondary=s.rules_secondary,
        price_ranges=s.price_ranges,
        is_combo=False,
        fee_type=s.fee_type,
        fee_multiplier=s.fee_multiplier,
    )


def test_every_field_of_the_view_comes_from_its_own_source() -> None:
    clock_ex, _ = make_exchange()
    rich = spec(
        "RICH-1", title="t", subtitle="s", yes_subtitle="y", no_subtitle="n", category="c",
        open_time=START - timedelta(hours=1), strike_type="between", floor_strike=D(1),
        cap_strike=D(2), rules_primary="rp", rules_secondary="rs", fee_multiplier=D("0.5"),
        price_ranges=(PriceRange(D("0.01"), D("0.99"), D("0.01")),),
    )  # fmt: skip
    clock_ex.add_market(rich)
    clock_ex.place("alice", order(BookSide.BID, "0.40", 5, ticker="RICH-1"))
    clock_ex.place("bob", order(BookSide.ASK, "0.40", 2, ticker="RICH-1"))
    for ticker in ("RICH-1", TICKER):
        view = clock_ex.market(ticker)
        assert view == _by_keyword(clock_ex, clock_ex._markets[ticker])
    assert clock_ex.market("RICH-1").volume == D(2)


def test_an_unchanged_market_is_shown_as_the_same_view_and_any_change_rebuilds_it() -> None:
    ex, clock = make_exchange()
    first = ex.market(TICKER)
    assert ex.market(TICKER) is first and ex.markets()[0] is first
    ex.place("alice", order(BookSide.BID, "0.40", 5))  # the book's quote changes
    second = ex.market(TICKER)
    assert second is not first and second.quote.yes_bid == D("0.40")
    assert ex.market(TICKER) is second
    ex.place("bob", order(BookSide.ASK, "0.40", 2))  # a trade: volume and last price
    third = ex.market(TICKER)
    assert third.volume == D(2) and third.last_price == D("0.40")
    clock.set(START + timedelta(days=2))  # past the close
    closed = ex.market(TICKER)
    assert closed.status is MarketStatus.CLOSED
    assert closed is not third
    ex.settle(TICKER, MarketResult.YES)
    settled = ex.market(TICKER)
    assert settled.result is MarketResult.YES and settled is not closed
    assert settled == _by_keyword(ex, ex._markets[TICKER])


def test_a_quote_driven_market_shows_its_recorded_quote_and_liquidity() -> None:
    ex, _ = make_exchange()
    ex.add_quoted_market(spec("Q-1"), get_fill_model("conservative"))
    q = Quote(D("0.30"), D("0.35"), D(10), D(20))
    ex.update_quote("Q-1", q, D("0.32"))
    plain = ex.market("Q-1")
    assert plain.quote is q and plain.volume_24h == 0 and plain.last_price == D("0.32")
    ex.update_quote("Q-1", q, D("0.32"), liquidity=(D(1000), D(500)))
    shown = ex.market("Q-1")
    assert (shown.volume_24h, shown.open_interest, shown.volume) == (D(1000), D(500), D(0))
    assert shown == replace(plain, volume_24h=D(1000), open_interest=D(500))
    assert ex.market("Q-1") is shown
    ex.update_quote("Q-1", Quote(D("0.31"), D("0.35")), D("0.32"))
    assert ex.market("Q-1").quote.yes_bid == D("0.31")
    assert ex.market("Q-1").volume_24h == D(1000)  # recorded values stay until replaced


def test_update_quote_if_active_records_nothing_on_a_closed_market() -> None:
    ex, clock = make_exchange()
    ex.add_quoted_market(spec("Q-1"), get_fill_model("conservative"))
    q = Quote(D("0.30"), D("0.35"))
    assert ex.update_quote_if_active("Q-1", q) == []
    clock.set(START + timedelta(days=2))
    assert ex.update_quote_if_active("Q-1", Quote(D("0.10"), D("0.12"))) is None
    assert ex.market("Q-1").quote is q


def test_batch_quote_updates_record_as_single_ones_do_and_skip_closed_markets() -> None:
    ex, clock = make_exchange()
    for t in ("Q-1", "Q-2"):
        ex.add_quoted_market(spec(t), get_fill_model("conservative"))
    q1, q2 = Quote(D("0.30"), D("0.35")), Quote(D("0.50"), D("0.52"))
    liq = (D(1000), D(500))
    assert ex.update_quotes_if_active([("Q-1", q1, D("0.32"), liq), ("Q-2", q2, None, None)]) == []
    assert ex.market("Q-1").quote is q1 and ex.market("Q-1").last_price == D("0.32")
    assert (ex.market("Q-1").volume_24h, ex.market("Q-2").quote) == (D(1000), q2)
    clock.set(START + timedelta(days=2))  # both closed: nothing recorded
    assert ex.update_quotes_if_active([("Q-1", Quote(D("0.1"), D("0.2")), None, None)]) == []
    assert ex.market("Q-1").quote is q1
    with pytest.raises(EngineError):
        ex.update_quotes_if_active([("NOPE", q1, None, None)])
