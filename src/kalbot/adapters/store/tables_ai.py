"""The AI budget tables of revision ``0002`` (see ``migrations/versions/v0002_ai_budget.py``)."""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Column, Index, Integer, Table, Text

from kalbot.adapters.store.tables import metadata

ai_budget_days = Table(
    "ai_budget_days",
    metadata,
    Column("day", Text, primary_key=True),
    Column("lock_count", BigInteger, nullable=False, server_default="0"),
)

ai_budget_reservations = Table(
    "ai_budget_reservations",
    metadata,
    Column("id", Text, primary_key=True),
    Column("day", Text, nullable=False),
    Column("provider", Text, nullable=False),
    Column("model", Text, nullable=False),
    Column("amount_micro", BigInteger, nullable=False),
    Column("created_at", Text, nullable=False),
    Column("expires_at_us", BigInteger, nullable=False),
    CheckConstraint("amount_micro >= 0"),
    Index("idx_ai_reservations_day_expiry", "day", "expires_at_us"),
)

ai_budget_limit = Table(
    "ai_budget_limit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("daily_budget_micro", BigInteger, nullable=False),
    Column("updated_at", Text, nullable=False),
    CheckConstraint("id = 1"),
    CheckConstraint("daily_budget_micro >= 0"),
)
