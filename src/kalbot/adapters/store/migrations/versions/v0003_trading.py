"""The trading engine's tables: orders, fills, position details, market results, recorder
coverage, the decision log, risk events and cycle summaries (see docs/engine.md).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels = None
depends_on = None

_TABLES = """
CREATE TABLE orders (
    id {pk},
    client_order_id TEXT NOT NULL UNIQUE,
    exchange_order_id TEXT,
    ticker TEXT NOT NULL,
    side TEXT NOT NULL,
    action TEXT NOT NULL,
    purpose TEXT NOT NULL,
    count {real} NOT NULL,
    limit_price {real} NOT NULL,
    time_in_force TEXT NOT NULL,
    status TEXT NOT NULL,
    filled_count {real} NOT NULL,
    position_id INTEGER,
    cycle_id INTEGER,
    reason TEXT,
    error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX idx_orders_ticker ON orders(ticker);
CREATE INDEX idx_orders_status ON orders(status);
CREATE TABLE fills (
    id {pk},
    fill_id TEXT NOT NULL UNIQUE,
    exchange_order_id TEXT,
    client_order_id TEXT,
    ticker TEXT NOT NULL,
    side TEXT NOT NULL,
    action TEXT NOT NULL,
    count {real} NOT NULL,
    price {real} NOT NULL,
    fee {real} NOT NULL,
    is_taker INTEGER NOT NULL,
    ts TEXT NOT NULL,
    position_id INTEGER,
    created_at TEXT NOT NULL
);
CREATE INDEX idx_fills_ts ON fills(ts);
CREATE INDEX idx_fills_client_order_id ON fills(client_order_id);
CREATE TABLE position_details (
    position_id INTEGER PRIMARY KEY,
    cost {real} NOT NULL,
    entry_fees {real} NOT NULL,
    event_ticker TEXT,
    category TEXT,
    strategy TEXT
);
CREATE TABLE market_results (
    ticker TEXT PRIMARY KEY,
    event_ticker TEXT,
    category TEXT,
    result TEXT NOT NULL,
    determined_at TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE TABLE recorder_coverage (
    ticker TEXT PRIMARY KEY,
    first_ts TEXT NOT NULL,
    last_ts TEXT NOT NULL,
    num_snapshots INTEGER NOT NULL,
    num_gaps INTEGER NOT NULL,
    max_gap_seconds {real} NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE decision_log (
    id {pk},
    cycle_id INTEGER NOT NULL,
    ts TEXT NOT NULL,
    ticker TEXT NOT NULL,
    stage TEXT NOT NULL,
    outcome TEXT NOT NULL,
    reason_code TEXT NOT NULL,
    detail TEXT,
    decision TEXT,
    strategy TEXT,
    confidence {real},
    quantity {real},
    price {real}
);
CREATE INDEX idx_decision_log_ticker_ts ON decision_log(ticker, ts);
CREATE INDEX idx_decision_log_cycle ON decision_log(cycle_id);
CREATE TABLE risk_events (
    id {pk},
    ts TEXT NOT NULL,
    state TEXT NOT NULL,
    reason_code TEXT NOT NULL,
    detail TEXT,
    equity {real} NOT NULL,
    peak_equity {real} NOT NULL,
    day_start_equity {real} NOT NULL
);
CREATE TABLE cycles (
    id INTEGER PRIMARY KEY,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    mode TEXT NOT NULL,
    strategy TEXT NOT NULL,
    markets_seen INTEGER NOT NULL,
    screened_out TEXT NOT NULL,
    analysed INTEGER NOT NULL,
    ai_spend_today {real} NOT NULL,
    ai_budget {real} NOT NULL,
    orders INTEGER NOT NULL,
    fills INTEGER NOT NULL,
    open_positions INTEGER NOT NULL,
    pnl_today {real} NOT NULL,
    equity {real} NOT NULL,
    cash {real} NOT NULL,
    risk_state TEXT NOT NULL,
    errors INTEGER NOT NULL
);
CREATE INDEX idx_cycles_started_at ON cycles(started_at)
"""

_DROP = (
    "cycles",
    "risk_events",
    "decision_log",
    "recorder_coverage",
    "market_results",
    "position_details",
    "fills",
    "orders",
)


def upgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    ddl = _TABLES.format(
        pk="SERIAL PRIMARY KEY" if pg else "INTEGER PRIMARY KEY AUTOINCREMENT",
        real="DOUBLE PRECISION" if pg else "REAL",
    )
    for statement in ddl.split(";"):
        if statement.strip():
            op.execute(statement.strip())


def downgrade() -> None:
    for table in _DROP:
        op.execute(f"DROP TABLE {table}")
