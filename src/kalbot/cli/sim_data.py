"""`kalbot data synth`: a synthetic market history for machines with no network.

Writes the snapshots of a seeded ``SyntheticScenario`` into ``market_snapshots`` and each
market's result into ``market_results`` (and, for readers of the snapshots alone, into every
snapshot's ``metadata["result"]``), so backtests and the demo have data to run on.

Idempotent: every snapshot carries a fingerprint of the arguments (``metadata["synth_run"]``).
Running the same arguments again writes only what is missing (nothing, after a complete run).
A database that already holds synthetic history from other arguments (and not this run's)
is refused unless
``--replace`` (delete all synthetic history first; recorded or downloaded data is kept) or
``--append`` (add this run beside the others; refused if a ticker would get two histories).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from kalbot.cli.apps import data_app
from kalbot.cli.common import console, fail, run_async, settings_or_exit

BATCH = 5_000


class SynthRefused(Exception):
    """The database holds data this run must not mix with (a one-line reason)."""


@dataclass(slots=True)
class SynthOutcome:
    written: int = 0
    already: int = 0
    markets: int = 0
    span: str = ""
    replaced: tuple[int, int] = (0, 0)


def run_fingerprint(
    seed: int, markets: int, days: int, start: datetime, step_minutes: int, void_rate: float
) -> str:
    """What identifies one synthetic history: same fingerprint, same rows."""
    return (
        f"seed={seed} markets={markets} days={days} start={start:%Y-%m-%d} "
        f"step={step_minutes}m void_rate={void_rate:g}"
    )


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
    void_rate: Annotated[
        float,
        typer.Option(
            "--void-rate",
            min=0.0,
            max=1.0,
            help="Chance an event is voided (result 'void': holders refunded at cost).",
        ),
    ] = 0.0,
    replace_existing: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="Delete the synthetic history already stored (other seeds/arguments) first.",
        ),
    ] = False,
    append: Annotated[
        bool,
        typer.Option(
            "--append", help="Add this run beside synthetic history from other arguments."
        ),
    ] = False,
    url: Annotated[
        str | None, typer.Option("--url", help="Database URL (default: the configured one).")
    ] = None,
) -> None:
    """Write a seeded synthetic history (snapshots + results) into the database.

    Running the same arguments twice writes nothing new; a database holding synthetic history
    from other arguments needs --replace or --append."""
    try:
        first = datetime.strptime(start, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        fail(f"--start must be YYYY-MM-DD, got {start!r}")
    if replace_existing and append:
        fail("--replace and --append exclude each other: pick one")
    settings = settings_or_exit()
    target = url or settings.database.effective_url()
    fingerprint = run_fingerprint(seed, markets, days, first, step_minutes, void_rate)

    async def go() -> SynthOutcome:
        from kalbot.adapters.simulated.scenarios.synthetic import SyntheticScenario
        from kalbot.adapters.store.repository import Repository, create_repository
        from kalbot.adapters.store.synthetic_repo import RUN_KEY, delete_synthetic, synthetic_runs
        from kalbot.domain.trading import MarketResultRow

        scenario = SyntheticScenario(
            markets=markets,
            days=days,
            seed=seed,
            start=first,
            step=timedelta(minutes=step_minutes),
            void_rate=void_rate,
        )
        out = SynthOutcome(
            markets=len(scenario.markets),
            span=f"{scenario.start:%Y-%m-%d} .. {scenario.end:%Y-%m-%d}",
        )
        repo = Repository(url) if url else create_repository(settings)
        await repo.initialize()
        try:
            runs = await synthetic_runs(repo)
            others = {k: v for k, v in runs.items() if k != fingerprint}
            # Once this run is stored beside others (--append), re-running it stays idempotent.
            if others and fingerprint not in runs and not (replace_existing or append):
                shown = "; ".join(sorted(others))
                raise SynthRefused(
                    f"the database already holds synthetic history from other arguments "
                    f"({shown}): pass --replace to delete it first or --append to add this "
                    f"run beside it"
                )
            if others and replace_existing:
                out.replaced = await delete_synthetic(repo)
            mine = {m.ticker for m in scenario.markets}
            have: set[tuple[str, datetime]] = set()
            foreign: set[str] = set()
            async for s in repo.stream_snapshots(scenario.start, scenario.end, sorted(mine)):
                if (s.metadata or {}).get(RUN_KEY) == fingerprint:
                    have.add((s.ticker, s.timestamp))
                else:
                    foreign.add(s.ticker)
            if foreign:
                raise SynthRefused(
                    f"{len(foreign)} of this run's tickers already have other snapshots in "
                    f"its window (e.g. {min(foreign)}); writing would give them two histories"
                )
            batch = []
            for snap in scenario.snapshots():
                if (snap.ticker, snap.timestamp) in have:
                    out.already += 1
                    continue
                batch.append(replace(snap, metadata={**snap.metadata, RUN_KEY: fingerprint}))
                if len(batch) >= BATCH:
                    out.written += await repo.add_snapshots(batch)
                    batch = []
            if batch:
                out.written += await repo.add_snapshots(batch)
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
            )  # an upsert on ticker: a re-run changes nothing
        finally:
            await repo.close()
        return out

    try:
        out = run_async(go)
    except SynthRefused as e:
        fail(f"data synth refused: {e}")
    except Exception as e:  # one line and a non-zero exit, whatever broke
        detail = str(e).splitlines()[0] if str(e) else ""
        fail(f"data synth failed: {type(e).__name__}: {detail}")
    if out.replaced != (0, 0):
        console.print(
            f"deleted {out.replaced[0]:,} synthetic snapshots and {out.replaced[1]:,} results "
            "of earlier runs",
            highlight=False,
        )
    already = f" ({out.already:,} already stored)" if out.already else ""
    console.print(
        f"wrote {out.written:,} snapshots of {out.markets} markets ({out.span}, seed {seed})"
        f"{already} and their results to {_shown(target)}",
        highlight=False,
    )


def _shown(url: str) -> str:
    from kalbot.adapters.store.urls import async_url, redacted

    try:
        return redacted(async_url(url))
    except Exception:
        return "the database"
