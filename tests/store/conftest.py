"""Fixtures for the store tests: one database URL per dialect, fresh for each test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from kalbot.adapters.store.repository import Repository


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """A fresh, empty database URL on each dialect (the contract suite runs on both)."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url = request.getfixturevalue(fixture)
    assert isinstance(url, str)
    return url


@pytest.fixture
async def repo(db_url: str) -> AsyncIterator[Repository]:
    """An initialised repository on a fresh database of each dialect."""
    repository = Repository(db_url)
    await repository.initialize()
    try:
        yield repository
    finally:
        await repository.close()
