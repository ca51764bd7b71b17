"""The WebSocket client against a scripted websockets server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncGenerator, Awaitable, Callable
from decimal import Decimal
from http import HTTPStatus
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from kalbot.adapters.kalshi.errors import AuthError
from kalbot.adapters.kalshi.signing import Signer
from kalbot.adapters.kalshi.ws import KalshiWebSocket
from kalbot.adapters.kalshi.ws_events import (
    CommandError,
    CommandOk,
    Event,
    FillEvent,
    LifecycleEvent,
    MarketPositionEvent,
    OrderbookDelta,
    OrderbookSnapshot,
    Reconnected,
    SequenceGap,
    TradeEvent,
    Unsubscribed,
    UserOrderEvent,
)
from kalbot.domain.prices import Side

D = Decimal
Script = Callable[[ServerConnection, int], Awaitable[None]]


class FakeServer:
    """Runs ``script(connection, n)`` for the n-th connection; records every command."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.commands: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.connections = 0

    async def handler(self, conn: ServerConnection) -> None:
        self.connections += 1
        assert conn.request is not None
        self.headers.append(dict(conn.request.headers))
        await self.script(conn, self.connections)

    async def command(self, conn: ServerConnection) -> dict[str, Any]:
        cmd: dict[str, Any] = json.loads(await conn.recv())
        self.commands.append(cmd)
        return cmd


async def _send(conn: ServerConnection, **message: Any) -> None:
    await conn.send(json.dumps(message))


def snapshot(sid: int, seq: int, yes: list[list[str]], no: list[list[str]]) -> dict[str, Any]:
    return {
        "type": "orderbook_snapshot",
        "sid": sid,
        "seq": seq,
        "msg": {"market_ticker": "T", "market_id": "m", "yes_dollars_fp": yes, "no_dollars_fp": no},
    }


def delta(sid: int, seq: int, side: str, price: str, d: str) -> dict[str, Any]:
    return {
        "type": "orderbook_delta",
        "sid": sid,
        "seq": seq,
        "msg": {
            "market_ticker": "T",
            "market_id": "m",
            "price_dollars": price,
            "delta_fp": d,
            "side": side,
        },
    }


