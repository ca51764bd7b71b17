"""KalshiBroker and KalshiMarketData over a small in-memory Kalshi (httpx.MockTransport)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from kalbot.adapters.kalshi.broker import KalshiBroker
from kalbot.adapters.kalshi.convert import market as to_market
from kalbot.adapters.kalshi.errors import NotFound
from kalbot.adapters.kalshi.market_data import KalshiMarketData
from kalbot.adapters.kalshi.wire import MarketW
from kalbot.domain.fees import FeeType
from kalbot.domain.market import Market
from kalbot.domain.orders import Action, OrderIntent, OrderStatus, TimeInForce
from kalbot.domain.prices import PriceRange, Side
from kalbot.ports import Broker, MarketData
from kalshi.helpers import make_client, market_json

D = Decimal


class FakeKalshi:
    """Just enough of the exchange's REST surface for the ports."""

    def __init__(self) -> None:
        self.orders: list[dict[str, Any]] = []
        self.fills: list[dict[str, Any]] = []
        self.series_calls: list[str] = []
        self.cancelled: list[str] = []
        self.order_lookups: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/trade-api/v2")
        q = request.url.params
        if path == "/markets":
            pages = {
                None: [market_json("KXFED-26JUN-T5.25"), market_json("KXFED-26JUN-T5.50")],
                "p2": [
                    market_json("KXCPI-26JUL-T3", yes_bid_dollars="bad"),
                    market_json("KXCPI-26JUL-T4"),
                ],
            }
            cursor = q.get("cursor")
            assert (q.get("status"), q.get("mve_filter")) == ("open", "exclude")
            return httpx.Response(
                200, json={"markets": pages[cursor], "cursor": "p2" if cursor is None else ""}
            )
        if path == "/historical/markets/KXOLD-25JAN-T1":
            old = market_json("KXOLD-25JAN-T1", status="finalized", result="yes")
            return httpx.Response(200, json={"market": old})
        if path.startswith("/series/"):
            ticker = path.rsplit("/", 1)[1]
            self.series_calls.append(ticker)
            fee = "quadratic_with_maker_fees" if ticker == "KXFED" else "quadratic"
            return httpx.Response(
                200,
                json={
                    "series": {
                        "ticker": ticker,
                        "category": "Economics",
                        "fee_type": fee,
                        "fee_multiplier": 1,
                    }
                },
            )
        if path == "/portfolio/events/orders" and request.method == "POST":
            body = json.loads(request.content)
            self.orders.append(body)
            return httpx.Response(
                201,
                json={
                    "order_id": f"o-{len(self.orders)}",
                    "client_order_id": body["client_order_id"],
                    "fill_count": "4.00",
                    "remaining_count": "6.00",
                    "ts_ms": 1,
                },
            )
        if path.startswith("/portfolio/events/orders/") and request.method == "DELETE":
            self.cancelled.append(path.rsplit("/", 1)[1])
            return httpx.Response(
                200, json={"order_id": path.rsplit("/", 1)[1], "reduced_by": "6.00"}
            )
        if path == "/portfolio/fills":
            return httpx.Response(200, json={"fills": self.fills, "cursor": ""})
        if path == "/portfolio/positions":
            return httpx.Response(
                200,
                json={
                    "market_positions": [
                        {"ticker": "A", "position_fp": "12.00"},
                        {"ticker": "B", "position_fp": "-3.50"},
                        {"ticker": "C", "position_fp": "0.00"},
                    ],
                    "cursor": "",
                },
            )
        if path == "/portfolio/balance":
            return httpx.Response(200, json={"balance": 123456, "balance_dollars": "1234.5600"})
        if path.startswith("/portfolio/orders/"):
            oid = path.rsplit("/", 1)[1]
            self.order_lookups.append(oid)
            return httpx.Response(
                200,
                json={
                    "order": {
                        "order_id": oid,
                        "client_order_id": f"coid-{oid}",
                        "ticker": "T",
                        "status": "executed",
                    }
                },
            )
        if path == "/portfolio/orders":
            return httpx.Response(
                200,
                json={
                    "orders": [
                        {
                            "order_id": "o-9",
                            "client_order_id": "c-9",
                            "ticker": "A",
                            "status": "resting",
                            "fill_count_fp": "1.00",
                            "remaining_count_fp": "2.00",
                        }
                    ],
                    "cursor": "",
                },
            )
        return httpx.Response(404, json={"code": "not_found", "message": path})


