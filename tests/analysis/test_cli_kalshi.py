"""`kalbot analyze TICKER` against the Kalshi client, served by the local simulated exchange."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kalbot.adapters.simulated.server.app import ServerOptions, ServerThread
from kalbot.adapters.simulated.server.auth import generate_rsa_key_pem, load_public_key
from kalbot.adapters.simulated.server.builder import ApiKey, build_synthetic
from kalbot.adapters.simulated.server.ratelimit import RateLimiter
from kalbot.cli import register_commands
from kalbot.cli.apps import app


def test_analyze_fetches_the_market_from_the_exchange_and_records_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pem = generate_rsa_key_pem()
    key_path = tmp_path / "key.pem"
    key_path.write_bytes(pem)
    key_path.chmod(0o600)
    world = build_synthetic(
        [ApiKey("analyst-key", load_public_key(pem), Decimal(1000))], markets=3, days=1, seed=1
    )
    opts = ServerOptions(rate_limiter=RateLimiter(enabled=False))
    with ServerThread(world.service, world.keys, opts) as server:
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("KALBOT_DATABASE__URL", f"sqlite+aiosqlite:///{tmp_path / 'k.db'}")
        monkeypatch.setenv("KALBOT_KALSHI__BASE_URL", server.base_url)
        monkeypatch.setenv("KALBOT_KALSHI__API_KEY_ID", "analyst-key")
        monkeypatch.setenv("KALBOT_KALSHI__PRIVATE_KEY_PATH", str(key_path))
        monkeypatch.setenv("KALBOT_AI__HEURISTIC_PARAMS_PATH", str(tmp_path / "m.json"))
        register_commands()
        ticker = world.tickers[0]
        result = CliRunner().invoke(app, ["analyze", ticker, "--json"])
        assert result.exit_code == 0, result.output
        out = json.loads(result.output)
        assert out["ticker"] == ticker and out["provider"] == "heuristic"
        assert out["decision"] in {"SKIP", "OPEN_YES", "OPEN_NO"}
        # Whatever the synthetic book shows at that instant (it may be empty or one-sided),
        # the analysis is recorded, and without a two-sided quote it is a SKIP, never a guess.
        meta = out["metadata"]
        if meta["mid"] is None:
            assert out["decision"] == "SKIP" and out["error"] == "no_mid_price"
        else:
            assert out["probability_yes"] is not None
        with sqlite3.connect(tmp_path / "k.db") as db:
            rows = db.execute("SELECT ticker, ai_provider FROM market_analyses").fetchall()
        assert rows == [(ticker, "heuristic")]
        missing = CliRunner().invoke(app, ["analyze", "NO-SUCH-MARKET"])
        assert missing.exit_code == 1 and "cannot fetch NO-SUCH-MARKET" in missing.output
