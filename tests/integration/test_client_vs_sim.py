"""Contract suite: the real Kalshi client against the simulated exchange over HTTP and WebSocket.

The server runs on 127.0.0.1 (a free port) in this event loop; every answer it gives and every
request body this client sends is checked against Kalshi's openapi.yaml / asyncapi.yaml by the
simulator's conformance helper, and every number the client reads is checked against what the
simulated book must contain.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from kalbot.adapters.kalshi import convert
from kalbot.adapters.kalshi.broker import KalshiBroker
from kalbot.adapters.kalshi.client import KalshiClient
from kalbot.adapters.kalshi.environments import resolve
from kalbot.adapters.kalshi.errors import AuthError, NotFound, OrderRejected
from kalbot.adapters.kalshi.market_data import KalshiMarketData
from kalbot.adapters.kalshi.ratelimit import RateLimiter
from kalbot.adapters.kalshi.signing import Signer, load_private_key
from kalbot.adapters.kalshi.ws import KalshiWebSocket
from kalbot.adapters.kalshi.ws_events import (
    Event,
    FillEvent,
    MarketPositionEvent,
    OrderbookSnapshot,
    SequenceGap,
    Subscribed,
    UserOrderEvent,
)
from kalbot.adapters.simulated.server.app import ServerOptions, serve
from kalbot.adapters.simulated.server.auth import generate_rsa_key_pem, load_public_key
from kalbot.adapters.simulated.server.builder import ApiKey, build_service
from kalbot.adapters.simulated.server.clock import AcceleratedClock
from kalbot.adapters.simulated.server.faults import FaultConfig
from kalbot.adapters.simulated.server.ratelimit import RateLimiter as ServerRateLimiter
from kalbot.adapters.simulated.server.service import ServiceConfig, SimService
from kalbot.domain.fees import taker_fee
from kalbot.domain.market import MarketResult, MarketStatus, OrderBook
from kalbot.domain.orders import Action, BookSide, OrderIntent, OrderStatus, TimeInForce, V2Order
from kalbot.domain.prices import Side
from sim_server.conformance import Conformance, conformance  # noqa: F401 - fixture
from sim_server.conftest import NO_MKT, START, YES_MKT, make_exchange, seed_book

D = Decimal


@pytest.fixture(scope="module")
def trader_pem() -> bytes:
    return generate_rsa_key_pem()


@dataclass
class Venue:
    client: KalshiClient
    public: KalshiClient
    ws_url: str
    signer: Signer
    clock: AcceleratedClock
    service: SimService


async def _fast_sleep(seconds: float) -> None:
    await asyncio.sleep(min(seconds, 0.01))


@pytest.fixture
def faults() -> FaultConfig | None:
    return None


@pytest.fixture
def results() -> tuple[MarketResult, MarketResult]:
    """How YES_MKT and NO_MKT will settle."""
    return (MarketResult.YES, MarketResult.NO)


@pytest.fixture
async def venue(
    tmp_path: Path,
    trader_pem: bytes,
    conformance: Conformance,  # noqa: F811 - the fixture imported above
    faults: FaultConfig | None,
    results: tuple[MarketResult, MarketResult],
) -> AsyncIterator[Venue]:
    clock = AcceleratedClock(START, speed=1.0)
    ex = make_exchange(clock, results)
    seed_book(ex)
    service, keys = build_service(
        ex,
        [ApiKey("trader", load_public_key(trader_pem), D("1000"))],
        faults=faults,
        config=ServiceConfig(settlement_delay=timedelta(minutes=5), tick_seconds=0.02),
    )
    service.flush()
    key_file = tmp_path / "trader.pem"
    key_file.write_bytes(trader_pem)
    key_file.chmod(0o600)
    signer = Signer("trader", load_private_key(key_file))
    options = ServerOptions(
        rate_limiter=ServerRateLimiter(enabled=False),
        tap=conformance.record,
        request_tap=conformance.record_request,  # every body this client sends, vs openapi.yaml
        ws_tap=conformance.record_ws,
        run_clock=True,
    )
    async with serve(service, keys, options) as server:
        endpoints = resolve(base_url=server.base_url)
        assert endpoints.ws_url == server.ws_url
        limiter = RateLimiter.unlimited()
        async with (
            KalshiClient(endpoints, signer=signer, limiter=limiter, sleep=_fast_sleep) as client,
            KalshiClient(server.base_url, limiter=limiter) as public,
        ):
            yield Venue(client, public, server.ws_url, signer, clock, service)


async def test_public_market_data_without_a_key(venue: Venue) -> None:
    status = await venue.public.exchange_status()
    assert status.exchange_active and status.trading_active
    tickers = sorted([m.ticker async for m in venue.public.iter_markets(limit=1)])
    assert tickers == [YES_MKT, NO_MKT]
    md = KalshiMarketData(venue.public)
    markets = {m.ticker: m async for m in md.open_markets()}
    m = markets[YES_MKT]
    assert m.category == "Testing" and m.series_ticker == "KXTEST"
    assert (m.quote.yes_bid, m.quote.yes_ask) == (D("0.40"), D("0.45"))
    assert (m.quote.no_bid, m.quote.no_ask) == (D("0.55"), D("0.60"))
    assert m.floor_strike == D("3.5") and not m.is_combo
    book = await md.orderbook(YES_MKT)
    assert [(lv.price, lv.size) for lv in book.levels(Side.YES)] == [
        (D("0.40"), D(100)),
        (D("0.38"), D(200)),
    ]
    assert [(lv.price, lv.size) for lv in book.levels(Side.NO)] == [
        (D("0.55"), D(100)),
        (D("0.53"), D(200)),
    ]
    with pytest.raises(NotFound):
        await md.market("KXNOPE-1")


async def test_portfolio_needs_a_signature(venue: Venue) -> None:
    with pytest.raises(AuthError):
        await venue.public.balance()


async def test_buy_yes_and_buy_no_fill_at_the_book_with_kalshi_fees(venue: Venue) -> None:
    md = KalshiMarketData(venue.client)
    broker = KalshiBroker(venue.client)
    market = await md.market(YES_MKT)
    yes = await broker.place(
        OrderIntent(YES_MKT, Side.YES, Action.BUY, D(10), D("0.45"), "c-yes", TimeInForce.IOC),
        market,
    )
    assert yes.status is OrderStatus.EXECUTED and yes.filled_count == D(10)
    other = await md.market(NO_MKT)
    no = await broker.place(
        OrderIntent(NO_MKT, Side.NO, Action.BUY, D(5), D("0.60"), "c-no", TimeInForce.IOC), other
    )
    assert no.filled_count == D(5)
    fills = {f.ticker: f for f in await broker.fills()}
    f_yes, f_no = fills[YES_MKT], fills[NO_MKT]
    assert (f_yes.side, f_yes.action, f_yes.price, f_yes.count) == (
        Side.YES,
        Action.BUY,
        D("0.45"),
        D(10),
    )
    assert f_yes.fee == taker_fee(D(10), D("0.45")) == D("0.18")
    assert (f_no.side, f_no.action, f_no.price, f_no.count) == (
        Side.NO,
        Action.BUY,
        D("0.60"),
        D(5),
    )
    assert f_no.fee == taker_fee(D(5), D("0.60"))
    assert (f_yes.client_order_id, f_no.client_order_id) == ("c-yes", "c-no")
    # a fresh broker (a restart) still learns each fill's client_order_id from its order
    again = {f.ticker: f for f in await KalshiBroker(venue.client).fills()}
    assert (again[YES_MKT].client_order_id, again[NO_MKT].client_order_id) == ("c-yes", "c-no")
    assert await broker.positions() == {YES_MKT: D(10), NO_MKT: D(-5)}
    cost = D("4.50") + f_yes.fee + D("3.00") + f_no.fee
    assert await broker.balance() == D(1000) - cost


@pytest.mark.parametrize("results", [(MarketResult.VOID, MarketResult.NO)])
async def test_a_voided_market_reads_as_finalized_without_result_and_pays_back_its_cost(
    venue: Venue,
) -> None:
    """Kalshi's wire has no ``void``: the market is finalized with ``result ""``; the broker
    reads what one contract paid from the account's settlement record (the engine closes the
    position at that, see tests/engine/test_loop.py)."""
    md, broker = KalshiMarketData(venue.client), KalshiBroker(venue.client)
    yes = OrderIntent(YES_MKT, Side.YES, Action.BUY, D(10), D("0.45"), "v-yes", TimeInForce.IOC)
    no = OrderIntent(NO_MKT, Side.NO, Action.BUY, D(5), D("0.60"), "v-no", TimeInForce.IOC)
    await broker.place(yes, await md.market(YES_MKT))
    await broker.place(no, await md.market(NO_MKT))
    assert await broker.settlement_payout(YES_MKT) is None  # nothing settled yet
    venue.clock.jump(timedelta(hours=6, minutes=6))  # past close and the settlement delay
    for _ in range(300):
        if {YES_MKT, NO_MKT} <= set(venue.service.settled_at):
            break
        await asyncio.sleep(0.02)
    voided, lost = await md.market(YES_MKT), await md.market(NO_MKT)
    assert voided.status is MarketStatus.FINALIZED and voided.result is None
    assert voided.settlement_value is None
    assert lost.result is MarketResult.NO and lost.settlement_value == 0
    assert await broker.settlement_payout(YES_MKT) == D("0.45")  # refunded at cost
    assert await broker.settlement_payout(NO_MKT) == D(1)  # 5 NO won $1.00 each


async def test_resting_order_is_listed_then_cancelled(venue: Venue) -> None:
    broker = KalshiBroker(venue.client)
    market = await KalshiMarketData(venue.client).market(YES_MKT)
    ack = await broker.place(
        OrderIntent(YES_MKT, Side.YES, Action.BUY, D(3), D("0.30"), "c-rest", TimeInForce.GTC),
        market,
    )
    assert ack.status is OrderStatus.RESTING and ack.remaining_count == D(3)
    assert [o.order_id for o in await broker.resting_orders()] == [ack.order_id]
    await broker.cancel(ack.order_id)
    assert await broker.resting_orders() == []


async def test_a_repeated_client_order_id_resolves_to_the_first_order(venue: Venue) -> None:
    order = V2Order(YES_MKT, BookSide.BID, D("0.31"), D(2), "same-id", TimeInForce.GTC)
    first = await venue.client.create_order(order)
    second = await venue.client.create_order(order)
    assert first.order_id == second.order_id
    resting = [o async for o in venue.client.iter_orders(ticker=YES_MKT, status="resting")]
    assert [o.client_order_id for o in resting] == ["same-id"]


async def test_off_grid_price_is_rejected_with_kalshis_code(venue: Venue) -> None:
    with pytest.raises(OrderRejected) as e:
        await venue.client.create_order(
            V2Order(YES_MKT, BookSide.BID, D("0.305"), D(1), "off-grid", TimeInForce.GTC)
        )
    assert e.value.code == "invalid_price"


@pytest.mark.parametrize("faults", [FaultConfig(drop_after_accept_rate=1.0, seed=3)])
async def test_dropped_reply_after_accept_is_retried_into_exactly_one_order(venue: Venue) -> None:
    broker = KalshiBroker(venue.client)
    market = await KalshiMarketData(venue.client).market(YES_MKT)
    ack = await broker.place(
        OrderIntent(YES_MKT, Side.YES, Action.BUY, D(4), D("0.32"), "c-drop", TimeInForce.GTC),
        market,
    )
    resting = await broker.resting_orders()
    assert [(o.order_id, o.client_order_id) for o in resting] == [(ack.order_id, "c-drop")]


@pytest.mark.parametrize("faults", [FaultConfig(error_rate=0.3, malformed_rate=0.3, seed=7)])
async def test_reads_survive_injected_5xx_and_truncated_bodies(venue: Venue) -> None:
    for _ in range(10):
        market = await KalshiMarketData(venue.client).market(YES_MKT)
        assert market.quote.yes_bid == D("0.40")


async def _collect_until(
    ws: KalshiWebSocket, stream: AsyncGenerator[Event, None], done: type, count: int = 1
) -> list[Event]:
    seen: list[Event] = []
    async with asyncio.timeout(10):
        async for event in stream:
            seen.append(event)
            if sum(isinstance(e, done) for e in seen) >= count:
                return seen
    return seen


def _levels(book: OrderBook) -> tuple[list[tuple[D, D]], list[tuple[D, D]]]:
    return (
        [(lv.price, lv.size) for lv in book.levels(Side.YES)],
        [(lv.price, lv.size) for lv in book.levels(Side.NO)],
    )


@pytest.mark.parametrize("use_yes_price", [True, False])
async def test_websocket_book_tracks_the_exchange_book(venue: Venue, use_yes_price: bool) -> None:
    ws = KalshiWebSocket(venue.ws_url, signer=venue.signer)
    await ws.subscribe(["orderbook_delta", "ticker"], [YES_MKT], use_yes_price=use_yes_price)
    stream = ws.events()
    try:
        seen = await _collect_until(ws, stream, OrderbookSnapshot)
        assert any(isinstance(e, Subscribed) and e.channel == "orderbook_delta" for e in seen)
        book = ws.book(YES_MKT)
        assert book is not None
        rest = convert.orderbook(YES_MKT, await venue.client.orderbook(YES_MKT))
        assert _levels(book) == _levels(rest)
        # trade through the REST API, then wait for the deltas to arrive
        await venue.client.create_order(
            V2Order(YES_MKT, BookSide.ASK, D("0.40"), D(30), "ws-1", TimeInForce.IOC)
        )
        await venue.client.create_order(
            V2Order(YES_MKT, BookSide.BID, D("0.42"), D(7), "ws-2", TimeInForce.GTC)
        )
        rest = convert.orderbook(YES_MKT, await venue.client.orderbook(YES_MKT))
        async with asyncio.timeout(10):
            async for _ in stream:
                if _levels(ws.books[YES_MKT]) == _levels(rest):
                    break
        assert ws.books[YES_MKT].quote() == rest.quote()
        assert rest.quote().yes_bid == D("0.42") and rest.quote().yes_bid_size == D(7)
    finally:
        await ws.close()
        await stream.aclose()


@pytest.mark.parametrize("faults", [FaultConfig(ws_gap_rate=0.5, seed=11)])
async def test_websocket_heals_sequence_gaps_with_a_fresh_snapshot(venue: Venue) -> None:
    ws = KalshiWebSocket(venue.ws_url, signer=venue.signer)
    await ws.subscribe(["orderbook_delta"], [YES_MKT])
    stream = ws.events()
    try:
        await _collect_until(ws, stream, OrderbookSnapshot)
        for i in range(8):
            price = D("0.30") + D(i) / 100
            await venue.client.create_order(
                V2Order(YES_MKT, BookSide.BID, price, D(1), f"gap-{i}", TimeInForce.GTC)
            )
        rest = convert.orderbook(YES_MKT, await venue.client.orderbook(YES_MKT))
        gaps = 0
        async with asyncio.timeout(15):
            async for event in stream:
                gaps += isinstance(event, SequenceGap)
                book = ws.book(YES_MKT)
                if gaps and book is not None and _levels(book) == _levels(rest):
                    break
        assert ws.gaps >= 1
        book = ws.book(YES_MKT)
        assert book is not None and _levels(book) == _levels(rest)
    finally:
        await ws.close()
        await stream.aclose()


async def test_private_channels_report_our_fill_order_and_position(venue: Venue) -> None:
    ws = KalshiWebSocket(venue.ws_url, signer=venue.signer)
    await ws.subscribe(["fill", "user_orders", "market_positions"])
    stream = ws.events()
    try:
        await _collect_until(ws, stream, Subscribed, count=3)
        await venue.client.create_order(
            V2Order(NO_MKT, BookSide.ASK, D("0.40"), D(6), "ws-fill", TimeInForce.IOC)
        )
        seen: list[Event] = []
        async with asyncio.timeout(10):
            async for event in stream:
                seen.append(event)
                kinds = {type(e) for e in seen}
                if {FillEvent, UserOrderEvent, MarketPositionEvent} <= kinds:
                    break
    finally:
        await ws.close()
        await stream.aclose()
    fill = next(e for e in seen if isinstance(e, FillEvent))
    assert (fill.ticker, fill.outcome_side, fill.yes_price, fill.count) == (
        NO_MKT,
        Side.NO,
        D("0.40"),
        D(6),
    )
    assert fill.client_order_id == "ws-fill" and fill.is_taker
    assert fill.fee == taker_fee(D(6), D("0.40"))
    order = next(e for e in seen if isinstance(e, UserOrderEvent))
    assert order.client_order_id == "ws-fill" and order.ticker == NO_MKT
    position = [e for e in seen if isinstance(e, MarketPositionEvent)][-1]
    assert (position.ticker, position.position) == (NO_MKT, D(-6))


async def test_settlement_shows_as_a_result_and_in_settlements(venue: Venue) -> None:
    broker = KalshiBroker(venue.client)
    md = KalshiMarketData(venue.client)
    market = await md.market(YES_MKT)
    intent = OrderIntent(
        YES_MKT, Side.YES, Action.BUY, D(2), D("0.45"), "c-settle", TimeInForce.IOC
    )
    await broker.place(intent, market)
    venue.clock.jump(timedelta(hours=7))  # past close (6 h) and the 5-minute settlement delay
    async with asyncio.timeout(10):
        while (await md.market(YES_MKT)).result is None:  # noqa: ASYNC110 - polls the server
            await asyncio.sleep(0.05)
    settled = await md.market(YES_MKT)
    assert settled.result is not None and settled.result.value == "yes"
    assert settled.status.value in {"determined", "finalized"}
    async with asyncio.timeout(10):
        while not (rows := await broker.settlements()):  # noqa: ASYNC110 - polls the server
            await asyncio.sleep(0.05)
    [row] = [r for r in rows if r.ticker == YES_MKT]
    assert row.market_result == "yes" and D(row.yes_count_fp or "0") == D(2)
    assert YES_MKT not in await broker.positions()  # settled positions leave the list


def test_started_at_the_simulated_epoch() -> None:
    assert datetime(2026, 6, 1, 12, 0, tzinfo=UTC) == START
