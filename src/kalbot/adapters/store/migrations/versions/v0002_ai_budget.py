"""The AI budget's reservation tables.

``ai_budget_days`` has one row per UTC day; every reservation and settlement first upserts
that row, which takes its row lock (PostgreSQL) or the database write lock (SQLite) for the
rest of the transaction, so budget checks are serialised per day across processes.
``ai_budget_reservations`` holds the worst-case cost of calls in flight, in whole
micro-dollars (exact integers), with an expiry so a crashed process cannot block the day.
``ai_budget_limit`` (at most one row) is a daily budget set at run time (`kalbot ai budget
--set`); when present it wins over the settings, in every process, from the next call on.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """CREATE TABLE ai_budget_days (
    day TEXT PRIMARY KEY,
    lock_count BIGINT NOT NULL DEFAULT 0
)"""
    )
    op.execute(
        """CREATE TABLE ai_budget_reservations (
    id TEXT PRIMARY KEY,
    day TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    amount_micro BIGINT NOT NULL CHECK (amount_micro >= 0),
    created_at TEXT NOT NULL,
    expires_at_us BIGINT NOT NULL
)"""
    )
    op.execute(
        "CREATE INDEX idx_ai_reservations_day_expiry ON ai_budget_reservations(day, expires_at_us)"
    )
    op.execute(
        """CREATE TABLE ai_budget_limit (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    daily_budget_micro BIGINT NOT NULL CHECK (daily_budget_micro >= 0),
    updated_at TEXT NOT NULL
)"""
    )


def downgrade() -> None:
    op.execute("DROP TABLE ai_budget_limit")
    op.execute("DROP TABLE ai_budget_reservations")
    op.execute("DROP TABLE ai_budget_days")
