"""Engine records -> Kalshi JSON objects (``openapi.yaml`` / ``asyncapi.yaml`` shapes).

Prices are YES-leg unless a field says ``no_``; every ``*_dollars`` is a 4-decimal string and
every ``*_fp`` a 2-decimal string. Deprecated fields the specs still require are filled in.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from kalbot.adapters.simulated.markets import MarketSpec
from kalbot.adapters.simulated.records import (
    FillRecord,
    OrderView,
    PositionView,
    SettlementRecord,
    TradeRecord,
)
from kalbot.adapters.simulated.server.wire import count, dollars, rfc3339, unix_ms, unix_s
from kalbot.domain.market import Market, MarketResult, MarketStatus
from kalbot.domain.prices import CENT, ONE, ZERO, PriceRange

STRIKE_TYPES = frozenset(
    {"greater", "greater_or_equal", "less", "less_or_equal", "between", "functional", "custom",
     "structured"}
)  # fmt: skip
_NS = uuid.UUID("6f1c1a52-5a0e-4c1b-9d57-0c1f5b7f2a10")


def market_id(ticker: str) -> str:
    """A stable UUID per ticker (Kalshi's ``market_id``)."""
    return str(uuid.uuid5(_NS, ticker))


def price_level_structure(ranges: tuple[PriceRange, ...]) -> str:
    """Kalshi's label for a grid; clients must not key logic off it (REFERENCE §3)."""
    steps = {r.step for r in ranges}
    if steps == {CENT}:
        return "linear_cent"
    if steps == {Decimal("0.001")}:
        return "deci_cent"
    return "tapered_deci_cent"


def _strike(value: Decimal | None) -> float | None:
    # The spec types strikes as JSON numbers; they are labels, never money.
    return None if value is None else float(value)


def market(m: Market, spec: MarketSpec, *, listed_at: datetime, settled_at: datetime | None,
           settlement_timer_seconds: int) -> dict[str, Any]:  # fmt: skip
    q = m.quote
    yes_bid = q.yes_bid if q.yes_bid is not None else ZERO
    yes_ask = q.yes_ask if q.yes_ask is not None else ONE
    last = m.last_price if m.last_price is not None else ZERO
    opened = m.open_time or listed_at
    result = m.result.value if m.result in {MarketResult.YES, MarketResult.NO} else ""
    out: dict[str, Any] = {
        "ticker": m.ticker,
        "event_ticker": m.event_ticker,
        "market_type": "binary",
        "title": m.title,
        "subtitle": m.subtitle,
        "yes_sub_title": m.yes_subtitle,
        "no_sub_title": m.no_subtitle,
        "created_time": rfc3339(min(listed_at, opened)),
        "updated_time": rfc3339(listed_at),
        "open_time": rfc3339(opened),
        "close_time": rfc3339(m.close_time),
        "expected_expiration_time": rfc3339(m.close_time),
        "expiration_time": rfc3339(m.close_time),
        "latest_expiration_time": rfc3339(m.close_time + timedelta(days=7)),
        "settlement_timer_seconds": settlement_timer_seconds,
        "status": m.status.value,
        "yes_bid_dollars": dollars(yes_bid),
        "yes_bid_size_fp": count(q.yes_bid_size),
        "yes_ask_dollars": dollars(yes_ask),
        "yes_ask_size_fp": count(q.yes_ask_size),
        "no_bid_dollars": dollars(ONE - yes_ask),
        "no_ask_dollars": dollars(ONE - yes_bid),
        "last_price_dollars": dollars(last),
        "previous_yes_bid_dollars": dollars(yes_bid),
        "previous_yes_ask_dollars": dollars(yes_ask),
        "previous_price_dollars": dollars(last),
        "volume_fp": count(m.volume),
        "volume_24h_fp": count(m.volume_24h),
        "open_interest_fp": count(m.open_interest),
        "notional_value_dollars": dollars(ONE),
        "result": result,
        "can_close_early": spec.can_close_early,
        "expiration_value": "",
        "rules_primary": m.rules_primary,
        "rules_secondary": m.rules_secondary,
        "price_level_structure": price_level_structure(m.price_ranges),
        "price_ranges": [
            {"start": dollars(r.start), "end": dollars(r.end), "step": dollars(r.step)}
            for r in m.price_ranges
        ],
        "is_provisional": False,
        "exchange_index": 0,
    }
    if m.strike_type in STRIKE_TYPES:
        out["strike_type"] = m.strike_type
    if m.floor_strike is not None:
        out["floor_strike"] = _strike(m.floor_strike)
    if m.cap_strike is not None:
        out["cap_strike"] = _strike(m.cap_strike)
    if m.status is MarketStatus.FINALIZED and result:
        out["settlement_value_dollars"] = dollars(ONE if result == "yes" else ZERO)
        if settled_at is not None:
            out["settlement_ts"] = rfc3339(settled_at)
    return out


def order(o: OrderView) -> dict[str, Any]:
    out: dict[str, Any] = {
        "order_id": o.order_id,
        "user_id": o.account_id,
        "client_order_id": o.client_order_id,
        "ticker": o.ticker,
        "side": o.outcome_side.value,
        "action": "buy",
        "outcome_side": o.outcome_side.value,
        "book_side": o.book_side.value,
        "type": "limit",
        "status": o.status.value,
        "yes_price_dollars": dollars(o.yes_price),
        "no_price_dollars": dollars(o.no_price),
        "fill_count_fp": count(o.fill_count),
        "remaining_count_fp": count(o.remaining_count),
        "initial_count_fp": count(o.initial_count),
        "taker_fill_cost_dollars": dollars(o.taker_fill_cost),
        "maker_fill_cost_dollars": dollars(o.maker_fill_cost),
        "taker_fees_dollars": dollars(o.taker_fees),
        "maker_fees_dollars": dollars(o.maker_fees),
        "created_time": rfc3339(o.created_time),
        "last_update_time": rfc3339(o.last_update_time),
        "self_trade_prevention_type": o.self_trade_prevention.value,
        "cancel_order_on_pause": False,
        "subaccount_number": 0,
        "exchange_index": 0,
    }
    if o.expiration_time is not None:
        out["expiration_time"] = rfc3339(o.expiration_time)
    return out


def user_order(o: OrderView) -> dict[str, Any]:
    """The ``user_order`` WebSocket message body."""
    out: dict[str, Any] = {
        "order_id": o.order_id,
        "user_id": o.account_id,
        "ticker": o.ticker,
        "status": o.status.value,
        "side": o.outcome_side.value,
        "is_yes": o.outcome_side.value == "yes",
        "outcome_side": o.outcome_side.value,
        "book_side": o.book_side.value,
        "yes_price_dollars": dollars(o.yes_price),
        "fill_count_fp": count(o.fill_count),
        "remaining_count_fp": count(o.remaining_count),
        "initial_count_fp": count(o.initial_count),
        "taker_fill_cost_dollars": dollars(o.taker_fill_cost),
        "maker_fill_cost_dollars": dollars(o.maker_fill_cost),
        "taker_fees_dollars": dollars(o.taker_fees),
        "maker_fees_dollars": dollars(o.maker_fees),
        "client_order_id": o.client_order_id,
        "self_trade_prevention_type": o.self_trade_prevention.value,
        "created_time": rfc3339(o.created_time),
        "created_ts_ms": unix_ms(o.created_time),
        "last_update_time": rfc3339(o.last_update_time),
        "last_updated_ts_ms": unix_ms(o.last_update_time),
        "subaccount_number": 0,
    }
    if o.expiration_time is not None:
        out["expiration_time"] = rfc3339(o.expiration_time)
        out["expiration_ts_ms"] = unix_ms(o.expiration_time)
    return out


def fill(f: FillRecord) -> dict[str, Any]:
    return {
        "fill_id": f.fill_id,
        "trade_id": f.trade_id,
        "order_id": f.order_id,
        "client_order_id": f.client_order_id,
        "ticker": f.ticker,
        "market_ticker": f.ticker,
        "side": f.outcome_side.value,
        "action": "buy",
        "outcome_side": f.outcome_side.value,
        "book_side": f.book_side.value,
        "count_fp": count(f.count),
        "yes_price_dollars": dollars(f.yes_price),
        "no_price_dollars": dollars(f.no_price),
        "is_taker": f.is_taker,
        "created_time": rfc3339(f.ts),
        "fee_cost": dollars(f.fee),
        "subaccount_number": 0,
        "ts": unix_s(f.ts),
        "exchange_index": 0,
    }


def ws_fill(f: FillRecord) -> dict[str, Any]:
    """The ``fill`` WebSocket message body."""
    return {
        "trade_id": f.trade_id,
        "order_id": f.order_id,
        "market_ticker": f.ticker,
        "exchange_index": 0,
        "is_taker": f.is_taker,
        "side": f.outcome_side.value,
        "yes_price_dollars": dollars(f.yes_price),
        "count_fp": count(f.count),
        "fee_cost": dollars(f.fee),
        "action": "buy",
        "outcome_side": f.outcome_side.value,
        "book_side": f.book_side.value,
        "purchased_side": f.outcome_side.value,
        "post_position_fp": count(f.post_position),
        "client_order_id": f.client_order_id,
        "ts": unix_s(f.ts),
        "ts_ms": unix_ms(f.ts),
    }


def trade(t: TradeRecord) -> dict[str, Any]:
    return {
        "trade_id": t.trade_id,
        "ticker": t.ticker,
        "count_fp": count(t.count),
        "yes_price_dollars": dollars(t.yes_price),
        "no_price_dollars": dollars(t.no_price),
        "taker_side": t.taker_outcome_side.value,
        "taker_outcome_side": t.taker_outcome_side.value,
        "taker_book_side": t.taker_book_side.value,
        "created_time": rfc3339(t.ts),
        "is_block_trade": False,
    }


def ws_trade(t: TradeRecord) -> dict[str, Any]:
    return {
        "trade_id": t.trade_id,
        "market_ticker": t.ticker,
        "yes_price_dollars": dollars(t.yes_price),
        "no_price_dollars": dollars(t.no_price),
        "count_fp": count(t.count),
        "taker_side": t.taker_outcome_side.value,
        "taker_outcome_side": t.taker_outcome_side.value,
        "taker_book_side": t.taker_book_side.value,
        "is_block_trade": False,
        "ts": unix_s(t.ts),
        "ts_ms": unix_ms(t.ts),
    }


def position(p: PositionView, now: datetime) -> dict[str, Any]:
    return {
        "ticker": p.ticker,
        "exchange_index": 0,
        "total_traded_dollars": dollars(p.total_traded),
        "position_fp": count(p.position),
        "market_exposure_dollars": dollars(p.market_exposure),
        "realized_pnl_dollars": dollars(p.realized_pnl),
        "fees_paid_dollars": dollars(p.fees_paid),
        "last_updated_ts": rfc3339(p.last_updated or now),
    }


def ws_position(account: str, p: PositionView, volume: Decimal) -> dict[str, Any]:
    """The ``market_position`` message; ``volume`` is the contracts this account traded there."""
    return {
        "user_id": account,
        "market_ticker": p.ticker,
        "position_fp": count(p.position),
        "position_cost_dollars": dollars(p.market_exposure),
        "realized_pnl_dollars": dollars(p.realized_pnl),
        "fees_paid_dollars": dollars(p.fees_paid),
        "position_fee_cost_dollars": dollars(p.fees_paid),
        "volume_fp": count(volume),
    }


def cents(amount: Decimal) -> int:
    """Kalshi's surviving integer-cent fields (balance, settlement revenue): floored."""
    return int((amount * 100).to_integral_value(rounding=ROUND_FLOOR))


def settlement(s: SettlementRecord) -> dict[str, Any]:
    # openapi.yaml's market_result has no "void": a void shows as a "scalar" settlement with
    # no per-contract ``value`` (null) whose ``revenue`` is the holder's cost refunded.
    void = s.market_result is MarketResult.VOID
    result = "scalar" if void else s.market_result.value
    return {
        "ticker": s.ticker,
        "event_ticker": s.event_ticker,
        "exchange_index": 0,
        "market_result": result,
        "yes_count_fp": count(s.yes_count),
        "yes_total_cost_dollars": dollars(s.yes_total_cost),
        "no_count_fp": count(s.no_count),
        "no_total_cost_dollars": dollars(s.no_total_cost),
        "revenue": cents(s.revenue),
        "settled_time": rfc3339(s.settled_time),
        "fee_cost": dollars(s.fee_cost),
        "value": None if void else 100 if s.market_result is MarketResult.YES else 0,
    }
