from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kalbot.backtest.forecast import (
    Forecast,
    brier_score,
    calibration_table,
    log_loss,
    score,
    score_by_category,
)
from kalbot.backtest.metrics import equity_metrics, max_drawdown, trade_metrics

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def curve(*values: str) -> list[tuple[datetime, Decimal]]:
    return [(T0 + timedelta(days=i), Decimal(v)) for i, v in enumerate(values)]


def test_drawdown_of_a_known_series_with_its_start_bottom_and_recovery() -> None:
    dd = max_drawdown(curve("100", "120", "90", "60", "130", "117"))
    assert dd.depth == pytest.approx(0.5)  # 120 -> 60
    assert dd.peak_time == T0 + timedelta(days=1)
    assert dd.trough_time == T0 + timedelta(days=3)
    assert dd.recovery_time == T0 + timedelta(days=4)


def test_drawdown_never_recovered_has_no_recovery_time() -> None:
    dd = max_drawdown(curve("100", "80", "90"))
    assert dd.depth == pytest.approx(0.2) and dd.recovery_time is None


def test_equity_metrics_of_a_known_series() -> None:
    m = equity_metrics(curve("100", "110", "99", "108.9"))
    rets = [0.10, -0.10, 0.10]
    mean = sum(rets) / 3
    std = math.sqrt(sum((r - mean) ** 2 for r in rets) / 2)
    assert m.total_return == pytest.approx(0.089)
    assert m.volatility == pytest.approx(std * math.sqrt(365))
    assert m.sharpe == pytest.approx(mean / std * math.sqrt(365))
    downside = math.sqrt(0.01 / 3)
    assert m.sortino == pytest.approx(mean / downside * math.sqrt(365))
    assert m.annualized_return == pytest.approx(1.089 ** (365 / 3) - 1)
    assert m.max_drawdown.depth == pytest.approx(0.1)
    assert m.calmar == pytest.approx(m.annualized_return / 0.1)


def test_flat_equity_has_zero_ratios_not_a_crash() -> None:
    m = equity_metrics(curve("100", "100", "100"))
    assert (m.sharpe, m.sortino, m.calmar, m.volatility) == (0.0, 0.0, 0.0, 0.0)
    single = equity_metrics(curve("100"))
    assert single.total_return == 0.0 and single.sharpe == 0.0


def test_trade_metrics_of_known_trades() -> None:
    pnls = [Decimal("6.85"), Decimal("-3.20"), Decimal("1.35"), Decimal("0")]
    hold = [timedelta(hours=h) for h in (2, 4, 6, 8)]
    fees = [Decimal("0.15"), Decimal("0.20"), Decimal("0.15"), Decimal("0.02")]
    m = trade_metrics(pnls, hold, fees)
    assert (m.trades, m.wins, m.losses) == (4, 2, 1)
    assert m.win_rate == 0.5
    assert m.profit_factor == pytest.approx(8.20 / 3.20)
    assert m.expectancy == Decimal("1.25")
    assert m.average_win == Decimal("4.10") and m.average_loss == Decimal("-3.20")
    assert m.best_trade == Decimal("6.85") and m.worst_trade == Decimal("-3.20")
    assert m.fees == Decimal("0.52") and m.average_holding == timedelta(hours=5)


def test_no_trades_gives_zeros() -> None:
    m = trade_metrics([], [], [])
    assert m.trades == 0 and m.win_rate == 0.0 and m.profit_factor == 0.0


def test_brier_and_log_loss_of_known_forecasts() -> None:
    assert brier_score([0.8, 0.3], [True, False]) == pytest.approx((0.04 + 0.09) / 2)
    assert log_loss([0.8, 0.3], [True, False]) == pytest.approx(
        -(math.log(0.8) + math.log(0.7)) / 2
    )
    assert log_loss([1.0], [False]) == pytest.approx(-math.log(1e-6))


def test_calibration_deciles() -> None:
    table = calibration_table([0.05, 0.15, 0.12, 0.95, 1.0], [False, True, False, True, True])
    assert len(table) == 10
    assert table[1].count == 2 and table[1].observed_frequency == 0.5
    assert table[1].mean_forecast == pytest.approx(0.135)
    assert table[9].count == 2 and table[9].observed_frequency == 1.0
    assert table[5].count == 0


def test_analyst_is_scored_against_the_market_on_the_same_markets() -> None:
    fs = [
        Forecast("A", "econ", 0.9, 0.6, True),
        Forecast("B", "econ", 0.2, 0.5, False),
        Forecast("C", "sports", 0.4, 0.5, True),
    ]
    s = score(fs)
    assert s.count == 3
    assert s.brier == pytest.approx((0.01 + 0.04 + 0.36) / 3)
    assert s.market_brier == pytest.approx((0.16 + 0.25 + 0.25) / 3)
    assert s.brier_skill > 0
    by_cat = score_by_category(fs)
    assert set(by_cat) == {"econ", "sports"} and by_cat["econ"].count == 2


@settings(max_examples=60)
@given(st.lists(st.tuples(st.floats(0, 1), st.booleans()), min_size=1, max_size=50))
def test_scores_are_bounded_and_calibration_counts_everything(
    rows: list[tuple[float, bool]],
) -> None:
    probs = [p for p, _ in rows]
    outs = [o for _, o in rows]
    assert 0.0 <= brier_score(probs, outs) <= 1.0
    assert 0.0 <= log_loss(probs, outs) <= -math.log(1e-6) + 1e-9
    assert sum(b.count for b in calibration_table(probs, outs)) == len(rows)


@settings(max_examples=60)
@given(st.lists(st.integers(1, 10_000), min_size=2, max_size=40))
def test_drawdown_is_between_zero_and_one(values: list[int]) -> None:
    dd = max_drawdown([(T0 + timedelta(days=i), Decimal(v)) for i, v in enumerate(values)])
    assert 0.0 <= dd.depth < 1.0
    peak = values[0]
    worst = 0.0
    for v in values:
        peak = max(peak, v)
        worst = max(worst, (peak - v) / peak)
    assert dd.depth == pytest.approx(worst)


def test_probability_out_of_range_is_an_error() -> None:
    with pytest.raises(ValueError):
        brier_score([1.2], [True])
