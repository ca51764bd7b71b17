"""``value`` classes behave as the frozen dataclasses they replaced, minus the run-time guard."""

from __future__ import annotations

import dataclasses
import pickle
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kalbot.domain.context import PricePoint
from kalbot.domain.decisions import Decision, DecisionResult
from kalbot.domain.market import Market, MarketStatus, Quote
from kalbot.domain.snapshot import Snapshot
from kalbot.domain.trading import DecisionRecord
from kalbot.domain.values import value

NOW = datetime(2026, 1, 5, tzinfo=UTC)
prices = st.none() | st.decimals(min_value=0, max_value=1, places=2)


@pytest.mark.parametrize(
    "cls", [Quote, Market, DecisionRecord, PricePoint, DecisionResult, Snapshot]
)
def test_hot_values_are_slotted_hashable_dataclasses(cls: type) -> None:
    assert dataclasses.is_dataclass(cls)
    assert "__slots__" in cls.__dict__ and "__dict__" not in cls.__dict__
    assert cls.__hash__ is not None and cls.__hash__ is not object.__hash__


@given(prices, prices, prices, prices)
def test_equal_fields_mean_equal_values_and_hashes(
    a: Decimal | None, b: Decimal | None, c: Decimal | None, d: Decimal | None
) -> None:
    q1, q2 = Quote(a, b), Quote(a, b)
    assert q1 == q2 and hash(q1) == hash(q2) and {q1: 1}[q2] == 1
    p1, p2 = PricePoint(NOW, a, b, c), PricePoint(NOW, a, b, c)
    assert p1 == p2 and hash(p1) == hash(p2)
    assert (p1 == PricePoint(NOW, a, b, d)) == (c == d)


def test_positional_keyword_defaults_replace_and_pickle() -> None:
    m = Market("T", "E", "title", MarketStatus.ACTIVE, Quote(Decimal("0.4"), Decimal("0.6")), NOW)
    assert m == Market(
        ticker="T", event_ticker="E", title="title", status=MarketStatus.ACTIVE,
        quote=Quote(Decimal("0.4"), Decimal("0.6")), close_time=NOW,
    )  # fmt: skip
    assert m.quote.yes_bid_size == Decimal(0) and m.price_ranges and m.is_combo is False
    moved = dataclasses.replace(m, status=MarketStatus.CLOSED)
    assert moved.status is MarketStatus.CLOSED and m.status is MarketStatus.ACTIVE
    assert moved != m and pickle.loads(pickle.dumps(m)) == m
    r = DecisionRecord(1, NOW, "T", "risk", "refused", "cooldown", "", None, "momentum")
    assert r.strategy == "momentum" and r.detail == "" and r.quantity is None
    assert "DecisionRecord(cycle_id=1" in repr(r)
    d = DecisionResult(Decision.SKIP, Decimal(0), "flat")
    assert d == DecisionResult(Decision.SKIP, Decimal(0), "flat") and d.limit_price is None


def test_value_keeps_field_order_and_kinds() -> None:
    @value
    class V:
        a: int
        b: str = "x"

    assert [f.name for f in dataclasses.fields(V)] == ["a", "b"]
    assert V(1) == V(1, "x") != V(2)
    assert V(1) != (1, "x")  # type: ignore[comparison-overlap]  # not a tuple
    with pytest.raises(AttributeError):
        V(1).c = 3  # type: ignore[attr-defined]  # slots: no stray attributes
