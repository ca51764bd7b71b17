"""The REST transport under ``KalshiClient``: httpx (injectable transport), signing every
attempt, token buckets, retries with backoff and jitter, parsing, cursor paging.

Errors are mapped once, in ``KalshiHttp._send``, to the types in ``errors``.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any, Self, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from kalbot.adapters.kalshi import wire as w
from kalbot.adapters.kalshi.environments import DEMO, Endpoints, resolve
from kalbot.adapters.kalshi.errors import (
    KalshiError,
    TransientError,
    WireError,
    error_for,
)
from kalbot.adapters.kalshi.ratelimit import DEFAULT_COST, RateLimiter
from kalbot.adapters.kalshi.signing import Signer
from kalbot.config import KalshiSettings

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
Params = dict[str, Any]


def _params(raw: Params) -> Params:
    out: Params = {}
    for k, v in raw.items():
        if v is None:
            continue
        if isinstance(v, bool):
            out[k] = "true" if v else "false"
        elif isinstance(v, datetime):
            out[k] = int(v.timestamp())
        elif isinstance(v, list | tuple):
            out[k] = ",".join(str(x) for x in v)
        else:
            out[k] = v
    return out


class KalshiHttp:
    """The transport under ``KalshiClient``: one exchange, rate-limited, signed, retried.

    Without a ``signer`` only public endpoints work. ``transport`` replaces the network (tests use
    ``httpx.MockTransport``); ``sleep`` and ``rng`` make backoff deterministic in tests.
    """

    def __init__(
        self,
        endpoints: Endpoints | str = DEMO,
        *,
        signer: Signer | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        limiter: RateLimiter | None = None,
        timeout: float = 10.0,
        max_retries: int = 4,
        backoff_base: float = 0.25,
        backoff_cap: float = 8.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.endpoints = resolve(base_url=endpoints) if isinstance(endpoints, str) else endpoints
        self.signer = signer
        self.limiter = limiter or RateLimiter.for_rates()
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._sleep = sleep
        self._rng = rng
        self._http = httpx.AsyncClient(
            base_url=self.endpoints.rest_url + "/",
            transport=transport,
            timeout=timeout,
            headers={"Accept": "application/json", "User-Agent": "kalbot"},
        )
        self._cutoff: w.HistoricalCutoffW | None = None

    @classmethod
    def from_settings(
        cls, settings: KalshiSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> Self:
        """Build from ``KalshiSettings``: environment or base URL, optional key, budgets."""
        endpoints = resolve(settings.environment, settings.base_url, settings.ws_url)
        signer = None
        if settings.api_key_id and settings.private_key_path:
            signer = Signer.from_files(settings.api_key_id, settings.private_key_path)
        if settings.rate_limit_tier is not None:
            limiter = RateLimiter.for_tier(settings.rate_limit_tier)
        else:
            limiter = RateLimiter.for_rates(
                settings.read_tokens_per_second, settings.write_tokens_per_second
            )
        return cls(
            endpoints,
            signer=signer,
            transport=transport,
            limiter=limiter,
            timeout=settings.timeout_seconds,
            max_retries=settings.max_retries,
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.endpoints.rest_url!r}, signed={self.signer is not None})"
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # ---- transport ---------------------------------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.backoff_cap, self.backoff_base * 2.0**attempt)
        jitter: float = self._rng()
        return ceiling / 2 + jitter * ceiling / 2  # "equal jitter": never zero, capped

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        body: Any = None,
        write: bool = False,
        cost: int = DEFAULT_COST,
        retry: bool = True,
    ) -> httpx.Response:
        """One logical request: rate-limited, signed afresh per attempt, retried when safe."""
        bucket = self.limiter.write if write else self.limiter.read
        what = f"{method} {path}"
        attempt = 0
        while True:
            await bucket.acquire(cost)
            request = self._http.build_request(
                method, path.lstrip("/"), params=_params(params or {}), json=body
            )
            if self.signer is not None:
                request.headers.update(self.signer.headers(method, request.url.path))
            try:
                response = await self._http.send(request)
            except httpx.TransportError as e:  # timeouts, refused and dropped connections
                error: KalshiError = TransientError(f"{what}: {type(e).__name__}: {e}")
                cause: BaseException | None = e
            else:
                if response.status_code < 400:
                    return response
                error = error_for(response.status_code, response.content, what)
                cause = None
                if not retry or response.status_code not in RETRY_STATUSES:
                    raise error
            if not retry or attempt >= self.max_retries:
                raise error from cause
            delay = self._backoff(attempt)
            log.info("retrying %s in %.2fs after %s", what, delay, error)
            attempt += 1
            await self._sleep(delay)

    @staticmethod
    def _parse(response: httpx.Response, model: type[M]) -> M:
        try:
            return model.model_validate_json(response.content)
        except ValidationError as e:
            first = e.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            error = WireError(
                f"{response.request.method} {response.request.url.path}: malformed response at "
                f"{loc or 'body'}: {first['msg']} ({e.error_count()} problem(s))"
            )
            error.truncated = first["type"] == "json_invalid"
            raise error from None

    async def _get(self, path: str, model: type[M], params: Params | None = None) -> M:
        """GET and parse. A body that is not even JSON (a truncated transfer) is retried like a
        network error; a JSON body with a bad field is not (it would come back the same)."""
        attempt = 0
        while True:
            response = await self._send("GET", path, params=params)
            try:
                return self._parse(response, model)
            except WireError as e:
                if not e.truncated or attempt >= self.max_retries:
                    raise
            delay = self._backoff(attempt)
            log.info("retrying GET %s in %.2fs after an unreadable body", path, delay)
            attempt += 1
            await self._sleep(delay)

    async def _pages(
        self, path: str, model: type[M], params: Params, limit: int | None
    ) -> AsyncIterator[M]:
        """Follow ``cursor`` until it is empty, null or missing; a repeated cursor is an error."""
        params = dict(params)
        if limit is not None:
            params["limit"] = limit
        seen: set[str] = set()
        while True:
            page = await self._get(path, model, params)
            yield page
            cursor = getattr(page, "cursor", None)
            if not cursor:
                return
            if cursor in seen:
                raise WireError(f"GET {path}: the server repeated cursor {cursor!r}")
            seen.add(cursor)
            params["cursor"] = cursor
