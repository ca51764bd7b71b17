"""One trading cycle over 5,000 open markets: screen, heuristic analysis, decide, size.

Prints markets/s for each stage, measured in one run on this machine, by wall time and by
CPU time (``time.process_time``: this process's own CPU, all threads; the machine is shared,
so the CPU rate is the steadier number):
- screen only, then screen + heuristic estimate + decide + size (pure, goal >= 20,000/s);
- a whole engine cycle with in-memory stores (no database);
- the same cycle on SQLite (analyses, decisions, snapshots and cycle rows written);
and the cost of the database as the ratio of the two cycle times.

    .venv/bin/python benchmarks/bench_engine.py [--markets 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ratio

from kalbot.analysis.heuristic import HeuristicParams, estimate
from kalbot.analysis.service import AnalystConfig, HeuristicAnalyst
from kalbot.domain.clock import ManualClock
from kalbot.domain.context import HeldPosition
from kalbot.domain.decisions import Analysis, Decision, RiskState
from kalbot.domain.market import Market, MarketStatus, OrderBook, Quote
from kalbot.domain.orders import Fill, OrderAck, OrderIntent, OrderStatus
from kalbot.domain.prices import PriceRange
from kalbot.engine import EngineConfig, MemoryTradingStore, TradingEngine
from kalbot.risk import BookState, RiskManager
from kalbot.screener import ScreenConfig, Screener
from kalbot.strategy import PortfolioView, StandardStrategy, StrategyContext

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


class Timing(NamedTuple):
    wall: float
    cpu: float


def clocks() -> Timing:
    return Timing(time.perf_counter(), time.process_time())


def since(start: Timing) -> Timing:
    now = clocks()
    return Timing(now.wall - start.wall, now.cpu - start.cpu)


def report(name: str, count: int, t: Timing, unit: str = "markets") -> Timing:
    """One line: wall rate and CPU rate; returns (wall rate, CPU rate)."""
    wall = count / t.wall if t.wall > 0 else float("inf")
    cpu = count / t.cpu if t.cpu > 0 else float("inf")
    print(
        f"{name:<48} {count:>6,} in {t.wall:7.3f}s wall {t.cpu:7.3f}s cpu"
        f"  {wall:>9,.0f}/s wall {cpu:>9,.0f}/s cpu"
    )
    return Timing(wall, cpu)


CENT = Decimal("0.01")
_ = PriceRange, HeldPosition


def make_markets(n: int, seed: int = 7) -> list[Market]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        bid = Decimal(rng.randint(3, 94)) * CENT
        spread = Decimal(rng.choice([1, 1, 2, 3, 5, 12])) * CENT
        out.append(
            Market(
                ticker=f"KXBENCH-{i // 10:04d}-{i % 10}",
                event_ticker=f"KXBENCH-{i // 10:04d}",
                title=f"Bench market {i}",
                status=MarketStatus.ACTIVE,
                quote=Quote(bid, min(bid + spread, Decimal("0.99")), Decimal(500), Decimal(400)),
                close_time=NOW + timedelta(hours=rng.randint(2, 24 * 20)),
                category=rng.choice(["Economics", "Politics", "Weather", "Sports"]),
                volume_24h=Decimal(rng.randint(0, 5000)),
                open_interest=Decimal(rng.randint(0, 3000)),
            )
        )
    return out


class ListMarketData:
    def __init__(self, markets: Sequence[Market]) -> None:
        self.markets = {m.ticker: m for m in markets}

    async def open_markets(self) -> AsyncIterator[Market]:
        for m in self.markets.values():
            yield m

    async def market(self, ticker: str) -> Market:
        return self.markets[ticker]

    async def orderbook(self, ticker: str) -> OrderBook:
        return OrderBook(ticker)


class NullBroker:
    """Accepts orders and fills nothing: the benchmark measures the decision path."""

    def __init__(self) -> None:
        self.orders = 0

    async def place(self, intent: OrderIntent, market: Market) -> OrderAck:
        self.orders += 1
        return OrderAck(
            f"o{self.orders}", intent.client_order_id, intent.ticker, OrderStatus.CANCELED,
            Decimal(0), intent.count,
        )  # fmt: skip

    async def cancel(self, order_id: str) -> None:
        return None

    async def fills(self, since: datetime | None = None) -> Sequence[Fill]:
        return []

    async def positions(self) -> dict[str, Decimal]:
        return {}

    async def balance(self) -> Decimal:
        return Decimal(10000)


class NullAIStore:
    """Records nothing: isolates the engine's own cost from the analyst's storage."""

    def __init__(self) -> None:
        self.n = 0

    async def reserve_ai_budget(self, **kw: object) -> str | None:
        return "r"

    async def release_ai_budget(self, reservation_id: str) -> None:
        return None

    async def record_analysis(self, analysis: object, **kw: object) -> int:
        self.n += 1
        return self.n

    async def ai_spend(self, day: object, now: object) -> tuple[Decimal, Decimal]:
        return Decimal(0), Decimal(0)

    async def latest_analysis(self, ticker: str, provider: str | None = None) -> None:
        return None


def heuristic_analyses(markets: list[Market], screener: Screener) -> dict[str, Analysis]:
    """The heuristic analyst's maths (no store) for every screened market."""
    params = HeuristicParams(b=1.2)
    out = {}
    for m in screener.screen(markets, NOW).passed:
        p = estimate(params, m, NOW)
        out[m.ticker] = Analysis(m.ticker, p, Decision.SKIP, Decimal("0.8"), "", "heuristic", "b")
    return out


