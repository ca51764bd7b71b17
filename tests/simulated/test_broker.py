"""SimulatedBroker and ExchangeMarketData: the ports the engine trades paper and backtests on."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kalbot.adapters.simulated.broker import ExchangeMarketData, SimulatedBroker
from kalbot.adapters.simulated.errors import EngineError, ErrorCode
from kalbot.adapters.simulated.exchange import Exchange
from kalbot.domain.market import MarketResult
from kalbot.domain.orders import Action, BookSide, OrderIntent, OrderStatus, TimeInForce
from kalbot.domain.prices import Side
from kalbot.ports import Broker, MarketData
from simulated.helpers import TICKER, order

D = Decimal


def _intent(side: Side, action: Action, count: int, price: str, coid: str) -> OrderIntent:
    return OrderIntent(TICKER, side, action, D(count), D(price), coid, TimeInForce.IOC)


@pytest.fixture
def maker(ex: Exchange) -> Exchange:
    """carol quotes YES 0.40 bid / 0.45 ask, 50 deep."""
    ex.place("carol", order(BookSide.BID, "0.40", 50, "cb"))
    ex.place("carol", order(BookSide.ASK, "0.45", 50, "ca"))
    return ex


async def test_buy_yes_then_sell_it_back_through_the_broker(maker: Exchange) -> None:
    broker: Broker = SimulatedBroker(maker, "alice")
    market = maker.market(TICKER)
    ack = await broker.place(_intent(Side.YES, Action.BUY, 10, "0.50", "open-1"), market)
    assert ack.status is OrderStatus.EXECUTED and ack.filled_count == D("10")
    assert await broker.positions() == {TICKER: D("10")}
    await broker.place(_intent(Side.YES, Action.SELL, 10, "0.35", "close-1"), market)
    assert await broker.positions() == {}
    buy, sell = await broker.fills()
    assert (buy.side, buy.action, buy.price) == (Side.YES, Action.BUY, D("0.45"))
    assert (sell.side, sell.action, sell.price) == (Side.YES, Action.SELL, D("0.40"))
    fees = buy.fee + sell.fee
    assert await broker.balance() == D("1000") + D("10") * (D("0.40") - D("0.45")) - fees


async def test_buy_no_is_priced_in_no_and_settles_on_a_no_result(maker: Exchange) -> None:
    broker = SimulatedBroker(maker, "bob")
    # NO ask = 1 - YES bid 0.40 = 0.60; bob pays at most 0.62 per NO contract
    ack = await broker.place(_intent(Side.NO, Action.BUY, 5, "0.62", "no-1"), maker.market(TICKER))
    assert ack.filled_count == D("5")
    (fill,) = await broker.fills()
    assert (fill.side, fill.action, fill.price) == (Side.NO, Action.BUY, D("0.60"))
    assert await broker.positions() == {TICKER: D("-5")}
    maker.settle(TICKER, MarketResult.NO)
    assert await broker.positions() == {}
    assert await broker.balance() == D("1000") - D("3.00") - fill.fee + D("5")


async def test_retrying_a_client_order_id_returns_the_first_order(maker: Exchange) -> None:
    broker = SimulatedBroker(maker, "alice")
    intent = _intent(Side.YES, Action.BUY, 2, "0.50", "same")
    first = await broker.place(intent, maker.market(TICKER))
    again = await broker.place(intent, maker.market(TICKER))
    assert again.order_id == first.order_id
    assert await broker.positions() == {TICKER: D("2")}


async def test_refusals_carry_the_exchange_code(maker: Exchange) -> None:
    broker = SimulatedBroker(maker, "alice")
    with pytest.raises(EngineError) as err:
        await broker.place(
            _intent(Side.YES, Action.BUY, 100_000, "0.50", "big"), maker.market(TICKER)
        )
    assert err.value.code is ErrorCode.INSUFFICIENT_BALANCE
    assert await broker.positions() == {}


async def test_resting_order_can_be_canceled(maker: Exchange) -> None:
    broker = SimulatedBroker(maker, "alice")
    intent = OrderIntent(TICKER, Side.YES, Action.BUY, D(3), D("0.30"), "rest", TimeInForce.GTC)
    ack = await broker.place(intent, maker.market(TICKER))
    assert ack.status is OrderStatus.RESTING
    await broker.cancel(ack.order_id)
    assert maker.order("alice", ack.order_id).status is OrderStatus.CANCELED


async def test_market_data_lists_open_markets_with_live_quotes(maker: Exchange) -> None:
    data: MarketData = ExchangeMarketData(maker)
    markets = [m async for m in data.open_markets()]
    assert [m.ticker for m in markets] == [TICKER]
    assert markets[0].quote.yes_bid == D("0.40") and markets[0].quote.yes_ask == D("0.45")
    book = await data.orderbook(TICKER)
    assert book.yes == {D("0.40"): D("50")} and book.no == {D("0.55"): D("50")}
    assert (await data.market(TICKER)).ticker == TICKER
