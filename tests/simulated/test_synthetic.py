"""The seeded synthetic scenario: determinism, realism checks, and running it live."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

import pytest

from kalbot.adapters.simulated.broker import SimulatedBroker
from kalbot.adapters.simulated.exchange import Exchange
from kalbot.adapters.simulated.scenarios.synthetic import SyntheticScenario
from kalbot.adapters.simulated.scenarios.synthetic_live import INTERNAL_ACCOUNTS, SyntheticDriver
from kalbot.domain.clock import ManualClock
from kalbot.domain.market import MarketResult, MarketStatus
from kalbot.domain.orders import Action, OrderIntent, TimeInForce
from kalbot.domain.prices import Side


def test_same_seed_same_markets_and_history_bit_for_bit() -> None:
    a = SyntheticScenario(markets=25, days=3, seed=42)
    b = SyntheticScenario(markets=25, days=3, seed=42)
    assert a.markets == b.markets
    assert list(a.snapshots()) == list(b.snapshots())
    c = SyntheticScenario(markets=25, days=3, seed=43)
    assert [m.fair for m in c.markets] != [m.fair for m in a.markets]


def test_markets_span_categories_and_events_have_exactly_one_winner() -> None:
    s = SyntheticScenario(markets=200, days=10, seed=7)
    assert len(s.markets) == 200
    assert len({m.ticker for m in s.markets}) == 200
    assert len({m.spec.category for m in s.markets}) >= 4
    events: dict[str, list[MarketResult]] = defaultdict(list)
    for m in s.markets:
        events[m.spec.event_ticker].append(m.result)
        assert m.spec.open_time is not None and m.spec.open_time < m.spec.close_time <= s.end
    for event, results in events.items():
        if len(results) > 1:
            assert results.count(MarketResult.YES) == 1, event


def test_brackets_sum_to_one_and_prices_converge_to_the_result() -> None:
    s = SyntheticScenario(markets=200, days=10, seed=3)
    by_event: dict[str, list[tuple[int, ...]]] = defaultdict(list)
    for m in s.markets:
        by_event[m.spec.event_ticker].append(m.fair)
    for fairs in by_event.values():
        if len(fairs) > 2:
            for step in zip(*fairs, strict=True):
                # clamping to [0.01, 0.99] and rounding leave a little slack
                assert abs(sum(step) - 10_000) <= 100 * len(step), step
    right = sum(1 for m in s.markets if (m.fair[-1] > 5_000) == (m.result is MarketResult.YES))
    assert right >= 0.95 * len(s.markets)
    early = sum(1 for m in s.markets if (m.fair[0] > 5_000) == (m.result is MarketResult.YES))
    assert early < right  # the result is not known from the start


def test_snapshots_are_consistent_quotes_in_time_order() -> None:
    s = SyntheticScenario(markets=30, days=4, seed=11)
    snaps = list(s.snapshots())
    by_ticker = {m.ticker: m for m in s.markets}
    assert snaps == sorted(snaps, key=lambda x: (x.timestamp, x.ticker))
    assert {x.ticker for x in snaps} == set(by_ticker)
    for x in snaps:
        m = by_ticker[x.ticker]
        assert m.spec.open_time is not None
        assert m.spec.open_time <= x.timestamp < m.spec.close_time
        assert x.yes_bid is not None and x.yes_ask is not None
        assert 0.01 <= x.yes_bid < x.yes_ask <= 0.99
        assert x.no_bid == pytest.approx(1 - x.yes_ask) and x.no_ask == pytest.approx(1 - x.yes_bid)
        assert x.metadata["result"] == m.result.value
        assert x.metadata["event_ticker"] == m.spec.event_ticker
        assert x.volume_24h is not None and x.volume_24h >= 0
        assert x.open_interest is not None and x.open_interest >= 0


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError):
        SyntheticScenario(markets=0)
    with pytest.raises(ValueError):
        SyntheticScenario(days=0)


async def test_driver_keeps_markets_quoted_lets_a_bot_trade_and_settles_them() -> None:
    scenario = SyntheticScenario(markets=12, days=2, seed=5)
    clock = ManualClock(scenario.start)
    ex = Exchange(clock)
    driver = SyntheticDriver(scenario, ex)
    driver.step()
    ex.open_account("bot", Decimal(1000))
    broker = SimulatedBroker(ex, "bot")
    traded_yes = traded_no = False
    while clock.now() < scenario.end + timedelta(hours=2):
        clock.advance(timedelta(hours=1))
        driver.step()
        for market in ex.markets(MarketStatus.ACTIVE):
            q = market.quote
            assert q.yes_bid is not None and q.yes_ask is not None and q.yes_bid < q.yes_ask
            side = Side.YES if not traded_yes else Side.NO
            if traded_yes and traded_no:
                break
            ask = q.ask(side)
            assert ask is not None
            intent = OrderIntent(
                market.ticker, side, Action.BUY, Decimal(1), ask, f"{market.ticker}-{side}",
                TimeInForce.IOC,
            )  # fmt: skip
            ack = await broker.place(intent, market)
            if ack.filled_count:
                traded_yes = traded_yes or side is Side.YES
                traded_no = traded_no or side is Side.NO
    assert traded_yes and traded_no
    results = scenario.results()
    for ticker, result in results.items():
        market = ex.market(ticker)
        assert market.status is MarketStatus.FINALIZED and market.result is result
    assert await broker.positions() == {}
    assert len(ex.settlements("bot")) == 2
    for name in INTERNAL_ACCOUNTS:
        assert ex.balance(name) >= 0


def test_void_rate_voids_whole_events_and_leaves_the_markets_unchanged() -> None:
    plain = SyntheticScenario(markets=30, days=3, seed=2)
    voided = SyntheticScenario(markets=30, days=3, seed=2, void_rate=0.4)
    assert [(m.ticker, m.fair) for m in plain.markets] == [
        (m.ticker, m.fair) for m in voided.markets
    ]
    by_event: dict[str, set[MarketResult]] = {}
    for m in voided.markets:
        by_event.setdefault(m.spec.event_ticker, set()).add(m.result)
        assert m.spec.expected_result is m.result
    void_events = [e for e, rs in by_event.items() if MarketResult.VOID in rs]
    assert void_events and all(by_event[e] == {MarketResult.VOID} for e in void_events)
    assert len(void_events) < len(by_event)
    with pytest.raises(ValueError):
        SyntheticScenario(void_rate=1.5)


async def test_driver_settles_a_voided_market_by_refunding_at_cost() -> None:
    scenario = SyntheticScenario(markets=3, days=1, seed=5, void_rate=1.0)
    clock = ManualClock(scenario.start)
    ex = Exchange(clock)
    driver = SyntheticDriver(scenario, ex)
    ex.open_account("bot", Decimal(1000))
    broker = SimulatedBroker(ex, "bot")
    paid = Decimal(0)
    while clock.now() < scenario.end + timedelta(hours=2):
        clock.advance(timedelta(hours=1))
        driver.step()
        for market in ex.markets(MarketStatus.ACTIVE):
            ask = market.quote.ask(Side.YES)
            if paid or ask is None:
                continue
            intent = OrderIntent(
                market.ticker, Side.YES, Action.BUY, Decimal(2), ask, "v", TimeInForce.IOC
            )
            ack = await broker.place(intent, market)
            paid = ack.filled_count * ask
    assert paid > 0
    assert all(ex.market(m.ticker).result is MarketResult.VOID for m in scenario.markets)
    (record,) = ex.settlements("bot")
    assert record.market_result is MarketResult.VOID and record.revenue == paid
    assert await broker.balance() == Decimal(1000) - ex.fees_paid("bot")
