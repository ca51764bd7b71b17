"""Dollar cost of a model call from its token usage and a per-model price table.

``worst_case`` is what the budget reserves before a call: an upper bound on the input tokens
(no tokenizer produces more tokens than UTF-8 bytes, plus a margin for the chat framing) and
the full ``max_tokens`` of output.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from kalbot.domain.ai import CompletionRequest

MILLION = Decimal(1_000_000)
# Role markers and message framing the providers add around the text.
FRAMING_TOKENS = 64


class UnknownModelPrice(LookupError):
    """No price for a model: a paid call that cannot be costed is not made."""

    code = "ai_price_unknown"


@dataclass(frozen=True, slots=True)
class TokenPrice:
    input_per_mtok: Decimal
    output_per_mtok: Decimal


@dataclass(frozen=True, slots=True)
class CostTable:
    """Prices per model in dollars per million tokens, as of ``as_of`` (a date string)."""

    prices: Mapping[str, TokenPrice]
    as_of: str = ""

    def price(self, model: str) -> TokenPrice:
        """Exact name first, else the longest configured prefix (``gpt-4o`` for a dated name)."""
        if model in self.prices:
            return self.prices[model]
        matches = [name for name in self.prices if model.startswith(name)]
        if not matches:
            raise UnknownModelPrice(f"no price configured for model {model!r}")
        return self.prices[max(matches, key=len)]

    def cost(self, model: str, input_tokens: int, output_tokens: int) -> Decimal:
        """Exact dollars for the usage a provider reported."""
        if input_tokens < 0 or output_tokens < 0:
            raise ValueError("token counts cannot be negative")
        p = self.price(model)
        return (input_tokens * p.input_per_mtok + output_tokens * p.output_per_mtok) / MILLION

    def worst_case(self, model: str, request: CompletionRequest, max_output_tokens: int) -> Decimal:
        """The most a call with this request can cost."""
        return self.cost(model, max_input_tokens(request), max_output_tokens)


def max_input_tokens(request: CompletionRequest) -> int:
    text = request.system + request.user + json.dumps(request.json_schema)
    return len(text.encode("utf-8")) + FRAMING_TOKENS
