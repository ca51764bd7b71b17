"""Positions from confirmed fills, exits and settlement — pure bookkeeping, no I/O.

Everything is in the held side's own price space: a NO bought at 0.30 that settles NO exits at
1.00. P&L is after fees: the entry fees (pro rata for a partial close) and the exit fee.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from kalbot.domain.context import HeldPosition
from kalbot.domain.market import Market, MarketResult
from kalbot.domain.orders import Action
from kalbot.domain.pnl import settlement_price
from kalbot.domain.prices import ONE, ZERO, Side
from kalbot.engine.records import (
    ClosedPart,
    FillRecord,
    OpenPosition,
    OrderRecord,
    PositionChange,
    Purpose,
)


@dataclass(frozen=True, slots=True)
class ExitRules:
    """Protective exits. Targets are returns on the entry price in the side's own space."""

    profit_target: Decimal = Decimal("0.20")
    stop_loss: Decimal = Decimal("0.15")
    max_hold: timedelta = timedelta(hours=72)
    close_before_expiry: timedelta = timedelta(minutes=30)

    def reason(self, pos: OpenPosition, market: Market, now: datetime) -> str | None:
        """Why this position should be closed now, or None to keep it."""
        if market.close_time - now <= self.close_before_expiry:
            return "close_before_expiry"
        bid = market.quote.bid(pos.side)
        entry = pos.entry_price
        if bid is not None and entry > ZERO:
            ret = (bid - entry) / entry
            if ret >= self.profit_target:
                return "profit_target"
            if ret <= -self.stop_loss:
                return "stop_loss"
        if now - pos.entry_time >= self.max_hold:
            return "max_hold"
        return None


