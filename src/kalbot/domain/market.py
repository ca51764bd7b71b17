"""Markets, quotes and order books as the bot sees them (domain objects, not wire models)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from kalbot.domain.fees import FeeType
from kalbot.domain.prices import LINEAR_CENT, ONE, PriceRange, Side
from kalbot.domain.values import value


class MarketStatus(StrEnum):
    """Kalshi's market status vocabulary (REFERENCE §4.2)."""

    INITIALIZED = "initialized"
    INACTIVE = "inactive"
    ACTIVE = "active"
    CLOSED = "closed"
    DETERMINED = "determined"
    DISPUTED = "disputed"
    AMENDED = "amended"
    FINALIZED = "finalized"

    @property
    def is_open(self) -> bool:
        return self is MarketStatus.ACTIVE


class MarketResult(StrEnum):
    YES = "yes"
    NO = "no"
    VOID = "void"
    SCALAR = "scalar"


@value
class Quote:
    """Top of book in YES-leg prices. Any price may be None when that side of the book is empty."""

    yes_bid: Decimal | None
    yes_ask: Decimal | None
    yes_bid_size: Decimal = Decimal(0)
    yes_ask_size: Decimal = Decimal(0)

    @property
    def no_bid(self) -> Decimal | None:
        return None if self.yes_ask is None else ONE - self.yes_ask

    @property
    def no_ask(self) -> Decimal | None:
        return None if self.yes_bid is None else ONE - self.yes_bid

    @property
    def no_bid_size(self) -> Decimal:
        return self.yes_ask_size

    @property
    def no_ask_size(self) -> Decimal:
        return self.yes_bid_size

    @property
    def mid(self) -> Decimal | None:
        if self.yes_bid is None or self.yes_ask is None:
            return None
        return (self.yes_bid + self.yes_ask) / 2

    @property
    def spread(self) -> Decimal | None:
        if self.yes_bid is None or self.yes_ask is None:
            return None
        return self.yes_ask - self.yes_bid

    def bid(self, side: Side) -> Decimal | None:
        """Best price at which ``side`` can be sold, in that side's own price space."""
        return self.yes_bid if side is Side.YES else self.no_bid

    def ask(self, side: Side) -> Decimal | None:
        """Best price at which ``side`` can be bought, in that side's own price space."""
        return self.yes_ask if side is Side.YES else self.no_ask

    def ask_size(self, side: Side) -> Decimal:
        return self.yes_ask_size if side is Side.YES else self.no_ask_size

    def bid_size(self, side: Side) -> Decimal:
        return self.yes_bid_size if side is Side.YES else self.no_bid_size


@value
class Market:
    ticker: str
    event_ticker: str
    title: str
    status: MarketStatus
    quote: Quote
    close_time: datetime
    series_ticker: str = ""
    subtitle: str = ""
    yes_subtitle: str = ""
    no_subtitle: str = ""
    category: str = ""
    open_time: datetime | None = None
    expiration_time: datetime | None = None
    last_price: Decimal | None = None
    volume: Decimal = Decimal(0)
    volume_24h: Decimal = Decimal(0)
    open_interest: Decimal = Decimal(0)
    result: MarketResult | None = None
    floor_strike: Decimal | None = None
    cap_strike: Decimal | None = None
    strike_type: str = ""
    rules_primary: str = ""
    rules_secondary: str = ""
    price_ranges: tuple[PriceRange, ...] = LINEAR_CENT
    is_combo: bool = False
    fee_type: FeeType = FeeType.QUADRATIC
    fee_multiplier: Decimal = ONE
    # What one YES contract paid at settlement ($1 or $0 for yes/no; the value for scalar).
    settlement_value: Decimal | None = None


@dataclass(frozen=True, slots=True)
class BookLevel:
    price: Decimal  # in the leg's own price space (YES bids at YES prices, NO bids at NO prices)
    size: Decimal


@dataclass(slots=True)
class OrderBook:
    """Kalshi's bid-only binary book: YES bids and NO bids, each in its own leg's price.

    The best YES ask is ``1 - best NO bid``; the best NO ask is ``1 - best YES bid``.
    """

    ticker: str
    yes: dict[Decimal, Decimal] = field(default_factory=dict)
    no: dict[Decimal, Decimal] = field(default_factory=dict)

    def set_level(self, side: Side, price: Decimal, size: Decimal) -> None:
        book = self.yes if side is Side.YES else self.no
        if size <= 0:
            book.pop(price, None)
        else:
            book[price] = size

    def apply_delta(self, side: Side, price: Decimal, delta: Decimal) -> None:
        book = self.yes if side is Side.YES else self.no
        new = book.get(price, Decimal(0)) + delta
        if new <= 0:
            book.pop(price, None)
        else:
            book[price] = new

    def best_bid(self, side: Side) -> BookLevel | None:
        book = self.yes if side is Side.YES else self.no
        if not book:
            return None
        p = max(book)
        return BookLevel(p, book[p])

    def levels(self, side: Side) -> list[BookLevel]:
        """Bids of one leg, best first."""
        book = self.yes if side is Side.YES else self.no
        return [BookLevel(p, book[p]) for p in sorted(book, reverse=True)]

    def quote(self) -> Quote:
        yb = self.best_bid(Side.YES)
        nb = self.best_bid(Side.NO)
        return Quote(
            yes_bid=yb.price if yb else None,
            yes_ask=ONE - nb.price if nb else None,
            yes_bid_size=yb.size if yb else Decimal(0),
            yes_ask_size=nb.size if nb else Decimal(0),
        )
