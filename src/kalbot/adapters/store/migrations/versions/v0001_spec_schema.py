"""The spec's schema: the five tables of DATABASE_SCHEMA.md, their indexes, and positions_archive.

The DDL is written out per dialect so it matches the spec to the letter: the SQLite statements
are the spec's own; PostgreSQL gets its SERIAL / TIMESTAMP variants (and DOUBLE PRECISION for
REAL, see docs/storage.md).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels = None
depends_on = None

_POSITIONS_BODY = """
    ticker TEXT NOT NULL,
    side TEXT NOT NULL CHECK (side IN ('yes', 'no')),
    quantity INTEGER NOT NULL,
    entry_price {real} NOT NULL,
    entry_time TEXT NOT NULL,
    exit_price {real},
    exit_time TEXT,
    pnl {real},
    status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    reason TEXT,
    close_reason TEXT,
    created_at {ts} DEFAULT CURRENT_TIMESTAMP,
    updated_at {ts} DEFAULT CURRENT_TIMESTAMP
"""


def _ddl(dialect: str) -> list[str]:
    pg = dialect == "postgresql"
    pk = "SERIAL PRIMARY KEY" if pg else "INTEGER PRIMARY KEY AUTOINCREMENT"
    real = "DOUBLE PRECISION" if pg else "REAL"
    ts = "TIMESTAMP" if pg else "TEXT"
    body = _POSITIONS_BODY.format(real=real, ts=ts)
    return [
        f"CREATE TABLE positions (\n    id {pk},{body})",
        "CREATE INDEX idx_positions_ticker ON positions(ticker)",
        "CREATE INDEX idx_positions_status ON positions(status)",
        "CREATE INDEX idx_positions_entry_time ON positions(entry_time)",
        f"""CREATE TABLE market_analyses (
    id {pk},
    ticker TEXT NOT NULL,
    analysis_text TEXT,
    ai_provider TEXT NOT NULL,
    cost {real} NOT NULL,
    timestamp TEXT NOT NULL,
    decision TEXT,
    confidence {real},
    metadata TEXT,
    created_at {ts} DEFAULT CURRENT_TIMESTAMP
)""",
        "CREATE INDEX idx_analyses_ticker ON market_analyses(ticker)",
        "CREATE INDEX idx_analyses_timestamp ON market_analyses(timestamp)",
        "CREATE INDEX idx_analyses_decision ON market_analyses(decision)",
        f"""CREATE TABLE market_snapshots (
    id {pk},
    timestamp TEXT NOT NULL,
    ticker TEXT NOT NULL,
    title TEXT,
    last_price {real},
    yes_bid {real},
    yes_ask {real},
    no_bid {real},
    no_ask {real},
    volume_24h INTEGER,
    open_interest INTEGER,
    close_time TEXT,
    category TEXT,
    metadata TEXT,
    created_at {ts} DEFAULT CURRENT_TIMESTAMP
)""",
        "CREATE INDEX idx_snapshots_timestamp_ticker ON market_snapshots(timestamp, ticker)",
        "CREATE INDEX idx_snapshots_category ON market_snapshots(category)",
        f"""CREATE TABLE performance_logs (
    id {pk},
    date TEXT NOT NULL UNIQUE,
    total_pnl {real} NOT NULL,
    num_trades INTEGER NOT NULL,
    win_rate {real},
    portfolio_value {real} NOT NULL,
    daily_return {real},
    max_drawdown {real},
    created_at {ts} DEFAULT CURRENT_TIMESTAMP
)""",
        "CREATE INDEX idx_performance_date ON performance_logs(date)",
        f"""CREATE TABLE ai_cost_tracking (
    id {pk},
    date TEXT NOT NULL,
    total_cost {real} NOT NULL,
    num_calls INTEGER NOT NULL,
    provider TEXT NOT NULL,
    created_at {ts} DEFAULT CURRENT_TIMESTAMP
)""",
        "CREATE INDEX idx_cost_date_provider ON ai_cost_tracking(date, provider)",
        # Beyond the spec's DDL, as the spec's text asks: the (ticker, timestamp) index its
        # "Current Indexes" list names, and the two "custom" indexes it suggests.
        "CREATE INDEX idx_analyses_ticker_timestamp ON market_analyses(ticker, timestamp)",
        "CREATE INDEX idx_snapshots_category_timestamp ON market_snapshots(category, timestamp)",
        "CREATE INDEX idx_analyses_provider_timestamp ON market_analyses(ai_provider, timestamp)",
        # One cost row per (date, provider), so adding to a day's cost is one atomic upsert.
        "CREATE UNIQUE INDEX uq_cost_date_provider ON ai_cost_tracking(date, provider)",
        # The archive the spec's retention section fills with INSERT ... SELECT * FROM positions:
        # exactly positions' columns, ids kept from positions (so no autoincrement).
        f"CREATE TABLE positions_archive (\n    id INTEGER PRIMARY KEY,{body})",
        "CREATE INDEX idx_positions_archive_ticker ON positions_archive(ticker)",
        "CREATE INDEX idx_positions_archive_exit_time ON positions_archive(exit_time)",
    ]


def upgrade() -> None:
    for statement in _ddl(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    for table in (
        "positions_archive",
        "ai_cost_tracking",
        "performance_logs",
        "market_snapshots",
        "market_analyses",
        "positions",
    ):
        op.execute(f"DROP TABLE {table}")
