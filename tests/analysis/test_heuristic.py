from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import pytest

from analysis.helpers import NOW, D, market
from kalbot.analysis.fitting import NotEnoughData, Sample, fit
from kalbot.analysis.heuristic import (
    HeuristicParams,
    NoMidPrice,
    estimate,
    load_params,
    logit,
    save_params,
)

TRUE = HeuristicParams(a=0.15, b=1.35, c=-0.12)


def synthetic_history(n_markets: int, seed: int, per_market: int = 1) -> list[Sample]:
    """Markets whose outcomes are drawn from TRUE applied to their quoted mids."""
    rng = random.Random(seed)
    out: list[Sample] = []
    for i in range(n_markets):
        mid = rng.uniform(0.03, 0.97)
        hours = rng.uniform(1, 24 * 30)
        outcome = int(rng.random() < TRUE.probability(mid, hours))
        for k in range(per_market):
            # Later snapshots of the same market, at the same mid: weights keep it one vote.
            out.append(Sample(f"M{i}", mid, hours / (k + 1), outcome))
    return out


def test_the_fit_recovers_the_bias_the_history_was_generated_with() -> None:
    params = fit(synthetic_history(6000, seed=11), fitted_at="2026-11-25T00:00:00Z")
    assert params.a == pytest.approx(TRUE.a, abs=0.12)
    assert params.b == pytest.approx(TRUE.b, abs=0.12)
    assert params.c == pytest.approx(TRUE.c, abs=0.08)
    assert params.n_markets == 6000
    assert params.log_loss is not None and params.baseline_log_loss is not None
    assert params.log_loss < params.baseline_log_loss  # beats the raw mid


def test_an_unbiased_history_fits_back_to_the_identity() -> None:
    rng = random.Random(5)
    samples = []
    for i in range(6000):
        mid = rng.uniform(0.03, 0.97)
        samples.append(Sample(f"M{i}", mid, rng.uniform(1, 500), int(rng.random() < mid)))
    params = fit(samples)
    assert params.a == pytest.approx(0, abs=0.1)
    assert params.b == pytest.approx(1, abs=0.1)
    assert params.c == pytest.approx(0, abs=0.08)


def test_markets_with_many_snapshots_do_not_outvote_the_rest() -> None:
    params = fit(synthetic_history(3000, seed=3, per_market=4))
    assert params.n_markets == 3000 and params.n_samples == 12000
    assert params.b == pytest.approx(TRUE.b, abs=0.2)


def test_too_few_markets_is_an_error_not_a_model() -> None:
    with pytest.raises(NotEnoughData):
        fit(synthetic_history(5, seed=1))


def test_the_prior_returns_the_mid_and_a_longshot_is_shaded_by_the_fitted_bias() -> None:
    m = market("0.09", "0.11")
    assert estimate(HeuristicParams(), m, NOW) == D("0.1")
    assert estimate(TRUE, m, NOW) < D("0.1")  # b > 1: longshots win less than priced
    assert estimate(TRUE, market("0.89", "0.91"), NOW) > D("0.9")


def test_time_to_close_changes_the_estimate_through_c() -> None:
    near = estimate(TRUE, market("0.20", "0.22", close_in=timedelta(hours=1)), NOW)
    far = estimate(TRUE, market("0.20", "0.22", close_in=timedelta(days=30)), NOW)
    assert near != far


def test_no_two_sided_quote_is_an_error_never_a_default_price() -> None:
    with pytest.raises(NoMidPrice):
        estimate(TRUE, market("0.40", None), NOW)


def test_parameters_round_trip_through_the_json_file(tmp_path: Path) -> None:
    path = tmp_path / "data" / "analyst_model.json"
    assert load_params(path) == HeuristicParams()
    save_params(TRUE, path)
    assert load_params(path) == TRUE
    path.write_text('{"a": "x", "b": 1, "c": 0}')
    with pytest.raises(ValueError):
        load_params(path)
    assert logit(0.5) == 0
