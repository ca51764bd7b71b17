"""Where the exchange lives: production, demo, or any base URL (e.g. the local simulator).

Live trading defaults to demo; production must be named explicitly (REFERENCE §1).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit, urlunsplit


class Environment(StrEnum):
    PRODUCTION = "production"
    DEMO = "demo"
    CUSTOM = "custom"


@dataclass(frozen=True, slots=True)
class Endpoints:
    """The REST base URL (ending in ``/trade-api/v2``) and the WebSocket URL of one exchange."""

    environment: Environment
    rest_url: str
    ws_url: str

    @property
    def rest_path_prefix(self) -> str:
        """The path part of the REST base URL; it is part of what gets signed."""
        return urlsplit(self.rest_url).path.rstrip("/")

    @property
    def ws_path(self) -> str:
        return urlsplit(self.ws_url).path


PRODUCTION = Endpoints(
    Environment.PRODUCTION,
    "https://external-api.kalshi.com/trade-api/v2",
    "wss://external-api-ws.kalshi.com/trade-api/ws/v2",
)
DEMO = Endpoints(
    Environment.DEMO,
    "https://external-api.demo.kalshi.co/trade-api/v2",
    "wss://external-api-ws.demo.kalshi.co/trade-api/ws/v2",
)


def ws_url_for(rest_url: str) -> str:
    """Derive the WebSocket URL from a REST base URL: ``http://h:p/trade-api/v2`` ->
    ``ws://h:p/trade-api/ws/v2`` (the layout Kalshi and the simulator share)."""
    parts = urlsplit(rest_url)
    scheme = {"https": "wss", "http": "ws"}.get(parts.scheme)
    if scheme is None:
        raise ValueError(f"base URL must be http(s): {rest_url!r}")
    path = parts.path.rstrip("/")
    if path.endswith("/trade-api/v2"):
        path = path[: -len("/v2")] + "/ws/v2"
    else:
        path = path + "/ws/v2" if path else "/trade-api/ws/v2"
    return urlunsplit((scheme, parts.netloc, path, "", ""))


def resolve(
    environment: str = "demo", base_url: str | None = None, ws_url: str | None = None
) -> Endpoints:
    """Pick the endpoints: an explicit ``base_url`` wins; otherwise ``production`` or ``demo``.

    Anything else is an error rather than a silent fallback to one of them.
    """
    if base_url:
        parts = urlsplit(base_url)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError(f"base URL must be an absolute http(s) URL: {base_url!r}")
        rest = base_url.rstrip("/")
        return Endpoints(Environment.CUSTOM, rest, ws_url or ws_url_for(rest))
    env = environment.lower()
    if env == Environment.PRODUCTION:
        chosen = PRODUCTION
    elif env == Environment.DEMO:
        chosen = DEMO
    else:
        raise ValueError(f"unknown Kalshi environment {environment!r}: use demo or production")
    if ws_url:
        return Endpoints(chosen.environment, chosen.rest_url, ws_url)
    return chosen
