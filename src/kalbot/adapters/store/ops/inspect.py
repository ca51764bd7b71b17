"""``kalbot db stats`` and ``kalbot db explain``: the spec's Monitoring and Query Optimization.

Explain only ever *plans* a statement: any EXPLAIN prefix the operator typed (the spec's
``EXPLAIN QUERY PLAN``, PostgreSQL's ``EXPLAIN (...)``) is replaced by the dialect's own
non-executing form, ANALYZE is refused, and on PostgreSQL the plan is taken in a READ ONLY
transaction that is rolled back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from kalbot.adapters.store.errors import DRIVER_ERRORS, translate
from kalbot.adapters.store.ops.connect import kalbot_schema, open_database
from kalbot.adapters.store.ops.errors import QueryFailed, Refused, one_line
from kalbot.adapters.store.ops.schema import quote
from kalbot.adapters.store.ops.urls import DatabaseUrl, parse_database_url


@dataclass(frozen=True)
class TableStats:
    name: str
    rows: int
    bytes: int | None  # table plus its indexes; None where the database cannot tell


@dataclass(frozen=True)
class DatabaseStats:
    database: str
    dialect: str
    revision: str | None
    size_bytes: int
    tables: tuple[TableStats, ...]


async def database_stats(url: str) -> DatabaseStats:
    """Size of the database, and rows and size of every table (largest first)."""
    db = parse_database_url(url)
    async with open_database(db) as engine:
        info = await kalbot_schema(engine, db)
        try:
            async with engine.connect() as conn:
                if db.is_sqlite:
                    size = _sqlite_file_size(db)
                    sizes = await _sqlite_table_sizes(conn)
                else:
                    size = int(
                        (
                            await conn.execute(text("SELECT pg_database_size(current_database())"))
                        ).scalar_one()
                    )
                    sizes = {}
                    for name in info.data_tables:
                        q = await conn.execute(
                            text("SELECT pg_total_relation_size(CAST(:t AS regclass))"),
                            {"t": quote(conn, name)},
                        )
                        sizes[name] = int(q.scalar_one())
                tables = []
                for name in info.data_tables:
                    rows = await conn.execute(text(f"SELECT COUNT(*) FROM {quote(conn, name)}"))
                    tables.append(TableStats(name, int(rows.scalar_one()), sizes.get(name)))
        except DRIVER_ERRORS as e:
            raise translate(e, f"reading statistics of {db.display}") from e
    tables.sort(key=lambda t: (-(t.bytes or 0), -t.rows, t.name))
    return DatabaseStats(db.display, db.dialect, info.revision, size, tuple(tables))


def _sqlite_file_size(db: DatabaseUrl) -> int:
    path = db.sqlite_path
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


async def _sqlite_table_sizes(conn: AsyncConnection) -> dict[str, int]:
    try:
        rows = (
            await conn.execute(text("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"))
        ).all()
    except DRIVER_ERRORS:
        return {}  # SQLite built without the dbstat table: sizes unknown, not guessed
    owner = {
        str(r[0]): str(r[1])
        for r in await conn.execute(text("SELECT name, tbl_name FROM sqlite_master"))
    }
    sizes: dict[str, int] = {}
    for name, size in rows:
        table = owner.get(str(name), str(name))
        sizes[table] = sizes.get(table, 0) + int(size or 0)
    return sizes


_EXPLAIN = re.compile(
    r"^\s*EXPLAIN\b\s*(?:QUERY\s+PLAN\b|\([^)]*\)|(?:ANALY[SZ]E|VERBOSE)\b\s*)*", re.IGNORECASE
)


def statement_to_plan(sql: str) -> str:
    """The statement without any EXPLAIN prefix or trailing semicolon; Refused for ANALYZE."""
    body = sql.strip().rstrip(";").strip()
    m = _EXPLAIN.match(body)
    if m:
        if re.search(r"ANALY[SZ]E", m.group(0), re.IGNORECASE):
            raise Refused("EXPLAIN ANALYZE would run the statement; `db explain` only plans it")
        body = body[m.end() :].strip()
    if not body:
        raise QueryFailed("no SQL statement to explain")
    return body


async def explain(url: str, sql: str) -> list[str]:
    """The query plan of ``sql`` as text lines (SQLite: EXPLAIN QUERY PLAN as a tree)."""
    db = parse_database_url(url)
    statement = statement_to_plan(sql)
    async with open_database(db) as engine:
        await kalbot_schema(engine, db)
        async with engine.connect() as conn:
            try:
                if db.is_sqlite:
                    rows = (await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}")).all()
                    return _sqlite_tree([(int(r[0]), int(r[1]), str(r[3])) for r in rows])
                await conn.exec_driver_sql("SET TRANSACTION READ ONLY")
                rows = (await conn.exec_driver_sql(f"EXPLAIN {statement}")).all()
                return [str(r[0]) for r in rows]
            except DRIVER_ERRORS as e:
                raise QueryFailed(f"the database rejected the statement: {one_line(e)}") from e
            finally:
                await conn.rollback()


def _sqlite_tree(rows: list[tuple[int, int, str]]) -> list[str]:
    depth: dict[int, int] = {0: -1}
    lines = ["QUERY PLAN"]
    for node, parent, detail in rows:
        depth[node] = depth.get(parent, -1) + 1
        lines.append(f"{'   ' * depth[node]}`--{detail}")
    return lines
