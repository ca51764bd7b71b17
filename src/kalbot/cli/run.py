"""`kalbot run | status | positions | performance | why | reconcile | close-all | record`."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from kalbot.cli._run_logging import setup_logging
from kalbot.cli.apps import app
from kalbot.cli.common import console, err_console, fail, run_async, settings_or_exit
from kalbot.config import ConfigError, Settings

if TYPE_CHECKING:
    from kalbot.bootstrap import TradingApp

LogFormat = Annotated[str | None, typer.Option("--log-format", help="text or json")]
LogLevel = Annotated[str | None, typer.Option("--log-level", help="DEBUG, INFO, WARNING, ERROR")]
LogFile = Annotated[Path | None, typer.Option("--log-file", help="also log to a rotating file")]


def _logging(s: Settings, fmt: str | None, level: str | None, file: Path | None) -> None:
    setup_logging(fmt or s.logging.format, level or s.logging.level, file or s.logging.file)


def live_banner(venue: str) -> None:
    env = "PRODUCTION" if "demo" not in venue else "DEMO"
    console.print(
        f"[bold white on red] LIVE TRADING — Kalshi {env} — {venue} — real orders [/]",
        highlight=False,
    )


@contextlib.asynccontextmanager
async def _trading_app(
    s: Settings, live: bool, *, strategy: str | None = None, record: bool = True
) -> AsyncIterator[TradingApp]:
    """The bot wired for paper or live (a config error is one line and exit 1), closed after."""
    from kalbot.bootstrap import build_trading_app

    try:
        bot = await build_trading_app(
            s, mode="live" if live else "paper", strategy=strategy, record=record
        )
    except ConfigError as e:
        fail(str(e))
    try:
        yield bot
    finally:
        await bot.aclose()


async def _run(
    s: Settings, live: bool, once: bool, interval: int, strategy: str | None, resume: bool
) -> None:
    from kalbot.engine.loop import ReconcileRequired

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with _trading_app(s, live, strategy=strategy) as bot:
        if live:
            live_banner(bot.venue)
        else:
            console.print(f"[bold]PAPER[/] trading against {bot.venue}", highlight=False)
        try:
            await bot.engine.start()
        except ReconcileRequired as e:
            fail(str(e))
        if resume:
            await bot.engine.resume_risk()
        while True:
            started = time.monotonic()
            # A signal only sets `stop`: the cycle in progress always finishes its writes.
            summary = await bot.engine.run_cycle()
            console.print(summary.line(), highlight=False)
            if once or stop.is_set():
                break
            left = max(0.0, interval - (time.monotonic() - started))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=left)
            if stop.is_set():
                break
        console.print("stopped cleanly", highlight=False)


@app.command("run")
def run(
    live: Annotated[bool, typer.Option("--live/--paper", help="paper (default) or live")] = False,
    once: Annotated[bool, typer.Option("--once", help="run one cycle and exit")] = False,
    interval: Annotated[int | None, typer.Option("--interval", help="seconds per cycle")] = None,
    strategy: Annotated[str | None, typer.Option("--strategy", help="name or module:Class")] = None,
    resume_risk: Annotated[
        bool, typer.Option("--resume-risk", help="clear a HALTED risk state first")
    ] = False,
    log_format: LogFormat = None,
    log_level: LogLevel = None,
    log_file: LogFile = None,
) -> None:
    """Run the trading loop. Paper by default; live needs --live AND LIVE_TRADING_ENABLED=true."""
    s = settings_or_exit()
    if live and not s.trading.live_trading_enabled:
        fail("--live needs LIVE_TRADING_ENABLED=true in the environment or settings")
    _logging(s, log_format, log_level, log_file)
    run_async(
        lambda: _run(s, live, once, interval or s.trading.interval_seconds, strategy, resume_risk)
    )


async def _repo(s: Settings) -> Any:
    from kalbot.adapters.store.repository import create_repository

    repo = create_repository(s)
    await repo.initialize()
    return repo


def _money(v: Any) -> str:
    return "" if v is None else f"{float(v):,.2f}"


@app.command("status")
def status() -> None:
    """The latest cycle, the risk state and open positions."""
    s = settings_or_exit()

    async def go() -> None:
        repo = await _repo(s)
        try:
            cycles = await repo.latest_cycles(1)
            risk = await repo.current_risk()
            opened = await repo.list_positions(status="open")
        finally:
            await repo.close()
        if not cycles:
            console.print("no cycle has run yet (kalbot run, or kalbot demo)")
            return
        c = cycles[0]
        console.print(
            f"last cycle {c['id']} ({c['mode']}, {c['strategy']}) at {c['started_at']}: "
            f"seen {c['markets_seen']}, analysed {c['analysed']}, orders {c['orders']}, "
            f"fills {c['fills']}, open {c['open_positions']}, equity ${_money(c['equity'])}, "
            f"P&L today ${_money(c['pnl_today'])}",
            highlight=False,
        )
        if risk:
            console.print(
                f"risk state {risk['state']} ({risk['reason_code']}) since {risk['ts']}",
                highlight=False,
            )
        console.print(f"{len(opened)} open positions", highlight=False)

    run_async(go)


def positions_table(rows: list[dict[str, Any]], title: str, compact: bool = False) -> Table:
    t = Table(title=title)
    cols = ["id", "ticker", "side", "qty", "entry", "entry time", "exit", "pnl", "status", "why"]
    if compact:
        cols = [c for c in cols if c not in ("entry time", "status")]
    for col in cols:
        t.add_column(col, overflow="fold")
    for r in rows:
        values = {
            "id": str(r["id"]),
            "ticker": r["ticker"],
            "side": r["side"],
            "qty": str(r["quantity"]),
            "entry": f"{float(r['entry_price']):.4f}",
            "entry time": str(r["entry_time"])[:19],
            "exit": "" if r["exit_price"] is None else f"{float(r['exit_price']):.4f}",
            "pnl": _money(r["pnl"]),
            "status": r["status"],
            "why": r["close_reason"] or r["reason"] or "",
        }
        t.add_row(*(values[c] for c in cols))
    return t


@app.command("positions")
def positions(
    open_: Annotated[bool, typer.Option("--open", help="open positions only")] = False,
    closed: Annotated[bool, typer.Option("--closed", help="closed positions only")] = False,
    ticker: Annotated[str | None, typer.Option("--ticker")] = None,
    limit: Annotated[int, typer.Option("--limit")] = 50,
) -> None:
    """Positions, newest first."""
    s = settings_or_exit()
    status_filter = "open" if open_ and not closed else "closed" if closed and not open_ else None

    async def go() -> None:
        repo = await _repo(s)
        try:
            rows = await repo.list_positions(status=status_filter, ticker=ticker, limit=limit)
        finally:
            await repo.close()
        console.print(positions_table(rows, f"positions ({status_filter or 'all'})"))

    run_async(go)


@app.command("performance")
def performance(days: Annotated[int, typer.Option("--days")] = 7) -> None:
    """Daily performance (performance_logs), newest first."""
    s = settings_or_exit()

    async def go() -> None:
        repo = await _repo(s)
        try:
            rows = await repo.performance_logs(days)
        finally:
            await repo.close()
        console.print(performance_table(rows))

    run_async(go)


def _pct(v: Any) -> str:
    return "" if v is None else f"{float(v) * 100:.2f}%"


def performance_table(rows: list[dict[str, Any]]) -> Table:
    t = Table(title="performance")
    for col in ("date", "P&L", "trades", "win rate", "portfolio", "return", "max drawdown"):
        t.add_column(col)
    for r in rows:
        t.add_row(
            r["date"],
            _money(r["total_pnl"]),
            str(r["num_trades"]),
            _pct(r["win_rate"]),
            _money(r["portfolio_value"]),
            _pct(r["daily_return"]),
            _pct(r["max_drawdown"]),
        )
    return t


@app.command("why")
def why(ticker: str, limit: Annotated[int, typer.Option("--limit")] = 20) -> None:
    """The last decisions and refusals for a market, with their reason codes."""
    s = settings_or_exit()

    async def go() -> None:
        repo = await _repo(s)
        try:
            rows = await repo.recent_decisions(ticker, limit)
        finally:
            await repo.close()
        if not rows:
            console.print(f"nothing recorded for {ticker} yet")
            return
        # One line per record (newest first): greppable, and never truncated by a narrow table.
        console.print(f"why {ticker} (newest first):", highlight=False)
        for r in rows:
            parts = [
                r.ts.strftime("%Y-%m-%d %H:%M:%S"),
                f"cycle {r.cycle_id}",
                r.stage,
                r.outcome,
                r.reason_code,
            ]
            if r.decision:
                parts.append(r.decision.value)
            if r.quantity is not None:
                parts.append(f"x{r.quantity}" + ("" if r.price is None else f" @ {r.price}"))
            if r.detail and r.detail != r.reason_code:
                parts.append(f"({r.detail[:80]})")
            console.print("  ".join(parts), highlight=False, soft_wrap=True)

    run_async(go)


@app.command("reconcile")
def reconcile(
    apply: Annotated[bool, typer.Option("--apply", help="make the database match")] = False,
    live: Annotated[bool, typer.Option("--live/--paper")] = False,
) -> None:
    """Compare the exchange's positions with the database; --apply makes the database match."""
    s = settings_or_exit()

    async def go() -> None:
        from kalbot.engine.reconcile import apply_reconcile, find_mismatches

        async with _trading_app(s, live, record=False) as bot:
            await bot.engine.load()
            mm = await find_mismatches(bot.engine.broker, bot.engine.book)
            if not mm:
                console.print("exchange and database agree")
                return
            for m in mm:
                console.print(m.describe(), highlight=False)
            if not apply:
                console.print("dry run: add --apply to make the database match the exchange")
                raise typer.Exit(1)
            now = bot.engine.clock.now()
            for line in await apply_reconcile(
                mm, bot.engine.book, bot.repo, bot.engine.market_data, now
            ):
                console.print(line, highlight=False)

    run_async(go)


