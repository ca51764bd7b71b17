"""Fill models on recorded quotes, alone and inside quote-driven exchange markets."""

from __future__ import annotations

import contextlib
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kalbot.adapters.simulated.errors import EngineError, ErrorCode
from kalbot.adapters.simulated.exchange import Exchange
from kalbot.adapters.simulated.fill_models import (
    ConservativeFill,
    ModelFill,
    TouchFill,
    get_fill_model,
)
from kalbot.adapters.simulated.tape import TAPE_ACCOUNT
from kalbot.domain.clock import ManualClock
from kalbot.domain.market import MarketResult, Quote
from kalbot.domain.orders import BookSide, OrderStatus, TimeInForce, V2Order
from kalbot.domain.prices import Side
from simulated.helpers import START, TICKER, order, spec

D = Decimal
Q = Quote(yes_bid=D("0.40"), yes_ask=D("0.45"), yes_bid_size=D("30"), yes_ask_size=D("20"))


def test_conservative_taker_pays_the_recorded_ask_up_to_the_shown_size() -> None:
    model = ConservativeFill(max_size=D("50"))
    assert model.taker(Side.YES, D("0.50"), D("100"), Q) == ModelFill(D("20"), D("0.45"))
    # NO buyer: the NO ask is 1 - yes_bid = 0.60, size = yes_bid_size
    assert model.taker(Side.NO, D("0.60"), D("100"), Q) == ModelFill(D("30"), D("0.60"))
    assert model.taker(Side.YES, D("0.44"), D("1"), Q) is None
    assert model.taker(Side.NO, D("0.59"), D("1"), Q) is None


def test_conservative_caps_at_max_size_when_no_size_was_recorded() -> None:
    bare = Quote(yes_bid=D("0.40"), yes_ask=D("0.45"))
    model = ConservativeFill(max_size=D("5"))
    assert model.taker(Side.YES, D("0.99"), D("100"), bare) == ModelFill(D("5"), D("0.45"))


def test_conservative_resting_fills_only_when_the_price_trades_through() -> None:
    model = ConservativeFill(max_size=None)
    touch = Quote(yes_bid=D("0.30"), yes_ask=D("0.42"))
    through = Quote(yes_bid=D("0.30"), yes_ask=D("0.41"))
    assert model.resting(Side.YES, D("0.42"), D("10"), touch, None) is None
    assert model.resting(Side.YES, D("0.42"), D("10"), through, None) == ModelFill(
        D("10"), D("0.42")
    )
    assert model.resting(Side.YES, D("0.42"), D("10"), touch, D("0.41")) == ModelFill(
        D("10"), D("0.42")
    )
    # NO bid at 0.60: NO ask = 1 - yes_bid; trades through when yes_bid > 0.40
    no_touch = Quote(yes_bid=D("0.40"), yes_ask=D("0.50"))
    no_through = Quote(yes_bid=D("0.41"), yes_ask=D("0.50"))
    assert model.resting(Side.NO, D("0.60"), D("3"), no_touch, None) is None
    assert model.resting(Side.NO, D("0.60"), D("3"), no_through, None) == ModelFill(
        D("3"), D("0.60")
    )


def test_touch_model_is_the_optimistic_bound() -> None:
    model = TouchFill()
    touch = Quote(yes_bid=D("0.30"), yes_ask=D("0.42"))
    assert model.resting(Side.YES, D("0.42"), D("10"), touch, None) == ModelFill(D("10"), D("0.42"))
    assert model.taker(Side.YES, D("0.50"), D("500"), Q) == ModelFill(D("500"), D("0.45"))


def test_models_are_chosen_by_name() -> None:
    assert get_fill_model("conservative").name == "conservative"
    assert get_fill_model("touch").name == "touch"
    with pytest.raises(ValueError, match="unknown fill model"):
        get_fill_model("magic")


@pytest.fixture
def quoted(clock: ManualClock) -> Exchange:
    ex = Exchange(clock)
    ex.add_quoted_market(spec(), ConservativeFill(max_size=D("10")))
    ex.open_account("alice", D("100"))
    ex.update_quote(TICKER, Q)
    return ex


def test_quoted_market_taker_buys_yes_from_the_tape(quoted: Exchange) -> None:
    r = quoted.place("alice", order(BookSide.BID, "0.50", 15, "a1", TimeInForce.IOC))
    assert [(f.yes_price, f.count, f.is_taker) for f in r.fills] == [(D("0.45"), D("10"), True)]
    assert r.order.status is OrderStatus.CANCELED  # IOC remainder beyond the model's size
    assert quoted.positions("alice")[0].position == D("10")
    assert quoted.balance("alice") == D("100") - D("4.50") - D("0.18")  # ceil(0.173...)
    assert quoted.quote(TICKER) == Q
    assert quoted.market(TICKER).open_interest == D("10")


