"""Database URLs: normalised to the async drivers, checked before any engine is built."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from kalbot.domain.errors import StoreError

_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


class BadURL(StoreError):
    """A database URL this project cannot use (malformed or an unsupported database)."""


def async_url(url: str | URL) -> URL:
    """Parse ``url`` and pick the async driver: ``sqlite://`` -> aiosqlite, ``postgresql://``
    (and ``postgres://``) -> asyncpg. Anything else raises BadURL."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError as e:
        raise BadURL(f"not a database URL: {str(url)!r}") from e
    backend = parsed.get_backend_name()
    if backend == "postgres":
        backend = "postgresql"
    if backend not in _DRIVERS:
        raise BadURL(f"unsupported database {backend!r} in URL (use sqlite or postgresql)")
    return parsed.set(drivername=_DRIVERS[backend])


def dialect_of(url: URL) -> str:
    """``"sqlite"`` or ``"postgresql"``."""
    return url.get_backend_name()


def sqlite_path(url: URL) -> Path | None:
    """The file behind a SQLite URL, or None for an in-memory database."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def redacted(url: URL) -> str:
    """The URL as text with any password hidden, for messages."""
    return url.render_as_string(hide_password=True)
