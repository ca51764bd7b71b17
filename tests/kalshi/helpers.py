"""Helpers for the Kalshi adapter tests (fixtures are read from the shared folder, never copied)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from kalbot.adapters.kalshi.client import KalshiClient
from kalbot.adapters.kalshi.ratelimit import RateLimiter
from kalbot.adapters.kalshi.signing import Signer


def shared_dir() -> Path:
    """CI lays ``shared/`` beside the checkout; fall back to /work/shared."""
    beside = Path(__file__).resolve().parents[2].parent / "shared"
    return beside if (beside / "kalshi").is_dir() else Path("/work/shared")


FIXTURES = shared_dir() / "kalshi" / "fixtures"
BASE = "https://kalshi.test/trade-api/v2"


def load_fixture(relative: str) -> Any:
    return json.loads((FIXTURES / relative).read_bytes())


class Sleeps:
    """A fake ``sleep`` that records the delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def make_client(
    handler: Callable[[httpx.Request], httpx.Response],
    *,
    signer: Signer | None = None,
    sleeps: Sleeps | None = None,
    max_retries: int = 4,
) -> KalshiClient:
    return KalshiClient(
        BASE,
        signer=signer,
        transport=httpx.MockTransport(handler),
        limiter=RateLimiter.unlimited(),
        sleep=sleeps or Sleeps(),
        rng=lambda: 0.5,
        max_retries=max_retries,
    )


def market_json(ticker: str = "KXFED-26JUN-T5.25", **over: Any) -> dict[str, Any]:
    """A current-format market object as ``GET /markets`` returns it."""
    base: dict[str, Any] = {
        "ticker": ticker,
        "event_ticker": ticker.rsplit("-", 1)[0],
        "market_type": "binary",
        "title": "Fed rate above 5.25%?",
        "yes_sub_title": "Above 5.25%",
        "no_sub_title": "Above 5.25%",
        "status": "active",
        "open_time": "2026-06-01T14:00:00Z",
        "close_time": "2026-12-17T19:00:00Z",
        "latest_expiration_time": "2026-12-18T19:00:00Z",
        "yes_bid_dollars": "0.4200",
        "yes_bid_size_fp": "150.00",
        "yes_ask_dollars": "0.4400",
        "yes_ask_size_fp": "80.00",
        "no_bid_dollars": "0.5600",
        "no_ask_dollars": "0.5800",
        "last_price_dollars": "0.4300",
        "volume_fp": "12000.00",
        "volume_24h_fp": "640.00",
        "open_interest_fp": "5100.00",
        "result": "",
        "strike_type": "greater",
        "floor_strike": 5.25,
        "rules_primary": "Resolves YES if ...",
        "rules_secondary": "",
        "price_level_structure": "linear_cent",
        "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}],
    }
    base.update(over)
    return base
