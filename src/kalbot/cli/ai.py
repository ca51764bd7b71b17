"""`kalbot analyze TICKER`, `kalbot ai costs|budget`, `kalbot analyst fit|show`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from kalbot.cli.apps import ai_app, analyst_app, app
from kalbot.cli.common import console, fail, run_async, settings_or_exit
from kalbot.config import ConfigError, Settings
from kalbot.domain.clock import SystemClock, iso_utc

if TYPE_CHECKING:
    from kalbot.adapters.store.repository import Repository
    from kalbot.domain.context import MarketContext
    from kalbot.domain.decisions import Analysis
    from kalbot.domain.market import Market


async def _repo(s: Settings) -> Repository:
    from kalbot.adapters.store.repository import create_repository
    from kalbot.domain.errors import StoreError

    repo = create_repository(s)
    try:
        await repo.initialize()
    except StoreError as e:
        fail(f"database: {e}")
    return repo


def _market_from_snapshot(row: Mapping[str, Any]) -> Market:
    from kalbot.domain.clock import parse_iso
    from kalbot.domain.market import Market, MarketStatus, Quote

    def price(v: float | None) -> Decimal | None:
        return None if v is None else Decimal(repr(round(float(v), 8)))

    if not row.get("close_time"):
        fail(f"{row['ticker']}: the latest snapshot has no close_time")
    return Market(
        ticker=row["ticker"],
        event_ticker="",
        title=row.get("title") or row["ticker"],
        status=MarketStatus.ACTIVE,
        quote=Quote(yes_bid=price(row.get("yes_bid")), yes_ask=price(row.get("yes_ask"))),
        close_time=parse_iso(row["close_time"]),
        category=row.get("category") or "",
        last_price=price(row.get("last_price")),
        volume_24h=Decimal(row.get("volume_24h") or 0),
        open_interest=Decimal(row.get("open_interest") or 0),
    )


async def _context(s: Settings, repo: Repository, ticker: str, source: str) -> MarketContext:
    from kalbot.domain.context import HeldPosition, MarketContext

    now = SystemClock().now()
    if source == "snapshot":
        row = await repo.latest_snapshot(ticker)
        if row is None:
            fail(f"no snapshot of {ticker} in the database")
        market = _market_from_snapshot(row)
    else:
        from kalbot.bootstrap import kalshi_venue

        try:
            md, _, _, close = kalshi_venue(s)
        except (ConfigError, ValueError, OSError) as e:
            fail(f"cannot reach market data: {e}")
        try:
            market = await md.market(ticker)
        except Exception as e:  # one line for the user, whatever the client raised
            fail(f"cannot fetch {ticker}: {type(e).__name__}: {e}")
        finally:
            await close()
    held = [p for p in await repo.open_positions() if p.ticker == ticker]
    position = None
    if held:
        p = held[0]
        position = HeldPosition(p.side, Decimal(p.quantity), p.entry_price, p.entry_time)
    return MarketContext(market=market, now=now, position=position)


def _print_analysis(a: Analysis) -> None:
    table = Table(title=f"{a.ticker}: {a.decision.value}", show_header=False)
    rows: list[tuple[str, str]] = [
        ("provider / model", f"{a.provider} / {a.model}"),
        ("P(YES)", "-" if a.probability_yes is None else str(a.probability_yes)),
        ("confidence", str(a.confidence)),
        ("reason", str(a.metadata.get("reason", ""))),
        ("tokens in / out", f"{a.input_tokens} / {a.output_tokens}"),
        ("cost", f"${a.cost}"),
        ("latency", f"{a.latency_ms} ms"),
        ("rationale", a.rationale),
    ]
    if a.error:
        rows.append(("error", f"{a.error}: {a.metadata.get('error_detail', '')}"))
    if a.metadata.get("cached"):
        rows.append(("cached from", str(a.metadata.get("cached_from"))))
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)


@app.command("analyze")
def analyze(
    ticker: str,
    provider: Annotated[
        str | None,
        typer.Option(help="heuristic, openai, anthropic, xai or openai-compatible"),
    ] = None,
    source: Annotated[
        str, typer.Option(help="kalshi (market data API) or snapshot (latest in the database)")
    ] = "kalshi",
    as_json: Annotated[bool, typer.Option("--json", help="print the analysis as JSON")] = False,
) -> None:
    """Run one analysis of TICKER, record it (and its cost), and print it."""
    if source not in ("kalshi", "snapshot"):
        fail("--source must be kalshi or snapshot")
    s = settings_or_exit()

    async def go() -> Analysis:
        from kalbot.bootstrap import build_analyst

        repo = await _repo(s)
        try:
            try:
                analyst = build_analyst(s, repo, SystemClock(), provider=provider)
            except ConfigError as e:
                fail(str(e))
            return await analyst.analyze(await _context(s, repo, ticker, source))
        finally:
            await repo.close()

    a = run_async(go)
    if as_json:
        console.print_json(
            json.dumps(
                {
                    "ticker": a.ticker,
                    "decision": a.decision.value,
                    "probability_yes": a.probability_yes,
                    "confidence": a.confidence,
                    "provider": a.provider,
                    "model": a.model,
                    "cost": a.cost,
                    "error": a.error,
                    "rationale": a.rationale,
                    "metadata": a.metadata,
                },
                default=str,
            )
        )
    else:
        _print_analysis(a)


@ai_app.command("costs")
def costs(
    days: Annotated[int, typer.Option(min=1, max=3650, help="how many UTC days back")] = 7,
) -> None:
    """AI spend per day and provider (ai_cost_tracking) against the daily budget."""
    s = settings_or_exit()

    async def go() -> None:
        repo = await _repo(s)
        try:
            now = SystemClock().now()
            today = now.date()
            rows = await repo.ai_costs(today - timedelta(days=days - 1), today)
            override = await repo.ai_budget_override_set()
            spent, reserved = await repo.ai_spend(today, now)
        finally:
            await repo.close()
        budget = override[0] if override is not None else s.ai.daily_budget
        table = Table(title=f"AI spend, last {days} day(s) (UTC)")
        for col in ("day", "provider", "calls", "cost ($)"):
            table.add_column(col, justify="right" if col in ("calls", "cost ($)") else "left")
        per_day: dict[str, Decimal] = {}
        for r in rows:
            day = r.day.isoformat()
            per_day[day] = per_day.get(day, Decimal(0)) + r.total_cost
            table.add_row(day, r.provider, str(r.num_calls), f"{r.total_cost:.6f}")
        console.print(table)
        for day, total in per_day.items():
            console.print(
                f"{day}: ${total:.6f} of ${budget} ({total / budget:.1%})"
                if budget
                else f"{day}: ${total:.6f} (budget $0)",
                highlight=False,
            )
        source = (
            f"database (kalbot ai budget --set, {_seconds(override[1])})"
            if override is not None
            else "settings"
        )
        console.print(
            f"today: spent ${spent}, reserved ${reserved}, budget ${budget} from {source}, "
            f"left ${max(budget - spent - reserved, Decimal(0))}",
            highlight=False,
            soft_wrap=True,
        )

    run_async(go)


def _seconds(when: datetime) -> str:
    return iso_utc(when.replace(microsecond=0))


@ai_app.command("budget")
def budget(
    set_to: Annotated[
        str | None, typer.Option("--set", help="daily budget in dollars for every process")
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="go back to the settings' budget")] = False,
) -> None:
    """Show the daily AI budget, or set it in the database (takes effect at once)."""
    s = settings_or_exit()
    amount: Decimal | None = None
    if set_to is not None:
        try:
            amount = Decimal(set_to)
        except InvalidOperation:
            fail(f"--set: {set_to!r} is not an amount in dollars")
        if not amount.is_finite() or amount < 0:
            fail("--set: the budget must be a non-negative amount")

    async def go() -> None:
        repo = await _repo(s)
        try:
            if clear or amount is not None:
                await repo.set_ai_budget(None if clear else amount, SystemClock().now())
            override = await repo.ai_budget_override_set()
        finally:
            await repo.close()
        if override is None:
            console.print(f"daily AI budget: ${s.ai.daily_budget} (settings)", highlight=False)
        else:
            in_force, set_at = override
            console.print(
                f"daily AI budget: ${in_force} (set in the database) since {_seconds(set_at)}; "
                f"the settings say ${s.ai.daily_budget}",
                highlight=False,
                soft_wrap=True,
            )

    run_async(go)


@analyst_app.command("fit")
def fit(
    min_markets: Annotated[int, typer.Option(min=2, help="refuse to fit on fewer")] = 30,
    out: Annotated[Path | None, typer.Option(help="where to write the parameters")] = None,
) -> None:
    """Fit the heuristic analyst's recalibration on resolved markets in the database."""
    from kalbot.analysis.fitting import NotEnoughData, Sample
    from kalbot.analysis.fitting import fit as fit_params
    from kalbot.analysis.heuristic import save_params
    from kalbot.domain.clock import iso_utc

    s = settings_or_exit()
    path = out or Path(s.ai.heuristic_params_path)

    async def go() -> list[Sample]:
        repo = await _repo(s)
        try:
            observations = await repo.resolved_observations()
        finally:
            await repo.close()
        return [
            Sample(
                ticker=o.ticker,
                mid=float((o.yes_bid + o.yes_ask) / 2),
                hours_to_close=(o.close_time - o.timestamp).total_seconds() / 3600,
                outcome=int(o.result_yes),
            )
            for o in observations
        ]

    samples = run_async(go)
    try:
        params = fit_params(
            samples, min_markets=min_markets, fitted_at=iso_utc(SystemClock().now())
        )
    except NotEnoughData as e:
        fail(f"cannot fit: {e}")
    save_params(params, path)
    console.print(
        f"fitted on {params.n_markets} markets ({params.n_samples} snapshots): "
        f"a={params.a:.4f} b={params.b:.4f} c={params.c:.4f}; "
        f"log loss {params.log_loss:.5f} vs {params.baseline_log_loss:.5f} for the raw mid; "
        f"written to {path}",
        highlight=False,
    )


@analyst_app.command("show")
def show() -> None:
    """Print the heuristic analyst's current parameters."""
    from kalbot.analysis.heuristic import load_params

    s = settings_or_exit()
    path = Path(s.ai.heuristic_params_path)
    try:
        params = load_params(path)
    except ValueError as e:
        fail(f"{path}: {e}")
    console.print(params.to_json(), highlight=False)
