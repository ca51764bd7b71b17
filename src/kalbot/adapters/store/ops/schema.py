"""What a copy needs to know about each table: columns, kinds, primary key, dependency order."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from kalbot.adapters.store.ops.connect import ALEMBIC_TABLE
from kalbot.adapters.store.ops.values import Kind, kind_of


@dataclass(frozen=True)
class TableShape:
    """One table as reflected from one database."""

    name: str
    columns: tuple[str, ...]
    kinds: tuple[Kind, ...]
    primary_key: tuple[str, ...]

    def kind(self, column: str) -> Kind:
        return self.kinds[self.columns.index(column)]


def _reflect(conn: Connection) -> list[TableShape]:
    insp = inspect(conn)
    # Dependency order (parents first) so foreign keys hold while inserting.
    ordered = [name for name, _ in insp.get_sorted_table_and_fkc_names() if name is not None]
    shapes: list[TableShape] = []
    for name in ordered:
        if name == ALEMBIC_TABLE or name.startswith("sqlite_"):
            continue
        cols = insp.get_columns(name)
        pk = insp.get_pk_constraint(name).get("constrained_columns") or []
        shapes.append(
            TableShape(
                name=name,
                columns=tuple(c["name"] for c in cols),
                kinds=tuple(kind_of(c["type"]) for c in cols),
                primary_key=tuple(pk),
            )
        )
    return shapes


async def reflect_tables(conn: AsyncConnection) -> list[TableShape]:
    """Every data table (not Alembic's) in dependency order, parents first."""
    return await conn.run_sync(_reflect)


def quote(conn: AsyncConnection, name: str) -> str:
    """An identifier quoted for this connection's dialect."""
    return conn.dialect.identifier_preparer.quote(name)
