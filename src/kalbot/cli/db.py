"""`kalbot db upgrade | downgrade | current | history`: the schema, owned by Alembic."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table

from kalbot.adapters.store import migrate
from kalbot.adapters.store.urls import async_url, redacted
from kalbot.cli.apps import db_app
from kalbot.cli.common import console, fail, run_async, settings_or_exit
from kalbot.domain.errors import StoreError

T = TypeVar("T")

UrlOption = Annotated[
    str | None,
    typer.Option("--url", help="Database URL (default: the configured database)."),
]


def _url(url: str | None) -> str:
    return url if url else settings_or_exit().database.effective_url()


def _shown(url: str) -> str:
    try:
        return redacted(async_url(url))
    except StoreError as e:
        fail(str(e))


def _run(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a schema operation; a failure is one line on stderr and exit code 1."""
    try:
        return run_async(factory)
    except StoreError as e:
        fail(str(e))
    except OSError as e:
        fail(f"{e.strerror or e}: {e.filename}" if e.filename else str(e))
    except Exception as e:  # the promise is one line and a non-zero exit, whatever broke
        detail = str(e).splitlines()[0] if str(e) else ""
        fail(f"unexpected {type(e).__name__}: {detail}")


@db_app.command("upgrade")
def upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
    url: UrlOption = None,
) -> None:
    """Create or upgrade the database schema (a new database is created this way)."""
    target = _url(url)
    shown = _shown(target)
    _run(lambda: migrate.upgrade(target, revision))
    now = _run(lambda: migrate.current(target))
    console.print(f"{shown}: schema at revision {now}", highlight=False)


@db_app.command("downgrade")
def downgrade(
    revision: Annotated[
        str, typer.Argument(help="Target revision: an id, -1 for one step, base for empty.")
    ] = "-1",
    url: UrlOption = None,
) -> None:
    """Take the schema down to an earlier revision (drops the later revisions' tables)."""
    target = _url(url)
    shown = _shown(target)
    _run(lambda: migrate.downgrade(target, revision))
    now = _run(lambda: migrate.current(target))
    console.print(f"{shown}: schema at revision {now or 'base (empty)'}", highlight=False)


@db_app.command("current")
def current(url: UrlOption = None) -> None:
    """Print the database's schema revision and whether it is the newest."""
    target = _url(url)
    shown = _shown(target)
    now = _run(lambda: migrate.current(target))
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
