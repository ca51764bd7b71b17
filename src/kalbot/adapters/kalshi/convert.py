"""Wire -> domain: exact Decimal values, legacy cents understood, missing prices are errors.

Every function here names the field and the ticker of whatever is missing or malformed
(``PriceError`` for prices and counts, ``WireError`` for anything else); nothing defaults a price.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from kalbot.adapters.kalshi import numbers
from kalbot.adapters.kalshi import wire as w
from kalbot.adapters.kalshi.errors import WireError
from kalbot.domain.fees import FeeType
from kalbot.domain.market import Market, MarketResult, MarketStatus, OrderBook, Quote
from kalbot.domain.orders import Action, BookSide, Fill, OrderAck, OrderIntent, OrderStatus, V2Order
from kalbot.domain.prices import (
    LINEAR_CENT,
    ONE,
    ZERO,
    PriceError,
    PriceRange,
    Rounding,
    Side,
    cents_to_dollars,
    format_count,
    format_dollars,
    parse_decimal,
    parse_price,
    side_price,
    snap_to_tick,
)

# The ``status=`` filter words, and what old recordings sometimes carry in responses.
_STATUS_ALIASES = {
    "open": MarketStatus.ACTIVE,
    "unopened": MarketStatus.INITIALIZED,
    "paused": MarketStatus.INACTIVE,
    "settled": MarketStatus.FINALIZED,
}
_RESULTS = {
    "yes": MarketResult.YES,
    "no": MarketResult.NO,
    "void": MarketResult.VOID,
    "scalar": MarketResult.SCALAR,
}


def clear_caches() -> None:
    """Forget the shared parsed values (benchmarks measure cold parsing with this)."""
    numbers.clear_caches()
    _GRIDS.clear()


def _price(dollars: str | None, cents: int | None, field: str, ticker: str) -> Decimal | None:
    if dollars is not None:
        return numbers.price(dollars, field, ticker)
    if cents is not None:
        p = cents_to_dollars(cents, field.removesuffix("_dollars"), ticker)
        if not ZERO <= p <= ONE:
            raise PriceError(field.removesuffix("_dollars"), cents, ticker, "price outside 0..100¢")
        return p
    return None


def _required_price(dollars: str | None, cents: int | None, field: str, ticker: str) -> Decimal:
    p = _price(dollars, cents, field, ticker)
    if p is None:
        raise PriceError(field, None, ticker, "missing")
    return p


def _count(fp: str | int | None, legacy: int | None, field: str, ticker: str) -> Decimal | None:
    if fp is not None:
        value = numbers.number(fp, field, ticker)
    elif legacy is not None:
        value = parse_decimal(legacy, field.removesuffix("_fp"), ticker)
    else:
        return None
    if value < 0:
        raise PriceError(field, fp if fp is not None else legacy, ticker, "negative count")
    return value


def _required_count(fp: str | int | None, legacy: int | None, field: str, ticker: str) -> Decimal:
    value = _count(fp, legacy, field, ticker)
    if value is None:
        raise PriceError(field, None, ticker, "missing")
    return value


def _num(value: w.Num | None, field: str, ticker: str) -> Decimal | None:
    if value is None or value == "":
        return None
    # strikes are JSON numbers in Kalshi's spec; go through str() so 5.25 stays 5.25
    return parse_decimal(str(value), field, ticker)


_GRIDS: dict[tuple[tuple[str, str, str], ...], tuple[PriceRange, ...]] = {}


def price_ranges(ranges: list[w.PriceRangeW] | None, ticker: str) -> tuple[PriceRange, ...]:
    """The market's price grid; a missing grid means the classic whole-cent grid."""
    if not ranges:
        return LINEAR_CENT
    key = tuple((r.start, r.end, r.step) for r in ranges)
    grid = _GRIDS.get(key)
    if grid is None:
        grid = _price_ranges(ranges, ticker)
        if len(_GRIDS) < 1000:  # a handful of grids exist; they are shared by every market
            _GRIDS[key] = grid
    return grid


