"""OpenAI chat completions through the official ``openai`` SDK: OpenAI, xAI and compatibles.

xAI's API is OpenAI-compatible (``https://api.x.ai/v1``, ``grok-*`` models), and so are local
model servers and gateways; they differ only in base URL, key, and how much of the structured
output feature they support (``response_format``).
"""

from __future__ import annotations

import time
from typing import Any, Literal

import openai

from kalbot.adapters.llm.base import SdkCompletionClient
from kalbot.adapters.llm.errors import translate
from kalbot.domain.ai import Completion, CompletionRequest, LLMError, LLMRefusal

ResponseFormat = Literal["json_schema", "json_object", "none"]


class OpenAIChatClient(SdkCompletionClient[openai.AsyncOpenAI]):
    """A ``kalbot.ports.CompletionClient`` over ``POST {base_url}/chat/completions``."""

    def __init__(
        self,
        *,
        provider: str,
        model: str,
        api_key: str,
        base_url: str,
        temperature: float = 0.2,
        max_tokens: int = 600,
        timeout_seconds: float = 30.0,
        max_retries: int = 0,
        response_format: ResponseFormat = "json_schema",
        max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = "max_tokens",
    ) -> None:
        super().__init__(
            sdk_class=openai.AsyncOpenAI,
            provider=provider,
            model=model,
            api_key=api_key,
            base_url=base_url,
            temperature=temperature,
            max_tokens=max_tokens,
            timeout_seconds=timeout_seconds,
            max_retries=max_retries,
        )
        self._response_format = response_format
        self._max_tokens_field = max_tokens_field

    def _format(self, request: CompletionRequest) -> dict[str, Any] | None:
        if self._response_format == "json_schema":
            return {
                "type": "json_schema",
                "json_schema": {
                    "name": request.schema_name,
                    "schema": request.json_schema,
                    "strict": True,
                },
            }
        if self._response_format == "json_object":
            return {"type": "json_object"}
        return None

    async def complete(self, request: CompletionRequest) -> Completion:
        kwargs: dict[str, Any] = {
            "model": self._model,
            "messages": [
                {"role": "system", "content": request.system},
                {"role": "user", "content": request.user},
            ],
            "temperature": self._temperature,
            self._max_tokens_field: self._max_tokens,
        }
        fmt = self._format(request)
        if fmt is not None:
            kwargs["response_format"] = fmt
        started = time.perf_counter()
        try:
            reply = await self._sdk.chat.completions.create(**kwargs)
        except openai.OpenAIError as e:
            raise translate(e, openai, self._model) from e
        latency = int((time.perf_counter() - started) * 1000)
        usage = reply.usage
        input_tokens = usage.prompt_tokens if usage else 0
        output_tokens = usage.completion_tokens if usage else 0
        model = reply.model or self._model
        if not reply.choices:
            raise LLMError(
                "reply has no choices",
                model=model,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
            )
        choice = reply.choices[0]
        refusal = getattr(choice.message, "refusal", None)
        if refusal or choice.finish_reason == "content_filter":
            raise LLMRefusal(
                f"model refused: {refusal or choice.finish_reason}",
                model=model,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
            )
        return Completion(
            text=choice.message.content or "",
            model=model,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            latency_ms=latency,
            finish_reason=choice.finish_reason or "",
            response_id=reply.id or "",
        )
