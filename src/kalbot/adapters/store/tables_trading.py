"""The engine's own tables (revision 0003), beside the spec's five: see docs/engine.md.

Money is REAL (DOUBLE PRECISION on PostgreSQL) like the spec's tables, converted to and from
Decimal only at the store boundary (``convert.to_real`` / ``from_real``). Times are ISO 8601
UTC text. Prices are in the side's own price space.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, Table, Text

from kalbot.adapters.store.tables import _real, metadata

orders = Table(
    "orders",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_order_id", Text, nullable=False, unique=True),
    Column("exchange_order_id", Text),
    Column("ticker", Text, nullable=False),
    Column("side", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("purpose", Text, nullable=False),
    Column("count", _real(), nullable=False),
    Column("limit_price", _real(), nullable=False),
    Column("time_in_force", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("filled_count", _real(), nullable=False),
    Column("position_id", Integer),
    Column("cycle_id", Integer),
    Column("reason", Text),
    Column("error", Text),
    Column("created_at", Text, nullable=False),
    Column("updated_at", Text, nullable=False),
    Index("idx_orders_ticker", "ticker"),
    Index("idx_orders_status", "status"),
)

fills = Table(
    "fills",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("fill_id", Text, nullable=False, unique=True),
    Column("exchange_order_id", Text),
    Column("client_order_id", Text),
    Column("ticker", Text, nullable=False),
    Column("side", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("count", _real(), nullable=False),
    Column("price", _real(), nullable=False),
    Column("fee", _real(), nullable=False),
    Column("is_taker", Integer, nullable=False),
    Column("ts", Text, nullable=False),
    Column("position_id", Integer),
    Column("created_at", Text, nullable=False),
    Index("idx_fills_ts", "ts"),
    Index("idx_fills_client_order_id", "client_order_id"),
)

position_details = Table(
    "position_details",
    metadata,
    Column("position_id", Integer, primary_key=True, autoincrement=False),
    Column("cost", _real(), nullable=False),
    Column("entry_fees", _real(), nullable=False),
    Column("event_ticker", Text),
    Column("category", Text),
    Column("strategy", Text),
)

market_results = Table(
    "market_results",
    metadata,
    Column("ticker", Text, primary_key=True),
    Column("event_ticker", Text),
    Column("category", Text),
    Column("result", Text, nullable=False),
    Column("determined_at", Text, nullable=False),
    Column("recorded_at", Text, nullable=False),
)

recorder_coverage = Table(
    "recorder_coverage",
    metadata,
    Column("ticker", Text, primary_key=True),
    Column("first_ts", Text, nullable=False),
    Column("last_ts", Text, nullable=False),
    Column("num_snapshots", Integer, nullable=False),
    Column("num_gaps", Integer, nullable=False),
    Column("max_gap_seconds", _real(), nullable=False),
    Column("updated_at", Text, nullable=False),
)

decision_log = Table(
    "decision_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("cycle_id", Integer, nullable=False),
    Column("ts", Text, nullable=False),
    Column("ticker", Text, nullable=False),
    Column("stage", Text, nullable=False),
    Column("outcome", Text, nullable=False),
    Column("reason_code", Text, nullable=False),
    Column("detail", Text),
    Column("decision", Text),
    Column("strategy", Text),
    Column("confidence", _real()),
    Column("quantity", _real()),
    Column("price", _real()),
    Index("idx_decision_log_ticker_ts", "ticker", "ts"),
    Index("idx_decision_log_cycle", "cycle_id"),
)

risk_events = Table(
    "risk_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ts", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("reason_code", Text, nullable=False),
    Column("detail", Text),
    Column("equity", _real(), nullable=False),
    Column("peak_equity", _real(), nullable=False),
    Column("day_start_equity", _real(), nullable=False),
)

cycles = Table(
    "cycles",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("started_at", Text, nullable=False),
    Column("finished_at", Text),
    Column("mode", Text, nullable=False),
    Column("strategy", Text, nullable=False),
    Column("markets_seen", Integer, nullable=False),
    Column("screened_out", Text, nullable=False),
    Column("analysed", Integer, nullable=False),
    Column("ai_spend_today", _real(), nullable=False),
    Column("ai_budget", _real(), nullable=False),
    Column("orders", Integer, nullable=False),
    Column("fills", Integer, nullable=False),
    Column("open_positions", Integer, nullable=False),
    Column("pnl_today", _real(), nullable=False),
    Column("equity", _real(), nullable=False),
    Column("cash", _real(), nullable=False),
    Column("risk_state", Text, nullable=False),
    Column("errors", Integer, nullable=False),
    Index("idx_cycles_started_at", "started_at"),
)

TRADING_TABLES = (
    orders,
    fills,
    position_details,
    market_results,
    recorder_coverage,
    decision_log,
    risk_events,
    cycles,
)
