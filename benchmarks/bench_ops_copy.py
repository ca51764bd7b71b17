"""`kalbot db copy` speed: the verified copy against a raw, unverified transfer, both ways.

    .venv/bin/python benchmarks/bench_ops_copy.py [--rows 100000] [--batch-size 5000]

Fills a SQLite kalbot database with N ``market_snapshots`` rows (realistic values), then in the
same run:
- SQLite -> PostgreSQL with ``copy_database`` (converts every value, checksums the source,
  COPYs in one transaction, sets sequences, reads the target back and checksums it), and the
  raw baseline: ``sqlite3`` fetch + asyncpg ``copy_records_to_table`` in one transaction, no
  verification, into a database upgraded beforehand (its upgrade is not timed; ours is);
- PostgreSQL -> SQLite, the same pair the other way (raw: asyncpg cursor + sqlite3
  executemany).
Prints rows/s for each and the copy/raw ratio. Verification reads every row a second time, so
the copy cannot match an unverified transfer; goal: ratio >= 0.33.
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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from _common import ratio, report

from kalbot.adapters.store import migrate
from kalbot.adapters.store.ops.copy import copy_database
from kalbot.domain.clock import iso_utc

ADMIN = os.environ.get("KALBOT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
COLUMNS = [
    "id", "timestamp", "ticker", "title", "last_price", "yes_bid", "yes_ask", "no_bid", "no_ask",
    "volume_24h", "open_interest", "close_time", "category", "metadata", "created_at",
]  # fmt: skip
GOAL = 0.33


def _rows(n: int) -> list[tuple[Any, ...]]:
    rng = random.Random(7)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    out = []
    for i in range(n):
        ts = start + timedelta(minutes=i // 1000)
        bid = rng.randint(1, 98) / 100
        out.append(
            (
                i + 1, iso_utc(ts), f"KX-{i % 1000:04d}", f"Market {i % 1000}",
                round(bid + 0.005, 4), bid, round(bid + 0.01, 2), round(0.99 - bid, 2),
                round(1 - bid, 2), rng.randint(0, 50_000), rng.randint(0, 9_000),
                iso_utc(ts + timedelta(days=30)), "weather",
                json.dumps({"event": f"EV-{i % 50}"}), ts.strftime("%Y-%m-%d %H:%M:%S"),
            )
        )  # fmt: skip
    return out


async def _admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(ADMIN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _pg_url(name: str) -> str:
    return ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + "/" + name


def _raw_sqlite_to_pg(sqlite_path: Path, pg_name: str) -> int:
    import asyncpg

    async def run() -> int:
        src = sqlite3.connect(sqlite_path)
        rows = src.execute(f"SELECT {', '.join(COLUMNS)} FROM market_snapshots ORDER BY id")
        records = []
        for r in rows:  # created_at is TIMESTAMP on PostgreSQL: the one conversion needed
            created = datetime.fromisoformat(r[14]) if r[14] is not None else None
            records.append((*r[:14], created))
        src.close()
        conn = await asyncpg.connect(ADMIN.rsplit("/", 1)[0] + "/" + pg_name)
        try:
            async with conn.transaction():
                await conn.copy_records_to_table(
                    "market_snapshots", records=records, columns=COLUMNS
                )
        finally:
            await conn.close()
        return len(records)

    return asyncio.run(run())


def _raw_pg_to_sqlite(pg_name: str, sqlite_path: Path) -> int:
    import asyncpg

    async def run() -> list[tuple[Any, ...]]:
        conn = await asyncpg.connect(ADMIN.rsplit("/", 1)[0] + "/" + pg_name)
        try:
            async with conn.transaction():
                out = []
                sql = f"SELECT {', '.join(COLUMNS)} FROM market_snapshots ORDER BY id"
                async for r in conn.cursor(sql, prefetch=5000):
                    out.append((*tuple(r)[:14], iso_utc(r[14].replace(tzinfo=UTC))))
                return out
        finally:
            await conn.close()

    rows = asyncio.run(run())
    dst = sqlite3.connect(sqlite_path)
    with dst:
        marks = ", ".join("?" * len(COLUMNS))
        dst.executemany(
            f"INSERT INTO market_snapshots ({', '.join(COLUMNS)}) VALUES ({marks})", rows
        )
    dst.close()
    return len(rows)


def _timed(fn: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    args = parser.parse_args()
    names = [f"kalbot_bench_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = folder / "source.db"
        asyncio.run(migrate.upgrade(f"sqlite:///{source}"))
        conn = sqlite3.connect(source)
        with conn:
            marks = ", ".join("?" * len(COLUMNS))
            conn.executemany(
                f"INSERT INTO market_snapshots ({', '.join(COLUMNS)}) VALUES ({marks})",
                _rows(args.rows),
            )
        conn.close()
        for name in names:
            asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
        try:
            ours_db, raw_db = names
            asyncio.run(migrate.upgrade(_pg_url(raw_db)))
            print(f"kalbot db copy vs raw transfer, {args.rows:,} market_snapshots rows")
            report_, secs = _timed(
                lambda: asyncio.run(
                    copy_database(
                        f"sqlite:///{source}", _pg_url(ours_db), batch_size=args.batch_size
                    )
                )
            )
            ours = report("copy SQLite -> PostgreSQL (verified)", report_.total_rows, secs)
            n, secs = _timed(lambda: _raw_sqlite_to_pg(source, raw_db))
            raw = report("raw sqlite3 -> asyncpg COPY (unverified)", n, secs)
            ok &= ratio("SQLite -> PostgreSQL copy/raw", ours, raw, GOAL)

            back, raw_back = folder / "back.db", folder / "raw_back.db"
            asyncio.run(migrate.upgrade(f"sqlite:///{raw_back}"))
            report_, secs = _timed(
                lambda: asyncio.run(
                    copy_database(_pg_url(ours_db), f"sqlite:///{back}", batch_size=args.batch_size)
                )
            )
            ours = report("copy PostgreSQL -> SQLite (verified)", report_.total_rows, secs)
            n, secs = _timed(lambda: _raw_pg_to_sqlite(raw_db, raw_back))
            raw = report("raw asyncpg cursor -> sqlite3 (unverified)", n, secs)
            ok &= ratio("PostgreSQL -> SQLite copy/raw", ours, raw, GOAL)
        finally:
            for name in names:
                asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
