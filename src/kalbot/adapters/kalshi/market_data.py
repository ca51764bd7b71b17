"""``KalshiMarketData``: the ``kalbot.ports.MarketData`` port over the REST client."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from kalbot.adapters.kalshi import convert
from kalbot.adapters.kalshi import wire as w
from kalbot.adapters.kalshi.client import KalshiClient
from kalbot.adapters.kalshi.errors import NotFound, WireError
from kalbot.domain.market import Market, OrderBook
from kalbot.domain.prices import PriceError

log = logging.getLogger(__name__)


class KalshiMarketData:
    """Open markets with their series' category and fee terms filled in (series are cached).

    A market whose payload is malformed is logged and skipped by ``open_markets`` (one bad
    market must not stop the scan); ``market(ticker)`` raises instead.
    """

    def __init__(self, client: KalshiClient, *, page_size: int = 1000, **filters: str) -> None:
        self.client = client
        self.page_size = page_size
        # combos are most of Kalshi's open markets and the bot never trades them
        self.filters = {"mve_filter": "exclude", **filters}  # e.g. series_ticker=...
        self._series: dict[str, w.SeriesW | None] = {}
        self.skipped = 0

    async def series(self, series_ticker: str) -> w.SeriesW | None:
        """The series, fetched once; a series the exchange does not know is cached as None."""
        if series_ticker not in self._series:
            try:
                self._series[series_ticker] = await self.client.series(series_ticker)
            except NotFound:
                self._series[series_ticker] = None
        return self._series[series_ticker]

    async def _to_domain(self, m: w.MarketW) -> Market:
        series_ticker = convert.series_ticker_of(m.event_ticker)
        series = await self.series(series_ticker) if series_ticker else None
        return convert.market(m, series=series, series_ticker=series_ticker)

    async def open_markets(self) -> AsyncIterator[Market]:
        async for m in self.client.iter_markets(
            limit=self.page_size, status="open", **self.filters
        ):
            try:
                yield await self._to_domain(m)
            except (PriceError, WireError) as e:
                self.skipped += 1
                log.warning("skipping malformed market %s: %s", m.ticker, e)

    async def market(self, ticker: str) -> Market:
        """One market, open or not; one settled before the historical cutoff is looked up in
        ``/historical/markets`` (the engine asks for results of markets that left the scan)."""
        try:
            wire_market = await self.client.market(ticker)
        except NotFound:
            try:
                wire_market = await self.client.historical_market(ticker)
            except NotFound:
                raise NotFound(
                    f"market {ticker} not found (live or historical)", status=404
                ) from None
        return await self._to_domain(wire_market)

    async def orderbook(self, ticker: str) -> OrderBook:
        return convert.orderbook(ticker, await self.client.orderbook(ticker))
