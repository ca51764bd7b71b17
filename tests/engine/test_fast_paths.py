"""The engine's fast paths agree with the plain code they replace.

``PositionBook.for_ticker`` is an index lookup (it was a scan of every position), and
``MomentumStrategy.decide`` computes only the two mids its move uses (it built all of them).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.factories import NOW, D, market
from kalbot.domain.context import HeldPosition, PricePoint
from kalbot.domain.decisions import DecisionResult
from kalbot.domain.prices import ONE, Side
from kalbot.engine.book import PositionBook
from kalbot.engine.records import OpenPosition
from kalbot.strategy import MomentumStrategy, PortfolioView, StrategyContext
from kalbot.strategy.base import best_side, open_side, skip
from kalbot.strategy.builtin import _close

TICKERS = ["A", "B", "C", "D"]


def _pos(pid: int, ticker: str, side: Side = Side.YES) -> OpenPosition:
    return OpenPosition(
        id=pid, ticker=ticker, side=side, quantity=D(1), cost=D("0.5"), entry_fees=D(0),
        entry_time=NOW, reason="", event_ticker=ticker, category="", strategy="",
    )  # fmt: skip


def _scan(book: PositionBook, ticker: str) -> OpenPosition | None:
    return next((p for p in book.by_id.values() if p.ticker == ticker), None)


ops = st.lists(
    st.tuples(
        st.sampled_from(["set", "pop", "del", "popitem", "clear", "update", "assign"]),
        st.integers(1, 6),
        st.sampled_from(TICKERS),
        st.sampled_from([Side.YES, Side.NO]),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(ops)
def test_for_ticker_finds_what_a_scan_of_the_positions_finds(
    steps: list[tuple[str, int, str, Side]],
) -> None:
    book = PositionBook()
    for op, pid, ticker, side in steps:
        if op == "set":
            book.by_id[pid] = _pos(pid, ticker, side)
        elif op == "pop":
            book.by_id.pop(pid, None)
        elif op == "del" and pid in book.by_id:
            del book.by_id[pid]
        elif op == "popitem" and book.by_id:
            book.by_id.popitem()
        elif op == "clear" and pid == 1:
            book.by_id.clear()
        elif op == "update":
            book.by_id.update({pid: _pos(pid, ticker, side), pid + 10: _pos(pid + 10, ticker)})
        elif op == "assign":  # what TradingEngine.start does
            book.by_id = {p.id: p for p in list(book.by_id.values())[::-1]}
        for t in TICKERS:
            assert book.for_ticker(t) is _scan(book, t)
        assert book.tickers() == {p.ticker for p in book.by_id.values()}


def test_for_ticker_follows_apply_and_a_position_moved_to_another_ticker() -> None:
    book = PositionBook([_pos(1, "A"), _pos(2, "B")])
    assert book.for_ticker("A") is book.by_id[1]
    book.by_id[1] = replace(book.by_id[1], ticker="B")  # an id keeps its place in the dict
    assert book.for_ticker("A") is None
    assert book.for_ticker("B") is book.by_id[1]  # first in the dict's order, as a scan
    assert book.by_id.pop(7, "missing") == "missing"


def _reference_momentum(s: MomentumStrategy, ctx: StrategyContext) -> DecisionResult:
    """MomentumStrategy.decide as it was: every mid of the lookback built."""
    mids = [
        (p.yes_bid + p.yes_ask) / 2
        for p in ctx.history[-(s.lookback + 1) :]
        if p.yes_bid is not None and p.yes_ask is not None
    ]
    if len(mids) < s.lookback + 1:
        return skip("not_enough_history")
    move = mids[-1] - mids[0]
    if ctx.position is not None:
        signed = move if ctx.position.side is Side.YES else -move
        if signed < -s.threshold:
            return _close("momentum_reversed", min(ONE, abs(move) * 10), None)
        return skip("holding")
    if abs(move) < s.threshold:
        return skip("no_momentum")
    p_yes = min(max(mids[-1] + s.carry * move, Decimal("0.01")), Decimal("0.99"))
    pick = best_side(ctx.market, p_yes, s.min_edge)
    if pick is None:
        return skip("no_edge_after_fees")
    side, ask, _ = pick
    if (side is Side.YES) != (move > 0):
        return skip("no_edge_after_fees")
    return open_side(side, min(ONE, abs(move) * 10), "momentum", ask, p_yes)


cents = st.integers(1, 98).map(lambda c: Decimal(c) / 100)
points = st.lists(st.tuples(st.one_of(st.none(), cents), st.one_of(st.none(), cents)), max_size=9)


@settings(max_examples=400, deadline=None)
@given(points, st.sampled_from([None, Side.YES, Side.NO]), st.integers(0, 6), cents)
def test_momentum_decides_as_the_all_mids_version(
    pts: list[tuple[Decimal | None, Decimal | None]], held: Side | None, lookback: int, bid: Decimal
) -> None:
    history = tuple(
        PricePoint(NOW - timedelta(minutes=10 * (len(pts) - i)), b, a, None)
        for i, (b, a) in enumerate(pts)
    )
    position = None if held is None else HeldPosition(held, D(1), D("0.5"), NOW)
    m = market(bid=str(bid), ask=str(bid + Decimal("0.01")))
    port = PortfolioView(D(1000), D(1000), 0, D(0))
    ctx = StrategyContext(m, NOW, history, position, port)
    s = MomentumStrategy(lookback=lookback)
    got, want = s.decide(ctx), _reference_momentum(s, ctx)
    assert (got.decision, got.reason, got.confidence, got.limit_price, got.probability_yes) == (
        want.decision, want.reason, want.confidence, want.limit_price, want.probability_yes,
    )  # fmt: skip
