"""TEMPORARY `kalbot demo`: upgrade the default database and print its status.

The engine part replaces this with the real demo (the bot on the embedded defaults).
"""

from __future__ import annotations

from rich.table import Table

from kalbot.adapters.store import migrate
from kalbot.adapters.store.repository import create_repository
from kalbot.adapters.store.tables import KALBOT_TABLES
from kalbot.cli.apps import app
from kalbot.cli.common import console, fail, run_async, settings_or_exit
from kalbot.domain.errors import StoreError


async def _status() -> tuple[str, str | None, dict[str, int]]:
    settings = settings_or_exit()
    repo = create_repository(settings)
    await repo.initialize()  # upgrades to the newest schema revision
    try:
        counts: dict[str, int] = {}
        async with repo.connection("counting rows") as conn:
            for table in KALBOT_TABLES:
                result = await conn.exec_driver_sql(f"SELECT COUNT(*) FROM {table}")
                counts[table] = int(result.scalar_one())
    finally:
        await repo.close()
    return repr(repo), await migrate.current(repo.url), counts


@app.command("demo")
def demo() -> None:
    """Initialise the default database (SQLite at data/kalshi_trading.db) and show its status."""
    try:
        where, revision, counts = run_async(_status)
    except StoreError as e:
        fail(str(e))
    console.print(f"database: {where}", highlight=False)
    console.print(f"schema revision: {revision} (newest {migrate.head()})", highlight=False)
    table = Table("table", "rows")
    for name, n in counts.items():
        table.add_row(name, f"{n:,}")
    console.print(table)
