"""The Kalshi-compatible server: a Starlette app over one ``SimService``, run by uvicorn.

REST under ``/trade-api/v2``, WebSocket at ``/trade-api/ws/v2``, on 127.0.0.1. In-process
helpers start it on a free port for tests, the demo and the client's contract suite::

    async with serve(service, keys) as server:        # in the current event loop
        url = server.base_url                          # http://127.0.0.1:PORT/trade-api/v2

    with ServerThread(service, keys) as server:        # in a background thread
        ...
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from kalbot.adapters.simulated.server.auth import AuthError, KeyRegistry
from kalbot.adapters.simulated.server.http import API_PREFIX, Plumbing, RequestTap, Tap, route
from kalbot.adapters.simulated.server.ratelimit import RateLimiter
from kalbot.adapters.simulated.server.rest_historical import HistoricalRoutes
from kalbot.adapters.simulated.server.rest_market import MarketRoutes
from kalbot.adapters.simulated.server.rest_portfolio import NOT_IN_SPEC, PortfolioRoutes
from kalbot.adapters.simulated.server.service import SimService
from kalbot.adapters.simulated.server.wire import dumps, error_body
from kalbot.adapters.simulated.server.ws import Session

log = logging.getLogger(__name__)
T = TypeVar("T")

WS_PATH = "/trade-api/ws/v2"
# Order creates are the requests whose answer a fault may swallow after the order was accepted.
_DROPPABLE = {"/portfolio/events/orders", "/portfolio/events/orders/batched"}


@dataclass(slots=True)
class ServerOptions:
    rate_limiter: RateLimiter = field(default_factory=RateLimiter)
    tap: Tap | None = None  # sees every REST answer (conformance checks)
    request_tap: RequestTap | None = None  # sees every REST request body (conformance checks)
    ws_tap: Callable[[dict[str, Any]], None] | None = None  # sees every WS message sent
    run_clock: bool = True  # tick the service on a timer (off: tests tick by hand)


def create_app(
    service: SimService, keys: KeyRegistry, options: ServerOptions | None = None
) -> Starlette:
    """The ASGI app for ``service``; every key in ``keys`` must have an account on its exchange."""
    opts = options or ServerOptions()
    plumbing = Plumbing(keys, opts.rate_limiter, service.faults, opts.tap, opts.request_tap)
    routes: list[BaseRoute] = []
    market = MarketRoutes(service, opts.rate_limiter)
    portfolio = PortfolioRoutes(service)
    for method, template, handler, auth in [
        *market.routes(),
        *portfolio.routes(),
        *HistoricalRoutes(service, market, portfolio).routes(),
    ]:
        routes.append(
            route(
                plumbing,
                method,
                template,
                handler,
                auth=auth,
                droppable=method == "POST" and template in _DROPPABLE,
                in_spec=(method, template) not in NOT_IN_SPEC,
            )
        )

    async def websocket(ws: WebSocket) -> None:
        await _serve_ws(ws, service, keys, opts)

    routes.append(WebSocketRoute(WS_PATH, websocket))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if opts.run_clock:
            service.start()
        try:
            yield
        finally:
            for s in list(service.hub.sessions):
                s.close()
            if opts.run_clock:
                await service.stop()

    async def not_served(request: Request, exc: Exception) -> Response:
        # Paths the simulator does not serve answer in Kalshi's error shape, not Starlette's text.
        status = getattr(exc, "status_code", 404)
        code = "not_found" if status == 404 else "method_not_allowed"
        body = error_body(code, f"{request.method} {request.url.path} is not served here")
        return Response(dumps(body), status_code=status, media_type="application/json")

    return Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={404: not_served, 405: not_served},
    )


async def _serve_ws(
    ws: WebSocket, service: SimService, keys: KeyRegistry, opts: ServerOptions
) -> None:
    try:
        account = keys.authenticate(ws.headers, "GET", WS_PATH)
    except AuthError as e:
        body = dumps(error_body(e.code, e.message))
        if "websocket.http.response" in ws.scope.get("extensions", {}):
            await ws.send_denial_response(
                Response(body, status_code=401, media_type="application/json")
            )
        else:
            await ws.close(code=1008)
        return
    await ws.accept()
    session = Session(account, service.faults)
    service.hub.sessions.add(session)

    async def writer() -> None:
        while True:
            msg = await session.queue.get()
            if msg is None:
                await ws.close()
                return
            if opts.ws_tap is not None:
                opts.ws_tap(msg)
            await ws.send_text(json.dumps(msg, separators=(",", ":")))

    task = asyncio.create_task(writer())
    try:
        while True:
            receive = asyncio.ensure_future(ws.receive_text())
            done, _ = await asyncio.wait({receive, task}, return_when=asyncio.FIRST_COMPLETED)
            if task in done:
                receive.cancel()
                with contextlib.suppress(BaseException):
                    await receive
                break
            raw = receive.result()
            service.hub.handle(session, raw)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        service.hub.sessions.discard(session)
        session.closing = True
        if not task.done():
            task.cancel()
        with contextlib.suppress(BaseException):
            await task


# --- running it ------------------------------------------------------------------------------


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket on ``host:port`` (0 = a free port)."""
    # proto must be IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets
    # whose proto says TCP, and without it every answer waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def ws_protocol() -> str:
    """The sans-I/O ``websockets`` protocol where uvicorn has it (the legacy one warns)."""
    from uvicorn.config import WS_PROTOCOLS

    return "websockets-sansio" if "websockets-sansio" in WS_PROTOCOLS else "websockets"


