"""Injected faults and rate limits over real HTTP, and the recovery they are there to test."""

from __future__ import annotations

import time

import httpx
import pytest

from kalbot.adapters.simulated.server.app import ServerOptions
from kalbot.adapters.simulated.server.faults import FaultConfig
from kalbot.adapters.simulated.server.ratelimit import RateLimiter

from .conformance import Conformance
from .conftest import Sim


@pytest.mark.parametrize("fault_config", [FaultConfig(drop_after_accept_rate=1.0, seed=3)])
async def test_dropped_answer_after_accept_then_retry_gets_409_and_one_order(sim: Sim) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        await sim.order(side="bid", price="0.30", count="2", client_order_id="cid-1")
    # The order exists although the client never saw the answer.
    # Only accepted creates are cut off; the retry's 409 comes through.
    retry = await sim.order(side="bid", price="0.30", count="2", client_order_id="cid-1")
    assert retry.status_code == 409
    orders = (await sim.get("/portfolio/orders", ticker="KXTEST-26JUN01-A")).json()["orders"]
    assert [o["client_order_id"] for o in orders] == ["cid-1"]
    assert orders[0]["remaining_count_fp"] == "2.00"


@pytest.mark.parametrize("fault_config", [FaultConfig(error_rate=1.0, seed=3)])
async def test_injected_5xx_happens_before_anything_is_done(sim: Sim) -> None:
    r = await sim.order(side="bid", price="0.30", count="2", client_order_id="e-1")
    assert r.status_code in {500, 503}
    assert r.json()["error"]["code"] == "internal_server_error"
    assert sim.exchange.orders("trader") == []


@pytest.mark.parametrize("fault_config", [FaultConfig(malformed_rate=1.0, seed=3)])
async def test_malformed_body_is_not_json(sim: Sim) -> None:
    r = await sim.get("/markets")
    assert r.status_code == 200
    with pytest.raises(ValueError):
        r.json()


@pytest.mark.parametrize("fault_config", [FaultConfig(latency_ms=200, seed=3)])
async def test_latency_delays_every_answer(sim: Sim) -> None:
    t0 = time.perf_counter()
    await sim.get("/exchange/status")
    assert time.perf_counter() - t0 >= 0.1  # at least latency_ms / 2


@pytest.fixture
def sim_options(conformance: Conformance) -> ServerOptions:
    # Basic tier: 10 order creates in a burst, then 429.
    return ServerOptions(
        rate_limiter=RateLimiter("basic"), tap=conformance.record, ws_tap=conformance.record_ws
    )


async def test_rate_limit_answers_429_once_the_write_bucket_is_empty(sim: Sim) -> None:
    import asyncio

    rs = await asyncio.gather(
        *(sim.order(side="bid", price="0.20", count="1", client_order_id=f"rl-{i}")
          for i in range(30))
    )  # fmt: skip
    codes = [r.status_code for r in rs]
    assert 10 <= codes.count(201) < 30 and codes.count(429) == 30 - codes.count(201)
    limited = next(r for r in rs if r.status_code == 429)
    assert limited.json() == {"error": "too many requests"}
    # Reads draw from their own bucket and still pass.
    assert (await sim.get("/portfolio/balance")).status_code == 200


async def test_a_batch_bigger_than_the_bucket_is_refused_whole(sim: Sim) -> None:
    order = {
        "ticker": "KXTEST-26JUN01-A",
        "side": "bid",
        "count": "1",
        "price": "0.20",
        "time_in_force": "good_till_canceled",
        "self_trade_prevention_type": "taker_at_cross",
    }
    r = await sim.request("POST", "/portfolio/events/orders/batched", json={"orders": [order] * 11})
    assert r.status_code == 429
    assert sim.exchange.orders("trader") == []
