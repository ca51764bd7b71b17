"""Read-only views the exchange hands out: orders, fills, trades, positions, settlements.

Every price is the YES-leg price in dollars (as on Kalshi's Order/Fill/Trade objects, where both
counterparties trade at the same YES price); ``outcome_side`` says which leg the account bought.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from kalbot.domain.market import MarketResult
from kalbot.domain.orders import BookSide, OrderStatus, TimeInForce
from kalbot.domain.prices import ONE, Side


class SelfTradePrevention(StrEnum):
    """What happens when an order would match a resting order of the same account."""

    TAKER_AT_CROSS = "taker_at_cross"  # cancel the incoming order's remainder
    MAKER = "maker"  # cancel the resting order and keep matching


def outcome_side_of(book_side: BookSide) -> Side:
    """``bid`` buys YES, ``ask`` buys NO (REFERENCE §3)."""
    return Side.YES if book_side is BookSide.BID else Side.NO


@dataclass(frozen=True, slots=True)
class OrderView:
    order_id: str
    account_id: str
    client_order_id: str
    ticker: str
    book_side: BookSide
    yes_price: Decimal
    status: OrderStatus
    time_in_force: TimeInForce
    initial_count: Decimal
    fill_count: Decimal
    remaining_count: Decimal
    taker_fill_cost: Decimal
    maker_fill_cost: Decimal
    taker_fees: Decimal
    maker_fees: Decimal
    created_time: datetime
    last_update_time: datetime
    expiration_time: datetime | None
    self_trade_prevention: SelfTradePrevention
    post_only: bool
    reduce_only: bool
    cancel_reason: str = ""

    @property
    def outcome_side(self) -> Side:
        return outcome_side_of(self.book_side)

    @property
    def no_price(self) -> Decimal:
        return ONE - self.yes_price


@dataclass(frozen=True, slots=True)
class FillRecord:
    """One execution for one account. ``count`` contracts of ``outcome_side`` were bought."""

    fill_id: str
    trade_id: str
    order_id: str
    client_order_id: str
    account_id: str
    ticker: str
    book_side: BookSide
    yes_price: Decimal
    count: Decimal
    fee: Decimal
    is_taker: bool
    ts: datetime
    post_position: Decimal

    @property
    def outcome_side(self) -> Side:
        return outcome_side_of(self.book_side)

    @property
    def no_price(self) -> Decimal:
        return ONE - self.yes_price

    @property
    def own_price(self) -> Decimal:
        """The price paid per contract of the leg bought."""
        return self.yes_price if self.book_side is BookSide.BID else ONE - self.yes_price


@dataclass(frozen=True, slots=True)
class TradeRecord:
    trade_id: str
    ticker: str
    yes_price: Decimal
    count: Decimal
    taker_book_side: BookSide
    ts: datetime

    @property
    def taker_outcome_side(self) -> Side:
        return outcome_side_of(self.taker_book_side)

    @property
    def no_price(self) -> Decimal:
        return ONE - self.yes_price


@dataclass(frozen=True, slots=True)
class PositionView:
    """A netted position: ``position`` > 0 is YES contracts, < 0 is NO contracts."""

    ticker: str
    position: Decimal
    market_exposure: Decimal  # what the held contracts cost
    realized_pnl: Decimal
    fees_paid: Decimal
    total_traded: Decimal  # dollars traded in this market
    last_updated: datetime | None


@dataclass(frozen=True, slots=True)
class SettlementRecord:
    ticker: str
    event_ticker: str
    account_id: str
    market_result: MarketResult
    yes_count: Decimal
    yes_total_cost: Decimal
    no_count: Decimal
    no_total_cost: Decimal
    revenue: Decimal  # dollars paid out: $1.00 per winning contract
    fee_cost: Decimal
    settled_time: datetime


@dataclass(frozen=True, slots=True)
class PlaceResult:
    """What placing an order did: the order's state afterwards and the fills it took."""

    order: OrderView
    fills: tuple[FillRecord, ...]

    @property
    def fill_count(self) -> Decimal:
        return self.order.fill_count

    @property
    def remaining_count(self) -> Decimal:
        return self.order.remaining_count

    @property
    def average_fill_price(self) -> Decimal | None:
        """Average YES-leg price over this order's fills, or None when nothing filled."""
        total = sum((f.count for f in self.fills), Decimal(0))
        if not total:
            return None
        return sum((f.yes_price * f.count for f in self.fills), Decimal(0)) / total

    @property
    def average_fee_paid(self) -> Decimal | None:
        total = sum((f.count for f in self.fills), Decimal(0))
        if not total:
            return None
        return sum((f.fee for f in self.fills), Decimal(0)) / total


@dataclass(frozen=True, slots=True)
class CancelResult:
    order_id: str
    client_order_id: str
    reduced_by: Decimal
    order: OrderView
