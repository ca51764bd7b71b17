"""`kalbot sim serve`: the simulated exchange as a local Kalshi, over HTTP and WebSocket."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from kalbot.cli.apps import sim_app
from kalbot.cli.common import console, fail

if TYPE_CHECKING:
    from datetime import timedelta

    from kalbot.adapters.simulated.server.auth import KeyRegistry
    from kalbot.adapters.simulated.server.builder import ApiKey
    from kalbot.adapters.simulated.server.clock import AcceleratedClock
    from kalbot.adapters.simulated.server.faults import FaultConfig
    from kalbot.adapters.simulated.server.service import SimService


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


def _replay(
    keys: list[ApiKey],
    start: str,
    end: str,
    url: str | None,
    speed: float,
    faults: FaultConfig,
    delay: timedelta,
) -> tuple[SimService, KeyRegistry, AcceleratedClock, str]:
    from datetime import UTC, datetime

    from kalbot.adapters.simulated.server.builder import build_replay
    from kalbot.bootstrap import replay_snapshots
    from kalbot.cli.common import run_async, settings_or_exit

    try:
        lo = datetime.fromisoformat(start).replace(tzinfo=UTC)
        hi = datetime.fromisoformat(end).replace(tzinfo=UTC)
    except ValueError:
        fail("--replay-from/--replay-to must be dates like 2026-01-05")
    settings = settings_or_exit()
    try:
        snaps = run_async(lambda: replay_snapshots(settings, start=lo, end=hi, url=url))
    except Exception as e:  # the store's errors name the database problem
        fail(f"cannot read snapshots: {e}")
    if not snaps:
        fail(f"no market_snapshots between {start} and {end}: run `kalbot data synth` first")
    world = build_replay(keys, snaps, speed=speed, faults=faults, settlement_delay=delay)
    tickers = len({s.ticker for s in snaps})
    return world.service, world.keys, world.clock, f"{tickers} replayed markets ({len(snaps)} rows)"


def _world(
    scenario: str,
    keys: list[ApiKey],
    markets: int,
    days: int,
    seed: int,
    speed: float,
    faults: FaultConfig,
    delay: timedelta,
    replay: tuple[str, str, str | None],
) -> tuple[SimService, KeyRegistry, AcceleratedClock, str]:
    from kalbot.adapters.simulated.server.builder import build_synthetic

    if scenario == "replay":
        return _replay(keys, *replay, speed, faults, delay)
    world = build_synthetic(
        keys, markets=markets, days=days, seed=seed, speed=speed, faults=faults,
        settlement_delay=delay,
    )  # fmt: skip
    return world.service, world.keys, world.clock, f"{len(world.tickers)} synthetic markets"


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
    live_window_hours: float = typer.Option(
        2160.0,
        min=0.001,
        help="Simulated hours the live endpoints reach back; older data is on /historical/* "
        "only (Kalshi: about 3 months = 2160).",
    ),
    replay_from: str = typer.Option("2000-01-01", help="Replay: first snapshot day (UTC)."),
    replay_to: str = typer.Option("2100-01-01", help="Replay: day after the last one (UTC)."),
    database_url: str | None = typer.Option(
        None, "--url", help="Replay: the database to read (default: the configured one)."
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
    from dataclasses import replace
    from datetime import timedelta

    from kalbot.adapters.simulated.gc_policy import engine_gc
    from kalbot.adapters.simulated.server.app import (
        WS_PATH,
        ServerOptions,
        bind_socket,
        create_app,
        uvicorn_server,
    )
    from kalbot.adapters.simulated.server.faults import FaultConfig
    from kalbot.adapters.simulated.server.ratelimit import TIERS, RateLimiter

    if scenario not in {"synthetic", "replay"}:
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
    delay = timedelta(minutes=settlement_delay_minutes)
    try:
        service, registry, clock, what = _world(
            scenario, keys, markets, days, seed, speed, faults, delay,
            (replay_from, replay_to, database_url),
        )  # fmt: skip
    except ValueError as e:
        fail(str(e))
    service.config = replace(service.config, live_window=timedelta(hours=live_window_hours))
    app = create_app(
        service,
        registry,
        ServerOptions(rate_limiter=RateLimiter(tier, enabled=not no_rate_limit)),
    )
    sock = bind_socket(host, port)
    port = sock.getsockname()[1]
    console.print(
        f"simulated Kalshi: REST http://{host}:{port}/trade-api/v2  "
        f"WebSocket ws://{host}:{port}{WS_PATH}",
        highlight=False,
    )
    console.print(
        f"{what}, time x{speed:g} from {clock.now():%Y-%m-%d %H:%M} UTC; accounts: "
        + ", ".join(f"{k.key_id} (${k.balance})" for k in keys),
        highlight=False,
    )
    if generate_key is not None:
        console.print(f"private key for 'sim-demo-key' written to {generate_key}", highlight=False)
    try:
        with engine_gc():  # a long-running exchange process: see docs/simulated-exchange.md
            uvicorn_server(app, host, port).run(sockets=[sock])
    finally:
        sock.close()
