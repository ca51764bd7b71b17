"""A replay's steps: one timestamp's snapshots each, converted for the venue.

Kept apart from the runner (which imports the engine) so the backtest's reader process
(``kalbot.backtest_feed``) can group and convert snapshots with only this and the venue's
converter imported.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Protocol, TypeVar

from kalbot.domain.snapshot import Snapshot


class Step(Protocol):
    """One timestamp's snapshots as the venue takes them (the simulated exchange's
    ``PreparedBatch``): what the driver itself reads of it."""

    @property
    def timestamp(self) -> datetime | None: ...

    @property
    def count(self) -> int: ...  # snapshots in the step, usable or not

    @property
    def first_seen(self) -> list[tuple[str, str]]: ...  # (ticker, category), first sight


S = TypeVar("S", bound=Step)


async def steps_by_time(
    snapshots: AsyncIterator[Snapshot], prepare: Callable[[list[Snapshot]], S]
) -> AsyncIterator[S]:
    """``snapshots`` (in time order) as one ``prepare``d step per distinct timestamp.

    ``ValueError`` when a snapshot is older than the one before it (never replayed late).
    """
    batch: list[Snapshot] = []
    current: datetime | None = None
    async for snap in snapshots:
        ts = snap.timestamp
        if ts != current:
            if current is not None:
                if ts < current:
                    raise ValueError(
                        f"snapshots must arrive in time order: {ts.isoformat()} after "
                        f"{current.isoformat()}"
                    )
                yield prepare(batch)
                batch = []
            current = ts
        batch.append(snap)
    if batch:
        yield prepare(batch)
