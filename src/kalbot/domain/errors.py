"""Storage errors the core can catch without importing a database library.

Adapters translate their driver's exceptions into these once, at the boundary, with the
original exception chained as ``__cause__``. They are shaped by what the caller must do.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base of every storage error."""


class NotFound(StoreError):
    """The row asked for does not exist (wrong id, or already gone)."""


class Duplicate(StoreError):
    """A uniqueness rule refused the write (the row already exists)."""


class InvalidRecord(StoreError):
    """The database refused a value (NOT NULL, CHECK or type rule); fix the input, do not retry."""


class Unavailable(StoreError):
    """The database cannot be reached or is busy; retrying later may succeed."""


class SchemaError(StoreError):
    """The database is not a kalbot database, or not at the schema revision this code expects."""
