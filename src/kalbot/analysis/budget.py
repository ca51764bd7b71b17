"""The hard daily AI budget: reserve the worst case before a paid call, settle after.

The arithmetic lives here; the atomicity lives in the store (``AIStore.reserve_ai_budget`` is
one database transaction serialised per UTC day), so the rule holds across processes. Nothing
is cached: every reservation reads the day's spend and the current budget afresh, so raising
the budget takes effect on the next call and nothing stays "exhausted" once there is room.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_CEILING, Decimal

from kalbot.ports import AIStore, Clock

MICRO = Decimal("0.000001")
BUDGET_EXHAUSTED = "ai_budget_exhausted"


def utc_day(when: datetime) -> date:
    """The budget day of ``when``: days start at 00:00 UTC."""
    if when.tzinfo is None:
        raise ValueError("naive datetime; budget days are UTC")
    return when.astimezone(UTC).date()


def to_micro(amount: Decimal) -> int:
    """Dollars -> whole micro-dollars, rounded up (a reservation never under-counts)."""
    return int((amount / MICRO).to_integral_value(rounding=ROUND_CEILING))


def fits(spent: Decimal, reserved: Decimal, amount: Decimal, budget: Decimal) -> bool:
    """Whether a call costing at most ``amount`` fits in what is left of ``budget``."""
    return to_micro(spent) + to_micro(reserved) + to_micro(amount) <= to_micro(budget)


@dataclass(frozen=True, slots=True)
class Reservation:
    id: str
    day: date
    amount: Decimal


class BudgetGuard:
    """Reserves worst-case cost against the database's view of today's spend."""

    def __init__(
        self,
        store: AIStore,
        clock: Clock,
        budget: Callable[[], Decimal],
        reservation_ttl: timedelta = timedelta(minutes=10),
    ) -> None:
        self._store = store
        self._clock = clock
        self._budget = budget
        self._ttl = reservation_ttl

    async def reserve(self, provider: str, model: str, amount: Decimal) -> Reservation | None:
        """A reservation, or None when the call does not fit today's budget."""
        now = self._clock.now()
        day = utc_day(now)
        rid = await self._store.reserve_ai_budget(
            day=day,
            provider=provider,
            model=model,
            amount=amount,
            budget=self._budget(),
            now=now,
            # A crashed process's reservation lapses instead of blocking the day forever.
            expires_at=now + self._ttl,
        )
        return None if rid is None else Reservation(rid, day, amount)

    async def release(self, reservation: Reservation) -> None:
        await self._store.release_ai_budget(reservation.id)

    async def remaining(self) -> Decimal:
        now = self._clock.now()
        spent, reserved = await self._store.ai_spend(utc_day(now), now)
        return self._budget() - spent - reserved
