"""Replay: markets rebuilt from recorded snapshots, traded through a fill model, settled."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from kalbot.adapters.simulated.broker import SimulatedBroker
from kalbot.adapters.simulated.exchange import Exchange
from kalbot.adapters.simulated.scenarios.replay import ReplayDriver
from kalbot.adapters.simulated.scenarios.synthetic import SyntheticScenario
from kalbot.domain.clock import ManualClock
from kalbot.domain.market import MarketResult, MarketStatus
from kalbot.domain.orders import Action, OrderIntent, TimeInForce
from kalbot.domain.prices import Side
from kalbot.domain.snapshot import Snapshot

D = Decimal
T0 = datetime(2026, 2, 1, tzinfo=UTC)


async def _aiter(items: Iterable[Snapshot]) -> AsyncIterator[Snapshot]:
    for item in items:
        yield item


def _snap(minutes: int, bid: float | None, ask: float | None, **kw: object) -> Snapshot:
    base = Snapshot(
        timestamp=T0 + timedelta(minutes=minutes),
        ticker="REC-1",
        title="Recorded market",
        last_price=None,
        yes_bid=bid,
        yes_ask=ask,
        no_bid=None if ask is None else round(1 - ask, 2),
        no_ask=None if bid is None else round(1 - bid, 2),
        volume_24h=10,
        open_interest=5,
        close_time="2026-02-01T02:00:00Z",
        category="Economics",
        metadata={"result": "no", "event_ticker": "REC", "yes_ask_size": 50, "yes_bid_size": 50},
    )
    return replace(base, **kw)  # type: ignore[arg-type]


async def test_recorded_quotes_fill_yes_and_no_orders_and_settle_at_the_result() -> None:
    clock = ManualClock(T0)
    ex = Exchange(clock)
    ex.open_account("bot", D(100))
    broker = SimulatedBroker(ex, "bot")
    driver = ReplayDriver(ex)
    acks = []

    async def trade(when: datetime) -> None:
        market = ex.market("REC-1")
        if when == T0:  # take YES at the recorded ask; rest a NO bid at 0.55
            yes = OrderIntent("REC-1", Side.YES, Action.BUY, D(2), D("0.45"), "y", TimeInForce.IOC)
            no = OrderIntent("REC-1", Side.NO, Action.BUY, D(3), D("0.55"), "n", TimeInForce.GTC)
            acks.append(await broker.place(yes, market))
            acks.append(await broker.place(no, market))

    snaps = [
        _snap(0, 0.40, 0.45),
        _snap(30, 0.44, 0.47),  # NO ask 0.56: touches nothing
        _snap(60, 0.46, 0.50),  # NO ask 0.54 < 0.55: trades through the resting NO bid
        _snap(150, 0.02, 0.04),  # after close: ignored for quotes, settles the market
    ]
    stats = await driver.run(_aiter(snaps), clock, trade)
    assert acks[0].filled_count == D(2) and acks[1].filled_count == 0
    fills = await broker.fills()
    assert [(f.side, f.price, f.count) for f in fills] == [
        (Side.YES, D("0.45"), D(2)),
        (Side.NO, D("0.55"), D(3)),
    ]
    assert fills[1].ts == T0 + timedelta(minutes=60) and not fills[1].is_taker
    assert stats.markets == 1 and stats.settled == 1 and stats.snapshots == 4
    assert ex.market("REC-1").status is MarketStatus.FINALIZED
    assert ex.market("REC-1").result is MarketResult.NO
    fees = sum((f.fee for f in fills), D(0))
    # net position after netting: 2 YES and 3 NO -> 1 NO; 2 pairs paid back $2 at once
    assert ex.settlements("bot")[0].no_count == D(1)
    assert await broker.balance() == D(100) - D("0.90") - D("1.65") + D(2) + D(1) - fees


async def test_a_snapshot_without_close_time_skips_its_market_and_never_trades() -> None:
    clock = ManualClock(T0)
    ex = Exchange(clock)
    driver = ReplayDriver(ex)
    await driver.run(_aiter([_snap(0, 0.4, 0.45, close_time=None)]), clock)
    assert driver.stats.skipped == {"REC-1": "snapshot has no close_time"}
    assert ex.tickers() == []


async def test_crossed_quotes_are_refused() -> None:
    clock = ManualClock(T0)
    ex = Exchange(clock)
    driver = ReplayDriver(ex)
    await driver.run(_aiter([_snap(0, 0.5, 0.45)]), clock)
    assert "crossed quote" in driver.stats.skipped["REC-1"]


async def test_synthetic_history_replays_and_settles_every_market() -> None:
    scenario = SyntheticScenario(markets=10, days=2, seed=4)
    clock = ManualClock(scenario.start)
    ex = Exchange(clock)
    driver = ReplayDriver(ex, results=scenario.results())
    stats = await driver.run(_aiter(scenario.snapshots()), clock)
    assert stats.markets == 10 and not stats.skipped
    # the last market closes at the end of the window; a final settle_due sees it
    clock.set(scenario.end)
    driver.settle_due()
    for ticker, result in scenario.results().items():
        assert ex.market(ticker).result is result


async def test_replay_from_the_store_through_the_snapshot_port(sqlite_url: str) -> None:
    from kalbot.adapters.store.repository import Repository
    from kalbot.ports import SnapshotStore

    scenario = SyntheticScenario(markets=6, days=2, seed=8)
    repo = Repository(sqlite_url)
    await repo.initialize()
    try:
        store: SnapshotStore = repo
        written = await store.add_snapshots(list(scenario.snapshots()))
        clock = ManualClock(scenario.start)
        ex = Exchange(clock)
        driver = ReplayDriver(ex)  # results come from each snapshot's metadata
        stats = await driver.run(store.stream_snapshots(scenario.start, scenario.end), clock)
    finally:
        await repo.close()
    assert stats.snapshots == written and stats.markets == 6 and not stats.skipped
    clock.set(scenario.end)
    driver.settle_due()
    assert {t: ex.market(t).result for t in ex.tickers()} == scenario.results()


def test_a_repeated_recorded_quote_is_converted_once_and_shared() -> None:
    clock = ManualClock(T0)
    ex = Exchange(clock)
    driver = ReplayDriver(ex)
    driver.apply(_snap(0, 0.40, 0.45))
    first = ex.market("REC-1").quote
    driver.apply(_snap(0, 0.40, 0.45))
    assert ex.market("REC-1").quote is first
    driver.apply(_snap(0, 0.41, 0.45))
    assert ex.market("REC-1").quote.yes_bid == D("0.4100")


def test_equal_keys_of_other_types_are_converted_on_their_own() -> None:
    """1, 1.0 and True are equal dict keys; as recorded inputs they differ."""
    clock = ManualClock(T0)
    ex = Exchange(clock)
    driver = ReplayDriver(ex)
    meta = {"event_ticker": "REC", "yes_bid_size": 100, "yes_ask_size": 100}
    driver.apply(_snap(0, 0.40, 1.0, no_bid=None, metadata=meta))
    assert ex.market("REC-1").quote.yes_bid_size == D(100)
    float_sizes = {"event_ticker": "REC", "yes_bid_size": 100.0, "yes_ask_size": 100.0}
    driver.apply(_snap(0, 0.40, 1.0, no_bid=None, metadata=float_sizes))
    assert ex.market("REC-1").quote.yes_bid_size == 0  # a float size is no size, as before
    driver.apply(_snap(0, 0.40, 1, no_bid=None, metadata=meta))
    assert ex.market("REC-1").quote.yes_ask is None  # an ask of 1 is no ask
    driver.apply(_snap(0, 0.40, True, no_bid=None, metadata=meta))
    assert "bad yes_ask" in driver.stats.skipped["REC-1"]


def test_an_unhashable_size_is_converted_the_long_way() -> None:
    clock = ManualClock(T0)
    ex = Exchange(clock)
    driver = ReplayDriver(ex)
    meta = {"event_ticker": "REC", "yes_bid_size": [1], "yes_ask_size": 7}
    driver.apply(_snap(0, 0.40, 0.45, metadata=meta))
    q = ex.market("REC-1").quote
    assert (q.yes_bid_size, q.yes_ask_size) == (D(0), D(7)) and not driver.stats.skipped


def test_recorded_liquidity_is_shown_by_the_venue_only_when_asked() -> None:
    for recorded in (False, True):
        clock = ManualClock(T0)
        ex = Exchange(clock)
        ReplayDriver(ex, recorded_liquidity=recorded).apply(_snap(0, 0.40, 0.45))
        m = ex.market("REC-1")
        want = (D(10), D(5)) if recorded else (D(0), D(0))
        assert (m.volume_24h, m.open_interest) == want


async def test_apply_all_leaves_the_exchange_as_apply_one_by_one_does() -> None:
    scenario = SyntheticScenario(markets=5, days=1, seed=11)
    snaps = list(scenario.snapshots())
    views = []
    for batched in (False, True):
        clock = ManualClock(scenario.start)
        ex = Exchange(clock)
        driver = ReplayDriver(ex, results=scenario.results(), recorded_liquidity=True)
        by_time: dict[datetime, list[Snapshot]] = {}
        for s in snaps:
            by_time.setdefault(s.timestamp, []).append(s)
        for when, batch in by_time.items():
            clock.set(when)
            if batched:
                driver.apply_all(batch)
            else:
                for s in batch:
                    driver.apply(s)
            driver.settle_due()
        views.append(([ex.market(t) for t in ex.tickers()], driver.stats))
    assert views[0] == views[1]


async def test_a_recorded_void_result_refunds_the_position_at_cost() -> None:
    clock = ManualClock(T0)
    ex = Exchange(clock)
    ex.open_account("bot", D(100))
    broker = SimulatedBroker(ex, "bot")
    driver = ReplayDriver(ex)

    async def trade(when: datetime) -> None:
        if when == T0:
            yes = OrderIntent("REC-1", Side.YES, Action.BUY, D(4), D("0.45"), "y", TimeInForce.IOC)
            await broker.place(yes, ex.market("REC-1"))

    void = {"result": "void", "event_ticker": "REC", "yes_ask_size": 50, "yes_bid_size": 50}
    snaps = [_snap(0, 0.40, 0.45, metadata=void), _snap(150, 0.40, 0.45, metadata=void)]
    stats = await driver.run(_aiter(snaps), clock, trade)
    assert stats.settled == 1 and ex.market("REC-1").result is MarketResult.VOID
    (record,) = ex.settlements("bot")
    assert record.market_result is MarketResult.VOID and record.revenue == D("1.80")
    fees = sum((f.fee for f in await broker.fills()), D(0))
    assert fees > 0 and await broker.balance() == D(100) - fees  # only the fee is lost
