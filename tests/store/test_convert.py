"""The storage boundary: Decimal money through REAL and back, times through ISO text."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kalbot.adapters.store.convert import (
    day_text,
    from_real,
    from_text_time,
    stamp,
    to_real,
    to_text_time,
)
from kalbot.domain.errors import InvalidRecord

money = st.decimals(
    min_value=Decimal("-1000000"), max_value=Decimal("1000000"), places=4, allow_nan=False
)


@settings(max_examples=300)
@given(money)
def test_money_with_up_to_four_places_survives_real_exactly(value: Decimal) -> None:
    back = from_real(to_real(value))
    assert back == value


daily_amounts = st.decimals(
    min_value=Decimal("-10000"), max_value=Decimal("10000"), places=4, allow_nan=False
)


@settings(max_examples=100)
@given(st.lists(daily_amounts, min_size=1, max_size=30))
def test_a_float_sum_reads_back_as_the_exact_decimal_sum(values: list[Decimal]) -> None:
    # What SUM(pnl) over a day's trades returns: binary noise far below the 8 kept places.
    float_sum = 0.0
    for v in values:
        float_sum += to_real(v) or 0.0
    assert from_real(float_sum) == sum(values, Decimal(0))


def test_floats_and_non_finite_money_are_refused() -> None:
    with pytest.raises(InvalidRecord):
        to_real(0.65)  # type: ignore[arg-type]
    with pytest.raises(InvalidRecord):
        to_real(Decimal("NaN"))
    assert to_real(None) is None and from_real(None) is None


@settings(max_examples=100)
@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    )
)
def test_times_round_trip_through_iso_text_in_sortable_form(when: datetime) -> None:
    text = to_text_time(when)
    assert text.endswith("Z")
    assert from_text_time(text) == when


def test_times_are_stored_in_utc_and_naive_ones_refused() -> None:
    east = datetime(2024, 11, 15, 12, 0, tzinfo=timezone(timedelta(hours=5)))
    assert to_text_time(east) == "2024-11-15T07:00:00Z"
    with pytest.raises(InvalidRecord):
        to_text_time(datetime(2024, 11, 15, 12, 0))
    assert stamp("postgresql", east) == datetime(2024, 11, 15, 7, 0)
    assert stamp("sqlite", east) == "2024-11-15T07:00:00Z"


def test_days_are_iso_dates() -> None:
    assert day_text(date(2024, 11, 5)) == "2024-11-05"
    with pytest.raises(InvalidRecord):
        day_text(datetime(2024, 11, 5, tzinfo=UTC))
