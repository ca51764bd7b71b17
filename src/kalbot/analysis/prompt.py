"""The fixed, versioned prompt template and the reply schema the model must follow.

The market price is left out by default: models shown the price tend to repeat it, which
turns the analyst into an expensive echo of the book. ``show_market_price`` puts it back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kalbot.domain.ai import CompletionRequest
from kalbot.domain.context import MarketContext
from kalbot.domain.decisions import Decision

# Bump on any change to the wording or the fields below: stored in every row's metadata.
PROMPT_VERSION = "analyst-prompt-v1"

REPLY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "probability_yes": {"type": "number", "minimum": 0, "maximum": 1},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "decision": {"type": "string", "enum": [d.value for d in Decision]},
        "rationale": {"type": "string"},
    },
    "required": ["probability_yes", "confidence", "decision", "rationale"],
    "additionalProperties": False,
}

SYSTEM_PROMPT = (
    "You are a careful forecaster for binary prediction markets on Kalshi. For the market "
    "described you estimate the probability that it resolves YES under its rules. Reason from "
    "the facts given and base rates; do not invent facts. Reply with ONE JSON object and nothing "
    "else, with exactly these keys: "
    '"probability_yes" (number in [0, 1]), '
    '"confidence" (number in [0, 1]: how much you trust your own estimate), '
    '"decision" (one of "OPEN_YES", "OPEN_NO", "CLOSE", "SKIP": "SKIP" when the rules are '
    "ambiguous or you cannot form a view; otherwise OPEN_YES if YES is more likely than your "
    "estimate of the crowd's view, OPEN_NO if less, CLOSE if an existing position should go), "
    '"rationale" (at most three sentences).'
)


def _line(label: str, value: object) -> str | None:
    if value is None or value == "":
        return None
    return f"{label}: {value}"


def _hours_between(start: datetime, end: datetime) -> str:
    hours = (end - start).total_seconds() / 3600
    return f"{hours:.1f} hours"


def render_user_prompt(context: MarketContext, *, show_market_price: bool = False) -> str:
    """The market's facts in the fixed template (the version is ``PROMPT_VERSION``)."""
    m = context.market
    q = m.quote
    lines: list[str | None] = [
        _line("Market", m.title),
        _line("Ticker", m.ticker),
        _line("Event", m.event_ticker),
        _line("Category", m.category),
        _line("Subtitle", m.subtitle),
        _line("YES means", m.yes_subtitle),
        _line("NO means", m.no_subtitle),
        _line("Strike type", m.strike_type),
        _line("Floor strike", m.floor_strike),
        _line("Cap strike", m.cap_strike),
        _line("Rules", m.rules_primary),
        _line("Further rules", m.rules_secondary),
        _line("Now (UTC)", context.now.isoformat()),
        _line("Closes (UTC)", m.close_time.isoformat()),
        _line("Time to close", _hours_between(context.now, m.close_time)),
        _line("Contracts traded (total)", m.volume),
        _line("Contracts traded (24h)", m.volume_24h),
        _line("Open interest", m.open_interest),
        _line("Bid-ask spread", q.spread),
    ]
    if show_market_price:
        lines += [
            _line("YES bid", q.yes_bid),
            _line("YES ask", q.yes_ask),
            _line("Last price", m.last_price),
        ]
        if context.history:
            path = ", ".join(
                f"{p.ts.isoformat()}={p.last_price if p.last_price is not None else p.yes_bid}"
                for p in context.history[-12:]
            )
            lines.append(_line("Recent YES prices", path))
    if context.position is not None:
        pos = context.position
        held = f"{pos.quantity} {pos.side.value.upper()} contracts"
        if show_market_price:
            held += f" bought at {pos.entry_price}"
        lines.append(_line("The bot holds", held))
    lines.append(_line("Context / news", context.news.strip()))
    for key in sorted(context.extra):
        lines.append(_line(key, context.extra[key]))
    body = "\n".join(line for line in lines if line is not None)
    return f"{body}\n\nEstimate the probability that this market resolves YES."


def build_request(context: MarketContext, *, show_market_price: bool = False) -> CompletionRequest:
    """The complete request: system prompt, market facts, and the reply's JSON Schema."""
    return CompletionRequest(
        system=SYSTEM_PROMPT,
        user=render_user_prompt(context, show_market_price=show_market_price),
        json_schema=REPLY_SCHEMA,
    )
