"""`kalbot backtest`: replay recorded history through the engine and report how it did."""

from __future__ import annotations

import time
import tomllib
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import typer

from kalbot.cli.apps import app
from kalbot.cli.common import console, err_console, fail, run_async, settings_or_exit


def parse_when(value: str, name: str) -> datetime:
    """YYYY-MM-DD or an ISO 8601 time; naive times are UTC."""
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail(f"{name} must be YYYY-MM-DD or ISO 8601, got {value!r}")
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _config_overrides(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        fail(f"cannot read --config {path}: {e}")
    return data


@app.command("backtest")
def backtest(
    start: Annotated[str | None, typer.Option("--start", help="First instant (UTC).")] = None,
    end: Annotated[str | None, typer.Option("--end", help="End instant, exclusive (UTC).")] = None,
    strategy: Annotated[
        str | None, typer.Option("--strategy", help="Strategy name (default: configured).")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="A TOML file of settings sections.")
    ] = None,
    capital: Annotated[str, typer.Option("--capital", help="Starting cash, dollars.")] = "10000",
    fill_model: Annotated[
        str, typer.Option("--fill-model", help="conservative | touch (docs/fill-models.md).")
    ] = "conservative",
    export: Annotated[
        Path | None, typer.Option("--export", help="Write JSON, CSV, Markdown, PNG, HTML here.")
    ] = None,
    ticker: Annotated[
        list[str] | None, typer.Option("--ticker", help="Only these markets (repeatable).")
    ] = None,
    category: Annotated[str | None, typer.Option("--category", help="Only this category.")] = None,
    url: Annotated[str | None, typer.Option("--url", help="Database URL.")] = None,
    analyst: Annotated[
        str,
        typer.Option(
            "--analyst",
            help=(
                "recorded (default: replay market_analyses, free, no look-ahead) | heuristic "
                "(run over the past, free) | configured | PROVIDER[:MODEL], e.g. openai or "
                "anthropic:claude-sonnet-4: a paid model run over the past under the daily AI "
                "budget, said so in the report."
            ),
        ),
    ] = "recorded",
    pay_again: Annotated[
        bool,
        typer.Option(
            "--pay-again",
            help=(
                "With a paid --analyst: call the model even where an earlier backtest already "
                "paid it for the same market, replay time, model and prompt (by default that "
                "answer is reused, so a run the budget stopped can be run again)."
            ),
        ),
    ] = False,
    read_ahead: Annotated[
        bool | None,
        typer.Option(
            "--read-ahead/--no-read-ahead",
            help=(
                "Read and convert the snapshots in a second process while the engine trades "
                "(default: when there is a second CPU and the database is a file or a "
                "server). The results are the same either way."
            ),
        ),
    ] = None,
    compare: Annotated[
        tuple[Path, Path] | None,
        typer.Option("--compare", help="Show two exported runs (RUN_A RUN_B) side by side."),
    ] = None,
) -> None:
    """Replay market_snapshots through the same screener, strategy, risk manager and broker
    port as live, on the simulated exchange; recorded analyses are replayed unless --analyst
    runs one over the past."""
    from kalbot.backtest_report import compare as compare_runs

    if compare is not None:
        for p in compare:
            if not (p / "report.json").is_file():
                fail(f"{p} is not an exported run (no report.json)")
        console.print(compare_runs(*compare))
        return
    if start is None or end is None:
        fail("--start and --end are required (or --compare RUN_A RUN_B)")
    first, last = parse_when(start, "--start"), parse_when(end, "--end")
    if last <= first:
        fail("--end must be after --start")
    try:
        cash = Decimal(capital)
    except InvalidOperation:
        fail(f"--capital must be a dollar amount, got {capital!r}")
    if not cash.is_finite() or cash <= 0:
        fail("--capital must be positive")
    from kalbot.adapters.simulated.fill_models import FILL_MODELS
    from kalbot.adapters.simulated.gc_policy import engine_gc

    if fill_model not in FILL_MODELS:
        fail(f"unknown --fill-model {fill_model!r}; choose one of {', '.join(FILL_MODELS)}")
    settings = settings_or_exit(**_config_overrides(config))

    from kalbot.adapters.llm.factory import PROVIDERS
    from kalbot.backtest.analysts import BudgetExhausted, parse_analyst
    from kalbot.backtest.runner import NoData
    from kalbot.backtest_app import BacktestSpec, paid_models, run_backtest
    from kalbot.backtest_feed import FeedError
    from kalbot.backtest_report import export as export_run
    from kalbot.backtest_report import print_report
    from kalbot.config import ConfigError
    from kalbot.domain.errors import StoreError

    try:
        choice = parse_analyst(analyst, PROVIDERS)
        # Before any work: a paid model without a key, a model or a price is one line.
        paid = paid_models(settings, choice)
    except (ValueError, ConfigError) as e:
        fail(str(e))
    if paid:
        err_console.print(
            f"running {', '.join(paid)} over the past: paid calls under today's AI budget "
            f"(${settings.ai.daily_budget}/day unless set in the database)",
            highlight=False,
        )
    spec = BacktestSpec(
        first, last, cash, strategy, fill_model, ticker or None, category, analyst=choice,
        read_ahead=read_ahead, reuse_paid=not pay_again,
    )  # fmt: skip

    async def go() -> Any:
        from rich.progress import Progress, TextColumn

        from kalbot.adapters.store.repository import Repository, create_repository

        repo = Repository(url) if url else create_repository(settings)
        await repo.initialize(upgrade=False)
        t0 = time.perf_counter()
        try:
            with Progress(
                TextColumn("[progress.description]{task.description}"),
                TextColumn("{task.completed:,.0f} snapshots"),
                TextColumn("{task.fields[rate]}"),
                console=err_console,
                transient=True,
            ) as bar:
                task = bar.add_task("replaying", total=None, rate="")

                def progress(n: int, ts: datetime) -> None:
                    dt = time.perf_counter() - t0
                    rate = f"{n / dt:,.0f} snapshots/s" if dt > 0 else ""
                    bar.update(task, completed=n, description=f"at {ts:%Y-%m-%d %H:%M}", rate=rate)

                return await run_backtest(settings, repo, spec, progress=progress)
        finally:
            await repo.close()

    t0 = time.perf_counter()
    try:
        with engine_gc():  # a long-running exchange process: see docs/simulated-exchange.md
            report = run_async(go)
    except BudgetExhausted as e:
        if e.report is not None:  # what the paid calls bought, marked as a partial run
            print_report(console, e.report)
            if export is not None:
                paths = export_run(e.report, export)
                console.print(f"exported {len(paths)} files to {export}", highlight=False)
        fail(str(e))
    except ConfigError as e:
        fail(str(e))
    except (StoreError, FeedError) as e:
        fail(f"backtest failed: {e}")
    except NoData as e:
        fail(f"{e}; nothing to backtest (import or download history first: kalbot data --help)")
    except ValueError as e:
        fail(f"backtest failed: {e}")
    elapsed = time.perf_counter() - t0
    print_report(console, report)
    n = report.meta["snapshots"]
    console.print(f"{n:,} snapshots in {elapsed:.1f} s ({n / elapsed:,.0f} snapshots/s)")
    if export is not None:
        paths = export_run(report, export)
        console.print(f"exported {len(paths)} files to {export}", highlight=False)