async def run(
    fake: FakeServer,
    client_setup: Callable[[KalshiWebSocket], Awaitable[None]],
    until: Callable[[list[Event]], bool],
    **kw: Any,
) -> tuple[KalshiWebSocket, list[Event]]:
    async with serve(fake.handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        url = f"ws://127.0.0.1:{port}/trade-api/ws/v2"
        ws = KalshiWebSocket(url, sleep=lambda s: asyncio.sleep(0), **kw)
        await client_setup(ws)
        seen: list[Event] = []
        stream: AsyncGenerator[Event, None] = ws.events()
        try:
            async with asyncio.timeout(5):
                async for event in stream:
                    seen.append(event)
                    if until(seen):
                        break
        finally:
            await ws.close()
            await stream.aclose()
    return ws, seen


async def test_snapshot_then_deltas_build_the_book_with_yes_prices_on_the_no_side() -> None:
    async def script(conn: ServerConnection, n: int) -> None:
        cmd = await fake.command(conn)
        await _send(
            conn, id=cmd["id"], type="subscribed", msg={"channel": "orderbook_delta", "sid": 7}
        )
        # use_yes_price: the NO bid at NO 0.55 arrives as YES price 0.45
        await conn.send(json.dumps(snapshot(7, 1, [["0.4000", "100.00"]], [["0.4500", "50.00"]])))
        await conn.send(json.dumps(delta(7, 2, "yes", "0.4100", "25.00")))
        await conn.send(json.dumps(delta(7, 3, "no", "0.4500", "-20.00")))
        await conn.send(json.dumps(delta(7, 4, "yes", "0.4000", "-100.00")))
        await conn.wait_closed()

    fake = FakeServer(script)

    async def setup(ws: KalshiWebSocket) -> None:
        await ws.subscribe(["orderbook_delta"], ["T"], use_yes_price=True)

    ws, _ = await run(fake, setup, lambda s: sum(isinstance(e, OrderbookDelta) for e in s) == 3)
    assert fake.commands[0]["params"] == {
        "channels": ["orderbook_delta"],
        "market_tickers": ["T"],
        "use_yes_price": True,
    }
    book = ws.book("T")
    assert book is not None
    assert book.yes == {D("0.41"): D(25)}
    assert book.no == {D("0.55"): D(30)}
    q = book.quote()
    assert (q.yes_bid, q.yes_ask, q.yes_ask_size) == (D("0.41"), D("0.45"), D(30))


async def test_a_sequence_gap_marks_the_book_stale_and_asks_for_a_snapshot() -> None:
    async def script(conn: ServerConnection, n: int) -> None:
        cmd = await fake.command(conn)
        await _send(
            conn, id=cmd["id"], type="subscribed", msg={"channel": "orderbook_delta", "sid": 1}
        )
        await conn.send(json.dumps(snapshot(1, 1, [["0.4000", "10.00"]], [])))
        await conn.send(json.dumps(delta(1, 2, "yes", "0.4000", "5.00")))
        await conn.send(json.dumps(delta(1, 4, "yes", "0.4000", "99.00")))  # seq 3 lost
        resync = await fake.command(conn)
        assert resync["cmd"] == "update_subscription"
        await conn.send(json.dumps(delta(1, 5, "yes", "0.4000", "1.00")))  # ignored: stale
        await conn.send(json.dumps(snapshot(1, 6, [["0.4000", "16.00"]], [["0.5000", "2.00"]])))
        await conn.wait_closed()

    fake = FakeServer(script)

    async def setup(ws: KalshiWebSocket) -> None:
        await ws.subscribe(["orderbook_delta"], ["T"], use_yes_price=False)

    def until(seen: list[Event]) -> bool:
        return sum(type(e).__name__ == "OrderbookSnapshot" for e in seen) == 2

    ws, seen = await run(fake, setup, until)
    gaps = [e for e in seen if isinstance(e, SequenceGap)]
    assert gaps == [SequenceGap(1, 3, 4, ("T",))]
    assert fake.commands[1]["params"] == {
        "sids": [1],
        "market_tickers": ["T"],
        "action": "get_snapshot",
    }
    book = ws.book("T")
    assert book is not None and book.yes == {D("0.40"): D(16)} and book.no == {D("0.50"): D(2)}
    assert ws.gaps == 1


async def test_a_dropped_connection_reconnects_resubscribes_and_rebuilds() -> None:
    async def script(conn: ServerConnection, n: int) -> None:
        cmd = await fake.command(conn)
        await _send(
            conn, id=cmd["id"], type="subscribed", msg={"channel": "orderbook_delta", "sid": n}
        )
        await conn.send(json.dumps(snapshot(n, 1, [[f"0.{40 + n}00", "1.00"]], [])))
        if n == 1:
            await conn.close()
            return
        await conn.wait_closed()

    fake = FakeServer(script)

    async def setup(ws: KalshiWebSocket) -> None:
        await ws.subscribe(["orderbook_delta"], ["T"])

    ws, seen = await run(
        fake, setup, lambda s: sum(type(e).__name__ == "OrderbookSnapshot" for e in s) == 2
    )
    assert [type(e).__name__ for e in seen] == [
        "Subscribed",
        "OrderbookSnapshot",
        "Reconnected",
        "Subscribed",
        "OrderbookSnapshot",
    ]
    assert isinstance(seen[2], Reconnected)
    assert [c["cmd"] for c in fake.commands] == ["subscribe", "subscribe"]
    book = ws.book("T")
    assert book is not None and book.yes == {D("0.42"): D(1)}
    assert ws.reconnects == 1


async def test_malformed_frames_are_skipped_and_private_channels_parse() -> None:
    frames = [
        "not json",
        json.dumps(
            {
                "type": "orderbook_delta",
                "sid": 1,
                "seq": 1,
                "msg": {"market_ticker": "T", "side": "yes"},
            }
        ),
        json.dumps(
            {
                "type": "trade",
                "msg": {"market_ticker": "T", "yes_price_dollars": 0.5, "count_fp": "1.00"},
            }
        ),
        json.dumps(
            {
                "type": "trade",
                "sid": 2,
                "msg": {
                    "trade_id": "t1",
                    "market_ticker": "T",
                    "yes_price_dollars": "0.3600",
                    "no_price_dollars": "0.6400",
                    "count_fp": "3.00",
                    "taker_outcome_side": "no",
                    "ts_ms": 1_700_000_000_000,
                },
            }
        ),
        json.dumps(
            {
                "type": "fill",
                "sid": 3,
                "msg": {
                    "trade_id": "t2",
                    "order_id": "o1",
                    "market_ticker": "T",
                    "is_taker": True,
                    "outcome_side": "no",
                    "book_side": "ask",
                    "yes_price_dollars": "0.3600",
                    "count_fp": "2.00",
                    "fee_cost": "0.0400",
                    "post_position_fp": "-2.00",
                    "client_order_id": "c1",
                    "ts_ms": 1_700_000_000_000,
                },
            }
        ),
        json.dumps(
            {
                "type": "user_order",
                "sid": 4,
                "msg": {
                    "order_id": "o1",
                    "client_order_id": "c1",
                    "ticker": "T",
                    "status": "executed",
                    "yes_price_dollars": "0.3600",
                    "fill_count_fp": "2.00",
                    "remaining_count_fp": "0.00",
                },
            }
        ),
        json.dumps(
            {
                "type": "market_position",
                "sid": 5,
                "msg": {
                    "market_ticker": "T",
                    "position_fp": "-2.00",
                    "fees_paid_dollars": "0.0400",
                },
            }
        ),
        json.dumps(
            {
                "type": "market_lifecycle_v2",
                "sid": 6,
                "msg": {"event_type": "determined", "market_ticker": "T", "result": "no"},
            }
        ),
        json.dumps({"id": 9, "type": "error", "msg": {"code": 8, "msg": "Unknown channel name"}}),
    ]

    async def script(conn: ServerConnection, n: int) -> None:
        for frame in frames:
            await conn.send(frame)
        await conn.wait_closed()

    fake = FakeServer(script)

    async def setup(ws: KalshiWebSocket) -> None:
        return None

    ws, seen = await run(fake, setup, lambda s: any(isinstance(e, CommandError) for e in s))
    assert ws.malformed == 3  # not JSON; a delta without price; a float price
    trade, fill, order, position, life, error = seen
    assert isinstance(trade, TradeEvent)
    assert (trade.yes_price, trade.count, trade.taker_side) == (D("0.36"), D(3), Side.NO)
    assert isinstance(fill, FillEvent)
    assert (fill.outcome_side, fill.yes_price, fill.fee, fill.post_position) == (
        Side.NO,
        D("0.36"),
        D("0.04"),
        D(-2),
    )
    assert (
        isinstance(order, UserOrderEvent)
        and order.status == "executed"
        and order.fill_count == D(2)
    )
    assert isinstance(position, MarketPositionEvent) and position.position == D(-2)
    assert isinstance(life, LifecycleEvent) and (life.event_type, life.result) == (
        "determined",
        "no",
    )
    assert isinstance(error, CommandError) and error.code == 8


async def test_handshake_is_signed_over_the_ws_path(rsa_key: rsa.RSAPrivateKey) -> None:
    async def script(conn: ServerConnection, n: int) -> None:
        await _send(conn, id=1, type="ok", msg=[])
        await conn.wait_closed()

    fake = FakeServer(script)

    async def setup(ws: KalshiWebSocket) -> None:
        return None

    await run(fake, setup, lambda s: len(s) == 1, signer=Signer("kid", rsa_key))
    h = {k.lower(): v for k, v in fake.headers[0].items()}
    assert h["kalshi-access-key"] == "kid"
    rsa_key.public_key().verify(
        base64.b64decode(h["kalshi-access-signature"]),
        (h["kalshi-access-timestamp"] + "GET/trade-api/ws/v2").encode(),
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
        hashes.SHA256(),
    )


async def test_subscribe_refuses_unknown_channels_and_books_without_tickers() -> None:
    ws = KalshiWebSocket("ws://127.0.0.1:1/trade-api/ws/v2")
    with pytest.raises(ValueError, match="unknown channel"):
        await ws.subscribe(["ticker_v2"])
    with pytest.raises(ValueError, match="needs market tickers"):
        await ws.subscribe(["orderbook_delta"])


async def test_add_markets_and_unsubscribe_send_the_documented_commands() -> None:
    async def script(conn: ServerConnection, n: int) -> None:
        cmd = await fake.command(conn)
        await _send(
            conn, id=cmd["id"], type="subscribed", msg={"channel": "orderbook_delta", "sid": 3}
        )
        await conn.send(json.dumps(snapshot(3, 1, [["0.1000", "1.00"]], [])))
        update = await fake.command(conn)
        await _send(
            conn, id=update["id"], sid=3, seq=2, type="ok", msg={"market_tickers": ["T", "U"]}
        )
        unsub = await fake.command(conn)
        await _send(conn, id=unsub["id"], sid=3, seq=3, type="unsubscribed")
        await conn.wait_closed()

    fake = FakeServer(script)
    async with serve(fake.handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        ws = KalshiWebSocket(f"ws://127.0.0.1:{port}/trade-api/ws/v2")
        sub = await ws.subscribe(["orderbook_delta"], ["T"])
        stream = ws.events()
        try:
            async with asyncio.timeout(5):
                async for event in stream:
                    if isinstance(event, OrderbookSnapshot):
                        await ws.update_subscription(3, "add_markets", ["U"])
                    elif isinstance(event, CommandOk):
                        await ws.unsubscribe(sub)
                    elif isinstance(event, Unsubscribed):
                        break
        finally:
            await ws.close()
            await stream.aclose()
    assert [c["cmd"] for c in fake.commands] == ["subscribe", "update_subscription", "unsubscribe"]
    assert fake.commands[1]["params"] == {
        "sids": [3],
        "market_tickers": ["U"],
        "action": "add_markets",
    }
    assert fake.commands[2]["params"] == {"sids": [3]}
    assert sub.tickers == ("T", "U")
    assert ws.book("T") is None and ws.gaps == 0  # ok/unsubscribed seq 2, 3 follow the snapshot


async def test_a_refused_handshake_is_an_auth_error_not_an_endless_retry() -> None:
    def refuse(conn: ServerConnection, request: Request) -> Response:
        return conn.respond(HTTPStatus.UNAUTHORIZED, "bad signature\n")

    async def handler(conn: ServerConnection) -> None:
        await conn.wait_closed()

    async with serve(handler, "127.0.0.1", 0, process_request=refuse) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        ws = KalshiWebSocket(f"ws://127.0.0.1:{port}/trade-api/ws/v2")
        stream = ws.events()
        with pytest.raises(AuthError, match="HTTP 401"):
            async with asyncio.timeout(5):
                async for _ in stream:
                    pass


async def test_backoff_grows_while_every_session_dies_at_once() -> None:
    async def script(conn: ServerConnection, n: int) -> None:
        await fake.command(conn)
        if n < 4:
            return  # closed before any message
        await _send(conn, id=99, type="ok", msg=[])
        await conn.wait_closed()

    fake = FakeServer(script)
    delays: list[float] = []

    async def record(seconds: float) -> None:
        delays.append(seconds)

    async with serve(fake.handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        ws = KalshiWebSocket(
            f"ws://127.0.0.1:{port}/trade-api/ws/v2", sleep=record, rng=lambda: 1.0
        )
        await ws.subscribe(["ticker"])
        stream = ws.events()
        try:
            async with asyncio.timeout(5):
                async for event in stream:
                    if isinstance(event, CommandOk):
                        break
        finally:
            await ws.close()
            await stream.aclose()
    assert delays == [0.5, 1.0, 2.0]  # base 0.5 doubling; rng=1 takes the full ceiling
    assert ws.reconnects == 3
