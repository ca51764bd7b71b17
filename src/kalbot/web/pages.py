"""The server-rendered pages. Each uses the same Reader queries as ``/api/v1``.

A page asked for with ``X-Partial: 1`` returns only its content, which ``static/app.js``
swaps in every few seconds: the numbers stay current without a full reload.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from kalbot.web import plots
from kalbot.web.api import TICKER_PATTERN, reader_of
from kalbot.web.backtests import list_runs, run_file
from kalbot.web.formatting import install_filters
from kalbot.web.queries import PositionFilter

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
install_filters(TEMPLATES.env)

router = APIRouter(include_in_schema=False)

NAV = (
    ("/", "Overview"),
    ("/positions", "Positions"),
    ("/analyses", "Analyses"),
    ("/performance", "Performance"),
    ("/markets", "Markets"),
    ("/backtests", "Backtests"),
)


async def _render(request: Request, template: str, active: str, **context: Any) -> Response:
    reader = reader_of(request)
    banner = await reader.banner()
    partial = request.headers.get("x-partial") == "1"
    ctx = {
        "nav": NAV,
        "active": active,
        "banner": banner,
        "partial": partial,
        "refresh_ms": reader.config.refresh_seconds * 1000,
        "now": reader.clock.now(),
        **context,
    }
    return TEMPLATES.TemplateResponse(request, template, ctx)


def render_error(request: Request, status: int, title: str, detail: str) -> Response:
    html = TEMPLATES.get_template("error.html").render(
        nav=NAV, active="", title=title, detail=detail, status=status
    )
    return HTMLResponse(html, status_code=status)


def _form_date(value: str | None, label: str) -> date | None:
    """A date from a filter form, where an untouched field arrives as an empty string."""
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HTTPException(422, f"{label}: not a date (YYYY-MM-DD): {value!r}") from None


@router.get("/", response_class=HTMLResponse)
async def overview(request: Request) -> Response:
    reader = reader_of(request)
    status = await reader.status()
    refusals = await reader.refusals(None, 12)
    return await _render(request, "overview.html", "/", status=status, refusals=refusals)


@router.get("/positions", response_class=HTMLResponse)
async def positions(
    request: Request,
    ticker: Annotated[str | None, Query(max_length=100)] = None,
    status: Annotated[Literal["open", "closed", ""] | None, Query()] = None,
    date_from: Annotated[str | None, Query(max_length=10)] = None,
    date_to: Annotated[str | None, Query(max_length=10)] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> Response:
    reader = reader_of(request)
    ticker = (ticker or "").strip() or None
    f = PositionFilter(
        ticker=ticker,
        status=status or None,
        date_from=_form_date(date_from, "From"),
        date_to=_form_date(date_to, "To"),
        page=page,
        page_size=reader.config.page_size,
    )
    result = await reader.positions(f)
    return await _render(request, "positions.html", "/positions", result=result, f=f)


@router.get("/analyses", response_class=HTMLResponse)
async def analyses(
    request: Request,
    ticker: Annotated[str | None, Query(max_length=100)] = None,
    decision: Annotated[Literal["OPEN_YES", "OPEN_NO", "CLOSE", "SKIP", ""] | None, Query()] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> Response:
    reader = reader_of(request)
    ticker = (ticker or "").strip() or None
    result = await reader.analyses(page, reader.config.page_size, ticker, decision or None)
    costs = await reader.costs(1)
    return await _render(
        request,
        "analyses.html",
        "/analyses",
        result=result,
        costs=costs,
        ticker=ticker or "",
        decision=decision or "",
    )


@router.get("/performance", response_class=HTMLResponse)
async def performance(
    request: Request, days: Annotated[int, Query(ge=1, le=3650)] = 365
) -> Response:
    reader = reader_of(request)
    perf = await reader.performance(days)
    return await _render(
        request,
        "performance.html",
        "/performance",
        perf=perf,
        days=days,
        equity_chart=plots.equity(perf),
        pnl_chart=plots.daily_pnl(perf),
        drawdown_chart=plots.drawdown(perf),
    )


@router.get("/markets", response_class=HTMLResponse)
async def markets(request: Request) -> Response:
    rows = await reader_of(request).markets()
    return await _render(request, "markets.html", "/markets", markets=rows)


@router.get("/markets/{ticker}", response_class=HTMLResponse)
async def market(
    request: Request, ticker: Annotated[str, PathParam(pattern=TICKER_PATTERN)]
) -> Response:
    detail = await reader_of(request).market(ticker)
    if detail is None:
        raise HTTPException(404, f"no recorded market {ticker}")
    return await _render(
        request, "market.html", "/markets", m=detail, chart=plots.market_prices(detail)
    )


@router.get("/backtests", response_class=HTMLResponse)
async def backtests(request: Request) -> Response:
    reader = reader_of(request)
    runs = list_runs(reader.config.exports_dir)
    return await _render(
        request, "backtests.html", "/backtests", runs=runs, folder=reader.config.exports_dir
    )


@router.get("/backtests/{run}/{name}")
async def backtest_file(request: Request, run: str, name: str) -> Response:
    path = run_file(reader_of(request).config.exports_dir, run, name)
    if path is None:
        raise HTTPException(404, "no such file in the exported runs")
    return FileResponse(path)