def fill_json(order_id: str, book_side: str, yes_price: str, **over: Any) -> dict[str, Any]:
    base = {
        "fill_id": f"f-{order_id}",
        "trade_id": "t",
        "order_id": order_id,
        "ticker": "KXFED-26JUN-T5.25",
        "outcome_side": "yes" if book_side == "bid" else "no",
        "book_side": book_side,
        "count_fp": "4.00",
        "yes_price_dollars": yes_price,
        "no_price_dollars": str(D(1) - D(yes_price)),
        "is_taker": True,
        "fee_cost": "0.0700",
        "created_time": "2026-11-25T12:00:00Z",
    }
    base.update(over)
    return base


def a_market(**over: Any) -> Market:
    return to_market(MarketW.model_validate(market_json(**over)))


async def test_open_markets_follow_cursors_fill_series_fields_and_skip_bad_markets() -> None:
    fake = FakeKalshi()
    async with make_client(fake) as client:
        md = KalshiMarketData(client)
        _: MarketData = md
        markets = [m async for m in md.open_markets()]
    assert [m.ticker for m in markets] == [
        "KXFED-26JUN-T5.25",
        "KXFED-26JUN-T5.50",
        "KXCPI-26JUL-T4",
    ]
    assert md.skipped == 1
    assert fake.series_calls == ["KXFED", "KXCPI"]  # cached: one lookup per series
    fed = markets[0]
    assert fed.category == "Economics" and fed.series_ticker == "KXFED"
    assert fed.fee_type is FeeType.QUADRATIC_WITH_MAKER_FEES
    assert markets[2].fee_type is FeeType.QUADRATIC


async def test_buy_no_places_an_ask_at_the_yes_complement_snapped_to_the_grid() -> None:
    fake = FakeKalshi()
    market = a_market(price_ranges=[{"start": "0", "end": "1", "step": "0.0100"}])
    intent = OrderIntent(
        "KXFED-26JUN-T5.25", Side.NO, Action.BUY, D(10), D("0.305"), "dec-1", TimeInForce.GTC
    )
    async with make_client(fake) as client:
        broker = KalshiBroker(client)
        _: Broker = broker
        ack = await broker.place(intent, market)
    # paying at most 0.305 for NO = selling YES at no less than 0.695 -> rounds UP to 0.70
    assert fake.orders == [
        {
            "ticker": "KXFED-26JUN-T5.25",
            "side": "ask",
            "count": "10.00",
            "price": "0.7000",
            "time_in_force": "good_till_canceled",
            "self_trade_prevention_type": "taker_at_cross",
            "client_order_id": "dec-1",
        }
    ]
    assert ack.order_id == "o-1" and ack.client_order_id == "dec-1"
    assert ack.status is OrderStatus.RESTING
    assert (ack.filled_count, ack.remaining_count) == (D(4), D(6))


async def test_buy_yes_on_a_sub_cent_grid_rounds_the_limit_down() -> None:
    fake = FakeKalshi()
    market = a_market(
        price_ranges=[
            {"start": "0.0000", "end": "0.1000", "step": "0.0010"},
            {"start": "0.1000", "end": "0.9000", "step": "0.0100"},
            {"start": "0.9000", "end": "1.0000", "step": "0.0010"},
        ]
    )
    assert market.price_ranges[0] == PriceRange(D(0), D("0.1"), D("0.001"))
    async with make_client(fake) as client:
        broker = KalshiBroker(client)
        await broker.place(
            OrderIntent(market.ticker, Side.YES, Action.BUY, D(1), D("0.0567"), "a"), market
        )
        await broker.place(
            OrderIntent(market.ticker, Side.YES, Action.BUY, D(1), D("0.456"), "b"), market
        )
    assert [(o["side"], o["price"]) for o in fake.orders] == [("bid", "0.0560"), ("bid", "0.4500")]


async def test_combo_markets_and_mismatched_tickers_are_refused() -> None:
    fake = FakeKalshi()
    combo = a_market(ticker="KXMVE-X-1", mve_collection_ticker="KXMVE-R")
    async with make_client(fake) as client:
        broker = KalshiBroker(client)
        with pytest.raises(ValueError, match="combo"):
            await broker.place(
                OrderIntent("KXMVE-X-1", Side.YES, Action.BUY, D(1), D("0.5"), "c"), combo
            )
        with pytest.raises(ValueError, match="placed against"):
            await broker.place(
                OrderIntent("OTHER", Side.YES, Action.BUY, D(1), D("0.5"), "c"), a_market()
            )
    assert fake.orders == []


