"""``KalshiBroker``: the ``kalbot.ports.Broker`` port for live trading over the REST client."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from kalbot.adapters.kalshi import convert, numbers
from kalbot.adapters.kalshi import wire as w
from kalbot.adapters.kalshi.client import KalshiClient
from kalbot.adapters.kalshi.errors import NotFound
from kalbot.domain.market import Market
from kalbot.domain.orders import Fill, OrderAck, OrderIntent, to_v2

log = logging.getLogger(__name__)


class KalshiBroker:
    """Places limit orders through the V2 endpoints.

    ``place`` snaps the YES-leg price to the market's ``price_ranges`` (never worsening the
    intent's limit), sends the intent's ``client_order_id`` and relies on the client to retry with
    that same id and resolve a 409 to the order already placed. The broker remembers each order's
    intent so fills come back as placed ("sell YES" rather than the equivalent "buy NO").
    """

    def __init__(self, client: KalshiClient) -> None:
        self.client = client
        self._intents: dict[str, convert.Direction] = {}  # order_id -> how we placed it
        self._client_ids: dict[str, str] = {}  # order_id -> client_order_id

    async def place(self, intent: OrderIntent, market: Market) -> OrderAck:
        if intent.ticker != market.ticker:
            raise ValueError(f"intent for {intent.ticker} placed against market {market.ticker}")
        if market.is_combo:
            raise ValueError(f"{market.ticker} is a multivariate (combo) market; not traded")
        order = to_v2(intent, market.price_ranges)
        result = await self.client.create_order(order)
        if isinstance(result, w.OrderW):
            ack = convert.ack_from_order(result)
        else:
            ack = convert.ack_from_create(result, order)
        self._intents[ack.order_id] = convert.direction_of(intent)
        self._client_ids[ack.order_id] = ack.client_order_id or intent.client_order_id
        return ack

    async def cancel(self, order_id: str) -> None:
        """Cancel a resting order. An order that is already gone (a retried cancel whose first
        attempt worked, or an order that filled meanwhile) counts as cancelled; its fills, if
        any, arrive through ``fills()``."""
        try:
            await self.client.cancel_order(order_id)
        except NotFound:
            order = await self.client.order(order_id)  # NotFound here: no such order at all
            if order.status not in ("canceled", "executed"):
                raise
            log.info("order %s was already %s", order_id, order.status)

    async def _client_order_id(self, f: w.FillW) -> str:
        """Kalshi's REST fills carry no ``client_order_id``; the order does (looked up once)."""
        if f.client_order_id:
            return f.client_order_id
        known = self._client_ids.get(f.order_id)
        if known is None:
            order = await self.client.order(f.order_id)
            known = self._client_ids[f.order_id] = order.client_order_id or ""
        return known

    async def fills(self, since: datetime | None = None) -> Sequence[Fill]:
        """Our fills (oldest first), in each side's own price space, with Kalshi's fee and the
        ``client_order_id`` of the order behind each."""
        filters = {"min_ts": int(since.timestamp())} if since is not None else {}
        out = []
        async for f in self.client.iter_fills(**filters):
            fill = convert.fill(f, self._intents.get(f.order_id))
            coid = await self._client_order_id(f)
            out.append(
                replace(fill, client_order_id=coid) if coid != fill.client_order_id else fill
            )
        if since is not None:
            out = [f for f in out if f.ts >= since]  # min_ts is whole seconds
        return sorted(out, key=lambda f: f.ts)

    async def positions(self) -> dict[str, Decimal]:
        """Net signed contracts per ticker (+YES, -NO); flat markets are left out."""
        out: dict[str, Decimal] = {}
        async for p in self.client.iter_positions():
            n = convert.position(p)
            if n != 0:
                out[p.ticker] = n
        return out

    async def balance(self) -> Decimal:
        return convert.balance(await self.client.balance())

    async def resting_orders(self) -> list[OrderAck]:
        """Orders still resting on the book (for reconciliation after a restart)."""
        return [convert.ack_from_order(o) async for o in self.client.iter_orders(status="resting")]

    async def settlements(self, since: datetime | None = None) -> list[w.SettlementW]:
        filters = {"min_ts": int(since.timestamp())} if since is not None else {}
        return [s async for s in self.client.iter_settlements(**filters)]

    async def settlement_payout(self, ticker: str) -> Decimal | None:
        """What one contract of this account's position in ``ticker`` paid at settlement, from
        Kalshi's own record (``revenue`` / contracts settled), or None without a record.

        The engine asks this for a finalized market whose result it cannot read (Kalshi shows
        a voided market as ``result ""``): the exchange's record says what was paid."""
        async for s in self.client.iter_settlements(ticker=ticker):
            if s.ticker != ticker or s.revenue is None:
                continue
            yes = numbers.number(s.yes_count_fp or "0", "yes_count_fp", ticker)
            no = numbers.number(s.no_count_fp or "0", "no_count_fp", ticker)
            if yes + no > 0:
                return Decimal(s.revenue) / 100 / (yes + no)  # revenue is in cents
        return None
