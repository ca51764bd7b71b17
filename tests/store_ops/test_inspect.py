"""`kalbot db stats` and `kalbot db explain` on both databases."""

from __future__ import annotations

import pytest

from kalbot.adapters.store.ops.errors import QueryFailed, Refused
from kalbot.adapters.store.ops.inspect import database_stats, explain, statement_to_plan
from kalbot.adapters.store.tables import KALBOT_TABLES

from .data import fetch

# The spec's own example, verbatim (Query Optimization).
SPEC_EXPLAIN = """EXPLAIN QUERY PLAN
SELECT * FROM positions
WHERE ticker = 'KXBTC-24DEC-50K'
AND status = 'open';"""


async def test_stats_count_every_table_and_size_the_database(seeded_url: str) -> None:
    stats = await database_stats(seeded_url)
    rows = {t.name: t.rows for t in stats.tables}
    assert set(KALBOT_TABLES) <= set(rows)
    assert "alembic_version" not in rows
    assert rows["positions"] == 4 and rows["market_snapshots"] == 5
    assert rows["ai_cost_tracking"] == 2 and rows["positions_archive"] == 0
    assert stats.size_bytes > 0
    assert stats.revision is not None
    sizes = [t.bytes or 0 for t in stats.tables]
    assert all(s > 0 for s in sizes)
    assert sizes == sorted(sizes, reverse=True)  # largest first
    assert stats.dialect == ("sqlite" if seeded_url.startswith("sqlite") else "postgresql")


async def test_explain_plans_without_running_and_reports_bad_sql_in_one_line(
    seeded_url: str,
) -> None:
    plan = "\n".join(await explain(seeded_url, SPEC_EXPLAIN))
    if seeded_url.startswith("sqlite"):
        assert plan.startswith("QUERY PLAN") and "idx_positions_" in plan
    else:
        assert "positions" in plan and "cost=" in plan
    await explain(seeded_url, "DELETE FROM positions")
    assert await fetch(seeded_url, "SELECT COUNT(*) FROM positions") == [(4,)]
    with pytest.raises(QueryFailed) as info:
        await explain(seeded_url, "SELECT nope FROM nowhere")
    assert "nowhere" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("typed", "planned"),
    [
        ("EXPLAIN QUERY PLAN SELECT 1;", "SELECT 1"),
        ("explain (costs off, format text) SELECT 1", "SELECT 1"),
        ("  SELECT * FROM positions ;  ", "SELECT * FROM positions"),
        ("EXPLAIN VERBOSE SELECT 2", "SELECT 2"),
    ],
)
def test_any_explain_prefix_is_replaced_by_the_dialects_own(typed: str, planned: str) -> None:
    assert statement_to_plan(typed) == planned


@pytest.mark.parametrize("sql", ["EXPLAIN ANALYZE DELETE FROM positions", "explain (analyse) x"])
def test_explain_analyze_is_refused_because_it_would_run_the_statement(sql: str) -> None:
    with pytest.raises(Refused, match="ANALYZE"):
        statement_to_plan(sql)


def test_an_empty_statement_is_refused() -> None:
    with pytest.raises(QueryFailed):
        statement_to_plan("EXPLAIN QUERY PLAN ;")
