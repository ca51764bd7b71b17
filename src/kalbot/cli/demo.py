"""`kalbot demo`: the whole bot offline in under two minutes.

A simulated Kalshi is served on a free loopback port (a seeded synthetic scenario in
accelerated time); the bot trades it through the real Kalshi client with the heuristic
analyst (fitted first on a separate synthetic history) and the recorder, lives through market
closes and settlements, then prints positions, performance and decision counts. It leaves a
populated SQLite database (``data/kalshi_trading.db`` by default).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from kalbot.cli.apps import app
from kalbot.cli.common import console, fail, run_async, settings_or_exit
from kalbot.config import Settings


@dataclass(frozen=True, slots=True)
class DemoOptions:
    markets: int = 24
    days: int = 2
    seed: int = 7
    step: timedelta = timedelta(hours=1)  # simulated time between two bot cycles
    db_path: Path = Path("data/kalshi_trading.db")
    params_path: Path = Path("data/demo_analyst_model.json")
    training_markets: int = 150


def fit_demo_analyst(opts: DemoOptions) -> Any:
    """Fit the heuristic analyst on a synthetic history of other markets (another seed)."""
    from kalbot.adapters.simulated.scenarios.synthetic import SyntheticScenario
    from kalbot.analysis.fitting import Sample, fit
    from kalbot.analysis.heuristic import save_params
    from kalbot.domain.clock import parse_iso

    history = SyntheticScenario(
        markets=opts.training_markets, days=opts.days * 2, seed=opts.seed + 1000
    )
    samples = []
    for snap in history.snapshots():
        if snap.yes_bid is None or snap.yes_ask is None or snap.close_time is None:
            continue
        result = snap.metadata.get("result")
        hours = (parse_iso(snap.close_time) - snap.timestamp).total_seconds() / 3600
        samples.append(
            Sample(snap.ticker, (snap.yes_bid + snap.yes_ask) / 2, hours, int(result == "yes"))
        )
    params = fit(samples, fitted_at="demo")
    save_params(params, opts.params_path)
    return params


def demo_settings(
    base: Settings, opts: DemoOptions, base_url: str, key_id: str, key: Path
) -> Settings:
    """The user's settings with the demo's venue, database, analyst and looser screens."""
    return base.model_copy(
        update={
            "database": base.database.model_copy(
                update={"type": "sqlite", "url": None, "sqlite_path": str(opts.db_path)}
            ),
            "kalshi": base.kalshi.model_copy(
                update={
                    "base_url": base_url,
                    "ws_url": None,
                    "api_key_id": key_id,
                    "private_key_path": key,
                    "read_tokens_per_second": 100_000,
                    "write_tokens_per_second": 100_000,
                    "max_retries": 4,
                }
            ),
            "ai": base.ai.model_copy(
                update={"provider": "heuristic", "heuristic_params_path": str(opts.params_path)}
            ),
            "trading": base.trading.model_copy(
                update={
                    "strategy": "standard",
                    # Young synthetic markets have little volume yet; let the spread decide.
                    "min_volume_24h": Decimal(0),
                    "min_open_interest": Decimal(0),
                    # The fitted edge is an edge at settlement: ride positions into it
                    # unless a wide target or stop hits first (synthetic paths are noisy).
                    "close_before_expiry_minutes": 0,
                    "profit_target": Decimal("0.50"),
                    "stop_loss": Decimal("0.50"),
                }
            ),
        }
    )


async def run_demo(base: Settings, opts: DemoOptions) -> dict[str, Any]:
    """Serve the scenario and run the bot against it in lockstep; the report of the run.

    Simulated time is a ``SteppedClock`` shared by the served exchange and the bot. Each
    round: advance it by ``opts.step``, let the exchange act once at the new time (market
    makers requote, noise traders trade for the simulated time that passed, markets open,
    close and settle), then run one bot cycle while time stands still. No timer runs on the
    server, so what the bot sees and trades depends only on the seed and the step, never on
    how fast this machine is.
    """
    from kalbot.adapters.simulated.server.app import ServerOptions, ServerThread
    from kalbot.adapters.simulated.server.auth import generate_rsa_key_pem, load_public_key
    from kalbot.adapters.simulated.server.builder import ApiKey, build_synthetic_lockstep
    from kalbot.adapters.simulated.server.ratelimit import RateLimiter
    from kalbot.adapters.store.repository import Repository
    from kalbot.bootstrap import build_trading_app

    if opts.step <= timedelta(0):
        raise ValueError("the demo's step must be positive")
    started = time.monotonic()
    params = fit_demo_analyst(opts)
    console.print(
        f"analyst fitted on {params.n_markets} synthetic markets: a={params.a:.3f} "
        f"b={params.b:.3f} c={params.c:.3f} (log loss {params.log_loss:.4f} vs "
        f"{params.baseline_log_loss:.4f} for the raw mid)",
        highlight=False,
    )
    repo = Repository(f"sqlite+aiosqlite:///{opts.db_path}")
    await repo.initialize()
    key_id = "kalbot-demo"
    pem = generate_rsa_key_pem()
    settle = timedelta(minutes=5)
    world = build_synthetic_lockstep(
        [ApiKey(key_id, load_public_key(pem), Decimal(10000))],
        markets=opts.markets,
        days=opts.days,
        seed=opts.seed,
        settlement_delay=settle,
    )
    # One cycle after the last settlement, so every position is settled in the report.
    end = world.end + settle + opts.step
    cycles = 0
    with tempfile.TemporaryDirectory() as tmp:
        key_file = Path(tmp) / "demo-key.pem"
        key_file.write_bytes(pem)
        key_file.chmod(0o600)
        server = ServerThread(
            world.service,
            world.keys,
            ServerOptions(rate_limiter=RateLimiter(enabled=False), run_clock=False),
        )
        running = server.start()
        try:
            s = demo_settings(base, opts, running.base_url, key_id, key_file)
            console.print(
                f"simulated Kalshi at {running.base_url}: {len(world.tickers)} markets, "
                f"lockstep time from {world.clock.now():%Y-%m-%d %H:%M} UTC to "
                f"{end:%Y-%m-%d %H:%M} UTC in steps of {_minutes(opts.step)} min",
                highlight=False,
            )
            bot = await build_trading_app(s, mode="demo", clock=world.clock, repo=repo)
            try:
                while True:
                    summary = await bot.engine.run_cycle()
                    cycles += 1
                    console.print(
                        f"[dim]{world.clock.now():%m-%d %H:%M}[/] {summary.line()}",
                        highlight=False,
                    )
                    if world.clock.now() >= end:
                        break
                    world.clock.advance(opts.step)
                    server.call(world.service.tick)
                report = await demo_report(bot.repo)
            finally:
                await bot.aclose()
        finally:
            server.stop()
    report["cycles"] = cycles
    report["seconds"] = time.monotonic() - started
    return report


def _minutes(step: timedelta) -> str:
    return f"{step.total_seconds() / 60:g}"


async def demo_report(repo: Any) -> dict[str, Any]:
    return {
        "positions": await repo.list_positions(limit=500),
        "performance": await repo.performance_logs(30),
        "decisions": await repo.decision_counts(),
        "counts": await repo.table_counts(
            [
                "positions",
                "orders",
                "fills",
                "market_analyses",
                "market_snapshots",
                "market_results",
                "decision_log",
                "cycles",
                "performance_logs",
            ]
        ),
    }


def print_report(report: dict[str, Any], opts: DemoOptions) -> None:
    from kalbot.cli.run import performance_table, positions_table

    console.print(positions_table(report["positions"], "positions", compact=True))
    console.print(performance_table(report["performance"]))
    t = Table(title="decisions by stage, outcome and reason")
    for col in ("stage", "outcome", "reason", "count"):
        t.add_column(col)
    for (stage, outcome, reason), n in sorted(
        report["decisions"].items(), key=lambda kv: (kv[0][0], -kv[1])
    ):
        t.add_row(stage, outcome, reason, str(n))
    console.print(t)
    closed = [p for p in report["positions"] if p["status"] == "closed"]
    pnl = sum(float(p["pnl"] or 0) for p in closed)
    console.print(
        f"{len(closed)} closed trades, realised P&L ${pnl:,.2f}; rows: "
        + ", ".join(f"{k} {v:,}" for k, v in report["counts"].items()),
        highlight=False,
    )
    console.print(
        f"demo finished in {report['cycles']} cycles, {report['seconds']:.0f}s; database "
        f"left at {opts.db_path} "
        "(try: kalbot positions, kalbot performance, kalbot why TICKER, kalbot web)",
        highlight=False,
    )


@app.command("demo")
def demo(
    markets: Annotated[int, typer.Option(help="synthetic markets to trade")] = 24,
    days: Annotated[int, typer.Option(help="simulated days they span")] = 2,
    seed: Annotated[int, typer.Option(help="scenario seed")] = 7,
    step_minutes: Annotated[
        int, typer.Option("--step-minutes", help="simulated minutes between bot cycles")
    ] = 60,
    db: Annotated[
        Path | None, typer.Option(help="SQLite file (default: the settings' path)")
    ] = None,
    keep: Annotated[
        bool, typer.Option(help="append to the existing database instead of starting afresh")
    ] = False,
) -> None:
    """Run the bot against a local simulated Kalshi: no key, no network, under two minutes.

    Deterministic: simulated time advances in lockstep with the bot, so the same seed gives
    the same cycles, decisions, trades and settlements on any machine. Each run starts from a
    fresh database (an existing one is moved aside to a ``.bak`` file) unless ``--keep``.
    """
    from kalbot.cli._run_logging import setup_logging

    if step_minutes < 1:
        fail("--step-minutes must be at least 1")
    base = settings_or_exit()
    path = db or Path(base.database.sqlite_path)
    opts = DemoOptions(
        markets=markets,
        days=days,
        seed=seed,
        step=timedelta(minutes=step_minutes),
        db_path=path,
        params_path=path.with_name("demo_analyst_model.json"),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and not keep:
        backup = set_aside(path)
        console.print(
            f"starting from a fresh demo database: moved the existing {path} to {backup} "
            "(--keep appends instead)",
            highlight=False,
        )
    elif path.exists():
        console.print(f"appending to the existing database {path} (--keep)", highlight=False)
    else:
        console.print(f"starting from a fresh demo database at {path}", highlight=False)
    setup_logging("text", "WARNING")
    try:
        report = run_async(lambda: run_demo(base, opts))
    except Exception as e:  # the demo must end with a sentence, not a traceback
        fail(f"demo failed: {type(e).__name__}: {e}")
    print_report(report, opts)


def set_aside(path: Path) -> Path:
    """Move a database (and its WAL side files) to ``<name>.<UTC stamp>.bak``."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    backup = path.with_name(f"{path.name}.{stamp}.bak")
    path.rename(backup)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.rename(backup.with_name(backup.name + suffix))
    return backup
