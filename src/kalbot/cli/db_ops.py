"""`kalbot db backup | restore | dump | copy | cleanup | archive | stats | explain`.

Thin: parse, call ``kalbot.adapters.store.ops``, print. Every failure is one line on stderr and
a non-zero exit (1: the operation failed; 2: Typer's usage errors).
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Protocol

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table

from kalbot.adapters.store.ops.backup import backup_database, dump_database
from kalbot.adapters.store.ops.copy import DEFAULT_BATCH_SIZE, copy_database
from kalbot.adapters.store.ops.inspect import database_stats, explain
from kalbot.adapters.store.ops.restore import restore_database
from kalbot.adapters.store.ops.retention import (
    RetentionResult,
    archive_closed_positions,
    cleanup_snapshots,
    parse_age,
)
from kalbot.cli.apps import db_app
from kalbot.cli.common import DbUrlOption, console, database_url, err_console, run_store_op
from kalbot.domain.clock import SystemClock


def _size(n: int | None) -> str:
    if n is None:
        return "n/a"
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


@db_app.command("backup")
def backup(
    url: DbUrlOption = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Backup file (default: timestamped).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Back up the database: SQLite online backup API, or pg_dump -Fc for PostgreSQL."""
    target = database_url(url)
    result = run_store_op(
        lambda: backup_database(target, output, now=SystemClock().now(), force=force)
    )
    console.print(
        f"backed up revision {result.revision} to {result.path} "
        f"({result.format}, {_size(result.bytes)})",
        highlight=False,
        soft_wrap=True,
    )


@db_app.command("restore")
def restore(
    file: Annotated[Path, typer.Argument(help="A backup from `kalbot db backup` or `db dump`.")],
    url: DbUrlOption = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace a database that holds rows.")
    ] = False,
) -> None:
    """Replace the database's contents with a backup, all or nothing."""
    target = database_url(url)
    result = run_store_op(lambda: restore_database(target, file, force=force))
    console.print(
        f"restored {result.source} ({result.format}) into {result.target}; "
        f"schema revision {result.revision}",
        highlight=False,
        soft_wrap=True,
    )


@db_app.command("dump")
def dump(
    url: DbUrlOption = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="SQL file (default: stdout).")
    ] = None,
) -> None:
    """Write the database as plain SQL (sqlite3 .dump / pg_dump plain)."""
    source = database_url(url)
    if output is None:
        run_store_op(lambda: dump_database(source, sys.stdout.write))
        return
    partial = output.with_name(output.name + ".partial")

    async def to_file() -> None:
        with partial.open("w", encoding="utf-8") as f:
            await dump_database(source, f.write)
        partial.replace(output)

    try:
        run_store_op(to_file)
    finally:
        partial.unlink(missing_ok=True)
    err_console.print(
        f"dumped {source.split('://')[0]} database to {output}", highlight=False, soft_wrap=True
    )


