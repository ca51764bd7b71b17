"""Property tests: fixed-point round trips, tick snapping, YES/NO conversion through the wire."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from kalbot.adapters.kalshi import convert
from kalbot.adapters.kalshi import wire as w
from kalbot.adapters.kalshi.ws_events import OrderbookDelta, parse_message
from kalbot.domain.orders import Action, BookSide, OrderIntent, TimeInForce, to_v2
from kalbot.domain.prices import (
    PriceRange,
    Rounding,
    Side,
    format_count,
    format_dollars,
    is_on_tick,
)
from kalshi.helpers import market_json

D = Decimal
prices4 = st.integers(0, 10_000).map(lambda n: D(n) / 10_000)  # 4-decimal dollar prices
inner_prices = st.integers(1, 9_999).map(lambda n: D(n) / 10_000)
counts = st.integers(1, 10_000_000).map(lambda n: D(n) / 100)
TAPERED = (
    PriceRange(D(0), D("0.10"), D("0.001")),
    PriceRange(D("0.10"), D("0.90"), D("0.01")),
    PriceRange(D("0.90"), D(1), D("0.001")),
)
grids = st.sampled_from(
    [(PriceRange(D(0), D(1), D("0.01")),), (PriceRange(D(0), D(1), D("0.001")),), TAPERED]
)


@settings(max_examples=100)
@given(bid=prices4, ask=prices4, size=counts)
def test_market_prices_round_trip_exactly_through_the_wire(bid: D, ask: D, size: D) -> None:
    raw = market_json(
        "T-P",
        yes_bid_dollars=format_dollars(bid),
        yes_ask_dollars=format_dollars(ask),
        yes_bid_size_fp=format_count(size),
        volume_fp=format_count(size),
    )
    m = convert.market(w.MarketW.model_validate(raw))
    assert m.quote.yes_bid == (bid if bid > 0 else None)
    assert m.quote.yes_ask == (ask if 0 < ask < 1 else None)
    assert m.quote.yes_bid_size == size and m.volume == size
    if m.quote.yes_ask is not None:
        assert m.quote.no_bid == 1 - ask
    if m.quote.yes_bid is not None:
        assert m.quote.no_ask == 1 - bid


@settings(max_examples=100)
@given(cents=st.integers(0, 100))
def test_legacy_cents_equal_the_fixed_point_string(cents: int) -> None:
    legacy = market_json("T-L", yes_bid=cents, yes_ask=cents, last_price=cents, volume=5)
    for key in ("yes_bid_dollars", "yes_ask_dollars", "last_price_dollars", "volume_fp"):
        legacy.pop(key)
    current = market_json(
        "T-L", yes_bid_dollars=f"{cents / 100:.4f}", yes_ask_dollars=f"{cents / 100:.4f}"
    )
    a = convert.market(w.MarketW.model_validate(legacy)).quote
    b = convert.market(w.MarketW.model_validate(current)).quote
    assert (a.yes_bid, a.yes_ask) == (b.yes_bid, b.yes_ask)


@settings(max_examples=100)
@given(price=prices4, grid=grids, rounding=st.sampled_from(list(Rounding)))
def test_snapping_lands_on_the_grid_within_one_step_in_the_right_direction(
    price: D, grid: tuple[PriceRange, ...], rounding: Rounding
) -> None:
    market = convert.market(
        w.MarketW.model_validate(
            market_json(
                "T-S",
                price_ranges=[
                    {
                        "start": format_dollars(r.start),
                        "end": format_dollars(r.end),
                        "step": format_dollars(r.step),
                    }
                    for r in grid
                ],
            )
        )
    )
    snapped = convert.snap_price(market, price, rounding)
    assert is_on_tick(snapped, market.price_ranges)
    step = max(r.step for r in grid)
    assert abs(snapped - price) <= step
    if rounding is Rounding.DOWN:
        assert snapped <= price
    if rounding is Rounding.UP:
        assert snapped >= price


@settings(max_examples=100)
@given(
    limit=inner_prices,
    side=st.sampled_from(list(Side)),
    action=st.sampled_from(list(Action)),
    grid=grids,
)
def test_v2_body_never_worsens_the_intents_limit_in_its_own_price_space(
    limit: D, side: Side, action: Action, grid: tuple[PriceRange, ...]
) -> None:
    intent = OrderIntent("T", side, action, D(3), limit, "c", TimeInForce.GTC)
    order = to_v2(intent, grid)
    if not 0 < order.price < 1:
        return  # snapping pushed it onto 0 or 1: v2_body refuses such prices (tested below)
    body = convert.v2_body(order)
    yes_price = D(body["price"])
    assert body["side"] == ("bid" if (side is Side.YES) == (action is Action.BUY) else "ask")
    own = yes_price if side is Side.YES else 1 - yes_price
    if action is Action.BUY:
        assert own <= limit  # never pay more
    else:
        assert own >= limit  # never sell for less
    assert body["count"] == "3.00" and body["client_order_id"] == "c"


def test_v2_body_refuses_prices_off_the_open_interval_and_missing_ids() -> None:
    import pytest

    from kalbot.domain.orders import V2Order

    with pytest.raises(ValueError, match="strictly between"):
        convert.v2_body(V2Order("T", BookSide.BID, D(0), D(1), "c", TimeInForce.IOC))
    with pytest.raises(ValueError, match="client_order_id"):
        convert.v2_body(V2Order("T", BookSide.BID, D("0.5"), D(1), "", TimeInForce.IOC))
    with pytest.raises(ValueError, match="count"):
        convert.v2_body(V2Order("T", BookSide.BID, D("0.5"), D(0), "c", TimeInForce.IOC))


@settings(max_examples=100)
@given(price=prices4, delta=st.integers(-10_000_000, 10_000_000).map(lambda n: D(n) / 100))
def test_ws_delta_decimals_round_trip(price: D, delta: D) -> None:
    frame = (
        '{"type":"orderbook_delta","sid":1,"seq":2,"msg":{"market_ticker":"T","price_dollars":"'
        + format_dollars(price)
        + '","delta_fp":"'
        + format_count(delta)
        + '","side":"no"}}'
    )
    event = parse_message(frame)
    assert isinstance(event, OrderbookDelta)
    assert (event.price, event.delta, event.side) == (price, delta, Side.NO)


levels_st = st.lists(
    st.tuples(st.integers(1, 99), st.integers(1, 500)), max_size=8, unique_by=lambda x: x[0]
)
deltas_st = st.lists(
    st.tuples(st.sampled_from(["yes", "no"]), st.integers(1, 99), st.integers(-600, 600)),
    max_size=40,
)


@settings(max_examples=50, deadline=None)
@given(yes=levels_st, no=levels_st, deltas=deltas_st, use_yes_price=st.booleans())
def test_local_book_equals_snapshot_plus_deltas(
    yes: list[tuple[int, int]],
    no: list[tuple[int, int]],
    deltas: list[tuple[str, int, int]],
    use_yes_price: bool,
) -> None:
    import asyncio
    import json

    from kalbot.adapters.kalshi.ws import KalshiWebSocket

    def wire_no(cents: int) -> str:  # NO bids arrive at YES prices when use_yes_price
        return format_dollars(D(100 - cents if use_yes_price else cents) / 100)

    ws = KalshiWebSocket("ws://unused.invalid/trade-api/ws/v2")

    async def feed() -> None:
        sub = await ws.subscribe(["orderbook_delta"], ["T"], use_yes_price=use_yes_price)
        subscribed = {"channel": "orderbook_delta", "sid": 1}
        frames: list[dict[str, object]] = [
            {"id": sub.command_id, "type": "subscribed", "msg": subscribed},
            {
                "type": "orderbook_snapshot",
                "sid": 1,
                "seq": 1,
                "msg": {
                    "market_ticker": "T",
                    "yes_dollars_fp": [[format_dollars(D(p) / 100), f"{n}.00"] for p, n in yes],
                    "no_dollars_fp": [[wire_no(p), f"{n}.00"] for p, n in no],
                },
            },
        ]
        for i, (side, p, d) in enumerate(deltas, start=2):
            price = format_dollars(D(p) / 100) if side == "yes" else wire_no(p)
            msg = {
                "market_ticker": "T",
                "price_dollars": price,
                "delta_fp": f"{d}.00",
                "side": side,
            }
            frames.append({"type": "orderbook_delta", "sid": 1, "seq": i, "msg": msg})
        for f in frames:
            await ws.handle_frame(json.dumps(f))

    asyncio.run(feed())
    model: dict[str, dict[D, D]] = {"yes": {}, "no": {}}
    for p, n in yes:
        model["yes"][D(p) / 100] = D(n)
    for p, n in no:
        model["no"][D(p) / 100] = D(n)
    for side, p, d in deltas:
        price = D(p) / 100
        level = model[side].get(price, D(0)) + d
        if level <= 0:
            model[side].pop(price, None)
        else:
            model[side][price] = level
    book = ws.book("T")
    assert book is not None and ws.gaps == 0
    assert book.yes == model["yes"] and book.no == model["no"]
