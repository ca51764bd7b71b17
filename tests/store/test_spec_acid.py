"""The acid test: every SQL statement in DATABASE_SCHEMA.md runs against a freshly upgraded
database and returns the right rows — SQLite-dialect statements on SQLite, PostgreSQL ones (and
equivalents of SQLite's date functions) on PostgreSQL. The SQL is read from the spec itself.

Each statement's treatment per database is in PLAN, with the reason whenever it is not run
verbatim; a statement the spec gains later fails ``test_every_spec_statement_has_a_plan``.
"""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest

from kalbot.adapters.store import migrate
from kalbot.adapters.store.repository import Repository
from kalbot.adapters.store.tables import KALBOT_TABLES, SPEC_TABLES
from kalbot.domain.prices import Side
from kalbot.domain.records import DailyPnl, MarketPerformance

from .spec_sql import Statement, statements

VERBATIM = "verbatim"
EQUIVALENT = "equivalent"
SPEC_DB = "verbatim on an empty database, compared with the upgraded one"
NA = "not run"

# (section contains, first line starts with) -> (sqlite treatment, postgresql treatment, reason)
PLAN: list[tuple[str, str, str, str, str]] = [
    (
        "Table Definitions",
        "CREATE TABLE",
        SPEC_DB,
        EQUIVALENT,
        "PostgreSQL: the spec's own sed conversion (SERIAL, TIMESTAMP) then compared; REAL is "
        "DOUBLE PRECISION in ours (PostgreSQL REAL is 4-byte, see docs/storage.md)",
    ),
    (
        "Table Definitions",
        "CREATE INDEX",
        SPEC_DB,
        SPEC_DB,
        "revision 0001 has created them; run on an empty database (PostgreSQL: an empty schema) "
        "and compared index by index with the upgraded one",
    ),
    ("Table Definitions", "INSERT INTO", VERBATIM, VERBATIM, ""),
    ("Common Queries / Get all open positions", "SELECT", VERBATIM, VERBATIM, ""),
    (
        "Common Queries / Calculate daily PnL",
        "SELECT",
        VERBATIM,
        VERBATIM,
        "PostgreSQL accepts DATE(text) as a cast",
    ),
    (
        "Common Queries / Get AI cost for today",
        "SELECT",
        VERBATIM,
        VERBATIM,
        "PostgreSQL session in UTC, as SQLite's DATE('now') is",
    ),
    (
        "Common Queries / Find best performing markets",
        "SELECT",
        VERBATIM,
        EQUIVALENT,
        "PostgreSQL cannot name an output column in HAVING: HAVING COUNT(*) >= 3",
    ),
    ("Common Queries / Get position history", "SELECT", VERBATIM, VERBATIM, ""),
    (
        "Adding New Columns",
        "ALTER TABLE positions ADD COLUMN strategy_name TEXT",
        VERBATIM,
        NA,
        "the spec labels it SQLite; PostgreSQL runs its own VARCHAR(50) variant",
    ),
    (
        "Adding New Columns",
        "ALTER TABLE positions ADD COLUMN strategy_name VARCHAR",
        NA,
        VERBATIM,
        "the spec labels it PostgreSQL; SQLite runs its own TEXT variant",
    ),
    (
        "Indexing Strategy",
        "CREATE INDEX",
        SPEC_DB,
        SPEC_DB,
        "revision 0001 already creates these indexes; on the upgraded database the test checks "
        "they exist with the same columns",
    ),
    (
        "Query Optimization",
        "EXPLAIN QUERY PLAN",
        VERBATIM,
        EQUIVALENT,
        "PostgreSQL's form is EXPLAIN (no QUERY PLAN)",
    ),
    (
        "Data Retention",
        "DELETE FROM market_snapshots",
        VERBATIM,
        EQUIVALENT,
        "PostgreSQL has no datetime('now', ...): the same ISO text bound from now() - interval",
    ),
    ("Data Retention", "INSERT INTO positions_archive", VERBATIM, EQUIVALENT, "as above"),
    ("Data Retention", "DELETE FROM positions", VERBATIM, EQUIVALENT, "as above"),
    (
        "Database Size",
        "SELECT",
        NA,
        EQUIVALENT,
        "PostgreSQL function; on PostgreSQL the literal 'kalshi_trading' is replaced by the test's "
        "scratch database name (SQLite's size is a file size: `ls -lh`, not SQL)",
    ),
    ("Table Sizes", "SELECT", NA, VERBATIM, "PostgreSQL catalog query"),
]

