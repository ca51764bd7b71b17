from __future__ import annotations

from decimal import Decimal

import pytest

from kalbot.analysis.memory import InMemoryAIStore
from kalbot.analysis.service import EnsembleAnalyst, HeuristicAnalyst, LLMAnalyst
from kalbot.bootstrap import build_analyst
from kalbot.config import ConfigError, load_settings
from kalbot.domain.clock import SystemClock


def test_the_default_analyst_is_the_free_heuristic() -> None:
    s = load_settings()
    analyst = build_analyst(s, InMemoryAIStore(), SystemClock())
    assert isinstance(analyst, HeuristicAnalyst)


def test_a_provider_override_and_an_ensemble_are_built_from_settings() -> None:
    s = load_settings(
        ai={
            "provider": "openai-compatible",
            "model": "llama-local",
            "base_url": "http://127.0.0.1:9/v1",
            "ensemble": ["heuristic", "openai-compatible"],
            "ensemble_weights": ["1", "2"],
        }
    )
    store = InMemoryAIStore()
    ens = build_analyst(s, store, SystemClock())
    assert isinstance(ens, EnsembleAnalyst) and "llama-local" in ens.model
    one = build_analyst(s, store, SystemClock(), provider="openai-compatible")
    assert isinstance(one, LLMAnalyst) and one.model == "llama-local"


def test_an_unusable_provider_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no API key"):
        build_analyst(load_settings(), InMemoryAIStore(), SystemClock(), provider="anthropic")


def test_the_daily_budget_comes_from_either_variable_the_prefixed_one_winning(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.chdir(str(tmp_path))
    monkeypatch.delenv("KALBOT_AI__DAILY_BUDGET", raising=False)
    monkeypatch.setenv("DAILY_AI_BUDGET", "3.25")
    assert load_settings().ai.daily_budget == Decimal("3.25")
    monkeypatch.setenv("KALBOT_AI__DAILY_BUDGET", "7")
    assert load_settings().ai.daily_budget == Decimal("7")