async def test_fills_come_back_in_the_sides_own_price_space_with_fees() -> None:
    fake = FakeKalshi()
    market = a_market()
    async with make_client(fake) as client:
        broker = KalshiBroker(client)
        sell_yes = OrderIntent(market.ticker, Side.YES, Action.SELL, D(4), D("0.60"), "s")
        ack = await broker.place(sell_yes, market)
        fake.fills = [
            fill_json(ack.order_id, "ask", "0.6000", created_time="2026-11-25T12:00:02Z"),
            fill_json("o-elsewhere", "ask", "0.3000", fee_cost="0.0600"),
            fill_json(
                "o-yes", "bid", "0.4200", created_time="2026-11-25T12:00:01Z", is_taker=False
            ),
        ]
        fills = await broker.fills()
    by_order = {f.order_id: f for f in fills}
    ours = by_order[ack.order_id]
    assert (ours.side, ours.action, ours.price) == (Side.YES, Action.SELL, D("0.60"))
    other = by_order["o-elsewhere"]  # unknown order: "ask" = buy NO at 1 - 0.30
    assert (other.side, other.action, other.price, other.fee) == (
        Side.NO,
        Action.BUY,
        D("0.70"),
        D("0.06"),
    )
    yes = by_order["o-yes"]
    assert (yes.side, yes.action, yes.price, yes.is_taker) == (
        Side.YES,
        Action.BUY,
        D("0.42"),
        False,
    )
    assert [f.order_id for f in fills] == ["o-elsewhere", "o-yes", ack.order_id]  # oldest first
    assert all(f.count == D(4) for f in fills)
    # REST fills carry no client_order_id: ours is remembered, others are looked up once
    assert [f.client_order_id for f in fills] == ["coid-o-elsewhere", "coid-o-yes", "s"]
    assert fake.order_lookups == ["o-elsewhere", "o-yes"]


async def test_fills_since_filters_by_time() -> None:
    fake = FakeKalshi()
    fake.fills = [
        fill_json("a", "bid", "0.5000", created_time="2026-11-25T11:00:00Z"),
        fill_json("b", "bid", "0.5000", created_time="2026-11-25T13:00:00Z"),
    ]
    async with make_client(fake) as client:
        fills = await KalshiBroker(client).fills(since=datetime(2026, 11, 25, 12, tzinfo=UTC))
    assert [f.order_id for f in fills] == ["b"]


async def test_positions_balance_resting_orders_and_cancel() -> None:
    fake = FakeKalshi()
    async with make_client(fake) as client:
        broker = KalshiBroker(client)
        assert await broker.positions() == {"A": D(12), "B": D("-3.5")}
        assert await broker.balance() == D("1234.56")
        [resting] = await broker.resting_orders()
        assert (resting.order_id, resting.remaining_count) == ("o-9", D(2))
        await broker.cancel("o-9")
    assert fake.cancelled == ["o-9"]


async def test_a_market_archived_past_the_cutoff_is_found_in_historical() -> None:
    async with make_client(FakeKalshi()) as client:
        md = KalshiMarketData(client)
        old = await md.market("KXOLD-25JAN-T1")
        assert old.result is not None and old.result.value == "yes"
        with pytest.raises(NotFound, match="live or historical"):
            await md.market("KXGONE-1")


async def test_cancelling_an_order_that_is_already_gone_is_not_an_error() -> None:
    fake = FakeKalshi()

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/trade-api/v2")
        if request.method == "DELETE":
            return httpx.Response(404, json={"error": {"code": "not_found", "message": "gone"}})
        if path == "/portfolio/orders/o-resting":
            return httpx.Response(
                200, json={"order": {"order_id": "o-resting", "ticker": "T", "status": "resting"}}
            )
        return fake(request)

    async with make_client(handler) as client:
        broker = KalshiBroker(client)
        await broker.cancel("o-done")  # the fake says every other order is executed
        with pytest.raises(NotFound):
            await broker.cancel("o-resting")
