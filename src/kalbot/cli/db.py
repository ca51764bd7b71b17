"""`kalbot db upgrade | downgrade | current | history`: the schema, owned by Alembic."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import typer
from rich.table import Table

from kalbot.adapters.store import migrate
from kalbot.adapters.store.urls import async_url, redacted
from kalbot.cli.apps import db_app
from kalbot.cli.common import DbUrlOption, console, database_url, fail, run_store_op
from kalbot.domain.errors import StoreError


def _shown(url: str) -> str:
    try:
        return redacted(async_url(url))
    except StoreError as e:
        fail(str(e))


def _move_schema(
    move: Callable[[str, str], Coroutine[Any, Any, None]], revision: str, url: str | None
) -> None:
    """Migrate to ``revision``, then say which revision the database is at now."""
    target = database_url(url)
    shown = _shown(target)
    run_store_op(lambda: move(target, revision))
    now = run_store_op(lambda: migrate.current(target))
    console.print(f"{shown}: schema at revision {now or 'base (empty)'}", highlight=False)


@db_app.command("upgrade")
def upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
    url: DbUrlOption = None,
) -> None:
    """Create or upgrade the database schema (a new database is created this way)."""
    _move_schema(migrate.upgrade, revision, url)


@db_app.command("downgrade")
def downgrade(
    revision: Annotated[
        str, typer.Argument(help="Target revision: an id, -1 for one step, base for empty.")
    ] = "-1",
    url: DbUrlOption = None,
) -> None:
    """Take the schema down to an earlier revision (drops the later revisions' tables)."""
    _move_schema(migrate.downgrade, revision, url)


@db_app.command("current")
def current(url: DbUrlOption = None) -> None:
    """Print the database's schema revision and whether it is the newest."""
    target = database_url(url)
    shown = _shown(target)
    now = run_store_op(lambda: migrate.current(target))
    head = migrate.head()
    state = "up to date" if now == head else f"behind: newest is {head}, run `kalbot db upgrade`"
    console.print(f"{shown}: revision {now or 'none (empty)'} ({state})", highlight=False)


@db_app.command("history")
def history() -> None:
    """List the schema revisions this version of kalbot knows, oldest first."""
    table = Table("revision", "down from", "change")
    for rev in migrate.history():
        table.add_row(rev.revision, rev.down_revision or "-", rev.message)
    console.print(table)
