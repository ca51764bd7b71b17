"""The backtest's reader process (``kalbot.backtest_feed``): the same run as in process, its
failures raised in the engine's process, and never left running."""

from __future__ import annotations

import json
import pickle
import sqlite3
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from kalbot import backtest_app, backtest_feed
from kalbot.adapters.simulated.exchange import Exchange
from kalbot.adapters.simulated.scenarios import replay as replay_mod
from kalbot.adapters.simulated.scenarios.replay import ReplayConverter, ReplayDriver
from kalbot.adapters.simulated.scenarios.synthetic import SyntheticScenario
from kalbot.adapters.store.repository import Repository
from kalbot.backtest.results import report_dict, trade_rows
from kalbot.backtest_app import BacktestSpec, run_backtest
from kalbot.backtest_feed import FeedError, ReaderProcess, can_read_ahead, reader_query
from kalbot.config import ConfigError, load_settings
from kalbot.domain.clock import ManualClock
from kalbot.domain.errors import StoreError
from kalbot.domain.market import MarketResult
from kalbot.domain.snapshot import Snapshot
from kalbot.domain.trading import MarketResultRow

D = Decimal
SCENARIO = SyntheticScenario(markets=24, days=3, seed=5, void_rate=0.2)


def _history() -> list[Snapshot]:
    """The scenario's snapshots, with the cases a converter decides: a market skipped for a
    crossed quote, one listed without a close time, and results that only the snapshots
    carry (``metadata["result"]``)."""
    snaps = list(SCENARIO.snapshots())
    tickers = sorted({s.ticker for s in snaps})
    crossed, no_close, by_meta = tickers[0], tickers[1], set(tickers[2:6])
    last = {s.ticker: i for i, s in enumerate(snaps)}
    crossing = [i for i, s in enumerate(snaps) if s.ticker == crossed][-3]
    out = []
    for i, s in enumerate(snaps):
        if i == crossing:
            s = replace(s, yes_bid=0.9, yes_ask=0.1)
        elif s.ticker == no_close:
            s = replace(s, close_time=None)
        elif s.ticker in by_meta and i == last[s.ticker]:
            result = SCENARIO.results()[s.ticker].value
            s = replace(s, metadata={**(s.metadata or {}), "result": result})
        out.append(s)
    return out


async def _load(url: str) -> None:
    repo = Repository(url)
    await repo.initialize()
    try:
        snaps = _history()
        await repo.add_snapshots(snaps)
        meta_only = sorted({s.ticker for s in snaps})[2:6]
        await repo.add_market_results(
            [
                MarketResultRow(t, t.rsplit("-", 1)[0], "", r.value, SCENARIO.end)
                for t, r in sorted(SCENARIO.results().items())
                if t not in meta_only
            ]
        )
    finally:
        await repo.close()


async def _report(url: str, read_ahead: bool) -> tuple[str, object]:
    settings = load_settings(trading={"strategy": "momentum"})
    repo = Repository(url)
    await repo.initialize(upgrade=False)
    try:
        spec = BacktestSpec(
            SCENARIO.start, SCENARIO.end + timedelta(days=1), D(10000), read_ahead=read_ahead
        )
        rep = await run_backtest(settings, repo, spec)
    finally:
        await repo.close()
    return json.dumps(report_dict(rep), sort_keys=True, default=str), trade_rows(rep.trades)


async def test_the_reader_process_gives_the_in_process_report(db_url: str) -> None:
    if not can_read_ahead(db_url):
        pytest.skip("one CPU: the reader process is never used here")
    await _load(db_url)
    in_process = await _report(db_url, read_ahead=False)
    reader = await _report(db_url, read_ahead=True)
    assert reader == in_process
    report = json.loads(reader[0])
    assert report["trade_metrics"]["trades"] > 0  # something was traded, settled and voided
    assert len(report["meta"]["skipped_markets"]) == 2  # the crossed quote, no close time


