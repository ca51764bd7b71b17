"""Public REST endpoints: exchange, series, events, markets, order books, trades, candles."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from kalbot.adapters.simulated.errors import EngineError
from kalbot.adapters.simulated.markets import MarketSpec
from kalbot.adapters.simulated.records import TradeRecord
from kalbot.adapters.simulated.server import payloads
from kalbot.adapters.simulated.server.http import Ctx
from kalbot.adapters.simulated.server.ratelimit import CANCEL_COST, DEFAULT_COST, RateLimiter
from kalbot.adapters.simulated.server.service import SimService
from kalbot.adapters.simulated.server.wire import (
    WireError,
    count,
    dollars,
    paginate,
    query_int,
    query_list,
    rfc3339,
)
from kalbot.domain.market import Market, MarketStatus

Result = tuple[int, Any]

# The ``status=`` filter words and the response statuses they stand for (REFERENCE §4.2).
STATUS_FILTER: dict[str, set[MarketStatus]] = {
    "unopened": {MarketStatus.INITIALIZED},
    "open": {MarketStatus.ACTIVE},
    "paused": {MarketStatus.INACTIVE},
    "closed": {
        MarketStatus.CLOSED,
        MarketStatus.DETERMINED,
        MarketStatus.DISPUTED,
        MarketStatus.AMENDED,
    },
    "settled": {MarketStatus.FINALIZED},
}


def engine_error(e: EngineError) -> WireError:
    """The engine's refusal as Kalshi's error answer (translated once, here)."""
    return WireError(e.http_status, e.code.value, e.message)


def _ts_param(q: dict[str, str], name: str) -> datetime | None:
    value = query_int(q, name, None)
    return None if value is None else datetime.fromtimestamp(value, UTC)


class MarketRoutes:
    def __init__(self, service: SimService, limiter: RateLimiter) -> None:
        self.s = service
        self.limiter = limiter

    # --- helpers -------------------------------------------------------------------------

    def market_json(self, m: Market) -> dict[str, Any]:
        s = self.s
        return payloads.market(
            m,
            s.exchange.market_spec(m.ticker),
            listed_at=s.listed_at.get(m.ticker, s.now()),
            settled_at=s.settled_at.get(m.ticker),
            settlement_timer_seconds=int(s.config.settlement_delay.total_seconds()),
        )

    def _market(self, ticker: str) -> Market:
        try:
            return self.s.exchange.market(ticker)
        except EngineError as e:
            raise engine_error(e) from None

    def _live_market(self, ticker: str) -> Market:
        """A market the live endpoints still serve (one settled before the cutoff is 404)."""
        m = self._market(ticker)
        if self.s.market_archived(ticker, self.s.cutoff()):
            raise WireError(
                404, "not_found", f"{ticker} settled before the historical cutoff: "
                "see /historical/markets",
            )  # fmt: skip
        return m

    def _specs(self) -> list[MarketSpec]:
        ex = self.s.exchange
        return [ex.market_spec(t) for t in ex.tickers()]

    # --- exchange ------------------------------------------------------------------------

    async def exchange_status(self, ctx: Ctx) -> Result:
        return 200, {
            "exchange_active": True,
            "trading_active": True,
            "intra_exchange_transfers_active": True,
        }

    async def exchange_schedule(self, ctx: Ctx) -> Result:
        always = [{"open_time": "00:00", "close_time": "23:59"}]
        now = self.s.now()
        days = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        week: dict[str, Any] = {
            "start_time": rfc3339(now - timedelta(days=365)),
            "end_time": rfc3339(now + timedelta(days=3650)),
        }
        week.update({d: always for d in days})
        return 200, {"schedule": {"standard_hours": [week], "maintenance_windows": []}}

    async def user_data_timestamp(self, ctx: Ctx) -> Result:
        return 200, {"as_of_time": rfc3339(self.s.now())}

    async def historical_cutoff(self, ctx: Ctx) -> Result:
        # One boundary for all four partitions: the simulated now minus the live window.
        cutoff = rfc3339(self.s.cutoff())
        return 200, {
            "market_settled_ts": cutoff,
            "trades_created_ts": cutoff,
            "orders_updated_ts": cutoff,
            "market_positions_last_updated_ts": cutoff,
        }

    async def account_limits(self, ctx: Ctx) -> Result:
        return 200, self.limiter.limits_body()

    async def endpoint_costs(self, ctx: Ctx) -> Result:
        costs = [
            {"method": "DELETE", "path": "/trade-api/v2/portfolio/events/orders/{order_id}",
             "cost": CANCEL_COST},
        ]  # fmt: skip
        return 200, {"default_cost": DEFAULT_COST, "endpoint_costs": costs}

    # --- series and events ---------------------------------------------------------------

    def _series_json(self, ticker: str, specs: list[MarketSpec]) -> dict[str, Any]:
        first = specs[0]
        return {
            "ticker": ticker,
            "frequency": "daily",
            "title": first.category.title() + " " + ticker if first.category else ticker,
            "category": first.category,
            "tags": [],
            "settlement_sources": [],
            "contract_url": "",
            "contract_terms_url": "",
            "fee_type": first.fee_type.value,
            "fee_multiplier": float(first.fee_multiplier),
            "additional_prohibitions": [],
        }

    def _series_map(self) -> dict[str, list[MarketSpec]]:
        out: dict[str, list[MarketSpec]] = {}
        for spec in self._specs():
            out.setdefault(spec.series_ticker or spec.event_ticker, []).append(spec)
        return out

    async def series_list(self, ctx: Ctx) -> Result:
        category = ctx.query.get("category")
        items = [
            self._series_json(t, specs)
            for t, specs in sorted(self._series_map().items())
            if not category or specs[0].category == category
        ]
        return 200, {"series": items}

    async def series_one(self, ctx: Ctx) -> Result:
        ticker = ctx.path_params["series_ticker"]
        specs = self._series_map().get(ticker)
        if not specs:
            # The spec documents no 404 here; Kalshi answers an unknown series as a bad request.
            raise WireError(400, "series_not_found", f"no series {ticker}")
        return 200, {"series": self._series_json(ticker, specs)}

    def _events(self) -> dict[str, list[MarketSpec]]:
        out: dict[str, list[MarketSpec]] = {}
        for spec in self._specs():
            out.setdefault(spec.event_ticker, []).append(spec)
        return out

    def _event_json(self, ticker: str, specs: list[MarketSpec]) -> dict[str, Any]:
        first = specs[0]
        return {
            "event_ticker": ticker,
            "series_ticker": first.series_ticker or ticker,
            "title": first.title or ticker,
            "sub_title": first.subtitle,
            "collateral_return_type": "MECNET" if len(specs) > 1 else "",
            # Several brackets of one event are the generator's mutually exclusive outcomes.
            "mutually_exclusive": len(specs) > 1,
            "available_on_brokers": False,
            "settlement_sources": [],
            "category": first.category,
            "exchange_index": 0,
        }

    async def events(self, ctx: Ctx) -> Result:
        q = ctx.query
        nested = q.get("with_nested_markets", "false").lower() == "true"
        statuses = self._status_filter(q)
        series = q.get("series_ticker")
        wanted = query_list(q, "event_tickers")
        items: list[dict[str, Any]] = []
        for ticker, specs in sorted(self._events().items()):
            if series and (specs[0].series_ticker or ticker) != series:
                continue
            if wanted is not None and ticker not in wanted:
                continue
            markets = [self._market(s.ticker) for s in specs]
            if statuses is not None and not any(m.status in statuses for m in markets):
                continue
            ev = self._event_json(ticker, specs)
            if nested:
                ev["markets"] = [self.market_json(m) for m in markets]
            items.append(ev)
        page, cursor = paginate(items, q, default_limit=200, max_limit=200)
        return 200, {"events": list(page), "cursor": cursor}

    async def event_one(self, ctx: Ctx) -> Result:
        ticker = ctx.path_params["event_ticker"]
        specs = self._events().get(ticker)
        if not specs:
            raise WireError(404, "not_found", f"no event {ticker}")
        markets = [self.market_json(self._market(s.ticker)) for s in specs]
        return 200, {"event": self._event_json(ticker, specs), "markets": markets}

    # --- markets -------------------------------------------------------------------------

    def _status_filter(self, q: dict[str, str]) -> set[MarketStatus] | None:
        raw = q.get("status")
        if not raw:
            return None
        if raw not in STATUS_FILTER:
            raise WireError(
                400, "invalid_parameters", f"status must be one of {', '.join(STATUS_FILTER)}"
            )
        return STATUS_FILTER[raw]

    async def markets(self, ctx: Ctx) -> Result:
        q = ctx.query
        statuses = self._status_filter(q)
        tickers = query_list(q, "tickers")
        event = q.get("event_ticker")
        series = q.get("series_ticker")
        min_close = _ts_param(q, "min_close_ts")
        max_close = _ts_param(q, "max_close_ts")
        ex = self.s.exchange
        cutoff = self.s.cutoff()
        found: list[Market] = []
        for t in tickers if tickers is not None else ex.tickers():
            try:
                spec = ex.market_spec(t)
            except EngineError:
                continue
            if self.s.market_archived(t, cutoff):
                continue  # served by /historical/markets
            if event and spec.event_ticker != event:
                continue
            if series and spec.series_ticker != series:
                continue
            m = ex.market(t)
            if statuses is not None and m.status not in statuses:
                continue
            if (min_close and m.close_time < min_close) or (max_close and m.close_time > max_close):
                continue
            found.append(m)
        page, cursor = paginate(found, q)
        return 200, {"markets": [self.market_json(m) for m in page], "cursor": cursor}

    async def market_one(self, ctx: Ctx) -> Result:
        return 200, {"market": self.market_json(self._live_market(ctx.path_params["ticker"]))}

    def _orderbook_json(self, ticker: str, depth: int) -> dict[str, Any]:
        try:
            book = self.s.exchange.orderbook(ticker, depth)
        except EngineError as e:
            raise engine_error(e) from None
        # Ascending by price: the best bid is the last element (REFERENCE §4.2).
        return {
            "yes_dollars": [[dollars(p), count(s)] for p, s in sorted(book.yes.items())],
            "no_dollars": [[dollars(p), count(s)] for p, s in sorted(book.no.items())],
        }

    async def orderbook(self, ctx: Ctx) -> Result:
        depth = query_int(ctx.query, "depth", 0, lo=0, hi=100) or 0
        return 200, {"orderbook_fp": self._orderbook_json(ctx.path_params["ticker"], depth)}

    async def orderbooks(self, ctx: Ctx) -> Result:
        tickers = query_list(ctx.query, "tickers")
        if not tickers or len(tickers) > 100:
            raise WireError(400, "invalid_parameters", "tickers: 1 to 100 comma-separated")
        return 200, {
            "orderbooks": [
                {"ticker": t, "orderbook_fp": self._orderbook_json(t, 0)} for t in tickers
            ]
        }

    def trade_list(self, q: dict[str, str], *, historical: bool) -> list[TradeRecord]:
        """Public trades matching ``q``, newest first: those before the cutoff when
        ``historical``, the others otherwise."""
        ticker = q.get("ticker") or None
        min_ts, max_ts = _ts_param(q, "min_ts"), _ts_param(q, "max_ts")
        cutoff = self.s.cutoff()
        trades = [
            t
            for t in self.s.exchange.trades(ticker, min_ts)
            if (t.ts < cutoff) == historical and (max_ts is None or t.ts <= max_ts)
        ]
        trades.reverse()  # newest first, as Kalshi lists them
        return trades

    async def trades(self, ctx: Ctx) -> Result:
        if ctx.query.get("is_block_trade", "false").lower() == "true":
            return 200, {"trades": [], "cursor": ""}
        page, cursor = paginate(self.trade_list(ctx.query, historical=False), ctx.query)
        return 200, {"trades": [payloads.trade(t) for t in page], "cursor": cursor}

    async def candlesticks(self, ctx: Ctx) -> Result:
        ticker = ctx.path_params["ticker"]
        m = self._live_market(ticker)
        return 200, {"ticker": ticker, "candlesticks": self._candles(m, ctx.query)}

    def candle_buckets(self, m: Market, q: dict[str, str]) -> list[tuple[int, list[TradeRecord]]]:
        """The trades of ``m`` in ``[start_ts, end_ts]`` grouped by the end of their period."""
        start = query_int(q, "start_ts", None)
        end = query_int(q, "end_ts", None)
        period = query_int(q, "period_interval", None)
        if start is None or end is None or period not in {1, 60, 1440}:
            raise WireError(
                400, "invalid_parameters", "start_ts, end_ts and period_interval (1|60|1440)"
            )
        assert period is not None
        span = period * 60
        buckets: dict[int, list[TradeRecord]] = {}
        for t in self.s.exchange.trades(m.ticker):
            if start <= t.ts.timestamp() <= end:
                end_ts = (int(t.ts.timestamp()) // span + 1) * span
                buckets.setdefault(end_ts, []).append(t)
        return sorted(buckets.items())

    def _candles(self, m: Market, q: dict[str, str]) -> list[dict[str, Any]]:
        buckets = self.candle_buckets(m, q)
        q_ = m.quote
        bid = dollars(q_.yes_bid if q_.yes_bid is not None else Decimal(0))
        ask = dollars(q_.yes_ask if q_.yes_ask is not None else Decimal(1))
        # The simulator keeps no quote history: bid/ask candles carry the current quote.
        flat_bid = {f"{k}_dollars": bid for k in ("open", "low", "high", "close")}
        flat_ask = {f"{k}_dollars": ask for k in ("open", "low", "high", "close")}
        out = []
        for end_ts, ts in buckets:
            prices = [t.yes_price for t in ts]
            vol = sum((t.count for t in ts), Decimal(0))
            mean = sum((t.yes_price * t.count for t in ts), Decimal(0)) / vol
            out.append(
                {
                    "end_period_ts": end_ts,
                    "yes_bid": flat_bid,
                    "yes_ask": flat_ask,
                    "price": {
                        "open_dollars": dollars(prices[0]),
                        "low_dollars": dollars(min(prices)),
                        "high_dollars": dollars(max(prices)),
                        "close_dollars": dollars(prices[-1]),
                        "mean_dollars": dollars(mean),
                    },
                    "volume_fp": count(vol),
                    "open_interest_fp": count(m.open_interest),
                }
            )
        return out

    def routes(self) -> list[tuple[str, str, Callable[[Ctx], Any], bool]]:
        """(method, template, handler, needs auth)."""
        return [
            ("GET", "/exchange/status", self.exchange_status, False),
            ("GET", "/exchange/schedule", self.exchange_schedule, False),
            ("GET", "/exchange/user_data_timestamp", self.user_data_timestamp, False),
            ("GET", "/historical/cutoff", self.historical_cutoff, False),
            ("GET", "/account/limits", self.account_limits, True),
            ("GET", "/account/endpoint_costs", self.endpoint_costs, False),
            ("GET", "/series", self.series_list, False),
            ("GET", "/series/{series_ticker}", self.series_one, False),
            ("GET", "/events", self.events, False),
            ("GET", "/events/{event_ticker}", self.event_one, False),
            ("GET", "/markets", self.markets, False),
            ("GET", "/markets/trades", self.trades, False),
            ("GET", "/markets/orderbooks", self.orderbooks, False),
            ("GET", "/markets/{ticker}", self.market_one, False),
            ("GET", "/markets/{ticker}/orderbook", self.orderbook, False),
            (
                "GET",
                "/series/{series_ticker}/markets/{ticker}/candlesticks",
                self.candlesticks,
                False,
            ),
        ]
