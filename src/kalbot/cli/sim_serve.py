"""`kalbot sim serve`: the simulated exchange as a local Kalshi, over HTTP and WebSocket."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from kalbot.cli.apps import sim_app
from kalbot.cli.common import console, fail

if TYPE_CHECKING:
    from kalbot.adapters.simulated.server.builder import ApiKey


def _keys(
    ids: list[str], key_files: list[Path], balances: list[str], generate_key: Path | None
) -> list[ApiKey]:
    from kalbot.adapters.simulated.server.auth import (
        generate_rsa_key_pem,
        load_public_key,
        load_public_key_file,
    )
    from kalbot.adapters.simulated.server.builder import DEFAULT_BALANCE, ApiKey

    if len(ids) != len(key_files):
        fail("give one --public-key FILE for each --api-key-id ID (in the same order)")
    if balances and len(balances) not in {1, len(ids) + (1 if generate_key else 0)}:
        fail("give --balance once (for every key) or once per key")
    try:
        amounts = [Decimal(b) for b in balances] or [DEFAULT_BALANCE]
    except InvalidOperation:
        fail(f"--balance must be a dollar amount, got {balances!r}")
    if any(a < 0 for a in amounts):
        fail("--balance must not be negative")
    keys: list[ApiKey] = []
    for i, (key_id, path) in enumerate(zip(ids, key_files, strict=True)):
        try:
            public = load_public_key_file(path)
        except (OSError, ValueError) as e:
            fail(f"cannot load the public key {path}: {e}")
        keys.append(ApiKey(key_id, public, amounts[min(i, len(amounts) - 1)]))
    if generate_key is not None:
        pem = generate_rsa_key_pem()
        generate_key.parent.mkdir(parents=True, exist_ok=True)
        generate_key.write_bytes(pem)
        generate_key.chmod(0o600)
        keys.append(ApiKey("sim-demo-key", load_public_key(pem), amounts[-1]))
    if not keys:
        fail("register at least one key: --api-key-id ID --public-key FILE, or --generate-key PATH")
    return keys


@sim_app.command("serve")
def serve(
    port: int = typer.Option(8765, help="TCP port on 127.0.0.1 (0 = any free port)."),
    host: str = typer.Option("127.0.0.1", help="Interface to bind; keep it on loopback."),
    scenario: str = typer.Option("synthetic", help="Where markets come from: synthetic|replay."),
    markets: int = typer.Option(20, min=1, help="Synthetic: how many markets."),
    days: int = typer.Option(2, min=1, help="Synthetic: the days the markets span."),
    seed: int = typer.Option(0, help="Seed for the scenario and the fault dice."),
    speed: float = typer.Option(
        1.0, min=0.001, help="Simulated seconds per real second (3600 = an hour a second)."
    ),
    api_key_id: list[str] = typer.Option([], help="An API key id (repeatable)."),
    public_key: list[Path] = typer.Option([], help="Its PEM public key (repeatable, in order)."),
    balance: list[str] = typer.Option([], help="Dollars per key's account (default 10000)."),
    generate_key: Path | None = typer.Option(
        None, help="Write a fresh private key here and register it as 'sim-demo-key'."
    ),
    tier: str = typer.Option("basic", help="Rate-limit tier: basic|advanced|...|prestige."),
    no_rate_limit: bool = typer.Option(False, help="Do not enforce the token buckets."),
    settlement_delay_minutes: float = typer.Option(
        5.0, min=0, help="Simulated minutes from close to settlement."
    ),
    fault_latency_ms: int = typer.Option(0, min=0, help="Added latency per REST answer."),
    fault_error_rate: float = typer.Option(0.0, min=0, max=1, help="Share of 500/503 answers."),
    fault_drop_after_accept: float = typer.Option(
        0.0, min=0, max=1, help="Share of accepted order creates whose answer is cut off."
    ),
    fault_malformed_rate: float = typer.Option(
        0.0, min=0, max=1, help="Share of 200 answers with a truncated JSON body."
    ),
    fault_ws_disconnect_rate: float = typer.Option(
        0.0, min=0, max=1, help="Share of WebSocket messages after which the socket closes."
    ),
    fault_ws_gap_rate: float = typer.Option(
        0.0, min=0, max=1, help="Share of order-book deltas dropped (a seq gap)."
    ),
) -> None:
    """Serve a simulated Kalshi on 127.0.0.1 (REST /trade-api/v2, WebSocket /trade-api/ws/v2)."""
    from datetime import timedelta

    import uvicorn

    from kalbot.adapters.simulated.server.app import WS_PATH, ServerOptions, create_app, ws_protocol
    from kalbot.adapters.simulated.server.builder import build_synthetic
    from kalbot.adapters.simulated.server.faults import FaultConfig
    from kalbot.adapters.simulated.server.ratelimit import TIERS, RateLimiter

    if scenario == "replay":
        fail(
            "the replay scenario is not served yet: the engine's replay source "
            "(kalbot.adapters.simulated.scenarios.replay) has not landed; use --scenario synthetic"
        )
    if scenario != "synthetic":
        fail(f"--scenario must be synthetic or replay, got {scenario!r}")
    if tier not in TIERS:
        fail(f"--tier must be one of {', '.join(TIERS)}")
    keys = _keys(api_key_id, public_key, balance, generate_key)
    try:
        faults = FaultConfig(
            latency_ms=fault_latency_ms,
            error_rate=fault_error_rate,
            drop_after_accept_rate=fault_drop_after_accept,
            malformed_rate=fault_malformed_rate,
            ws_disconnect_rate=fault_ws_disconnect_rate,
            ws_gap_rate=fault_ws_gap_rate,
            seed=seed,
        )
    except ValueError as e:
        fail(str(e))
    world = build_synthetic(
        keys,
        markets=markets,
        days=days,
        seed=seed,
        speed=speed,
        faults=faults,
        settlement_delay=timedelta(minutes=settlement_delay_minutes),
    )
    app = create_app(
        world.service,
        world.keys,
        ServerOptions(rate_limiter=RateLimiter(tier, enabled=not no_rate_limit)),
    )
    console.print(
        f"simulated Kalshi: REST http://{host}:{port}/trade-api/v2  "
        f"WebSocket ws://{host}:{port}{WS_PATH}",
        highlight=False,
    )
    console.print(
        f"{len(world.tickers)} synthetic markets (seed {seed}), time x{speed:g} from "
        f"{world.clock.now():%Y-%m-%d %H:%M} UTC; accounts: "
        + ", ".join(f"{k.key_id} (${k.balance})" for k in keys),
        highlight=False,
    )
    if generate_key is not None:
        console.print(f"private key for 'sim-demo-key' written to {generate_key}", highlight=False)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        ws=ws_protocol(),
        ws_ping_interval=10.0,
    )
