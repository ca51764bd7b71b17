"""Environments resolve as documented; token buckets pace requests by their budgets."""

from __future__ import annotations

from pathlib import Path

import pytest

from kalbot.adapters.kalshi.client import KalshiClient
from kalbot.adapters.kalshi.environments import DEMO, PRODUCTION, Environment, resolve, ws_url_for
from kalbot.adapters.kalshi.ratelimit import RateLimiter, TokenBucket
from kalbot.config import KalshiSettings


def test_demo_is_the_default_and_production_must_be_named() -> None:
    assert resolve() is DEMO
    assert resolve("production") is PRODUCTION
    assert PRODUCTION.rest_url == "https://external-api.kalshi.com/trade-api/v2"
    with pytest.raises(ValueError, match="unknown Kalshi environment"):
        resolve("prod")


def test_custom_base_url_derives_the_websocket_url() -> None:
    e = resolve(base_url="http://127.0.0.1:8765/trade-api/v2/")
    assert e.environment is Environment.CUSTOM
    assert e.rest_url == "http://127.0.0.1:8765/trade-api/v2"
    assert e.ws_url == "ws://127.0.0.1:8765/trade-api/ws/v2"
    assert e.rest_path_prefix == "/trade-api/v2"
    assert ws_url_for("https://h.test/trade-api/v2") == "wss://h.test/trade-api/ws/v2"
    with pytest.raises(ValueError):
        resolve(base_url="127.0.0.1:8765")


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_bucket_allows_a_burst_then_paces_at_the_refill_rate() -> None:
    t = FakeTime()
    bucket = TokenBucket(100, 100, clock=t.clock, sleep=t.sleep)  # basic write: 10 req/s
    for _ in range(10):
        await bucket.acquire(10)
    assert t.slept == []
    await bucket.acquire(10)
    assert t.slept == [pytest.approx(0.1)]
    for _ in range(9):
        await bucket.acquire(10)
    assert t.now == pytest.approx(1.0)  # 20 requests in 1 s = capacity + rate*1s


async def test_cancels_cost_less_and_an_oversized_request_is_refused() -> None:
    t = FakeTime()
    bucket = TokenBucket(100, 100, clock=t.clock, sleep=t.sleep)
    for _ in range(50):
        await bucket.acquire(2)
    assert t.slept == []
    with pytest.raises(ValueError, match="can never fit"):
        await bucket.acquire(101)


def test_tiers_are_configurable() -> None:
    basic = RateLimiter.for_tier("basic")
    assert (basic.read.rate, basic.read.capacity) == (200, 400)
    assert (basic.write.rate, basic.write.capacity) == (100, 100)
    prestige = RateLimiter.for_tier("Prestige")
    assert (prestige.read.rate, prestige.write.rate) == (10000, 8000)
    with pytest.raises(ValueError, match="unknown Kalshi tier"):
        RateLimiter.for_tier("gold")


async def test_client_from_settings_uses_environment_key_and_tier(pem_file: Path) -> None:
    plain = KalshiClient.from_settings(KalshiSettings())
    assert plain.endpoints is DEMO and plain.signer is None
    assert (plain.limiter.read.rate, plain.limiter.write.rate) == (200, 100)
    await plain.aclose()
    s = KalshiSettings(
        environment="production",
        api_key_id="kid",
        private_key_path=pem_file,
        rate_limit_tier="premier",
        max_retries=1,
    )
    client = KalshiClient.from_settings(s)
    assert client.endpoints is PRODUCTION and client.max_retries == 1
    assert client.signer is not None and client.signer.key_id == "kid"
    assert (client.limiter.read.rate, client.limiter.write.rate) == (1000, 1000)
    assert "kid" not in repr(client) and repr(client).endswith("signed=True)")
    await client.aclose()
    sim = KalshiClient.from_settings(KalshiSettings(base_url="http://127.0.0.1:9/trade-api/v2"))
    assert sim.endpoints.ws_url == "ws://127.0.0.1:9/trade-api/ws/v2"
    await sim.aclose()
