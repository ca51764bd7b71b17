"""Fill-or-kill is all or nothing, whatever stops a match part way.

Matching can stop before an order's limit for reasons a plain depth count does not see: the
taker's own resting order at the front of a level (self-trade prevention ``taker_at_cross``),
a maker's reduce-only cap or its cash running out (the maker is canceled), the taker's cash or
reduce-only cap. A FOK order must then not trade at all, and leave every book, balance,
position and other order exactly as it was; when it does trade, it fills completely. And it
executes exactly when an IOC order with the same terms, from the same state, would fill fully.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kalbot.adapters.simulated.errors import EngineError
from kalbot.adapters.simulated.exchange import Exchange
from kalbot.adapters.simulated.records import SelfTradePrevention
from kalbot.domain.clock import ManualClock
from kalbot.domain.fees import FeeType
from kalbot.domain.orders import BookSide, OrderStatus, TimeInForce, V2Order
from simulated.helpers import spec

BID, ASK = BookSide.BID, BookSide.ASK
ACCOUNTS = ("a", "b", "c", "d")
T = "M1"

# (account, side, cents, passive, hundredths, tif, reduce_only, stp): book and positions
setup_op = st.tuples(
    st.sampled_from(ACCOUNTS),
    st.sampled_from([BID, ASK]),
    st.integers(42, 58),  # a few crowded levels: several orders (and accounts) on each
    st.sampled_from([True, True, True, False]),  # passive: kept off the other side (it rests)
    st.integers(1, 1500),
    st.sampled_from([TimeInForce.GTC, TimeInForce.GTC, TimeInForce.GTC, TimeInForce.IOC]),
    st.sampled_from([False, False, False, True]),
    st.sampled_from(list(SelfTradePrevention)),
)
# (account, side, cents through the best price, hundredths, reduce_only, post_only, stp)
fok_op = st.tuples(
    st.sampled_from(ACCOUNTS),
    st.sampled_from([BID, ASK]),
    st.integers(-1, 10),
    st.integers(1, 4000),
    st.sampled_from([False, False, False, True]),
    st.sampled_from([False] * 9 + [True]),
    st.sampled_from(list(SelfTradePrevention)),
)
# small, uneven deposits so makers and takers run out of cash part way through a sweep
# a killed FOK says why: the book is too thin, or what would stop the sweep before its limit
KILLED = {"fill_or_kill", "self_trade_prevention", "insufficient_balance", "reduce_only"}
deposits = st.tuples(*(st.integers(2, 40) for _ in ACCOUNTS))


def _build(cash: tuple[int, ...], setup: list[tuple[object, ...]], fee: FeeType) -> Exchange:
    ex = Exchange(ManualClock(datetime(2026, 3, 1, tzinfo=UTC)))
    ex.add_market(spec(T, fee_type=fee))
    for name, dollars in zip(ACCOUNTS, cash, strict=True):
        ex.open_account(name, Decimal(dollars))
    for n, (acct, side, cents, passive, hundredths, tif, reduce_only, stp) in enumerate(setup):
        assert isinstance(side, BookSide) and isinstance(tif, TimeInForce)
        assert isinstance(stp, SelfTradePrevention) and isinstance(cents, int)
        if passive:
            cents = min(cents, 49) if side is BID else max(cents, 51)
        terms = V2Order(
            T, side, Decimal(cents) / 100, Decimal(int(str(hundredths))) / 100,
            f"s{n}", tif, reduce_only=bool(reduce_only),
        )  # fmt: skip
        with contextlib.suppress(EngineError):  # a refused setup order changes nothing
            ex.place(str(acct), terms, self_trade_prevention=stp)
    return ex


def _fok_terms(ex: Exchange, op: tuple[object, ...], tif: TimeInForce) -> V2Order | None:
    _, side, through, hundredths, reduce_only, post_only, _ = op
    assert isinstance(side, BookSide)
    quote = ex.quote(T)
    if (quote.yes_ask if side is BID else quote.yes_bid) is None:  # take the side that rests
        side = ASK if side is BID else BID
    best = quote.yes_ask if side is BID else quote.yes_bid
    if best is None:
        return None
    step = Decimal(int(str(through))) / 100
    price = min(max(best + step if side is BID else best - step, Decimal("0.01")), Decimal("0.99"))
    return V2Order(T, side, price, Decimal(int(str(hundredths))) / 100, "fok", tif,
                   post_only=bool(post_only), reduce_only=bool(reduce_only))  # fmt: skip


def _state(ex: Exchange, skip_order: str = "") -> object:
    return (
        [
            (
                ex.balance(a),
                ex.available_balance(a),
                ex.fees_paid(a),
                ex.positions(a),
                ex.fills(a),
                [o for o in ex.orders(a) if o.order_id != skip_order],
            )
            for a in ex.accounts()
        ],
        ex.orderbook(T),
        ex.trades(),
        ex.market(T),
    )


@settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(
    cash=deposits,
    setup=st.lists(setup_op, min_size=3, max_size=30),
    fok=fok_op,
    fee=st.sampled_from([FeeType.QUADRATIC, FeeType.QUADRATIC_WITH_MAKER_FEES]),
)
def test_fill_or_kill_fills_fully_or_changes_nothing(
    cash: tuple[int, ...],
    setup: list[tuple[object, ...]],
    fok: tuple[object, ...],
    fee: FeeType,
) -> None:
    ex = _build(cash, setup, fee)
    terms = _fok_terms(ex, fok, TimeInForce.FOK)
    if terms is None:
        return
    acct, stp = str(fok[0]), fok[6]
    assert isinstance(stp, SelfTradePrevention)
    before = _state(ex)
    try:
        result = ex.place(acct, terms, self_trade_prevention=stp)
    except EngineError:
        assert _state(ex) == before  # refused: nothing at all changed
        return
    o = result.order
    if result.fills:
        assert o.status is OrderStatus.EXECUTED, o
        assert o.remaining_count == 0 and o.fill_count == o.initial_count
        assert sum(f.count for f in result.fills) == o.initial_count
    else:
        assert o.status is OrderStatus.CANCELED and o.cancel_reason in KILLED, o
        assert o.fill_count == 0
        assert _state(ex, skip_order=o.order_id) == before

    # the same terms as IOC, from the same state: FOK executes exactly when IOC fills fully
    twin = _build(cash, setup, fee)
    ioc_terms = _fok_terms(twin, fok, TimeInForce.IOC)
    assert ioc_terms is not None
    ioc = twin.place(acct, ioc_terms, self_trade_prevention=stp).order
    assert (ioc.fill_count == ioc.initial_count) == bool(result.fills), (ioc, o)
    if result.fills:  # and then both traded the very same way
        assert ex.trades() == twin.trades() and ex.orderbook(T) == twin.orderbook(T)
        assert [ex.positions(a) for a in ACCOUNTS] == [twin.positions(a) for a in ACCOUNTS]
        assert [ex.balance(a) for a in ACCOUNTS] == [twin.balance(a) for a in ACCOUNTS]


def _ex(*accounts: tuple[str, str]) -> Exchange:
    ex = Exchange(ManualClock(datetime(2026, 3, 1, tzinfo=UTC)))
    ex.add_market(spec(T))
    for name, dollars in accounts:
        ex.open_account(name, Decimal(dollars))
    return ex


def _o(
    side: BookSide,
    price: str,
    count: int,
    coid: str,
    time_in_force: TimeInForce = TimeInForce.GTC,
    *,
    reduce_only: bool = False,
) -> V2Order:
    return V2Order(
        T, side, Decimal(price), Decimal(count), coid, time_in_force, reduce_only=reduce_only
    )


def test_own_resting_order_behind_the_best_level_kills_the_fok() -> None:
    """Depth minus own orders says 6 are there; taker_at_cross would stop after 3."""
    ex = _ex(("a", "100"), ("b", "100"))
    ex.place("b", _o(BID, "0.41", 3, "b1"))
    ex.place("a", _o(BID, "0.40", 3, "a1"))  # a's own order, first at 0.40
    ex.place("b", _o(BID, "0.40", 3, "b2"))
    r = ex.place("a", _o(ASK, "0.40", 6, "a2", time_in_force=TimeInForce.FOK))
    assert r.fills == () and r.order.cancel_reason == "self_trade_prevention"
    assert ex.orderbook(T).yes == {Decimal("0.41"): 3, Decimal("0.40"): 6}
    assert ex.positions("b") == [] and ex.balance("a") == Decimal("100")


def test_maker_mode_fok_cancels_own_orders_only_when_it_executes() -> None:
    ex = _ex(("a", "100"), ("b", "100"))
    own = ex.place("a", _o(BID, "0.41", 3, "a1")).order
    ex.place("b", _o(BID, "0.40", 3, "b1"))
    maker = SelfTradePrevention.MAKER
    big = _o(ASK, "0.40", 4, "a2", time_in_force=TimeInForce.FOK)
    killed = ex.place("a", big, self_trade_prevention=maker)
    assert killed.fills == () and ex.order("a", own.order_id).status is OrderStatus.RESTING
    fits = _o(ASK, "0.40", 3, "a3", time_in_force=TimeInForce.FOK)
    done = ex.place("a", fits, self_trade_prevention=maker)
    assert done.order.status is OrderStatus.EXECUTED and done.fill_count == 3
    assert ex.order("a", own.order_id).cancel_reason == "self_trade_prevention"


def test_a_reduce_only_maker_capped_part_way_kills_the_fok() -> None:
    """b holds 2 YES; its reduce-only NO bid of 5 can only sell those 2."""
    ex = _ex(("a", "100"), ("b", "100"), ("c", "100"))
    ex.place("c", _o(ASK, "0.50", 2, "c1"))
    ex.place("b", _o(BID, "0.50", 2, "b1"))  # b buys 2 YES from c
    ex.place("b", _o(ASK, "0.60", 5, "b2", reduce_only=True))  # rests: sells up to 2 YES
    assert ex.orderbook(T).no == {Decimal("0.40"): 2}  # capped at the position when placed
    ex.place("c", _o(ASK, "0.61", 3, "c2"))
    r = ex.place("a", _o(BID, "0.61", 5, "a1", time_in_force=TimeInForce.FOK))
    assert r.order.status is OrderStatus.EXECUTED and r.fill_count == 5
    ex2 = _ex(("a", "100"), ("b", "100"), ("c", "100"))
    ex2.place("c", _o(ASK, "0.50", 4, "c1"))
    ex2.place("b", _o(BID, "0.50", 4, "b1"))  # b holds 4 YES
    ex2.place("b", _o(ASK, "0.60", 4, "b2", reduce_only=True))  # sells up to 4
    ex2.place("c", _o(BID, "0.50", 3, "c3"))  # rests (NO 0.40 + YES 0.50 do not cross)
    ex2.place("b", _o(ASK, "0.45", 3, "b3"))  # b sells 3 YES to c at 0.50
    # b holds 1 YES now: its resting reduce-only NO bid of 4 can sell only 1, then it is canceled
    ex2.place("c", _o(ASK, "0.62", 2, "c4"))
    before = _state(ex2)
    r2 = ex2.place("a", _o(BID, "0.62", 4, "a1", time_in_force=TimeInForce.FOK))
    assert r2.fills == () and r2.order.cancel_reason == "fill_or_kill"  # b's order: 1 of 4
    assert _state(ex2, skip_order=r2.order.order_id) == before
