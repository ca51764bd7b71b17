"""Who may look: loopback by default, a token for anything else; and nothing but reads."""

from __future__ import annotations

import hmac
import ipaddress
from urllib.parse import urlencode

from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp

TOKEN_COOKIE = "kalbot_token"
TOKEN_HEADER = "x-kalbot-token"
READ_METHODS = frozenset({"GET", "HEAD"})

# Every asset is served from this origin; the only other source allowed is data: images (the
# backtest reports embed their charts that way). A page can therefore reach nothing else.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'self'"
)


class TokenRequired(ValueError):
    """Binding beyond loopback without a token: refused before anything listens."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` names only this machine ('localhost', 127.0.0.0/8, ::1)."""
    h = host.strip().strip("[]").lower()
    if h == "localhost":
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False  # a hostname or a wildcard resolves beyond loopback: treat it so


def check_bind(host: str, token: str | None) -> None:
    """Refuse to serve on a non-loopback address without a token (and reject a weak one)."""
    if is_loopback(host):
        return
    if not token:
        raise TokenRequired(
            f"refusing to listen on {host}: binding beyond loopback needs KALBOT_WEB__TOKEN "
            "(every request must then carry it)"
        )
    if len(token) < 16:
        raise TokenRequired("KALBOT_WEB__TOKEN is too short: use at least 16 characters")


def _presented(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return (
        request.headers.get(TOKEN_HEADER)
        or request.query_params.get("token")
        or request.cookies.get(TOKEN_COOKIE)
    )


class GuardMiddleware(BaseHTTPMiddleware):
    """Rejects writes, enforces the token when one is set, adds the security headers."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        super().__init__(app)
        self._token = token.encode() if token else None

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if request.method not in READ_METHODS:
            return PlainTextResponse(
                "the dashboard is read-only", status_code=405, headers={"Allow": "GET, HEAD"}
            )
        if self._token is not None:
            given = _presented(request)
            if given is None or not hmac.compare_digest(given.encode(), self._token):
                return _unauthorised(request)
            if request.query_params.get("token") and _wants_html(request):
                # A browser arrived with ?token=: keep it in a cookie and drop it from the URL
                # (and so from history and referrers).
                rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
                url = request.url.path + (f"?{urlencode(rest)}" if rest else "")
                redirect = RedirectResponse(url, status_code=303)
                redirect.set_cookie(TOKEN_COOKIE, given, httponly=True, samesite="strict", path="/")
                return _secure(redirect)
        return _secure(await call_next(request))


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def _unauthorised(request: Request) -> Response:
    headers = {"WWW-Authenticate": 'Bearer realm="kalbot"'}
    if request.url.path.startswith("/api/") or not _wants_html(request):
        return _secure(JSONResponse({"detail": "token required"}, 401, headers=headers))
    # Inline style: without the token not even /static may be fetched.
    body = (
        "<!doctype html><meta charset=utf-8><title>kalbot: token required</title>"
        "<style>body{font-family:system-ui,sans-serif;background:#f6f8fa;color:#1f2328;"
        "display:flex;justify-content:center;margin-top:12vh}"
        "div{background:#fff;border:1px solid #d1d9e0;border-radius:8px;padding:1.5rem 2rem;"
        "max-width:34rem}h1{font-size:1.3rem;margin:0 0 .6rem}code{background:#eff2f5;"
        "padding:.1em .35em;border-radius:4px}</style>"
        "<div><h1>kalbot: access token required</h1>"
        "<p>This dashboard listens beyond this machine, so every request must carry its token. "
        "Open it once as <code>/?token=&lt;KALBOT_WEB__TOKEN&gt;</code>; the browser keeps it "
        "in a cookie.</p><p>Scripts: <code>Authorization: Bearer &lt;token&gt;</code>.</p></div>"
    )
    return _secure(Response(body, 401, headers=headers, media_type="text/html"))


def _secure(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("Cache-Control", "no-store")
    return response
