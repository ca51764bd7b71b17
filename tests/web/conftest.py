"""Fixtures for the dashboard tests: a seeded database on each dialect and a client over it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from conftest import drop_postgres_database, make_postgres_database
from kalbot.domain.clock import ManualClock
from kalbot.web.app import create_app
from kalbot.web.db import create_read_engine
from kalbot.web.reader import DashboardConfig, Reader

from .seed import NOW, seed


def make_config(exports: Path, **overrides: object) -> DashboardConfig:
    values: dict[str, object] = {
        "ai_budget": Decimal("10"),
        "live_enabled": False,
        "environment": "demo",
        "exports_dir": exports,
        "refresh_seconds": 5,
        "page_size": 50,
        "max_cycle_age_seconds": 600,
    }
    values.update(overrides)
    return DashboardConfig(**values)  # type: ignore[arg-type]


def make_client(url: str, exports: Path, **kwargs: object) -> TestClient:
    token = kwargs.pop("token", None)
    probe = kwargs.pop("probe", None)
    host = kwargs.pop("host", "127.0.0.1")
    reader = Reader(create_read_engine(url), make_config(exports, **kwargs), ManualClock(NOW))
    app = create_app(
        reader,
        token=token,  # type: ignore[arg-type]
        probe=probe,  # type: ignore[arg-type]
        host=host,  # type: ignore[arg-type]
        dispose_engine=True,
    )
    return TestClient(app)


def _seed_elsewhere(url: str) -> None:
    # A thread of its own: a session fixture may be set up while Playwright's sync API keeps
    # an event loop running in the main thread.
    worker = threading.Thread(target=lambda: asyncio.run(seed(url)))
    worker.start()
    worker.join()


@pytest.fixture(scope="session")
def sqlite_seeded(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The seeded SQLite database, for tests whose subject does not depend on the dialect."""
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('web') / 'kalbot.db'}"
    _seed_elsewhere(url)
    return url


@pytest.fixture(scope="session")
def postgres_seeded() -> Iterator[str]:
    url = make_postgres_database()
    try:
        _seed_elsewhere(url)
        yield url
    finally:
        drop_postgres_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def seeded_url(request: pytest.FixtureRequest) -> str:
    """One seeded database per dialect, shared by the whole session: the dashboard only
    reads, so sharing is safe, and migrating and seeding once keeps the suite fast."""
    url = request.getfixturevalue(f"{'sqlite' if request.param == 'sqlite' else 'postgres'}_seeded")
    assert isinstance(url, str)
    return url


@pytest.fixture
def exports(tmp_path: Path) -> Path:
    path = tmp_path / "exports"
    path.mkdir()
    return path


@pytest.fixture
def client(seeded_url: str, exports: Path) -> Iterator[TestClient]:
    with make_client(seeded_url, exports) as c:
        yield c


@pytest.fixture
def sqlite_client(sqlite_seeded: str, exports: Path) -> Iterator[TestClient]:
    with make_client(sqlite_seeded, exports) as c:
        yield c
