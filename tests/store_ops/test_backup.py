"""`kalbot db backup | restore | dump` on SQLite (backup API) and PostgreSQL (pg_dump)."""

from __future__ import annotations

import io
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kalbot.adapters.store.ops.backup import backup_database, dump_database
from kalbot.adapters.store.ops.errors import MissingFile, NotKalbotDatabase, Refused, ToolFailed
from kalbot.adapters.store.ops.restore import backup_format, restore_database

from .data import execute, fetch, seed

NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
POSITIONS_SQL = "SELECT id, side, quantity, entry_price, pnl, reason FROM positions ORDER BY id"


def _partials(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.partial"))


async def test_backup_then_restore_brings_back_exactly_the_backed_up_rows(
    seeded_url: str, tmp_path: Path
) -> None:
    before = await fetch(seeded_url, POSITIONS_SQL)
    suffix = ".db" if seeded_url.startswith("sqlite") else ".dump"
    result = await backup_database(seeded_url, tmp_path / f"b{suffix}", now=NOW)
    assert result.path.exists() and result.bytes == result.path.stat().st_size > 0
    assert result.revision is not None
    assert backup_format(result.path) == ("sqlite" if suffix == ".db" else "pg_custom")

    # Damage the live database, then restore over it (it holds rows: --force is required).
    await execute(seeded_url, "DELETE FROM positions WHERE side = 'no'")
    await execute(seeded_url, "UPDATE market_snapshots SET yes_bid = 0.01")
    with pytest.raises(Refused, match="--force"):
        await restore_database(seeded_url, result.path)
    restored = await restore_database(seeded_url, result.path, force=True)
    assert restored.revision == result.revision
    assert await fetch(seeded_url, POSITIONS_SQL) == before
    assert await fetch(seeded_url, "SELECT DISTINCT yes_bid FROM market_snapshots") == [(0.49,)]
    sides = {r[1] for r in before}
    assert sides == {"yes", "no"}


async def _dump_and_restore(source: str, target: str, folder: Path) -> None:
    out = io.StringIO()
    await dump_database(source, out.write)
    sql = out.getvalue()
    assert "CREATE TABLE" in sql and "KXBTC-24DEC-50K" in sql and "alembic_version" in sql
    path = folder / "dump.sql"
    path.write_text(sql, encoding="utf-8")
    await restore_database(target, path)
    assert await fetch(target, POSITIONS_SQL) == await fetch(source, POSITIONS_SQL)
    assert await fetch(target, "SELECT COUNT(*) FROM market_snapshots") == [(5,)]


async def test_sqlite_dump_is_plain_sql_that_restores_into_a_new_database(
    sqlite_url: str, tmp_path: Path
) -> None:
    await seed(sqlite_url)
    await _dump_and_restore(sqlite_url, f"sqlite+aiosqlite:///{tmp_path / 'new.db'}", tmp_path)


@pytest.mark.postgres
async def test_postgres_dump_is_plain_sql_that_restores_into_an_empty_database(
    postgres_url: str, second_postgres_url: str, tmp_path: Path
) -> None:
    await seed(postgres_url)
    await _dump_and_restore(postgres_url, second_postgres_url, tmp_path)


async def test_sqlite_backup_is_a_standalone_file_even_from_a_wal_database(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'live.db'}"
    await seed(url)
    await execute(url, "PRAGMA journal_mode=WAL")
    conn = sqlite3.connect(tmp_path / "live.db")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("UPDATE positions SET quantity = 42 WHERE id = 1")
    conn.commit()  # committed, still in the -wal file while this connection is open
    try:
        result = await backup_database(url, tmp_path / "out" / "b.db", now=NOW)
    finally:
        conn.close()
    copy = sqlite3.connect(result.path)
    try:
        assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        assert copy.execute("SELECT quantity FROM positions WHERE id = 1").fetchone() == (42,)
    finally:
        copy.close()


async def test_default_backup_name_is_timestamped_beside_the_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'kalshi_trading.db'}"
    await seed(url)
    result = await backup_database(url, now=NOW)
    assert result.path == tmp_path / "backup_20261125_120000.db"
    with pytest.raises(Refused, match="already exists"):
        await backup_database(url, now=NOW)
    assert (await backup_database(url, now=NOW, force=True)).path == result.path
    assert not _partials(tmp_path)


async def test_restore_refuses_foreign_files_and_the_wrong_kind_of_database(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'k.db'}"
    await seed(url)
    with pytest.raises(MissingFile):
        await restore_database(url, tmp_path / "nope.db")
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01 not a backup")
    with pytest.raises(Refused, match="not a kalbot backup"):
        await restore_database(url, junk, force=True)
    foreign = tmp_path / "foreign.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY)")
    conn.close()
    with pytest.raises(NotKalbotDatabase):
        await restore_database(url, foreign, force=True)
    assert await fetch(url, "SELECT COUNT(*) FROM positions") == [(4,)]  # untouched
    pg_dump_file = tmp_path / "x.dump"
    pg_dump_file.write_bytes(b"PGDMP\x01\x0e\x00")
    with pytest.raises(Refused, match="PostgreSQL backup"):
        await restore_database(url, pg_dump_file, force=True)


async def test_restore_never_writes_over_a_database_that_is_not_kalbots(tmp_path: Path) -> None:
    src = f"sqlite+aiosqlite:///{tmp_path / 'k.db'}"
    await seed(src)
    backup = await backup_database(src, tmp_path / "b.db", now=NOW)
    foreign = f"sqlite+aiosqlite:///{tmp_path / 'foreign.db'}"
    await execute(foreign, "CREATE TABLE customers (id INTEGER PRIMARY KEY)")
    with pytest.raises(NotKalbotDatabase):
        await restore_database(foreign, backup.path, force=True)
    assert await fetch(foreign, "SELECT name FROM sqlite_master") == [("customers",)]


@pytest.mark.postgres
async def test_a_postgres_restore_that_fails_midway_leaves_the_target_as_it_was(
    postgres_url: str, tmp_path: Path
) -> None:
    await seed(postgres_url)
    out = io.StringIO()
    await dump_database(postgres_url, out.write)
    broken = tmp_path / "broken.sql"
    # The tables are dropped and recreated first; the error comes after all of that.
    broken.write_text(out.getvalue() + "\nSELECT * FROM no_such_table;\n", encoding="utf-8")
    await execute(postgres_url, "UPDATE positions SET quantity = 77 WHERE id = 1")
    with pytest.raises(ToolFailed, match="no_such_table"):
        await restore_database(postgres_url, broken, force=True)
    assert await fetch(postgres_url, "SELECT quantity FROM positions WHERE id = 1") == [(77,)]
    assert await fetch(postgres_url, "SELECT COUNT(*) FROM market_snapshots") == [(5,)]
