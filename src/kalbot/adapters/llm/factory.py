"""Build the client a provider name calls for, from the AI settings (no name hard-coded)."""

from __future__ import annotations

from typing import TypedDict

from kalbot.adapters.llm.anthropic_messages import AnthropicClient
from kalbot.adapters.llm.openai_chat import OpenAIChatClient
from kalbot.config import AISettings
from kalbot.ports import CompletionClient

PROVIDERS = ("openai", "anthropic", "xai", "openai-compatible")


class ProviderConfigError(ValueError):
    """A provider that cannot be built from the settings (unknown, no model, no URL, no key)."""


def _key(ai: AISettings, provider: str) -> str:
    specific = {
        "openai": ai.openai_api_key,
        "anthropic": ai.anthropic_api_key,
        "xai": ai.xai_api_key,
    }.get(provider)
    secret = specific or ai.api_key
    return secret.get_secret_value() if secret is not None else ""


class _Common(TypedDict):
    """The arguments every provider's client takes alike."""

    model: str
    api_key: str
    base_url: str
    temperature: float
    max_tokens: int
    timeout_seconds: float
    max_retries: int


def build_client(ai: AISettings, provider: str, *, primary: bool = True) -> CompletionClient:
    """The client for ``provider``. ``ai.model``/``ai.base_url`` apply to the primary one."""
    if provider not in PROVIDERS:
        raise ProviderConfigError(f"unknown AI provider {provider!r}; one of {PROVIDERS}")
    model = (ai.model if primary and ai.model else None) or ai.models.get(provider, "")
    base_url = (ai.base_url if primary and ai.base_url else None) or ai.base_urls.get(provider, "")
    if not model:
        raise ProviderConfigError(f"{provider}: no model (set ai.model or ai.models.{provider})")
    if not base_url:
        raise ProviderConfigError(f"{provider}: no base URL (set ai.base_url)")
    key = _key(ai, provider)
    if not key and provider != "openai-compatible":
        raise ProviderConfigError(f"{provider}: no API key configured")
    common = _Common(
        model=model,
        api_key=key,
        base_url=base_url,
        temperature=ai.temperature,
        max_tokens=ai.max_tokens,
        timeout_seconds=ai.timeout_seconds,
        max_retries=ai.max_retries,
    )
    if provider == "anthropic":
        return AnthropicClient(**common)
    return OpenAIChatClient(
        provider=provider,
        **common,
        # OpenAI and xAI enforce the JSON Schema; other servers vary, so it is a setting.
        response_format=(
            ai.compatible_response_format if provider == "openai-compatible" else "json_schema"
        ),
        # OpenAI's newer models accept only max_completion_tokens; others know max_tokens.
        max_tokens_field="max_completion_tokens" if provider == "openai" else "max_tokens",
    )
