"""Route plumbing shared by every REST endpoint: auth, rate limits, faults, errors, the tap.

Each endpoint is a small async function ``(ctx) -> (status, body)``; ``route`` wraps it so the
cross-cutting rules are applied the same way everywhere.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from kalbot.adapters.simulated.server.auth import AuthError, KeyRegistry
from kalbot.adapters.simulated.server.faults import FaultInjector
from kalbot.adapters.simulated.server.ratelimit import RateLimiter
from kalbot.adapters.simulated.server.wire import RATE_LIMITED_BODY, WireError, dumps, error_body

log = logging.getLogger(__name__)

API_PREFIX = "/trade-api/v2"

# (method, path template relative to the API prefix, status, JSON body) of every answer given.
Tap = Callable[[str, str, int, Any], None]
# (method, path template, parsed JSON body) of every request that carried a body.
RequestTap = Callable[[str, str, Any], None]


@dataclass(slots=True)
class Ctx:
    """What a handler gets: the caller's account (None on public endpoints) and the request."""

    account: str | None
    query: dict[str, str]
    path_params: dict[str, str]
    body: Any


Handler = Callable[[Ctx], Awaitable[tuple[int, Any]]]


class Plumbing:
    """The per-server state every route consults."""

    def __init__(
        self,
        keys: KeyRegistry,
        limiter: RateLimiter,
        faults: FaultInjector,
        tap: Tap | None = None,
        request_tap: RequestTap | None = None,
    ) -> None:
        self.keys = keys
        self.limiter = limiter
        self.faults = faults
        self.tap = tap
        self.request_tap = request_tap
        self.lock = asyncio.Lock()


class _DroppedResponse(Response):
    """Starts a response and stops halfway: the server closes the connection on the client."""

    def __init__(self, status: int) -> None:
        super().__init__(status_code=status)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": self.status_code,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"order_id":', "more_body": True})
        # Returning with the body incomplete makes uvicorn close the transport.


def _json(status: int, body: Any) -> Response:
    return Response(dumps(body), status_code=status, media_type="application/json")


def route(
    plumbing: Plumbing,
    method: str,
    template: str,
    handler: Handler,
    *,
    auth: bool,
    droppable: bool = False,
    in_spec: bool = True,
) -> Route:
    """A Starlette route for ``template`` (relative to /trade-api/v2) with every rule applied."""

    async def endpoint(request: Request) -> Response:
        faults = plumbing.faults
        delay = faults.latency_seconds()
        if delay:
            await asyncio.sleep(delay)

        def answer(status: int, body: Any) -> Response:
            if plumbing.tap is not None and in_spec:
                plumbing.tap(method, template, status, body)
            return _json(status, body)

        account: str | None = None
        if auth or any(h.startswith("kalshi-access-") for h in request.headers):
            try:
                account = plumbing.keys.authenticate(request.headers, method, request.url.path)
            except AuthError as e:
                if auth:
                    return answer(401, error_body(e.code, e.message))
        status_fault = faults.error_status()
        if status_fault is not None:
            return answer(status_fault, error_body("internal_server_error", "injected fault"))
        body: Any = None
        if method in {"POST", "PUT", "DELETE"}:
            raw = await request.body()
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    return answer(400, error_body("invalid_parameters", "body is not valid JSON"))
                if plumbing.request_tap is not None and in_spec:
                    plumbing.request_tap(method, template, body)
        items = 1
        if isinstance(body, dict) and isinstance(body.get("orders"), list):
            items = len(body["orders"])
        if not plumbing.limiter.allow(account or f"ip:{_client(request)}", method, template, items):
            return answer(429, RATE_LIMITED_BODY)
        ctx = Ctx(account, dict(request.query_params), dict(request.path_params), body)
        try:
            async with plumbing.lock:
                status, out = await handler(ctx)
        except WireError as e:
            return answer(e.status, e.body())
        except Exception:
            log.exception("simulated exchange failed on %s %s", method, request.url.path)
            return answer(500, error_body("internal_server_error", "internal error"))
        if droppable and 200 <= status < 300 and faults.drop_after_accept():
            return _DroppedResponse(status)
        if status == 200 and faults.malformed():
            data = dumps(out)
            return Response(
                data[: max(1, len(data) // 2)], status_code=200, media_type="application/json"
            )
        return answer(status, out)

    return Route(API_PREFIX + template, endpoint, methods=[method])


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"
