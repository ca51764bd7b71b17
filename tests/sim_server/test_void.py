"""A voided market served over HTTP: holders are refunded at cost, in openapi.yaml's shapes.

The spec has no ``void`` result: the market shows ``result ""``, the settlement ``scalar`` with
a null per-contract ``value`` (both validated by the conformance tap, see conftest).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest

from kalbot.domain.market import MarketResult

from .conftest import NO_MKT, YES_MKT, Sim


@pytest.fixture
def results() -> tuple[MarketResult, MarketResult]:
    return (MarketResult.VOID, MarketResult.NO)


async def test_a_voided_market_refunds_holders_at_cost_on_the_servers_clock(sim: Sim) -> None:
    assert (await sim.order(side="bid", price="0.45", count="10")).status_code == 201  # YES
    assert (await sim.order(ticker=NO_MKT, side="ask", price="0.40", count="5")).status_code == 201
    before = Decimal((await sim.get("/portfolio/balance")).json()["balance_dollars"])
    held = (await sim.get("/portfolio/positions")).json()["market_positions"]
    fees = {p["ticker"]: Decimal(p["fees_paid_dollars"]) for p in held}
    sim.clock.jump(timedelta(hours=6, minutes=6))  # past close and the settlement delay
    for _ in range(300):
        if {YES_MKT, NO_MKT} <= set(sim.service.settled_at):
            break
        await asyncio.sleep(0.02)
    m = (await sim.get(f"/markets/{YES_MKT}")).json()["market"]
    assert m["status"] == "finalized" and m["result"] == ""
    assert "settlement_value_dollars" not in m
    sets = {s["ticker"]: s for s in (await sim.get("/portfolio/settlements")).json()["settlements"]}
    void = sets[YES_MKT]
    assert void["market_result"] == "scalar" and void["value"] is None
    assert void["yes_count_fp"] == "10.00" and void["yes_total_cost_dollars"] == "4.5000"
    assert void["revenue"] == 450  # the 10 YES bought at 0.45 come back at cost
    assert sets[NO_MKT]["revenue"] == 500  # 5 NO won: $5.00
    after = Decimal((await sim.get("/portfolio/balance")).json()["balance_dollars"])
    assert after == before + Decimal("4.50") + Decimal("5.00")
    assert fees[YES_MKT] > 0  # and the fee paid to enter stays paid
    lifecycle = [e for e in sim.exchange.settlements("trader") if e.ticker == YES_MKT]
    assert lifecycle[0].market_result is MarketResult.VOID
