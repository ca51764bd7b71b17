"""``kalbot db backup`` and ``kalbot db dump``.

SQLite: the online backup API (a consistent copy while the bot keeps writing; a plain file copy
of a WAL database can miss committed pages). PostgreSQL: ``pg_dump -Fc``. Backups are written to
``FILE.partial`` and renamed into place, so a failed backup never leaves a truncated file under
the name a restore would use.
"""

from __future__ import annotations

import asyncio
import codecs
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from kalbot.adapters.store.ops import pgtools
from kalbot.adapters.store.ops.connect import kalbot_schema, open_database
from kalbot.adapters.store.ops.errors import OpsError, Refused, one_line
from kalbot.adapters.store.ops.urls import DatabaseUrl, parse_database_url


@dataclass(frozen=True)
class BackupResult:
    path: Path
    bytes: int
    format: str  # "sqlite" or "pg_dump custom"
    revision: str | None


def default_backup_path(db: DatabaseUrl, now: datetime) -> Path:
    """``backup_YYYYmmdd_HHMMSS.db`` beside a SQLite file; ``backup_<db>_....dump`` here for PG."""
    stamp = now.astimezone(UTC).strftime("%Y%m%d_%H%M%S")
    if db.is_sqlite:
        return db.sqlite_path.parent / f"backup_{stamp}.db"
    return Path(f"backup_{db.database_name}_{stamp}.dump")


def sqlite_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection (the URI form keeps a missing file from being created)."""
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)


def _sqlite_backup(source: Path, output: Path) -> None:
    src = sqlite_readonly(source)
    dst = sqlite3.connect(output)
    try:
        src.backup(dst)
        # One self-contained file: a WAL-mode copy would need its -wal beside it.
        dst.execute("PRAGMA journal_mode=DELETE")
        verdict = dst.execute("PRAGMA quick_check").fetchone()[0]
        if verdict != "ok":
            raise OpsError(f"the backup failed its integrity check: {verdict}")
    except sqlite3.Error as e:
        raise OpsError(f"SQLite backup failed: {one_line(e)}") from e
    finally:
        dst.close()
        src.close()


async def backup_database(
    url: str, output: Path | None = None, *, now: datetime, force: bool = False
) -> BackupResult:
    """Back up the kalbot database at ``url`` to ``output`` (default: see default_backup_path)."""
    db = parse_database_url(url)
    async with open_database(db) as engine:
        info = await kalbot_schema(engine, db)
    path = output or default_backup_path(db, now)
    if path.exists() and not force:
        raise Refused(f"{path} already exists; pass --force to overwrite it")
    if db.is_sqlite and path.resolve() == db.sqlite_path.resolve():
        raise Refused("the backup file cannot be the database itself")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        if db.is_sqlite:
            await asyncio.to_thread(_sqlite_backup, db.sqlite_path, partial)
            fmt = "sqlite"
        else:
            args = ["-Fc", "-f", str(partial), *db.libpq_args(), db.database_name]
            await asyncio.to_thread(pgtools.run, "pg_dump", args, db)
            fmt = "pg_dump custom"
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return BackupResult(path, path.stat().st_size, fmt, info.revision)


def _sqlite_dump(source: Path, write: Callable[[str], object]) -> None:
    conn = sqlite_readonly(source)
    try:
        for line in conn.iterdump():
            write(line + "\n")
    except sqlite3.Error as e:
        raise OpsError(f"SQLite dump failed: {one_line(e)}") from e
    finally:
        conn.close()


async def dump_database(url: str, write: Callable[[str], object]) -> None:
    """Write the kalbot database at ``url`` as plain SQL (SQLite iterdump / pg_dump plain)."""
    db = parse_database_url(url)
    async with open_database(db) as engine:
        await kalbot_schema(engine, db)
    if db.is_sqlite:
        await asyncio.to_thread(_sqlite_dump, db.sqlite_path, write)
        return
    # --clean --if-exists: the dump replays over an existing kalbot database too.
    args = ["--clean", "--if-exists", "--no-owner", "--no-privileges"]
    args += [*db.libpq_args(), db.database_name]
    decoder = codecs.getincrementaldecoder("utf-8")()  # a chunk may end mid-character
    await asyncio.to_thread(
        pgtools.stream_out, "pg_dump", args, db, lambda b: write(decoder.decode(b))
    )
    write(decoder.decode(b"", final=True))
