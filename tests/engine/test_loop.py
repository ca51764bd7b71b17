"""The loop end to end over in-memory fakes: opens, exits, settlement, restarts, isolation."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from engine.factories import NOW, D, market
from engine.fakes import FakeBroker, FakeMarketData, FixedAnalyst
from kalbot.domain.clock import ManualClock
from kalbot.domain.decisions import Decision
from kalbot.domain.fees import taker_fee
from kalbot.domain.market import Market, MarketResult, Quote
from kalbot.domain.prices import Side
from kalbot.engine import EngineConfig, ExitRules, MemoryTradingStore, TradingEngine
from kalbot.risk import RiskConfig, RiskManager
from kalbot.screener import ScreenConfig, Screener
from kalbot.strategy import StandardStrategy


def build(
    markets: list[Market],
    p_yes: dict[str, str],
    store: MemoryTradingStore | None = None,
    broker_type: type[FakeBroker] = FakeBroker,
    **risk: object,
) -> tuple[
    TradingEngine, FakeBroker, FakeMarketData, FixedAnalyst, MemoryTradingStore, ManualClock
]:
    clock = ManualClock(NOW)
    md = FakeMarketData(markets)
    broker = broker_type(md, clock)
    analyst = FixedAnalyst(p_yes)
    store = store or MemoryTradingStore()
    eng = TradingEngine(
        market_data=md,
        broker=broker,
        analyst=analyst,
        strategy=StandardStrategy(),
        screener=Screener.from_config(ScreenConfig()),
        risk=RiskManager(RiskConfig(sizing="fixed", fixed_contracts=10, **risk)),  # type: ignore[arg-type]
        store=store,
        clock=clock,
        config=EngineConfig(exits=ExitRules(max_hold=timedelta(days=30))),
    )
    return eng, broker, md, analyst, store, clock


@pytest.mark.parametrize(
    ("side", "bid", "ask", "p_yes", "entry"),
    [(Side.YES, "0.40", "0.42", "0.70", "0.42"), (Side.NO, "0.60", "0.62", "0.30", "0.40")],
)
async def test_open_on_fill_then_settle_pays_one_dollar_per_winning_contract(
    side: Side, bid: str, ask: str, p_yes: str, entry: str
) -> None:
    eng, broker, md, _, store, clock = build([market("M", bid, ask)], {"M": p_yes})
    s = await eng.run_cycle()
    assert s.orders == 1 and s.fills == 1 and s.open_positions == 1
    [row] = store.open_rows()
    assert row["side"] == side.value and row["quantity"] == 10
    assert row["entry_price"] == D(entry)  # the NO leg's own price: 1 - YES bid
    entry_fee = taker_fee(D(10), D(entry))
    [fill] = [f for f, _ in store.fills.values()]
    assert fill.fee == entry_fee and fill.side is side

    win = MarketResult.YES if side is Side.YES else MarketResult.NO
    clock.advance(timedelta(hours=1))
    md.settle("M", win)
    broker.settle("M", win)
    s = await eng.run_cycle()
    [closed] = store.closed_rows()
    assert closed["close_reason"] == f"settled_{win.value}"
    assert closed["exit_price"] == D(1)
    assert closed["pnl"] == 10 * (D(1) - D(entry)) - entry_fee
    assert s.open_positions == 0 and s.pnl_today == closed["pnl"]
    perf = store.performance[NOW.date()]
    assert perf.num_trades == 1 and perf.win_rate == 1 and perf.total_pnl == closed["pnl"]
    assert perf.portfolio_value == broker.cash


@pytest.mark.parametrize("side", [Side.YES, Side.NO])
async def test_settlement_against_the_position_loses_the_stake_and_fees(side: Side) -> None:
    bid, ask, p = ("0.40", "0.42", "0.70") if side is Side.YES else ("0.60", "0.62", "0.30")
    eng, broker, md, _, store, _clock = build([market("M", bid, ask)], {"M": p})
    await eng.run_cycle()
    lose = MarketResult.NO if side is Side.YES else MarketResult.YES
    md.settle("M", lose)
    broker.settle("M", lose)
    await eng.run_cycle()
    [closed] = store.closed_rows()
    entry = D("0.42") if side is Side.YES else D("0.40")
    assert closed["close_reason"] == f"settled_{lose.value}" and closed["exit_price"] == 0
    assert closed["pnl"] == -(10 * entry) - taker_fee(D(10), entry)


@pytest.mark.parametrize(("side", "payout"), [(Side.YES, "0.3125"), (Side.NO, "0.6875")])
async def test_a_scalar_market_settles_at_its_value_once_published(side: Side, payout: str) -> None:
    bid, ask, p = ("0.40", "0.42", "0.70") if side is Side.YES else ("0.60", "0.62", "0.30")
    eng, broker, md, _, store, _clock = build([market("M", bid, ask)], {"M": p})
    await eng.run_cycle()
    md.settle("M", MarketResult.SCALAR)  # determined, value not out yet: the position waits
    await eng.run_cycle()
    assert store.closed_rows() == [] and len(store.open_rows()) == 1
    md.settle("M", MarketResult.SCALAR, D("0.3125"))
    broker.settle("M", MarketResult.SCALAR, D("0.3125"))
    await eng.run_cycle()
    [closed] = store.closed_rows()
    entry = D("0.42") if side is Side.YES else D("0.40")
    assert closed["close_reason"] == "settled_scalar" and closed["exit_price"] == D(payout)
    assert closed["pnl"] == 10 * (D(payout) - entry) - taker_fee(D(10), entry)
    assert store.open_rows() == []


class PayoutBroker(FakeBroker):
    """A broker that can read the exchange's settlement records (as ``KalshiBroker`` does)."""

    def __init__(self, md: FakeMarketData, clock: ManualClock) -> None:
        super().__init__(md, clock)
        self.payouts: dict[str, Decimal] = {}
        self.asked: list[str] = []

    async def settlement_payout(self, ticker: str) -> Decimal | None:
        self.asked.append(ticker)
        if ticker == "BROKEN":
            raise ConnectionError("settlements endpoint down")
        return self.payouts.get(ticker)


