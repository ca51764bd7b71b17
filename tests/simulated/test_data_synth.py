"""`kalbot data synth`: a seeded history lands in market_snapshots and market_results."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner, Result

from kalbot.cli import register_commands
from kalbot.cli.apps import app


def _invoke(args: list[str]) -> Result:
    register_commands()
    return CliRunner().invoke(app, args)


def _rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        return list(conn.execute(sql))


def test_synth_writes_snapshots_and_results_the_same_for_the_same_seed(tmp_path: Path) -> None:
    dbs = [tmp_path / "a.db", tmp_path / "b.db"]
    for db in dbs:
        result = _invoke(
            ["data", "synth", "--markets", "8", "--days", "2", "--seed", "9",
             "--url", f"sqlite+aiosqlite:///{db}"]
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert "snapshots of 8 markets" in result.output
    query = (
        "SELECT timestamp, ticker, yes_bid, yes_ask, no_bid, no_ask, last_price, volume_24h,"
        " open_interest, close_time, category, metadata FROM market_snapshots ORDER BY id"
    )
    a, b = (_rows(db, query) for db in dbs)
    assert a == b and len(a) > 8
    results = {
        str(t): str(r) for t, r in _rows(dbs[0], "SELECT ticker, result FROM market_results")
    }
    assert len(results) == 8 and set(results.values()) <= {"yes", "no"}
    metadata = _rows(
        dbs[0], "SELECT ticker, json_extract(metadata, '$.result') FROM market_snapshots"
    )
    assert all(results[t] == r for t, r in metadata)  # type: ignore[index]


def test_synth_refuses_a_bad_start_date_in_one_line(tmp_path: Path) -> None:
    result = _invoke(
        ["data", "synth", "--start", "yesterday", "--url", f"sqlite+aiosqlite:///{tmp_path}/x.db"]
    )
    assert result.exit_code == 1
    assert "--start must be YYYY-MM-DD" in result.output
    assert "Traceback" not in result.output


def test_synth_writes_to_postgresql_too(postgres_url: str) -> None:
    import asyncio

    from kalbot.adapters.store.repository import Repository

    result = _invoke(["data", "synth", "--markets", "5", "--days", "1", "--url", postgres_url])
    assert result.exit_code == 0, result.output

    async def read() -> tuple[int, str | None]:
        repo = Repository(postgres_url)
        await repo.initialize(upgrade=False)
        try:
            count = await repo.count_snapshots()
            tickers = [s.ticker async for s in repo.stream_snapshots(*_window())]
            return count, await repo.market_result(tickers[0])
        finally:
            await repo.close()

    count, verdict = asyncio.run(read())
    assert count > 5 and verdict in {"yes", "no"}


def _window() -> tuple[datetime, datetime]:
    return datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 1, 6, tzinfo=UTC)
