"""A simulated exchange served on 127.0.0.1 with two markets, a funded trader and a maker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from kalbot.adapters.simulated.exchange import Exchange
from kalbot.adapters.simulated.markets import MarketSpec
from kalbot.adapters.simulated.server.app import RunningServer, ServerOptions, serve
from kalbot.adapters.simulated.server.auth import (
    KeyRegistry,
    PublicKey,
    generate_rsa_key_pem,
    load_public_key,
)
from kalbot.adapters.simulated.server.builder import ApiKey, build_service
from kalbot.adapters.simulated.server.clock import AcceleratedClock
from kalbot.adapters.simulated.server.faults import FaultConfig
from kalbot.adapters.simulated.server.ratelimit import RateLimiter
from kalbot.adapters.simulated.server.service import ServiceConfig, SimService
from kalbot.domain.market import MarketResult
from kalbot.domain.orders import BookSide, TimeInForce, V2Order

from .conformance import Conformance, conformance  # noqa: F401 - fixture
from .signing import Signer

START = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
YES_MKT = "KXTEST-26JUN01-A"  # settles YES
NO_MKT = "KXTEST-26JUN01-B"  # settles NO


@pytest.fixture(scope="session")
def key_pem() -> bytes:
    return generate_rsa_key_pem()


@pytest.fixture(scope="session")
def other_pem() -> bytes:
    return generate_rsa_key_pem()


@pytest.fixture(scope="session")
def public_keys(key_pem: bytes, other_pem: bytes) -> tuple[PublicKey, PublicKey]:
    # Loading a private PEM checks the key (~0.3 s each): do it once per session.
    return load_public_key(key_pem), load_public_key(other_pem)


@dataclass
class Sim:
    """A running server plus a signed client for the trader account ``trader``."""

    server: RunningServer
    service: SimService
    clock: AcceleratedClock
    client: httpx.AsyncClient
    signer: Signer
    keys: KeyRegistry

    @property
    def exchange(self) -> Exchange:
        return self.service.exchange

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.request("GET", path, params=params or None)

    async def request(
        self, method: str, path: str, *, json: Any = None, params: Any = None, sign: bool = True
    ) -> httpx.Response:
        full = "/trade-api/v2" + path
        headers = self.signer.headers(method, full) if sign else {}
        return await self.client.request(method, full, json=json, params=params, headers=headers)

    async def order(self, **body: Any) -> httpx.Response:
        base = {
            "ticker": YES_MKT,
            "side": "bid",
            "count": "10",
            "price": "0.50",
            "time_in_force": "good_till_canceled",
            "self_trade_prevention_type": "taker_at_cross",
        }
        base.update(body)
        return await self.request("POST", "/portfolio/events/orders", json=base)


def make_exchange(
    clock: AcceleratedClock,
    results: tuple[MarketResult, MarketResult] = (MarketResult.YES, MarketResult.NO),
) -> Exchange:
    ex = Exchange(clock)
    for ticker, result in zip((YES_MKT, NO_MKT), results, strict=True):
        ex.add_market(
            MarketSpec(
                ticker=ticker,
                event_ticker="KXTEST-26JUN01",
                series_ticker="KXTEST",
                close_time=START + timedelta(hours=6),
                title=f"Test market {ticker}",
                yes_subtitle="Yes",
                no_subtitle="No",
                category="Testing",
                strike_type="greater",
                floor_strike=Decimal("3.5"),
                rules_primary="Resolves as the test says.",
                expected_result=result,
            )
        )
    return ex


def seed_book(ex: Exchange) -> None:
    """A maker quoting YES 0.40 bid / 0.45 ask (NO bid 0.55) and a deeper second level."""
    ex.open_account("maker", Decimal("100000"))
    for ticker in (YES_MKT, NO_MKT):
        for i, (side, price, n) in enumerate(
            [
                (BookSide.BID, "0.40", "100"),
                (BookSide.BID, "0.38", "200"),
                (BookSide.ASK, "0.45", "100"),
                (BookSide.ASK, "0.47", "200"),
            ]
        ):
            ex.place(
                "maker",
                V2Order(
                    ticker, side, Decimal(price), Decimal(n), f"seed-{ticker}-{i}", TimeInForce.GTC
                ),
            )


@pytest.fixture
def sim_options(conformance: Conformance) -> ServerOptions:  # noqa: F811
    return ServerOptions(
        rate_limiter=RateLimiter(enabled=False),
        tap=conformance.record,
        ws_tap=conformance.record_ws,
        run_clock=True,
    )


@pytest.fixture
def fault_config() -> FaultConfig | None:
    return None


@pytest.fixture
def results() -> tuple[MarketResult, MarketResult]:
    """The scenario results of YES_MKT and NO_MKT (a test may override the fixture)."""
    return (MarketResult.YES, MarketResult.NO)


@pytest.fixture
async def sim(
    key_pem: bytes,
    public_keys: tuple[PublicKey, PublicKey],
    sim_options: ServerOptions,
    fault_config: FaultConfig | None,
    results: tuple[MarketResult, MarketResult],
) -> AsyncIterator[Sim]:
    clock = AcceleratedClock(START, speed=1.0)
    ex = make_exchange(clock, results)
    seed_book(ex)
    service, keys = build_service(
        ex,
        [
            ApiKey("trader", public_keys[0], Decimal("1000")),
            ApiKey("other", public_keys[1], Decimal("1000")),
        ],
        faults=fault_config,
        config=ServiceConfig(settlement_delay=timedelta(minutes=5), tick_seconds=0.02),
    )
    service.flush()
    async with (
        serve(service, keys, sim_options) as server,
        httpx.AsyncClient(base_url=f"http://{server.host}:{server.port}", timeout=10) as client,
    ):
        yield Sim(server, service, clock, client, Signer("trader", key_pem), keys)