class _RichCopyProgress:
    """A progress bar per table, on stderr so stdout stays clean for scripts.

    It starts drawing with the first table, so a copy refused up front prints only its error.
    """

    def __init__(self) -> None:
        self._progress = Progress(
            TextColumn("{task.description:<32}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=err_console,
        )
        self._tasks: dict[str, TaskID] = {}

    def table_started(self, table: str, total_rows: int) -> None:
        if not self._tasks:
            self._progress.start()
        self._tasks[table] = self._progress.add_task(table, total=max(total_rows, 1))
        if total_rows == 0:
            self._progress.update(self._tasks[table], completed=1)

    def rows_copied(self, table: str, rows: int) -> None:
        self._progress.advance(self._tasks[table], rows)

    def verifying(self, table: str) -> None:
        self._progress.update(self._tasks[table], description=f"{table} (verifying)")

    def stop(self) -> None:
        if self._tasks:
            self._progress.stop()


@db_app.command("copy")
def copy(
    to_url: Annotated[str, typer.Option("--to", help="Target database URL.")],
    from_url: Annotated[
        str | None, typer.Option("--from", help="Source URL (default: the configured database).")
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Empty a non-empty target first.")
    ] = False,
    batch_size: Annotated[int, typer.Option(min=1, help="Rows per batch.")] = DEFAULT_BATCH_SIZE,
) -> None:
    """Copy every table between SQLite and PostgreSQL, verified by row counts and checksums."""
    source = database_url(from_url)
    bars = _RichCopyProgress()
    try:
        report = run_store_op(
            lambda: copy_database(
                source, to_url, replace=replace, batch_size=batch_size, progress=bars
            )
        )
    finally:
        bars.stop()
    table = Table(title=f"copied at schema revision {report.revision}, verified")
    table.add_column("table")
    table.add_column("rows", justify="right")
    table.add_column("sha256")
    for t in report.tables:
        table.add_row(t.table, str(t.rows), t.checksum[:16])
    console.print(table)
    console.print(
        f"{report.total_rows} rows: {report.source} -> {report.target}",
        highlight=False,
        soft_wrap=True,
    )


class _RetentionOp(Protocol):
    def __call__(
        self, url: str, older_than: timedelta, *, now: datetime, dry_run: bool = False
    ) -> Awaitable[RetentionResult]: ...


def _retention(op: _RetentionOp, raw_age: str, url: str | None, dry_run: bool) -> RetentionResult:
    """Run ``op`` on the database for ``raw_age``; a bad age is a one-line error like any other."""
    target = database_url(url)

    async def run() -> RetentionResult:
        return await op(target, parse_age(raw_age), now=SystemClock().now(), dry_run=dry_run)

    return run_store_op(run)


def _counted(result: RetentionResult, dry: str, done: str) -> str:
    return f"{dry} {result.matched}" if result.dry_run else f"{done} {result.affected}"


@db_app.command("cleanup")
def cleanup(
    snapshots_older_than: Annotated[
        str, typer.Option("--snapshots-older-than", help="Age, e.g. 90d, 12h, 2w, 1y.")
    ],
    url: DbUrlOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count.")] = False,
) -> None:
    """Delete market snapshots older than the given age (in batches)."""
    result = _retention(cleanup_snapshots, snapshots_older_than, url, dry_run)
    console.print(
        f"{_counted(result, 'would delete', 'deleted')} snapshot rows older than {result.cutoff}",
        highlight=False,
        soft_wrap=True,
    )


@db_app.command("archive")
def archive(
    closed_older_than: Annotated[
        str, typer.Option("--closed-older-than", help="Age of the exit, e.g. 365d.")
    ],
    url: DbUrlOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count.")] = False,
) -> None:
    """Move closed positions into positions_archive in one transaction."""
    result = _retention(archive_closed_positions, closed_older_than, url, dry_run)
    console.print(
        f"{_counted(result, 'would move', 'moved')} closed positions "
        f"(exit before {result.cutoff}) to positions_archive",
        highlight=False,
        soft_wrap=True,
    )


@db_app.command("stats")
def stats(url: DbUrlOption = None) -> None:
    """Database size, and rows and size per table."""
    target = database_url(url)
    result = run_store_op(lambda: database_stats(target))
    console.print(
        f"{result.database} ({result.dialect}, revision {result.revision}): "
        f"{_size(result.size_bytes)}",
        highlight=False,
        soft_wrap=True,
    )
    table = Table()
    table.add_column("table")
    table.add_column("rows", justify="right")
    table.add_column("size (with indexes)", justify="right")
    for t in result.tables:
        table.add_row(t.name, str(t.rows), _size(t.bytes))
    console.print(table)


@db_app.command("explain")
def explain_cmd(
    sql: Annotated[str, typer.Argument(help="One SQL statement (an EXPLAIN prefix is fine).")],
    url: DbUrlOption = None,
) -> None:
    """Print the database's query plan for a statement (never runs it)."""
    target = database_url(url)
    for line in run_store_op(lambda: explain(target, sql)):
        console.print(line, highlight=False, markup=False, soft_wrap=True)
