"""Shared fixtures. PostgreSQL tests run for real: under CI an unreachable server fails the run."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator

import pytest

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


def make_postgres_database() -> str:
    """Create a scratch database and return its SQLAlchemy asyncpg URL (caller drops it)."""
    name = f"kalbot_test_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except (TimeoutError, OSError, ConnectionError) as e:
        msg = f"PostgreSQL at {ADMIN_URL} is unreachable: {e}"
        if _in_ci():
            pytest.fail(msg)
        pytest.skip(msg)
    base = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{name}"


def drop_postgres_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


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
