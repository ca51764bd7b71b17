"""Simulated exchange throughput: random limit orders and cancels across many markets.

Prints events/s for the exchange (price levels as dicts of FIFOs — short lists, deques once
deep — with a max-heap of prices) and, in the same run on the same event stream, for a naive
baseline: the very same exchange (accounts, fees, netting, events) with each book leg kept as
one Python list re-sorted on every insert and rescanned on every removal. Goal: >= 100,000
engine events/s in-process.

    .venv/bin/python benchmarks/bench_sim.py [--events 1000000] [--markets 1000] [--default-gc]

Both legs run under the garbage-collector thresholds the long-running entry points set
(``gc_policy.use_engine_gc``, applied by ``kalbot sim serve`` and ``kalbot backtest``);
``--default-gc`` keeps CPython's defaults.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ratio, report, timed

from kalbot.adapters.simulated import native
from kalbot.adapters.simulated.book import BookLeg, Leg, LiveOrder
from kalbot.adapters.simulated.errors import EngineError
from kalbot.adapters.simulated.exchange import Exchange
from kalbot.adapters.simulated.gc_policy import ENGINE_GC_THRESHOLDS, use_engine_gc
from kalbot.adapters.simulated.markets import MarketSpec
from kalbot.domain.clock import ManualClock
from kalbot.domain.orders import BookSide, OrderStatus, TimeInForce

START = datetime(2026, 1, 1, tzinfo=UTC)
T = TypeVar("T")
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
) -> tuple[Exchange, int]:
    clock = ManualClock(START)
    ex = Exchange(clock, book_leg=leg)
    tickers = [f"BENCH-{i:04d}" for i in range(markets)]
    for t in tickers:
        ex.add_market(MarketSpec(t, "BENCH", close_time=START + timedelta(days=30)))
    names = [f"acct{i}" for i in range(ACCOUNTS)]
    for name in names:
        ex.open_account(name, Decimal(10_000_000))
    live: list[list[LiveOrder]] = [[] for _ in range(ACCOUNTS)]
    rejected = 0
    place, cancel = ex.place_units, ex.cancel_units  # the public calls, looked up once
    resting = OrderStatus.RESTING
    for ev in events:
        if ev[0] == PLACE:
            _, a, m, side, price, units, tif = ev  # type: ignore[misc]
            try:
                o = place(names[a], tickers[m], side, price, units, tif)
            except EngineError:
                rejected += 1
                continue
            if o.status is resting:
                live[a].append(o)
        else:
            _, a, slot = ev  # type: ignore[misc]
            orders = live[a]
            while orders:
                i = slot % len(orders)
                o = orders[i]
                orders[i] = orders[-1]  # O(1) removal; order within the list does not matter
                orders.pop()
                if o.status is resting:  # skip orders that filled meanwhile
                    cancel(names[a], o.order_id)
                    break
    return ex, rejected


def trade_digest(ex: Exchange) -> str:
    """A hash of every trade (outside the timed region): both books must trade identically."""
    h = hashlib.sha256()
    for t in ex.trades():
        h.update(f"{t.trade_id}|{t.ticker}|{t.yes_price}|{t.count}|{t.taker_book_side}".encode())
    return h.hexdigest()[:16]


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

    def depth(self) -> list[tuple[int, int]]:
        return sorted(self.sizes.items(), reverse=True)

    def orders_at(self, price: int) -> list[LiveOrder]:
        return [o for o in self.orders if o.own_ticks == price]


def _cpu_timed(fn: Callable[[], T]) -> tuple[T, float, float]:
    """Wall and CPU seconds: the box is shared, so CPU time is the steadier of the two."""
    cpu0 = time.process_time()
    result, wall = timed(fn)
    return result, wall, time.process_time() - cpu0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--markets", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-baseline", action="store_true", help="skip the naive run")
    parser.add_argument(
        "--default-gc",
        action="store_true",
        help="keep CPython's default collector thresholds instead of the entry points' setting",
    )
    args = parser.parse_args()
    if args.default_gc:
        print(f"garbage collector: CPython default thresholds {gc.get_threshold()}")
    else:
        use_engine_gc()  # as `kalbot sim serve` and `kalbot backtest` run the engine
        print(
            f"garbage collector: thresholds {ENGINE_GC_THRESHOLDS} (gc_policy.use_engine_gc, as "
            "`kalbot sim serve` and `kalbot backtest` run); --default-gc for CPython's default"
        )
    compiled = native.compiled_modules()
    print(
        f"engine modules: {'compiled with mypyc (make native)' if compiled else 'Python sources'}"
        + (f" ({len(compiled)} of {len(native.NATIVE_MODULES)})" if compiled else "")
    )
    events = make_events(args.events, args.markets, args.seed)
    n = len(events)
    (ex, rejected), wall, cpu = _cpu_timed(lambda: run_engine(events, args.markets))
    trades, digest = ex.trade_count(), trade_digest(ex)
    del ex
    engine_rate = report("engine (dict+list/deque levels, max-heap) wall", n, wall, "events")
    engine_cpu = report("engine (dict+list/deque levels, max-heap) CPU", n, cpu, "events")
    print(f"{'':<48} {trades:>10,} trades, {rejected:,} rejected, digest {digest}")
    if not args.no_baseline:
        (nex, _), nwall, ncpu = _cpu_timed(lambda: run_engine(events, args.markets, NaiveLeg))
        naive_trades, naive_digest = nex.trade_count(), trade_digest(nex)
        del nex
        naive_rate = report("baseline (same engine, re-sorted lists) wall", n, nwall, "events")
        naive_cpu = report("baseline (same engine, re-sorted lists) CPU", n, ncpu, "events")
        same = "same trades" if naive_digest == digest else "TRADES DIFFER"
        print(f"{'':<48} {naive_trades:>10,} trades, digest {naive_digest}  {same}")
        if naive_digest != digest:
            raise SystemExit("the engine and the baseline traded differently")
        ratio("engine / naive baseline (wall)", engine_rate, naive_rate, 1.0)
        ratio("engine / naive baseline (CPU)", engine_cpu, naive_cpu, 1.0)
    for label, rate in (("wall", engine_rate), ("CPU", engine_cpu)):
        verdict = "OK" if rate >= 100_000 else "BELOW GOAL"
        print(f"{'engine events/s goal >= 100,000 (' + label + ')':<48} {rate:>14,.0f}  {verdict}")


if __name__ == "__main__":
    main()
