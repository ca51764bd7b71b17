"""Start-up reconciliation: the exchange's positions against the database's (exchange wins).

Live trading refuses to start while they differ; ``kalbot reconcile --apply`` brings the
database in line: rows the exchange does not hold are closed (``close_reason='reconcile'``)
at the current bid, and holdings the database lacks are opened at the market's ask
(``reason='reconcile'``, the exchange's own entry price being unknown to us).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from kalbot.domain.prices import ZERO, Side
from kalbot.domain.trading import ClosedPart, OpenPosition, PositionChange
from kalbot.engine.book import PositionBook
from kalbot.engine.store import TradingStore
from kalbot.ports import Broker, MarketData


@dataclass(frozen=True, slots=True)
class Mismatch:
    ticker: str
    exchange: Decimal  # signed: + YES, - NO
    database: Decimal

    def describe(self) -> str:
        def fmt(n: Decimal) -> str:
            return "flat" if n == 0 else f"{abs(n)} {'YES' if n > 0 else 'NO'}"

        return f"{self.ticker}: exchange {fmt(self.exchange)}, database {fmt(self.database)}"


def signed(book: PositionBook) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for p in book.by_id.values():
        q = p.quantity if p.side is Side.YES else -p.quantity
        out[p.ticker] = out.get(p.ticker, ZERO) + q
    return out


async def find_mismatches(broker: Broker, book: PositionBook) -> list[Mismatch]:
    exchange = {t: q for t, q in (await broker.positions()).items() if q != 0}
    database = signed(book)
    return [
        Mismatch(t, exchange.get(t, ZERO), database.get(t, ZERO))
        for t in sorted(set(exchange) | set(database))
        if exchange.get(t, ZERO) != database.get(t, ZERO)
    ]


async def apply_reconcile(
    mismatches: list[Mismatch],
    book: PositionBook,
    store: TradingStore,
    market_data: MarketData,
    now: datetime,
) -> list[str]:
    """Make the database match the exchange; returns what was done, one line each."""
    done: list[str] = []
    for mm in mismatches:
        market = await market_data.market(mm.ticker)
        for pos in [p for p in book.by_id.values() if p.ticker == mm.ticker]:
            bid = market.quote.bid(pos.side)
            price = bid if bid is not None else pos.entry_price
            pnl = pos.quantity * price - pos.cost - pos.entry_fees
            change = PositionChange(
                "close",
                pos,
                ClosedPart(pos.quantity, pos.entry_price, price, now, pnl, "reconcile"),
            )
            await store.apply_position_change(change)
            book.apply(change, pos.id)
            done.append(f"closed {pos.ticker} {pos.side.value} x{pos.quantity} at {price}")
        if mm.exchange != 0:
            side = Side.YES if mm.exchange > 0 else Side.NO
            qty = abs(mm.exchange)
            ask = market.quote.ask(side) or market.quote.bid(side)
            if ask is None:
                done.append(f"cannot open {mm.ticker}: no price to record")
                continue
            pos = OpenPosition(
                0, mm.ticker, side, qty, qty * ask, ZERO, now, "reconcile",
                market.event_ticker, market.category, "reconcile",
            )  # fmt: skip
            change = PositionChange("open", pos)
            pid = await store.apply_position_change(change)
            book.apply(change, pid)
            done.append(f"opened {mm.ticker} {side.value} x{qty} at {ask}")
    return done