def _price_ranges(ranges: list[w.PriceRangeW], ticker: str) -> tuple[PriceRange, ...]:
    out = []
    for r in ranges:
        start = parse_price(r.start, "price_ranges.start", ticker)
        end = parse_price(r.end, "price_ranges.end", ticker)
        step = parse_price(r.step, "price_ranges.step", ticker)
        if step <= 0 or end < start:
            raise PriceError("price_ranges", r.model_dump(), ticker, "empty band or zero step")
        out.append(PriceRange(start, end, step))
    return tuple(sorted(out, key=lambda r: r.start))


def market_status(value: str, ticker: str) -> MarketStatus:
    try:
        return MarketStatus(value)
    except ValueError:
        pass
    if value in _STATUS_ALIASES:
        return _STATUS_ALIASES[value]
    raise WireError(f"unknown market status {value!r} for {ticker}")


def market_result(value: str | None, ticker: str) -> MarketResult | None:
    if not value:
        return None
    try:
        return _RESULTS[value.lower()]
    except KeyError:
        raise WireError(f"unknown market result {value!r} for {ticker}") from None


def fee_type(value: str | None, where: str) -> FeeType:
    if not value:
        return FeeType.QUADRATIC
    try:
        return FeeType(value)
    except ValueError:
        raise WireError(f"unknown fee_type {value!r} for {where}") from None


def is_combo(m: w.MarketW) -> bool:
    """Multivariate (combo) markets, which the bot does not trade."""
    return bool(m.mve_collection_ticker or m.mve_selected_legs) or m.ticker.startswith("KXMV")


def quote(m: w.MarketW) -> Quote:
    """Top of book. A YES bid of 0 means no bid; a YES ask of 0 or 1 means no ask."""
    t = m.ticker
    bid = _required_price(m.yes_bid_dollars, m.yes_bid, "yes_bid_dollars", t)
    ask = _required_price(m.yes_ask_dollars, m.yes_ask, "yes_ask_dollars", t)
    bid_size = _count(m.yes_bid_size_fp, None, "yes_bid_size_fp", t) or ZERO
    ask_size = _count(m.yes_ask_size_fp, None, "yes_ask_size_fp", t) or ZERO
    return Quote(
        yes_bid=bid if bid > ZERO else None,
        yes_ask=ask if ZERO < ask < ONE else None,
        yes_bid_size=bid_size,
        yes_ask_size=ask_size,
    )


def series_ticker_of(event_ticker: str) -> str:
    """Kalshi event tickers start with their series ticker: ``KXFED-26JUN`` -> ``KXFED``."""
    return event_ticker.split("-", 1)[0]


def market(
    m: w.MarketW,
    *,
    series: w.SeriesW | None = None,
    series_ticker: str | None = None,
    category: str | None = None,
) -> Market:
    """A domain Market. ``series`` (from ``/series``) supplies category and fee terms."""
    t = m.ticker
    if m.close_time is None:
        raise WireError(f"missing close_time for {t}")
    last = _price(m.last_price_dollars, m.last_price, "last_price_dollars", t)
    volume = _count(m.volume_fp, m.volume, "volume_fp", t) or ZERO
    fee_mult = _num(series.fee_multiplier, "fee_multiplier", t) if series else None
    return Market(
        ticker=t,
        event_ticker=m.event_ticker,
        title=m.title or m.yes_sub_title,
        status=market_status(m.status, t),
        quote=quote(m),
        close_time=m.close_time,
        series_ticker=series.ticker
        if series
        else (series_ticker or series_ticker_of(m.event_ticker)),
        subtitle=m.subtitle,
        yes_subtitle=m.yes_sub_title,
        no_subtitle=m.no_sub_title,
        category=(series.category if series else None) or category or m.category or "",
        open_time=m.open_time,
        expiration_time=m.latest_expiration_time or m.expiration_time,
        # a last price of 0 is Kalshi's "never traded", not a trade at zero
        last_price=last if last and (last > ZERO or volume > ZERO) else None,
        volume=volume,
        volume_24h=_count(m.volume_24h_fp, m.volume_24h, "volume_24h_fp", t) or ZERO,
        open_interest=_count(m.open_interest_fp, m.open_interest, "open_interest_fp", t) or ZERO,
        result=market_result(m.result, t),
        floor_strike=_num(m.floor_strike, "floor_strike", t),
        cap_strike=_num(m.cap_strike, "cap_strike", t),
        strike_type=m.strike_type or "",
        rules_primary=m.rules_primary or "",
        rules_secondary=m.rules_secondary or "",
        price_ranges=price_ranges(m.price_ranges, t),
        is_combo=is_combo(m),
        fee_type=fee_type(series.fee_type, series.ticker) if series else FeeType.QUADRATIC,
        fee_multiplier=fee_mult if fee_mult is not None else ONE,
        settlement_value=_price(
            m.settlement_value_dollars or None, None, "settlement_value_dollars", t
        ),
    )


