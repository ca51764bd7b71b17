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


def _said(result: Result) -> str:
    """The command's output with Rich's line wrapping undone."""
    return " ".join(result.output.split())


def _synth(db: Path, *extra: str) -> Result:
    return _invoke(
        ["data", "synth", "--markets", "6", "--days", "2", "--url", f"sqlite+aiosqlite:///{db}",
         *extra]
    )  # fmt: skip


def _count(db: Path, sql: str = "SELECT COUNT(*) FROM market_snapshots") -> int:
    return int(str(_rows(db, sql)[0][0]))


def test_synth_twice_with_the_same_arguments_writes_nothing_new(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    first = _synth(db, "--seed", "3")
    assert first.exit_code == 0, _said(first)
    rows = _count(db)
    results = _rows(db, "SELECT ticker, result FROM market_results ORDER BY ticker")
    again = _synth(db, "--seed", "3")
    assert again.exit_code == 0, _said(again)
    assert "wrote 0 snapshots" in _said(again) and f"({rows:,} already stored)" in _said(again)
    assert _count(db) == rows
    assert _count(db, "SELECT COUNT(DISTINCT timestamp || ticker) FROM market_snapshots") == rows
    assert _rows(db, "SELECT ticker, result FROM market_results ORDER BY ticker") == results


def test_synth_resumes_a_run_cut_short(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    assert _synth(db, "--seed", "3").exit_code == 0
    rows = _count(db)
    with sqlite3.connect(db) as conn:  # lose the later half, as a crash mid-write would
        conn.execute("DELETE FROM market_snapshots WHERE id > ?", (rows // 2,))
    again = _synth(db, "--seed", "3")
    assert again.exit_code == 0, _said(again)
    assert f"wrote {rows - rows // 2:,} snapshots" in _said(again)
    assert _count(db) == rows


def test_synth_with_another_seed_is_refused_in_one_line_and_writes_nothing(
    tmp_path: Path,
) -> None:
    db = tmp_path / "s.db"
    assert _synth(db, "--seed", "3").exit_code == 0
    rows = _count(db)
    other = _synth(db, "--seed", "4")
    assert other.exit_code == 1
    assert "refused" in _said(other) and "--replace" in _said(other) and "seed=3" in _said(other)
    assert "Traceback" not in _said(other)
    assert _count(db) == rows
    both = _synth(db, "--seed", "4", "--replace", "--append")
    assert both.exit_code == 1 and "exclude each other" in _said(both)


def test_synth_replace_deletes_earlier_synthetic_history_but_keeps_recorded_data(
    tmp_path: Path,
) -> None:
    db = tmp_path / "s.db"
    assert _synth(db, "--seed", "3").exit_code == 0
    old = {str(t) for (t,) in _rows(db, "SELECT DISTINCT ticker FROM market_snapshots")}
    with sqlite3.connect(db) as conn:  # a recorded (non-synthetic) row must survive
        conn.execute(
            "INSERT INTO market_snapshots (timestamp, ticker, yes_bid, metadata) "
            "VALUES ('2026-01-05T00:00:00Z', 'REAL-1', 0.5, '{\"source\":\"recorder\"}')"
        )
    out = _synth(db, "--seed", "4", "--replace")
    assert out.exit_code == 0, _said(out)
    assert "deleted" in _said(out)
    runs = _rows(
        db,
        "SELECT DISTINCT json_extract(metadata, '$.synth_run') FROM market_snapshots"
        " WHERE json_extract(metadata, '$.source') = 'synthetic'",
    )
    assert [str(r[0]).startswith("seed=4 ") for r in runs] == [True]
    assert _count(db, "SELECT COUNT(*) FROM market_snapshots WHERE ticker = 'REAL-1'") == 1
    new = {str(t) for (t,) in _rows(db, "SELECT ticker FROM market_results")}
    assert new.isdisjoint(old - new) and len(new) == 6
    # and seed 4 is now the stored run: repeating it is idempotent
    assert "wrote 0 snapshots" in _said(_synth(db, "--seed", "4"))


def test_synth_append_adds_a_second_run_and_both_stay_idempotent(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    assert _synth(db, "--seed", "3").exit_code == 0
    rows3 = _count(db)
    out = _synth(db, "--seed", "4", "--append", "--start", "2026-02-02")
    assert out.exit_code == 0, _said(out)
    rows = _count(db)
    assert rows > rows3
    for args in (("--seed", "3"), ("--seed", "4", "--start", "2026-02-02")):
        again = _synth(db, *args)
        assert again.exit_code == 0 and "wrote 0 snapshots" in _said(again), _said(again)
    assert _count(db) == rows
    # the same seed with voids makes the same tickers at the same times: two histories, refused
    clash = _synth(db, "--seed", "3", "--void-rate", "0.5", "--append")
    assert clash.exit_code == 1 and "two histories" in _said(clash), _said(clash)
    assert _count(db) == rows


def test_synth_refuses_history_written_before_runs_had_fingerprints(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    assert _synth(db, "--seed", "3").exit_code == 0
    with sqlite3.connect(db) as conn:  # what the old data synth wrote: no synth_run
        conn.execute("UPDATE market_snapshots SET metadata = json_remove(metadata, '$.synth_run')")
    out = _synth(db, "--seed", "3")
    assert out.exit_code == 1 and "before runs were fingerprinted" in _said(out)
    assert "wrote" in _said(_synth(db, "--seed", "3", "--replace"))


def test_synth_void_rate_writes_void_results(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    out = _synth(db, "--seed", "3", "--void-rate", "1")
    assert out.exit_code == 0, _said(out)
    assert {str(r) for (r,) in _rows(db, "SELECT result FROM market_results")} == {"void"}
    metadata = _rows(db, "SELECT DISTINCT json_extract(metadata, '$.result') FROM market_snapshots")
    assert metadata == [("void",)]


def test_synth_is_idempotent_and_replaces_on_postgresql_too(postgres_url: str) -> None:
    import asyncio

    from kalbot.adapters.store.repository import Repository
    from kalbot.adapters.store.synthetic_repo import synthetic_runs

    args = ["data", "synth", "--markets", "4", "--days", "1", "--url", postgres_url]

    async def state() -> tuple[int, dict[str, set[str]]]:
        repo = Repository(postgres_url)
        await repo.initialize(upgrade=False)
        try:
            return await repo.count_snapshots(), await synthetic_runs(repo)
        finally:
            await repo.close()

    assert _invoke(args).exit_code == 0
    rows, runs = asyncio.run(state())
    assert "wrote 0 snapshots" in _said(_invoke(args))
    assert asyncio.run(state()) == (rows, runs)
    refused = _invoke([*args, "--seed", "1"])
    assert refused.exit_code == 1 and "refused" in _said(refused)
    assert _invoke([*args, "--seed", "1", "--replace"]).exit_code == 0
    _, runs = asyncio.run(state())
    assert [r.split()[0] for r in runs] == ["seed=1"]
