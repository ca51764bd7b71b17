"""Paper trading over the in-process exchange: ``kalbot.ports.Broker`` and ``MarketData``.

The same ``Exchange`` serves backtests (replay clock, quote-driven markets with a fill model)
and paper trading (system clock). Orders go in as V2 orders exactly as the live broker sends
them (``to_v2``: YES-leg price, ``bid``/``ask``), so paper and live differ only in the venue.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from decimal import Decimal

from kalbot.adapters.simulated.errors import EngineError, ErrorCode
from kalbot.adapters.simulated.exchange import Exchange
from kalbot.adapters.simulated.records import FillRecord, OrderView, SelfTradePrevention
from kalbot.domain.market import Market, MarketStatus, OrderBook
from kalbot.domain.orders import Action, Fill, OrderAck, OrderIntent, to_v2
from kalbot.domain.prices import Side


class SimulatedBroker:
    """A ``Broker`` for one account of an in-process ``Exchange``.

    Refusals raise ``EngineError`` (``.code`` is the Kalshi-style code). Placing a
    ``client_order_id`` again returns the first order's acknowledgement instead of a second
    order, as resolving Kalshi's 409 would.
    """

    def __init__(
        self,
        exchange: Exchange,
        account_id: str,
        *,
        self_trade_prevention: SelfTradePrevention = SelfTradePrevention.TAKER_AT_CROSS,
    ) -> None:
        self.exchange = exchange
        self.account_id = account_id
        self._stp = self_trade_prevention
        self._intents: dict[str, tuple[Side, Action]] = {}

    async def place(self, intent: OrderIntent, market: Market) -> OrderAck:
        ranges = self.exchange.market_spec(intent.ticker).price_ranges or market.price_ranges
        v2 = to_v2(intent, ranges)
        try:
            result = self.exchange.place(self.account_id, v2, self_trade_prevention=self._stp)
        except EngineError as e:
            if e.code is ErrorCode.DUPLICATE_CLIENT_ORDER_ID and intent.client_order_id:
                return _ack(
                    self.exchange.order_by_client_id(self.account_id, intent.client_order_id)
                )
            raise
        self._intents[result.order.order_id] = (intent.side, intent.action)
        return _ack(result.order)

    async def cancel(self, order_id: str) -> None:
        self.exchange.cancel(self.account_id, order_id)

    async def fills(self, since: datetime | None = None) -> Sequence[Fill]:
        return [self._fill(f) for f in self.exchange.fills(self.account_id, since=since)]

    async def positions(self) -> dict[str, Decimal]:
        """Net position per ticker: positive YES contracts, negative NO contracts."""
        return {
            p.ticker: p.position
            for p in self.exchange.positions(self.account_id)
            if p.position != 0
        }

    async def balance(self) -> Decimal:
        """Cash not held back by resting orders (what new orders may spend)."""
        return self.exchange.available_balance(self.account_id)

    def _fill(self, f: FillRecord) -> Fill:
        side, action = self._intents.get(f.order_id, (f.outcome_side, Action.BUY))
        return Fill(
            fill_id=f.fill_id,
            order_id=f.order_id,
            client_order_id=f.client_order_id,
            ticker=f.ticker,
            side=side,
            action=action,
            count=f.count,
            price=f.yes_price if side is Side.YES else f.no_price,
            fee=f.fee,
            is_taker=f.is_taker,
            ts=f.ts,
        )


def _ack(order: OrderView) -> OrderAck:
    return OrderAck(
        order_id=order.order_id,
        client_order_id=order.client_order_id,
        ticker=order.ticker,
        status=order.status,
        filled_count=order.fill_count,
        remaining_count=order.remaining_count,
    )


class ExchangeMarketData:
    """``MarketData`` read straight from an in-process ``Exchange``."""

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange

    async def open_markets(self) -> AsyncIterator[Market]:
        for market in self.exchange.markets(MarketStatus.ACTIVE):
            yield market

    async def open_market_list(self) -> list[Market]:
        """``open_markets`` as one list (the engine's batch read: no step per market)."""
        return self.exchange.markets(MarketStatus.ACTIVE)

    async def market(self, ticker: str) -> Market:
        return self.exchange.market(ticker)

    async def orderbook(self, ticker: str) -> OrderBook:
        return self.exchange.orderbook(ticker)
