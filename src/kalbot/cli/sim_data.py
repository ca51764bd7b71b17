"""`kalbot data synth`: a synthetic market history for machines with no network.

Writes the snapshots of a seeded ``SyntheticScenario`` into ``market_snapshots`` and each
market's result into ``market_results`` (and, for readers of the snapshots alone, into every
snapshot's ``metadata["result"]``), so backtests and the demo have data to run on.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from kalbot.cli.apps import data_app
from kalbot.cli.common import console, fail, run_async, settings_or_exit

BATCH = 5_000


@data_app.command("synth")
def synth(
    markets: Annotated[int, typer.Option("--markets", min=1, help="How many markets.")] = 50,
    days: Annotated[int, typer.Option("--days", min=1, help="Days of history.")] = 7,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same history.")] = 0,
    start: Annotated[
        str, typer.Option("--start", help="First day (YYYY-MM-DD, UTC).")
    ] = "2026-01-05",
    step_minutes: Annotated[
        int, typer.Option("--step-minutes", min=1, max=1440, help="Minutes between snapshots.")
    ] = 60,
    url: Annotated[
        str | None, typer.Option("--url", help="Database URL (default: the configured one).")
    ] = None,
) -> None:
    """Write a seeded synthetic history (snapshots + results) into the database."""
    try:
        first = datetime.strptime(start, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        fail(f"--start must be YYYY-MM-DD, got {start!r}")
    settings = settings_or_exit()
    target = url or settings.database.effective_url()

    async def go() -> tuple[int, int, str]:
        from kalbot.adapters.simulated.scenarios.synthetic import SyntheticScenario
        from kalbot.adapters.store.repository import Repository, create_repository
        from kalbot.domain.trading import MarketResultRow

        scenario = SyntheticScenario(
            markets=markets,
            days=days,
            seed=seed,
            start=first,
            step=timedelta(minutes=step_minutes),
        )
        repo = Repository(url) if url else create_repository(settings)
        await repo.initialize()
        try:
            written = 0
            batch = []
            for snap in scenario.snapshots():
                batch.append(snap)
                if len(batch) >= BATCH:
                    written += await repo.add_snapshots(batch)
                    batch = []
            if batch:
                written += await repo.add_snapshots(batch)
            await repo.add_market_results(
                [
                    MarketResultRow(
                        ticker=m.ticker,
                        event_ticker=m.spec.event_ticker,
                        category=m.spec.category,
                        result=m.result.value,
                        determined_at=m.spec.close_time,
                    )
                    for m in scenario.markets
                ]
            )
        finally:
            await repo.close()
        return (
            written,
            len(scenario.markets),
            f"{scenario.start:%Y-%m-%d} .. {scenario.end:%Y-%m-%d}",
        )

    try:
        rows, count, span = run_async(go)
    except Exception as e:  # one line and a non-zero exit, whatever broke
        detail = str(e).splitlines()[0] if str(e) else ""
        fail(f"data synth failed: {type(e).__name__}: {detail}")
    console.print(
        f"wrote {rows:,} snapshots of {count} markets ({span}, seed {seed}) and their results "
        f"to {_shown(target)}",
        highlight=False,
    )


def _shown(url: str) -> str:
    from kalbot.adapters.store.urls import async_url, redacted

    try:
        return redacted(async_url(url))
    except Exception:
        return "the database"
