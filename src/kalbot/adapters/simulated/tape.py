"""Quote-driven markets: fills against a recorded tape through a fill model.

A replay knows only each snapshot's best bid and ask, so the book cannot supply the other
side of a trade. Markets listed with a fill model trade against a house account, the *tape*,
which takes the opposite leg of every fill at no fee and with unlimited cash (so cash plus
open pairs plus fees stays conserved across all accounts, tape included). Accounts do not
trade with each other in such markets; their resting orders wait for the quotes to reach them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from kalbot.adapters.simulated.accounts import Account, fill_cash_need
from kalbot.adapters.simulated.book import LiveOrder
from kalbot.adapters.simulated.events import FillEvent, OrderEvent, PositionEvent, TradeEvent
from kalbot.adapters.simulated.fill_models import FillModel, ModelFill
from kalbot.adapters.simulated.lifecycle import Lifecycle
from kalbot.adapters.simulated.markets import MarketSpec, MarketState
from kalbot.adapters.simulated.matching import FillRow, TradeRow, order_view
from kalbot.adapters.simulated.units import (
    ONE_TICKS,
    PRICE_SCALE,
    count_to_units,
    price_to_ticks,
    ticks_to_price,
    units_to_count,
)
from kalbot.domain.market import MarketStatus, Quote
from kalbot.domain.orders import BookSide, OrderStatus, TimeInForce
from kalbot.domain.prices import Side

TAPE_ACCOUNT = "__tape__"


class Tape(Lifecycle):
    def add_quoted_market(self, spec: MarketSpec, fill_model: FillModel) -> None:
        """List a market whose fills come from recorded quotes via ``fill_model``."""
        self.add_market(spec)
        self._markets[spec.ticker].fill_model = fill_model
        if TAPE_ACCOUNT not in self._accounts:
            self._accounts[TAPE_ACCOUNT] = Account(TAPE_ACCOUNT, 0, unlimited=True)

    def update_quote(
        self,
        ticker: str,
        quote: Quote,
        last_price: Decimal | None = None,
        *,
        liquidity: tuple[Decimal, Decimal] | None = None,
    ) -> list[FillRow]:
        """Record the market's new quote (YES-leg) and fill resting orders it reaches.

        ``liquidity``: the recorded (24h volume, open interest) the market shows from now on
        instead of the exchange's own counts (a replay knows them; the tape cannot).
        """
        now = self._sync()
        return self._record_quote(self._market(ticker), now, quote, last_price, liquidity)

    def update_quote_if_active(
        self,
        ticker: str,
        quote: Quote,
        last_price: Decimal | None = None,
        liquidity: tuple[Decimal, Decimal] | None = None,
    ) -> list[FillRow] | None:
        """``update_quote`` while the market is active; None (nothing recorded) otherwise."""
        now = self._sync()
        m = self._market(ticker)
        if m.status is not MarketStatus.ACTIVE:
            return None
        return self._record_quote(m, now, quote, last_price, liquidity)

    def update_quotes_if_active(
        self,
        updates: Iterable[tuple[str, Quote, Decimal | None, tuple[Decimal, Decimal] | None]],
    ) -> list[FillRow]:
        """``update_quote_if_active`` for each (ticker, quote, last price, liquidity) in order,
        at one instant: the clock is read once (a replay step applies a whole timestamp's
        snapshots; listing a market meanwhile schedules nothing already due). ``updates`` may
        be a generator that lists markets as it goes. The fills of all updates, in order."""
        now = self._sync()
        markets, record, active = self._markets, self._record_quote, MarketStatus.ACTIVE
        out: list[FillRow] = []
        for ticker, quote, last_price, liquidity in updates:
            m = markets.get(ticker)
            if m is None:
                m = self._market(ticker)  # raises MARKET_NOT_FOUND
            if m.status is active:
                fills = record(m, now, quote, last_price, liquidity)
                if fills:
                    out += fills
        return out

    def _record_quote(
        self,
        m: MarketState,
        now: datetime,
        quote: Quote,
        last_price: Decimal | None,
        liquidity: tuple[Decimal, Decimal] | None,
    ) -> list[FillRow]:
        ticker = m.spec.ticker
        if m.fill_model is None:
            raise ValueError(f"{ticker} is matched on its book; it takes no recorded quotes")
        m.tape_quote = quote
        if liquidity is not None:
            self._recorded[ticker] = liquidity
        new_print: Decimal | None = None
        # A recorded last price of 0 or 1 means "no trade yet"; one equal to the previous
        # update's is an old print (it may predate our orders). Only a changed last price
        # counts as a new trade for the fill models. Sub-tick prices are shown rounded.
        if last_price is not None and 0 < last_price < 1:
            if last_price != m.tape_last_yes:
                new_print = last_price
            m.tape_last_yes = last_price
            ticks = int((last_price * PRICE_SCALE).to_integral_value())
            if 0 < ticks < PRICE_SCALE:
                m.last_price = ticks
        if m.status is not MarketStatus.ACTIVE:
            return []
        book = self._books[ticker]
        if not book.yes.sizes and not book.no.sizes:
            return []  # nothing rests: nothing to fill
        out: list[FillRow] = []
        for leg, side in ((book.yes, Side.YES), (book.no, Side.NO)):
            for price, _ in leg.depth():
                for o in leg.orders_at(price):
                    decision = m.fill_model.resting(
                        side,
                        ticks_to_price(o.own_ticks),
                        units_to_count(o.remaining),
                        quote,
                        new_print,
                    )
                    row = self._tape_fill(o, m, decision, False, now) if decision else None
                    if row is not None:
                        out.append(row)
                        if o.remaining == 0:
                            o.status = OrderStatus.EXECUTED
                            self._release(o)
                    elif o.cancel_reason:
                        self._cancel_remainder(o, now, o.cancel_reason)
        return out

    def _match_external(self, o: LiveOrder, market: MarketState, ts: datetime) -> list[FillRow]:
        quote = market.tape_quote
        model = market.fill_model
        if quote is None or model is None:
            return []
        side = Side.YES if o.book_side is BookSide.BID else Side.NO
        decision = model.taker(
            side, ticks_to_price(o.own_ticks), units_to_count(o.remaining), quote
        )
        if decision is None:
            if o.time_in_force is TimeInForce.FOK:
                o.cancel_reason = "fill_or_kill"
            return []
        if o.time_in_force is TimeInForce.FOK and decision.count < units_to_count(o.remaining):
            o.cancel_reason = "fill_or_kill"
            return []
        row = self._tape_fill(o, market, decision, True, ts)
        return [row] if row is not None else []

    def _would_cross_tape(self, market: MarketState, book_side: BookSide, own: int) -> bool:
        quote, model = market.tape_quote, market.fill_model
        if quote is None or model is None:
            return False
        side = Side.YES if book_side is BookSide.BID else Side.NO
        return model.taker(side, ticks_to_price(own), Decimal(1), quote) is not None

    def _tape_fill(
        self, o: LiveOrder, market: MarketState, decision: ModelFill, is_taker: bool, ts: datetime
    ) -> FillRow | None:
        """Book one fill of ``o`` against the tape; None (with a cancel reason) if refused."""
        ticker = o.ticker
        acct = self._accounts[o.account_id]
        tape = self._accounts[TAPE_ACCOUNT]
        buys_yes = o.book_side is BookSide.BID
        qty = min(count_to_units(decision.count), o.remaining)
        own = price_to_ticks(decision.price, "fill price")
        if o.reduce_only:
            cap = acct.closable(ticker, buys_yes)
            if cap <= 0:
                o.cancel_reason = "reduce_only"
                return None
            qty = min(qty, cap)
        fee = market.fee(qty, own, is_taker)
        need = fill_cash_need(own, qty, fee, acct.closable(ticker, buys_yes))
        if need > acct.available + o.reserved and not acct.unlimited:
            o.cancel_reason = "insufficient_balance"
            return None
        before = max(acct.signed_position(ticker), 0) + max(tape.signed_position(ticker), 0)
        pos = acct.apply_fill(ticker, buys_yes, own, qty, fee, ts)
        tape.apply_fill(ticker, not buys_yes, ONE_TICKS - own, qty, 0, ts)
        after = max(acct.signed_position(ticker), 0) + max(tape.signed_position(ticker), 0)
        market.open_interest += after - before
        used = min(o.reserved, need) if need > 0 else 0
        o.reserved -= used
        acct.reserved -= used
        self.fees_collected += fee
        if o.resting:
            self._books[ticker].leg(o.book_side).reduce(o, qty)
        o.remaining -= qty
        o.filled += qty
        if is_taker:
            o.taker_cost += own * qty
            o.taker_fees += fee
        else:
            o.maker_cost += own * qty
            o.maker_fees += fee
            if o.remaining == 0:
                o.resting = False
        o.updated = ts
        yes_ticks = own if buys_yes else ONE_TICKS - own
        market.volume += qty
        self._seq += 1
        taker_side = o.book_side if is_taker else _flip(o.book_side)
        trade = TradeRow(self._seq, ticker, yes_ticks, qty, taker_side, ts)
        self._trades.append(trade)
        self._seq += 1
        row = FillRow(self._seq, trade.seq, o, yes_ticks, qty, fee, is_taker, ts, pos)
        self._fills.setdefault(o.account_id, []).append(row)
        if self._listeners:
            if not is_taker:
                self._emit_delta(o, -qty, ts, own=False)
            self._emit(TradeEvent(trade.record()))
            self._emit(FillEvent(row.record()))
            self._emit(OrderEvent(order_view(o)))
            self._emit(PositionEvent(o.account_id, acct.position(ticker).view(ticker)))
        return row


def _flip(side: BookSide) -> BookSide:
    return BookSide.ASK if side is BookSide.BID else BookSide.BID
