"""A served synthetic Kalshi for the end-to-end tests, and settings that point the bot at it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from kalbot.adapters.simulated.server.app import RunningServer, ServerOptions, ServerThread
from kalbot.adapters.simulated.server.auth import generate_rsa_key_pem, load_public_key
from kalbot.adapters.simulated.server.builder import ApiKey, SyntheticWorld, build_synthetic
from kalbot.adapters.simulated.server.faults import FaultConfig
from kalbot.adapters.simulated.server.ratelimit import RateLimiter
from kalbot.config import Settings, load_settings

KEY_ID = "e2e-bot"


@dataclass
class World:
    world: SyntheticWorld
    server: RunningServer
    key_file: Path

    def settings(self, db_url: str, **trading: object) -> Settings:
        return load_settings(
            database={"url": db_url},
            kalshi={
                "base_url": self.server.base_url,
                "api_key_id": KEY_ID,
                "private_key_path": str(self.key_file),
                "read_tokens_per_second": 100000,
                "write_tokens_per_second": 100000,
            },
            ai={
                "provider": "heuristic",
                "heuristic_params_path": str(self.key_file.parent / "m.json"),
            },
            trading={
                "min_volume_24h": "0",
                "min_open_interest": "0",
                "close_before_expiry_minutes": 0,
                "strategy": "standard",
                **trading,
            },
            risk={"max_daily_loss": "5000", "max_drawdown": "0.9", "cooldown_minutes": 0},
        )


@contextmanager
def served(
    tmp: Path, *, markets: int = 12, days: int = 1, seed: int = 3, speed: float = 5400.0,
    faults: FaultConfig | None = None,
) -> Iterator[World]:  # fmt: skip
    pem = generate_rsa_key_pem()
    key_file = tmp / "key.pem"
    key_file.write_bytes(pem)
    key_file.chmod(0o600)
    world = build_synthetic(
        [ApiKey(KEY_ID, load_public_key(pem), Decimal(10000))],
        markets=markets,
        days=days,
        seed=seed,
        speed=speed,
        faults=faults,
        settlement_delay=timedelta(minutes=5),
    )
    thread = ServerThread(
        world.service, world.keys, ServerOptions(rate_limiter=RateLimiter(enabled=False))
    )
    server = thread.start()
    try:
        yield World(world, server, key_file)
    finally:
        thread.stop()


def write_params(path: Path) -> None:
    """An extremizing recalibration (b > 1), so the heuristic analyst finds edges to trade."""
    from kalbot.analysis.heuristic import HeuristicParams, save_params

    save_params(HeuristicParams(a=0.0, b=1.6, c=0.0, source="e2e"), path)
