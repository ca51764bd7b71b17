"""Expected numbers computed straight from the tables with plain SQL — not through kalbot.web —
so the API tests compare the dashboard with the database, not with itself."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine


def d(value: Any) -> Decimal:
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))


def rows(url: str, sql: str, **params: Any) -> list[Sequence[Any]]:
    async def run() -> list[Sequence[Any]]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return [tuple(r) for r in (await conn.execute(text(sql), params)).all()]
        finally:
            await engine.dispose()

    return asyncio.run(run())


def realised(url: str, start: str | None = None, end: str | None = None) -> Decimal:
    sql = "SELECT pnl FROM positions WHERE status = 'closed'"
    if start:
        sql += " AND exit_time >= :start AND exit_time < :end"
    found = rows(url, sql, start=start, end=end) if start else rows(url, sql)
    return sum((d(r[0]) for r in found), Decimal(0))


def opt(value: Any) -> Decimal | None:
    return None if value is None else d(value)


def latest_quote(
    url: str, ticker: str
) -> tuple[Decimal | None, Decimal | None, Decimal | None] | None:
    found = rows(
        url,
        "SELECT yes_bid, yes_ask, no_bid FROM market_snapshots WHERE ticker = :t "
        "ORDER BY timestamp DESC, id DESC LIMIT 1",
        t=ticker,
    )
    if not found:
        return None
    yb, ya, nb = found[0]
    return opt(yb), opt(ya), opt(nb)


def open_positions(url: str) -> list[dict[str, Any]]:
    out = []
    for pid, ticker, side, qty, entry in rows(
        url, "SELECT id, ticker, side, quantity, entry_price FROM positions WHERE status = 'open'"
    ):
        quote = latest_quote(url, ticker)
        mark = None
        if quote is not None:
            # Side-correct mark: a YES sells at the YES bid, a NO at the NO bid = 1 - YES ask
            # (the recorded NO bid when the YES ask is missing); no bid, no mark.
            yes_bid, yes_ask, no_bid = quote
            if side == "yes":
                mark = yes_bid
            else:
                mark = Decimal(1) - yes_ask if yes_ask is not None else no_bid
        out.append(
            {
                "id": pid,
                "ticker": ticker,
                "side": side,
                "quantity": int(qty),
                "entry": d(entry),
                "mark": mark,
                "unrealised": None if mark is None else int(qty) * (mark - d(entry)),
            }
        )
    return out


def ai_spend(url: str, day: str, next_day: str) -> tuple[Decimal, Decimal]:
    analyses = rows(
        url,
        "SELECT cost FROM market_analyses WHERE timestamp >= :a AND timestamp < :b",
        a=day,
        b=next_day,
    )
    tracking = rows(url, "SELECT total_cost FROM ai_cost_tracking WHERE date = :a", a=day)
    return (
        sum((d(r[0]) for r in analyses), Decimal(0)),
        sum((d(r[0]) for r in tracking), Decimal(0)).quantize(Decimal("0.000001")),
    )


def refusal_counts(url: str, day: str, next_day: str) -> dict[str, int]:
    found = rows(
        url,
        "SELECT reason_code, COUNT(*) FROM decision_log WHERE ts >= :a AND ts < :b "
        "AND outcome IN ('rejected', 'skipped', 'refused', 'shrunk', 'error') "
        "GROUP BY reason_code",
        a=day,
        b=next_day,
    )
    return {str(r[0]): int(r[1]) for r in found}
