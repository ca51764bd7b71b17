"""Open a database for an operation and find out what is in it.

Connection failures, missing files and foreign databases are turned into the one-line errors of
``errors.py`` here, once, so the operations above never see a driver exception on connect.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from kalbot.adapters.store.ops.errors import MissingFile, NotKalbotDatabase, Unreachable, one_line
from kalbot.adapters.store.ops.urls import DatabaseUrl
from kalbot.adapters.store.tables import SPEC_TABLES

# asyncpg raises some connect failures (no such database, bad password) unwrapped.
_ASYNCPG_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError)

CONNECT_TIMEOUT_SECONDS = 5
SQLITE_BUSY_TIMEOUT_SECONDS = 30
ALEMBIC_TABLE = "alembic_version"


@dataclass(frozen=True)
class SchemaInfo:
    """The tables a database holds and the Alembic revision(s) it is at."""

    tables: frozenset[str]
    revisions: tuple[str, ...] = field(default=())

    @property
    def is_empty(self) -> bool:
        return not self.tables

    @property
    def revision(self) -> str | None:
        return self.revisions[0] if len(self.revisions) == 1 else None

    @property
    def data_tables(self) -> list[str]:
        """Every table except Alembic's bookkeeping, sorted."""
        return sorted(self.tables - {ALEMBIC_TABLE})


def make_engine(db: DatabaseUrl) -> AsyncEngine:
    """An engine for a short operation: no pool, explicit transactions on SQLite too."""
    if db.is_sqlite:
        engine = create_async_engine(
            db.url, poolclass=NullPool, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}
        )
        _explicit_sqlite_transactions(engine)
        return engine
    return create_async_engine(
        db.url, poolclass=NullPool, connect_args={"timeout": CONNECT_TIMEOUT_SECONDS}
    )


def _explicit_sqlite_transactions(engine: AsyncEngine) -> None:
    # pysqlite only emits BEGIN before DML, so a read would not be one snapshot and a move
    # could not take the write lock up front. Take transaction control back (SQLAlchemy's
    # documented recipe); a connection's ``info["sqlite_begin"]`` picks the BEGIN flavour.
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql(conn.info.get("sqlite_begin", "BEGIN"))


@asynccontextmanager
async def open_database(db: DatabaseUrl, *, create: bool = False) -> AsyncIterator[AsyncEngine]:
    """An engine that has been proven to connect; a SQLite file must exist unless ``create``."""
    if db.is_sqlite:
        path = db.sqlite_path
        if not path.exists():
            if not create:
                raise MissingFile(f"no SQLite database at {path}")
            path.parent.mkdir(parents=True, exist_ok=True)
        elif not path.is_file():
            raise MissingFile(f"{path} is not a file")
    engine = make_engine(db)
    try:
        try:
            async with engine.connect() as conn:
                await conn.execute(
                    text("SELECT 1" if not db.is_sqlite else "PRAGMA schema_version")
                )
        except (OSError, TimeoutError, SQLAlchemyError, *_ASYNCPG_ERRORS) as e:
            if db.is_sqlite:
                raise NotKalbotDatabase(
                    f"{db.sqlite_path} is not a SQLite database ({one_line(e)})"
                ) from e
            raise Unreachable(f"cannot connect to {db.display}: {one_line(e)}") from e
        yield engine
    finally:
        await engine.dispose()


async def schema_info(conn: AsyncConnection) -> SchemaInfo:
    """The tables in the default schema and the Alembic revisions recorded there."""
    tables = frozenset(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    revisions: tuple[str, ...] = ()
    if ALEMBIC_TABLE in tables:
        rows = await conn.execute(text(f"SELECT version_num FROM {ALEMBIC_TABLE}"))
        revisions = tuple(sorted(str(r[0]) for r in rows))
    return SchemaInfo(tables, revisions)


def require_kalbot(info: SchemaInfo, where: str) -> None:
    """Raise NotKalbotDatabase unless ``info`` describes a kalbot database."""
    if ALEMBIC_TABLE not in info.tables or not info.revisions:
        hint = "it is empty" if info.is_empty else "it has no alembic_version"
        raise NotKalbotDatabase(
            f"{where} is not a kalbot database ({hint}); create one with `kalbot db upgrade`"
        )
    missing = [t for t in SPEC_TABLES if t not in info.tables]
    if missing:
        raise NotKalbotDatabase(
            f"{where} is not a kalbot database: missing table(s) {', '.join(missing)}"
        )


async def kalbot_schema(engine: AsyncEngine, db: DatabaseUrl) -> SchemaInfo:
    """Connect, read the schema, and insist it is kalbot's."""
    try:
        async with engine.connect() as conn:
            info = await schema_info(conn)
    except SQLAlchemyError as e:
        raise Unreachable(f"cannot read {db.display}: {one_line(e)}") from e
    require_kalbot(info, db.display)
    return info
