"""Real (small) fakes of the ports for the engine's tests: a market list, a broker, an analyst."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from kalbot.domain.context import MarketContext
from kalbot.domain.decisions import Analysis, Decision
from kalbot.domain.fees import taker_fee
from kalbot.domain.market import Market, MarketResult, MarketStatus, OrderBook
from kalbot.domain.orders import Action, Fill, OrderAck, OrderIntent, OrderStatus
from kalbot.domain.prices import Side
from kalbot.ports import Clock


class FakeMarketData:
    def __init__(self, markets: Sequence[Market]) -> None:
        self.markets = {m.ticker: m for m in markets}

    async def open_markets(self) -> AsyncIterator[Market]:
        for m in list(self.markets.values()):
            if m.status is MarketStatus.ACTIVE:
                yield m

    async def market(self, ticker: str) -> Market:
        return self.markets[ticker]

    async def orderbook(self, ticker: str) -> OrderBook:
        return OrderBook(ticker)

    def set(self, m: Market) -> None:
        self.markets[m.ticker] = m

    def settle(
        self, ticker: str, result: MarketResult, settlement_value: Decimal | None = None
    ) -> None:
        self.markets[ticker] = replace(
            self.markets[ticker],
            status=MarketStatus.FINALIZED,
            result=result,
            settlement_value=settlement_value,
        )


class FakeBroker:
    """Fills IOC orders against the market's top of book at the quote (taker fee), up to
    ``fill_ratio`` of the count; tracks cash; settlements pay $1 per winning contract."""

    def __init__(self, md: FakeMarketData, clock: Clock, cash: str = "10000") -> None:
        self.md = md
        self.clock = clock
        self.cash = Decimal(cash)
        self.placed: list[OrderIntent] = []
        self.by_coid: dict[str, OrderAck] = {}
        self._fills: list[Fill] = []
        self.fill_ratio = Decimal(1)
        self.fail_after_accept = False
        self._ids = itertools.count(1)
        self.pos: dict[str, Decimal] = {}

    async def place(self, intent: OrderIntent, market: Market) -> OrderAck:
        if intent.client_order_id in self.by_coid:
            return self.by_coid[intent.client_order_id]  # idempotent, like a 409 resolved
        self.placed.append(intent)
        m = self.md.markets[intent.ticker]
        oid = f"o{next(self._ids)}"
        if intent.action is Action.BUY:
            px = m.quote.ask(intent.side)
            ok = px is not None and px <= intent.limit_price
        else:
            px = m.quote.bid(intent.side)
            ok = px is not None and px >= intent.limit_price
        filled = Decimal(0)
        if ok and px is not None:
            filled = (intent.count * self.fill_ratio).to_integral_value()
            if filled > 0:
                fee = taker_fee(filled, px)
                sign = 1 if intent.action is Action.BUY else -1
                self.cash -= sign * filled * px + fee
                signed = filled if intent.side is Side.YES else -filled
                self.pos[intent.ticker] = self.pos.get(intent.ticker, Decimal(0)) + sign * signed
                self._fills.append(
                    Fill(
                        f"f{next(self._ids)}", oid, intent.client_order_id, intent.ticker,
                        intent.side, intent.action, filled, px, fee, True, self.clock.now(),
                    )
                )  # fmt: skip
        status = OrderStatus.EXECUTED if filled == intent.count else OrderStatus.CANCELED
        ack = OrderAck(
            oid, intent.client_order_id, intent.ticker, status, filled, intent.count - filled
        )
        self.by_coid[intent.client_order_id] = ack
        if self.fail_after_accept:
            raise ConnectionError("connection dropped after the order was accepted")
        return ack

    async def cancel(self, order_id: str) -> None:
        return None

    async def fills(self, since: datetime | None = None) -> Sequence[Fill]:
        return [f for f in self._fills if since is None or f.ts >= since]

    async def positions(self) -> dict[str, Decimal]:
        return {k: v for k, v in self.pos.items() if v != 0}

    async def balance(self) -> Decimal:
        return self.cash

    def settle(
        self, ticker: str, result: MarketResult, settlement_value: Decimal | None = None
    ) -> None:
        n = self.pos.pop(ticker, Decimal(0))
        if result is MarketResult.SCALAR:
            assert settlement_value is not None
            self.cash += n * settlement_value if n > 0 else -n * (1 - settlement_value)
        elif (n > 0 and result is MarketResult.YES) or (n < 0 and result is MarketResult.NO):
            self.cash += abs(n)


class FixedAnalyst:
    """P(YES) per ticker; raises for tickers listed in ``broken``."""

    def __init__(self, p_yes: dict[str, str], confidence: str = "0.8") -> None:
        self.p_yes = p_yes
        self.confidence = Decimal(confidence)
        self.broken: set[str] = set()
        self.calls = 0

    async def analyze(self, context: MarketContext) -> Analysis:
        self.calls += 1
        t = context.market.ticker
        if t in self.broken:
            raise RuntimeError("model exploded")
        p = self.p_yes.get(t)
        return Analysis(
            ticker=t,
            probability_yes=None if p is None else Decimal(p),
            decision=Decision.SKIP if p is None else Decision.OPEN_YES,
            confidence=self.confidence,
            rationale="fixed",
            provider="fixed",
            model="fixed",
            error=None if p is not None else "no_view",
        )
