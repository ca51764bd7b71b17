"""Screening: small filters, one concern each, each naming the reason it rejects a market."""

from kalbot.screener.filters import (
    Filter,
    ScreenConfig,
    Screener,
    ScreenResult,
    default_filters,
)

__all__ = ["Filter", "ScreenConfig", "ScreenResult", "Screener", "default_filters"]
