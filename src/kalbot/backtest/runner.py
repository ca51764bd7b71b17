"""The replay driver: recorded snapshots through the one engine loop, in time order.

Per distinct snapshot timestamp ``t`` (a step): the replay clock moves to ``t``; that
timestamp's snapshots are applied to the venue (quotes of the simulated exchange, which may fill
resting orders); markets whose close has passed are settled at their result; then the engine
runs one cycle at ``t``. Nothing stamped after ``t`` has been read when the cycle runs: the
snapshots are streamed, never loaded whole.

A step arrives already converted for the venue (``Step``): ``steps_by_time`` groups and
converts a snapshot stream in this process; ``kalbot.backtest_feed`` does the same in a worker
process, so reading and converting run beside the engine instead of before it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol, TypeVar

from kalbot.backtest.replay import BacktestStore, RecordedMarketData, ReplayedAnalyst
from kalbot.backtest.steps import S, Step
from kalbot.domain.clock import ManualClock
from kalbot.domain.market import MarketResult
from kalbot.domain.prices import ZERO, Side
from kalbot.engine import TradingEngine
from kalbot.ports import Broker


class NoData(RuntimeError):
    """The requested range holds no snapshots: there is nothing to backtest (never invented)."""


S_contra = TypeVar("S_contra", bound=Step, contravariant=True)


class SnapshotFeed(Protocol[S_contra]):
    """The venue side of the replay (the simulated exchange's ``ReplayDriver``)."""

    def apply_prepared(self, batch: S_contra) -> object: ...

    def settle_due(self) -> object: ...


@dataclass(frozen=True, slots=True)
class EquityPoint:
    ts: datetime
    cash: Decimal
    equity: Decimal
    exposure: Decimal  # cost basis of open positions
    open_positions: int


@dataclass(frozen=True, slots=True)
class OpenMark:
    """A position still open when the replay ends, marked at its side's bid."""

    ticker: str
    side: Side
    quantity: Decimal
    entry_price: Decimal
    entry_time: datetime
    cost: Decimal
    entry_fees: Decimal
    bid: Decimal | None  # None: no bid at the end, marked at 0
    value: Decimal
    unrealized_pnl: Decimal  # value - cost - entry fees
    category: str


@dataclass(slots=True)
class ReplayOutcome:
    """What the replay produced; ``kalbot.backtest.results`` turns it into the report."""

    start: datetime
    end: datetime
    capital: Decimal
    snapshots: int = 0
    cycles: int = 0
    equity: list[EquityPoint] = field(default_factory=list)  # one per UTC day + the last
    open_at_end: list[OpenMark] = field(default_factory=list)
    results: dict[str, MarketResult] = field(default_factory=dict)  # settled during the replay
    categories: dict[str, str] = field(default_factory=dict)
    markets: int = 0


class Progress(Protocol):
    def __call__(self, snapshots: int, ts: datetime) -> None: ...


async def replay(
    steps: AsyncIterator[S],
    *,
    start: datetime,
    end: datetime,
    capital: Decimal,
    clock: ManualClock,
    feed: SnapshotFeed[S],
    data: RecordedMarketData,
    engine: TradingEngine,
    broker: Broker,
    store: BacktestStore,
    analyst: ReplayedAnalyst | None = None,
    progress: Progress | Callable[[int, datetime], None] | None = None,
    stopped: Callable[[], bool] | None = None,
) -> ReplayOutcome:
    """Run the backtest over ``steps`` (one per timestamp, in time order); raises ``NoData``
    when they hold no snapshot.

    ``stopped`` (when given) is asked after each cycle: once true, the run ends where it got
    to, without the end-of-range cycle (it would settle markets the run never reached), and
    ``steps`` is closed (the read lets go now)."""
    out = ReplayOutcome(start=start, end=end, capital=capital)
    out.equity.append(EquityPoint(start, capital, capital, ZERO, 0))
    cut = False
    try:
        async for batch in steps:
            when = batch.timestamp
            if when is None or batch.count == 0:
                continue
            if when > clock.now():
                clock.set(when)
            data.observe_step(when)
            feed.apply_prepared(batch)
            for ticker, category in batch.first_seen:
                out.categories[ticker] = category
            out.snapshots += batch.count
            feed.settle_due()
            summary = await engine.run_cycle()
            out.cycles += 1
            point = EquityPoint(
                when, summary.cash, summary.equity, engine.book.exposure()[0], len(engine.book)
            )
            _sample(out, point)
            if progress is not None:
                progress(out.snapshots, when)
            if stopped is not None and stopped():
                cut = True
                break  # cut short: the steps after this one are not replayed
    finally:
        close = getattr(steps, "aclose", None)
        if close is not None:
            await close()  # let the read go now, not when the event loop ends
    if out.snapshots == 0:
        raise NoData(f"no snapshots between {start.isoformat()} and {end.isoformat()}")
    if end > clock.now() and not cut:
        # One last cycle at the end of the range: markets that closed after their last
        # snapshot but before ``end`` are settled at their result (no new data is read).
        clock.set(end)
        feed.settle_due()
        summary = await engine.run_cycle()
        out.cycles += 1
        _sample(
            out,
            EquityPoint(
                end, summary.cash, summary.equity, engine.book.exposure()[0], len(engine.book)
            ),
        )
    out.markets = len(out.categories)
    await _finish(out, data, engine, broker, analyst)
    return out


def _sample(out: ReplayOutcome, point: EquityPoint) -> None:
    """Keep one equity sample per UTC day (the day's last) after the starting point."""
    last = out.equity[-1]
    if last.ts.date() == point.ts.date() and len(out.equity) > 1:
        out.equity[-1] = point
    else:
        out.equity.append(point)


async def _finish(
    out: ReplayOutcome,
    data: RecordedMarketData,
    engine: TradingEngine,
    broker: Broker,
    analyst: ReplayedAnalyst | None,
) -> None:
    """Mark what is still open at its bid; collect the results the replay settled."""
    cash = await broker.balance()
    marks = ZERO
    for pos in sorted(engine.book.by_id.values(), key=lambda p: (p.ticker, p.id)):
        m = await data.market(pos.ticker)
        bid = m.quote.bid(pos.side)
        value = pos.quantity * bid if bid is not None else ZERO
        marks += value
        out.open_at_end.append(
            OpenMark(
                pos.ticker, pos.side, pos.quantity, pos.entry_price, pos.entry_time, pos.cost,
                pos.entry_fees, bid, value, value - pos.cost - pos.entry_fees,
                out.categories.get(pos.ticker, pos.category),
            )
        )  # fmt: skip
    last = out.equity[-1]
    final = EquityPoint(last.ts, cash, cash + marks, engine.book.exposure()[0], len(engine.book))
    out.equity[-1] = final if len(out.equity) > 1 else last
    if len(out.equity) == 1:
        out.equity.append(final)
    tickers = {u.ticker for u in analyst.used.values()} if analyst is not None else set()
    for ticker in sorted(tickers):
        m = await data.market(ticker)
        if m.result in (MarketResult.YES, MarketResult.NO):
            out.results[ticker] = m.result
