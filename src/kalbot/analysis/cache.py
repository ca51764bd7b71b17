"""When a stored analysis may be reused instead of paying for a new one."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from kalbot.domain.ai import StoredAnalysis


def is_reusable(
    stored: StoredAnalysis,
    *,
    now: datetime,
    current_mid: Decimal | None,
    max_age: timedelta,
    max_move: Decimal,
) -> bool:
    """Reuse when younger than ``max_age`` and the mid moved by at most ``max_move``.

    An analysis that failed (no probability) or whose mid is unknown is never reused: the
    first should be retried, and for the second "the price did not move" cannot be shown.
    """
    if max_age <= timedelta(0) or stored.analysis.probability_yes is None:
        return False
    if now - stored.timestamp >= max_age:
        return False
    raw = stored.analysis.metadata.get("mid")
    if raw is None or current_mid is None:
        return False
    return abs(Decimal(str(raw)) - current_mid) <= max_move
