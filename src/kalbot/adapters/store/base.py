"""The repository base every storage mixin extends.

It owns the AsyncEngine, its lifecycle (``initialize`` / ``close`` / ``async with``), the
dialect flag, SQLite's pragmas, and the transaction helpers through which every query runs so
that database errors are translated once (``kalbot.adapters.store.errors.translate``).

A mixin is a plain class whose methods use ``self.transaction(...)`` / ``self.connection(...)``
and ``self.dialect``; see /work/notes/store_api.md and docs/storage.md.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, Self

from sqlalchemy import event
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from kalbot.adapters.store.errors import DRIVER_ERRORS, translate
from kalbot.adapters.store.urls import async_url, dialect_of, redacted
from kalbot.domain.errors import SchemaError, StoreError


def _sqlite_pragmas(busy_timeout_ms: int) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            # WAL: readers never block the one writer; NORMAL is durable across app crashes
            # in WAL mode (only an OS crash can lose the last transactions).
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        finally:
            cursor.close()

    return on_connect


class RepositoryBase:
    """Engine, lifecycle and error translation shared by every repository mixin."""

    def __init__(
        self,
        url: str | URL,
        *,
        pool_size: int = 10,
        max_overflow: int = 20,
        busy_timeout_ms: int = 5000,
        echo: bool = False,
    ) -> None:
        self.url: URL = async_url(url)
        self.dialect: str = dialect_of(self.url)
        """``"sqlite"`` or ``"postgresql"``."""
        self._pool_size = pool_size
        self._max_overflow = max_overflow
        self._busy_timeout_ms = busy_timeout_ms
        self._echo = echo
        self._engine: AsyncEngine | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({redacted(self.url)!r})"

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def is_postgresql(self) -> bool:
        return self.dialect == "postgresql"

    @property
    def engine(self) -> AsyncEngine:
        """The AsyncEngine; only after ``initialize()``."""
        if self._engine is None:
            raise StoreError(f"{type(self).__name__} is not initialized; call initialize() first")
        return self._engine

    def _build_engine(self) -> AsyncEngine:
        if self.is_sqlite:
            engine = create_async_engine(
                self.url,
                echo=self._echo,
                connect_args={"timeout": self._busy_timeout_ms / 1000},
            )
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas(self._busy_timeout_ms))
            return engine
        return create_async_engine(
            self.url,
            echo=self._echo,
            pool_size=self._pool_size,
            max_overflow=self._max_overflow,
            pool_pre_ping=True,
        )

    async def initialize(self, *, upgrade: bool = True) -> None:
        """Open the engine and make sure the schema is current.

        ``upgrade=True`` (default) runs the Alembic migrations up to head, creating a new
        database; ``upgrade=False`` only checks that the database is already at head and
        raises SchemaError otherwise (for processes that must not change the schema).
        Raises Unavailable when the database cannot be reached.
        """
        if self._engine is not None:
            return
        from kalbot.adapters.store import migrate  # Alembic: only for processes that check

        if upgrade:
            await migrate.upgrade(self.url)
        else:
            found = await migrate.current(self.url)
            want = migrate.head()
            if found != want:
                raise SchemaError(
                    f"database schema is at {found or 'nothing'}, this code needs {want}: "
                    "run `kalbot db upgrade`"
                )
        self._engine = self._build_engine()
        async with self.connection("connecting") as conn:
            await conn.exec_driver_sql("SELECT 1")

    async def close(self) -> None:
        """Dispose of the engine and its pooled connections (safe to call twice)."""
        if self._engine is not None:
            engine, self._engine = self._engine, None
            await engine.dispose()

    async def __aenter__(self) -> Self:
        await self.initialize()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @asynccontextmanager
    async def transaction(self, doing: str) -> AsyncIterator[AsyncConnection]:
        """One transaction, committed on success and rolled back on error.

        ``doing`` names the operation in error messages ("closing position 7").
        """
        try:
            async with self.engine.begin() as conn:
                yield conn
        except DRIVER_ERRORS as e:
            raise translate(e, doing) from e

    @asynccontextmanager
    async def connection(self, doing: str) -> AsyncIterator[AsyncConnection]:
        """A connection for reads (rolled back at the end; nothing is written)."""
        try:
            async with self.engine.connect() as conn:
                yield conn
        except DRIVER_ERRORS as e:
            raise translate(e, doing) from e
