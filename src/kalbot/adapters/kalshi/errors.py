"""Typed errors, shaped by what the caller must do; foreign errors are translated once, here."""

from __future__ import annotations

import json
from typing import Any


class KalshiError(Exception):
    """Base of every error the Kalshi adapter raises."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class AuthError(KalshiError):
    """401/403: bad key, signature, timestamp or scope. Stop for a human."""


class NotFound(KalshiError):
    """404: no such market, order, series..."""


class RateLimited(KalshiError):
    """429 after the retries ran out. Back off."""


class OrderRejected(KalshiError):
    """400-class refusal of a request (Kalshi's ``code`` says why). Do not retry unchanged."""


class DuplicateOrder(OrderRejected):
    """409: the ``client_order_id`` was already used, i.e. the order is already placed."""


class ExchangeUnavailable(KalshiError):
    """503/504 or the exchange says it is closed / paused. Wait and try later."""


class TransientError(KalshiError):
    """500s and network failures after the retries ran out; the request may or may not have
    taken effect."""


class WireError(KalshiError):
    """A response that does not parse: malformed JSON or a missing/malformed required field."""

    truncated: bool = False  # the body was not JSON at all (e.g. a connection cut mid-body)


def error_body(content: bytes) -> tuple[str | None, str]:
    """(code, message) from either body shape Kalshi uses (and the simulator's nested one)."""
    try:
        data: Any = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        text = content[:200].decode("utf-8", "replace").strip()
        return None, text
    if isinstance(data, dict):
        inner = data.get("error", data)
        if isinstance(inner, dict):
            code = inner.get("code")
            message = inner.get("message") or inner.get("msg") or inner.get("details") or ""
            return (str(code) if code is not None else None), str(message)
        if isinstance(inner, str):
            return None, inner
    return None, str(data)[:200]


def error_for(status: int, content: bytes, what: str) -> KalshiError:
    """Map one HTTP error response to its typed exception."""
    code, message = error_body(content)
    text = (
        f"{what}: HTTP {status}"
        + (f" [{code}]" if code else "")
        + (f" {message}" if message else "")
    )
    cls: type[KalshiError]
    if status in (401, 403):
        cls = AuthError
    elif status == 404:
        cls = NotFound
    elif status == 409:
        cls = DuplicateOrder
    elif status == 429:
        cls = RateLimited
    elif status in (502, 503, 504):
        cls = ExchangeUnavailable
    elif status >= 500:
        cls = TransientError
    elif code and code.upper() in {"MARKET_INACTIVE", "EXCHANGE_CLOSED", "TRADING_PAUSED"}:
        cls = ExchangeUnavailable if code.upper() != "MARKET_INACTIVE" else OrderRejected
    else:
        cls = OrderRejected
    return cls(text, status=status, code=code)
