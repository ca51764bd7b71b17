"""Snapshot storage speed: the repository against the raw driver, both ways, both databases.

    .venv/bin/python benchmarks/bench_store.py [--rows 200000] [--skip-postgres]

Writes N ``market_snapshots`` rows (the spec's columns, realistic values: 1,000 markets
recorded every minute, prices in 4-decimal dollars, a small metadata JSON) and reads them back
in ``(timestamp, ticker)`` order, once through ``kalbot.adapters.store.Repository`` and once
through the raw driver (``sqlite3`` executemany in one transaction / asyncpg
``copy_records_to_table``; reads with a plain cursor), into separate fresh databases, in the
same run. Both paths start from and end with the same domain ``Snapshot`` objects, so the raw
path includes the minimal conversion any caller needs (ISO timestamp and JSON text out;
datetime and dict in). Each measurement is the best of --repeat runs, raw and repository
alternating. Goal: every repository/raw ratio >= 0.8. For information it also prints the driver
alone (tuples built before the clock starts, rows fetched and dropped): the gap to that is the
cost of the domain objects themselves.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from _common import ratio, report

from kalbot.adapters.store import migrate
from kalbot.adapters.store.repository import Repository
from kalbot.domain.clock import iso_utc
from kalbot.domain.snapshot import Snapshot

GOAL = 0.8
COLUMNS = (
    "timestamp, ticker, title, last_price, yes_bid, yes_ask, no_bid, no_ask, "
    "volume_24h, open_interest, close_time, category, metadata"
)
T0 = datetime(2026, 1, 5, 14, 0, tzinfo=UTC)
CATEGORIES = ("Crypto", "Economics", "Politics", "Weather", "Sports")
ADMIN_URL = os.environ.get(
    "KALBOT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def make_snapshots(n: int, markets: int = 1000) -> list[Snapshot]:
    rng = random.Random(7)
    out: list[Snapshot] = []
    mids = [rng.randint(5, 95) for _ in range(markets)]
    for i in range(n):
        minute, m = divmod(i, markets)
        mids[m] = min(98, max(2, mids[m] + rng.choice((-1, 0, 0, 1))))
        bid = mids[m] / 100
        ask = (mids[m] + rng.choice((1, 2))) / 100
        event = f"KXEVT{m // 10:03d}"
        out.append(
            Snapshot(
                timestamp=T0 + timedelta(minutes=minute),
                ticker=f"{event}-T{m % 10}",
                title=f"Will event {m // 10} clear threshold {m % 10}?",
                last_price=round((bid + ask) / 2, 4),
                yes_bid=bid,
                yes_ask=ask,
                no_bid=round(1 - ask, 4),
                no_ask=round(1 - bid, 4),
                volume_24h=rng.randint(0, 50_000),
                open_interest=rng.randint(0, 20_000),
                close_time="2026-03-01T00:00:00Z",
                category=CATEGORIES[m % len(CATEGORIES)],
                metadata={"event_ticker": event, "series": f"KXSER{m // 100}", "strike": m % 10},
            )
        )
    return out


def to_tuple(s: Snapshot) -> tuple[object, ...]:
    return (
        iso_utc(s.timestamp),
        s.ticker,
        s.title,
        s.last_price,
        s.yes_bid,
        s.yes_ask,
        s.no_bid,
        s.no_ask,
        s.volume_24h,
        s.open_interest,
        s.close_time,
        s.category,
        json.dumps(s.metadata) if s.metadata else None,
    )


def from_tuple(row: Any) -> Snapshot:
    return Snapshot(
        datetime.fromisoformat(row[0]),
        row[1],
        row[2],
        row[3],
        row[4],
        row[5],
        row[6],
        row[7],
        row[8],
        row[9],
        row[10],
        row[11],
        json.loads(row[12]) if row[12] else {},
    )


Step = Callable[[], Awaitable[int]]
RawStep = Callable[[bool], Awaitable[int]]
Reset = Callable[[], Awaitable[None]]


async def interleaved(
    repeat: int, raw: Step, raw_reset: Reset, repo: Step, repo_reset: Reset
) -> tuple[tuple[int, float], tuple[int, float]]:
    """Best time of each path, alternating raw and repository runs so that load from other
    processes on a shared machine falls on both alike."""
    results: list[list[tuple[int, float]]] = [[], []]
    for _ in range(repeat):
        for i, (reset, step) in enumerate(((raw_reset, raw), (repo_reset, repo))):
            await reset()
            start = time.perf_counter()
            count = await step()
            results[i].append((count, time.perf_counter() - start))
    raw_best, repo_best = (min(r, key=lambda x: x[1]) for r in results)
    return raw_best, repo_best


async def bench_sqlite(snaps: list[Snapshot], repeat: int, folder: Path) -> list[bool]:
    raw_path, repo_path = folder / "raw.db", folder / "repo.db"
    await migrate.upgrade(f"sqlite:///{raw_path}")
    await migrate.upgrade(f"sqlite:///{repo_path}")
    raw = sqlite3.connect(raw_path, isolation_level=None)
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute("PRAGMA synchronous=NORMAL")
    repo = Repository(f"sqlite:///{repo_path}")
    await repo.initialize()
    end = T0 + timedelta(days=3650)
    insert = f"INSERT INTO market_snapshots ({COLUMNS}) VALUES ({', '.join('?' * 13)})"

    async def raw_reset() -> None:
        raw.execute("DELETE FROM market_snapshots")

    prebuilt = [to_tuple(s) for s in snaps]

    async def raw_write(convert: bool = True) -> int:
        raw.execute("BEGIN")
        raw.executemany(insert, [to_tuple(s) for s in snaps] if convert else prebuilt)
        raw.execute("COMMIT")
        return len(snaps)

    async def raw_read(convert: bool = True) -> int:
        cur = raw.execute(
            f"SELECT {COLUMNS} FROM market_snapshots WHERE timestamp >= ? AND timestamp < ? "
            "ORDER BY timestamp, ticker",
            (iso_utc(T0), iso_utc(end)),
        )
        n = 0
        while rows := cur.fetchmany(5000):
            if not convert:
                n += len(rows)
                continue
            for r in rows:
                from_tuple(r)
                n += 1
        return n

    try:
        oks = await _compare(
            "SQLite", repeat, raw_write, raw_reset, raw_read, repo, snaps, end, "DELETE FROM"
        )
    finally:
        raw.close()
        await repo.close()
    return oks


async def nothing() -> None:
    return None


async def _compare(
    name: str,
    repeat: int,
    raw_write: RawStep,
    raw_reset: Reset,
    raw_read: RawStep,
    repo: Repository,
    snaps: list[Snapshot],
    end: datetime,
    empty: str,
) -> list[bool]:
    """The raw driver's steps against the repository's, which are the same on both databases
    (``empty`` is the statement that clears the table: ``DELETE FROM`` or ``TRUNCATE``)."""

    async def repo_reset() -> None:
        async with repo.transaction("reset") as conn:
            await conn.exec_driver_sql(f"{empty} market_snapshots")

    async def repo_write() -> int:
        return await repo.add_snapshots(snaps)

    async def repo_read() -> int:
        n = 0
        async for _s in repo.stream_snapshots(T0, end):
            n += 1
        return n

    (n_raw, t_raw), (n_repo, t_repo) = await interleaved(
        repeat, lambda: raw_write(True), raw_reset, repo_write, repo_reset
    )
    raw_w = report(f"{name} write, raw driver", n_raw, t_raw)
    repo_w = report(f"{name} write, repository", n_repo, t_repo)
    (n_raw, t_raw), (n_repo, t_repo) = await interleaved(
        repeat, lambda: raw_read(True), nothing, repo_read, nothing
    )
    raw_r = report(f"{name} ordered read, raw driver", n_raw, t_raw)
    repo_r = report(f"{name} ordered read, repository", n_repo, t_repo)
    if n_raw != n_repo:
        print(f"{name}: row counts differ: raw {n_raw}, repository {n_repo}")
        return [False]
    oks = [
        ratio(f"{name} write repository/raw", repo_w, raw_w, GOAL),
        ratio(f"{name} read repository/raw", repo_r, raw_r, GOAL),
    ]
    # For information, not the goal: the driver alone, with no Snapshot conversion at all
    # (tuples built before the clock starts; rows fetched and dropped).
    (n, t), _ = await interleaved(
        repeat, lambda: raw_write(False), raw_reset, nothing_step, nothing
    )
    bare_w = report(f"{name} write, driver alone (info)", n, t)
    (n, t), _ = await interleaved(repeat, lambda: raw_read(False), nothing, nothing_step, nothing)
    bare_r = report(f"{name} ordered read, driver alone (info)", n, t)
    print(f"{name} write repository/driver-alone (info)        ratio {repo_w / bare_w:6.3f}")
    print(f"{name} read repository/driver-alone (info)         ratio {repo_r / bare_r:6.3f}")
    return oks


async def nothing_step() -> int:
    return 0


async def bench_postgres(snaps: list[Snapshot], repeat: int) -> list[bool]:
    import asyncpg

    names = [f"kalbot_bench_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    admin = await asyncpg.connect(ADMIN_URL, timeout=5)
    for db in names:
        await admin.execute(f'CREATE DATABASE "{db}"')
    base = ADMIN_URL.rsplit("/", 1)[0]
    raw_url, repo_url = (f"{base}/{db}" for db in names)
    raw = repo = None
    try:
        await migrate.upgrade(raw_url)
        await migrate.upgrade(repo_url)
        raw = await asyncpg.connect(raw_url)
        repo = Repository(repo_url)
        await repo.initialize()
        end = T0 + timedelta(days=3650)
        cols = [c.strip() for c in COLUMNS.split(",")]

        async def raw_reset() -> None:
            await raw.execute("TRUNCATE market_snapshots")

        prebuilt = [to_tuple(s) for s in snaps]

        async def raw_write(convert: bool = True) -> int:
            records = [to_tuple(s) for s in snaps] if convert else prebuilt
            await raw.copy_records_to_table("market_snapshots", records=records, columns=cols)
            return len(snaps)

        async def raw_read(convert: bool = True) -> int:
            n = 0
            async with raw.transaction():
                cursor = await raw.cursor(
                    f"SELECT {COLUMNS} FROM market_snapshots WHERE timestamp >= $1 AND "
                    "timestamp < $2 ORDER BY timestamp, ticker",
                    iso_utc(T0),
                    iso_utc(end),
                )
                while rows := await cursor.fetch(5000):
                    if not convert:
                        n += len(rows)
                        continue
                    for r in rows:
                        from_tuple(r)
                        n += 1
            return n

        return await _compare(
            "PostgreSQL", repeat, raw_write, raw_reset, raw_read, repo, snaps, end, "TRUNCATE"
        )
    finally:
        if raw is not None:
            await raw.close()
        if repo is not None:
            await repo.close()
        for db in names:
            await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await admin.close()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    snaps = make_snapshots(args.rows)
    print(f"market_snapshots: {args.rows:,} rows, best of {args.repeat}; goal ratio >= {GOAL}")
    oks: list[bool] = []
    with tempfile.TemporaryDirectory() as folder:
        oks += await bench_sqlite(snaps, args.repeat, Path(folder))
    if not args.skip_postgres:
        oks += await bench_postgres(snaps, args.repeat)
    print("all ratios meet the goal" if all(oks) else "SOME RATIOS ARE BELOW THE GOAL")
    return 0 if all(oks) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
