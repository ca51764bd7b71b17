"""The dashboard's composition: the read-only app over the configured database and the
exchange status probe for /health. ``kalbot.bootstrap`` exposes these to the commands."""

from __future__ import annotations

from fastapi import FastAPI

from kalbot.config import Settings
from kalbot.web.app import build_app
from kalbot.web.health import ExchangeProbe


def exchange_probe(settings: Settings) -> ExchangeProbe | None:
    """Asks the configured exchange (Kalshi, demo, or a local stand-in) for its status.

    One quick attempt with no retries, so a health check answers in seconds. None when
    ``web.exchange_check`` is off.
    """
    if not settings.web.exchange_check:
        return None
    from kalbot.adapters.kalshi.client import KalshiClient

    kalshi = settings.kalshi.model_copy(
        update={"max_retries": 0, "timeout_seconds": min(settings.kalshi.timeout_seconds, 5.0)}
    )

    async def probe() -> str:
        async with KalshiClient.from_settings(kalshi) as client:
            status = await client.exchange_status()
        exchange = "active" if status.exchange_active else "inactive"
        trading = "open" if status.trading_active else "closed"
        return f"exchange {exchange}, trading {trading}"

    return probe


def dashboard_app(settings: Settings, host: str | None = None) -> FastAPI:
    """The read-only dashboard over the configured database (raises TokenRequired when
    ``host`` is beyond loopback and no token is set)."""
    return build_app(settings, probe=exchange_probe(settings), host=host)
