"""``/api/v1``: the dashboard's data as JSON, described by FastAPI's OpenAPI schema."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request

from kalbot.web.backtests import list_runs
from kalbot.web.models import (
    AnalysisPage,
    AnalysisRow,
    BacktestRun,
    Costs,
    MarketDetail,
    MarketRow,
    Performance,
    PositionPage,
    Refusals,
    Status,
)
from kalbot.web.queries import PositionFilter
from kalbot.web.reader import Reader

TICKER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,63}$"

Ticker = Annotated[str | None, Query(pattern=TICKER_PATTERN, description="Market ticker")]
Page = Annotated[int, Query(ge=1, le=1_000_000)]
PageSize = Annotated[int | None, Query(ge=1, le=500, description="Rows per page")]
Days = Annotated[int, Query(ge=1, le=3650)]

router = APIRouter(prefix="/api/v1", tags=["dashboard"])


def reader_of(request: Request) -> Reader:
    reader: Reader = request.app.state.reader
    return reader


@router.get("/status", response_model=Status, summary="Overview: mode, money, AI spend, risk")
async def status(request: Request) -> Status:
    return await reader_of(request).status()


@router.get("/positions", response_model=PositionPage, summary="Positions, filtered and paged")
async def positions(
    request: Request,
    ticker: Ticker = None,
    status: Annotated[Literal["open", "closed"] | None, Query()] = None,
    date_from: Annotated[date | None, Query(description="Opened or closed on/after")] = None,
    date_to: Annotated[date | None, Query(description="Opened or closed on/before")] = None,
    page: Page = 1,
    page_size: PageSize = None,
) -> PositionPage:
    reader = reader_of(request)
    f = PositionFilter(
        ticker=ticker,
        status=status,
        date_from=date_from,
        date_to=date_to,
        page=page,
        page_size=page_size or reader.config.page_size,
    )
    return await reader.positions(f)


@router.get("/analyses", response_model=AnalysisPage, summary="AI analyses, newest first")
async def analyses(
    request: Request,
    ticker: Ticker = None,
    decision: Annotated[Literal["OPEN_YES", "OPEN_NO", "CLOSE", "SKIP"] | None, Query()] = None,
    provider: Annotated[str | None, Query(pattern=NAME_PATTERN)] = None,
    page: Page = 1,
    page_size: PageSize = None,
) -> AnalysisPage:
    reader = reader_of(request)
    size = page_size or reader.config.page_size
    return await reader.analyses(page, size, ticker, decision, provider)


@router.get("/analyses/{analysis_id}", response_model=AnalysisRow, summary="One analysis")
async def analysis(
    request: Request, analysis_id: Annotated[int, Path(ge=1, le=2**31 - 1)]
) -> AnalysisRow:
    row = await reader_of(request).analysis(analysis_id)
    if row is None:
        raise HTTPException(404, f"no analysis {analysis_id}")
    return row


@router.get("/performance", response_model=Performance, summary="Equity, daily P&L, drawdown")
async def performance(request: Request, days: Days = 365) -> Performance:
    return await reader_of(request).performance(days)


@router.get("/costs", response_model=Costs, summary="AI spend against the daily budget")
async def costs(request: Request, days: Days = 30) -> Costs:
    return await reader_of(request).costs(days)


@router.get("/refusals", response_model=Refusals, summary="Refusals and skips by reason")
async def refusals(
    request: Request,
    day: Annotated[date | None, Query(alias="date", description="UTC day; today if absent")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> Refusals:
    return await reader_of(request).refusals(day, limit)


@router.get("/markets", response_model=list[MarketRow], summary="Recorded markets")
async def markets(
    request: Request, limit: Annotated[int, Query(ge=1, le=2000)] = 200
) -> list[MarketRow]:
    return await reader_of(request).markets(limit)


@router.get("/markets/{ticker}", response_model=MarketDetail, summary="Prices and trades")
async def market(
    request: Request, ticker: Annotated[str, Path(pattern=TICKER_PATTERN)]
) -> MarketDetail:
    detail = await reader_of(request).market(ticker)
    if detail is None:
        raise HTTPException(404, f"no recorded market {ticker}")
    return detail


@router.get("/backtests", response_model=list[BacktestRun], summary="Exported backtest runs")
async def backtests(request: Request) -> list[BacktestRun]:
    return list_runs(reader_of(request).config.exports_dir)
