"""`kalbot health` and `kalbot web` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kalbot.cli import register_commands
from kalbot.cli.apps import app

register_commands()
runner = CliRunner()


def _env(url: str, **extra: str) -> dict[str, str]:
    return {"KALBOT_DATABASE__URL": url, "KALBOT_WEB__EXCHANGE_CHECK": "false", **extra}


def test_health_exits_1_without_a_recent_cycle(sqlite_seeded: str) -> None:
    # The seeded cycle is from 2026-11-25 14:59 UTC; against the real clock it is stale.
    result = runner.invoke(app, ["health", "--json"], env=_env(sqlite_seeded))
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    checks = {c["name"]: c["ok"] for c in report["checks"]}
    assert checks["database"] is True and checks["last_cycle"] is False
    assert report["healthy"] is False


def test_health_exits_0_when_every_check_passes(sqlite_seeded: str) -> None:
    env = _env(sqlite_seeded, KALBOT_WEB__MAX_CYCLE_AGE_SECONDS=str(10**9))
    result = runner.invoke(app, ["health"], env=env)
    assert result.exit_code == 0, result.output
    assert "healthy" in result.output and "FAIL" not in result.output


def test_health_names_a_missing_database(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'nowhere.db'}"
    result = runner.invoke(app, ["health"], env=_env(url))
    assert result.exit_code == 1
    assert "no database file" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3"])
def test_web_refuses_to_listen_beyond_loopback_without_a_token(host: str, tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    result = runner.invoke(app, ["web", "--host", host], env=_env(url))
    assert result.exit_code == 1
    assert "KALBOT_WEB__TOKEN" in result.output
