"""``kalbot db copy``: every table from one kalbot database into another, verified.

The algorithm, and why:

1. The source must be a kalbot database; its Alembic revision decides the schema. The target
   (empty, or a kalbot database at the same or an older revision) is *upgraded to that
   revision* with the project's migrations, so the target's DDL is the target dialect's own
   (SERIAL, TIMESTAMP, ...) rather than a text-rewritten dump.
2. Tables are discovered by reflecting the source, so tables later revisions add are copied
   without this module knowing them. Each must exist in the target with the same columns.
3. A target that already holds rows is refused unless ``replace=True`` (then emptied first).
4. The source is read in ONE snapshot (REPEATABLE READ on PostgreSQL, one read transaction on
   SQLite), ordered by primary key, in batches; each value is converted to the target column's
   kind; rows go in with COPY (PostgreSQL) or executemany (SQLite), all in ONE target
   transaction.
5. PostgreSQL sequences are set past max(id) (and past the source's own counter, so ids that
   were used and deleted are not handed out again); SQLite's sqlite_sequence likewise.
6. Before committing, every table is read back from the target and its row count and checksum
   (``values.TableDigest``) compared with the source's. Any difference rolls the whole copy back
   and raises VerificationFailed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg
from sqlalchemy import column, insert, table, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kalbot.adapters.store import migrate
from kalbot.adapters.store.ops.connect import kalbot_schema, open_database, schema_info
from kalbot.adapters.store.ops.errors import (
    NotKalbotDatabase,
    OpsError,
    Refused,
    VerificationFailed,
    one_line,
)
from kalbot.adapters.store.ops.schema import TableShape, quote, reflect_tables
from kalbot.adapters.store.ops.sequences import fix_sequences
from kalbot.adapters.store.ops.urls import DatabaseUrl, parse_database_url
from kalbot.adapters.store.ops.values import (
    ConversionError,
    Kind,
    TableDigest,
    compared_kind,
    converter,
)
from kalbot.domain.errors import StoreError

DEFAULT_BATCH_SIZE = 5000


class CopyProgress(Protocol):
    """What a copy reports as it goes (the CLI draws a Rich progress bar from it)."""

    def table_started(self, table: str, total_rows: int) -> None: ...

    def rows_copied(self, table: str, rows: int) -> None: ...

    def verifying(self, table: str) -> None: ...


class _Silent:
    def table_started(self, table: str, total_rows: int) -> None:
        pass

    def rows_copied(self, table: str, rows: int) -> None:
        pass

    def verifying(self, table: str) -> None:
        pass


@dataclass(frozen=True)
class TableResult:
    """One copied table: its row count and the checksum both sides agreed on."""

    table: str
    rows: int
    checksum: str


@dataclass(frozen=True)
class CopyReport:
    source: str
    target: str
    revision: str
    tables: tuple[TableResult, ...]

    @property
    def total_rows(self) -> int:
        return sum(t.rows for t in self.tables)


@dataclass(frozen=True)
class _Plan:
    """How one table moves: columns in source order and what each is compared as."""

    source: TableShape
    target: TableShape

    @property
    def columns(self) -> tuple[str, ...]:
        return self.source.columns

    def compared_kinds(self) -> list[Kind]:
        return [
            compared_kind(self.source.kind(c), self.target.kind(c)) for c in self.source.columns
        ]


async def copy_database(
    source_url: str,
    target_url: str,
    *,
    replace: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: CopyProgress | None = None,
) -> CopyReport:
    """Copy every table of the kalbot database at ``source_url`` into ``target_url``.

    Raises Refused (same database, non-empty target without ``replace``, target ahead of the
    source), NotKalbotDatabase, Unreachable, MissingFile, VerificationFailed, or StoreError
    from the migrations. On any error the target's data is left as it was.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    src = parse_database_url(source_url)
    dst = parse_database_url(target_url)
    if src.same_database_as(dst):
        raise Refused(f"source and target are the same database ({src.display})")
    sink: CopyProgress = progress or _Silent()
    async with open_database(src) as s_engine:
        info = await kalbot_schema(s_engine, src)
        revision = info.revision
        if revision is None:
            raise Refused(f"{src.display} has several schema heads {info.revisions}; cannot copy")
        async with open_database(dst, create=True) as t_engine:
            await _prepare_target(t_engine, dst, revision)
            results = await _copy(s_engine, t_engine, src, dst, replace, batch_size, sink)
    return CopyReport(src.display, dst.display, revision, tuple(results))


