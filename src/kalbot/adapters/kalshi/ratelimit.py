"""Client-side token buckets mirroring Kalshi's read and write budgets (REFERENCE §5)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

DEFAULT_COST = 10
CANCEL_COST = 2


@dataclass(frozen=True, slots=True)
class Tier:
    name: str
    read_per_second: int
    write_per_second: int
    read_burst_seconds: int
    write_burst_seconds: int


TIERS: dict[str, Tier] = {
    t.name: t
    for t in (
        Tier("basic", 200, 100, 2, 1),
        Tier("advanced", 300, 300, 2, 2),
        Tier("expert", 600, 600, 1, 2),
        Tier("premier", 1000, 1000, 1, 2),
        Tier("paragon", 2000, 2000, 1, 2),
        Tier("prime", 4000, 4000, 1, 2),
        Tier("prestige", 10000, 8000, 1, 2),
    )
}


class TokenBucket:
    """``rate`` tokens per second, holding at most ``capacity``; ``acquire`` waits for tokens.

    Clock and sleep are injectable so tests run without real waiting.
    """

    def __init__(
        self,
        rate: float,
        capacity: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0 or capacity <= 0:
            raise ValueError("token bucket rate and capacity must be positive")
        self.rate = float(rate)
        self.capacity = float(capacity)
        self._tokens = float(capacity)
        self._clock = clock
        self._sleep = sleep
        self._last = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
        self._last = now

    @property
    def tokens(self) -> float:
        self._refill()
        return self._tokens

    async def acquire(self, cost: float = DEFAULT_COST) -> None:
        if cost > self.capacity:
            raise ValueError(
                f"a request costing {cost} tokens can never fit a bucket of {self.capacity}"
            )
        async with self._lock:  # first come, first served
            while True:
                self._refill()
                # the epsilon keeps float rounding from leaving us a hair short forever
                if self._tokens + 1e-9 >= cost:
                    self._tokens = max(0.0, self._tokens - cost)
                    return
                await self._sleep((cost - self._tokens) / self.rate)


class RateLimiter:
    """The two budgets: reads (GET and anything not a write) and writes (orders)."""

    def __init__(self, read: TokenBucket, write: TokenBucket) -> None:
        self.read = read
        self.write = write

    @classmethod
    def for_rates(
        cls,
        read_per_second: int = 200,
        write_per_second: int = 100,
        *,
        read_burst_seconds: int = 2,
        write_burst_seconds: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> RateLimiter:
        return cls(
            TokenBucket(
                read_per_second, read_per_second * read_burst_seconds, clock=clock, sleep=sleep
            ),
            TokenBucket(
                write_per_second, write_per_second * write_burst_seconds, clock=clock, sleep=sleep
            ),
        )

    @classmethod
    def for_tier(cls, name: str) -> RateLimiter:
        try:
            t = TIERS[name.lower()]
        except KeyError:
            raise ValueError(f"unknown Kalshi tier {name!r}; one of {sorted(TIERS)}") from None
        return cls.for_rates(
            t.read_per_second,
            t.write_per_second,
            read_burst_seconds=t.read_burst_seconds,
            write_burst_seconds=t.write_burst_seconds,
        )

    @classmethod
    def unlimited(cls) -> RateLimiter:
        """For tests and the local simulator when rate limiting is not under test."""
        return cls.for_rates(10**9, 10**9)
