"""Orders out, fills in: the only code that talks to the Broker.

An order row is written *before* the request goes out (``pending``), so a crash after the
exchange accepted it still leaves the order on record and its fills are matched when they
arrive. Positions change only when a fill is confirmed (``TradingStore.apply_fill``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

from kalbot.domain.errors import Duplicate
from kalbot.domain.market import Market
from kalbot.domain.orders import Fill, OrderIntent, OrderStatus
from kalbot.domain.prices import ONE
from kalbot.engine.book import PositionBook
from kalbot.engine.records import (
    ClosedPart,
    DecisionRecord,
    FillRecord,
    OrderRecord,
    OrderState,
)
from kalbot.engine.store import TradingStore
from kalbot.ports import Broker

log = logging.getLogger("kalbot.engine")

_ACK_STATE = {
    OrderStatus.RESTING: OrderState.RESTING,
    OrderStatus.EXECUTED: OrderState.EXECUTED,
    OrderStatus.CANCELED: OrderState.CANCELED,
}


def fill_record(f: Fill) -> FillRecord:
    return FillRecord(
        fill_id=f.fill_id,
        exchange_order_id=f.order_id,
        client_order_id=f.client_order_id,
        ticker=f.ticker,
        side=f.side,
        action=f.action,
        count=f.count,
        price=f.price,
        fee=f.fee,
        is_taker=f.is_taker,
        ts=f.ts,
    )


def as_ordered(rec: FillRecord, order: OrderRecord | None) -> FillRecord:
    """The fill in the direction its order was placed.

    An exchange may report a fill from the other leg (Kalshi reports by outcome side once the
    client no longer knows how an order was placed, e.g. after a restart): selling YES at p is
    the same execution as buying NO at 1 - p.
    """
    if order is None or (rec.side is order.side and rec.action is order.action):
        return rec
    if rec.side is not order.side and rec.action is not order.action:
        return replace(rec, side=order.side, action=order.action, price=ONE - rec.price)
    return rec


class OrderDesk:
    """Places orders idempotently and turns confirmed fills into position changes."""

    def __init__(
        self,
        broker: Broker,
        store: TradingStore,
        book: PositionBook,
        fill_overlap: timedelta = timedelta(minutes=5),
    ) -> None:
        self.broker = broker
        self.store = store
        self.book = book
        self.fill_overlap = fill_overlap
        self.orders: dict[str, OrderRecord] = {}  # orders not yet settled by fills
        self.filled: dict[str, Decimal] = {}  # confirmed fill count per client_order_id
        self.seen_fills: dict[str, datetime] = {}
        self.last_fill_ts: datetime | None = None
        self.on_close: Callable[[str, ClosedPart], None] | None = None

    def busy_tickers(self) -> set[str]:
        """Tickers with an order whose outcome is not fully known yet."""
        return {o.ticker for o in self.orders.values() if self._unsettled(o)}

    def busy_position(self, position_id: int) -> bool:
        return any(
            o.position_id == position_id and self._unsettled(o) for o in self.orders.values()
        )

    def pending_open_cost(self) -> tuple[Decimal, dict[str, Decimal]]:
        """Cost of open orders not yet filled (reserved against caps), total and per ticker."""
        per: dict[str, Decimal] = {}
        for o in self.orders.values():
            if o.purpose.value == "open" and self._unsettled(o):
                left = o.count - self.filled.get(o.client_order_id, Decimal(0))
                per[o.ticker] = (
                    per.get(o.ticker, Decimal(0)) + max(left, Decimal(0)) * o.limit_price
                )
        return sum(per.values(), Decimal(0)), per

    def _unsettled(self, o: OrderRecord) -> bool:
        if o.status.in_flight:
            return True
        # An order the exchange reports filled stays busy until those fills are on record.
        return self.filled.get(o.client_order_id, Decimal(0)) < o.filled_count

    async def place(
        self, order: OrderRecord, market: Market, now: datetime, log_rows: list[DecisionRecord]
    ) -> bool:
        """Send one order; False when it was placed before or the broker refused it."""
        if not await self.store.add_order(order):
            log_rows.append(self._row(order, now, "refused", "duplicate_decision"))
            return False
        self.orders[order.client_order_id] = order
        intent = OrderIntent(
            ticker=order.ticker,
            side=order.side,
            action=order.action,
            count=order.count,
            limit_price=order.limit_price,
            client_order_id=order.client_order_id,
            time_in_force=order.time_in_force,
            reduce_only=order.action.value == "sell",
        )
        try:
            ack = await self.broker.place(intent, market)
        except Exception as e:
            # The exchange may still have accepted it; fills will tell. Keep it busy till then.
            code = str(getattr(e, "code", "") or "order_error")
            order.status = OrderState.ERROR
            order.error = f"{type(e).__name__}: {e}"[:500]
            await self.store.update_order(
                order.client_order_id, status=OrderState.ERROR, error=order.error, now=now
            )
            log.warning("order %s %s failed: %s", order.ticker, order.client_order_id, e)
            log_rows.append(self._row(order, now, "error", code, order.error))
            return False
        order.status = _ACK_STATE.get(ack.status, OrderState.EXECUTED)
        order.exchange_order_id = ack.order_id
        order.filled_count = ack.filled_count
        await self.store.update_order(
            order.client_order_id,
            status=order.status,
            exchange_order_id=ack.order_id,
            filled_count=ack.filled_count,
            now=now,
        )
        log.info(
            "order %s %s %s %s x%s @ %s -> %s filled %s",
            order.ticker,
            order.action.value,
            order.side.value,
            order.purpose.value,
            order.count,
            order.limit_price,
            order.status.value,
            ack.filled_count,
        )
        log_rows.append(
            self._row(order, now, "ordered", order.reason, f"filled {ack.filled_count}")
        )
        return True

    async def cancel_resting(self, now: datetime) -> None:
        """IOC is the default; anything still resting from an earlier cycle is cancelled."""
        for o in list(self.orders.values()):
            if o.status is OrderState.RESTING and o.exchange_order_id:
                try:
                    await self.broker.cancel(o.exchange_order_id)
                except Exception as e:
                    log.warning("cancel %s failed: %s", o.exchange_order_id, e)
                    continue
                o.status = OrderState.CANCELED
                await self.store.update_order(o.client_order_id, status=o.status, now=now)

    async def sync_fills(
        self,
        markets: dict[str, Market],
        now: datetime,
        cycle_id: int,
        log_rows: list[DecisionRecord],
        strategy: str = "",
    ) -> int:
        """Fetch new fills and apply each one atomically; returns how many were new."""
        since = None if self.last_fill_ts is None else self.last_fill_ts - self.fill_overlap
        fills = await self.broker.fills(since)
        applied = 0
        for f in sorted(fills, key=lambda x: (x.ts, x.fill_id)):
            if f.fill_id in self.seen_fills:
                continue
            order = self.orders.get(f.client_order_id)
            if order is None and f.client_order_id:
                order = await self.store.find_order(f.client_order_id)
            rec = as_ordered(fill_record(f), order)
            change = self.book.change_for_fill(rec, order, markets.get(f.ticker), strategy)
            try:
                pid = await self.store.apply_fill(rec, change)
            except Duplicate:
                self._seen(f)
                continue
            closed = self.book.apply(change, pid)
            self._seen(f)
            applied += 1
            self.filled[f.client_order_id] = (
                self.filled.get(f.client_order_id, Decimal(0)) + f.count
            )
            outcome, code = ("filled", order.reason) if order else ("error", "unknown_fill")
            log.info(
                "fill %s %s %s x%s @ %s fee %s (%s)",
                rec.ticker, rec.action.value, rec.side.value, rec.count, rec.price, rec.fee, code,
            )  # fmt: skip
            log_rows.append(
                DecisionRecord(
                    cycle_id, now, f.ticker, "fill", outcome, code,
                    detail=f"fill {f.fill_id} {rec.action.value} {rec.side.value}",
                    quantity=rec.count, price=rec.price,
                )
            )  # fmt: skip
            if closed is not None:
                log_rows.append(
                    DecisionRecord(
                        cycle_id, now, f.ticker, "exit", "closed", closed.close_reason,
                        detail=f"pnl {closed.pnl:.4f}", quantity=closed.quantity,
                        price=closed.exit_price,
                    )
                )  # fmt: skip
                if self.on_close is not None:
                    self.on_close(f.ticker, closed)
        self._forget_settled()
        return applied

    def _seen(self, f: Fill) -> None:
        self.seen_fills[f.fill_id] = f.ts
        if self.last_fill_ts is None or f.ts > self.last_fill_ts:
            self.last_fill_ts = f.ts
        if self.last_fill_ts is not None:
            horizon = self.last_fill_ts - 2 * self.fill_overlap
            for k in [k for k, ts in self.seen_fills.items() if ts < horizon]:
                del self.seen_fills[k]

    def _forget_settled(self) -> None:
        for coid in [c for c, o in self.orders.items() if not self._unsettled(o)]:
            del self.orders[coid]

    def _row(
        self, o: OrderRecord, now: datetime, outcome: str, code: str, detail: str = ""
    ) -> DecisionRecord:
        return DecisionRecord(
            cycle_id=o.cycle_id,
            ts=now,
            ticker=o.ticker,
            stage="execution",
            outcome=outcome,
            reason_code=code,
            detail=detail or f"{o.action.value} {o.side.value} x{o.count} @ {o.limit_price}",
            quantity=o.count,
            price=o.limit_price,
        )
