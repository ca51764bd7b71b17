"""Positions: open, update, close (with P&L from the side's own prices and fees), look up."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select, update

from kalbot.adapters.store.base import RepositoryBase
from kalbot.adapters.store.convert import (
    from_real,
    from_real_required,
    from_text_time,
    stamp,
    to_real,
    to_text_time,
)
from kalbot.adapters.store.tables import positions
from kalbot.domain.errors import InvalidRecord, NotFound
from kalbot.domain.pnl import realized_pnl
from kalbot.domain.prices import ZERO, PriceError, Side, parse_price
from kalbot.domain.records import PositionRecord, PositionStatus


def _price(value: Decimal, field: str, ticker: str | None = None) -> Decimal:
    if not isinstance(value, Decimal):
        raise InvalidRecord(f"{field} must be a Decimal, got {type(value).__name__} {value!r}")
    try:
        return parse_price(value, field, ticker)
    except PriceError as e:
        raise InvalidRecord(str(e)) from None


def _quantity(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidRecord(f"quantity must be a positive whole number of contracts, got {value!r}")
    return value


def _side(value: Side | str) -> Side:
    try:
        return Side(value)
    except ValueError:
        raise InvalidRecord(f"side must be 'yes' or 'no', got {value!r}") from None


def position_from_row(row: Mapping[Any, Any]) -> PositionRecord:
    """A ``positions`` (or ``positions_archive``) row as a domain value."""
    entry_time = from_text_time(row["entry_time"])
    assert entry_time is not None  # NOT NULL column
    return PositionRecord(
        id=int(row["id"]),
        ticker=row["ticker"],
        side=Side(row["side"]),
        quantity=int(row["quantity"]),
        entry_price=from_real_required(row["entry_price"], "entry_price"),
        entry_time=entry_time,
        status=PositionStatus(row["status"]),
        reason=row["reason"],
        exit_price=from_real(row["exit_price"]),
        exit_time=from_text_time(row["exit_time"]),
        pnl=from_real(row["pnl"]),
        close_reason=row["close_reason"],
    )


class PositionsMixin(RepositoryBase):
    """The ``positions`` table."""

    async def add_position(
        self,
        *,
        ticker: str,
        side: Side | str,
        quantity: int,
        entry_price: Decimal,
        entry_time: datetime,
        reason: str | None = None,
    ) -> PositionRecord:
        """Record an open position (after the exchange confirmed the fill); returns the row.

        ``entry_price`` is the price paid in the held side's own price space (a NO bought
        when YES trades at 0.70 has entry_price 0.30).
        """
        if not ticker:
            raise InvalidRecord("ticker is required")
        held = _side(side)
        values = {
            "ticker": ticker,
            "side": held.value,
            "quantity": _quantity(quantity),
            "entry_price": to_real(_price(entry_price, "entry_price", ticker)),
            "entry_time": to_text_time(entry_time),
            "status": PositionStatus.OPEN.value,
            "reason": reason,
            "created_at": stamp(self.dialect, entry_time),
            "updated_at": stamp(self.dialect, entry_time),
        }
        async with self.transaction(f"adding a position in {ticker}") as conn:
            result = await conn.execute(insert(positions).values(**values).returning(positions))
            return position_from_row(result.mappings().one())

    async def get_position(self, position_id: int) -> PositionRecord:
        """The position with this id; NotFound if there is none."""
        async with self.connection(f"reading position {position_id}") as conn:
            result = await conn.execute(select(positions).where(positions.c.id == position_id))
            row = result.mappings().one_or_none()
        if row is None:
            raise NotFound(f"no position with id {position_id}")
        return position_from_row(row)

    async def open_positions(self) -> list[PositionRecord]:
        """Every open position, newest entry first (the spec's "Get all open positions")."""
        query = (
            select(positions)
            .where(positions.c.status == PositionStatus.OPEN.value)
            .order_by(positions.c.entry_time.desc(), positions.c.id.desc())
        )
        async with self.connection("reading open positions") as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [position_from_row(r) for r in rows]

    async def position_history(self, ticker: str) -> list[PositionRecord]:
        """Every position ever held in ``ticker``, newest entry first."""
        query = (
            select(positions)
            .where(positions.c.ticker == ticker)
            .order_by(positions.c.entry_time.desc(), positions.c.id.desc())
        )
        async with self.connection(f"reading the position history of {ticker}") as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [position_from_row(r) for r in rows]

    async def update_position(
        self,
        position_id: int,
        *,
        now: datetime,
        quantity: int | None = None,
        entry_price: Decimal | None = None,
        reason: str | None = None,
    ) -> PositionRecord:
        """Change an open position (e.g. after adding to it); NotFound unless it is open."""
        values: dict[str, Any] = {"updated_at": stamp(self.dialect, now)}
        if quantity is not None:
            values["quantity"] = _quantity(quantity)
        if entry_price is not None:
            values["entry_price"] = to_real(_price(entry_price, "entry_price"))
        if reason is not None:
            values["reason"] = reason
        query = (
            update(positions)
            .where(positions.c.id == position_id)
            .where(positions.c.status == PositionStatus.OPEN.value)
            .values(**values)
            .returning(positions)
        )
        async with self.transaction(f"updating position {position_id}") as conn:
            row = (await conn.execute(query)).mappings().one_or_none()
        if row is None:
            raise NotFound(f"no open position with id {position_id}")
        return position_from_row(row)

    async def close_position(
        self,
        position_id: int,
        *,
        exit_price: Decimal,
        exit_time: datetime,
        close_reason: str,
        fees: Decimal = ZERO,
    ) -> PositionRecord:
        """Close an open position and store its realised P&L.

        ``exit_price`` is in the held side's own price space (a NO that settles NO exits at
        1.00); ``fees`` are every fee paid on the position, entry and exit. The P&L is
        ``quantity * (exit - entry) - fees`` (``kalbot.domain.pnl.realized_pnl``). Closing a
        position that is not open raises NotFound and changes nothing.
        """
        price = _price(exit_price, "exit_price")
        if not isinstance(fees, Decimal) or not fees.is_finite() or fees < ZERO:
            raise InvalidRecord(f"fees must be a non-negative Decimal, got {fees!r}")
        async with self.transaction(f"closing position {position_id}") as conn:
            current = (
                (
                    await conn.execute(
                        select(positions.c.quantity, positions.c.entry_price).where(
                            positions.c.id == position_id,
                            positions.c.status == PositionStatus.OPEN.value,
                        )
                    )
                )
                .mappings()
                .one_or_none()
            )
            if current is None:
                raise NotFound(f"no open position with id {position_id}")
            entry = from_real_required(current["entry_price"], "entry_price")
            pnl = realized_pnl(Decimal(int(current["quantity"])), entry, price, fees)
            # The status guard makes a concurrent second close a no-op instead of a double close.
            result = await conn.execute(
                update(positions)
                .where(positions.c.id == position_id)
                .where(positions.c.status == PositionStatus.OPEN.value)
                .values(
                    exit_price=to_real(price),
                    exit_time=to_text_time(exit_time),
                    pnl=to_real(pnl),
                    status=PositionStatus.CLOSED.value,
                    close_reason=close_reason,
                    updated_at=stamp(self.dialect, exit_time),
                )
                .returning(positions)
            )
            row = result.mappings().one_or_none()
        if row is None:
            raise NotFound(f"position {position_id} was closed by someone else meanwhile")
        return position_from_row(row)