ALL = statements()


def _plan_for(s: Statement) -> list[tuple[str, str, str, str, str]]:
    return [p for p in PLAN if p[0] in s.section and s.first_line.startswith(p[1])]


def pick(section: str, prefix: str) -> list[Statement]:
    found = [s for s in ALL if section in s.section and s.first_line.startswith(prefix)]
    assert found, f"the spec has no statement under {section!r} starting {prefix!r}"
    return found


def one(section: str, prefix: str) -> str:
    found = pick(section, prefix)
    assert len(found) == 1, [s.first_line for s in found]
    return found[0].sql


def test_every_spec_statement_has_a_plan() -> None:
    assert len(ALL) >= 30
    for s in ALL:
        assert len(_plan_for(s)) == 1, f"no single plan for {s.section}: {s.first_line}"
    for p in PLAN:
        if p[2] != VERBATIM or p[3] != VERBATIM:
            assert p[4], f"a statement not run verbatim everywhere needs a reason: {p}"


def _norm(sql: str) -> str:
    sql = re.sub(r"--[^\n]*", "", sql)
    return re.sub(r"\s+", " ", sql).replace("( ", "(").replace(" )", ")").strip()


# ---------------------------------------------------------------- shared data


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


async def _fill(repo: Repository) -> dict[str, object]:
    """Rows the queries are checked against, written through the repository."""
    now = _now()
    ids: dict[str, object] = {}
    closed = []
    for i, (ticker, side, entry, exit_) in enumerate(
        [
            ("KXBTC-24DEC-50K", "yes", "0.40", "0.50"),
            ("KXBTC-24DEC-50K", "no", "0.30", "0.20"),
            ("KXETH", "yes", "0.20", "0.50"),
            ("KXETH", "no", "0.60", "0.70"),
            ("KXETH", "yes", "0.50", "0.45"),
        ]
    ):
        p = await repo.add_position(
            ticker=ticker,
            side=Side(side),
            quantity=10,
            entry_price=Decimal(entry),
            entry_time=now - timedelta(days=3, hours=i),
        )
        await repo.close_position(
            p.id,
            exit_price=Decimal(exit_),
            exit_time=now - timedelta(days=2, hours=i),
            close_reason="test",
        )
        closed.append(p.id)
    old = await repo.add_position(
        ticker="KXOLD",
        side=Side.YES,
        quantity=1,
        entry_price=Decimal("0.5"),
        entry_time=now - timedelta(days=800),
    )
    await repo.close_position(
        old.id, exit_price=Decimal("1"), exit_time=now - timedelta(days=700), close_reason="old"
    )
    open_ = await repo.add_position(
        ticker="KXBTC-24DEC-50K",
        side=Side.NO,
        quantity=5,
        entry_price=Decimal("0.35"),
        entry_time=now - timedelta(hours=1),
    )
    for cost in ("0.05", "0.07"):
        await repo.add_market_analysis(
            ticker="KXETH", ai_provider="openai", cost=Decimal(cost), timestamp=now
        )
    await repo.add_market_analysis(
        ticker="KXETH",
        ai_provider="openai",
        cost=Decimal("5"),
        timestamp=now - timedelta(days=2),
    )
    from kalbot.domain.snapshot import Snapshot

    snaps = [
        Snapshot(
            now - timedelta(days=d),
            "KXETH",
            None,
            0.5,
            0.49,
            0.51,
            0.49,
            0.51,
            1,
            1,
            None,
            "Crypto",
        )
        for d in (100, 91, 10, 0)
    ]
    await repo.add_snapshots(snaps)
    ids.update(closed=closed, old=old.id, open=open_.id, now=now)
    return ids


# ---------------------------------------------------------------- SQLite


async def _through_the_repository(
    url: str,
) -> tuple[dict[str, object], list[DailyPnl], list[MarketPerformance]]:
    """The spec's example row read back exactly, then the bot's own rows and its reports."""
    repo = Repository(url)
    await repo.initialize()
    try:
        example = await repo.get_position(1)
        assert (example.ticker, example.side, example.quantity) == (
            "KXBTC-24DEC-50K",
            Side.YES,
            100,
        )
        assert (example.entry_price, example.exit_price, example.pnl) == (
            Decimal("0.65"),
            Decimal("0.72"),
            Decimal("7"),
        )
        return await _fill(repo), await repo.daily_pnl(), await repo.best_markets()
    finally:
        await repo.close()


