"""The dashboard over a database the real bot wrote: a short paper run against the simulated
exchange served on loopback (the engine's own end-to-end world), then every number the API
shows is compared with the tables."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from e2e.world import served, write_params
from kalbot.adapters.store.repository import Repository
from kalbot.bootstrap import build_trading_app
from kalbot.domain.clock import ManualClock
from kalbot.web.app import create_app
from kalbot.web.db import create_read_engine
from kalbot.web.reader import Reader

from . import direct
from .conftest import make_config

pytestmark = pytest.mark.slow


async def _positions(repo: Repository) -> int:
    async with repo.connection("counting positions") as conn:
        found = await conn.exec_driver_sql("SELECT COUNT(*) FROM positions")
        return int(found.scalar_one())


def _run_bot(url: str, tmp_path: Path) -> ManualClock:
    """Trade in accelerated time; returns a clock stopped at the end of the run."""

    async def run() -> ManualClock:
        # Migrate before the accelerated clock starts, so the bot sees the markets' whole lives.
        repo = Repository(url)
        await repo.initialize()
        write_params(tmp_path / "m.json")
        with served(tmp_path, markets=8, speed=1800.0) as w:
            bot = await build_trading_app(
                w.settings(url), mode="paper", clock=w.world.clock, repo=repo
            )
            # Until the bot holds or held something (or a simulated day passed): how many
            # cycles that takes depends on how busy the machine is.
            end = w.world.clock.now() + timedelta(hours=24)
            cycles = 0
            try:
                while w.world.clock.now() < end:
                    await bot.engine.run_cycle()
                    cycles += 1
                    if cycles >= 6 and await _positions(bot.repo) > 0:
                        break
                    await asyncio.sleep(0.15)
            finally:
                await bot.aclose()
            return ManualClock(w.world.clock.now())

    return asyncio.run(run())


def test_the_dashboard_shows_what_the_bot_wrote(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    clock = _run_bot(url, tmp_path)
    reader = Reader(create_read_engine(url), make_config(tmp_path), clock)
    with TestClient(create_app(reader, dispose_engine=True)) as c:
        status = c.get("/api/v1/status").json()
        assert status["mode"] == "PAPER" and status["mode_source"] == "engine"
        assert status["last_cycle"] is not None and status["missing_tables"] == []
        assert status["risk_state"] in ("ACTIVE", "REDUCING", "HALTED")

        assert Decimal(status["pnl_all_time"]) == direct.realised(url)
        opened = direct.open_positions(url)
        assert status["open_positions"] == len(opened)
        assert Decimal(status["open_exposure"]) == sum(
            (p["quantity"] * p["entry"] for p in opened), Decimal(0)
        )
        marked = [p["unrealised"] for p in opened if p["unrealised"] is not None]
        if marked:
            assert Decimal(status["unrealised_pnl"]) == sum(marked, Decimal(0))

        cycles = direct.rows(url, "SELECT COUNT(*) FROM cycles")[0][0]
        assert cycles >= 5
        positions = c.get("/api/v1/positions", params={"page_size": 500}).json()
        table = direct.rows(url, "SELECT id, status, pnl FROM positions")
        assert positions["total"] == len(table) > 0, "the bot traded in the simulated run"
        by_id = {p["id"]: p for p in positions["items"]}
        for pid, state, pnl in table:
            assert by_id[pid]["status"] == state
            if state == "closed":
                assert Decimal(by_id[pid]["pnl"]) == direct.d(pnl)

        analyses = c.get("/api/v1/analyses").json()
        assert analyses["total"] == direct.rows(url, "SELECT COUNT(*) FROM market_analyses")[0][0]
        markets = c.get("/api/v1/markets").json()
        recorded = {
            str(t): int(n)
            for t, n in direct.rows(
                url, "SELECT ticker, COUNT(*) FROM market_snapshots GROUP BY ticker"
            )
        }
        assert markets and {m["ticker"]: m["snapshots"] for m in markets} == recorded
        for m in markets[:3]:
            newest = direct.rows(
                url,
                "SELECT yes_bid FROM market_snapshots WHERE ticker = :t "
                "ORDER BY timestamp DESC, id DESC LIMIT 1",
                t=m["ticker"],
            )[0][0]
            assert (m["yes_bid"] is None) == (newest is None)
            if newest is not None:
                assert Decimal(m["yes_bid"]) == direct.d(newest)

        metrics = c.get("/metrics").text
        assert f"kalbot_cycles_total {float(cycles)}" in metrics
        fills = direct.rows(url, "SELECT COUNT(*) FROM fills")[0][0]
        assert f"kalbot_fills_total {float(fills)}" in metrics
        for page in ("/", "/positions", "/analyses", "/performance", "/markets"):
            assert c.get(page).status_code == 200, page


def test_the_health_probe_asks_the_configured_exchange(tmp_path: Path) -> None:
    from kalbot.bootstrap import exchange_probe
    from kalbot.config import load_settings

    async def ask(base_url: str) -> str:
        probe = exchange_probe(load_settings(kalshi={"base_url": base_url}))
        assert probe is not None
        return await probe()

    with served(tmp_path, markets=2) as w:
        assert asyncio.run(ask(w.server.base_url)).startswith("exchange active")
    with pytest.raises(Exception, match=r"(?i)connect|unavailable|refused|transient"):
        asyncio.run(ask(w.server.base_url))  # the server is gone now
    assert exchange_probe(load_settings(web={"exchange_check": False})) is None
