"""A scripted ``CompletionClient`` for tests and demos: no network, counts its calls."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from kalbot.adapters.llm.base import ClientIdentity
from kalbot.domain.ai import Completion, CompletionRequest, LLMError

Script = str | LLMError | Callable[[CompletionRequest], str]


class FakeCompletionClient(ClientIdentity):
    """Replies from a script (cycled); an ``LLMError`` in the script is raised instead."""

    def __init__(
        self,
        script: Sequence[Script] = (
            '{"probability_yes": 0.5, "confidence": 0.5, "decision": "SKIP", "rationale": "fake"}',
        ),
        *,
        provider: str = "fake",
        model: str = "fake-model",
        max_tokens: int = 600,
        input_tokens: int = 100,
        output_tokens: int = 50,
        delay_seconds: float = 0.0,
    ) -> None:
        if not script:
            raise ValueError("a fake needs at least one scripted reply")
        self._script = list(script)
        super().__init__(provider=provider, model=model, max_tokens=max_tokens)
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens
        self._delay = delay_seconds
        self.calls: list[CompletionRequest] = []

    async def complete(self, request: CompletionRequest) -> Completion:
        item = self._script[len(self.calls) % len(self._script)]
        self.calls.append(request)
        if self._delay:
            await asyncio.sleep(self._delay)
        if isinstance(item, LLMError):
            raise item
        text = item(request) if callable(item) else item
        return Completion(
            text=text,
            model=self._model,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            finish_reason="stop",
        )
