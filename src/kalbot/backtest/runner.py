"""The replay driver: recorded snapshots through the one engine loop, in time order.

Per distinct snapshot timestamp ``t``: the replay clock moves to ``t``; that timestamp's
snapshots are applied to the venue (quotes of the simulated exchange, which may fill resting
orders) and observed by ``RecordedMarketData``; markets whose close has passed are settled at
their result; then the engine runs one cycle at ``t``. Nothing stamped after ``t`` has been read
when the cycle runs: the snapshots are streamed, never loaded whole.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from kalbot.backtest.replay import BacktestStore, RecordedMarketData, ReplayedAnalyst
from kalbot.domain.clock import ManualClock
from kalbot.domain.market import MarketResult
from kalbot.domain.prices import ZERO, Side
from kalbot.domain.snapshot import Snapshot
from kalbot.engine import TradingEngine
from kalbot.ports import Broker


class NoData(RuntimeError):
    """The requested range holds no snapshots: there is nothing to backtest (never invented)."""


class SnapshotFeed(Protocol):
    """The venue side of the replay (the simulated exchange's ``ReplayDriver``)."""

    def apply(self, snap: Snapshot) -> None: ...

    def apply_all(self, snaps: Sequence[Snapshot]) -> None: ...

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
    snapshots: AsyncIterator[Snapshot],
    *,
    start: datetime,
    end: datetime,
    capital: Decimal,
    clock: ManualClock,
    feed: SnapshotFeed,
    data: RecordedMarketData,
    engine: TradingEngine,
    broker: Broker,
    store: BacktestStore,
    analyst: ReplayedAnalyst | None = None,
    progress: Progress | Callable[[int, datetime], None] | None = None,
    stopped: Callable[[], bool] | None = None,
) -> ReplayOutcome:
    """Run the backtest; raises ``NoData`` when ``snapshots`` yields nothing.

    ``stopped`` (when given and true once ``snapshots`` ends) says the stream was cut short:
    the run ends where it got to, without the end-of-range cycle (it would settle markets the
    run never reached)."""
    out = ReplayOutcome(start=start, end=end, capital=capital)
    out.equity.append(EquityPoint(start, capital, capital, ZERO, 0))
    batch: list[Snapshot] = []
    seen: set[str] = set()

    async def step() -> None:
        when = batch[0].timestamp
        if when > clock.now():
            clock.set(when)
        feed.apply_all(batch)
        data.observe_all(batch)
        for snap in batch:
            if snap.ticker not in seen:
                seen.add(snap.ticker)
                out.categories[snap.ticker] = snap.category or ""
        feed.settle_due()
        summary = await engine.run_cycle()
        out.cycles += 1
        point = EquityPoint(
            when, summary.cash, summary.equity, engine.book.exposure()[0], len(engine.book)
        )
        _sample(out, point)
        if progress is not None:
            progress(out.snapshots, when)

    current: datetime | None = None  # the batch's timestamp
    async for snap in snapshots:
        ts = snap.timestamp
        if ts != current:
            if current is not None:
                if ts < current:
                    raise ValueError(
                        f"snapshots must arrive in time order: {ts.isoformat()} after "
                        f"{current.isoformat()}"
                    )
                await step()
                batch = []
                if stopped is not None and stopped():
                    break  # cut short: this snapshot and the rest are not replayed
            current = ts
        batch.append(snap)
        out.snapshots += 1
    else:
        if batch:
            await step()
    if stopped is not None and stopped():
        close = getattr(snapshots, "aclose", None)
        if close is not None:
            await close()  # let the read go now, not when the event loop ends
    if out.snapshots == 0:
        raise NoData(f"no snapshots between {start.isoformat()} and {end.isoformat()}")
    if end > clock.now() and not (stopped is not None and stopped()):
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
    out.markets = len(seen)
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
