"""Wire models: the JSON Kalshi sends, as pydantic models that ignore unknown fields.

Prices and counts stay the strings Kalshi sent (``"0.4200"``, ``"10.00"``) or the legacy integer
cents/counts of old recordings; ``convert`` turns them into exact ``Decimal`` domain values and
names the field and ticker of anything missing or malformed. Keeping the Decimal work out of the
models keeps one bad number from failing a whole page before we know which market it was.
A float where a decimal string belongs is rejected here (pydantic does not coerce numbers to str).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

Num = str | int | float  # strikes and other non-money numbers Kalshi sends as JSON numbers


class Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class PriceRangeW(Wire):
    start: str
    end: str
    step: str


class MarketW(Wire):
    """A market; only the fields the bot reads are declared (parsing cost grows with them)."""

    ticker: str
    event_ticker: str = ""
    market_type: str = "binary"
    title: str = ""
    subtitle: str = ""
    yes_sub_title: str = ""
    no_sub_title: str = ""
    status: str = ""
    open_time: datetime | None = None
    close_time: datetime | None = None
    expiration_time: datetime | None = None
    latest_expiration_time: datetime | None = None
    settlement_ts: datetime | None = None
    # current fixed-point fields
    yes_bid_dollars: str | None = None
    yes_bid_size_fp: str | None = None
    yes_ask_dollars: str | None = None
    yes_ask_size_fp: str | None = None
    # no_bid/no_ask are 1 - yes_ask / 1 - yes_bid; the domain Quote derives them
    last_price_dollars: str | None = None
    volume_fp: str | None = None
    volume_24h_fp: str | None = None
    open_interest_fp: str | None = None
    settlement_value_dollars: str | None = None
    # legacy integer fields (cents / whole contracts), still found in old recordings
    yes_bid: int | None = None
    yes_ask: int | None = None
    last_price: int | None = None
    volume: int | None = None
    volume_24h: int | None = None
    open_interest: int | None = None
    result: str | None = ""
    strike_type: str | None = ""
    floor_strike: Num | None = None
    cap_strike: Num | None = None
    rules_primary: str | None = ""
    rules_secondary: str | None = ""
    price_level_structure: str | None = None
    price_ranges: list[PriceRangeW] | None = None
    mve_collection_ticker: str | None = None
    mve_selected_legs: list[dict[str, Any]] | None = None
    category: str | None = None  # legacy; category lives on the series now


class MarketsPageW(Wire):
    markets: list[MarketW] = []
    cursor: str | None = None


class MarketResponseW(Wire):
    market: MarketW


class EventW(Wire):
    event_ticker: str
    series_ticker: str = ""
    title: str = ""
    sub_title: str = ""
    mutually_exclusive: bool | None = None
    collateral_return_type: str | None = None
    category: str | None = None
    strike_date: datetime | None = None
    markets: list[MarketW] | None = None
    fee_type_override: str | None = None
    fee_multiplier_override: Num | None = None


class EventsPageW(Wire):
    events: list[EventW] = []
    cursor: str | None = None


class EventResponseW(Wire):
    event: EventW
    markets: list[MarketW] = []


class SeriesW(Wire):
    ticker: str
    title: str = ""
    category: str = ""
    frequency: str = ""
    tags: list[str] | None = None
    fee_type: str = "quadratic"
    fee_multiplier: Num = 1


class SeriesListW(Wire):
    series: list[SeriesW] = []


class SeriesResponseW(Wire):
    series: SeriesW


class OrderbookLevelsW(Wire):
    yes_dollars: list[tuple[str, str]] | None = None
    no_dollars: list[tuple[str, str]] | None = None


class LegacyOrderbookW(Wire):
    yes: list[tuple[int, int]] | None = None
    no: list[tuple[int, int]] | None = None


class OrderbookResponseW(Wire):
    orderbook_fp: OrderbookLevelsW | None = None
    orderbook: LegacyOrderbookW | None = None


class IndexStatusW(Wire):
    exchange_index: int | None = None
    exchange_active: bool = False
    trading_active: bool = False


class ExchangeStatusW(Wire):
    exchange_active: bool
    trading_active: bool
    exchange_estimated_resume_time: datetime | None = None
    exchange_index_statuses: list[IndexStatusW] | None = None


class OpenCloseW(Wire):
    open_time: str
    close_time: str


class StandardHoursW(Wire):
    start_time: datetime | None = None
    end_time: datetime | None = None
    monday: list[OpenCloseW] = []
    tuesday: list[OpenCloseW] = []
    wednesday: list[OpenCloseW] = []
    thursday: list[OpenCloseW] = []
    friday: list[OpenCloseW] = []
    saturday: list[OpenCloseW] = []
    sunday: list[OpenCloseW] = []


class MaintenanceWindowW(Wire):
    start_datetime: datetime
    end_datetime: datetime


class ScheduleW(Wire):
    standard_hours: list[StandardHoursW] = []
    maintenance_windows: list[MaintenanceWindowW] = []


class ScheduleResponseW(Wire):
    schedule: ScheduleW


class OhlcW(Wire):
    """OHLC of a candle; live candles use ``*_dollars``, historical ones the bare names."""

    open_dollars: str | None = None
    low_dollars: str | None = None
    high_dollars: str | None = None
    close_dollars: str | None = None
    mean_dollars: str | None = None
    previous_dollars: str | None = None
    open: str | None = None
    low: str | None = None
    high: str | None = None
    close: str | None = None
    mean: str | None = None
    previous: str | None = None


class CandleW(Wire):
    end_period_ts: int
    yes_bid: OhlcW | None = None
    yes_ask: OhlcW | None = None
    price: OhlcW | None = None
    volume_fp: str | None = None
    open_interest_fp: str | None = None
    volume: str | int | None = None
    open_interest: str | int | None = None


class CandlesResponseW(Wire):
    ticker: str = ""
    candlesticks: list[CandleW] = []


class MarketCandlesW(Wire):
    market_ticker: str
    candlesticks: list[CandleW] = []


class BatchCandlesResponseW(Wire):
    markets: list[MarketCandlesW] = []


class HistoricalCutoffW(Wire):
    market_settled_ts: datetime | None = None
    trades_created_ts: datetime | None = None
    orders_updated_ts: datetime | None = None
    market_positions_last_updated_ts: datetime | None = None


class TradeW(Wire):
    trade_id: str
    ticker: str
    count_fp: str | None = None
    count: int | None = None
    yes_price_dollars: str | None = None
    no_price_dollars: str | None = None
    yes_price: int | None = None
    taker_outcome_side: str | None = None
    taker_book_side: str | None = None
    taker_side: str | None = None
    created_time: datetime | None = None
    is_block_trade: bool | None = None


class TradesPageW(Wire):
    trades: list[TradeW] = []
    cursor: str | None = None


class BalanceW(Wire):
    balance: int | None = None
    balance_dollars: str | None = None
    portfolio_value: int | None = None
    updated_ts: int | None = None


class MarketPositionW(Wire):
    ticker: str
    position_fp: str | None = None
    position: int | None = None
    market_exposure_dollars: str | None = None
    realized_pnl_dollars: str | None = None
    fees_paid_dollars: str | None = None
    total_traded_dollars: str | None = None
    last_updated_ts: datetime | None = None


class PositionsPageW(Wire):
    market_positions: list[MarketPositionW] = []
    cursor: str | None = None


class OrderW(Wire):
    order_id: str
    client_order_id: str | None = None
    ticker: str
    status: str
    outcome_side: str | None = None
    book_side: str | None = None
    side: str | None = None  # deprecated yes|no
    action: str | None = None  # deprecated buy|sell
    yes_price_dollars: str | None = None
    no_price_dollars: str | None = None
    yes_price: int | None = None
    no_price: int | None = None
    fill_count_fp: str | None = None
    remaining_count_fp: str | None = None
    initial_count_fp: str | None = None
    fill_count: int | None = None
    remaining_count: int | None = None
    taker_fees_dollars: str | None = None
    maker_fees_dollars: str | None = None
    created_time: datetime | None = None
    last_update_time: datetime | None = None


class OrdersPageW(Wire):
    orders: list[OrderW] = []
    cursor: str | None = None


class OrderResponseW(Wire):
    order: OrderW


class FillW(Wire):
    fill_id: str | None = None
    trade_id: str | None = None
    order_id: str
    ticker: str | None = None
    market_ticker: str | None = None
    outcome_side: str | None = None
    book_side: str | None = None
    side: str | None = None
    action: str | None = None
    count_fp: str | None = None
    count: int | None = None
    yes_price_dollars: str | None = None
    no_price_dollars: str | None = None
    yes_price: int | None = None
    no_price: int | None = None
    is_taker: bool | None = None
    fee_cost: str | None = None
    created_time: datetime | None = None
    ts: int | None = None
    client_order_id: str | None = None


class FillsPageW(Wire):
    fills: list[FillW] = []
    cursor: str | None = None


class SettlementW(Wire):
    ticker: str
    event_ticker: str = ""
    market_result: str = ""
    yes_count_fp: str | None = None
    no_count_fp: str | None = None
    yes_total_cost_dollars: str | None = None
    no_total_cost_dollars: str | None = None
    revenue: int | None = None
    value: int | None = None
    fee_cost: str | None = None
    settled_time: datetime | None = None


class SettlementsPageW(Wire):
    settlements: list[SettlementW] = []
    cursor: str | None = None


class CreateOrderResponseW(Wire):
    order_id: str
    client_order_id: str | None = None
    fill_count: str | None = None
    remaining_count: str | None = None
    average_fill_price: str | None = None
    average_fee_paid: str | None = None
    ts_ms: int | None = None


class ErrorW(Wire):
    code: str | None = None
    message: str | None = None
    details: str | None = None


class BatchCreateItemW(Wire):
    order_id: str | None = None
    client_order_id: str | None = None
    fill_count: str | None = None
    remaining_count: str | None = None
    average_fill_price: str | None = None
    average_fee_paid: str | None = None
    ts_ms: int | None = None
    error: ErrorW | None = None


class BatchCreateResponseW(Wire):
    orders: list[BatchCreateItemW] = []


class CancelOrderResponseW(Wire):
    order_id: str
    client_order_id: str | None = None
    reduced_by: str | None = None
    ts_ms: int | None = None


class BatchCancelItemW(Wire):
    order_id: str
    client_order_id: str | None = None
    reduced_by: str | None = None
    ts_ms: int | None = None
    error: ErrorW | None = None


class BatchCancelResponseW(Wire):
    orders: list[BatchCancelItemW] = []


class AmendOrderResponseW(Wire):
    order_id: str
    client_order_id: str | None = None
    fill_count: str | None = None
    remaining_count: str | None = None
    average_fill_price: str | None = None
    average_fee_paid: str | None = None
    ts_ms: int | None = None


class DecreaseOrderResponseW(Wire):
    order_id: str
    client_order_id: str | None = None
    remaining_count: str | None = None
    ts_ms: int | None = None
