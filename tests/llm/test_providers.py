"""Each provider through its real SDK against a local server speaking its wire format."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Literal

import pytest

from analysis.helpers import NOW, D, context, market, reply
from kalbot.adapters.llm.anthropic_messages import AnthropicClient
from kalbot.adapters.llm.factory import ProviderConfigError, build_client
from kalbot.adapters.llm.openai_chat import OpenAIChatClient, ResponseFormat
from kalbot.analysis.budget import BudgetGuard
from kalbot.analysis.costs import CostTable, TokenPrice
from kalbot.analysis.memory import InMemoryAIStore
from kalbot.analysis.prompt import REPLY_SCHEMA, build_request
from kalbot.analysis.service import AnalystConfig, LLMAnalyst
from kalbot.config import AISettings
from kalbot.domain.ai import (
    LLMRateLimited,
    LLMRejected,
    LLMServerError,
    LLMTimeout,
    LLMUnreachable,
)
from kalbot.domain.clock import ManualClock
from kalbot.domain.decisions import Decision
from kalbot.ports import CompletionClient
from llm.server import (
    Reply,
    ScriptedServer,
    anthropic_error,
    anthropic_message,
    chat_completion,
    openai_error,
    scripted_server,
)

COSTS = CostTable(
    {
        "gpt-test": TokenPrice(D("2.50"), D("10.00")),
        "grok-test": TokenPrice(D("3.00"), D("15.00")),
        "claude-test": TokenPrice(D("3.00"), D("15.00")),
        "local-test": TokenPrice(D("0"), D("0")),
    },
    as_of="2026-11-01",
)


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with scripted_server() as s:
        yield s


def openai_like(
    server: ScriptedServer,
    provider: str,
    model: str,
    *,
    timeout_seconds: float = 5.0,
    response_format: ResponseFormat = "json_schema",
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = "max_tokens",
) -> OpenAIChatClient:
    return OpenAIChatClient(
        provider=provider,
        model=model,
        api_key="sk-test-key",
        base_url=f"{server.url}/v1",
        temperature=0.1,
        max_tokens=321,
        timeout_seconds=timeout_seconds,
        response_format=response_format,
        max_tokens_field=max_tokens_field,
    )


def anthropic(server: ScriptedServer, timeout: float = 5.0) -> AnthropicClient:
    return AnthropicClient(
        model="claude-test",
        api_key="ak-test-key",
        base_url=server.url,
        temperature=0.1,
        max_tokens=321,
        timeout_seconds=timeout,
    )


def analyst(client: CompletionClient) -> tuple[LLMAnalyst, InMemoryAIStore]:
    store, clock = InMemoryAIStore(), ManualClock(NOW)
    guard = BudgetGuard(store, clock, lambda: Decimal(10))
    return LLMAnalyst(client, COSTS, guard, store, clock, AnalystConfig()), store


# -- OpenAI ---------------------------------------------------------------------------------


async def test_openai_request_carries_the_schema_and_the_reply_becomes_a_costed_analysis(
    server: ScriptedServer,
) -> None:
    server.push(Reply(200, chat_completion(reply("0.62"), model="gpt-test-2026-01-01")))
    client = openai_like(server, "openai", "gpt-test", max_tokens_field="max_completion_tokens")
    a, store = analyst(client)
    result = await a.analyze(context(market("0.40", "0.42")))
    seen = server.seen[0]
    assert seen.path == "/v1/chat/completions"
    assert seen.headers["authorization"] == "Bearer sk-test-key"
    assert seen.body["model"] == "gpt-test" and seen.body["temperature"] == 0.1
    assert seen.body["max_completion_tokens"] == 321 and "max_tokens" not in seen.body
    assert [m["role"] for m in seen.body["messages"]] == ["system", "user"]
    assert "0.42" not in seen.body["messages"][1]["content"]  # no price in the prompt
    fmt = seen.body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    assert fmt["json_schema"]["schema"] == REPLY_SCHEMA
    assert result.decision is Decision.OPEN_YES and result.probability_yes == D("0.62")
    assert (result.input_tokens, result.output_tokens) == (321, 45)
    # 321 * 2.50/1e6 + 45 * 10/1e6, priced by the dated name's prefix
    assert result.cost == D("0.0012525") and result.model == "gpt-test-2026-01-01"
    assert result.metadata["response_id"] == "chatcmpl-test123"
    assert store.costs[(NOW.date(), "openai")] == (D("0.0012525"), 1)


async def test_openai_refusal_is_a_billed_skip(server: ScriptedServer) -> None:
    server.push(Reply(200, chat_completion(None, refusal="I can't help with that.")))
    a, _ = analyst(openai_like(server, "openai", "gpt-test"))
    result = await a.analyze(context())
    assert result.decision is Decision.SKIP and result.error == "llm_refusal"
    assert result.cost == D("0.0012525")


async def test_openai_truncated_reply_is_a_skip(server: ScriptedServer) -> None:
    cut = chat_completion('{"probability_yes": 0.6, "conf', finish_reason="length")
    server.push(Reply(200, cut))
    a, store = analyst(openai_like(server, "openai", "gpt-test"))
    result = await a.analyze(context())
    assert result.decision is Decision.SKIP and result.error == "reply_invalid_json"
    assert len(store.rows) == 1


@pytest.mark.parametrize(
    ("reply_", "error"),
    [
        (Reply(429, openai_error("Rate limit reached", "requests")), LLMRateLimited),
        (Reply(500, openai_error("boom", "server_error")), LLMServerError),
        (Reply(503, openai_error("overloaded", "server_error")), LLMServerError),
        (Reply(401, openai_error("bad key", "invalid_request_error")), LLMRejected),
        (Reply(400, openai_error("unknown model", "invalid_request_error")), LLMRejected),
        (Reply(200, chat_completion(reply()), delay=1.0), LLMTimeout),
    ],
)
async def test_openai_errors_map_to_domain_errors(
    server: ScriptedServer, reply_: Reply, error: type[Exception]
) -> None:
    server.push(reply_)
    client = openai_like(server, "openai", "gpt-test", timeout_seconds=0.3)
    with pytest.raises(error):
        await client.complete(build_request(context()))
    assert len(server.seen) == 1  # max_retries=0: one billed attempt at most


async def test_an_unreachable_endpoint_is_a_skip_not_a_crash() -> None:
    with scripted_server() as s:
        url = s.url
    client = OpenAIChatClient(
        provider="openai", model="gpt-test", api_key="k", base_url=f"{url}/v1", timeout_seconds=2
    )
    with pytest.raises(LLMUnreachable):
        await client.complete(build_request(context()))
    a, _ = analyst(client)
    assert (await a.analyze(context())).error == "llm_unreachable"


# -- xAI and other OpenAI-compatible servers -------------------------------------------------


async def test_xai_speaks_chat_completions_with_max_tokens(server: ScriptedServer) -> None:
    server.push(Reply(200, chat_completion(reply("0.30"), model="grok-test")))
    a, store = analyst(openai_like(server, "xai", "grok-test"))
    result = await a.analyze(context(market("0.40", "0.42")))
    body = server.seen[0].body
    assert body["max_tokens"] == 321 and body["response_format"]["type"] == "json_schema"
    assert result.provider == "xai" and result.decision is Decision.OPEN_NO
    assert result.cost == D("0.001638")  # 321 * 3/1e6 + 45 * 15/1e6
    assert (NOW.date(), "xai") in store.costs


@pytest.mark.parametrize("fmt", ["json_object", "none"])
async def test_a_compatible_server_gets_the_response_format_it_supports(
    server: ScriptedServer, fmt: ResponseFormat
) -> None:
    fenced = "```json\n" + reply("0.5") + "\n```"
    server.push(Reply(200, chat_completion(fenced, model="local-test")))
    client = openai_like(server, "openai-compatible", "local-test", response_format=fmt)
    a, _ = analyst(client)
    result = await a.analyze(context())
    body = server.seen[0].body
    if fmt == "none":
        assert "response_format" not in body
    else:
        assert body["response_format"] == {"type": "json_object"}
    assert result.probability_yes == D("0.5") and result.cost == 0


# -- Anthropic ------------------------------------------------------------------------------


async def test_anthropic_request_shape_and_costed_reply(server: ScriptedServer) -> None:
    server.push(Reply(200, anthropic_message(reply("0.55"))))
    a, store = analyst(anthropic(server))
    result = await a.analyze(context(market("0.40", "0.42")))
    seen = server.seen[0]
    assert seen.path == "/v1/messages"
    assert seen.headers["x-api-key"] == "ak-test-key" and "anthropic-version" in seen.headers
    assert seen.body["model"] == "claude-test" and seen.body["max_tokens"] == 321
    assert "JSON object" in seen.body["system"]
    assert seen.body["messages"][0]["role"] == "user"
    assert result.probability_yes == D("0.55") and result.decision is Decision.OPEN_YES
    assert result.cost == D("0.0021")  # 400 * 3/1e6 + 60 * 15/1e6
    assert store.costs[(NOW.date(), "anthropic")] == (D("0.0021"), 1)


async def test_anthropic_refusal_is_a_billed_skip(server: ScriptedServer) -> None:
    server.push(Reply(200, anthropic_message("", stop_reason="refusal")))
    a, _ = analyst(anthropic(server))
    result = await a.analyze(context())
    assert result.error == "llm_refusal" and result.cost == D("0.0021")


@pytest.mark.parametrize(
    ("reply_", "error"),
    [
        (Reply(429, anthropic_error("slow down", "rate_limit_error")), LLMRateLimited),
        (Reply(500, anthropic_error("boom", "api_error")), LLMServerError),
        (Reply(529, anthropic_error("overloaded", "overloaded_error")), LLMServerError),
        (Reply(401, anthropic_error("bad key", "authentication_error")), LLMRejected),
        (Reply(200, anthropic_message(reply()), delay=1.0), LLMTimeout),
    ],
)
async def test_anthropic_errors_map_to_domain_errors(
    server: ScriptedServer, reply_: Reply, error: type[Exception]
) -> None:
    server.push(reply_)
    with pytest.raises(error):
        await anthropic(server, timeout=0.3).complete(build_request(context()))


async def test_anthropic_prose_instead_of_json_is_a_skip(server: ScriptedServer) -> None:
    server.push(Reply(200, anthropic_message("I think YES is likely, around 70%.")))
    a, _ = analyst(anthropic(server))
    result = await a.analyze(context())
    assert result.decision is Decision.SKIP and result.error == "reply_invalid_json"
    assert result.metadata["error_detail"].startswith("Expecting value")


# -- the factory ----------------------------------------------------------------------------


def test_the_factory_builds_each_provider_from_settings() -> None:
    ai = AISettings(
        provider="xai",
        xai_api_key="x",
        openai_api_key="o",
        anthropic_api_key="a",
        model="grok-special",
        base_url="http://127.0.0.1:9/v1",
    )
    xai = build_client(ai, "xai")
    assert (xai.provider, xai.model) == ("xai", "grok-special")
    oa = build_client(ai, "openai", primary=False)
    assert oa.model == ai.models["openai"]
    assert build_client(ai, "anthropic", primary=False).provider == "anthropic"
    local = AISettings(provider="openai-compatible", model="llama", base_url="http://127.0.0.1:9")
    assert build_client(local, "openai-compatible").provider == "openai-compatible"


def test_the_factory_refuses_unknown_providers_and_missing_keys() -> None:
    with pytest.raises(ProviderConfigError, match="unknown"):
        build_client(AISettings(), "gemini")
    with pytest.raises(ProviderConfigError, match="no API key"):
        build_client(AISettings(), "openai")
    with pytest.raises(ProviderConfigError, match="no model"):
        build_client(AISettings(), "openai-compatible")


# -- what every client shares -----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
async def test_each_client_reports_its_identity_and_closes(
    server: ScriptedServer, kind: str
) -> None:
    client = openai_like(server, "xai", "grok-test") if kind == "openai" else anthropic(server)
    expected = ("xai", "grok-test") if kind == "openai" else ("anthropic", "claude-test")
    assert (client.provider, client.model, client.max_output_tokens) == (*expected, 321)
    await client.aclose()


def test_each_client_refuses_an_empty_model_naming_its_provider() -> None:
    with pytest.raises(ValueError, match=r"^xai: no model configured$"):
        OpenAIChatClient(provider="xai", model="", api_key="k", base_url="http://127.0.0.1:9")
    with pytest.raises(ValueError, match=r"^anthropic: no model configured$"):
        AnthropicClient(model="", api_key="k", base_url="http://127.0.0.1:9")
