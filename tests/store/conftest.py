"""Fixtures for the store tests.

``db_url``: a fresh, empty database per test on each dialect (for migration tests).
``repo``: an initialised repository on each dialect. To keep the suite fast on a shared
machine, the upgraded database is made once per session and emptied before each test
(PostgreSQL: TRUNCATE ... RESTART IDENTITY; SQLite: a copy of an upgraded template file).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest

from kalbot.adapters.store import migrate
from kalbot.adapters.store.repository import Repository

T = TypeVar("T")

ADMIN_URL = os.environ.get(
    "KALBOT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """A fresh, empty database URL on each dialect (the contract suite runs on both)."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url = request.getfixturevalue(fixture)
    assert isinstance(url, str)
    return url


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from a fixture that may be set up inside a running loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(ADMIN_URL, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def shared_postgres_url() -> Iterator[str]:
    """One upgraded PostgreSQL database for the whole session (emptied per test by ``repo``)."""
    name = f"kalbot_test_store_{uuid.uuid4().hex[:10]}"
    try:
        _run(_admin(f'CREATE DATABASE "{name}"'))
    except (TimeoutError, OSError, ConnectionError) as e:
        msg = f"PostgreSQL at {ADMIN_URL} is unreachable: {e}"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(msg)
        pytest.skip(msg)
    base = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    url = f"{base}/{name}"
    try:
        _run(migrate.upgrade(url))
        yield url
    finally:
        _run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


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
