"""Order round-trips per second against the simulated exchange over HTTP on loopback.

Baseline, measured in the same run: the same orders placed in-process on the engine
(``Exchange.place``). The HTTP figures include request signing (RSA-PSS, client side),
signature verification, JSON and the loopback round-trip; the ratio shows what serving costs.

Every HTTP line also prints CPU per order: the client's (``process_time``; summed over the
client processes) and the server's (its child process, from ``/proc/PID/stat``). The machine
is shared, so wall rates are noisy; CPU per order is what to compare between runs. Three
client shapes: one sync client in sequence, 8 in flight from one asyncio client, and 8 in
flight from 8 client processes (one sync client each) — the last is the one that can load
the server, because a single Python client spends more CPU per order than the server does.
"""

from __future__ import annotations

import asyncio
import base64
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from multiprocessing import Queue
from multiprocessing.synchronize import Event as EventType
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
IN_FLIGHT = 8
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


class _Server:
    """The server child process: its root URL and the CPU seconds it has used so far."""

    def __init__(self, root: str, pid: int) -> None:
        self.root = root
        self.pid = pid

    def cpu(self) -> float:
        """utime + stime of the server process (Linux ``/proc``), in seconds."""
        with open(f"/proc/{self.pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def _server(pem: bytes) -> Iterator[_Server]:
    """Serve in a child process."""
    ctx = multiprocessing.get_context("spawn")
    ports: Queue[int] = ctx.Queue()
    proc = ctx.Process(target=_serve_forever, args=(pem, ports), daemon=True)
    proc.start()
    try:
        port = ports.get(timeout=120)
        assert proc.pid is not None
        yield _Server(f"http://127.0.0.1:{port}", proc.pid)
    finally:
        proc.terminate()
        proc.join(10)


def _report_http(name: str, count: int, wall: float, client_cpu: float, server_cpu: float) -> float:
    rate = report(name, count, wall, "orders")
    print(
        f"{'':<48} CPU per order: client {client_cpu / count * 1e6:7.0f} us, "
        f"server {server_cpu / count * 1e6:7.0f} us  (server alone could do "
        f"{count / server_cpu if server_cpu else float('inf'):,.0f}/s on one free core)"
    )
    return rate


def over_http_sequential(pem: bytes) -> float:
    signer = _Signer(pem)
    with _server(pem) as srv, httpx.Client(base_url=srv.root) as c:
        for i in range(50):  # warm-up: connection, caches
            c.post(PATH, json=_body(10_000_000 + i), headers=signer.headers())
        s0, c0, t0 = srv.cpu(), time.process_time(), time.perf_counter()
        for i in range(N_HTTP):
            r = c.post(PATH, json=_body(i), headers=signer.headers())
            assert r.status_code == 201, r.text
        wall, ccpu, scpu = time.perf_counter() - t0, time.process_time() - c0, srv.cpu() - s0
    return _report_http("HTTP create, 1 client, sequential", N_HTTP, wall, ccpu, scpu)


def over_http_concurrent(pem: bytes, in_flight: int = IN_FLIGHT) -> float:
    """``in_flight`` requests from one asyncio client (httpx.AsyncClient)."""
    signer = _Signer(pem)

    async def run(srv: _Server) -> tuple[float, float, float]:
        async with httpx.AsyncClient(base_url=srv.root) as c:
            sem = asyncio.Semaphore(in_flight)

            async def one(i: int) -> None:
                async with sem:
                    r = await c.post(PATH, json=_body(i), headers=signer.headers())
                    assert r.status_code == 201, r.text

            await asyncio.gather(*(one(10_000_000 + i) for i in range(50)))
            s0, c0, t0 = srv.cpu(), time.process_time(), time.perf_counter()
            await asyncio.gather(*(one(i) for i in range(N_CONCURRENT)))
            return time.perf_counter() - t0, time.process_time() - c0, srv.cpu() - s0

    with _server(pem) as srv:
        wall, ccpu, scpu = asyncio.run(run(srv))
    name = f"HTTP create, {in_flight} in flight, 1 asyncio client"
    return _report_http(name, N_CONCURRENT, wall, ccpu, scpu)


def _client_process(
    pem: bytes, root: str, first: int, count: int, ready: Queue[int], go: EventType,
    done: Queue[float],
) -> None:  # fmt: skip
    """One sync client in its own process: warm up, wait for the start, send ``count``."""
    signer = _Signer(pem)
    with httpx.Client(base_url=root) as c:
        for i in range(10):
            c.post(PATH, json=_body(20_000_000 + first + i), headers=signer.headers())
        ready.put(first)
        go.wait()
        c0 = time.process_time()
        for i in range(first, first + count):
            r = c.post(PATH, json=_body(i), headers=signer.headers())
            assert r.status_code == 201, r.text
        done.put(time.process_time() - c0)


def over_http_processes(pem: bytes, clients: int = IN_FLIGHT) -> float:
    """``clients`` in flight, each a sync client in its own process (no shared GIL)."""
    ctx = multiprocessing.get_context("spawn")
    per = N_CONCURRENT // clients
    with _server(pem) as srv:
        ready: Queue[int] = ctx.Queue()
        done: Queue[float] = ctx.Queue()
        go = ctx.Event()
        procs = [
            ctx.Process(
                target=_client_process,
                args=(pem, srv.root, 30_000_000 + k * per, per, ready, go, done),
                daemon=True,
            )
            for k in range(clients)
        ]
        for p in procs:
            p.start()
        for _ in procs:
            ready.get(timeout=120)
        s0, t0 = srv.cpu(), time.perf_counter()
        go.set()
        ccpu = sum(done.get(timeout=600) for _ in procs)
        wall, scpu = time.perf_counter() - t0, srv.cpu() - s0
        for p in procs:
            p.join(10)
    name = f"HTTP create, {clients} in flight, {clients} client processes"
    return _report_http(name, per * clients, wall, ccpu, scpu)


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
    procs = over_http_processes(pem)
    print(f"{'HTTP sequential / in-process':<48} ratio {seq / base:8.4f}")
    print(f"{'HTTP 8 in flight (1 asyncio client) / in-process':<48} ratio {conc / base:8.4f}")
    print(f"{'HTTP 8 in flight (8 processes) / in-process':<48} ratio {procs / base:8.4f}")
    print(f"{'HTTP 8 in flight (8 processes) / sequential':<48} ratio {procs / seq:8.4f}")
    print(f"{'HTTP sequential / signing alone':<48} ratio {seq / sign:8.4f}")


if __name__ == "__main__":
    main()
