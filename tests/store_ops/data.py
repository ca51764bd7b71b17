"""Seed rows and small SQL helpers shared by the operations tests."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from kalbot.adapters.store import migrate

# Positions: YES and NO, open and closed, old and recent exits, awkward text and floats.
POSITIONS: list[dict[str, Any]] = [
    {"id": 1, "ticker": "KXBTC-24DEC-50K", "side": "yes", "quantity": 100, "entry_price": 0.65,
     "entry_time": "2024-11-15T10:30:00Z", "exit_price": 0.72, "exit_time": "2024-11-16T15:45:00Z",
     "pnl": 7.0, "status": "closed", "reason": "High confidence AI signal",
     "close_reason": "Profit target reached", "created_at": "2024-11-15T10:30:00Z",
     "updated_at": "2024-11-16T15:45:00Z"},
    {"id": 2, "ticker": "KXRAIN-NYC", "side": "no", "quantity": 7, "entry_price": 0.1 + 0.2,
     "entry_time": "2024-12-01T00:00:00Z", "exit_price": 0.95, "exit_time": "2024-12-02T08:00:00Z",
     "pnl": -4.55, "status": "closed", "reason": "O'Brien said \"no\" — résumé ✓",
     "close_reason": "Stop loss", "created_at": "2024-12-01 00:00:00",
     "updated_at": "2024-12-02T08:00:00.123456Z"},
    {"id": 3, "ticker": "KXRAIN-NYC", "side": "no", "quantity": 3, "entry_price": 0.4,
     "entry_time": "2026-10-01T00:00:00Z", "exit_price": 0.35, "exit_time": "2026-10-20T00:00:00Z",
     "pnl": 0.15, "status": "closed", "reason": None, "close_reason": "Expiry",
     "created_at": None, "updated_at": None},
    {"id": 5, "ticker": "KXFED-25JAN", "side": "yes", "quantity": 12, "entry_price": 1e-9,
     "entry_time": "2026-11-01T12:00:00Z", "exit_price": None, "exit_time": None, "pnl": None,
     "status": "open", "reason": "line1\nline2\ttab", "close_reason": None,
     "created_at": "2026-11-01T12:00:00Z", "updated_at": "2026-11-01T12:00:00Z"},
]  # fmt: skip

SNAPSHOT_TIMES = [
    "2025-01-01T00:00:00Z",
    "2025-06-01T00:00:00Z",
    "2026-08-27T23:59:59Z",
    "2026-08-28T00:00:00Z",
    "2026-11-20T00:00:00Z",
]


def _snapshots() -> list[dict[str, Any]]:
    return [
        {"timestamp": ts, "ticker": f"KX-{i}", "title": f"Market {i}", "last_price": 0.5 + i / 100,
         "yes_bid": 0.49, "yes_ask": 0.51, "no_bid": 0.49, "no_ask": 0.51, "volume_24h": 1000 * i,
         "open_interest": 10 + i, "close_time": "2027-01-01T00:00:00Z", "category": "weather",
         "metadata": json.dumps({"source": "test", "i": i})}
        for i, ts in enumerate(SNAPSHOT_TIMES)
    ]  # fmt: skip


async def execute(
    url: str, sql: str, params: Sequence[dict[str, Any]] | dict[str, Any] = ()
) -> None:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(sql), params or None)
    finally:
        await engine.dispose()


async def fetch(url: str, sql: str) -> list[tuple[Any, ...]]:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            return [tuple(r) for r in await conn.execute(text(sql))]
    finally:
        await engine.dispose()


async def seed(url: str) -> None:
    """Upgrade ``url`` to head and fill the spec tables with the rows above."""
    await migrate.upgrade(url)
    engine = create_async_engine(url, poolclass=NullPool)
    pg = url.startswith("postgresql")
    try:
        async with engine.begin() as conn:
            for row in POSITIONS:
                values = dict(row)
                for col in ("created_at", "updated_at"):
                    if values[col] is None:
                        values.pop(col)  # the column's CURRENT_TIMESTAMP default
                    elif pg:
                        values[col] = text_time(values[col])
                cols = ", ".join(values)
                marks = ", ".join(f":{c}" for c in values)
                await conn.execute(text(f"INSERT INTO positions ({cols}) VALUES ({marks})"), values)
            snaps = _snapshots()
            cols = ", ".join(snaps[0])
            marks = ", ".join(f":{c}" for c in snaps[0])
            await conn.execute(
                text(f"INSERT INTO market_snapshots ({cols}) VALUES ({marks})"), snaps
            )
            await conn.execute(
                text(
                    "INSERT INTO market_analyses (ticker, analysis_text, ai_provider, cost, "
                    "timestamp, decision, confidence, metadata) VALUES ('KXBTC-24DEC-50K', "
                    "'Bitcoin is showing strong momentum...', 'xai', 0.05, "
                    "'2024-11-15T10:25:00Z', 'OPEN_YES', 0.85, "
                    '\'{"model": "grok-beta", "tokens": 1250}\')'
                )
            )
            await conn.execute(
                text(
                    "INSERT INTO performance_logs (date, total_pnl, num_trades, win_rate, "
                    "portfolio_value, daily_return, max_drawdown) VALUES "
                    "('2024-11-16', 7.0, 1, 1.0, 1007.0, 0.007, 0.0)"
                )
            )
            await conn.execute(
                text(
                    "INSERT INTO ai_cost_tracking (date, total_cost, num_calls, provider) "
                    "VALUES ('2024-11-15', 0.05, 1, 'xai'), ('2024-11-15', 0.02, 2, 'openai')"
                )
            )
    finally:
        await engine.dispose()


def text_time(value: str) -> Any:
    from kalbot.adapters.store.ops.values import as_datetime

    return as_datetime(value).replace(tzinfo=None)
