"""Clocks the core code is given (it never calls ``datetime.now()`` itself)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to: replays, tests, accelerated simulations."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start time")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        if when < self._now:
            raise ValueError("a clock never runs backwards")
        self._now = when

    def advance(self, delta: timedelta) -> None:
        self.set(self._now + delta)


def iso_utc(when: datetime) -> str:
    """ISO 8601 UTC with a ``Z``, the one stored timestamp format."""
    if when.tzinfo is None:
        raise ValueError("naive datetime; all times are UTC-aware")
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ").replace(".000000Z", "Z")


def parse_iso(value: str) -> datetime:
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
