"""Property tests: random order flows never break the exchange's conservation laws.

After every operation: no balance (or available balance) is negative; on every market the YES
contracts held equal the NO contracts held (= open interest); and cash + $1 per open contract
pair + fees collected equals the money deposited, so settling either way conserves it too.
A void refunds every holder its cost basis: the money that adds (or removes) is exactly the
trading P&L the market's traders realised before fees. Every trade has exactly two fills of
equal size at one YES price, one taker and one maker.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kalbot.adapters.simulated.errors import EngineError
from kalbot.adapters.simulated.events import BookDelta, EngineEvent, FillEvent, TradeEvent
from kalbot.adapters.simulated.exchange import Exchange
from kalbot.adapters.simulated.records import FillRecord, SelfTradePrevention
from kalbot.domain.clock import ManualClock
from kalbot.domain.fees import FeeType
from kalbot.domain.market import MarketResult, OrderBook
from kalbot.domain.orders import BookSide, OrderStatus, TimeInForce, V2Order
from simulated.helpers import spec

ACCOUNTS = ("a", "b", "c")
TICKERS = ("M1", "M2")
DEPOSIT = Decimal("60")

place_op = st.tuples(
    st.just("place"),
    st.integers(0, 2),  # account offset: ops rotate through the accounts
    st.sampled_from(TICKERS),
    st.sampled_from([BookSide.BID, BookSide.ASK]),
    st.one_of(st.integers(40, 60), st.integers(1, 99)),  # cents; mostly near the money
    st.integers(1, 2000),  # hundredths of a contract
    st.sampled_from([TimeInForce.GTC, TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK]),
    st.sampled_from([False, False, False, True]),  # post_only
    st.sampled_from([False, False, False, True]),  # reduce_only
    st.sampled_from(list(SelfTradePrevention)),
)
touch_op = st.tuples(
    st.sampled_from(["cancel", "decrease", "amend"]),
    st.integers(0, 2),  # account offset: ops rotate through the accounts
    st.integers(0, 50),  # which of the account's orders
    st.integers(1, 99),
    st.integers(1, 2000),
)
take_op = st.tuples(  # an order priced to cross whatever rests on the other leg
    st.just("take"),
    st.integers(0, 2),  # account offset: ops rotate through the accounts
    st.sampled_from(TICKERS),
    st.sampled_from([BookSide.BID, BookSide.ASK]),
    st.integers(0, 3),  # cents through the best price
    st.integers(1, 2000),
    st.sampled_from([TimeInForce.GTC, TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK]),
    st.just(False),
    st.sampled_from([False, False, True]),
    st.sampled_from(list(SelfTradePrevention)),
)
flows = st.lists(st.one_of(place_op, take_op, touch_op), min_size=5, max_size=60)


def _fresh() -> Exchange:
    ex = Exchange(ManualClock(datetime(2026, 3, 1, tzinfo=UTC)))
    ex.add_market(spec("M1"))
    ex.add_market(spec("M2", fee_type=FeeType.QUADRATIC_WITH_MAKER_FEES))
    for acct in ACCOUNTS:
        ex.open_account(acct, DEPOSIT)
    return ex


def _check(ex: Exchange, paid_in: Decimal = Decimal(0)) -> None:
    """``paid_in``: money void settlements added beyond the collateral they released."""
    total = Decimal(0)
    held: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for acct in ACCOUNTS:
        assert ex.balance(acct) >= 0
        assert ex.available_balance(acct) >= 0
        total += ex.balance(acct) + ex.fees_paid(acct)
        for p in ex.positions(acct):
            held[p.ticker][0 if p.position > 0 else 1] += abs(p.position)
    open_pairs = Decimal(0)
    for t in TICKERS:
        yes, no = held[t]
        assert yes == no == ex.market(t).open_interest
        open_pairs += yes
    assert total + open_pairs == DEPOSIT * len(ACCOUNTS) + paid_in


def _settle(ex: Exchange, ticker: str, result: MarketResult) -> Decimal:
    """Settle ``ticker``; for a void check every refund and return what the void paid in."""
    before = {a: next((p for p in ex.positions(a) if p.ticker == ticker), None) for a in ACCOUNTS}
    cash = {a: ex.balance(a) for a in ACCOUNTS}
    records = {r.account_id: r for r in ex.settle(ticker, result)}
    if result is not MarketResult.VOID:
        return Decimal(0)
    realised = Decimal(0)
    for a, p in before.items():
        refund = Decimal(0) if p is None else p.market_exposure
        assert ex.balance(a) - cash[a] == refund
        if p is not None:
            r = records[a]
            assert r.market_result is MarketResult.VOID and r.revenue == refund
            assert r.yes_count == max(p.position, Decimal(0))
            assert r.no_count == max(-p.position, Decimal(0))
            assert r.yes_total_cost + r.no_total_cost == refund
            realised += p.realized_pnl + p.fees_paid  # before fees
    return realised


def _run(ex: Exchange, op: tuple[object, ...], n: int) -> None:
    kind, acct = op[0], ACCOUNTS[(n + int(str(op[1]))) % len(ACCOUNTS)]
    try:
        if kind in ("place", "take"):
            _, _, ticker, side, cents, hundredths, tif, post, reduce, stp = op
            assert isinstance(side, BookSide) and isinstance(tif, TimeInForce)
            assert isinstance(stp, SelfTradePrevention)
            if kind == "take":
                quote = ex.quote(str(ticker))
                if (quote.yes_ask if side is BookSide.BID else quote.yes_bid) is None:
                    side = BookSide.ASK if side is BookSide.BID else BookSide.BID
                best = quote.yes_ask if side is BookSide.BID else quote.yes_bid
                if best is None:
                    return
                through = int(str(cents)) if side is BookSide.BID else -int(str(cents))
                cents = min(max(int(best * 100) + through, 1), 99)
            ex.place(
                acct,
                V2Order(
                    str(ticker),
                    side,
                    Decimal(int(str(cents))) / 100,
                    Decimal(int(str(hundredths))) / 100,
                    f"{acct}-{n}",
                    tif,
                    post_only=bool(post),
                    reduce_only=bool(reduce),
                ),
                self_trade_prevention=stp,
            )
            return
        _, _, which, cents, hundredths = op
        resting = ex.orders(acct, status=OrderStatus.RESTING)
        if not resting:
            return
        o = resting[int(str(which)) % len(resting)]
        count = Decimal(int(str(hundredths))) / 100
        if kind == "cancel":
            ex.cancel(acct, o.order_id)
        elif kind == "decrease":
            ex.decrease(acct, o.order_id, reduce_by=count)
        else:
            ex.amend(
                acct,
                o.order_id,
                ticker=o.ticker,
                book_side=o.book_side,
                price=Decimal(int(str(cents))) / 100,
                count=o.fill_count + count,
            )
    except EngineError:
        pass  # refusals are fine; the invariants must hold either way


@settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    flow=flows,
    results=st.tuples(
        *(st.sampled_from([MarketResult.YES, MarketResult.NO, MarketResult.VOID]),) * 2
    ),
)
def test_random_flows_conserve_money_and_contracts(
    flow: list[tuple[object, ...]], results: tuple[MarketResult, MarketResult]
) -> None:
    ex = _fresh()
    for n, op in enumerate(flow):
        _run(ex, op, n)
        _check(ex)
    by_trade: dict[str, list[FillRecord]] = defaultdict(list)
    for acct in ACCOUNTS:
        for f in ex.fills(acct):
            by_trade[f.trade_id].append(f)
    assert len(by_trade) == len(ex.trades())
    for trade in ex.trades():
        maker, taker = sorted(by_trade[trade.trade_id], key=lambda f: f.is_taker)
        assert maker.count == taker.count == trade.count
        assert maker.yes_price == taker.yes_price == trade.yes_price
        assert maker.book_side is not taker.book_side
        assert maker.account_id != taker.account_id
    paid_in = Decimal(0)
    for t, result in zip(TICKERS, results, strict=True):
        paid_in += _settle(ex, t, result)
        _check(ex, paid_in)
    assert all(ex.available_balance(a) == ex.balance(a) for a in ACCOUNTS)


def test_a_long_seeded_flow_trades_a_lot_and_keeps_every_invariant() -> None:
    """The same checks over 1,500 operations drawn from a seeded generator (many trades)."""
    rng = random.Random(1)
    ex = _fresh()
    for n in range(1_500):
        if rng.random() < 0.7:
            kind = "take" if rng.random() < 0.4 else "place"
            op: tuple[object, ...] = (
                kind,
                rng.randrange(3),
                rng.choice(TICKERS),
                rng.choice([BookSide.BID, BookSide.ASK]),
                rng.randint(0, 3) if kind == "take" else rng.randint(30, 70),
                rng.randint(1, 2000),
                rng.choice([TimeInForce.GTC, TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK]),
                rng.random() < 0.1,
                rng.random() < 0.2,
                rng.choice(list(SelfTradePrevention)),
            )
        else:
            op = (rng.choice(["cancel", "decrease", "amend"]), rng.randrange(3), rng.randrange(50),
                  rng.randint(30, 70), rng.randint(1, 2000))  # fmt: skip
        _run(ex, op, n)
        _check(ex)
    assert len(ex.trades()) > 200
    paid_in = _settle(ex, TICKERS[0], MarketResult.VOID)
    _check(ex, paid_in)
    paid_in += _settle(ex, TICKERS[1], MarketResult.NO)
    _check(ex, paid_in)


def test_book_deltas_rebuild_the_book_and_every_fill_is_announced() -> None:
    """A listener that only sees events can mirror every book exactly (what WS clients do)."""
    rng = random.Random(2)
    ex = _fresh()
    mirror = {t: OrderBook(t) for t in TICKERS}
    fills: list[FillRecord] = []
    trades = 0

    def listen(event: EngineEvent) -> None:
        nonlocal trades
        if isinstance(event, BookDelta):
            mirror[event.ticker].apply_delta(event.side, event.price, event.delta)
        elif isinstance(event, FillEvent):
            fills.append(event.fill)
        elif isinstance(event, TradeEvent):
            trades += 1

    ex.subscribe(listen)
    for n in range(600):
        kind = rng.choice(["place", "take", "take", "cancel", "decrease", "amend"])
        if kind in ("place", "take"):
            op: tuple[object, ...] = (
                kind, rng.randrange(3), rng.choice(TICKERS),
                rng.choice([BookSide.BID, BookSide.ASK]),
                rng.randint(0, 2) if kind == "take" else rng.randint(35, 65),
                rng.randint(1, 1500), rng.choice(list(TimeInForce)), False, False,
                rng.choice(list(SelfTradePrevention)),
            )  # fmt: skip
        else:
            op = (kind, rng.randrange(3), rng.randrange(40), rng.randint(35, 65),
                  rng.randint(1, 1500))  # fmt: skip
        _run(ex, op, n)
        for t in TICKERS:
            book = ex.orderbook(t)
            assert (mirror[t].yes, mirror[t].no) == (book.yes, book.no), (n, op)
    assert trades == len(ex.trades()) > 10
    assert sorted(f.fill_id for f in fills) == sorted(
        f.fill_id for a in ACCOUNTS for f in ex.fills(a)
    )