@app.command("close-all")
def close_all(
    live: Annotated[bool, typer.Option("--live/--paper")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="really send the orders")] = False,
) -> None:
    """Flatten every open position at the bid. Dry run unless --yes."""
    s = settings_or_exit()
    if live and not s.trading.live_trading_enabled:
        fail("--live needs LIVE_TRADING_ENABLED=true")

    async def go() -> None:
        async with _trading_app(s, live, record=False) as bot:
            if live and yes:
                live_banner(bot.venue)
            for line in await bot.engine.close_all(dry_run=not yes):
                console.print(line, highlight=False)
            if not yes:
                console.print("dry run: add --yes to send the orders")

    run_async(go)


@app.command("record")
def record(
    interval: Annotated[int, typer.Option("--interval", help="seconds between snapshots")] = 60,
    once: Annotated[bool, typer.Option("--once")] = False,
    log_format: LogFormat = None,
    log_level: LogLevel = None,
    log_file: LogFile = None,
) -> None:
    """Run the LiveDataRecorder alone: snapshots of every open market, results, coverage."""
    s = settings_or_exit()
    _logging(s, log_format, log_level, log_file)

    async def go() -> None:
        from kalbot.bootstrap import kalshi_venue
        from kalbot.recorder import LiveDataRecorder

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        repo = await _repo(s)
        md, _broker, venue, close = kalshi_venue(s)
        rec = LiveDataRecorder(repo, md, interval=timedelta(seconds=interval))
        console.print(f"recording {venue} every {interval}s", highlight=False)
        try:
            while not stop.is_set():
                started = time.monotonic()
                now = datetime.now(UTC)
                try:
                    markets = [m async for m in md.open_markets()]
                    n = await rec.record(markets, now)
                    console.print(f"{now:%H:%M:%S} recorded {n} snapshots", highlight=False)
                except Exception as e:  # a failed pass is retried next interval
                    err_console.print(f"recording failed: {e}", highlight=False)
                if once:
                    break
                left = max(0.0, interval - (time.monotonic() - started))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=left)
        finally:
            await close()
            await repo.close()

    run_async(go)
