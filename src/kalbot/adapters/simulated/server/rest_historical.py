"""Kalshi's historical tier: ``/historical/*`` serves what aged out of the live endpoints.

The cutoff is ``SimService.cutoff()`` (simulated now minus the live window), so data moves
from live to historical as simulated time passes: markets settled before it (and their
candlesticks), public trades and the account's fills before it, orders canceled or executed
before it, and the settled positions of events whose every market settled before it. Shapes
and statuses are ``openapi.yaml``'s (``GetMarketsResponse``, ``GetMarketResponse``,
``GetMarketCandlesticksHistoricalResponse``, ``GetFillsResponse``, ``GetOrdersResponse``,
``GetPositionsResponse``, ``GetTradesResponse``).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from kalbot.adapters.simulated.errors import EngineError
from kalbot.adapters.simulated.server import payloads
from kalbot.adapters.simulated.server.http import Ctx
from kalbot.adapters.simulated.server.rest_market import MarketRoutes, Result, _ts_param
from kalbot.adapters.simulated.server.rest_portfolio import PortfolioRoutes
from kalbot.adapters.simulated.server.service import SimService
from kalbot.adapters.simulated.server.wire import (
    WireError,
    count,
    dollars,
    paginate,
    query_list,
)
from kalbot.domain.market import Market

_MARKET_FILTERS = ("tickers", "event_ticker", "series_ticker")


def _account(ctx: Ctx) -> str:
    assert ctx.account is not None  # the route requires authentication
    return ctx.account


class HistoricalRoutes:
    def __init__(
        self, service: SimService, markets: MarketRoutes, portfolio: PortfolioRoutes
    ) -> None:
        self.s = service
        self.markets_ = markets
        self.portfolio = portfolio

    # --- markets -------------------------------------------------------------------------

    def _archived(self) -> list[Market]:
        """Markets settled before the cutoff, the most recently settled first."""
        s = self.s
        cutoff = s.cutoff()
        ex = s.exchange
        tickers = [t for t in ex.tickers() if s.market_archived(t, cutoff)]
        tickers.sort(key=lambda t: (s.settled_at[t], t), reverse=True)
        return [ex.market(t) for t in tickers]

    def _archived_market(self, ticker: str) -> Market:
        s = self.s
        try:
            m = s.exchange.market(ticker)
        except EngineError:
            m = None
        if m is None or not s.market_archived(ticker, s.cutoff()):
            raise WireError(404, "not_found", f"no historical market {ticker}")
        return m

    async def markets(self, ctx: Ctx) -> Result:
        q = ctx.query
        given = [f for f in _MARKET_FILTERS if q.get(f)]
        if len(given) > 1:
            raise WireError(
                400, "invalid_parameters", f"filters are mutually exclusive: {', '.join(given)}"
            )
        mve = q.get("mve_filter")
        if mve not in (None, "", "exclude"):
            raise WireError(400, "invalid_parameters", "mve_filter must be 'exclude'")
        # Every simulated market is a plain binary one: excluding combos removes nothing.
        tickers = set(query_list(q, "tickers") or [])
        event, series = q.get("event_ticker"), q.get("series_ticker")
        ex = self.s.exchange
        rows = []
        for m in self._archived():
            spec = ex.market_spec(m.ticker)
            if tickers and m.ticker not in tickers:
                continue
            if event and spec.event_ticker != event:
                continue
            if series and spec.series_ticker != series:
                continue
            rows.append(m)
        # MarketLimitQuery allows 0 (Kalshi then uses its default)
        params = dict(q)
        if params.get("limit") == "0":
            params.pop("limit")
        page, cursor = paginate(rows, params)
        return 200, {"markets": [self.markets_.market_json(m) for m in page], "cursor": cursor}

    async def market_one(self, ctx: Ctx) -> Result:
        m = self._archived_market(ctx.path_params["ticker"])
        return 200, {"market": self.markets_.market_json(m)}

    async def candlesticks(self, ctx: Ctx) -> Result:
        """``MarketCandlestickHistorical``: bare ``open``..``close`` dollar strings, ``volume``
        and ``open_interest``; ``price`` fields null where a period had no trade (the
        simulator only lists periods with trades, as its live candles do)."""
        ticker = ctx.path_params["ticker"]
        m = self._archived_market(ticker)
        buckets = self.markets_.candle_buckets(m, ctx.query)
        q_ = m.quote
        bid = dollars(q_.yes_bid if q_.yes_bid is not None else Decimal(0))
        ask = dollars(q_.yes_ask if q_.yes_ask is not None else Decimal(1))
        # As live: no quote history is kept, bid/ask candles carry the final quote.
        flat_bid = {k: bid for k in ("open", "low", "high", "close")}
        flat_ask = {k: ask for k in ("open", "low", "high", "close")}
        out: list[dict[str, Any]] = []
        previous: str | None = None
        for end_ts, trades in buckets:
            prices = [t.yes_price for t in trades]
            vol = sum((t.count for t in trades), Decimal(0))
            mean = sum((t.yes_price * t.count for t in trades), Decimal(0)) / vol
            close = dollars(prices[-1])
            out.append(
                {
                    "end_period_ts": end_ts,
                    "yes_bid": flat_bid,
                    "yes_ask": flat_ask,
                    "price": {
                        "open": dollars(prices[0]),
                        "low": dollars(min(prices)),
                        "high": dollars(max(prices)),
                        "close": close,
                        "mean": dollars(mean),
                        "previous": previous,
                    },
                    "volume": count(vol),
                    "open_interest": count(m.open_interest),
                }
            )
            previous = close
        return 200, {"ticker": ticker, "candlesticks": out}

    # --- public trades ---------------------------------------------------------------------

    async def trades(self, ctx: Ctx) -> Result:
        q = ctx.query
        if q.get("is_block_trade", "false").lower() == "true":
            return 200, {"trades": [], "cursor": ""}  # the simulator has no block trades
        params = dict(q)
        if params.get("limit") == "0":
            params.pop("limit")
        page, cursor = paginate(self.markets_.trade_list(q, historical=True), params)
        return 200, {"trades": [payloads.trade(t) for t in page], "cursor": cursor}

    # --- the account's archive ---------------------------------------------------------------

    async def fills(self, ctx: Ctx) -> Result:
        q = {k: v for k, v in ctx.query.items() if k in ("ticker", "max_ts", "limit", "cursor")}
        rows = self.portfolio.fill_list(_account(ctx), q, historical=True)
        page, cursor = paginate(rows, ctx.query)
        return 200, {"fills": [payloads.fill(f) for f in page], "cursor": cursor}

    async def orders(self, ctx: Ctx) -> Result:
        q = ctx.query
        s = self.s
        max_ts = _ts_param(q, "max_ts")
        cutoff = s.cutoff()
        rows = [
            o
            for o in s.exchange.orders(_account(ctx), ticker=q.get("ticker") or None)
            if s.order_archived(o, cutoff) and (max_ts is None or o.created_time <= max_ts)
        ]
        rows.reverse()  # newest first
        page, cursor = paginate(rows, q)
        return 200, {"orders": [payloads.order(o) for o in page], "cursor": cursor}

    async def positions(self, ctx: Ctx) -> Result:
        q = ctx.query
        s = self.s
        ticker, event = q.get("ticker") or None, q.get("event_ticker") or None
        cutoff = s.cutoff()
        ex = s.exchange
        settled = s.settled_positions.get(_account(ctx), {})
        archived: dict[str, bool] = {}
        rows = []
        now = s.now()
        for t, p in sorted(settled.items(), key=lambda kv: (kv[1].last_updated or now, kv[0])):
            ev = ex.market_spec(t).event_ticker
            if (ticker and t != ticker) or (event and ev != event):
                continue
            if ev not in archived:
                archived[ev] = s.event_archived(ev, cutoff)
            if archived[ev]:
                rows.append(p)
        rows.reverse()  # most recently settled first
        return 200, self.portfolio.positions_page(rows, q)

    def routes(self) -> list[tuple[str, str, Callable[[Ctx], Any], bool]]:
        """(method, template, handler, needs auth); the cutoff itself is a MarketRoutes one."""
        return [
            ("GET", "/historical/markets", self.markets, False),
            ("GET", "/historical/markets/{ticker}", self.market_one, False),
            ("GET", "/historical/markets/{ticker}/candlesticks", self.candlesticks, False),
            ("GET", "/historical/trades", self.trades, False),
            ("GET", "/historical/fills", self.fills, True),
            ("GET", "/historical/orders", self.orders, True),
            ("GET", "/historical/positions", self.positions, True),
        ]
