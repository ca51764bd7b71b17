"""What the client sends validates against Kalshi's request schemas in openapi.yaml."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from kalbot.adapters.kalshi import convert
from kalbot.domain.orders import BookSide, TimeInForce, V2Order
from kalshi.helpers import make_client, shared_dir

D = Decimal


@pytest.fixture(scope="module")
def validate() -> Any:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the spec is large
    spec = yaml.load((shared_dir() / "kalshi" / "openapi.yaml").read_text(), Loader=loader)
    registry: Registry[Any] = Registry().with_resource(
        "urn:oa", Resource.from_contents(spec, default_specification=DRAFT7)
    )

    def check(schema: str, body: Any) -> None:
        ref = {"$ref": f"urn:oa#/components/schemas/{schema}"}
        jsonschema.Draft7Validator(ref, registry=registry).validate(body)

    return check


def order(**over: Any) -> V2Order:
    base: dict[str, Any] = {
        "ticker": "T",
        "book_side": BookSide.BID,
        "price": D("0.4250"),
        "count": D("2.5"),
        "client_order_id": "c",
        "time_in_force": TimeInForce.GTC,
    }
    base.update(over)
    return V2Order(**base)


async def test_every_write_body_matches_its_request_schema(validate: Any) -> None:
    sent: dict[str, Any] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/trade-api/v2")
        sent[f"{request.method} {path}"] = json.loads(request.content) if request.content else None
        if path.endswith("/batched") and request.method == "POST":
            return httpx.Response(201, json={"orders": []})
        if path.endswith("/batched"):
            return httpx.Response(200, json={"orders": []})
        return httpx.Response(200, json={"order_id": "o"})

    async with make_client(handler) as client:
        await client.create_order(order(post_only=True))
        await client.create_order(
            order(book_side=BookSide.ASK, reduce_only=True, client_order_id="d")
        )
        await client.batch_create_orders([order(), order(client_order_id="e")])
        await client.amend_order("o", order(), updated_client_order_id="c2")
        await client.decrease_order("o", reduce_to=D(1))
        await client.batch_cancel_orders(["o1", "o2"])
    validate("CreateOrderV2Request", sent["POST /portfolio/events/orders"])
    assert sent["POST /portfolio/events/orders"]["side"] == "ask"
    validate("BatchCreateOrdersV2Request", sent["POST /portfolio/events/orders/batched"])
    validate("AmendOrderV2Request", sent["POST /portfolio/events/orders/o/amend"])
    validate("DecreaseOrderV2Request", sent["POST /portfolio/events/orders/o/decrease"])
    validate("BatchCancelOrdersV2Request", sent["DELETE /portfolio/events/orders/batched"])
    # a side/tif outside the spec's enums would be caught here
    with pytest.raises(jsonschema.ValidationError):
        validate("CreateOrderV2Request", {**convert.v2_body(order()), "side": "yes"})


def test_orders_are_never_rounded_on_the_way_out() -> None:
    with pytest.raises(ValueError, match="more than 2 decimals"):
        convert.v2_body(order(count=D("1.555")))
    with pytest.raises(ValueError, match="more than 4 decimals"):
        convert.v2_body(order(price=D("0.42501")))
    assert convert.v2_body(order())["count"] == "2.50"
    assert convert.v2_body(order())["price"] == "0.4250"