def snap_price(mkt: Market, yes_price: Decimal, rounding: Rounding = Rounding.DOWN) -> Decimal:
    """Snap a YES-leg price to this market's tick (the band of ``price_ranges`` holding it)."""
    return snap_to_tick(yes_price, mkt.price_ranges, rounding)


def orderbook(ticker: str, resp: w.OrderbookResponseW) -> OrderBook:
    """REST order book: YES bids and NO bids, each in its own leg's price (best is last)."""
    book = OrderBook(ticker)
    if resp.orderbook_fp is not None:
        for side, levels in (
            (Side.YES, resp.orderbook_fp.yes_dollars),
            (Side.NO, resp.orderbook_fp.no_dollars),
        ):
            for price, size in levels or ():
                book.set_level(
                    side,
                    parse_price(price, f"orderbook_fp.{side}_dollars", ticker),
                    _required_count(size, None, f"orderbook_fp.{side}_dollars.count", ticker),
                )
    elif resp.orderbook is not None:
        for leg, legacy in ((Side.YES, resp.orderbook.yes), (Side.NO, resp.orderbook.no)):
            for cents, n in legacy or ():
                book.set_level(
                    leg,
                    _required_price(None, cents, f"orderbook.{leg}", ticker),
                    Decimal(n),
                )
    else:
        raise WireError(f"order book response for {ticker} has neither orderbook_fp nor orderbook")
    return book


# ---- orders and fills ------------------------------------------------------------------------


_PRICE_STEP = Decimal("0.0001")
_COUNT_STEP = Decimal("0.01")


def v2_body(order: V2Order, *, self_trade_prevention: str = "taker_at_cross") -> dict[str, Any]:
    """The ``POST /portfolio/events/orders`` body for one order (REFERENCE §4.4)."""
    if not order.client_order_id:
        raise ValueError("every order needs a client_order_id (it makes retries safe)")
    if order.count <= 0:
        raise ValueError(f"order count must be positive, got {order.count}")
    if not ZERO < order.price < ONE:
        raise ValueError(f"order price must lie strictly between 0 and 1, got {order.price}")
    # the wire takes at most 4 price and 2 count decimals; never round an order silently
    if order.price != order.price.quantize(_PRICE_STEP):
        raise ValueError(f"order price {order.price} has more than 4 decimals")
    if order.count != order.count.quantize(_COUNT_STEP):
        raise ValueError(f"order count {order.count} has more than 2 decimals")
    body: dict[str, Any] = {
        "ticker": order.ticker,
        "side": order.book_side.value,
        "count": format_count(order.count),
        "price": format_dollars(order.price),
        "time_in_force": order.time_in_force.value,
        "self_trade_prevention_type": self_trade_prevention,
        "client_order_id": order.client_order_id,
    }
    if order.post_only:
        body["post_only"] = True
    if order.reduce_only:
        body["reduce_only"] = True
    return body


def order_status(value: str, order_id: str) -> OrderStatus:
    try:
        return OrderStatus(value)
    except ValueError:
        raise WireError(f"unknown order status {value!r} for order {order_id}") from None


def ack_from_order(o: w.OrderW) -> OrderAck:
    t = o.ticker
    return OrderAck(
        order_id=o.order_id,
        client_order_id=o.client_order_id or "",
        ticker=t,
        status=order_status(o.status, o.order_id),
        filled_count=_count(o.fill_count_fp, o.fill_count, "fill_count_fp", t) or ZERO,
        remaining_count=_count(o.remaining_count_fp, o.remaining_count, "remaining_count_fp", t)
        or ZERO,
    )


