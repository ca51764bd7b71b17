"""The REST surface over real HTTP on 127.0.0.1: shapes, status codes, auth, orders, both sides.

Every answer is validated against openapi.yaml by the ``conformance`` tap (see conftest).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .conftest import NO_MKT, YES_MKT, Sim


async def test_public_market_data_needs_no_key(sim: Sim) -> None:
    r = await sim.request("GET", "/markets", sign=False)
    assert r.status_code == 200
    body = r.json()
    assert [m["ticker"] for m in body["markets"]] == [YES_MKT, NO_MKT]
    m = body["markets"][0]
    assert m["status"] == "active"
    assert (m["yes_bid_dollars"], m["yes_ask_dollars"]) == ("0.4000", "0.4500")
    assert (m["no_bid_dollars"], m["no_ask_dollars"]) == ("0.5500", "0.6000")
    assert (m["yes_bid_size_fp"], m["yes_ask_size_fp"]) == ("100.00", "100.00")
    assert m["price_ranges"] == [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}]
    assert body["cursor"] == ""
    assert (await sim.request("GET", "/exchange/status", sign=False)).json()["trading_active"]


async def test_markets_paginate_with_cursor_and_filter_by_status(sim: Sim) -> None:
    first = (await sim.get("/markets", limit=1)).json()
    assert len(first["markets"]) == 1 and first["cursor"]
    second = (await sim.get("/markets", limit=1, cursor=first["cursor"])).json()
    assert second["markets"][0]["ticker"] == NO_MKT and second["cursor"] == ""
    assert (await sim.get("/markets", status="settled")).json()["markets"] == []
    assert len((await sim.get("/markets", status="open")).json()["markets"]) == 2
    bad = await sim.get("/markets", status="active")  # a response word, not a filter word
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_parameters"
    assert (await sim.get("/markets", cursor="garbage!")).status_code == 400


async def test_orderbook_is_ascending_with_best_bid_last(sim: Sim) -> None:
    book = (await sim.get(f"/markets/{YES_MKT}/orderbook")).json()["orderbook_fp"]
    assert book["yes_dollars"] == [["0.3800", "200.00"], ["0.4000", "100.00"]]
    # NO bids at NO prices: the YES asks 0.45 / 0.47 are NO bids 0.55 / 0.53.
    assert book["no_dollars"] == [["0.5300", "200.00"], ["0.5500", "100.00"]]
    top = (await sim.get(f"/markets/{YES_MKT}/orderbook", depth=1)).json()["orderbook_fp"]
    assert top["yes_dollars"] == [["0.4000", "100.00"]]


async def test_unknown_market_is_404_with_kalshi_error_body(sim: Sim) -> None:
    r = await sim.get("/markets/NOPE")
    assert r.status_code == 404
    assert r.json() == {"error": {"code": "market_not_found", "message": "no market NOPE"}}


async def test_portfolio_needs_a_valid_signature(sim: Sim) -> None:
    r = await sim.request("GET", "/portfolio/balance", sign=False)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "authentication_required"
    headers = sim.signer.headers("GET", "/trade-api/v2/portfolio/positions")  # wrong path
    r = await sim.client.get("/trade-api/v2/portfolio/balance", headers=headers)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "invalid_signature"
    stale = sim.signer.headers("GET", "/trade-api/v2/portfolio/balance", ts_ms=1_000)
    r = await sim.client.get("/trade-api/v2/portfolio/balance", headers=stale)
    assert r.status_code == 401 and r.json()["error"]["code"] == "stale_timestamp"


async def test_balance_in_cents_and_dollars(sim: Sim) -> None:
    b = (await sim.get("/portfolio/balance")).json()
    assert b["balance"] == 100_000
    assert b["balance_dollars"] == "1000.0000"
    assert b["portfolio_value"] == 0


async def test_buy_yes_takes_the_ask_and_pays_the_taker_fee(sim: Sim) -> None:
    r = await sim.order(side="bid", price="0.45", count="10", client_order_id="c-yes")
    assert r.status_code == 201, r.text
    ack = r.json()
    assert ack["fill_count"] == "10.00" and ack["remaining_count"] == "0.00"
    assert ack["average_fill_price"] == "0.4500"
    # fee = ceil(0.07 * 10 * 0.45 * 0.55 * 100) / 100 = ceil(17.325)/100 = $0.18 -> 0.018/contract
    assert ack["average_fee_paid"] == "0.0180"
    fills = (await sim.get("/portfolio/fills")).json()["fills"]
    assert len(fills) == 1
    f = fills[0]
    assert (f["outcome_side"], f["book_side"], f["is_taker"]) == ("yes", "bid", True)
    assert (f["yes_price_dollars"], f["no_price_dollars"]) == ("0.4500", "0.5500")
    assert f["fee_cost"] == "0.1800" and f["count_fp"] == "10.00"
    pos = (await sim.get("/portfolio/positions")).json()["market_positions"]
    assert [(p["ticker"], p["position_fp"]) for p in pos] == [(YES_MKT, "10.00")]
    b = (await sim.get("/portfolio/balance")).json()
    assert b["balance_dollars"] == "995.3200"  # 1000 - 4.50 - 0.18


async def test_buy_no_is_an_ask_at_the_yes_price_and_nets_negative(sim: Sim) -> None:
    # Buy NO at 0.60 == side=ask at YES 0.40: hits the YES bid 0.40.
    r = await sim.order(ticker=NO_MKT, side="ask", price="0.40", count="5", client_order_id="c-no")
    assert r.status_code == 201, r.text
    assert r.json()["average_fill_price"] == "0.4000"
    f = (await sim.get("/portfolio/fills", ticker=NO_MKT)).json()["fills"][0]
    assert (f["outcome_side"], f["book_side"]) == ("no", "ask")
    assert (f["yes_price_dollars"], f["no_price_dollars"]) == ("0.4000", "0.6000")
    # fee = ceil(0.07 * 5 * 0.4 * 0.6 * 100)/100 = ceil(8.4)/100 = 0.09
    assert f["fee_cost"] == "0.0900"
    pos = (await sim.get("/portfolio/positions", ticker=NO_MKT)).json()["market_positions"]
    assert pos[0]["position_fp"] == "-5.00"
    assert pos[0]["market_exposure_dollars"] == "3.0000"  # 5 NO at 0.60
    b = (await sim.get("/portfolio/balance")).json()
    assert b["balance_dollars"] == "996.9100"  # 1000 - 3.00 - 0.09


async def test_resting_order_lists_cancels_and_reports_reduced_by(sim: Sim) -> None:
    r = await sim.order(side="bid", price="0.30", count="7", client_order_id="rest-1")
    oid = r.json()["order_id"]
    assert r.json()["remaining_count"] == "7.00" and "average_fill_price" not in r.json()
    orders = (await sim.get("/portfolio/orders", status="resting")).json()["orders"]
    assert [o["order_id"] for o in orders] == [oid]
    assert orders[0]["client_order_id"] == "rest-1"
    assert orders[0]["yes_price_dollars"] == "0.3000"
    one = (await sim.get(f"/portfolio/orders/{oid}")).json()["order"]
    assert one["status"] == "resting"
    c = await sim.request("DELETE", f"/portfolio/events/orders/{oid}")
    assert c.status_code == 200
    assert c.json()["reduced_by"] == "7.00" and c.json()["client_order_id"] == "rest-1"
    assert (await sim.get(f"/portfolio/orders/{oid}")).json()["order"]["status"] == "canceled"
    again = await sim.request("DELETE", f"/portfolio/events/orders/{oid}")
    assert again.status_code == 404


async def test_duplicate_client_order_id_is_409_and_no_second_order(sim: Sim) -> None:
    first = await sim.order(side="bid", price="0.30", count="1", client_order_id="dup")
    assert first.status_code == 201
    second = await sim.order(side="bid", price="0.30", count="1", client_order_id="dup")
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "order_already_exists"
    assert len((await sim.get("/portfolio/orders")).json()["orders"]) == 1


async def test_bad_orders_are_refused_with_a_named_field(sim: Sim) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"price": 0.5}, "price"),
        ({"price": "0.505"}, "invalid_price"),  # off the cent grid
        ({"price": "1.00"}, "price"),
        ({"count": "0"}, "count"),
        ({"count": "1.234"}, "count"),
        ({"side": "yes"}, "side"),
        ({"time_in_force": "gtc"}, "time_in_force"),
        ({"self_trade_prevention_type": None}, "self_trade_prevention_type"),
        ({"ticker": "NOPE"}, "market_not_found"),
    ]
    for change, needle in cases:
        r = await sim.order(**change)
        assert r.status_code in {400, 404}, (change, r.text)
        err = r.json()["error"]
        assert needle in err["message"] or needle == err["code"], (change, err)
    assert (await sim.get("/portfolio/orders")).json()["orders"] == []
    b = (await sim.get("/portfolio/balance")).json()
    assert b["balance_dollars"] == "1000.0000"


async def test_insufficient_balance_is_refused(sim: Sim) -> None:
    r = await sim.order(side="bid", price="0.30", count="5000")
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "available_balance_too_low"


async def test_amend_and_decrease(sim: Sim) -> None:
    oid = (await sim.order(side="bid", price="0.30", count="10", client_order_id="am")).json()[
        "order_id"
    ]
    r = await sim.request(
        "POST",
        f"/portfolio/events/orders/{oid}/amend",
        json={"ticker": YES_MKT, "side": "bid", "price": "0.32", "count": "8"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["remaining_count"] == "8.00"
    r = await sim.request(
        "POST", f"/portfolio/events/orders/{oid}/decrease", json={"reduce_by": "3"}
    )
    assert r.status_code == 200 and r.json()["remaining_count"] == "5.00"
    r = await sim.request(
        "POST",
        f"/portfolio/events/orders/{oid}/decrease",
        json={"reduce_by": "1", "reduce_to": "1"},
    )
    assert r.status_code == 400
    o = (await sim.get(f"/portfolio/orders/{oid}")).json()["order"]
    assert (o["yes_price_dollars"], o["remaining_count_fp"]) == ("0.3200", "5.00")


async def test_batch_create_reports_per_item_errors(sim: Sim) -> None:
    good = {
        "ticker": YES_MKT,
        "side": "bid",
        "count": "1",
        "price": "0.20",
        "time_in_force": "good_till_canceled",
        "self_trade_prevention_type": "taker_at_cross",
        "client_order_id": "b1",
    }
    bad = dict(good, client_order_id="b2", price="0.205")
    r = await sim.request("POST", "/portfolio/events/orders/batched", json={"orders": [good, bad]})
    assert r.status_code == 201
    a, b = r.json()["orders"]
    assert a["remaining_count"] == "1.00" and "error" not in a
    assert b["error"]["code"] == "invalid_price" and b["client_order_id"] == "b2"
    c = await sim.request(
        "DELETE",
        "/portfolio/events/orders/batched",
        json={"orders": [{"order_id": a["order_id"]}, {"order_id": "nope"}]},
    )
    assert c.status_code == 200
    x, y = c.json()["orders"]
    assert x["reduced_by"] == "1.00" and y["error"]["code"] == "not_found"


async def test_accounts_are_isolated(sim: Sim, other_pem: bytes) -> None:
    from .signing import Signer

    oid = (await sim.order(side="bid", price="0.30", count="1")).json()["order_id"]
    other = Signer("other", other_pem)
    path = f"/trade-api/v2/portfolio/orders/{oid}"
    r = await sim.client.get(path, headers=other.headers("GET", path))
    assert r.status_code == 404


async def test_market_closes_then_settles_on_schedule_paying_winners(sim: Sim) -> None:
    from datetime import timedelta

    await sim.order(side="bid", price="0.45", count="10", client_order_id="y")  # long YES_MKT
    await sim.order(ticker=NO_MKT, side="ask", price="0.40", count="5", client_order_id="n")
    sim.clock.jump(timedelta(hours=6, minutes=1))  # past close, before settlement
    await _until(sim, lambda m: m["status"] == "closed", YES_MKT)
    closed = await sim.order(side="bid", price="0.45", count="1")
    assert closed.status_code == 400 and closed.json()["error"]["code"] == "MARKET_INACTIVE"
    sim.clock.jump(timedelta(minutes=5))
    await _until(sim, lambda m: m["status"] == "finalized", NO_MKT)
    m = (await sim.get(f"/markets/{YES_MKT}")).json()["market"]
    assert m["result"] == "yes" and m["settlement_value_dollars"] == "1.0000"
    sets = (await sim.get("/portfolio/settlements")).json()["settlements"]
    by_ticker = {s["ticker"]: s for s in sets}
    assert by_ticker[YES_MKT]["revenue"] == 1000  # 10 YES won: $10.00
    assert by_ticker[YES_MKT]["yes_count_fp"] == "10.00"
    assert by_ticker[NO_MKT]["revenue"] == 500  # 5 NO won on a NO result: $5.00
    assert by_ticker[NO_MKT]["no_count_fp"] == "5.00"
    assert by_ticker[NO_MKT]["market_result"] == "no"
    b = (await sim.get("/portfolio/balance")).json()
    # 1000 - 4.68 (YES leg) - 3.09 (NO leg) + 10 + 5
    assert Decimal(b["balance_dollars"]) == Decimal("1007.23")
    assert (await sim.get("/portfolio/positions")).json()["market_positions"] == []


async def _until(sim: Sim, pred: object, ticker: str) -> None:
    import asyncio

    for _ in range(200):
        m = (await sim.get(f"/markets/{ticker}")).json()["market"]
        if pred(m):  # type: ignore[operator]
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{ticker} never reached the expected state: {m['status']}")


async def test_events_series_and_trades(sim: Sim) -> None:
    await sim.order(side="bid", price="0.45", count="2")
    ev = (await sim.get("/events", with_nested_markets="true")).json()["events"]
    assert ev[0]["event_ticker"] == "KXTEST-26JUN01" and len(ev[0]["markets"]) == 2
    one = (await sim.get("/events/KXTEST-26JUN01")).json()
    assert {m["ticker"] for m in one["markets"]} == {YES_MKT, NO_MKT}
    series = (await sim.get("/series/KXTEST")).json()["series"]
    assert series["category"] == "Testing" and series["fee_type"] == "quadratic"
    trades = (await sim.get("/markets/trades", ticker=YES_MKT)).json()["trades"]
    assert trades[0]["yes_price_dollars"] == "0.4500" and trades[0]["taker_book_side"] == "bid"
    assert (await sim.get("/series/NOPE")).status_code == 400


async def test_legacy_write_endpoint_says_switch_to_v2(sim: Sim) -> None:
    r = await sim.request("POST", "/portfolio/orders", json={"ticker": YES_MKT})
    assert r.status_code == 400
    assert "V2" in r.json()["error"]["message"]


async def test_paths_not_served_answer_in_kalshi_error_shape(sim: Sim) -> None:
    r = await sim.get("/communications/rfqs")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
    r = await sim.request("PUT", "/markets")
    assert r.status_code == 405
    assert r.json()["error"]["code"] == "method_not_allowed"
