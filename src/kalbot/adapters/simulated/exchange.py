"""The simulated exchange: markets, accounts and orders with Kalshi's semantics, no I/O.

It owns no clock: every operation reads the injected ``Clock`` and first applies what became
due (orders expiring, markets opening or closing). Prices and counts at this surface are
``Decimal`` (YES-leg prices, V2 ``bid``/``ask``); inside they are integer units (``units.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal

from kalbot.adapters.simulated.accounts import Account
from kalbot.adapters.simulated.book import BookLeg, Leg, LiveOrder
from kalbot.adapters.simulated.errors import EngineError, ErrorCode
from kalbot.adapters.simulated.events import Listener, OrderEvent
from kalbot.adapters.simulated.markets import MarketSpec
from kalbot.adapters.simulated.matching import Fill, FillRow, TradeRow, cash_hold, order_view
from kalbot.adapters.simulated.records import (
    CancelResult,
    FillRecord,
    OrderView,
    PlaceResult,
    PositionView,
    SelfTradePrevention,
    SettlementRecord,
    TradeRecord,
)
from kalbot.adapters.simulated.tape import Tape
from kalbot.adapters.simulated.units import (
    ONE_TICKS,
    count_to_units,
    dollars_to_money,
    money_to_dollars,
    price_to_ticks,
    units_to_count,
)
from kalbot.domain.market import MarketStatus
from kalbot.domain.orders import BookSide, OrderStatus, TimeInForce, V2Order
from kalbot.domain.prices import is_on_tick
from kalbot.ports import Clock

# Enum members bound once per module: on Python 3.11 ``BookSide.BID`` is an enum-class
# attribute look-up (~70 ns) and the per-order path compares about a dozen of them.
_BID = BookSide.BID
_GTC = TimeInForce.GTC
_RESTING = OrderStatus.RESTING
_CANCELED = OrderStatus.CANCELED
_ACTIVE = MarketStatus.ACTIVE
_INACTIVE = MarketStatus.INACTIVE


class Exchange(Tape):
    """One in-process Kalshi: list markets, open accounts, trade, settle.

    Typical use: ``ex = Exchange(clock)``, ``ex.add_market(spec)``,
    ``ex.open_account("alice", Decimal("100"))``, then
    ``ex.place("alice", V2Order(ticker, BookSide.BID, Decimal("0.42"), Decimal("10"), "c1", GTC))``.
    Not thread-safe: one thread (or one event loop) owns an exchange.
    """

    def __init__(self, clock: Clock, *, book_leg: Callable[[], Leg] = BookLeg) -> None:
        super().__init__(book_leg)
        self.clock = clock
        self._client_ids: dict[tuple[str, str], str] = {}

    # -- accounts ------------------------------------------------------------------------------
    def open_account(self, account_id: str, balance: Decimal, *, unlimited: bool = False) -> None:
        """Create an account with ``balance`` dollars of cash."""
        if account_id in self._accounts:
            raise EngineError(ErrorCode.ACCOUNT_EXISTS, f"account {account_id} exists")
        if balance < 0:
            raise EngineError(ErrorCode.INVALID_ORDER, "a balance cannot be negative")
        self._accounts[account_id] = Account(
            account_id, dollars_to_money(balance), unlimited=unlimited
        )

    def deposit(self, account_id: str, amount: Decimal) -> None:
        if amount <= 0:
            raise EngineError(ErrorCode.INVALID_ORDER, "a deposit must be positive")
        self._account(account_id).cash += dollars_to_money(amount)

    def accounts(self) -> list[str]:
        return list(self._accounts)

    def balance(self, account_id: str) -> Decimal:
        """Total cash in dollars (including what resting orders hold back)."""
        self._sync()
        return money_to_dollars(self._account(account_id).cash)

    def available_balance(self, account_id: str) -> Decimal:
        self._sync()
        return money_to_dollars(self._account(account_id).available)

    def positions(self, account_id: str, ticker: str | None = None) -> list[PositionView]:
        """Unsettled positions with a non-zero count or any activity (as Kalshi lists them)."""
        self._sync()
        acct = self._account(account_id)
        return [
            state.view(t)
            for t, state in sorted(acct.positions.items())
            if (ticker is None or t == ticker) and (state.position or state.traded)
        ]

    def fills(
        self, account_id: str, *, ticker: str | None = None, since: datetime | None = None
    ) -> list[FillRecord]:
        """The account's fills, oldest first."""
        self._account(account_id)
        rows: Iterable[Fill] = self._fills.get(account_id, [])
        out: list[FillRecord] = []
        for r in rows:
            if isinstance(r, FillRow):
                r_ticker, r_ts = r.order.ticker, r.ts
            else:
                r_ticker, r_ts = r[1], r[5]
            if (ticker is None or r_ticker == ticker) and (since is None or r_ts >= since):
                out.append(self._fill_record(r, account_id))
        return out

    def settlements(self, account_id: str) -> list[SettlementRecord]:
        self._sync()
        self._account(account_id)
        return list(self._settlements.get(account_id, []))

    def fees_paid(self, account_id: str) -> Decimal:
        return money_to_dollars(self._account(account_id).fees_paid)

    # -- orders --------------------------------------------------------------------------------
    def place(
        self,
        account_id: str,
        order: V2Order,
        *,
        self_trade_prevention: SelfTradePrevention = SelfTradePrevention.TAKER_AT_CROSS,
        expiration_time: datetime | None = None,
    ) -> PlaceResult:
        """Place a V2 limit order; it matches at once and the GTC remainder rests.

        Raises ``EngineError`` (nothing changed) for an unknown or inactive market, an
        off-grid price, a bad count, a duplicate ``client_order_id``, a post-only order that
        would cross, a reduce-only order with nothing to reduce, a bad expiration, or too
        little available cash.
        """
        ticks = price_to_ticks(order.price)
        units = count_to_units(order.count)
        spec = self._market(order.ticker).spec
        if not is_on_tick(order.price, spec.price_ranges):
            raise EngineError(ErrorCode.INVALID_PRICE, f"price {order.price} is off the tick grid")
        o = self.place_units(
            account_id,
            order.ticker,
            order.book_side,
            ticks,
            units,
            order.time_in_force,
            client_order_id=order.client_order_id,
            post_only=order.post_only,
            reduce_only=order.reduce_only,
            stp=self_trade_prevention,
            expiration=expiration_time,
        )
        fills = self._last_fills
        return PlaceResult(order_view(o), tuple(self._fill_record(f, account_id) for f in fills))

    def place_units(
        self,
        account_id: str,
        ticker: str,
        book_side: BookSide,
        yes_ticks: int,
        units: int,
        time_in_force: TimeInForce = TimeInForce.GTC,
        *,
        client_order_id: str = "",
        post_only: bool = False,
        reduce_only: bool = False,
        stp: SelfTradePrevention = SelfTradePrevention.TAKER_AT_CROSS,
        expiration: datetime | None = None,
    ) -> LiveOrder:
        """The integer fast path behind ``place`` (ticks of $0.0001, hundredths of contracts).

        For benchmarks and scenario drivers; it skips only the tick-grid check. The returned
        object is live: read it, never change it.
        """
        now = self._sync()
        # _market, _require_active and _account inlined: this is the per-order hot path
        market = self._markets.get(ticker)
        if market is None:
            raise EngineError(ErrorCode.MARKET_NOT_FOUND, f"no market {ticker}")
        if market.status is not _ACTIVE or now >= market.close_time:
            raise EngineError(ErrorCode.MARKET_INACTIVE, f"{ticker} is {market.status.value}")
        acct = self._accounts.get(account_id)
        if acct is None:
            raise EngineError(ErrorCode.ACCOUNT_NOT_FOUND, f"no account {account_id}")
        if not 0 < yes_ticks < ONE_TICKS:
            raise EngineError(ErrorCode.INVALID_PRICE, f"price ticks {yes_ticks} outside (0, 1)")
        if units <= 0:
            raise EngineError(ErrorCode.INVALID_ORDER_SIZE, "count must be positive")
        if client_order_id and (account_id, client_order_id) in self._client_ids:
            raise EngineError(
                ErrorCode.DUPLICATE_CLIENT_ORDER_ID,
                f"client_order_id {client_order_id} was already used",
            )
        if expiration is not None:
            if time_in_force is not _GTC:
                raise EngineError(
                    ErrorCode.INVALID_EXPIRATION, "expiration_time only with good_till_canceled"
                )
            if expiration <= now:
                raise EngineError(ErrorCode.INVALID_EXPIRATION, "expiration_time is in the past")
        buys_yes = book_side is _BID
        own = yes_ticks if buys_yes else ONE_TICKS - yes_ticks
        if reduce_only:
            cap = acct.closable(ticker, buys_yes)
            if cap <= 0:
                raise EngineError(ErrorCode.REDUCE_ONLY, "reduce_only order with no position")
            units = min(units, cap)
        book = self._books[ticker]
        if post_only:
            best = book.opposite(book_side).best()
            if (best is not None and best + own >= ONE_TICKS) or self._would_cross_tape(
                market, book_side, own
            ):
                raise EngineError(ErrorCode.POST_ONLY_CROSS, "post_only order would cross")
        self._seq += 1  # a refused order below still uses its number: ids stay as they were
        seq = self._seq
        need = cash_hold(market, acct, ticker, buys_yes, own, units)
        if need > acct.cash - acct.reserved and not acct.unlimited:
            raise EngineError(
                ErrorCode.INSUFFICIENT_BALANCE,
                f"order needs ${money_to_dollars(need)}, available "
                f"${money_to_dollars(acct.available)}",
            )
        # positional: keyword construction of a 14-field dataclass costs measurably per order
        o = LiveOrder(
            f"00000001-0000-4000-8000-{seq:012x}",  # _uid(seq, 1) inlined
            account_id, client_order_id, ticker, book_side, own, units, units, time_in_force,
            now, stp, expiration, post_only, reduce_only,
        )  # fmt: skip
        o.reserved = need
        acct.reserved += need
        self._orders[o.order_id] = o
        if client_order_id:
            self._client_ids[(account_id, client_order_id)] = o.order_id
        best = None
        if market.fill_model is None:
            best = (book.no if buys_yes else book.yes).best()  # read once, handed to _match
            if time_in_force is _GTC and (best is None or best + own < ONE_TICKS):
                # crosses nothing: rest at once
                self._last_fills = ()
                if expiration is None and not self._listeners:
                    # _rest's common case inlined: nothing filled, no expiry, no events
                    (book.yes if buys_yes else book.no).add(o)
                    o.status = _RESTING
                else:
                    self._rest(o, market, now)
                return o
        self._last_fills = self._execute(o, market, now, best)
        return o

    def cancel(self, account_id: str, order_id: str) -> CancelResult:
        """Cancel a resting order (reduce it to zero); its fills stay."""
        reduced = self.cancel_units(account_id, order_id)
        o = self._orders[order_id]
        return CancelResult(o.order_id, o.client_order_id, units_to_count(reduced), order_view(o))

    def cancel_units(self, account_id: str, order_id: str) -> int:
        """The fast path behind ``cancel``: returns the hundredths of contracts taken off."""
        now = self._sync()
        # _owned_order, _require_cancellable and _cancel_remainder inlined: one in four
        # operations of a busy market is a cancel
        o = self._orders.get(order_id)
        if o is None or o.account_id != account_id:
            raise EngineError(ErrorCode.ORDER_NOT_FOUND, f"no order {order_id}")
        m = self._markets[o.ticker]
        status = m.status
        if not ((status is _ACTIVE or status is _INACTIVE) and now < m.close_time):
            raise EngineError(ErrorCode.MARKET_INACTIVE, f"{m.ticker} is {status.value}")
        if o.status is not _RESTING:
            raise EngineError(ErrorCode.INVALID_ORDER, f"order {order_id} is {o.status.value}")
        if self._listeners:
            return self._cancel_remainder(o, now, "canceled")
        reduced = o.remaining
        if o.resting:
            book = self._books[o.ticker]
            (book.yes if o.book_side is _BID else book.no).reduce(o, reduced)
            o.resting = False
        o.remaining = 0
        o.status = _CANCELED
        o.cancel_reason = "canceled"
        o.updated = now
        if o.reserved:
            self._accounts[account_id].reserved -= o.reserved
            o.reserved = 0
        return reduced

    def trade_count(self) -> int:
        return len(self._trades)

    def decrease(
        self,
        account_id: str,
        order_id: str,
        *,
        reduce_by: Decimal | None = None,
        reduce_to: Decimal | None = None,
    ) -> OrderView:
        """Shrink a resting order's remaining count, keeping its queue place.

        Exactly one of ``reduce_by`` (contracts to take off) or ``reduce_to`` (remaining count
        wanted) is given; reaching zero cancels the order.
        """
        now = self._sync()
        if (reduce_by is None) == (reduce_to is None):
            raise EngineError(ErrorCode.INVALID_ORDER, "give exactly one of reduce_by, reduce_to")
        o = self._owned_order(account_id, order_id)
        self._require_cancellable(self._markets[o.ticker], now)
        if o.status is not _RESTING:
            raise EngineError(ErrorCode.INVALID_ORDER, f"order {order_id} is {o.status.value}")
        if reduce_by is not None:
            by = count_to_units(reduce_by, "reduce_by")
        else:
            assert reduce_to is not None
            to = 0 if reduce_to == 0 else count_to_units(reduce_to, "reduce_to")
            if to > o.remaining:
                raise EngineError(ErrorCode.INVALID_ORDER_SIZE, "reduce_to exceeds remaining")
            by = o.remaining - to
        if by >= o.remaining:
            self._cancel_remainder(o, now, "decreased")
            return order_view(o)
        self._shrink(o, by, now)
        return order_view(o)

    def amend(
        self,
        account_id: str,
        order_id: str,
        *,
        ticker: str,
        book_side: BookSide,
        price: Decimal,
        count: Decimal,
        updated_client_order_id: str | None = None,
    ) -> PlaceResult:
        """Change a resting order's price and/or total count (filled + wanted remaining).

        A lower count at the same price keeps the queue place; a new price or a larger count
        re-enters the book at the back (and may trade at once if it now crosses).
        """
        now = self._sync()
        o = self._owned_order(account_id, order_id)
        market = self._markets[o.ticker]
        self._require_active(market, now)
        if o.status is not _RESTING:
            raise EngineError(ErrorCode.INVALID_ORDER, f"order {order_id} is {o.status.value}")
        if ticker != o.ticker:
            raise EngineError(ErrorCode.ORDER_TICKER_MISMATCH, f"order is on {o.ticker}")
        if book_side is not o.book_side:
            raise EngineError(ErrorCode.ORDER_SIDE_MISMATCH, f"order side is {o.book_side}")
        ticks = price_to_ticks(price)
        if not is_on_tick(price, market.spec.price_ranges):
            raise EngineError(ErrorCode.INVALID_PRICE, f"price {price} is off the tick grid")
        total = count_to_units(count)
        remaining = total - o.filled
        if remaining <= 0:
            raise EngineError(ErrorCode.INVALID_ORDER_SIZE, "count must exceed the filled count")
        key = (account_id, updated_client_order_id or "")
        if updated_client_order_id and key in self._client_ids:
            raise EngineError(ErrorCode.DUPLICATE_CLIENT_ORDER_ID, "client_order_id used")
        own = ticks if o.book_side is _BID else ONE_TICKS - ticks
        if o.post_only:
            best = self._books[o.ticker].opposite(o.book_side).best()
            if best is not None and best + own >= ONE_TICKS:
                raise EngineError(ErrorCode.POST_ONLY_CROSS, "post_only order would cross")
        if own == o.own_ticks and remaining <= o.remaining:
            if remaining < o.remaining:
                self._shrink(o, o.remaining - remaining, now)
            self._rename(o, updated_client_order_id)
            return PlaceResult(order_view(o), ())
        acct = self._accounts[account_id]
        probe = LiveOrder(
            o.order_id, account_id, "", o.ticker, o.book_side, own, remaining, remaining,
            o.time_in_force, now,
        )  # fmt: skip
        need = self._reservation(probe, acct, market)
        if need > acct.available + o.reserved and not acct.unlimited:
            raise EngineError(ErrorCode.INSUFFICIENT_BALANCE, "amended order needs more cash")
        book_leg = self._books[o.ticker].leg(o.book_side)
        book_leg.reduce(o, o.remaining)
        o.resting = False
        if self._listeners:
            self._emit_delta(o, -o.remaining, now)
        self._release(o)
        o.own_ticks = own
        o.remaining = remaining
        o.initial = total
        o.updated = now
        o.reserved = need
        acct.reserved += need
        self._rename(o, updated_client_order_id)
        fills = self._execute(o, market, now, self._books[o.ticker].opposite(o.book_side).best())
        return PlaceResult(order_view(o), tuple(self._fill_record(f, account_id) for f in fills))

    def order(self, account_id: str, order_id: str) -> OrderView:
        self._sync()
        return order_view(self._owned_order(account_id, order_id))

    def order_by_client_id(self, account_id: str, client_order_id: str) -> OrderView:
        """The order an account placed with ``client_order_id`` (to resolve a 409 on retry)."""
        order_id = self._client_ids.get((account_id, client_order_id))
        if order_id is None:
            raise EngineError(ErrorCode.ORDER_NOT_FOUND, f"no order {client_order_id}")
        return self.order(account_id, order_id)

    def orders(
        self,
        account_id: str,
        *,
        ticker: str | None = None,
        status: OrderStatus | None = None,
    ) -> list[OrderView]:
        self._sync()
        self._account(account_id)
        return [
            order_view(o)
            for o in self._orders.values()
            if o.account_id == account_id
            and (ticker is None or o.ticker == ticker)
            and (status is None or o.status is status)
        ]

    def trades(self, ticker: str | None = None, since: datetime | None = None) -> list[TradeRecord]:
        out: list[TradeRecord] = []
        for t in self._trades:
            t_ticker, t_ts = (t.ticker, t.ts) if isinstance(t, TradeRow) else (t[1], t[5])
            if (ticker is None or t_ticker == ticker) and (since is None or t_ts >= since):
                out.append(self._trade_record(t))
        return out

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with every event from now on; returns the unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    # -- helpers -------------------------------------------------------------------------------
    def _shrink(self, o: LiveOrder, by: int, now: datetime) -> None:
        self._books[o.ticker].leg(o.book_side).reduce(o, by)
        o.remaining -= by
        o.updated = now
        acct = self._accounts[o.account_id]
        new = self._reservation(o, acct, self._markets[o.ticker])
        if new < o.reserved:  # never grow a reservation the account might not cover
            acct.reserved -= o.reserved - new
            o.reserved = new
        if self._listeners:
            self._emit_delta(o, -by, now)
            self._emit(OrderEvent(order_view(o)))

    def _rename(self, o: LiveOrder, new_client_id: str | None) -> None:
        if new_client_id:
            o.client_order_id = new_client_id
            self._client_ids[(o.account_id, new_client_id)] = o.order_id

    def _owned_order(self, account_id: str, order_id: str) -> LiveOrder:
        o = self._orders.get(order_id)
        if o is None or o.account_id != account_id:
            raise EngineError(ErrorCode.ORDER_NOT_FOUND, f"no order {order_id}")
        return o

    def _account(self, account_id: str) -> Account:
        acct = self._accounts.get(account_id)
        if acct is None:
            raise EngineError(ErrorCode.ACCOUNT_NOT_FOUND, f"no account {account_id}")
        return acct


__all__ = ["Exchange", "MarketSpec"]
