"""Parse a database URL once into what every operation needs: dialect, async URL, file or server.

Accepted: ``sqlite:///path``, ``sqlite+aiosqlite:///path`` and ``postgresql://`` /
``postgres://`` / ``postgresql+<driver>://`` URLs. SQLite URLs must name a file (an in-memory
database has nothing to back up or copy); PostgreSQL URLs must name a database.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy.engine import URL

from kalbot.adapters.store.ops.errors import BadUrl
from kalbot.adapters.store.urls import async_url, redacted, sqlite_path
from kalbot.domain.errors import StoreError

Dialect = Literal["sqlite", "postgresql"]


@dataclass(frozen=True)
class DatabaseUrl:
    """A validated database location. ``url`` is the SQLAlchemy async URL to connect with."""

    dialect: Dialect
    url: URL

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def sqlite_path(self) -> Path:
        """The SQLite file (only for SQLite URLs)."""
        path = sqlite_path(self.url)
        if path is None:
            raise BadUrl(f"{self.display} is not a SQLite file URL")
        return path

    @property
    def display(self) -> str:
        """The URL with any password hidden, for messages."""
        return redacted(self.url)

    @property
    def database_name(self) -> str:
        return self.url.database or ""

    def libpq_args(self) -> list[str]:
        """Connection options for pg_dump / pg_restore / psql (the password goes in the env)."""
        args = ["-h", self.url.host or "127.0.0.1", "-p", str(self.url.port or 5432)]
        if self.url.username:
            args += ["-U", self.url.username]
        return args

    def libpq_env(self) -> dict[str, str]:
        """The process environment for the libpq tools: the password never appears in argv."""
        env = dict(os.environ)
        if self.url.password:
            env["PGPASSWORD"] = str(self.url.password)
        sslmode = self.url.query.get("sslmode") or self.url.query.get("ssl")
        if isinstance(sslmode, str) and sslmode:
            env["PGSSLMODE"] = sslmode
        return env

    def same_database_as(self, other: DatabaseUrl) -> bool:
        if self.dialect != other.dialect:
            return False
        if self.is_sqlite:
            return self.sqlite_path.resolve() == other.sqlite_path.resolve()
        return (self.url.host, self.url.port or 5432, self.url.database) == (
            other.url.host,
            other.url.port or 5432,
            other.url.database,
        )


_PASSWORD = re.compile(r"(://[^:/@]*:)[^@/]*@")
_EXPECTED = "expected sqlite:///FILE or postgresql://USER@HOST:PORT/DATABASE"


def _masked(text: str) -> str:
    return _PASSWORD.sub(r"\1***@", text)


def parse_database_url(raw: str) -> DatabaseUrl:
    """Validate ``raw`` and normalise it to the async driver kalbot uses for its dialect."""
    text = raw.strip()
    if not text:
        raise BadUrl(f"empty database URL; {_EXPECTED}")
    try:
        url = async_url(text)
        _ = url.port  # a non-numeric port only fails when read
    except (StoreError, ValueError) as e:
        if isinstance(e, ValueError):
            reason = "bad port"
        else:
            reason = "unsupported database" if "://" in text else "not a URL"
        raise BadUrl(f"bad database URL {_masked(text)!r} ({reason}); {_EXPECTED}") from e
    text = _masked(text)
    if url.get_backend_name() == "sqlite":
        if sqlite_path(url) is None:
            raise BadUrl(f"bad database URL {text!r}: a SQLite URL must name a file")
        return DatabaseUrl("sqlite", url)
    if not url.database:
        raise BadUrl(f"bad database URL {text!r}: a PostgreSQL URL must name a database")
    if url.port is not None and not 0 < url.port < 65536:
        raise BadUrl(f"bad database URL {text!r}: port out of range")
    return DatabaseUrl("postgresql", url)
