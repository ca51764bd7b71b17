"""Order intents, their V2 wire translation, and fills."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from kalbot.domain.prices import LINEAR_CENT, ONE, PriceRange, Rounding, Side, snap_to_tick


class Action(StrEnum):
    BUY = "buy"
    SELL = "sell"


class BookSide(StrEnum):
    """V2 order direction: ``bid`` buys YES (≡ sells NO), ``ask`` sells YES (≡ buys NO)."""

    BID = "bid"
    ASK = "ask"


class TimeInForce(StrEnum):
    GTC = "good_till_canceled"
    IOC = "immediate_or_cancel"
    FOK = "fill_or_kill"


class OrderStatus(StrEnum):
    RESTING = "resting"
    CANCELED = "canceled"
    EXECUTED = "executed"


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """What the bot wants: e.g. buy NO, 10 contracts, paying at most $0.30 per NO contract.

    ``limit_price`` is in ``side``'s own price space.
    """

    ticker: str
    side: Side
    action: Action
    count: Decimal
    limit_price: Decimal
    client_order_id: str
    time_in_force: TimeInForce = TimeInForce.IOC
    post_only: bool = False
    reduce_only: bool = False


@dataclass(frozen=True, slots=True)
class V2Order:
    """The V2 request body fields (REFERENCE §4.4): YES-leg price, ``bid``/``ask``."""

    ticker: str
    book_side: BookSide
    price: Decimal  # YES-leg
    count: Decimal
    client_order_id: str
    time_in_force: TimeInForce
    post_only: bool = False
    reduce_only: bool = False


def book_side_for(side: Side, action: Action) -> BookSide:
    buys_yes = (side is Side.YES) == (action is Action.BUY)
    return BookSide.BID if buys_yes else BookSide.ASK


def to_v2(intent: OrderIntent, ranges: tuple[PriceRange, ...] = ()) -> V2Order:
    """Translate a domain intent into the V2 order: buy NO 10 at 0.30 -> ask 10 at YES 0.70.

    The YES-leg price is snapped to the market's tick in the direction that never worsens the
    limit the intent accepted: a YES-buyer's price rounds down, a YES-seller's rounds up.
    """
    book_side = book_side_for(intent.side, intent.action)
    yes_price = intent.limit_price if intent.side is Side.YES else ONE - intent.limit_price
    rounding = Rounding.DOWN if book_side is BookSide.BID else Rounding.UP
    snapped = snap_to_tick(yes_price, ranges or LINEAR_CENT, rounding)
    return V2Order(
        ticker=intent.ticker,
        book_side=book_side,
        price=snapped,
        count=intent.count,
        client_order_id=intent.client_order_id,
        time_in_force=intent.time_in_force,
        post_only=intent.post_only,
        reduce_only=intent.reduce_only,
    )


@dataclass(frozen=True, slots=True)
class OrderAck:
    order_id: str
    client_order_id: str
    ticker: str
    status: OrderStatus
    filled_count: Decimal
    remaining_count: Decimal


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution of one of our orders, in the side's own price space."""

    fill_id: str
    order_id: str
    client_order_id: str
    ticker: str
    side: Side
    action: Action
    count: Decimal
    price: Decimal  # in ``side``'s own price space
    fee: Decimal
    is_taker: bool
    ts: datetime
