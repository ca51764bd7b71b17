"""The errors database operations raise: each one carries a one-line message for a person.

They are shaped by what the operator must do next (fix the URL, start the server, pick another
file, pass ``--replace``...), and the CLI prints them as one line with a non-zero exit.
"""

from __future__ import annotations

from kalbot.domain.errors import SchemaError, StoreError, Unavailable


class OpsError(StoreError):
    """Base class: a database operation that could not be done; ``str(e)`` is one line."""


class BadUrl(OpsError):
    """The database URL cannot be parsed or names an unsupported database."""


class MissingFile(OpsError):
    """A file the operation reads (a SQLite database, a backup) does not exist."""


class Unreachable(OpsError, Unavailable):
    """The database server cannot be reached, or refuses the connection."""


class NotKalbotDatabase(OpsError, SchemaError):
    """The database (or backup) is not one kalbot created: no alembic_version or spec tables."""


class Refused(OpsError):
    """The operation would destroy or mix data and was not told it may (e.g. non-empty target)."""


class ToolFailed(OpsError):
    """An external tool (pg_dump, pg_restore, psql) is missing or exited with an error."""


class VerificationFailed(OpsError):
    """A copy's row counts or checksums differ between source and target."""


class QueryFailed(OpsError):
    """A statement given by the operator (``kalbot db explain``) was rejected by the database."""


def one_line(exc: BaseException) -> str:
    """The first meaningful line of an exception's message (drivers add multi-line detail)."""
    cause = getattr(exc, "orig", None) or exc
    for line in str(cause).splitlines():
        line = line.strip()
        if line:
            return line
    return type(cause).__name__
