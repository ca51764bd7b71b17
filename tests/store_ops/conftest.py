"""Fixtures for the operations tests: upgraded kalbot databases with realistic rows."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .data import create_scratch_database, drop_scratch_database, seed


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


@pytest.fixture
def second_postgres_url(postgres_url: str) -> Iterator[str]:
    """Another scratch database on the same server (a restore or copy target)."""
    url = create_scratch_database()
    try:
        yield url
    finally:
        drop_scratch_database(url)
