"""Accelerated simulated time: one real second can be an hour of market time."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


class AcceleratedClock:
    """``now() = start + speed * (real time elapsed since creation)``.

    Satisfies ``kalbot.ports.Clock``. ``speed=1`` is real time; ``speed=3600`` runs one
    simulated hour per real second. ``jump`` moves simulated time forward at once (tests,
    "skip to the close"). It never runs backwards.
    """

    def __init__(
        self,
        start: datetime | None = None,
        speed: float = 1.0,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        if start is not None and start.tzinfo is None:
            raise ValueError("AcceleratedClock needs a timezone-aware start time")
        self.speed = speed
        self._start = start or datetime.now(UTC)
        self._monotonic = monotonic
        self._t0 = monotonic()
        self._offset = timedelta(0)
        self._lock = threading.Lock()
        self._last = self._start

    def now(self) -> datetime:
        with self._lock:
            elapsed = (self._monotonic() - self._t0) * self.speed
            current = self._start + self._offset + timedelta(seconds=elapsed)
            # Monotone even if the offset or float rounding would say otherwise.
            if current < self._last:
                current = self._last
            self._last = current
            return current

    def jump(self, delta: timedelta) -> None:
        if delta < timedelta(0):
            raise ValueError("a clock never runs backwards")
        with self._lock:
            self._offset += delta


class SteppedClock:
    """Simulated time that moves only when its owner says so (lockstep runs, ``kalbot demo``).

    Satisfies ``kalbot.ports.Clock``. Unlike ``AcceleratedClock`` it ignores real time, so a
    run driven by ``advance`` does the same thing on a fast or a busy machine. Thread-safe:
    the driver advances it in one thread while the served exchange reads it in another.
    """

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("SteppedClock needs a timezone-aware start time")
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> None:
        """Move simulated time forward by ``delta`` (never backwards)."""
        if delta < timedelta(0):
            raise ValueError("a clock never runs backwards")
        with self._lock:
            self._now += delta

    jump = advance  # the same verb AcceleratedClock offers
