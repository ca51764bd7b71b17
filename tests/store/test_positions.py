"""Contract: positions on SQLite and PostgreSQL (open, update, close with P&L, history)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kalbot.adapters.store.repository import Repository
from kalbot.domain.errors import InvalidRecord, NotFound
from kalbot.domain.pnl import realized_pnl
from kalbot.domain.prices import Side
from kalbot.domain.records import PositionStatus

T0 = datetime(2024, 11, 15, 10, 30, tzinfo=UTC)


async def test_an_added_position_is_open_and_reads_back_exactly(repo: Repository) -> None:
    added = await repo.add_position(
        ticker="KXBTC-24DEC-50K",
        side=Side.YES,
        quantity=100,
        entry_price=Decimal("0.65"),
        entry_time=T0,
        reason="High confidence AI signal",
    )
    assert added.status is PositionStatus.OPEN
    assert added.entry_price == Decimal("0.65")
    assert added.entry_time == T0
    assert added.exit_price is None and added.pnl is None
    assert await repo.get_position(added.id) == added
    assert await repo.open_positions() == [added]


async def test_closing_a_yes_position_computes_pnl_in_yes_prices_minus_fees(
    repo: Repository,
) -> None:
    pos = await repo.add_position(
        ticker="KXBTC-24DEC-50K",
        side="yes",
        quantity=100,
        entry_price=Decimal("0.65"),
        entry_time=T0,
    )
    closed = await repo.close_position(
        pos.id,
        exit_price=Decimal("0.72"),
        exit_time=T0 + timedelta(days=1),
        close_reason="Profit target reached",
        fees=Decimal("3.17"),
    )
    assert closed.status is PositionStatus.CLOSED
    assert closed.pnl == Decimal("3.83")  # 100 * (0.72 - 0.65) - 3.17
    assert closed.exit_price == Decimal("0.72")
    assert closed.exit_time == T0 + timedelta(days=1)
    assert closed.close_reason == "Profit target reached"
    assert await repo.open_positions() == []


async def test_closing_a_no_position_uses_the_no_sides_own_prices(repo: Repository) -> None:
    # Bought NO at 0.30 (YES was 0.70); the market settled NO, so NO pays 1.00.
    pos = await repo.add_position(
        ticker="KXRAIN", side=Side.NO, quantity=10, entry_price=Decimal("0.30"), entry_time=T0
    )
    closed = await repo.close_position(
        pos.id,
        exit_price=Decimal("1.00"),
        exit_time=T0 + timedelta(hours=5),
        close_reason="settled",
        fees=Decimal("0.15"),
    )
    assert closed.side is Side.NO
    assert closed.pnl == Decimal("6.85")  # 10 * (1.00 - 0.30) - 0.15
    lost = await repo.add_position(
        ticker="KXRAIN", side=Side.NO, quantity=10, entry_price=Decimal("0.30"), entry_time=T0
    )
    closed_lost = await repo.close_position(
        lost.id,
        exit_price=Decimal("0"),
        exit_time=T0 + timedelta(hours=6),
        close_reason="settled",
    )
    assert closed_lost.pnl == Decimal("-3")


async def test_closing_twice_is_refused_and_changes_nothing(repo: Repository) -> None:
    pos = await repo.add_position(
        ticker="KX", side="yes", quantity=1, entry_price=Decimal("0.5"), entry_time=T0
    )
    first = await repo.close_position(
        pos.id, exit_price=Decimal("0.6"), exit_time=T0, close_reason="a"
    )
    with pytest.raises(NotFound):
        await repo.close_position(pos.id, exit_price=Decimal("0.9"), exit_time=T0, close_reason="b")
    assert await repo.get_position(pos.id) == first


async def test_unknown_position_is_not_found(repo: Repository) -> None:
    with pytest.raises(NotFound):
        await repo.get_position(999)
    with pytest.raises(NotFound):
        await repo.update_position(999, now=T0, quantity=3)
    with pytest.raises(NotFound):
        await repo.close_position(999, exit_price=Decimal("0.5"), exit_time=T0, close_reason="x")


async def test_update_changes_an_open_position_only(repo: Repository) -> None:
    pos = await repo.add_position(
        ticker="KX", side="no", quantity=5, entry_price=Decimal("0.40"), entry_time=T0
    )
    updated = await repo.update_position(
        pos.id,
        now=T0 + timedelta(minutes=1),
        quantity=8,
        entry_price=Decimal("0.42"),
        reason="added to it",
    )
    assert (updated.quantity, updated.entry_price, updated.reason) == (
        8,
        Decimal("0.42"),
        "added to it",
    )
    await repo.close_position(pos.id, exit_price=Decimal("0.5"), exit_time=T0, close_reason="x")
    with pytest.raises(NotFound):
        await repo.update_position(pos.id, now=T0, quantity=1)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("entry_price", Decimal("1.01")),
        ("entry_price", Decimal("-0.01")),
        ("entry_price", 0.5),
        ("quantity", 0),
        ("quantity", -3),
        ("side", "maybe"),
        ("entry_time", datetime(2024, 1, 1)),
    ],
)
async def test_bad_input_is_refused_before_anything_is_stored(
    repo: Repository, field: str, value: object
) -> None:
    args: dict[str, object] = {
        "ticker": "KX",
        "side": "yes",
        "quantity": 1,
        "entry_price": Decimal("0.5"),
        "entry_time": T0,
    }
    args[field] = value
    with pytest.raises(InvalidRecord):
        await repo.add_position(**args)  # type: ignore[arg-type]
    assert await repo.open_positions() == []


async def test_history_lists_a_tickers_positions_newest_first(repo: Repository) -> None:
    ids = []
    for i, side in enumerate(["yes", "no", "yes"]):
        p = await repo.add_position(
            ticker="KXA",
            side=side,
            quantity=1 + i,
            entry_price=Decimal("0.5"),
            entry_time=T0 + timedelta(hours=i),
        )
        ids.append(p.id)
    await repo.add_position(
        ticker="KXB", side="yes", quantity=1, entry_price=Decimal("0.5"), entry_time=T0
    )
    history = await repo.position_history("KXA")
    assert [p.id for p in history] == list(reversed(ids))
    assert [p.side for p in history] == [Side.YES, Side.NO, Side.YES]


prices4 = st.decimals(min_value=Decimal("0"), max_value=Decimal("1"), places=4)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    side=st.sampled_from([Side.YES, Side.NO]),
    quantity=st.integers(min_value=1, max_value=10_000),
    entry=prices4,
    exit_=prices4,
    fees=st.decimals(min_value=Decimal("0"), max_value=Decimal("500"), places=2),
)
async def test_stored_pnl_is_exactly_the_domain_pnl_on_either_side(
    repo: Repository, side: Side, quantity: int, entry: Decimal, exit_: Decimal, fees: Decimal
) -> None:
    pos = await repo.add_position(
        ticker="KXPROP", side=side, quantity=quantity, entry_price=entry, entry_time=T0
    )
    closed = await repo.close_position(
        pos.id, exit_price=exit_, exit_time=T0, close_reason="prop", fees=fees
    )
    assert closed.pnl == realized_pnl(Decimal(quantity), entry, exit_, fees)
    assert (closed.entry_price, closed.exit_price, closed.side) == (entry, exit_, side)
