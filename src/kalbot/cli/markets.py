"""`kalbot markets`, `kalbot market TICKER`, `kalbot exchange status` — public market data.

They work with no key (public endpoints) against production (``--env production``), demo, or
any base URL (``--base-url http://127.0.0.1:8765/trade-api/v2`` for the local simulator).
A configured key is used when present (Kalshi's spec marks order books as authenticated).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.table import Table

from kalbot.cli.apps import app, exchange_app
from kalbot.cli.common import console, fail, kalshi_settings_for, run_async, settings_or_exit

if TYPE_CHECKING:
    from kalbot.adapters.kalshi.client import KalshiClient

T = TypeVar("T")

EnvOption = Annotated[
    str | None, typer.Option("--env", help="demo or production (default: settings, i.e. demo)")
]
BaseUrlOption = Annotated[
    str | None,
    typer.Option("--base-url", help="Any Kalshi-compatible REST base URL, e.g. the simulator"),
]


def _with_client(
    env: str | None, base_url: str | None, work: Callable[[KalshiClient], Awaitable[T]]
) -> T:
    """Run ``work`` with a client for the chosen exchange; Kalshi errors become one-line errors."""
    from kalbot.adapters.kalshi.client import KalshiClient
    from kalbot.adapters.kalshi.errors import KalshiError
    from kalbot.adapters.kalshi.signing import SigningError
    from kalbot.domain.prices import PriceError

    settings = settings_or_exit()
    kalshi = kalshi_settings_for(settings, env, base_url)

    async def main() -> T:
        async with KalshiClient.from_settings(kalshi) as client:
            return await work(client)

    try:
        return run_async(main)
    except (KalshiError, PriceError, SigningError, ValueError) as e:
        fail(str(e))


def _p(value: Decimal | None) -> str:
    """A price for people: 0.4200 -> 0.42, 0.0560 -> 0.056, None -> -."""
    if value is None:
        return "-"
    text = f"{value:.4f}".rstrip("0")
    return text + "0" * max(0, 2 - len(text.split(".")[1]))


def _n(value: Decimal) -> str:
    return f"{value.normalize():,f}"


@app.command("markets")
def markets(
    status: Annotated[str, typer.Option(help="unopened, open, paused, closed or settled")] = "open",
    series: Annotated[str | None, typer.Option(help="Only this series ticker")] = None,
    category: Annotated[
        str | None, typer.Option(help="Only series of this category (e.g. Economics)")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000, help="At most this many rows")] = 25,
    env: EnvOption = None,
    base_url: BaseUrlOption = None,
) -> None:
    """List markets as a table."""
    from kalbot.adapters.kalshi import convert
    from kalbot.domain.market import Market

    if status not in {"unopened", "open", "paused", "closed", "settled"}:
        fail(f"--status must be unopened, open, paused, closed or settled, not {status!r}")

    async def work(client: KalshiClient) -> list[Market]:
        if category is not None:
            series_list = await client.series_list(category=category)
            wanted = [s for s in series_list if series is None or s.ticker == series]
        else:
            wanted = [await client.series(series)] if series else []
        out: list[Market] = []
        groups = [(s.ticker, s) for s in wanted] if (category or series) else [(None, None)]
        for series_ticker, s in groups:
            page = min(limit, 1000)
            async for m in client.iter_markets(
                limit=page, status=status, series_ticker=series_ticker
            ):
                out.append(convert.market(m, series=s))
                if len(out) >= limit:
                    return out
        return out

    rows = _with_client(env, base_url, work)
    table = Table(title=f"{len(rows)} {status} market(s)")
    for col in ("ticker", "title", "status", "yes bid", "yes ask", "no bid", "no ask", "last"):
        table.add_column(col, justify="right" if " " in col or col == "last" else "left")
    table.add_column("vol 24h", justify="right")
    table.add_column("open int", justify="right")
    table.add_column("closes (UTC)")
    for m in rows:
        q = m.quote
        table.add_row(
            m.ticker + (" [combo]" if m.is_combo else ""),
            (m.title[:40] + "…") if len(m.title) > 41 else m.title,
            m.status.value,
            _p(q.yes_bid),
            _p(q.yes_ask),
            _p(q.no_bid),
            _p(q.no_ask),
            _p(m.last_price),
            _n(m.volume_24h),
            _n(m.open_interest),
            m.close_time.strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table)


@app.command("market")
def market(
    ticker: Annotated[str, typer.Argument(help="Market ticker")],
    depth: Annotated[int, typer.Option(min=1, max=100, help="Book levels per side")] = 10,
    env: EnvOption = None,
    base_url: BaseUrlOption = None,
) -> None:
    """Show one market and its order book."""
    from kalbot.adapters.kalshi import convert
    from kalbot.domain.market import Market, OrderBook
    from kalbot.domain.prices import Side

    async def work(client: KalshiClient) -> tuple[Market, OrderBook | None]:
        from kalbot.adapters.kalshi.errors import AuthError, NotFound

        wire_market = await client.market(ticker)
        series_ticker = convert.series_ticker_of(wire_market.event_ticker)
        try:
            s = await client.series(series_ticker) if series_ticker else None
        except NotFound:
            s = None
        m = convert.market(wire_market, series=s, series_ticker=series_ticker)
        try:
            book = convert.orderbook(ticker, await client.orderbook(ticker, depth=depth))
        except AuthError:  # Kalshi's spec marks order books as authenticated
            book = None
        return m, book

    m, book = _with_client(env, base_url, work)
    q = m.quote
    info = Table.grid(padding=(0, 2))
    info.add_column(style="bold")
    info.add_column()
    for label, value in (
        ("ticker", m.ticker),
        ("title", m.title),
        ("event / series", f"{m.event_ticker} / {m.series_ticker}"),
        ("category", m.category or "-"),
        ("status", m.status.value + (f" (result {m.result.value})" if m.result else "")),
        (
            "YES bid / ask",
            f"{_p(q.yes_bid)} x {_n(q.yes_bid_size)} / {_p(q.yes_ask)} x {_n(q.yes_ask_size)}",
        ),
        ("NO bid / ask", f"{_p(q.no_bid)} / {_p(q.no_ask)}"),
        ("last price", _p(m.last_price)),
        (
            "volume / 24h / open interest",
            f"{_n(m.volume)} / {_n(m.volume_24h)} / {_n(m.open_interest)}",
        ),
        ("opens / closes (UTC)", f"{m.open_time or '-'} / {m.close_time}"),
        ("strike", f"{m.strike_type} floor={m.floor_strike} cap={m.cap_strike}"),
        (
            "tick",
            ", ".join(
                f"{_p(r.start)}-{_p(r.end)} step {r.step.normalize()}" for r in m.price_ranges
            ),
        ),
        ("fees", f"{m.fee_type.value} x{m.fee_multiplier}"),
        ("combo", "yes (not traded)" if m.is_combo else "no"),
        ("rules", m.rules_primary),
    ):
        info.add_row(label, str(value))
    console.print(info)
    if book is None:
        console.print("order book: this exchange wants a key for it (set KALSHI_API_KEY_ID)")
        return
    table = Table(title=f"order book {ticker} (bids only; a NO bid at p is a YES ask at 1-p)")
    table.add_column("YES bid", justify="right")
    table.add_column("size", justify="right")
    table.add_column("NO bid", justify="right")
    table.add_column("size", justify="right")
    yes, no = book.levels(Side.YES)[:depth], book.levels(Side.NO)[:depth]
    for i in range(max(len(yes), len(no))):
        y = yes[i] if i < len(yes) else None
        n = no[i] if i < len(no) else None
        table.add_row(
            _p(y.price) if y else "",
            _n(y.size) if y else "",
            _p(n.price) if n else "",
            _n(n.size) if n else "",
        )
    console.print(table)


@exchange_app.command("status")
def exchange_status(env: EnvOption = None, base_url: BaseUrlOption = None) -> None:
    """Is the exchange up, and is trading open?"""

    async def work(client: KalshiClient) -> str:
        s = await client.exchange_status()
        exchange = "active" if s.exchange_active else "INACTIVE"
        trading = "open" if s.trading_active else "closed"
        text = f"{client.endpoints.rest_url}: exchange {exchange}, trading {trading}"
        if s.exchange_estimated_resume_time:
            text += f", expected back {s.exchange_estimated_resume_time.isoformat()}"
        return text

    console.print(_with_client(env, base_url, work), highlight=False)
