"""The matching loop and the bookkeeping of one fill (the heart of ``Exchange``).

Split from ``exchange.py`` along the seam "how orders meet" vs "what you may ask the
exchange"; ``Matcher`` holds the shared state and ``Exchange`` adds the public operations.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from kalbot.adapters.simulated.accounts import Account, PositionState
from kalbot.adapters.simulated.book import Book, LiveOrder
from kalbot.adapters.simulated.events import (
    BookDelta,
    EngineEvent,
    FillEvent,
    Listener,
    OrderEvent,
    PositionEvent,
    TradeEvent,
)
from kalbot.adapters.simulated.markets import MarketState
from kalbot.adapters.simulated.records import (
    FillRecord,
    OrderView,
    SelfTradePrevention,
    TradeRecord,
)
from kalbot.adapters.simulated.units import (
    HALF_TICKS,
    ONE_TICKS,
    money_to_dollars,
    ticks_to_price,
    units_to_count,
)
from kalbot.domain.orders import BookSide, OrderStatus, TimeInForce
from kalbot.domain.prices import Side

# Enum members bound once per module: on Python 3.11 ``BookSide.BID`` is an enum-class
# attribute look-up (~70 ns) and the per-order path compares about a dozen of them.
_BID = BookSide.BID
_ASK = BookSide.ASK
_GTC = TimeInForce.GTC
_FOK = TimeInForce.FOK
_RESTING = OrderStatus.RESTING
_EXECUTED = OrderStatus.EXECUTED
_CANCELED = OrderStatus.CANCELED
_TAKER_AT_CROSS = SelfTradePrevention.TAKER_AT_CROSS


@dataclass(slots=True)
class FillRow:
    """One account's fill kept in integer units (quote-driven markets: the tape's other side
    is not recorded); turned into a ``FillRecord`` only when asked for."""

    seq: int
    trade_seq: int
    order: LiveOrder
    yes_ticks: int
    units: int
    fee: int
    is_taker: bool
    ts: datetime
    post_position: int

    @property
    def ticker(self) -> str:
        return self.order.ticker

    def record(self) -> FillRecord:
        return _make_fill_record(
            self.seq, self.trade_seq, self.order, self.yes_ticks, self.units, self.fee,
            self.is_taker, self.ts, self.post_position,
        )  # fmt: skip


@dataclass(slots=True)
class TradeRow:
    """A trade against the tape kept in integer units (see ``BookTrade`` for book trades)."""

    seq: int
    ticker: str
    yes_ticks: int
    units: int
    taker_book_side: BookSide
    ts: datetime

    def record(self) -> TradeRecord:
        return TradeRecord(
            trade_id=_uid(self.seq, 3),
            ticker=self.ticker,
            yes_price=ticks_to_price(self.yes_ticks),
            count=units_to_count(self.units),
            taker_book_side=self.taker_book_side,
            ts=self.ts,
        )


# A trade between two book orders and both of its fills (maker fill id ``seq + 1``, taker fill
# id ``seq + 2``) as one plain tuple of ints, strings, a bool and a datetime:
#   (seq, ticker, yes_ticks, units, taker_is_bid, ts, maker_order_id, taker_order_id,
#    maker_fee, taker_fee, maker_position_after, taker_position_after)
# Every trade outlives the call that made it; a tuple holding no container is untracked by the
# garbage collector after its first young collection, so a long run's full collections do not
# re-walk hundreds of thousands of trades (dataclass rows, three per trade, did). It is listed
# in ``_trades`` and in both accounts' fills; ``Matcher._fill_record`` picks the side.
BookTrade = tuple[int, str, int, int, bool, datetime, str, str, int, int, int, int]
Fill = FillRow | BookTrade  # what ``Matcher._fills`` lists per account
Trade = TradeRow | BookTrade  # what ``Matcher._trades`` lists


def _make_fill_record(
    seq: int,
    trade_seq: int,
    o: LiveOrder,
    yes_ticks: int,
    units: int,
    fee: int,
    is_taker: bool,
    ts: datetime,
    post_position: int,
) -> FillRecord:
    return FillRecord(
        fill_id=_uid(seq, 2),
        trade_id=_uid(trade_seq, 3),
        order_id=o.order_id,
        client_order_id=o.client_order_id,
        account_id=o.account_id,
        ticker=o.ticker,
        book_side=o.book_side,
        yes_price=ticks_to_price(yes_ticks),
        count=units_to_count(units),
        fee=money_to_dollars(fee),
        is_taker=is_taker,
        ts=ts,
        post_position=units_to_count(post_position),
    )


def _uid(n: int, kind: int) -> str:
    """Deterministic UUID-shaped ids: same run, same ids (kind keeps orders/fills/trades apart)."""
    return f"{kind:08x}-0000-4000-8000-{n:012x}"


def order_view(o: LiveOrder) -> OrderView:
    return OrderView(
        order_id=o.order_id,
        account_id=o.account_id,
        client_order_id=o.client_order_id,
        ticker=o.ticker,
        book_side=o.book_side,
        yes_price=ticks_to_price(o.own_ticks if o.book_side is _BID else ONE_TICKS - o.own_ticks),
        status=o.status,
        time_in_force=o.time_in_force,
        initial_count=units_to_count(o.initial),
        fill_count=units_to_count(o.filled),
        remaining_count=units_to_count(o.remaining),
        taker_fill_cost=money_to_dollars(o.taker_cost),
        maker_fill_cost=money_to_dollars(o.maker_cost),
        taker_fees=money_to_dollars(o.taker_fees),
        maker_fees=money_to_dollars(o.maker_fees),
        created_time=o.created,
        last_update_time=o.updated or o.created,
        expiration_time=o.expiration,
        self_trade_prevention=o.stp,
        post_only=o.post_only,
        reduce_only=o.reduce_only,
        cancel_reason=o.cancel_reason,
    )


def cash_hold(
    market: MarketState, account: Account, ticker: str, buys_yes: bool, own: int, units: int
) -> int:
    """Cash an order of ``units`` at ``own`` ticks may need: premium + worst-case fee - $1 per
    contract it would close (never below zero). Held back from the account while it rests."""
    # fill_cash_need, worst_fee_ticks and Account.closable inlined: runs on every order
    worst = own if own < HALF_TICKS else HALF_TICKS
    fee = market.fee_cache.get((units, worst, True))
    if fee is None:
        fee = market.fee(units, worst, True)
    need = own * units + fee
    state = account.positions.get(ticker)
    if state is not None and state.position:
        closable = -state.position if buys_yes else state.position
        if closable > 0:
            need -= (units if units < closable else closable) * ONE_TICKS
    return need if need > 0 else 0


class Matcher:
    """Shared state and the matching loop; see ``Exchange`` for the public surface."""

    def __init__(self) -> None:
        self._markets: dict[str, MarketState] = {}
        self._books: dict[str, Book] = {}
        self._accounts: dict[str, Account] = {}
        self._orders: dict[str, LiveOrder] = {}
        self._fills: dict[str, list[Fill]] = {}
        self._trades: list[Trade] = []
        self._expiries: list[tuple[datetime, int, str]] = []
        self._listeners: list[Listener] = []
        self._seq = 0
        self.fees_collected = 0  # micro-dollars, all accounts

    # -- records -------------------------------------------------------------------------
    def _trade_record(self, t: Trade) -> TradeRecord:
        if isinstance(t, TradeRow):
            return t.record()
        return TradeRecord(
            trade_id=_uid(t[0], 3),
            ticker=t[1],
            yes_price=ticks_to_price(t[2]),
            count=units_to_count(t[3]),
            taker_book_side=_BID if t[4] else _ASK,
            ts=t[5],
        )

    def _fill_record(self, f: Fill, account_id: str) -> FillRecord:
        """``account_id``'s fill in ``f`` (a book trade has two, never of one account)."""
        if isinstance(f, FillRow):
            return f.record()
        taker = self._orders[f[7]]
        if taker.account_id == account_id:
            return _make_fill_record(f[0] + 2, f[0], taker, f[2], f[3], f[9], True, f[5], f[11])
        maker = self._orders[f[6]]
        return _make_fill_record(f[0] + 1, f[0], maker, f[2], f[3], f[8], False, f[5], f[10])

    # -- events --------------------------------------------------------------------------
    def _emit(self, event: EngineEvent) -> None:
        for listener in self._listeners:
            listener(event)

    def _emit_delta(self, o: LiveOrder, amount: int, ts: datetime, own: bool = True) -> None:
        self._emit(
            BookDelta(
                ticker=o.ticker,
                side=Side.YES if o.book_side is _BID else Side.NO,
                price=ticks_to_price(o.own_ticks),
                delta=units_to_count(amount),
                ts=ts,
                account_id=o.account_id if own else None,
                client_order_id=(o.client_order_id or None) if own else None,
            )
        )

    # -- reservations ----------------------------------------------------------------------
    def _reservation(self, o: LiveOrder, account: Account, market: MarketState) -> int:
        """Cash an order's remainder may need (``cash_hold``)."""
        return cash_hold(market, account, o.ticker, o.book_side is _BID, o.own_ticks, o.remaining)

    def _release(self, o: LiveOrder) -> None:
        if o.reserved:
            self._accounts[o.account_id].reserved -= o.reserved
            o.reserved = 0

    def _finish(self, o: LiveOrder, ts: datetime, reason: str = "") -> None:
        """Take an order out of play: executed if nothing remains, else canceled."""
        if o.resting:
            self._books[o.ticker].leg(o.book_side).reduce(o, o.remaining)
            o.resting = False
            if self._listeners and o.remaining:
                self._emit_delta(o, -o.remaining, ts)
        o.status = _EXECUTED if o.remaining == 0 else _CANCELED
        if o.remaining and reason:
            o.cancel_reason = reason
        o.updated = ts
        self._release(o)
        if self._listeners:
            self._emit(OrderEvent(order_view(o)))

    def _cancel_remainder(self, o: LiveOrder, ts: datetime, reason: str) -> int:
        reduced = o.remaining
        if o.resting:
            self._books[o.ticker].leg(o.book_side).reduce(o, reduced)
            o.resting = False
            if self._listeners and reduced:
                self._emit_delta(o, -reduced, ts)
        o.remaining = 0
        o.status = _CANCELED
        o.cancel_reason = reason
        o.updated = ts
        self._release(o)
        if self._listeners:
            self._emit(OrderEvent(order_view(o)))
        return reduced

    def _rest(self, o: LiveOrder, market: MarketState, ts: datetime) -> None:
        if o.filled:  # the placement reservation covered the whole count; redo it for the rest
            account = self._accounts[o.account_id]
            new = self._reservation(o, account, market)
            account.reserved += new - o.reserved
            o.reserved = new
        self._books[o.ticker].leg(o.book_side).add(o)
        o.status = _RESTING
        if o.expiration is not None:
            self._seq += 1
            heapq.heappush(self._expiries, (o.expiration, self._seq, o.order_id))
        if self._listeners:
            self._emit_delta(o, o.remaining, ts)
            self._emit(OrderEvent(order_view(o)))

    # -- matching ------------------------------------------------------------------------------
    def _others_depth(self, o: LiveOrder) -> int:
        """Hundredths other accounts' orders offer at or inside ``o``'s limit."""
        opp = self._books[o.ticker].opposite(o.book_side)
        limit = ONE_TICKS - o.own_ticks
        total = 0
        for price, size in opp.depth():
            if price < limit:
                break
            own = sum(r.remaining for r in opp.orders_at(price) if r.account_id == o.account_id)
            total += size - own
        return total

    def _fillable(self, o: LiveOrder, market: MarketState) -> tuple[int, str]:
        """Hundredths ``_match`` would fill of ``o`` now, found without changing anything, and
        the cancel reason ``_match`` would set if it stopped before ``o``'s limit ("" if not).

        A dry run of ``_match`` (keep the two in step; ``test_fill_or_kill`` checks they agree)
        on scratch copies of what a sweep changes: the makers' remaining counts and
        reservations, and each account's cash, reserved cash and position. A plain depth
        count is not enough for fill-or-kill: the sweep also stops at the taker's own order
        (``taker_at_cross``) or when the taker's cash or reduce-only cap runs out, and skips
        makers it cancels (own orders under ``maker``, reduce-only caps, makers out of cash).
        """
        ticker = o.ticker
        taker_id = o.account_id
        taker_yes = o.book_side is _BID
        maker_yes = not taker_yes
        book = self._books[ticker]
        opp = book.no if taker_yes else book.yes
        limit = ONE_TICKS - o.own_ticks
        accounts = self._accounts
        sim: dict[str, list[int]] = {}  # account -> [cash, reserved, position]

        def state(account_id: str) -> list[int]:
            s = sim.get(account_id)
            if s is None:
                a = accounts[account_id]
                p = a.positions.get(ticker)
                s = sim[account_id] = [a.cash, a.reserved, p.position if p else 0]
            return s

        def closable(position: int, buys_yes: bool) -> int:
            return (
                -position
                if buys_yes and position < 0
                else (position if not buys_yes and position > 0 else 0)
            )

        taker = state(taker_id)
        taker_unlimited = accounts[taker_id].unlimited
        remaining = o.remaining
        taker_reserved = o.reserved
        filled = 0
        for price, _ in opp.depth():
            if price < limit or not remaining:
                break
            maker_own = price
            taker_own = ONE_TICKS - price
            for maker in opp.orders_at(price):
                if not remaining:
                    break
                left = maker.remaining
                held = maker.reserved
                mk = state(maker.account_id)
                maker_unlimited = accounts[maker.account_id].unlimited
                while left and remaining:  # _match meets the same maker again after a capped fill
                    if maker.account_id == taker_id:
                        if o.stp is _TAKER_AT_CROSS:
                            return filled, "self_trade_prevention"
                        break  # canceled
                    qty = remaining if remaining < left else left
                    if maker.reduce_only:
                        cap = closable(mk[2], maker_yes)
                        if cap <= 0:
                            break  # canceled
                        qty = min(qty, cap)
                    if o.reduce_only:
                        cap = closable(taker[2], taker_yes)
                        if cap <= 0:
                            return filled, "reduce_only"
                        qty = min(qty, cap)
                    maker_fee = market.fee(qty, maker_own, False)
                    taker_fee = market.fee(qty, taker_own, True)
                    maker_close = closable(mk[2], maker_yes)
                    taker_close = closable(taker[2], taker_yes)
                    maker_need = maker_own * qty + maker_fee - min(qty, maker_close) * ONE_TICKS
                    if maker_need > mk[0] - mk[1] + held and not maker_unlimited:
                        break  # canceled
                    taker_need = taker_own * qty + taker_fee - min(qty, taker_close) * ONE_TICKS
                    if taker_need > taker[0] - taker[1] + taker_reserved and not taker_unlimited:
                        return filled, "insufficient_balance"
                    mk[0] -= maker_need
                    mk[2] += qty if maker_yes else -qty
                    taker[0] -= taker_need
                    taker[2] += qty if taker_yes else -qty
                    if maker_need > 0:
                        used = min(held, maker_need)
                        held -= used
                        mk[1] -= used
                    if taker_need > 0:
                        used = min(taker_reserved, taker_need)
                        taker_reserved -= used
                        taker[1] -= used
                    left -= qty
                    remaining -= qty
                    filled += qty
                # the maker executed or was canceled: either way what it still held goes back
                # (or the taker is done, and nothing after this is looked at)
                mk[1] -= held
        return filled, ""

    def _match(
        self, o: LiveOrder, market: MarketState, ts: datetime, best: int | None
    ) -> list[BookTrade]:
        """Match ``o`` against the opposite leg while it crosses. Returns the taker's trades.

        ``best`` is the opposite leg's best price now (the caller has just read it).

        Sets ``o.cancel_reason`` when matching stopped for a reason other than price
        (self-trade, balance, reduce-only), so the caller cancels the remainder.
        """
        ticker = o.ticker
        taker_id = o.account_id
        taker_order_id = o.order_id
        taker_yes = o.book_side is _BID
        maker_yes = not taker_yes
        book = self._books[ticker]
        opp = book.no if taker_yes else book.yes
        limit = ONE_TICKS - o.own_ticks
        accounts = self._accounts
        taker_acct = accounts[taker_id]
        taker_unlimited = taker_acct.unlimited
        taker_positions = taker_acct.positions
        fee_cache = market.fee_cache
        fills = self._fills
        taker_fills = fills.get(taker_id)
        if taker_fills is None:
            taker_fills = fills[taker_id] = []
        trades = self._trades
        out: list[BookTrade] = []
        listening = bool(self._listeners)
        sizes = opp.sizes
        while o.remaining:
            # matching only takes orders off ``opp``: its best price changes only when that
            # level empties (and leaves ``sizes``), so the heap is consulted only then
            if best not in sizes:
                best = opp.best()
            if best is None or best < limit:
                break
            maker = opp.front(best)
            maker_id = maker.account_id
            if maker_id == taker_id:
                if o.stp is _TAKER_AT_CROSS:
                    o.cancel_reason = "self_trade_prevention"
                    break
                self._cancel_remainder(maker, ts, "self_trade_prevention")
                continue
            maker_acct = accounts[maker_id]
            qty = o.remaining if o.remaining < maker.remaining else maker.remaining
            if maker.reduce_only:
                cap = maker_acct.closable(ticker, maker_yes)
                if cap <= 0:
                    self._cancel_remainder(maker, ts, "reduce_only")
                    continue
                qty = min(qty, cap)
            if o.reduce_only:
                cap = taker_acct.closable(ticker, taker_yes)
                if cap <= 0:
                    o.cancel_reason = "reduce_only"
                    break
                qty = min(qty, cap)
            maker_own = best
            taker_own = ONE_TICKS - best
            # fees and cash needs inlined: this block runs once per fill
            maker_fee = fee_cache.get((qty, maker_own, False))
            if maker_fee is None:
                maker_fee = market.fee(qty, maker_own, False)
            taker_fee = fee_cache.get((qty, taker_own, True))
            if taker_fee is None:
                taker_fee = market.fee(qty, taker_own, True)
            maker_state = maker_acct.positions.get(ticker)
            maker_before = maker_state.position if maker_state is not None else 0
            taker_state = taker_positions.get(ticker)
            taker_before = taker_state.position if taker_state is not None else 0
            # a buyer of YES closes held NO (position < 0) and vice versa
            maker_close = -maker_before if maker_yes else maker_before
            taker_close = -taker_before if taker_yes else taker_before
            maker_need = maker_own * qty + maker_fee
            if maker_close > 0:
                maker_need -= (qty if qty < maker_close else maker_close) * ONE_TICKS
            if (
                maker_need > maker_acct.cash - maker_acct.reserved + maker.reserved
                and not maker_acct.unlimited
            ):
                self._cancel_remainder(maker, ts, "insufficient_balance")
                continue
            taker_need = taker_own * qty + taker_fee
            if taker_close > 0:
                taker_need -= (qty if qty < taker_close else taker_close) * ONE_TICKS
            if (
                taker_need > taker_acct.cash - taker_acct.reserved + o.reserved
                and not taker_unlimited
            ):
                o.cancel_reason = "insufficient_balance"
                break
            # -- execute: both sides booked on the states looked up above (``Account.book``)
            if maker_state is None:
                maker_state = maker_acct.positions[ticker] = PositionState()
            maker_pos = maker_acct.book(maker_state, maker_yes, maker_own, qty, maker_fee, ts)
            if taker_state is None:
                taker_state = taker_positions[ticker] = PositionState()
            taker_pos = taker_acct.book(taker_state, taker_yes, taker_own, qty, taker_fee, ts)
            market.open_interest += (
                (maker_pos if maker_pos > 0 else 0)
                + (taker_pos if taker_pos > 0 else 0)
                - (maker_before if maker_before > 0 else 0)
                - (taker_before if taker_before > 0 else 0)
            )
            if maker_need > 0:
                used = maker.reserved if maker.reserved < maker_need else maker_need
                maker.reserved -= used
                maker_acct.reserved -= used
            if taker_need > 0:
                used = o.reserved if o.reserved < taker_need else taker_need
                o.reserved -= used
                taker_acct.reserved -= used
            self.fees_collected += maker_fee + taker_fee
            opp.reduce(maker, qty)
            maker.remaining -= qty
            maker.filled += qty
            maker.maker_cost += maker_own * qty
            maker.maker_fees += maker_fee
            maker.updated = ts
            o.remaining -= qty
            o.filled += qty
            o.taker_cost += taker_own * qty
            o.taker_fees += taker_fee
            yes_ticks = taker_own if taker_yes else maker_own
            market.volume += qty
            market.last_price = yes_ticks
            seq = self._seq + 1  # the trade; its maker and taker fills are seq + 1 and + 2
            self._seq = seq + 2
            trade: BookTrade = (
                seq, ticker, yes_ticks, qty, taker_yes, ts, maker.order_id, taker_order_id,
                maker_fee, taker_fee, maker_pos, taker_pos,
            )  # fmt: skip
            trades.append(trade)
            maker_fills = fills.get(maker_id)
            if maker_fills is None:
                maker_fills = fills[maker_id] = []
            maker_fills.append(trade)
            taker_fills.append(trade)
            out.append(trade)
            if maker.remaining == 0:  # left in its deque: ``front`` drops finished orders
                maker.resting = False
                maker.status = _EXECUTED
                if maker.reserved:  # _release inlined
                    maker_acct.reserved -= maker.reserved
                    maker.reserved = 0
            if listening:
                self._emit_delta(maker, -qty, ts, own=False)
                self._emit(TradeEvent(self._trade_record(trade)))
                self._emit(FillEvent(self._fill_record(trade, maker_id)))
                self._emit(FillEvent(self._fill_record(trade, taker_id)))
                self._emit(OrderEvent(order_view(maker)))
                self._emit(PositionEvent(maker_id, maker_acct.position(ticker).view(ticker)))
                self._emit(PositionEvent(taker_id, taker_acct.position(ticker).view(ticker)))
        return out

    def _match_external(self, o: LiveOrder, market: MarketState, ts: datetime) -> Sequence[FillRow]:
        """Fill against recorded quotes (markets listed with a fill model; see ``tape.py``)."""
        raise NotImplementedError

    def _execute(
        self, o: LiveOrder, market: MarketState, ts: datetime, best: int | None
    ) -> Sequence[Fill]:
        """Run a new (or re-priced) order: FOK check, match, then rest or finish.

        ``best`` is the opposite leg's best price now (unused for quote-driven markets)."""
        if market.fill_model is not None:
            fills: Sequence[Fill] = self._match_external(o, market, ts)
        else:
            if o.time_in_force is _FOK:  # all or nothing: kill it before anything trades
                fillable, reason = self._fillable(o, market)
                if fillable < o.remaining:
                    if not reason or self._others_depth(o) < o.remaining:
                        reason = "fill_or_kill"  # the book is too thin; else why it would stop
                    self._cancel_remainder(o, ts, reason)
                    return []
            fills = self._match(o, market, ts, best)
        if o.remaining and not o.cancel_reason and o.time_in_force is _GTC:
            self._rest(o, market, ts)
        elif o.remaining:
            self._cancel_remainder(o, ts, o.cancel_reason or "immediate_or_cancel")
        else:
            self._finish(o, ts)
        return fills
