from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from engine.factories import NOW, D, market
from kalbot.domain.decisions import Decision, DecisionResult, RiskState
from kalbot.domain.fees import taker_fee
from kalbot.domain.prices import ONE, Side
from kalbot.risk import BookState, RiskConfig, RiskManager

BOOK = BookState(cash=D(10000), equity=D(10000), peak_equity=D(10000), day_start_equity=D(10000))


def opened(side: Side, price: str, p_yes: str) -> DecisionResult:
    d = Decision.OPEN_YES if side is Side.YES else Decision.OPEN_NO
    return DecisionResult(d, D("0.8"), "t", limit_price=D(price), probability_yes=D(p_yes))


def test_kelly_size_yes_side_is_quarter_kelly_capped_by_max_position_dollars() -> None:
    big = D(100000)
    rm = RiskManager(
        RiskConfig(
            max_position_dollars=big,
            max_position_share=ONE,
            max_event_exposure=big,
            max_category_exposure=big,
        )
    )
    v = rm.size(opened(Side.YES, "0.40", "0.60"), market(), BOOK, NOW, RiskState.ACTIVE)
    assert v.approved and v.side is Side.YES and v.price == D("0.40")
    # full Kelly (0.6 - 0.4168)/(1 - 0.4168) = 0.3141...; a quarter of 10,000 = 785 dollars.
    assert v.quantity * D("0.4168") <= D(786)
    assert v.quantity >= D(1800)
    capped = RiskManager().size(
        opened(Side.YES, "0.40", "0.60"), market(), BOOK, NOW, RiskState.ACTIVE
    )
    assert capped.approved and "max_position_dollars" in capped.shrunk_by
    assert capped.quantity * D("0.40") + taker_fee(capped.quantity, D("0.40")) <= D(100)


def test_no_side_sizes_exactly_like_the_mirrored_yes_side() -> None:
    rm = RiskManager()
    yes = rm.size(
        opened(Side.YES, "0.30", "0.45"),
        market(bid="0.28", ask="0.30"),
        BOOK,
        NOW,
        RiskState.ACTIVE,
    )
    # Mirror: YES bid 0.70 -> NO ask 0.30; P(NO) = 0.45 -> P(YES) = 0.55.
    no = rm.size(
        opened(Side.NO, "0.30", "0.55"), market(bid="0.70", ask="0.72"), BOOK, NOW, RiskState.ACTIVE
    )
    assert yes.approved and no.approved
    assert yes.quantity == no.quantity and no.side is Side.NO


@pytest.mark.parametrize("side", [Side.YES, Side.NO])
def test_no_edge_after_fees_is_refused(side: Side) -> None:
    p_yes = "0.41" if side is Side.YES else "0.59"
    v = RiskManager().size(opened(side, "0.40", p_yes), market(), BOOK, NOW, RiskState.ACTIVE)
    assert not v.approved and v.reason_code == "no_edge_after_fees"


def test_refusals_name_their_reason() -> None:
    rm = RiskManager()
    d = opened(Side.YES, "0.40", "0.60")
    assert rm.size(d, market(), BOOK, NOW, RiskState.REDUCING).reason_code == "risk_reducing"
    assert rm.size(d, market(), BOOK, NOW, RiskState.HALTED).reason_code == "risk_halted"
    busy = replace(BOOK, busy_tickers=frozenset({"KXTEST-1"}))
    assert rm.size(d, market(), busy, NOW, RiskState.ACTIVE).reason_code == "already_positioned"
    cool = replace(BOOK, last_close={"KXTEST-1": NOW - timedelta(minutes=5)})
    assert rm.size(d, market(), cool, NOW, RiskState.ACTIVE).reason_code == "cooldown"
    full = replace(BOOK, open_positions=20)
    assert rm.size(d, market(), full, NOW, RiskState.ACTIVE).reason_code == "max_open_positions"
    event = replace(BOOK, exposure_by_event={"KXTEST": D(300)})
    assert rm.size(d, market(), event, NOW, RiskState.ACTIVE).reason_code == "max_event_exposure"
    poor = replace(BOOK, cash=D(100))
    assert rm.size(d, market(), poor, NOW, RiskState.ACTIVE).reason_code == "min_cash_reserve"
    skip = DecisionResult(Decision.SKIP, D(0), "x")
    assert rm.size(skip, market(), BOOK, NOW, RiskState.ACTIVE).reason_code == "not_an_open"


def test_fixed_and_proportional_sizing() -> None:
    d = opened(Side.NO, "0.30", "0.60")
    v = RiskManager(RiskConfig(sizing="fixed", fixed_contracts=7)).size(
        d, market(), BOOK, NOW, RiskState.ACTIVE
    )
    assert v.approved and v.quantity == 7
    v = RiskManager(RiskConfig(sizing="proportional", proportional_fraction=D("0.005"))).size(
        d, market(), BOOK, NOW, RiskState.ACTIVE
    )
    assert v.approved and v.quantity * D("0.30") + taker_fee(v.quantity, D("0.30")) <= D(50)


