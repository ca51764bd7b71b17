"""Fixtures for the operations tests: upgraded kalbot databases with realistic rows."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator

import pytest

from .data import seed


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """A fresh, empty database URL on each dialect."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url = request.getfixturevalue(fixture)
    assert isinstance(url, str)
    return url


@pytest.fixture
async def seeded_url(db_url: str) -> str:
    """A kalbot database at head holding the rows above, on each dialect."""
    await seed(db_url)
    return db_url


async def _admin(sql: str) -> None:
    import asyncpg

    admin = os.environ.get(
        "KALBOT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    conn = await asyncpg.connect(admin, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def second_postgres_url(postgres_url: str) -> Iterator[str]:
    """Another scratch database on the same server (a restore or copy target)."""
    name = f"kalbot_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{postgres_url.rsplit('/', 1)[0]}/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