async def test_spec_sql_on_sqlite(tmp_path: Path) -> None:
    # 1. The spec's DDL, verbatim, on an empty database: same tables as revision 0001.
    spec_db = sqlite3.connect(tmp_path / "spec.db")
    for s in pick("Table Definitions", "CREATE") + pick("Indexing Strategy", "CREATE INDEX"):
        spec_db.execute(s.sql)
    ours_path = tmp_path / "ours.db"
    await migrate.upgrade(f"sqlite:///{ours_path}")
    ours = sqlite3.connect(ours_path)

    def table_sql(db: sqlite3.Connection, name: str) -> str:
        return str(
            db.execute("SELECT sql FROM sqlite_master WHERE name = ?", (name,)).fetchone()[0]
        )

    def indexes(db: sqlite3.Connection, table: str) -> dict[str, list[str]]:
        out = {}
        for row in db.execute(f"PRAGMA index_list({table})"):
            if not row[1].startswith("sqlite_autoindex"):
                out[row[1]] = [c[2] for c in db.execute(f"PRAGMA index_info({row[1]})")]
        return out

    for table in SPEC_TABLES:
        assert _norm(table_sql(ours, table)) == _norm(table_sql(spec_db, table)), table
        assert (
            ours.execute(f"PRAGMA table_info({table})").fetchall()
            == spec_db.execute(f"PRAGMA table_info({table})").fetchall()
        )
        theirs = indexes(spec_db, table)
        mine = indexes(ours, table)
        assert {k: mine[k] for k in theirs} == theirs, table
    extra = {k for t in SPEC_TABLES for k in indexes(ours, t)} - {
        k for t in SPEC_TABLES for k in indexes(spec_db, t)
    }
    assert extra == {"idx_analyses_ticker_timestamp", "uq_cost_date_provider"}
    assert indexes(ours, "market_analyses")["idx_analyses_ticker_timestamp"] == [
        "ticker",
        "timestamp",
    ]
    # The "custom" indexes exist already, so running them on the upgraded database is refused.
    for s in pick("Indexing Strategy", "CREATE INDEX"):
        with pytest.raises(sqlite3.OperationalError, match="already exists"):
            ours.execute(s.sql)
    ours.close()
    spec_db.close()

    # 2. Example rows, then the bot's own rows through the repository.
    db = sqlite3.connect(ours_path, isolation_level=None)
    db.execute(one("`positions`", "INSERT INTO"))
    db.execute(one("`market_analyses`", "INSERT INTO"))
    data, daily_repo, best_repo = await _through_the_repository(f"sqlite:///{ours_path}")
    now = data["now"]
    assert isinstance(now, datetime)

    # 3. Common queries, verbatim.
    open_rows = db.execute(one("Get all open positions", "SELECT")).fetchall()
    assert [r[0] for r in open_rows] == [data["open"]]
    daily = db.execute(one("Calculate daily PnL", "SELECT")).fetchall()
    assert [(d.day.isoformat(), d.num_trades) for d in daily_repo] == [(r[0], r[2]) for r in daily]
    assert [round(r[1], 6) for r in daily] == [float(d.total_pnl) for d in daily_repo]
    # the example's 2024-11-16, the day(s) of the five recent exits, and 700 days ago
    recent_days = {(now - timedelta(days=2, hours=i)).date() for i in range(5)}
    assert len(daily) == 2 + len(recent_days)
    (cost_today,) = db.execute(one("Get AI cost for today", "SELECT")).fetchone()
    assert round(cost_today, 6) == 0.12
    best = db.execute(one("Find best performing markets", "SELECT")).fetchall()
    assert [(r[0], r[1]) for r in best] == [("KXBTC-24DEC-50K", 3), ("KXETH", 3)]
    assert [(m.ticker, m.num_trades, float(m.total_pnl)) for m in best_repo] == [
        (r[0], r[1], round(r[2], 6)) for r in best
    ]
    # the example's 7.00, +1.00 (YES 0.40 -> 0.50) and -1.00 (NO 0.30 -> 0.20)
    assert (best[0][2], best[1][2]) == (pytest.approx(7.0), pytest.approx(3.5))
    assert (best[0][4], best[1][4]) == (pytest.approx(200 / 3), pytest.approx(200 / 3))
    history = db.execute(one("Get position history", "SELECT")).fetchall()
    assert history[0][0] == data["open"]
    assert history[-1][0] == 1  # the example row entered in 2024

    # 4. The query plan uses the positions indexes.
    plan = " ".join(str(r[-1]) for r in db.execute(one("Query Optimization", "EXPLAIN")))
    assert "USING INDEX idx_positions_" in plan

    # 5. Retention: snapshots older than 90 days go; closed positions older than a year move.
    db.execute(one("Data Retention", "DELETE FROM market_snapshots"))
    kept = [r[0] for r in db.execute("SELECT timestamp FROM market_snapshots ORDER BY timestamp")]
    assert len(kept) == 2 and all(k >= (now - timedelta(days=90)).isoformat()[:10] for k in kept)
    before = db.execute("SELECT * FROM positions WHERE id = ?", (data["old"],)).fetchone()
    db.execute("BEGIN")
    db.execute(one("Data Retention", "INSERT INTO positions_archive"))
    db.execute(one("Data Retention", "DELETE FROM positions"))
    db.execute("COMMIT")
    archived = db.execute("SELECT * FROM positions_archive").fetchall()
    # the example row exited 2024-11-16, more than a year before this test runs
    assert before in archived and {r[0] for r in archived} == {data["old"], 1}
    assert db.execute("SELECT COUNT(*) FROM positions WHERE id = ?", (data["old"],)).fetchone() == (
        0,
    )

    # 6. The SQLite form of "Adding New Columns".
    db.execute(one("Adding New Columns", "ALTER TABLE positions ADD COLUMN strategy_name TEXT"))
    cols = [r[1] for r in db.execute("PRAGMA table_info(positions)")]
    assert cols[-1] == "strategy_name"
    db.close()