def test_circuit_breakers() -> None:
    rm = RiskManager()
    assert rm.assess(BOOK, NOW).state is RiskState.ACTIVE
    lossy = replace(BOOK, equity=D(9790))
    a = rm.assess(lossy, NOW)
    assert a.state is RiskState.REDUCING and a.reason_code == "daily_loss_limit"
    realized = replace(BOOK, realized_today=D(-250))
    assert rm.assess(realized, NOW).reason_code == "daily_loss_limit"
    dd = replace(BOOK, equity=D(7900), day_start_equity=D(7900))
    a = rm.assess(dd, NOW)
    assert a.state is RiskState.HALTED and a.reason_code == "max_drawdown"
    # HALTED is sticky: recovering equity does not resume trading by itself.
    assert rm.assess(BOOK, NOW, RiskState.HALTED).state is RiskState.HALTED
    stops = tuple(NOW - timedelta(minutes=m) for m in (1, 10, 20))
    a = rm.assess(replace(BOOK, stopouts=stops), NOW)
    assert a.state is RiskState.REDUCING and a.reason_code == "stoploss_guard"
    old = tuple(NOW - timedelta(hours=h) for h in (3, 4, 5))
    assert rm.assess(replace(BOOK, stopouts=old), NOW).state is RiskState.ACTIVE


prices = st.integers(min_value=2, max_value=98).map(lambda c: Decimal(c) / 100)
probs = st.integers(min_value=1, max_value=99).map(lambda c: Decimal(c) / 100)
money = st.integers(min_value=0, max_value=20000).map(Decimal)


@settings(max_examples=200, deadline=None)
@given(price=prices, p=probs, side=st.sampled_from(list(Side)), cash=money, exposure=money)
def test_property_an_approved_trade_respects_every_cap_and_has_edge(
    price: Decimal, p: Decimal, side: Side, cash: Decimal, exposure: Decimal
) -> None:
    cfg = RiskConfig()
    book = BookState(
        cash=cash,
        equity=cash + exposure,
        peak_equity=cash + exposure,
        day_start_equity=cash + exposure,
        total_exposure=exposure,
    )
    p_yes = p if side is Side.YES else ONE - p
    v = RiskManager(cfg).size(
        opened(side, str(price), str(p_yes)), market(), book, NOW, RiskState.ACTIVE
    )
    if not v.approved:
        assert v.reason_code
        return
    cost = v.quantity * price + taker_fee(v.quantity, price)
    assert v.quantity >= 1 and v.quantity == v.quantity.to_integral_value()
    assert cost <= cfg.max_position_dollars
    assert cost <= cfg.max_position_share * book.equity
    assert cost <= cfg.max_total_exposure - exposure
    assert cost <= cash - cfg.min_cash_reserve
    assert v.quantity * (p - price) - taker_fee(v.quantity, price) > 0


tickers = st.sampled_from(["A", "B", "C", "D", "E", "F"])


def _precheck_rule(ticker: str, book: BookState, state: RiskState, cfg: RiskConfig) -> str | None:
    """The precheck rules one ticker at a time, as written in docs/risk.md."""
    if state is RiskState.HALTED:
        return "risk_halted"
    if state is RiskState.REDUCING:
        return "risk_reducing"
    if ticker in book.busy_tickers:
        return "already_positioned"
    last = book.last_close.get(ticker)
    if last is not None and NOW - last < cfg.cooldown:
        return "cooldown"
    if book.open_positions >= cfg.max_open_positions:
        return "max_open_positions"
    return None


@settings(max_examples=300, deadline=None)
@given(
    names=st.lists(tickers, max_size=12),
    busy=st.frozensets(tickers),
    closed=st.dictionaries(tickers, st.integers(min_value=0, max_value=7200)),
    open_positions=st.integers(min_value=0, max_value=30),
    state=st.sampled_from(list(RiskState)),
)
@example(["A", "B"], frozenset(), {"A": 3600, "B": 3599}, 0, RiskState.ACTIVE)  # the edge
def test_property_precheck_all_applies_the_rules_to_each_ticker_in_order(
    names: list[str],
    busy: frozenset[str],
    closed: dict[str, int],
    open_positions: int,
    state: RiskState,
) -> None:
    rm = RiskManager()
    book = replace(
        BOOK,
        busy_tickers=busy,
        # seconds before now, around the cooldown's edge (exactly on it included)
        last_close={t: NOW - timedelta(seconds=s) for t, s in closed.items()},
        open_positions=open_positions,
    )
    want = [_precheck_rule(t, book, state, rm.cfg) for t in names]
    assert rm.precheck_all(names, book, NOW, state) == want
    assert [rm.precheck(t, book, NOW, state) for t in names] == want
