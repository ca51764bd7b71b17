"""The engine's commands through Typer's CliRunner on a database the engine filled."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine.factories import (
    NOW,
    market,
)
from engine.fakes import FakeBroker, FakeMarketData, FixedAnalyst
from kalbot.adapters.store.repository import Repository
from kalbot.cli import register_commands
from kalbot.cli._run_logging import JsonFormatter, setup_logging
from kalbot.cli.apps import app
from kalbot.domain.clock import ManualClock
from kalbot.engine import TradingEngine
from kalbot.risk import RiskConfig, RiskManager
from kalbot.screener import ScreenConfig, Screener
from kalbot.strategy import StandardStrategy

runner = CliRunner()


@pytest.fixture
def filled_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db = tmp_path / "bot.db"

    async def fill() -> None:
        repo = Repository(f"sqlite+aiosqlite:///{db}")
        await repo.initialize()
        clock = ManualClock(NOW)
        md = FakeMarketData([market("KXA-1", "0.40", "0.42"), market("KXB-1", volume_24h=0)])
        eng = TradingEngine(
            market_data=md, broker=FakeBroker(md, clock), analyst=FixedAnalyst({"KXA-1": "0.7"}),
            strategy=StandardStrategy(), screener=Screener.from_config(ScreenConfig()),
            risk=RiskManager(RiskConfig(sizing="fixed")), store=repo, clock=clock,
        )  # fmt: skip
        await eng.run_cycle()
        await repo.close()

    asyncio.run(fill())
    monkeypatch.setenv("KALBOT_DATABASE__URL", f"sqlite+aiosqlite:///{db}")
    monkeypatch.delenv("LIVE_TRADING_ENABLED", raising=False)
    register_commands()
    return db


def test_status_positions_performance_and_why(filled_db: Path) -> None:
    r = runner.invoke(app, ["status"])
    assert r.exit_code == 0, r.output
    assert "last cycle 1" in r.output and "1 open positions" in r.output and "ACTIVE" in r.output
    r = runner.invoke(app, ["positions", "--open"])
    assert r.exit_code == 0 and "KXA-1" in r.output and "0.4200" in r.output
    r = runner.invoke(app, ["performance", "--days", "3"])
    assert r.exit_code == 0 and NOW.date().isoformat() in r.output
    r = runner.invoke(app, ["why", "KXB-1"])
    assert r.exit_code == 0 and "low_volume" in r.output
    r = runner.invoke(app, ["why", "KXA-1"])
    assert r.exit_code == 0 and "analyst_edge" in r.output
    r = runner.invoke(app, ["why", "NOPE"])
    assert "nothing recorded" in r.output


def test_live_needs_the_setting_too(filled_db: Path) -> None:
    r = runner.invoke(app, ["run", "--live", "--once"])
    assert r.exit_code == 1 and "LIVE_TRADING_ENABLED" in r.output
    r = runner.invoke(app, ["close-all", "--live"])
    assert r.exit_code == 1 and "LIVE_TRADING_ENABLED" in r.output
    # reconcile has no check of its own: the wiring refuses, as one line and exit 1.
    r = runner.invoke(app, ["reconcile", "--live"])
    assert r.exit_code == 1 and isinstance(r.exception, SystemExit), r.output
    assert "error: live trading needs LIVE_TRADING_ENABLED=true" in r.output
    assert "Traceback" not in r.output


def test_json_log_lines_and_rotating_file(tmp_path: Path) -> None:
    setup_logging("json", "INFO", tmp_path / "logs" / "bot.log")
    try:
        logging.getLogger("kalbot.engine").info("order %s placed", "KXA-1")
        for h in logging.getLogger().handlers:
            h.flush()
        line = (tmp_path / "logs" / "bot.log").read_text().strip().splitlines()[-1]
        obj = json.loads(line)
        assert obj["message"] == "order KXA-1 placed" and obj["level"] == "INFO"
        assert obj["logger"] == "kalbot.engine" and obj["ts"].endswith("Z")
        assert isinstance(JsonFormatter().format(logging.makeLogRecord({"msg": "x"})), str)
    finally:
        setup_logging("text", "WARNING")