@pytest.mark.parametrize(
    ("side", "payout", "reason"),
    [
        (Side.YES, "0.42", "settled_void"),  # YES bought at the 0.42 ask, refunded at cost
        (Side.YES, "0.25", "settled_exchange"),
        (Side.NO, "0.40", "settled_void"),  # NO bought at 1 - 0.60 bid, refunded at cost
        (Side.NO, "0.25", "settled_exchange"),
    ],
)
async def test_a_market_finalized_without_a_result_closes_at_the_exchanges_payout(
    side: Side, payout: str, reason: str
) -> None:
    bid, ask, p = ("0.40", "0.42", "0.70") if side is Side.YES else ("0.60", "0.62", "0.30")
    entry = D("0.42") if side is Side.YES else D("0.40")
    eng, paying, md, _, store, _clock = build(
        [market("M", bid, ask)], {"M": p}, broker_type=PayoutBroker
    )
    assert isinstance(paying, PayoutBroker)
    await eng.run_cycle()
    [row] = store.open_rows()
    assert row["side"] == side.value and row["entry_price"] == entry
    md.settle("M", MarketResult.YES)
    md.set(replace(md.markets["M"], result=None))  # Kalshi's void: finalized, result ""
    await eng.run_cycle()  # no settlement record yet: the position waits
    assert paying.asked == ["M"] and store.closed_rows() == []
    paying.payouts["M"] = D(payout)
    await eng.run_cycle()
    [closed] = store.closed_rows()
    assert closed["close_reason"] == reason and closed["exit_price"] == D(payout)
    assert closed["pnl"] == 10 * (D(payout) - entry) - taker_fee(D(10), entry)


async def test_a_failed_settlement_lookup_is_an_error_and_is_asked_again() -> None:
    eng, paying, md, _, store, _clock = build(
        [market("BROKEN", "0.40", "0.42")], {"BROKEN": "0.70"}, broker_type=PayoutBroker
    )
    assert isinstance(paying, PayoutBroker)
    await eng.run_cycle()
    md.settle("BROKEN", MarketResult.YES)
    md.set(replace(md.markets["BROKEN"], result=None))
    s1 = await eng.run_cycle()
    s2 = await eng.run_cycle()
    assert s1.errors == 1 and s2.errors == 1 and paying.asked == ["BROKEN", "BROKEN"]
    assert store.closed_rows() == [] and len(store.open_rows()) == 1


async def test_without_a_settlement_reader_a_resultless_market_stays_open() -> None:
    eng, _broker, md, _, store, _clock = build([market("M", "0.40", "0.42")], {"M": "0.70"})
    await eng.run_cycle()
    md.settle("M", MarketResult.YES)
    md.set(replace(md.markets["M"], result=None))
    await eng.run_cycle()
    assert store.closed_rows() == [] and len(store.open_rows()) == 1


