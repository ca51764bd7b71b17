"""`kalbot db copy`: SQLite <-> PostgreSQL, every table, verified, sequences right."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from kalbot.adapters.store import migrate
from kalbot.adapters.store.ops.copy import copy_database
from kalbot.adapters.store.ops.errors import NotKalbotDatabase, Refused, VerificationFailed
from kalbot.adapters.store.ops.values import as_datetime
from kalbot.cli import register_commands
from kalbot.cli.apps import app

from .data import POSITIONS, execute, fetch, seed

TIME_COLUMNS = {"created_at", "updated_at"}


class RecordingProgress:
    def __init__(self) -> None:
        self.started: dict[str, int] = {}
        self.copied: dict[str, int] = {}
        self.verified: list[str] = []

    def table_started(self, table: str, total_rows: int) -> None:
        self.started[table] = total_rows

    def rows_copied(self, table: str, rows: int) -> None:
        self.copied[table] = self.copied.get(table, 0) + rows

    def verifying(self, table: str) -> None:
        self.verified.append(table)


async def _table_rows(url: str, table: str) -> list[dict[str, Any]]:
    cols = [r[0] for r in await _columns(url, table)]
    rows = await fetch(url, f"SELECT {', '.join(cols)} FROM {table} ORDER BY 1")
    out = []
    for row in rows:
        record = dict(zip(cols, row, strict=True))
        for c in TIME_COLUMNS & record.keys():
            if record[c] is not None:  # text on SQLite, TIMESTAMP on PostgreSQL
                record[c] = as_datetime(record[c])
        out.append(record)
    return out


async def _columns(url: str, table: str) -> list[tuple[Any, ...]]:
    if url.startswith("sqlite"):
        return [(r[1],) for r in await fetch(url, f"PRAGMA table_info({table})")]
    return await fetch(
        url,
        "SELECT column_name FROM information_schema.columns "
        f"WHERE table_name = '{table}' ORDER BY ordinal_position",
    )


async def _all_tables(url: str) -> list[str]:
    if url.startswith("sqlite"):
        rows = await fetch(
            url,
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' "
            "AND name != 'alembic_version'",
        )
    else:
        rows = await fetch(
            url,
            "SELECT tablename FROM pg_tables WHERE schemaname='public' "
            "AND tablename != 'alembic_version'",
        )
    return sorted(r[0] for r in rows)


@pytest.mark.postgres
async def test_sqlite_to_postgres_and_back_keeps_every_value_of_every_table(
    sqlite_url: str, postgres_url: str, tmp_path: Path
) -> None:
    await seed(sqlite_url)
    # A text primary key (revision 0002's table): both sides must order it byte-wise.
    await execute(
        sqlite_url,
        "INSERT INTO ai_budget_days (day, lock_count) VALUES (:d, :n)",
        [{"d": d, "n": i} for i, d in enumerate(["a", "B", "é", "Z", "_x", "10", "9"])],
    )
    progress = RecordingProgress()
    there = await copy_database(sqlite_url, postgres_url, batch_size=2, progress=progress)
    back_url = f"sqlite+aiosqlite:///{tmp_path / 'back' / 'copy.db'}"
    back = await copy_database(postgres_url, back_url)

    tables = await _all_tables(sqlite_url)
    assert {t.table for t in there.tables} == set(tables) == set(await _all_tables(postgres_url))
    assert [t.checksum for t in there.tables] == [t.checksum for t in back.tables]
    assert there.revision == back.revision == migrate.head()
    for name in tables:
        original = await _table_rows(sqlite_url, name)
        assert await _table_rows(postgres_url, name) == original, name
        assert await _table_rows(back_url, name) == original, name
    counts = {t.table: t.rows for t in there.tables}
    assert counts["positions"] == len(POSITIONS) and counts["ai_budget_days"] == 7
    assert progress.started == counts
    assert {k: v for k, v in progress.copied.items() if v} == {k: v for k, v in counts.items() if v}
    assert sorted(progress.verified) == sorted(counts)
    # Exact floats survive both ways (DOUBLE PRECISION on PostgreSQL, REAL on SQLite).
    prices = [r["entry_price"] for r in await _table_rows(back_url, "positions")]
    assert prices == [p["entry_price"] for p in POSITIONS]


@pytest.mark.postgres
async def test_postgres_sequences_continue_after_the_highest_id_ever_used(
    sqlite_url: str, postgres_url: str
) -> None:
    await seed(sqlite_url)
    # id 9 was handed out and deleted: AUTOINCREMENT never reuses it, nor may the copy.
    await execute(
        sqlite_url,
        "INSERT INTO positions (id, ticker, side, quantity, entry_price, entry_time, status) "
        "VALUES (9, 'GONE', 'yes', 1, 0.5, '2026-01-01T00:00:00Z', 'open')",
    )
    await execute(sqlite_url, "DELETE FROM positions WHERE id = 9")
    await copy_database(sqlite_url, postgres_url)
    insert = (
        "INSERT INTO {t} (ticker, side, quantity, entry_price, entry_time, status) "
        "VALUES ('NEW', 'no', 1, 0.5, '2026-01-01T00:00:00Z', 'open')"
    )
    await execute(postgres_url, insert.format(t="positions"))
    assert (await fetch(postgres_url, "SELECT id FROM positions WHERE ticker = 'NEW'")) == [(10,)]
    await execute(
        postgres_url,
        "INSERT INTO market_snapshots (timestamp, ticker) VALUES ('2026-11-25T00:00:00Z', 'N')",
    )
    top = await fetch(postgres_url, "SELECT MAX(id) FROM market_snapshots")
    assert top == [(6,)]  # five seeded snapshots, ids 1..5


@pytest.mark.postgres
async def test_postgres_to_sqlite_keeps_the_sequence_floor(
    postgres_url: str, sqlite_url: str
) -> None:
    await seed(postgres_url)  # explicit ids 1, 2, 3, 5: move the sequence past them
    await execute(postgres_url, "SELECT setval(pg_get_serial_sequence('positions', 'id'), 5)")
    await execute(
        postgres_url,
        "INSERT INTO positions (ticker, side, quantity, entry_price, entry_time, status) "
        "VALUES ('GONE', 'yes', 1, 0.5, '2026-01-01T00:00:00Z', 'open')",
    )
    await execute(postgres_url, "DELETE FROM positions WHERE ticker = 'GONE'")  # id 6, gone
    # PostgreSQL keeps the sign of -0.0, SQLite does not: still the same number, still verified.
    await execute(postgres_url, "UPDATE positions SET pnl = CAST('-0' AS DOUBLE PRECISION)")
    await copy_database(postgres_url, sqlite_url)
    assert await fetch(sqlite_url, "SELECT DISTINCT pnl FROM positions") == [(0.0,)]
    await execute(
        sqlite_url,
        "INSERT INTO positions (ticker, side, quantity, entry_price, entry_time, status) "
        "VALUES ('NEW', 'yes', 1, 0.5, '2026-01-01T00:00:00Z', 'open')",
    )
    assert await fetch(sqlite_url, "SELECT id FROM positions WHERE ticker = 'NEW'") == [(7,)]


async def test_a_non_empty_target_is_refused_unless_replace(tmp_path: Path) -> None:
    src = f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"
    dst = f"sqlite+aiosqlite:///{tmp_path / 'b.db'}"
    await seed(src)
    await seed(dst)
    await execute(dst, "UPDATE positions SET quantity = 999")
    with pytest.raises(Refused, match=r"not empty.*--replace"):
        await copy_database(src, dst)
    assert await fetch(dst, "SELECT DISTINCT quantity FROM positions") == [(999,)]
    report = await copy_database(src, dst, replace=True)
    assert report.total_rows == sum(t.rows for t in report.tables) > 0
    assert await _table_rows(dst, "positions") == await _table_rows(src, "positions")


async def test_copy_refuses_the_same_database_and_foreign_databases(tmp_path: Path) -> None:
    src = f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"
    await seed(src)
    with pytest.raises(Refused, match="same database"):
        await copy_database(src, f"sqlite:///{tmp_path / 'a.db'}")
    foreign = f"sqlite+aiosqlite:///{tmp_path / 'foreign.db'}"
    await execute(foreign, "CREATE TABLE customers (id INTEGER PRIMARY KEY)")
    with pytest.raises(NotKalbotDatabase):
        await copy_database(src, foreign)
    with pytest.raises(NotKalbotDatabase):
        await copy_database(foreign, f"sqlite+aiosqlite:///{tmp_path / 'new.db'}")


async def test_a_table_created_outside_the_migrations_is_refused_not_dropped(
    tmp_path: Path,
) -> None:
    src = f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"
    await seed(src)
    await execute(src, "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    with pytest.raises(Refused, match="notes"):
        await copy_database(src, f"sqlite+aiosqlite:///{tmp_path / 'b.db'}")


@pytest.mark.postgres
async def test_a_lossy_target_column_fails_verification_and_rolls_back(
    sqlite_url: str, postgres_url: str
) -> None:
    await seed(sqlite_url)
    await migrate.upgrade(postgres_url)
    # A 4-byte REAL would turn 0.65 into 0.64999998: exactly what the checksum must catch.
    await execute(postgres_url, "ALTER TABLE positions ALTER COLUMN entry_price TYPE REAL")
    with pytest.raises(VerificationFailed, match="positions: checksum differs"):
        await copy_database(sqlite_url, postgres_url)
    assert await fetch(postgres_url, "SELECT COUNT(*) FROM market_snapshots") == [(0,)]


async def test_a_value_the_target_cannot_hold_names_table_and_row(tmp_path: Path) -> None:
    src = f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"
    dst = f"sqlite+aiosqlite:///{tmp_path / 'b.db'}"
    await seed(src)
    # SQLite lets any value into any column; an integer column holding text cannot be copied.
    await execute(src, "UPDATE positions SET quantity = 'many' WHERE id = 2")
    with pytest.raises(VerificationFailed, match=r"positions, row \{'id': 2\}.*not an integer"):
        await copy_database(src, dst)


def test_cli_copy_prints_the_verified_tables_and_fails_loudly_on_a_non_empty_target(
    tmp_path: Path,
) -> None:
    import asyncio

    src = f"sqlite:///{tmp_path / 'a.db'}"  # the plain form a person types
    dst = f"sqlite:///{tmp_path / 'sub' / 'b.db'}"
    asyncio.run(seed(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"))
    register_commands()
    runner = CliRunner()
    ok = runner.invoke(app, ["db", "copy", "--from", src, "--to", dst, "--batch-size", "2"])
    assert ok.exit_code == 0, ok.output
    assert "verified" in ok.stdout and "positions" in ok.stdout
    assert "4" in ok.stdout.split("positions ")[1].split("\n")[0]  # the positions row count
    again = runner.invoke(app, ["db", "copy", "--from", src, "--to", dst])
    assert again.exit_code == 1
    assert again.stderr.count("\n") == 1 and "not empty" in again.stderr
    assert "Traceback" not in again.output
    replaced = runner.invoke(app, ["db", "copy", "--from", src, "--to", dst, "--replace"])
    assert replaced.exit_code == 0, replaced.output


async def test_an_older_target_is_upgraded_to_the_sources_revision_and_a_newer_one_refused(
    tmp_path: Path,
) -> None:
    head = migrate.head()
    src = f"sqlite+aiosqlite:///{tmp_path / 'src.db'}"
    old = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    await seed(src)
    await migrate.upgrade(old, "0001")
    report = await copy_database(src, old)
    assert report.revision == head and await migrate.current(old) == head

    assert head != "0001"  # later revisions exist, so a target can be ahead of a source
    behind = f"sqlite+aiosqlite:///{tmp_path / 'behind.db'}"
    await migrate.upgrade(behind, "0001")
    await execute(
        behind,
        "INSERT INTO positions (ticker, side, quantity, entry_price, entry_time, status) "
        "VALUES ('X', 'yes', 1, 0.5, '2026-01-01T00:00:00Z', 'open')",
    )
    ahead = f"sqlite+aiosqlite:///{tmp_path / 'ahead.db'}"
    await migrate.upgrade(ahead)
    with pytest.raises(Refused, match="newer schema revision"):
        await copy_database(behind, ahead)
