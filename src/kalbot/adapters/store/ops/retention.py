"""``kalbot db cleanup`` and ``kalbot db archive``: the spec's Data Retention section, made safe.

Cut-offs are computed from an injected ``now`` and compared with the stored ISO 8601 UTC text
(``kalbot.domain.clock.iso_utc``: fixed width, so text order is time order and the spec's
timestamp index serves the query). The archive moves rows in ONE transaction: every closed
position ends up in exactly one of ``positions`` / ``positions_archive`` whatever happens.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from kalbot.adapters.store.errors import DRIVER_ERRORS, translate
from kalbot.adapters.store.ops.connect import kalbot_schema, open_database
from kalbot.adapters.store.ops.errors import OpsError, Refused
from kalbot.adapters.store.ops.schema import reflect_tables
from kalbot.adapters.store.ops.urls import parse_database_url
from kalbot.domain.clock import iso_utc

_AGE = re.compile(r"^\s*(\d+)\s*([smhdwy])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}

CLOSED_BEFORE = "status = 'closed' AND exit_time IS NOT NULL AND exit_time < :cutoff"
SNAPSHOT_BEFORE = "timestamp < :cutoff"


class BadAge(OpsError):
    """An age like ``90d`` that cannot be parsed."""


def parse_age(value: str) -> timedelta:
    """``90d``, ``12h``, ``2w``, ``1y`` (365 days), ``30m``, ``45s``; positive only."""
    m = _AGE.match(value)
    if not m:
        raise BadAge(f"bad age {value!r}: expected a number and a unit, e.g. 90d, 12h, 2w, 1y")
    amount = int(m.group(1))
    if amount <= 0:
        raise BadAge(f"bad age {value!r}: must be greater than zero, e.g. 90d")
    return timedelta(seconds=amount * _UNITS[m.group(2)])


def cutoff_text(now: datetime, older_than: timedelta) -> str:
    """The stored-format timestamp before which rows count as old (whole seconds)."""
    return iso_utc((now - older_than).replace(microsecond=0))


@dataclass(frozen=True)
class RetentionResult:
    """What a cleanup or archive found and did (``affected`` is 0 on a dry run)."""

    table: str
    cutoff: str
    matched: int
    affected: int
    dry_run: bool


async def _count(conn: AsyncConnection, sql: str, cutoff: str) -> int:
    return int((await conn.execute(text(sql), {"cutoff": cutoff})).scalar_one())


async def cleanup_snapshots(
    url: str,
    older_than: timedelta,
    *,
    now: datetime,
    dry_run: bool = False,
    batch_size: int = 10_000,
    progress: Callable[[int], None] | None = None,
) -> RetentionResult:
    """Delete market snapshots older than ``older_than``, in batches of ``batch_size``.

    Each batch commits on its own so a long cleanup never holds the recorder's write lock for
    long; an interrupted cleanup has simply deleted fewer old rows.
    """
    db = parse_database_url(url)
    cutoff = cutoff_text(now, older_than)
    count_sql = f"SELECT COUNT(*) FROM market_snapshots WHERE {SNAPSHOT_BEFORE}"
    delete_sql = (
        "DELETE FROM market_snapshots WHERE id IN (SELECT id FROM market_snapshots "
        f"WHERE {SNAPSHOT_BEFORE} ORDER BY id LIMIT :n)"
    )
    async with open_database(db) as engine:
        await kalbot_schema(engine, db)
        try:
            async with engine.connect() as conn:
                matched = await _count(conn, count_sql, cutoff)
            deleted = 0
            while not dry_run and deleted < matched:
                async with engine.begin() as conn:
                    result = await conn.execute(
                        text(delete_sql), {"cutoff": cutoff, "n": batch_size}
                    )
                n = result.rowcount
                if n <= 0:
                    break
                deleted += n
                if progress is not None:
                    progress(n)
        except DRIVER_ERRORS as e:
            raise translate(e, "cleaning up snapshots") from e
    return RetentionResult("market_snapshots", cutoff, matched, deleted, dry_run)


async def _no_hook(_inserted: int) -> None:
    return None


async def archive_closed_positions(
    url: str,
    older_than: timedelta,
    *,
    now: datetime,
    dry_run: bool = False,
    after_insert: Callable[[int], Awaitable[None]] = _no_hook,
) -> RetentionResult:
    """Move closed positions whose exit is older than ``older_than`` into positions_archive.

    Insert and delete run in one transaction that first takes the write lock (SQLite
    ``BEGIN IMMEDIATE``) or one snapshot (PostgreSQL REPEATABLE READ, where a row changed by
    someone else meanwhile aborts the move instead of deleting an unarchived row).
    ``after_insert`` runs between the two statements; it exists so tests can inject a crash.
    """
    db = parse_database_url(url)
    cutoff = cutoff_text(now, older_than)
    async with open_database(db) as engine:
        await kalbot_schema(engine, db)
        try:
            async with engine.connect() as conn:
                if db.is_sqlite:
                    conn.info["sqlite_begin"] = "BEGIN IMMEDIATE"
                else:
                    conn = await conn.execution_options(isolation_level="REPEATABLE READ")
                try:
                    async with conn.begin():
                        columns = await _archive_columns(conn)
                        matched = await _count(
                            conn, f"SELECT COUNT(*) FROM positions WHERE {CLOSED_BEFORE}", cutoff
                        )
                        if dry_run or matched == 0:
                            return RetentionResult("positions", cutoff, matched, 0, dry_run)
                        moved = await _move(conn, columns, cutoff, after_insert)
                finally:
                    conn.info.pop("sqlite_begin", None)
        except DRIVER_ERRORS as e:
            raise translate(e, "archiving positions (nothing was moved)") from e
    return RetentionResult("positions", cutoff, matched, moved, dry_run)


async def _archive_columns(conn: AsyncConnection) -> str:
    shapes = {s.name: s for s in await reflect_tables(conn)}
    live, archive = shapes.get("positions"), shapes.get("positions_archive")
    if live is None or archive is None:
        raise Refused("no positions_archive table; run `kalbot db upgrade`")
    if set(live.columns) != set(archive.columns):
        raise Refused(
            "positions and positions_archive have different columns "
            f"({sorted(set(live.columns) ^ set(archive.columns))}); "
            "a revision that changes positions must change the archive too"
        )
    # Named columns: the spec's `SELECT *` would silently misplace values if the orders differ.
    return ", ".join(f'"{c}"' for c in live.columns)


async def _move(
    conn: AsyncConnection,
    columns: str,
    cutoff: str,
    after_insert: Callable[[int], Awaitable[None]],
) -> int:
    inserted = await conn.execute(
        text(
            f"INSERT INTO positions_archive ({columns}) "
            f"SELECT {columns} FROM positions WHERE {CLOSED_BEFORE}"
        ),
        {"cutoff": cutoff},
    )
    await after_insert(inserted.rowcount)
    deleted = await conn.execute(
        text(f"DELETE FROM positions WHERE {CLOSED_BEFORE}"), {"cutoff": cutoff}
    )
    if deleted.rowcount != inserted.rowcount:
        raise OpsError(
            f"archive aborted, nothing moved: inserted {inserted.rowcount} rows "
            f"but would delete {deleted.rowcount}"
        )
    return int(deleted.rowcount)