def ack_from_create(r: w.CreateOrderResponseW, order: V2Order) -> OrderAck:
    """A create response has no status: nothing left means executed (or IOC-cancelled)."""
    t = order.ticker
    filled = _count(r.fill_count, None, "fill_count", t) or ZERO
    remaining = _count(r.remaining_count, None, "remaining_count", t)
    if remaining is None:
        remaining = order.count - filled
    if remaining > 0:
        status = OrderStatus.RESTING
    else:
        status = OrderStatus.EXECUTED if filled > 0 else OrderStatus.CANCELED
    return OrderAck(
        r.order_id, r.client_order_id or order.client_order_id, t, status, filled, remaining
    )


@dataclass(frozen=True, slots=True)
class Direction:
    side: Side
    action: Action


def direction_of(intent: OrderIntent) -> Direction:
    return Direction(intent.side, intent.action)


def _fill_direction(f: w.FillW, hint: Direction | None, ticker: str) -> Direction:
    book_side = f.book_side or (
        {"yes": "bid", "no": "ask"}.get(f.outcome_side or "") if f.outcome_side else None
    )
    if hint is not None:
        from kalbot.domain.orders import book_side_for

        if book_side is None or book_side_for(hint.side, hint.action).value == book_side:
            return hint
    if f.side in ("yes", "no") and f.action in ("buy", "sell"):
        return Direction(Side(f.side), Action(f.action))
    if book_side == BookSide.BID:
        return Direction(Side.YES, Action.BUY)
    if book_side == BookSide.ASK:
        return Direction(Side.NO, Action.BUY)
    raise WireError(f"fill {f.fill_id or f.trade_id} for {ticker} has no direction")


def fill(f: w.FillW, hint: Direction | None = None) -> Fill:
    """A domain Fill in the side's own price space.

    Kalshi's V2 fills only say ``bid``/``ask``: a YES sale and a NO purchase look the same. When
    we know the order's intent (``hint``) the fill is reported the way we placed it.
    """
    t = f.ticker or f.market_ticker
    if not t:
        raise WireError(f"fill {f.fill_id or f.trade_id} has no ticker")
    yes_price = _required_price(f.yes_price_dollars, f.yes_price, "yes_price_dollars", t)
    d = _fill_direction(f, hint, t)
    if f.fee_cost is None:
        raise PriceError("fee_cost", None, t, "missing")
    if f.is_taker is None:
        raise WireError(f"fill {f.fill_id or f.trade_id} for {t} lacks is_taker")
    if f.created_time is not None:
        ts = f.created_time
    elif f.ts is not None:
        ts = datetime.fromtimestamp(f.ts, UTC)
    else:
        raise WireError(f"fill {f.fill_id or f.trade_id} for {t} has no time")
    return Fill(
        fill_id=f.fill_id or f.trade_id or "",
        order_id=f.order_id,
        client_order_id=f.client_order_id or "",
        ticker=t,
        side=d.side,
        action=d.action,
        count=_required_count(f.count_fp, f.count, "count_fp", t),
        price=side_price(yes_price, d.side),
        fee=parse_decimal(f.fee_cost, "fee_cost", t),
        is_taker=f.is_taker,
        ts=ts,
    )


def position(p: w.MarketPositionW) -> Decimal:
    """Signed net position: + YES contracts, - NO contracts."""
    if p.position_fp is not None:
        return parse_decimal(p.position_fp, "position_fp", p.ticker)
    if p.position is not None:
        return Decimal(p.position)
    raise PriceError("position_fp", None, p.ticker, "missing")


def balance(b: w.BalanceW) -> Decimal:
    """Available balance in dollars; ``balance_dollars`` is the precise field."""
    if b.balance_dollars is not None:
        return parse_decimal(b.balance_dollars, "balance_dollars", "portfolio")
    if b.balance is not None:
        return cents_to_dollars(b.balance, "balance", "portfolio")
    raise PriceError("balance_dollars", None, "portfolio", "missing")