def uvicorn_server(app: Starlette, host: str, port: int) -> uvicorn.Server:
    """uvicorn configured as the simulator wants it (quiet, Kalshi's 10 s WebSocket pings)."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        ws=ws_protocol(),
        ws_ping_interval=10.0,  # Kalshi pings every 10 s
        ws_ping_timeout=20.0,
    )
    return uvicorn.Server(config)


class RunningServer:
    """Where a started server listens."""

    def __init__(self, host: str, port: int, service: SimService) -> None:
        self.host = host
        self.port = port
        self.service = service

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}{API_PREFIX}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}{WS_PATH}"


@asynccontextmanager
async def serve(
    service: SimService,
    keys: KeyRegistry,
    options: ServerOptions | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
) -> AsyncIterator[RunningServer]:
    """Serve in the current event loop on ``port`` (0 = a free one); stop cleanly on exit."""
    sock = bind_socket(host, port)
    server = uvicorn_server(create_app(service, keys, options), host, sock.getsockname()[1])
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()  # re-raise a start-up failure
                raise RuntimeError("the simulated exchange stopped during start-up")
            await asyncio.sleep(0.01)
        yield RunningServer(host, sock.getsockname()[1], service)
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
        sock.close()


class ServerThread:
    """Serve from a background thread with its own event loop (for sync code and demos).

    The exchange then lives in that thread: talk to it over HTTP/WS, not by direct calls.
    """

    def __init__(
        self,
        service: SimService,
        keys: KeyRegistry,
        options: ServerOptions | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._sock = bind_socket(host, port)
        self.host = host
        self.port: int = self._sock.getsockname()[1]
        self.service = service
        self._server = uvicorn_server(create_app(service, keys, options), host, self.port)
        self._thread = threading.Thread(target=self._run, name="kalbot-sim-server", daemon=True)
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as e:  # surfaced to the starting thread
            self._error = e

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self._server.serve(sockets=[self._sock])

    def call(self, fn: Callable[[], T], timeout: float = 30.0) -> T:
        """Run ``fn`` on the server's own loop and return its result (e.g. ``service.tick``
        for a lockstep driver): the exchange is only ever touched from that thread."""
        loop = self._loop
        if loop is None:
            raise RuntimeError("the simulated exchange is not running")

        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout)

    def start(self, timeout: float = 10.0) -> RunningServer:
        self._thread.start()
        waited = 0.0
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the simulated exchange failed to start") from self._error
            if waited > timeout:
                raise TimeoutError("the simulated exchange did not start in time")
            threading.Event().wait(0.01)
            waited += 0.01
        return RunningServer(self.host, self.port, self.service)

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)
        self._sock.close()

    def __enter__(self) -> RunningServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["RunningServer", "ServerOptions", "ServerThread", "create_app", "serve"]
