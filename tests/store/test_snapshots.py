"""Contract: bulk snapshot writes and streamed, ordered reads on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kalbot.adapters.store import dialect
from kalbot.adapters.store.repository import Repository
from kalbot.domain.errors import InvalidRecord
from kalbot.domain.snapshot import Snapshot
from kalbot.ports import SnapshotStore

T0 = datetime(2024, 11, 15, 10, 0, tzinfo=UTC)


def snap(ticker: str, minute: int, category: str | None = "Crypto", **meta: object) -> Snapshot:
    return Snapshot(
        timestamp=T0 + timedelta(minutes=minute),
        ticker=ticker,
        title=f"{ticker} title",
        last_price=0.42,
        yes_bid=0.41,
        yes_ask=0.43,
        no_bid=0.57,
        no_ask=0.59,
        volume_24h=1200,
        open_interest=340,
        close_time="2024-12-31T00:00:00Z",
        category=category,
        metadata=dict(meta),
    )


async def _all(repo: Repository, **kw: object) -> list[Snapshot]:
    start = kw.pop("start", T0 - timedelta(days=1))
    end = kw.pop("end", T0 + timedelta(days=1))
    return [s async for s in repo.stream_snapshots(start, end, **kw)]  # type: ignore[arg-type]


async def test_snapshots_round_trip_and_stream_in_timestamp_ticker_order(repo: Repository) -> None:
    store: SnapshotStore = repo  # the repository satisfies the port
    rows = [snap("KXB", 1), snap("KXA", 1, event="E1"), snap("KXA", 0), snap("KXC", 0, None)]
    assert await store.add_snapshots(rows) == 4
    got = await _all(repo)
    assert [(s.timestamp, s.ticker) for s in got] == sorted((s.timestamp, s.ticker) for s in rows)
    assert got[2] == rows[1]  # every field, metadata included, reads back equal
    assert got[0].timestamp.tzinfo is not None


async def test_stream_filters_by_range_tickers_and_category(repo: Repository) -> None:
    rows = [
        snap(t, m, "Crypto" if t != "KXW" else "Weather")
        for m in range(5)
        for t in ("KXA", "KXB", "KXW")
    ]
    await repo.add_snapshots(rows)
    window = await _all(repo, start=T0 + timedelta(minutes=1), end=T0 + timedelta(minutes=3))
    assert {s.timestamp for s in window} == {T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)}
    assert [s.ticker for s in await _all(repo, tickers=["KXB"])] == ["KXB"] * 5
    weather = await _all(repo, category="Weather")
    assert {s.ticker for s in weather} == {"KXW"}
    assert await _all(repo, tickers=["KXA", "KXW"], category="Weather") == weather
    assert await _all(repo, tickers=[]) == []


async def test_streaming_reads_in_chunks_across_chunk_boundaries(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kalbot.adapters.store import snapshots_repo

    monkeypatch.setattr(snapshots_repo, "STREAM_CHUNK", 7)
    rows = [snap(f"KX{i:02d}", m) for m in range(6) for i in range(5)]
    await repo.add_snapshots(rows)
    got = await _all(repo)
    assert len(got) == 30
    assert [(s.timestamp, s.ticker) for s in got] == sorted((s.timestamp, s.ticker) for s in rows)
    assert await repo.count_snapshots() == 30


async def test_a_bad_snapshot_writes_nothing(repo: Repository) -> None:
    naive = Snapshot(
        datetime(2024, 1, 1), "KX", None, None, None, None, None, None, None, None, None, None
    )
    with pytest.raises(InvalidRecord):
        await repo.add_snapshots([snap("KXA", 0), naive])
    assert await repo.count_snapshots() == 0
    assert await repo.add_snapshots([]) == 0


async def test_an_abandoned_stream_releases_its_connection(repo: Repository) -> None:
    await repo.add_snapshots([snap("KXA", m) for m in range(20)])
    for _ in range(3):
        stream = repo.stream_snapshots(T0, T0 + timedelta(hours=1))
        async for _s in stream:
            break
        await stream.aclose()  # type: ignore[attr-defined]
    assert await repo.count_snapshots() == 20


tickers = st.sampled_from(["KXA", "KXB", "KXC", "KXD"])
minutes = st.integers(min_value=0, max_value=30)
prices = st.none() | st.floats(min_value=0, max_value=1, allow_nan=False).map(lambda x: round(x, 4))


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    batch=st.lists(st.tuples(tickers, minutes, prices), min_size=0, max_size=25),
    lo=minutes,
    span=st.integers(min_value=0, max_value=31),
    wanted=st.none() | st.lists(tickers, max_size=3),
)
async def test_stream_equals_a_sorted_filtered_copy_of_what_was_written(
    repo: Repository,
    batch: list[tuple[str, int, float | None]],
    lo: int,
    span: int,
    wanted: list[str] | None,
) -> None:
    async with repo.transaction("reset") as conn:  # one database serves every example
        await conn.exec_driver_sql("DELETE FROM market_snapshots")
    written = [dataclasses.replace(snap(t, m), last_price=p) for t, m, p in batch]
    await repo.add_snapshots(written)
    start, end = T0 + timedelta(minutes=lo), T0 + timedelta(minutes=lo + span)
    got = [s async for s in repo.stream_snapshots(start, end, tickers=wanted)]
    expected = sorted(
        (
            s
            for s in written
            if start <= s.timestamp < end and (wanted is None or s.ticker in wanted)
        ),
        key=lambda s: (s.timestamp, s.ticker),
    )
    assert [(s.timestamp, s.ticker) for s in got] == [(s.timestamp, s.ticker) for s in expected]
    assert sorted(map(repr, got)) == sorted(map(repr, expected))


def test_placeholders_are_named_for_both_read_paths() -> None:
    assert dialect.placeholders(2, start=3) == [":p3", ":p4"]


async def test_streamed_snapshots_never_share_their_metadata(repo: Repository) -> None:
    await repo.add_snapshots(
        [snap("KXA", m, event="E1", strike=3) for m in range(3)]
        + [snap("KXB", 0, nested={"sizes": [1, 2]})]
    )
    got = await _all(repo)
    a = [s for s in got if s.ticker == "KXA"]
    assert all(s.metadata == {"event": "E1", "strike": 3} for s in a)
    a[0].metadata["event"] = "changed"
    assert a[1].metadata["event"] == "E1"
    assert next(s for s in got if s.ticker == "KXB").metadata == {"nested": {"sizes": [1, 2]}}
