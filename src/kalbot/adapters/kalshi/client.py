"""The async REST client: every endpoint of REFERENCE §4 the bot uses, over ``KalshiHttp``.

Every method returns wire models (``kalbot.adapters.kalshi.wire``); ``convert`` turns them into
domain objects. Errors are mapped once, in ``KalshiHttp._send``, to the types in ``errors``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from kalbot.adapters.kalshi import wire as w
from kalbot.adapters.kalshi.convert import v2_body
from kalbot.adapters.kalshi.errors import DuplicateOrder, NotFound
from kalbot.adapters.kalshi.ratelimit import CANCEL_COST, DEFAULT_COST
from kalbot.adapters.kalshi.transport import KalshiHttp, Params
from kalbot.domain.orders import V2Order
from kalbot.domain.prices import format_count, format_dollars

log = logging.getLogger(__name__)

__all__ = ["KalshiClient", "Params"]


class KalshiClient(KalshiHttp):
    """Async client for one exchange (production, demo, or any base URL such as the simulator).

    Construct with ``KalshiClient(endpoints_or_base_url, signer=..., transport=..., limiter=...)``
    or ``KalshiClient.from_settings(settings.kalshi)``; see ``KalshiHttp`` for the options.
    """

    # ---- exchange ----------------------------------------------------------------------------

    async def exchange_status(self) -> w.ExchangeStatusW:
        return await self._get("/exchange/status", w.ExchangeStatusW)

    async def exchange_schedule(self) -> w.ScheduleW:
        return (await self._get("/exchange/schedule", w.ScheduleResponseW)).schedule

    # ---- market data -------------------------------------------------------------------------

    async def series(self, series_ticker: str) -> w.SeriesW:
        return (await self._get(f"/series/{series_ticker}", w.SeriesResponseW)).series

    async def series_list(
        self, *, category: str | None = None, tags: str | None = None
    ) -> list[w.SeriesW]:
        page = await self._get("/series", w.SeriesListW, {"category": category, "tags": tags})
        return page.series

    async def events(self, **filters: Any) -> w.EventsPageW:
        """One page of ``GET /events`` (filters: status, series_ticker, with_nested_markets...)."""
        return await self._get("/events", w.EventsPageW, filters)

    async def iter_events(
        self, *, limit: int | None = 200, **filters: Any
    ) -> AsyncIterator[w.EventW]:
        async for page in self._pages("/events", w.EventsPageW, filters, limit):
            for event in page.events:
                yield event

    async def event(
        self, event_ticker: str, *, with_nested_markets: bool = True
    ) -> w.EventResponseW:
        return await self._get(
            f"/events/{event_ticker}",
            w.EventResponseW,
            {"with_nested_markets": with_nested_markets},
        )

    async def markets(self, **filters: Any) -> w.MarketsPageW:
        """One page of ``GET /markets``. Filters of REFERENCE §4.2: status (unopened|open|paused|
        closed|settled), series_ticker, event_ticker, tickers, min/max_close_ts, mve_filter, ..."""
        return await self._get("/markets", w.MarketsPageW, filters)

    async def iter_markets(
        self, *, limit: int | None = 1000, **filters: Any
    ) -> AsyncIterator[w.MarketW]:
        """Every market matching the filters, following cursors."""
        async for page in self._pages("/markets", w.MarketsPageW, filters, limit):
            for m in page.markets:
                yield m

    async def market(self, ticker: str) -> w.MarketW:
        return (await self._get(f"/markets/{ticker}", w.MarketResponseW)).market

    async def historical_market(self, ticker: str) -> w.MarketW:
        return (await self._get(f"/historical/markets/{ticker}", w.MarketResponseW)).market

    async def iter_historical_markets(
        self, *, limit: int | None = 1000, **filters: Any
    ) -> AsyncIterator[w.MarketW]:
        """Every market of ``GET /historical/markets`` (settled before the cutoff), following
        cursors. Filters (openapi ``GetHistoricalMarkets``): series_ticker, event_ticker,
        tickers, mve_filter; there is no time filter, so callers filter by close time."""
        async for page in self._pages("/historical/markets", w.MarketsPageW, filters, limit):
            for m in page.markets:
                yield m

    async def orderbook(self, ticker: str, *, depth: int | None = None) -> w.OrderbookResponseW:
        return await self._get(
            f"/markets/{ticker}/orderbook", w.OrderbookResponseW, {"depth": depth}
        )

    async def historical_cutoff(self, *, refresh: bool = False) -> w.HistoricalCutoffW:
        if self._cutoff is None or refresh:
            self._cutoff = await self._get("/historical/cutoff", w.HistoricalCutoffW)
        return self._cutoff

    async def candlesticks(
        self,
        series_ticker: str,
        ticker: str,
        *,
        start_ts: int,
        end_ts: int,
        period_interval: int = 60,
        settled_time: datetime | None = None,
    ) -> list[w.CandleW]:
        """Candles of one market. A market that settled before ``GET /historical/cutoff`` is
        only served by ``/historical/markets/{ticker}/candlesticks`` (REFERENCE §0.9)."""
        params = _candle_params(start_ts, end_ts, period_interval)
        if settled_time is not None:
            cutoff = (await self.historical_cutoff()).market_settled_ts
            if cutoff is not None and settled_time < cutoff:
                return await self.historical_candlesticks(
                    ticker, start_ts=start_ts, end_ts=end_ts, period_interval=period_interval
                )
        path = f"/series/{series_ticker}/markets/{ticker}/candlesticks"
        return (await self._get(path, w.CandlesResponseW, params)).candlesticks

    async def historical_candlesticks(
        self, ticker: str, *, start_ts: int, end_ts: int, period_interval: int = 60
    ) -> list[w.CandleW]:
        """Candles of a market of the historical tier (``/historical/markets/{ticker}/...``)."""
        params = _candle_params(start_ts, end_ts, period_interval)
        path = f"/historical/markets/{ticker}/candlesticks"
        return (await self._get(path, w.CandlesResponseW, params)).candlesticks

    async def batch_candlesticks(
        self, tickers: Sequence[str], *, start_ts: int, end_ts: int, period_interval: int = 60
    ) -> dict[str, list[w.CandleW]]:
        if not 1 <= len(tickers) <= 100:
            raise ValueError("batch candlesticks take 1 to 100 tickers")
        page = await self._get(
            "/markets/candlesticks",
            w.BatchCandlesResponseW,
            {
                "market_tickers": list(tickers),
                "start_ts": start_ts,
                "end_ts": end_ts,
                "period_interval": period_interval,
            },
        )
        return {m.market_ticker: m.candlesticks for m in page.markets}

    async def iter_trades(
        self, *, limit: int | None = 1000, historical: bool = False, **filters: Any
    ) -> AsyncIterator[w.TradeW]:
        """Public trades (filters: ticker, min_ts, max_ts); ``historical`` reads the archive."""
        path = "/historical/trades" if historical else "/markets/trades"
        async for page in self._pages(path, w.TradesPageW, filters, limit):
            for t in page.trades:
                yield t

    # ---- portfolio (authenticated) -----------------------------------------------------------

    async def balance(self) -> w.BalanceW:
        return await self._get("/portfolio/balance", w.BalanceW)

    async def iter_positions(
        self, *, limit: int | None = 1000, **filters: Any
    ) -> AsyncIterator[w.MarketPositionW]:
        async for page in self._pages("/portfolio/positions", w.PositionsPageW, filters, limit):
            for p in page.market_positions:
                yield p

    async def iter_orders(
        self, *, limit: int | None = 1000, **filters: Any
    ) -> AsyncIterator[w.OrderW]:
        """Orders (filters: ticker, event_ticker, status resting|canceled|executed, min/max_ts)."""
        async for page in self._pages("/portfolio/orders", w.OrdersPageW, filters, limit):
            for o in page.orders:
                yield o

    async def order(self, order_id: str) -> w.OrderW:
        return (await self._get(f"/portfolio/orders/{order_id}", w.OrderResponseW)).order

    async def iter_fills(
        self, *, limit: int | None = 1000, **filters: Any
    ) -> AsyncIterator[w.FillW]:
        """Our fills (filters: ticker, order_id, min_ts, max_ts as Unix seconds)."""
        async for page in self._pages("/portfolio/fills", w.FillsPageW, filters, limit):
            for f in page.fills:
                yield f

    async def iter_settlements(
        self, *, limit: int | None = 1000, **filters: Any
    ) -> AsyncIterator[w.SettlementW]:
        async for page in self._pages("/portfolio/settlements", w.SettlementsPageW, filters, limit):
            for s in page.settlements:
                yield s

    # ---- orders (V2 writes) ------------------------------------------------------------------

    async def find_order(self, ticker: str, client_order_id: str) -> w.OrderW | None:
        """The order we placed with this ``client_order_id``, if the exchange knows it; orders
        finished before the historical cutoff are only listed by ``/historical/orders``."""
        async for o in self.iter_orders(ticker=ticker):
            if o.client_order_id == client_order_id:
                return o
        try:
            async for page in self._pages(
                "/historical/orders", w.OrdersPageW, {"ticker": ticker}, 1000
            ):
                for o in page.orders:
                    if o.client_order_id == client_order_id:
                        return o
        except NotFound:  # an exchange that serves no historical archive
            pass
        return None

    async def create_order(self, order: V2Order) -> w.CreateOrderResponseW | w.OrderW:
        """Place one limit order. Safe to retry: the ``client_order_id`` makes a repeat a 409,
        which resolves to the order already placed (an ``OrderW``), never to a second order."""
        body = v2_body(order)
        try:
            response = await self._send("POST", "/portfolio/events/orders", body=body, write=True)
        except DuplicateOrder:
            existing = await self.find_order(order.ticker, order.client_order_id)
            if existing is None:
                raise
            log.info("order %s was already placed as %s", order.client_order_id, existing.order_id)
            return existing
        return self._parse(response, w.CreateOrderResponseW)

    async def batch_create_orders(self, orders: Sequence[V2Order]) -> w.BatchCreateResponseW:
        """Place several orders at once; per-order errors come back in each item's ``error``."""
        if not orders:
            raise ValueError("no orders to place")
        response = await self._send(
            "POST",
            "/portfolio/events/orders/batched",
            body={"orders": [v2_body(o) for o in orders]},
            write=True,
            cost=DEFAULT_COST * len(orders),
        )
        return self._parse(response, w.BatchCreateResponseW)

    async def cancel_order(
        self, order_id: str, *, ticker: str | None = None
    ) -> w.CancelOrderResponseW:
        response = await self._send(
            "DELETE",
            f"/portfolio/events/orders/{order_id}",
            params={"market_ticker": ticker},
            write=True,
            cost=CANCEL_COST,
        )
        return self._parse(response, w.CancelOrderResponseW)

    async def batch_cancel_orders(self, order_ids: Sequence[str]) -> w.BatchCancelResponseW:
        if not order_ids:
            raise ValueError("no orders to cancel")
        response = await self._send(
            "DELETE",
            "/portfolio/events/orders/batched",
            body={"orders": [{"order_id": oid} for oid in order_ids]},
            write=True,
            cost=CANCEL_COST * len(order_ids),
        )
        return self._parse(response, w.BatchCancelResponseW)

    async def amend_order(
        self,
        order_id: str,
        order: V2Order,
        *,
        updated_client_order_id: str | None = None,
    ) -> w.AmendOrderResponseW:
        """Change price and/or size; ``order.count`` is the total max fillable (filled + rest).
        Retried on transient failures: amending to the same target twice is harmless."""
        body = {
            "ticker": order.ticker,
            "side": order.book_side.value,
            "price": format_dollars(order.price),
            "count": format_count(order.count),
            "client_order_id": order.client_order_id,
        }
        if updated_client_order_id:
            body["updated_client_order_id"] = updated_client_order_id
        response = await self._send(
            "POST", f"/portfolio/events/orders/{order_id}/amend", body=body, write=True
        )
        return self._parse(response, w.AmendOrderResponseW)

    async def decrease_order(
        self, order_id: str, *, reduce_by: Decimal | None = None, reduce_to: Decimal | None = None
    ) -> w.DecreaseOrderResponseW:
        """Shrink a resting order. ``reduce_to`` is idempotent and retried; ``reduce_by`` is not
        (a repeat would shrink twice), so it is sent once."""
        if (reduce_by is None) == (reduce_to is None):
            raise ValueError("give exactly one of reduce_by and reduce_to")
        if reduce_by is not None:
            body = {"reduce_by": format_count(reduce_by)}
        else:
            assert reduce_to is not None
            body = {"reduce_to": format_count(reduce_to)}
        response = await self._send(
            "POST",
            f"/portfolio/events/orders/{order_id}/decrease",
            body=body,
            write=True,
            retry=reduce_to is not None,
        )
        return self._parse(response, w.DecreaseOrderResponseW)


def _candle_params(start_ts: int, end_ts: int, period_interval: int) -> Params:
    if period_interval not in (1, 60, 1440):
        raise ValueError("period_interval must be 1, 60 or 1440 minutes")
    return {"start_ts": start_ts, "end_ts": end_ts, "period_interval": period_interval}
