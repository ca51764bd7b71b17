"""The trading engine's storage (``kalbot.engine.store.TradingStore``) and its read queries.

``apply_fill`` writes the fill and the position change it causes in one transaction; the fill
id's UNIQUE rule makes a replayed fill a ``Duplicate`` that changes nothing. That pair is what
makes a kill -9 at any point safe.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from kalbot.adapters.store.base import RepositoryBase
from kalbot.adapters.store.convert import (
    from_real,
    from_real_required,
    from_text_time,
    stamp,
    to_real,
    to_text_time,
)
from kalbot.adapters.store.dialect import upsert
from kalbot.adapters.store.tables import performance_logs, positions
from kalbot.adapters.store.tables_trading import (
    cycles,
    decision_log,
    fills,
    market_results,
    orders,
    position_details,
    recorder_coverage,
    risk_events,
)
from kalbot.domain.decisions import Decision, RiskState
from kalbot.domain.errors import InvalidRecord
from kalbot.domain.orders import Action, TimeInForce
from kalbot.domain.prices import ZERO, Side
from kalbot.domain.trading import (
    CoverageRow,
    CycleSummary,
    DayStats,
    DecisionRecord,
    FillRecord,
    MarketResultRow,
    OpenPosition,
    OrderRecord,
    OrderState,
    PerformanceRow,
    PositionChange,
    Purpose,
    RiskEvent,
    StoredState,
)


def _r(value: Decimal | None) -> float | None:
    return to_real(value)


def _dec(value: Any) -> Decimal:
    return from_real_required(value, "amount")


def _qty(value: Decimal) -> int:
    if value != value.to_integral_value():
        raise InvalidRecord(f"positions.quantity must be whole contracts, got {value}")
    return int(value)


def _order_from_row(row: Mapping[Any, Any]) -> OrderRecord:
    created = from_text_time(row["created_at"])
    assert created is not None
    return OrderRecord(
        client_order_id=row["client_order_id"],
        ticker=row["ticker"],
        side=Side(row["side"]),
        action=Action(row["action"]),
        purpose=Purpose(row["purpose"]),
        count=_dec(row["count"]),
        limit_price=_dec(row["limit_price"]),
        time_in_force=TimeInForce(row["time_in_force"]),
        created_at=created,
        cycle_id=int(row["cycle_id"] or 0),
        reason=row["reason"] or "",
        position_id=row["position_id"],
        status=OrderState(row["status"]),
        exchange_order_id=row["exchange_order_id"],
        filled_count=_dec(row["filled_count"]),
        error=row["error"],
    )


class TradingRepoMixin(RepositoryBase):
    """orders, fills, position_details, decision_log, risk_events, cycles, market_results,
    recorder_coverage; and the engine's writes to positions and performance_logs."""

    # -- engine state --------------------------------------------------------------------
    async def load_engine_state(self, now: datetime, lookback: timedelta) -> StoredState:
        st = StoredState()
        since = to_text_time(now - lookback)
        today = now.date().isoformat()
        async with self.connection("loading the engine's state") as conn:
            st.last_cycle_id = int(
                (await conn.execute(select(func.max(cycles.c.id)))).scalar() or 0
            )
            q = (
                select(positions, position_details)
                .select_from(
                    positions.outerjoin(
                        position_details, position_details.c.position_id == positions.c.id
                    )
                )
                .where(positions.c.status == "open")
            )
            for row in (await conn.execute(q)).mappings():
                qty = Decimal(int(row["quantity"]))
                entry = _dec(row["entry_price"])
                entry_time = from_text_time(row["entry_time"])
                assert entry_time is not None
                st.open_positions.append(
                    OpenPosition(
                        id=int(row["id"]),
                        ticker=row["ticker"],
                        side=Side(row["side"]),
                        quantity=qty,
                        cost=_dec(row["cost"]) if row["cost"] is not None else qty * entry,
                        entry_fees=_dec(row["entry_fees"])
                        if row["entry_fees"] is not None
                        else ZERO,
                        entry_time=entry_time,
                        reason=row["reason"] or "",
                        event_ticker=row["event_ticker"] or "",
                        category=row["category"] or "",
                        strategy=row["strategy"] or "",
                    )
                )
            q2 = select(orders).where(orders.c.status.in_(["pending", "resting"]))
            st.in_flight_orders = [_order_from_row(r) for r in (await conn.execute(q2)).mappings()]
            last_fill = (await conn.execute(select(func.max(fills.c.ts)))).scalar()
            st.last_fill_ts = from_text_time(last_fill)
            risk = (
                await conn.execute(
                    select(risk_events.c.state).order_by(risk_events.c.id.desc()).limit(1)
                )
            ).scalar()
            if risk:
                st.risk_state = RiskState(risk)
            peak = (await conn.execute(select(func.max(cycles.c.equity)))).scalar()
            st.peak_equity = from_real(peak)
            first_today = (
                await conn.execute(
                    select(cycles.c.equity)
                    .where(cycles.c.started_at >= today)
                    .order_by(cycles.c.id)
                    .limit(1)
                )
            ).scalar()
            st.day_start_equity = from_real(first_today)
            dd = (
                await conn.execute(
                    select(performance_logs.c.max_drawdown)
                    .order_by(performance_logs.c.date.desc())
                    .limit(1)
                )
            ).scalar()
            st.max_drawdown = from_real(dd) or ZERO
            closes = await conn.execute(
                select(positions.c.ticker, positions.c.exit_time, positions.c.close_reason).where(
                    and_(positions.c.status == "closed", positions.c.exit_time >= since)
                )
            )
            for ticker, exit_time, reason in closes:
                t = from_text_time(exit_time)
                if t is None:
                    continue
                st.last_close[ticker] = max(st.last_close.get(ticker, t), t)
                if reason == "stop_loss":
                    st.stopouts.append(t)
        return st

    # -- orders --------------------------------------------------------------------------
    async def add_order(self, order: OrderRecord) -> bool:
        values = {
            "client_order_id": order.client_order_id,
            "exchange_order_id": order.exchange_order_id,
            "ticker": order.ticker,
            "side": order.side.value,
            "action": order.action.value,
            "purpose": order.purpose.value,
            "count": _r(order.count),
            "limit_price": _r(order.limit_price),
            "time_in_force": order.time_in_force.value,
            "status": order.status.value,
            "filled_count": _r(order.filled_count),
            "position_id": order.position_id,
            "cycle_id": order.cycle_id,
            "reason": order.reason,
            "error": order.error,
            "created_at": to_text_time(order.created_at),
            "updated_at": to_text_time(order.created_at),
        }
        async with self.transaction(f"recording order {order.client_order_id}") as conn:
            exists = (
                await conn.execute(
                    select(orders.c.id).where(orders.c.client_order_id == order.client_order_id)
                )
            ).first()
            if exists is not None:
                return False
            await conn.execute(insert(orders).values(**values))
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
        values: dict[str, Any] = {"status": status.value, "updated_at": to_text_time(now)}
        if exchange_order_id is not None:
            values["exchange_order_id"] = exchange_order_id
        if filled_count is not None:
            values["filled_count"] = _r(filled_count)
        if error is not None:
            values["error"] = error
        async with self.transaction(f"updating order {client_order_id}") as conn:
            await conn.execute(
                update(orders).where(orders.c.client_order_id == client_order_id).values(**values)
            )

    async def find_order(self, client_order_id: str) -> OrderRecord | None:
        async with self.connection("finding an order") as conn:
            row = (
                (
                    await conn.execute(
                        select(orders).where(orders.c.client_order_id == client_order_id)
                    )
                )
                .mappings()
                .first()
            )
        return None if row is None else _order_from_row(row)

    # -- fills and positions -------------------------------------------------------------
    async def apply_fill(self, fill: FillRecord, change: PositionChange) -> int | None:
        async with self.transaction(f"applying fill {fill.fill_id}") as conn:
            result = await conn.execute(
                insert(fills)
                .values(
                    fill_id=fill.fill_id,
                    exchange_order_id=fill.exchange_order_id,
                    client_order_id=fill.client_order_id,
                    ticker=fill.ticker,
                    side=fill.side.value,
                    action=fill.action.value,
                    count=_r(fill.count),
                    price=_r(fill.price),
                    fee=_r(fill.fee),
                    is_taker=1 if fill.is_taker else 0,
                    ts=to_text_time(fill.ts),
                    created_at=to_text_time(fill.ts),
                )
                .returning(fills.c.id)
            )
            fill_row = result.scalar_one()
            pid = await self._apply_change(conn, change)
            if pid is not None:
                await conn.execute(
                    update(fills).where(fills.c.id == fill_row).values(position_id=pid)
                )
            return pid

    async def apply_position_change(self, change: PositionChange) -> int | None:
        async with self.transaction(f"applying a {change.kind} to positions") as conn:
            return await self._apply_change(conn, change)

    async def _apply_change(self, conn: AsyncConnection, change: PositionChange) -> int | None:
        p = change.position
        if p is None or change.kind == "none":
            return None
        when = p.entry_time
        if change.kind == "open":
            pid = (
                await conn.execute(
                    insert(positions)
                    .values(
                        ticker=p.ticker,
                        side=p.side.value,
                        quantity=_qty(p.quantity),
                        entry_price=_r(p.entry_price),
                        entry_time=to_text_time(p.entry_time),
                        status="open",
                        reason=p.reason,
                        created_at=stamp(self.dialect, when),
                        updated_at=stamp(self.dialect, when),
                    )
                    .returning(positions.c.id)
                )
            ).scalar_one()
            await conn.execute(
                insert(position_details).values(
                    position_id=pid,
                    cost=_r(p.cost),
                    entry_fees=_r(p.entry_fees),
                    event_ticker=p.event_ticker,
                    category=p.category,
                    strategy=p.strategy,
                )
            )
            return int(pid)
        still_open = and_(positions.c.id == p.id, positions.c.status == "open")
        c = change.closed
        now = c.exit_time if c is not None else when
        if change.kind == "close":
            assert c is not None
            res = await conn.execute(
                update(positions)
                .where(still_open)
                .values(
                    exit_price=_r(c.exit_price),
                    exit_time=to_text_time(c.exit_time),
                    pnl=_r(c.pnl),
                    status="closed",
                    close_reason=c.close_reason,
                    updated_at=stamp(self.dialect, now),
                )
            )
            return p.id if res.rowcount else None
        res = await conn.execute(
            update(positions)
            .where(still_open)
            .values(
                quantity=_qty(p.quantity),
                entry_price=_r(p.entry_price),
                updated_at=stamp(self.dialect, now),
            )
        )
        if not res.rowcount:
            return None
        await conn.execute(
            update(position_details)
            .where(position_details.c.position_id == p.id)
            .values(cost=_r(p.cost), entry_fees=_r(p.entry_fees))
        )
        if change.kind == "partial_close":
            assert c is not None
            await conn.execute(
                insert(positions).values(
                    ticker=p.ticker,
                    side=p.side.value,
                    quantity=_qty(c.quantity),
                    entry_price=_r(c.entry_price),
                    entry_time=to_text_time(p.entry_time),
                    exit_price=_r(c.exit_price),
                    exit_time=to_text_time(c.exit_time),
                    pnl=_r(c.pnl),
                    status="closed",
                    reason=p.reason,
                    close_reason=c.close_reason,
                    created_at=stamp(self.dialect, now),
                    updated_at=stamp(self.dialect, now),
                )
            )
        return p.id

    # -- logs ----------------------------------------------------------------------------
    async def add_decisions(self, rows: Sequence[DecisionRecord]) -> None:
        if not rows:
            return
        values = [
            {
                "cycle_id": r.cycle_id,
                "ts": to_text_time(r.ts),
                "ticker": r.ticker,
                "stage": r.stage,
                "outcome": r.outcome,
                "reason_code": r.reason_code,
                "detail": r.detail[:1000] if r.detail else None,
                "decision": r.decision.value if r.decision else None,
                "strategy": r.strategy or None,
                "confidence": _r(r.confidence),
                "quantity": _r(r.quantity),
                "price": _r(r.price),
            }
            for r in rows
        ]
        async with self.transaction("logging decisions") as conn:
            await conn.execute(insert(decision_log), values)

    async def add_cycle(self, summary: CycleSummary) -> None:
        s = summary
        values = {
            "id": s.cycle_id,
            "started_at": to_text_time(s.started_at),
            "finished_at": to_text_time(s.finished_at) if s.finished_at else None,
            "mode": s.mode,
            "strategy": s.strategy,
            "markets_seen": s.markets_seen,
            "screened_out": json.dumps(s.screened_out, sort_keys=True),
            "analysed": s.analysed,
            "ai_spend_today": _r(s.ai_spend_today),
            "ai_budget": _r(s.ai_budget),
            "orders": s.orders,
            "fills": s.fills,
            "open_positions": s.open_positions,
            "pnl_today": _r(s.pnl_today),
            "equity": _r(s.equity),
            "cash": _r(s.cash),
            "risk_state": s.risk_state.value,
            "errors": s.errors,
        }
        async with self.transaction(f"recording cycle {s.cycle_id}") as conn:
            await conn.execute(insert(cycles).values(**values))

    async def add_risk_event(self, event: RiskEvent) -> None:
        async with self.transaction("recording a risk state") as conn:
            await conn.execute(
                insert(risk_events).values(
                    ts=to_text_time(event.ts),
                    state=event.state.value,
                    reason_code=event.reason_code,
                    detail=event.detail,
                    equity=_r(event.equity),
                    peak_equity=_r(event.peak_equity),
                    day_start_equity=_r(event.day_start_equity),
                )
            )

    async def upsert_performance(self, row: PerformanceRow) -> None:
        values = {
            "date": row.day.isoformat(),
            "total_pnl": _r(row.total_pnl),
            "num_trades": row.num_trades,
            "win_rate": _r(row.win_rate),
            "portfolio_value": _r(row.portfolio_value),
            "daily_return": _r(row.daily_return),
            "max_drawdown": _r(row.max_drawdown),
        }
        stmt = upsert(
            self.dialect,
            performance_logs,
            values,
            ["date"],
            lambda ex: {k: getattr(ex, k) for k in values if k != "date"},
        )
        async with self.transaction(f"upserting performance for {row.day}") as conn:
            await conn.execute(stmt)

    async def day_stats(self, day: date) -> DayStats:
        prefix = day.isoformat()
        nxt = (day + timedelta(days=1)).isoformat()
        async with self.connection("reading the day's closed trades") as conn:
            rows = (
                await conn.execute(
                    select(positions.c.pnl).where(
                        and_(
                            positions.c.status == "closed",
                            positions.c.exit_time >= prefix,
                            positions.c.exit_time < nxt,
                        )
                    )
                )
            ).all()
        pnls = [from_real(r[0]) or ZERO for r in rows]
        return DayStats(sum(pnls, ZERO), len(pnls), sum(1 for p in pnls if p > 0))

    # -- recorder ------------------------------------------------------------------------
    async def upsert_coverage(self, rows: Sequence[CoverageRow]) -> None:
        """Insert or update coverage rows: one statement run for all rows, in one transaction
        (a cycle over thousands of markets is one round trip, not one per market)."""
        if not rows:
            return
        params = [
            {
                "ticker": r.ticker,
                "first_ts": to_text_time(r.first_ts),
                "last_ts": to_text_time(r.last_ts),
                "num_snapshots": r.num_snapshots,
                "num_gaps": r.num_gaps,
                "max_gap_seconds": r.max_gap_seconds,
                "updated_at": to_text_time(r.last_ts),
            }
            for r in rows
        ]
        stmt = (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(
            recorder_coverage
        )
        ex = stmt.excluded
        stmt = stmt.on_conflict_do_update(
            index_elements=["ticker"],
            set_={
                "last_ts": ex.last_ts,
                "num_snapshots": ex.num_snapshots,
                "num_gaps": ex.num_gaps,
                "max_gap_seconds": ex.max_gap_seconds,
                "updated_at": ex.updated_at,
            },
        )
        async with self.transaction("updating recorder coverage") as conn:
            await conn.execute(stmt, params)

    async def coverage(self, tickers: Sequence[str] | None = None) -> list[CoverageRow]:
        q = select(recorder_coverage)
        if tickers is not None:
            q = q.where(recorder_coverage.c.ticker.in_(list(tickers)))
        async with self.connection("reading recorder coverage") as conn:
            rows = (await conn.execute(q)).mappings().all()
        out = []
        for r in rows:
            first, last = from_text_time(r["first_ts"]), from_text_time(r["last_ts"])
            assert first is not None and last is not None
            out.append(
                CoverageRow(
                    r["ticker"],
                    first,
                    last,
                    int(r["num_snapshots"]),
                    int(r["num_gaps"]),
                    float(r["max_gap_seconds"]),
                )
            )
        return out

    async def add_market_results(self, rows: Sequence[MarketResultRow]) -> None:
        if not rows:
            return
        async with self.transaction("recording market results") as conn:
            for r in rows:
                values = {
                    "ticker": r.ticker,
                    "event_ticker": r.event_ticker,
                    "category": r.category,
                    "result": r.result,
                    "determined_at": to_text_time(r.determined_at),
                    "recorded_at": to_text_time(r.determined_at),
                }
                await conn.execute(
                    upsert(
                        self.dialect,
                        market_results,
                        values,
                        ["ticker"],
                        lambda ex: {"result": ex.result},
                    )
                )

    async def market_result(self, ticker: str) -> str | None:
        async with self.connection("reading a market result") as conn:
            return (
                await conn.execute(
                    select(market_results.c.result).where(market_results.c.ticker == ticker)
                )
            ).scalar()

    # -- reads for the CLI and the dashboard ----------------------------------------------
    async def recent_decisions(self, ticker: str, limit: int = 20) -> list[DecisionRecord]:
        q = (
            select(decision_log)
            .where(decision_log.c.ticker == ticker)
            .order_by(decision_log.c.id.desc())
            .limit(limit)
        )
        async with self.connection(f"reading decisions for {ticker}") as conn:
            rows = (await conn.execute(q)).mappings().all()
        out = []
        for r in rows:
            ts = from_text_time(r["ts"])
            assert ts is not None
            out.append(
                DecisionRecord(
                    cycle_id=int(r["cycle_id"]),
                    ts=ts,
                    ticker=r["ticker"],
                    stage=r["stage"],
                    outcome=r["outcome"],
                    reason_code=r["reason_code"],
                    detail=r["detail"] or "",
                    decision=Decision(r["decision"]) if r["decision"] else None,
                    strategy=r["strategy"] or "",
                    confidence=from_real(r["confidence"]),
                    quantity=from_real(r["quantity"]),
                    price=from_real(r["price"]),
                )
            )
        return out

    async def decision_counts(
        self, since: datetime | None = None
    ) -> dict[tuple[str, str, str], int]:
        """(stage, outcome, reason_code) -> count, optionally since a time."""
        q = select(
            decision_log.c.stage, decision_log.c.outcome, decision_log.c.reason_code, func.count()
        ).group_by(decision_log.c.stage, decision_log.c.outcome, decision_log.c.reason_code)
        if since is not None:
            q = q.where(decision_log.c.ts >= to_text_time(since))
        async with self.connection("counting decisions") as conn:
            rows = (await conn.execute(q)).all()
        return {(s, o, r): int(n) for s, o, r, n in rows}

    async def latest_cycles(self, limit: int = 1) -> list[dict[str, Any]]:
        q = select(cycles).order_by(cycles.c.id.desc()).limit(limit)
        async with self.connection("reading cycles") as conn:
            return [dict(r) for r in (await conn.execute(q)).mappings().all()]

    async def current_risk(self) -> dict[str, Any] | None:
        q = select(risk_events).order_by(risk_events.c.id.desc()).limit(1)
        async with self.connection("reading the risk state") as conn:
            row = (await conn.execute(q)).mappings().first()
        return None if row is None else dict(row)

    async def performance_logs(self, days: int) -> list[dict[str, Any]]:
        q = select(performance_logs).order_by(performance_logs.c.date.desc()).limit(days)
        async with self.connection("reading performance logs") as conn:
            return [dict(r) for r in (await conn.execute(q)).mappings().all()]

    async def list_positions(
        self, status: str | None = None, ticker: str | None = None, limit: int = 200
    ) -> list[dict[str, Any]]:
        q = select(positions).order_by(positions.c.id.desc()).limit(limit)
        if status:
            q = q.where(positions.c.status == status)
        if ticker:
            q = q.where(positions.c.ticker == ticker)
        async with self.connection("listing positions") as conn:
            return [dict(r) for r in (await conn.execute(q)).mappings().all()]

    async def table_counts(self, names: Sequence[str]) -> dict[str, int]:
        out = {}
        async with self.connection("counting rows") as conn:
            for n in names:
                out[n] = int(
                    (await conn.exec_driver_sql(f"SELECT COUNT(*) FROM {n}")).scalar() or 0
                )
        return out
