"""The recorder's records (values defined in ``kalbot.domain.trading``)."""

from kalbot.domain.trading import CoverageRow, MarketResultRow

__all__ = ["CoverageRow", "MarketResultRow"]
