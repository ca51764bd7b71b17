"""Wire helpers: request number parsing, fixed-point output, cursors (property-tested)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kalbot.adapters.simulated.server.wire import (
    WireError,
    count,
    decode_cursor,
    dollars,
    encode_cursor,
    paginate,
    parse_count,
    parse_price,
    rfc3339,
)


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 9999))
def test_every_four_decimal_price_parses_exactly_and_prints_back(ticks: int) -> None:
    text = f"0.{ticks:04d}"
    price = parse_price(text, "price")
    assert price == Decimal(ticks) / 10_000
    assert dollars(price) == text


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 10**8))
def test_counts_with_up_to_two_decimals_parse_exactly(hundredths: int) -> None:
    text = f"{hundredths // 100}.{hundredths % 100:02d}"
    c = parse_count(text, "count")
    assert c == Decimal(hundredths) / 100
    assert count(c) == text


@pytest.mark.parametrize(
    "bad", ["0", "1", "1.0000", "0.00001", "-0.5", ".5", "0.5e1", "abc", "", " ", "NaN"]
)
def test_bad_prices_are_refused_naming_the_field(bad: str) -> None:
    with pytest.raises(WireError) as e:
        parse_price(bad, "price")
    assert e.value.status == 400 and "price" in e.value.message


@pytest.mark.parametrize("bad", [0.5, None, True, ["0.5"], {"p": 1}])
def test_non_string_prices_are_refused(bad: object) -> None:
    with pytest.raises(WireError, match="fixed-point dollar string"):
        parse_price(bad, "price")


@pytest.mark.parametrize("bad", ["0", "1.234", "-1", "1e3", "ten", "", 1.5, True, None])
def test_bad_counts_are_refused(bad: object) -> None:
    with pytest.raises(WireError):
        parse_count(bad, "count")
    assert parse_count("0", "reduce_to", allow_zero=True) == 0


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(), max_size=60), st.integers(1, 25))
def test_paging_with_cursors_returns_every_item_once_in_order(items: list[int], limit: int) -> None:
    seen: list[int] = []
    cursor = ""
    for _ in range(100):
        params = {"limit": str(limit)}
        if cursor:
            params["cursor"] = cursor
        page, cursor = paginate(items, params)
        assert len(page) <= limit
        seen.extend(page)
        if not cursor:
            break
    assert seen == items


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 10**9))
def test_cursor_round_trip(offset: int) -> None:
    assert decode_cursor(encode_cursor(offset)) == offset


@pytest.mark.parametrize("bad", ["x", "bzpx", "!!!", encode_cursor(0)[:-1] + "@"])
def test_foreign_cursors_are_a_400(bad: str) -> None:
    with pytest.raises(WireError) as e:
        decode_cursor(bad)
    assert e.value.status == 400


def test_limit_bounds() -> None:
    with pytest.raises(WireError, match="limit"):
        paginate([1], {"limit": "0"})
    with pytest.raises(WireError, match="limit"):
        paginate([1], {"limit": "1001"})


def test_rfc3339_is_utc_with_z() -> None:
    from datetime import UTC, datetime, timedelta, timezone

    when = datetime(2026, 1, 2, 3, 4, 5, 678_900, tzinfo=timezone(timedelta(hours=-5)))
    assert rfc3339(when) == "2026-01-02T08:04:05.678Z"
    assert rfc3339(datetime(2026, 1, 2, tzinfo=UTC)) == "2026-01-02T00:00:00Z"
