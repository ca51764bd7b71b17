"""Deterministic client order ids: the same decision always yields the same id."""

from __future__ import annotations

import hashlib

from kalbot.domain.orders import Action
from kalbot.domain.prices import Side


def client_order_id(ticker: str, side: Side, action: Action, decision_key: str) -> str:
    """``kb-`` + 32 hex chars of SHA-256 over the decision; a retry or restart reuses it.

    ``decision_key`` names the decision uniquely (for an open: the cycle it was taken in; for an
    exit: the position and the cycle), so resending it can never create a second position.
    """
    digest = hashlib.sha256(f"{ticker}|{side.value}|{action.value}|{decision_key}".encode())
    return f"kb-{digest.hexdigest()[:32]}"
