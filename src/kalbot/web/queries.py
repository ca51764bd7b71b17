"""Read queries over the spec's tables: positions, analyses, markets.

Pages and ``/api/v1`` call these same functions, so what a page shows is what the API returns.
Each takes an open connection; nothing here writes.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import Row, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kalbot.adapters.store.tables import market_analyses, market_snapshots, positions
from kalbot.domain.market import Quote
from kalbot.domain.pnl import realized_pnl
from kalbot.domain.prices import Side, yes_price_of
from kalbot.web.db import Catalog, dec, dec0
from kalbot.web.models import (
    AnalysisPage,
    AnalysisRow,
    MarketDetail,
    MarketRow,
    PositionPage,
    PositionRow,
    PricePoint,
    TradeMark,
)


@dataclass(frozen=True, slots=True)
class PositionFilter:
    """What the positions page and ``/api/v1/positions`` filter by."""

    ticker: str | None = None
    status: str | None = None  # 'open' | 'closed' | None for both
    date_from: date | None = None  # a position matches if it opened or closed in the range
    date_to: date | None = None
    page: int = 1
    page_size: int = 50


@dataclass(frozen=True, slots=True)
class Mark:
    time: str
    quote: Quote
    no_bid: Decimal | None  # as recorded, used when the YES ask is missing

    def bid(self, side: Side) -> Decimal | None:
        """What one contract of ``side`` could be sold for now, in that side's own price."""
        own = self.quote.bid(side)
        if own is None and side is Side.NO:
            return self.no_bid
        return own


def _pages(total: int, page_size: int) -> int:
    return max(1, math.ceil(total / page_size))


async def latest_marks(conn: AsyncConnection, tickers: set[str]) -> dict[str, Mark]:
    """The newest snapshot of each ticker, as the bid it can be marked at."""
    if not tickers:
        return {}
    latest = (
        select(market_snapshots.c.ticker, func.max(market_snapshots.c.timestamp).label("ts"))
        .where(market_snapshots.c.ticker.in_(sorted(tickers)))
        .group_by(market_snapshots.c.ticker)
        .subquery()
    )
    stmt = select(
        market_snapshots.c.ticker,
        market_snapshots.c.timestamp,
        market_snapshots.c.yes_bid,
        market_snapshots.c.yes_ask,
        market_snapshots.c.no_bid,
    ).join(
        latest,
        and_(
            market_snapshots.c.ticker == latest.c.ticker,
            market_snapshots.c.timestamp == latest.c.ts,
        ),
    )
    marks: dict[str, Mark] = {}
    for r in (await conn.execute(stmt)).all():
        marks[r.ticker] = Mark(
            time=str(r.timestamp),
            quote=Quote(yes_bid=dec(r.yes_bid), yes_ask=dec(r.yes_ask)),
            no_bid=dec(r.no_bid),
        )
    return marks


def position_row(r: Any, marks: dict[str, Mark]) -> PositionRow:
    """One ``positions`` row (anything with its columns as attributes) as the API shows it."""
    side = Side(r.side)
    quantity = int(r.quantity)
    entry = dec0(r.entry_price)
    row: dict[str, Any] = {
        "id": r.id,
        "ticker": r.ticker,
        "side": side.value,
        "quantity": quantity,
        "entry_price": entry,
        "entry_time": str(r.entry_time),
        "exit_price": dec(r.exit_price),
        "exit_time": None if r.exit_time is None else str(r.exit_time),
        "pnl": dec(r.pnl),
        "status": r.status,
        "reason": r.reason,
        "close_reason": r.close_reason,
        "cost_basis": entry * quantity,
    }
    mark = marks.get(r.ticker) if r.status == "open" else None
    bid = mark.bid(side) if mark is not None else None
    if mark is not None and bid is not None:
        row["mark"] = bid
        row["mark_time"] = mark.time
        row["market_value"] = bid * quantity
        row["unrealised_pnl"] = realized_pnl(Decimal(quantity), entry, bid)
    return PositionRow(**row)