@pytest.mark.parametrize("side", [Side.YES, Side.NO])
async def test_profit_target_exit_sells_at_the_bid_and_books_pnl_after_both_fees(
    side: Side,
) -> None:
    bid, ask, p = ("0.40", "0.42", "0.70") if side is Side.YES else ("0.58", "0.60", "0.30")
    eng, _, md, _, store, clock = build([market("M", bid, ask)], {"M": p})
    await eng.run_cycle()
    entry = D("0.42")
    # Move the market 30% in the position's favour (in the side's own price space).
    new_q = Quote(D("0.56"), D("0.58"), D(1000), D(1000))
    if side is Side.NO:
        new_q = Quote(D("0.42"), D("0.44"), D(1000), D(1000))  # NO bid = 0.56
    md.set(replace(md.markets["M"], quote=new_q))
    clock.advance(timedelta(minutes=5))
    await eng.run_cycle()
    [closed] = store.closed_rows()
    assert closed["close_reason"] == "profit_target"
    assert closed["exit_price"] == D("0.56")
    fees = taker_fee(D(10), entry) + taker_fee(D(10), D("0.56"))
    assert closed["pnl"] == 10 * (D("0.56") - entry) - fees
    assert any(r.stage == "exit" and r.reason_code == "profit_target" for r in store.decisions)


async def test_stop_loss_then_cooldown_refuses_reentry_with_reason() -> None:
    eng, _, md, _, store, clock = build([market("M")], {"M": "0.70"})
    await eng.run_cycle()
    md.set(replace(md.markets["M"], quote=Quote(D("0.30"), D("0.32"), D(1000), D(1000))))
    clock.advance(timedelta(minutes=1))
    await eng.run_cycle()
    [closed] = store.closed_rows()
    assert closed["close_reason"] == "stop_loss"
    clock.advance(timedelta(minutes=1))
    await eng.run_cycle()
    assert store.decisions[-1].reason_code == "cooldown" or any(
        r.reason_code == "cooldown" and r.cycle_id == 3 for r in store.decisions
    )


async def test_partial_fills_open_only_what_filled_and_partial_exit_splits_the_row() -> None:
    eng, broker, md, _, store, clock = build([market("M")], {"M": "0.70"})
    broker.fill_ratio = Decimal("0.5")
    await eng.run_cycle()
    [row] = store.open_rows()
    assert row["quantity"] == 5
    md.set(replace(md.markets["M"], quote=Quote(D("0.60"), D("0.62"), D(1000), D(1000))))
    broker.fill_ratio = Decimal("0.6")  # 3 of 5 sell
    clock.advance(timedelta(minutes=1))
    await eng.run_cycle()
    [still] = store.open_rows()
    [part] = store.closed_rows()
    assert still["quantity"] == 2 and part["quantity"] == 3
    entry_fee = taker_fee(D(5), D("0.42"))
    assert part["pnl"] == 3 * (D("0.60") - D("0.42")) - entry_fee * 3 / 5 - taker_fee(
        D(3), D("0.60")
    )


async def test_one_market_analyst_or_strategy_failure_never_stops_the_loop() -> None:
    eng, _, _, analyst, store, _ = build([market("A"), market("B")], {"A": "0.7", "B": "0.7"})
    analyst.broken.add("A")
    s = await eng.run_cycle()
    assert s.errors == 1 and s.open_positions == 1
    assert any(r.ticker == "A" and r.reason_code == "analyst_error" for r in store.decisions)


async def test_restart_after_crash_between_accept_and_ack_applies_fill_and_opens_no_second() -> (
    None
):
    eng, broker, md, analyst, store, clock = build([market("M")], {"M": "0.70"})
    broker.fail_after_accept = True
    s = await eng.run_cycle()
    # The order errored locally but the exchange filled it; the fill sync confirms it.
    assert s.open_positions == 1 and len(broker.placed) == 1
    broker.fail_after_accept = False
    # A fresh engine over the same store and exchange (a restart) does not trade it twice.
    eng2 = TradingEngine(
        market_data=md, broker=broker, analyst=analyst, strategy=StandardStrategy(),
        screener=Screener.from_config(ScreenConfig()), risk=eng.risk, store=store, clock=clock,
    )  # fmt: skip
    clock.advance(timedelta(minutes=1))
    s2 = await eng2.run_cycle()
    assert s2.cycle_id == 2 and s2.open_positions == 1 and len(broker.placed) == 1
    assert len(store.open_rows()) == 1


