"""SQLAlchemy Core description of the spec's tables (``DATABASE_SCHEMA.md``) and their archive.

These objects are for building queries. The schema itself is created and changed only by the
Alembic revisions in ``migrations/`` (revision ``0001`` writes the spec's DDL per dialect), so
this module must stay in step with them; ``tests/store/test_migrations.py`` checks that it does.

Types per dialect (see docs/storage.md for the reasons):
- ``REAL`` on SQLite is an 8-byte float; PostgreSQL's ``REAL`` is a 4-byte float that would
  lose cents above about $10,000, so PostgreSQL gets ``DOUBLE PRECISION`` (SQLite's REAL).
- The defaulted ``created_at`` / ``updated_at`` columns are ``TEXT`` on SQLite and ``TIMESTAMP``
  on PostgreSQL, the spec's PostgreSQL variant. Every other time column is ``TEXT`` holding
  ISO 8601 UTC (``kalbot.domain.clock.iso_utc``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    REAL,
    TIMESTAMP,
    CheckConstraint,
    Column,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import DOUBLE_PRECISION
from sqlalchemy.types import TypeEngine

metadata = MetaData()


def _real() -> TypeEngine[float]:
    return REAL().with_variant(DOUBLE_PRECISION(), "postgresql")


def _defaulted_time() -> TypeEngine[str]:
    return Text().with_variant(TIMESTAMP(), "postgresql")


def _created_at() -> Column[str]:
    return Column("created_at", _defaulted_time(), server_default=text("CURRENT_TIMESTAMP"))


def _position_columns(archive: bool) -> list[Column[Any]]:
    # The archive keeps the original ids, so its id is a plain primary key (no autoincrement).
    cols: list[Column[Any]] = [
        Column("id", Integer, primary_key=True, autoincrement=not archive),
        Column("ticker", Text, nullable=False),
        Column("side", Text, CheckConstraint("side IN ('yes', 'no')"), nullable=False),
        Column("quantity", Integer, nullable=False),
        Column("entry_price", _real(), nullable=False),
        Column("entry_time", Text, nullable=False),
        Column("exit_price", _real()),
        Column("exit_time", Text),
        Column("pnl", _real()),
        Column("status", Text, CheckConstraint("status IN ('open', 'closed')"), nullable=False),
        Column("reason", Text),
        Column("close_reason", Text),
        _created_at(),
        Column("updated_at", _defaulted_time(), server_default=text("CURRENT_TIMESTAMP")),
    ]
    return cols


positions = Table(
    "positions",
    metadata,
    *_position_columns(archive=False),
    Index("idx_positions_ticker", "ticker"),
    Index("idx_positions_status", "status"),
    Index("idx_positions_entry_time", "entry_time"),
)

positions_archive = Table(
    "positions_archive",
    metadata,
    *_position_columns(archive=True),
    Index("idx_positions_archive_ticker", "ticker"),
    Index("idx_positions_archive_exit_time", "exit_time"),
)

market_analyses = Table(
    "market_analyses",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ticker", Text, nullable=False),
    Column("analysis_text", Text),
    Column("ai_provider", Text, nullable=False),
    Column("cost", _real(), nullable=False),
    Column("timestamp", Text, nullable=False),
    Column("decision", Text),
    Column("confidence", _real()),
    Column("metadata", Text),
    _created_at(),
    Index("idx_analyses_ticker", "ticker"),
    Index("idx_analyses_timestamp", "timestamp"),
    Index("idx_analyses_decision", "decision"),
    Index("idx_analyses_ticker_timestamp", "ticker", "timestamp"),
    Index("idx_analyses_provider_timestamp", "ai_provider", "timestamp"),
)

market_snapshots = Table(
    "market_snapshots",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("timestamp", Text, nullable=False),
    Column("ticker", Text, nullable=False),
    Column("title", Text),
    Column("last_price", _real()),
    Column("yes_bid", _real()),
    Column("yes_ask", _real()),
    Column("no_bid", _real()),
    Column("no_ask", _real()),
    Column("volume_24h", Integer),
    Column("open_interest", Integer),
    Column("close_time", Text),
    Column("category", Text),
    Column("metadata", Text),
    _created_at(),
    Index("idx_snapshots_timestamp_ticker", "timestamp", "ticker"),
    Index("idx_snapshots_category", "category"),
    Index("idx_snapshots_category_timestamp", "category", "timestamp"),
)

performance_logs = Table(
    "performance_logs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("date", Text, nullable=False, unique=True),
    Column("total_pnl", _real(), nullable=False),
    Column("num_trades", Integer, nullable=False),
    Column("win_rate", _real()),
    Column("portfolio_value", _real(), nullable=False),
    Column("daily_return", _real()),
    Column("max_drawdown", _real()),
    _created_at(),
    Index("idx_performance_date", "date"),
)

ai_cost_tracking = Table(
    "ai_cost_tracking",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("date", Text, nullable=False),
    Column("total_cost", _real(), nullable=False),
    Column("num_calls", Integer, nullable=False),
    Column("provider", Text, nullable=False),
    _created_at(),
    Index("idx_cost_date_provider", "date", "provider"),
    # Lets a day's cost row be upserted atomically (ON CONFLICT (date, provider)). A unique
    # index rather than a table constraint keeps the spec's CREATE TABLE text unchanged.
    Index("uq_cost_date_provider", "date", "provider", unique=True),
)

SPEC_TABLES: tuple[str, ...] = (
    "positions",
    "market_analyses",
    "market_snapshots",
    "performance_logs",
    "ai_cost_tracking",
)
"""The five tables of the spec, whose columns never change (its INSERTs name no columns)."""

KALBOT_TABLES: tuple[str, ...] = (*SPEC_TABLES, "positions_archive")
"""Every table revision 0001 creates."""
