"""Alembic, driven from code: upgrade, downgrade, current revision, history.

A database is created only by upgrading it; nothing here calls ``metadata.create_all``.
Every function takes a URL (``sqlite:///...`` or ``postgresql://...``; the async drivers are
picked automatically) and raises ``kalbot.domain.errors`` types.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, pool
from sqlalchemy.engine import URL, Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from kalbot.adapters.store.errors import DRIVER_ERRORS, translate
from kalbot.adapters.store.urls import async_url, redacted, sqlite_path
from kalbot.domain.errors import SchemaError, StoreError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


@dataclass(frozen=True, slots=True)
class Revision:
    """One schema revision, oldest first in :func:`history`."""

    revision: str
    down_revision: str | None
    message: str


Extra = Sequence[Path | str]
"""Folders of further revision files (a user's own, see docs/extending-the-schema.md)."""


def alembic_config(url: URL | None = None, extra_versions: Extra = ()) -> Config:
    """An Alembic Config pointing at this package's migrations (no .ini file needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    folders = [str(MIGRATIONS / "versions"), *(str(Path(p).resolve()) for p in extra_versions)]
    cfg.set_main_option("version_locations", os.pathsep.join(folders))
    cfg.set_main_option("path_separator", "os")
    if url is not None:
        # ConfigParser interpolation: a literal % in a password must be doubled.
        cfg.set_main_option(
            "sqlalchemy.url", url.render_as_string(hide_password=False).replace("%", "%%")
        )
    return cfg


def _script(extra_versions: Extra = ()) -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(extra_versions=extra_versions))


def history(extra_versions: Extra = ()) -> list[Revision]:
    """Every revision this code knows, oldest first."""
    revs = list(_script(extra_versions).walk_revisions("base", "heads"))
    revs.reverse()
    out: list[Revision] = []
    for r in revs:
        down = r.down_revision
        out.append(
            Revision(
                revision=r.revision,
                down_revision=down if isinstance(down, str) or down is None else ",".join(down),
                message=(r.doc or "").strip().splitlines()[0] if r.doc else "",
            )
        )
    return out


def head(extra_versions: Extra = ()) -> str:
    """The newest revision id."""
    heads = _script(extra_versions).get_heads()
    if len(heads) != 1:
        raise SchemaError(f"migrations have {len(heads)} heads {heads}; expected exactly one")
    return heads[0]


def _engine(url: URL) -> AsyncEngine:
    return create_async_engine(url, poolclass=pool.NullPool)


def _current_sync(conn: Connection, extra_versions: Extra = ()) -> str | None:
    """The revision stored in the database; SchemaError if it is not a kalbot database."""
    tables = set(inspect(conn).get_table_names())
    revision = MigrationContext.configure(conn).get_current_revision()
    if revision is None:
        if tables - {"alembic_version"}:
            raise SchemaError(
                "not a kalbot database: it has tables "
                f"({', '.join(sorted(tables)[:5])}{', ...' if len(tables) > 5 else ''}) "
                "but no kalbot schema revision"
            )
        return None
    known = {r.revision for r in history(extra_versions)}
    if revision not in known:
        raise SchemaError(
            f"not a kalbot database (or one from newer code): unknown schema revision {revision!r}"
        )
    return revision


def _check_sqlite_exists(url: URL, create: bool) -> None:
    path = sqlite_path(url)
    if path is None:
        return
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    elif not path.exists():
        raise StoreError(f"no database file at {path}")


async def current(url: str | URL, extra_versions: Extra = ()) -> str | None:
    """The database's schema revision (None for an empty database)."""
    parsed = async_url(url)
    _check_sqlite_exists(parsed, create=False)
    engine = _engine(parsed)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_current_sync, extra_versions)
    except DRIVER_ERRORS as e:
        raise translate(e, f"reading the schema revision of {redacted(parsed)}") from e
    finally:
        await engine.dispose()


async def _run(url: URL, action: str, revision: str, extra_versions: Extra) -> None:
    cfg = alembic_config(url, extra_versions)

    def work(conn: Connection) -> None:
        _current_sync(conn, extra_versions)  # refuse a database that is not ours before touching it
        cfg.attributes["connection"] = conn
        if action == "upgrade":
            command.upgrade(cfg, revision)
        else:
            command.downgrade(cfg, revision)

    engine = _engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(work)
    except DRIVER_ERRORS as e:
        raise translate(e, f"{action} of {redacted(url)}") from e
    except Exception as e:  # alembic's CommandError: unknown or unreachable target revision
        if type(e).__name__ in {"CommandError", "ResolutionError", "RevisionError"}:
            raise SchemaError(f"{action} to {revision!r}: {e}") from e
        raise
    finally:
        await engine.dispose()


async def upgrade(url: str | URL, revision: str = "head", extra_versions: Extra = ()) -> None:
    """Bring the database up to ``revision`` (creating a SQLite file and its folder if needed)."""
    parsed = async_url(url)
    _check_sqlite_exists(parsed, create=True)
    await _run(parsed, "upgrade", revision, extra_versions)


async def downgrade(url: str | URL, revision: str = "-1", extra_versions: Extra = ()) -> None:
    """Take the database down to ``revision`` (``"-1"``: one step; ``"base"``: empty)."""
    parsed = async_url(url)
    _check_sqlite_exists(parsed, create=False)
    await _run(parsed, "downgrade", revision, extra_versions)
