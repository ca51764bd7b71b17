"""Id counters after a copy: an id the source handed out is never handed out again."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from kalbot.adapters.store.ops.schema import TableShape, quote
from kalbot.adapters.store.ops.values import Kind


async def _id_floor(conn: AsyncConnection, source: TableShape, pk: str) -> int:
    """The highest id the source ever handed out for this table (deleted rows included)."""
    name = source.name
    if conn.dialect.name == "sqlite":
        has_seq = (
            await conn.execute(
                text("SELECT 1 FROM sqlite_master WHERE type='table' AND name='sqlite_sequence'")
            )
        ).first()
        if not has_seq:
            return 0
        row = (
            await conn.execute(text("SELECT seq FROM sqlite_sequence WHERE name = :t"), {"t": name})
        ).first()
        return int(row[0]) if row and row[0] is not None else 0
    seq = (
        await conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": name, "c": pk})
    ).scalar()
    if not seq:
        return 0
    last, called = (await conn.execute(text(f"SELECT last_value, is_called FROM {seq}"))).one()
    return int(last) if called else int(last) - 1


async def fix_sequences(
    s_conn: AsyncConnection,
    t_conn: AsyncConnection,
    tables: Sequence[tuple[TableShape, TableShape]],
) -> None:
    """Move each target table's id counter past max(id) and past the source's own counter.

    ``tables`` pairs each source table with its target. PostgreSQL: ``setval`` on the serial
    column's sequence. SQLite: ``sqlite_sequence`` for AUTOINCREMENT tables (SQLite keeps it
    at max(id) by itself; the source's higher counter is what a plain insert would lose).
    """
    for source, target in tables:
        pks = target.primary_key
        if len(pks) != 1 or target.kind(pks[0]) != Kind.INTEGER:
            continue
        pk, name = pks[0], target.name
        q_name, q_pk = quote(t_conn, name), quote(t_conn, pk)
        floor = await _id_floor(s_conn, source, pk)
        if t_conn.dialect.name == "postgresql":
            seq = (
                await t_conn.execute(
                    text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": name, "c": pk}
                )
            ).scalar()
            if not seq:
                continue
            top = (
                await t_conn.execute(text(f"SELECT COALESCE(MAX({q_pk}), 0) FROM {q_name}"))
            ).scalar_one()
            value = max(int(top), floor)
            # setval(seq, v, true): the next id is v + 1; an empty table restarts at 1.
            await t_conn.execute(
                text("SELECT setval(CAST(:s AS regclass), :v, :called)"),
                {"s": seq, "v": max(value, 1), "called": value > 0},
            )
        else:
            autoinc = (
                await t_conn.execute(
                    text("SELECT sql FROM sqlite_master WHERE type='table' AND name=:t"),
                    {"t": name},
                )
            ).scalar()
            if not autoinc or "AUTOINCREMENT" not in str(autoinc).upper() or floor <= 0:
                continue  # SQLite already keeps sqlite_sequence >= max(id) on insert
            updated = await t_conn.execute(
                text("UPDATE sqlite_sequence SET seq = :f WHERE name = :t AND seq < :f"),
                {"f": floor, "t": name},
            )
            if updated.rowcount == 0:
                exists = (
                    await t_conn.execute(
                        text("SELECT 1 FROM sqlite_sequence WHERE name = :t"), {"t": name}
                    )
                ).first()
                if not exists:
                    await t_conn.execute(
                        text("INSERT INTO sqlite_sequence (name, seq) VALUES (:t, :f)"),
                        {"t": name, "f": floor},
                    )
