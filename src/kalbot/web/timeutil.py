"""UTC day and week bounds as the string ranges the ISO 8601 TEXT columns compare against."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta


@dataclass(frozen=True, slots=True)
class DayRange:
    """``[start, end)`` as ``YYYY-MM-DD`` strings.

    A bare date sorts before every timestamp of that day whatever follows it ('T', ' ', a
    fraction, 'Z' or an offset), so ``start <= ts < end`` selects exactly that span.
    """

    start: str
    end: str


def utc_today(now: datetime) -> date:
    if now.tzinfo is None:
        raise ValueError("naive datetime; the dashboard works in UTC-aware time")
    return now.astimezone(UTC).date()


def day_range(day: date) -> DayRange:
    return DayRange(day.isoformat(), (day + timedelta(days=1)).isoformat())


def week_range(day: date) -> DayRange:
    """Monday 00:00 UTC of ``day``'s ISO week up to the end of ``day``."""
    monday = day - timedelta(days=day.weekday())
    return DayRange(monday.isoformat(), (day + timedelta(days=1)).isoformat())


def parse_stored_time(value: object) -> datetime | None:
    """A stored timestamp (ISO TEXT, or a TIMESTAMP column's datetime) as aware UTC."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    text = str(value).strip().replace("Z", "+00:00")
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
