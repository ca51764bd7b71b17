from __future__ import annotations

from analysis.helpers import context, market
from kalbot.analysis.prompt import PROMPT_VERSION, REPLY_SCHEMA, build_request
from kalbot.domain.prices import Side


def test_the_prompt_hides_the_market_price_by_default() -> None:
    req = build_request(context(market("0.37", "0.41")))
    assert "0.37" not in req.user and "0.41" not in req.user
    assert "Will the test pass?" in req.user and "Resolves YES if" in req.user
    assert "Time to close: 48.0 hours" in req.user
    assert req.json_schema is REPLY_SCHEMA


def test_the_prompt_shows_the_price_only_when_asked() -> None:
    req = build_request(context(market("0.37", "0.41")), show_market_price=True)
    assert "YES bid: 0.37" in req.user and "YES ask: 0.41" in req.user


def test_a_held_position_is_described_without_its_price_by_default() -> None:
    req = build_request(context(held=Side.NO))
    assert "10 NO contracts" in req.user and "0.30" not in req.user


def test_the_template_is_versioned() -> None:
    assert PROMPT_VERSION.startswith("analyst-prompt-v")
