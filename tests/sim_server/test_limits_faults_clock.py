"""Token buckets, fault dice and the accelerated clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kalbot.adapters.simulated.server.clock import AcceleratedClock
from kalbot.adapters.simulated.server.faults import FaultConfig, FaultInjector
from kalbot.adapters.simulated.server.ratelimit import (
    TIERS,
    Budget,
    RateLimiter,
    TokenBucket,
    classify,
)


class FakeTime:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_basic_tier_allows_a_burst_then_refuses_until_refilled() -> None:
    t = FakeTime()
    lim = RateLimiter("basic", now=t)
    # Basic write: 100 tokens/s, 1 s of burst -> 10 order creates, then 429.
    allowed = sum(lim.allow("a", "POST", "/portfolio/events/orders") for _ in range(15))
    assert allowed == 10
    t.t += 0.1  # 10 tokens back: exactly one more create
    assert lim.allow("a", "POST", "/portfolio/events/orders")
    assert not lim.allow("a", "POST", "/portfolio/events/orders")


def test_cancels_cost_two_tokens_and_reads_use_their_own_bucket() -> None:
    t = FakeTime()
    lim = RateLimiter("basic", now=t)
    path = "/portfolio/events/orders/{order_id}"
    cancels = sum(lim.allow("a", "DELETE", path) for _ in range(60))
    assert cancels == 50
    # The write bucket is empty; reads (400-token bucket) still pass, 40 of them.
    reads = sum(lim.allow("a", "GET", "/markets") for _ in range(50))
    assert reads == 40


def test_accounts_have_separate_buckets() -> None:
    lim = RateLimiter("basic", now=FakeTime())
    for _ in range(10):
        assert lim.allow("a", "POST", "/portfolio/events/orders")
    assert not lim.allow("a", "POST", "/portfolio/events/orders")
    assert lim.allow("b", "POST", "/portfolio/events/orders")


def test_a_batch_is_billed_per_item_and_must_fit_whole() -> None:
    assert classify("POST", "/portfolio/events/orders/batched", 7) == (Budget.WRITE, 70)
    assert classify("DELETE", "/portfolio/events/orders/batched", 7) == (Budget.WRITE, 14)
    lim = RateLimiter("basic", now=FakeTime())
    assert not lim.allow("a", "POST", "/portfolio/events/orders/batched", 11)
    assert lim.allow("a", "POST", "/portfolio/events/orders/batched", 10)


def test_disabled_limiter_allows_everything() -> None:
    lim = RateLimiter("basic", enabled=False, now=FakeTime())
    assert all(lim.allow("a", "POST", "/portfolio/events/orders") for _ in range(1000))


def test_limits_body_reports_the_tier() -> None:
    body = RateLimiter("premier").limits_body()
    assert body["usage_tier"] == "premier"
    assert body["write"] == {"refill_rate": 1000, "bucket_capacity": 2000}
    assert set(TIERS) >= {"basic", "advanced", "prestige"}


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 0.5), st.integers(1, 30)), min_size=1, max_size=60))
def test_bucket_never_exceeds_capacity_nor_goes_negative(steps: list[tuple[float, int]]) -> None:
    t = FakeTime()
    b = TokenBucket(100, 200, t)
    for dt, cost in steps:
        t.t += dt
        before = b.tokens
        took = b.try_take(cost)
        assert took == (cost <= before)
        assert 0 <= b.tokens <= 200


def test_fault_rates_are_validated() -> None:
    with pytest.raises(ValueError, match="error_rate"):
        FaultConfig(error_rate=1.5)
    with pytest.raises(ValueError, match="latency"):
        FaultConfig(latency_ms=-1)


def test_same_seed_same_faults_and_rates_roughly_hold() -> None:
    a = FaultInjector(FaultConfig(error_rate=0.3, seed=7))
    b = FaultInjector(FaultConfig(error_rate=0.3, seed=7))
    seq_a = [a.error_status() for _ in range(1000)]
    assert seq_a == [b.error_status() for _ in range(1000)]
    hits = sum(s is not None for s in seq_a)
    assert 220 < hits < 380
    assert {s for s in seq_a if s is not None} == {500, 503}
    assert a.injected["error"] == hits


def test_no_faults_configured_means_none_injected() -> None:
    f = FaultInjector()
    assert not f.config.any
    assert f.latency_seconds() == 0.0
    assert not any(
        [f.error_status(), f.drop_after_accept(), f.malformed(), f.ws_disconnect(), f.ws_gap()]
    )


def test_accelerated_clock_runs_speed_times_faster_and_jumps() -> None:
    t = FakeTime()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    clock = AcceleratedClock(start, speed=3600, monotonic=t)
    assert clock.now() == start
    t.t = 1.0
    assert clock.now() == start + timedelta(hours=1)
    clock.jump(timedelta(days=1))
    assert clock.now() == start + timedelta(days=1, hours=1)
    with pytest.raises(ValueError):
        clock.jump(timedelta(seconds=-1))
    with pytest.raises(ValueError):
        AcceleratedClock(datetime(2026, 1, 1), speed=2)
    with pytest.raises(ValueError):
        AcceleratedClock(start, speed=0)