async def _prepare_target(engine: AsyncEngine, dst: DatabaseUrl, revision: str) -> None:
    async with engine.connect() as conn:
        info = await schema_info(conn)
    if info.tables and not info.revisions:
        raise NotKalbotDatabase(
            f"target {dst.display} has tables but is not a kalbot database; "
            "refusing to copy into it"
        )
    known = [r.revision for r in migrate.history()]
    if revision not in known:
        raise Refused(
            f"the source is at schema revision {revision!r}, which this kalbot does not know "
            "(is it from a newer version?)"
        )
    current = info.revision
    if current == revision:
        return
    if current is not None and current in known and known.index(current) > known.index(revision):
        raise Refused(
            f"target {dst.display} is at a newer schema revision ({current}) than the source "
            f"({revision}); upgrade the source first (`kalbot db upgrade --url ...`)"
        )
    await migrate.upgrade(dst.url, revision)


async def _copy(
    s_engine: AsyncEngine,
    t_engine: AsyncEngine,
    src: DatabaseUrl,
    dst: DatabaseUrl,
    replace: bool,
    batch_size: int,
    sink: CopyProgress,
) -> list[TableResult]:
    try:
        async with s_engine.connect() as s_conn:
            if not src.is_sqlite:
                # One snapshot for every table and every checksum, even while the bot writes.
                s_conn = await s_conn.execution_options(isolation_level="REPEATABLE READ")
            async with s_conn.begin(), t_engine.connect() as t_conn:
                if dst.is_sqlite:
                    t_conn.info["sqlite_begin"] = "BEGIN IMMEDIATE"
                async with t_conn.begin():
                    plans = await _plans(s_conn, t_conn, src, dst)
                    await _check_target_empty(t_conn, dst, replace, plans)
                    results = []
                    for plan in plans:
                        results.append(await _copy_table(s_conn, t_conn, plan, batch_size, sink))
                    await fix_sequences(s_conn, t_conn, [(p.source, p.target) for p in plans])
                    for plan, expected in zip(plans, results, strict=True):
                        sink.verifying(plan.target.name)
                        await _verify(t_conn, plan, expected, batch_size)
                t_conn.info.pop("sqlite_begin", None)
    except (OpsError, StoreError):
        raise
    except (SQLAlchemyError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
        # COPY goes through the raw asyncpg connection, so its errors arrive untranslated.
        raise OpsError(f"copy failed, target left unchanged: {one_line(e)}") from e
    return results


async def _plans(
    s_conn: AsyncConnection, t_conn: AsyncConnection, src: DatabaseUrl, dst: DatabaseUrl
) -> list[_Plan]:
    sources = {s.name: s for s in await reflect_tables(s_conn)}
    targets = await reflect_tables(t_conn)
    by_name = {t.name: t for t in targets}
    missing = sorted(set(sources) - set(by_name))
    if missing:
        raise Refused(
            f"table(s) {', '.join(missing)} exist in {src.display} but not in {dst.display} "
            "at the same schema revision (created outside the migrations?)"
        )
    plans: list[_Plan] = []
    for target in targets:  # the target's dependency order
        source = sources.get(target.name)
        if source is None:
            continue
        if set(source.columns) != set(target.columns):
            only_s = sorted(set(source.columns) - set(target.columns))
            only_t = sorted(set(target.columns) - set(source.columns))
            raise Refused(
                f"table {target.name}: columns differ (only in source: {only_s or '-'}; "
                f"only in target: {only_t or '-'})"
            )
        plans.append(_Plan(source, target))
    return plans


async def _count(conn: AsyncConnection, name: str) -> int:
    return int((await conn.execute(text(f"SELECT COUNT(*) FROM {quote(conn, name)}"))).scalar_one())


async def _check_target_empty(
    t_conn: AsyncConnection, dst: DatabaseUrl, replace: bool, plans: Sequence[_Plan]
) -> None:
    filled = [(p.target.name, n) for p in plans if (n := await _count(t_conn, p.target.name))]
    if not filled:
        return
    if not replace:
        shown = ", ".join(f"{name}: {n} rows" for name, n in filled[:4])
        raise Refused(
            f"target {dst.display} is not empty ({shown}); pass --replace to overwrite it"
        )
    for plan in reversed(plans):  # children first
        await t_conn.execute(text(f"DELETE FROM {quote(t_conn, plan.target.name)}"))


def _select(conn: AsyncConnection, shape: TableShape, columns: Sequence[str]) -> str:
    cols = ", ".join(quote(conn, c) for c in columns)
    order = []
    for pk in shape.primary_key:
        q = quote(conn, pk)
        if conn.dialect.name == "postgresql" and shape.kind(pk) == Kind.TEXT:
            q += ' COLLATE "C"'  # byte order, SQLite's BINARY collation
        order.append(q)
    order_by = f" ORDER BY {', '.join(order)}" if order else ""
    return f"SELECT {cols} FROM {quote(conn, shape.name)}{order_by}"


async def _copy_table(
    s_conn: AsyncConnection,
    t_conn: AsyncConnection,
    plan: _Plan,
    batch_size: int,
    sink: CopyProgress,
) -> TableResult:
    name = plan.target.name
    sink.table_started(name, await _count(s_conn, plan.source.name))
    digest = TableDigest(plan.compared_kinds(), ordered=bool(plan.source.primary_key))
    convert = [converter(plan.target.kind(c), t_conn.dialect.name) for c in plan.columns]
    target_table = table(name, *(column(c) for c in plan.columns))
    result = await s_conn.stream(text(_select(s_conn, plan.source, plan.columns)))
    async for batch in result.partitions(batch_size):
        try:
            digest.add_many(batch)
            rows = [tuple([f(v) for f, v in zip(convert, raw, strict=True)]) for raw in batch]
        except ConversionError as e:
            raise VerificationFailed(f"table {name}, {_culprit(batch, plan, convert)}: {e}") from e
        await _insert(t_conn, target_table, plan.columns, rows)
        sink.rows_copied(name, len(rows))
    return TableResult(name, digest.rows, digest.hexdigest())


def _culprit(batch: Sequence[Any], plan: _Plan, convert: Sequence[Any]) -> str:
    """Name the first row of a batch that does not convert (to point the operator at it)."""
    for raw in batch:
        try:
            for f, v in zip(convert, raw, strict=True):
                f(v)
        except ConversionError:
            pk = {k: raw[plan.columns.index(k)] for k in plan.source.primary_key}
            return f"row {pk or tuple(raw)}"
    return "a row"


async def _insert(
    conn: AsyncConnection, target: Any, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        raw = await conn.get_raw_connection()
        # COPY is PostgreSQL's bulk path; it runs inside the transaction SQLAlchemy opened.
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            target.name, records=rows, columns=list(columns)
        )
        return
    await conn.execute(insert(target), [dict(zip(columns, r, strict=True)) for r in rows])


async def _verify(
    t_conn: AsyncConnection, plan: _Plan, expected: TableResult, batch_size: int
) -> None:
    digest = TableDigest(plan.compared_kinds(), ordered=bool(plan.target.primary_key))
    result = await t_conn.stream(text(_select(t_conn, plan.target, plan.columns)))
    async for batch in result.partitions(batch_size):
        digest.add_many(batch)
    if digest.rows != expected.rows:
        raise VerificationFailed(
            f"table {plan.target.name}: {expected.rows} rows in the source but {digest.rows} "
            "in the target; copy rolled back"
        )
    if digest.hexdigest() != expected.checksum:
        raise VerificationFailed(
            f"table {plan.target.name}: checksum differs (source {expected.checksum[:16]}…, "
            f"target {digest.hexdigest()[:16]}…); copy rolled back"
        )
