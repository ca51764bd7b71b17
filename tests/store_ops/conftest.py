"""Fixtures for the operations tests: upgraded kalbot databases with realistic rows."""

from __future__ import annotations

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