async def test_refusals_are_logged_with_reason_codes_and_screen_counts() -> None:
    ms = [market("A"), market("B", volume_24h=0), market("C", bid=None)]
    eng, _, _, _, store, _ = build(ms, {"A": "0.43"})
    s = await eng.run_cycle()
    assert s.screened_out == {"low_volume": 1, "one_sided_book": 1}
    codes = {(r.ticker, r.reason_code) for r in store.decisions}
    assert ("A", "no_edge_after_fees") in codes
    assert ("B", "low_volume") in codes and ("C", "one_sided_book") in codes


async def test_daily_loss_limit_puts_the_engine_in_reducing_and_refuses_opens() -> None:
    eng, broker, _, _, store, _ = build([market("A")], {"A": "0.70"}, max_daily_loss=D(50))
    await eng.run_cycle()  # baseline equity
    broker.cash -= D(100)
    s = await eng.run_cycle()
    assert s.risk_state.value == "REDUCING"
    assert store.risk_events[-1].reason_code == "daily_loss_limit"


async def test_live_start_refuses_on_mismatch_until_reconciled_then_exchange_wins() -> None:
    from kalbot.engine.loop import ReconcileRequired
    from kalbot.engine.reconcile import apply_reconcile, find_mismatches

    eng, broker, md, analyst, store, clock = build([market("M"), market("X")], {"M": "0.70"})
    await eng.run_cycle()
    broker.pos["X"] = D(-7)  # the exchange holds 7 NO we never recorded
    broker.pos["M"] = D(0)  # and no longer holds our YES
    live = TradingEngine(
        market_data=md, broker=broker, analyst=analyst, strategy=StandardStrategy(),
        screener=Screener.from_config(ScreenConfig()), risk=eng.risk, store=store, clock=clock,
        config=EngineConfig(require_reconciled=True),
    )  # fmt: skip
    with pytest.raises(ReconcileRequired, match="X: exchange 7 NO, database flat"):
        await live.run_cycle()
    await live.load()
    mm = await find_mismatches(broker, live.book)
    done = await apply_reconcile(mm, live.book, store, md, clock.now())
    assert any(d.startswith("closed M yes x10") for d in done)
    assert any(d.startswith("opened X no x7") for d in done)
    assert await find_mismatches(broker, live.book) == []
    [closed] = store.closed_rows()
    assert closed["close_reason"] == "reconcile"


@pytest.mark.parametrize("dry_run", [True, False])
async def test_close_all_is_a_dry_run_by_default_and_flattens_when_told(dry_run: bool) -> None:
    eng, broker, _, _, store, _ = build(
        [market("M"), market("N", "0.60", "0.62")], {"M": "0.7", "N": "0.3"}
    )
    await eng.run_cycle()
    lines = await eng.close_all(dry_run=dry_run)
    if dry_run:
        assert sorted(lines) == ["would sell 10 NO N at 0.38", "would sell 10 YES M at 0.40"]
        assert len(store.open_rows()) == 2
    else:
        assert len(store.open_rows()) == 0
        assert {r["close_reason"] for r in store.closed_rows()} == {"close_all"}
        assert broker.pos == {"M": 0, "N": 0}


def test_a_fill_reported_from_the_other_leg_is_read_in_its_orders_direction() -> None:
    from kalbot.domain.orders import Action, TimeInForce
    from kalbot.engine.execution import as_ordered
    from kalbot.engine.records import FillRecord, OrderRecord, Purpose

    order = OrderRecord(
        "c1", "M", Side.YES, Action.SELL, Purpose.CLOSE, D(5), D("0.60"), TimeInForce.IOC,
        NOW, 1, "profit_target", position_id=1,
    )  # fmt: skip
    seen = FillRecord(
        "f1", "o1", "c1", "M", Side.NO, Action.BUY, D(5), D("0.39"), D("0.09"), True, NOW
    )
    fixed = as_ordered(seen, order)
    assert (fixed.side, fixed.action, fixed.price) == (Side.YES, Action.SELL, D("0.61"))
    assert as_ordered(fixed, order) == fixed and as_ordered(seen, None) == seen


