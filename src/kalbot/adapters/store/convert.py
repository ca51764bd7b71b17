"""Value conversion at the storage boundary: Decimal <-> REAL, datetimes <-> ISO text.

The spec's tables store money as REAL; the rest of the bot uses Decimal. Conversions happen
here and nowhere else.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from kalbot.domain.clock import iso_utc, parse_iso
from kalbot.domain.errors import InvalidRecord

# Sums of floats carry binary noise (0.1 + 0.2); eight places keep every cent and every
# fraction of a cent an AI call can cost, and drop the noise.
_PLACES = 8


def to_real(value: Decimal | None) -> float | None:
    """Decimal -> float for a REAL column (None stays None)."""
    if value is None:
        return None
    if not isinstance(value, Decimal):
        raise InvalidRecord(f"money must be a Decimal, got {type(value).__name__} {value!r}")
    if not value.is_finite():
        raise InvalidRecord(f"money must be finite, got {value}")
    return float(value)


def from_real(value: float | int | Decimal | None) -> Decimal | None:
    """A REAL read back (or a SUM/AVG of them) -> Decimal, without binary-float noise."""
    if value is None:
        return None
    # repr() is the shortest string that round-trips, so 0.65 reads back as Decimal("0.65").
    return Decimal(repr(round(float(value), _PLACES)))


def from_real_required(value: float | int | Decimal | None, what: str) -> Decimal:
    out = from_real(value)
    if out is None:
        raise InvalidRecord(f"{what} is NULL in the database")
    return out


def to_text_time(when: datetime) -> str:
    """An aware datetime -> the one stored format, ISO 8601 UTC with ``Z``."""
    if not isinstance(when, datetime):
        raise InvalidRecord(f"expected a datetime, got {type(when).__name__} {when!r}")
    try:
        return iso_utc(when)
    except ValueError as e:
        raise InvalidRecord(str(e)) from None


def from_text_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_iso(value)
    except ValueError as e:
        raise InvalidRecord(f"stored time {value!r} is not ISO 8601") from e


def stamp(dialect: str, when: datetime) -> str | datetime:
    """A value for the defaulted ``created_at`` / ``updated_at`` columns.

    They are TEXT on SQLite (ISO text) and TIMESTAMP on PostgreSQL (naive UTC, as
    ``CURRENT_TIMESTAMP`` would store with the server in UTC).
    """
    text = to_text_time(when)
    if dialect == "postgresql":
        return when.astimezone(UTC).replace(tzinfo=None)
    return text


def day_text(day: date) -> str:
    """A date as the spec stores it in ``date`` columns: ``YYYY-MM-DD``."""
    if isinstance(day, datetime) or not isinstance(day, date):
        raise InvalidRecord(f"expected a date, got {type(day).__name__} {day!r}")
    return day.isoformat()