class _Positions(dict[int, OpenPosition]):
    """Open positions by id that also keep their ids by ticker (``for_ticker`` runs per market
    per cycle; a scan of every position there grew with the book).

    Every mutating dict method keeps the index; ``tickers[t]`` lists ``t``'s ids in this dict's
    own order, so the first of them is the position a scan would have found first.
    """

    def __init__(self, items: Iterable[tuple[int, OpenPosition]] = ()) -> None:
        super().__init__()
        self.tickers: dict[str, dict[int, None]] = {}
        for k, v in items:
            self[k] = v

    def _reindex(self) -> None:
        self.tickers = {}
        for k, v in self.items():
            self.tickers.setdefault(v.ticker, {})[k] = None

    def _unindex(self, key: int, pos: OpenPosition) -> None:
        ids = self.tickers.get(pos.ticker)
        if ids is not None:
            ids.pop(key, None)
            if not ids:
                del self.tickers[pos.ticker]

    def __setitem__(self, key: int, value: OpenPosition) -> None:
        old = self.get(key)
        super().__setitem__(key, value)
        if old is None:
            self.tickers.setdefault(value.ticker, {})[key] = None
        elif old.ticker != value.ticker:
            self._reindex()  # the id keeps its place in the dict: rebuild to keep the order

    def __delitem__(self, key: int) -> None:
        pos = self[key]
        super().__delitem__(key)
        self._unindex(key, pos)

    _MISSING: Any = object()

    def pop(self, key: int, default: Any = _MISSING) -> Any:
        if key not in self:
            if default is _Positions._MISSING:
                raise KeyError(key)
            return default
        pos = super().pop(key)
        self._unindex(key, pos)
        return pos

    def popitem(self) -> tuple[int, OpenPosition]:
        key, pos = super().popitem()
        self._unindex(key, pos)
        return key, pos

    def clear(self) -> None:
        super().clear()
        self.tickers = {}

    def update(self, *args: Any, **kwargs: Any) -> None:
        for k, v in dict(*args, **kwargs).items():
            self[k] = v

    def setdefault(self, key: int, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def __ior__(self, other: Any) -> _Positions:  # type: ignore[override,misc]
        self.update(other)
        return self

    def copy(self) -> dict[int, OpenPosition]:
        return dict(self)


class PositionBook:
    """The engine's open positions, keyed by id and by (ticker, side)."""

    def __init__(self, positions: list[OpenPosition] | None = None) -> None:
        self._by_id = _Positions((p.id, p) for p in positions or [])

    @property
    def by_id(self) -> dict[int, OpenPosition]:
        return self._by_id

    @by_id.setter
    def by_id(self, positions: dict[int, OpenPosition]) -> None:
        self._by_id = _Positions(positions.items())

    def __len__(self) -> int:
        return len(self._by_id)

    def for_ticker(self, ticker: str) -> OpenPosition | None:
        """The first open position in ``ticker`` (in the order positions were added)."""
        ids = self._by_id.tickers.get(ticker)
        return self._by_id[next(iter(ids))] if ids else None

    def tickers(self) -> set[str]:
        """Tickers with an open position."""
        return set(self._by_id.tickers)

    def held(self, ticker: str) -> HeldPosition | None:
        p = self.for_ticker(ticker)
        if p is None:
            return None
        return HeldPosition(p.side, p.quantity, p.entry_price, p.entry_time)

    def change_for_fill(
        self,
        fill: FillRecord,
        order: OrderRecord | None,
        market: Market | None,
        strategy: str = "",
    ) -> PositionChange:
        """The positions-table change one confirmed fill causes (not yet applied)."""
        if order is None:
            return PositionChange("none")
        if order.purpose is Purpose.OPEN and fill.action is Action.BUY:
            held = next(
                (p for p in self.by_id.values() if p.ticker == fill.ticker and p.side is fill.side),
                None,
            )
            if held is None:
                pos = OpenPosition(
                    id=0,
                    ticker=fill.ticker,
                    side=fill.side,
                    quantity=fill.count,
                    cost=fill.count * fill.price,
                    entry_fees=fill.fee,
                    entry_time=fill.ts,
                    reason=order.reason,
                    event_ticker=market.event_ticker if market else "",
                    category=market.category if market else "",
                    strategy=strategy,
                )
                return PositionChange("open", pos)
            grown = replace(
                held,
                quantity=held.quantity + fill.count,
                cost=held.cost + fill.count * fill.price,
                entry_fees=held.entry_fees + fill.fee,
            )
            return PositionChange("increase", grown)
        if order.purpose is Purpose.CLOSE and fill.action is Action.SELL:
            target = self.by_id.get(order.position_id or -1)
            if target is None or target.side is not fill.side:
                return PositionChange("none")
            return self._close(target, fill.count, fill.price, fill.fee, fill.ts, order.reason)
        return PositionChange("none")

    def _close(
        self,
        pos: OpenPosition,
        count: Decimal,
        price: Decimal,
        exit_fee: Decimal,
        ts: datetime,
        reason: str,
    ) -> PositionChange:
        qty = min(count, pos.quantity)
        if qty >= pos.quantity:
            pnl = qty * price - pos.cost - pos.entry_fees - exit_fee
            closed = ClosedPart(qty, pos.entry_price, price, ts, pnl, reason)
            return PositionChange("close", pos, closed)
        cost_part = pos.cost * qty / pos.quantity
        fee_part = pos.entry_fees * qty / pos.quantity
        pnl = qty * price - cost_part - fee_part - exit_fee
        closed = ClosedPart(qty, pos.entry_price, price, ts, pnl, reason)
        rest = replace(
            pos,
            quantity=pos.quantity - qty,
            cost=pos.cost - cost_part,
            entry_fees=pos.entry_fees - fee_part,
        )
        return PositionChange("partial_close", rest, closed)

    def settlement_change(
        self,
        pos: OpenPosition,
        result: MarketResult,
        now: datetime,
        settlement_value: Decimal | None = None,
    ) -> PositionChange | None:
        """Close at the market's result: $1.00 per winning contract, no fee; a scalar market pays
        ``settlement_value`` per YES contract and the rest per NO. None if not known yet."""
        if result is MarketResult.VOID:
            # A voided market returns what was paid; only the fees are lost.
            return self._close(pos, pos.quantity, pos.entry_price, ZERO, now, "settled_void")
        if result is MarketResult.SCALAR:
            if settlement_value is None or not ZERO <= settlement_value <= ONE:
                return None  # the value is not published yet: ask again next cycle
            payout = settlement_value if pos.side is Side.YES else ONE - settlement_value
            return self._close(pos, pos.quantity, payout, ZERO, now, "settled_scalar")
        if result not in (MarketResult.YES, MarketResult.NO):
            return None
        payout = settlement_price(pos.side is Side.YES, result is MarketResult.YES)
        reason = f"settled_{result.value}"
        return self._close(pos, pos.quantity, payout, ZERO, now, reason)

    def exchange_settlement_change(
        self, pos: OpenPosition, payout: Decimal, now: datetime
    ) -> PositionChange:
        """Close at the exchange's own settlement payout per contract (a market finalized
        without a readable result: Kalshi's voids). Paid back the entry price: ``settled_void``."""
        reason = "settled_void" if payout == pos.entry_price else "settled_exchange"
        return self._close(pos, pos.quantity, payout, ZERO, now, reason)

    def apply(self, change: PositionChange, position_id: int | None) -> ClosedPart | None:
        """Mirror a stored change in memory; returns the closed part, if any."""
        p = change.position
        if p is None or change.kind == "none":
            return None
        if change.kind == "open":
            assert position_id is not None
            p.id = position_id
            self.by_id[position_id] = p
        elif change.kind in ("increase", "partial_close"):
            self.by_id[p.id] = p
        elif change.kind == "close":
            self.by_id.pop(p.id, None)
        return change.closed

    def mark(self, markets: dict[str, Market]) -> Decimal:
        """Value of open positions at the bid of their side (cost basis when no bid is known)."""
        total = ZERO
        for p in self.by_id.values():
            m = markets.get(p.ticker)
            bid = None if m is None else m.quote.bid(p.side)
            total += p.cost if bid is None else p.quantity * bid
        return total

    def exposure(self) -> tuple[Decimal, dict[str, Decimal], dict[str, Decimal]]:
        """(total, per event, per category) cost basis of open positions."""
        total = ZERO
        ev: dict[str, Decimal] = {}
        cat: dict[str, Decimal] = {}
        for p in self.by_id.values():
            total += p.cost
            ev[p.event_ticker] = ev.get(p.event_ticker, ZERO) + p.cost
            cat[p.category] = cat.get(p.category, ZERO) + p.cost
        return total, ev, cat
