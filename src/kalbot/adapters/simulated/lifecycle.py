"""Markets' lifecycle on the exchange: listing, open/close on schedule, pauses, settlement,
and the public market-data views (``Market``, ``OrderBook``, ``Quote``)."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal

from kalbot.adapters.simulated.book import Book, BookLeg, Leg
from kalbot.adapters.simulated.errors import EngineError, ErrorCode
from kalbot.adapters.simulated.events import LifecycleType, MarketEvent, SettlementEvent
from kalbot.adapters.simulated.markets import MarketSpec, MarketState, fee_cache_for
from kalbot.adapters.simulated.matching import Fill, Matcher
from kalbot.adapters.simulated.records import SettlementRecord
from kalbot.adapters.simulated.units import (
    ONE_TICKS,
    PRICE_SCALE,
    money_to_dollars,
    price_to_ticks,
    ticks_to_price,
    units_to_count,
)
from kalbot.domain.market import Market, MarketResult, MarketStatus, OrderBook, Quote
from kalbot.domain.orders import OrderStatus
from kalbot.ports import Clock

_OPEN, _CLOSE = 0, 1
_NO_COUNT = units_to_count(0)  # shared: a market's counts are mostly zero
_AFTER_CLOSE = {
    MarketStatus.CLOSED,
    MarketStatus.DETERMINED,
    MarketStatus.DISPUTED,
    MarketStatus.AMENDED,
    MarketStatus.FINALIZED,
}


class Lifecycle(Matcher):
    clock: Clock

    def __init__(self, book_leg: Callable[[], Leg] = BookLeg) -> None:
        super().__init__()
        self._book_leg = book_leg
        self._settlements: dict[str, list[SettlementRecord]] = {}
        self._schedule: list[tuple[datetime, int, str, int]] = []
        self._last_fills: Sequence[Fill] = []
        # Each market's last view and the state it was built from: a market whose state has
        # not changed is shown as the same (immutable) ``Market`` instead of a rebuilt one.
        self._views: dict[str, tuple[tuple[object, ...], Market]] = {}
        # Recorded (volume_24h, open_interest) of quote-driven markets (see ``Tape``).
        self._recorded: dict[str, tuple[Decimal, Decimal]] = {}

    # -- listing -------------------------------------------------------------------------------
    def add_market(self, spec: MarketSpec) -> None:
        """List a market; it opens at ``open_time`` (or now) and closes at ``close_time``."""
        if spec.ticker in self._markets:
            raise EngineError(ErrorCode.MARKET_EXISTS, f"market {spec.ticker} exists")
        now = self.clock.now()
        if spec.open_time is not None and spec.open_time > now:
            status = MarketStatus.INITIALIZED
        elif spec.close_time <= now:
            status = MarketStatus.CLOSED
        else:
            status = MarketStatus.ACTIVE
        state = MarketState(
            spec=spec, status=status, close_time=spec.close_time, fee_cache=fee_cache_for(spec)
        )
        self._markets[spec.ticker] = state
        self._books[spec.ticker] = Book(spec.ticker, self._book_leg)
        if status is MarketStatus.INITIALIZED and spec.open_time is not None:
            self._push(spec.open_time, spec.ticker, _OPEN)
        if status is not MarketStatus.CLOSED:
            self._push(spec.close_time, spec.ticker, _CLOSE)
        if self._listeners:
            self._emit(MarketEvent(spec.ticker, LifecycleType.CREATED, status, now))

    def tickers(self) -> list[str]:
        return list(self._markets)

    def market_spec(self, ticker: str) -> MarketSpec:
        return self._market(ticker).spec

    def market_status(self, ticker: str) -> MarketStatus:
        self._sync()
        return self._market(ticker).status

    def market(self, ticker: str) -> Market:
        """The market as a trader sees it: status, top of book, volume, result."""
        self._sync()
        return self._view(self._market(ticker))

    def markets(self, status: MarketStatus | None = None) -> list[Market]:
        self._sync()
        view = self._view
        return [view(m) for m in self._markets.values() if status is None or m.status is status]

    def quote(self, ticker: str) -> Quote:
        self._sync()
        self._market(ticker)
        return self._quote(ticker)

    def orderbook(self, ticker: str, depth: int = 0) -> OrderBook:
        """Both legs' bids in their own prices; ``depth`` > 0 keeps the best levels only."""
        self._sync()
        self._market(ticker)
        book = self._books[ticker]
        out = OrderBook(ticker)
        for leg, target in ((book.yes, out.yes), (book.no, out.no)):
            levels = leg.depth()
            for price, size in levels[:depth] if depth > 0 else levels:
                target[ticks_to_price(price)] = units_to_count(size)
        return out

    # -- lifecycle -----------------------------------------------------------------------------
    def pause(self, ticker: str) -> None:
        """Trading pause: the market goes ``inactive``; every order operation is refused."""
        now = self._sync()
        m = self._market(ticker)
        if m.status is MarketStatus.ACTIVE:
            m.status = MarketStatus.INACTIVE
            if self._listeners:
                self._emit(MarketEvent(ticker, LifecycleType.DEACTIVATED, m.status, now))

    def resume(self, ticker: str) -> None:
        """Reactivate a paused market; as on Kalshi, its resting orders are canceled."""
        now = self._sync()
        m = self._market(ticker)
        if m.status is MarketStatus.INACTIVE:
            self._cancel_market_orders(ticker, now, "market_reactivated")
            m.status = MarketStatus.ACTIVE
            if self._listeners:
                self._emit(MarketEvent(ticker, LifecycleType.ACTIVATED, m.status, now))

    def update_close_time(self, ticker: str, close_time: datetime) -> None:
        """Move the close (earlier for an early close, later to keep trading)."""
        now = self._sync()
        m = self._market(ticker)
        if m.status in _AFTER_CLOSE:
            raise EngineError(ErrorCode.MARKET_INACTIVE, f"{ticker} has closed")
        m.close_time = close_time
        self._push(close_time, ticker, _CLOSE)
        if self._listeners:
            self._emit(
                MarketEvent(
                    ticker, LifecycleType.CLOSE_DATE_UPDATED, m.status, now, None, close_time
                )
            )
        self._sync()

    def settle(
        self, ticker: str, result: MarketResult, settlement_value: Decimal | None = None
    ) -> list[SettlementRecord]:
        """Determine and settle a market: $1.00 per winning contract (scalar: the value per YES).

        ``VOID`` refunds every holder the cost basis of the contracts it still holds (what it
        paid for them; fees are not refunded, and profit or loss already realised on contracts
        closed before the void stands). Unlike YES/NO/scalar, whose payouts add up to the $1.00
        of collateral per open pair, a refund at cost can differ from that collateral: the
        difference is exactly the trading P&L (before fees) the market's traders realised by
        closing contracts, and the exchange makes it up (or keeps it).

        A market still open is closed first. Returns one record per account that held or
        traded the market.
        """
        now = self._sync()
        m = self._market(ticker)
        if m.status is MarketStatus.FINALIZED:
            raise EngineError(ErrorCode.INVALID_SETTLEMENT, f"{ticker} is already settled")
        if result is MarketResult.SCALAR:
            if settlement_value is None:
                raise EngineError(ErrorCode.INVALID_SETTLEMENT, "scalar needs a settlement value")
            yes_pays = price_to_ticks(settlement_value, "settlement_value")
        elif result is MarketResult.YES:
            yes_pays = ONE_TICKS
        elif result is MarketResult.NO:
            yes_pays = 0
        elif result is MarketResult.VOID:
            if settlement_value is not None:
                raise EngineError(ErrorCode.INVALID_SETTLEMENT, "void takes no settlement value")
            yes_pays = -1  # no per-contract payout: each holder gets its cost back
        else:
            raise EngineError(ErrorCode.INVALID_SETTLEMENT, f"cannot settle as {result.value}")
        if m.status not in _AFTER_CLOSE:
            self._close(m, now)
        m.result = result
        m.status = MarketStatus.DETERMINED
        if self._listeners:
            self._emit(MarketEvent(ticker, LifecycleType.DETERMINED, m.status, now, result))
        records: list[SettlementRecord] = []
        for acct in self._accounts.values():
            state = acct.positions.pop(ticker, None)
            if state is None:
                continue
            pos = state.position
            if yes_pays < 0:  # void: refund at cost
                payout = state.cost
            else:
                payout = pos * yes_pays if pos > 0 else -pos * (ONE_TICKS - yes_pays)
            acct.cash += payout
            record = SettlementRecord(
                ticker=ticker,
                event_ticker=m.spec.event_ticker,
                account_id=acct.account_id,
                market_result=result,
                yes_count=units_to_count(max(pos, 0)),
                yes_total_cost=money_to_dollars(state.cost if pos > 0 else 0),
                no_count=units_to_count(max(-pos, 0)),
                no_total_cost=money_to_dollars(state.cost if pos < 0 else 0),
                revenue=money_to_dollars(payout),
                fee_cost=money_to_dollars(0),
                settled_time=now,
            )
            self._settlements.setdefault(acct.account_id, []).append(record)
            records.append(record)
            if self._listeners:
                self._emit(SettlementEvent(record))
        m.open_interest = 0
        m.status = MarketStatus.FINALIZED
        m.settled_time = now
        if self._listeners:
            self._emit(MarketEvent(ticker, LifecycleType.SETTLED, m.status, now, result))
        return records

    # -- time ----------------------------------------------------------------------------------
    def advance(self) -> datetime:
        """Apply whatever the clock has made due (expiries, opens, closes); returns now."""
        return self._sync()

    def _sync(self) -> datetime:
        now = self.clock.now()
        expiries = self._expiries
        while expiries and expiries[0][0] <= now:
            _, _, order_id = heapq.heappop(expiries)
            o = self._orders[order_id]
            if o.status is OrderStatus.RESTING:
                self._cancel_remainder(o, o.expiration or now, "expired")
        schedule = self._schedule
        while schedule and schedule[0][0] <= now:
            when, _, ticker, kind = heapq.heappop(schedule)
            m = self._markets[ticker]
            if kind == _OPEN and m.status is MarketStatus.INITIALIZED:
                m.status = MarketStatus.ACTIVE
                if self._listeners:
                    self._emit(MarketEvent(ticker, LifecycleType.ACTIVATED, m.status, when))
            elif kind == _CLOSE and m.close_time <= now and m.status not in _AFTER_CLOSE:
                self._close(m, m.close_time)
        return now

    def _close(self, m: MarketState, when: datetime) -> None:
        self._cancel_market_orders(m.ticker, when, "market_closed")
        m.status = MarketStatus.CLOSED

    def _cancel_market_orders(self, ticker: str, when: datetime, reason: str) -> None:
        book = self._books[ticker]  # walk this market's book, not every order ever placed
        resting = [
            o
            for leg in (book.yes, book.no)
            for price, _ in leg.depth()
            for o in leg.orders_at(price)
        ]
        for o in sorted(resting, key=lambda o: (o.created, o.order_id)):
            if o.status is OrderStatus.RESTING:
                self._cancel_remainder(o, when, reason)

    def _push(self, when: datetime, ticker: str, kind: int) -> None:
        self._seq += 1
        heapq.heappush(self._schedule, (when, self._seq, ticker, kind))

    # -- helpers -------------------------------------------------------------------------------
    def _market(self, ticker: str) -> MarketState:
        m = self._markets.get(ticker)
        if m is None:
            raise EngineError(ErrorCode.MARKET_NOT_FOUND, f"no market {ticker}")
        return m

    def _require_cancellable(self, m: MarketState, now: datetime) -> None:
        """Cancels and decreases work while trading is paused, never after the close."""
        ok = m.status in (MarketStatus.ACTIVE, MarketStatus.INACTIVE) and now < m.close_time
        if not ok:
            raise EngineError(ErrorCode.MARKET_INACTIVE, f"{m.ticker} is {m.status.value}")

    def _require_active(self, m: MarketState, now: datetime) -> None:
        if m.status is not MarketStatus.ACTIVE or now >= m.close_time:
            raise EngineError(ErrorCode.MARKET_INACTIVE, f"{m.ticker} is {m.status.value}")

    def _quote(self, ticker: str) -> Quote:
        recorded = self._markets[ticker].tape_quote
        if recorded is not None:
            return recorded
        book = self._books[ticker]
        yb, nb = book.yes.best(), book.no.best()
        return Quote(
            yes_bid=ticks_to_price(yb) if yb is not None else None,
            yes_ask=ticks_to_price(PRICE_SCALE - nb) if nb is not None else None,
            yes_bid_size=units_to_count(book.yes.sizes[yb]) if yb is not None else Decimal(0),
            yes_ask_size=units_to_count(book.no.sizes[nb]) if nb is not None else Decimal(0),
        )

    def _view(self, m: MarketState) -> Market:
        """``_market_view(m)``, reused while everything it shows is unchanged."""
        ticker = m.spec.ticker
        quote: object = m.tape_quote
        if quote is None:
            book = self._books[ticker]
            yb, nb = book.yes.best(), book.no.best()
            quote = (
                yb,
                nb,
                book.yes.sizes[yb] if yb is not None else 0,
                book.no.sizes[nb] if nb is not None else 0,
            )
        recorded = self._recorded.get(ticker)
        key = (
            m.spec,
            m.status,
            m.close_time,
            quote,
            m.last_price,
            m.volume,
            m.open_interest,
            m.result,
            recorded,
        )
        hit = self._views.get(ticker)
        if hit is not None and hit[0] == key:
            return hit[1]
        view = self._market_view(m, recorded)
        self._views[ticker] = (key, view)
        return view

    def _market_view(
        self, m: MarketState, recorded: tuple[Decimal, Decimal] | None = None
    ) -> Market:
        """``m`` as a trader sees it; ``recorded``: its recorded (volume_24h, open_interest)."""
        s = m.spec
        volume = units_to_count(m.volume) if m.volume else _NO_COUNT
        if recorded is not None:
            volume_24h, open_interest = recorded
        else:
            volume_24h = volume
            open_interest = units_to_count(m.open_interest) if m.open_interest else _NO_COUNT
        # Positional, in ``Market``'s field order (keywords cost a third more, per market);
        # tests/simulated/test_lifecycle_views.py checks each field against its source.
        return Market(
            s.ticker,
            s.event_ticker,
            s.title,
            m.status,
            m.tape_quote if m.tape_quote is not None else self._quote(s.ticker),
            m.close_time,
            s.series_ticker,
            s.subtitle,
            s.yes_subtitle,
            s.no_subtitle,
            s.category,
            s.open_time,
            m.close_time,  # expiration_time
            ticks_to_price(m.last_price) if m.last_price is not None else None,
            volume,
            volume_24h,
            open_interest,
            m.result,
            s.floor_strike,
            s.cap_strike,
            s.strike_type,
            s.rules_primary,
            s.rules_secondary,
            s.price_ranges,
            False,  # is_combo
            s.fee_type,
            s.fee_multiplier,
        )