def test_quoted_market_resting_no_bid_fills_when_quotes_trade_through(quoted: Exchange) -> None:
    r = quoted.place("alice", order(BookSide.ASK, "0.42", 5, "a1"))  # buy NO at 0.58
    assert r.order.status is OrderStatus.RESTING
    assert quoted.update_quote(TICKER, Quote(yes_bid=D("0.42"), yes_ask=D("0.48"))) == []
    rows = quoted.update_quote(TICKER, Quote(yes_bid=D("0.43"), yes_ask=D("0.48")))
    assert len(rows) == 1
    (fill,) = quoted.fills("alice")
    assert fill.outcome_side is Side.NO and fill.own_price == D("0.58") and not fill.is_taker
    assert fill.fee == D("0")  # maker on a quadratic series
    assert quoted.order("alice", r.order.order_id).status is OrderStatus.EXECUTED
    assert quoted.positions("alice")[0].position == D("-5")
    records = {s.account_id: s for s in quoted.settle(TICKER, MarketResult.NO)}
    assert records["alice"].revenue == D("5") and records[TAPE_ACCOUNT].revenue == D("0")
    assert quoted.balance("alice") == D("100") - D("2.90") + D("5")


def test_quoted_market_fok_and_post_only(quoted: Exchange) -> None:
    fok = quoted.place("alice", order(BookSide.BID, "0.50", 25, "a1", TimeInForce.FOK))
    assert fok.order.status is OrderStatus.CANCELED and fok.fills == ()
    with pytest.raises(EngineError) as err:
        quoted.place("alice", order(BookSide.BID, "0.45", 1, "a2", post_only=True))
    assert err.value.code is ErrorCode.POST_ONLY_CROSS


quote_step = st.tuples(st.integers(1, 97), st.integers(1, 5))  # yes_bid cents, spread cents
order_step = st.tuples(
    st.sampled_from([BookSide.BID, BookSide.ASK]),
    st.integers(1, 99),
    st.integers(1, 3000),
    st.sampled_from(list(TimeInForce)),
    st.booleans(),  # reduce_only
)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    steps=st.lists(st.one_of(quote_step, order_step), min_size=1, max_size=40),
    model=st.sampled_from(["conservative", "touch"]),
    result=st.sampled_from([MarketResult.YES, MarketResult.NO]),
)
def test_quoted_markets_conserve_money_with_the_tape_as_counterparty(
    steps: list[tuple[object, ...]], model: str, result: MarketResult
) -> None:
    ex = Exchange(ManualClock(START))
    ex.add_quoted_market(spec(), get_fill_model(model, max_size=D(7)))
    ex.open_account("alice", D(50))
    for n, step in enumerate(steps):
        if len(step) == 2:
            bid, spread = int(str(step[0])), int(str(step[1]))
            ex.update_quote(TICKER, Quote(D(bid) / 100, D(min(bid + spread, 99)) / 100))
        else:
            side, cents, hundredths, tif, reduce = step
            assert isinstance(side, BookSide) and isinstance(tif, TimeInForce)
            v2 = V2Order(
                TICKER, side, D(int(str(cents))) / 100, D(int(str(hundredths))) / 100,
                f"o{n}", tif, reduce_only=bool(reduce),
            )  # fmt: skip
            with contextlib.suppress(EngineError):
                ex.place("alice", v2)
        cash = ex.balance("alice") + ex.balance(TAPE_ACCOUNT) + ex.fees_paid("alice")
        pos = {p.ticker: p.position for p in ex.positions("alice")}.get(TICKER, D(0))
        tape = {p.ticker: p.position for p in ex.positions(TAPE_ACCOUNT)}.get(TICKER, D(0))
        assert pos == -tape and abs(pos) == ex.market(TICKER).open_interest
        assert cash + abs(pos) == D(50)
        assert ex.balance("alice") >= 0 and ex.available_balance("alice") >= 0
    ex.settle(TICKER, result)
    assert ex.balance("alice") + ex.balance(TAPE_ACCOUNT) + ex.fees_paid("alice") == D(50)


def test_recorded_last_prices_of_zero_or_sub_tick_are_kept_not_refused(quoted: Exchange) -> None:
    quoted.update_quote(TICKER, Q, D("0"))
    assert quoted.market(TICKER).last_price is None
    quoted.update_quote(TICKER, Q, D("0.423456"))
    assert quoted.market(TICKER).last_price == D("0.4235")


def test_only_a_new_trade_print_below_the_limit_fills_a_resting_bid(quoted: Exchange) -> None:
    quoted.update_quote(TICKER, Q, D("0.40"))  # an old print, before our order
    r = quoted.place("alice", order(BookSide.BID, "0.43", 5, "a1"))  # rests: ask is 0.45
    assert quoted.update_quote(TICKER, Q, D("0.40")) == []  # same print again: no fill
    assert quoted.update_quote(TICKER, Q, D("0")) == []  # "no trade": no fill
    assert quoted.update_quote(TICKER, Q, D("0.43")) == []  # at the limit is not through it
    rows = quoted.update_quote(TICKER, Q, D("0.42"))  # a new print below the limit
    assert [(f.yes_price, f.count) for f in quoted.fills("alice")] == [(D("0.43"), D(5))]
    assert len(rows) == 1 and quoted.order("alice", r.order.order_id).status is OrderStatus.EXECUTED
