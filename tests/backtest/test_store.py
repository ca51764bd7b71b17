"""``BacktestStore`` keeps each day's stats until a position changes: same answers as the scan."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from kalbot.backtest.replay import BacktestStore
from kalbot.domain.prices import Side
from kalbot.engine.records import ClosedPart, OpenPosition, PositionChange
from kalbot.engine.store import MemoryTradingStore

T0 = datetime(2026, 1, 5, tzinfo=UTC)

steps = st.lists(
    st.tuples(
        st.sampled_from(["open", "close", "partial_close", "ask"]),
        st.integers(0, 3),  # which open position (by order), or which day to ask
        st.integers(-50, 50),  # pnl in cents
    ),
    max_size=30,
)


@settings(max_examples=60, deadline=None)
@given(steps)
async def test_day_stats_match_a_plain_scan_after_any_changes(
    ops: list[tuple[str, int, int]],
) -> None:
    kept, plain = BacktestStore(), MemoryTradingStore()
    open_ids: list[int] = []
    for n, (kind, which, cents) in enumerate(ops):
        day = T0 + timedelta(days=which % 2)
        if kind == "ask":
            assert await kept.day_stats(day.date()) == await plain.day_stats(day.date())
            continue
        if kind == "open":
            p = OpenPosition(0, f"M{n}", Side.YES, Decimal(2), Decimal(1), Decimal(0), T0, "r")
            pids = {s._apply(PositionChange("open", replace(p))) for s in (kept, plain)}
            assert len(pids) == 1 and None not in pids
            open_ids.append(pids.pop())  # type: ignore[arg-type]
            continue
        if not open_ids:
            continue
        pid = open_ids[which % len(open_ids)]
        part = ClosedPart(
            Decimal(1), Decimal("0.5"), Decimal("0.6"), day, Decimal(cents) / 100, "x"
        )
        for s in (kept, plain):
            p = replace(s.details[pid], quantity=Decimal(1))
            s._apply(PositionChange(kind, p, part))
        if kind == "close":
            open_ids.remove(pid)
    for d in (T0, T0 + timedelta(days=1)):
        assert await kept.day_stats(d.date()) == await plain.day_stats(d.date())
