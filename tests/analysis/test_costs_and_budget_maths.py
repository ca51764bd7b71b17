from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from analysis.helpers import PRICES, D, context
from kalbot.analysis.budget import fits, to_micro, utc_day
from kalbot.analysis.costs import CostTable, TokenPrice, UnknownModelPrice, max_input_tokens
from kalbot.analysis.ensemble import combine_log_odds
from kalbot.analysis.prompt import build_request


def test_cost_is_exact_dollars_from_usage_and_the_price_table() -> None:
    # 1234 * 2.00 / 1e6 + 567 * 10.00 / 1e6
    assert PRICES.cost("fake-model", 1234, 567) == D("0.008138")


def test_a_dated_model_name_uses_the_longest_configured_prefix() -> None:
    table = CostTable(
        {"gpt-4o": TokenPrice(D("2.5"), D("10")), "gpt-4o-mini": TokenPrice(D("0.15"), D("0.6"))}
    )
    assert table.price("gpt-4o-mini-2024-07-18").input_per_mtok == D("0.15")
    assert table.price("gpt-4o-2024-08-06").input_per_mtok == D("2.5")


def test_an_unpriced_model_cannot_be_costed() -> None:
    with pytest.raises(UnknownModelPrice):
        PRICES.cost("mystery-model", 1, 1)


def test_worst_case_bounds_input_by_bytes_and_output_by_max_tokens() -> None:
    request = build_request(context())
    bound = max_input_tokens(request)
    assert bound > len(request.user) // 4  # far above any tokenizer's count
    assert PRICES.worst_case("fake-model", request, 600) == PRICES.cost("fake-model", bound, 600)


def test_budget_fit_is_inclusive_and_counts_reservations() -> None:
    assert fits(D("9"), D("0.5"), D("0.5"), D("10"))
    assert not fits(D("9"), D("0.5"), D("0.500001"), D("10"))
    assert to_micro(D("0.0000001")) == 1  # reservations round up, never down


def test_budget_days_start_at_midnight_utc() -> None:
    east = timezone(timedelta(hours=5))
    assert utc_day(datetime(2026, 11, 26, 3, 0, tzinfo=east)).isoformat() == "2026-11-25"
    assert utc_day(datetime(2026, 11, 25, 23, 59, 59, tzinfo=UTC)).isoformat() == "2026-11-25"
    with pytest.raises(ValueError):
        utc_day(datetime(2026, 11, 25))


def test_log_odds_ensemble_of_symmetric_views_is_even_and_weights_pull() -> None:
    assert combine_log_odds([D("0.8"), D("0.2")]) == D("0.5")
    assert combine_log_odds([D("0.7")]) == D("0.7")
    pulled = combine_log_odds([D("0.9"), D("0.5")], [D(3), D(1)])
    assert D("0.8") < pulled < D("0.9")
    with pytest.raises(ValueError):
        combine_log_odds([])
