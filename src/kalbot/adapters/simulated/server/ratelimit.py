"""Kalshi's token-bucket rate limits (REFERENCE §5), enforced per account with 429s.

Two budgets per account: Read (GETs and anything not a write) and Write (order create, amend,
cancel, decrease, order groups). Default cost 10 tokens; cancels cost 2; batch items are billed
one by one and the whole batch must fit at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

DEFAULT_COST = 10
CANCEL_COST = 2


class Budget(StrEnum):
    READ = "read"
    WRITE = "write"


@dataclass(frozen=True, slots=True)
class Tier:
    """Refill rates in tokens/s and bucket capacities in tokens."""

    name: str
    read_rate: int
    write_rate: int
    read_capacity: int
    write_capacity: int


def _tier(name: str, read: int, write: int, read_burst_s: int, write_burst_s: int) -> Tier:
    return Tier(name, read, write, read * read_burst_s, write * write_burst_s)


# Burst: Basic/Advanced Read and all non-Basic Write buckets hold 2 s of budget; others 1 s.
TIERS: dict[str, Tier] = {
    "basic": _tier("basic", 200, 100, 2, 1),
    "advanced": _tier("advanced", 300, 300, 2, 2),
    "expert": _tier("expert", 600, 600, 1, 2),
    "premier": _tier("premier", 1000, 1000, 1, 2),
    "paragon": _tier("paragon", 2000, 2000, 1, 2),
    "prime": _tier("prime", 4000, 4000, 1, 2),
    "prestige": _tier("prestige", 10000, 8000, 1, 2),
}


class TokenBucket:
    """A bucket of ``capacity`` tokens refilled at ``rate`` tokens/s; starts full."""

    def __init__(self, rate: float, capacity: float, now: Callable[[], float]) -> None:
        if rate <= 0 or capacity <= 0:
            raise ValueError("a token bucket needs a positive rate and capacity")
        self.rate = rate
        self.capacity = capacity
        self._now = now
        self._tokens = capacity
        self._last = now()

    @property
    def tokens(self) -> float:
        self._refill()
        return self._tokens

    def _refill(self) -> None:
        t = self._now()
        self._tokens = min(self.capacity, self._tokens + (t - self._last) * self.rate)
        self._last = t

    def try_take(self, cost: float) -> bool:
        """Take ``cost`` tokens if they are all there; a request never half-spends a bucket."""
        self._refill()
        if cost > self._tokens:
            return False
        self._tokens -= cost
        return True


def classify(method: str, path: str, batch_items: int = 1) -> tuple[Budget, int]:
    """Which budget a request draws from and what it costs (``path`` relative to /trade-api/v2)."""
    method = method.upper()
    if path.startswith("/portfolio/events/orders") or path.startswith("/portfolio/order_groups"):
        if method == "GET":
            return Budget.READ, DEFAULT_COST
        is_cancel = method == "DELETE"
        each = CANCEL_COST if is_cancel else DEFAULT_COST
        if path.rstrip("/").endswith("/batched"):
            return Budget.WRITE, each * max(batch_items, 1)
        return Budget.WRITE, each
    return Budget.READ, DEFAULT_COST


class RateLimiter:
    """Read and write buckets per account, all on one tier (or disabled)."""

    def __init__(
        self,
        tier: Tier | str = "basic",
        *,
        enabled: bool = True,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.tier = TIERS[tier] if isinstance(tier, str) else tier
        self.enabled = enabled
        self._now = now
        self._buckets: dict[tuple[str, Budget], TokenBucket] = {}

    def _bucket(self, account: str, budget: Budget) -> TokenBucket:
        key = (account, budget)
        bucket = self._buckets.get(key)
        if bucket is None:
            if budget is Budget.READ:
                bucket = TokenBucket(self.tier.read_rate, self.tier.read_capacity, self._now)
            else:
                bucket = TokenBucket(self.tier.write_rate, self.tier.write_capacity, self._now)
            self._buckets[key] = bucket
        return bucket

    def allow(self, account: str, method: str, path: str, batch_items: int = 1) -> bool:
        """True when the request may proceed (tokens taken); False means answer 429."""
        if not self.enabled:
            return True
        budget, cost = classify(method, path, batch_items)
        return self._bucket(account, budget).try_take(cost)

    def limits_body(self) -> dict[str, object]:
        """The ``GET /account/limits`` response for this tier."""
        t = self.tier
        return {
            "usage_tier": t.name,
            "read": {"refill_rate": t.read_rate, "bucket_capacity": t.read_capacity},
            "write": {"refill_rate": t.write_rate, "bucket_capacity": t.write_capacity},
            "grants": [],
        }
