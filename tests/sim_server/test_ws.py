"""The WebSocket protocol over a real socket: auth, commands, seq, books, private channels.

Every message the server sends is validated against asyncapi.yaml by the conformance tap.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import ClientConnection, connect

from kalbot.adapters.simulated.server.faults import FaultConfig
from kalbot.domain.orders import BookSide, TimeInForce, V2Order

from .conftest import NO_MKT, YES_MKT, Sim

WS = "/trade-api/ws/v2"


@asynccontextmanager
async def ws_client(sim: Sim) -> AsyncIterator[ClientConnection]:
    headers = sim.signer.headers("GET", WS)
    async with connect(sim.server.ws_url, additional_headers=headers) as ws:
        yield ws


async def recv(ws: ClientConnection, pred: Callable[[dict[str, Any]], bool] | None = None,
               wait: float = 3.0) -> dict[str, Any]:  # fmt: skip
    """The next message (matching ``pred``), skipping others."""
    async with asyncio.timeout(wait):
        while True:
            msg = json.loads(await ws.recv())
            if pred is None or pred(msg):
                return dict(msg)


def of(kind: str) -> Callable[[dict[str, Any]], bool]:
    return lambda m: m.get("type") == kind


async def cmd(ws: ClientConnection, id_: int, name: str, **params: Any) -> None:
    body: dict[str, Any] = {"id": id_, "cmd": name}
    if params:
        body["params"] = params
    await ws.send(json.dumps(body))


async def test_unsigned_handshake_is_refused_with_401(sim: Sim) -> None:
    with pytest.raises(websockets.InvalidStatus) as e:
        async with connect(sim.server.ws_url):
            pass
    assert e.value.response.status_code == 401


async def test_orderbook_snapshot_then_deltas_with_consecutive_seq(sim: Sim) -> None:
    async with ws_client(sim) as ws:
        await cmd(ws, 1, "subscribe", channels=["orderbook_delta"], market_ticker=YES_MKT)
        sub = await recv(ws)
        assert sub == {
            "id": 1,
            "type": "subscribed",
            "msg": {"channel": "orderbook_delta", "sid": 1},
        }
        snap = await recv(ws)
        assert snap["type"] == "orderbook_snapshot" and snap["seq"] == 1
        assert snap["msg"]["yes_dollars_fp"] == [["0.3800", "200.00"], ["0.4000", "100.00"]]
        # No-leg pricing by default: NO bids at NO prices.
        assert snap["msg"]["no_dollars_fp"] == [["0.5300", "200.00"], ["0.5500", "100.00"]]
        r = await sim.order(side="bid", price="0.41", count="3", client_order_id="ws-1")
        assert r.status_code == 201
        delta = await recv(ws, of("orderbook_delta"))
        assert delta["seq"] == 2 and delta["sid"] == 1
        m = delta["msg"]
        assert (m["side"], m["price_dollars"], m["delta_fp"]) == ("yes", "0.4100", "3.00")
        assert m["client_order_id"] == "ws-1"  # our own order moved this level
        # Another account sells YES into that bid: the level empties.
        sim.exchange.place(
            "maker",
            V2Order(YES_MKT, BookSide.ASK, Decimal("0.41"), Decimal(3), "m-1", TimeInForce.IOC),
        )
        sim.service.flush()
        gone = await recv(ws, of("orderbook_delta"))
        assert gone["seq"] == 3
        assert "client_order_id" not in gone["msg"]  # another account's trade
        assert (gone["msg"]["price_dollars"], gone["msg"]["delta_fp"]) == ("0.4100", "-3.00")


async def test_use_yes_price_shows_no_bids_at_yes_prices(sim: Sim) -> None:
    async with ws_client(sim) as ws:
        await cmd(
            ws, 1, "subscribe", channels=["orderbook_delta"], market_tickers=[YES_MKT],
            use_yes_price=True,
        )  # fmt: skip
        snap = await recv(ws, of("orderbook_snapshot"))
        assert snap["msg"]["no_dollars_fp"] == [["0.4500", "100.00"], ["0.4700", "200.00"]]
        await sim.order(side="ask", price="0.44", count="2")  # a NO bid at 0.56 = YES 0.44
        delta = await recv(ws, of("orderbook_delta"))
        m = delta["msg"]
        assert (m["side"], m["price_dollars"], m["delta_fp"]) == ("no", "0.4400", "2.00")


async def test_trade_fill_user_order_position_and_ticker_messages(sim: Sim) -> None:
    async with ws_client(sim) as ws:
        await cmd(
            ws, 1, "subscribe",
            channels=["ticker", "trade", "fill", "user_orders", "market_positions"],
        )  # fmt: skip
        sids = {(await recv(ws, of("subscribed")))["msg"]["channel"] for _ in range(5)}
        assert sids == {"ticker", "trade", "fill", "user_orders", "market_positions"}
        await sim.order(ticker=NO_MKT, side="ask", price="0.40", count="5", client_order_id="n1")
        seen: dict[str, dict[str, Any]] = {}
        async with asyncio.timeout(3):
            while len(seen) < 5:
                msg = json.loads(await ws.recv())
                seen.setdefault(msg["type"], msg)
        fill = seen["fill"]["msg"]
        assert (fill["outcome_side"], fill["book_side"], fill["yes_price_dollars"]) == (
            "no", "ask", "0.4000",
        )  # fmt: skip
        assert fill["post_position_fp"] == "-5.00" and fill["fee_cost"] == "0.0900"
        assert fill["client_order_id"] == "n1"
        assert seen["trade"]["msg"]["taker_outcome_side"] == "no"
        assert seen["user_order"]["msg"]["client_order_id"] == "n1"
        assert seen["market_position"]["msg"]["position_fp"] == "-5.00"
        assert seen["market_position"]["msg"]["volume_fp"] == "5.00"
        assert seen["ticker"]["msg"]["price_dollars"] == "0.4000"


async def test_private_messages_go_only_to_their_account(sim: Sim, other_pem: bytes) -> None:
    from .signing import Signer

    other = Signer("other", other_pem)
    async with connect(sim.server.ws_url, additional_headers=other.headers("GET", WS)) as ws:
        await cmd(ws, 1, "subscribe", channels=["fill"])
        await recv(ws, of("subscribed"))
        await sim.order(side="bid", price="0.45", count="1")  # the trader's fill
        with pytest.raises(TimeoutError):
            await recv(ws, wait=0.5)


async def test_command_errors_carry_kalshi_codes(sim: Sim) -> None:
    async with ws_client(sim) as ws:
        await ws.send("not json")
        assert (await recv(ws))["msg"]["code"] == 1
        await cmd(ws, 2, "subscribe", channels=["nonsense"])
        assert (await recv(ws)) == {
            "id": 2,
            "type": "error",
            "msg": {"code": 8, "msg": "Unknown channel name"},
        }
        await cmd(ws, 3, "subscribe", channels=[])
        assert (await recv(ws))["msg"]["code"] == 3
        await cmd(ws, 4, "subscribe", channels=["orderbook_delta"])
        assert (await recv(ws))["msg"]["code"] == 14
        await cmd(ws, 5, "subscribe", channels=["orderbook_delta"], market_ticker="NOPE")
        err = await recv(ws)
        assert err["msg"]["code"] == 16 and err["msg"]["market_ticker"] == "NOPE"
        await cmd(ws, 6, "unsubscribe", sids=[99])
        assert (await recv(ws))["msg"]["code"] == 7
        await cmd(ws, 7, "frobnicate", x=1)
        assert (await recv(ws))["msg"]["code"] == 5
        await cmd(ws, 8, "update_subscription", sids=[1, 2], action="add_markets")
        assert (await recv(ws))["msg"]["code"] == 12


async def test_update_subscription_list_and_unsubscribe(sim: Sim) -> None:
    async with ws_client(sim) as ws:
        await cmd(ws, 1, "subscribe", channels=["orderbook_delta"], market_ticker=YES_MKT)
        await recv(ws, of("orderbook_snapshot"))
        await cmd(
            ws, 2, "update_subscription", sid=1, market_tickers=[NO_MKT], action="add_markets"
        )
        ok = await recv(ws, of("ok"))
        assert ok["msg"]["market_tickers"] == sorted([YES_MKT, NO_MKT]) and ok["seq"] == 2
        snap = await recv(ws, of("orderbook_snapshot"))
        assert snap["msg"]["market_ticker"] == NO_MKT and snap["seq"] == 3
        await cmd(ws, 3, "update_subscription", sids=[1], market_tickers=[YES_MKT],
                  action="get_snapshot")  # fmt: skip
        again = await recv(ws, of("orderbook_snapshot"))
        assert again["msg"]["market_ticker"] == YES_MKT and again["seq"] == 4
        await cmd(ws, 4, "update_subscription", sid=1, market_ticker=YES_MKT,
                  action="delete_markets")  # fmt: skip
        assert (await recv(ws, of("ok")))["msg"]["market_tickers"] == [NO_MKT]
        await cmd(ws, 5, "list_subscriptions")
        listed = await recv(ws, lambda m: m.get("id") == 5)
        assert listed["msg"] == [{"channel": "orderbook_delta", "sid": 1}]
        await cmd(ws, 6, "unsubscribe", sids=[1])
        gone = await recv(ws, of("unsubscribed"))
        assert gone["sid"] == 1 and gone["seq"] == 6
        await sim.order(ticker=NO_MKT, side="bid", price="0.41", count="1")
        with pytest.raises(TimeoutError):
            await recv(ws, wait=0.4)


async def test_resubscribing_a_channel_adds_markets_to_the_same_sid(sim: Sim) -> None:
    async with ws_client(sim) as ws:
        await cmd(ws, 1, "subscribe", channels=["orderbook_delta"], market_ticker=YES_MKT)
        await recv(ws, of("orderbook_snapshot"))
        await cmd(ws, 2, "subscribe", channels=["orderbook_delta"], market_ticker=NO_MKT)
        sub = await recv(ws, of("subscribed"))
        assert sub["msg"]["sid"] == 1
        snap = await recv(ws, of("orderbook_snapshot"))
        assert snap["msg"]["market_ticker"] == NO_MKT and snap["seq"] == 2


async def test_lifecycle_announces_determination_and_settlement(sim: Sim) -> None:
    async with ws_client(sim) as ws:
        await cmd(ws, 1, "subscribe", channels=["market_lifecycle_v2"])
        await recv(ws, of("subscribed"))
        sim.clock.jump(timedelta(hours=7))
        det = await recv(ws, lambda m: m.get("msg", {}).get("event_type") == "determined")
        assert det["msg"]["result"] in {"yes", "no"}
        settled = await recv(ws, lambda m: m.get("msg", {}).get("event_type") == "settled")
        assert "settled_ts" in settled["msg"]


@pytest.mark.parametrize("fault_config", [FaultConfig(ws_gap_rate=1.0, seed=1)])
async def test_injected_sequence_gap_skips_a_seq_number(sim: Sim) -> None:
    async with ws_client(sim) as ws:
        await cmd(ws, 1, "subscribe", channels=["orderbook_delta"], market_ticker=YES_MKT)
        snap = await recv(ws, of("orderbook_snapshot"))
        assert snap["seq"] == 1
        await sim.order(side="bid", price="0.41", count="1")  # its delta is swallowed
        await cmd(ws, 2, "update_subscription", sid=1, market_tickers=[YES_MKT],
                  action="get_snapshot")  # fmt: skip
        fresh = await recv(ws, of("orderbook_snapshot"))
        assert fresh["seq"] == 3  # seq 2 never arrived: a gap the client must heal
        assert ["0.4100", "1.00"] in fresh["msg"]["yes_dollars_fp"]
    assert sim.service.faults.injected["ws_gap"] == 1


@pytest.mark.parametrize("fault_config", [FaultConfig(ws_disconnect_rate=1.0, seed=1)])
async def test_injected_disconnect_closes_the_socket(sim: Sim) -> None:
    async with ws_client(sim) as ws:
        await cmd(ws, 1, "subscribe", channels=["orderbook_delta"], market_ticker=YES_MKT)
        await recv(ws, of("orderbook_snapshot"))
        with pytest.raises(websockets.ConnectionClosed):
            await recv(ws, wait=2)
    assert sim.service.faults.injected["ws_disconnect"] >= 1


async def test_ticker_initial_snapshot_on_request(sim: Sim) -> None:
    async with ws_client(sim) as ws:
        await cmd(ws, 1, "subscribe", channels=["ticker"], market_tickers=[YES_MKT, NO_MKT],
                  send_initial_snapshot=True)  # fmt: skip
        await recv(ws, of("subscribed"))
        first = await recv(ws, of("ticker"))
        second = await recv(ws, of("ticker"))
        assert {first["msg"]["market_ticker"], second["msg"]["market_ticker"]} == {YES_MKT, NO_MKT}
        assert first["msg"]["yes_bid_dollars"] == "0.4000"
        assert first["msg"]["yes_ask_dollars"] == "0.4500"
