"""Where SQLite and PostgreSQL differ: upsert, bulk insert (COPY), streamed reads.

Everything else in the repository is dialect-neutral SQLAlchemy Core.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert


def upsert(
    dialect: str,
    table: Table,
    values: Mapping[str, Any],
    conflict: Sequence[str],
    update: Callable[[Any], Mapping[str, Any]],
) -> Insert:
    """``INSERT ... ON CONFLICT (conflict) DO UPDATE SET update(excluded)`` for ``dialect``.

    ``update`` receives the dialect's ``excluded`` namespace (the row that failed to insert) and
    returns the SET clause, e.g. ``lambda ex: {"n": table.c.n + ex.n}``.
    """
    if dialect == "postgresql":
        pg = postgresql.insert(table).values(**values)
        return pg.on_conflict_do_update(index_elements=list(conflict), set_=update(pg.excluded))
    lite = sqlite.insert(table).values(**values)
    return lite.on_conflict_do_update(index_elements=list(conflict), set_=update(lite.excluded))


async def _driver(conn: AsyncConnection) -> Any:
    raw = await conn.get_raw_connection()
    return raw.driver_connection


async def bulk_insert(
    conn: AsyncConnection,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
) -> int:
    """Insert ``rows`` (tuples in ``columns`` order) by the fastest path the database has.

    SQLite: one ``executemany`` on the driver inside the caller's transaction. PostgreSQL:
    ``COPY ... FROM STDIN`` (asyncpg ``copy_records_to_table``), a single atomic statement.
    ``table`` and ``columns`` are identifiers from our own tables module, never user input.
    """
    if not rows:
        return 0
    driver = await _driver(conn)
    if conn.dialect.name == "postgresql":
        await driver.copy_records_to_table(table, records=rows, columns=list(columns))
    else:
        marks = ", ".join("?" for _ in columns)
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
        await driver.executemany(sql, rows)
    return len(rows)


def placeholders(count: int, start: int = 1) -> list[str]:
    """Named parameter markers (``:p1``, ``:p2``, ...) that both read paths understand."""
    return [f":p{i}" for i in range(start, start + count)]


async def _prefetched(
    fetch: Callable[[], Awaitable[Sequence[Sequence[Any]]]],
) -> AsyncIterator[Sequence[Sequence[Any]]]:
    # The next chunk is requested before this one is handed out, so the database (or
    # aiosqlite's thread) produces it while the caller converts the current one. Only one
    # request is ever in flight on the connection.
    pending = asyncio.ensure_future(fetch())
    try:
        while True:
            rows = await pending
            if not rows:
                return
            pending = asyncio.ensure_future(fetch())
            yield rows
    finally:
        if not pending.done():
            # Let the in-flight fetch finish before the cursor and transaction are closed.
            with contextlib.suppress(Exception):
                await pending


async def stream_rows(
    conn: AsyncConnection, sql: str, params: Mapping[str, Any], chunk: int = 5000
) -> AsyncIterator[Sequence[Sequence[Any]]]:
    """Yield chunks of rows of a query without loading the whole result.

    PostgreSQL: an asyncpg server-side cursor in a read-only transaction. SQLite: the
    driver's own cursor, ``chunk`` rows per fetch. At most two chunks are in memory.
    Markers come from :func:`placeholders`.
    """
    driver = await _driver(conn)
    if conn.dialect.name == "postgresql":
        # A server-side cursor needs a transaction: let SQLAlchemy open it (this statement is
        # the first of the transaction), so its rollback ends the cursor when the caller stops
        # early. Then read through asyncpg's cursor: SQLAlchemy's row layer costs more than
        # the fetch itself.
        await conn.exec_driver_sql("SET TRANSACTION READ ONLY")
        names = list(params)
        positional = re.sub(r":(p\d+)\b", lambda m: f"${names.index(m.group(1)) + 1}", sql)
        pg_cursor = await driver.cursor(positional, *params.values())
        async for records in _prefetched(lambda: pg_cursor.fetch(chunk)):
            yield records
        return
    cursor = await driver.execute(sql, dict(params))
    try:
        async for rows in _prefetched(lambda: cursor.fetchmany(chunk)):
            yield rows
    finally:
        await cursor.close()
