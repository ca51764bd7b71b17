"""Matching on the two-sided binary book: price-time priority, partial fills, TIF, both legs."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from kalbot.adapters.simulated.errors import EngineError, ErrorCode
from kalbot.adapters.simulated.exchange import Exchange
from kalbot.adapters.simulated.records import SelfTradePrevention
from kalbot.domain.clock import ManualClock
from kalbot.domain.orders import BookSide, OrderStatus, TimeInForce
from kalbot.domain.prices import Side
from simulated.helpers import TICKER, order, spec

BID, ASK = BookSide.BID, BookSide.ASK
D = Decimal


def test_yes_bid_rests_and_a_no_buyer_lifts_it_at_the_makers_price(ex: Exchange) -> None:
    ex.place("alice", order(BID, "0.40", 10, "a1"))
    assert ex.quote(TICKER).yes_bid == D("0.40")
    assert ex.quote(TICKER).no_ask == D("0.60")
    # bob buys NO willing to pay up to 0.65 (YES price 0.35): trades at the resting YES 0.40
    r = ex.place("bob", order(ASK, "0.35", 4, "b1", TimeInForce.IOC))
    assert r.order.status is OrderStatus.EXECUTED
    (fill,) = r.fills
    assert fill.yes_price == D("0.40") and fill.own_price == D("0.60")
    assert fill.outcome_side is Side.NO and fill.is_taker
    assert fill.fee == D("0.07")  # ceil(0.07 * 4 * 0.6 * 0.4 = 0.0672)
    assert ex.orderbook(TICKER).yes == {D("0.40"): D("6")}
    assert [p.position for p in ex.positions("alice")] == [D("4")]
    assert [p.position for p in ex.positions("bob")] == [D("-4")]
    assert ex.balance("alice") == D("1000") - D("1.60")  # maker: no fee on a quadratic series
    assert ex.balance("bob") == D("1000") - D("2.40") - D("0.07")


def test_no_bid_rests_in_no_prices_and_is_the_yes_ask(ex: Exchange) -> None:
    ex.place("alice", order(ASK, "0.70", 5, "a1"))  # buy NO at 0.30
    book = ex.orderbook(TICKER)
    assert book.no == {D("0.30"): D("5")} and book.yes == {}
    assert ex.quote(TICKER).yes_ask == D("0.70")
    r = ex.place("bob", order(BID, "0.75", 5, "b1"))  # buy YES up to 0.75: pays 0.70
    assert [f.yes_price for f in r.fills] == [D("0.70")]
    assert r.fills[0].fee == D("0.08")  # ceil(0.07*5*0.7*0.3 = 0.0735)
    assert ex.balance("bob") == D("1000") - D("3.50") - D("0.08")
    assert ex.balance("alice") == D("1000") - D("1.50")


def test_price_then_time_priority(ex: Exchange) -> None:
    first = ex.place("alice", order(BID, "0.40", 3, "a1")).order
    second = ex.place("carol", order(BID, "0.40", 3, "c1")).order
    better = ex.place("carol", order(BID, "0.41", 1, "c2")).order
    r = ex.place("bob", order(ASK, "0.40", 5, "b1", TimeInForce.IOC))
    assert [(f.yes_price, f.count) for f in r.fills] == [
        (D("0.41"), D(1)),
        (D("0.40"), D(3)),
        (D("0.40"), D(1)),
    ]
    assert ex.order("alice", first.order_id).status is OrderStatus.EXECUTED
    assert ex.order("carol", second.order_id).remaining_count == D("2")
    assert ex.order("carol", better.order_id).status is OrderStatus.EXECUTED


def test_a_deep_level_keeps_time_priority_past_the_list_to_deque_switch(ex: Exchange) -> None:
    # a level starts as a list and becomes a deque at 32 orders (book._DEQUE_AT): the switch,
    # cancels in the middle and a sweep must keep strict time priority across both
    makers = ["alice", "carol"]
    placed = [
        ex.place(makers[i % 2], order(BID, "0.40", 1, f"m{i}")).order.order_id for i in range(80)
    ]
    canceled = set(placed[5:60:7])
    for oid in canceled:
        ex.cancel("alice" if placed.index(oid) % 2 == 0 else "carol", oid)
    first = ex.place("bob", order(ASK, "0.40", 10, "b1", TimeInForce.IOC))
    rest = ex.place("bob", order(ASK, "0.40", 100, "b2", TimeInForce.IOC))
    live = [oid for oid in placed if oid not in canceled]
    # the makers' order behind each of the taker's fills, in the order the taker took them
    by_trade = {f.trade_id: f.order_id for f in ex.fills("alice") + ex.fills("carol")}
    assert [by_trade[f.trade_id] for r in (first, rest) for f in r.fills] == live
    assert ex.orderbook(TICKER).yes == {}
    assert rest.order.fill_count == len(live) - 10


def test_gtc_remainder_rests_and_ioc_remainder_is_canceled(ex: Exchange) -> None:
    ex.place("alice", order(BID, "0.40", 2, "a1"))
    gtc = ex.place("bob", order(ASK, "0.40", 5, "b1"))
    assert gtc.fill_count == D("2") and gtc.remaining_count == D("3")
    assert gtc.order.status is OrderStatus.RESTING
    assert ex.orderbook(TICKER).no == {D("0.60"): D("3")}
    ex.place("carol", order(ASK, "0.30", 1, "c0"))  # makes bob's NO bid not the only one
    ex.place("alice", order(BID, "0.30", 1, "a2"))
    ioc = ex.place("carol", order(BID, "0.40", 10, "c1", TimeInForce.IOC))
    assert ioc.fill_count == D("3")
    assert ioc.order.status is OrderStatus.CANCELED and ioc.order.remaining_count == 0
    assert ioc.order.cancel_reason == "immediate_or_cancel"


def test_fill_or_kill_all_or_nothing(ex: Exchange) -> None:
    ex.place("alice", order(BID, "0.40", 3, "a1"))
    ex.place("carol", order(BID, "0.39", 3, "c1"))
    killed = ex.place("bob", order(ASK, "0.40", 4, "b1", TimeInForce.FOK))
    assert killed.order.status is OrderStatus.CANCELED and killed.fills == ()
    assert ex.balance("bob") == D("1000") and ex.available_balance("bob") == D("1000")
    done = ex.place("bob", order(ASK, "0.39", 6, "b2", TimeInForce.FOK))
    assert done.order.status is OrderStatus.EXECUTED and done.fill_count == D("6")
    assert done.average_fill_price == D("0.395")


def test_post_only_refuses_to_cross_and_rests_otherwise(ex: Exchange) -> None:
    ex.place("alice", order(BID, "0.40", 3, "a1"))
    with pytest.raises(EngineError) as err:
        ex.place("bob", order(ASK, "0.40", 1, "b1", post_only=True))
    assert err.value.code is ErrorCode.POST_ONLY_CROSS
    assert ex.orders("bob") == []
    r = ex.place("bob", order(ASK, "0.41", 1, "b2", post_only=True))
    assert r.order.status is OrderStatus.RESTING


def test_self_trade_taker_at_cross_cancels_the_incoming_order(ex: Exchange) -> None:
    resting = ex.place("alice", order(BID, "0.40", 3, "a1")).order
    r = ex.place("alice", order(ASK, "0.40", 2, "a2"))
    assert r.fills == () and r.order.status is OrderStatus.CANCELED
    assert r.order.cancel_reason == "self_trade_prevention"
    assert ex.order("alice", resting.order_id).remaining_count == D("3")


def test_self_trade_maker_mode_cancels_the_resting_order_and_keeps_matching(ex: Exchange) -> None:
    own = ex.place("alice", order(BID, "0.41", 3, "a1")).order
    ex.place("bob", order(BID, "0.40", 3, "b1"))
    r = ex.place(
        "alice", order(ASK, "0.40", 2, "a2"), self_trade_prevention=SelfTradePrevention.MAKER
    )
    assert [(f.yes_price, f.count) for f in r.fills] == [(D("0.40"), D("2"))]
    assert ex.order("alice", own.order_id).status is OrderStatus.CANCELED


def test_cancel_decrease_and_amend(ex: Exchange) -> None:
    a1 = ex.place("alice", order(BID, "0.40", 5, "a1")).order
    c1 = ex.place("carol", order(BID, "0.40", 5, "c1")).order
    view = ex.decrease("alice", a1.order_id, reduce_by=D("2"))
    assert view.remaining_count == D("3")
    # decrease keeps alice first in the queue
    r = ex.place("bob", order(ASK, "0.40", 1, "b1", TimeInForce.IOC))
    assert r.fills[0].order_id != c1.order_id
    assert ex.fills("alice")[0].count == D("1")
    # a price amend loses priority and re-prices
    amended = ex.amend(
        "alice", a1.order_id, ticker=TICKER, book_side=BID, price=D("0.42"), count=D("4")
    )
    assert amended.order.yes_price == D("0.42") and amended.order.remaining_count == D("3")
    assert ex.orderbook(TICKER).yes == {D("0.42"): D("3"), D("0.40"): D("5")}
    canceled = ex.cancel("carol", c1.order_id)
    assert canceled.reduced_by == D("5")
    assert ex.orderbook(TICKER).yes == {D("0.42"): D("3")}
    with pytest.raises(EngineError) as err:
        ex.cancel("carol", c1.order_id)
    assert err.value.code is ErrorCode.INVALID_ORDER
    with pytest.raises(EngineError) as err:
        ex.cancel("bob", a1.order_id)  # not bob's order
    assert err.value.code is ErrorCode.ORDER_NOT_FOUND
    gone = ex.decrease("alice", a1.order_id, reduce_to=D("0"))
    assert gone.status is OrderStatus.CANCELED
    assert ex.available_balance("alice") == ex.balance("alice")


def test_amend_that_crosses_trades_at_once(ex: Exchange) -> None:
    ex.place("bob", order(ASK, "0.45", 2, "b1"))  # NO bid at 0.55 = YES ask 0.45
    a1 = ex.place("alice", order(BID, "0.40", 2, "a1")).order
    r = ex.amend("alice", a1.order_id, ticker=TICKER, book_side=BID, price=D("0.46"), count=D("2"))
    assert r.order.status is OrderStatus.EXECUTED
    assert [f.yes_price for f in r.fills] == [D("0.45")]


def test_amend_rejects_a_wrong_side_or_ticker(ex: Exchange) -> None:
    a1 = ex.place("alice", order(BID, "0.40", 2, "a1")).order
    with pytest.raises(EngineError) as err:
        ex.amend("alice", a1.order_id, ticker=TICKER, book_side=ASK, price=D("0.4"), count=D("2"))
    assert err.value.code is ErrorCode.ORDER_SIDE_MISMATCH
    with pytest.raises(EngineError) as err:
        ex.amend("alice", a1.order_id, ticker="X", book_side=BID, price=D("0.4"), count=D("2"))
    assert err.value.code is ErrorCode.ORDER_TICKER_MISMATCH


def test_fills_and_trades_filter_by_ticker_and_time_and_pair_up(
    ex_clock: tuple[Exchange, ManualClock],
) -> None:
    """Book trades are stored once with both fills; each account reads its own side."""
    ex, clock = ex_clock
    other = "KXTEST-26MAR01-T60"
    ex.add_market(spec(other))
    ex.place("alice", order(BID, "0.40", 5, "a1"))
    first = ex.place("bob", order(ASK, "0.40", 2, "b1", TimeInForce.IOC))
    clock.advance(timedelta(minutes=1))
    later = clock.now()
    ex.place("alice", order(ASK, "0.70", 3, "a2", ticker=other))
    ex.place("carol", order(BID, "0.70", 3, "c1", ticker=other))
    ex.place("carol", order(ASK, "0.40", 1, "c2", TimeInForce.IOC))

    trades = ex.trades()
    assert [(t.ticker, t.count, t.taker_book_side) for t in trades] == [
        (TICKER, D(2), ASK), (other, D(3), BID), (TICKER, D(1), ASK),
    ]  # fmt: skip
    assert ex.trades(ticker=other) == [trades[1]]
    assert ex.trades(since=later) == trades[1:]
    alice = ex.fills("alice")
    assert [(f.trade_id, f.is_taker, f.book_side, f.count) for f in alice] == [
        (trades[0].trade_id, False, BID, D(2)), (trades[1].trade_id, False, ASK, D(3)),
        (trades[2].trade_id, False, BID, D(1)),
    ]  # fmt: skip
    assert ex.fills("alice", ticker=other) == [alice[1]]
    assert ex.fills("alice", since=later) == alice[1:]
    assert ex.fills("bob") == list(first.fills)
    assert [f.is_taker for f in ex.fills("carol")] == [True, True]
    everyone = [f for a in ("alice", "bob", "carol") for f in ex.fills(a)]
    assert len({f.fill_id for f in everyone}) == len(everyone) == 2 * len(trades)
    for t in trades:  # one maker and one taker fill per trade, at its price and count
        pair = sorted((f for f in everyone if f.trade_id == t.trade_id), key=lambda f: f.is_taker)
        assert [f.is_taker for f in pair] == [False, True]
        assert {f.yes_price for f in pair} == {t.yes_price} and {f.count for f in pair} == {t.count}
        assert pair[0].account_id != pair[1].account_id
    assert alice[0].post_position == 2 and ex.fills("bob")[0].post_position == -2
