"""Errors the simulated exchange answers with, shaped like Kalshi's ``{"code", "message"}``."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Kalshi-style error codes; ``http_status`` is what the server should answer with."""

    MARKET_NOT_FOUND = "market_not_found"
    MARKET_INACTIVE = "MARKET_INACTIVE"
    ORDER_NOT_FOUND = "not_found"
    INVALID_PRICE = "invalid_price"
    INVALID_ORDER = "invalid_order"
    INVALID_ORDER_SIZE = "invalid_order_size"
    INSUFFICIENT_BALANCE = "available_balance_too_low"
    DUPLICATE_CLIENT_ORDER_ID = "order_already_exists"
    POST_ONLY_CROSS = "post_only_cross"
    REDUCE_ONLY = "reduce_only_no_position"
    INVALID_EXPIRATION = "invalid_expiration"
    ORDER_TICKER_MISMATCH = "order_ticker_mismatch"
    ORDER_SIDE_MISMATCH = "order_side_mismatch"
    ACCOUNT_NOT_FOUND = "account_not_found"
    ACCOUNT_EXISTS = "account_exists"
    MARKET_EXISTS = "market_exists"
    INVALID_SETTLEMENT = "invalid_settlement"

    @property
    def http_status(self) -> int:
        return _HTTP_STATUS.get(self, 400)


_HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.MARKET_NOT_FOUND: 404,
    ErrorCode.ORDER_NOT_FOUND: 404,
    ErrorCode.ACCOUNT_NOT_FOUND: 404,
    ErrorCode.DUPLICATE_CLIENT_ORDER_ID: 409,
    ErrorCode.ACCOUNT_EXISTS: 409,
    ErrorCode.MARKET_EXISTS: 409,
}


class EngineError(Exception):
    """An operation the exchange refused. Nothing changed: no order rests, no cash moved."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.message = message

    @property
    def http_status(self) -> int:
        return self.code.http_status
