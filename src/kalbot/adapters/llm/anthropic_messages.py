"""Anthropic's Messages API through the official ``anthropic`` SDK."""

from __future__ import annotations

import time

import anthropic

from kalbot.adapters.llm.base import SdkCompletionClient
from kalbot.adapters.llm.errors import translate
from kalbot.domain.ai import Completion, CompletionRequest, LLMRefusal


class AnthropicClient(SdkCompletionClient[anthropic.AsyncAnthropic]):
    """A ``kalbot.ports.CompletionClient`` over ``POST {base_url}/v1/messages``.

    The reply schema is stated in the system prompt (the analyst's parser enforces it).
    """

    def __init__(
        self,
        *,
        model: str,
        api_key: str,
        base_url: str,
        temperature: float = 0.2,
        max_tokens: int = 600,
        timeout_seconds: float = 30.0,
        max_retries: int = 0,
        provider: str = "anthropic",
    ) -> None:
        super().__init__(
            sdk_class=anthropic.AsyncAnthropic,
            provider=provider,
            model=model,
            api_key=api_key,
            base_url=base_url,
            temperature=temperature,
            max_tokens=max_tokens,
            timeout_seconds=timeout_seconds,
            max_retries=max_retries,
        )

    async def complete(self, request: CompletionRequest) -> Completion:
        started = time.perf_counter()
        try:
            reply = await self._sdk.messages.create(
                model=self._model,
                max_tokens=self._max_tokens,
                temperature=self._temperature,
                system=request.system,
                messages=[{"role": "user", "content": request.user}],
            )
        except anthropic.AnthropicError as e:
            raise translate(e, anthropic, self._model) from e
        latency = int((time.perf_counter() - started) * 1000)
        model = reply.model or self._model
        input_tokens = reply.usage.input_tokens
        output_tokens = reply.usage.output_tokens
        if reply.stop_reason == "refusal":
            raise LLMRefusal(
                "model refused",
                model=model,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
            )
        text = "".join(block.text for block in reply.content if block.type == "text")
        return Completion(
            text=text,
            model=model,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            latency_ms=latency,
            finish_reason=reply.stop_reason or "",
            response_id=reply.id,
        )
