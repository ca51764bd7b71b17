"""``kalbot db restore FILE``: make a database the backup, all or nothing.

Accepted: a SQLite backup file (``kalbot db backup`` on SQLite), a ``pg_dump -Fc`` archive, or a
plain SQL dump from ``kalbot db dump`` of the same dialect. The backup must be a kalbot database
(alembic_version and the spec tables). A target that holds rows is replaced only with
``force=True``; a target that is not a kalbot database is never touched.

SQLite restores go through the online backup API into the target (atomic: readers see the old
or the new database). PostgreSQL restores drop the target's tables and replay the dump inside ONE
psql transaction, so a failed restore leaves the target as it was.
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kalbot.adapters.store.ops import pgtools
from kalbot.adapters.store.ops.backup import sqlite_readonly
from kalbot.adapters.store.ops.connect import (
    ALEMBIC_TABLE,
    SchemaInfo,
    kalbot_schema,
    open_database,
    schema_info,
)
from kalbot.adapters.store.ops.errors import (
    MissingFile,
    NotKalbotDatabase,
    OpsError,
    Refused,
    one_line,
)
from kalbot.adapters.store.ops.schema import quote
from kalbot.adapters.store.ops.urls import DatabaseUrl, parse_database_url
from kalbot.adapters.store.tables import SPEC_TABLES

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"


@dataclass(frozen=True)
class RestoreResult:
    source: Path
    format: str
    target: str
    revision: str | None


def backup_format(path: Path) -> str:
    """``sqlite``, ``pg_custom``, ``sqlite_sql`` or ``pg_sql``; Refused for anything else."""
    if not path.exists():
        raise MissingFile(f"no backup file at {path}")
    if not path.is_file():
        raise MissingFile(f"{path} is not a file")
    with path.open("rb") as f:
        head = f.read(4096)
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PGDUMP_MAGIC):
        return "pg_custom"
    try:
        text_head = head.decode("utf-8")
    except UnicodeDecodeError:
        text_head = ""
    if "PostgreSQL database dump" in text_head:
        return "pg_sql"
    if text_head.lstrip().upper().startswith(("BEGIN TRANSACTION;", "PRAGMA", "CREATE TABLE")):
        return "sqlite_sql"
    raise Refused(f"{path} is not a kalbot backup (neither SQLite, pg_dump nor a SQL dump)")


def _require_kalbot_tables(tables: set[str], path: Path) -> None:
    missing = [t for t in (ALEMBIC_TABLE, *SPEC_TABLES) if t not in tables]
    if missing:
        raise NotKalbotDatabase(
            f"{path} is not a backup of a kalbot database: no {', '.join(missing)}"
        )


def _check_sqlite_backup(path: Path) -> None:
    try:
        conn = sqlite_readonly(path)
        try:
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall()
            revision = None
            if any(r[0] == ALEMBIC_TABLE for r in rows):
                revision = conn.execute(f"SELECT version_num FROM {ALEMBIC_TABLE}").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as e:
        raise NotKalbotDatabase(f"{path} is not a readable SQLite database: {one_line(e)}") from e
    _require_kalbot_tables({str(r[0]) for r in rows}, path)
    if revision is None:
        raise NotKalbotDatabase(f"{path} is not a backup of a kalbot database: no schema revision")


def _check_pg_archive(path: Path, db: DatabaseUrl) -> None:
    listing = pgtools.run("pg_restore", ["-l", str(path)], db).decode(errors="replace")
    tables = set()
    for line in listing.splitlines():
        parts = line.split()
        # e.g. "215; 1259 16385 TABLE public positions postgres"
        if "TABLE" in parts and "DATA" not in parts:
            i = parts.index("TABLE")
            if len(parts) > i + 2:
                tables.add(parts[i + 2])
    _require_kalbot_tables(tables, path)


def _check_pg_sql(path: Path) -> None:
    tables = set()
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("CREATE TABLE "):
                name = line.split()[2].split(".")[-1].strip('"(')
                tables.add(name)
    _require_kalbot_tables(tables, path)


def _sqlite_script_to_file(script: Path, out: Path) -> None:
    conn = sqlite3.connect(out)
    try:
        conn.executescript(script.read_text(encoding="utf-8"))
    except (sqlite3.Error, UnicodeDecodeError) as e:
        raise OpsError(f"{script} does not replay as SQLite SQL: {one_line(e)}") from e
    finally:
        conn.close()


def _sqlite_restore(backup: Path, target: Path) -> None:
    src = sqlite_readonly(backup)
    dst = sqlite3.connect(target, timeout=30)
    try:
        src.backup(dst)
    except sqlite3.Error as e:
        raise OpsError(f"SQLite restore failed, target unchanged: {one_line(e)}") from e
    finally:
        dst.close()
        src.close()


async def _target_state(engine: AsyncEngine, db: DatabaseUrl) -> tuple[SchemaInfo, int]:
    async with engine.connect() as conn:
        info = await schema_info(conn)
        if info.tables and not info.revisions:
            raise NotKalbotDatabase(
                f"{db.display} has tables but is not a kalbot database; refusing to restore over it"
            )
        rows = 0
        for name in info.data_tables:
            count = await conn.execute(text(f"SELECT COUNT(*) FROM {quote(conn, name)}"))
            rows += int(count.scalar_one())
    return info, rows


async def restore_database(url: str, backup: Path, *, force: bool = False) -> RestoreResult:
    """Replace the contents of the database at ``url`` with ``backup``."""
    db = parse_database_url(url)
    fmt = backup_format(backup)
    if db.is_sqlite != fmt.startswith("sqlite"):
        kind = "SQLite" if fmt.startswith("sqlite") else "PostgreSQL"
        raise Refused(
            f"{backup} is a {kind} backup and {db.display} is not; "
            "restore into the same kind of database, then `kalbot db copy`"
        )
    # Check the backup before touching (or creating) the target.
    if fmt == "sqlite":
        await asyncio.to_thread(_check_sqlite_backup, backup)
    elif fmt == "pg_custom":
        await asyncio.to_thread(_check_pg_archive, backup, db)
    elif fmt == "pg_sql":
        await asyncio.to_thread(_check_pg_sql, backup)
    async with open_database(db, create=True) as engine:
        info, rows = await _target_state(engine, db)
        if rows and not force:
            raise Refused(
                f"{db.display} holds {rows} rows; pass --force to replace them with the backup"
            )
        if db.is_sqlite:
            await _restore_sqlite(backup, fmt, db)
        else:
            await _restore_postgres(backup, fmt, db, info)
        after = await kalbot_schema(engine, db)
    return RestoreResult(backup, fmt, db.display, after.revision)


async def _restore_sqlite(backup: Path, fmt: str, db: DatabaseUrl) -> None:
    if fmt == "sqlite":
        await asyncio.to_thread(_sqlite_restore, backup, db.sqlite_path)
        return
    # A SQL dump is replayed into a scratch file first, checked, then swapped in atomically.
    with tempfile.TemporaryDirectory(dir=db.sqlite_path.parent) as tmp:
        staged = Path(tmp) / "staged.db"
        await asyncio.to_thread(_sqlite_script_to_file, backup, staged)
        await asyncio.to_thread(_check_sqlite_backup, staged)
        await asyncio.to_thread(_sqlite_restore, staged, db.sqlite_path)


async def _restore_postgres(backup: Path, fmt: str, db: DatabaseUrl, info: SchemaInfo) -> None:
    drop = ""
    if info.tables:
        names = ", ".join(f'"{t}"' for t in sorted(info.tables))
        drop = f"DROP TABLE IF EXISTS {names} CASCADE;\n"
    body: Path | list[str] = backup
    if fmt == "pg_custom":
        # --clean: also drop non-table objects (types, functions) a later revision may own.
        body = ["--clean", "--if-exists", "--no-owner", "--no-privileges", "-f", "-", str(backup)]
    await asyncio.to_thread(pgtools.psql_script, db, drop, body)
