"""Simulated exchange throughput: random limit orders and cancels across many markets.

Prints events/s for the exchange (price levels as dicts of deques with a max-heap of prices)
and, in the same run on the same event stream, for a naive baseline: the very same exchange
(accounts, fees, netting, events) with each book leg kept as one Python list re-sorted on every
insert and rescanned on every removal. Goal: >= 100,000 engine events/s in-process.

    .venv/bin/python benchmarks/bench_sim.py [--events 1000000] [--markets 1000]
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ratio, report, timed

from kalbot.adapters.simulated.book import BookLeg, Leg, LiveOrder
from kalbot.adapters.simulated.errors import EngineError
from kalbot.adapters.simulated.exchange import Exchange
from kalbot.adapters.simulated.markets import MarketSpec
from kalbot.domain.clock import ManualClock
from kalbot.domain.orders import BookSide, OrderStatus, TimeInForce

START = datetime(2026, 1, 1, tzinfo=UTC)
ACCOUNTS = 200
# (kind, account, market, book_side, yes_ticks, units, tif) or (kind, account, slot)
Event = tuple[int, int, int, BookSide, int, int, TimeInForce] | tuple[int, int, int]
PLACE, CANCEL = 0, 1


def make_events(n: int, markets: int, seed: int) -> list[Event]:
    """Orders around each market's drifting mid, one in four events a cancel."""
    rng = random.Random(seed)
    mids = [rng.randint(2000, 8000) for _ in range(markets)]
    out: list[Event] = []
    for _ in range(n):
        if rng.random() < 0.25:
            out.append((CANCEL, rng.randrange(ACCOUNTS), rng.randrange(1 << 30)))
            continue
        m = rng.randrange(markets)
        mids[m] = min(9000, max(1000, mids[m] + rng.randint(-100, 100)))
        side = BookSide.BID if rng.random() < 0.5 else BookSide.ASK
        offset = rng.randint(-300, 500)  # mostly passive, sometimes crossing
        price = mids[m] - offset if side is BookSide.BID else mids[m] + offset
        price = min(9900, max(100, price - price % 100))
        tif = TimeInForce.IOC if rng.random() < 0.1 else TimeInForce.GTC
        out.append((PLACE, rng.randrange(ACCOUNTS), m, side, price, rng.randint(1, 20) * 100, tif))
    return out


def run_engine(
    events: list[Event], markets: int, leg: Callable[[], Leg] = BookLeg
) -> tuple[int, int]:
    clock = ManualClock(START)
    ex = Exchange(clock, book_leg=leg)
    tickers = [f"BENCH-{i:04d}" for i in range(markets)]
    for t in tickers:
        ex.add_market(MarketSpec(t, "BENCH", close_time=START + timedelta(days=30)))
    names = [f"acct{i}" for i in range(ACCOUNTS)]
    for name in names:
        ex.open_account(name, Decimal(10_000_000))
    live: list[list[str]] = [[] for _ in range(ACCOUNTS)]
    rejected = 0
    for ev in events:
        if ev[0] == PLACE:
            _, a, m, side, price, units, tif = ev  # type: ignore[misc]
            try:
                o = ex.place_units(names[a], tickers[m], side, price, units, tif)
            except EngineError:
                rejected += 1
                continue
            if o.status is OrderStatus.RESTING:
                live[a].append(o.order_id)
        else:
            _, a, slot = ev  # type: ignore[misc]
            orders = live[a]
            while orders:
                oid = orders.pop(slot % len(orders))
                try:
                    ex.cancel_units(names[a], oid)
                    break
                except EngineError:
                    continue  # already filled: pick another
    return ex.trade_count(), rejected


class NaiveLeg:
    """The baseline book leg: one Python list of orders re-sorted on every insert.

    Same interface as ``BookLeg`` so the very same exchange (accounts, fees, netting) runs on
    it; only the data structure differs. Reductions rescan the list for the level's size.
    """

    def __init__(self) -> None:
        self.orders: list[LiveOrder] = []
        self.sizes: dict[int, int] = {}

    def best(self) -> int | None:
        return self.orders[0].own_ticks if self.orders else None

    def add(self, order: LiveOrder) -> None:
        self.orders.append(order)
        self.orders.sort(key=lambda o: -o.own_ticks)  # stable sort keeps time priority
        self.sizes[order.own_ticks] = self.sizes.get(order.own_ticks, 0) + order.remaining
        order.resting = True

    def reduce(self, order: LiveOrder, amount: int) -> None:
        size = self.sizes[order.own_ticks] - amount
        if size <= 0:
            del self.sizes[order.own_ticks]
        else:
            self.sizes[order.own_ticks] = size
        if amount == order.remaining:  # leaving the book: a cancel or the last fill
            self.orders = [o for o in self.orders if o is not order]

    def front(self, price: int) -> LiveOrder:
        return next(o for o in self.orders if o.own_ticks == price)

    def pop_front(self, price: int) -> None:
        pass  # reduce already removed a fully filled order

    def depth(self) -> list[tuple[int, int]]:
        return sorted(self.sizes.items(), reverse=True)

    def orders_at(self, price: int) -> list[LiveOrder]:
        return [o for o in self.orders if o.own_ticks == price]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--markets", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    events = make_events(args.events, args.markets, args.seed)
    (trades, rejected), engine_s = timed(lambda: run_engine(events, args.markets))
    engine_rate = report("engine (price levels: dict+deque+heap)", len(events), engine_s, "events")
    print(f"{'':<48} {trades:>10,} trades, {rejected:,} rejected")
    (naive_trades, _), naive_s = timed(lambda: run_engine(events, args.markets, NaiveLeg))
    naive_rate = report(
        "baseline (same engine, re-sorted list book)", len(events), naive_s, "events"
    )
    print(f"{'':<48} {naive_trades:>10,} trades (must equal the engine's)")
    ratio("engine / naive baseline", engine_rate, naive_rate, 1.0)
    goal = engine_rate >= 100_000
    print(f"{'engine events/s goal >= 100,000':<48} {'OK' if goal else 'BELOW GOAL'}")


if __name__ == "__main__":
    main()
