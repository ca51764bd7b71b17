"""Kalshi's historical tier over real HTTP: data crosses from the live endpoints to /historical/*
as the simulated clock moves the cutoff past it.

Every answer is validated against openapi.yaml by the ``conformance`` tap (see conftest); the
last test drives the real Kalshi client's historical paths against the same server.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from kalbot.adapters.kalshi.client import KalshiClient
from kalbot.adapters.kalshi.errors import NotFound
from kalbot.adapters.kalshi.market_data import KalshiMarketData
from kalbot.adapters.kalshi.ratelimit import RateLimiter
from kalbot.adapters.kalshi.signing import Signer, load_private_key
from kalbot.domain.market import MarketResult

from .conftest import NO_MKT, START, YES_MKT, Sim

WINDOW = timedelta(hours=1)


async def _json(sim: Sim, path: str, **params: Any) -> Any:
    r = await sim.get(path, **params)
    assert r.status_code == 200, (path, r.status_code, r.text)
    return r.json()


async def _settled(sim: Sim) -> None:
    for _ in range(300):
        if all(t in sim.service.settled_at for t in (YES_MKT, NO_MKT)):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the markets never settled")


async def _trade_and_rest(sim: Sim) -> dict[str, str]:
    """A fill on YES_MKT, a canceled order and a resting one on NO_MKT; their order ids."""
    sim.service.config = replace(sim.service.config, live_window=WINDOW)
    took = await sim.order(side="bid", price="0.45", count="10", client_order_id="took")
    assert took.status_code == 201
    gone = await sim.order(ticker=NO_MKT, side="bid", price="0.30", count="5",
                           client_order_id="gone")  # fmt: skip
    gone_id = gone.json()["order_id"]
    assert (await sim.request("DELETE", f"/portfolio/events/orders/{gone_id}")).status_code == 200
    rest = await sim.order(ticker=NO_MKT, side="bid", price="0.31", count="5",
                           client_order_id="rest")  # fmt: skip
    return {"took": took.json()["order_id"], "gone": gone_id, "rest": rest.json()["order_id"]}


async def test_nothing_is_historical_while_everything_is_recent(sim: Sim) -> None:
    await _trade_and_rest(sim)
    cut = await _json(sim, "/historical/cutoff")
    cutoff = datetime.fromisoformat(cut["market_settled_ts"])
    assert timedelta(0) <= sim.clock.now() - WINDOW - cutoff < timedelta(seconds=5)
    assert len(set(cut.values())) == 1  # one boundary for the four partitions
    assert (await _json(sim, "/historical/markets"))["markets"] == []
    assert (await _json(sim, "/historical/trades"))["trades"] == []
    assert (await _json(sim, "/historical/fills"))["fills"] == []
    assert (await _json(sim, "/historical/orders"))["orders"] == []
    assert (await _json(sim, "/historical/positions"))["market_positions"] == []
    r = await sim.get(f"/historical/markets/{YES_MKT}")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    candles = await sim.get(
        f"/historical/markets/{YES_MKT}/candlesticks",
        start_ts=0, end_ts=2_000_000_000, period_interval=60,
    )  # fmt: skip
    assert candles.status_code == 404
    assert len((await _json(sim, "/portfolio/fills"))["fills"]) == 1
    assert len((await _json(sim, "/markets/trades"))["trades"]) == 1


async def test_data_moves_to_the_historical_tier_as_the_clock_passes_it(sim: Sim) -> None:
    ids = await _trade_and_rest(sim)
    # past close (resting orders canceled at START+6h) and settlement (5 min later)
    sim.clock.jump(timedelta(hours=6, minutes=6))
    await _settled(sim)
    # the cutoff (now - 1h) has passed the trade, the fill and the two finished orders, but
    # not the close-time cancel of "rest" nor the settlements
    assert (await _json(sim, "/markets/trades"))["trades"] == []
    (trade,) = (await _json(sim, "/historical/trades", ticker=YES_MKT))["trades"]
    assert trade["yes_price_dollars"] == "0.4500" and trade["count_fp"] == "10.00"
    assert (await _json(sim, "/portfolio/fills"))["fills"] == []
    (fill,) = (await _json(sim, "/historical/fills"))["fills"]
    assert fill["order_id"] == ids["took"] and fill["count_fp"] == "10.00"
    live = {o["order_id"] for o in (await _json(sim, "/portfolio/orders"))["orders"]}
    old = {o["order_id"]: o for o in (await _json(sim, "/historical/orders"))["orders"]}
    assert live == {ids["rest"]} and set(old) == {ids["took"], ids["gone"]}
    assert old[ids["took"]]["status"] == "executed" and old[ids["gone"]]["status"] == "canceled"
    assert (await sim.get(f"/portfolio/orders/{ids['gone']}")).status_code == 404
    assert (await _json(sim, f"/portfolio/orders/{ids['rest']}"))["order"]["status"] == "canceled"
    assert (await _json(sim, "/historical/markets"))["markets"] == []  # settled after the cutoff
    assert (await _json(sim, f"/markets/{YES_MKT}"))["market"]["status"] == "finalized"

    sim.clock.jump(timedelta(hours=2))  # now the settlements are older than the window too
    await asyncio.sleep(0.05)
    assert (await _json(sim, "/markets"))["markets"] == []
    assert (await _json(sim, "/markets", tickers=YES_MKT))["markets"] == []
    r = await sim.get(f"/markets/{YES_MKT}")
    assert r.status_code == 404 and "historical" in r.json()["error"]["message"]
    live_candles = await sim.get(
        f"/series/KXTEST/markets/{YES_MKT}/candlesticks",
        start_ts=0, end_ts=2_000_000_000, period_interval=60,
    )  # fmt: skip
    assert live_candles.status_code == 404
    assert (await _json(sim, "/portfolio/orders"))["orders"] == []
    assert {o["order_id"] for o in (await _json(sim, "/historical/orders"))["orders"]} == set(
        ids.values()
    )

    markets = (await _json(sim, "/historical/markets"))["markets"]
    assert {m["ticker"] for m in markets} == {YES_MKT, NO_MKT}
    one = (await _json(sim, f"/historical/markets/{YES_MKT}"))["market"]
    assert one["result"] == "yes" and one["status"] == "finalized"
    assert one["settlement_value_dollars"] == "1.0000"
    page = await _json(sim, "/historical/markets", limit=1)
    assert len(page["markets"]) == 1 and page["cursor"]
    rest = await _json(sim, "/historical/markets", limit=1, cursor=page["cursor"])
    assert {page["markets"][0]["ticker"], rest["markets"][0]["ticker"]} == {YES_MKT, NO_MKT}
    assert rest["cursor"] == ""
    only = await _json(sim, "/historical/markets", tickers=NO_MKT)
    assert [m["ticker"] for m in only["markets"]] == [NO_MKT]
    by_event = await _json(sim, "/historical/markets", event_ticker="KXTEST-26JUN01")
    assert len(by_event["markets"]) == 2
    both = await sim.get("/historical/markets", tickers=NO_MKT, event_ticker="KXTEST-26JUN01")
    assert both.status_code == 400 and both.json()["error"]["code"] == "invalid_parameters"

    t0 = int(START.timestamp())
    path = f"/historical/markets/{YES_MKT}/candlesticks"
    body = await _json(sim, path, start_ts=t0 - 60, end_ts=t0 + 3600, period_interval=60)
    (candle,) = body["candlesticks"]
    assert candle["price"]["close"] == "0.4500" and candle["price"]["previous"] is None
    assert candle["volume"] == "10.00" and "volume_fp" not in candle
    bad = await sim.get(f"/historical/markets/{YES_MKT}/candlesticks", start_ts=0)
    assert bad.status_code == 400

    positions = await _json(sim, "/historical/positions")
    (pos,) = positions["market_positions"]
    # 10 YES bought at 0.45 with a 0.18 taker fee, settled YES at $1.00
    assert pos["ticker"] == YES_MKT and pos["position_fp"] == "0.00"
    assert pos["realized_pnl_dollars"] == "5.3200" and pos["fees_paid_dollars"] == "0.1800"
    assert positions["event_positions"][0]["event_ticker"] == "KXTEST-26JUN01"
    assert (await _json(sim, "/historical/positions", ticker=NO_MKT))["market_positions"] == []


async def test_account_history_needs_a_key_and_public_history_does_not(sim: Sim) -> None:
    for path in ("/historical/fills", "/historical/orders", "/historical/positions"):
        r = await sim.request("GET", path, sign=False)
        assert r.status_code == 401, path
    for path in ("/historical/cutoff", "/historical/markets", "/historical/trades"):
        assert (await sim.request("GET", path, sign=False)).status_code == 200, path


async def test_the_kalshi_client_reads_the_historical_tier(
    sim: Sim, key_pem: bytes, tmp_path: Path
) -> None:
    ids = await _trade_and_rest(sim)
    sim.clock.jump(timedelta(hours=6, minutes=6))
    await _settled(sim)
    sim.clock.jump(timedelta(hours=2))
    key_file = tmp_path / "trader.pem"
    key_file.write_bytes(key_pem)
    key_file.chmod(0o600)
    signer = Signer("trader", load_private_key(key_file))
    async with KalshiClient(
        sim.server.base_url, signer=signer, limiter=RateLimiter.unlimited()
    ) as client:
        cutoff = await client.historical_cutoff()
        assert cutoff.market_settled_ts is not None
        assert cutoff.market_settled_ts > sim.service.settled_at[YES_MKT]
        wire = await client.historical_market(YES_MKT)
        assert wire.result == "yes"
        # the market left the live tier: market data falls back to the archive
        market = await KalshiMarketData(client).market(YES_MKT)
        assert market.result is MarketResult.YES
        try:
            await client.market(YES_MKT)
            raise AssertionError("an archived market must be 404 on /markets/{ticker}")
        except NotFound:
            pass
        candles = await client.candlesticks(
            "KXTEST", YES_MKT,
            start_ts=int(START.timestamp()) - 60, end_ts=int(START.timestamp()) + 3600,
            period_interval=60, settled_time=sim.service.settled_at[YES_MKT],
        )  # fmt: skip
        assert len(candles) == 1 and candles[0].price is not None
        assert candles[0].price.close == "0.4500" and candles[0].volume == "10.00"
        trades = [t async for t in client.iter_trades(historical=True, ticker=YES_MKT)]
        assert [t.count_fp for t in trades] == ["10.00"]
        assert [t async for t in client.iter_trades(ticker=YES_MKT)] == []
        found = await client.find_order(YES_MKT, "took")  # only on /historical/orders now
        assert found is not None and found.order_id == ids["took"]
        assert Decimal(found.fill_count_fp or "0") == 10
