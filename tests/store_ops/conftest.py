"""Fixtures for the operations tests: upgraded kalbot databases with realistic rows."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conftest import create_postgres_database, drop_postgres_database

from .data import seed


@pytest.fixture
async def seeded_url(db_url: str) -> str:
    """A kalbot database at head holding the rows above, on each dialect."""
    await seed(db_url)
    return db_url


@pytest.fixture
def second_postgres_url(postgres_url: str) -> Iterator[str]:
    """Another scratch database on the same server (a restore or copy target)."""
    url = create_postgres_database()
    try:
        yield url
    finally:
        drop_postgres_database(url)
