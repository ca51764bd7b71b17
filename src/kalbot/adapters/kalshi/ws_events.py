"""WebSocket messages parsed into typed events (REFERENCE §6, asyncapi.yaml).

``parse_message`` turns one JSON text frame into one event, reading both the current
``*_dollars``/``*_fp`` fields and the legacy integer-cent ones of old recordings. Anything
malformed raises ``MalformedMessage``; the stream logs and skips it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from kalbot.adapters.kalshi import numbers
from kalbot.domain.market import Quote
from kalbot.domain.prices import ONE, ZERO, PriceError, Side, cents_to_dollars, parse_decimal


class MalformedMessage(ValueError):
    """A WebSocket frame that is not a message we can read."""


def _d(msg: dict[str, Any], key: str, ticker: str, legacy: str | None = None) -> Decimal | None:
    value = msg.get(key)
    if type(value) is str:
        return numbers.number(value, key, ticker)
    if value is not None:
        return parse_decimal(value, key, ticker)
    if legacy is not None and msg.get(legacy) is not None:
        return parse_decimal(msg[legacy], legacy, ticker)
    return None


def _price(msg: dict[str, Any], key: str, ticker: str, legacy: str | None = None) -> Decimal | None:
    value = msg.get(key)
    if type(value) is str:
        return numbers.price(value, key, ticker)
    if value is not None:
        p = parse_decimal(value, key, ticker)
    elif legacy is not None and msg.get(legacy) is not None:
        p = cents_to_dollars(msg[legacy], legacy, ticker)
    else:
        return None
    if not ZERO <= p <= ONE:
        raise PriceError(key, value, ticker, "price outside [0, 1]")
    return p


def _req(value: Decimal | None, key: str, ticker: str) -> Decimal:
    if value is None:
        raise PriceError(key, None, ticker, "missing")
    return value


def _ts(msg: dict[str, Any], *keys: str) -> datetime | None:
    """The first timestamp present: ``*_ms`` keys are milliseconds, others seconds."""
    for key in keys:
        value = msg.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value / 1000 if key.endswith("ms") else value, UTC)
    return None


@dataclass(frozen=True, slots=True)
class TickerEvent:
    ticker: str
    price: Decimal | None  # last trade, YES leg
    yes_bid: Decimal | None
    yes_ask: Decimal | None
    yes_bid_size: Decimal
    yes_ask_size: Decimal
    volume: Decimal | None
    open_interest: Decimal | None
    ts: datetime | None

    def quote(self) -> Quote:
        return Quote(self.yes_bid, self.yes_ask, self.yes_bid_size, self.yes_ask_size)


@dataclass(frozen=True, slots=True)
class TradeEvent:
    trade_id: str
    ticker: str
    yes_price: Decimal
    count: Decimal
    taker_side: Side | None
    ts: datetime | None


@dataclass(frozen=True, slots=True)
class OrderbookSnapshot:
    """Levels as sent: YES bids at YES prices; NO bids at NO prices unless the subscription
    asked for ``use_yes_price`` (then at YES prices) - the WebSocket client normalises that."""

    sid: int
    seq: int
    ticker: str
    yes: tuple[tuple[Decimal, Decimal], ...]
    no: tuple[tuple[Decimal, Decimal], ...]


@dataclass(slots=True)  # not frozen: the hottest message type, and frozen init costs ~2x
class OrderbookDelta:
    """``level[side][price] += delta``; ``price`` as sent (see ``OrderbookSnapshot``)."""

    sid: int
    seq: int
    ticker: str
    side: Side
    price: Decimal
    delta: Decimal
    client_order_id: str | None = None
    ts_ms: int | None = None

    @property
    def ts(self) -> datetime | None:
        return None if self.ts_ms is None else datetime.fromtimestamp(self.ts_ms / 1000, UTC)


@dataclass(frozen=True, slots=True)
class FillEvent:
    trade_id: str
    order_id: str
    ticker: str
    outcome_side: Side
    book_side: str
    yes_price: Decimal
    count: Decimal
    fee: Decimal | None
    is_taker: bool
    post_position: Decimal | None
    client_order_id: str | None
    ts: datetime | None


@dataclass(frozen=True, slots=True)
class UserOrderEvent:
    order_id: str
    client_order_id: str | None
    ticker: str
    status: str
    yes_price: Decimal | None
    fill_count: Decimal | None
    remaining_count: Decimal | None
    raw: dict[str, Any] = field(compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class MarketPositionEvent:
    ticker: str
    position: Decimal
    position_cost: Decimal | None
    realized_pnl: Decimal | None
    fees_paid: Decimal | None


@dataclass(frozen=True, slots=True)
class LifecycleEvent:
    event_type: str
    ticker: str
    result: str | None
    open_ts: datetime | None
    close_ts: datetime | None
    raw: dict[str, Any] = field(compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Subscribed:
    id: int | None
    channel: str
    sid: int


@dataclass(frozen=True, slots=True)
class Unsubscribed:
    id: int | None
    sid: int
    seq: int | None


@dataclass(frozen=True, slots=True)
class CommandOk:
    id: int | None
    sid: int | None
    seq: int | None
    msg: Any


@dataclass(frozen=True, slots=True)
class CommandError:
    id: int | None
    code: int | None
    message: str


@dataclass(frozen=True, slots=True)
class OtherMessage:
    """A well-formed message of a type we do not model (e.g. ``order_group_updates``)."""

    type: str
    sid: int | None
    seq: int | None
    msg: Any


# Emitted by the client itself, not parsed from the wire:
@dataclass(frozen=True, slots=True)
class SequenceGap:
    sid: int
    expected: int
    got: int
    tickers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Reconnected:
    attempt: int


Event = (
    TickerEvent
    | TradeEvent
    | OrderbookSnapshot
    | OrderbookDelta
    | FillEvent
    | UserOrderEvent
    | MarketPositionEvent
    | LifecycleEvent
    | Subscribed
    | Unsubscribed
    | CommandOk
    | CommandError
    | OtherMessage
    | SequenceGap
    | Reconnected
)


def _levels(
    msg: dict[str, Any], key: str, legacy: str, ticker: str
) -> tuple[tuple[Decimal, Decimal], ...]:
    if msg.get(key) is not None:
        return tuple(
            (parse_decimal(p, key, ticker), parse_decimal(c, key, ticker)) for p, c in msg[key]
        )
    if msg.get(legacy) is not None:
        return tuple(
            (cents_to_dollars(p, legacy, ticker), parse_decimal(c, legacy, ticker))
            for p, c in msg[legacy]
        )
    return ()


def _side(value: Any, what: str) -> Side:
    if value == "yes":
        return Side.YES
    if value == "no":
        return Side.NO
    raise MalformedMessage(f"{what}: side {value!r} is neither yes nor no")


def _int(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise MalformedMessage(f"{what} is not an integer: {value!r}")
    return value


def _delta(msg: dict[str, Any], sid: Any, seq: Any) -> OrderbookDelta:
    t = msg.get("market_ticker")
    if not isinstance(t, str):
        raise MalformedMessage("orderbook_delta without market_ticker")
    ts = msg.get("ts_ms")
    if not isinstance(ts, int):
        legacy_ts = msg.get("ts")  # seconds, deprecated
        ts = legacy_ts * 1000 if isinstance(legacy_ts, int) else None
    return OrderbookDelta(
        _int(sid, "sid"),
        _int(seq, "seq"),
        t,
        _side(msg.get("side"), "orderbook_delta"),
        _req(_price(msg, "price_dollars", t, "price"), "price_dollars", t),
        _req(_d(msg, "delta_fp", t, "delta"), "delta_fp", t),
        msg.get("client_order_id"),
        ts,
    )


_NEEDS_TICKER = frozenset(
    {"ticker", "trade", "fill", "user_order", "market_position", "market_lifecycle_v2"}
)


def _parse(data: dict[str, Any]) -> Event:
    kind = data.get("type")
    msg = data.get("msg")
    sid = data.get("sid")
    seq = data.get("seq")
    if kind == "orderbook_delta" and isinstance(msg, dict):  # by far the most frequent
        return _delta(msg, sid, seq)
    if kind == "subscribed":
        if not isinstance(msg, dict):
            raise MalformedMessage("subscribed without msg")
        return Subscribed(data.get("id"), str(msg.get("channel")), _int(msg.get("sid"), "sid"))
    if kind == "unsubscribed":
        return Unsubscribed(data.get("id"), _int(sid, "sid"), seq)
    if kind == "ok":
        return CommandOk(data.get("id"), sid, seq, msg)
    if kind == "error":
        m = msg if isinstance(msg, dict) else {}
        return CommandError(data.get("id"), m.get("code"), str(m.get("msg", msg)))
    if not isinstance(msg, dict):
        raise MalformedMessage(f"{kind} message without an object msg")
    ticker = msg.get("market_ticker") or msg.get("ticker")
    if kind == "orderbook_snapshot":
        t = str(ticker)
        return OrderbookSnapshot(
            sid=_int(sid, "sid"),
            seq=_int(seq, "seq"),
            ticker=t,
            yes=_levels(msg, "yes_dollars_fp", "yes", t),
            no=_levels(msg, "no_dollars_fp", "no", t),
        )
    if kind in _NEEDS_TICKER and not isinstance(ticker, str):
        raise MalformedMessage(f"{kind} message without market_ticker")
    if kind == "ticker":
        t = str(ticker)
        bid = _price(msg, "yes_bid_dollars", t, "yes_bid")
        ask = _price(msg, "yes_ask_dollars", t, "yes_ask")
        return TickerEvent(
            ticker=t,
            price=_price(msg, "price_dollars", t, "price"),
            yes_bid=bid if bid is not None and bid > ZERO else None,
            yes_ask=ask if ask is not None and ZERO < ask < ONE else None,
            yes_bid_size=_d(msg, "yes_bid_size_fp", t) or ZERO,
            yes_ask_size=_d(msg, "yes_ask_size_fp", t) or ZERO,
            volume=_d(msg, "volume_fp", t, "volume"),
            open_interest=_d(msg, "open_interest_fp", t, "open_interest"),
            ts=_ts(msg, "ts_ms", "ts"),
        )
    if kind == "trade":
        t = str(ticker)
        taker = msg.get("taker_outcome_side") or msg.get("taker_side")
        return TradeEvent(
            trade_id=str(msg.get("trade_id", "")),
            ticker=t,
            yes_price=_req(
                _price(msg, "yes_price_dollars", t, "yes_price"), "yes_price_dollars", t
            ),
            count=_req(_d(msg, "count_fp", t, "count"), "count_fp", t),
            taker_side=_side(taker, kind) if taker else None,
            ts=_ts(msg, "ts_ms", "ts"),
        )
    if kind == "fill":
        t = str(ticker)
        outcome = msg.get("outcome_side") or (
            {"bid": "yes", "ask": "no"}.get(msg.get("book_side", "")) or msg.get("side")
        )
        return FillEvent(
            trade_id=str(msg.get("trade_id", "")),
            order_id=str(msg.get("order_id", "")),
            ticker=t,
            outcome_side=_side(outcome, kind),
            book_side=str(msg.get("book_side") or ("bid" if outcome == "yes" else "ask")),
            yes_price=_req(
                _price(msg, "yes_price_dollars", t, "yes_price"), "yes_price_dollars", t
            ),
            count=_req(_d(msg, "count_fp", t, "count"), "count_fp", t),
            fee=_d(msg, "fee_cost", t),
            is_taker=bool(msg.get("is_taker")),
            post_position=_d(msg, "post_position_fp", t, "post_position"),
            client_order_id=msg.get("client_order_id"),
            ts=_ts(msg, "ts_ms", "ts"),
        )
    if kind == "user_order":
        t = str(ticker)
        return UserOrderEvent(
            order_id=str(msg.get("order_id", "")),
            client_order_id=msg.get("client_order_id"),
            ticker=t,
            status=str(msg.get("status", "")),
            yes_price=_price(msg, "yes_price_dollars", t, "yes_price"),
            fill_count=_d(msg, "fill_count_fp", t, "fill_count"),
            remaining_count=_d(msg, "remaining_count_fp", t, "remaining_count"),
            raw=msg,
        )
    if kind == "market_position":
        t = str(ticker)
        return MarketPositionEvent(
            ticker=t,
            position=_req(_d(msg, "position_fp", t, "position"), "position_fp", t),
            position_cost=_d(msg, "position_cost_dollars", t),
            realized_pnl=_d(msg, "realized_pnl_dollars", t),
            fees_paid=_d(msg, "fees_paid_dollars", t),
        )
    if kind == "market_lifecycle_v2":
        return LifecycleEvent(
            event_type=str(msg.get("event_type", "")),
            ticker=str(ticker),
            result=msg.get("result"),
            open_ts=_ts(msg, "open_ts_ms", "open_ts"),
            close_ts=_ts(msg, "close_ts_ms", "close_ts"),
            raw=msg,
        )
    if not isinstance(kind, str):
        raise MalformedMessage("message without a type")
    return OtherMessage(kind, sid, seq, msg)


def parse_message(text: str | bytes) -> Event:
    """Parse one WebSocket frame. Raises ``MalformedMessage`` for anything unreadable."""
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as e:
        raise MalformedMessage(f"not JSON: {e}") from None
    if not isinstance(data, dict):
        raise MalformedMessage("a message must be a JSON object")
    try:
        return _parse(data)
    except PriceError as e:
        raise MalformedMessage(str(e)) from None
    except (TypeError, ValueError, KeyError) as e:
        if isinstance(e, MalformedMessage):
            raise
        raise MalformedMessage(f"{data.get('type')}: {e}") from None
