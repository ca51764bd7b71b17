"""The engine's storage port, and an in-memory implementation for tests and benchmarks.

The SQL implementation is ``kalbot.adapters.store.trading_repo.TradingRepoMixin``; both must
make ``apply_fill`` atomic (the fill row and its position change together, or neither) and
idempotent (a fill id seen before changes nothing), which is what makes a kill -9 safe.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Protocol

from kalbot.domain.decisions import RiskState
from kalbot.domain.orders import Action
from kalbot.engine.records import (
    CycleSummary,
    DayStats,
    DecisionRecord,
    FillRecord,
    OpenPosition,
    OrderRecord,
    OrderState,
    PerformanceRow,
    PositionChange,
    RiskEvent,
    StoredState,
)


class TradingStore(Protocol):
    async def load_engine_state(self, now: datetime, lookback: timedelta) -> StoredState:
        """Open positions, in-flight orders, last fill time, risk state, recent closes/stop-outs."""
        ...

    async def add_order(self, order: OrderRecord) -> bool:
        """Insert; False when the client_order_id exists already (the decision was placed)."""
        ...

    async def update_order(
        self,
        client_order_id: str,
        *,
        status: OrderState,
        exchange_order_id: str | None = None,
        filled_count: Decimal | None = None,
        error: str | None = None,
        now: datetime,
    ) -> None: ...

    async def find_order(self, client_order_id: str) -> OrderRecord | None: ...

    async def apply_fill(self, fill: FillRecord, change: PositionChange) -> int | None:
        """Store the fill and its position change in one transaction.

        Returns the id of the position row opened or touched (None when none), or raises
        ``kalbot.domain.errors.Duplicate`` when the fill id was stored before.
        """
        ...

    async def apply_position_change(self, change: PositionChange) -> int | None:
        """A change with no fill behind it (settlement, reconcile) in one transaction.

        Returns the position id (the new one for ``open``); None when a close/increase targets a
        row that is no longer open, so a repeated settlement changes nothing.
        """
        ...

    async def add_decisions(self, rows: Sequence[DecisionRecord]) -> None: ...

    async def add_cycle(self, summary: CycleSummary) -> None: ...

    async def add_risk_event(self, event: RiskEvent) -> None: ...

    async def upsert_performance(self, row: PerformanceRow) -> None: ...

    async def day_stats(self, day: date) -> DayStats: ...


class MemoryTradingStore:
    """A complete, dict-backed TradingStore: the engine's tests and the no-database benchmark."""

    def __init__(self) -> None:
        self.orders: dict[str, OrderRecord] = {}
        self.fills: dict[str, tuple[FillRecord, int | None]] = {}
        self.positions: dict[int, dict[str, object]] = {}
        self.decisions: list[DecisionRecord] = []
        self.cycles: list[CycleSummary] = []
        self.risk_events: list[RiskEvent] = []
        self.performance: dict[date, PerformanceRow] = {}
        self.details: dict[int, OpenPosition] = {}
        self._next_id = 1

    async def load_engine_state(self, now: datetime, lookback: timedelta) -> StoredState:
        st = StoredState(last_cycle_id=self.cycles[-1].cycle_id if self.cycles else 0)
        st.open_positions = [
            replace(self.details[pid])
            for pid, row in self.positions.items()
            if row["status"] == "open"
        ]
        st.in_flight_orders = [o for o in self.orders.values() if o.status.in_flight]
        st.last_fill_ts = max((f.ts for f, _ in self.fills.values()), default=None)
        if self.risk_events:
            st.risk_state = self.risk_events[-1].state
        if self.cycles:
            st.peak_equity = max(c.equity for c in self.cycles)
            today = [c for c in self.cycles if c.started_at.date() == now.date()]
            st.day_start_equity = today[0].equity if today else None
        if self.performance:
            st.max_drawdown = self.performance[max(self.performance)].max_drawdown or Decimal(0)
        for row in self.positions.values():
            exit_time = row.get("exit_time")
            closed = row["status"] == "closed" and isinstance(exit_time, datetime)
            if closed and isinstance(exit_time, datetime) and now - exit_time <= lookback:
                t = str(row["ticker"])
                st.last_close[t] = max(st.last_close.get(t, exit_time), exit_time)
                if row["close_reason"] == "stop_loss":
                    st.stopouts.append(exit_time)
        return st

    async def add_order(self, order: OrderRecord) -> bool:
        if order.client_order_id in self.orders:
            return False
        self.orders[order.client_order_id] = replace(order)
        return True

    async def update_order(
        self,
        client_order_id: str,
        *,
        status: OrderState,
        exchange_order_id: str | None = None,
        filled_count: Decimal | None = None,
        error: str | None = None,
        now: datetime,
    ) -> None:
        o = self.orders[client_order_id]
        o.status = status
        o.exchange_order_id = exchange_order_id or o.exchange_order_id
        o.filled_count = o.filled_count if filled_count is None else filled_count
        o.error = error or o.error

    async def find_order(self, client_order_id: str) -> OrderRecord | None:
        o = self.orders.get(client_order_id)
        return None if o is None else replace(o)

    def _apply(self, change: PositionChange) -> int | None:
        p = change.position
        if change.kind == "none" or p is None:
            return None
        if change.kind == "open":
            pid = self._next_id
            self._next_id += 1
            p.id = pid
            self.positions[pid] = {
                "ticker": p.ticker,
                "side": p.side.value,
                "quantity": p.quantity,
                "entry_price": p.entry_price,
                "entry_time": p.entry_time,
                "status": "open",
                "reason": p.reason,
            }
            self.details[pid] = replace(p)
            return pid
        row = self.positions[p.id]
        if change.kind == "increase":
            row.update(quantity=p.quantity, entry_price=p.entry_price)
            self.details[p.id] = replace(p)
            return p.id
        c = change.closed
        assert c is not None
        closed: dict[str, object] = {
            "ticker": p.ticker,
            "side": p.side.value,
            "quantity": c.quantity,
            "entry_price": c.entry_price,
            "entry_time": p.entry_time,
            "status": "closed",
            "reason": p.reason,
            "exit_price": c.exit_price,
            "exit_time": c.exit_time,
            "pnl": c.pnl,
            "close_reason": c.close_reason,
        }
        if change.kind == "close":
            row.update(closed)
            self.details.pop(p.id, None)
            return p.id
        pid = self._next_id
        self._next_id += 1
        self.positions[pid] = closed
        row.update(quantity=p.quantity, entry_price=p.entry_price)
        self.details[p.id] = replace(p)
        return p.id

    async def apply_fill(self, fill: FillRecord, change: PositionChange) -> int | None:
        from kalbot.domain.errors import Duplicate

        if fill.fill_id in self.fills:
            raise Duplicate(f"fill {fill.fill_id} already stored")
        pid = self._apply(change)
        self.fills[fill.fill_id] = (fill, pid)
        return pid

    async def apply_position_change(self, change: PositionChange) -> int | None:
        if change.kind != "open":
            p = change.position
            row = None if p is None else self.positions.get(p.id)
            if row is None or row["status"] != "open":
                return None
        return self._apply(change)

    async def add_decisions(self, rows: Sequence[DecisionRecord]) -> None:
        self.decisions.extend(rows)

    async def add_cycle(self, summary: CycleSummary) -> None:
        self.cycles.append(replace(summary))

    async def add_risk_event(self, event: RiskEvent) -> None:
        self.risk_events.append(event)

    async def upsert_performance(self, row: PerformanceRow) -> None:
        self.performance[row.day] = row

    async def day_stats(self, day: date) -> DayStats:
        pnls = []
        for r in self.positions.values():
            ts = r.get("exit_time")
            if r["status"] == "closed" and isinstance(ts, datetime) and ts.date() == day:
                pnls.append(Decimal(str(r["pnl"])))
        return DayStats(sum(pnls, Decimal(0)), len(pnls), sum(1 for p in pnls if p > 0))

    def closed_rows(self) -> list[dict[str, object]]:
        return [r for r in self.positions.values() if r["status"] == "closed"]

    def open_rows(self) -> list[dict[str, object]]:
        return [r for r in self.positions.values() if r["status"] == "open"]


__all__ = ["Action", "MemoryTradingStore", "RiskState", "TradingStore"]
