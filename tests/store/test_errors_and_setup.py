"""Errors are translated once into the project's types; settings pick the database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from pydantic import SecretStr

from kalbot.adapters.store import migrate
from kalbot.adapters.store.errors import translate
from kalbot.adapters.store.repository import (
    PostgreSQLRepository,
    Repository,
    SQLiteRepository,
    create_repository,
)
from kalbot.adapters.store.urls import BadURL
from kalbot.config import DatabaseSettings
from kalbot.domain.errors import (
    Duplicate,
    InvalidRecord,
    SchemaError,
    StoreError,
    Unavailable,
)


async def test_a_unique_violation_is_duplicate_with_the_cause_chained(repo: Repository) -> None:
    insert = (
        "INSERT INTO performance_logs (date, total_pnl, num_trades, portfolio_value) "
        "VALUES ('2024-11-15', 1.0, 1, 100.0)"
    )
    async with repo.transaction("first") as conn:
        await conn.exec_driver_sql(insert)
    with pytest.raises(Duplicate, match="second") as info:
        async with repo.transaction("second") as conn:
            await conn.exec_driver_sql(insert)
    assert info.value.__cause__ is not None


async def test_a_check_violation_is_invalid_record(repo: Repository) -> None:
    with pytest.raises(InvalidRecord):
        async with repo.transaction("bad side") as conn:
            await conn.exec_driver_sql(
                "INSERT INTO positions (ticker, side, quantity, entry_price, entry_time, status) "
                "VALUES ('KX', 'maybe', 1, 0.5, '2024-01-01T00:00:00Z', 'open')"
            )
    assert await repo.open_positions() == []


async def test_an_unreachable_server_is_unavailable() -> None:
    repo = PostgreSQLRepository(host="127.0.0.1", port=1, database="nothing", user="postgres")
    with pytest.raises(Unavailable):
        await repo.initialize()


async def test_a_missing_postgres_database_is_unavailable(postgres_url: str) -> None:
    with pytest.raises(Unavailable, match="does not exist"):
        await migrate.current(postgres_url.rsplit("/", 1)[0] + "/kalbot_no_such_database")


async def test_a_database_behind_the_code_is_refused_without_upgrade(sqlite_url: str) -> None:
    await migrate.upgrade(sqlite_url, "0001")
    repo = Repository(sqlite_url)
    if migrate.head() != "0001":
        with pytest.raises(SchemaError, match="kalbot db upgrade"):
            await repo.initialize(upgrade=False)
    await repo.initialize()  # upgrading brings it to head
    assert await migrate.current(sqlite_url) == migrate.head()
    await repo.close()
    await repo.close()  # closing twice is harmless


async def test_a_file_that_is_not_sqlite_is_a_schema_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("hello, this is not a database\n" * 100)
    with pytest.raises(SchemaError):
        await migrate.upgrade(f"sqlite:///{path}")


def test_methods_before_initialize_say_so() -> None:
    with pytest.raises(StoreError, match="initialize"):
        _ = Repository("sqlite:///x.db").engine


@pytest.mark.parametrize("url", ["mysql://u@h/db", "not a url", "oracle+cx://x"])
def test_an_unsupported_or_malformed_url_is_refused(url: str) -> None:
    with pytest.raises(BadURL):
        Repository(url)


def test_translate_passes_project_errors_through_and_maps_sqlite_errors() -> None:
    mine = Duplicate("x")
    assert translate(mine) is mine
    assert isinstance(translate(sqlite3.OperationalError("database is locked")), Unavailable)
    assert isinstance(translate(sqlite3.OperationalError("no such table: t")), SchemaError)
    assert isinstance(translate(ConnectionRefusedError(111, "refused")), Unavailable)


def test_constructors_take_the_specs_names_and_pick_the_drivers(tmp_path: Path) -> None:
    lite = SQLiteRepository(tmp_path / "k.db")
    assert lite.is_sqlite and lite.url.drivername == "sqlite+aiosqlite"
    pg = PostgreSQLRepository(
        host="db.example",
        database="kalshi_trading",
        user="bot",
        password="s3cret",
        pool_size=10,
        max_overflow=20,
    )
    assert pg.is_postgresql and pg.url.drivername == "postgresql+asyncpg"
    assert (pg.url.host, pg.url.port, pg.url.database) == ("db.example", 5432, "kalshi_trading")
    assert "s3cret" not in repr(pg)


def test_create_repository_follows_the_settings(tmp_path: Path) -> None:
    lite = create_repository(DatabaseSettings(sqlite_path=str(tmp_path / "a.db")))
    assert isinstance(lite, SQLiteRepository)
    pg = create_repository(
        DatabaseSettings(
            type="postgresql",
            postgres_host="h",
            postgres_database="d",
            postgres_password=SecretStr("pw"),
        )
    )
    assert isinstance(pg, PostgreSQLRepository) and pg.url.password == "pw"
    by_url = create_repository(DatabaseSettings(url="postgresql://u@h:6543/x"))
    assert by_url.is_postgresql and by_url.url.port == 6543
