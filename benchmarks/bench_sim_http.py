"""Order round-trips per second against the simulated exchange over HTTP on loopback.

Baseline, measured in the same run: the same orders placed in-process on the engine
(``Exchange.place``). The HTTP figures include request signing (RSA-PSS, client side),
signature verification, JSON and the loopback round-trip; the ratio shows what serving costs.
"""

from __future__ import annotations

import asyncio
import base64
import multiprocessing
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from multiprocessing import Queue
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import report

from kalbot.adapters.simulated.exchange import Exchange
from kalbot.adapters.simulated.markets import MarketSpec
from kalbot.adapters.simulated.server.app import ServerOptions, ServerThread
from kalbot.adapters.simulated.server.auth import generate_rsa_key_pem, load_public_key
from kalbot.adapters.simulated.server.builder import ApiKey, build_service
from kalbot.adapters.simulated.server.clock import AcceleratedClock
from kalbot.adapters.simulated.server.ratelimit import RateLimiter
from kalbot.domain.orders import BookSide, TimeInForce, V2Order

N_HTTP = 2_000
N_CONCURRENT = 2_000
N_INPROC = 20_000
START = datetime(2026, 1, 1, tzinfo=UTC)
PATH = "/trade-api/v2/portfolio/events/orders"


def _exchange(markets: int = 10) -> Exchange:
    ex = Exchange(AcceleratedClock(START, speed=1.0))
    for i in range(markets):
        ex.add_market(MarketSpec(f"BENCH-{i}", "BENCH", START + timedelta(days=30)))
    return ex


def _body(i: int) -> dict[str, object]:
    # Resting bids at 1..49 cents on ten markets: every order is accepted and rests.
    return {
        "ticker": f"BENCH-{i % 10}",
        "side": "bid",
        "count": "1",
        "price": f"0.{1 + i % 49:02d}",
        "time_in_force": "good_till_canceled",
        "self_trade_prevention_type": "taker_at_cross",
        "client_order_id": f"bench-{i}",
    }


class _Signer:
    def __init__(self, pem: bytes) -> None:
        key = serialization.load_pem_private_key(pem, password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        self.key = key

    def headers(self) -> dict[str, str]:
        ts = str(int(time.time() * 1000))
        sig = self.key.sign(
            (ts + "POST" + PATH).encode(),
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
            hashes.SHA256(),
        )
        return {
            "KALSHI-ACCESS-KEY": "bench",
            "KALSHI-ACCESS-TIMESTAMP": ts,
            "KALSHI-ACCESS-SIGNATURE": base64.b64encode(sig).decode(),
        }


def in_process() -> float:
    ex = _exchange()
    ex.open_account("bench", Decimal(10_000_000))
    orders = [
        V2Order(
            f"BENCH-{i % 10}", BookSide.BID, Decimal(f"0.{1 + i % 49:02d}"), Decimal(1),
            f"bench-{i}", TimeInForce.GTC,
        )
        for i in range(N_INPROC)
    ]  # fmt: skip
    t0 = time.perf_counter()
    for o in orders:
        ex.place("bench", o)
    return report("in-process Exchange.place (baseline)", N_INPROC, time.perf_counter() - t0,
                  "orders")  # fmt: skip


def _serve_forever(public_pem: bytes, ports: Queue[int]) -> None:
    """Child process: the exchange and its server (a separate process keeps the client's
    threads from competing with the server's for one GIL)."""
    service, keys = build_service(
        _exchange(), [ApiKey("bench", load_public_key(public_pem), Decimal(10_000_000))]
    )
    server = ServerThread(service, keys, ServerOptions(rate_limiter=RateLimiter(enabled=False)))
    ports.put(server.start().port)
    threading.Event().wait()


@contextmanager
def _server(pem: bytes) -> Iterator[str]:
    """Serve in a child process; yields the root URL."""
    ctx = multiprocessing.get_context("spawn")
    ports: Queue[int] = ctx.Queue()
    proc = ctx.Process(target=_serve_forever, args=(pem, ports), daemon=True)
    proc.start()
    try:
        yield f"http://127.0.0.1:{ports.get(timeout=120)}"
    finally:
        proc.terminate()
        proc.join(10)


def over_http_sequential(pem: bytes) -> float:
    signer = _Signer(pem)
    with _server(pem) as root, httpx.Client(base_url=root) as c:
        for i in range(50):  # warm-up: connection, caches
            c.post(PATH, json=_body(10_000_000 + i), headers=signer.headers())
        t0 = time.perf_counter()
        for i in range(N_HTTP):
            r = c.post(PATH, json=_body(i), headers=signer.headers())
            assert r.status_code == 201, r.text
        return report("HTTP create, 1 client, sequential", N_HTTP, time.perf_counter() - t0,
                      "orders")  # fmt: skip


def over_http_concurrent(pem: bytes, clients: int = 8) -> float:
    signer = _Signer(pem)

    async def run(base: str) -> float:
        async with httpx.AsyncClient(base_url=base) as c:
            sem = asyncio.Semaphore(clients)

            async def one(i: int) -> None:
                async with sem:
                    r = await c.post(PATH, json=_body(i), headers=signer.headers())
                    assert r.status_code == 201, r.text

            await asyncio.gather(*(one(10_000_000 + i) for i in range(50)))
            t0 = time.perf_counter()
            await asyncio.gather(*(one(i) for i in range(N_CONCURRENT)))
            return time.perf_counter() - t0

    with _server(pem) as root:
        seconds = asyncio.run(run(root))
    return report(f"HTTP create, {clients} in flight", N_CONCURRENT, seconds, "orders")


def signing_only(pem: bytes) -> float:
    signer = _Signer(pem)
    t0 = time.perf_counter()
    for _ in range(N_HTTP):
        signer.headers()
    return report("client-side RSA-PSS signing alone", N_HTTP, time.perf_counter() - t0, "signs")


def main() -> None:
    pem = generate_rsa_key_pem()
    base = in_process()
    sign = signing_only(pem)
    seq = over_http_sequential(pem)
    conc = over_http_concurrent(pem)
    print(f"{'HTTP sequential / in-process':<48} ratio {seq / base:8.4f}")
    print(f"{'HTTP 8 in flight / in-process':<48} ratio {conc / base:8.4f}")
    print(f"{'HTTP sequential / signing alone':<48} ratio {seq / sign:8.4f}")


if __name__ == "__main__":
    main()
