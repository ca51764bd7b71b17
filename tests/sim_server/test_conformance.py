"""The conformance checker itself: it must fail, naming the field, when a body breaks the spec."""

from __future__ import annotations

import httpx
import pytest

from .conformance import Conformance, ConformanceError
from .conftest import YES_MKT, Sim


@pytest.fixture(scope="module")
def conf() -> Conformance:
    return Conformance.load()


def test_missing_required_field_is_named_with_its_path(conf: Conformance) -> None:
    with pytest.raises(ConformanceError, match=r"GET /portfolio/balance 200: .*balance_dollars"):
        conf.check_response("GET", "/portfolio/balance", 200, {"balance": 1, "portfolio_value": 0,
                                                                "updated_ts": 0})  # fmt: skip


def test_fixed_point_strings_are_checked_beyond_the_spec(conf: Conformance) -> None:
    body = {"balance": 1, "balance_dollars": "0.01", "portfolio_value": 0, "updated_ts": 0}
    with pytest.raises(ConformanceError, match=r"\$\.balance_dollars: '0.01' is not a 4-decimal"):
        conf.check_response("GET", "/portfolio/balance", 200, body)
    book = {"orderbook_fp": {"yes_dollars": [["0.4", "1.00"]], "no_dollars": []}}
    with pytest.raises(ConformanceError, match=r"yes_dollars\[0\]"):
        conf.check_response("GET", "/markets/{ticker}/orderbook", 200, book)


def test_wrong_type_and_bad_enum_are_failures(conf: Conformance) -> None:
    with pytest.raises(ConformanceError, match="exchange_active"):
        conf.check_response("GET", "/exchange/status", 200, {"exchange_active": "yes",
                                                             "trading_active": True})  # fmt: skip


def test_undocumented_status_and_error_shape(conf: Conformance) -> None:
    with pytest.raises(ConformanceError, match="not documented"):
        conf.check_response("DELETE", "/portfolio/events/orders/{order_id}", 400, {})
    with pytest.raises(ConformanceError, match=r"\$\.error\.code"):
        conf.check_response("GET", "/portfolio/balance", 401, {"error": {"message": "x"}})
    conf.check_response("GET", "/markets", 429, {"error": "too many requests"})
    conf.check_response("GET", "/markets", 503, {"error": {"code": "x", "message": "y"}})


def test_ws_payloads_are_checked(conf: Conformance) -> None:
    with pytest.raises(ConformanceError, match=r"WS orderbook_delta: .*delta_fp"):
        conf.check_ws({"type": "orderbook_delta", "sid": 1, "seq": 1,
                       "msg": {"market_ticker": "X", "market_id": "m", "price_dollars": "0.4000",
                               "side": "yes"}})  # fmt: skip
    with pytest.raises(ConformanceError, match="not a message type"):
        conf.check_ws({"type": "mystery"})
    conf.check_ws({"id": 1, "type": "ok", "msg": [{"channel": "ticker", "sid": 1}]})


def test_recording_collects_instead_of_raising(conf: Conformance) -> None:
    c = Conformance(conf.specs)
    c.record("GET", "/exchange/status", 200, {"exchange_active": True, "trading_active": True})
    c.record_ws({"type": "subscribed", "msg": {"channel": "ticker"}})
    assert c.checked == 2 and len(c.problems) == 1
    with pytest.raises(ConformanceError, match="1 of 2"):
        c.assert_clean()


def test_request_bodies_are_checked_against_the_request_schema(conf: Conformance) -> None:
    good = {
        "ticker": "X",
        "side": "ask",
        "count": "10",
        "price": "0.70",
        "time_in_force": "immediate_or_cancel",
        "self_trade_prevention_type": "taker_at_cross",
        "client_order_id": "c",
    }
    conf.check_request("POST", "/portfolio/events/orders", good)
    with pytest.raises(ConformanceError, match=r"request: .*self_trade_prevention_type"):
        conf.check_request(
            "POST", "/portfolio/events/orders",
            {k: v for k, v in good.items() if k != "self_trade_prevention_type"},
        )  # fmt: skip
    with pytest.raises(ConformanceError, match=r"\$\.side: 'yes' is not one of"):
        conf.check_request("POST", "/portfolio/events/orders", dict(good, side="yes"))
    with pytest.raises(ConformanceError, match=r"\$\.price: '0.7' is not a dollar string"):
        conf.check_request("POST", "/portfolio/events/orders", dict(good, price="0.7"))
    with pytest.raises(ConformanceError, match=r"orders\[0\]\.count"):
        conf.check_request(
            "POST", "/portfolio/events/orders/batched", {"orders": [dict(good, count="1.005")]}
        )


async def test_server_request_tap_sees_the_bodies_clients_send(sim: Sim) -> None:
    conf = Conformance.load()
    # A fresh server with the request tap on: a valid order passes, a legacy-shaped one is named.
    from kalbot.adapters.simulated.server.app import ServerOptions, serve

    opts = ServerOptions(request_tap=conf.record_request, run_clock=False)
    async with (
        serve(sim.service, sim.keys, opts) as srv,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{srv.port}") as c,
    ):
        path = "/trade-api/v2/portfolio/events/orders"
        body = {
            "ticker": YES_MKT, "side": "bid", "count": "1", "price": "0.30",
            "time_in_force": "good_till_canceled", "self_trade_prevention_type": "maker",
        }  # fmt: skip
        r = await c.post(path, json=body, headers=sim.signer.headers("POST", path))
        assert r.status_code == 201
        legacy = {"ticker": YES_MKT, "action": "buy", "side": "yes", "count": 1, "yes_price": 30}
        await c.post(path, json=legacy, headers=sim.signer.headers("POST", path))
    assert conf.checked == 2
    assert len(conf.problems) == 1 and "$.side: 'yes'" in conf.problems[0]
