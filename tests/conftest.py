"""Shared fixtures. PostgreSQL tests run for real: under CI an unreachable server fails the run."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from kalbot.adapters.store.repository import Repository

ADMIN_URL = os.environ.get(
    "KALBOT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


async def _admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(ADMIN_URL, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _admin_blocking(sql: str) -> None:
    """Run one admin statement to completion, even from a fixture inside a running loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, _admin(sql)).result()


def create_postgres_database(prefix: str = "kalbot_test") -> str:
    """Create a scratch database and return its SQLAlchemy asyncpg URL (caller drops it).

    Raises ``OSError`` (or ``TimeoutError``) when the server is unreachable; most callers want
    ``make_postgres_database``, which turns that into the suite's fail-in-CI-else-skip rule.
    """
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    _admin_blocking(f'CREATE DATABASE "{name}"')
    base = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{name}"


def make_postgres_database(prefix: str = "kalbot_test") -> str:
    """``create_postgres_database``; an unreachable server fails the run in CI, else skips."""
    try:
        return create_postgres_database(prefix)
    except (TimeoutError, OSError, ConnectionError) as e:
        msg = f"PostgreSQL at {ADMIN_URL} is unreachable: {e}"
        if _in_ci():
            pytest.fail(msg)
        pytest.skip(msg)


def drop_postgres_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    _admin_blocking(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test (SQLAlchemy asyncpg URL)."""
    url = make_postgres_database()
    try:
        yield url
    finally:
        drop_postgres_database(url)


@pytest.fixture
def sqlite_url(tmp_path: object) -> str:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    return f"sqlite+aiosqlite:///{tmp_path / 'kalbot.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """A fresh, empty database of each dialect, so one test runs on SQLite and PostgreSQL."""
    # postgres_url runs its own event loop, so it is requested from a sync fixture.
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    assert isinstance(url, str)
    return url


@pytest.fixture
async def repo(db_url: str) -> AsyncIterator[Repository]:
    """An initialised repository on a fresh database of each dialect (closed afterwards)."""
    r = Repository(db_url)
    await r.initialize()
    try:
        yield r
    finally:
        await r.close()