def test_a_converter_elsewhere_leaves_the_exchange_as_apply_all_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``apply_prepared`` of batches made by another converter (pickled, as the reader sends
    them) equals ``apply_all``, through cache resets (the tables are refilled)."""
    monkeypatch.setattr(replay_mod, "_CACHE_LIMIT", 5)
    snaps = _history()
    by_time: dict[object, list[Snapshot]] = {}
    for s in snaps:
        by_time.setdefault(s.timestamp, []).append(s)
    results = {t: r for t, r in SCENARIO.results().items() if t != snaps[0].ticker}
    # A known result wins over one a snapshot recorded, however the conversion is done.
    planted = sorted({s.ticker for s in snaps})[2]
    results[planted] = MarketResult.NO if results[planted] is MarketResult.YES else MarketResult.YES
    states = []
    for elsewhere in (False, True):
        clock = ManualClock(SCENARIO.start)
        ex = Exchange(clock)
        driver = ReplayDriver(ex, results=results, recorded_liquidity=True)
        converter = ReplayConverter(recorded_liquidity=True)  # knows no result: the reader's
        resets = 0
        for when, batch in by_time.items():
            clock.set(when)  # type: ignore[arg-type]
            if elsewhere:
                prepared = pickle.loads(pickle.dumps(converter.prepare(batch)))
                resets += prepared.reset
                driver.apply_prepared(prepared)
            else:
                driver.apply_all(batch)
            driver.settle_due()
        if elsewhere:
            assert resets > 0
        states.append(
            (
                [ex.market(t) for t in ex.tickers()],
                driver.stats,
                dict(sorted(driver.results.items())),
            )
        )
    assert states[1] == states[0]


def _query(repo: Repository) -> dict[str, object]:
    return reader_query(repo.url, SCENARIO.start, SCENARIO.end, None, None, recorded_liquidity=True)


async def _loaded_reader(url: str) -> ReaderProcess:
    await _load(url)
    return await ReaderProcess.start(_query(Repository(url)))


async def test_a_reader_failure_is_raised_with_its_own_type(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()  # a database without the table
    reader = await ReaderProcess.start(_query(Repository(f"sqlite+aiosqlite:///{path}")))
    with pytest.raises(StoreError, match="reading snapshots"):
        async for _ in reader.steps():
            pass
    assert reader.proc.returncode is not None


async def test_a_reader_that_dies_is_an_error_never_the_end_of_the_data(sqlite_url: str) -> None:
    reader = await _loaded_reader(sqlite_url)
    reader.proc.kill()
    with pytest.raises(FeedError, match=r"ended before the end of the data \(exit code -9\)"):
        async for _ in reader.steps():
            pass


async def test_closing_the_steps_early_ends_the_reader(sqlite_url: str) -> None:
    reader = await _loaded_reader(sqlite_url)
    steps = reader.steps()
    first = await anext(steps)
    assert first.count > 0
    await steps.aclose()
    assert reader.proc.returncode is not None  # killed and reaped, not left reading


def test_who_can_read_ahead(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(backtest_feed, "cpus", lambda: 2)
    assert can_read_ahead(f"sqlite+aiosqlite:///{tmp_path / 'k.db'}")
    assert can_read_ahead("postgresql+asyncpg://u@localhost/k")
    assert not can_read_ahead("sqlite+aiosqlite:///:memory:")
    assert not can_read_ahead("sqlite+aiosqlite://")
    monkeypatch.setattr(backtest_feed, "cpus", lambda: 1)
    assert not can_read_ahead(f"sqlite+aiosqlite:///{tmp_path / 'k.db'}")


async def test_asking_for_the_reader_where_it_cannot_run_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    await _load(sqlite_url)
    monkeypatch.setattr(backtest_app, "can_read_ahead", lambda url: False)
    repo = Repository(sqlite_url)
    await repo.initialize(upgrade=False)
    try:
        spec = BacktestSpec(SCENARIO.start, SCENARIO.end, D(1000), read_ahead=True)
        with pytest.raises(ConfigError, match="--read-ahead needs a second CPU"):
            await run_backtest(load_settings(), repo, spec)
    finally:
        await repo.close()


def test_the_reader_collects_garbage_as_its_parent_does(sqlite_url: str) -> None:
    import gc

    before = gc.get_threshold()
    try:
        gc.set_threshold(12_345, 6, 7)
        query = _query(Repository(sqlite_url))
    finally:
        gc.set_threshold(*before)
    assert query["gc"] == (12_345, 6, 7)


async def test_a_reader_that_cannot_start_falls_back_to_one_process_unless_asked_for(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    async def cannot(query: object) -> ReaderProcess:
        raise OSError("no interpreter")

    await _load(sqlite_url)
    monkeypatch.setattr(backtest_app, "can_read_ahead", lambda url: True)
    monkeypatch.setattr(ReaderProcess, "start", cannot)
    repo = Repository(sqlite_url)
    await repo.initialize(upgrade=False)
    try:
        settings = load_settings(trading={"strategy": "momentum"})
        spec = BacktestSpec(SCENARIO.start, SCENARIO.end, D(10000))
        rep = await run_backtest(settings, repo, spec)
        with pytest.raises(ConfigError, match="cannot start the reader process: no interpreter"):
            await run_backtest(settings, repo, replace(spec, read_ahead=True))
    finally:
        await repo.close()
    assert rep.meta["snapshots"] == len(_history())
