"""`kalbot analyze`, `kalbot ai costs|budget` and `kalbot analyst fit|show` on a SQLite file."""

from __future__ import annotations

import asyncio
import json
import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kalbot.adapters.store.repository import Repository
from kalbot.analysis.heuristic import HeuristicParams
from kalbot.cli import register_commands
from kalbot.cli.apps import app
from kalbot.domain.snapshot import Snapshot

TRUE = HeuristicParams(a=0.0, b=1.5, c=0.0)
runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KALBOT_DATABASE__URL", f"sqlite+aiosqlite:///{tmp_path / 'k.db'}")
    monkeypatch.setenv("KALBOT_AI__HEURISTIC_PARAMS_PATH", str(tmp_path / "model.json"))
    for var in ("DAILY_AI_BUDGET", "KALBOT_AI__DAILY_BUDGET", "KALBOT_AI__PROVIDER"):
        monkeypatch.delenv(var, raising=False)
    register_commands()
    return tmp_path


def seed(url: str, n_markets: int) -> None:
    """Resolved markets (result in the last snapshot's metadata) and one live market."""
    rng = random.Random(2)
    now = datetime.now(UTC)
    snaps: list[Snapshot] = []
    for i in range(n_markets):
        mid = rng.uniform(0.05, 0.95)
        close = now - timedelta(days=1)
        yes = rng.random() < TRUE.probability(mid, 24)
        for k, meta in enumerate(({}, {"result": "yes" if yes else "no"})):
            snaps.append(
                Snapshot(
                    timestamp=close - timedelta(hours=24 - k),
                    ticker=f"OLD-{i}",
                    title=None,
                    last_price=None,
                    yes_bid=round(mid - 0.01, 2),
                    yes_ask=round(mid + 0.01, 2),
                    no_bid=None,
                    no_ask=None,
                    volume_24h=100,
                    open_interest=100,
                    close_time=close.isoformat(),
                    category="X",
                    metadata=meta,
                )
            )
    snaps.append(
        Snapshot(
            timestamp=now,
            ticker="LIVE-1",
            title="Will it snow?",
            last_price=0.9,
            yes_bid=0.90,
            yes_ask=0.91,
            no_bid=0.09,
            no_ask=0.10,
            volume_24h=500,
            open_interest=800,
            close_time=(now + timedelta(days=1)).isoformat(),
            category="Weather",
        )
    )

    async def go() -> None:
        repo = Repository(url)
        await repo.initialize()
        await repo.add_snapshots(snaps)
        await repo.close()

    asyncio.run(go())


def test_fit_then_analyze_then_costs_and_budget(env: Path) -> None:
    seed(f"sqlite+aiosqlite:///{env / 'k.db'}", 400)
    fitted = runner.invoke(app, ["analyst", "fit", "--min-markets", "50"])
    assert fitted.exit_code == 0, fitted.output
    assert "fitted on 400 markets (800 snapshots)" in fitted.output
    params = json.loads((env / "model.json").read_text())
    assert params["b"] > 1.1  # the history's favourite-longshot bias was found
    shown = runner.invoke(app, ["analyst", "show"])
    assert shown.exit_code == 0 and '"n_markets": 400' in shown.output

    result = runner.invoke(app, ["analyze", "LIVE-1", "--source", "snapshot", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["provider"] == "heuristic" and out["cost"] == "0"
    assert out["decision"] == "OPEN_YES"  # a favourite at 0.905, shaded up by b > 1

    costs = runner.invoke(app, ["ai", "costs", "--days", "2"])
    assert costs.exit_code == 0, costs.output
    assert "heuristic" in costs.output and "budget $10 from settings" in costs.output

    set_ = runner.invoke(app, ["ai", "budget", "--set", "25.50"])
    assert set_.exit_code == 0 and "$25.500000 (set in the database) since 20" in set_.output
    assert "the settings say $10" in set_.output
    shown_again = runner.invoke(app, ["ai", "budget"]).output
    when = re.search(r"since (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)", shown_again)
    assert when is not None, shown_again
    costs_now = runner.invoke(app, ["ai", "costs"]).output
    assert f"budget $25.500000 from database (kalbot ai budget --set, {when[1]})" in costs_now
    cleared = runner.invoke(app, ["ai", "budget", "--clear"])
    assert "$10 (settings)" in cleared.output


def test_errors_are_one_line_and_exit_non_zero(env: Path) -> None:
    seed(f"sqlite+aiosqlite:///{env / 'k.db'}", 3)
    missing = runner.invoke(app, ["analyze", "NOPE", "--source", "snapshot"])
    assert missing.exit_code == 1 and "no snapshot of NOPE" in missing.output
    few = runner.invoke(app, ["analyst", "fit"])
    assert few.exit_code == 1 and "cannot fit: 3 resolved markets" in few.output
    bad = runner.invoke(app, ["ai", "budget", "--set", "lots"])
    assert bad.exit_code == 1 and "not an amount" in bad.output
    unknown = runner.invoke(app, ["analyze", "LIVE-1", "--source", "snapshot", "-p", "x"])
    assert unknown.exit_code != 0
    noprov = runner.invoke(app, ["analyze", "LIVE-1", "--source", "snapshot", "--provider", "x"])
    assert noprov.exit_code == 1 and "unknown AI provider" in noprov.output
