"""`kalbot data download`: real Kalshi history (candlesticks + results) into the database."""

from __future__ import annotations

from typing import Annotated

import typer

from kalbot.cli.apps import data_app
from kalbot.cli.common import (
    console,
    err_console,
    fail,
    kalshi_settings_for,
    run_async,
    settings_or_exit,
)

MAX_PROBLEMS_SHOWN = 50


@data_app.command("download")
def download_cmd(
    series: Annotated[str, typer.Option("--series", help="Series ticker, e.g. KXFED.")],
    start: Annotated[str, typer.Option("--start", help="From (UTC, YYYY-MM-DD or ISO 8601).")],
    end: Annotated[str, typer.Option("--end", help="Until, exclusive (UTC).")],
    event: Annotated[str | None, typer.Option("--event", help="Only this event.")] = None,
    interval: Annotated[str, typer.Option("--interval", help="1m | 1h | 1d")] = "1h",
    url: Annotated[str | None, typer.Option("--url", help="Database URL.")] = None,
    env: Annotated[str | None, typer.Option("--env", help="demo or production.")] = None,
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="Any Kalshi-compatible REST base URL.")
    ] = None,
) -> None:
    """Download a series' candlesticks and results as snapshots (idempotent, resumable).

    Markets come from both tiers: /markets (live) and /historical/markets (settled before
    Kalshi's /historical/cutoff), one per ticker, each market's candles from its own tier."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from kalbot.backtest_download import DownloadReport, DownloadSpec, download
    from kalbot.cli.backtest import parse_when

    try:
        spec = DownloadSpec(
            series, parse_when(start, "--start"), parse_when(end, "--end"), interval, event
        )
    except ValueError as e:
        fail(str(e))
    settings = settings_or_exit()
    kalshi = kalshi_settings_for(settings, env, base_url)

    async def go() -> DownloadReport:
        from kalbot.adapters.kalshi.client import KalshiClient
        from kalbot.adapters.store.repository import Repository, create_repository

        repo = Repository(url) if url else create_repository(settings)
        await repo.initialize()
        try:
            async with KalshiClient.from_settings(kalshi) as client:
                with Progress(
                    TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    console=err_console, transient=True,
                ) as bar:  # fmt: skip
                    task = bar.add_task(f"downloading {series}", total=None)

                    def tick(ticker: str, done: int, total: int) -> None:
                        bar.update(task, completed=done, total=total, description=ticker)

                    return await download(client, repo, spec, tick)
        finally:
            await repo.close()

    from kalbot.adapters.kalshi.errors import KalshiError
    from kalbot.domain.errors import StoreError

    try:
        rep = run_async(go)
    except (KalshiError, StoreError, ValueError) as e:
        fail(str(e))
    for p in rep.problems[:MAX_PROBLEMS_SHOWN]:
        err_console.print(f"skipped: {p}", highlight=False, soft_wrap=True)
    if len(rep.problems) > MAX_PROBLEMS_SHOWN:
        err_console.print(f"... and {len(rep.problems) - MAX_PROBLEMS_SHOWN} more", highlight=False)
    console.print(
        f"{rep.markets} markets ({rep.historical_markets} from the historical tier), "
        f"{rep.candles:,} candles: wrote {rep.written:,} snapshots "
        f"({rep.already_stored:,} already stored), {rep.results} results, "
        f"{len(rep.problems)} skipped",
        highlight=False,
    )
