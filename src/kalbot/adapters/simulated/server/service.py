"""The running simulated exchange: engine, clock, accounts, event fan-out and the schedule.

``SimService`` owns one ``Exchange``. After every request and on every tick it drains the
engine's events into the WebSocket hub, and on each tick it lets time do its work: orders
expire, markets open and close, and closed markets with a known result settle
``settlement_delay`` of simulated time after their close.

Data older than the historical cutoff (``now - live_window``, so it moves with the simulated
clock) leaves the live endpoints for ``/historical/*``, as on Kalshi: markets settled before it
(and their candlesticks), trades and fills before it, orders finished (canceled or executed)
before it, and the settled positions of events whose every market settled before it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from kalbot.adapters.simulated.errors import EngineError
from kalbot.adapters.simulated.events import (
    BookDelta,
    EngineEvent,
    FillEvent,
    MarketEvent,
    OrderEvent,
    PositionEvent,
    SettlementEvent,
    TradeEvent,
)
from kalbot.adapters.simulated.exchange import Exchange
from kalbot.adapters.simulated.records import OrderView, PositionView
from kalbot.adapters.simulated.server import payloads
from kalbot.adapters.simulated.server.faults import FaultInjector
from kalbot.adapters.simulated.server.wire import count, dollars, rfc3339, unix_ms, unix_s
from kalbot.adapters.simulated.server.ws import Hub, Levels
from kalbot.domain.market import MarketResult, MarketStatus
from kalbot.domain.orders import OrderStatus

log = logging.getLogger(__name__)

# Called on every tick with the simulated time: scenario drivers (market makers, noise traders,
# replayed quotes) act on the exchange here.
Driver = Callable[[Exchange, datetime], None]


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    settlement_delay: timedelta = timedelta(minutes=5)
    tick_seconds: float = 0.05  # real seconds between ticks
    # How far back the live endpoints reach; older data is served by /historical/* only.
    # Kalshi's target is about three months.
    live_window: timedelta = timedelta(days=90)


class _Books:
    """The hub's view of the exchange's books."""

    def __init__(self, exchange: Exchange) -> None:
        self._ex = exchange

    def has_market(self, ticker: str) -> bool:
        try:
            self._ex.market_spec(ticker)
        except EngineError:
            return False
        return True

    def market_id(self, ticker: str) -> str:
        return payloads.market_id(ticker)

    def book_levels(self, ticker: str) -> tuple[Levels, Levels]:
        book = self._ex.orderbook(ticker)
        return dict(book.yes), dict(book.no)


class SimService:
    def __init__(
        self,
        exchange: Exchange,
        *,
        config: ServiceConfig | None = None,
        faults: FaultInjector | None = None,
        driver: Driver | None = None,
        ws_tap: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.exchange = exchange
        self.config = config or ServiceConfig()
        self.faults = faults or FaultInjector()
        self.driver = driver
        self.ws_tap = ws_tap
        self.listed_at: dict[str, datetime] = {}
        self.settled_at: dict[str, datetime] = {}
        self._volume: dict[tuple[str, str], Decimal] = {}
        self._events: list[EngineEvent] = []
        self._touched: set[str] = set()
        self._unsettled: set[str] = set()
        self._known = 0
        self._last_trade_size: dict[str, Decimal] = {}
        self._last_position: dict[tuple[str, str], PositionView] = {}
        # account -> ticker -> the position as it was closed by settlement (Kalshi keeps
        # settled positions; the engine forgets them once paid)
        self.settled_positions: dict[str, dict[str, PositionView]] = {}
        self.hub = Hub(_Books(exchange), self.now_ms, self.now_iso, self.ticker_msg)
        exchange.subscribe(self._events.append)
        now = self.now()
        for t in exchange.tickers():
            self.listed_at[t] = now
        self._task: asyncio.Task[None] | None = None

    # --- time ----------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.exchange.clock.now()

    def now_ms(self) -> int:
        return unix_ms(self.now())

    def now_iso(self) -> str:
        return rfc3339(self.now())

    # --- live vs historical -------------------------------------------------------------

    def cutoff(self) -> datetime:
        """The boundary between live and historical data (``GET /historical/cutoff``)."""
        return self.now() - self.config.live_window

    def market_archived(self, ticker: str, cutoff: datetime) -> bool:
        """Settled before ``cutoff``: served by ``/historical/markets`` only."""
        settled = self.settled_at.get(ticker)
        return settled is not None and settled < cutoff

    @staticmethod
    def order_archived(o: OrderView, cutoff: datetime) -> bool:
        """Canceled or executed before ``cutoff`` (resting orders are always live)."""
        return o.status is not OrderStatus.RESTING and o.last_update_time < cutoff

    def event_archived(self, event_ticker: str, cutoff: datetime) -> bool:
        """Every market of the event settled before ``cutoff``: its positions are archived
        together (never split between live and historical)."""
        ex = self.exchange
        tickers = [t for t in ex.tickers() if ex.market_spec(t).event_ticker == event_ticker]
        return bool(tickers) and all(self.market_archived(t, cutoff) for t in tickers)

    def tick(self) -> None:
        """Let simulated time act: scenario flow, expiries, closes, settlements; then publish."""
        now = self.exchange.advance()
        if self.driver is not None:
            try:
                self.driver(self.exchange, now)
            except Exception:  # a misbehaving scenario must not stop the exchange
                log.exception("scenario driver failed")
        self._settle_due(now)
        self.flush()

    def _settle_due(self, now: datetime) -> None:
        ex = self.exchange
        tickers = ex.tickers()
        if len(tickers) != self._known:  # markets listed since the last look
            self._known = len(tickers)
            self._unsettled.update(t for t in tickers if t not in self.settled_at)
        for t in list(self._unsettled):
            status = ex.market_status(t)
            if status is MarketStatus.FINALIZED:
                self._unsettled.discard(t)
                continue
            if status is not MarketStatus.CLOSED:
                continue
            result = ex.market_spec(t).expected_result
            if result not in {MarketResult.YES, MarketResult.NO, MarketResult.VOID}:
                continue  # no known result: stays closed, as a market awaiting determination
            if now >= ex.market(t).close_time + self.config.settlement_delay:
                assert result is not None
                ex.settle(t, result)
                self.settled_at[t] = now
                self._unsettled.discard(t)

    async def run(self) -> None:
        while True:
            try:
                self.tick()
            except Exception:
                log.exception("simulated exchange tick failed")
            await asyncio.sleep(self.config.tick_seconds)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self.run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    # --- events --------------------------------------------------------------------------

    def flush(self) -> None:
        """Turn the engine events queued since the last flush into WebSocket messages."""
        events, self._events[:] = list(self._events), []
        hub = self.hub
        for ev in events:
            if isinstance(ev, BookDelta):
                self._touched.add(ev.ticker)
                if ev.account_id and ev.client_order_id:
                    # Kalshi tells only the order's owner which of its orders moved the level.
                    hub.cause[(ev.ticker, ev.side.value, ev.price)] = (
                        ev.account_id,
                        ev.client_order_id,
                    )
            elif isinstance(ev, TradeEvent):
                hub.publish("trade", "trade", payloads.ws_trade(ev.trade), ticker=ev.trade.ticker)
                self._last_trade_size[ev.trade.ticker] = ev.trade.count
                self._touched.add(ev.trade.ticker)
            elif isinstance(ev, FillEvent):
                f = ev.fill
                key = (f.account_id, f.ticker)
                self._volume[key] = self._volume.get(key, Decimal(0)) + f.count
                hub.publish(
                    "fill", "fill", payloads.ws_fill(f), ticker=f.ticker, account=f.account_id
                )
            elif isinstance(ev, OrderEvent):
                o = ev.order
                hub.publish(
                    "user_orders", "user_order", payloads.user_order(o), ticker=o.ticker,
                    account=o.account_id,
                )  # fmt: skip
            elif isinstance(ev, PositionEvent):
                p = ev.position
                self._last_position[(ev.account_id, p.ticker)] = p
                vol = self._volume.get((ev.account_id, p.ticker), Decimal(0))
                msg = payloads.ws_position(ev.account_id, p, vol)
                hub.publish(
                    "market_positions", "market_position", msg, ticker=p.ticker,
                    account=ev.account_id,
                )  # fmt: skip
            elif isinstance(ev, MarketEvent):
                if ev.event_type.value == "created":
                    self.listed_at.setdefault(ev.ticker, ev.ts)
                if ev.event_type.value == "settled":
                    self.settled_at.setdefault(ev.ticker, ev.ts)
                hub.publish("market_lifecycle_v2", "market_lifecycle_v2", self._lifecycle(ev),
                            ticker=ev.ticker)  # fmt: skip
                self._touched.add(ev.ticker)
            elif isinstance(ev, SettlementEvent):
                # settlements are read over REST; the lifecycle message announces them
                self._keep_settled_position(ev)
        for t in sorted(self._touched):
            hub.book_changed(t)
            self._ticker(t)
        self._touched.clear()
        hub.cause.clear()

    def _keep_settled_position(self, ev: SettlementEvent) -> None:
        s = ev.settlement
        last = self._last_position.pop((s.account_id, s.ticker), None)
        cost = s.yes_total_cost + s.no_total_cost
        zero = Decimal(0)
        self.settled_positions.setdefault(s.account_id, {})[s.ticker] = PositionView(
            ticker=s.ticker,
            position=zero,
            market_exposure=zero,
            # what trading realised, plus what settlement paid beyond the held contracts' cost
            realized_pnl=(last.realized_pnl if last else zero) + s.revenue - cost,
            fees_paid=(last.fees_paid if last else zero) + s.fee_cost,
            total_traded=last.total_traded if last else zero,
            last_updated=s.settled_time,
        )

    def _lifecycle(self, ev: MarketEvent) -> dict[str, Any]:
        msg: dict[str, Any] = {"event_type": ev.event_type.value, "market_ticker": ev.ticker}
        kind = ev.event_type.value
        if kind == "created":
            spec = self.exchange.market_spec(ev.ticker)
            msg["exchange_index"] = 0
            msg["open_ts"] = unix_s(spec.open_time or ev.ts)
            msg["close_ts"] = unix_s(spec.close_time)
        elif kind == "close_date_updated" and ev.close_time is not None:
            msg["close_ts"] = unix_s(ev.close_time)
        elif kind == "determined" and ev.result is not None:
            msg["result"] = ev.result.value
            msg["determination_ts"] = unix_s(ev.ts)
        elif kind == "settled":
            if ev.result is not None:
                msg["result"] = ev.result.value
                if ev.result in {MarketResult.YES, MarketResult.NO}:
                    # a void has no per-contract value: holders are refunded at cost
                    msg["settlement_value"] = dollars(
                        Decimal(1) if ev.result is MarketResult.YES else Decimal(0)
                    )
            msg["settled_ts"] = unix_s(ev.ts)
        elif kind in {"activated", "deactivated"}:
            msg["is_deactivated"] = kind == "deactivated"
        return msg

    def _ticker(self, ticker: str) -> None:
        if any(
            sub.channel == "ticker" and sub.matches(ticker)
            for s in self.hub.sessions
            for sub in s.subs.values()
        ):
            self.hub.publish("ticker", "ticker", self.ticker_msg(ticker), ticker=ticker)

    def ticker_msg(self, ticker: str) -> dict[str, Any]:
        """The ``ticker`` message body for one market as it stands now."""
        m = self.exchange.market(ticker)
        q = m.quote
        last = m.last_price if m.last_price is not None else Decimal(0)
        now = self.now()
        last_size = self._last_trade_size.get(ticker, Decimal(0))
        return {
            "market_ticker": ticker,
            "market_id": payloads.market_id(ticker),
            "price_dollars": dollars(last),
            "yes_bid_dollars": dollars(q.yes_bid if q.yes_bid is not None else Decimal(0)),
            "yes_ask_dollars": dollars(q.yes_ask if q.yes_ask is not None else Decimal(1)),
            "yes_bid_size_fp": count(q.yes_bid_size),
            "yes_ask_size_fp": count(q.yes_ask_size),
            "last_trade_size_fp": count(last_size),
            "volume_fp": count(m.volume),
            "open_interest_fp": count(m.open_interest),
            "dollar_volume": int(m.volume * last),
            "dollar_open_interest": int(m.open_interest * last),
            "ts": unix_s(now),
            "ts_ms": unix_ms(now),
            "time": rfc3339(now),
        }