async def position_page(conn: AsyncConnection, f: PositionFilter) -> PositionPage:
    conds = []
    if f.ticker:
        conds.append(positions.c.ticker == f.ticker.strip().upper())
    if f.status in ("open", "closed"):
        conds.append(positions.c.status == f.status)
    if f.date_from is not None or f.date_to is not None:
        lo = (f.date_from or date(1970, 1, 1)).isoformat()
        hi = ((f.date_to or date(9998, 12, 31)) + timedelta(days=1)).isoformat()
        conds.append(
            or_(
                and_(positions.c.entry_time >= lo, positions.c.entry_time < hi),
                and_(positions.c.exit_time >= lo, positions.c.exit_time < hi),
            )
        )
    where = and_(*conds) if conds else None
    count_stmt = select(func.count()).select_from(positions)
    stmt = select(positions)
    if where is not None:
        count_stmt = count_stmt.where(where)
        stmt = stmt.where(where)
    total = int((await conn.execute(count_stmt)).scalar_one())
    # Open positions first (what needs watching), then the most recent.
    stmt = (
        stmt.order_by(
            (positions.c.status == "open").desc(),
            func.coalesce(positions.c.exit_time, positions.c.entry_time).desc(),
            positions.c.id.desc(),
        )
        .limit(f.page_size)
        .offset((f.page - 1) * f.page_size)
    )
    rows = (await conn.execute(stmt)).all()
    marks = await latest_marks(conn, {r.ticker for r in rows if r.status == "open"})
    return PositionPage(
        items=[position_row(r, marks) for r in rows],
        total=total,
        page=f.page,
        page_size=f.page_size,
        pages=_pages(total, f.page_size),
    )


async def open_positions(conn: AsyncConnection) -> list[PositionRow]:
    """Every open position, marked at its side's bid where a snapshot exists."""
    rows = (
        await conn.execute(
            select(positions)
            .where(positions.c.status == "open")
            .order_by(positions.c.entry_time.desc())
        )
    ).all()
    marks = await latest_marks(conn, {r.ticker for r in rows})
    return [position_row(r, marks) for r in rows]


def _metadata(raw: object) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        data = json.loads(str(raw))
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _probability(meta: dict[str, Any]) -> Decimal | None:
    for key in ("probability_yes", "probability", "p_yes"):
        value = meta.get(key)
        if value is None or isinstance(value, bool):
            continue
        try:
            d = Decimal(str(value))
        except ArithmeticError:
            continue
        if d.is_finite() and 0 <= d <= 1:
            return d
    return None


def analysis_row(r: Row[Any]) -> AnalysisRow:
    meta = _metadata(r.metadata)
    error = meta.get("error")
    return AnalysisRow(
        id=r.id,
        ticker=r.ticker,
        timestamp=str(r.timestamp),
        provider=r.ai_provider,
        model=None if meta.get("model") is None else str(meta["model"]),
        probability_yes=_probability(meta),
        decision=r.decision,
        confidence=dec(r.confidence),
        cost=dec0(r.cost),
        error=None if error is None else str(error),
        rationale=r.analysis_text,
    )


