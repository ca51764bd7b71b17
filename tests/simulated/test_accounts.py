"""Netting, fees and settlement on both legs; balance reservations; refusals with codes."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from kalbot.adapters.simulated.errors import EngineError, ErrorCode
from kalbot.adapters.simulated.exchange import Exchange
from kalbot.domain.clock import ManualClock
from kalbot.domain.fees import FeeType
from kalbot.domain.market import MarketResult, MarketStatus
from kalbot.domain.orders import BookSide, OrderStatus, TimeInForce
from kalbot.domain.prices import PriceRange
from simulated.helpers import START, TICKER, order, spec

BID, ASK = BookSide.BID, BookSide.ASK
IOC = TimeInForce.IOC
D = Decimal


def _trade(ex: Exchange, buyer_yes: str, buyer_no: str, yes_price: str, count: int) -> None:
    """``buyer_yes`` rests a YES bid; ``buyer_no`` takes it by buying NO."""
    n = len(ex.trades())
    ex.place(buyer_yes, order(BID, yes_price, count, f"y{n}-{buyer_yes}"))
    ex.place(buyer_no, order(ASK, yes_price, count, f"n{n}-{buyer_no}", IOC))


def test_buying_no_while_long_yes_reduces_the_position_and_realizes_pnl(ex: Exchange) -> None:
    _trade(ex, "alice", "bob", "0.40", 10)  # alice long 10 YES at 0.40
    # carol bids YES 0.55; alice buys NO at 0.45 (= sells YES at 0.55) for 4
    ex.place("carol", order(BID, "0.55", 4, "c1"))
    r = ex.place("alice", order(ASK, "0.55", 4, "a2", IOC))
    assert r.fills[0].post_position == D("6")
    (pos,) = ex.positions("alice")
    assert pos.position == D("6")
    assert pos.market_exposure == D("2.40")  # 6 left at 0.40
    fee = r.fills[0].fee
    assert fee == D("0.07")  # ceil(0.07*4*0.45*0.55 = 0.0693)
    assert pos.realized_pnl == D("4") * (D("0.55") - D("0.40")) - fee
    # cash: paid 4.00 for YES, paid 1.80 for NO, got 4.00 back for 4 YES+NO pairs
    assert ex.balance("alice") == D("1000") - D("4.00") - D("1.80") + D("4.00") - fee


def test_buying_yes_while_long_no_reduces_the_no_position(ex: Exchange) -> None:
    _trade(ex, "alice", "bob", "0.40", 10)  # bob long 10 NO at 0.60
    ex.place("carol", order(ASK, "0.30", 10, "c1"))  # carol bids NO at 0.70
    r = ex.place("bob", order(BID, "0.30", 10, "b2", IOC))  # bob buys YES at 0.30 = sells NO 0.70
    assert r.fills[0].post_position == 0
    assert ex.positions("bob")[0].position == 0
    assert ex.positions("bob")[0].market_exposure == 0
    bob_fees = ex.fees_paid("bob")
    assert ex.balance("bob") == D("1000") + D("10") * (D("0.70") - D("0.60")) - bob_fees


def test_crossing_through_zero_flips_from_yes_to_no(ex: Exchange) -> None:
    _trade(ex, "alice", "bob", "0.40", 3)
    ex.place("carol", order(BID, "0.50", 5, "c1"))
    ex.place("alice", order(ASK, "0.50", 5, "a2", IOC))
    (pos,) = ex.positions("alice")
    assert pos.position == D("-2")
    assert pos.market_exposure == D("1.00")  # 2 NO at 0.50


@pytest.mark.parametrize(
    ("result", "alice_revenue", "bob_revenue"),
    [(MarketResult.YES, D("10"), D("0")), (MarketResult.NO, D("0"), D("10"))],
)
def test_settlement_pays_a_dollar_per_winning_contract_on_either_side(
    ex: Exchange, result: MarketResult, alice_revenue: Decimal, bob_revenue: Decimal
) -> None:
    _trade(ex, "alice", "bob", "0.40", 10)
    before = {a: ex.balance(a) for a in ("alice", "bob")}
    records = {r.account_id: r for r in ex.settle(TICKER, result)}
    assert records["alice"].revenue == alice_revenue and records["alice"].yes_count == D("10")
    assert records["bob"].revenue == bob_revenue and records["bob"].no_count == D("10")
    assert records["bob"].no_total_cost == D("6.00")
    assert ex.balance("alice") == before["alice"] + alice_revenue
    assert ex.balance("bob") == before["bob"] + bob_revenue
    assert ex.positions("alice") == [] and ex.positions("bob") == []
    assert ex.settlements("alice") == [records["alice"]]
    assert ex.market(TICKER).status is MarketStatus.FINALIZED
    assert ex.market(TICKER).result is result
    with pytest.raises(EngineError) as err:
        ex.settle(TICKER, result)
    assert err.value.code is ErrorCode.INVALID_SETTLEMENT


def test_scalar_settlement_pays_the_value_to_yes_and_the_rest_to_no(ex: Exchange) -> None:
    _trade(ex, "alice", "bob", "0.40", 10)
    records = {r.account_id: r for r in ex.settle(TICKER, MarketResult.SCALAR, D("0.3"))}
    assert records["alice"].revenue == D("3") and records["bob"].revenue == D("7")


def test_void_refunds_every_holder_its_cost_and_keeps_fees_and_realised_pnl(
    ex: Exchange,
) -> None:
    _trade(ex, "alice", "bob", "0.40", 10)  # alice 10 YES at 0.40, bob 10 NO at 0.60
    ex.place("carol", order(BID, "0.70", 4, "c1"))
    ex.place("alice", order(ASK, "0.70", 4, "a2", IOC))  # alice sells 4 YES to carol at 0.70
    fees = {a: ex.fees_paid(a) for a in ("alice", "bob", "carol")}
    assert fees["alice"] > 0 and fees["bob"] > 0  # the takers paid
    before = {a: ex.balance(a) for a in ("alice", "bob", "carol")}
    records = {r.account_id: r for r in ex.settle(TICKER, MarketResult.VOID)}
    # refunds at cost: alice's 6 left at 0.40, bob's 10 NO at 0.60, carol's 4 YES at 0.70
    assert {a: r.revenue for a, r in records.items()} == {
        "alice": D("2.40"), "bob": D("6.00"), "carol": D("2.80")
    }  # fmt: skip
    assert records["bob"].no_count == D("10") and records["bob"].no_total_cost == D("6.00")
    assert records["carol"].yes_count == D("4") and records["carol"].yes_total_cost == D("2.80")
    assert all(r.market_result is MarketResult.VOID and r.fee_cost == 0 for r in records.values())
    for a, r in records.items():
        assert ex.balance(a) == before[a] + r.revenue
        assert ex.fees_paid(a) == fees[a]  # fees are not refunded
    # alice realised 4 x (0.70 - 0.40) = 1.20 before the void and keeps it: the refunds
    # (11.20) exceed the 10 open pairs' collateral by exactly that
    assert sum(r.revenue for r in records.values()) == D("10") + D("1.20")
    assert ex.positions("alice") == [] and ex.market(TICKER).result is MarketResult.VOID
    assert ex.market(TICKER).status is MarketStatus.FINALIZED
    with pytest.raises(EngineError) as err:
        ex.settle(TICKER, MarketResult.VOID)
    assert err.value.code is ErrorCode.INVALID_SETTLEMENT


def test_void_takes_no_settlement_value(ex: Exchange) -> None:
    with pytest.raises(EngineError) as err:
        ex.settle(TICKER, MarketResult.VOID, D("0.5"))
    assert err.value.code is ErrorCode.INVALID_SETTLEMENT
    assert ex.market(TICKER).status is not MarketStatus.FINALIZED


def test_maker_fees_only_where_the_series_charges_them(clock: ManualClock) -> None:
    ex = Exchange(clock)
    ex.add_market(spec("MAKER", fee_type=FeeType.QUADRATIC_WITH_MAKER_FEES))
    ex.add_market(spec("PLAIN"))
    for name in ("alice", "bob"):
        ex.open_account(name, D("200"))
    for t in ("MAKER", "PLAIN"):
        ex.place("alice", order(BID, "0.50", 100, f"a-{t}", ticker=t))
        ex.place("bob", order(ASK, "0.50", 100, f"b-{t}", IOC, ticker=t))
    maker = {f.ticker: f.fee for f in ex.fills("alice")}
    taker = {f.ticker: f.fee for f in ex.fills("bob")}
    assert maker == {"MAKER": D("0.44"), "PLAIN": D("0")}  # ceil(0.0175*100*0.25 = 0.4375)
    assert taker == {"MAKER": D("1.75"), "PLAIN": D("1.75")}


def test_insufficient_balance_is_refused_and_reservations_hold_cash(clock: ManualClock) -> None:
    ex = Exchange(clock)
    ex.add_market(spec())
    ex.open_account("poor", D("5"))
    ex.place("poor", order(BID, "0.40", 10, "p1"))  # 4.00 + up to 0.17 fee reserved
    assert ex.available_balance("poor") == D("5") - D("4.00") - D("0.17")
    with pytest.raises(EngineError) as err:
        ex.place("poor", order(BID, "0.40", 3, "p2"))
    assert err.value.code is ErrorCode.INSUFFICIENT_BALANCE
    assert err.value.http_status == 400
    assert len(ex.orders("poor")) == 1


def test_closing_orders_need_no_premium_cash(clock: ManualClock) -> None:
    ex = Exchange(clock)
    ex.add_market(spec())
    ex.open_account("rich", D("1000"))
    ex.open_account("small", D("4.50"))
    ex.place("rich", order(ASK, "0.40", 10, "r1"))  # NO bid 0.60
    ex.place("small", order(BID, "0.40", 10, "s1", IOC))  # small: 10 YES for 4.00 + fee
    assert ex.available_balance("small") < D("1")
    # selling those 10 YES (buying NO at 0.55) is fine although 10 NO would cost 5.50
    r = ex.place("small", order(ASK, "0.45", 10, "s2"))
    assert r.order.status is OrderStatus.RESTING


@pytest.mark.parametrize(
    ("price", "count", "code"),
    [
        ("0.425", "1", ErrorCode.INVALID_PRICE),
        ("0.00", "1", ErrorCode.INVALID_PRICE),
        ("1.00", "1", ErrorCode.INVALID_PRICE),
        ("0.42", "0", ErrorCode.INVALID_ORDER_SIZE),
        ("0.42", "1.001", ErrorCode.INVALID_ORDER_SIZE),
    ],
)
def test_bad_prices_and_counts_are_refused(
    ex: Exchange, price: str, count: str, code: ErrorCode
) -> None:
    with pytest.raises(EngineError) as err:
        ex.place("alice", order(BID, price, count, "x"))
    assert err.value.code is code
    assert ex.orders("alice") == [] and ex.available_balance("alice") == D("1000")


def test_sub_cent_grid_accepts_its_ticks(clock: ManualClock) -> None:
    ex = Exchange(clock)
    tapered = (
        PriceRange(D("0"), D("0.10"), D("0.001")),
        PriceRange(D("0.10"), D("0.90"), D("0.01")),
        PriceRange(D("0.90"), D("1"), D("0.001")),
    )
    ex.add_market(spec(price_ranges=tapered))
    ex.open_account("alice", D("10"))
    assert ex.place("alice", order(BID, "0.055", "1.5", "a1")).order.status is OrderStatus.RESTING
    with pytest.raises(EngineError):
        ex.place("alice", order(BID, "0.505", 1, "a2"))


def test_duplicate_client_order_id_is_a_conflict(ex: Exchange) -> None:
    first = ex.place("alice", order(BID, "0.40", 1, "same")).order
    with pytest.raises(EngineError) as err:
        ex.place("alice", order(BID, "0.41", 1, "same"))
    assert err.value.code is ErrorCode.DUPLICATE_CLIENT_ORDER_ID and err.value.http_status == 409
    assert ex.order_by_client_id("alice", "same").order_id == first.order_id
    ex.place("bob", order(BID, "0.41", 1, "same"))  # ids are per account


def test_unknown_market_and_order_are_not_found(ex: Exchange) -> None:
    with pytest.raises(EngineError) as err:
        ex.place("alice", order(BID, "0.40", 1, "a", ticker="NOPE"))
    assert err.value.code is ErrorCode.MARKET_NOT_FOUND and err.value.http_status == 404
    with pytest.raises(EngineError) as err:
        ex.cancel("alice", "no-such-order")
    assert err.value.code is ErrorCode.ORDER_NOT_FOUND


def test_reduce_only_needs_a_position_and_is_capped_at_it(ex: Exchange) -> None:
    with pytest.raises(EngineError) as err:
        ex.place("alice", order(ASK, "0.40", 1, "r0", reduce_only=True))
    assert err.value.code is ErrorCode.REDUCE_ONLY
    _trade(ex, "alice", "bob", "0.40", 3)
    ex.place("carol", order(BID, "0.45", 10, "c1"))
    r = ex.place("alice", order(ASK, "0.45", 10, "r1", IOC, reduce_only=True))
    assert r.fill_count == D("3")
    assert ex.positions("alice")[0].position == 0


def test_market_close_cancels_resting_orders_and_refuses_new_ones(
    ex_clock: tuple[Exchange, ManualClock],
) -> None:
    ex, clock = ex_clock
    a1 = ex.place("alice", order(BID, "0.40", 5, "a1")).order
    clock.advance(timedelta(days=1))
    assert ex.market_status(TICKER) is MarketStatus.CLOSED
    gone = ex.order("alice", a1.order_id)
    assert gone.status is OrderStatus.CANCELED and gone.cancel_reason == "market_closed"
    assert ex.available_balance("alice") == D("1000")
    for call in (
        lambda: ex.place("alice", order(BID, "0.40", 1, "a2")),
        lambda: ex.cancel("alice", a1.order_id),
    ):
        with pytest.raises(EngineError) as err:
            call()
        assert err.value.code is ErrorCode.MARKET_INACTIVE


def test_market_opens_on_schedule(clock: ManualClock) -> None:
    ex = Exchange(clock)
    ex.add_market(spec(open_time=START + timedelta(hours=1)))
    ex.open_account("alice", D("10"))
    with pytest.raises(EngineError) as err:
        ex.place("alice", order(BID, "0.40", 1, "a"))
    assert err.value.code is ErrorCode.MARKET_INACTIVE
    clock.advance(timedelta(hours=1))
    assert ex.place("alice", order(BID, "0.40", 1, "a")).order.status is OrderStatus.RESTING


def test_paused_market_refuses_orders_allows_cancels_and_resume_cancels_resting(
    ex: Exchange,
) -> None:
    a1 = ex.place("alice", order(BID, "0.40", 5, "a1")).order
    ex.pause(TICKER)
    with pytest.raises(EngineError) as err:
        ex.place("alice", order(BID, "0.40", 1, "a2"))
    assert err.value.code is ErrorCode.MARKET_INACTIVE
    a0 = ex.order("alice", a1.order_id)
    assert ex.decrease("alice", a0.order_id, reduce_by=D(1)).remaining_count == D(4)  # allowed
    ex.resume(TICKER)
    assert ex.order("alice", a1.order_id).status is OrderStatus.CANCELED


def test_expiration_cancels_when_the_clock_passes_it(
    ex_clock: tuple[Exchange, ManualClock],
) -> None:
    ex, clock = ex_clock
    r = ex.place("alice", order(BID, "0.40", 5, "a1"), expiration_time=START + timedelta(minutes=5))
    assert r.order.status is OrderStatus.RESTING
    clock.advance(timedelta(minutes=5))
    view = ex.order("alice", r.order.order_id)
    assert view.status is OrderStatus.CANCELED and view.cancel_reason == "expired"
    assert ex.orderbook(TICKER).yes == {}
    with pytest.raises(EngineError) as err:
        ex.place("alice", order(BID, "0.4", 1, "a2"), expiration_time=START)
    assert err.value.code is ErrorCode.INVALID_EXPIRATION
    with pytest.raises(EngineError) as err:
        ex.place(
            "alice", order(BID, "0.4", 1, "a3", IOC), expiration_time=START + timedelta(days=2)
        )
    assert err.value.code is ErrorCode.INVALID_EXPIRATION
