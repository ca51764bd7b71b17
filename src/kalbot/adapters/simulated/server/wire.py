"""Kalshi's wire format: fixed-point strings, cursors, error bodies, request parsing.

Responses follow ``openapi.yaml``: ``*_dollars`` are strings with 4 decimals, ``*_fp`` counts
strings with 2 decimals, timestamps RFC 3339 UTC, list endpoints paginate with an opaque
``cursor`` that is ``""`` on the last page.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from kalbot.domain.prices import format_count, format_dollars

T = TypeVar("T")

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000

_COUNT_RE = re.compile(r"^\d+(\.\d{1,2})?$")
_PRICE_RE = re.compile(r"^\d+(\.\d{1,4})?$")


class WireError(Exception):
    """An error answer: HTTP status plus Kalshi's ``code`` and ``message``."""

    def __init__(self, status: int, code: str, message: str, details: str | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.details)


def error_body(code: str, message: str, details: str | None = None) -> dict[str, Any]:
    """Kalshi's error body: ``{"error": {"code", "message", "details"?}}``."""
    inner: dict[str, Any] = {"code": code, "message": message}
    if details:
        inner["details"] = details
    return {"error": inner}


# Kalshi answers 429 with a bare string rather than the usual object (REFERENCE §5).
RATE_LIMITED_BODY: dict[str, Any] = {"error": "too many requests"}


def dollars(value: Decimal) -> str:
    return format_dollars(value, 4)


def count(value: Decimal) -> str:
    return format_count(value)


def rfc3339(when: datetime) -> str:
    """RFC 3339 UTC with a ``Z`` and no sub-second noise beyond milliseconds."""
    when = when.astimezone(UTC)
    if when.microsecond:
        return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def unix_s(when: datetime) -> int:
    return int(when.timestamp())


def unix_ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def dumps(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


# --- request parsing -------------------------------------------------------------------------


def parse_count(value: object, field: str, *, allow_zero: bool = False) -> Decimal:
    """A request count: a string with 0-2 decimals (``"10"``, ``"2.50"``), strictly positive."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise WireError(400, "invalid_parameters", f"{field} must be a fixed-point count string")
    text = str(value).strip()
    if not _COUNT_RE.match(text):
        raise WireError(400, "invalid_parameters", f"{field} {text!r} is not a count like '10.00'")
    d = Decimal(text)
    if d < 0 or (d == 0 and not allow_zero):
        raise WireError(400, "invalid_order_size", f"{field} must be positive")
    return d


def parse_price(value: object, field: str) -> Decimal:
    """A request price: a dollar string with up to 4 decimals, strictly inside (0, 1)."""
    if not isinstance(value, str):
        raise WireError(400, "invalid_parameters", f"{field} must be a fixed-point dollar string")
    text = value.strip()
    if not _PRICE_RE.match(text):
        raise WireError(400, "invalid_parameters", f"{field} {text!r} is not a price like '0.5600'")
    try:
        d = Decimal(text)
    except InvalidOperation:
        raise WireError(400, "invalid_parameters", f"{field} is not a decimal") from None
    if not Decimal(0) < d < Decimal(1):
        raise WireError(400, "invalid_price", f"{field} must lie strictly between 0 and 1")
    return d


def parse_bool(value: object, field: str, default: bool = False) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    raise WireError(400, "invalid_parameters", f"{field} must be a boolean")


def query_int(
    params: Mapping[str, str],
    name: str,
    default: int | None = None,
    *,
    lo: int = 0,
    hi: int | None = None,
) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise WireError(400, "invalid_parameters", f"{name} must be an integer") from None
    if value < lo or (hi is not None and value > hi):
        raise WireError(400, "invalid_parameters", f"{name} must be within [{lo}, {hi}]")
    return value


def query_list(params: Mapping[str, str], name: str) -> list[str] | None:
    raw = params.get(name)
    if not raw:
        return None
    return [t for t in (s.strip() for s in raw.split(",")) if t]


# --- pagination ------------------------------------------------------------------------------


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.startswith("o:"):
            raise ValueError(raw)
        offset = int(raw[2:])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise WireError(400, "invalid_parameters", "cursor is not one this server issued") from None
    if offset < 0:
        raise WireError(400, "invalid_parameters", "cursor is not one this server issued")
    return offset


def paginate(
    items: Sequence[T],
    params: Mapping[str, str],
    *,
    default_limit: int = DEFAULT_LIMIT,
    max_limit: int = MAX_LIMIT,
) -> tuple[Sequence[T], str]:
    """One page of ``items`` and the cursor of the next page (``""`` when this is the last)."""
    limit = query_int(params, "limit", default_limit, lo=1, hi=max_limit)
    assert limit is not None
    start = decode_cursor(params.get("cursor"))
    page = items[start : start + limit]
    nxt = start + limit
    return page, encode_cursor(nxt) if nxt < len(items) else ""
