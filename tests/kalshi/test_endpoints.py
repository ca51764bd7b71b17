"""The remaining read endpoints: paths, parameters and parsed values."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx

from kalbot.adapters.kalshi import convert
from kalshi.helpers import make_client, market_json

D = Decimal

RESPONSES: dict[str, Any] = {
    "/exchange/schedule": {
        "schedule": {
            "standard_hours": [
                {
                    "start_time": "2026-01-01T00:00:00Z",
                    "end_time": "2027-01-01T00:00:00Z",
                    "monday": [{"open_time": "00:00", "close_time": "23:59"}],
                }
            ],
            "maintenance_windows": [
                {"start_datetime": "2026-11-26T08:00:00Z", "end_datetime": "2026-11-26T10:00:00Z"}
            ],
        }
    },
    "/events": {
        "events": [
            {
                "event_ticker": "KXFED-26DEC",
                "series_ticker": "KXFED",
                "title": "Fed in December",
                "mutually_exclusive": True,
                "markets": [market_json("KXFED-26DEC-T4.25")],
            }
        ],
        "cursor": "",
    },
    "/events/KXFED-26DEC": {
        "event": {"event_ticker": "KXFED-26DEC"},
        "markets": [market_json("KXFED-26DEC-T4.25")],
    },
    "/series": {
        "series": [
            {
                "ticker": "KXFED",
                "category": "Economics",
                "fee_type": "quadratic",
                "fee_multiplier": 1,
            }
        ]
    },
    "/markets/trades": {
        "trades": [
            {
                "trade_id": "t1",
                "ticker": "KXFED-26DEC-T4.25",
                "count_fp": "12.00",
                "yes_price_dollars": "0.4300",
                "no_price_dollars": "0.5700",
                "taker_outcome_side": "no",
                "created_time": "2026-11-25T12:00:00Z",
            }
        ],
        "cursor": "",
    },
    "/markets/candlesticks": {
        "markets": [
            {"market_ticker": "A", "candlesticks": [{"end_period_ts": 60, "volume_fp": "3.00"}]}
        ]
    },
    "/portfolio/settlements": {
        "settlements": [
            {
                "ticker": "KXFED-26NOV-T4.50",
                "event_ticker": "KXFED-26NOV",
                "market_result": "no",
                "yes_count_fp": "0.00",
                "no_count_fp": "7.00",
                "yes_total_cost_dollars": "0.0000",
                "no_total_cost_dollars": "4.2000",
                "revenue": 700,
                "fee_cost": "0.0000",
                "settled_time": "2026-11-20T19:05:00Z",
            }
        ],
        "cursor": "",
    },
}


async def test_read_endpoints_hit_their_paths_and_parse() -> None:
    seen: list[tuple[str, dict[str, str]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/trade-api/v2")
        seen.append((path, dict(request.url.params)))
        return httpx.Response(200, json=RESPONSES[path])

    async with make_client(handler) as client:
        schedule = await client.exchange_schedule()
        events = [e async for e in client.iter_events(status="open", with_nested_markets=True)]
        event = await client.event("KXFED-26DEC")
        series = await client.series_list(category="Economics")
        trades = [t async for t in client.iter_trades(ticker="KXFED-26DEC-T4.25", min_ts=1)]
        candles = await client.batch_candlesticks(["A"], start_ts=0, end_ts=60, period_interval=1)
        settlements = [s async for s in client.iter_settlements()]
    assert schedule.maintenance_windows[0].start_datetime == datetime(2026, 11, 26, 8, tzinfo=UTC)
    assert schedule.standard_hours[0].monday[0].close_time == "23:59"
    assert events[0].markets is not None
    assert convert.market(events[0].markets[0]).quote.yes_bid == D("0.42")
    assert event.markets[0].ticker == "KXFED-26DEC-T4.25"
    assert series[0].category == "Economics"
    assert (trades[0].yes_price_dollars, trades[0].count_fp, trades[0].taker_outcome_side) == (
        "0.4300",
        "12.00",
        "no",
    )
    assert candles["A"][0].volume_fp == "3.00"
    assert (settlements[0].market_result, settlements[0].revenue, settlements[0].no_count_fp) == (
        "no",
        700,
        "7.00",
    )
    params = dict(seen)
    assert params["/events"] == {"status": "open", "with_nested_markets": "true", "limit": "200"}
    assert params["/events/KXFED-26DEC"] == {"with_nested_markets": "true"}
    assert params["/markets/trades"] == {
        "ticker": "KXFED-26DEC-T4.25",
        "min_ts": "1",
        "limit": "1000",
    }
    assert params["/markets/candlesticks"] == {
        "market_tickers": "A",
        "start_ts": "0",
        "end_ts": "60",
        "period_interval": "1",
    }