async def analysis_page(
    conn: AsyncConnection,
    page: int,
    page_size: int,
    ticker: str | None = None,
    decision: str | None = None,
    provider: str | None = None,
) -> AnalysisPage:
    conds = []
    if ticker:
        conds.append(market_analyses.c.ticker == ticker.strip().upper())
    if decision:
        conds.append(market_analyses.c.decision == decision.strip().upper())
    if provider:
        conds.append(market_analyses.c.ai_provider == provider.strip())
    count_stmt = select(func.count()).select_from(market_analyses)
    stmt = select(market_analyses)
    if conds:
        count_stmt = count_stmt.where(and_(*conds))
        stmt = stmt.where(and_(*conds))
    total = int((await conn.execute(count_stmt)).scalar_one())
    stmt = (
        stmt.order_by(market_analyses.c.timestamp.desc(), market_analyses.c.id.desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
    )
    rows = (await conn.execute(stmt)).all()
    return AnalysisPage(
        items=[analysis_row(r) for r in rows],
        total=total,
        page=page,
        page_size=page_size,
        pages=_pages(total, page_size),
    )


async def analysis_by_id(conn: AsyncConnection, analysis_id: int) -> AnalysisRow | None:
    r = (
        await conn.execute(select(market_analyses).where(market_analyses.c.id == analysis_id))
    ).first()
    return None if r is None else analysis_row(r)


async def _newest_per_ticker(conn: AsyncConnection, limit: int) -> list[tuple[str, str, int]]:
    """(ticker, newest timestamp, snapshot count), most recent first, counted from the
    snapshots themselves (the recorder's coverage table would be cheaper, but its count is
    its own bookkeeping, and the dashboard shows what the table holds)."""
    s = market_snapshots.c
    stmt = (
        select(s.ticker, func.max(s.timestamp).label("ts"), func.count().label("n"))
        .group_by(s.ticker)
        .order_by(func.max(s.timestamp).desc(), s.ticker)
        .limit(limit)
    )
    return [(r.ticker, str(r.ts), int(r.n)) for r in (await conn.execute(stmt)).all()]


async def market_list(conn: AsyncConnection, limit: int = 200) -> list[MarketRow]:
    """Recorded markets, most recently seen first, with their newest quote."""
    newest = await _newest_per_ticker(conn, limit)
    if not newest:
        return []
    s = market_snapshots.c
    # The (timestamp, ticker) index finds each newest row directly.
    found = (
        await conn.execute(
            select(s.ticker, s.title, s.category, s.timestamp, s.yes_bid, s.yes_ask, s.last_price)
            .where(s.timestamp.in_({ts for _, ts, _ in newest}))
            .where(s.ticker.in_({t for t, _, _ in newest}))
            .order_by(s.id.desc())
        )
    ).all()
    quotes: dict[tuple[str, str], Any] = {}
    for r in found:
        quotes.setdefault((r.ticker, str(r.timestamp)), r)
    held = set(
        (
            await conn.execute(
                select(positions.c.ticker).where(positions.c.status == "open").distinct()
            )
        ).scalars()
    )
    out = []
    for ticker, ts, n in newest:
        q = quotes.get((ticker, ts))
        if q is None:  # written between the two reads: it shows on the next refresh
            continue
        out.append(
            MarketRow(
                ticker=ticker,
                title=q.title,
                category=q.category,
                last_time=ts,
                yes_bid=dec(q.yes_bid),
                yes_ask=dec(q.yes_ask),
                last_price=dec(q.last_price),
                snapshots=n,
                open_position=ticker in held,
            )
        )
    return out


def _trade_mark(
    p: Row[Any], kind: Literal["entry", "exit"], time: str, price: Decimal
) -> TradeMark:
    """A position's entry or exit, at its side's own price and placed on the YES-price axis."""
    side = Side(p.side)
    return TradeMark(
        time=time,
        kind=kind,
        side=side.value,
        price=price,
        yes_price=yes_price_of(price, side),
        quantity=int(p.quantity),
        position_id=p.id,
    )


async def market_detail(
    conn: AsyncConnection, catalog: Catalog, ticker: str, max_points: int = 2000
) -> MarketDetail | None:
    """A market's recorded prices (newest ``max_points``) and the bot's trades in it."""
    s = market_snapshots.c
    ticker = ticker.strip().upper()
    rows = (
        await conn.execute(
            select(s.timestamp, s.title, s.category, s.yes_bid, s.yes_ask, s.last_price)
            .where(s.ticker == ticker)
            .order_by(s.timestamp.desc(), s.id.desc())
            .limit(max_points)
        )
    ).all()
    pos_rows = (
        await conn.execute(
            select(positions).where(positions.c.ticker == ticker).order_by(positions.c.entry_time)
        )
    ).all()
    if not rows and not pos_rows:
        return None
    rows = list(reversed(rows))
    points = [
        PricePoint(
            time=str(r.timestamp),
            yes_bid=dec(r.yes_bid),
            yes_ask=dec(r.yes_ask),
            last_price=dec(r.last_price),
        )
        for r in rows
    ]
    trades: list[TradeMark] = []
    for p in pos_rows:
        trades.append(_trade_mark(p, "entry", str(p.entry_time), dec0(p.entry_price)))
        exit_price = dec(p.exit_price)
        if p.status == "closed" and exit_price is not None and p.exit_time is not None:
            trades.append(_trade_mark(p, "exit", str(p.exit_time), exit_price))
    result = None
    results = catalog.table("market_results")
    if results is not None and "result" in results.c:
        result = (
            await conn.execute(select(results.c.result).where(results.c.ticker == ticker))
        ).scalar_one_or_none()
    last = rows[-1] if rows else None
    return MarketDetail(
        ticker=ticker,
        title=last.title if last else None,
        category=last.category if last else None,
        points=points,
        trades=trades,
        result=None if result is None else str(result),
    )