# ---------------------------------------------------------------- PostgreSQL


def _pg_dates(sql: str) -> str:
    """SQLite's datetime('now', '-N days|year') as the same ISO text on PostgreSQL."""

    def repl(m: re.Match[str]) -> str:
        amount, unit = m.group(1), m.group(2)
        return (
            f"to_char((now() AT TIME ZONE 'UTC') + interval '{amount} {unit}', "
            '\'YYYY-MM-DD"T"HH24:MI:SS"Z"\')'
        )

    out, n = re.subn(r"datetime\('now',\s*'([-+]?\d+) (days?|years?)'\)", repl, sql)
    assert n == 1, sql
    return out


def _spec_ddl_for_postgres(sql: str) -> str:
    # The spec's own recipe (its "SQLite to PostgreSQL Migration" sed lines).
    sql = sql.replace("INTEGER PRIMARY KEY AUTOINCREMENT", "SERIAL PRIMARY KEY")
    return sql.replace("TEXT DEFAULT CURRENT_TIMESTAMP", "TIMESTAMP DEFAULT CURRENT_TIMESTAMP")


async def test_spec_sql_on_postgresql(postgres_url: str) -> None:
    await migrate.upgrade(postgres_url)
    name = postgres_url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(postgres_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute("SET TIME ZONE 'UTC'")
        # 1. The spec's DDL through its own conversion, in a schema of its own: same columns.
        await conn.execute("CREATE SCHEMA spec")
        await conn.execute("SET search_path TO spec")
        for s in pick("Table Definitions", "CREATE") + pick("Indexing Strategy", "CREATE INDEX"):
            await conn.execute(_spec_ddl_for_postgres(s.sql))
        await conn.execute("SET search_path TO public")
        cols_sql = (
            "SELECT table_name, column_name, data_type, is_nullable, column_default "
            "FROM information_schema.columns WHERE table_schema = $1 AND table_name = ANY($2) "
            "ORDER BY table_name, ordinal_position"
        )
        theirs = await conn.fetch(cols_sql, "spec", list(SPEC_TABLES))
        mine = await conn.fetch(cols_sql, "public", list(SPEC_TABLES))
        assert len(theirs) == len(mine)
        for t, m in zip(theirs, mine, strict=True):
            expected = dict(t)
            if expected["data_type"] == "real":
                expected["data_type"] = "double precision"  # the one deliberate difference
            expected["column_default"] = (expected["column_default"] or "").replace("spec.", "")
            got = dict(m)
            got["column_default"] = got["column_default"] or ""
            assert got == expected
        idx_sql = "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1"
        spec_idx = {r[0]: r[1].replace("spec.", "") for r in await conn.fetch(idx_sql, "spec")}
        our_idx = {r[0]: r[1].replace("public.", "") for r in await conn.fetch(idx_sql, "public")}
        for index, definition in spec_idx.items():
            assert our_idx.get(index) == definition, index
        for s in pick("Indexing Strategy", "CREATE INDEX"):
            with pytest.raises(asyncpg.exceptions.DuplicateTableError):
                await conn.execute(s.sql)
        checks_sql = (
            "SELECT conname, pg_get_constraintdef(k.oid) FROM pg_constraint k "
            "JOIN pg_class c ON c.oid = k.conrelid WHERE k.contype = 'c' "
            "AND k.connamespace = $1::regnamespace AND c.relname = ANY($2) ORDER BY conname"
        )
        checks = await conn.fetch(checks_sql, "spec", list(SPEC_TABLES))
        ours_checks = await conn.fetch(checks_sql, "public", list(SPEC_TABLES))
        assert [tuple(r) for r in checks] == [tuple(r) for r in ours_checks]

        # 2. Example rows verbatim. Explicit ids do not move a SERIAL sequence, so it is set
        # afterwards, as any import into PostgreSQL must.
        await conn.execute(one("`positions`", "INSERT INTO"))
        await conn.execute(one("`market_analyses`", "INSERT INTO"))
        for table in ("positions", "market_analyses"):
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT MAX(id) FROM {table}))"
            )
        data, daily_repo, best_repo = await _through_the_repository(postgres_url)

        # 3. Common queries.
        open_rows = await conn.fetch(one("Get all open positions", "SELECT"))
        assert [r["id"] for r in open_rows] == [data["open"]]
        daily = await conn.fetch(one("Calculate daily PnL", "SELECT"))
        assert [(d.day, d.num_trades) for d in daily_repo] == [(r[0], r[2]) for r in daily]
        assert [round(r[1], 6) for r in daily] == [float(d.total_pnl) for d in daily_repo]
        cost_today = await conn.fetchval(one("Get AI cost for today", "SELECT"))
        assert round(cost_today, 6) == 0.12
        best_sql = one("Find best performing markets", "SELECT")
        with pytest.raises(asyncpg.exceptions.UndefinedColumnError):
            await conn.fetch(best_sql)  # the reason it needs an equivalent
        best = await conn.fetch(best_sql.replace("HAVING num_trades", "HAVING COUNT(*)"))
        assert [(r[0], r[1]) for r in best] == [("KXBTC-24DEC-50K", 3), ("KXETH", 3)]
        assert [(m.ticker, float(m.total_pnl)) for m in best_repo] == [
            (r[0], round(r[2], 6)) for r in best
        ]
        history = await conn.fetch(one("Get position history", "SELECT"))
        assert history[0]["id"] == data["open"] and history[-1]["id"] == 1

        # 4. EXPLAIN: with sequential scans off the plan shows the positions index is usable.
        explain = one("Query Optimization", "EXPLAIN").replace("EXPLAIN QUERY PLAN", "EXPLAIN", 1)
        await conn.execute("SET enable_seqscan = off")
        plan = " ".join(r[0] for r in await conn.fetch(explain))
        await conn.execute("RESET enable_seqscan")
        assert "idx_positions_" in plan

        # 5. Retention, with the date function's equivalent.
        await conn.execute(_pg_dates(one("Data Retention", "DELETE FROM market_snapshots")))
        assert await conn.fetchval("SELECT COUNT(*) FROM market_snapshots") == 2
        before = await conn.fetchrow("SELECT * FROM positions WHERE id = $1", data["old"])
        async with conn.transaction():
            await conn.execute(_pg_dates(one("Data Retention", "INSERT INTO positions_archive")))
            await conn.execute(_pg_dates(one("Data Retention", "DELETE FROM positions")))
        archived = await conn.fetch("SELECT * FROM positions_archive ORDER BY id")
        assert [r["id"] for r in archived] == sorted([1, data["old"]])  # type: ignore[type-var]
        assert dict(before) in [dict(r) for r in archived]

        # 6. Monitoring.
        size_sql = one("Database Size", "SELECT")
        size = await conn.fetchval(size_sql.replace("'kalshi_trading'", f"'{name}'"))
        assert re.fullmatch(r"\d+ (bytes|kB|MB)", size)
        tables = {r[0] for r in await conn.fetch(one("Table Sizes", "SELECT"))}
        assert set(KALBOT_TABLES) <= tables

        # 7. The PostgreSQL form of "Adding New Columns".
        await conn.execute(
            one("Adding New Columns", "ALTER TABLE positions ADD COLUMN strategy_name VARCHAR")
        )
        t = await conn.fetchval(
            "SELECT data_type FROM information_schema.columns WHERE table_schema = 'public' "
            "AND table_name = 'positions' AND column_name = 'strategy_name'"
        )
        assert t == "character varying"
    finally:
        await conn.close()
