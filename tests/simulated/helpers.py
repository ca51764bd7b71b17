"""Builders shared by the simulated-exchange tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from kalbot.adapters.simulated.exchange import Exchange
from kalbot.adapters.simulated.markets import MarketSpec
from kalbot.domain.clock import ManualClock
from kalbot.domain.orders import BookSide, TimeInForce, V2Order

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TICKER = "KXTEST-26MAR01-T50"


def spec(ticker: str = TICKER, **kw: object) -> MarketSpec:
    base: dict[str, object] = {
        "ticker": ticker,
        "event_ticker": "KXTEST-26MAR01",
        "close_time": START + timedelta(days=1),
        "series_ticker": "KXTEST",
    }
    base.update(kw)
    return MarketSpec(**base)  # type: ignore[arg-type]


def order(
    side: BookSide,
    price: str,
    count: str | int,
    coid: str = "",
    tif: TimeInForce = TimeInForce.GTC,
    *,
    ticker: str = TICKER,
    post_only: bool = False,
    reduce_only: bool = False,
) -> V2Order:
    return V2Order(
        ticker=ticker,
        book_side=side,
        price=Decimal(price),
        count=Decimal(count),
        client_order_id=coid,
        time_in_force=tif,
        post_only=post_only,
        reduce_only=reduce_only,
    )


def make_exchange() -> tuple[Exchange, ManualClock]:
    """One market, three accounts with $1,000 each."""
    clock = ManualClock(START)
    exchange = Exchange(clock)
    exchange.add_market(spec())
    for name in ("alice", "bob", "carol"):
        exchange.open_account(name, Decimal("1000"))
    return exchange, clock