def pure_pass(
    markets: list[Market], screener: Screener, analyses: dict[str, Analysis] | None = None
) -> int:
    """Screen, (estimate,) decide and size every market, no I/O at all.

    With ``analyses`` given, the analyst's estimates are taken as known: the issue's goal is
    for screen + decide; without, the heuristic estimate is computed per market too.
    """
    strategy = StandardStrategy()
    risk = RiskManager()
    book = BookState(Decimal(10000), Decimal(10000), Decimal(10000), Decimal(10000))
    view = PortfolioView(Decimal(10000), Decimal(10000), 0, Decimal(0))
    approved = 0
    for m in screener.screen(markets, NOW).passed:
        if analyses is None:
            p = estimate(PARAMS, m, NOW)
            a = Analysis(m.ticker, p, Decision.SKIP, Decimal("0.8"), "", "heuristic", "b")
        else:
            a = analyses[m.ticker]
        d = strategy.decide(StrategyContext(m, NOW, (), None, view, a))
        if d.decision in (Decision.OPEN_YES, Decision.OPEN_NO):
            approved += risk.size(d, m, book, NOW, RiskState.ACTIVE).approved
    return approved


PARAMS = HeuristicParams(b=1.2)


def engine(
    markets: list[Market], store: object, ai_store: object, concurrency: int = 16
) -> TradingEngine:
    clock = ManualClock(NOW)
    return TradingEngine(
        market_data=ListMarketData(markets),
        broker=NullBroker(),
        analyst=HeuristicAnalyst(ai_store, clock, AnalystConfig(), lambda: HeuristicParams(b=1.2)),  # type: ignore[arg-type]
        strategy=StandardStrategy(),
        screener=Screener.from_config(ScreenConfig()),
        risk=RiskManager(),
        store=store,  # type: ignore[arg-type]
        clock=clock,
        config=EngineConfig(mode="bench", analysis_concurrency=concurrency),
    )


async def cycle_memory(markets: list[Market]) -> Timing:
    eng = engine(markets, MemoryTradingStore(), NullAIStore())
    start = clocks()
    await eng.run_cycle()
    return since(start)


async def cycle_sqlite(markets: list[Market]) -> Timing:
    from kalbot.adapters.store.repository import Repository
    from kalbot.recorder import LiveDataRecorder

    with tempfile.TemporaryDirectory() as tmp:
        repo = Repository(f"sqlite+aiosqlite:///{tmp}/bench.db")
        await repo.initialize()
        try:
            # SQLite has one writer: the analyst's writes go one at a time.
            eng = engine(markets, repo, repo, concurrency=1)
            eng.recorder = LiveDataRecorder(repo)
            start = clocks()
            await eng.run_cycle()
            return since(start)
        finally:
            await repo.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--markets", type=int, default=5000)
    ap.add_argument(
        "--db-markets",
        type=int,
        default=1000,
        help="markets in the SQLite cycle (each analysis is a transaction: slow on a busy disk)",
    )
    args = ap.parse_args()
    n, n_db = args.markets, args.db_markets
    markets = make_markets(n)
    screener = Screener.from_config(ScreenConfig())
    print(
        f"bench_engine: {n:,} open markets, "
        f"{len(screener.screen(markets, NOW).passed):,} pass the screen"
    )

    def timed_best(fn, repeat: int = 3) -> Timing:  # type: ignore[no-untyped-def]
        """The fastest of ``repeat`` rounds, wall and CPU each."""
        wall = cpu = float("inf")
        for _ in range(repeat):
            start = clocks()
            fn()
            t = since(start)
            wall, cpu = min(wall, t.wall), min(cpu, t.cpu)
        return Timing(wall, cpu)

    t_screen = timed_best(lambda: screener.screen(markets, NOW))
    report("screen only", n, t_screen)
    known = heuristic_analyses(markets, screener)
    t_decide = timed_best(lambda: pure_pass(markets, screener, known))
    decide_rate = report("screen + decide + size (analyses known)", n, t_decide)
    t_pure = timed_best(lambda: pure_pass(markets, screener))
    report("screen + heuristic + decide + size (pure)", n, t_pure)
    t_mem = asyncio.run(cycle_memory(markets))
    mem_rate = report("engine cycle, in-memory stores (no database)", n, t_mem)
    t_db = asyncio.run(cycle_sqlite(markets[:n_db]))
    db_rate = report("engine cycle, SQLite (analyses, log, snapshots)", n_db, t_db)
    print(
        f"{'database cost: time per market with SQLite / without':<48}"
        f" x{mem_rate.wall / db_rate.wall:6.2f} wall  x{mem_rate.cpu / db_rate.cpu:6.2f} cpu"
    )
    ratio("screen+decide (wall) vs goal 20,000 markets/s", decide_rate.wall, 20000, 1.0)
    ratio("screen+decide (cpu) vs goal 20,000 markets/s", decide_rate.cpu, 20000, 1.0)


if __name__ == "__main__":
    main()
