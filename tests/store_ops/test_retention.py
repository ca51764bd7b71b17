"""`kalbot db cleanup` and `kalbot db archive`: counts, dry runs, and the one-transaction move."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kalbot.adapters.store.ops.retention import (
    BadAge,
    archive_closed_positions,
    cleanup_snapshots,
    cutoff_text,
    parse_age,
)

from .data import fetch

# 90 days before this is 2026-08-28T00:00:00Z, one of the seeded snapshot times.
NOW = datetime(2026, 11, 26, 0, 0, 0, tzinfo=UTC)


class Crash(Exception):
    pass


async def _ids(url: str, table: str) -> list[int]:
    return [r[0] for r in await fetch(url, f"SELECT id FROM {table} ORDER BY id")]


async def test_cleanup_deletes_exactly_the_snapshots_before_the_cutoff(seeded_url: str) -> None:
    dry = await cleanup_snapshots(seeded_url, timedelta(days=90), now=NOW, dry_run=True)
    assert (dry.cutoff, dry.matched, dry.affected, dry.dry_run) == (
        "2026-08-28T00:00:00Z", 3, 0, True,
    )  # fmt: skip
    assert len(await _ids(seeded_url, "market_snapshots")) == 5
    batches: list[int] = []
    done = await cleanup_snapshots(
        seeded_url, timedelta(days=90), now=NOW, batch_size=2, progress=batches.append
    )
    assert (done.matched, done.affected) == (3, 3)
    assert batches == [2, 1]
    left = await fetch(seeded_url, "SELECT timestamp FROM market_snapshots ORDER BY timestamp")
    assert left == [("2026-08-28T00:00:00Z",), ("2026-11-20T00:00:00Z",)]  # boundary kept


async def test_archive_moves_old_closed_positions_of_both_sides_and_nothing_else(
    seeded_url: str,
) -> None:
    before = await fetch(seeded_url, "SELECT * FROM positions WHERE id IN (1, 2) ORDER BY id")
    dry = await archive_closed_positions(seeded_url, timedelta(days=365), now=NOW, dry_run=True)
    assert (dry.matched, dry.affected) == (2, 0)
    assert await _ids(seeded_url, "positions_archive") == []
    done = await archive_closed_positions(seeded_url, timedelta(days=365), now=NOW)
    assert (done.matched, done.affected, done.cutoff) == (2, 2, "2025-11-26T00:00:00Z")
    # id 1 is a YES position, id 2 a NO position; 3 closed recently, 5 is open.
    assert await _ids(seeded_url, "positions") == [3, 5]
    assert await fetch(seeded_url, "SELECT * FROM positions_archive ORDER BY id") == before
    again = await archive_closed_positions(seeded_url, timedelta(days=365), now=NOW)
    assert (again.matched, again.affected) == (0, 0)


async def test_a_failure_between_insert_and_delete_leaves_every_row_in_one_table(
    seeded_url: str,
) -> None:
    seen: list[int] = []

    async def crash(inserted: int) -> None:
        seen.append(inserted)
        # The rows are in the archive now, inside the open transaction...
        raise Crash("injected between INSERT and DELETE")

    with pytest.raises(Crash):
        await archive_closed_positions(seeded_url, timedelta(days=365), now=NOW, after_insert=crash)
    assert seen == [2]
    # ...and the rollback took them out again: each position is in exactly one table.
    assert await _ids(seeded_url, "positions") == [1, 2, 3, 5]
    assert await _ids(seeded_url, "positions_archive") == []


_CRASHING_ARCHIVE = textwrap.dedent(
    """
    import asyncio, os, sys
    from datetime import UTC, datetime, timedelta
    from kalbot.adapters.store.ops.retention import archive_closed_positions

    async def die(inserted: int) -> None:
        print(inserted, flush=True)
        os._exit(17)  # the process vanishes mid-transaction: no rollback code runs

    asyncio.run(archive_closed_positions(
        sys.argv[1], timedelta(days=365), now=datetime(2026, 11, 26, tzinfo=UTC), after_insert=die
    ))
    """
)


def _run_crashing_archive(url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _CRASHING_ARCHIVE, url],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")},
        check=False,
    )


async def test_a_process_killed_between_insert_and_delete_loses_and_duplicates_nothing(
    seeded_url: str,
) -> None:
    proc = await asyncio.to_thread(_run_crashing_archive, seeded_url)
    assert proc.returncode == 17, proc.stderr
    assert proc.stdout.strip() == "2"
    assert await _ids(seeded_url, "positions") == [1, 2, 3, 5]
    assert await _ids(seeded_url, "positions_archive") == []
    done = await archive_closed_positions(seeded_url, timedelta(days=365), now=NOW)
    assert done.affected == 2  # and the next run still works


@given(st.integers(min_value=1, max_value=10_000), st.sampled_from("smhdwy"))
def test_ages_parse_to_their_length(amount: int, unit: str) -> None:
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}[unit]
    assert parse_age(f"{amount}{unit}") == timedelta(seconds=amount * seconds)


@pytest.mark.parametrize("bad", ["", "90", "d", "-5d", "0d", "1.5d", "90 days", "9x"])
def test_bad_ages_are_refused_with_an_example(bad: str) -> None:
    with pytest.raises(BadAge, match="90d"):
        parse_age(bad)


def test_cutoff_is_whole_seconds_in_the_stored_format() -> None:
    now = datetime(2026, 3, 1, 12, 0, 0, 999_999, tzinfo=UTC)
    assert cutoff_text(now, timedelta(days=1)) == "2026-02-28T12:00:00Z"
