"""The REST client against httpx.MockTransport: paging, retries, idempotency, errors, signing."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kalbot.adapters.kalshi import convert
from kalbot.adapters.kalshi import wire as w
from kalbot.adapters.kalshi.errors import (
    AuthError,
    DuplicateOrder,
    ExchangeUnavailable,
    KalshiError,
    NotFound,
    OrderRejected,
    RateLimited,
    TransientError,
    WireError,
)
from kalbot.adapters.kalshi.signing import Signer
from kalbot.domain.orders import BookSide, TimeInForce, V2Order
from kalbot.domain.prices import PriceError
from kalshi.helpers import Sleeps, make_client, market_json

D = Decimal


def order(coid: str = "coid-1") -> V2Order:
    return V2Order("T-1", BookSide.ASK, D("0.70"), D(10), coid, TimeInForce.GTC)


async def test_iter_markets_follows_cursors_until_empty() -> None:
    pages = {
        None: ({"markets": [market_json("A-1"), market_json("A-2")], "cursor": "c1"}),
        "c1": ({"markets": [market_json("A-3")], "cursor": "c2"}),
        "c2": ({"markets": [], "cursor": ""}),
    }
    seen: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/trade-api/v2/markets"
        params = dict(request.url.params)
        seen.append(params)
        return httpx.Response(200, json=pages[params.get("cursor")])

    async with make_client(handler) as client:
        tickers = [m.ticker async for m in client.iter_markets(status="open", limit=2)]
    assert tickers == ["A-1", "A-2", "A-3"]
    assert [s.get("cursor") for s in seen] == [None, "c1", "c2"]
    assert all(s["status"] == "open" and s["limit"] == "2" for s in seen)


async def test_null_or_missing_cursor_ends_paging_and_a_repeated_cursor_is_an_error() -> None:
    def once(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"markets": [market_json()], "cursor": None})

    async with make_client(once) as client:
        assert len([m async for m in client.iter_markets()]) == 1

    def loop(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"markets": [market_json()], "cursor": "same"})

    async with make_client(loop) as client:
        with pytest.raises(WireError, match="repeated cursor"):
            _ = [m async for m in client.iter_markets()]


async def test_create_retried_after_timeout_keeps_the_same_client_order_id_and_409_resolves() -> (
    None
):
    bodies: list[dict[str, Any]] = []
    listed: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            bodies.append(json.loads(request.content))
            if len(bodies) == 1:  # the exchange accepted it, but the reply never came
                raise httpx.ReadTimeout("timed out", request=request)
            return httpx.Response(409, json={"code": "duplicate_client_order_id", "message": "dup"})
        listed.append(request.url.params["ticker"])
        return httpx.Response(
            200,
            json={
                "orders": [
                    {
                        "order_id": "o-other",
                        "client_order_id": "x",
                        "ticker": "T-1",
                        "status": "resting",
                    },
                    {
                        "order_id": "o-1",
                        "client_order_id": "coid-1",
                        "ticker": "T-1",
                        "status": "resting",
                        "fill_count_fp": "0.00",
                        "remaining_count_fp": "10.00",
                    },
                ],
                "cursor": "",
            },
        )

    sleeps = Sleeps()
    async with make_client(handler, sleeps=sleeps) as client:
        result = await client.create_order(order())
    assert isinstance(result, w.OrderW) and result.order_id == "o-1"
    assert [b["client_order_id"] for b in bodies] == ["coid-1", "coid-1"]
    assert bodies[0] == {
        "ticker": "T-1",
        "side": "ask",
        "count": "10.00",
        "price": "0.7000",
        "time_in_force": "good_till_canceled",
        "self_trade_prevention_type": "taker_at_cross",
        "client_order_id": "coid-1",
    }
    assert listed == ["T-1"] and len(sleeps.delays) == 1
    ack = convert.ack_from_order(result)
    assert ack.remaining_count == D(10) and ack.client_order_id == "coid-1"


async def test_409_for_an_order_already_archived_resolves_through_historical_orders() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(409, json={"code": "conflict", "message": "dup"})
        if request.url.path.endswith("/historical/orders"):
            archived = {
                "order_id": "o-old",
                "client_order_id": "coid-1",
                "ticker": "T-1",
                "status": "executed",
            }
            return httpx.Response(200, json={"orders": [archived], "cursor": ""})
        return httpx.Response(200, json={"orders": [], "cursor": None})

    async with make_client(handler) as client:
        result = await client.create_order(order())
    assert isinstance(result, w.OrderW) and result.order_id == "o-old"


async def test_409_without_a_matching_order_is_raised_not_guessed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(409, json={"code": "conflict", "message": "dup"})
        if request.url.path.endswith("/historical/orders"):
            return httpx.Response(404, json={"code": "not_found", "message": "no archive"})
        return httpx.Response(200, json={"orders": [], "cursor": None})

    async with make_client(handler) as client:
        with pytest.raises(DuplicateOrder) as e:
            await client.create_order(order())
    assert e.value.status == 409 and e.value.code == "conflict"


async def test_429_backs_off_exponentially_with_jitter_and_a_cap_then_succeeds() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls <= 4:
            return httpx.Response(429, json={"error": "too many requests"})
        return httpx.Response(200, json={"balance": 100, "balance_dollars": "1.0000"})

    sleeps = Sleeps()
    async with make_client(handler, sleeps=sleeps) as client:
        client.backoff_cap = 1.0
        b = await client.balance()
    assert convert.balance(b) == D("1.0000")
    # rng=0.5 -> 75% of min(cap, 0.25 * 2**attempt)
    assert sleeps.delays == pytest.approx([0.1875, 0.375, 0.75, 0.75])


async def test_429_that_never_clears_raises_rate_limited_after_the_retries() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, json={"error": "too many requests"})

    sleeps = Sleeps()
    async with make_client(handler, sleeps=sleeps, max_retries=2) as client:
        with pytest.raises(RateLimited, match="too many requests"):
            await client.exchange_status()
    assert len(sleeps.delays) == 2


@pytest.mark.parametrize(
    ("status", "body", "error", "code"),
    [
        (401, {"code": "unauthorized", "message": "bad signature"}, AuthError, "unauthorized"),
        (403, {"code": "forbidden", "message": "scope"}, AuthError, "forbidden"),
        (404, {"code": "not_found", "message": "no market"}, NotFound, "not_found"),
        (400, {"code": "invalid_order", "message": "off grid"}, OrderRejected, "invalid_order"),
        (
            400,
            {"error": {"code": "MARKET_INACTIVE", "message": "closed"}},
            OrderRejected,
            "MARKET_INACTIVE",
        ),
        (409, {"code": "dup", "message": "dup"}, DuplicateOrder, "dup"),
        (
            503,
            {"code": "unavailable", "message": "maintenance"},
            ExchangeUnavailable,
            "unavailable",
        ),
        (500, {"code": "internal", "message": "boom"}, TransientError, "internal"),
    ],
)
async def test_each_http_error_maps_to_one_typed_exception(
    status: int, body: dict[str, Any], error: type[KalshiError], code: str
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body)

    async with make_client(handler, max_retries=1) as client:
        with pytest.raises(error) as e:
            await client.market("T-1")
    assert type(e.value) is error and e.value.status == status and e.value.code == code


async def test_network_errors_on_reads_retry_then_raise_transient() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise httpx.ConnectError("refused", request=request)

    async with make_client(handler, max_retries=3) as client:
        with pytest.raises(TransientError, match="ConnectError"):
            await client.exchange_status()
    assert calls == 4


async def test_400_is_never_retried() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(400, json={"code": "invalid_order", "message": "no"})

    async with make_client(handler) as client:
        with pytest.raises(OrderRejected):
            await client.create_order(order())
    assert calls == 1


async def test_decrease_by_is_sent_once_but_reduce_to_is_retried() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(500, json={"code": "internal", "message": "x"})

    async with make_client(handler, max_retries=2) as client:
        with pytest.raises(TransientError):
            await client.decrease_order("o-1", reduce_by=D(2))
        assert calls == 1
        with pytest.raises(TransientError):
            await client.decrease_order("o-1", reduce_to=D(2))
        assert calls == 4
        with pytest.raises(ValueError):
            await client.decrease_order("o-1")


async def test_every_attempt_is_signed_afresh_and_verifies(rsa_key: rsa.RSAPrivateKey) -> None:
    ticks = iter(range(1000, 2000))
    signer = Signer("key-9", rsa_key, clock_ms=lambda: next(ticks))
    seen: list[httpx.Headers] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers)
        if len(seen) == 1:
            return httpx.Response(502, text="bad gateway")
        return httpx.Response(200, json={"market_positions": [], "cursor": ""})

    async with make_client(handler, signer=signer) as client:
        _ = [p async for p in client.iter_positions(ticker="T-1")]
    assert [h["KALSHI-ACCESS-TIMESTAMP"] for h in seen] == ["1000", "1001"]
    for h in seen:
        assert h["KALSHI-ACCESS-KEY"] == "key-9"
        rsa_key.public_key().verify(
            base64.b64decode(h["KALSHI-ACCESS-SIGNATURE"]),
            (h["KALSHI-ACCESS-TIMESTAMP"] + "GET/trade-api/v2/portfolio/positions").encode(),
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
            hashes.SHA256(),
        )


async def test_unsigned_client_sends_no_auth_headers() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert "KALSHI-ACCESS-KEY" not in request.headers
        return httpx.Response(200, json={"exchange_active": True, "trading_active": False})

    async with make_client(handler) as client:
        status = await client.exchange_status()
    assert status.exchange_active and not status.trading_active


async def test_malformed_json_and_float_prices_are_wire_errors_naming_the_field() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/T-1"):
            return httpx.Response(200, content=b"{not json")
        return httpx.Response(200, json={"market": market_json("T-2", yes_bid_dollars=0.42)})

    async with make_client(handler) as client:
        with pytest.raises(WireError, match="malformed response"):
            await client.market("T-1")
        with pytest.raises(WireError, match="yes_bid_dollars"):
            await client.market("T-2")


async def test_missing_or_garbage_price_is_an_error_naming_field_and_ticker() -> None:
    raw = market_json("T-3")
    del raw["yes_ask_dollars"]
    with pytest.raises(PriceError, match=r"yes_ask_dollars for T-3.*missing"):
        convert.market(w.MarketW.model_validate(raw))
    with pytest.raises(PriceError, match=r"yes_bid_dollars for T-4"):
        convert.market(w.MarketW.model_validate(market_json("T-4", yes_bid_dollars="abc")))
    with pytest.raises(PriceError, match=r"above \$1.00"):
        convert.market(w.MarketW.model_validate(market_json("T-5", yes_bid_dollars="1.2000")))


async def test_orderbook_parses_both_formats_with_best_bid_last() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("NEW/orderbook"):
            return httpx.Response(
                200,
                json={
                    "orderbook_fp": {
                        "yes_dollars": [["0.4000", "10.00"], ["0.4200", "5.50"]],
                        "no_dollars": [["0.5500", "7.00"]],
                    }
                },
            )
        return httpx.Response(200, json={"orderbook": {"yes": [[40, 10]], "no": None}})

    async with make_client(handler) as client:
        new = convert.orderbook("NEW", await client.orderbook("NEW", depth=10))
        old = convert.orderbook("OLD", await client.orderbook("OLD"))
    q = new.quote()
    assert (q.yes_bid, q.yes_bid_size, q.yes_ask, q.yes_ask_size) == (
        D("0.42"),
        D("5.50"),
        D("0.45"),
        D("7.00"),
    )
    assert q.no_bid == D("0.55") and q.no_ask == D("0.58")
    assert old.quote().yes_bid == D("0.40") and old.quote().yes_ask is None


async def test_candlesticks_of_a_market_settled_before_the_cutoff_use_historical() -> None:
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        if request.url.path.endswith("/historical/cutoff"):
            return httpx.Response(200, json={"market_settled_ts": "2026-08-01T00:00:00Z"})
        return httpx.Response(200, json={"ticker": "T", "candlesticks": [{"end_period_ts": 5}]})

    from datetime import UTC, datetime

    async with make_client(handler) as client:
        await client.candlesticks(
            "S", "T", start_ts=0, end_ts=10, settled_time=datetime(2026, 5, 1, tzinfo=UTC)
        )
        await client.candlesticks(
            "S", "T", start_ts=0, end_ts=10, settled_time=datetime(2026, 9, 1, tzinfo=UTC)
        )
        await client.candlesticks("S", "T", start_ts=0, end_ts=10)
    assert paths == [
        "/trade-api/v2/historical/cutoff",
        "/trade-api/v2/historical/markets/T/candlesticks",
        "/trade-api/v2/series/S/markets/T/candlesticks",
        "/trade-api/v2/series/S/markets/T/candlesticks",
    ]


async def test_batch_create_reports_per_item_errors() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        assert [o["client_order_id"] for o in body["orders"]] == ["a", "b"]
        return httpx.Response(
            201,
            json={
                "orders": [
                    {
                        "order_id": "o-a",
                        "client_order_id": "a",
                        "fill_count": "0.00",
                        "remaining_count": "10.00",
                    },
                    {
                        "client_order_id": "b",
                        "error": {"code": "invalid_order", "message": "off grid"},
                    },
                ]
            },
        )

    async with make_client(handler) as client:
        r = await client.batch_create_orders([order("a"), order("b")])
    assert r.orders[0].order_id == "o-a" and r.orders[1].error is not None
    assert r.orders[1].error.code == "invalid_order"
