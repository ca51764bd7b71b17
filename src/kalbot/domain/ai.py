"""The vocabulary between the analyst and a language model: requests, replies, failures.

Adapters in ``kalbot.adapters.llm`` translate their SDK's objects and exceptions into these
once, at the boundary, so the analyst never sees a provider's types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from kalbot.domain.decisions import Analysis


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    """One prompt for one model call. ``json_schema`` is the reply's JSON Schema."""

    system: str
    user: str
    json_schema: dict[str, Any] = field(default_factory=dict)
    schema_name: str = "market_probability"


@dataclass(frozen=True, slots=True)
class Completion:
    """A model's raw reply with the usage the provider reported."""

    text: str
    model: str
    input_tokens: int
    output_tokens: int
    latency_ms: int = 0
    finish_reason: str = ""
    response_id: str = ""


class LLMError(Exception):
    """A model call that produced no usable reply. ``code`` is the recorded reason code.

    Usage is carried when the provider reported it (a refusal is still billed).
    """

    code: ClassVar[str] = "llm_error"
    retryable: ClassVar[bool] = False

    def __init__(
        self, message: str, *, model: str = "", input_tokens: int = 0, output_tokens: int = 0
    ) -> None:
        super().__init__(message)
        self.model = model
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens


class LLMRateLimited(LLMError):
    code = "llm_rate_limited"
    retryable = True


class LLMServerError(LLMError):
    code = "llm_server_error"
    retryable = True


class LLMTimeout(LLMError):
    code = "llm_timeout"
    retryable = True


class LLMUnreachable(LLMError):
    code = "llm_unreachable"
    retryable = True


class LLMRefusal(LLMError):
    code = "llm_refusal"


class LLMRejected(LLMError):
    """The provider refused the request itself (bad key, unknown model, bad parameters)."""

    code = "llm_rejected"


@dataclass(frozen=True, slots=True)
class StoredAnalysis:
    """An analysis read back from ``market_analyses`` (for caching and reports)."""

    analysis: Analysis
    timestamp: datetime
