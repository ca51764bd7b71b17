"""The repository: one implementation over SQLAlchemy Core for SQLite and PostgreSQL.

``Repository`` is the storage mixins of every part on top of ``RepositoryBase``. Parts add
their own mixin module (``ai_repo.py``, ``trading_repo.py``, ...) and list it in the bases.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL

from kalbot.adapters.store.ai_repo import AIRepoMixin
from kalbot.adapters.store.analyses_repo import AnalysesMixin
from kalbot.adapters.store.performance_repo import PerformanceMixin
from kalbot.adapters.store.positions_repo import PositionsMixin
from kalbot.adapters.store.snapshots_repo import SnapshotsMixin
from kalbot.adapters.store.trading_repo import TradingRepoMixin
from kalbot.config import DatabaseSettings, Settings


class Repository(
    TradingRepoMixin,
    AIRepoMixin,
    PositionsMixin,
    AnalysesMixin,
    PerformanceMixin,
    SnapshotsMixin,
):
    """Every storage method of the bot, on whichever database ``url`` names."""


class SQLiteRepository(Repository):
    """The repository on a SQLite file (WAL mode, one writer at a time)."""

    def __init__(self, path: str | Path = "data/kalshi_trading.db", *, busy_timeout_ms: int = 5000):
        url = URL.create("sqlite+aiosqlite", database=str(path))
        super().__init__(url, busy_timeout_ms=busy_timeout_ms)
        self.path = Path(path)


class PostgreSQLRepository(Repository):
    """The repository on PostgreSQL, with a connection pool (the spec's signature)."""

    def __init__(
        self,
        host: str = "localhost",
        port: int = 5432,
        database: str = "kalshi_trading",
        user: str | None = None,
        password: str | None = None,
        pool_size: int = 10,
        max_overflow: int = 20,
    ) -> None:
        url = URL.create(
            "postgresql+asyncpg",
            username=user,
            password=password,
            host=host,
            port=port,
            database=database,
        )
        super().__init__(url, pool_size=pool_size, max_overflow=max_overflow)


def create_repository(settings: Settings | DatabaseSettings) -> Repository:
    """The repository the settings describe (``database.url`` wins over the parts)."""
    db = settings.database if isinstance(settings, Settings) else settings
    if db.url:
        return Repository(db.url, pool_size=db.pool_size, max_overflow=db.max_overflow)
    if db.type == "sqlite":
        return SQLiteRepository(db.sqlite_path)
    return PostgreSQLRepository(
        host=db.postgres_host,
        port=db.postgres_port,
        database=db.postgres_database,
        user=db.postgres_user,
        password=db.postgres_password.get_secret_value() or None,
        pool_size=db.pool_size,
        max_overflow=db.max_overflow,
    )
