"""Every revision goes up and down on both databases; revision 0001 is the spec's schema."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from kalbot.adapters.store import migrate
from kalbot.adapters.store.tables import KALBOT_TABLES, metadata
from kalbot.domain.errors import SchemaError


async def _tables(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:

            def names(c: Connection) -> set[str]:
                return set(inspect(c).get_table_names())

            return await conn.run_sync(names)
    finally:
        await engine.dispose()


async def test_every_revision_goes_up_and_down_one_step_at_a_time(db_url: str) -> None:
    revisions = [r.revision for r in migrate.history()]
    assert revisions[0] == "0001"
    for rev in revisions:
        await migrate.upgrade(db_url, rev)
        assert await migrate.current(db_url) == rev
    for rev in reversed(revisions):
        assert await migrate.current(db_url) == rev
        await migrate.downgrade(db_url, "-1")
    assert await migrate.current(db_url) is None
    assert await _tables(db_url) <= {"alembic_version"}
    # and back up to head in one go, as a fresh install does
    await migrate.upgrade(db_url)
    assert await migrate.current(db_url) == migrate.head()


async def test_revision_0001_creates_the_spec_tables_and_the_archive(db_url: str) -> None:
    await migrate.upgrade(db_url, "0001")
    assert set(KALBOT_TABLES) <= await _tables(db_url)


async def test_tables_module_matches_what_the_migrations_create(db_url: str) -> None:
    await migrate.upgrade(db_url)
    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as conn:

            def describe(c: Connection) -> dict[str, tuple[list[str], set[str]]]:
                insp = inspect(c)
                return {
                    t: (
                        [col["name"] for col in insp.get_columns(t)],
                        {i["name"] for i in insp.get_indexes(t) if i["name"]},
                    )
                    for t in KALBOT_TABLES
                }

            live = await conn.run_sync(describe)
    finally:
        await engine.dispose()
    for name in KALBOT_TABLES:
        table = metadata.tables[name]
        columns, indexes = live[name]
        assert columns == [c.name for c in table.columns], name
        assert {i.name for i in table.indexes} <= indexes | {None}, name


async def test_a_database_with_foreign_tables_is_refused(sqlite_url: str) -> None:
    engine = create_async_engine(sqlite_url)
    async with engine.begin() as conn:
        await conn.exec_driver_sql("CREATE TABLE customers (id INTEGER PRIMARY KEY)")
    await engine.dispose()
    with pytest.raises(SchemaError, match="not a kalbot database"):
        await migrate.upgrade(sqlite_url)
    with pytest.raises(SchemaError, match="not a kalbot database"):
        await migrate.current(sqlite_url)


async def test_an_unknown_revision_is_refused(sqlite_url: str) -> None:
    with pytest.raises(SchemaError):
        await migrate.upgrade(sqlite_url, "9999")
