"""The one place where database exceptions become ``kalbot.domain.errors`` types.

Everything in this package that talks to a database goes through :func:`translate` (usually via
``RepositoryBase``'s transaction helpers), so callers only ever see ``StoreError`` subclasses,
each with the driver's exception chained as ``__cause__``.
"""

from __future__ import annotations

import sqlite3

import asyncpg
from sqlalchemy import exc as sa_exc

from kalbot.domain.errors import (
    Duplicate,
    InvalidRecord,
    NotFound,
    SchemaError,
    StoreError,
    Unavailable,
)

# SQLSTATE classes (PostgreSQL) -> what the caller must do.
_PG_STATES: dict[str, type[StoreError]] = {
    "23505": Duplicate,  # unique_violation
    "23502": InvalidRecord,  # not_null_violation
    "23514": InvalidRecord,  # check_violation
    "23503": InvalidRecord,  # foreign_key_violation
    "22P02": InvalidRecord,  # invalid_text_representation
    "42P01": SchemaError,  # undefined_table
    "42703": SchemaError,  # undefined_column
    "3D000": Unavailable,  # invalid_catalog_name: the database does not exist
    "28P01": Unavailable,  # invalid_password
    "28000": Unavailable,  # invalid_authorization_specification
    "57P01": Unavailable,  # admin_shutdown
    "57P03": Unavailable,  # cannot_connect_now
    "53300": Unavailable,  # too_many_connections
    "40001": Unavailable,  # serialization_failure: retry
    "40P01": Unavailable,  # deadlock_detected: retry
}

# Connection failures that are not driver exceptions: refused, reset, DNS, timeouts.
_NETWORK = (OSError, TimeoutError, ConnectionError)

DRIVER_ERRORS: tuple[type[BaseException], ...] = (
    sa_exc.SQLAlchemyError,
    sqlite3.Error,
    # asyncpg raises its own exceptions, unwrapped, while connecting and from COPY / cursors.
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    *_NETWORK,
)
"""What :func:`translate` understands; catch these, then ``raise translate(e) from e``."""


def _sqlstate(err: BaseException) -> str | None:
    for attr in ("sqlstate", "pgcode"):
        value = getattr(err, attr, None)
        if isinstance(value, str):
            return value
    return None


def _classify(err: BaseException) -> type[StoreError] | None:
    state = _sqlstate(err)
    if state is not None:
        if state in _PG_STATES:
            return _PG_STATES[state]
        if state.startswith("08"):  # connection_exception class
            return Unavailable
        if state.startswith("23"):
            return InvalidRecord
        if state.startswith("22"):
            return InvalidRecord
    cause = err.__cause__
    if cause is not None and cause is not err:
        inner = _classify(cause)
        if inner is not None:
            return inner
    name = type(err).__name__
    if name in {"InvalidCatalogNameError", "InvalidPasswordError", "CannotConnectNowError"}:
        return Unavailable
    return None


def _classify_sqlite(err: sqlite3.Error) -> type[StoreError]:
    code = getattr(err, "sqlite_errorname", "") or ""
    message = str(err).lower()
    if isinstance(err, sqlite3.IntegrityError):
        if "UNIQUE" in code or "PRIMARYKEY" in code or "unique constraint" in message:
            return Duplicate
        return InvalidRecord
    if "no such table" in message or "no such column" in message:
        return SchemaError
    if "file is not a database" in message:
        return SchemaError
    if isinstance(err, sqlite3.OperationalError):
        return Unavailable  # locked, busy, cannot open, disk I/O
    return StoreError


def translate(err: BaseException, doing: str = "") -> StoreError:
    """Map a driver / SQLAlchemy / network exception to the project's error type.

    ``doing`` names the operation for the message ("adding a position"). The caller raises
    the result ``from err`` so the original stays attached.
    """
    if isinstance(err, StoreError):
        return err
    original: BaseException = err
    if isinstance(err, sa_exc.DBAPIError) and err.orig is not None:
        original = err.orig
    kind: type[StoreError] | None
    if isinstance(original, sqlite3.Error):
        kind = _classify_sqlite(original)
    else:
        kind = _classify(original)
        if kind is None:
            if isinstance(original, _NETWORK):
                kind = Unavailable
            elif isinstance(err, sa_exc.IntegrityError):
                kind = InvalidRecord
            elif isinstance(err, sa_exc.OperationalError | sa_exc.InterfaceError):
                kind = Unavailable
            elif isinstance(err, sa_exc.ArgumentError | sa_exc.NoSuchModuleError):
                kind = StoreError
            else:
                kind = StoreError
    detail = (
        str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
    )
    prefix = f"{doing}: " if doing else ""
    return kind(f"{prefix}{detail}")


__all__ = [
    "DRIVER_ERRORS",
    "Duplicate",
    "InvalidRecord",
    "NotFound",
    "SchemaError",
    "StoreError",
    "Unavailable",
    "translate",
]
