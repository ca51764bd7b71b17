"""Fixtures for the store tests.

``db_url`` (from the root conftest): a fresh, empty database per test on each dialect.
``repo``: an initialised repository on each dialect. To keep the suite fast on a shared
machine, the upgraded database is made once per session and emptied before each test
(PostgreSQL: TRUNCATE ... RESTART IDENTITY; SQLite: a copy of an upgraded template file).
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest

from conftest import drop_postgres_database, make_postgres_database
from kalbot.adapters.store import migrate
from kalbot.adapters.store.repository import Repository

T = TypeVar("T")


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from a fixture that may be set up inside a running loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


@pytest.fixture(scope="session")
def shared_postgres_url() -> Iterator[str]:
    """One upgraded PostgreSQL database for the whole session (emptied per test by ``repo``)."""
    url = make_postgres_database("kalbot_test_store")
    try:
        _run(migrate.upgrade(url))
        yield url
    finally:
        drop_postgres_database(url)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An upgraded SQLite file that tests copy instead of migrating their own."""
    path = tmp_path_factory.mktemp("store-template") / "template.db"
    _run(migrate.upgrade(f"sqlite:///{path}"))
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
async def repo(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Repository]:
    """An initialised repository on an upgraded, empty database of each dialect."""
    if request.param == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "kalbot.db"
        shutil.copyfile(template, path)
        repository = Repository(f"sqlite+aiosqlite:///{path}")
        await repository.initialize()
    else:
        repository = Repository(request.getfixturevalue("shared_postgres_url"))
        await repository.initialize()
        async with repository.transaction("emptying the test database") as conn:
            tables = (
                await conn.exec_driver_sql(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename <> 'alembic_version'"
                )
            ).scalars()
            names = ", ".join(f'"{t}"' for t in tables)
            await conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    try:
        yield repository
    finally:
        await repository.close()
