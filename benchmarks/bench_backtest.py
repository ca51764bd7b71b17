"""Backtest throughput against a bare ordered read of the same rows, and peak memory.

A synthetic history (``--snapshots`` rows over ``--markets`` markets, one snapshot per market
every 10 minutes) is written to SQLite; each measurement runs in a fresh child process so its
peak RSS is its own: first a bare ordered read (``stream_snapshots``), then the full backtest
(rules strategy ``momentum``, conservative fills). A quarter-size history is measured too, to
show whether peak memory grows with the number of snapshots.

    .venv/bin/python benchmarks/bench_backtest.py [--snapshots 1000000] [--markets 1000]

Goals (issue 7): backtest >= 50% of the bare read's snapshots/s; peak memory < 300 MB and flat.
The ratio is printed in wall time (the goal's measure) and in CPU time (steadier on a shared
machine). Imports and settings are loaded before either clock starts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ratio, report

START = datetime(2026, 1, 5, tzinfo=UTC)
STEP = timedelta(minutes=10)


async def generate(url: str, snapshots: int, markets: int, seed: int = 7) -> None:
    from kalbot.adapters.store.repository import Repository
    from kalbot.domain.snapshot import Snapshot
    from kalbot.domain.trading import MarketResultRow

    rng = random.Random(seed)
    steps = max(1, snapshots // markets)
    end = START + STEP * steps
    mids = [rng.uniform(0.2, 0.8) for _ in range(markets)]
    closes = [START + (end - START) * rng.uniform(0.5, 1.1) for _ in range(markets)]
    repo = Repository(url)
    await repo.initialize()
    try:
        batch: list[Snapshot] = []
        for s in range(steps):
            ts = START + STEP * s
            for i in range(markets):
                if ts >= closes[i]:
                    continue
                mids[i] = min(0.93, max(0.07, mids[i] + rng.gauss(0, 0.01)))
                bid = round(mids[i] - 0.01, 2)
                ask = round(bid + 0.02, 2)
                batch.append(
                    Snapshot(
                        ts, f"BT-{i:05d}", f"market {i}", None, bid, ask, round(1 - ask, 2),
                        round(1 - bid, 2), 1000, 500,
                        closes[i].isoformat().replace("+00:00", "Z"), f"cat{i % 7}",
                        {"yes_bid_size": 100, "yes_ask_size": 100, "event_ticker": f"BT-{i:05d}"},
                    )
                )  # fmt: skip
                if len(batch) >= 20_000:
                    await repo.add_snapshots(batch)
                    batch = []
        if batch:
            await repo.add_snapshots(batch)
        await repo.add_market_results(
            [
                MarketResultRow(
                    f"BT-{i:05d}", f"BT-{i:05d}", f"cat{i % 7}",
                    "yes" if mids[i] > 0.5 else "no", closes[i],
                )
                for i in range(markets)
            ]
        )  # fmt: skip
    finally:
        await repo.close()


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def child(url: str, what: str) -> dict[str, float]:
    from kalbot.adapters.store.repository import Repository

    # Both children import and configure everything before the clock starts: only the read
    # (or the backtest) itself is timed, in wall time and in CPU time (this process's threads).
    from kalbot.backtest_app import BacktestSpec, run_backtest
    from kalbot.config import load_settings

    settings = load_settings(trading={"strategy": "momentum"})
    repo = Repository(url)
    await repo.initialize(upgrade=False)
    lo, hi = START, START + timedelta(days=3650)
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        if what == "read":
            n = 0
            async for _ in repo.stream_snapshots(lo, hi):
                n += 1
            return {
                "n": n,
                "s": time.perf_counter() - t0,
                "cpu": time.process_time() - c0,
                "peak_mb": peak_mb(),
            }
        rep = await run_backtest(settings, repo, BacktestSpec(lo, hi, Decimal(10000)))
        return {
            "n": rep.meta["snapshots"],
            "s": time.perf_counter() - t0,
            "cpu": time.process_time() - c0,
            "peak_mb": peak_mb(),
            "trades": rep.trade_metrics.trades,
            "cycles": rep.meta["cycles"],
            "pnl": float(rep.trade_metrics.total_pnl),
        }
    finally:
        await repo.close()


def measure(url: str, what: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", what, "--url", url],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--snapshots", type=int, default=1_000_000)
    ap.add_argument("--markets", type=int, default=1_000)
    ap.add_argument("--child")
    ap.add_argument("--url")
    a = ap.parse_args()
    if a.child:
        print(json.dumps(asyncio.run(child(a.url, a.child))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        peaks = []
        for n in (a.snapshots // 4, a.snapshots):
            url = f"sqlite+aiosqlite:///{tmp}/bt{n}.db"
            t0 = time.perf_counter()
            asyncio.run(generate(url, n, a.markets))
            took = time.perf_counter() - t0
            print(f"generated {n:,} snapshots / {a.markets} markets in {took:.1f}s")
            read = measure(url, "read")
            bt = measure(url, "backtest")
            rr = report(f"bare ordered read ({n:,})", int(read["n"]), read["s"], "snapshots")
            br = report(f"backtest, momentum ({n:,})", int(bt["n"]), bt["s"], "snapshots")
            print(
                f"  cycles {int(bt['cycles'])}, trades {int(bt['trades'])}, "
                f"realised P&L {bt['pnl']:.2f}"
            )
            ratio(f"backtest / bare read ({n:,})", br, rr, 0.5)
            print(
                f"  in CPU time: bare read {read['n'] / read['cpu']:,.0f}/s, backtest "
                f"{bt['n'] / bt['cpu']:,.0f}/s, ratio {read['cpu'] / bt['cpu']:.3f}"
            )
            print(
                f"  peak RSS: bare read {read['peak_mb']:.0f} MB, "
                f"backtest {bt['peak_mb']:.0f} MB (goal < 300)"
            )
            peaks.append(bt["peak_mb"])
        print(
            f"peak memory growth x4 history: {peaks[0]:.0f} MB -> {peaks[1]:.0f} MB "
            f"({peaks[1] / peaks[0]:.2f}x)"
        )


if __name__ == "__main__":
    main()
