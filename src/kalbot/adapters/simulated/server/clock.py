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
