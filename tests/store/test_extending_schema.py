"""docs/extending-the-schema.md: its example revision goes up and down on both databases."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from kalbot.adapters.store import migrate

DOC = Path(__file__).resolve().parents[2] / "docs" / "extending-the-schema.md"


def _example_revision(head: str) -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 1, "the doc should hold exactly one revision"
    # The doc tells the reader to put the current head here; so does the test.
    code, n = re.subn(
        r'down_revision: str \| None = "\w+"', f'down_revision: str | None = "{head}"', blocks[0]
    )
    assert n == 1
    return code


async def _column_type(url: str) -> str | None:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:

            def find(c: Connection) -> str | None:
                for col in inspect(c).get_columns("positions"):
                    if col["name"] == "strategy_name":
                        return str(col["type"])
                return None

            return await conn.run_sync(find)
    finally:
        await engine.dispose()


async def _positions_checks(url: str) -> list[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:

            def checks(c: Connection) -> list[str]:
                found = inspect(c).get_check_constraints("positions")
                return sorted(re.sub(r"\W+", " ", str(k["sqltext"])).strip() for k in found)

            return await conn.run_sync(checks)
    finally:
        await engine.dispose()


async def test_the_docs_strategy_name_revision_goes_up_and_down(
    db_url: str, tmp_path: Path
) -> None:
    head = migrate.head()
    await migrate.upgrade(db_url)
    before = await _positions_checks(db_url)
    assert len(before) == 2  # side and status
    (tmp_path / "v0100_positions_strategy_name.py").write_text(_example_revision(head))
    extra = [tmp_path]
    assert migrate.head(extra) == "0100"
    await migrate.upgrade(db_url, extra_versions=extra)
    assert await migrate.current(db_url, extra) == "0100"
    expected = "VARCHAR(50)" if db_url.startswith("postgresql") else "TEXT"
    assert await _column_type(db_url) == expected
    await migrate.downgrade(db_url, head, extra_versions=extra)
    assert await migrate.current(db_url) == head
    assert await _column_type(db_url) is None
    assert await _positions_checks(db_url) == before  # the spec's CHECKs survive the round trip
