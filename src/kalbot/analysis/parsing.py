"""Validate a model's reply against ``REPLY_SCHEMA``; anything else is a ``ReplyError``.

The parser is strict on purpose: a number given as a string, a probability of 1.2, a missing
key or a truncated object is never repaired into a guess, because a guess could become a trade.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kalbot.domain.decisions import Decision

MAX_RATIONALE_CHARS = 2000
_FENCE = re.compile(r"^```(?:json|JSON)?\s*\n?(.*?)\n?```$", re.DOTALL)


class ReplyError(ValueError):
    """A reply that does not validate. ``code`` is the reason code recorded in metadata."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class ParsedReply:
    probability_yes: Decimal
    confidence: Decimal
    decision: Decision
    rationale: str


def _reject_constant(name: str) -> Any:
    raise ReplyError("reply_invalid_json", f"non-finite number {name}")


def _unit_interval(obj: dict[str, Any], key: str) -> Decimal:
    if key not in obj:
        raise ReplyError("reply_missing_field", f"no {key!r}")
    value = obj[key]
    # bool is an int subclass in Python and JSON true must not read as probability 1.
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise ReplyError("reply_bad_type", f"{key!r} is not a number: {value!r}")
    d = Decimal(value)
    if not d.is_finite() or d < 0 or d > 1:
        raise ReplyError("reply_out_of_range", f"{key!r}={value} outside [0, 1]")
    return d


def parse_reply(text: str) -> ParsedReply:
    """Parse one reply. Accepts the object alone or inside one Markdown code fence."""
    if not isinstance(text, str) or not text.strip():
        raise ReplyError("reply_empty", "the model returned no text")
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1).strip()
    try:
        obj = json.loads(body, parse_float=Decimal, parse_constant=_reject_constant)
    except ReplyError:
        raise
    except (ValueError, RecursionError) as e:
        raise ReplyError("reply_invalid_json", str(e)[:200]) from None
    if not isinstance(obj, dict):
        raise ReplyError("reply_not_object", f"top-level {type(obj).__name__}")
    probability = _unit_interval(obj, "probability_yes")
    confidence = _unit_interval(obj, "confidence")
    if "decision" not in obj:
        raise ReplyError("reply_missing_field", "no 'decision'")
    raw_decision = obj["decision"]
    if not isinstance(raw_decision, str) or raw_decision not in Decision.__members__:
        raise ReplyError("reply_bad_decision", f"decision {raw_decision!r} not in the enum")
    if "rationale" not in obj:
        raise ReplyError("reply_missing_field", "no 'rationale'")
    rationale = obj["rationale"]
    if not isinstance(rationale, str):
        raise ReplyError("reply_bad_type", "'rationale' is not a string")
    return ParsedReply(
        probability_yes=probability,
        confidence=confidence,
        decision=Decision(raw_decision),
        rationale=rationale.strip()[:MAX_RATIONALE_CHARS],
    )
