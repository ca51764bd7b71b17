"""The dashboard's own database access: a read-only engine and a catalogue of what exists.

The dashboard never writes. Besides offering only GET routes, it connects read-only at the
database level (SQLite ``query_only``, PostgreSQL ``default_transaction_read_only``), so even a
bug in a query cannot change the trader's data.

The spec's tables come from the store adapter's ``tables`` module; the trading engine's own
tables (orders, fills, cycles, refusals, ...) are reflected when they exist, because the
dashboard must work on a database that has only the spec's tables, or none at all yet.
"""

from __future__ import annotations

import os
import sqlite3
import time
from decimal import Decimal
from typing import Any

from sqlalchemy import MetaData, Table, event, inspect
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from kalbot.adapters.store import tables as spec_tables


class DatabaseUnavailable(Exception):
    """The database cannot be reached or read; the message says why (never the password)."""


def create_read_engine(url: str) -> AsyncEngine:
    """An async engine whose every connection refuses writes."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 5})
        path = make_url(url).database or ""

        @event.listens_for(engine.sync_engine, "do_connect")
        def _must_exist(*_args: Any) -> None:
            # SQLite would quietly create an empty file; a dashboard pointed at the wrong path
            # must say so instead of showing an empty bot.
            if (
                path
                and path != ":memory:"
                and not path.startswith("file:")
                and not os.path.exists(path)
            ):
                raise sqlite3.OperationalError(f"no database file at {path}")

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_read_only(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            # The trader writes in WAL mode; a reader waits briefly instead of failing.
            cur.execute("PRAGMA busy_timeout = 5000")
            cur.execute("PRAGMA query_only = ON")
            cur.close()

        return engine
    if url.startswith("postgresql"):
        return create_async_engine(
            url,
            pool_size=2,
            max_overflow=4,
            pool_pre_ping=True,
            connect_args={
                "timeout": 5,
                "server_settings": {
                    "default_transaction_read_only": "on",
                    "application_name": "kalbot-web",
                },
            },
        )
    raise ValueError(f"unsupported database URL scheme: {url.split(':', 1)[0]!r}")


class Catalog:
    """Which tables exist right now, as SQLAlchemy ``Table`` objects.

    Re-checked every ``ttl`` seconds so a table created after the dashboard started (the engine
    migrating its revision) shows up without a restart.
    """

    def __init__(self, ttl: float = 15.0) -> None:
        self._ttl = ttl
        self._checked_at = float("-inf")
        self._names: frozenset[str] = frozenset()
        self._reflected = MetaData()

    async def refresh(self, conn: AsyncConnection, force: bool = False) -> None:
        if not force and time.monotonic() - self._checked_at < self._ttl:
            return
        names: list[str] = await conn.run_sync(lambda c: inspect(c).get_table_names())
        self._names = frozenset(names)
        wanted = [n for n in names if n not in spec_tables.metadata.tables]
        missing = [n for n in wanted if n not in self._reflected.tables]
        if missing:

            def _reflect(sync_conn: Connection) -> None:
                self._reflected.reflect(sync_conn, only=missing)

            await conn.run_sync(_reflect)
        self._checked_at = time.monotonic()

    def has(self, name: str) -> bool:
        return name in self._names

    def table(self, name: str) -> Table | None:
        """The table if it exists in the database now, else None."""
        if name not in self._names:
            return None
        spec = spec_tables.metadata.tables.get(name)
        if spec is not None:
            return spec
        return self._reflected.tables.get(name)

    def columns(self, name: str) -> frozenset[str]:
        t = self.table(name)
        return frozenset(c.name for c in t.columns) if t is not None else frozenset()


def dec(value: object) -> Decimal | None:
    """A stored number as an exact Decimal; REAL columns arrive as floats.

    ``repr`` of a float is the shortest string that reads back as the same float, so a price
    stored as 0.65 becomes Decimal('0.65'), never 0.6500000000000000222.
    """
    if value is None:
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(str(value))


def dec0(value: object) -> Decimal:
    """Like :func:`dec` for aggregates, where an empty set sums to zero (not to 'missing')."""
    d = dec(value)
    return Decimal(0) if d is None else d