async def test_a_source_offering_the_whole_market_list_is_read_in_one_call_to_the_same_end() -> (
    None
):
    """``open_market_list`` (the simulated exchange's and the replay's batch read) is used when
    a source has it; the cycle is the same as over ``open_markets``."""

    class Listing(FakeMarketData):
        calls = 0

        async def open_market_list(self) -> list[Market]:
            self.calls += 1
            return [m async for m in self.open_markets()]

    ms = [market("A", "0.40", "0.42"), market("B", "0.60", "0.62"), market("C", bid=None)]
    runs = []
    for listing in (False, True):
        eng, _, md, _, store, clock = build(ms, {"A": "0.70", "B": "0.30"})
        if listing:
            eng.market_data = md = Listing(ms)
            eng.broker.md = md  # type: ignore[attr-defined]
        summaries = [await eng.run_cycle()]
        clock.set(NOW + timedelta(hours=1))
        summaries.append(await eng.run_cycle())
        runs.append(
            (
                [(s.markets_seen, s.orders, s.fills, s.screened_out) for s in summaries],
                [(r.ticker, r.stage, r.outcome, r.reason_code) for r in store.decisions],
            )
        )
        if listing:
            assert isinstance(md, Listing) and md.calls == 2
    assert runs[0] == runs[1]
    assert runs[0][0][0][1] == 2  # both markets were opened: the comparison is not vacuous


async def test_history_points_keep_each_markets_own_prices_when_shared() -> None:
    """Points are shared between markets showing the same price objects, never merely equal
    ones: Decimal("0.4") == Decimal("0.40") but prints apart."""
    q = Quote(D("0.40"), D("0.42"))
    ms = [
        replace(market("A"), quote=q),
        replace(market("B"), quote=q),
        replace(market("C"), quote=Quote(D("0.4"), D("0.42"))),
    ]
    eng, _, _, _, _, clock = build(ms, {})
    await eng.run_cycle()
    a, b, c = (eng.history[t][-1] for t in "ABC")
    assert a is b and a.ts == NOW
    assert str(c.yes_bid) == "0.4" and str(a.yes_bid) == "0.40"
    clock.set(NOW + timedelta(minutes=10))
    await eng.run_cycle()
    assert [p.ts for p in eng.history["A"]] == [NOW, NOW + timedelta(minutes=10)]


@pytest.mark.parametrize("length", [0, 1, 3])
async def test_history_keeps_the_last_history_length_points_oldest_first(length: int) -> None:
    eng, _, _, _, _, clock = build([market("A")], {})
    eng.cfg = replace(eng.cfg, history_length=length)
    for i in range(5):
        clock.set(NOW + timedelta(minutes=10 * i))
        await eng.run_cycle()
    times = [NOW + timedelta(minutes=10 * i) for i in range(5)]
    assert [p.ts for p in eng.history["A"]] == (times[5 - length :] if length else [])


async def test_the_rows_of_skipped_refused_and_opened_markets_carry_every_field() -> None:
    """Skip rows are built inline in ``_decide_all`` and refusals before the strategy: both must
    read as the rows ``_act`` builds (stage, outcome, codes, decision, strategy, confidence)."""
    ms = [market("A", "0.40", "0.42"), market("B", "0.40", "0.42"), market("C", "0.40", "0.42")]
    eng, _, _, _, store, _ = build(ms, {"A": "0.41", "B": "0.80"}, max_open_positions=1)
    await eng.run_cycle()
    by = {(r.ticker, r.stage): r for r in store.decisions}
    a = by[("A", "strategy")]  # analysed, no edge: skipped by the strategy
    assert (a.cycle_id, a.ts, a.outcome, a.reason_code, a.detail) == (
        1, NOW, "skipped", a.reason_code, a.reason_code
    )  # fmt: skip
    assert a.reason_code and a.decision is Decision.SKIP and a.strategy == "standard"
    assert a.confidence is not None and (a.quantity, a.price) == (None, None)
    b = by[("B", "risk")]  # opened: approved (or shrunk) with a size and a price
    assert b.outcome in ("approved", "shrunk") and b.quantity and b.price == D("0.42")
    c = by[("C", "strategy")]  # no view: skipped
    assert c.outcome == "skipped" and c.decision is Decision.SKIP
    await eng.run_cycle()  # one position open, the limit is one: A and C refused up front
    second = [r for r in store.decisions if r.cycle_id == 2 and r.ticker in ("A", "C")]
    assert {(r.ticker, r.stage, r.outcome, r.reason_code) for r in second} == {
        ("A", "risk", "refused", "max_open_positions"),
        ("C", "risk", "refused", "max_open_positions"),
    }
    r = second[0]
    assert (r.detail, r.decision, r.strategy, r.confidence) == ("", None, "standard", None)
