"""Backtest throughput against a bare ordered read of the same rows, and peak memory.

A synthetic history (``--snapshots`` rows over ``--markets`` markets, one snapshot per market
every 10 minutes) is written to SQLite; each measurement runs in a fresh child process so its
peak RSS is its own: first a bare ordered read (``stream_snapshots``), then the full backtest
(rules strategy ``momentum``, conservative fills). A quarter-size history is measured too, to
show whether peak memory grows with the number of snapshots.

    .venv/bin/python benchmarks/bench_backtest.py [--snapshots 1000000] [--markets 1000]
        [--in-process]

Goals (issue 7): backtest >= 50% of the bare read's snapshots/s; peak memory < 300 MB and flat.

The backtest runs as ``kalbot backtest`` does: with a second CPU its snapshots are read and
converted by a reader process (``kalbot.backtest_feed``) while the engine trades, so the ratio
(wall time, the goal's measure) compares a backtest using two processes with a read using one.
The CPU seconds of both processes and their peak memory are printed beside it, summed, so
nothing the reader costs is hidden. ``--in-process`` runs the backtest without the reader
(``BacktestSpec(read_ahead=False)``), as on a one-CPU machine. Imports and settings are loaded
before either clock starts; the reader's start-up (a new interpreter, ~0.35 s) is inside the
clock, which is why the quarter-size history (run first, for the memory check) prints its ratio
as information: the goal is the full history's.
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


def peak_mb(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def children_cpu() -> float:
    """CPU seconds of this process's finished children (the backtest's reader process)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


async def child(url: str, what: str, in_process: bool = False) -> dict[str, float]:
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
        k0 = children_cpu()
        rep = await run_backtest(
            settings,
            repo,
            BacktestSpec(lo, hi, Decimal(10000), read_ahead=False if in_process else None),
        )
        return {
            "n": rep.meta["snapshots"],
            "s": time.perf_counter() - t0,
            "cpu": time.process_time() - c0,
            "reader_cpu": children_cpu() - k0,
            "peak_mb": peak_mb(),
            "reader_peak_mb": peak_mb(resource.RUSAGE_CHILDREN),
            "trades": rep.trade_metrics.trades,
            "cycles": rep.meta["cycles"],
            "pnl": float(rep.trade_metrics.total_pnl),
        }
    finally:
        await repo.close()


def measure(url: str, what: str, in_process: bool = False) -> dict[str, float]:
    extra = ["--in-process"] if in_process else []
    out = subprocess.run(
        [sys.executable, __file__, "--child", what, "--url", url, *extra],
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
    ap.add_argument("--in-process", action="store_true", help="backtest without the reader process")
    a = ap.parse_args()
    if a.child:
        print(json.dumps(asyncio.run(child(a.url, a.child, a.in_process))))
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
            bt = measure(url, "backtest", a.in_process)
            rr = report(f"bare ordered read ({n:,})", int(read["n"]), read["s"], "snapshots")
            how = "in process" if a.in_process else "reader process"
            br = report(f"backtest, momentum, {how} ({n:,})", int(bt["n"]), bt["s"], "snapshots")
            print(
                f"  cycles {int(bt['cycles'])}, trades {int(bt['trades'])}, "
                f"realised P&L {bt['pnl']:.2f}"
            )
            if n == a.snapshots:
                ratio(f"backtest / bare read ({n:,})", br, rr, 0.5)
            else:  # the memory check's history: the reader's start-up weighs 4x more here
                print(
                    f"{f'backtest / bare read ({n:,})':<48} ratio {br / rr:6.3f}  "
                    "(info: the goal is measured on the full history)"
                )
            cpu = bt["cpu"] + bt["reader_cpu"]
            print(
                f"  CPU seconds: bare read {read['cpu']:.2f}; backtest {cpu:.2f} = engine "
                f"{bt['cpu']:.2f} + reader process {bt['reader_cpu']:.2f} "
                f"(CPU ratio {read['cpu'] / cpu:.3f}: work done, not waited for)"
            )
            mb = bt["peak_mb"] + bt["reader_peak_mb"]
            print(
                f"  peak RSS: bare read {read['peak_mb']:.0f} MB; backtest {mb:.0f} MB = engine "
                f"{bt['peak_mb']:.0f} + reader {bt['reader_peak_mb']:.0f} (goal < 300)"
            )
            peaks.append(mb)
        print(
            f"peak memory growth x4 history: {peaks[0]:.0f} MB -> {peaks[1]:.0f} MB "
            f"({peaks[1] / peaks[0]:.2f}x)"
        )


if __name__ == "__main__":
    main()
